"""Reductions: sum, mean, max/min (with indices), argmax/argmin, var/std, logsumexp, prod, norm.

The order statistics and running reductions (median, quantile, cumsum, ...) live in
``convnp.ops.statistics`` and are re-exported here, so ``REDUCTIONS`` lists every reduction the
Tensor methods and the ``convnp`` namespace bind.
"""

from __future__ import annotations

import builtins
import math
from collections import namedtuple

import numpy as np

from convnp._dtype import is_floating
from convnp.autograd.function import Function
from convnp.ops import statistics as _statistics
from convnp.ops._axes import MaxMin, normalize_dims, numpy_aliases  # noqa: F401 (re-exported)
from convnp.ops.statistics import *  # noqa: F401,F403 (reductions too)


def _expand_back(g: np.ndarray, shape: tuple, axes, keepdim: bool) -> np.ndarray:
    """Re-insert reduced axes so ``g`` broadcasts against the input's ``shape``."""
    if axes is None:
        return np.broadcast_to(g.reshape((1,) * len(shape)), shape)
    if not keepdim:
        g = np.expand_dims(g, axes)
    return np.broadcast_to(g, shape)


class Sum(Function):
    @staticmethod
    def forward(ctx, a, axes=None, keepdim=False, dtype=None):
        ctx.shape, ctx.axes, ctx.keepdim = a.shape, axes, keepdim
        if dtype is None and a.dtype.kind in "bui":
            dtype = np.int64  # torch sums integers and bools into int64
        return np.asarray(np.sum(a, axis=axes, keepdims=keepdim, dtype=dtype))

    @staticmethod
    def backward(ctx, g):
        return _expand_back(g, ctx.shape, ctx.axes, ctx.keepdim)


_MEAN_UFUNC_DTYPES = (np.float32, np.float64)


class Mean(Function):
    @staticmethod
    def forward(ctx, a, axes=None, keepdim=False):
        ctx.shape, ctx.axes, ctx.keepdim = a.shape, axes, keepdim
        n = a.size if axes is None else math.prod([a.shape[i] for i in axes])
        ctx.n = n
        if n and axes is not None and len(axes) < a.ndim and a.dtype.type in _MEAN_UFUNC_DTYPES:
            # np.mean's arithmetic (a sum, then a true division by an intp count) without its
            # Python wrapper, which costs more than a small reduction itself
            out = np.add.reduce(a, axis=axes, keepdims=keepdim)
            return np.true_divide(out, np.intp(n), out=out, casting="unsafe")
        return np.asarray(np.mean(a, axis=axes, keepdims=keepdim))

    @staticmethod
    def backward(ctx, g):
        return _expand_back(g / g.dtype.type(ctx.n), ctx.shape, ctx.axes, ctx.keepdim)


class Prod(Function):
    @staticmethod
    def forward(ctx, a, axis=None, keepdim=False):
        out = np.asarray(np.prod(a, axis=axis, keepdims=keepdim))
        ctx.save_for_backward(a, out)
        ctx.axes = None if axis is None else (axis,)
        ctx.keepdim = keepdim
        return out

    @staticmethod
    def backward(ctx, g):
        a, out = ctx.saved_tensors
        axes = ctx.axes
        # product of the other elements, computed without division so zeros are handled
        if axes is None:
            flat = a.reshape(-1)
            left = np.concatenate([[1], np.cumprod(flat)[:-1]]).astype(a.dtype)
            right = np.concatenate([np.cumprod(flat[::-1])[:-1][::-1], [1]]).astype(a.dtype)
            return (g.reshape(()) * left * right).reshape(a.shape)
        ax = axes[0]
        moved = np.moveaxis(a, ax, -1)
        ones = np.ones(moved.shape[:-1] + (1,), a.dtype)
        left = np.concatenate([ones, np.cumprod(moved, -1)[..., :-1]], -1)
        right = np.concatenate([np.flip(np.cumprod(np.flip(moved, -1), -1), -1)[..., 1:], ones], -1)
        others = np.moveaxis(left * right, -1, ax)
        return _expand_back(g, a.shape, axes, ctx.keepdim) * others


class MaxMinAll(Function):
    """Full max/min: ties share the gradient evenly (torch's evenly_distribute_backward)."""

    @staticmethod
    def forward(ctx, a, is_max=True):
        if a.size == 0:
            raise RuntimeError(f"{'max' if is_max else 'min'}(): expected a non-empty tensor")
        out = np.asarray(a.max() if is_max else a.min())
        ctx.save_for_backward(a, out)
        return out

    @staticmethod
    def backward(ctx, g):
        a, out = ctx.saved_tensors
        mask = a == out
        return mask * (g / mask.sum()).astype(g.dtype)


def _dims_dropped(ctx, out: np.ndarray, axes, keepdim: bool) -> np.ndarray:
    """A keepdims result with the reduced axes dropped unless ``keepdim``; ``ctx`` remembers."""
    ctx.axes, ctx.keepdim = axes, keepdim
    return out if keepdim else np.squeeze(out, axis=axes)


def _dims_kept(ctx, g: np.ndarray) -> np.ndarray:
    """The upstream gradient with the reduced axes back (size 1), to broadcast on the input."""
    return g if ctx.keepdim else np.expand_dims(g, ctx.axes)


class AMaxMin(Function):
    """amax/amin over dims: ties share the gradient evenly."""

    @staticmethod
    def forward(ctx, a, axes, keepdim=False, is_max=True):
        out = np.asarray((np.amax if is_max else np.amin)(a, axis=axes, keepdims=True))
        ctx.save_for_backward(a, out)
        return _dims_dropped(ctx, out, axes, keepdim)

    @staticmethod
    def backward(ctx, g):
        a, out = ctx.saved_tensors
        mask = a == out
        count = mask.sum(axis=ctx.axes, keepdims=True)
        return mask * (_dims_kept(ctx, g) / count).astype(g.dtype)


class MaxMinDim(Function):
    """max/min along one dim, returning (values, indices); gradient goes to the chosen index."""

    @staticmethod
    def forward(ctx, a, axis, keepdim=False, is_max=True):
        idx = (np.argmax if is_max else np.argmin)(a, axis=axis)
        idx_k = np.expand_dims(idx, axis)
        vals = np.take_along_axis(a, idx_k, axis)
        ctx.shape, ctx.axis, ctx.keepdim = a.shape, axis, keepdim
        ctx.save_for_backward(idx_k)
        ctx.mark_non_differentiable(1)
        if keepdim:
            return vals, idx_k.astype(np.int64)
        return np.squeeze(vals, axis), idx.astype(np.int64)

    @staticmethod
    def backward(ctx, g, _gi):
        (idx_k,) = ctx.saved_tensors
        gk = g if ctx.keepdim else np.expand_dims(g, ctx.axis)
        out = np.zeros(ctx.shape, g.dtype)
        np.put_along_axis(out, idx_k, gk, ctx.axis)
        return out


class Var(Function):
    @staticmethod
    def forward(ctx, a, axes=None, correction=1, keepdim=False):
        n = a.size if axes is None else int(np.prod([a.shape[i] for i in axes]))
        mean = np.mean(a, axis=axes, keepdims=True)
        diff = a - mean
        denom = builtins.max(n - correction, 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            out = np.asarray(np.sum(diff * diff, axis=axes, keepdims=keepdim) / a.dtype.type(denom))
        ctx.save_for_backward(diff)
        ctx.axes, ctx.keepdim, ctx.denom = axes, keepdim, denom
        return out.astype(a.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        return _var_backward(ctx, g, ctx.saved_tensors[0])


def _var_backward(ctx, g: np.ndarray, diff: np.ndarray) -> np.ndarray:
    scale = g.dtype.type(2.0 / ctx.denom) if ctx.denom else g.dtype.type(np.nan)
    return _expand_back(g, diff.shape, ctx.axes, ctx.keepdim) * diff * scale


class Std(Function):
    """``sqrt(var)``; as torch, the gradient is 0 (not NaN) where the deviation is 0."""

    @staticmethod
    def forward(ctx, a, axes=None, correction=1, keepdim=False):
        out = np.sqrt(Var.forward(ctx, a, axes, correction, keepdim))
        ctx.save_for_backward(ctx.saved_tensors[0], out)
        return out

    @staticmethod
    def backward(ctx, g):
        diff, out = ctx.saved_tensors
        with np.errstate(divide="ignore", invalid="ignore"):
            gv = np.where(out == 0, np.zeros((), g.dtype), g / (2 * out))
        return _var_backward(ctx, gv, diff)


class Norm(Function):
    """Vector p-norm over ``axes`` (all when None), with torch's gradient conventions: 0 where
    the norm is 0, ``sign(x)`` for p = 1, ties of the largest abs(x) sharing p = inf."""

    @staticmethod
    def forward(ctx, a, p=2.0, axes=None, keepdim=False):
        ab = np.abs(a)
        if p == 2:
            out = np.sqrt(np.sum(a * a, axis=axes, keepdims=True))
        elif p == 1:
            out = np.sum(ab, axis=axes, keepdims=True)
        elif p == np.inf:
            out = np.amax(ab, axis=axes, keepdims=True)
        elif p == -np.inf:
            out = np.amin(ab, axis=axes, keepdims=True)
        elif p == 0:
            out = np.sum(ab != 0, axis=axes, keepdims=True).astype(a.dtype)
        else:
            with np.errstate(divide="ignore"):
                out = np.sum(ab ** p, axis=axes, keepdims=True) ** (1.0 / p)
        out = np.asarray(out, a.dtype)
        ctx.save_for_backward(a, out)
        ctx.p, ctx.axes, ctx.keepdim = p, axes, keepdim
        if keepdim:
            return out
        return out.reshape(()) if axes is None else np.squeeze(out, axis=axes)

    @staticmethod
    def backward(ctx, g):
        a, norm = ctx.saved_tensors
        p, zero = ctx.p, np.zeros((), g.dtype)
        gk = g.reshape(norm.shape)  # keepdim layout: broadcasts against a
        with np.errstate(divide="ignore", invalid="ignore"):
            if p == 0:
                return np.zeros_like(a)
            if p == 1:
                return np.sign(a) * gk
            if p in (np.inf, -np.inf):
                mask = np.abs(a) == norm
                count = mask.sum(axis=ctx.axes, keepdims=True)
                return np.sign(a) * mask * (gk / count)
            scale = np.where(norm == 0, zero, gk / norm ** (p - 1))
            if p == 2:
                return a * scale
            if p < 1:
                scaled = np.sign(a) * np.where(a == 0, zero, np.abs(a) ** (p - 1))
                return scaled * gk * norm ** (1 - p)
            if p < 2:
                return np.sign(a) * np.abs(a) ** (p - 1) * scale
            return a * np.abs(a) ** (p - 2) * scale


class LogSumExp(Function):
    @staticmethod
    def forward(ctx, a, axes, keepdim=False):
        m = np.amax(a, axis=axes, keepdims=True)
        m = np.where(np.isfinite(m), m, 0)
        s = np.log(np.sum(np.exp(a - m), axis=axes, keepdims=True)) + m
        ctx.save_for_backward(a, s)
        return _dims_dropped(ctx, s, axes, keepdim)

    @staticmethod
    def backward(ctx, g):
        a, s = ctx.saved_tensors
        return _dims_kept(ctx, g) * np.exp(a - s)


# ----------------------------------------------------------------------------- functional forms
def sum(input, dim=None, keepdim=False, *, dtype=None):
    """Sum over ``dim`` (int, tuple, or all when None)."""
    return Sum.apply(input, axes=normalize_dims(dim, input.ndim, "sum"), keepdim=keepdim,
                     dtype=dtype)


def mean(input, dim=None, keepdim=False):
    """Mean over ``dim`` (int, tuple, or all when None)."""
    if not is_floating(input.dtype):
        raise TypeError(f"mean: expected a floating-point input, got dtype {input.dtype}; "
                        "convert with .float() first")
    return Mean.apply(input, axes=normalize_dims(dim, input.ndim, "mean"), keepdim=keepdim)


def prod(input, dim=None, keepdim=False):
    """Product over all elements or along one ``dim``."""
    axes = normalize_dims(dim, input.ndim, "prod")
    return Prod.apply(input, axis=None if axes is None else axes[0], keepdim=keepdim)


def _max_min(input, dim, keepdim, is_max):
    name = "max" if is_max else "min"
    if dim is None:
        return MaxMinAll.apply(input, is_max=is_max)
    if not isinstance(dim, (int, np.integer)):
        from convnp.tensor import Tensor

        if isinstance(dim, Tensor):  # torch.max(a, b) is the elementwise maximum
            from convnp.ops.elementwise import maximum, minimum

            return (maximum if is_max else minimum)(input, dim)
        raise TypeError(f"{name}: 'dim' must be an int, got {type(dim).__name__}")
    (axis,) = normalize_dims(dim, input.ndim, name)
    if input.ndim == 0:
        return MaxMin(input, input.new_zeros((), dtype=np.int64))
    return MaxMin(*MaxMinDim.apply(input, axis=axis, keepdim=keepdim, is_max=is_max))


def max(input, dim=None, keepdim=False):
    """Largest element, or ``(values, indices)`` along ``dim`` (or the elementwise max of two)."""
    return _max_min(input, dim, keepdim, True)


def min(input, dim=None, keepdim=False):
    """Smallest element, or ``(values, indices)`` along ``dim``."""
    return _max_min(input, dim, keepdim, False)


def amax(input, dim=(), keepdim=False):
    axes = normalize_dims(dim, input.ndim, "amax") if dim != () else tuple(range(input.ndim))
    return AMaxMin.apply(input, axes=axes, keepdim=keepdim, is_max=True)


def amin(input, dim=(), keepdim=False):
    axes = normalize_dims(dim, input.ndim, "amin") if dim != () else tuple(range(input.ndim))
    return AMaxMin.apply(input, axes=axes, keepdim=keepdim, is_max=False)


def _arg(input, dim, keepdim, fn, name):
    from convnp.tensor import Tensor

    a = input.array
    if dim is None:
        return Tensor._wrap(np.asarray(fn(a), dtype=np.int64))
    (axis,) = normalize_dims(dim, a.ndim, name)
    out = fn(a, axis=axis)
    if keepdim:
        out = np.expand_dims(out, axis)
    return Tensor._wrap(np.asarray(out, dtype=np.int64))


def argmax(input, dim=None, keepdim=False):
    """Index of the largest element (flat when ``dim`` is None). No gradient."""
    return _arg(input, dim, keepdim, np.argmax, "argmax")


def argmin(input, dim=None, keepdim=False):
    """Index of the smallest element (flat when ``dim`` is None). No gradient."""
    return _arg(input, dim, keepdim, np.argmin, "argmin")


def var(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """Variance with Bessel's correction by default (``correction=1``), like torch."""
    if correction is None:
        correction = 1 if unbiased is None or unbiased else 0
    return Var.apply(input, axes=normalize_dims(dim, input.ndim, "var"), correction=correction,
                     keepdim=keepdim)


def std(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """Standard deviation: ``sqrt(var(...))``."""
    if correction is None:
        correction = 1 if unbiased is None or unbiased else 0
    return Std.apply(input, axes=normalize_dims(dim, input.ndim, "std"), correction=correction,
                     keepdim=keepdim)


def logsumexp(input, dim, keepdim=False):
    """``log(sum(exp(input), dim))`` computed stably."""
    return LogSumExp.apply(input, axes=normalize_dims(dim, input.ndim, "logsumexp"),
                           keepdim=keepdim)


# ----------------------------------------------------------------------------- more reductions
# torch's remaining reduction ops, composed from the Functions above and the differentiable
# indexing ops (gather), so their gradients need no new backward.
def _t():
    from convnp.tensor import Tensor

    return Tensor


def all(input, dim=None, keepdim=False):  # noqa: A001 (torch's name)
    """True where every element (along ``dim``) is nonzero."""
    axes = normalize_dims(dim, input.ndim, "all")
    return _t()._wrap(np.asarray(np.all(input.array, axis=axes, keepdims=keepdim)))


def any(input, dim=None, keepdim=False):  # noqa: A001
    """True where some element (along ``dim``) is nonzero."""
    axes = normalize_dims(dim, input.ndim, "any")
    return _t()._wrap(np.asarray(np.any(input.array, axis=axes, keepdims=keepdim)))


def count_nonzero(input, dim=None):
    """The number of nonzero elements (along ``dim``), int64."""
    axes = normalize_dims(dim, input.ndim, "count_nonzero")
    return _t()._wrap(np.asarray(np.count_nonzero(input.array, axis=axes), np.int64))


def nansum(input, dim=None, keepdim=False, *, dtype=None):
    """``sum`` treating NaN as zero (no gradient reaches the NaNs)."""
    from convnp.ops.elementwise import where

    return sum(where(_t()._wrap(np.isnan(input.array)), 0.0, input), dim, keepdim, dtype=dtype)


def nanmean(input, dim=None, keepdim=False, *, dtype=None):
    """``mean`` over the non-NaN elements."""
    axes = normalize_dims(dim, input.ndim, "nanmean")
    n = np.sum(~np.isnan(input.array), axis=axes, keepdims=keepdim).astype(input.dtype)
    return nansum(input, dim, keepdim) / _t()._wrap(np.asarray(n))


AMinMax = namedtuple("aminmax", ["min", "max"])


def var_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """``(var, mean)`` over ``dim``."""
    return (var(input, dim, unbiased, keepdim, correction=correction),
            mean(input, dim, keepdim))


def std_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """``(std, mean)`` over ``dim``."""
    return (std(input, dim, unbiased, keepdim, correction=correction),
            mean(input, dim, keepdim))


def aminmax(input, *, dim=None, keepdim=False):
    """``(min, max)`` over all elements or along ``dim``."""
    d = () if dim is None else dim
    if dim is None and keepdim:
        d = tuple(range(input.ndim))
    return AMinMax(amin(input, d, keepdim), amax(input, d, keepdim))


def norm(input, p="fro", dim=None, keepdim=False, dtype=None):
    """The vector p-norm over ``dim`` (all elements when None): 'fro' and 2 are Euclidean,
    ``inf`` / ``-inf`` the largest / smallest magnitude, 0 the count of nonzeros, any other
    float the p-norm. One op (``Norm``), so the gradient at 0 is 0 as torch's, not NaN."""
    x = input if dtype is None else input.to(dtype)
    if p is None or p == "fro":
        p = 2
    if p == "nuc":
        raise NotImplementedError("norm(p='nuc'): the nuclear norm needs an SVD, which convnp "
                                  "leaves out (linear algebra beyond CNNs)")
    if isinstance(p, str):
        raise ValueError(f"norm: p must be a number, inf, 'fro' or 'nuc', got {p!r}")
    if not is_floating(x.dtype):
        raise TypeError(f"norm: expected a floating-point input, got dtype {x.dtype}; "
                        "convert with .float() first")
    return Norm.apply(x, p=float(p), axes=normalize_dims(dim, x.ndim, "norm"), keepdim=keepdim)


def dist(input, other, p=2):
    """``norm(input - other, p)`` over all elements."""
    from convnp.ops import elementwise as E

    return norm(E.sub(input, other), p)


for _name in ("sum", "mean", "prod", "max", "min", "amax", "amin", "argmax", "argmin", "var",
              "std", "logsumexp", "all", "any", "count_nonzero", "nansum", "nanmean", "var_mean",
              "std_mean", "aminmax", "norm"):
    globals()[_name] = numpy_aliases(globals()[_name])

REDUCTIONS = ["all", "any", "count_nonzero", "nansum", "nanmean", "var_mean", "std_mean",
              "aminmax", "norm", "dist"] + _statistics.__all__
