"""``Muon``: momentum SGD whose update is orthogonalised by a Newton-Schulz iteration (Jordan et
al., 2024), torch's variant, for 2-D parameters."""

from __future__ import annotations

import math
from typing import Iterable

import numpy as np

from convnp.optim._functional import lerp_
from convnp.optim.optimizer import PerParameterOptimizer
from convnp.tensor import Tensor

EPS = 1e-7
DEFAULT_A, DEFAULT_B, DEFAULT_C = 3.4445, -4.7750, 2.0315
DEFAULT_NS_STEPS = 5


def _bf16(a: np.ndarray) -> np.ndarray:
    """Round float32 values to bfloat16 (nearest, ties to even), kept as float32: NumPy has no
    bfloat16, and torch runs the Newton-Schulz iteration in bfloat16."""
    a = np.asarray(a, np.float32)
    bits = a.view(np.uint32)
    rounded = (bits + np.uint32(0x7FFF) + ((bits >> 16) & np.uint32(1))) & np.uint32(0xFFFF0000)
    out = rounded.view(np.float32)
    return np.where(np.isnan(a), a, out)


def _newton_schulz(g: np.ndarray, coefficients, steps: int, eps: float) -> np.ndarray:
    """The quintic Newton-Schulz iteration towards the orthogonal factor of ``g``, with
    torch's bfloat16 rounding after every operation."""
    if steps >= 100:
        raise ValueError("Number of steps must be less than 100 for computational efficiency")
    if g.ndim != 2:
        raise ValueError("Input tensor gradient must be a 2D matrix")
    if len(coefficients) != 3:
        raise ValueError("Coefficients must be a tuple of exactly 3 values")
    a, b, c = (np.float32(v) for v in coefficients)
    x = _bf16(g)
    tall = g.shape[0] > g.shape[1]
    if tall:
        x = x.T
    norm = _bf16(np.sqrt(np.sum(x.astype(np.float32) ** 2)))
    x = _bf16(x / max(norm, _bf16(np.float32(eps))))
    for _ in range(steps):
        gram = _bf16(x @ x.T)
        gram_update = _bf16(b * gram + c * (gram @ gram))
        x = _bf16(a * x + gram_update @ x)
    return x.T if tall else x


def _adjust_lr(lr: float, adjust_lr_fn: str | None, shape) -> float:
    rows, cols = shape[:2]
    if adjust_lr_fn is None or adjust_lr_fn == "original":
        ratio = math.sqrt(max(1, rows / cols))
    elif adjust_lr_fn == "match_rms_adamw":
        ratio = 0.2 * math.sqrt(max(rows, cols))
    else:
        ratio = 1.0
    return lr * ratio


class Muon(PerParameterOptimizer):
    r"""Muon, PyTorch's update rule (``torch.optim.Muon``), for 2-D parameters.

    For each matrix :math:`\theta` with gradient :math:`g`::

        B = lerp(B, g, 1 - momentum)                     (momentum_buffer)
        U = lerp(g, B, momentum) if nesterov else B
        O = NewtonSchulz(U)                              (ns_steps quintic steps, bfloat16)
        theta *= 1 - lr * weight_decay
        theta -= adjusted_lr * O      (adjusted_lr = lr * sqrt(max(1, rows / cols)), or
                                       0.2 * sqrt(max(rows, cols)) * lr for 'match_rms_adamw')

    The Newton-Schulz iteration runs in bfloat16 like torch's; NumPy has no bfloat16, so convnp
    rounds every intermediate to bfloat16 precision in float32 arrays. Results agree with
    torch's to bfloat16 rounding (a different summation order can flip a last bfloat16 bit).

    Args:
        params: 2-D parameters or parameter-group dicts.
        lr: learning rate (default 1e-3). weight_decay: decoupled decay (default 0.1).
        momentum: default 0.95. nesterov: default True.
        ns_coefficients: the quintic's (a, b, c). eps: norm floor (1e-7). ns_steps: 5.
        adjust_lr_fn: None/``'original'`` or ``'match_rms_adamw'``.

    State per parameter: ``momentum_buffer``.
    """

    def __init__(self, params: Iterable, lr: float = 1e-3, weight_decay: float = 0.1,
                 momentum: float = 0.95, nesterov: bool = True,
                 ns_coefficients: tuple = (DEFAULT_A, DEFAULT_B, DEFAULT_C), eps: float = EPS,
                 ns_steps: int = DEFAULT_NS_STEPS, adjust_lr_fn: str | None = None) -> None:
        if not 0.0 <= lr:
            raise ValueError(f"Learning rate should be >= 0 but is: {lr}")
        if not 0.0 <= momentum:
            raise ValueError(f"momentum should be >= 0 but is: {momentum}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"weight decay should be >= 0 but is: {weight_decay}")
        if adjust_lr_fn is not None and adjust_lr_fn not in ("original", "match_rms_adamw"):
            raise ValueError(f"Adjust learning rate function {adjust_lr_fn} is not supported")
        defaults = dict(lr=lr, weight_decay=weight_decay, momentum=momentum, nesterov=nesterov,
                        ns_coefficients=ns_coefficients, eps=eps, ns_steps=ns_steps,
                        adjust_lr_fn=adjust_lr_fn)
        super().__init__(params, defaults)
        for group in self.param_groups:
            for p in group["params"]:
                if p.ndim != 2:
                    raise ValueError(f"Muon only supports 2D parameters whereas we found a "
                                     f"parameter with size: {tuple(p.shape)}")

    def _gradient(self, p: Tensor, grad: np.ndarray, group: dict) -> np.ndarray:
        return grad  # no maximize; the weights decay inside the rule

    def _update(self, p: Tensor, grad: np.ndarray, group: dict) -> None:
        lr, mom = group["lr"], group["momentum"]
        state = self.state.setdefault(p, {})
        if "momentum_buffer" not in state:
            state["momentum_buffer"] = Tensor._wrap(np.zeros_like(grad))
        buf = state["momentum_buffer"].array
        lerp_(buf, grad, 1 - mom)
        if group["nesterov"]:
            update = grad.copy()
            lerp_(update, buf, mom)
        else:
            update = buf
        ortho = _newton_schulz(update, group["ns_coefficients"], group["ns_steps"], group["eps"])
        adjusted = _adjust_lr(lr, group["adjust_lr_fn"], p.shape)
        p.array *= 1 - lr * group["weight_decay"]
        p.array += (-adjusted * ortho).astype(p.dtype)
