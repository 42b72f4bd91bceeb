"""Image files <-> uint8 tensors ``(C, H, W)`` (torchvision.io's image functions, via PIL)."""

from __future__ import annotations

import os
from enum import Enum

import numpy as np

from convnp.tensor import Tensor

__all__ = ["ImageReadMode", "read_image", "decode_image", "write_png", "write_jpeg", "read_file"]


class ImageReadMode(Enum):
    """Channels to read: as stored, grey, grey + alpha, RGB, RGB + alpha."""

    UNCHANGED = 0
    GRAY = 1
    GRAY_ALPHA = 2
    RGB = 3
    RGB_ALPHA = 4


_PIL_MODES = {ImageReadMode.GRAY: "L", ImageReadMode.GRAY_ALPHA: "LA",
              ImageReadMode.RGB: "RGB", ImageReadMode.RGB_ALPHA: "RGBA"}


def _to_tensor(img, mode: ImageReadMode) -> Tensor:
    mode = ImageReadMode(mode) if not isinstance(mode, ImageReadMode) else mode
    if mode != ImageReadMode.UNCHANGED:
        img = img.convert(_PIL_MODES[mode])
    elif img.mode not in ("L", "LA", "RGB", "RGBA", "I;16"):
        img = img.convert("RGBA" if "A" in img.getbands() else "RGB")
    a = np.asarray(img)
    if a.ndim == 2:
        a = a[:, :, None]
    return Tensor._wrap(np.ascontiguousarray(a.transpose(2, 0, 1)))  # (H, W, C) -> (C, H, W)


def read_file(path: str | os.PathLike) -> Tensor:
    """The bytes of a file as a 1-d uint8 tensor."""
    with open(path, "rb") as f:
        return Tensor._wrap(np.frombuffer(f.read(), np.uint8).copy())


def read_image(path: str | os.PathLike, mode=ImageReadMode.UNCHANGED) -> Tensor:
    """Read a PNG/JPEG/... file into a uint8 tensor ``(C, H, W)`` (``mode`` converts)."""
    from PIL import Image

    if not os.path.isfile(path):
        raise FileNotFoundError(f"read_image: no file at {path!r}")
    with Image.open(path) as img:
        return _to_tensor(img, mode)


def decode_image(input: Tensor, mode=ImageReadMode.UNCHANGED) -> Tensor:
    """Decode the encoded bytes in a 1-d uint8 tensor (see :func:`read_file`)."""
    import io

    from PIL import Image

    if not isinstance(input, Tensor) or input.dtype != np.uint8 or input.ndim != 1:
        raise TypeError("decode_image: expected a 1-d uint8 Tensor of encoded bytes (read_file)")
    with Image.open(io.BytesIO(input.array.tobytes())) as img:
        return _to_tensor(img, mode)


def _check_u8(input, fn: str) -> np.ndarray:
    if not isinstance(input, Tensor) or input.dtype != np.uint8 or input.ndim != 3 or \
            input.shape[0] not in (1, 3, 4):
        got = f"{input.dtype} {tuple(input.shape)}" if isinstance(input, Tensor) else \
            type(input).__name__
        raise TypeError(f"{fn}: expected a uint8 Tensor (C, H, W) with 1, 3 or 4 channels, got "
                        f"{got}")
    a = input.array.transpose(1, 2, 0)
    return np.ascontiguousarray(a[:, :, 0] if a.shape[2] == 1 else a)


def write_png(input: Tensor, filename: str | os.PathLike, compression_level: int = 6) -> None:
    """Write a uint8 tensor ``(C, H, W)`` as a PNG file."""
    from PIL import Image

    Image.fromarray(_check_u8(input, "write_png")).save(filename, format="PNG",
                                                        compress_level=compression_level)


def write_jpeg(input: Tensor, filename: str | os.PathLike, quality: int = 75) -> None:
    """Write a uint8 tensor ``(C, H, W)`` (1 or 3 channels) as a JPEG file."""
    from PIL import Image

    Image.fromarray(_check_u8(input, "write_jpeg")).save(filename, format="JPEG", quality=quality)
