"""Colour transforms (grey, brightness, contrast, saturation, hue with torchvision's blend
formulas), erasing and Gaussian blur."""

from __future__ import annotations

import numpy as np

from convnp.tensor import Tensor
from convnp.vision.transforms._functional_core import (
    _as_batch,
    _cast_out,
    _check_img,
    _from_batch,
    _is_pil,
    _max_value,
    _new,
    _pil,
    convert_image_dtype,
    pil_to_tensor,
    to_pil_image,
)


# --------------------------------------------------------------------------- colour
def _gray(a: np.ndarray) -> np.ndarray:
    """ITU-R 601-2 luma of (..., 3, H, W), computed in float, cast back (truncating ints)."""
    r, g, b = a[..., 0, :, :], a[..., 1, :, :], a[..., 2, :, :]
    ft = a.dtype.type if a.dtype.kind == "f" else np.float32
    lum = ft(0.2989) * r + ft(0.587) * g + ft(0.114) * b
    return lum.astype(a.dtype)[..., None, :, :]


def rgb_to_grayscale(img, num_output_channels: int = 1):
    """RGB -> grey (``L = 0.2989 R + 0.587 G + 0.114 B``), 1 or 3 output channels."""
    _check_img(img, "rgb_to_grayscale")
    if num_output_channels not in (1, 3):
        raise ValueError(f"rgb_to_grayscale: num_output_channels should be either 1 or 3, got "
                         f"{num_output_channels}")
    if _is_pil(img):
        g = img.convert("L")
        if num_output_channels == 3:
            a = np.asarray(g, np.uint8)
            g = _pil().fromarray(np.dstack([a, a, a]))
        return g
    if img.ndim < 3:
        raise TypeError(f"rgb_to_grayscale: input should be a tensor (..., C, H, W) with at least "
                        f"3 dimensions, got shape {tuple(img.shape)}")
    a = img.array
    c = a.shape[-3]
    if c not in (1, 3):
        raise TypeError(f"rgb_to_grayscale: input image tensor permitted channel values are 1 "
                        f"or 3, but found {c}")
    lum = _gray(a) if c == 3 else a.copy()
    if num_output_channels == 3:
        lum = np.broadcast_to(lum, lum.shape[:-3] + (3,) + lum.shape[-2:])
    return _new(lum)


def to_grayscale(img, num_output_channels: int = 1):
    """PIL Image -> grey PIL image (1 or 3 channels)."""
    if not _is_pil(img):
        raise TypeError(f"to_grayscale: input should be a PIL Image, got {type(img).__name__}; "
                        f"use rgb_to_grayscale for tensors")
    return rgb_to_grayscale(img, num_output_channels)


def _blend(a: np.ndarray, b: np.ndarray, ratio: float) -> np.ndarray:
    ratio = float(ratio)
    bound = _max_value(a.dtype)
    ft = a.dtype.type if a.dtype.kind == "f" else np.float32
    out = ft(ratio) * a + ft(1.0 - ratio) * b
    return np.clip(out, 0, bound).astype(a.dtype)


def _check_factor(name: str, f: float) -> None:
    if f < 0:
        raise ValueError(f"adjust_{name}: {name}_factor ({f}) is not non-negative")


def _adjust(img, factor: float, name: str, enhancer: str, target):
    """What brightness, contrast and saturation share: check the arguments, then PIL's
    ``ImageEnhance.<enhancer>`` for a PIL image, or blend the tensor image with
    ``target(array)`` (None: the image is returned unchanged)."""
    _check_img(img, f"adjust_{name}")
    _check_factor(name, factor)
    if _is_pil(img):
        from PIL import ImageEnhance

        return getattr(ImageEnhance, enhancer)(img).enhance(factor)
    a = img.array
    other = target(a)
    return img if other is None else _new(_blend(a, other, factor))


def _mean_grey(a: np.ndarray) -> np.ndarray:
    """The mean grey level of each image, as the contrast blend's flat target."""
    ft = a.dtype if a.dtype.kind == "f" else np.dtype(np.float32)
    src = _gray(a) if a.shape[-3] == 3 else a
    return src.astype(ft).mean(axis=(-3, -2, -1), keepdims=True)


def adjust_brightness(img, brightness_factor: float):
    """Multiply by ``brightness_factor`` (0 black, 1 unchanged), clamped to the value range."""
    return _adjust(img, brightness_factor, "brightness", "Brightness", np.zeros_like)


def adjust_contrast(img, contrast_factor: float):
    """Blend with the mean grey level (0 a flat grey image, 1 unchanged)."""
    return _adjust(img, contrast_factor, "contrast", "Contrast", _mean_grey)


def adjust_saturation(img, saturation_factor: float):
    """Blend with the grey image (0 grey, 1 unchanged, 2 doubled saturation)."""
    return _adjust(img, saturation_factor, "saturation", "Color",
                   lambda a: None if a.shape[-3] == 1 else _gray(a))


def _rgb2hsv(a: np.ndarray) -> np.ndarray:
    r, g, b = a[..., 0, :, :], a[..., 1, :, :], a[..., 2, :, :]
    maxc, minc = a.max(axis=-3), a.min(axis=-3)
    eqc = maxc == minc
    cr = maxc - minc
    ones = np.ones_like(maxc)
    s = cr / np.where(eqc, ones, maxc)
    div = np.where(eqc, ones, cr)
    rc, gc, bc = (maxc - r) / div, (maxc - g) / div, (maxc - b) / div
    hr = (maxc == r) * (bc - gc)
    hg = ((maxc == g) & (maxc != r)) * (2.0 + rc - bc)
    hb = ((maxc != g) & (maxc != r)) * (4.0 + gc - rc)
    h = np.fmod((hr + hg + hb) / 6.0 + 1.0, 1.0).astype(a.dtype)
    return np.stack((h, s, maxc), axis=-3)


def _hsv2rgb(a: np.ndarray) -> np.ndarray:
    h, s, v = a[..., 0, :, :], a[..., 1, :, :], a[..., 2, :, :]
    i = np.floor(h * 6.0)
    f = h * 6.0 - i
    i = i.astype(np.int32) % 6
    p = np.clip(v * (1.0 - s), 0.0, 1.0)
    q = np.clip(v * (1.0 - s * f), 0.0, 1.0)
    t = np.clip(v * (1.0 - s * (1.0 - f)), 0.0, 1.0)
    # the sextant i picks (r, g, b) among (v, q, p, p, t, v) / (t, v, v, q, p, p) / ...
    table = np.stack([np.stack(row, axis=-3) for row in
                      ((v, q, p, p, t, v), (t, v, v, q, p, p), (p, p, t, v, v, q))], axis=-4)
    idx = np.broadcast_to(i[..., None, None, :, :], table.shape[:-3] + (1,) + i.shape[-2:])
    return np.take_along_axis(table, idx, axis=-3)[..., 0, :, :].astype(a.dtype)


def adjust_hue(img, hue_factor: float):
    """Shift the hue by ``hue_factor`` turns (in [-0.5, 0.5]) in HSV space."""
    _check_img(img, "adjust_hue")
    if not -0.5 <= hue_factor <= 0.5:
        raise ValueError(f"adjust_hue: hue_factor ({hue_factor}) is not in [-0.5, 0.5]")
    if _is_pil(img):
        mode = img.mode
        if mode in ("L", "1", "I", "F"):
            return img
        hh, s, v = img.convert("HSV").split()
        shift = int(np.trunc(hue_factor * 255)) % 256  # hue wraps around: uint8 arithmetic
        h = (np.asarray(hh, np.uint8) + np.uint8(shift)).astype(np.uint8)
        Image = _pil()
        return Image.merge("HSV", (Image.fromarray(h, ), s, v)).convert(mode)
    a = img.array
    if a.ndim < 3 or a.shape[-3] == 1:
        return img
    if a.shape[-3] != 3:
        raise TypeError(f"adjust_hue: expected 1 or 3 channels, got {a.shape[-3]}")
    x = convert_image_dtype(img, np.float32).array
    hsv = _rgb2hsv(x)
    hsv[..., 0, :, :] = (hsv[..., 0, :, :] + np.float32(hue_factor)) % np.float32(1.0)
    rgb = _hsv2rgb(hsv)
    return convert_image_dtype(Tensor._wrap(rgb), a.dtype)


def erase(img: Tensor, i: int, j: int, h: int, w: int, v, inplace: bool = False) -> Tensor:
    """Set the box (``i``, ``j``, ``h``, ``w``) of a tensor image to ``v`` (value or tensor)."""
    if not isinstance(img, Tensor):
        raise TypeError(f"erase: img should be a convnp Tensor, got {type(img).__name__}")
    a = img.array if inplace else img.array.copy()
    a[..., i:i + h, j:j + w] = v.array if isinstance(v, Tensor) else v
    return img if inplace else Tensor._wrap(a)


def _gaussian_kernel1d(size: int, sigma: float, dtype) -> np.ndarray:
    half = (size - 1) * 0.5
    x = np.linspace(-half, half, size).astype(dtype)
    pdf = np.exp(dtype.type(-0.5) * (x / dtype.type(sigma)) ** 2)
    return pdf / pdf.sum()


def gaussian_blur(img, kernel_size, sigma=None):
    """Blur with a Gaussian kernel ``kernel_size`` (odd ints, (x, y)) of std ``sigma``
    (default ``0.3 * ((k - 1) * 0.5 - 1) + 0.8``), reflect-padded so the size is kept. PIL images
    take the tensor path and come back as PIL (torchvision's rule)."""
    _check_img(img, "gaussian_blur")
    if isinstance(kernel_size, int):
        kernel_size = [kernel_size, kernel_size]
    if not isinstance(kernel_size, (list, tuple)) or len(kernel_size) != 2:
        raise ValueError(f"gaussian_blur: kernel_size should be an int or a sequence of 2 ints, "
                         f"got {kernel_size!r}")
    if any(not isinstance(k, int) or k % 2 == 0 or k < 0 for k in kernel_size):
        raise ValueError(f"gaussian_blur: kernel_size should have odd and positive integers, got "
                         f"{kernel_size}")
    if sigma is None:
        sigma = [k * 0.15 + 0.35 for k in kernel_size]
    if isinstance(sigma, (int, float)):
        sigma = [float(sigma), float(sigma)]
    elif isinstance(sigma, (list, tuple)) and len(sigma) == 1:
        sigma = [sigma[0], sigma[0]]
    if len(sigma) != 2 or any(s <= 0 for s in sigma):
        raise ValueError(f"gaussian_blur: sigma should be 1 or 2 positive values, got {sigma}")
    from convnp.ops.conv import conv2d

    t = pil_to_tensor(img) if _is_pil(img) else img
    a = t.array
    batch, lead = _as_batch(a)
    dtype = a.dtype if a.dtype.kind == "f" else np.dtype(np.float32)
    kx = _gaussian_kernel1d(kernel_size[0], sigma[0], dtype)
    ky = _gaussian_kernel1d(kernel_size[1], sigma[1], dtype)
    c = batch.shape[1]
    weight = np.broadcast_to(np.outer(ky, kx), (c, 1, kernel_size[1], kernel_size[0]))
    px, py = kernel_size[0] // 2, kernel_size[1] // 2
    x = np.pad(batch.astype(dtype, copy=False), ((0, 0), (0, 0), (py, py), (px, px)), "reflect")
    y = conv2d(Tensor._wrap(x), Tensor._wrap(np.ascontiguousarray(weight)), groups=c).array
    out = _new(_from_batch(_cast_out(y, a.dtype), lead, a.ndim == 2))
    return to_pil_image(out, mode=img.mode) if _is_pil(img) else out
