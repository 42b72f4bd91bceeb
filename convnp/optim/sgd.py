"""``SGD``: stochastic gradient descent with momentum, dampening, Nesterov and weight decay."""

from __future__ import annotations

from typing import Iterable

import numpy as np

from convnp.optim._flags import flag_defaults
from convnp.optim.optimizer import PerParameterOptimizer, check_hyperparameters
from convnp.tensor import Tensor


class SGD(PerParameterOptimizer):
    r"""Stochastic gradient descent (optionally with momentum), PyTorch's update rule.

    For each parameter :math:`\theta` with gradient :math:`g` (negated when ``maximize``)::

        g = g + weight_decay * theta
        b = g                                  (first step)
        b = momentum * b + (1 - dampening) * g (later steps)
        g = g + momentum * b  if nesterov else  b
        theta = theta - lr * g

    Args:
        params: parameters or parameter-group dicts.
        lr: learning rate (default 1e-3).
        momentum: momentum factor (default 0).
        dampening: dampening of the momentum (default 0).
        weight_decay: L2 penalty (default 0).
        nesterov: Nesterov momentum (needs momentum > 0 and dampening 0).
        maximize: maximize the objective instead of minimizing it.
        foreach, differentiable, fused: torch's implementation choices (see
            :mod:`convnp.optim._flags`: ``foreach`` and ``fused`` are no-ops on the CPU).

    State per parameter: ``momentum_buffer`` (only when momentum is non-zero).

    Example::

        >>> opt = convnp.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        >>> opt.zero_grad(); loss_fn(model(x), y).backward(); opt.step()
    """

    def __init__(self, params: Iterable, lr: float = 1e-3, momentum: float = 0,
                 dampening: float = 0, weight_decay: float = 0, nesterov: bool = False, *,
                 maximize: bool = False, foreach: bool | None = None,
                 differentiable: bool = False, fused: bool | None = None) -> None:
        check_hyperparameters(lr=lr, momentum=momentum, weight_decay=weight_decay)
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening,
                        weight_decay=weight_decay, nesterov=nesterov, maximize=maximize,
                        **flag_defaults(foreach=foreach, differentiable=differentiable,
                                        fused=fused))
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        super().__init__(params, defaults)

    def __setstate__(self, state: dict) -> None:
        super().__setstate__(state)
        for group in self.param_groups:
            group.setdefault("nesterov", False)
            group.setdefault("maximize", False)

    def _update(self, p: Tensor, g: np.ndarray, group: dict) -> None:
        momentum = group["momentum"]
        if momentum != 0:
            # torch keeps no state at all without momentum, and starts the buffer at g
            state = self.state.setdefault(p, {})
            buf = state.get("momentum_buffer")
            if buf is None:
                state["momentum_buffer"] = buf = Tensor._wrap(np.array(g, copy=True))
            else:
                b = buf.array
                b *= momentum
                b += (1 - group["dampening"]) * g
            g = g + momentum * buf.array if group["nesterov"] else buf.array
        p.array -= group["lr"] * g
