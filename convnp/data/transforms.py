"""Image transforms on NumPy arrays, vectorised over a batch (torchvision's names).

Layout convention (torchvision's, with NumPy arrays in place of PIL images and tensors):
``uint8`` arrays are *images*, ``(H, W)`` or ``(H, W, C)``; ``ToTensor`` turns them into float
arrays ``(C, H, W)`` in [0, 1]; float arrays are always channels-first ``(C, H, W)``.

Every transform works on one sample (``t(x)``) and on a batch with a leading N axis
(``t.apply_batch(xb, rng)``): uint8 ``(N, H, W)`` / ``(N, H, W, C)``, float ``(N, C, H, W)``.
The DataLoader uses ``apply_batch`` so augmentation costs a few array operations per batch, not a
Python loop per image. Random transforms draw from the ``rng`` they are given (the DataLoader gives
each batch its own seeded stream) or, for single samples, from convnp's default generator.
"""

from __future__ import annotations

import contextlib
import numbers
import threading
from typing import Callable, Sequence

import numpy as np

__all__ = ["Transform", "Compose", "ToTensor", "Normalize", "Pad", "RandomCrop", "CenterCrop",
           "RandomHorizontalFlip", "RandomVerticalFlip", "RandomRotation", "Lambda", "use_rng",
           "apply_to_batch"]

_local = threading.local()


@contextlib.contextmanager
def use_rng(rng: np.random.Generator):
    """Make ``rng`` the source for random transforms called on single samples in this thread."""
    old = getattr(_local, "rng", None)
    _local.rng = rng
    try:
        yield rng
    finally:
        _local.rng = old


def _current_rng(rng=None) -> np.random.Generator:
    if rng is not None:
        return rng
    r = getattr(_local, "rng", None)
    if r is not None:
        return r
    from convnp.random import default_generator
    return default_generator.np


def apply_to_batch(transform, xb: np.ndarray, rng=None) -> np.ndarray:
    """Apply ``transform`` to a batch: vectorised if it supports it, else sample by sample."""
    if transform is None:
        return xb
    if getattr(transform, "batched", False):
        return transform.apply_batch(xb, _current_rng(rng))
    with use_rng(_current_rng(rng)):
        return np.stack([np.asarray(transform(x)) for x in xb])


def _hw_axes(xb: np.ndarray) -> tuple[int, int]:
    """The (H, W) axes of a batch: uint8 images are N,H,W[,C]; float tensors are N,...,H,W."""
    if xb.dtype == np.uint8 and xb.ndim == 4:
        return 1, 2
    return xb.ndim - 2, xb.ndim - 1


def _channels_last_view(xb: np.ndarray):
    """A view with H, W at axes 1, 2 and a function mapping results back to xb's layout."""
    h, _ = _hw_axes(xb)
    if h == 1:
        return xb, lambda y: y
    order = (0, xb.ndim - 2, xb.ndim - 1) + tuple(range(1, xb.ndim - 2))
    inverse = tuple(np.argsort(order))
    return xb.transpose(order), lambda y: np.ascontiguousarray(y.transpose(inverse))


def _pair(v, name: str) -> tuple[int, int]:
    if isinstance(v, numbers.Number):
        return int(v), int(v)
    if isinstance(v, Sequence) and len(v) in (1, 2):
        return (int(v[0]), int(v[-1]))
    raise ValueError(f"{name}: expected an int or a sequence of 1 or 2 ints, got {v!r}")


class Transform:
    """Base class: subclasses implement ``apply_batch(xb, rng)``; ``t(x)`` runs it on one sample."""

    batched = True

    def __call__(self, x):
        xb = np.asarray(x)[None]
        return self.apply_batch(xb, _current_rng())[0]

    def apply_batch(self, xb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.extra_repr()})"

    def extra_repr(self) -> str:
        return ""


class Compose(Transform):
    """Chain transforms: ``Compose([RandomCrop(28, padding=2), ToTensor(), Normalize(m, s)])``."""

    def __init__(self, transforms: Sequence[Callable]) -> None:
        self.transforms = list(transforms)

    @property
    def batched(self) -> bool:
        return all(getattr(t, "batched", False) for t in self.transforms)

    def __call__(self, x):
        for t in self.transforms:
            x = t(x)
        return x

    def apply_batch(self, xb, rng):
        for t in self.transforms:
            xb = apply_to_batch(t, xb, rng)
        return xb

    def __repr__(self) -> str:
        inner = "".join(f"\n    {t!r}" for t in self.transforms)
        return f"Compose({inner}\n)"


class ToTensor(Transform):
    """uint8 image ``(H, W)``/``(H, W, C)`` -> float32 ``(C, H, W)`` scaled to [0, 1].

    Non-uint8 arrays are moved to channels-first without scaling (like torchvision).
    Shape (batch): ``(N, H, W[, C]) -> (N, C, H, W)``.
    """

    def apply_batch(self, xb, rng=None):
        xb = np.asarray(xb)
        if xb.ndim == 3:
            xb = xb[:, None]          # (N, H, W) -> (N, 1, H, W)
        elif xb.ndim == 4:
            xb = xb.transpose(0, 3, 1, 2)  # (N, H, W, C) -> (N, C, H, W)
        else:
            raise ValueError(f"ToTensor: expected an image (H, W) or (H, W, C), got shape "
                             f"{xb.shape[1:]}")
        if xb.dtype == np.uint8:
            out = xb.astype(np.float32)
            out /= 255
            return out
        return np.ascontiguousarray(xb, dtype=np.float32 if xb.dtype.kind != "f" else xb.dtype)


class Normalize(Transform):
    """``(x - mean[c]) / std[c]`` per channel of a float ``(C, H, W)`` array."""

    def __init__(self, mean: Sequence[float], std: Sequence[float], inplace: bool = False):
        self.mean, self.std, self.inplace = tuple(mean), tuple(std), inplace
        if any(s == 0 for s in self.std):
            raise ValueError(f"Normalize: std evaluated to zero after conversion, got {self.std}")

    def apply_batch(self, xb, rng=None):
        if xb.dtype.kind != "f" or xb.ndim < 3:
            raise TypeError(f"Normalize: expected a float array (C, H, W) (apply ToTensor first), "
                            f"got dtype {xb.dtype} shape {xb.shape[1:]}")
        c = xb.shape[1]
        if len(self.mean) not in (1, c) or len(self.std) not in (1, c):
            raise ValueError(f"Normalize: mean/std have {len(self.mean)}/{len(self.std)} values "
                             f"but "
                             f"the input has {c} channels")
        shape = (1, -1) + (1,) * (xb.ndim - 2)
        mean = np.asarray(self.mean, xb.dtype).reshape(shape)
        std = np.asarray(self.std, xb.dtype).reshape(shape)
        out = xb if self.inplace else xb.copy()
        out -= mean
        out /= std
        return out

    def extra_repr(self) -> str:
        return f"mean={self.mean}, std={self.std}"


def _pad4(padding) -> tuple[int, int, int, int]:
    """torchvision's padding: int, (left/right, top/bottom) or (left, top, right, bottom)."""
    if isinstance(padding, numbers.Number):
        p = int(padding)
        return p, p, p, p
    padding = tuple(int(p) for p in padding)
    if len(padding) == 2:
        return padding[0], padding[1], padding[0], padding[1]
    if len(padding) == 4:
        return padding
    raise ValueError(f"Pad: padding must be an int or a sequence of 2 or 4 ints, got {padding}")


def _pad_batch(xb, padding, fill=0, padding_mode="constant"):
    left, top, right, bottom = _pad4(padding)
    ha, wa = _hw_axes(xb)
    pads = [(0, 0)] * xb.ndim
    pads[ha], pads[wa] = (top, bottom), (left, right)
    if padding_mode == "constant":
        return np.pad(xb, pads, mode="constant", constant_values=fill)
    if padding_mode not in ("edge", "reflect", "symmetric"):
        raise ValueError(f"Pad: padding_mode must be constant, edge, reflect or symmetric, got "
                         f"{padding_mode!r}")
    return np.pad(xb, pads, mode=padding_mode)


class Pad(Transform):
    """Pad the spatial borders (``padding``: int, (lr, tb) or (l, t, r, b))."""

    def __init__(self, padding, fill=0, padding_mode: str = "constant") -> None:
        _pad4(padding)
        self.padding, self.fill, self.padding_mode = padding, fill, padding_mode

    def apply_batch(self, xb, rng=None):
        return _pad_batch(xb, self.padding, self.fill, self.padding_mode)

    def extra_repr(self) -> str:
        return f"padding={self.padding}, fill={self.fill}, padding_mode={self.padding_mode}"


def _crop_at(xb, top: np.ndarray, left: np.ndarray, h: int, w: int) -> np.ndarray:
    """Crop sample i at (top[i], left[i]) to h x w with one fancy index (no loop over samples)."""
    view, back = _channels_last_view(xb)
    n = np.arange(view.shape[0])[:, None, None]
    rows = (top[:, None] + np.arange(h))[:, :, None]  # (N, h, 1)
    cols = (left[:, None] + np.arange(w))[:, None, :]  # (N, 1, w)
    return back(view[n, rows, cols])  # (N, h, w, ...)


class RandomCrop(Transform):
    """Crop at a random location (after optional ``padding``), independently per sample."""

    def __init__(self, size, padding=None, pad_if_needed: bool = False, fill=0,
                 padding_mode: str = "constant") -> None:
        self.size = _pair(size, "RandomCrop")
        self.padding, self.pad_if_needed = padding, pad_if_needed
        self.fill, self.padding_mode = fill, padding_mode

    def apply_batch(self, xb, rng):
        if self.padding is not None:
            xb = _pad_batch(xb, self.padding, self.fill, self.padding_mode)
        th, tw = self.size
        ha, wa = _hw_axes(xb)
        h, w = xb.shape[ha], xb.shape[wa]
        if self.pad_if_needed and (h < th or w < tw):
            xb = _pad_batch(xb, (max(0, tw - w), max(0, th - h)), self.fill, self.padding_mode)
            h, w = xb.shape[ha], xb.shape[wa]
        if h < th or w < tw:
            raise ValueError(f"RandomCrop: required crop size {(th, tw)} is larger than the input "
                             f"image size {(h, w)}")
        n = xb.shape[0]
        top = rng.integers(0, h - th + 1, n)
        left = rng.integers(0, w - tw + 1, n)
        return _crop_at(xb, top, left, th, tw)

    def extra_repr(self) -> str:
        return f"size={self.size}, padding={self.padding}"


class CenterCrop(Transform):
    """Crop the centre ``size`` region."""

    def __init__(self, size) -> None:
        self.size = _pair(size, "CenterCrop")

    def apply_batch(self, xb, rng=None):
        th, tw = self.size
        ha, wa = _hw_axes(xb)
        h, w = xb.shape[ha], xb.shape[wa]
        if h < th or w < tw:
            xb = _pad_batch(xb, ((max(0, tw - w) + 1) // 2, (max(0, th - h) + 1) // 2))
            h, w = xb.shape[ha], xb.shape[wa]
        top, left = int(round((h - th) / 2.0)), int(round((w - tw) / 2.0))
        idx = [slice(None)] * xb.ndim
        idx[ha], idx[wa] = slice(top, top + th), slice(left, left + tw)
        return np.ascontiguousarray(xb[tuple(idx)])


class _RandomFlip(Transform):
    axis_name = "W"

    def __init__(self, p: float = 0.5) -> None:
        self.p = p

    def apply_batch(self, xb, rng):
        mask = rng.random(xb.shape[0]) < self.p
        if not mask.any():
            return xb
        ha, wa = _hw_axes(xb)
        out = xb.copy()
        out[mask] = np.flip(xb[mask], axis=wa if self.axis_name == "W" else ha)
        return out

    def extra_repr(self) -> str:
        return f"p={self.p}"


class RandomHorizontalFlip(_RandomFlip):
    """Flip left-right with probability ``p``, per sample."""


class RandomVerticalFlip(_RandomFlip):
    """Flip top-bottom with probability ``p``, per sample."""

    axis_name = "H"


class RandomRotation(Transform):
    """Rotate by an angle drawn uniformly from ``degrees`` (counter-clockwise, nearest neighbour,
    about the image centre, outside filled with ``fill``), per sample.

    Meant for small angles (augmentation); ``degrees`` is a number d (range [-d, d]) or (min, max).
    """

    def __init__(self, degrees, interpolation="nearest", expand: bool = False, center=None,
                 fill=0) -> None:
        if isinstance(degrees, numbers.Number):
            if degrees < 0:
                raise ValueError("RandomRotation: if degrees is a single number, it must be "
                                 "positive")
            degrees = (-float(degrees), float(degrees))
        self.degrees = tuple(float(d) for d in degrees)
        if expand:
            raise NotImplementedError("RandomRotation: expand=True is not supported")
        if interpolation not in ("nearest", 0, None) and str(interpolation).lower().find(
                "nearest") < 0:
            raise NotImplementedError("RandomRotation: only nearest interpolation is supported")
        self.center, self.fill = center, fill

    def apply_batch(self, xb, rng):
        view, back = _channels_last_view(xb)
        n, h, w = view.shape[:3]
        theta = np.deg2rad(rng.uniform(self.degrees[0], self.degrees[1], n))[:, None, None]
        cx, cy = ((w - 1) / 2, (h - 1) / 2) if self.center is None else self.center
        yy, xx = np.mgrid[0:h, 0:w]
        dx, dy = (xx - cx)[None], (yy - cy)[None]
        # inverse map: output pixel <- source pixel rotated back (y axis points down)
        cos, sin = np.cos(theta), np.sin(theta)
        sx = np.rint(cos * dx - sin * dy + cx).astype(np.int64)  # (N, H, W)
        sy = np.rint(sin * dx + cos * dy + cy).astype(np.int64)
        valid = (sx >= 0) & (sx < w) & (sy >= 0) & (sy < h)
        out = view[np.arange(n)[:, None, None], np.clip(sy, 0, h - 1), np.clip(sx, 0, w - 1)]
        out[~valid] = self.fill
        return back(out)

    def extra_repr(self) -> str:
        return f"degrees={self.degrees}"


class Lambda(Transform):
    """Wrap a function. With ``batched=True`` it receives whole batches (leading N axis)."""

    def __init__(self, lambd: Callable, batched: bool = False) -> None:
        if not callable(lambd):
            raise TypeError(f"Lambda: argument should be callable, got {type(lambd).__name__}")
        self.lambd, self.batched = lambd, batched

    def __call__(self, x):
        return self.lambd(x)

    def apply_batch(self, xb, rng=None):
        if self.batched:
            return self.lambd(xb)
        return np.stack([np.asarray(self.lambd(x)) for x in xb])


# -- preparing real images (photos, drawings) like the dataset's samples ---------------------------
from convnp.data._prepare import PreparedImage, prepare_digit  # noqa: E402

__all__ += ["prepare_digit", "PreparedImage"]
