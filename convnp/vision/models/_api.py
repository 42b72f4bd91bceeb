"""Pretrained-weight handles with torchvision's names: ``Weights`` (url, transforms, meta),
``WeightsEnum`` (the ``*_Weights`` enums), ``register_model`` / ``get_model``."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Callable

__all__ = ["Weights", "WeightsEnum", "register_model", "get_model", "get_model_builder",
           "list_models", "get_model_weights", "get_weight"]


@dataclass(eq=True, frozen=True)
class Weights:
    """One checkpoint: its ``url``, the inference ``transforms`` it expects and ``meta`` data."""

    url: str
    transforms: Callable = field(default=None, compare=False, hash=False)
    meta: dict = field(default_factory=dict, compare=False, hash=False)


class WeightsEnum(Enum):
    """Base of the ``*_Weights`` enums (``ResNet18_Weights.IMAGENET1K_V1``, ``.DEFAULT``)."""

    @classmethod
    def verify(cls, obj: Any):
        """None, a member or its name (``'DEFAULT'``, ``'ResNet18_Weights.DEFAULT'``) -> member."""
        if obj is None or isinstance(obj, cls):
            return obj
        if isinstance(obj, str):
            try:
                return cls[obj.replace(cls.__name__ + ".", "")]
            except KeyError:
                pass
        raise ValueError(f"weights must be None or one of {cls.__name__}."
                         f"{', '.join(cls.__members__)}, got {obj!r}")

    @property
    def url(self) -> str:
        return self.value.url

    @property
    def transforms(self):
        return self.value.transforms

    @property
    def meta(self) -> dict:
        return self.value.meta

    def get_state_dict(self, *args, **kwargs) -> dict:
        """Download (or read from the cache) this checkpoint: ``load_state_dict_from_url``."""
        from convnp.vision.models.utils import load_state_dict_from_url

        return load_state_dict_from_url(self.url, *args, **kwargs)

    def __repr__(self) -> str:
        return f"{type(self).__name__}.{self.name}"


BUILTIN_MODELS: dict[str, Callable] = {}


def register_model(name: str | None = None) -> Callable:
    """Decorator: make a model builder reachable from :func:`get_model` under ``name``."""
    def wrapper(fn: Callable) -> Callable:
        key = name if name is not None else fn.__name__
        if key in BUILTIN_MODELS:
            raise ValueError(f"register_model: an entry is already registered under the name "
                             f"'{key}'")
        BUILTIN_MODELS[key] = fn
        return fn
    return wrapper


def list_models(module=None, include=None, exclude=None) -> list[str]:
    """Names accepted by :func:`get_model`."""
    return sorted(BUILTIN_MODELS)


def get_model_builder(name: str) -> Callable:
    name = name.lower()
    if name not in BUILTIN_MODELS:
        raise ValueError(f"get_model: unknown model {name!r}; valid models: "
                         f"{', '.join(sorted(BUILTIN_MODELS))}")
    return BUILTIN_MODELS[name]


def get_model(name: str, **config):
    """Build a registered model: ``get_model("resnet18", weights=None, num_classes=10)``."""
    return get_model_builder(name)(**config)


def get_model_weights(name) -> type[WeightsEnum]:
    """The ``*_Weights`` enum of a builder (or builder name)."""
    import inspect
    import typing

    fn = get_model_builder(name) if isinstance(name, str) else name
    hint = typing.get_type_hints(inspect.unwrap(fn)).get("weights")
    for cand in typing.get_args(hint) or (hint,):
        if isinstance(cand, type) and issubclass(cand, WeightsEnum):
            return cand
    raise ValueError(f"get_model_weights: the model {name!r} has no weights enum")


def get_weight(name: str) -> WeightsEnum:
    """``get_weight("ResNet18_Weights.IMAGENET1K_V1")``."""
    import convnp.vision.models as models

    enum_name, _, member = name.partition(".")
    enum = getattr(models, enum_name, None)
    if not (isinstance(enum, type) and issubclass(enum, WeightsEnum)):
        raise ValueError(f"get_weight: unknown weights enum {enum_name!r}")
    return enum.verify(member)
