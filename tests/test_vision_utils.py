"""make_grid / save_image against a plain NumPy statement of torchvision's algorithm and
hand-computed cases."""

import math

import numpy as np
import pytest
from PIL import Image

from convnp import Tensor
from convnp.vision import utils


def ref_grid(x, nrow=8, padding=2, normalize=False, value_range=None, scale_each=False,
             pad_value=0.0):
    """torchvision's make_grid, written out with NumPy."""
    x = np.array(x, dtype=np.float64 if x.dtype == np.float64 else np.float32)
    if x.shape[1] == 1:
        x = np.repeat(x, 3, axis=1)
    if normalize:
        parts = list(range(len(x))) if scale_each else [slice(None)]
        for p in parts:
            lo, hi = value_range if value_range else (x[p].min(), x[p].max())
            x[p] = (np.clip(x[p], lo, hi) - lo) / max(hi - lo, 1e-5)
    n = len(x)
    cols = min(nrow, n)
    rows = math.ceil(n / cols)
    c, h, w = x.shape[1:]
    out = np.full((c, rows * (h + padding) + padding, cols * (w + padding) + padding), pad_value,
                  x.dtype)
    for k in range(n):
        r, q = divmod(k, cols)
        out[:, padding + r * (h + padding):padding + r * (h + padding) + h,
            padding + q * (w + padding):padding + q * (w + padding) + w] = x[k]
    return out


@pytest.mark.parametrize("kw", [
    {}, {"nrow": 3}, {"nrow": 4, "padding": 0}, {"padding": 1, "pad_value": 0.5},
    {"normalize": True}, {"normalize": True, "scale_each": True},
    {"normalize": True, "value_range": (-0.5, 0.5)},
], ids=["default", "nrow3", "pad0", "padval", "norm", "scale_each", "value_range"])
@pytest.mark.parametrize("c", [1, 3])
def test_make_grid_matches_reference(kw, c):
    x = np.random.default_rng(0).normal(size=(7, c, 5, 4)).astype(np.float32)
    got = utils.make_grid(Tensor._wrap(x.copy()), **kw)
    np.testing.assert_allclose(got.numpy(), ref_grid(x, **kw), rtol=1e-6, atol=1e-7)
    # list input, and the input is left untouched by normalize
    lst = utils.make_grid([Tensor._wrap(v) for v in x], **kw)
    np.testing.assert_array_equal(lst.numpy(), got.numpy())


def test_make_grid_golden_shapes_and_single_image():
    g = utils.make_grid(Tensor._wrap(np.ones((10, 1, 28, 28), np.float32)), nrow=5)
    assert g.shape == (3, 2 * 30 + 2, 5 * 30 + 2)
    assert g.numpy()[0, 0, 0] == 0 and g.numpy()[0, 2, 2] == 1 and g.numpy()[0, 30, 30] == 0
    one = utils.make_grid(Tensor._wrap(np.full((1, 2, 3, 3), 0.25, np.float32)))
    assert one.shape == (2, 3, 3)  # a batch of one is returned as that image
    assert utils.make_grid(Tensor._wrap(np.zeros((4, 5), np.float32))).shape == (3, 4, 5)
    with pytest.raises(TypeError, match="value_range"):
        utils.make_grid(Tensor._wrap(np.zeros((2, 1, 2, 2), np.float32)), normalize=True,
                        value_range=[0, 1])
    with pytest.raises(TypeError, match="Tensor"):
        utils.make_grid(np.zeros((2, 1, 2, 2)))


def test_save_image_rounds_like_torchvision(tmp_path):
    x = np.array([[[0.0, 0.5, 1.0], [0.2, 1.5, -1.0]]], np.float32)  # (1, 2, 3)
    utils.save_image(Tensor._wrap(x), tmp_path / "a.png")
    im = np.asarray(Image.open(tmp_path / "a.png"))
    assert im.shape == (2, 3, 3)
    np.testing.assert_array_equal(im[..., 0], [[0, 128, 255], [51, 255, 0]])
    batch = np.random.default_rng(0).random((6, 3, 4, 4)).astype(np.float32)
    utils.save_image(Tensor._wrap(batch), tmp_path / "b.png", nrow=3, padding=1)
    saved = np.asarray(Image.open(tmp_path / "b.png"))
    want = np.clip(ref_grid(batch, nrow=3, padding=1) * 255 + 0.5, 0, 255).astype(np.uint8)
    np.testing.assert_array_equal(saved, want.transpose(1, 2, 0))


def test_io_read_write_image(tmp_path):
    from convnp.vision import io

    a = np.random.default_rng(0).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    Image.fromarray(a).save(tmp_path / "a.png")
    t = io.read_image(str(tmp_path / "a.png"))
    assert t.dtype == np.uint8 and t.shape == (3, 5, 7)
    np.testing.assert_array_equal(t.numpy(), a.transpose(2, 0, 1))
    g = io.read_image(tmp_path / "a.png", io.ImageReadMode.GRAY)
    np.testing.assert_array_equal(g.numpy()[0], np.asarray(Image.fromarray(a).convert("L")))
    np.testing.assert_array_equal(io.decode_image(io.read_file(tmp_path / "a.png")).numpy(),
                                  t.numpy())
    io.write_png(t, tmp_path / "b.png")
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "b.png")), a)
    with pytest.raises(TypeError, match="uint8"):
        io.write_png(Tensor._wrap(a.astype(np.float32)), tmp_path / "c.png")
    with pytest.raises(FileNotFoundError, match="no file"):
        io.read_image(tmp_path / "missing.png")
