"""``Adafactor``: Adam-like steps with a factored (row x column) second-moment estimate for
matrices (Shazeer & Stern, 2018), torch's variant."""

from __future__ import annotations

from typing import Iterable

import numpy as np

from convnp.optim._flags import flag_defaults
from convnp.optim._functional import lerp_
from convnp.optim.optimizer import PerParameterOptimizer, fresh_state
from convnp.tensor import Tensor


class Adafactor(PerParameterOptimizer):
    r"""Adafactor, PyTorch's update rule (``torch.optim.Adafactor``).

    For each parameter :math:`\theta` with gradient :math:`g` (negated when ``maximize``), at
    step :math:`t`, with :math:`\beta_t = 1 - t^{\text{beta2\_decay}}`::

        rho = min(lr, 1 / sqrt(t));  alpha = max(eps2, RMS(theta)) * rho
        theta *= 1 - lr * weight_decay
        matrices (dim > 1): R = lerp(R, mean_cols(g**2), 1 - beta_t)  (row_var)
                            C = lerp(C, mean_rows(g**2), 1 - beta_t)  (col_var)
                            V = R C / max(mean(R), eps1)
        vectors:            V = lerp(V, g**2, 1 - beta_t)              (variance)
        U = g / sqrt(max(V, eps1**2));  theta -= alpha / max(1, RMS(U) / d) * U

    Args:
        params: parameters or parameter-group dicts.
        lr: learning rate (default 1e-2; also caps the relative step size).
        beta2_decay: exponent of the second-moment decay (default -0.8).
        eps: (eps1, eps2): eps1 (default None: the dtype's machine epsilon) guards the
            variance, eps2 (1e-3) the parameter scale.
        d: update clipping threshold (default 1.0).
        weight_decay: decoupled weight decay (default 0).
        foreach: a no-op on the CPU (see :mod:`convnp.optim._flags`).
        maximize: maximize the objective instead of minimizing it.

    State per parameter: ``step``, ``row_var`` and ``col_var`` (matrices) or ``variance``.
    """

    def __init__(self, params: Iterable, lr: float = 1e-2, beta2_decay: float = -0.8,
                 eps: tuple = (None, 1e-3), d: float = 1.0, weight_decay: float = 0.0, *,
                 foreach: bool | None = None, maximize: bool = False) -> None:
        if not 0.0 <= lr:
            raise ValueError(f"Learning rate should be >= 0 but is: {lr}")
        if not 0.0 >= beta2_decay:
            raise ValueError(f"beta2_decay should be <= 0 but is: {beta2_decay}")
        if eps[0] is not None and not 0.0 <= eps[0]:
            raise ValueError(f"epsilon1 should be >= 0 but is: {eps[0]}")
        if not 0.0 <= eps[1]:
            raise ValueError(f"epsilon2 should be >= 0 but is: {eps[1]}")
        if not 1.0 <= d:
            raise ValueError(f"Clipping threshold d should be >= 1 but is: {d}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"weight_decay should be >= 0 but is: {weight_decay}")
        defaults = dict(lr=lr, beta2_decay=beta2_decay, eps=eps, d=d, weight_decay=weight_decay,
                        maximize=maximize, **flag_defaults(foreach=foreach))
        super().__init__(params, defaults)

    def _init_state(self, p: Tensor, group: dict) -> dict:
        if p.ndim > 1:
            shape = p.shape
            return fresh_state(p, row_var=np.zeros(shape[:-1] + (1,), p.dtype),
                               col_var=np.zeros(shape[:-2] + (1,) + shape[-1:], p.dtype))
        return fresh_state(p, variance=0)

    def _gradient(self, p: Tensor, grad: np.ndarray, group: dict) -> np.ndarray:
        # the weights decay inside the rule, after their RMS is taken
        return -grad if group["maximize"] else grad

    def _update(self, p: Tensor, g: np.ndarray, group: dict) -> None:
        state, step = self._state(p, group)
        lr, wd = group["lr"], group["weight_decay"]
        eps1, eps2 = group["eps"]
        e1 = float(np.finfo(p.dtype).eps) if eps1 is None else eps1
        beta_t = step ** group["beta2_decay"]
        rho = min(lr, 1 / (step ** 0.5))
        rms = float(np.sqrt(np.sum(p.array * p.array, dtype=p.dtype))) / (p.array.size ** 0.5)
        alpha = max(eps2, rms) * rho
        if wd != 0:
            p.array *= 1 - lr * wd
        if g.ndim > 1:
            row, col = state["row_var"].array, state["col_var"].array
            lerp_(row, (g * g).sum(-1, keepdims=True) / g.shape[-1], beta_t)
            lerp_(col, (g * g).sum(-2, keepdims=True) / g.shape[-2], beta_t)
            var = row @ col
            var /= np.maximum(row.mean(-2, keepdims=True), np.asarray(e1, row.dtype))
        else:
            v = state["variance"].array
            lerp_(v, g * g, beta_t)
            var = v.copy()
        update = 1 / np.sqrt(np.maximum(var, np.asarray(e1 * e1, var.dtype)))
        update *= g
        urms = float(np.sqrt(np.sum(update * update, dtype=update.dtype)))
        denom = max(1.0, urms / ((update.size ** 0.5) * group["d"]))
        p.array += (-alpha / denom) * update
