"""``convnp.vision.utils``: ``make_grid`` and ``save_image`` with torchvision's arguments."""

from __future__ import annotations

import math
import os
from typing import BinaryIO

import numpy as np

from convnp.tensor import Tensor

__all__ = ["make_grid", "save_image"]


def _log_api_usage_once(obj) -> None:
    """torchvision records API usage here; convnp records nothing (model files call it)."""


def _batch(tensor, fn: str) -> np.ndarray:
    if isinstance(tensor, (list, tuple)):
        if not tensor or not all(isinstance(t, Tensor) for t in tensor):
            raise TypeError(f"{fn}: expected a Tensor or a non-empty list of Tensors, got "
                            f"{[type(t).__name__ for t in tensor]}")
        return np.stack([t.array for t in tensor])
    if not isinstance(tensor, Tensor):
        raise TypeError(f"{fn}: tensor should be a convnp Tensor or a list of Tensors, got "
                        f"{type(tensor).__name__}")
    return tensor.array


def make_grid(tensor, nrow: int = 8, padding: int = 2, normalize: bool = False,
              value_range: tuple[float, float] | None = None, scale_each: bool = False,
              pad_value: float = 0.0) -> Tensor:
    """Tile a batch of images into one image, ``nrow`` per row, ``padding`` pixels apart.

    Args:
        tensor: ``(B, C, H, W)`` Tensor or a list of ``(C, H, W)`` Tensors (also ``(C, H, W)``
            or ``(H, W)`` for one image). Single-channel images become 3-channel.
        nrow: images per row. padding: pixels between and around images.
        normalize: shift the values to [0, 1] using ``value_range`` (min, max) or, by default,
            the min and max of the whole batch (of each image with ``scale_each=True``).
        pad_value: value of the padding pixels.

    Shape:
        ``(3 or C, ymaps * (H + padding) + padding, xmaps * (W + padding) + padding)`` with
        ``xmaps = min(nrow, B)``, ``ymaps = ceil(B / xmaps)``; a batch of one image is returned
        as that image.

    Example:
        >>> make_grid(convnp.rand(10, 1, 28, 28), nrow=5).shape
        (3, 62, 152)
    """
    x = _batch(tensor, "make_grid")
    if x.ndim == 2:
        x = x[None]
    if x.ndim == 3:
        if x.shape[0] == 1:
            x = np.concatenate([x, x, x], 0)
        x = x[None]
    if x.ndim != 4:
        raise ValueError(f"make_grid: expected images (B, C, H, W), (C, H, W) or (H, W), got shape "
                         f"{x.shape}")
    if x.shape[1] == 1:
        x = np.concatenate([x, x, x], 1)
    if normalize:
        if value_range is not None and not isinstance(value_range, tuple):
            raise TypeError("make_grid: value_range has to be a tuple (min, max) if specified")
        x = x.astype(x.dtype if x.dtype.kind == "f" else np.float32, copy=True)

        def norm(t: np.ndarray) -> None:
            lo, hi = (float(t.min()), float(t.max())) if value_range is None else value_range
            np.clip(t, lo, hi, out=t)
            t -= t.dtype.type(lo)
            t /= t.dtype.type(max(hi - lo, 1e-5))

        if scale_each:
            for t in x:
                norm(t)
        else:
            norm(x)
    if x.shape[0] == 1:
        return Tensor._wrap(np.ascontiguousarray(x[0]))
    nmaps = x.shape[0]
    xmaps = min(nrow, nmaps)
    ymaps = int(math.ceil(float(nmaps) / xmaps))
    height, width = x.shape[2] + padding, x.shape[3] + padding
    grid = np.full((x.shape[1], height * ymaps + padding, width * xmaps + padding), pad_value,
                   x.dtype)
    for k in range(nmaps):
        y0, x0 = (k // xmaps) * height + padding, (k % xmaps) * width + padding
        grid[:, y0:y0 + height - padding, x0:x0 + width - padding] = x[k]
    return Tensor._wrap(grid)


def save_image(tensor, fp: str | os.PathLike | BinaryIO, format: str | None = None,
               **kwargs) -> None:
    """Save a Tensor (or a batch, tiled by :func:`make_grid` with ``**kwargs``) as an image
    file: values in [0, 1] are scaled to [0, 255] and rounded (``x * 255 + 0.5`` truncated)."""
    from PIL import Image

    grid = make_grid(tensor, **kwargs).array
    ndarr = np.clip(grid * 255 + 0.5, 0, 255).transpose(1, 2, 0).astype(np.uint8)
    Image.fromarray(np.ascontiguousarray(ndarr)).save(fp, format=format)
