"""``convnp.models``: reference networks and a name registry.

    from convnp.models import get_model, list_models
    model = get_model("lenet5", num_classes=10, in_channels=1, input_size=28)

``get_model`` passes only the keyword arguments the network accepts, so callers (the CLI) can
always offer ``num_classes``, ``in_channels`` and ``input_size``.
"""

from __future__ import annotations

import importlib
import inspect
from typing import Callable

from convnp.models.classic import (  # noqa: F401
    AllConvNet,
    CNN1d,
    CNN3d,
    GlobalAvgPool,
    LeNet5,
    ResNet18,
    ResNetCIFAR,
    VGGNet,
    resnet20,
)

__all__ = ["LeNet5", "VGGNet", "ResNetCIFAR", "resnet20", "ResNet18", "AllConvNet", "CNN1d",
           "CNN3d", "GlobalAvgPool", "get_model", "list_models", "register_model", "model_task"]

# name -> (factory or "module:attr" for lazily imported networks, one-line description)
_REGISTRY: dict[str, tuple[Callable | str, str]] = {
    "lenet5": (LeNet5, "LeNet-5, 32x32 grey images (pads 28x28), ReLU + max pooling"),
    "lenet5-classic": (lambda **kw: LeNet5(activation="tanh", pooling="avg", **kw),
                       "LeNet-5 as in 1998: tanh + average pooling"),
    "vgg": (VGGNet, "VGG-style double-conv blocks + global average pooling"),
    "vgg-small": (lambda **kw: VGGNet(channels=(32, 64, 128), **kw),
                  "VGG-style, 3 double-conv stages of 32/64/128 channels (28x28 / 32x32 images)"),
    "vgg-tiny": (lambda **kw: VGGNet(channels=(16, 32, 64), dropout=0.2, **kw),
                 "VGG-style, 3 double-conv stages of 16/32/64 channels (fast on 2 cores)"),
    "resnet20": (resnet20, "ResNet-20 for 32x32 images (CIFAR style)"),
    "resnet18": (lambda **kw: ResNet18(small_input=kw.pop("input_size", 224) < 64, **kw),
                 "ResNet-18 (torchvision layout; 3x3 stem for small images)"),
    "allconv": (AllConvNet, "all-convolutional net ending in global average pooling"),
    "cnn1d": (CNN1d, "1-d CNN for sequences"),
    "cnn3d": (CNN3d, "3-d CNN for volumes"),
    "unet": ("convnp.models.encoder_decoder:UNet", "UNet segmentation net"),
    "segnet": ("convnp.models.encoder_decoder:SegNet", "SegNet-style encoder-decoder"),
    "deeplab-small": ("convnp.models.encoder_decoder:DeepLabSmall", "DeepLab-style ASPP net"),
    "inception": ("convnp.models.encoder_decoder:InceptionNet", "small Inception classifier"),
    "conv-autoencoder": ("convnp.models.encoder_decoder:ConvAutoencoder",
                         "convolutional autoencoder"),
}


def register_model(name: str, factory: Callable | str, description: str = "",
                   **task) -> None:
    """Add a network to the registry (a callable or a lazy ``'module:attr'`` string); ``task``
    keywords (``task=``, ``input=``, ``multiple=``) say what it computes, see :func:`model_task`."""
    _REGISTRY[name] = (factory, description)
    if task:
        _TASKS[name] = dict(task)


def list_models() -> list[str]:
    """Names accepted by :func:`get_model` and ``convnp train --model``."""
    return list(_REGISTRY)


def describe_models() -> dict[str, str]:
    return {k: v[1] for k, v in _REGISTRY.items()}


def _resolve(factory):
    if isinstance(factory, str):
        mod, _, attr = factory.partition(":")
        return getattr(importlib.import_module(mod), attr)
    return factory


def get_model(name: str, **kwargs):
    """Build a registered network; unknown names raise ValueError listing the valid ones.

    Keyword arguments the network does not accept are dropped (so ``input_size`` can always be
    passed); ``num_classes``/``in_channels`` are the common ones.
    """
    key = name.lower()
    if key not in _REGISTRY:
        raise ValueError(f"unknown model {name!r}; valid models: {', '.join(_REGISTRY)}")
    factory = _resolve(_REGISTRY[key][0])
    try:
        params = inspect.signature(factory).parameters
        if not any(p.kind == p.VAR_KEYWORD for p in params.values()):
            kwargs = {k: v for k, v in kwargs.items() if k in params}
    except (TypeError, ValueError):
        pass
    if key in ("vgg-small", "vgg-tiny"):
        kwargs = {k: v for k, v in kwargs.items() if k in ("num_classes", "in_channels")}
    elif key in ("lenet5-classic",):
        kwargs = {k: v for k, v in kwargs.items()
                  if k in ("num_classes", "in_channels", "input_size")}
    elif key == "resnet18":
        kwargs = {k: v for k, v in kwargs.items()
                  if k in ("num_classes", "in_channels", "input_size", "width")}
    return factory(**kwargs)


# -- what each network computes and takes -------------------------------------------------------
# task: "classification" (one label per input), "segmentation" (one label per pixel),
# "reconstruction" (the input itself); input: "image" (N, C, H, W), "sequence" (N, C, L),
# "volume" (N, C, D, H, W); multiple: image sides must be divisible by it (2**downsamplings).
_TASKS: dict[str, dict] = {
    "cnn1d": dict(input="sequence"),
    "cnn3d": dict(input="volume"),
    "unet": dict(task="segmentation", multiple=16),
    "segnet": dict(task="segmentation", multiple=8),
    "deeplab-small": dict(task="segmentation"),
    "conv-autoencoder": dict(task="reconstruction", multiple=4),
}


def model_task(name: str) -> dict:
    """``{"task", "input", "multiple"}`` of a registered network (``convnp models`` shows them;
    ``convnp train`` builds inputs and targets from them)."""
    key = name.lower()
    if key not in _REGISTRY:
        raise ValueError(f"unknown model {name!r}; valid models: {', '.join(_REGISTRY)}")
    return dict(dict(task="classification", input="image", multiple=1), **_TASKS.get(key, {}))
