"""``Adagrad``: per-coordinate learning rates from the accumulated squared gradients."""

from __future__ import annotations

from typing import Callable, Iterable

import numpy as np

from convnp.autograd.grad_mode import no_grad
from convnp.optim._flags import check_flags, flag_defaults
from convnp.optim.optimizer import Optimizer, _bump, _check, _step_tensor, decayed_grad
from convnp.tensor import Tensor


class Adagrad(Optimizer):
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
        _check(lr >= 0.0, f"Invalid learning rate: {lr}")
        _check(lr_decay >= 0.0, f"Invalid lr_decay value: {lr_decay}")
        _check(weight_decay >= 0.0, f"Invalid weight_decay value: {weight_decay}")
        _check(initial_accumulator_value >= 0.0,
               f"Invalid initial_accumulator_value value: {initial_accumulator_value}")
        _check(eps >= 0.0, f"Invalid epsilon value: {eps}")
        defaults = dict(lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value,
                        maximize=maximize,
                        **flag_defaults(foreach=foreach, differentiable=differentiable,
                                        fused=fused))
        super().__init__(params, defaults)
        for group in self.param_groups:
            for p in group["params"]:
                self._init_state(p, group)

    def _init_state(self, p: Tensor, group: dict) -> None:
        state = self.state.setdefault(p, {})
        if not state:
            state["step"] = _step_tensor()
            state["sum"] = Tensor._wrap(
                np.full_like(p.array, group["initial_accumulator_value"]))

    def step(self, closure: Callable | None = None):
        """Perform one Adagrad step; returns ``closure()``'s loss when a closure is given."""
        loss = self._closure(closure)
        with no_grad():
            for group in self.param_groups:
                check_flags("Adagrad", group)
                lr, lr_decay, eps = group["lr"], group["lr_decay"], group["eps"]
                wd = group["weight_decay"]
                for p, grad in self._params_with_grad(group):
                    self._init_state(p, group)  # groups added later get their state here
                    state = self.state[p]
                    step = _bump(state)
                    g = decayed_grad(p, grad, group["maximize"], wd)
                    clr = lr / (1 + (step - 1) * lr_decay)
                    s = state["sum"].array
                    s += 1 * g * g
                    std = np.sqrt(s)
                    std += eps
                    p.array += -clr * (g / std)
        return loss
