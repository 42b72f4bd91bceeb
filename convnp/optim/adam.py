"""``Adam`` and ``AdamW``: adaptive moment estimation, with L2 or decoupled weight decay."""

from __future__ import annotations

import math
from typing import Iterable

import numpy as np

from convnp.optim._flags import flag_defaults
from convnp.optim._functional import adam_moments_, bias_correction
from convnp.optim.optimizer import PerParameterOptimizer, check_hyperparameters, fresh_state
from convnp.tensor import Tensor


class Adam(PerParameterOptimizer):
    r"""Adam (Kingma & Ba), PyTorch's update rule.

    For each parameter :math:`\theta` with gradient :math:`g` (negated when ``maximize``), at
    step :math:`t`::

        g = g + weight_decay * theta          (or theta *= 1 - lr * weight_decay if decoupled)
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g**2
        v_max = max(v_max, v)                 (amsgrad; used instead of v below)
        theta = theta - lr / (1 - beta1**t) * m / (sqrt(v) / sqrt(1 - beta2**t) + eps)

    Args:
        params: parameters or parameter-group dicts.
        lr: learning rate (default 1e-3).
        betas: coefficients of the running averages of the gradient and its square
            (default (0.9, 0.999)).
        eps: term added to the denominator (default 1e-8).
        weight_decay: L2 penalty (default 0).
        amsgrad: use the AMSGrad variant (the maximum of past second moments).
        maximize: maximize the objective instead of minimizing it.
        decoupled_weight_decay: apply weight decay to the weights directly (AdamW).
        foreach, capturable, differentiable, fused: torch's implementation choices (see
            :mod:`convnp.optim._flags`: ``foreach`` and ``fused`` are no-ops on the CPU).

    State per parameter: ``step``, ``exp_avg``, ``exp_avg_sq`` and ``max_exp_avg_sq``
    (amsgrad).

    Example::

        >>> opt = convnp.optim.Adam(model.parameters(), lr=1e-3)
    """

    def __init__(self, params: Iterable, lr: float = 1e-3, betas: tuple = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0, amsgrad: bool = False, *,
                 foreach: bool | None = None, maximize: bool = False,
                 capturable: bool = False, differentiable: bool = False,
                 fused: bool | None = None, decoupled_weight_decay: bool = False) -> None:
        check_hyperparameters(betas, lr=lr, eps=eps, weight_decay=weight_decay)
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                        amsgrad=amsgrad, maximize=maximize,
                        decoupled_weight_decay=decoupled_weight_decay,
                        **flag_defaults(foreach=foreach, capturable=capturable,
                                        differentiable=differentiable, fused=fused))
        super().__init__(params, defaults)

    def _init_state(self, p: Tensor, group: dict) -> dict:
        extra = {"max_exp_avg_sq": 0} if group["amsgrad"] else {}
        return fresh_state(p, exp_avg=0, exp_avg_sq=0, **extra)

    def _update(self, p: Tensor, g: np.ndarray, group: dict) -> None:
        state, step = self._state(p, group)
        beta1, beta2 = group["betas"]
        m, v = adam_moments_(state, g, group["betas"])
        if group["amsgrad"]:
            vmax = state["max_exp_avg_sq"].array
            np.maximum(vmax, v, out=vmax)
            v = vmax
        step_size = group["lr"] / bias_correction(beta1, step)
        denom = np.sqrt(v) / math.sqrt(bias_correction(beta2, step)) + group["eps"]
        p.array += -step_size * (m / denom)


class AdamW(Adam):
    r"""Adam with decoupled weight decay (Loshchilov & Hutter): ``theta *= 1 - lr *
    weight_decay`` before the Adam update, instead of adding an L2 term to the gradient.

    Args: as :class:`Adam`, with ``weight_decay`` defaulting to 1e-2.

    Example::

        >>> opt = convnp.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.01)
    """

    def __init__(self, params: Iterable, lr: float = 1e-3, betas: tuple = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 1e-2, amsgrad: bool = False, *,
                 maximize: bool = False, foreach: bool | None = None,
                 capturable: bool = False, differentiable: bool = False,
                 fused: bool | None = None) -> None:
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                         amsgrad=amsgrad, foreach=foreach, maximize=maximize,
                         capturable=capturable, differentiable=differentiable, fused=fused,
                         decoupled_weight_decay=True)
