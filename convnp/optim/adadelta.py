"""``Adadelta``: per-coordinate step sizes from running averages of squared gradients and
squared updates (Zeiler, 2012)."""

from __future__ import annotations

from typing import Callable, Iterable

import numpy as np

from convnp.autograd.grad_mode import no_grad
from convnp.optim._flags import check_flags, flag_defaults
from convnp.optim.optimizer import Optimizer, _bump, _check, _step_tensor, decayed_grad
from convnp.tensor import Tensor


class Adadelta(Optimizer):
    r"""Adadelta, PyTorch's update rule.

    For each parameter :math:`\theta` with gradient :math:`g` (negated when ``maximize``)::

        g = g + weight_decay * theta
        v = rho * v + (1 - rho) * g**2                       (square_avg)
        d = sqrt(u + eps) / sqrt(v + eps) * g                 (the update)
        u = rho * u + (1 - rho) * d**2                        (acc_delta)
        theta = theta - lr * d

    Args:
        params: parameters or parameter-group dicts.
        lr: coefficient that scales the update (default 1.0).
        rho: coefficient of the running averages (default 0.9).
        eps: term added inside both square roots (default 1e-6).
        weight_decay: L2 penalty (default 0).
        foreach, capturable, differentiable: torch's implementation choices (see
            :mod:`convnp.optim._flags`: ``foreach`` is a no-op on the CPU).
        maximize: maximize the objective instead of minimizing it.

    State per parameter: ``step``, ``square_avg``, ``acc_delta``.

    Example::

        >>> opt = convnp.optim.Adadelta(model.parameters(), lr=1.0)
    """

    def __init__(self, params: Iterable, lr: float = 1.0, rho: float = 0.9, eps: float = 1e-6,
                 weight_decay: float = 0, foreach: bool | None = None, *,
                 capturable: bool = False, maximize: bool = False,
                 differentiable: bool = False) -> None:
        _check(lr >= 0.0, f"Invalid learning rate: {lr}")
        _check(0.0 <= rho <= 1.0, f"Invalid rho value: {rho}")
        _check(eps >= 0.0, f"Invalid epsilon value: {eps}")
        _check(weight_decay >= 0.0, f"Invalid weight_decay value: {weight_decay}")
        defaults = dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize,
                        **flag_defaults(foreach=foreach, capturable=capturable,
                                        differentiable=differentiable))
        super().__init__(params, defaults)

    def step(self, closure: Callable | None = None):
        """Perform one Adadelta step; returns ``closure()``'s loss when a closure is given."""
        loss = self._closure(closure)
        with no_grad():
            for group in self.param_groups:
                check_flags("Adadelta", group)
                lr, rho, eps, wd = group["lr"], group["rho"], group["eps"], group["weight_decay"]
                for p, grad in self._params_with_grad(group):
                    state = self.state.setdefault(p, {})
                    if not state:
                        state["step"] = _step_tensor()
                        state["square_avg"] = Tensor._wrap(np.zeros_like(p.array))
                        state["acc_delta"] = Tensor._wrap(np.zeros_like(p.array))
                    _bump(state)
                    g = decayed_grad(p, grad, group["maximize"], wd)
                    v, u = state["square_avg"].array, state["acc_delta"].array
                    v *= rho
                    v += (1 - rho) * (g * g)
                    delta = np.sqrt(u + eps) / np.sqrt(v + eps) * g
                    u *= rho
                    u += (1 - rho) * (delta * delta)
                    p.array += -lr * delta
        return loss
