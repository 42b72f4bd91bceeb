"""Helpers torchvision's model files import: the legacy ``pretrained=`` keyword and checks."""

from __future__ import annotations

import functools
import warnings
from typing import Any, Callable

from convnp.vision.models._api import WeightsEnum

__all__ = ["handle_legacy_interface", "_ovewrite_named_param", "_ovewrite_value_param"]


def _ovewrite_named_param(kwargs: dict, param: str, new_value: Any) -> None:
    """Set ``kwargs[param]`` (the weights fix it), refusing a conflicting user value."""
    if param in kwargs:
        if kwargs[param] != new_value:
            raise ValueError(f"The parameter '{param}' expected value {new_value} but got "
                             f"{kwargs[param]} instead.")
    else:
        kwargs[param] = new_value


def _ovewrite_value_param(param: str, actual, expected):
    if actual is not None and actual != expected:
        raise ValueError(f"The parameter '{param}' expected value {expected} but got {actual} "
                         f"instead.")
    return expected


def handle_legacy_interface(**weights: tuple[str, Any]) -> Callable:
    """Decorator mapping a legacy keyword (``pretrained=True``) to ``weights=<default>``, with
    torchvision's deprecation warning: ``handle_legacy_interface(weights=("pretrained",
    ResNet18_Weights.IMAGENET1K_V1))``. The default may be a function of the other kwargs."""
    def outer(builder: Callable) -> Callable:
        @functools.wraps(builder)
        def inner(*args, **kwargs):
            for weights_param, (pretrained_param, default) in weights.items():
                if pretrained_param not in kwargs:
                    continue
                if weights_param in kwargs:
                    raise ValueError(f"{builder.__name__}: pass either '{weights_param}' or the "
                                     f"deprecated '{pretrained_param}', not both")
                legacy = kwargs.pop(pretrained_param)
                if legacy:
                    value = default(kwargs) if callable(default) and not isinstance(
                        default, WeightsEnum) else default
                else:
                    value = None
                warnings.warn(f"The parameter '{pretrained_param}' is deprecated, please use "
                              f"'{weights_param}' instead.", UserWarning, stacklevel=2)
                kwargs[weights_param] = value
            return builder(*args, **kwargs)
        return inner
    return outer
