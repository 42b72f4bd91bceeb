"""``convnp.vision``: what torchvision has for CNN work, under torchvision's names.

    import convnp.vision as torchvision
    from convnp.vision import datasets, transforms, utils, models, ops

=================  =====================================================================
``datasets``       MNIST, FashionMNIST, KMNIST, EMNIST, CIFAR10, CIFAR100, ImageFolder,
                   FakeData: items are (PIL Image or transformed Tensor, int label)
``transforms``     per-sample transforms on PIL Images and Tensors (``.functional`` too)
``utils``          ``make_grid``, ``save_image``
``models``         ResNet-18/34/50/101/152, VGG-11/13/16/19 (+BN), AlexNet with
                   torchvision's state_dict keys (``weights=None``: no downloads)
``ops``            ``nms``, ``box_iou``, ``box_area``, ``StochasticDepth``,
                   ``Conv2dNormActivation``, ``SqueezeExcitation``, ``MLP``
=================  =====================================================================
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_SUBMODULES = {"datasets", "transforms", "utils", "models", "ops", "io"}


def __getattr__(name: str):
    if name in _SUBMODULES:
        return importlib.import_module(f"convnp.vision.{name}")
    raise AttributeError(f"module 'convnp.vision' has no attribute {name!r}")


def get_image_backend() -> str:
    """The image backend (always ``'PIL'``)."""
    return "PIL"


def set_image_backend(backend: str) -> None:
    if backend != "PIL":
        raise ValueError(f"set_image_backend: convnp.vision only supports the 'PIL' backend, got "
                         f"{backend!r}")


def __dir__():
    return sorted(list(globals()) + list(_SUBMODULES))
