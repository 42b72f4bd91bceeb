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
import sys
from enum import Enum
from typing import Any, Sequence

import numpy as np

from convnp.tensor import Tensor

__all__ = [
    "InterpolationMode", "get_dimensions", "get_image_size", "get_image_num_channels",
    "to_tensor", "pil_to_tensor", "to_pil_image", "convert_image_dtype", "normalize",
    "resize", "crop", "center_crop", "resized_crop", "pad", "hflip", "vflip", "rotate", "affine",
    "rgb_to_grayscale", "to_grayscale", "adjust_brightness", "adjust_contrast",
    "adjust_saturation", "adjust_hue", "erase", "gaussian_blur",
]


class InterpolationMode(Enum):
    """Interpolation modes (torchvision's enum; the values are the tensor path's mode names)."""

    NEAREST = "nearest"
    NEAREST_EXACT = "nearest-exact"
    BILINEAR = "bilinear"
    BICUBIC = "bicubic"
    BOX = "box"
    HAMMING = "hamming"
    LANCZOS = "lanczos"


def _pil():
    from PIL import Image

    return Image


def _is_pil(img) -> bool:
    if "PIL.Image" not in sys.modules:
        return False
    return isinstance(img, sys.modules["PIL.Image"].Image)


def _pil_filter(mode: InterpolationMode) -> int:
    Image = _pil()
    return {InterpolationMode.NEAREST: Image.Resampling.NEAREST,
            InterpolationMode.NEAREST_EXACT: Image.Resampling.NEAREST,
            InterpolationMode.BILINEAR: Image.Resampling.BILINEAR,
            InterpolationMode.BICUBIC: Image.Resampling.BICUBIC,
            InterpolationMode.BOX: Image.Resampling.BOX,
            InterpolationMode.HAMMING: Image.Resampling.HAMMING,
            InterpolationMode.LANCZOS: Image.Resampling.LANCZOS}[mode]


_PIL_CODES = {0: InterpolationMode.NEAREST, 2: InterpolationMode.BILINEAR,
              3: InterpolationMode.BICUBIC, 4: InterpolationMode.BOX,
              5: InterpolationMode.HAMMING, 1: InterpolationMode.LANCZOS}


def _interp(mode, fn: str) -> InterpolationMode:
    """InterpolationMode from the enum, its string value or a PIL filter code (as torchvision)."""
    if isinstance(mode, InterpolationMode):
        return mode
    if isinstance(mode, str):
        try:
            return InterpolationMode(mode.lower())
        except ValueError:
            pass
    elif isinstance(mode, (int, np.integer)) and int(mode) in _PIL_CODES:
        return _PIL_CODES[int(mode)]
    raise TypeError(f"{fn}: 'interpolation' must be an InterpolationMode (e.g. "
                    f"InterpolationMode.BILINEAR), its name or a PIL filter code, got {mode!r}")


def _check_img(img, fn: str) -> None:
    if not (isinstance(img, Tensor) or _is_pil(img)):
        hint = " (wrap it with convnp.from_numpy or use to_tensor)" \
            if isinstance(img, np.ndarray) else ""
        raise TypeError(f"{fn}: img should be a PIL Image or a convnp Tensor, got "
                        f"{type(img).__name__}{hint}")


def _check_tensor_image(img: Tensor, fn: str) -> None:
    if img.ndim < 2:
        raise TypeError(f"{fn}: a tensor image must have at least 2 dimensions (..., H, W), got "
                        f"shape {tuple(img.shape)}")


def _new(a: np.ndarray) -> Tensor:
    return Tensor._wrap(np.ascontiguousarray(a))


def _default_float():
    from convnp._dtype import get_default_dtype

    return get_default_dtype()


def _max_value(dtype: np.dtype) -> float | int:
    dtype = np.dtype(dtype)
    if dtype.kind == "f":
        return 1.0
    if dtype.kind == "b":
        return 1
    return int(np.iinfo(dtype).max)


# --------------------------------------------------------------------------- image geometry
def get_dimensions(img) -> list[int]:
    """``[channels, height, width]`` of a PIL Image or tensor ``(..., C, H, W)``."""
    _check_img(img, "get_dimensions")
    if isinstance(img, Tensor):
        _check_tensor_image(img, "get_dimensions")
        c = 1 if img.ndim == 2 else img.shape[-3]
        return [int(c), int(img.shape[-2]), int(img.shape[-1])]
    w, h = img.size
    return [len(img.getbands()), h, w]


def get_image_size(img) -> list[int]:
    """``[width, height]`` of a PIL Image or tensor (torchvision's order)."""
    c, h, w = get_dimensions(img)
    return [w, h]


def get_image_num_channels(img) -> int:
    return get_dimensions(img)[0]


# --------------------------------------------------------------------------- conversions
def to_tensor(pic) -> Tensor:
    """PIL Image or ndarray ``(H, W[, C])`` -> Tensor ``(C, H, W)``; uint8 is scaled to float
    [0, 1] in the default float dtype, other dtypes are kept (torchvision's ``to_tensor``)."""
    if isinstance(pic, np.ndarray):
        if pic.ndim not in (2, 3):
            raise ValueError(f"to_tensor: pic should be 2/3 dimensional, got {pic.ndim} "
                             f"dimensions (shape {pic.shape})")
        if pic.ndim == 2:
            pic = pic[:, :, None]
        img = np.ascontiguousarray(pic.transpose(2, 0, 1))  # (H, W, C) -> (C, H, W)
        if img.dtype == np.uint8:
            return _scaled(img)
        return Tensor._wrap(img.copy() if np.shares_memory(img, pic) else img)
    if not _is_pil(pic):
        raise TypeError(f"to_tensor: pic should be a PIL Image or ndarray, got "
                        f"{type(pic).__name__}")
    img = _pil_array(pic)
    if img.dtype == np.uint8:
        return _scaled(img)
    return Tensor._wrap(img)


def _scaled(img: np.ndarray) -> Tensor:
    ft = _default_float()
    return Tensor._wrap(img.astype(ft) / ft.type(255))


def _pil_array(pic) -> np.ndarray:
    """A PIL image as a ``(C, H, W)`` array with torchvision's dtype per mode."""
    types = {"I": np.int32, "I;16": np.int16, "F": np.float32}
    img = np.array(pic, types.get(pic.mode, np.uint8), copy=True)
    if pic.mode == "1":
        img = 255 * img
    img = img.reshape(pic.size[1], pic.size[0], len(pic.getbands()))
    return np.ascontiguousarray(img.transpose(2, 0, 1))  # (H, W, C) -> (C, H, W)


def pil_to_tensor(pic) -> Tensor:
    """PIL Image -> Tensor ``(C, H, W)`` of the image's own dtype (uint8 for L/RGB), unscaled."""
    if not _is_pil(pic):
        raise TypeError(f"pil_to_tensor: pic should be a PIL Image, got {type(pic).__name__}")
    img = np.array(pic, copy=True)
    img = img.reshape(pic.size[1], pic.size[0], len(pic.getbands()))
    return _new(img.transpose(2, 0, 1))


def _fromarray(npimg: np.ndarray, mode: str):
    Image = _pil()
    h, w = npimg.shape[:2]
    if mode in ("F", "I"):
        return Image.frombytes(mode, (w, h), npimg.astype("<f4" if mode == "F" else "<i4")
                               .tobytes())
    if mode == "I;16":
        return Image.frombytes(mode, (w, h), npimg.astype("<u2").tobytes())
    return Image.frombytes(mode, (w, h), np.ascontiguousarray(npimg, np.uint8).tobytes())


def to_pil_image(pic, mode: str | None = None):
    """Tensor ``(C, H, W)`` or ndarray ``(H, W, C)`` -> PIL Image (float data is multiplied by
    255 and truncated to uint8 unless ``mode='F'``), as torchvision's ``to_pil_image``."""
    if isinstance(pic, Tensor):
        if pic.ndim not in (2, 3):
            raise ValueError(f"to_pil_image: pic should be 2/3 dimensional, got {pic.ndim} "
                             f"dimensions (shape {tuple(pic.shape)})")
        a = pic.array[None] if pic.ndim == 2 else pic.array
        if a.shape[-3] > 4:
            raise ValueError(f"to_pil_image: pic should not have > 4 channels, got "
                             f"{a.shape[-3]} channels (expected (C, H, W))")
        if a.dtype.kind == "f" and mode != "F":
            a = (a * 255).astype(np.uint8)
        npimg = a.transpose(1, 2, 0)  # (C, H, W) -> (H, W, C)
    elif isinstance(pic, np.ndarray):
        if pic.ndim not in (2, 3):
            raise ValueError(f"to_pil_image: pic should be 2/3 dimensional, got {pic.ndim} "
                             f"dimensions (shape {pic.shape})")
        npimg = pic[:, :, None] if pic.ndim == 2 else pic
        if npimg.shape[-1] > 4:
            raise ValueError(f"to_pil_image: pic should not have > 4 channels, got "
                             f"{npimg.shape[-1]} channels (an ndarray is (H, W, C))")
        if np.issubdtype(npimg.dtype, np.floating) and mode != "F":
            npimg = (npimg * 255).astype(np.uint8)
    else:
        raise TypeError(f"to_pil_image: pic should be a Tensor or ndarray, got "
                        f"{type(pic).__name__}")
    c = npimg.shape[2]
    if c == 1:
        npimg = npimg[:, :, 0]
        expected = {np.dtype(np.uint8): "L", np.dtype(np.int16): "I;16",
                    np.dtype(np.int32): "I", np.dtype(np.float32): "F"}.get(npimg.dtype)
        if mode is not None and mode != expected:
            raise ValueError(f"to_pil_image: incorrect mode ({mode}) supplied for input type "
                             f"{npimg.dtype}; should be {expected}")
        mode = expected
    else:
        permitted = {2: ["LA"], 4: ["RGBA", "CMYK", "RGBX"], 3: ["RGB", "YCbCr", "HSV"]}[c]
        if mode is not None and mode not in permitted:
            raise ValueError(f"to_pil_image: only modes {permitted} are supported for "
                             f"{c}-channel inputs, got {mode!r}")
        if mode is None and npimg.dtype == np.uint8:
            mode = permitted[0]
    if mode is None:
        raise TypeError(f"to_pil_image: input type {npimg.dtype} is not supported")
    return _fromarray(npimg, mode)


def convert_image_dtype(image: Tensor, dtype=None) -> Tensor:
    """Convert a tensor image to ``dtype`` and rescale its values (int images span [0, max],
    float images [0, 1]), as torchvision's ``convert_image_dtype``."""
    if not isinstance(image, Tensor):
        raise TypeError(f"convert_image_dtype: expected a convnp Tensor, got "
                        f"{type(image).__name__}")
    dtype = np.dtype(np.float32 if dtype is None else dtype)
    a = image.array
    if a.dtype == dtype:
        return image
    if a.dtype.kind == "f":
        if dtype.kind == "f":
            return _new(a.astype(dtype))
        if (a.dtype == np.float32 and dtype in (np.int32, np.int64)) or \
                (a.dtype == np.float64 and dtype == np.int64):
            raise RuntimeError(f"convert_image_dtype: the cast from {a.dtype} to {dtype} cannot "
                               f"be performed safely")
        # 1 - eps keeps 1.0 inside the top bucket instead of overflowing to max + 1
        eps = 1e-3
        scaled = a * a.dtype.type(_max_value(dtype) + 1.0 - eps)
        return _new(scaled.astype(dtype))
    in_max = _max_value(a.dtype)
    if dtype.kind == "f":
        return _new(a.astype(dtype) / dtype.type(in_max))
    out_max = _max_value(dtype)
    if in_max > out_max:
        factor = (in_max + 1) // (out_max + 1)
        return _new((a // factor).astype(dtype))
    factor = (out_max + 1) // (in_max + 1)
    return _new(a.astype(dtype) * dtype.type(factor))


def normalize(tensor: Tensor, mean: Sequence[float], std: Sequence[float],
              inplace: bool = False) -> Tensor:
    """``(x - mean[c]) / std[c]`` per channel of a float tensor ``(..., C, H, W)``."""
    if not isinstance(tensor, Tensor):
        raise TypeError(f"normalize: img should be a convnp Tensor image, got "
                        f"{type(tensor).__name__} (apply ToTensor() first)")
    if tensor.dtype.kind != "f":
        raise TypeError(f"normalize: input tensor should be a float tensor, got {tensor.dtype} "
                        f"(apply ToTensor() or ConvertImageDtype(convnp.float32) first)")
    if tensor.ndim < 3:
        raise ValueError(f"normalize: expected a tensor image of size (..., C, H, W), got "
                         f"shape {tuple(tensor.shape)}")
    a = tensor.array
    m = np.asarray(mean, a.dtype)
    s = np.asarray(std, a.dtype)
    if (s == 0).any():
        raise ValueError(f"normalize: std evaluated to zero after conversion to {a.dtype}, "
                         f"leading to division by zero (std={std})")
    c = a.shape[-3]
    if m.size not in (1, c) or s.size not in (1, c):
        raise ValueError(f"normalize: mean/std have {m.size}/{s.size} values but the image has "
                         f"{c} channels")
    if m.ndim == 1:
        m = m.reshape(-1, 1, 1)
    if s.ndim == 1:
        s = s.reshape(-1, 1, 1)
    out = a if inplace else a.copy()
    out -= m
    out /= s
    return tensor if inplace else Tensor._wrap(out)


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


def _as_batch(a: np.ndarray) -> tuple[np.ndarray, tuple]:
    """Reshape ``(..., C, H, W)`` or ``(H, W)`` to ``(N, C, H, W)``; returns the leading shape."""
    if a.ndim == 2:
        return a[None, None], ()
    lead = a.shape[:-3]
    return a.reshape((-1,) + a.shape[-3:]), lead


def _from_batch(a: np.ndarray, lead: tuple, was_2d: bool) -> np.ndarray:
    if was_2d:
        return a[0, 0]
    return a.reshape(lead + a.shape[1:])


def _cast_out(a: np.ndarray, dtype: np.dtype) -> np.ndarray:
    if a.dtype == dtype:
        return a
    if dtype.kind in "iub":
        a = np.round(a)
    return a.astype(dtype)


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


def _parse_fill(fill, img, fn: str) -> Any:
    """A PIL fill colour for ``img`` (a number repeated per band, or a per-band tuple)."""
    c = get_image_num_channels(img)
    if fill is None:
        fill = 0
    if isinstance(fill, (int, float)) and c > 1:
        fill = tuple([fill] * c)
    if isinstance(fill, (list, tuple)):
        if len(fill) == 1:
            fill = fill * c
        elif len(fill) != c:
            raise ValueError(f"{fn}: the number of elements in 'fill' ({len(fill)}) does not "
                             f"match the number of bands of the image ({c})")
        fill = tuple(fill) if img.mode == "F" else tuple(int(x) for x in fill)
    return fill


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


def adjust_brightness(img, brightness_factor: float):
    """Multiply by ``brightness_factor`` (0 black, 1 unchanged), clamped to the value range."""
    _check_img(img, "adjust_brightness")
    _check_factor("brightness", brightness_factor)
    if _is_pil(img):
        from PIL import ImageEnhance

        return ImageEnhance.Brightness(img).enhance(brightness_factor)
    return _new(_blend(img.array, np.zeros_like(img.array), brightness_factor))


def adjust_contrast(img, contrast_factor: float):
    """Blend with the mean grey level (0 a flat grey image, 1 unchanged)."""
    _check_img(img, "adjust_contrast")
    _check_factor("contrast", contrast_factor)
    if _is_pil(img):
        from PIL import ImageEnhance

        return ImageEnhance.Contrast(img).enhance(contrast_factor)
    a = img.array
    ft = a.dtype if a.dtype.kind == "f" else np.dtype(np.float32)
    src = _gray(a) if a.shape[-3] == 3 else a
    mean = src.astype(ft).mean(axis=(-3, -2, -1), keepdims=True)
    return _new(_blend(a, mean, contrast_factor))


def adjust_saturation(img, saturation_factor: float):
    """Blend with the grey image (0 grey, 1 unchanged, 2 doubled saturation)."""
    _check_img(img, "adjust_saturation")
    _check_factor("saturation", saturation_factor)
    if _is_pil(img):
        from PIL import ImageEnhance

        return ImageEnhance.Color(img).enhance(saturation_factor)
    a = img.array
    if a.shape[-3] == 1:
        return img
    return _new(_blend(a, _gray(a), saturation_factor))


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
