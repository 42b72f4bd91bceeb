"""Affine maps: ``linear`` (one GEMM) and ``bilinear``, forward and backward side by side."""

from __future__ import annotations

import numpy as np

from convnp import _autocast, _blas
from convnp.autograd.function import Function
from convnp.ops._checked_calls import CheckedCalls
from convnp.tensor import Tensor

__all__ = ["linear", "bilinear"]


class Linear(Function):
    """``y = x W^T + b`` over any leading dims of ``x``; one GEMM forward, two backward."""

    @staticmethod
    def forward(ctx, x, weight, bias=None):
        # each operand only for the other's gradient, as torch saves them: what is not saved
        # may be changed in place before backward
        need = ctx.needs_input_grad
        ctx.save_for_backward(x if need[1] else None, weight if need[0] else None)
        ctx.has_bias, ctx.wshape = bias is not None, weight.shape
        y = _blas.matmul(x, weight.T)  # (*, in) @ (in, out) -> (*, out)
        if bias is not None:
            y += bias
        return y

    @staticmethod
    def backward(ctx, g):
        x, weight = ctx.saved_tensors
        need = ctx.needs_input_grad
        gx = _blas.matmul(g, weight) if need[0] else None  # (*, out) @ (out, in) -> (*, in)
        # the leading dims of x are one batch for the weight gradient
        g2 = g.reshape(-1, ctx.wshape[0])  # (M, out)
        # (out, M) @ (M, in)
        gw = _blas.matmul(g2.T, x.reshape(-1, ctx.wshape[1])) if need[1] else None
        if not ctx.has_bias:
            return gx, gw
        gb = g2.sum(0) if need[2] else None
        return gx, gw, gb


def _shape(t) -> tuple:
    return tuple(t.shape)


def _check_linear(input, weight, bias) -> bool:
    """The shape and dtype checks of ``linear`` (True when they pass)."""
    if weight.ndim != 2:
        raise RuntimeError(f"linear: weight must be 2-d of shape (out_features, in_features), got "
                           f"shape {_shape(weight)}")
    if input.ndim == 0:
        raise RuntimeError(f"linear: input must have at least 1 dimension (*, {weight.shape[1]}), "
                           "got a 0-d tensor")
    if input.shape[-1] != weight.shape[1]:
        raise RuntimeError(
            f"linear: input has {input.shape[-1]} features in its last dim but weight expects "
            f"{weight.shape[1]} (input shape {_shape(input)}, weight shape {_shape(weight)}); "
            "did you forget to flatten?")
    if bias is not None and (bias.ndim > 1 or bias.array.size not in (1, weight.shape[0])):
        raise RuntimeError(f"linear: bias must have shape ({weight.shape[0]},) to match weight "
                           f"shape {_shape(weight)}, got {_shape(bias)}")
    dts = {t.dtype for t in (input, weight, bias) if t is not None}
    if len(dts) > 1:
        got = ", ".join(str(t.dtype) for t in (input, weight, bias) if t is not None)
        raise RuntimeError(f"linear: input, weight and bias must have the same dtype, got {got}"
                           "; convert the input with .float()/.double() or the module with "
                           ".to(dtype)")
    return True


_checked = CheckedCalls()


@_autocast.lower
def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    r"""Apply the affine map :math:`y = xA^T + b`.

    Args:
        input: input of shape :math:`(*, H_{in})`.
        weight: weight of shape :math:`(H_{out}, H_{in})`.
        bias: optional bias of shape :math:`(H_{out})`.

    Shape:
        - Input: :math:`(*, H_{in})`, :math:`*` any number of leading dims (also none).
        - Output: :math:`(*, H_{out})`.

    Example::

        >>> x = convnp.randn(8, 4)
        >>> F.linear(x, convnp.randn(5, 4)).shape
        (8, 5)
    """
    for name, t in (("input", input), ("weight", weight), ("bias", bias)):
        if t is not None and not isinstance(t, Tensor):
            raise TypeError(f"linear: argument '{name}' must be a Tensor, got {type(t).__name__}")
    # shapes and dtypes validated once per distinct call (see convnp/ops/_checked_calls.py)
    _checked.get(_checked.key("linear", (input, weight, bias), ()),
                 lambda: _check_linear(input, weight, bias))
    if bias is None:
        return Linear.apply(input, weight)
    return Linear.apply(input, weight, bias)


class Bilinear(Function):
    """``y_o = x1^T W_o x2 + b_o`` over flattened leading dims."""

    @staticmethod
    def forward(ctx, x1, x2, weight, bias=None):
        lead = x1.shape[:-1]
        a = x1.reshape(-1, x1.shape[-1])  # (M, in1)
        c = x2.reshape(-1, x2.shape[-1])  # (M, in2)
        ctx.save_for_backward(a, c, weight)
        ctx.shapes = (x1.shape, x2.shape)
        ctx.has_bias = bias is not None
        y = np.einsum("mi,oij,mj->mo", a, weight, c, optimize=True)
        if bias is not None:
            y += bias
        return y.reshape(lead + (weight.shape[0],))

    @staticmethod
    def backward(ctx, g):
        a, c, weight = ctx.saved_tensors
        s1, s2 = ctx.shapes
        need = ctx.needs_input_grad
        g2 = g.reshape(-1, weight.shape[0])  # (M, out)
        g1 = np.einsum("mo,oij,mj->mi", g2, weight, c, optimize=True).reshape(s1) if need[0] \
            else None
        gc = np.einsum("mo,oij,mi->mj", g2, weight, a, optimize=True).reshape(s2) if need[1] \
            else None
        gw = np.einsum("mo,mi,mj->oij", g2, a, c, optimize=True) if need[2] else None
        if not ctx.has_bias:
            return g1, gc, gw
        return g1, gc, gw, (g2.sum(0) if need[3] else None)


def bilinear(input1: Tensor, input2: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    r"""Apply the bilinear map :math:`y = x_1^T A x_2 + b`.

    Args:
        input1: of shape :math:`(*, H_{in1})`.
        input2: of shape :math:`(*, H_{in2})` (same leading dims as ``input1``).
        weight: of shape :math:`(H_{out}, H_{in1}, H_{in2})`.
        bias: optional, of shape :math:`(H_{out})`.

    Shape:
        - Output: :math:`(*, H_{out})`.

    Example::

        >>> F.bilinear(convnp.randn(8, 3), convnp.randn(8, 4), convnp.randn(5, 3, 4)).shape
        (8, 5)
    """
    if weight.ndim != 3:
        raise RuntimeError(f"bilinear: weight must be 3-d (out, in1, in2), got shape "
                           f"{_shape(weight)}")
    if input1.ndim == 0 or input2.ndim == 0 or input1.shape[:-1] != input2.shape[:-1]:
        raise RuntimeError(f"bilinear: input1 and input2 must have the same leading dims, got "
                           f"shapes {_shape(input1)} and {_shape(input2)}")
    if input1.shape[-1] != weight.shape[1] or input2.shape[-1] != weight.shape[2]:
        raise RuntimeError(f"bilinear: inputs have {input1.shape[-1]} and {input2.shape[-1]} "
                           f"features but weight of shape {_shape(weight)} expects "
                           f"{weight.shape[1]} and {weight.shape[2]}")
    if bias is not None and _shape(bias) != (weight.shape[0],):
        raise RuntimeError(f"bilinear: bias must have shape ({weight.shape[0]},), got "
                           f"{_shape(bias)}")
    if bias is None:
        return Bilinear.apply(input1, input2, weight)
    return Bilinear.apply(input1, input2, weight, bias)
