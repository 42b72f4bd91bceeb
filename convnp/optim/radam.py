"""``RAdam``: Adam with a rectified adaptive learning rate (Liu et al., 2019)."""

from __future__ import annotations

import math
from typing import Callable, Iterable

import numpy as np

from convnp.autograd.grad_mode import no_grad
from convnp.optim._flags import check_flags, flag_defaults
from convnp.optim.optimizer import Optimizer, _bump, _check, _step_tensor, decayed_grad
from convnp.tensor import Tensor


class RAdam(Optimizer):
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
        _check(lr >= 0.0, f"Invalid learning rate: {lr}")
        _check(eps >= 0.0, f"Invalid epsilon value: {eps}")
        _check(0.0 <= betas[0] < 1.0, f"Invalid beta parameter at index 0: {betas[0]}")
        _check(0.0 <= betas[1] < 1.0, f"Invalid beta parameter at index 1: {betas[1]}")
        _check(weight_decay >= 0.0, f"Invalid weight_decay value: {weight_decay}")
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                        decoupled_weight_decay=decoupled_weight_decay, maximize=maximize,
                        **flag_defaults(foreach=foreach, capturable=capturable,
                                        differentiable=differentiable))
        super().__init__(params, defaults)

    def step(self, closure: Callable | None = None):
        """Perform one RAdam step; returns ``closure()``'s loss when a closure is given."""
        loss = self._closure(closure)
        with no_grad():
            for group in self.param_groups:
                check_flags("RAdam", group)
                beta1, beta2 = group["betas"]
                lr, eps, wd = group["lr"], group["eps"], group["weight_decay"]
                for p, grad in self._params_with_grad(group):
                    state = self.state.setdefault(p, {})
                    if not state:
                        state["step"] = _step_tensor()
                        state["exp_avg"] = Tensor._wrap(np.zeros_like(p.array))
                        state["exp_avg_sq"] = Tensor._wrap(np.zeros_like(p.array))
                    step = _bump(state)
                    g = decayed_grad(p, grad, group["maximize"], wd, lr,
                                     group["decoupled_weight_decay"])
                    m, v = state["exp_avg"].array, state["exp_avg_sq"].array
                    m += (1 - beta1) * (g - m)  # torch's lerp_
                    v *= beta2
                    v += (1 - beta2) * (g * g)
                    bias_correction1 = 1 - beta1 ** step
                    bias_correction2 = 1 - beta2 ** step
                    m_hat = m / bias_correction1
                    rho_inf = 2 / (1 - beta2) - 1
                    rho_t = rho_inf - 2 * step * (beta2 ** step) / bias_correction2
                    if rho_t > 5.0:
                        rect = math.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf
                                         / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
                        adaptive = bias_correction2 ** 0.5 / (np.sqrt(v) + eps)
                        p.array -= m_hat * lr * adaptive * rect
                    else:
                        p.array -= m_hat * lr
        return loss
