"""Elementwise arithmetic and math: forward and backward side by side.

Broadcasting is free here: backward returns the gradient at the output's shape and the engine sums
it back to each input's shape.
"""

from __future__ import annotations

import numbers

import numpy as np

from convnp import backend
from convnp._dtype import is_floating
from convnp.autograd.function import Function
from convnp.tensor import Tensor


def as_operand(x, like: np.ndarray | None = None):
    """Turn a Python scalar, array or Tensor into something ``Function.apply`` accepts.

    Scalars take the tensor's dtype as PyTorch does (a float32 tensor times 0.5 stays float32; an
    integer tensor plus 0.5 becomes float32, torch's default float).
    """
    if isinstance(x, (Tensor, np.ndarray)):
        return x
    if isinstance(x, (numbers.Number, np.generic)):
        if like is None:
            return np.asarray(x)
        kind = _kind(like.dtype)
        if isinstance(x, (bool, np.bool_)):
            return np.asarray(x, like.dtype if kind != "b" else bool)
        if isinstance(x, numbers.Integral):
            return np.asarray(x, like.dtype if kind in "iuf" else np.int64)
        if isinstance(x, numbers.Complex) and not isinstance(x, numbers.Real):
            return np.asarray(x)
        return np.asarray(x, like.dtype if kind == "f" else np.float32)
    if isinstance(x, (list, tuple)):
        return np.asarray(x, dtype=like.dtype if like is not None else None)
    raise TypeError(f"unsupported operand of type {type(x).__name__}; expected a Tensor, a NumPy "
                    "array or a Python number")


def _kind(dt: np.dtype) -> str:
    """The dtype's NumPy kind, with every floating dtype 'f' (complex and bfloat16 too)."""
    k = dt.kind
    return "f" if k == "c" or (k == "V" and is_floating(dt)) else k


def _data(x):
    return x.array if isinstance(x, Tensor) else x


def binary(fn: type[Function], a, b):
    """Apply a binary Function with PyTorch's scalar-dtype rules."""
    if isinstance(b, Tensor):
        if not isinstance(a, Tensor):
            a = as_operand(a, b.array)
    else:
        a = as_operand(a)
        b = as_operand(b, _data(a))
    xa, xb = _data(a), _data(b)
    # torch: float with integer computes in the float operand's dtype (int64 tensor * 0.5 is
    # float32); NumPy would promote int64 with float32 to float64. Integer operands carry no
    # gradient, so casting their raw arrays loses nothing.
    ka, kb = xa.dtype.kind, xb.dtype.kind
    if ka != kb:
        ka, kb = _kind(xa.dtype), _kind(xb.dtype)
        if ka == "f" and kb in "biu":
            b = xb.astype(xa.dtype)
        elif kb == "f" and ka in "biu":
            a = xa.astype(xb.dtype)
    try:
        return fn.apply(a, b)
    except ValueError:
        sa, sb = np.shape(xa), np.shape(xb)
        try:
            np.broadcast_shapes(sa, sb)
        except ValueError:
            raise RuntimeError(f"{fn.__name__.lower()}: shapes {tuple(sa)} and {tuple(sb)} cannot "
                               "be broadcast together (sizes must match or be 1 in each trailing "
                               "dimension)") from None
        raise


_ADD_BLOCK = 1 << 16  # elements per parallel job
_ADD_PARALLEL_MIN = 1 << 17  # below this NumPy's single-core add is as fast
_NB_FLOATS = backend.COMPILED_FLOATS


@backend.jit(parallel=True)
def _add_nb(a, b, out):  # pragma: no cover - compiled
    n = a.size
    for j in _prange((n + _ADD_BLOCK - 1) // _ADD_BLOCK):
        lo, hi = j * _ADD_BLOCK, min(n, (j + 1) * _ADD_BLOCK)
        xs, ys, os = a[lo:hi], b[lo:hi], out[lo:hi]
        for i in range(hi - lo):
            os[i] = xs[i] + ys[i]


_prange = backend.prange  # numba.prange in the compiled kernel


def _add(a, b):
    """a + b; two large C-contiguous float arrays of one shape and dtype (a residual
    connection) on every thread, anything else (broadcasts, scalars, other dtypes) by NumPy."""
    if (type(a) is np.ndarray and type(b) is np.ndarray and a.size >= _ADD_PARALLEL_MIN
            and a.shape == b.shape and a.dtype == b.dtype and a.dtype in _NB_FLOATS
            and a.flags.c_contiguous and b.flags.c_contiguous and backend.use_numba()):
        out = np.empty_like(a)
        _add_nb(a.reshape(-1), b.reshape(-1), out.reshape(-1))
        return out
    return a + b


class Add(Function):
    @staticmethod
    def forward(ctx, a, b):
        return _add(a, b)

    @staticmethod
    def backward(ctx, g):
        return g, g


class Sub(Function):
    @staticmethod
    def forward(ctx, a, b):
        return a - b

    @staticmethod
    def backward(ctx, g):
        return g, (-g if ctx.needs_input_grad[1] else None)


class Mul(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a if ctx.needs_input_grad[1] else None,
                              b if ctx.needs_input_grad[0] else None)
        return a * b

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        return (g * b if ctx.needs_input_grad[0] else None,
                g * a if ctx.needs_input_grad[1] else None)


class Div(Function):
    @staticmethod
    def forward(ctx, a, b):
        if a.dtype.kind in "iub" and b.dtype.kind in "iub":
            # torch: true division of integers gives the default float
            from convnp._dtype import get_default_dtype

            a, b = a.astype(get_default_dtype()), b.astype(get_default_dtype())
        # as torch: the numerator only for the denominator's gradient
        ctx.save_for_backward(a if ctx.needs_input_grad[1] else None, b)
        return a / b

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        ga = g / b if ctx.needs_input_grad[0] else None
        gb = -g * a / (b * b) if ctx.needs_input_grad[1] else None
        return ga, gb


class Pow(Function):
    @staticmethod
    def forward(ctx, a, b):
        with np.errstate(divide="ignore", invalid="ignore"):  # 0 ** -1 is inf, as in torch
            out = np.power(a, b)
        # as torch: the result only for the exponent's gradient
        ctx.save_for_backward(a, b, out if ctx.needs_input_grad[1] else None)
        return out

    @staticmethod
    def backward(ctx, g):
        a, b, out = ctx.saved_tensors
        ga = gb = None
        if ctx.needs_input_grad[0]:
            # d/da a**b = b * a**(b-1); written without dividing by a so a == 0 stays finite;
            # torch's convention: 0 where b == 0 (also at a == 0)
            with np.errstate(divide="ignore", invalid="ignore"):
                ga = g * b * np.power(a, b - 1)
            if np.any(b == 0):
                ga = np.where(b == 0, np.zeros((), ga.dtype), ga)
        if ctx.needs_input_grad[1]:
            # d/db a**b = a**b * log(a); torch's convention: 0 where a == 0 and b >= 0
            with np.errstate(divide="ignore", invalid="ignore"):
                gb = g * out * np.log(a)
                gb = np.where((a == 0) & (b >= 0), np.zeros((), gb.dtype), gb)
        return ga, gb


class Neg(Function):
    @staticmethod
    def forward(ctx, a):
        return -a

    @staticmethod
    def backward(ctx, g):
        return -g


class Unary(Function):
    """``y = f(a)`` whose derivative is a function of the input (``saves = "input"``) or of the
    output (``"output"``): a subclass gives ``f`` and ``grad(g, saved)``, side by side."""

    saves = "input"

    @classmethod
    def forward(cls, ctx, a):
        out = cls.f(a)
        ctx.save_for_backward(out if cls.saves == "output" else a)
        return out

    @classmethod
    def backward(cls, ctx, g):
        (v,) = ctx.saved_tensors
        return cls.grad(g, v)


def _sqrt_grad(g, out):
    with np.errstate(divide="ignore", invalid="ignore"):  # inf at 0, as in torch
        return g / (2 * out)


def _sigmoid(a: np.ndarray) -> np.ndarray:
    """Numerically stable logistic function (no overflow warning for large |a|)."""
    e = np.exp(-np.abs(a))
    return np.where(a >= 0, 1 / (1 + e), e / (1 + e)).astype(a.dtype, copy=False)


class Exp(Unary):
    saves, f, grad = "output", staticmethod(np.exp), staticmethod(lambda g, out: g * out)


class Log(Unary):
    f, grad = staticmethod(np.log), staticmethod(lambda g, a: g / a)


class Sqrt(Unary):
    saves, f, grad = "output", staticmethod(np.sqrt), staticmethod(_sqrt_grad)


class Abs(Unary):
    f, grad = staticmethod(np.abs), staticmethod(lambda g, a: g * np.sign(a))


class Sin(Unary):
    f, grad = staticmethod(np.sin), staticmethod(lambda g, a: g * np.cos(a))


class Cos(Unary):
    f, grad = staticmethod(np.cos), staticmethod(lambda g, a: -g * np.sin(a))


class Tanh(Unary):
    saves, f = "output", staticmethod(np.tanh)
    grad = staticmethod(lambda g, out: g * (1 - out * out))


class Sigmoid(Unary):
    saves, f = "output", staticmethod(_sigmoid)
    grad = staticmethod(lambda g, out: g * out * (1 - out))


class Clamp(Function):
    half_in_float32 = True  # NumPy's clip with Python bounds widens bfloat16

    @staticmethod
    def forward(ctx, a, lo=None, hi=None):
        ctx.save_for_backward(a)
        ctx.lo, ctx.hi = lo, hi
        return np.clip(a, lo, hi)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        mask = np.ones(a.shape, bool)
        # torch passes the gradient where lo <= a <= hi (boundaries included)
        if ctx.lo is not None:
            mask &= a >= ctx.lo
        if ctx.hi is not None:
            mask &= a <= ctx.hi
        return g * mask


class Maximum(Function):
    pick, wins = staticmethod(np.maximum), staticmethod(np.greater)

    @classmethod
    def forward(cls, ctx, a, b):
        ctx.save_for_backward(a, b)
        return cls.pick(a, b)

    @classmethod
    def backward(cls, ctx, g):
        a, b = ctx.saved_tensors
        # ties split the gradient evenly, as torch does
        w = np.where(cls.wins(a, b), 1.0, np.where(a == b, 0.5, 0.0)).astype(g.dtype)
        return g * w, g * (1 - w)


class Minimum(Maximum):
    pick, wins = staticmethod(np.minimum), staticmethod(np.less)


class Where(Function):
    @staticmethod
    def forward(ctx, cond, a, b):
        ctx.save_for_backward(cond)
        return np.where(cond, a, b)

    @staticmethod
    def backward(ctx, g):
        (cond,) = ctx.saved_tensors
        zero = np.zeros((), g.dtype)
        return (None,
                np.where(cond, g, zero) if ctx.needs_input_grad[1] else None,
                np.where(cond, zero, g) if ctx.needs_input_grad[2] else None)


# ----------------------------------------------------------------------------- functional forms
def add(input, other, *, alpha=1):
    """``input + alpha * other`` with broadcasting."""
    return binary(Add, input, other if alpha == 1 else mul(other, alpha))


def sub(input, other, *, alpha=1):
    """``input - alpha * other`` with broadcasting."""
    return binary(Sub, input, other if alpha == 1 else mul(other, alpha))


def mul(input, other):
    """Elementwise product with broadcasting."""
    return binary(Mul, input, other)


def div(input, other):
    """Elementwise true division with broadcasting."""
    return binary(Div, input, other)


def pow(input, exponent):
    """``input ** exponent`` elementwise."""
    return binary(Pow, input, exponent)


def _unary(fn_cls, name: str):
    def fn(input):
        return fn_cls.apply(input)

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"``{name}(input)`` elementwise."
    return fn


neg, exp, log, sqrt, abs, sin, cos, tanh, sigmoid = (  # noqa: A001 (torch's names)
    _unary(c, c.__name__.lower()) for c in (Neg, Exp, Log, Sqrt, Abs, Sin, Cos, Tanh, Sigmoid))


def clamp(input, min=None, max=None):
    """Clamp into ``[min, max]``; either bound may be None. Gradient passes inside the bounds."""
    if min is None and max is None:
        raise ValueError("clamp: at least one of 'min' and 'max' must be given")
    return Clamp.apply(input, lo=min, hi=max)


clip = clamp


def maximum(input, other):
    """Elementwise maximum with broadcasting (ties share the gradient)."""
    return binary(Maximum, input, other)


def minimum(input, other):
    """Elementwise minimum with broadcasting (ties share the gradient)."""
    return binary(Minimum, input, other)


def where(condition, input, other):
    """Pick ``input`` where ``condition`` holds, else ``other`` (both broadcast)."""
    cond = condition.array if isinstance(condition, Tensor) else np.asarray(condition)
    if cond.dtype != bool:
        raise TypeError(f"where: 'condition' must be a bool tensor, got dtype {cond.dtype}")
    like = input if isinstance(input, Tensor) else other if isinstance(other, Tensor) else None
    ref = like.array if like is not None else None
    return Where.apply(cond, as_operand(input, ref), as_operand(other, ref))
