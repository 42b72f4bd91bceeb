"""``Adamax``: Adam with the infinity norm in place of the second moment."""

from __future__ import annotations

from typing import Iterable

import numpy as np

from convnp.optim._flags import flag_defaults
from convnp.optim._functional import bias_correction, lerp_
from convnp.optim.optimizer import PerParameterOptimizer, check_hyperparameters
from convnp.tensor import Tensor


class Adamax(PerParameterOptimizer):
    r"""Adamax (Kingma & Ba, section 7), PyTorch's update rule.

    For each parameter :math:`\theta` with gradient :math:`g` (negated when ``maximize``), at
    step :math:`t`::

        g = g + weight_decay * theta
        m = beta1 * m + (1 - beta1) * g                   (exp_avg)
        u = max(beta2 * u, |g| + eps)                     (exp_inf)
        theta = theta - lr / (1 - beta1**t) * m / u

    Args:
        params: parameters or parameter-group dicts.
        lr: learning rate (default 2e-3).
        betas: coefficients of the running average and of the infinity norm (default
            (0.9, 0.999)).
        eps: term added to ``|g|`` (default 1e-8).
        weight_decay: L2 penalty (default 0).
        foreach, capturable, differentiable: torch's implementation choices (see
            :mod:`convnp.optim._flags`: ``foreach`` is a no-op on the CPU).
        maximize: maximize the objective instead of minimizing it.

    State per parameter: ``step``, ``exp_avg``, ``exp_inf``.

    Example::

        >>> opt = convnp.optim.Adamax(model.parameters())
    """

    def __init__(self, params: Iterable, lr: float = 2e-3, betas: tuple = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0, foreach: bool | None = None, *,
                 maximize: bool = False, differentiable: bool = False,
                 capturable: bool = False) -> None:
        check_hyperparameters(betas, lr=lr, eps=eps, weight_decay=weight_decay)
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                        maximize=maximize,
                        **flag_defaults(foreach=foreach, capturable=capturable,
                                        differentiable=differentiable))
        super().__init__(params, defaults)

    _zero_buffers = ("exp_avg", "exp_inf")

    def _update(self, p: Tensor, g: np.ndarray, group: dict) -> None:
        state, step = self._state(p, group)
        beta1, beta2 = group["betas"]
        m, u = state["exp_avg"].array, state["exp_inf"].array
        lerp_(m, g, 1 - beta1)
        u *= beta2
        np.maximum(u, np.abs(g) + group["eps"], out=u)
        clr = group["lr"] / bias_correction(beta1, step)
        p.array += -clr * (m / u)
