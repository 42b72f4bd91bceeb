"""``LRScheduler``: the base of the schedulers, with torch's chainable form written once, and
the helpers several schedulers share."""

from __future__ import annotations

import warnings
from typing import Any

from convnp.optim.optimizer import Optimizer


def _check_optimizer(optimizer: Any) -> None:
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"{type(optimizer).__name__} is not an Optimizer")


class LRScheduler:
    """Base class of the epoch-based schedulers.

    Args:
        optimizer: the wrapped optimizer; its groups get ``initial_lr`` set on creation.
        last_epoch: index of the last epoch (-1 starts afresh).

    ``step()`` advances ``last_epoch`` and applies ``get_lr()``, the new learning rates. In
    torch's chainable form they come from the current ones: a subclass gives ``_factor()``,
    what the current rates are multiplied by this epoch; a scheduler that computes its rates
    otherwise overrides ``get_lr()``. ``_get_closed_form_lr()``, where a subclass has it, serves
    the deprecated ``step(epoch)``.
    """

    _is_initial: bool = False

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1) -> None:
        _check_optimizer(optimizer)
        self.optimizer = optimizer
        if last_epoch == -1:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
        else:
            for i, group in enumerate(optimizer.param_groups):
                if "initial_lr" not in group:
                    raise KeyError(f"param 'initial_lr' is not specified in param_groups[{i}] "
                                   "when resuming an optimizer")
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self._initial_step()

    def _initial_step(self) -> None:
        self._step_count = 0
        self._is_initial = True
        try:
            self.step()
        finally:
            self._is_initial = False

    #: the attribute, if any, holding a list of things saved through ``_save_item`` and
    #: restored through ``_load_item`` rather than as they are (functions, schedulers)
    _items: str | None = None

    def state_dict(self) -> dict:
        """Every attribute but the optimizer (torch's layout)."""
        sd = {k: v for k, v in self.__dict__.items() if k not in ("optimizer", self._items)}
        if self._items is not None:
            sd[self._items] = [self._save_item(x) for x in getattr(self, self._items)]
        return sd

    def load_state_dict(self, state_dict: dict) -> None:
        if self._items is None:
            self.__dict__.update(state_dict)
            return
        state_dict = dict(state_dict)
        saved = state_dict.pop(self._items)
        self.__dict__.update(state_dict)
        for item, entry in zip(getattr(self, self._items), saved):
            self._load_item(item, entry)

    def _save_item(self, item):
        raise NotImplementedError

    def _load_item(self, item, saved) -> None:
        raise NotImplementedError

    def get_last_lr(self) -> list[float]:
        """The learning rates set by the last ``step()``, one per parameter group."""
        return self._last_lr

    def get_lr(self) -> list[float]:
        """The learning rates for ``last_epoch``: the current ones times ``_factor()``."""
        factor = self._factor()
        lrs = self._lrs()
        if factor is None:
            return lrs
        factors = factor if isinstance(factor, list) else [factor] * len(lrs)
        return [lr * f for lr, f in zip(lrs, factors)]

    def _factor(self) -> float | list[float] | None:
        """This epoch's multiplier of the current learning rates (a number, one per group, or
        None: unchanged)."""
        raise NotImplementedError(f"{type(self).__name__} must implement get_lr() or _factor()")

    def step(self, epoch: int | None = None) -> None:
        """Advance one epoch (``epoch=`` is deprecated in torch and uses the closed form)."""
        self._step_count += 1
        self._update_lr(epoch)

    def _update_lr(self, epoch: int | None = None) -> None:
        if epoch is None:
            self.last_epoch += 1
            values = self.get_lr()
        else:
            warnings.warn("The epoch parameter in `scheduler.step()` is deprecated (as in "
                          "torch); call step() without it", UserWarning, stacklevel=3)
            self.last_epoch = epoch
            closed = getattr(self, "_get_closed_form_lr", None)
            values = closed() if closed is not None else self.get_lr()
        for group, lr in zip(self.optimizer.param_groups, values):
            group["lr"] = lr
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def _lrs(self) -> list[float]:
        return [group["lr"] for group in self.optimizer.param_groups]


_LRScheduler = LRScheduler  # torch's legacy name


def per_group(optimizer: Optimizer, value, mismatch: str) -> list:
    """``value`` once per parameter group: a list or tuple must hold one entry per group (else
    ``ValueError(mismatch.format(n=groups, got=entries))``); anything else is repeated."""
    n = len(optimizer.param_groups)
    if not isinstance(value, (list, tuple)):
        return [value] * n
    if len(value) != n:
        raise ValueError(mismatch.format(n=n, got=len(value)))
    return list(value)


def format_param(optimizer: Optimizer, name: str, value) -> list:
    """A hyperparameter (``max_lr``, ``base_momentum``, ...) once per parameter group."""
    return per_group(optimizer, value, f"expected {{n}} values for {name}, got {{got}}")
