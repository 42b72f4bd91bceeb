"""``convnp.vision.transforms.functional``: torchvision's functional image transforms.

Every function takes a PIL Image or a convnp Tensor and returns the same kind, with torchvision's
numbers: PIL images go through PIL itself (as torchvision does), tensors ``(..., C, H, W)`` through
the tensor path torchvision uses (``interpolate`` for resizing, an affine grid sampled as
``grid_sample`` for rotations and affine maps, torchvision's blend formulas for colour).

Tensor results are new tensors without autograd history: transforms prepare data, they are not
part of a model.
"""

from __future__ import annotations

import math
import numbers
from typing import Sequence

import numpy as np

from convnp.tensor import Tensor
from convnp.vision.transforms._functional_color import (  # noqa: F401
    adjust_brightness,
    adjust_contrast,
    adjust_hue,
    adjust_saturation,
    erase,
    gaussian_blur,
    rgb_to_grayscale,
    to_grayscale,
)
from convnp.vision.transforms._functional_core import (  # noqa: F401
    InterpolationMode,
    _as_batch,
    _cast_out,
    _check_img,
    _check_tensor_image,
    _from_batch,
    _interp,
    _is_pil,
    _new,
    _parse_fill,
    _pil,
    _pil_filter,
    _scaled,
    convert_image_dtype,
    get_dimensions,
    get_image_num_channels,
    get_image_size,
    normalize,
    pil_to_tensor,
    to_pil_image,
    to_tensor,
)

__all__ = [
    "InterpolationMode", "get_dimensions", "get_image_size", "get_image_num_channels",
    "to_tensor", "pil_to_tensor", "to_pil_image", "convert_image_dtype", "normalize",
    "resize", "crop", "center_crop", "resized_crop", "pad", "hflip", "vflip", "rotate", "affine",
    "rgb_to_grayscale", "to_grayscale", "adjust_brightness", "adjust_contrast",
    "adjust_saturation", "adjust_hue", "erase", "gaussian_blur",
]


# --------------------------------------------------------------------------- resizing, crops
def _resized_size(h: int, w: int, size: list[int], max_size: int | None) -> list[int]:
    if len(size) == 1:  # the shorter side becomes size[0], aspect ratio kept
        short, long = (w, h) if w <= h else (h, w)
        new_short, new_long = size[0], int(size[0] * long / short)
        if max_size is not None:
            if max_size <= size[0]:
                raise ValueError(f"resize: max_size = {max_size} must be strictly greater than "
                                 f"the requested size for the smaller edge size = {size}")
            if new_long > max_size:
                new_short, new_long = int(max_size * new_short / new_long), max_size
        nw, nh = (new_short, new_long) if w <= h else (new_long, new_short)
        return [nh, nw]
    return [int(size[0]), int(size[1])]


def _check_size(size, fn: str) -> list[int]:
    if isinstance(size, (int, np.integer)) and not isinstance(size, bool):
        return [int(size)]
    if isinstance(size, (list, tuple)) and len(size) in (1, 2) and \
            all(isinstance(s, (int, np.integer)) for s in size):
        return [int(s) for s in size]
    raise TypeError(f"{fn}: size should be an int or a sequence of 1 or 2 ints, got {size!r}")


def resize(img, size, interpolation=InterpolationMode.BILINEAR, max_size: int | None = None,
           antialias: bool | None = True):
    """Resize to ``size`` ((h, w), or an int: the shorter side, keeping the aspect ratio).

    PIL images use PIL's ``resize`` (always antialiased); tensors use ``interpolate`` with
    ``antialias`` for bilinear/bicubic, computed in float and rounded back for integer images.
    """
    _check_img(img, "resize")
    mode = _interp(interpolation, "resize")
    size = _check_size(size, "resize")
    if len(size) == 2 and max_size is not None:
        raise ValueError("resize: max_size should only be passed if size specifies the length of "
                         "the smaller edge, i.e. size should be an int or a sequence of length 1")
    _, h, w = get_dimensions(img)
    out = _resized_size(h, w, size, max_size)
    if [h, w] == out:
        return img
    if _is_pil(img):
        return img.resize((out[1], out[0]), _pil_filter(mode))
    if mode not in (InterpolationMode.NEAREST, InterpolationMode.NEAREST_EXACT,
                    InterpolationMode.BILINEAR, InterpolationMode.BICUBIC):
        raise ValueError(f"resize: interpolation {mode.value!r} is only supported for PIL images; "
                         f"use nearest, nearest-exact, bilinear or bicubic on tensors")
    from convnp.ops.upsample import interpolate

    a = img.array
    batch, lead = _as_batch(a)
    dtype = a.dtype
    x = batch if dtype.kind == "f" else batch.astype(np.float32)
    smooth = mode in (InterpolationMode.BILINEAR, InterpolationMode.BICUBIC)
    y = interpolate(Tensor._wrap(x), size=out, mode=mode.value,
                    align_corners=False if smooth else None,
                    antialias=bool(antialias) and smooth).array
    if mode == InterpolationMode.BICUBIC and dtype == np.uint8:
        y = np.clip(y, 0, 255)
    return _new(_from_batch(_cast_out(y, dtype), lead, a.ndim == 2))


def crop(img, top: int, left: int, height: int, width: int):
    """Crop the box at (``top``, ``left``) of size ``height x width``; parts outside the image
    are zeros (torchvision's rule on both paths)."""
    _check_img(img, "crop")
    top, left, height, width = int(top), int(left), int(height), int(width)
    if _is_pil(img):
        return img.crop((left, top, left + width, top + height))
    _check_tensor_image(img, "crop")
    a = img.array
    h, w = a.shape[-2:]
    right, bottom = left + width, top + height
    if left < 0 or top < 0 or right > w or bottom > h:
        inner = a[..., max(top, 0):bottom, max(left, 0):right]
        pads = [(0, 0)] * (a.ndim - 2) + [
            (max(-top + min(0, bottom), 0), max(bottom - max(h, top), 0)),
            (max(-left + min(0, right), 0), max(right - max(w, left), 0))]
        return _new(np.pad(inner, pads))
    return _new(a[..., top:bottom, left:right])


def center_crop(img, output_size):
    """Crop the centre ``output_size`` box (padding with zeros when the image is smaller)."""
    _check_img(img, "center_crop")
    if isinstance(output_size, numbers.Number):
        output_size = (int(output_size), int(output_size))
    elif isinstance(output_size, (tuple, list)) and len(output_size) == 1:
        output_size = (output_size[0], output_size[0])
    crop_h, crop_w = int(output_size[0]), int(output_size[1])
    _, h, w = get_dimensions(img)
    if crop_w > w or crop_h > h:
        ltrb = [(crop_w - w) // 2 if crop_w > w else 0, (crop_h - h) // 2 if crop_h > h else 0,
                (crop_w - w + 1) // 2 if crop_w > w else 0,
                (crop_h - h + 1) // 2 if crop_h > h else 0]
        img = pad(img, ltrb, fill=0)
        _, h, w = get_dimensions(img)
        if crop_w == w and crop_h == h:
            return img
    top = int(round((h - crop_h) / 2.0))
    left = int(round((w - crop_w) / 2.0))
    return crop(img, top, left, crop_h, crop_w)


def resized_crop(img, top: int, left: int, height: int, width: int, size,
                 interpolation=InterpolationMode.BILINEAR, antialias: bool | None = True):
    """``crop`` then ``resize`` to ``size``."""
    return resize(crop(img, top, left, height, width), size, interpolation,
                  antialias=antialias)


def _parse_padding(padding, fn: str) -> tuple[int, int, int, int]:
    """torchvision's padding forms -> (left, top, right, bottom)."""
    if isinstance(padding, (int, np.integer)) and not isinstance(padding, bool):
        p = int(padding)
        return p, p, p, p
    if isinstance(padding, (tuple, list)):
        if len(padding) == 1:
            p = int(padding[0])
            return p, p, p, p
        if len(padding) == 2:
            return int(padding[0]), int(padding[1]), int(padding[0]), int(padding[1])
        if len(padding) == 4:
            return tuple(int(p) for p in padding)
        raise ValueError(f"{fn}: padding must be an int or a 1, 2, or 4 element tuple, not a "
                         f"{len(padding)} element tuple")
    raise TypeError(f"{fn}: padding must be an int or a sequence of ints, got {padding!r}")


_PAD_MODES = ("constant", "edge", "reflect", "symmetric")


def pad(img, padding, fill=0, padding_mode: str = "constant"):
    """Pad the borders: ``padding`` is an int, (left/right, top/bottom) or (left, top, right,
    bottom); ``padding_mode`` constant (with ``fill``), edge, reflect or symmetric. Negative
    padding crops."""
    _check_img(img, "pad")
    left, top, right, bottom = _parse_padding(padding, "pad")
    if padding_mode not in _PAD_MODES:
        raise ValueError(f"pad: padding_mode should be one of {', '.join(_PAD_MODES)}, got "
                         f"{padding_mode!r}")
    if fill is not None and not isinstance(fill, (numbers.Number, tuple, list)):
        raise TypeError(f"pad: fill must be a number or a sequence of numbers, got {fill!r}")
    if _is_pil(img):
        if padding_mode == "constant" and min(left, top, right, bottom) >= 0:
            from PIL import ImageOps

            return ImageOps.expand(img, border=(left, top, right, bottom),
                                   fill=_parse_fill(fill, img, "pad"))
        if padding_mode == "constant":  # negative borders: crop, then pad the rest
            img = img.crop((max(-left, 0), max(-top, 0), img.width - max(-right, 0),
                            img.height - max(-bottom, 0)))
            return pad(img, [max(p, 0) for p in (left, top, right, bottom)], fill)
        a = np.asarray(img)
        a = a[max(-top, 0):a.shape[0] - max(-bottom, 0), max(-left, 0):a.shape[1] - max(-right, 0)]
        pads = [(max(top, 0), max(bottom, 0)), (max(left, 0), max(right, 0))]
        pads += [(0, 0)] * (a.ndim - 2)
        Image = _pil()
        return Image.fromarray(np.pad(a, pads, padding_mode))
    _check_tensor_image(img, "pad")
    a = img.array
    h, w = a.shape[-2:]
    a = a[..., max(-top, 0):h - max(-bottom, 0), max(-left, 0):w - max(-right, 0)]
    pads = [(0, 0)] * (a.ndim - 2) + [(max(top, 0), max(bottom, 0)), (max(left, 0), max(right, 0))]
    if padding_mode == "constant":
        if isinstance(fill, (tuple, list)):
            if len(fill) != 1:
                raise TypeError(f"pad: tensor images take a single number as fill, got {fill!r}")
            fill = fill[0]
        return _new(np.pad(a, pads, constant_values=a.dtype.type(fill or 0)))
    if padding_mode == "reflect" and (max(top, bottom) >= a.shape[-2] or
                                      max(left, right) >= a.shape[-1]):
        raise ValueError(f"pad: reflect padding {(left, top, right, bottom)} must be smaller than "
                         f"the image size {tuple(a.shape[-2:])}")
    return _new(np.pad(a, pads, padding_mode))


def hflip(img):
    """Flip left-right."""
    _check_img(img, "hflip")
    if _is_pil(img):
        return img.transpose(_pil().Transpose.FLIP_LEFT_RIGHT)
    return _new(img.array[..., ::-1])


def vflip(img):
    """Flip top-bottom."""
    _check_img(img, "vflip")
    if _is_pil(img):
        return img.transpose(_pil().Transpose.FLIP_TOP_BOTTOM)
    _check_tensor_image(img, "vflip")
    return _new(img.array[..., ::-1, :])


# --------------------------------------------------------------------------- affine maps
def _inverse_affine_matrix(center, angle, translate, scale, shear) -> list[float]:
    """The output->input pixel map of rotate/scale/shear about ``center`` then translate, as a
    2x3 row-major list (torchvision's ``_get_inverse_affine_matrix``).

    The forward map is ``M = T * C * R * S * SH * C^-1``; sampling needs
    ``M^-1 = C * (R S SH)^-1 * C^-1 * T^-1``. The shear-rotation block has determinant 1, so its
    inverse is the adjugate.
    """
    rot = math.radians(angle)
    sx, sy = math.radians(shear[0]), math.radians(shear[1])
    cx, cy = center
    tx, ty = translate
    a = math.cos(rot - sy) / math.cos(sy)
    b = -math.cos(rot - sy) * math.tan(sx) / math.cos(sy) - math.sin(rot)
    c = math.sin(rot - sy) / math.cos(sy)
    d = -math.sin(rot - sy) * math.tan(sx) / math.cos(sy) + math.cos(rot)
    m = [d / scale, -b / scale, 0.0, -c / scale, a / scale, 0.0]
    m[2] += m[0] * (-cx - tx) + m[1] * (-cy - ty) + cx
    m[5] += m[3] * (-cx - tx) + m[4] * (-cy - ty) + cy
    return m


def _affine_grid(theta: np.ndarray, w: int, h: int, ow: int, oh: int) -> np.ndarray:
    """Sampling grid ``(oh, ow, 2)`` in [-1, 1] units for ``grid_sample(align_corners=False)``
    from a pixel-unit matrix ``theta`` (2, 3) whose origin is the image centre."""
    dt = theta.dtype
    xs = np.linspace(-ow * 0.5 + 0.5, ow * 0.5 - 0.5, ow, dtype=dt)
    ys = np.linspace(-oh * 0.5 + 0.5, oh * 0.5 - 0.5, oh, dtype=dt)
    base = np.empty((oh, ow, 3), dt)
    base[..., 0] = xs
    base[..., 1] = ys[:, None]
    base[..., 2] = 1
    rescaled = theta.T / np.asarray([0.5 * w, 0.5 * h], dt)  # (3, 2)
    return (base.reshape(-1, 3) @ rescaled).reshape(oh, ow, 2)


def _grid_sample(x: np.ndarray, grid: np.ndarray, mode: str) -> np.ndarray:
    """``grid_sample(x, grid, mode, padding_mode='zeros', align_corners=False)`` for one grid
    ``(oh, ow, 2)`` shared by the batch ``x`` (N, C, H, W)."""
    n, c, h, w = x.shape
    ft = x.dtype.type
    ix = ((grid[..., 0] + ft(1)) * ft(w) - ft(1)) / ft(2)  # (oh, ow) pixel coordinates
    iy = ((grid[..., 1] + ft(1)) * ft(h) - ft(1)) / ft(2)
    if mode == "nearest":
        xn, yn = np.rint(ix).astype(np.int64), np.rint(iy).astype(np.int64)
        ok = (xn >= 0) & (xn < w) & (yn >= 0) & (yn < h)
        out = x[:, :, np.clip(yn, 0, h - 1), np.clip(xn, 0, w - 1)]
        return out * ok.astype(x.dtype)
    x0, y0 = np.floor(ix), np.floor(iy)
    out = np.zeros((n, c) + ix.shape, x.dtype)
    for dy in (0, 1):
        for dx in (0, 1):
            xi, yi = x0 + dx, y0 + dy
            wgt = (ix - x0 if dx else x0 + 1 - ix) * (iy - y0 if dy else y0 + 1 - iy)
            ok = (xi >= 0) & (xi < w) & (yi >= 0) & (yi < h)
            xs = np.clip(xi, 0, w - 1).astype(np.int64)
            ys = np.clip(yi, 0, h - 1).astype(np.int64)
            out += x[:, :, ys, xs] * (wgt * ok).astype(x.dtype)
    return out


def _apply_grid(a: np.ndarray, theta: list[float], ow: int, oh: int, mode: str,
                fill) -> np.ndarray:
    """torchvision's tensor path of rotate/affine: sample ``a`` (..., C, H, W) through the
    affine grid; with ``fill`` a ones-channel marks valid pixels and the rest gets ``fill``."""
    if mode not in ("nearest", "bilinear"):
        raise ValueError(f"interpolation {mode!r} is not supported for tensor rotations and "
                         f"affine maps; use InterpolationMode.NEAREST or BILINEAR")
    was_2d = a.ndim == 2
    batch, lead = _as_batch(a)
    dtype = batch.dtype
    work = dtype if dtype.kind == "f" else np.dtype(np.float32)
    x = batch.astype(work, copy=False)
    h, w = x.shape[-2:]
    grid = _affine_grid(np.asarray(theta, work).reshape(2, 3), w, h, ow, oh)
    if fill is not None:
        x = np.concatenate([x, np.ones_like(x[:, :1])], axis=1)
    y = _grid_sample(x, grid, mode)
    if fill is not None:
        y, mask = y[:, :-1], y[:, -1:]
        fills = np.asarray(fill if isinstance(fill, (tuple, list)) else [float(fill)], work)
        fill_img = np.broadcast_to(fills.reshape(1, -1, 1, 1), y.shape)
        if mode == "nearest":
            y = np.where(mask < 0.5, fill_img, y)
        else:
            y = y * mask + (work.type(1) - mask) * fill_img
    y = _cast_out(y, dtype)
    return _from_batch(y, lead, was_2d)


def _affine_output_size(m: list[float], w: int, h: int) -> tuple[int, int]:
    """Bounding box of the image corners under the forward map (rotate with expand=True)."""
    pts = np.array([[-0.5 * w, -0.5 * h, 1.0], [-0.5 * w, 0.5 * h, 1.0], [0.5 * w, 0.5 * h, 1.0],
                    [0.5 * w, -0.5 * h, 1.0]], np.float32)
    new = pts @ np.asarray(m, np.float32).reshape(2, 3).T
    lo = new.min(0) + np.array([w * 0.5, h * 0.5], np.float32)
    hi = new.max(0) + np.array([w * 0.5, h * 0.5], np.float32)
    tol = np.float32(1e-4)  # keeps a 1e-15 excess from ceil-ing to a whole extra pixel
    size = np.ceil(np.trunc(hi / tol) * tol) - np.floor(np.trunc(lo / tol) * tol)
    return int(size[0]), int(size[1])


def rotate(img, angle: float, interpolation=InterpolationMode.NEAREST, expand: bool = False,
           center: Sequence[int] | None = None, fill=None):
    """Rotate by ``angle`` degrees counter-clockwise about ``center`` (default: the image
    centre); ``expand`` grows the output to hold the whole rotated image."""
    _check_img(img, "rotate")
    if not isinstance(angle, numbers.Number):
        raise TypeError(f"rotate: argument angle should be int or float, got {angle!r}")
    if center is not None and (not isinstance(center, (list, tuple)) or len(center) != 2):
        raise TypeError(f"rotate: center should be a sequence of length 2, got {center!r}")
    mode = _interp(interpolation, "rotate")
    if _is_pil(img):
        return img.rotate(angle, _pil_filter(mode), expand, center,
                          fillcolor=_parse_fill(fill, img, "rotate"))
    _check_tensor_image(img, "rotate")
    h, w = img.shape[-2:]
    cf = [0.0, 0.0] if center is None else [c - s * 0.5 for c, s in zip(center, (w, h))]
    m = _inverse_affine_matrix(cf, -angle, [0.0, 0.0], 1.0, [0.0, 0.0])
    ow, oh = _affine_output_size(m, w, h) if expand else (w, h)
    return _new(_apply_grid(img.array, m, ow, oh, mode.value, fill))


def affine(img, angle: float, translate: Sequence[int], scale: float, shear,
           interpolation=InterpolationMode.NEAREST, fill=None, center=None):
    """Rotate by ``angle``, scale, shear (degrees; a number shears along x) about ``center``,
    then translate by ``translate`` pixels, keeping the image size."""
    _check_img(img, "affine")
    if not isinstance(angle, numbers.Number):
        raise TypeError(f"affine: argument angle should be int or float, got {angle!r}")
    if not isinstance(translate, (list, tuple)) or len(translate) != 2:
        raise ValueError(f"affine: argument translate should be a sequence of length 2, got "
                         f"{translate!r}")
    if scale <= 0.0:
        raise ValueError(f"affine: argument scale should be positive, got {scale}")
    if isinstance(shear, numbers.Number):
        shear = [shear, 0.0]
    elif isinstance(shear, (list, tuple)) and len(shear) == 1:
        shear = [shear[0], shear[0]]
    elif not isinstance(shear, (list, tuple)) or len(shear) != 2:
        raise ValueError(f"affine: shear should be a number or a sequence of 1 or 2 numbers, "
                         f"got {shear!r}")
    mode = _interp(interpolation, "affine")
    c, h, w = get_dimensions(img)
    if _is_pil(img):
        ctr = [w * 0.5, h * 0.5] if center is None else center
        m = _inverse_affine_matrix(ctr, angle, translate, scale, shear)
        return img.transform((w, h), _pil().Transform.AFFINE, m, _pil_filter(mode),
                             fillcolor=_parse_fill(fill, img, "affine"))
    cf = [0.0, 0.0] if center is None else [cc - s * 0.5 for cc, s in zip(center, (w, h))]
    m = _inverse_affine_matrix(cf, angle, [float(t) for t in translate], scale, shear)
    return _new(_apply_grid(img.array, m, w, h, mode.value, fill))
