"""Gradient clipping: ``clip_grad_norm_`` and ``clip_grad_value_`` (``torch.nn.utils``)."""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from convnp.tensor import Tensor

__all__ = ["clip_grad_norm_", "clip_grad_value_"]


def _tensors(parameters, fn: str) -> list[Tensor]:
    if isinstance(parameters, Tensor):
        return [parameters]
    params = list(parameters)
    for p in params:
        if not isinstance(p, Tensor):
            raise TypeError(f"{fn}: expected Tensors/Parameters, got {type(p).__name__}")
    return params


def clip_grad_norm_(parameters: Tensor | Iterable[Tensor], max_norm: float,
                    norm_type: float = 2.0, error_if_nonfinite: bool = False,
                    foreach=None) -> Tensor:
    r"""Scale the gradients of ``parameters`` in place so that their joint norm is at most
    ``max_norm``.

    The norm is computed over all gradients together, as if concatenated into one vector;
    gradients are multiplied by :math:`\min(1, \text{max\_norm} / (\text{total} + 10^{-6}))`.

    Args:
        parameters: a Tensor or an iterable of Tensors whose ``.grad`` is clipped.
        max_norm: the maximum norm of the gradients.
        norm_type: type of the p-norm; ``float('inf')`` for the infinity norm.
        error_if_nonfinite: raise a RuntimeError if the total norm is nan or inf.
        foreach: accepted for torch compatibility; ignored.

    Returns:
        The total norm of the gradients (viewed as a single vector), a 0-d Tensor.

    Example::

        >>> loss.backward()
        >>> nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
    """
    grads = [p.grad.array for p in _tensors(parameters, "clip_grad_norm_") if p.grad is not None]
    max_norm = float(max_norm)
    norm_type = float(norm_type)
    if not grads:
        return Tensor(np.float32(0.0))
    dtype = np.result_type(*grads)
    if norm_type == math.inf:
        total = max(float(np.max(np.abs(g))) if g.size else 0.0 for g in grads)
    elif norm_type == -math.inf:
        total = min(float(np.min(np.abs(g))) if g.size else math.inf for g in grads)
    elif norm_type == 0:
        total = float(sum(np.count_nonzero(g) for g in grads))
    else:
        total = float(sum(float(np.sum(np.abs(g.astype(np.float64)) ** norm_type))
                          for g in grads)) ** (1.0 / norm_type)
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(f"clip_grad_norm_: the total norm of order {norm_type} for gradients "
                           "from `parameters` is non-finite, so it cannot be clipped. To disable "
                           "this error and scale the gradients by the non-finite norm anyway, "
                           "set `error_if_nonfinite=False`")
    coef = max_norm / (total + 1e-6)
    if coef < 1:
        for g in grads:
            g *= g.dtype.type(coef)
    return Tensor(np.asarray(total, dtype))


def clip_grad_value_(parameters: Tensor | Iterable[Tensor], clip_value: float,
                     foreach=None) -> None:
    r"""Clamp the gradients of ``parameters`` in place to ``[-clip_value, clip_value]``.

    Args:
        parameters: a Tensor or an iterable of Tensors whose ``.grad`` is clipped.
        clip_value: the maximum allowed absolute value of a gradient entry.
        foreach: accepted for torch compatibility; ignored.

    Example::

        >>> nn.utils.clip_grad_value_(model.parameters(), clip_value=0.5)
    """
    clip_value = float(clip_value)
    for p in _tensors(parameters, "clip_grad_value_"):
        if p.grad is not None:
            np.clip(p.grad.array, -clip_value, clip_value, out=p.grad.array)
