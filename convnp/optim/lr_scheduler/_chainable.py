"""The schedulers that multiply the current learning rates by a factor each epoch (torch's
chainable form), with their closed forms: LambdaLR, MultiplicativeLR, ConstantLR, PolynomialLR,
StepLR, MultiStepLR, ExponentialLR, LinearLR."""

from __future__ import annotations

import types
from bisect import bisect_right
from collections import Counter
from typing import Iterable

from convnp.optim.lr_scheduler._base import LRScheduler, per_group
from convnp.optim.optimizer import Optimizer


def _check_factor(kind: str, name: str, value: float) -> None:
    if value > 1.0 or value < 0:
        raise ValueError(f"{kind} multiplicative factor expected to be between 0 and 1, got "
                         f"{name}={value}")


class _LambdaScheduler(LRScheduler):
    """A scheduler driven by ``lr_lambda`` (a function of the epoch, or one per group); its
    state_dict leaves the (unpicklable) functions out, but keeps a callable object's
    ``__dict__``, as torch."""

    def __init__(self, optimizer: Optimizer, lr_lambda, last_epoch: int = -1) -> None:
        self.optimizer = optimizer
        self.lr_lambdas = per_group(optimizer, lr_lambda, "Expected {n} lr_lambdas, but got {got}")
        for fn in self.lr_lambdas:
            if not callable(fn):
                raise TypeError(f"lr_lambda should be a function, but got {type(fn).__name__}")
        super().__init__(optimizer, last_epoch)

    _items = "lr_lambdas"

    def _save_item(self, fn):
        return None if isinstance(fn, types.FunctionType) else fn.__dict__.copy()

    def _load_item(self, fn, saved) -> None:
        if saved is not None:
            fn.__dict__.update(saved)


class LambdaLR(_LambdaScheduler):
    """Set each group's lr to ``base_lr * lr_lambda(epoch)``.

    Args:
        optimizer: the wrapped optimizer.
        lr_lambda: a function of the epoch, or one per parameter group.
        last_epoch: index of the last epoch (default -1).

    Example::

        >>> sched = LambdaLR(opt, lr_lambda=lambda epoch: 0.95 ** epoch)
    """

    def get_lr(self) -> list[float]:
        return [b * fn(self.last_epoch) for fn, b in zip(self.lr_lambdas, self.base_lrs)]


class MultiplicativeLR(_LambdaScheduler):
    """Multiply each group's lr by ``lr_lambda(epoch)`` every epoch.

    Args: as :class:`LambdaLR`.

    Example::

        >>> sched = MultiplicativeLR(opt, lr_lambda=lambda epoch: 0.95)
    """

    def _factor(self) -> list[float] | None:
        return None if self._is_initial else [fn(self.last_epoch) for fn in self.lr_lambdas]


class ConstantLR(LRScheduler):
    """Multiply the lr by ``factor`` until epoch ``total_iters``, then restore it.

    Args:
        optimizer: the wrapped optimizer.
        factor: the constant factor, in [0, 1] (default 1/3).
        total_iters: number of epochs scaled (default 5).
        last_epoch: index of the last epoch (default -1).

    Example::

        >>> sched = ConstantLR(opt, factor=0.5, total_iters=4)
    """

    def __init__(self, optimizer: Optimizer, factor: float = 1.0 / 3, total_iters: int = 5,
                 last_epoch: int = -1) -> None:
        _check_factor("Constant", "factor", factor)
        self.factor = factor
        self.total_iters = total_iters
        super().__init__(optimizer, last_epoch)

    def _factor(self) -> float | None:
        if self.last_epoch == 0:
            return self.factor
        return 1.0 / self.factor if self.last_epoch == self.total_iters else None

    def _get_closed_form_lr(self) -> list[float]:
        return [b * (self.factor + (self.last_epoch >= self.total_iters) * (1 - self.factor))
                for b in self.base_lrs]


class PolynomialLR(LRScheduler):
    """Decay the lr polynomially to 0 over ``total_iters`` epochs:
    ``lr = base_lr * (1 - t / total_iters) ** power``.

    Args:
        optimizer: the wrapped optimizer.
        total_iters: number of epochs of the decay (default 5).
        power: the polynomial's power (default 1).
        last_epoch: index of the last epoch (default -1).

    Example::

        >>> sched = PolynomialLR(opt, total_iters=10, power=2.0)
    """

    def __init__(self, optimizer: Optimizer, total_iters: int = 5, power: float = 1.0,
                 last_epoch: int = -1) -> None:
        self.total_iters = total_iters
        self.power = power
        super().__init__(optimizer, last_epoch)

    def _factor(self) -> float | None:
        if self._is_initial or self.last_epoch > self.total_iters:
            return None
        return ((1.0 - self.last_epoch / self.total_iters)
                / (1.0 - (self.last_epoch - 1) / self.total_iters)) ** self.power

    def _get_closed_form_lr(self) -> list[float]:
        return [b * (1.0 - min(self.total_iters, self.last_epoch) / self.total_iters)
                ** self.power for b in self.base_lrs]


class StepLR(LRScheduler):
    """Multiply the learning rate by ``gamma`` every ``step_size`` epochs.

    Args:
        optimizer: the wrapped optimizer.
        step_size: period of the decay, in epochs.
        gamma: multiplicative factor (default 0.1).
        last_epoch: index of the last epoch (default -1).

    Example::

        >>> sched = StepLR(opt, step_size=30, gamma=0.1)  # lr 0.05 for 30 epochs, 0.005 ...
    """

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1,
                 last_epoch: int = -1) -> None:
        self.step_size = step_size
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def _factor(self) -> float | None:
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return None
        return self.gamma

    def _get_closed_form_lr(self) -> list[float]:
        return [b * self.gamma ** (self.last_epoch // self.step_size) for b in self.base_lrs]


class MultiStepLR(LRScheduler):
    """Multiply the learning rate by ``gamma`` at each epoch listed in ``milestones``.

    Args:
        optimizer: the wrapped optimizer.
        milestones: epoch indices (a repeated milestone applies gamma that many times).
        gamma: multiplicative factor (default 0.1).
        last_epoch: index of the last epoch (default -1).

    Example::

        >>> sched = MultiStepLR(opt, milestones=[30, 80], gamma=0.1)
    """

    def __init__(self, optimizer: Optimizer, milestones: Iterable[int], gamma: float = 0.1,
                 last_epoch: int = -1) -> None:
        self.milestones = Counter(milestones)
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def _factor(self) -> float | None:
        if self.last_epoch not in self.milestones:
            return None
        return self.gamma ** self.milestones[self.last_epoch]

    def _get_closed_form_lr(self) -> list[float]:
        ms = sorted(self.milestones.elements())
        return [b * self.gamma ** bisect_right(ms, self.last_epoch) for b in self.base_lrs]


class ExponentialLR(LRScheduler):
    """Multiply the learning rate by ``gamma`` every epoch.

    Args:
        optimizer: the wrapped optimizer.
        gamma: multiplicative factor.
        last_epoch: index of the last epoch (default -1).

    Example::

        >>> sched = ExponentialLR(opt, gamma=0.95)
    """

    def __init__(self, optimizer: Optimizer, gamma: float, last_epoch: int = -1) -> None:
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def _factor(self) -> float | None:
        return None if self._is_initial else self.gamma

    def _get_closed_form_lr(self) -> list[float]:
        return [b * self.gamma ** self.last_epoch for b in self.base_lrs]


class LinearLR(LRScheduler):
    """Scale the learning rate linearly from ``start_factor`` to ``end_factor`` over
    ``total_iters`` epochs (a warm-up when ``start_factor < 1``).

    Args:
        optimizer: the wrapped optimizer.
        start_factor: factor of the first epoch, in (0, 1] (default 1/3).
        end_factor: factor reached after ``total_iters`` epochs, in [0, 1] (default 1).
        total_iters: number of epochs of the ramp (default 5).
        last_epoch: index of the last epoch (default -1).

    Example::

        >>> sched = LinearLR(opt, start_factor=0.1, total_iters=10)  # 10-epoch warm-up
    """

    def __init__(self, optimizer: Optimizer, start_factor: float = 1.0 / 3,
                 end_factor: float = 1.0, total_iters: int = 5, last_epoch: int = -1) -> None:
        if start_factor > 1.0 or start_factor <= 0:
            raise ValueError("Starting multiplicative factor expected to be greater than 0 and "
                             f"less or equal to 1, got start_factor={start_factor}")
        _check_factor("Ending", "end_factor", end_factor)
        self.start_factor = start_factor
        self.end_factor = end_factor
        self.total_iters = total_iters
        super().__init__(optimizer, last_epoch)

    def _factor(self) -> float | None:
        if self.last_epoch == 0:
            return self.start_factor
        if self._is_initial or self.last_epoch > self.total_iters:
            return None
        d = self.end_factor - self.start_factor
        return 1.0 + d / (self.total_iters * self.start_factor + (self.last_epoch - 1) * d)

    def _get_closed_form_lr(self) -> list[float]:
        f = self.start_factor + (self.end_factor - self.start_factor) * min(
            self.total_iters, self.last_epoch) / self.total_iters
        return [b * f for b in self.base_lrs]
