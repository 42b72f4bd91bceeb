"""``NAdam``: Adam with Nesterov momentum and a momentum-decay schedule (Dozat, 2016)."""

from __future__ import annotations

from typing import Iterable

import numpy as np

from convnp.optim._flags import flag_defaults
from convnp.optim._functional import adam_moments_, bias_correction
from convnp.optim.optimizer import PerParameterOptimizer, check_hyperparameters, fresh_state
from convnp.tensor import Tensor


class NAdam(PerParameterOptimizer):
    r"""NAdam, PyTorch's update rule.

    For each parameter :math:`\theta` with gradient :math:`g` (negated when ``maximize``), at
    step :math:`t` with :math:`\psi` = ``momentum_decay``::

        g = g + weight_decay * theta        (or theta *= 1 - lr * weight_decay if decoupled)
        mu_t = beta1 * (1 - 0.5 * 0.96**(t * psi)); mu_{t+1} likewise
        P = P * mu_t                                        (mu_product)
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g**2
        d = sqrt(v / (1 - beta2**t)) + eps
        theta -= lr * (1 - mu_t) / (1 - P) * g / d + lr * mu_{t+1} / (1 - P * mu_{t+1}) * m / d

    Args:
        params: parameters or parameter-group dicts.
        lr: learning rate (default 2e-3).
        betas: coefficients of the running averages (default (0.9, 0.999)).
        eps: term added to the denominator (default 1e-8).
        weight_decay: weight decay (default 0).
        momentum_decay: the :math:`\psi` of the momentum schedule (default 4e-3).
        decoupled_weight_decay: decay the weights directly (NAdamW) instead of an L2 term.
        foreach, capturable, differentiable: torch's implementation choices (see
            :mod:`convnp.optim._flags`: ``foreach`` is a no-op on the CPU).
        maximize: maximize the objective instead of minimizing it.

    State per parameter: ``step``, ``mu_product`` (a 0-d float32 tensor, as torch keeps it),
    ``exp_avg``, ``exp_avg_sq``.

    Example::

        >>> opt = convnp.optim.NAdam(model.parameters())
    """

    def __init__(self, params: Iterable, lr: float = 2e-3, betas: tuple = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0, momentum_decay: float = 4e-3,
                 decoupled_weight_decay: bool = False, *, foreach: bool | None = None,
                 maximize: bool = False, capturable: bool = False,
                 differentiable: bool = False) -> None:
        check_hyperparameters(betas, lr=lr, eps=eps, weight_decay=weight_decay,
                              momentum_decay=momentum_decay)
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                        momentum_decay=momentum_decay,
                        decoupled_weight_decay=decoupled_weight_decay, maximize=maximize,
                        **flag_defaults(foreach=foreach, capturable=capturable,
                                        differentiable=differentiable))
        super().__init__(params, defaults)

    def _init_state(self, p: Tensor, group: dict) -> dict:
        return fresh_state(p, mu_product=np.ones((), np.float32), exp_avg=0, exp_avg_sq=0)

    def _update(self, p: Tensor, g: np.ndarray, group: dict) -> None:
        state, step = self._state(p, group)
        beta1, beta2 = group["betas"]
        lr, psi = group["lr"], group["momentum_decay"]
        mu = beta1 * (1.0 - 0.5 * 0.96 ** (step * psi))
        mu_next = beta1 * (1.0 - 0.5 * 0.96 ** ((step + 1) * psi))
        # the product is kept in float32 like torch's 0-d state tensor
        mp = state["mu_product"].array
        mp *= mu
        mu_product = float(mp)
        m, v = adam_moments_(state, g, group["betas"])
        denom = np.sqrt(v / bias_correction(beta2, step))
        denom += group["eps"]
        p.array += (-lr * (1.0 - mu) / (1.0 - mu_product)) * (g / denom)
        p.array += (-lr * mu_next / (1.0 - mu_product * mu_next)) * (m / denom)
