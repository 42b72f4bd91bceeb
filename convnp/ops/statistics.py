"""Order statistics and running reductions: median, mode, kthvalue, quantile, unique, and the
cumulative ops (cumsum, cumprod, cummax, cummin, logcumsumexp).

Composed from the differentiable indexing ops (``gather``) and the elementwise ones, so their
gradients need no new backward; only ``cumsum`` is a Function of its own (its backward is the
reversed running sum). ``convnp.ops.reduction`` re-exports every name here.
"""

from __future__ import annotations

import numpy as np

from convnp._dtype import is_floating
from convnp.autograd.function import Function
from convnp.ops._axes import MaxMin, normalize_dims, numpy_aliases

__all__ = ["median", "nanmedian", "mode", "kthvalue", "quantile", "nanquantile", "unique",
           "unique_consecutive", "cumsum", "cumprod", "cummax", "cummin", "logcumsumexp"]


def _t():
    from convnp.tensor import Tensor

    return Tensor


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
        k = max(nvalid - 1, 0) // 2
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
    axis = normalize_dims(dim, max(input.ndim, 1), "cumsum")[0]
    if input.ndim == 0:
        return CumSum.apply(input.reshape(1), axis=0, dtype=dtype).reshape(())
    return CumSum.apply(input, axis=axis, dtype=dtype)


def cumprod(input, dim, *, dtype=None):
    """Running product along ``dim`` (gradient through the log-free product rule)."""
    from convnp.ops.movement import cat

    axis = normalize_dims(dim, max(input.ndim, 1), "cumprod")[0]
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

    axis = normalize_dims(dim, max(input.ndim, 1), fn)[0]
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

    axis = normalize_dims(dim, max(input.ndim, 1), "logcumsumexp")[0]
    m = np.max(input.array, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0)
    shift = _t()._wrap(m)
    return E.add(E.log(cumsum(E.exp(E.sub(input, shift)), axis)), shift)


for _name in __all__:
    globals()[_name] = numpy_aliases(globals()[_name])
