"""Per-batch cyclical schedules that also cycle momentum: OneCycleLR and CyclicLR."""

from __future__ import annotations

import math
import types

from convnp.optim.lr_scheduler._base import LRScheduler, _check_optimizer, format_param
from convnp.optim.optimizer import Optimizer


class _CyclesMomentum(LRScheduler):
    """A per-batch schedule that can cycle the momentum (SGD, RMSprop) or Adam's beta1
    against the learning rate."""

    def _init_momentum(self, optimizer: Optimizer, cycle_momentum: bool, base_momentum,
                       max_momentum, last_epoch: int) -> tuple[list, list]:
        """Check the optimizer has a momentum, and start each group at ``max_momentum``
        (unless resuming); returns the per-group (base, max) momenta."""
        self.cycle_momentum = cycle_momentum
        if not cycle_momentum:
            return [], []
        if "momentum" not in optimizer.defaults and "betas" not in optimizer.defaults:
            raise ValueError("optimizer must support momentum or beta1 with "
                             "`cycle_momentum` option enabled")
        self.use_beta1 = "betas" in optimizer.defaults
        bases = format_param(optimizer, "base_momentum", base_momentum)
        maxes = format_param(optimizer, "max_momentum", max_momentum)
        if last_epoch == -1:
            for m, b, group in zip(maxes, bases, optimizer.param_groups):
                self._set_momentum(group, m)
                group["max_momentum"] = m
                group["base_momentum"] = b
        return bases, maxes

    def _set_momentum(self, group: dict, value: float) -> None:
        if self.use_beta1:
            group["betas"] = (value, *group["betas"][1:])
        else:
            group["momentum"] = value


class OneCycleLR(_CyclesMomentum):
    """The 1cycle policy (Smith): lr rises from ``max_lr / div_factor`` to ``max_lr`` and anneals
    to ``initial_lr / final_div_factor``; momentum (or Adam's beta1) cycles inversely. Step it
    after every batch.

    Args:
        optimizer: the wrapped optimizer.
        max_lr: peak learning rate (a float or one per group).
        total_steps: number of steps of the cycle (or give ``epochs`` and ``steps_per_epoch``).
        epochs, steps_per_epoch: ``total_steps = epochs * steps_per_epoch``.
        pct_start: fraction of the cycle spent increasing the lr (default 0.3).
        anneal_strategy: ``'cos'`` or ``'linear'`` (default ``'cos'``).
        cycle_momentum: cycle momentum/beta1 between ``base_momentum`` and ``max_momentum``.
        base_momentum, max_momentum: momentum bounds (default 0.85, 0.95).
        div_factor: ``initial_lr = max_lr / div_factor`` (default 25).
        final_div_factor: ``min_lr = initial_lr / final_div_factor`` (default 1e4).
        three_phase: a third phase annihilates the lr after a symmetric up/down cycle.
        last_epoch: index of the last batch (default -1).

    Example::

        >>> sched = OneCycleLR(opt, max_lr=0.1, epochs=10, steps_per_epoch=len(loader))
    """

    def __init__(self, optimizer: Optimizer, max_lr, total_steps: int | None = None,
                 epochs: int | None = None, steps_per_epoch: int | None = None,
                 pct_start: float = 0.3, anneal_strategy: str = "cos",
                 cycle_momentum: bool = True, base_momentum=0.85, max_momentum=0.95,
                 div_factor: float = 25.0, final_div_factor: float = 1e4,
                 three_phase: bool = False, last_epoch: int = -1) -> None:
        _check_optimizer(optimizer)
        self.optimizer = optimizer
        if total_steps is not None:
            if not isinstance(total_steps, int) or total_steps <= 0:
                raise ValueError(f"Expected positive integer total_steps, but got {total_steps}")
            self.total_steps = total_steps
        elif epochs is not None and steps_per_epoch is not None:
            if not isinstance(epochs, int) or epochs <= 0:
                raise ValueError(f"Expected positive integer epochs, but got {epochs}")
            if not isinstance(steps_per_epoch, int) or steps_per_epoch <= 0:
                raise ValueError("Expected positive integer steps_per_epoch, but got "
                                 f"{steps_per_epoch}")
            self.total_steps = epochs * steps_per_epoch
        else:
            raise ValueError("You must define either total_steps OR (epochs AND steps_per_epoch)")
        if three_phase:
            self._schedule_phases = [
                dict(end_step=float(pct_start * self.total_steps) - 1, start_lr="initial_lr",
                     end_lr="max_lr", start_momentum="max_momentum",
                     end_momentum="base_momentum"),
                dict(end_step=float(2 * pct_start * self.total_steps) - 2, start_lr="max_lr",
                     end_lr="initial_lr", start_momentum="base_momentum",
                     end_momentum="max_momentum"),
                dict(end_step=self.total_steps - 1, start_lr="initial_lr", end_lr="min_lr",
                     start_momentum="max_momentum", end_momentum="max_momentum"),
            ]
        else:
            self._schedule_phases = [
                dict(end_step=float(pct_start * self.total_steps) - 1, start_lr="initial_lr",
                     end_lr="max_lr", start_momentum="max_momentum",
                     end_momentum="base_momentum"),
                dict(end_step=self.total_steps - 1, start_lr="max_lr", end_lr="min_lr",
                     start_momentum="base_momentum", end_momentum="max_momentum"),
            ]
        if not isinstance(pct_start, float) or pct_start < 0 or pct_start > 1:
            raise ValueError(f"Expected float between 0 and 1 pct_start, but got {pct_start}")
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError("anneal_strategy must be one of 'cos' or 'linear', instead got "
                             f"{anneal_strategy}")
        self._anneal_func_type = anneal_strategy
        max_lrs = format_param(optimizer, "max_lr", max_lr)
        if last_epoch == -1:
            for m, group in zip(max_lrs, optimizer.param_groups):
                group["initial_lr"] = m / div_factor
                group["max_lr"] = m
                group["min_lr"] = group["initial_lr"] / final_div_factor
        self._init_momentum(optimizer, cycle_momentum, base_momentum, max_momentum, last_epoch)
        super().__init__(optimizer, last_epoch)

    def _anneal(self, start: float, end: float, pct: float) -> float:
        if self._anneal_func_type == "cos":
            return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)
        return (end - start) * pct + start

    def get_lr(self) -> list[float]:
        lrs = []
        step_num = self.last_epoch
        if step_num > self.total_steps:
            raise ValueError(f"Tried to step {step_num} times. The specified number of total "
                             f"steps is {self.total_steps}")
        for group in self.optimizer.param_groups:
            start_step = 0.0
            for i, phase in enumerate(self._schedule_phases):
                end_step = phase["end_step"]
                if step_num <= end_step or i == len(self._schedule_phases) - 1:
                    pct = (step_num - start_step) / (end_step - start_step)
                    lr = self._anneal(group[phase["start_lr"]], group[phase["end_lr"]], pct)
                    if self.cycle_momentum:
                        mom = self._anneal(group[phase["start_momentum"]],
                                           group[phase["end_momentum"]], pct)
                    break
                start_step = phase["end_step"]
            lrs.append(lr)
            if self.cycle_momentum:
                self._set_momentum(group, mom)
        return lrs


class CyclicLR(_CyclesMomentum):
    r"""Cyclical learning rates (Smith, 2017): the lr goes back and forth between ``base_lr``
    and ``max_lr``; momentum (or Adam's beta1) cycles inversely. Step it after every batch.

    With cycle :math:`c = \lfloor 1 + t / T \rfloor` (:math:`T` = ``step_size_up +
    step_size_down``) and position :math:`x = 1 + t / T - c` in it::

        s = x / r  if x <= r  else  (x - 1) / (r - 1)      (r = step_size_up / T)
        lr = base_lr + (max_lr - base_lr) * s * scale_fn(c or t)

    ``mode`` picks ``scale_fn``: ``'triangular'`` (1), ``'triangular2'`` (halved each cycle),
    ``'exp_range'`` (``gamma**t``, per iteration); a custom ``scale_fn`` overrides it, with
    ``scale_mode`` ``'cycle'`` or ``'iterations'`` choosing its argument.

    Args:
        optimizer: the wrapped optimizer (its lr is set to ``base_lr``).
        base_lr, max_lr: the cycle's bounds (a float or one per group).
        step_size_up: iterations of the rising half (default 2000).
        step_size_down: iterations of the falling half (default ``step_size_up``).
        mode: ``'triangular'``, ``'triangular2'`` or ``'exp_range'``.
        gamma: the base of ``'exp_range'`` (default 1.0).
        scale_fn, scale_mode: a custom amplitude policy and its argument.
        cycle_momentum: cycle momentum/beta1 between ``base_momentum`` and ``max_momentum``.
        base_momentum, max_momentum: momentum bounds (default 0.8, 0.9).
        last_epoch: index of the last batch (default -1).

    Example::

        >>> sched = CyclicLR(opt, base_lr=0.01, max_lr=0.1, step_size_up=len(loader) * 2)
    """

    def __init__(self, optimizer: Optimizer, base_lr, max_lr, step_size_up: int = 2000,
                 step_size_down: int | None = None, mode: str = "triangular",
                 gamma: float = 1.0, scale_fn=None, scale_mode: str = "cycle",
                 cycle_momentum: bool = True, base_momentum=0.8, max_momentum=0.9,
                 last_epoch: int = -1) -> None:
        _check_optimizer(optimizer)
        self.optimizer = optimizer
        base_lrs = format_param(optimizer, "base_lr", base_lr)
        if last_epoch == -1:
            for lr, group in zip(base_lrs, optimizer.param_groups):
                group["lr"] = lr
        self.max_lrs = format_param(optimizer, "max_lr", max_lr)
        step_size_up = float(step_size_up)
        step_size_down = float(step_size_down) if step_size_down is not None else step_size_up
        self.total_size = step_size_up + step_size_down
        self.step_ratio = step_size_up / self.total_size
        if mode not in ("triangular", "triangular2", "exp_range") and scale_fn is None:
            raise ValueError("CyclicLR: mode is invalid and scale_fn is None (expected "
                             f"'triangular', 'triangular2' or 'exp_range', got {mode!r})")
        self.mode = mode
        self.gamma = gamma
        self._scale_fn_custom = scale_fn
        self.scale_mode = scale_mode
        self._init_scale_fn()
        momenta = self._init_momentum(optimizer, cycle_momentum, base_momentum, max_momentum,
                                      last_epoch)
        if cycle_momentum:  # torch keeps these two attributes only when cycling
            self.base_momentums, self.max_momentums = momenta
        super().__init__(optimizer, last_epoch)
        self.base_lrs = base_lrs

    def _init_scale_fn(self) -> None:
        if self._scale_fn_custom is not None:
            return
        # the built-in policies fix their argument, whatever scale_mode says
        self.scale_mode = "iterations" if self.mode == "exp_range" else "cycle"

    def scale_fn(self, x: float) -> float:
        if self._scale_fn_custom is not None:
            return self._scale_fn_custom(x)
        if self.mode == "triangular2":
            return 1 / (2.0 ** (x - 1))
        if self.mode == "exp_range":
            return self.gamma ** x
        return 1.0

    def get_lr(self) -> list[float]:
        cycle = math.floor(1 + self.last_epoch / self.total_size)
        x = 1.0 + self.last_epoch / self.total_size - cycle
        if x <= self.step_ratio:
            scale_factor = x / self.step_ratio
        else:
            scale_factor = (x - 1) / (self.step_ratio - 1)
        arg = cycle if self.scale_mode == "cycle" else self.last_epoch
        lrs = [base + ((top - base) * scale_factor) * self.scale_fn(arg)
               for base, top in zip(self.base_lrs, self.max_lrs)]
        if self.cycle_momentum:
            for group, b, m in zip(self.optimizer.param_groups, self.base_momentums,
                                   self.max_momentums):
                self._set_momentum(group, m - ((m - b) * scale_factor) * self.scale_fn(arg))
        return lrs

    def state_dict(self) -> dict:
        """Every attribute but the optimizer; a custom ``scale_fn`` is kept only when it is a
        callable object (its ``__dict__``), as torch."""
        state = super().state_dict()
        fn = state.pop("_scale_fn_custom")
        state["_scale_fn_custom"] = None
        if fn is not None and not isinstance(fn, types.FunctionType):
            state["_scale_fn_custom"] = fn.__dict__.copy()
        return state

    def load_state_dict(self, state_dict: dict) -> None:
        state_dict = dict(state_dict)
        fn = state_dict.pop("_scale_fn_custom", None)
        super().load_state_dict(state_dict)
        if fn is not None and self._scale_fn_custom is not None:
            self._scale_fn_custom.__dict__.update(fn)
        self._init_scale_fn()
