"""``convnp.optim.swa_utils``: Stochastic Weight Averaging and EMA of a model's weights
(torch's ``torch.optim.swa_utils``): ``AveragedModel``, ``SWALR``, ``update_bn`` and the
averaging functions."""

from __future__ import annotations

import copy
import itertools
import math
from typing import Any, Callable, Iterable

import numpy as np

from convnp._dtype import is_floating
from convnp.autograd.grad_mode import no_grad
from convnp.nn.modules.module import Module
from convnp.optim.lr_scheduler import LRScheduler
from convnp.optim.lr_scheduler._base import format_param
from convnp.optim.optimizer import Optimizer
from convnp.tensor import Tensor

__all__ = ["AveragedModel", "SWALR", "get_ema_avg_fn", "get_ema_multi_avg_fn",
           "get_swa_avg_fn", "get_swa_multi_avg_fn", "update_bn"]


def _check_decay(decay: float) -> None:
    if decay < 0.0 or decay > 1.0:
        raise ValueError(f"Invalid decay value {decay} provided. Please provide a value in "
                         "[0,1] range.")


def get_ema_multi_avg_fn(decay: float = 0.999) -> Callable:
    """In-place EMA over lists of tensors: ``ema = lerp(ema, current, 1 - decay)``."""
    _check_decay(decay)

    def ema_update(ema_params, current_params, _num_averaged) -> None:
        for e, c in zip(ema_params, current_params):
            a = e.array
            if is_floating(a.dtype):
                w = 1 - decay
                if abs(w) < 0.5:  # torch's lerp formulas
                    a += w * (c.array - a)
                else:
                    a[...] = c.array - (c.array - a) * (1 - w)
            else:
                a[...] = a * decay + c.array * (1 - decay)
    return ema_update


def get_swa_multi_avg_fn() -> Callable:
    """In-place running mean over lists of tensors."""
    def swa_update(averaged, current, num_averaged) -> None:
        n = float(getattr(num_averaged, "array", num_averaged))
        for a, c in zip(averaged, current):
            # integer buffers (num_batches_tracked) average in float and truncate, as torch's
            # copy_ does
            a.array[...] = (a.array + (c.array - a.array) / (n + 1)).astype(a.dtype)
    return swa_update


def get_ema_avg_fn(decay: float = 0.999) -> Callable:
    """EMA of one tensor: ``decay * ema + (1 - decay) * current``."""
    _check_decay(decay)

    def ema_update(ema_param: Tensor, current_param: Tensor, num_averaged) -> Tensor:
        return decay * ema_param + (1 - decay) * current_param
    return ema_update


def get_swa_avg_fn() -> Callable:
    """Running mean of one tensor: ``avg + (current - avg) / (n + 1)``."""
    def swa_update(averaged_param: Tensor, current_param: Tensor, num_averaged) -> Tensor:
        n = getattr(num_averaged, "array", num_averaged)
        return averaged_param + (current_param - averaged_param) / (float(n) + 1)
    return swa_update


class AveragedModel(Module):
    r"""A copy of ``model`` whose parameters are a running average (SWA, the default) or an
    exponential moving average (``multi_avg_fn=get_ema_multi_avg_fn(decay)``) of the model's
    parameters, updated by :meth:`update_parameters` (torch's ``AveragedModel``).

    Args:
        model: the module to average (deep-copied).
        device: None or ``'cpu'``.
        avg_fn: ``avg_fn(averaged, current, n_averaged) -> Tensor`` per parameter.
        multi_avg_fn: in-place ``multi_avg_fn(averaged_list, current_list, n_averaged)``.
        use_buffers: average the buffers too (else copy them from ``model``).

    The first ``update_parameters`` copies the model's values; ``n_averaged`` (a buffer)
    counts the updates.

    Example::

        >>> swa_model = AveragedModel(model)
        >>> swa_model.update_parameters(model)   # after each epoch of the SWA phase
    """

    def __init__(self, model: Module, device=None, avg_fn: Callable | None = None,
                 multi_avg_fn: Callable | None = None, use_buffers: bool = False) -> None:
        super().__init__()
        if avg_fn is not None and multi_avg_fn is not None:
            raise AssertionError("Only one of avg_fn and multi_avg_fn should be provided")
        if device not in (None, "cpu") and getattr(device, "type", None) != "cpu":
            raise NotImplementedError(f"AveragedModel: device {device!r}: convnp computes on "
                                      "the CPU; leave device unset")
        self.module = copy.deepcopy(model)
        self.register_buffer("n_averaged", Tensor._wrap(np.array(0, np.int64)))
        self.avg_fn = avg_fn
        self.multi_avg_fn = multi_avg_fn
        self.use_buffers = use_buffers

    def forward(self, *args, **kwargs):
        return self.module(*args, **kwargs)

    def update_parameters(self, model: Module) -> None:
        """Fold ``model``'s current parameters into the average."""
        with no_grad():
            if self.use_buffers:
                mine = list(itertools.chain(self.module.parameters(), self.module.buffers()))
                theirs = list(itertools.chain(model.parameters(), model.buffers()))
            else:
                mine, theirs = list(self.parameters()), list(model.parameters())
            first = int(self.n_averaged.array) == 0
            if first:
                for a, c in zip(mine, theirs):
                    a.array[...] = c.array
            else:
                if self.avg_fn is None:
                    fn = self.multi_avg_fn or get_swa_multi_avg_fn()
                    fn([a for a in mine], [c.detach() for c in theirs], self.n_averaged)
                else:
                    for a, c in zip(mine, theirs):
                        new = self.avg_fn(a.detach(), c.detach(), self.n_averaged)
                        a.array[...] = getattr(new, "array", new)
            if not self.use_buffers:
                for b_mine, b_theirs in zip(self.module.buffers(), model.buffers()):
                    b_mine.array[...] = b_theirs.array
            self.n_averaged.array += 1


def update_bn(loader: Iterable[Any], model: Module, device=None) -> None:
    """Recompute the BatchNorm running statistics of ``model`` with one pass over ``loader``
    (a cumulative average over the batches), as torch's ``update_bn``."""
    from convnp.nn.modules.normalization import _BatchNorm

    momenta = {}
    for m in model.modules():
        if isinstance(m, _BatchNorm):
            m.reset_running_stats()
            momenta[m] = m.momentum
    if not momenta:
        return
    was_training = model.training
    model.train()
    for m in momenta:
        m.momentum = None
    with no_grad():
        for batch in loader:
            if isinstance(batch, (list, tuple)):
                batch = batch[0]
            model(batch)
    for m, mom in momenta.items():
        m.momentum = mom
    model.train(was_training)


class SWALR(LRScheduler):
    r"""Anneals each group's lr to ``swa_lr`` over ``anneal_epochs`` epochs (cosine or linear),
    then keeps it there (torch's ``SWALR``).

    Args:
        optimizer: the wrapped optimizer. swa_lr: the target lr (a float or one per group).
        anneal_epochs: epochs of the annealing (default 10).
        anneal_strategy: ``'cos'`` or ``'linear'``.
        last_epoch: index of the last epoch (default -1).
    """

    def __init__(self, optimizer: Optimizer, swa_lr, anneal_epochs: int = 10,
                 anneal_strategy: str = "cos", last_epoch: int = -1) -> None:
        self.optimizer = optimizer
        swa_lrs = format_param(optimizer, "swa_lr", swa_lr)
        for lr, group in zip(swa_lrs, optimizer.param_groups):
            group["swa_lr"] = lr
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError("anneal_strategy must be one of 'cos' or 'linear', instead got "
                             f"{anneal_strategy}")
        self._anneal_strategy = anneal_strategy
        if not isinstance(anneal_epochs, int) or anneal_epochs < 0:
            raise ValueError(f"anneal_epochs must be equal or greater than 0, got "
                             f"{anneal_epochs}")
        self.anneal_epochs = anneal_epochs
        super().__init__(optimizer, last_epoch)

    def anneal_func(self, t: float) -> float:
        if self._anneal_strategy == "cos":
            return (1 - math.cos(math.pi * t)) / 2
        return t

    @staticmethod
    def _get_initial_lr(lr: float, swa_lr: float, alpha: float) -> float:
        if alpha == 1:
            return swa_lr
        return (lr - alpha * swa_lr) / (1 - alpha)

    def get_lr(self) -> list[float]:
        step = self._step_count - 1
        if self.anneal_epochs == 0:
            step = max(1, step)
        prev_t = max(0, min(1, (step - 1) / max(1, self.anneal_epochs)))
        prev_alpha = self.anneal_func(prev_t)
        prev_lrs = [self._get_initial_lr(g["lr"], g["swa_lr"], prev_alpha)
                    for g in self.optimizer.param_groups]
        t = max(0, min(1, step / max(1, self.anneal_epochs)))
        alpha = self.anneal_func(t)
        return [g["swa_lr"] * alpha + lr * (1 - alpha)
                for g, lr in zip(self.optimizer.param_groups, prev_lrs)]
