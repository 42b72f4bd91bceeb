"""Matrix products: ``matmul`` (1-d, 2-d and batched with broadcasting)."""

from __future__ import annotations

import numpy as np

from convnp import _autocast, _blas
from convnp.autograd.function import Function


class MatMul(Function):
    @staticmethod
    def forward(ctx, a, b):
        # each operand only for the other's gradient, as torch saves them
        need = ctx.needs_input_grad
        ctx.save_for_backward(a if need[1] else None, b if need[0] else None)
        ctx.shapes = a.shape, b.shape
        return _blas.matmul(a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        sa, sb = ctx.shapes
        need = ctx.needs_input_grad
        if len(sa) == 1 and len(sb) == 1:  # dot product: g is 0-d
            return (g * b if need[0] else None, g * a if need[1] else None)
        # promote 1-d operands to matrices so one formula serves every case
        g2 = g
        if len(sa) == 1:
            g2 = np.expand_dims(g2, -2)
        if len(sb) == 1:
            g2 = np.expand_dims(g2, -1)
        ga = gb = None
        if need[0]:
            b2 = b[:, None] if b.ndim == 1 else b
            ga = _blas.matmul(g2, np.swapaxes(b2, -1, -2))
            if len(sa) == 1:
                ga = ga.reshape(-1, sa[0]).sum(0)
        if need[1]:
            a2 = a[None, :] if a.ndim == 1 else a
            gb = _blas.matmul(np.swapaxes(a2, -1, -2), g2)
            if len(sb) == 1:
                gb = gb.reshape(-1, sb[0]).sum(0)
        return ga, gb


@_autocast.lower
def matmul(input, other):
    """Matrix product with NumPy/torch semantics (1-d vectors, batched broadcasting)."""
    a, b = input.shape, other.shape
    if not a or not b:
        raise RuntimeError("matmul: both arguments need at least 1 dimension, got shapes "
                           f"{tuple(a)} and {tuple(b)}")
    ka = a[-1]
    kb = b[0] if len(b) == 1 else b[-2]
    if ka != kb:
        raise RuntimeError(f"matmul: shapes {tuple(a)} and {tuple(b)} cannot be multiplied "
                           f"({ka} != {kb}): the last dim of the first must equal the "
                           f"{'only' if len(b) == 1 else 'second-to-last'} dim of the second")
    return MatMul.apply(input, other)


def mm(input, mat2):
    """2-d matrix product."""
    if input.ndim != 2 or mat2.ndim != 2:
        raise RuntimeError(f"mm: expected 2-d tensors, got shapes {tuple(input.shape)} and "
                           f"{tuple(mat2.shape)}")
    return matmul(input, mat2)


def bmm(input, mat2):
    """Batched 3-d matrix product."""
    if input.ndim != 3 or mat2.ndim != 3:
        raise RuntimeError(f"bmm: expected 3-d tensors, got shapes {tuple(input.shape)} and "
                           f"{tuple(mat2.shape)}")
    return matmul(input, mat2)
