"""``RMSprop``: gradient scaled by a running root-mean-square, optionally centered/momentum."""

from __future__ import annotations

from typing import Callable, Iterable

import numpy as np

from convnp.autograd.grad_mode import no_grad
from convnp.optim._flags import check_flags, flag_defaults
from convnp.optim.optimizer import Optimizer, _bump, _check, _step_tensor, decayed_grad
from convnp.tensor import Tensor


class RMSprop(Optimizer):
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
        _check(lr >= 0.0, f"Invalid learning rate: {lr}")
        _check(eps >= 0.0, f"Invalid epsilon value: {eps}")
        _check(momentum >= 0.0, f"Invalid momentum value: {momentum}")
        _check(weight_decay >= 0.0, f"Invalid weight_decay value: {weight_decay}")
        _check(alpha >= 0.0, f"Invalid alpha value: {alpha}")
        defaults = dict(lr=lr, momentum=momentum, alpha=alpha, eps=eps, centered=centered,
                        weight_decay=weight_decay, maximize=maximize,
                        **flag_defaults(foreach=foreach, capturable=capturable,
                                        differentiable=differentiable))
        super().__init__(params, defaults)

    def step(self, closure: Callable | None = None):
        """Perform one RMSprop step; returns ``closure()``'s loss when a closure is given."""
        loss = self._closure(closure)
        with no_grad():
            for group in self.param_groups:
                check_flags("RMSprop", group)
                lr, alpha, eps = group["lr"], group["alpha"], group["eps"]
                wd, momentum = group["weight_decay"], group["momentum"]
                for p, grad in self._params_with_grad(group):
                    state = self.state.setdefault(p, {})
                    if not state:
                        state["step"] = _step_tensor()
                        state["square_avg"] = Tensor._wrap(np.zeros_like(p.array))
                        if momentum > 0:
                            state["momentum_buffer"] = Tensor._wrap(np.zeros_like(p.array))
                        if group["centered"]:
                            state["grad_avg"] = Tensor._wrap(np.zeros_like(p.array))
                    _bump(state)
                    g = decayed_grad(p, grad, group["maximize"], wd)
                    v = state["square_avg"].array
                    v *= alpha
                    v += (1 - alpha) * g * g
                    if group["centered"]:
                        a = state["grad_avg"].array
                        a += (1 - alpha) * (g - a)  # torch's lerp_
                        avg = np.sqrt(v + -1 * a * a)
                    else:
                        avg = np.sqrt(v)
                    avg += eps
                    if momentum > 0:
                        b = state["momentum_buffer"].array
                        b *= momentum
                        b += g / avg
                        p.array -= lr * b
                    else:
                        p.array += -lr * (g / avg)
        return loss
