"""``ASGD``: averaged stochastic gradient descent (Polyak & Juditsky, 1992)."""

from __future__ import annotations

from typing import Iterable

import numpy as np

from convnp.optim._flags import flag_defaults
from convnp.optim.optimizer import PerParameterOptimizer, check_hyperparameters, fresh_state
from convnp.tensor import Tensor


class ASGD(PerParameterOptimizer):
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
        check_hyperparameters(lr=lr, weight_decay=weight_decay)
        defaults = dict(lr=lr, lambd=lambd, alpha=alpha, t0=t0, weight_decay=weight_decay,
                        maximize=maximize,
                        **flag_defaults(foreach=foreach, capturable=capturable,
                                        differentiable=differentiable))
        super().__init__(params, defaults)

    def _init_state(self, p: Tensor, group: dict) -> dict:
        return fresh_state(p, eta=np.asarray(group["lr"], np.float32),
                           mu=np.ones((), np.float32), ax=0)

    def _update(self, p: Tensor, g: np.ndarray, group: dict) -> None:
        state, step = self._state(p, group)
        lr, lambd, alpha = group["lr"], group["lambd"], group["alpha"]
        eta, mu = float(state["eta"].array), float(state["mu"].array)
        p.array *= 1 - lambd * eta
        p.array += -eta * g
        ax = state["ax"].array
        if mu != 1:
            ax += (p.array - ax) * mu
        else:
            ax[...] = p.array
        # torch builds the new values as default-dtype (float32) tensors before copying them
        # into the state, also when the state was loaded as float64
        state["eta"].array[...] = np.float32(lr / ((1 + lambd * lr * step) ** alpha))
        state["mu"].array[...] = np.float32(1 / max(1, step - group["t0"]))
