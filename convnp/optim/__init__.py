"""Optimizers (SGD, Adam, AdamW, RMSprop, Adagrad, Adadelta, Adamax, NAdam, RAdam, ASGD, Rprop,
LBFGS, Adafactor, Muon), ``lr_scheduler`` and ``swa_utils``, with PyTorch's update rules,
defaults, state layout and numbers."""

from convnp.optim import lr_scheduler, swa_utils
from convnp.optim._stateless import swap_in_optimizer_params_and_state
from convnp.optim.adadelta import Adadelta
from convnp.optim.adafactor import Adafactor
from convnp.optim.adagrad import Adagrad
from convnp.optim.adam import Adam, AdamW
from convnp.optim.adamax import Adamax
from convnp.optim.asgd import ASGD
from convnp.optim.lbfgs import LBFGS
from convnp.optim.muon import Muon
from convnp.optim.nadam import NAdam
from convnp.optim.optimizer import Optimizer
from convnp.optim.radam import RAdam
from convnp.optim.rmsprop import RMSprop
from convnp.optim.rprop import Rprop
from convnp.optim.sgd import SGD
from convnp.optim.sparse_adam import SparseAdam

__all__ = ["ASGD", "Adadelta", "Adafactor", "Adagrad", "Adam", "AdamW", "Adamax", "LBFGS", "Muon",
           "NAdam", "Optimizer", "RAdam", "RMSprop", "Rprop", "SGD", "SparseAdam", "lr_scheduler",
           "swa_utils", "swap_in_optimizer_params_and_state"]
