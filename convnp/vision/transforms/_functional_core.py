"""Helpers shared by the functional image transforms: interpolation modes, PIL access and
checks, image dimensions, conversions between PIL images, arrays and tensors, normalisation, the
batch reshapes of the tensor paths and PIL fill colours."""

from __future__ import annotations

import sys
from enum import Enum
from typing import Any, Sequence

import numpy as np

from convnp.tensor import Tensor


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
