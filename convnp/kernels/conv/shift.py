"""Shifted GEMMs: convolutions (any stride and dilation, 1-3 spatial axes, groups = 1) with
no patch matrix.

On a flattened grid with zeros around the data, tap ``t`` of the kernel reads every output's
input at one fixed offset ``off[t]`` from the output's own grid position. So, with a chunk of
images laid out channel-major, ``X[c, T + b*S + j]`` (each image a grid of ``n + gap`` per axis,
data first: the zeros after a row serve as the padding before the next row too, so an 8x8 map
with one pixel of padding takes 9x9, not 10x10), the outputs of all grid positions are

    R (O x n) = sum_t W_t (O x C) @ X[:, off[t] : off[t] + n]

one GEMM per tap whose right operand is a plain strided view of X: no K-times patch copy, where
the chunk kernels copy every input value once per tap before their one GEMM. The GEMMs are as
thin in K as the layer has input channels, which BLAS runs about as fast as the patch GEMM's
K = C * taps (single-threaded OpenBLAS, this machine: 64x64 @ 64x4096 at 98 GFLOP/s, 64x576 @
576x4096 at 90-100). The grid positions that are not outputs are
computed and dropped (``waste``), which the dispatch weighs against the copies saved.

Strided: tap ``t`` reads the padded input at ``o*s + t*d``, i.e. phase ``(t*d) % s`` of the
padded input at ``o + (t*d) // s``; each phase a tap reads gets a grid of its own (outputs plus
the largest shift per axis, filled through precomputed input offsets), and each tap is a GEMM on
its phase's block at its shift.

The weight gradient: gy scattered onto the output grid (zeros at the dropped positions), ``G (O x
n)``, and ``dW_t = G @ X[:, off[t] : off[t] + n]^T``, GEMMs with K = n, long. The input
gradient: ``Xg[:, off[t]:] += W_t^T @ G`` into zeroed grids, then each input value read back
from its one grid position (no scatter-add). Work items are chunks of whole images (or, at batch
1, an image's output channels), each one's layout copy, GEMMs and crop on one thread inside one
parallel region (BLAS single-threaded), as the chunk kernels do.
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
    """Zeros after each axis' data in the stride-1 layout: one run serves as the padding after a
    row (plane, image) and before the next, so it needs the larger of the two pads."""
    return tuple(max(lo, hi) for lo, hi in pads)


def _out(sp, pads, k, s, d) -> tuple:
    return tuple((n + lo + hi - dd * (kk - 1) - 1) // ss + 1
                 for n, (lo, hi), kk, ss, dd in zip(sp, pads, k, s, d))


def _grid(sp, pads, k, s, d, out_sp=None) -> tuple:
    """One image's grid (per phase when strided): data with trailing gaps (stride 1), else the
    outputs plus the largest tap shift."""
    if all(v == 1 for v in s):
        return tuple(n + g for n, g in zip(sp, _gaps(pads)))
    out_sp = out_sp or _out(sp, pads, k, s, d)
    return tuple(o + (kk - 1) * dd // ss for o, kk, ss, dd in zip(out_sp, k, s, d))


def grid_size(sp, pads, k=None, s=None, d=None) -> int:
    """Elements of one image's grid (per phase) in the layout: the GEMM columns per image."""
    nd = len(sp)
    return math.prod(_grid(sp, pads, k or (1,) * nd, s or (1,) * nd, d or (1,) * nd))


def waste(sp, pads, k, d, s=None) -> float:
    """Grid positions computed per output (1.06 for a 3x3 same-padded 32x32 map, 1.27 on
    8x8; 1.01 on a 512-long sequence; a 3x3 stride-2 layer to 16x16 1.13)."""
    s = s or (1,) * len(sp)
    return math.prod(_grid(sp, pads, k, s, d)) / max(1, math.prod(_out(sp, pads, k, s, d)))


def _taps_major(w) -> np.ndarray:
    """(O, C, *k) -> (taps, O, C), contiguous: each tap's weight one GEMM operand."""
    O, C = w.shape[:2]
    return np.ascontiguousarray(w.reshape(O, C, -1).transpose(2, 0, 1))


def _ro(a):
    a = np.ascontiguousarray(a, np.int64)
    a.setflags(write=False)
    return a


@functools.lru_cache(maxsize=256)
def _plan(x_shape, O, k, pads, s, d, out_sp, itemsize, threads):
    """The layout of a geometry and its work.

    Stride 1 (``rows``): each image a grid of ``n + gap`` per axis (data first, zeros after),
    ``S`` elements, images one after another behind ``T`` leading zeros; input rows are copied
    to ``rowmap``. Strided: per image, one grid per phase of the padded input that a tap reads
    (``src`` gives each grid position's input offset, -1 for padding), phase blocks of ``nb*S``
    one after another. Tap ``t`` reads phase ``tph[t]`` at ``tsh[t]`` past the output's grid
    position ``gidx[p]``; ``inv`` maps each input offset to its (phase, grid position), for the
    input gradient. ``out_sp``: the outputs, fewer than the formula gives where a transposed
    convolution's output padding cut them.
    """
    N, C = x_shape[:2]
    sp = tuple(x_shape[2:])
    nd = len(sp)
    rows = all(v == 1 for v in s)
    grid = _grid(sp, pads, k, s, d, out_sp)
    S = math.prod(grid)
    fst = _common.flat_strides(grid)
    taps = list(np.ndindex(*k))
    if rows:
        gaps = _gaps(pads)
        T = sum(g * f for g, f in zip(gaps, fst))
        tph = [0] * len(taps)
        tsh = [T + sum((t[i] * d[i] - pads[i][0]) * fst[i] for i in range(nd)) for t in taps]
        lead = sp[:-1]
        mesh = np.meshgrid(*[np.arange(n) for n in lead], indexing="ij") if lead else []
        rowmap = T + (sum(r.ravel() * fst[j] for j, r in enumerate(mesh)) if lead
                      else np.zeros(1, np.int64))
        src = inv = np.zeros((1, 1), np.int64)
        nph = 1
    else:
        T = 0
        phases = sorted({tuple(t[i] * d[i] % s[i] for i in range(nd)) for t in taps})
        nph = len(phases)
        tph = [phases.index(tuple(t[i] * d[i] % s[i] for i in range(nd))) for t in taps]
        tsh = [sum(t[i] * d[i] // s[i] * fst[i] for i in range(nd)) for t in taps]
        rowmap = np.zeros(1, np.int64)
        jm = np.meshgrid(*[np.arange(n) for n in grid], indexing="ij")
        xf = _common.flat_strides(sp)
        src = np.full((nph, S), -1, np.int64)
        inv = np.full((2, math.prod(sp)), -1, np.int64)
        for ph, r in enumerate(phases):
            idx = [jm[i].ravel() * s[i] + r[i] - pads[i][0] for i in range(nd)]
            ok = np.logical_and.reduce([(v >= 0) & (v < n) for v, n in zip(idx, sp)])
            flat = sum(v * f for v, f in zip(idx, xf))
            src[ph, ok] = flat[ok]
            inv[0, flat[ok]] = ph
            inv[1, flat[ok]] = np.nonzero(ok)[0]
    om = np.meshgrid(*[np.arange(n) for n in out_sp], indexing="ij")
    gidx = sum(g.ravel() * fst[j] for j, g in enumerate(om)).astype(np.int64)
    L = int(gidx[-1]) + 1
    items = _items(N, O, (C * nph + O) * S * itemsize, threads)
    return (S, T, nph, _ro(tph), _ro(tsh), _ro(gidx), L, _ro(np.reshape(rowmap, -1)),
            _ro(src), _ro(inv), _ro(np.reshape(items, (-1, 4))), out_sp, rows)


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
def _rows(grid, flat, rowmap, W, base, to_grid):  # pragma: no cover - compiled
    """Copy an image's rows (``flat``: rows of W) to their grid positions (``base +
    rowmap[r]``), or back when not ``to_grid``."""
    for r in range(rowmap.shape[0]):
        d0 = base + rowmap[r]
        s0 = r * W
        if to_grid:
            for j in range(W):
                grid[np.uintp(d0 + j)] = flat[np.uintp(s0 + j)]
        else:
            for j in range(W):
                flat[np.uintp(s0 + j)] = grid[np.uintp(d0 + j)]


@backend.helper
def _layout(x3, rows, rowmap, W, src, S, T, b0, nb, Xc):  # pragma: no cover - compiled
    """Xc[c, :] = the chunk's images b0.. in the layout of ``_plan``, channel c (x3: (N, C,
    rows*W)), zeros elsewhere."""
    C = x3.shape[1]
    n = Xc.shape[1]
    nph = src.shape[0]
    for c in range(C):
        dst = Xc[c]
        if rows:
            for i in range(n):
                dst[np.uintp(i)] = 0
            for bi in range(nb):
                _rows(dst, x3[b0 + bi, c], rowmap, W, bi * S, True)
        else:
            for ph in range(nph):
                idx = src[ph]
                for bi in range(nb):
                    xs = x3[b0 + bi, c]
                    d0 = T + ph * nb * S + bi * S
                    for j in range(S):
                        q = idx[j]
                        dst[np.uintp(d0 + j)] = xs[np.uintp(q)] if q >= 0 else 0


@backend.helper
def _unlayout(Xg, rows, rowmap, W, inv, S, b0, nb, gx3):  # pragma: no cover - compiled
    """The adjoint of ``_layout`` restricted to the data: gx3[b0+bi, c] from the grid."""
    C = gx3.shape[1]
    for c in range(C):
        g = Xg[c]
        for bi in range(nb):
            dst = gx3[b0 + bi, c]
            if rows:
                _rows(g, dst, rowmap, W, bi * S, False)
            else:
                for i in range(dst.shape[0]):
                    ph = inv[0, i]
                    dst[np.uintp(i)] = (g[np.uintp(ph * nb * S + bi * S + inv[1, i])]
                                        if ph >= 0 else 0)


@backend.helper
def _scatter_gy(gy3, gidx, S, b0, nb, G):  # pragma: no cover - compiled
    """G (O, n) zeroed by the caller: gy of images b0.. at their outputs' grid positions."""
    P = gidx.shape[0]
    for bi in range(nb):
        for o in range(G.shape[0]):
            src = gy3[b0 + bi, o]
            dst = G[o]
            d0 = bi * S
            for p in range(P):
                dst[np.uintp(d0 + gidx[p])] = src[np.uintp(p)]


@backend.helper
def _gemm_off(gemm, setl, ta, tb, M, N, K, a, ao, lda, b, bo, ldb, beta, c, co, ldc,
              one):  # pragma: no cover - compiled
    """c[:, co:] = op(a[:, ao:]) @ op(b[:, bo:]) + beta * c[:, co:]: one single-threaded BLAS
    call at element offsets, op = transpose where ta / tb."""
    sz = a.itemsize
    prev = int_call(setl, 1)
    gemm_call(gemm, 112 if ta else 111, 112 if tb else 111, M, N, K, one,
               a.ctypes.data + ao * sz, lda, b.ctypes.data + bo * sz, ldb, beta,
               c.ctypes.data + co * sz, ldc)
    int_call(setl, prev)


@backend.jit(parallel=True)
def _shift_fwd_items(gemm, setl, one, x3, wt, plan, bias, y3, items):  # pragma: no cover
    """y3[b, o, p] = bias[o] + sum_t (wt[t] @ X[:, off(t):])[o, b*S + gidx[p]] per item (its
    images, its output channels); ``plan``: the arrays and sizes of ``_plan``."""
    S, T, nph, tph, tsh, gidx, L, rowmap, W, src, rows = plan
    C = x3.shape[1]
    zero = one - one
    P = gidx.shape[0]
    for it in prange(items.shape[0]):
        b0, nb, o0, o1 = items[it, 0], items[it, 1], items[it, 2], items[it, 3]
        R = T + nph * nb * S
        Xc = np.empty((C, R), x3.dtype)
        _layout(x3, rows, rowmap, W, src, S, T, b0, nb, Xc)
        n = (nb - 1) * S + L
        res = np.empty((o1 - o0, n), x3.dtype)
        for t in range(tph.shape[0]):
            _gemm_off(gemm, setl, False, False, o1 - o0, n, C, wt[t], o0 * C, C, Xc,
                      tph[t] * nb * S + tsh[t], R, zero if t == 0 else one, res, 0, n, one)
        for bi in range(nb):
            for o in range(o0, o1):
                bo = bias[o]
                srow = res[o - o0]
                dst = y3[b0 + bi, o]
                d0 = bi * S
                for p in range(P):
                    dst[np.uintp(p)] = srow[np.uintp(d0 + gidx[p])] + bo


@backend.jit(parallel=True)
def _shift_bwdw_items(gemm, setl, one, x3, gy3, plan, parts, items):  # pragma: no cover
    """parts[slot, t] += G @ X[:, off(t):]^T over the slot's items (a contiguous run of them:
    reproducible sums); G: gy scattered onto the chunk's grid, zeros elsewhere."""
    S, T, nph, tph, tsh, gidx, L, rowmap, W, src, rows = plan
    C = x3.shape[1]
    O = gy3.shape[1]
    nslots = parts.shape[0]
    for slot in prange(nslots):
        for it in range(slot * items.shape[0] // nslots, (slot + 1) * items.shape[0] // nslots):
            b0, nb = items[it, 0], items[it, 1]  # whole images: the plan's items for N >= slots
            R = T + nph * nb * S
            Xc = np.empty((C, R), x3.dtype)
            _layout(x3, rows, rowmap, W, src, S, T, b0, nb, Xc)
            n = (nb - 1) * S + L
            G = np.zeros((O, n), x3.dtype)
            _scatter_gy(gy3, gidx, S, b0, nb, G)
            for t in range(tph.shape[0]):
                _gemm_off(gemm, setl, False, True, O, C, n, G, 0, n, Xc,
                          tph[t] * nb * S + tsh[t], R, one, parts[slot, t], 0, C, one)


@backend.jit(parallel=True)
def _shift_bwd_data_items(gemm, setl, one, gy3, w3, plan, inv, gx3,
                          items):  # pragma: no cover - compiled
    """gx3 of each item's images: Xg[:, off(t):] += w3[t]^T @ G per tap on the chunk's grid (G:
    gy at its outputs' positions, zeros elsewhere), then read back from the grid."""
    S, T, nph, tph, tsh, gidx, L, rowmap, W, src, rows = plan
    C = gx3.shape[1]
    O = gy3.shape[1]
    for it in prange(items.shape[0]):
        b0, nb = items[it, 0], items[it, 1]
        R = T + nph * nb * S
        n = (nb - 1) * S + L
        G = np.zeros((O, n), gy3.dtype)
        _scatter_gy(gy3, gidx, S, b0, nb, G)
        Xg = np.zeros((C, R), gy3.dtype)
        for t in range(tph.shape[0]):
            _gemm_off(gemm, setl, True, False, C, n, O, w3[t], 0, C, G, 0, n, one, Xg,
                      tph[t] * nb * S + tsh[t], R, one)
        _unlayout(Xg, rows, rowmap, W, inv, S, b0, nb, gx3)


def _args(x_shape, O, k, pads, s, d, out_sp, itemsize, threads):
    out_sp = tuple(out_sp) if out_sp is not None else _out(x_shape[2:], pads, k, s, d)
    S, T, nph, tph, tsh, gidx, L, rowmap, src, inv, items, out_sp, rows = _plan(
        tuple(x_shape), O, tuple(k), tuple(map(tuple, pads)), tuple(s), tuple(d), out_sp,
        itemsize, threads)
    return (S, T, nph, tph, tsh, gidx, L, rowmap, x_shape[-1], src, rows), inv, items, out_sp


def shift_fwd(x, w, pads, s, d, bias, threads) -> np.ndarray:
    """Forward (+ bias) of x (N, C, *sp) with w (O, C, *k) by shifted GEMMs."""
    N, C = x.shape[:2]
    O = w.shape[0]
    plan, _, items, out_sp = _args(x.shape, O, w.shape[2:], pads, s, d, None, x.itemsize,
                                   threads)
    wt = _taps_major(w)
    y = np.empty((N, O, *out_sp), x.dtype)
    b = np.zeros(O, x.dtype) if bias is None else np.ascontiguousarray(bias, x.dtype)
    backend.run_split(_shift_fwd_items, len(items), *_blas.kernel_args(x.dtype),
                      np.ascontiguousarray(x).reshape(N, C, -1), wt, plan, b,
                      y.reshape(N, O, -1), items)
    return y


def _whole_images(items, N):
    """The items of a plan made for fewer images than threads, as one whole image each."""
    if len(items) == N:
        return items
    return _ro(np.array([(n, 1, 0, 0) for n in range(N)], np.int64).reshape(-1, 4))


def shift_bwd_weight(x, gy, k, pads, s, d, threads) -> np.ndarray:
    """Weight gradient (O, C, *k) of the conv of x (N, C, *sp), gy (N, O, *out)."""
    N, C = x.shape[:2]
    O = gy.shape[1]
    plan, _, items, _ = _args(x.shape, O, k, pads, s, d, gy.shape[2:], x.itemsize, threads)
    items = _whole_images(items, N) if N < threads else items
    parts = np.zeros((max(1, min(threads, len(items))), plan[3].shape[0], O, C), gy.dtype)
    backend.run_split(_shift_bwdw_items, len(parts), *_blas.kernel_args(gy.dtype),
                      np.ascontiguousarray(x).reshape(N, C, -1),
                      np.ascontiguousarray(gy).reshape(N, O, -1), plan, parts, items)
    return np.ascontiguousarray(parts.sum(0).transpose(1, 2, 0)).reshape(O, C, *k)


def shift_bwd_data(gy, w, x_shape, pads, s, d, threads) -> np.ndarray:
    """Input gradient (N, C, *sp) of the conv with w (O, C, *k), gy (N, O, *out)."""
    N, C = x_shape[:2]
    O = w.shape[0]
    plan, inv, items, _ = _args(x_shape, O, w.shape[2:], pads, s, d, gy.shape[2:], gy.itemsize,
                                threads)
    items = _whole_images(items, N) if N < threads else items
    w3 = _taps_major(w)
    gx = np.empty(x_shape, gy.dtype)
    backend.run_split(_shift_bwd_data_items, len(items), *_blas.kernel_args(gy.dtype),
                      np.ascontiguousarray(gy).reshape(N, O, -1), w3, plan, inv,
                      gx.reshape(N, C, -1), items)
    return gx
