"""The torchvision checkpoints convnp's model builders know, and loading them."""

from __future__ import annotations

from functools import partial

from convnp.vision.models._api import Weights

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
