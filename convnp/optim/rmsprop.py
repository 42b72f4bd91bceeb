"""``RMSprop``: gradient scaled by a running root-mean-square, optionally centered/momentum."""

from __future__ import annotations

from typing import Iterable

import numpy as np

from convnp.optim._flags import flag_defaults
from convnp.optim._functional import average_square_, lerp_
from convnp.optim.optimizer import PerParameterOptimizer, check_hyperparameters, fresh_state
from convnp.tensor import Tensor


class RMSprop(PerParameterOptimizer):
    r"""RMSprop (Hinton), PyTorch's update rule.

    For each parameter :math:`\theta` with gradient :math:`g` (negated when ``maximize``)::

        g = g + weight_decay * theta
        v = alpha * v + (1 - alpha) * g**2
        a = alpha * a + (1 - alpha) * g                (centered)
        d = sqrt(v - a**2) + eps  if centered  else  sqrt(v) + eps
        b = momentum * b + g / d; theta -= lr * b       (momentum > 0)
        theta -= lr * g / d                             (otherwise)

    Args:
        params: parameters or parameter-group dicts.
        lr: learning rate (default 1e-2).
        alpha: smoothing constant (default 0.99).
        eps: term added to the denominator (default 1e-8).
        weight_decay: L2 penalty (default 0).
        momentum: momentum factor (default 0).
        centered: normalise by an estimate of the gradient's variance.
        maximize: maximize the objective instead of minimizing it.
        capturable, foreach, differentiable: torch's implementation choices (see
            :mod:`convnp.optim._flags`: ``foreach`` is a no-op on the CPU).

    State per parameter: ``step``, ``square_avg``, ``momentum_buffer`` (momentum > 0),
    ``grad_avg`` (centered).

    Example::

        >>> opt = convnp.optim.RMSprop(model.parameters(), lr=1e-2, momentum=0.9)
    """

    def __init__(self, params: Iterable, lr: float = 1e-2, alpha: float = 0.99,
                 eps: float = 1e-8, weight_decay: float = 0, momentum: float = 0,
                 centered: bool = False, capturable: bool = False,
                 foreach: bool | None = None, maximize: bool = False,
                 differentiable: bool = False) -> None:
        check_hyperparameters(lr=lr, eps=eps, momentum=momentum, weight_decay=weight_decay,
                              alpha=alpha)
        defaults = dict(lr=lr, momentum=momentum, alpha=alpha, eps=eps, centered=centered,
                        weight_decay=weight_decay, maximize=maximize,
                        **flag_defaults(foreach=foreach, capturable=capturable,
                                        differentiable=differentiable))
        super().__init__(params, defaults)

    def _init_state(self, p: Tensor, group: dict) -> dict:
        extra = {"momentum_buffer": 0} if group["momentum"] > 0 else {}
        if group["centered"]:
            extra["grad_avg"] = 0
        return fresh_state(p, square_avg=0, **extra)

    def _update(self, p: Tensor, g: np.ndarray, group: dict) -> None:
        state, _ = self._state(p, group)
        alpha, momentum = group["alpha"], group["momentum"]
        v = state["square_avg"].array
        average_square_(v, g, alpha)
        if group["centered"]:
            a = state["grad_avg"].array
            lerp_(a, g, 1 - alpha)
            avg = np.sqrt(v + -1 * a * a)
        else:
            avg = np.sqrt(v)
        avg += group["eps"]
        if momentum > 0:
            b = state["momentum_buffer"].array
            b *= momentum
            b += g / avg
            p.array -= group["lr"] * b
        else:
            p.array += -group["lr"] * (g / avg)
