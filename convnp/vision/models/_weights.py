"""The torchvision checkpoints convnp's model builders know, loading them, and the one helper
that makes every builder (``resnet18``, ``vgg16_bn``, ...) from a line of its module's table."""

from __future__ import annotations

from functools import partial
from typing import Callable

from convnp.vision.models._api import Weights, WeightsEnum, register_model
from convnp.vision.models._utils import _ovewrite_named_param, handle_legacy_interface

_TV = "https://download.pytorch.org/models/"


def imagenet_weights(file: str, num_params: int, crop: int = 224, resize: int = 256) -> Weights:
    """An ImageNet-1k checkpoint from download.pytorch.org with its inference preset."""
    from convnp.vision.transforms._presets import ImageClassification

    return Weights(url=_TV + file,
                   transforms=partial(ImageClassification, crop_size=crop, resize_size=resize),
                   meta={"num_params": num_params, "min_size": (1, 1), "num_classes": 1000})


def load_weights(model, weights, progress: bool):
    """Load ``weights`` (a ``WeightsEnum`` member or None) into ``model``."""
    if weights is not None:
        model.load_state_dict(weights.get_state_dict(progress=progress, check_hash=True))
    return model


def weights_enum(name: str, module: str, default: str, **members: Weights) -> type[WeightsEnum]:
    """A ``*_Weights`` enum named ``name`` (defined in ``module``) with ``members`` and a
    ``DEFAULT`` alias of ``members[default]``: ``weights_enum("ResNet18_Weights", __name__,
    "IMAGENET1K_V1", IMAGENET1K_V1=imagenet_weights(...))``."""
    return WeightsEnum(name, [*members.items(), ("DEFAULT", members[default])], module=module,
                       qualname=name)


def model_builder(name: str, build: Callable, weights: type[WeightsEnum] | None, doc: str,
                  module: str, returns: type, fixed: dict | None = None) -> Callable:
    """Register and return torchvision's builder ``name(*, weights=None, progress=True,
    **kwargs)``: it checks ``weights`` against its enum (``weights=None``: no enum, no
    checkpoint known), takes ``fixed`` keywords (refusing a conflicting user value) and, when
    weights are given, fixes ``num_classes`` to theirs; then ``build(weights, **kwargs)`` makes
    the network and the checkpoint is loaded into it. The legacy ``pretrained=True`` maps to the
    enum's ``IMAGENET1K_V1``, as in torchvision."""
    def builder(*, weights=None, progress: bool = True, **kwargs):
        if weights_type is not None:
            weights = weights_type.verify(weights)
        elif weights is not None:
            raise ValueError(f"{name}: convnp knows no pretrained weights for this model; pass "
                             f"weights=None and load a state_dict with model.load_state_dict()")
        for key, value in (fixed or {}).items():
            _ovewrite_named_param(kwargs, key, value)
        if weights is not None:
            _ovewrite_named_param(kwargs, "num_classes", weights.meta["num_classes"])
        return load_weights(build(weights, **kwargs), weights, progress)

    weights_type = weights
    builder.__name__ = builder.__qualname__ = name
    builder.__module__, builder.__doc__ = module, doc
    builder.__annotations__ = {"progress": bool, "return": returns}
    if weights is not None:
        builder.__annotations__["weights"] = weights | None
    if weights is not None:
        builder = handle_legacy_interface(weights=("pretrained", weights.IMAGENET1K_V1))(builder)
    return register_model(name)(builder)
