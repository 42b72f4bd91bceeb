"""``ASGD``: averaged stochastic gradient descent (Polyak & Juditsky, 1992)."""

from __future__ import annotations

from typing import Callable, Iterable

import numpy as np

from convnp.autograd.grad_mode import no_grad
from convnp.optim._flags import check_flags, flag_defaults
from convnp.optim.optimizer import Optimizer, _bump, _check, _step_tensor, decayed_grad
from convnp.tensor import Tensor


class ASGD(Optimizer):
    r"""Averaged SGD, PyTorch's update rule.

    For each parameter :math:`\theta` with gradient :math:`g` (negated when ``maximize``), at
    step :math:`t` with step size :math:`\eta` and averaging rate :math:`\mu` (both from the
    previous step; :math:`\eta_0` = ``lr``, :math:`\mu_0 = 1`)::

        g = g + weight_decay * theta
        theta = theta * (1 - lambd * eta) - eta * g
        ax = ax + mu * (theta - ax)        (ax = theta while mu == 1)
        eta = lr / (1 + lambd * lr * t)**alpha
        mu = 1 / max(1, t - t0)

    ``state['ax']`` holds the averaged parameters; copy them into the model to evaluate the
    average.

    Args:
        params: parameters or parameter-group dicts.
        lr: learning rate (default 1e-2).
        lambd: decay term (default 1e-4).
        alpha: power of the step-size decay (default 0.75).
        t0: step at which averaging starts (default 1e6).
        weight_decay: L2 penalty (default 0).
        foreach, capturable, differentiable: torch's implementation choices (see
            :mod:`convnp.optim._flags`: ``foreach`` is a no-op on the CPU).
        maximize: maximize the objective instead of minimizing it.

    State per parameter: ``step``, ``eta``, ``mu`` (0-d float32 tensors, as torch keeps them),
    ``ax``.

    Example::

        >>> opt = convnp.optim.ASGD(model.parameters(), lr=0.01)
    """

    def __init__(self, params: Iterable, lr: float = 1e-2, lambd: float = 1e-4,
                 alpha: float = 0.75, t0: float = 1e6, weight_decay: float = 0,
                 foreach: bool | None = None, maximize: bool = False,
                 differentiable: bool = False, capturable: bool = False) -> None:
        _check(lr >= 0.0, f"Invalid learning rate: {lr}")
        _check(weight_decay >= 0.0, f"Invalid weight_decay value: {weight_decay}")
        defaults = dict(lr=lr, lambd=lambd, alpha=alpha, t0=t0, weight_decay=weight_decay,
                        maximize=maximize,
                        **flag_defaults(foreach=foreach, capturable=capturable,
                                        differentiable=differentiable))
        super().__init__(params, defaults)

    def step(self, closure: Callable | None = None):
        """Perform one ASGD step; returns ``closure()``'s loss when a closure is given."""
        loss = self._closure(closure)
        with no_grad():
            for group in self.param_groups:
                check_flags("ASGD", group)
                lr, lambd, alpha, t0 = group["lr"], group["lambd"], group["alpha"], group["t0"]
                wd = group["weight_decay"]
                for p, grad in self._params_with_grad(group):
                    state = self.state.setdefault(p, {})
                    if not state:
                        state["step"] = _step_tensor()
                        state["eta"] = Tensor._wrap(np.asarray(lr, np.float32))
                        state["mu"] = Tensor._wrap(np.ones((), np.float32))
                        state["ax"] = Tensor._wrap(np.zeros_like(p.array))
                    step = _bump(state)
                    g = decayed_grad(p, grad, group["maximize"], wd)
                    eta, mu = float(state["eta"].array), float(state["mu"].array)
                    p.array *= 1 - lambd * eta
                    p.array += -eta * g
                    ax = state["ax"].array
                    if mu != 1:
                        ax += (p.array - ax) * mu
                    else:
                        ax[...] = p.array
                    # torch builds the new values as default-dtype (float32) tensors before
                    # copying them into the state, also when the state was loaded as float64
                    state["eta"].array[...] = np.float32(lr / ((1 + lambd * lr * step) ** alpha))
                    state["mu"].array[...] = np.float32(1 / max(1, step - t0))
        return loss
