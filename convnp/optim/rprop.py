"""``Rprop``: resilient backpropagation, sign-based steps with per-coordinate step sizes."""

from __future__ import annotations

from typing import Iterable

import numpy as np

from convnp.optim._flags import flag_defaults
from convnp.optim.optimizer import PerParameterOptimizer, check_hyperparameters, fresh_state
from convnp.tensor import Tensor


class Rprop(PerParameterOptimizer):
    r"""Rprop (Riedmiller & Braun), PyTorch's update rule (full-batch training).

    For each parameter :math:`\theta` with gradient :math:`g` (negated when ``maximize``) and
    the previous step's gradient :math:`g'`, per coordinate::

        s = s * eta_plus   if g * g' > 0
        s = s * eta_minus  if g * g' < 0   (and g is set to 0 for this step)
        s = clamp(s, step_size_min, step_size_max)
        theta = theta - sign(g) * s;  g' = g

    Args:
        params: parameters or parameter-group dicts.
        lr: the initial step size :math:`s` (default 1e-2).
        etas: (eta_minus, eta_plus), the factors that shrink and grow the step size
            (default (0.5, 1.2)).
        step_sizes: (minimal, maximal) step size (default (1e-6, 50)).
        foreach, capturable, differentiable: torch's implementation choices (see
            :mod:`convnp.optim._flags`: ``foreach`` is a no-op on the CPU).
        maximize: maximize the objective instead of minimizing it.

    State per parameter: ``step``, ``prev``, ``step_size``.

    Example::

        >>> opt = convnp.optim.Rprop(model.parameters())
    """

    def __init__(self, params: Iterable, lr: float = 1e-2, etas: tuple = (0.5, 1.2),
                 step_sizes: tuple = (1e-6, 50), *, capturable: bool = False,
                 foreach: bool | None = None, maximize: bool = False,
                 differentiable: bool = False) -> None:
        check_hyperparameters(lr=lr)
        if not 0.0 < etas[0] < 1.0 < etas[1]:
            raise ValueError(f"Invalid eta values: {etas[0]}, {etas[1]}")
        defaults = dict(lr=lr, etas=tuple(etas), step_sizes=tuple(step_sizes), maximize=maximize,
                        **flag_defaults(foreach=foreach, capturable=capturable,
                                        differentiable=differentiable))
        super().__init__(params, defaults)

    def _init_state(self, p: Tensor, group: dict) -> dict:
        return fresh_state(p, prev=0, step_size=group["lr"])

    def _update(self, p: Tensor, g: np.ndarray, group: dict) -> None:
        state, _ = self._state(p, group)
        etaminus, etaplus = group["etas"]
        prev, size = state["prev"].array, state["step_size"].array
        sign = np.sign(g * prev)
        factor = np.where(sign > 0, etaplus, np.where(sign < 0, etaminus, 1))
        size *= factor.astype(size.dtype, copy=False)
        np.clip(size, *group["step_sizes"], out=size)
        g = np.where(sign < 0, 0, g).astype(p.array.dtype, copy=False)
        p.array -= np.sign(g) * size
        prev[...] = g
