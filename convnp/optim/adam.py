"""``Adam`` and ``AdamW``: adaptive moment estimation, with L2 or decoupled weight decay."""

from __future__ import annotations

import math
from typing import Callable, Iterable

import numpy as np

from convnp.autograd.grad_mode import no_grad
from convnp.optim._flags import check_flags, flag_defaults
from convnp.optim.optimizer import Optimizer, _bump, _check, _step_tensor, decayed_grad
from convnp.tensor import Tensor


class Adam(Optimizer):
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
        _check(lr >= 0.0, f"Invalid learning rate: {lr}")
        _check(eps >= 0.0, f"Invalid epsilon value: {eps}")
        _check(0.0 <= betas[0] < 1.0, f"Invalid beta parameter at index 0: {betas[0]}")
        _check(0.0 <= betas[1] < 1.0, f"Invalid beta parameter at index 1: {betas[1]}")
        _check(weight_decay >= 0.0, f"Invalid weight_decay value: {weight_decay}")
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                        amsgrad=amsgrad, maximize=maximize,
                        decoupled_weight_decay=decoupled_weight_decay,
                        **flag_defaults(foreach=foreach, capturable=capturable,
                                        differentiable=differentiable, fused=fused))
        super().__init__(params, defaults)

    def step(self, closure: Callable | None = None):
        """Perform one Adam step; returns ``closure()``'s loss when a closure is given."""
        loss = self._closure(closure)
        with no_grad():
            for group in self.param_groups:
                check_flags(type(self).__name__, group)
                beta1, beta2 = group["betas"]
                lr, eps, wd = group["lr"], group["eps"], group["weight_decay"]
                amsgrad = group["amsgrad"]
                for p, grad in self._params_with_grad(group):
                    state = self.state.setdefault(p, {})
                    if not state:
                        state["step"] = _step_tensor()
                        state["exp_avg"] = Tensor._wrap(np.zeros_like(p.array))
                        state["exp_avg_sq"] = Tensor._wrap(np.zeros_like(p.array))
                        if amsgrad:
                            state["max_exp_avg_sq"] = Tensor._wrap(np.zeros_like(p.array))
                    step = _bump(state)
                    g = decayed_grad(p, grad, group["maximize"], wd, lr,
                                     group.get("decoupled_weight_decay", False))
                    m, v = state["exp_avg"].array, state["exp_avg_sq"].array
                    m += (1 - beta1) * (g - m)  # torch's lerp_ (weight < 0.5 form)
                    v *= beta2
                    v += (1 - beta2) * g * g
                    bias_correction1 = 1 - beta1 ** step
                    bias_correction2_sqrt = math.sqrt(1 - beta2 ** step)
                    step_size = lr / bias_correction1
                    if amsgrad:
                        vmax = state["max_exp_avg_sq"].array
                        np.maximum(vmax, v, out=vmax)
                        v = vmax
                    denom = np.sqrt(v) / bias_correction2_sqrt + eps
                    p.array += -step_size * (m / denom)
        return loss


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
