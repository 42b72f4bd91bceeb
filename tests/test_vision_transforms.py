"""convnp.vision.transforms against PIL itself, torch's functional ops (the ones torchvision's
tensor path is built on: interpolate, pad, affine_grid + grid_sample) and hand-computed cases."""

import colorsys
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from PIL import Image, ImageEnhance

import convnp
from convnp import Tensor
from convnp.vision import transforms as T
from convnp.vision.transforms import InterpolationMode
from convnp.vision.transforms import functional as F


def img_u8(h=6, w=7, c=3, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (h, w, c), dtype=np.uint8)


def pil(a):
    return Image.fromarray(a if a.shape[-1] != 1 else a[..., 0])


def chw(a, dtype=np.float32):
    return Tensor._wrap(np.ascontiguousarray(a.transpose(2, 0, 1)).astype(dtype))


# ------------------------------------------------------------------ conversions
def test_to_tensor_golden_pil_and_ndarray():
    a = np.array([[0, 255, 51], [102, 3, 204]], np.uint8)
    for src in (Image.fromarray(a), a):
        t = T.ToTensor()(src)
        assert isinstance(t, Tensor) and t.dtype == np.float32 and t.shape == (1, 2, 3)
        np.testing.assert_array_equal(t.numpy()[0], a.astype(np.float32) / np.float32(255))
    rgb = img_u8()
    t = F.to_tensor(Image.fromarray(rgb))
    assert t.shape == (3, 6, 7)
    np.testing.assert_array_equal(t.numpy(), rgb.transpose(2, 0, 1) / np.float32(255))
    # non-uint8 arrays keep their dtype, unscaled (torchvision's rule)
    f = np.random.default_rng(1).random((4, 5, 2))
    np.testing.assert_array_equal(F.to_tensor(f).numpy(), f.transpose(2, 0, 1))
    # PIL float and binary modes
    fimg = Image.fromarray(np.float32([[0.25, 2.0]]), mode="F") if False else \
        Image.frombytes("F", (2, 1), np.float32([0.25, 2.0]).tobytes())
    np.testing.assert_array_equal(F.to_tensor(fimg).numpy(), [[[0.25, 2.0]]])
    b = Image.fromarray(np.array([[0, 255]], np.uint8)).convert("1")
    np.testing.assert_array_equal(F.to_tensor(b).numpy(), [[[0.0, 1.0]]])


def test_pil_to_tensor_and_back():
    a = img_u8()
    t = T.PILToTensor()(Image.fromarray(a))
    assert t.dtype == np.uint8
    np.testing.assert_array_equal(t.numpy(), a.transpose(2, 0, 1))
    back = T.ToPILImage()(t)
    assert back.mode == "RGB"
    np.testing.assert_array_equal(np.asarray(back), a)
    # float tensors: x * 255 truncated to uint8 (0.5 -> 127)
    g = T.ToPILImage()(Tensor._wrap(np.float32([[[0.5, 1.0], [0.0, 0.999]]])))
    assert g.mode == "L"
    np.testing.assert_array_equal(np.asarray(g), [[127, 255], [0, 254]])
    assert F.to_pil_image(np.zeros((3, 4, 4), np.uint8).transpose(1, 2, 0)).mode == "RGB"
    assert F.to_pil_image(Tensor._wrap(np.zeros((4, 2, 2), np.uint8))).mode == "RGBA"
    assert F.to_pil_image(Tensor._wrap(np.zeros((1, 2, 2), np.float32)), mode="F").mode == "F"
    with pytest.raises(ValueError, match="channels"):
        F.to_pil_image(Tensor._wrap(np.zeros((5, 2, 2), np.uint8)))
    with pytest.raises(ValueError, match="mode"):
        F.to_pil_image(Tensor._wrap(np.zeros((1, 2, 2), np.uint8)), mode="RGB")


def test_convert_image_dtype_golden():
    u = Tensor._wrap(np.array([[[0, 128, 255]]], np.uint8))
    np.testing.assert_array_equal(T.ConvertImageDtype(convnp.float32)(u).numpy(),
                                  [[[0, 128 / np.float32(255), 1]]])
    f = Tensor._wrap(np.float32([[[0.0, 0.5, 1.0]]]))
    np.testing.assert_array_equal(F.convert_image_dtype(f, convnp.uint8).numpy(), [[[0, 127, 255]]])
    np.testing.assert_array_equal(F.convert_image_dtype(u, convnp.int16).numpy(),
                                  [[[0, 128 * 128, 255 * 128]]])
    i16 = Tensor._wrap(np.array([[[0, 16384, 32767]]], np.int16))
    np.testing.assert_array_equal(F.convert_image_dtype(i16, convnp.uint8).numpy(),
                                  [[[0, 128, 255]]])
    with pytest.raises(RuntimeError, match="safely"):
        F.convert_image_dtype(f, convnp.int64)


def test_normalize_matches_torch():
    x = np.random.default_rng(0).random((2, 3, 4, 5)).astype(np.float32)
    mean, std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
    got = T.Normalize(mean, std)(Tensor._wrap(x.copy())).numpy()
    want = (torch.from_numpy(x) - torch.tensor(mean).view(-1, 1, 1)) / torch.tensor(std).view(
        -1, 1, 1)
    np.testing.assert_allclose(got, want.numpy(), rtol=1e-6, atol=1e-7)
    t = Tensor._wrap(x[0].copy())
    assert F.normalize(t, mean, std, inplace=True) is t
    np.testing.assert_allclose(t.numpy(), want.numpy()[0], rtol=1e-6, atol=1e-7)
    with pytest.raises(TypeError, match="float tensor"):
        T.Normalize((0.5,), (0.5,))(Tensor._wrap(np.zeros((1, 2, 2), np.uint8)))
    with pytest.raises(TypeError, match="ToTensor"):
        T.Normalize((0.5,), (0.5,))(Image.fromarray(np.zeros((2, 2), np.uint8)))
    with pytest.raises(ValueError, match="zero"):
        F.normalize(Tensor._wrap(x[0]), mean, (1, 0, 1))


# ------------------------------------------------------------------ resize and crops
@pytest.mark.parametrize("mode,antialias", [("bilinear", True), ("bilinear", False),
                                            ("bicubic", True), ("nearest", False),
                                            ("nearest-exact", False)])
@pytest.mark.parametrize("size", [(4, 9), (11, 5)])
def test_resize_tensor_matches_interpolate(mode, antialias, size):
    x = np.random.default_rng(0).random((2, 3, 8, 7)).astype(np.float32)
    got = F.resize(Tensor._wrap(x), list(size), InterpolationMode(mode), antialias=antialias)
    kw = dict(align_corners=False, antialias=antialias) if mode in ("bilinear", "bicubic") else {}
    want = TF.interpolate(torch.from_numpy(x), size=size, mode=mode, **kw)
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-5, atol=1e-5)


def test_resize_uint8_tensor_rounds_and_clamps():
    a = np.random.default_rng(3).integers(0, 256, (3, 9, 10), dtype=np.uint8)
    for mode in ("bilinear", "bicubic"):
        got = F.resize(Tensor._wrap(a), [5, 6], mode)
        y = TF.interpolate(torch.from_numpy(a).float()[None], size=(5, 6), mode=mode,
                           align_corners=False, antialias=True)
        want = y.clamp(0, 255).round().to(torch.uint8)[0] if mode == "bicubic" else \
            y.round().to(torch.uint8)[0]
        assert got.dtype == np.uint8
        assert np.abs(got.numpy().astype(int) - want.numpy().astype(int)).max() <= 1


def test_resize_shorter_side_and_pil():
    a = img_u8(20, 30)
    im = Image.fromarray(a)
    out = T.Resize(10)(im)
    assert out.size == (15, 10)  # PIL size is (w, h)
    np.testing.assert_array_equal(np.asarray(out), np.asarray(im.resize((15, 10),
                                                                        Image.BILINEAR)))
    assert T.Resize(10, max_size=12)(im).size == (12, 8)
    assert F.resize(chw(a), 10).shape == (3, 10, 15)
    assert F.resize(chw(a), [20]) is not None and F.resize(im, [20]) is im  # already that size
    near = T.Resize((7, 9), interpolation=InterpolationMode.NEAREST)(im)
    np.testing.assert_array_equal(np.asarray(near), np.asarray(im.resize((9, 7), Image.NEAREST)))
    # torchvision's antialiased tensor path and PIL agree to one grey level on uint8 images
    tens = F.resize(Tensor._wrap(np.ascontiguousarray(a.transpose(2, 0, 1))), [10, 15])
    diff = np.abs(tens.numpy().transpose(1, 2, 0).astype(int) - np.asarray(out).astype(int))
    assert diff.max() <= 1
    with pytest.raises(TypeError, match="size"):
        T.Resize("big")
    with pytest.raises(ValueError, match="max_size"):
        F.resize(im, [10, 10], max_size=20)
    with pytest.raises(TypeError, match="interpolation"):
        T.Resize(4, interpolation="cubicle")


def test_crop_center_crop_golden():
    a = np.arange(25, dtype=np.float32).reshape(1, 5, 5)
    t = Tensor._wrap(a)
    np.testing.assert_array_equal(T.CenterCrop(3)(t).numpy(), a[:, 1:4, 1:4])
    np.testing.assert_array_equal(T.CenterCrop((2, 4))(t).numpy(), a[:, 2:4, 0:4])
    # larger than the image: zero padding around, image centred (torchvision's rounding)
    big = T.CenterCrop(8)(t).numpy()
    assert big.shape == (1, 8, 8) and big[0, 0, 0] == 0 and big[0, 7, 7] == 0
    np.testing.assert_array_equal(big[:, 1:6, 1:6], a)  # pads (1 left/top, 2 right/bottom)
    pim = Image.fromarray(a[0].astype(np.uint8))
    np.testing.assert_array_equal(np.asarray(T.CenterCrop(3)(pim)), a[0, 1:4, 1:4])
    np.testing.assert_array_equal(np.asarray(T.CenterCrop(8)(pim)), big[0].astype(np.uint8))
    # crop outside the image: zeros there, on both paths
    c = F.crop(t, -1, 3, 3, 4).numpy()
    want = np.zeros((1, 3, 4), np.float32)
    want[0, 1:, :2] = a[0, :2, 3:]
    np.testing.assert_array_equal(c, want)
    np.testing.assert_array_equal(np.asarray(F.crop(pim, -1, 3, 3, 4)), want[0])


@pytest.mark.parametrize("mode,torch_mode", [("constant", "constant"), ("edge", "replicate"),
                                             ("reflect", "reflect")])
@pytest.mark.parametrize("padding", [2, (1, 3), (1, 2, 3, 0)])
def test_pad_tensor_matches_torch(mode, torch_mode, padding):
    x = np.random.default_rng(0).random((3, 5, 6)).astype(np.float32)
    got = T.Pad(padding, fill=0.5 if mode == "constant" else 0, padding_mode=mode)(
        Tensor._wrap(x))
    l, t, r, b = (padding,) * 4 if isinstance(padding, int) else (
        (padding[0], padding[1]) * 2 if len(padding) == 2 else padding)
    kw = dict(value=0.5) if mode == "constant" else {}
    want = TF.pad(torch.from_numpy(x)[None], (l, r, t, b), mode=torch_mode, **kw)[0]
    np.testing.assert_array_equal(got.numpy(), want.numpy())


@pytest.mark.parametrize("mode", ["constant", "edge", "reflect", "symmetric"])
def test_pad_pil_matches_numpy(mode):
    a = img_u8(4, 5)
    got = np.asarray(T.Pad((1, 2, 3, 1), fill=(9, 8, 7), padding_mode=mode)(Image.fromarray(a)))
    kw = {"constant_values": 0} if mode == "constant" else {}
    want = np.pad(a, ((2, 1), (1, 3), (0, 0)), mode, **kw)
    if mode == "constant":  # the fill colour per band
        mask = np.ones(want.shape[:2], bool)
        mask[2:6, 1:6] = False
        want[mask] = (9, 8, 7)
    np.testing.assert_array_equal(got, want)
    sym = F.pad(chw(a), [2, 1], padding_mode="symmetric").numpy()
    np.testing.assert_array_equal(sym, np.pad(chw(a).numpy(), ((0, 0), (1, 1), (2, 2)),
                                              "symmetric"))
    with pytest.raises(ValueError, match="padding_mode"):
        T.Pad(1, padding_mode="wrap")
    with pytest.raises(ValueError, match="element tuple"):
        F.pad(chw(a), (1, 2, 3))


def test_flips():
    a = img_u8()
    t = chw(a)
    np.testing.assert_array_equal(F.hflip(t).numpy(), t.numpy()[..., ::-1])
    np.testing.assert_array_equal(F.vflip(t).numpy(), t.numpy()[..., ::-1, :])
    np.testing.assert_array_equal(np.asarray(F.hflip(Image.fromarray(a))), a[:, ::-1])
    np.testing.assert_array_equal(np.asarray(F.vflip(Image.fromarray(a))), a[::-1])
    assert np.asarray(T.RandomHorizontalFlip(p=1.0)(Image.fromarray(a)))[0, 0, 0] == a[0, -1, 0]
    assert T.RandomVerticalFlip(p=0.0)(t) is t
    with pytest.raises(TypeError, match="PIL Image or a convnp Tensor"):
        F.hflip(a)


# ------------------------------------------------------------------ rotations and affine maps
def _torch_grid_transform(x, inv, mode, fill=None):
    """What torchvision's tensor path computes: sample through the inverse map ``inv`` (3x3, pixel
    units, origin at the image centre) with affine_grid + grid_sample (align_corners=False)."""
    n, c, h, w = x.shape
    theta = torch.tensor([[inv[0, 0], inv[0, 1] * h / w, inv[0, 2] * 2 / w],
                          [inv[1, 0] * w / h, inv[1, 1], inv[1, 2] * 2 / h]],
                         dtype=x.dtype)[None].expand(n, 2, 3)
    grid = TF.affine_grid(theta, [n, c, h, w], align_corners=False)
    out = TF.grid_sample(x, grid, mode=mode, padding_mode="zeros", align_corners=False)
    if fill is None:
        return out
    mask = TF.grid_sample(torch.ones_like(x[:, :1]), grid, mode=mode, padding_mode="zeros",
                          align_corners=False).expand_as(out)
    f = torch.tensor(fill, dtype=x.dtype).view(1, -1, 1, 1).expand_as(out)
    if mode == "nearest":
        return torch.where(mask < 0.5, f, out)
    return out * mask + (1 - mask) * f


def _rss(angle, scale, shear):
    """R(angle) * S(scale) * SHy(shear_y) * SHx(shear_x) (torchvision's documented order)."""
    a, sx, sy = (math.radians(v) for v in (angle, *shear))
    R = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
    shy = np.array([[1, 0], [-math.tan(sy), 1]])
    shx = np.array([[1, -math.tan(sx)], [0, 1]])
    return scale * R @ shy @ shx


def _forward_map(angle, translate, scale, shear, center):
    """T * C * RSS * C^-1 as a 3x3 matrix."""
    M = np.eye(3)
    M[:2, :2] = _rss(angle, scale, shear)
    C, T_ = np.eye(3), np.eye(3)
    C[:2, 2] = center
    T_[:2, 2] = translate
    return T_ @ C @ M @ np.linalg.inv(C)


@pytest.mark.parametrize("mode", ["nearest", "bilinear"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_rotate_tensor_matches_grid_sample(mode, dtype):
    x = np.random.default_rng(0).random((2, 3, 9, 8)).astype(dtype)
    angle = 23.0
    # tensor rotate = inverse of the rotation by -angle about the centre (y axis points down)
    inv = np.linalg.inv(_forward_map(-angle, (0, 0), 1.0, (0, 0), (0, 0)))
    got = F.rotate(Tensor._wrap(x), angle, mode).numpy()
    want = _torch_grid_transform(torch.from_numpy(x), inv, mode).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    got = F.rotate(Tensor._wrap(x), angle, mode, fill=[0.1, 0.2, 0.3]).numpy()
    want = _torch_grid_transform(torch.from_numpy(x), inv, mode, fill=[0.1, 0.2, 0.3]).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("mode", ["nearest", "bilinear"])
def test_affine_tensor_matches_grid_sample(mode):
    x = np.random.default_rng(1).random((3, 10, 12)).astype(np.float32)
    args = dict(angle=17.0, translate=(2, -1), scale=1.2, shear=(7.0, -4.0))
    inv = np.linalg.inv(_forward_map(args["angle"], args["translate"], args["scale"],
                                     args["shear"], (0, 0)))
    got = F.affine(Tensor._wrap(x), **args, interpolation=mode).numpy()
    want = _torch_grid_transform(torch.from_numpy(x)[None], inv, mode)[0].numpy()
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    # a centre given in pixel coordinates
    got = F.affine(Tensor._wrap(x), **args, interpolation=mode, center=[3, 4]).numpy()
    inv = np.linalg.inv(_forward_map(args["angle"], args["translate"], args["scale"],
                                     args["shear"], (3 - 6, 4 - 5)))
    want = _torch_grid_transform(torch.from_numpy(x)[None], inv, mode)[0].numpy()
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_affine_pil_matches_pil_transform():
    a = img_u8(10, 12)
    im = Image.fromarray(a)
    args = dict(angle=17.0, translate=(2, -1), scale=1.2, shear=(7.0, -4.0))
    inv = np.linalg.inv(_forward_map(args["angle"], args["translate"], args["scale"],
                                     args["shear"], (6, 5)))
    for mode, flt in (("nearest", Image.NEAREST), ("bilinear", Image.BILINEAR)):
        got = F.affine(im, **args, interpolation=mode, fill=(1, 2, 3))
        want = im.transform((12, 10), Image.AFFINE, tuple(inv[:2].ravel()), flt,
                             fillcolor=(1, 2, 3))
        np.testing.assert_array_equal(np.asarray(got), np.asarray(want))
    # translation only: a pure shift right by 2, zeros entering from the left
    g = np.asarray(F.affine(im, 0.0, [2, 0], 1.0, 0.0))
    np.testing.assert_array_equal(g[:, 2:], a[:, :-2])
    assert (g[:, :2] == 0).all()


def test_rotate_90_golden_both_paths():
    a = img_u8(6, 6)
    im = Image.fromarray(a)
    want = np.rot90(a, 1)  # counter-clockwise
    np.testing.assert_array_equal(np.asarray(F.rotate(im, 90)), want)
    t = Tensor._wrap(np.ascontiguousarray(a.transpose(2, 0, 1)))
    np.testing.assert_array_equal(F.rotate(t, 90).numpy().transpose(1, 2, 0), want)
    # expand=True on a non-square image swaps height and width
    r = F.rotate(chw(img_u8(4, 6)), 90, expand=True)
    assert r.shape == (3, 6, 4)
    np.testing.assert_allclose(r.numpy(), np.rot90(chw(img_u8(4, 6)).numpy(), 1, axes=(1, 2)))
    assert F.rotate(Image.fromarray(img_u8(4, 6)), 90, expand=True).size == (4, 6)
    # odd sizes: torchvision's tensor rule shifts the corners by half the size before the
    # ceil/floor, so a 4x7 tensor grows to 8x5 (PIL gives 7x4)
    assert F.rotate(chw(img_u8(4, 7)), 90, expand=True).shape == (3, 8, 5)
    with pytest.raises(TypeError, match="angle"):
        F.rotate(t, "90")


def test_random_rotation_and_affine_repeat_with_seed():
    a = chw(img_u8(8, 8))
    tr = T.RandomRotation(30, interpolation=InterpolationMode.BILINEAR)
    ta = T.RandomAffine(20, translate=(0.2, 0.1), scale=(0.8, 1.2), shear=(-5, 5, -3, 3))
    convnp.manual_seed(3)
    r1, a1 = tr(a).numpy(), ta(a).numpy()
    convnp.manual_seed(3)
    r2, a2 = tr(a).numpy(), ta(a).numpy()
    np.testing.assert_array_equal(r1, r2)
    np.testing.assert_array_equal(a1, a2)
    convnp.manual_seed(5)
    angle, tr_, sc, sh = T.RandomAffine.get_params((-20, 20), (0.2, 0.1), (0.8, 1.2),
                                                   (-5, 5, -3, 3), [8, 8])
    assert -20 <= angle <= 20 and abs(tr_[0]) <= 2 and abs(tr_[1]) <= 1 and 0.8 <= sc <= 1.2
    assert -5 <= sh[0] <= 5 and -3 <= sh[1] <= 3
    # PIL images keep their mode and size
    im = Image.fromarray(img_u8(8, 8))
    assert T.RandomRotation((10, 10))(im).size == (8, 8)
    np.testing.assert_array_equal(np.asarray(T.RandomRotation((10, 10), fill=0)(im)),
                                  np.asarray(im.rotate(10.0, Image.NEAREST)))
    with pytest.raises(ValueError, match="non negative"):
        T.RandomRotation(-3)


# ------------------------------------------------------------------ random crops
def test_random_crop_padding_and_seed():
    a = np.arange(36, dtype=np.float32).reshape(1, 6, 6)
    t = T.RandomCrop(6, padding=2)
    convnp.manual_seed(0)
    outs = [t(Tensor._wrap(a)).numpy() for _ in range(20)]
    convnp.manual_seed(0)
    again = [t(Tensor._wrap(a)).numpy() for _ in range(20)]
    for o, p in zip(outs, again):
        np.testing.assert_array_equal(o, p)
    padded = np.pad(a, ((0, 0), (2, 2), (2, 2)))
    windows = {padded[:, i:i + 6, j:j + 6].tobytes() for i in range(5) for j in range(5)}
    assert all(o.tobytes() in windows for o in outs)
    assert len({o.tobytes() for o in outs}) > 3
    # pad_if_needed pads width by (tw - w) on both sides, as torchvision
    small = T.RandomCrop((3, 8), pad_if_needed=True, padding_mode="edge")(Tensor._wrap(a))
    assert small.shape == (1, 3, 8)
    with pytest.raises(ValueError, match="larger than the input"):
        T.RandomCrop(7)(Tensor._wrap(a))
    im = T.RandomCrop(4, padding=1, fill=255)(Image.fromarray(img_u8()))
    assert im.size == (4, 4)


def test_random_resized_crop():
    a = chw(img_u8(20, 30))
    convnp.manual_seed(1)
    for _ in range(10):
        i, j, h, w = T.RandomResizedCrop.get_params(a, (0.08, 1.0), (3 / 4, 4 / 3))
        assert 0 <= i <= 20 - h and 0 <= j <= 30 - w and h > 0 and w > 0
        assert 0.08 * 600 * 0.8 <= h * w <= 600
    out = T.RandomResizedCrop(16)(a)
    assert out.shape == (3, 16, 16)
    assert T.RandomResizedCrop((8, 12))(Image.fromarray(img_u8(20, 30))).size == (12, 8)
    # impossible scale: fallback to the central crop with the ratio clamped
    i, j, h, w = T.RandomResizedCrop.get_params(a, (5.0, 6.0), (1.0, 1.0))
    assert (h, w) == (20, 20) and (i, j) == (0, 5)


# ------------------------------------------------------------------ colour
def test_grayscale_tensor_and_pil():
    a = img_u8()
    x = chw(a)
    want = (0.2989 * torch.from_numpy(x.numpy())[0] + 0.587 * torch.from_numpy(x.numpy())[1]
            + 0.114 * torch.from_numpy(x.numpy())[2])
    np.testing.assert_allclose(T.Grayscale()(x).numpy()[0], want.numpy(), rtol=1e-6)
    u = Tensor._wrap(np.ascontiguousarray(a.transpose(2, 0, 1)))
    tu = torch.from_numpy(u.numpy())
    want_u = (0.2989 * tu[0] + 0.587 * tu[1] + 0.114 * tu[2]).to(torch.uint8)
    np.testing.assert_array_equal(F.rgb_to_grayscale(u).numpy()[0], want_u.numpy())
    three = T.Grayscale(3)(x)
    assert three.shape == (3, 6, 7)
    g = T.Grayscale(3)(Image.fromarray(a))
    assert g.mode == "RGB"
    np.testing.assert_array_equal(np.asarray(g)[..., 1],
                                  np.asarray(Image.fromarray(a).convert("L")))
    with pytest.raises(ValueError, match="num_output_channels"):
        F.rgb_to_grayscale(x, 2)


def _torch_blend(a, b, r, bound):
    return (r * a + (1 - r) * b).clamp(0, bound)


def test_adjust_tensor_matches_torch_formulas():
    x = np.random.default_rng(0).random((3, 5, 6)).astype(np.float32)
    tx = torch.from_numpy(x)
    gray = (0.2989 * tx[0] + 0.587 * tx[1] + 0.114 * tx[2])[None]
    np.testing.assert_allclose(F.adjust_brightness(Tensor._wrap(x), 1.3).numpy(),
                               _torch_blend(tx, 0, 1.3, 1.0).numpy(), rtol=1e-6)
    np.testing.assert_allclose(F.adjust_contrast(Tensor._wrap(x), 0.6).numpy(),
                               _torch_blend(tx, gray.mean(), 0.6, 1.0).numpy(), rtol=1e-6)
    np.testing.assert_allclose(F.adjust_saturation(Tensor._wrap(x), 1.7).numpy(),
                               _torch_blend(tx, gray, 1.7, 1.0).numpy(), rtol=1e-6)
    u = (x * 255).astype(np.uint8)
    got = F.adjust_brightness(Tensor._wrap(u), 1.5).numpy()
    want = _torch_blend(torch.from_numpy(u), 0, 1.5, 255).to(torch.uint8).numpy()
    np.testing.assert_array_equal(got, want)


def test_adjust_hue_matches_colorsys():
    x = np.random.default_rng(2).random((3, 4, 5)).astype(np.float32)
    got = F.adjust_hue(Tensor._wrap(x), 0.2).numpy()
    want = np.empty_like(x)
    for i in range(4):
        for j in range(5):
            h, s, v = colorsys.rgb_to_hsv(*x[:, i, j])
            want[:, i, j] = colorsys.hsv_to_rgb((h + 0.2) % 1.0, s, v)
    np.testing.assert_allclose(got, want, atol=1e-5)
    np.testing.assert_allclose(F.adjust_hue(Tensor._wrap(x), 0.0).numpy(), x, atol=1e-6)
    with pytest.raises(ValueError, match="hue_factor"):
        F.adjust_hue(Tensor._wrap(x), 0.7)


def test_adjust_pil_matches_image_enhance():
    im = Image.fromarray(img_u8())
    for fn, enh in ((F.adjust_brightness, ImageEnhance.Brightness),
                    (F.adjust_contrast, ImageEnhance.Contrast),
                    (F.adjust_saturation, ImageEnhance.Color)):
        np.testing.assert_array_equal(np.asarray(fn(im, 1.4)), np.asarray(enh(im).enhance(1.4)))
    h = np.asarray(F.adjust_hue(im, 0.25).convert("HSV"))[..., 0].astype(int)
    h0 = np.asarray(im.convert("HSV"))[..., 0].astype(int)
    # hue is shifted by 63/255 modulo 256 (before the RGB round trip's rounding)
    assert np.abs((h - h0 - 63 + 128) % 256 - 128).mean() < 4
    with pytest.raises(ValueError, match="non-negative"):
        F.adjust_brightness(im, -1)


def test_color_jitter_seeded_and_ranges():
    x = chw(img_u8())
    cj = T.ColorJitter(brightness=0.4, contrast=0.4, saturation=0.4, hue=0.1)
    assert cj.brightness == (0.6, 1.4) and cj.hue == (-0.1, 0.1)
    assert T.ColorJitter().brightness is None
    convnp.manual_seed(7)
    a = cj(x).numpy()
    convnp.manual_seed(7)
    np.testing.assert_array_equal(cj(x).numpy(), a)
    order, b, c, s, h = T.ColorJitter.get_params(cj.brightness, None, cj.saturation, None)
    assert sorted(order.tolist()) == [0, 1, 2, 3] and c is None and h is None
    assert 0.6 <= b <= 1.4 and 0.6 <= s <= 1.4
    assert isinstance(cj(Image.fromarray(img_u8())), Image.Image)
    with pytest.raises(ValueError, match="hue"):
        T.ColorJitter(hue=0.7)


# ------------------------------------------------------------------ composition
def test_compose_lambda_random_apply_erasing():
    t = T.Compose([T.ToTensor(), T.Lambda(lambda x: x * 2), T.Normalize((0.5,), (0.5,))])
    a = np.array([[0, 255]], np.uint8)
    np.testing.assert_allclose(t(Image.fromarray(a)).numpy(), [[[-1.0, 3.0]]])
    assert "Normalize" in repr(t)
    with pytest.raises(TypeError, match="callable"):
        T.Lambda(3)
    x = chw(img_u8(), np.float32)
    assert T.RandomApply([T.Lambda(lambda v: None)], p=0.0)(x) is x
    convnp.manual_seed(0)
    er = T.RandomErasing(p=1.0, value=0)(x).numpy()
    assert (er == 0).sum() > 0 and er.shape == x.shape
    with pytest.raises(TypeError, match="ToTensor"):
        T.RandomErasing(p=1.0)(Image.fromarray(img_u8()))
    convnp.manual_seed(0)
    picked = {T.RandomChoice([T.Lambda(lambda v: 1), T.Lambda(lambda v: 2)])(x)
              for _ in range(20)}
    assert picked == {1, 2}


def test_v2_names():
    from convnp.vision.transforms import v2

    a = img_u8()
    t = v2.Compose([v2.ToImage(), v2.ToDtype(convnp.float32, scale=True),
                    v2.Normalize((0.5,) * 3, (0.5,) * 3)])
    want = T.Compose([T.ToTensor(), T.Normalize((0.5,) * 3, (0.5,) * 3)])(Image.fromarray(a))
    np.testing.assert_array_equal(t(Image.fromarray(a)).numpy(), want.numpy())
    img = v2.ToImage()(a)
    assert img.dtype == np.uint8 and img.shape == (3, 6, 7)
    assert v2.ToDtype(convnp.float32)(img).numpy().max() > 1  # no scaling unless asked
    assert v2.functional.hflip is F.hflip and v2.RandomCrop is T.RandomCrop
    with pytest.raises(TypeError, match="ToImage"):
        v2.functional.to_dtype(Image.fromarray(a))


@pytest.mark.parametrize("ks,sigma", [(3, None), ((5, 3), (1.5, 0.7))])
def test_gaussian_blur_matches_torch_conv(ks, sigma):
    x = np.random.default_rng(0).random((2, 3, 9, 8)).astype(np.float32)
    got = F.gaussian_blur(Tensor._wrap(x), ks, sigma).numpy()
    kx, ky = (ks, ks) if isinstance(ks, int) else ks
    sx, sy = ((kx * 0.15 + 0.35, ky * 0.15 + 0.35) if sigma is None else sigma)

    def k1(n, s):  # torchvision's kernel: a sampled Gaussian, normalised
        t = torch.linspace(-(n - 1) / 2, (n - 1) / 2, n)
        p = torch.exp(-0.5 * (t / s) ** 2)
        return p / p.sum()

    w = (k1(ky, sy)[:, None] @ k1(kx, sx)[None]).expand(3, 1, ky, kx)
    xp = TF.pad(torch.from_numpy(x), (kx // 2, kx // 2, ky // 2, ky // 2), mode="reflect")
    want = TF.conv2d(xp, w, groups=3).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    # PIL images take the same path on their uint8 values and come back as PIL
    a = img_u8(9, 8)
    pim = F.gaussian_blur(Image.fromarray(a), ks, sigma)
    tens = F.gaussian_blur(Tensor._wrap(np.ascontiguousarray(a.transpose(2, 0, 1))), ks, sigma)
    np.testing.assert_array_equal(np.asarray(pim), tens.numpy().transpose(1, 2, 0))
    convnp.manual_seed(0)
    assert T.GaussianBlur(3, (0.5, 1.0))(Tensor._wrap(x)).shape == x.shape
    with pytest.raises(ValueError, match="odd"):
        T.GaussianBlur(4)
