"""Resampling: interpolate (every mode, size vs scale_factor, align_corners, recompute_scale_factor,
antialias) and pixel (un)shuffle against torch on both paths; gradchecks; modules; errors."""

import numpy as np
import pytest

import convnp
import convnp.nn as nn
import convnp.nn.functional as F
from convnp.autograd import gradcheck
from tests.oracle import compare, rand

torch = pytest.importorskip("torch")
TF = torch.nn.functional

DTYPES = [pytest.param(np.float32, id="f32"), pytest.param(np.float64, id="f64")]


# id, x shape, kwargs (same for convnp and torch)
CASES = [
    ("nearest-1d-x2", (2, 3, 5), dict(scale_factor=2)),
    ("nearest-1d-size7", (1, 2, 5), dict(size=7)),
    ("nearest-2d-s1.7", (2, 2, 5, 6), dict(scale_factor=1.7)),
    ("nearest-2d-s1.7-recompute", (2, 2, 5, 6), dict(scale_factor=1.7,
                                                    recompute_scale_factor=True)),
    ("nearest-2d-down-s0.6", (1, 2, 7, 9), dict(scale_factor=0.6)),
    ("nearest-2d-rect-scale", (1, 2, 4, 5), dict(scale_factor=(2, 3))),
    ("nearest-3d-size", (1, 2, 3, 4, 5), dict(size=(5, 3, 7))),
    ("nearest-exact-2d-s1.5", (1, 2, 5, 6), dict(scale_factor=1.5, mode="nearest-exact")),
    ("nearest-exact-1d-down", (2, 2, 9), dict(size=4, mode="nearest-exact")),
    ("linear-1d-x2", (2, 3, 5), dict(scale_factor=2, mode="linear")),
    ("linear-1d-ac-size1", (1, 2, 5), dict(size=1, mode="linear", align_corners=True)),
    ("linear-1d-ac-from1", (1, 2, 1), dict(size=4, mode="linear", align_corners=True)),
    ("bilinear-2d-x2", (2, 2, 5, 6), dict(scale_factor=2, mode="bilinear")),
    ("bilinear-2d-ac", (1, 2, 5, 6), dict(size=(8, 3), mode="bilinear", align_corners=True)),
    ("bilinear-2d-s1.3-vs-size", (1, 2, 5, 7), dict(scale_factor=1.3, mode="bilinear")),
    ("bilinear-2d-s1.3-recompute", (1, 2, 5, 7), dict(scale_factor=1.3, mode="bilinear",
                                                     recompute_scale_factor=True)),
    ("bilinear-2d-down", (1, 2, 9, 8), dict(size=(4, 3), mode="bilinear")),
    ("bilinear-2d-aa-down", (2, 2, 11, 9), dict(size=(4, 3), mode="bilinear", antialias=True)),
    ("bilinear-2d-aa-up", (1, 2, 4, 5), dict(scale_factor=2, mode="bilinear", antialias=True)),
    ("bilinear-2d-aa-ac-down", (1, 2, 11, 9), dict(size=(5, 4), mode="bilinear",
                                                  antialias=True, align_corners=True)),
    ("bicubic-2d-x2", (2, 2, 5, 6), dict(scale_factor=2, mode="bicubic")),
    ("bicubic-2d-ac", (1, 2, 5, 6), dict(size=(7, 4), mode="bicubic", align_corners=True)),
    ("bicubic-2d-aa-down", (1, 2, 12, 10), dict(size=(5, 3), mode="bicubic", antialias=True)),
    ("trilinear-3d", (1, 2, 3, 4, 5), dict(scale_factor=(2, 1.5, 0.8), mode="trilinear")),
    ("trilinear-3d-ac", (1, 1, 3, 4, 2), dict(size=(4, 4, 5), mode="trilinear",
                                             align_corners=True)),
    ("area-2d-down", (2, 2, 7, 9), dict(size=(3, 4), mode="area")),
    ("area-1d-scale", (1, 2, 9), dict(scale_factor=0.5, mode="area")),
    ("area-3d", (1, 1, 4, 6, 5), dict(size=2, mode="area")),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_interpolate_matches_torch(case, dtype, path):
    _, shape, kw = case
    compare(lambda t: F.interpolate(t, **kw), lambda t: TF.interpolate(t, **kw), rand(*shape),
            dtype=dtype)


@pytest.mark.parametrize("name,kw", [
    ("bilinear", dict(scale_factor=1.5, mode="bilinear")),
    ("bicubic-ac", dict(size=(5, 4), mode="bicubic", align_corners=True)),
    ("bilinear-aa", dict(size=(3, 2), mode="bilinear", antialias=True)),
    ("nearest", dict(size=(5, 2))),
])
def test_gradcheck_interpolate(name, kw, path):
    x = convnp.tensor(rand(1, 2, 4, 5), dtype=np.float64, requires_grad=True)
    assert gradcheck(lambda t: F.interpolate(t, **kw), [x])


@pytest.mark.parametrize("r,shape", [(2, (2, 8, 3, 4)), (3, (9, 2, 2)), (2, (2, 1, 4, 3, 2))])
def test_pixel_shuffle_matches_torch(r, shape):
    y = compare(lambda t: F.pixel_shuffle(t, r), lambda t: TF.pixel_shuffle(t, r), rand(*shape))
    compare(lambda t: F.pixel_unshuffle(t, r), lambda t: TF.pixel_unshuffle(t, r),
            y.array.astype(np.float64))


MODULES = [
    ("Upsample", dict(scale_factor=2), (1, 2, 3, 4)),
    ("Upsample", dict(size=(5, 7), mode="bilinear"), (1, 2, 3, 4)),
    ("Upsample", dict(scale_factor=(2, 3), mode="bicubic", align_corners=True), (1, 2, 3, 4)),
    ("Upsample", dict(scale_factor=1.5, mode="linear"), (1, 2, 5)),
    ("UpsamplingNearest2d", dict(size=4), (1, 2, 3, 3)),
    ("UpsamplingBilinear2d", dict(scale_factor=2), (1, 2, 3, 3)),
    ("PixelShuffle", dict(upscale_factor=2), (1, 8, 3, 3)),
    ("PixelUnshuffle", dict(downscale_factor=3), (1, 2, 6, 3)),
]


@pytest.mark.parametrize("name,kw,shape", MODULES, ids=[f"{m[0]}-{i}" for i, m in
                                                        enumerate(MODULES)])
def test_modules_match_torch(name, kw, shape):
    m, tm = getattr(nn, name)(**kw), getattr(torch.nn, name)(**kw)
    assert repr(m) == repr(tm)
    out = compare(m, tm, rand(*shape))
    assert m.output_shape(shape) == out.shape


def test_errors():
    x = convnp.randn(1, 2, 4, 4)
    with pytest.raises(ValueError, match="only one of size or scale_factor"):
        F.interpolate(x, size=2, scale_factor=2)
    with pytest.raises(ValueError, match="either size or scale_factor"):
        F.interpolate(x)
    with pytest.raises(ValueError, match="align_corners option can only be set"):
        F.interpolate(x, size=2, align_corners=True)
    with pytest.raises(ValueError, match="anti-alias option is restricted"):
        F.interpolate(x, size=2, antialias=True)
    with pytest.raises(NotImplementedError, match="bilinear mode needs 4D input"):
        F.interpolate(convnp.randn(1, 2, 4), size=2, mode="bilinear")
    with pytest.raises(NotImplementedError, match="mode must be one of"):
        F.interpolate(x, size=2, mode="cubic")
    with pytest.raises(NotImplementedError, match="add a batch axis"):
        F.interpolate(convnp.randn(4, 4), size=2)
    with pytest.raises(ValueError, match="same number of spatial dimensions"):
        F.interpolate(x, size=(2, 2, 2))
    with pytest.raises(ValueError, match="recompute_scale_factor is not meaningful"):
        F.interpolate(x, size=2, recompute_scale_factor=True)
    with pytest.raises(ValueError, match="empty output"):
        F.interpolate(x, scale_factor=0.1)
    with pytest.raises(RuntimeError, match="divisible by the square of upscale_factor"):
        F.pixel_shuffle(convnp.randn(1, 3, 2, 2), 2)
    with pytest.raises(RuntimeError, match="divisible by downscale_factor"):
        F.pixel_unshuffle(convnp.randn(1, 1, 3, 4), 2)
    with pytest.raises(ValueError, match="'upscale_factor' must be a positive int"):
        F.pixel_shuffle(x, 0)
