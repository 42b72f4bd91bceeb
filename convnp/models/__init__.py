"""``convnp.models``: reference networks and a name registry.

    from convnp.models import get_model, list_models
    model = get_model("lenet5", num_classes=10, in_channels=1, input_size=28)

Each registered name maps to a network class, a ``functools.partial`` of one (``vgg-small`` is
``VGGNet`` with narrower stages) or a factory with named keyword arguments, so the signature says
what the name accepts. ``get_model`` passes the keywords through, with one rule: the *data
keywords* (``num_classes``, ``in_channels``, ``input_size``), which describe the data rather than
the network, are dropped for a network that does not depend on them (callers such as the CLI can
always offer them). Any other keyword a network does not accept raises a ``TypeError`` naming the
model, the keyword and the keywords it accepts.
"""

from __future__ import annotations

import importlib
import inspect
from dataclasses import dataclass
from functools import partial
from typing import Callable

from convnp.models.classic import (
    AllConvNet,
    CNN1d,
    CNN3d,
    GlobalAvgPool,
    LeNet5,
    ResNet18,
    ResNetCIFAR,
    VGGNet,
    resnet18,
    resnet20,
)
from convnp.models.encoder_decoder import (
    ConvAutoencoder,
    DeepLabHead,
    DeepLabSmall,
    GatedInpaintNet,
    InceptionNet,
    SegNet,
    UNet,
)

__all__ = ["LeNet5", "VGGNet", "ResNetCIFAR", "resnet20", "ResNet18", "resnet18", "AllConvNet",
           "CNN1d", "CNN3d", "GlobalAvgPool", "UNet", "SegNet", "DeepLabHead", "DeepLabSmall",
           "GatedInpaintNet", "InceptionNet", "ConvAutoencoder", "ModelSpec", "DATA_KEYWORDS",
           "get_model", "list_models", "describe_models", "register_model", "model_task",
           "model_keywords"]

# keywords that describe the data, offered to every network (see the module docstring)
DATA_KEYWORDS = ("num_classes", "in_channels", "input_size")


@dataclass(frozen=True)
class ModelSpec:
    """One registry entry.

    Args:
        factory: a class or function building the network, or ``"module:attr"`` imported on
            first use.
        description: one line for ``convnp models``.
        task: ``"classification"`` (one label per input), ``"segmentation"`` (one label per
            pixel) or ``"reconstruction"`` (the input itself).
        input: ``"image"`` (N, C, H, W), ``"sequence"`` (N, C, L) or ``"volume"`` (N, C, D, H, W).
        multiple: image sides must be divisible by it (``2**downsamplings``).
    """

    factory: Callable | str
    description: str = ""
    task: str = "classification"
    input: str = "image"
    multiple: int = 1

    def build(self) -> Callable:
        """The factory itself (importing a ``"module:attr"`` one)."""
        if isinstance(self.factory, str):
            mod, _, attr = self.factory.partition(":")
            return getattr(importlib.import_module(mod), attr)
        return self.factory


_REGISTRY: dict[str, ModelSpec] = {
    "lenet5": ModelSpec(LeNet5, "LeNet-5, 32x32 grey images (pads 28x28), ReLU + max pooling"),
    "lenet5-classic": ModelSpec(partial(LeNet5, activation="tanh", pooling="avg"),
                                "LeNet-5 as in 1998: tanh + average pooling"),
    "vgg": ModelSpec(VGGNet, "VGG-style double-conv blocks + global average pooling"),
    "vgg-small": ModelSpec(partial(VGGNet, channels=(32, 64, 128)),
                           "VGG-style, 3 double-conv stages of 32/64/128 channels (28x28 / 32x32 "
                           "images)"),
    "vgg-tiny": ModelSpec(partial(VGGNet, channels=(16, 32, 64), dropout=0.2),
                          "VGG-style, 3 double-conv stages of 16/32/64 channels (fast on 2 "
                          "cores)"),
    "resnet20": ModelSpec(resnet20, "ResNet-20 for 32x32 images (CIFAR style)"),
    "resnet18": ModelSpec(resnet18, "ResNet-18 (torchvision layout; 3x3 stem for small images)"),
    "allconv": ModelSpec(AllConvNet, "all-convolutional net ending in global average pooling"),
    "cnn1d": ModelSpec(CNN1d, "1-d CNN for sequences", input="sequence"),
    "cnn3d": ModelSpec(CNN3d, "3-d CNN for volumes", input="volume"),
    "unet": ModelSpec(UNet, "UNet segmentation net", task="segmentation", multiple=16),
    "segnet": ModelSpec(SegNet, "SegNet-style encoder-decoder", task="segmentation",
                        multiple=8),
    "deeplab-small": ModelSpec(DeepLabSmall, "DeepLab-style ASPP net", task="segmentation"),
    "inception": ModelSpec(InceptionNet, "small Inception classifier"),
    "conv-autoencoder": ModelSpec(ConvAutoencoder, "convolutional autoencoder",
                                  task="reconstruction", multiple=4),
}


def register_model(name: str, factory: Callable | str, description: str = "",
                   **task) -> None:
    """Add a network to the registry: a callable with named keyword arguments or a lazy
    ``'module:attr'`` string; ``task`` keywords (``task=``, ``input=``, ``multiple=``) say what
    it computes (see :class:`ModelSpec`)."""
    _REGISTRY[name] = ModelSpec(factory, description, **task)


def list_models() -> list[str]:
    """Names accepted by :func:`get_model` and ``convnp train --model``."""
    return list(_REGISTRY)


def describe_models() -> dict[str, str]:
    """Name -> one-line description of every registered network."""
    return {k: v.description for k, v in _REGISTRY.items()}


def _spec(name: str) -> ModelSpec:
    spec = _REGISTRY.get(name.lower())
    if spec is None:
        raise ValueError(f"unknown model {name!r}; valid models: {', '.join(_REGISTRY)}")
    return spec


def model_keywords(name: str) -> list[str] | None:
    """The keyword arguments network ``name`` accepts (None: any, its factory takes ``**kw``)."""
    params = inspect.signature(_spec(name).build()).parameters.values()
    if any(p.kind is p.VAR_KEYWORD for p in params):
        return None
    return [p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]


def get_model(name: str, **kwargs):
    """Build a registered network.

    Args:
        name: a name of :func:`list_models` (any case).
        **kwargs: the network's keyword arguments; the data keywords ``num_classes``,
            ``in_channels`` and ``input_size`` are dropped for a network that does not take them.

    Raises:
        ValueError: ``name`` is not registered (the message lists the valid names).
        TypeError: a keyword the network does not accept (the message lists those it does).
    """
    accepted = model_keywords(name)
    if accepted is not None:
        unknown = [k for k in kwargs if k not in accepted and k not in DATA_KEYWORDS]
        if unknown:
            raise TypeError(f"get_model({name!r}): unexpected keyword argument "
                            f"{unknown[0]!r}; {name} accepts {', '.join(accepted)}")
        kwargs = {k: v for k, v in kwargs.items() if k in accepted}
    return _spec(name).build()(**kwargs)


def model_task(name: str) -> dict:
    """``{"task", "input", "multiple"}`` of a registered network (``convnp models`` shows them;
    ``convnp train`` builds inputs and targets from them)."""
    spec = _spec(name)
    return dict(task=spec.task, input=spec.input, multiple=spec.multiple)
