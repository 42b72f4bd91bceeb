"""``convnp.vision.transforms.v2``: torchvision's v2 names for the same per-image transforms,
plus ``ToImage`` and ``ToDtype``.

    from convnp.vision.transforms import v2
    t = v2.Compose([v2.ToImage(), v2.RandomCrop(28, padding=2),
                    v2.ToDtype(convnp.float32, scale=True), v2.Normalize((0.5,), (0.5,))])

Transforms take one image (PIL or Tensor); v2's joint transforms of boxes, masks and
``(image, target)`` structures are not provided.
"""

import importlib

from convnp.vision.transforms import *  # noqa: F403
from convnp.vision.transforms import __all__ as _v1_all
from convnp.vision.transforms import _Transform

# the star import above bound v1's functional module to this name
functional = importlib.import_module("convnp.vision.transforms.v2.functional")

__all__ = [n for n in _v1_all if n != "functional"] + ["ToImage", "ToDtype", "ToPureTensor",
                                                        "functional"]


class ToImage(_Transform):
    """PIL Image / ndarray ``(H, W, C)`` -> Tensor ``(C, H, W)`` of the same dtype."""

    def forward(self, inpt):
        return functional.to_image(inpt)


class ToDtype(_Transform):
    """Cast to ``dtype``; ``scale=True`` rescales (uint8 [0, 255] -> float [0, 1])."""

    _repr_fields = ("dtype", "scale")

    def __init__(self, dtype, scale: bool = False) -> None:
        self.dtype, self.scale = dtype, scale

    def forward(self, inpt):
        return functional.to_dtype(inpt, self.dtype, self.scale)


class ToPureTensor(_Transform):
    """Identity on convnp Tensors (torchvision strips its TVTensor subclasses here)."""

    def forward(self, inpt):
        return inpt
