"""Schedulers made of schedulers: SequentialLR (one after the other) and ChainedScheduler
(all together)."""

from __future__ import annotations

import warnings
from bisect import bisect_right

from convnp.optim.lr_scheduler._base import LRScheduler
from convnp.optim.lr_scheduler._plateau import ReduceLROnPlateau
from convnp.optim.optimizer import Optimizer


class _SchedulerGroup(LRScheduler):
    """What SequentialLR and ChainedScheduler share: torch's checks of the schedulers they hold,
    and a state_dict that nests each held scheduler's own."""

    def _hold(self, schedulers: list, optimizer: Optimizer) -> None:
        name = type(self).__name__
        for i, s in enumerate(schedulers):
            if not hasattr(s, "optimizer"):
                raise TypeError(f"{name} at index {i} should have `optimizer` as its attribute.")
            if isinstance(s, ReduceLROnPlateau):
                raise ValueError(f"{name} does not support `ReduceLROnPlateau` scheduler as it "
                                 "requires additional kwargs to be specified when calling `step`, "
                                 f"but got one at index {i} in the given schedulers sequence.")
            if s.optimizer is not optimizer:
                raise ValueError(f"{name} expects all schedulers to belong to the same "
                                 f"optimizer, but got scheduler {type(s).__name__} at index {i} "
                                 "with a different optimizer")
        self._schedulers = schedulers
        self.optimizer = optimizer

    _items = "_schedulers"

    def _save_item(self, scheduler) -> dict:
        return scheduler.state_dict()

    def _load_item(self, scheduler, saved: dict) -> None:
        scheduler.load_state_dict(saved)


class SequentialLR(_SchedulerGroup):
    """Run ``schedulers`` one after the other, switching at the epochs in ``milestones``.

    Args:
        optimizer: the wrapped optimizer (shared by every scheduler).
        schedulers: the schedulers, in order.
        milestones: the epochs at which the next scheduler takes over (one fewer than
            schedulers).
        last_epoch: index of the last epoch (default -1).

    Example::

        >>> warm = LinearLR(opt, start_factor=0.1, total_iters=5)
        >>> cos = CosineAnnealingLR(opt, T_max=95)
        >>> sched = SequentialLR(opt, [warm, cos], milestones=[5])
    """

    def __init__(self, optimizer: Optimizer, schedulers: list, milestones: list[int],
                 last_epoch: int = -1) -> None:
        if len(schedulers) < 1:
            raise ValueError("SequentialLR expects at least one scheduler, but got no scheduler.")
        self._hold(schedulers, optimizer)
        if len(milestones) != len(schedulers) - 1:
            raise ValueError("Sequential Schedulers expects number of schedulers provided to be "
                             "one more than the number of milestone points, but got number of "
                             f"schedulers {len(schedulers)} and the number of milestones to be "
                             f"equal to {len(milestones)}")
        self._milestones = milestones
        self.last_epoch = last_epoch + 1
        for group in self.optimizer.param_groups:
            group["lr"] = group["initial_lr"]
        for s in schedulers:  # undo the initial step each scheduler took on creation
            s.last_epoch -= 1
        idx = bisect_right(self._milestones, 0)
        self._schedulers[idx]._initial_step()
        self._last_lr = schedulers[idx].get_last_lr()

    def step(self) -> None:  # type: ignore[override]
        self.last_epoch += 1
        idx = bisect_right(self._milestones, self.last_epoch)
        scheduler = self._schedulers[idx]
        if idx > 0 and self._milestones[idx - 1] == self.last_epoch:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                scheduler._update_lr(0)
        else:
            scheduler.step()
        self._last_lr = scheduler.get_last_lr()


class ChainedScheduler(_SchedulerGroup):
    """Step several schedulers together, every epoch (their multiplicative effects compose).

    Args:
        schedulers: the chained schedulers (all on the same optimizer).
        optimizer: the wrapped optimizer (default: the first scheduler's).

    Example::

        >>> sched = ChainedScheduler([ConstantLR(opt, 0.1, 2), ExponentialLR(opt, 0.9)])
    """

    def __init__(self, schedulers: list, optimizer: Optimizer | None = None) -> None:
        if len(schedulers) < 1:
            raise ValueError("ChainedScheduler expects at least one scheduler to be chained, "
                             "but got no scheduler.")
        self._hold(schedulers, optimizer or schedulers[0].optimizer)
        self._last_lr = self._lrs()

    def step(self) -> None:  # type: ignore[override]
        for s in self._schedulers:
            s.step()
        self._last_lr = self._lrs()
