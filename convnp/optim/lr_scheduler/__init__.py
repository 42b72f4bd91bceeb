"""Learning-rate schedulers with PyTorch's (recursive, chainable) formulas and numbers.

Call ``scheduler.step()`` after ``optimizer.step()`` once per epoch (or per batch for
``OneCycleLR`` and ``CyclicLR``); ``get_last_lr()`` returns the learning rates it last set.
``ReduceLROnPlateau.step(metric)`` takes the metric it watches.
"""

from convnp.optim.lr_scheduler._base import LRScheduler, _LRScheduler
from convnp.optim.lr_scheduler._chainable import (
                                                  ConstantLR,
                                                  ExponentialLR,
                                                  LambdaLR,
                                                  LinearLR,
                                                  MultiplicativeLR,
                                                  MultiStepLR,
                                                  PolynomialLR,
                                                  StepLR,
)
from convnp.optim.lr_scheduler._composite import ChainedScheduler, SequentialLR
from convnp.optim.lr_scheduler._cosine import CosineAnnealingLR, CosineAnnealingWarmRestarts
from convnp.optim.lr_scheduler._cyclic import CyclicLR, OneCycleLR
from convnp.optim.lr_scheduler._plateau import ReduceLROnPlateau

__all__ = ["LRScheduler", "LambdaLR", "MultiplicativeLR", "StepLR", "MultiStepLR", "ConstantLR",
           "LinearLR", "ExponentialLR", "PolynomialLR", "CosineAnnealingLR",
           "CosineAnnealingWarmRestarts", "OneCycleLR", "ReduceLROnPlateau", "SequentialLR",
           "ChainedScheduler", "CyclicLR"]
