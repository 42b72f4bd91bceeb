"""Shifted GEMMs: stride-1 convolutions (any dilation, 1-3 spatial axes, groups = 1) with no
patch matrix.

On a flattened grid with zeros around the data, tap ``t`` of the kernel reads every output's
input at one fixed offset ``off[t]`` from the output's own grid position. So, with a chunk of
images laid out channel-major, ``X[c, T + b*S + j]`` (each image a grid of ``n + gap`` per axis,
data first: the zeros after a row serve as the padding before the next row too, so an 8x8 map
with one pixel of padding takes 9x9, not 10x10), the outputs of all grid positions are

    R (O x n) = sum_t W_t (O x C) @ X[:, off[t] : off[t] + n]

one GEMM per tap whose right operand is a plain strided view of X (its rows ``S*nb`` apart): no
K-times patch copy, where the chunk kernels copy every input value once per tap before their
one GEMM. The GEMMs are as thin in K as the layer has input channels, which BLAS runs about as
fast as the patch GEMM's K = C * taps (measured in docs/performance.md). The positions that are
not outputs (padding columns and rows of the grid) are computed and dropped, so the kernel is
chosen where the grid is not much larger than the output (``waste``).

The weight gradient is the adjoint: gy scattered onto the grid (zeros at the dropped positions)
``G (O x n)``, and ``dW_t = G @ X[:, off[t] : off[t] + n]^T``, GEMMs with K = n, long.
Work items are chunks of whole images, each one's layout copy, GEMMs and crop on one thread
inside one parallel region (BLAS single-threaded), as the chunk kernels do.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from convnp import _blas, backend
from convnp._blas import gemm_call, int_call
from convnp.backend import prange
from convnp.kernels.conv import _common

# a chunk's channel-major input and its result near this size (bytes): inside L2
_CHUNK_BYTES = 768 << 10


def _gaps(pads) -> tuple:
    """Zeros after each axis' data in the layout: one run serves as the padding after a row
    (plane, image) and before the next, so it needs the larger of the two pads."""
    return tuple(max(lo, hi) for lo, hi in pads)


def grid_size(sp, pads) -> int:
    """Elements of one image's grid in the layout (the GEMM columns per image)."""
    return math.prod(n + g for n, g in zip(sp, _gaps(pads)))


def waste(sp, pads, k, d) -> float:
    """Grid positions computed per output (1.06 for a 3x3 same-padded 32x32 map, 1.27 on
    8x8; 1.01 on a 512-long sequence)."""
    grid = [n + g for n, g in zip(sp, _gaps(pads))]
    out = [n + lo + hi - dd * (kk - 1) for n, (lo, hi), kk, dd in zip(sp, pads, k, d)]
    return math.prod(grid) / max(1, math.prod(out))


@functools.lru_cache(maxsize=256)
def _plan(x_shape, O, k, pads, d, itemsize, threads):
    """The layout and the work of a geometry: each image a grid of ``n + gap`` per axis (data
    first, zeros after), ``S`` elements, the chunk's images one after another behind ``T``
    leading zeros (the first image's padding before); tap offsets (from an output's grid
    position), valid-output grid positions, last one + 1, where each input row starts, work
    items, output size."""
    N, C = x_shape[:2]
    sp = tuple(x_shape[2:])
    gaps = _gaps(pads)
    grid = tuple(n + g for n, g in zip(sp, gaps))
    S = math.prod(grid)
    fst = _common.flat_strides(grid)
    T = sum(g * f for g, f in zip(gaps, fst))
    offs = np.array([T + sum((t[i] * d[i] - pads[i][0]) * fst[i] for i in range(len(k)))
                     for t in np.ndindex(*k)], np.int64)
    out_sp = tuple(n + lo + hi - dd * (kk - 1) for n, (lo, hi), kk, dd in zip(sp, pads, k, d))
    grids = np.meshgrid(*[np.arange(n) for n in out_sp], indexing="ij")
    gidx = sum(g.ravel() * fst[j] for j, g in enumerate(grids)).astype(np.int64)
    L = int(gidx[-1]) + 1
    lead = sp[:-1]
    rows = np.meshgrid(*[np.arange(n) for n in lead], indexing="ij") if lead else []
    rowmap = T + (sum(r.ravel() * fst[j] for j, r in enumerate(rows)) if lead
                  else np.zeros(1, np.int64))
    rowmap = np.asarray(rowmap, np.int64).reshape(-1)
    items = np.array(_items(N, O, (C + O) * S * itemsize, threads), np.int64).reshape(-1, 4)
    for a in (offs, gidx, rowmap, items):
        a.setflags(write=False)
    return S, T, offs, gidx, L, rowmap, items, out_sp


def _items(N, O, per_image, threads) -> list:
    """Work items (first image, images, first output channel, end channel): chunks of whole
    images, a whole number per thread; with fewer images than threads (batch-1 inference)
    each image's output channels are split instead (every thread lays out the same input)."""
    if N < threads:
        parts = max(1, min(O // 8, -(-threads // N)))
        return [(n, 1, j * O // parts, (j + 1) * O // parts) for n in range(N)
                for j in range(parts)]
    nb = max(1, min(_CHUNK_BYTES // per_image, -(-N // threads)))
    nch = -(-N // nb)
    nch = min(N, -(-nch // threads) * threads)
    return [(ch * N // nch, (ch + 1) * N // nch - ch * N // nch, 0, O) for ch in range(nch)]


@backend.helper
def _layout(x3, rowmap, W, S, b0, nb, Xc):  # pragma: no cover - compiled
    """Xc[c, :] = the chunk's images b0.. in the layout of ``_plan``, channel c (x3: (N, C,
    rows*W)), zeros elsewhere."""
    C = x3.shape[1]
    nrows = rowmap.shape[0]
    n = Xc.shape[1]
    for c in range(C):
        dst = Xc[c]
        for i in range(n):
            dst[np.uintp(i)] = 0
        for bi in range(nb):
            src = x3[b0 + bi, c]
            base = bi * S
            for r in range(nrows):
                d0 = base + rowmap[r]
                s0 = r * W
                for j in range(W):
                    dst[np.uintp(d0 + j)] = src[np.uintp(s0 + j)]


@backend.helper
def _gemm_off(gemm, setl, tb, M, N, K, a, lda, b, bo, ldb, beta, c, ldc,
              one):  # pragma: no cover - compiled
    """c = a @ op(b[:, bo:]) + beta * c: one single-threaded BLAS call, op = transpose if tb."""
    sz = a.itemsize
    prev = int_call(setl, 1)
    gemm_call(gemm, 111, 112 if tb else 111, M, N, K, one, a.ctypes.data, lda,
               b.ctypes.data + bo * sz, ldb, beta, c.ctypes.data, ldc)
    int_call(setl, prev)


@backend.jit(parallel=True)
def _shift_fwd_items(gemm, setl, one, x3, wt, offs, gidx, L, rowmap, W, S, T, bias, y3,
                     items):  # pragma: no cover - compiled
    """y3[b, o, p] = bias[o] + sum_t (wt[t] @ X[:, off[t]:])[o, b*S + gidx[p]] per item (its
    images, its output channels)."""
    C = x3.shape[1]
    zero = one - one
    P = gidx.shape[0]
    for it in prange(items.shape[0]):
        b0, nb, o0, o1 = items[it, 0], items[it, 1], items[it, 2], items[it, 3]
        Xc = np.empty((C, T + nb * S), x3.dtype)
        _layout(x3, rowmap, W, S, b0, nb, Xc)
        n = (nb - 1) * S + L
        res = np.empty((o1 - o0, n), x3.dtype)
        for t in range(offs.shape[0]):
            _gemm_off(gemm, setl, False, o1 - o0, n, C, wt[t, o0:o1], C, Xc, offs[t],
                      T + nb * S, zero if t == 0 else one, res, n, one)
        for bi in range(nb):
            for o in range(o0, o1):
                bo = bias[o]
                src = res[o - o0]
                dst = y3[b0 + bi, o]
                d0 = bi * S
                for p in range(P):
                    dst[np.uintp(p)] = src[np.uintp(d0 + gidx[p])] + bo


@backend.jit(parallel=True)
def _shift_bwdw_items(gemm, setl, one, x3, gy3, offs, gidx, L, rowmap, W, S, T, parts,
                      items):  # pragma: no cover - compiled
    """parts[slot, t] += G @ X[:, off[t]:]^T over the slot's items (a contiguous run of them:
    reproducible sums); G: gy scattered onto the chunk's grid, zeros elsewhere."""
    C = x3.shape[1]
    O = gy3.shape[1]
    nslots = parts.shape[0]
    P = gidx.shape[0]
    for slot in prange(nslots):
        for it in range(slot * items.shape[0] // nslots, (slot + 1) * items.shape[0] // nslots):
            b0, nb = items[it, 0], items[it, 1]  # whole images: the plan's items for N >= slots
            Xc = np.empty((C, T + nb * S), x3.dtype)
            _layout(x3, rowmap, W, S, b0, nb, Xc)
            n = (nb - 1) * S + L
            G = np.zeros((O, n), x3.dtype)
            for bi in range(nb):
                for o in range(O):
                    src = gy3[b0 + bi, o]
                    dst = G[o]
                    d0 = bi * S
                    for p in range(P):
                        dst[np.uintp(d0 + gidx[p])] = src[np.uintp(p)]
            for t in range(offs.shape[0]):
                _gemm_off(gemm, setl, True, O, C, n, G, n, Xc, offs[t], T + nb * S, one,
                          parts[slot, t], C, one)


def shift_fwd(x, w, pads, d, bias, threads) -> np.ndarray:
    """Stride-1 forward (+ bias) of x (N, C, *sp) with w (O, C, *k) by shifted GEMMs."""
    N, C = x.shape[:2]
    O = w.shape[0]
    k = tuple(w.shape[2:])
    S, T, offs, gidx, L, rowmap, items, out_sp = _plan(x.shape, O, k, tuple(map(tuple, pads)),
                                                       tuple(d), x.itemsize, threads)
    wt = np.ascontiguousarray(w.reshape(O, C, -1).transpose(2, 0, 1))  # (taps, O, C)
    y = np.empty((N, O, *out_sp), x.dtype)
    b = np.zeros(O, x.dtype) if bias is None else np.ascontiguousarray(bias, x.dtype)
    backend.run_split(_shift_fwd_items, len(items), *_blas.kernel_args(x.dtype),
                      np.ascontiguousarray(x).reshape(N, C, -1), wt, offs, gidx, L, rowmap,
                      x.shape[-1], S, T, b, y.reshape(N, O, -1), items)
    return y


def shift_bwd_weight(x, gy, k, pads, d, threads) -> np.ndarray:
    """Weight gradient (O, C, *k) of a stride-1 conv of x (N, C, *sp), gy (N, O, *out)."""
    N, C = x.shape[:2]
    O = gy.shape[1]
    k = tuple(k)
    S, T, offs, gidx, L, rowmap, items, out_sp = _plan(x.shape, O, k, tuple(map(tuple, pads)),
                                                       tuple(d), x.itemsize, threads)
    if N < threads:  # items split the output channels: run one whole-image item per image
        items = np.array([(n, 1, 0, O) for n in range(N)], np.int64).reshape(-1, 4)
    parts = np.zeros((max(1, min(threads, len(items))), len(offs), O, C), gy.dtype)
    backend.run_split(_shift_bwdw_items, len(parts), *_blas.kernel_args(gy.dtype),
                      np.ascontiguousarray(x).reshape(N, C, -1),
                      np.ascontiguousarray(gy).reshape(N, O, -1), offs, gidx, L, rowmap,
                      x.shape[-1], S, T, parts, items)
    return np.ascontiguousarray(parts.sum(0).transpose(1, 2, 0)).reshape(O, C, *k)
