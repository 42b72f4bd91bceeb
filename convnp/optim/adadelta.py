"""``Adadelta``: per-coordinate step sizes from running averages of squared gradients and
squared updates (Zeiler, 2012)."""

from __future__ import annotations

from typing import Iterable

import numpy as np

from convnp.optim._flags import flag_defaults
from convnp.optim._functional import average_square_
from convnp.optim.optimizer import PerParameterOptimizer, check_hyperparameters
from convnp.tensor import Tensor


class Adadelta(PerParameterOptimizer):
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
        check_hyperparameters(lr=lr)
        if not 0.0 <= rho <= 1.0:
            raise ValueError(f"Invalid rho value: {rho}")
        check_hyperparameters(eps=eps, weight_decay=weight_decay)
        defaults = dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize,
                        **flag_defaults(foreach=foreach, capturable=capturable,
                                        differentiable=differentiable))
        super().__init__(params, defaults)

    _zero_buffers = ("square_avg", "acc_delta")

    def _update(self, p: Tensor, g: np.ndarray, group: dict) -> None:
        state, _ = self._state(p, group)
        rho, eps = group["rho"], group["eps"]
        v, u = state["square_avg"].array, state["acc_delta"].array
        average_square_(v, g, rho)
        delta = np.sqrt(u + eps) / np.sqrt(v + eps) * g
        average_square_(u, delta, rho)
        p.array += -group["lr"] * delta
