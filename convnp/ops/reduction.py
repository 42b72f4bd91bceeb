"""Reductions: sum, mean, max/min (with indices), argmax/argmin, var/std, logsumexp, prod."""

from __future__ import annotations

import builtins
from collections import namedtuple

import numpy as np

from convnp._dtype import is_floating
from convnp._layout import normalize_dims  # noqa: F401 (ops import it from here too)
from convnp.autograd.function import Function

MaxMin = namedtuple("MaxMin", ["values", "indices"])


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


class Mean(Function):
    @staticmethod
    def forward(ctx, a, axes=None, keepdim=False):
        ctx.shape, ctx.axes, ctx.keepdim = a.shape, axes, keepdim
        n = a.size if axes is None else int(np.prod([a.shape[i] for i in axes]))
        ctx.n = n
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


class AMaxMin(Function):
    """amax/amin over dims: ties share the gradient evenly."""

    @staticmethod
    def forward(ctx, a, axes, keepdim=False, is_max=True):
        out = np.asarray((np.amax if is_max else np.amin)(a, axis=axes, keepdims=True))
        ctx.save_for_backward(a, out)
        ctx.axes, ctx.keepdim = axes, keepdim
        return out if keepdim else np.squeeze(out, axis=axes)

    @staticmethod
    def backward(ctx, g):
        a, out = ctx.saved_tensors
        mask = a == out
        count = mask.sum(axis=ctx.axes, keepdims=True)
        gk = g if ctx.keepdim else np.expand_dims(g, ctx.axes)
        return mask * (gk / count).astype(g.dtype)


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
        ctx.axes, ctx.keepdim = axes, keepdim
        return s if keepdim else np.squeeze(s, axis=axes)

    @staticmethod
    def backward(ctx, g):
        a, s = ctx.saved_tensors
        gk = g if ctx.keepdim else np.expand_dims(g, ctx.axes)
        return gk * np.exp(a - s)


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


def _kth(input, dim, k_of, keepdim, fn, nan_last=True):
    """Values and indices of the element at position ``k_of(n_valid)`` of the sorted slices."""
    from convnp.ops.indexing import gather

    a = input.array
    if dim is None:
        flat = input.reshape(-1)
        v, i = _kth(flat, 0, k_of, False, fn)
        return v, i
    axis = normalize_dims(dim, input.ndim, fn)[0]
    order = np.argsort(a, axis=axis, kind="stable")  # NaN sorts last
    valid = np.sum(~np.isnan(a), axis=axis, keepdims=True) if is_floating(a.dtype) else \
        np.full([1 if i == axis else s for i, s in enumerate(a.shape)], a.shape[axis])
    k = k_of(valid)
    idx = np.take_along_axis(order, np.clip(k, 0, a.shape[axis] - 1), axis)
    T = _t()
    values = gather(input, axis, T._wrap(idx))
    if not keepdim:
        values = values.squeeze(axis)
        idx = np.squeeze(idx, axis)
    return values, T._wrap(idx.astype(np.int64))


def median(input, dim=None, keepdim=False):
    """The lower median (of all elements, or ``(values, indices)`` along ``dim``); NaN if the
    slice holds a NaN."""
    a = input.array
    if a.size == 0:
        raise RuntimeError("median() input tensor cannot be empty")
    if dim is None:
        flat = a.reshape(-1)
        if is_floating(a.dtype) and np.isnan(flat).any():
            return input.reshape(-1)[int(np.argmax(np.isnan(flat)))]
        v, _ = _kth(input.reshape(-1), 0, lambda n: np.full_like(n, (flat.size - 1) // 2),
                    False, "median")
        return v
    axis = normalize_dims(dim, input.ndim, "median")[0]
    n = a.shape[axis]
    has_nan = (np.isnan(a).any(axis=axis, keepdims=True) if is_floating(a.dtype)
               else np.zeros(1, bool))
    v, i = _kth(input, axis, lambda valid: np.where(has_nan, valid, (n - 1) // 2), keepdim,
                "median")
    return MaxMin(v, i)


def nanmedian(input, dim=None, keepdim=False):
    """The lower median of the non-NaN elements."""
    a = input.array
    if dim is None:
        nvalid = int(np.sum(~np.isnan(a))) if is_floating(a.dtype) else a.size
        k = builtins.max(nvalid - 1, 0) // 2
        v, _ = _kth(input.reshape(-1), 0, lambda n: np.full_like(n, k), False, "nanmedian")
        return v
    v, i = _kth(input, dim, lambda valid: np.maximum(valid - 1, 0) // 2, keepdim, "nanmedian")
    return MaxMin(v, i)


def mode(input, dim=-1, keepdim=False):
    """The most frequent value along ``dim`` (the smallest among equally frequent ones) and
    the index of its last occurrence."""
    from convnp.ops.indexing import gather

    a = input.array
    axis = normalize_dims(dim, input.ndim, "mode")[0]
    moved = np.moveaxis(a, axis, -1).reshape(-1, a.shape[axis])
    idx = np.empty(moved.shape[0], np.int64)
    for r, row in enumerate(moved):  # one np.unique per slice; mode is not a hot path
        vals, counts = np.unique(row, return_counts=True)
        best = vals[np.argmax(counts)]
        idx[r] = np.flatnonzero(row == best)[-1]
    idx = np.moveaxis(idx.reshape(np.moveaxis(a, axis, -1).shape[:-1] + (1,)), -1, axis)
    T = _t()
    values = gather(input, axis, T._wrap(idx))
    if not keepdim:
        values, idx = values.squeeze(axis), np.squeeze(idx, axis)
    return MaxMin(values, T._wrap(idx))


def kthvalue(input, k, dim=-1, keepdim=False):
    """The ``k``-th smallest element (1-based) along ``dim``, and its index."""
    axis = normalize_dims(dim, input.ndim, "kthvalue")[0]
    n = input.shape[axis] if input.ndim else 1
    if not 1 <= k <= n:
        raise RuntimeError(f"kthvalue: k ({k}) must be in [1, {n}] for dim {axis} of size {n}")
    v, i = _kth(input, axis, lambda valid: np.full_like(valid, k - 1), keepdim, "kthvalue")
    return MaxMin(v, i)


def quantile(input, q, dim=None, keepdim=False, *, interpolation="linear"):
    """The ``q``-quantiles (``q`` a float or 1-d tensor in [0, 1]) over ``dim`` (all elements
    when None), interpolating as ``interpolation`` says ('linear', 'lower', 'higher',
    'nearest', 'midpoint'). A NaN in a slice gives NaN."""
    return _quantile(input, q, dim, keepdim, interpolation, "quantile", ignore_nan=False)


def nanquantile(input, q, dim=None, keepdim=False, *, interpolation="linear"):
    """``quantile`` of the non-NaN elements."""
    return _quantile(input, q, dim, keepdim, interpolation, "nanquantile", ignore_nan=True)


def _quantile(input, q, dim, keepdim, interpolation, fn, ignore_nan):
    from convnp.ops import elementwise as E
    from convnp.ops.indexing import gather
    from convnp.ops.movement import stack

    T = _t()
    if interpolation not in ("linear", "lower", "higher", "nearest", "midpoint"):
        raise ValueError(f"{fn}: interpolation must be 'linear', 'lower', 'higher', 'nearest' "
                         f"or 'midpoint', got {interpolation!r}")
    qs = np.asarray(q.array if isinstance(q, T) else q, np.float64)
    if qs.ndim > 1 or np.any((qs < 0) | (qs > 1)):
        raise RuntimeError(f"{fn}: q must be a scalar or 1-d tensor with values in [0, 1]")
    if not is_floating(input.dtype):
        raise RuntimeError(f"{fn}: input must be a float tensor, got {input.dtype}")
    x = input.reshape(-1) if dim is None else input
    axis = 0 if dim is None else normalize_dims(dim, input.ndim, fn)[0]
    a = x.array
    order = np.argsort(a, axis=axis, kind="stable")
    nan = np.isnan(a)
    valid = np.sum(~nan, axis=axis, keepdims=True)
    any_nan = nan.any(axis=axis, keepdims=True)
    n = a.shape[axis]
    sorted_x = gather(x, axis, T._wrap(order))
    outs = []
    for qv in np.atleast_1d(qs):
        m = (valid - 1) if ignore_nan else np.where(any_nan, n - 1, n - 1)
        pos = qv * np.maximum(m, 0)
        lo = np.floor(pos).astype(np.int64)
        hi = np.ceil(pos).astype(np.int64)
        frac = pos - lo
        if interpolation == "lower":
            hi, frac = lo, frac * 0
        elif interpolation == "higher":
            lo, frac = hi, frac * 0
        elif interpolation == "nearest":
            near = np.round(pos).astype(np.int64)  # half to even, as torch
            lo = hi = near
            frac = frac * 0
        elif interpolation == "midpoint":
            frac = np.where(hi > lo, 0.5, 0.0)
        v_lo = gather(sorted_x, axis, T._wrap(lo))
        v_hi = gather(sorted_x, axis, T._wrap(hi))
        v = E.add(v_lo, E.mul(E.sub(v_hi, v_lo), frac.astype(a.dtype)))
        bad = any_nan if not ignore_nan else valid == 0
        if bad.any():
            v = E.where(T._wrap(np.broadcast_to(~bad, v.shape)), v, float("nan"))
        outs.append(v if keepdim else v.squeeze(axis))
    if dim is None and keepdim:
        outs = [o.reshape((1,) * input.ndim) for o in outs]
    return outs[0] if qs.ndim == 0 else stack(outs, 0)


def unique(input, sorted=True, return_inverse=False, return_counts=False, dim=None):  # noqa: A002
    """The distinct elements (sorted), with the inverse indices and counts when asked."""
    T = _t()
    a = input.array
    if dim is None:
        vals, inv, counts = np.unique(a, return_inverse=True, return_counts=True)
        inv = inv.reshape(a.shape)
    else:
        axis = normalize_dims(dim, input.ndim, "unique")[0]
        vals, inv, counts = np.unique(a, return_inverse=True, return_counts=True, axis=axis)
        inv = inv.reshape(-1)
    out = [T._wrap(vals)]
    if return_inverse:
        out.append(T._wrap(inv.astype(np.int64)))
    if return_counts:
        out.append(T._wrap(counts.astype(np.int64)))
    return out[0] if len(out) == 1 else tuple(out)


def unique_consecutive(input, return_inverse=False, return_counts=False, dim=None):
    """Collapse runs of equal consecutive elements (flattened when ``dim`` is None)."""
    T = _t()
    a = input.array
    axis = None if dim is None else normalize_dims(dim, input.ndim, "unique_consecutive")[0]
    x = a.reshape(-1) if axis is None else np.moveaxis(a, axis, 0)
    if x.shape[0] == 0:
        change = np.zeros(0, bool)
    else:
        diff = (x[1:] != x[:-1]).reshape(x.shape[0] - 1, -1).any(axis=1)
        change = np.concatenate([[True], diff])
    starts = np.flatnonzero(change)
    vals = x[starts]
    if axis is not None:
        vals = np.moveaxis(vals, 0, axis)
    out = [T._wrap(np.ascontiguousarray(vals))]
    if return_inverse:
        inv = np.cumsum(change) - 1
        out.append(T._wrap(inv.reshape(a.shape if axis is None else -1).astype(np.int64)))
    if return_counts:
        out.append(T._wrap(np.diff(np.append(starts, x.shape[0])).astype(np.int64)))
    return out[0] if len(out) == 1 else tuple(out)


class CumSum(Function):
    @staticmethod
    def forward(ctx, a, axis, dtype=None):
        ctx.axis = axis
        if dtype is None and a.dtype.kind in "bui":
            dtype = np.int64
        return np.cumsum(a, axis=axis, dtype=dtype)

    @staticmethod
    def backward(ctx, g):
        return np.flip(np.cumsum(np.flip(g, ctx.axis), axis=ctx.axis), ctx.axis)


def cumsum(input, dim, *, dtype=None):
    """Running sum along ``dim``."""
    axis = normalize_dims(dim, builtins.max(input.ndim, 1), "cumsum")[0]
    if input.ndim == 0:
        return CumSum.apply(input.reshape(1), axis=0, dtype=dtype).reshape(())
    return CumSum.apply(input, axis=axis, dtype=dtype)


def cumprod(input, dim, *, dtype=None):
    """Running product along ``dim`` (gradient through the log-free product rule)."""
    from convnp.ops.movement import cat

    axis = normalize_dims(dim, builtins.max(input.ndim, 1), "cumprod")[0]
    x = input if dtype is None else input.to(dtype)
    if x.dtype.kind in "bui" and dtype is None:
        x = x.long()
    if not x.requires_grad:
        return _t()._wrap(np.cumprod(x.array, axis=axis))
    # differentiable: a product of prefixes, one slice at a time (n small in practice)
    outs, acc = [], None
    for i in range(x.shape[axis]):
        s = x.narrow(axis, i, 1)
        acc = s if acc is None else acc * s
        outs.append(acc)
    return cat(outs, axis)


def _cum_ext(input, dim, is_max, fn):
    from convnp.ops.indexing import gather

    axis = normalize_dims(dim, builtins.max(input.ndim, 1), fn)[0]
    a = input.array
    acc = (np.maximum if is_max else np.minimum).accumulate(a, axis=axis)
    # index of the last position where the running extreme was attained (torch's choice)
    n = a.shape[axis]
    pos = np.arange(n).reshape([-1 if i == axis else 1 for i in range(a.ndim)])
    hit = np.where(a == acc, pos, -1)
    idx = np.maximum.accumulate(hit, axis=axis).astype(np.int64)
    T = _t()
    return MaxMin(gather(input, axis, T._wrap(idx)), T._wrap(idx))


def cummax(input, dim):
    """Running maximum along ``dim`` and the index where it was attained."""
    return _cum_ext(input, dim, True, "cummax")


def cummin(input, dim):
    """Running minimum along ``dim`` and the index where it was attained."""
    return _cum_ext(input, dim, False, "cummin")


def logcumsumexp(input, dim):
    """``log(cumsum(exp(input)))`` along ``dim``, computed stably."""
    from convnp.ops import elementwise as E

    axis = normalize_dims(dim, builtins.max(input.ndim, 1), "logcumsumexp")[0]
    m = np.max(input.array, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0)
    shift = _t()._wrap(m)
    return E.add(E.log(cumsum(E.exp(E.sub(input, shift)), axis)), shift)


# ----------------------------------------------------------------------------- NumPy-style names
def numpy_aliases(fn):
    """Accept NumPy's ``axis=`` / ``keepdims=`` for ``dim=`` / ``keepdim=``, as torch does."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        if "axis" in kwargs:
            if "dim" in kwargs:
                raise TypeError(f"{fn.__name__}: got both 'dim' and its alias 'axis'")
            kwargs["dim"] = kwargs.pop("axis")
        if "keepdims" in kwargs:
            if "keepdim" in kwargs:
                raise TypeError(f"{fn.__name__}: got both 'keepdim' and its alias 'keepdims'")
            kwargs["keepdim"] = kwargs.pop("keepdims")
        return fn(*args, **kwargs)

    return wrapper


for _name in ("sum", "mean", "prod", "max", "min", "amax", "amin", "argmax", "argmin", "var",
              "std", "logsumexp", "all", "any", "count_nonzero", "nansum", "nanmean", "var_mean",
              "std_mean", "aminmax", "norm", "median", "nanmedian", "mode", "kthvalue",
              "quantile", "nanquantile", "unique", "unique_consecutive", "cumsum", "cumprod",
              "cummax", "cummin", "logcumsumexp"):
    globals()[_name] = numpy_aliases(globals()[_name])

REDUCTIONS = ["all", "any", "count_nonzero", "nansum", "nanmean", "var_mean", "std_mean",
              "aminmax", "norm", "dist", "median", "nanmedian", "mode", "kthvalue", "quantile",
              "nanquantile", "unique", "unique_consecutive", "cumsum", "cumprod", "cummax",
              "cummin", "logcumsumexp"]
