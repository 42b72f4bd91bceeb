"""torch's remaining numeric helpers ("Other Operations" in its reference): diff, the
triangle index helpers, histograms and bucketing, cov / corrcoef, block_diag, combinations,
vander, renorm, trapezoid rules. Differentiable ones compose differentiable ops."""

from __future__ import annotations

import itertools

import numpy as np

from convnp.ops import elementwise as E
from convnp.ops import reduction as R
from convnp.ops.reduction import normalize_dims

__all__ = ["diff", "tril_indices", "triu_indices", "bincount", "histc", "histogram",
           "bucketize", "searchsorted", "cov", "corrcoef", "block_diag", "combinations",
           "vander", "renorm", "trapezoid", "trapz", "cumulative_trapezoid"]


def _t():
    from convnp.tensor import Tensor

    return Tensor


def diff(input, n=1, dim=-1, prepend=None, append=None):
    """``n``-th forward difference along ``dim`` (after joining ``prepend`` / ``append``)."""
    from convnp.ops.movement import cat

    d = normalize_dims(dim, input.ndim, "diff")[0]
    x = input
    parts = [p for p in (prepend, x, append) if p is not None]
    if len(parts) > 1:
        x = cat(parts, d)
    for _ in range(n):
        m = x.shape[d]
        x = E.sub(x.narrow(d, 1, m - 1), x.narrow(d, 0, m - 1)) if m else x
    return x


def _tri_indices(row, col, offset, lower, dtype):
    r, c = (np.tril_indices if lower else np.triu_indices)(row, offset, col)
    from convnp import _dtype as D

    return _t()._wrap(np.stack([r, c]).astype(D.resolve(dtype) or np.int64))


def tril_indices(row, col, offset=0, *, dtype=None, device=None, layout=None):
    """The (2, n) coordinates of the lower triangle of a ``row`` x ``col`` matrix."""
    return _tri_indices(row, col, offset, True, dtype)


def triu_indices(row, col, offset=0, *, dtype=None, device=None, layout=None):
    """The (2, n) coordinates of the upper triangle of a ``row`` x ``col`` matrix."""
    return _tri_indices(row, col, offset, False, dtype)


def bincount(input, weights=None, minlength=0):
    """Count of each value of a 1-d non-negative int tensor (summed ``weights`` if given)."""
    a = input.array
    if a.ndim != 1 or a.dtype.kind not in "iu" or (a.size and a.min() < 0):
        raise RuntimeError("bincount: input must be a 1-d tensor of non-negative integers")
    w = None if weights is None else weights.array
    out = np.bincount(a, w, minlength)
    if w is None:
        out = out.astype(np.int64)
    elif w.dtype == np.float32:
        out = out.astype(np.float32)
    return _t()._wrap(out)


def histc(input, bins=100, min=0, max=0):  # noqa: A002 (torch's names)
    """Histogram of ``bins`` equal bins over [min, max] (the data's range when both are 0);
    values outside are ignored."""
    a = input.array
    lo, hi = float(min), float(max)
    if lo == hi == 0 and a.size:
        lo, hi = float(a.min()), float(a.max())
    if lo == hi:
        lo, hi = lo - 1, hi + 1
    counts, _ = np.histogram(a, bins, (lo, hi))
    return _t()._wrap(counts.astype(a.dtype))


def histogram(input, bins=100, *, range=None, weight=None, density=False):  # noqa: A002
    """``(hist, bin_edges)`` as ``numpy.histogram``."""
    w = None if weight is None else weight.array
    b = bins.array if isinstance(bins, _t()) else bins
    hist, edges = np.histogram(input.array, b, range, weights=w, density=density)
    T = _t()
    return T._wrap(hist.astype(input.dtype)), T._wrap(edges.astype(input.dtype))


def searchsorted(sorted_sequence, input, *, out_int32=False, right=False, side=None,
                 sorter=None):
    """Indices where ``input``'s values would be inserted into the sorted last dim of
    ``sorted_sequence`` to keep it sorted."""
    seq = sorted_sequence.array
    vals = input.array if isinstance(input, _t()) else np.asarray(input)
    side = side or ("right" if right else "left")
    if sorter is not None:
        seq = np.take_along_axis(seq, sorter.array, -1)
    if seq.ndim <= 1:
        out = np.searchsorted(seq, vals, side)
    else:
        flat_s = seq.reshape(-1, seq.shape[-1])
        flat_v = vals.reshape(flat_s.shape[0], -1)
        out = np.stack([np.searchsorted(s, v, side) for s, v in zip(flat_s, flat_v)])
        out = out.reshape(vals.shape)
    return _t()._wrap(np.asarray(out, np.int32 if out_int32 else np.int64))


def bucketize(input, boundaries, *, out_int32=False, right=False):
    """The bucket of each value given sorted 1-d ``boundaries`` (``searchsorted`` reversed)."""
    return searchsorted(boundaries, input, out_int32=out_int32, right=right)


def cov(input, *, correction=1, fweights=None, aweights=None):
    """Covariance of the variables in the rows of ``input`` (observations in the columns)."""
    if fweights is not None or aweights is not None:
        raise NotImplementedError("cov: fweights / aweights are not supported by convnp")
    x = input if input.ndim == 2 else input.reshape(1, -1)
    n = x.shape[1]
    xc = E.sub(x, R.mean(x, 1, keepdim=True))
    out = E.div(xc.matmul(xc.t()), max(n - correction, 0))
    return out if input.ndim == 2 else out.reshape(())


def corrcoef(input):
    """Pearson correlation coefficients of the rows of ``input``."""
    c = cov(input)
    if c.ndim == 0:
        return E.div(c, c)
    d = E.sqrt(c.diagonal())
    return E.clamp(E.div(E.div(c, d.unsqueeze(1)), d.unsqueeze(0)), -1, 1)


def block_diag(*tensors):
    """A block-diagonal matrix of the (0-d, 1-d or 2-d) tensors."""
    from convnp.ops.indexing import slice_scatter

    mats = [t.reshape(1, -1) if t.ndim < 2 else t for t in tensors]
    if not mats:
        return _t()._wrap(np.zeros((1, 0), np.float32))
    rows, cols = sum(m.shape[0] for m in mats), sum(m.shape[1] for m in mats)
    dtype = np.result_type(*[m.dtype for m in mats])
    out = _t()._wrap(np.zeros((rows, cols), dtype))
    r = c = 0
    for m in mats:
        band = out[r:r + m.shape[0]]
        band = slice_scatter(band, m.to(dtype), 1, c, c + m.shape[1])
        out = slice_scatter(out, band, 0, r, r + m.shape[0])
        r, c = r + m.shape[0], c + m.shape[1]
    return out


def combinations(input, r=2, with_replacement=False):
    """The length-``r`` combinations of a 1-d tensor's elements, as rows."""
    from convnp.ops.indexing import index_select

    n = input.shape[0]
    gen = itertools.combinations_with_replacement if with_replacement else \
        itertools.combinations
    idx = np.array(list(gen(range(n), r)), np.int64).reshape(-1, r)
    if idx.size == 0:
        return _t()._wrap(np.zeros((0,) if r else (0,), input.dtype))
    return index_select(input, 0, _t()._wrap(idx.reshape(-1))).reshape(-1, r)


def vander(x, N=None, increasing=False):
    """Vandermonde matrix: columns ``x ** (N-1), ..., x ** 0`` (reversed if ``increasing``)."""
    n = x.shape[0] if N is None else N
    powers = np.arange(n) if increasing else np.arange(n)[::-1]
    cols = [E.pow(x, int(p)) if p else E.mul(x, 0) + 1 for p in powers]
    from convnp.ops.movement import stack

    return stack(cols, 1) if cols else _t()._wrap(np.zeros((x.shape[0], 0), x.dtype))


def renorm(input, p, dim, maxnorm):
    """Rescale each slice along ``dim`` whose ``p``-norm exceeds ``maxnorm`` to that norm
    (torch's factor ``maxnorm / (norm + 1e-7)``)."""
    d = normalize_dims(dim, input.ndim, "renorm")[0]
    others = tuple(i for i in range(input.ndim) if i != d)
    norms = R.norm(input, p, others, keepdim=True)
    over = _t()._wrap(norms.array > maxnorm)
    factor = E.where(over, E.div(maxnorm, E.add(norms, 1e-7)), np.ones((), input.dtype))
    return E.mul(input, factor)


def trapezoid(y, x=None, *, dx=None, dim=-1):
    """Integral of ``y`` along ``dim`` by the trapezoid rule (spacing ``x`` or ``dx``)."""
    d = normalize_dims(dim, y.ndim, "trapezoid")[0]
    n = y.shape[d]
    if n == 0:
        return R.sum(y, d)
    mid = E.add(y.narrow(d, 1, n - 1), y.narrow(d, 0, n - 1))
    if x is not None:
        h = diff(x, dim=-1 if x.ndim == 1 else d)
        if x.ndim == 1:
            h = h.reshape([-1 if i == d else 1 for i in range(y.ndim)])
        return R.sum(E.mul(mid, E.mul(h, 0.5)), d)
    return R.sum(E.mul(mid, 0.5 * (1.0 if dx is None else dx)), d)


def trapz(y, x=None, *, dx=None, dim=-1):
    """``trapezoid`` (torch's older name)."""
    return trapezoid(y, x, dx=dx, dim=dim)


def cumulative_trapezoid(y, x=None, *, dx=None, dim=-1):
    """Running trapezoid-rule integral along ``dim`` (one element shorter)."""
    d = normalize_dims(dim, y.ndim, "cumulative_trapezoid")[0]
    n = y.shape[d]
    mid = E.add(y.narrow(d, 1, n - 1), y.narrow(d, 0, n - 1))
    if x is not None:
        h = diff(x, dim=-1 if x.ndim == 1 else d)
        if x.ndim == 1:
            h = h.reshape([-1 if i == d else 1 for i in range(y.ndim)])
        mid = E.mul(mid, E.mul(h, 0.5))
    else:
        mid = E.mul(mid, 0.5 * (1.0 if dx is None else dx))
    return R.cumsum(mid, d)
