"""Batch norm's kernels and memory layouts: the input as an ``(N, C, M)`` view or a channels-last
``(P, C)`` matrix, the compiled per-piece moment / gradient-sum / affine kernels, and the NumPy
per-channel sums of the reference path (see ``ops/normalization.py`` for how they combine)."""

from __future__ import annotations

import math

import numpy as np

from convnp import _blas, backend


# ---------------------------------------------------------------- layout
def _layout(x: np.ndarray):
    """View ``x`` (N, C, *) as ('ncm', (N, C, M)) or, if channels-last, ('pc', (P, C)); no copy.

    Anything else (odd strides) is copied to C order once.
    """
    n, c = x.shape[0], x.shape[1]
    m = math.prod(x.shape[2:])
    if x.ndim == 2 and x.flags.c_contiguous:
        return "pc", x  # (N, C) is already a (P, C) matrix
    if x.flags.c_contiguous:
        return "ncm", x.reshape(n, c, m)
    if x.ndim > 2:
        last = x.transpose(0, *range(2, x.ndim), 1)  # (N, *, C)
        if last.flags.c_contiguous:
            return "pc", last.reshape(n * m, c)
    return "ncm", np.ascontiguousarray(x).reshape(n, c, m)


def _empty_like_layout(kind: str, view: np.ndarray, x: np.ndarray) -> tuple:
    """An output shaped like ``x`` in the layout of ``view``; returns (out, out_view)."""
    if kind == "ncm":
        out = np.empty(x.shape, x.dtype)  # owns its memory: no view for autograd to trace back
        return out, out.reshape(view.shape)
    out_view = np.empty(view.shape, x.dtype)  # (P, C) channels-last
    nd = x.ndim
    last_shape = (x.shape[0],) + x.shape[2:] + (x.shape[1],)
    out = out_view.reshape(last_shape).transpose(0, nd - 1, *range(1, nd - 1))
    return out, out_view


def _from_layout(kind: str, arr_view: np.ndarray, x_shape: tuple) -> np.ndarray:
    if kind == "ncm":
        return arr_view.reshape(x_shape)
    nd = len(x_shape)
    last_shape = (x_shape[0],) + tuple(x_shape[2:]) + (x_shape[1],)
    return arr_view.reshape(last_shape).transpose(0, nd - 1, *range(1, nd - 1))


def _bcast(v: np.ndarray, kind: str) -> np.ndarray:
    """Per-channel vector shaped to broadcast against the (N, C, M) or (P, C) view."""
    return v[:, None] if kind == "ncm" else v


# ---------------------------------------------------------------- numba kernels
prange = backend.prange  # numba.prange in the compiled kernels

# The data is walked in pieces that stay in L1 while they are read twice: one (image, channel)
# row of an (N, C, M) view, or a block of ``_ROWS`` rows of a channels-last (P, C) view. Batch
# statistics: each piece's mean and centred sum of squares (two passes over the cached piece, as
# accurate as the two-pass formula), merged per channel with Chan's pairwise update; so each
# pass over memory reads every value once, and pieces run in parallel even when channels are
# few. Reassociation lets the compiler vectorise the sums (rounding as a pairwise or BLAS sum's,
# not a serial loop's); no other fast-math flag, so NaN and infinities propagate as in the
# reference path.
_FM = {"reassoc", "contract"}
_ROWS = 64  # rows of a (P, C) view per piece


@backend.jit(parallel=True, fastmath=_FM)
def _moments_ncm(x, pmu, pq):
    """pmu[i, ch], pq[i, ch]: mean and centred sum of squares of row x[i, ch] of (N, C, M)."""
    n, c, m = x.shape
    for r in prange(n * c):
        i, ch = r // c, r % c
        row = x[i, ch]
        s = pq[i, ch]  # pq starts zeroed: a zero of the data's dtype (float32 stays in its lanes)
        for j in range(m):
            s += row[j]
        pmu[i, ch] = s / m
        mu = pmu[i, ch]
        q = pq[i, ch]
        for j in range(m):
            d = row[j] - mu
            q += d * d
        pq[i, ch] = q


@backend.jit(parallel=True, fastmath=_FM)
def _moments_pc(x, pmu, pq):
    """pmu[b], pq[b]: column means and centred sums of squares of rows b*_ROWS.. of (P, C)."""
    p, c = x.shape
    for b in prange(pmu.shape[0]):
        lo = b * _ROWS
        hi = min(p, lo + _ROWS)
        mu = pmu[b]
        q = pq[b]
        mu[:] = 0
        q[:] = 0
        for i in range(lo, hi):
            row = x[i]
            for j in range(c):
                mu[j] += row[j]
        for j in range(c):
            mu[j] /= hi - lo
        for i in range(lo, hi):
            row = x[i]
            for j in range(c):
                d = row[j] - mu[j]
                q[j] += d * d


@backend.jit()
def _merge_moments(pmu, pq, cnt, total, mean, var):
    """Per channel: merge pieces (pmu[k], pq[k], cnt[k] values) into the biased mean and
    variance of ``total`` values (Chan et al.), in float64."""
    for ch in range(pmu.shape[1]):
        mu = 0.0
        for k in range(pmu.shape[0]):
            mu += cnt[k] * np.float64(pmu[k, ch])
        mu /= total
        m2 = 0.0
        for k in range(pmu.shape[0]):
            d = np.float64(pmu[k, ch]) - mu
            m2 += np.float64(pq[k, ch]) + cnt[k] * d * d
        mean[ch] = mu
        var[ch] = m2 / total


@backend.jit(parallel=True, fastmath=_FM)
def _grad_sums_ncm(g, x, mean, ps):
    """ps[0, i, ch] = sum(g), ps[1, i, ch] = sum(g * (x - mean[ch])) over row (i, ch)."""
    n, c, m = x.shape
    for r in prange(n * c):
        i, ch = r // c, r % c
        grow = g[i, ch]
        xrow = x[i, ch]
        mu = mean[ch]
        a = ps[0, i, ch]  # ps starts zeroed (see _moments_ncm)
        b = a
        for j in range(m):
            gv = grow[j]
            a += gv
            b += gv * (xrow[j] - mu)
        ps[0, i, ch] = a
        ps[1, i, ch] = b


@backend.jit(parallel=True, fastmath=_FM)
def _grad_sums_pc(g, x, mean, ps):
    """ps[0, b] = column sums of g, ps[1, b] of g * (x - mean) over rows b*_ROWS.. of (P, C)."""
    p, c = x.shape
    for b in prange(ps.shape[1]):
        lo = b * _ROWS
        hi = min(p, lo + _ROWS)
        sg = ps[0, b]
        sx = ps[1, b]
        sg[:] = 0
        sx[:] = 0
        for i in range(lo, hi):
            grow = g[i]
            xrow = x[i]
            for j in range(c):
                gv = grow[j]
                sg[j] += gv
                sx[j] += gv * (xrow[j] - mean[j])


@backend.jit(parallel=True, fastmath=_FM)
def _affine_ncm(x, a, b, g, ga, out):
    """out[i, ch] = x[i, ch] * a[ch] + b[ch] (+ g[i, ch] * ga[ch] when g is not empty) on
    (N, C, M): normalisation, eval-mode batch norm and the input gradient, one pass each."""
    n, c, m = x.shape
    with_g = g.shape[0] > 0
    for r in prange(n * c):
        i, ch = r // c, r % c
        xrow = x[i, ch]
        orow = out[i, ch]
        av = a[ch]
        bv = b[ch]
        if with_g:
            grow = g[i, ch]
            gv = ga[ch]
            for j in range(m):
                orow[j] = xrow[j] * av + grow[j] * gv + bv
        else:
            for j in range(m):
                orow[j] = xrow[j] * av + bv


@backend.jit(parallel=True, fastmath=_FM)
def _affine_pc(x, a, b, g, ga, out):
    """``_affine_ncm`` on a channels-last (P, C) view (vectors a, b, ga along the rows)."""
    p, c = x.shape
    with_g = g.shape[0] > 0
    for blk in prange((p + _ROWS - 1) // _ROWS):
        for i in range(blk * _ROWS, min(p, (blk + 1) * _ROWS)):
            xrow = x[i]
            orow = out[i]
            if with_g:
                grow = g[i]
                for j in range(c):
                    orow[j] = xrow[j] * a[j] + grow[j] * ga[j] + b[j]
            else:
                for j in range(c):
                    orow[j] = xrow[j] * a[j] + b[j]


_NO_G = {}


def _no_g(dt) -> np.ndarray:
    """An empty stand-in for the ``g`` argument of the affine kernels (no gradient term)."""
    z = _NO_G.get(dt)
    if z is None:
        z = _NO_G[dt] = np.empty((0, 0, 0), dt), np.empty((0, 0), dt)
    return z


def _compiled(*arrays) -> bool:
    """Run the kernels: Numba on, float32/float64, every operand in the same 2-d or 3-d view."""
    dt = arrays[0].dtype
    if dt not in _NB_FLOATS or not arrays[0].size or not backend.use_numba():
        return False
    for a in arrays:
        if a.dtype != dt:
            return False
    return True


_NB_FLOATS = backend.COMPILED_FLOATS


def _stats(kind: str, xv: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(mean, biased var) per channel in float64, by the piecewise kernels."""
    dt = xv.dtype
    if kind == "ncm":
        n, c, m = xv.shape
        pmu, pq = np.empty((n, c), dt), np.zeros((n, c), dt)
        _moments_ncm(xv, pmu, pq)
        cnt = np.full(n, float(m))
    else:
        p, c = xv.shape
        nb = -(-p // _ROWS)
        pmu, pq = np.empty((nb, c), dt), np.empty((nb, c), dt)
        _moments_pc(xv, pmu, pq)
        cnt = np.full(nb, float(_ROWS))
        cnt[-1] = p - (nb - 1) * _ROWS
    mean, var = np.empty(c), np.empty(c)
    _merge_moments(pmu, pq, cnt, float(xv.size // c), mean, var)
    return mean, var


def _grad_sums(kind: str, gv: np.ndarray, xv: np.ndarray, mean: np.ndarray):
    """(sum(g), sum(g * (x - mean))) per channel, by the piecewise kernels."""
    if kind == "ncm":
        ps = np.zeros((2,) + xv.shape[:2], xv.dtype)
        _grad_sums_ncm(gv, xv, mean, ps)
    else:
        ps = np.empty((2, -(-xv.shape[0] // _ROWS), xv.shape[1]), xv.dtype)
        _grad_sums_pc(gv, xv, mean, ps)
    s = ps.sum(1, dtype=np.float64)
    return s[0], s[1]


def _affine(kind: str, xv, a, b, out, g=None, ga=None) -> None:
    """``out = xv * a + b (+ g * ga)`` per channel, one compiled pass."""
    dt = xv.dtype
    empty = _no_g(dt)[0 if kind == "ncm" else 1]
    kern = _affine_ncm if kind == "ncm" else _affine_pc
    a = a.astype(dt, copy=False)  # the kernels only read the vectors
    kern(xv, a, b.astype(dt, copy=False), empty if g is None else g,
         a if ga is None else ga.astype(dt, copy=False), out)


# ---------------------------------------------------------------- numpy path
def _channel_sum(v: np.ndarray, kind: str) -> np.ndarray:
    """Per-channel sum of an (N, C, M) or (P, C) view through BLAS (product with a ones vector)."""
    if kind == "ncm":
        ones = np.ones(v.shape[2], v.dtype)
        return _blas.matmul(v, ones).sum(0)  # (N, C, M) @ (M,) -> (N, C)
    ones = np.ones(v.shape[0], v.dtype)
    return _blas.matmul(ones, v)  # (P,) @ (P, C) -> (C,)
