"""Pretrained-weight handles (torchvision's ``*_Weights`` enums) and their loading."""

from __future__ import annotations

from enum import Enum


class Weights(Enum):
    """Base of the ``*_Weights`` enums: each member's value is the checkpoint URL."""

    @property
    def url(self) -> str:
        return self.value

    def get_state_dict(self, progress: bool = True, check_hash: bool = True) -> dict:
        """Download (or read from the cache) the torchvision checkpoint of these weights."""
        try:
            from convnp.hub import load_state_dict_from_url
        except ImportError:
            name = self.url.rsplit("/", 1)[-1]
            raise RuntimeError(
                f"{type(self).__name__}.{self.name}: convnp cannot download weights in this "
                f"installation; download {self.url} and load it with "
                f"model.load_state_dict(convnp.load('{name}'))") from None
        return load_state_dict_from_url(self.url, progress=progress, check_hash=check_hash)


def _resolve(weights, enum: type[Weights], fn: str):
    """None, a member, its name ('IMAGENET1K_V1', 'DEFAULT') -> None or the member."""
    if weights is None or isinstance(weights, enum):
        return weights
    if isinstance(weights, str):
        try:
            return enum[weights]
        except KeyError:
            pass
    raise ValueError(f"{fn}: weights must be None or one of {enum.__name__}."
                     f"{', '.join(m for m in enum.__members__)}, got {weights!r}")


def _build(model, weights, progress: bool):
    if weights is not None:
        model.load_state_dict(weights.get_state_dict(progress=progress, check_hash=True))
    return model


def _legacy(kwargs: dict, fn: str):
    """torchvision's removed ``pretrained=`` keyword."""
    if kwargs.pop("pretrained", False):
        raise ValueError(f"{fn}: 'pretrained' was replaced by 'weights' in torchvision; pass "
                         f"weights='DEFAULT' (or the *_Weights enum)")
