"""``Adagrad``: per-coordinate learning rates from the accumulated squared gradients."""

from __future__ import annotations

from typing import Iterable

import numpy as np

from convnp.optim._flags import flag_defaults
from convnp.optim.optimizer import PerParameterOptimizer, check_hyperparameters, fresh_state
from convnp.tensor import Tensor


class Adagrad(PerParameterOptimizer):
    r"""Adagrad (Duchi et al.), PyTorch's update rule.

    For each parameter :math:`\theta` with gradient :math:`g` (negated when ``maximize``), at
    step :math:`t`::

        g = g + weight_decay * theta
        clr = lr / (1 + (t - 1) * lr_decay)
        s = s + g**2                     (s starts at initial_accumulator_value)
        theta = theta - clr * g / (sqrt(s) + eps)

    Args:
        params: parameters or parameter-group dicts.
        lr: learning rate (default 1e-2).
        lr_decay: learning-rate decay (default 0).
        weight_decay: L2 penalty (default 0).
        initial_accumulator_value: starting value of the accumulator ``sum`` (default 0).
        eps: term added to the denominator (default 1e-10).
        maximize: maximize the objective instead of minimizing it.
        foreach, differentiable, fused: torch's implementation choices (see
            :mod:`convnp.optim._flags`: ``foreach`` and ``fused`` are no-ops on the CPU).

    State per parameter (created at construction, like torch): ``step`` and ``sum``.

    Example::

        >>> opt = convnp.optim.Adagrad(model.parameters(), lr=1e-2)
    """

    def __init__(self, params: Iterable, lr: float = 1e-2, lr_decay: float = 0,
                 weight_decay: float = 0, initial_accumulator_value: float = 0,
                 eps: float = 1e-10, foreach: bool | None = None, *, maximize: bool = False,
                 differentiable: bool = False, fused: bool | None = None) -> None:
        check_hyperparameters(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                              initial_accumulator_value=initial_accumulator_value, eps=eps)
        defaults = dict(lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value,
                        maximize=maximize,
                        **flag_defaults(foreach=foreach, differentiable=differentiable,
                                        fused=fused))
        super().__init__(params, defaults)
        for group in self.param_groups:
            for p in group["params"]:
                self.state[p] = self._init_state(p, group)

    def _init_state(self, p: Tensor, group: dict) -> dict:
        return fresh_state(p, sum=group["initial_accumulator_value"])

    def _update(self, p: Tensor, g: np.ndarray, group: dict) -> None:
        state, step = self._state(p, group)  # groups added later get their state here
        clr = group["lr"] / (1 + (step - 1) * group["lr_decay"])
        s = state["sum"].array
        s += 1 * g * g
        std = np.sqrt(s)
        std += group["eps"]
        p.array += -clr * (g / std)
