"""Optimizers (SGD, Adam, AdamW, RMSprop, Adagrad) and ``lr_scheduler``, with PyTorch's update
rules, defaults, state layout and numbers."""

from convnp.optim import lr_scheduler
from convnp.optim.adagrad import Adagrad
from convnp.optim.adam import Adam, AdamW
from convnp.optim.optimizer import Optimizer
from convnp.optim.rmsprop import RMSprop
from convnp.optim.sgd import SGD

__all__ = ["Adagrad", "Adam", "AdamW", "Optimizer", "RMSprop", "SGD", "lr_scheduler"]
