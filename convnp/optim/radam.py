"""``RAdam``: Adam with a rectified adaptive learning rate (Liu et al., 2019)."""

from __future__ import annotations

import math
from typing import Iterable

import numpy as np

from convnp.optim._flags import flag_defaults
from convnp.optim._functional import adam_moments_, bias_correction
from convnp.optim.optimizer import PerParameterOptimizer, check_hyperparameters
from convnp.tensor import Tensor


class RAdam(PerParameterOptimizer):
    r"""RAdam, PyTorch's update rule.

    For each parameter :math:`\theta` with gradient :math:`g` (negated when ``maximize``), at
    step :math:`t`::

        g = g + weight_decay * theta        (or theta *= 1 - lr * weight_decay if decoupled)
        m = beta1 * m + (1 - beta1) * g;  v = beta2 * v + (1 - beta2) * g**2
        rho_inf = 2 / (1 - beta2) - 1
        rho_t = rho_inf - 2 t beta2**t / (1 - beta2**t)
        if rho_t > 5:
            r = sqrt((rho_t - 4)(rho_t - 2) rho_inf / ((rho_inf - 4)(rho_inf - 2) rho_t))
            theta -= lr * m / (1 - beta1**t) * r * sqrt(1 - beta2**t) / (sqrt(v) + eps)
        else:
            theta -= lr * m / (1 - beta1**t)

    Args:
        params: parameters or parameter-group dicts.
        lr: learning rate (default 1e-3).
        betas: coefficients of the running averages (default (0.9, 0.999)).
        eps: term added to the denominator (default 1e-8).
        weight_decay: weight decay (default 0).
        decoupled_weight_decay: decay the weights directly (RAdamW) instead of an L2 term.
        foreach, capturable, differentiable: torch's implementation choices (see
            :mod:`convnp.optim._flags`: ``foreach`` is a no-op on the CPU).
        maximize: maximize the objective instead of minimizing it.

    State per parameter: ``step``, ``exp_avg``, ``exp_avg_sq``.

    Example::

        >>> opt = convnp.optim.RAdam(model.parameters())
    """

    def __init__(self, params: Iterable, lr: float = 1e-3, betas: tuple = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0,
                 decoupled_weight_decay: bool = False, *, foreach: bool | None = None,
                 maximize: bool = False, capturable: bool = False,
                 differentiable: bool = False) -> None:
        check_hyperparameters(betas, lr=lr, eps=eps, weight_decay=weight_decay)
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                        decoupled_weight_decay=decoupled_weight_decay, maximize=maximize,
                        **flag_defaults(foreach=foreach, capturable=capturable,
                                        differentiable=differentiable))
        super().__init__(params, defaults)

    _zero_buffers = ("exp_avg", "exp_avg_sq")

    def _update(self, p: Tensor, g: np.ndarray, group: dict) -> None:
        state, step = self._state(p, group)
        beta1, beta2 = group["betas"]
        m, v = adam_moments_(state, g, group["betas"])
        bias_correction2 = bias_correction(beta2, step)
        m_hat = m / bias_correction(beta1, step)
        rho_inf = 2 / (1 - beta2) - 1
        rho_t = rho_inf - 2 * step * (beta2 ** step) / bias_correction2
        if rho_t > 5.0:
            rect = math.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf
                             / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
            adaptive = bias_correction2 ** 0.5 / (np.sqrt(v) + group["eps"])
            p.array -= m_hat * group["lr"] * adaptive * rect
        else:
            p.array -= m_hat * group["lr"]
