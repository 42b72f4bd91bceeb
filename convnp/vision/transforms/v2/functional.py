"""``transforms.v2.functional``: the v1 functional ops plus ``to_image`` and ``to_dtype``."""

import numpy as np

from convnp.tensor import Tensor
from convnp.vision.transforms.functional import *  # noqa: F403
from convnp.vision.transforms.functional import __all__ as _v1_all
from convnp.vision.transforms.functional import _is_pil, convert_image_dtype, pil_to_tensor

__all__ = list(_v1_all) + ["to_image", "to_dtype"]


def to_image(inpt) -> Tensor:
    """PIL Image, ndarray ``(H, W[, C])`` or Tensor -> image Tensor ``(C, H, W)`` (no scaling)."""
    if _is_pil(inpt):
        return pil_to_tensor(inpt)
    if isinstance(inpt, np.ndarray):
        a = inpt[:, :, None] if inpt.ndim == 2 else inpt
        return Tensor._wrap(np.ascontiguousarray(a.transpose(2, 0, 1)))  # HWC -> CHW
    if isinstance(inpt, Tensor):
        return inpt
    raise TypeError(f"to_image: expected a PIL Image, ndarray or Tensor, got "
                    f"{type(inpt).__name__}")


def to_dtype(inpt: Tensor, dtype=np.float32, scale: bool = False) -> Tensor:
    """Cast a tensor image to ``dtype``; ``scale=True`` also rescales the value range."""
    if not isinstance(inpt, Tensor):
        raise TypeError(f"to_dtype: expected a Tensor (apply ToImage() first), got "
                        f"{type(inpt).__name__}")
    if scale:
        return convert_image_dtype(inpt, dtype)
    return Tensor._wrap(inpt.array.astype(dtype))
