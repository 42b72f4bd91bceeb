"""``Adamax``: Adam with the infinity norm in place of the second moment."""

from __future__ import annotations

from typing import Callable, Iterable

import numpy as np

from convnp.autograd.grad_mode import no_grad
from convnp.optim._flags import check_flags, flag_defaults
from convnp.optim.optimizer import Optimizer, _bump, _check, _step_tensor, decayed_grad
from convnp.tensor import Tensor


class Adamax(Optimizer):
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
        _check(lr >= 0.0, f"Invalid learning rate: {lr}")
        _check(eps >= 0.0, f"Invalid epsilon value: {eps}")
        _check(0.0 <= betas[0] < 1.0, f"Invalid beta parameter at index 0: {betas[0]}")
        _check(0.0 <= betas[1] < 1.0, f"Invalid beta parameter at index 1: {betas[1]}")
        _check(weight_decay >= 0.0, f"Invalid weight_decay value: {weight_decay}")
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                        maximize=maximize,
                        **flag_defaults(foreach=foreach, capturable=capturable,
                                        differentiable=differentiable))
        super().__init__(params, defaults)

    def step(self, closure: Callable | None = None):
        """Perform one Adamax step; returns ``closure()``'s loss when a closure is given."""
        loss = self._closure(closure)
        with no_grad():
            for group in self.param_groups:
                check_flags("Adamax", group)
                beta1, beta2 = group["betas"]
                lr, eps, wd = group["lr"], group["eps"], group["weight_decay"]
                for p, grad in self._params_with_grad(group):
                    state = self.state.setdefault(p, {})
                    if not state:
                        state["step"] = _step_tensor()
                        state["exp_avg"] = Tensor._wrap(np.zeros_like(p.array))
                        state["exp_inf"] = Tensor._wrap(np.zeros_like(p.array))
                    step = _bump(state)
                    g = decayed_grad(p, grad, group["maximize"], wd)
                    m, u = state["exp_avg"].array, state["exp_inf"].array
                    m += (1 - beta1) * (g - m)  # torch's lerp_
                    u *= beta2
                    np.maximum(u, np.abs(g) + eps, out=u)
                    clr = lr / (1 - beta1 ** step)
                    p.array += -clr * (m / u)
        return loss
