"""Chunk-parallel kernels (groups = 1): the batch is cut into chunks, one per thread or more,
and each chunk runs its whole pipeline (patch matrix, single-threaded BLAS GEMM, crop / scatter)
on its own thread, inside one Numba parallel region. Copies then run in parallel too, and no
BLAS thread pool competes with Numba's (convnp._blas). Positions are flat indices: ``gidx[p]``
the padded-grid offset of valid output p, ``xidx[t, p]`` the padded-input offset that tap t of
output p reads, so the same kernels serve 1-d, 2-d and 3-d.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from convnp import _blas, backend
from convnp._blas import gemm_call, int_call
from convnp.backend import prange
from convnp.kernels.conv import _common
from convnp.kernels.conv._common import _chunk_size, _interior_sl, _no_pad, padded_shape
from convnp.kernels.conv.grid import grid_plan


@backend.helper
def _mm(gemm, setl, ta, a, tb, b, alpha, beta, c):  # pragma: no cover - compiled
    """c = alpha * op(a) @ op(b) + beta * c with one single-threaded BLAS call (``gemm`` /
    ``setl``: convnp._blas.kernel_args); a, b, c C-contiguous 2-d, op = transpose when t*."""
    M, N = c.shape
    K = a.shape[0] if ta else a.shape[1]
    prev = int_call(setl, 1)
    gemm_call(gemm, 112 if ta else 111, 112 if tb else 111, M, N, K, alpha, a.ctypes.data,
               a.shape[1], b.ctypes.data, b.shape[1], beta, c.ctypes.data, N)
    int_call(setl, prev)


@backend.helper
def _rows_out(res, y, bias, b0, nb, q0, q1, sel, shift, stride):  # pragma: no cover
    """y[b0+bi, o, p] = res[o, bi*stride + shift + sel[p]] + bias[o] for p in [q0, q1): the
    valid outputs of a chunk's GEMM result (grid: sel = grid offsets; gather: identity)."""
    for bi in range(nb):
        d0 = bi * stride + shift
        for o in range(res.shape[0]):
            bo = bias[o]
            r = res[o]
            dst = y[b0 + bi, o]
            for p in range(q0, q1):
                dst[np.uintp(p)] = r[np.uintp(d0 + sel[p])] + bo


@backend.helper
def _rows_in(gy3, b0, nb, q0, q1, sel, shift, stride):  # pragma: no cover - compiled
    """The transpose of ``_rows_out`` (without bias): a zeroed (O, nb*stride) matrix with
    m[o, bi*stride + shift + sel[p]] = gy3[b0+bi, o, p] for p in [q0, q1)."""
    O = gy3.shape[1]
    m = np.zeros((O, nb * stride), gy3.dtype)
    for bi in range(nb):
        d0 = bi * stride + shift
        for o in range(O):
            src = gy3[b0 + bi, o]
            dst = m[o]
            for p in range(q0, q1):
                dst[np.uintp(d0 + sel[p])] = src[np.uintp(p)]
    return m


@backend.helper
def _grid_patches(xpf, offs, b0, nb, p0, Lc):  # pragma: no cover - compiled
    """(C*K, nb*Lc) patch matrix of images b0.. on the padded grid: row c*K+t of image bi is
    the contiguous run xpf[b0+bi, c, offs[t]+p0 : +Lc]."""
    C = xpf.shape[1]
    K = offs.shape[0]
    cols = np.empty((C * K, nb * Lc), xpf.dtype)
    for c in range(C):
        for t in range(K):
            row = cols[c * K + t]
            off = offs[t] + p0
            for bi in range(nb):
                src = xpf[b0 + bi, c]
                d0 = bi * Lc
                for i in range(Lc):
                    row[np.uintp(d0 + i)] = src[np.uintp(off + i)]
    return cols


@backend.helper
def _gather_patches(xpf, xidx, b0, nb, q0, Pc):  # pragma: no cover - compiled
    """(C*K, nb*Pc) patch matrix of images b0.. for outputs q0..q0+Pc: xpf[b, c, xidx[t, p]]."""
    C = xpf.shape[1]
    K = xidx.shape[0]
    cols = np.empty((C * K, nb * Pc), xpf.dtype)
    for ct in range(C * K):  # row ct: channel ct // K, tap ct % K
        ix = xidx[ct % K, q0:q0 + Pc]
        dst = cols[ct]
        for bi in range(nb):
            src = xpf[b0 + bi, ct // K]
            d0 = bi * Pc
            for p in range(Pc):
                dst[np.uintp(d0 + p)] = src[np.uintp(ix[p])]
    return cols


@backend.jit(parallel=True)
def _grid_fwd_chunks(gemm, setl, one, xpf, wm, offs, fst0, L, gidx, P1, bias, y,
                     items):  # pragma: no cover - compiled
    """y[n, o, p] = bias[o] + sum_{c,t} wm[o, c*K+t] * xpf[n, c, offs[t] + gidx[p]], one work
    item (first image, images, first output row, end row) per loop turn."""
    O = wm.shape[0]
    for it in prange(items.shape[0]):
        b0, nb, o0, o1 = items[it, 0], items[it, 1], items[it, 2], items[it, 3]
        p0 = o0 * fst0
        Lc = min(o1 * fst0, L) - p0
        n = nb * Lc
        cols = _grid_patches(xpf, offs, b0, nb, p0, Lc)
        res = np.empty((O, n), xpf.dtype)
        _mm(gemm, setl, False, wm, False, cols, one, one - one, res)
        _rows_out(res, y, bias, b0, nb, o0 * P1, o1 * P1, gidx, -p0, Lc)


@backend.jit(parallel=True)
def _grid_bwdw_chunks(gemm, setl, one, xpf, gy3, offs, fst0, L, gidx, P1, parts,
                      items):  # pragma: no cover - compiled
    """parts[slot] = sum over the slot's work items (a contiguous run of ``items``, as in
    ``_grid_fwd_chunks``) of gy (scattered on the grid) @ patches^T; parts zeroed by the
    caller, one slot per thread."""
    nslots = parts.shape[0]
    for slot in prange(nslots):  # one accumulator per slot, items in order: reproducible sums
        for it in range(slot * items.shape[0] // nslots, (slot + 1) * items.shape[0] // nslots):
            b0, nb, o0, o1 = items[it, 0], items[it, 1], items[it, 2], items[it, 3]
            p0 = o0 * fst0
            Lc = min(o1 * fst0, L) - p0
            cols = _grid_patches(xpf, offs, b0, nb, p0, Lc)
            gg = _rows_in(gy3, b0, nb, o0 * P1, o1 * P1, gidx, -p0, Lc)
            _mm(gemm, setl, False, gg, True, cols, one, one, parts[slot])


@backend.jit(parallel=True)
def _col2im_chunks(gemm, setl, one, gy3, wm, xidx, gxp, items):  # pragma: no cover
    """gxp[n, c, xidx[t, p]] += sum_o wm[o, c*K+t] * gy3[n, o, p] (gxp zeroed by the caller);
    per loop turn one item (first image, images, first channel, end channel): an image chunk
    with all channels, or (fewer images than threads) one image's block of input channels."""
    _, O, P = gy3.shape
    K = xidx.shape[0]
    CK = wm.shape[1]
    zero = one - one
    for it in prange(items.shape[0]):
        b0, nb, c0, c1 = items[it, 0], items[it, 1], items[it, 2], items[it, 3]
        n = nb * P
        gyc = np.empty((O, n), gy3.dtype)
        for bi in range(nb):
            for o in range(O):
                src = gy3[b0 + bi, o]
                dst = gyc[o]
                d0 = bi * P
                for p in range(P):
                    dst[np.uintp(d0 + p)] = src[np.uintp(p)]
        rows = (c1 - c0) * K
        G = np.empty((rows, n), gy3.dtype)
        # G = wm[:, c0*K:c1*K]^T @ gyc: the item's rows of the full product
        prev = int_call(setl, 1)
        gemm_call(gemm, 112, 111, rows, n, O, one, wm.ctypes.data + c0 * K * wm.itemsize, CK,
                   gyc.ctypes.data, n, zero, G.ctypes.data, n)
        int_call(setl, prev)
        for bi in range(nb):
            for c in range(c0, c1):
                dst = gxp[b0 + bi, c]
                for t in range(K):
                    g = G[(c - c0) * K + t]
                    ix = xidx[t]
                    d0 = bi * P
                    for p in range(P):
                        dst[np.uintp(ix[p])] += g[np.uintp(d0 + p)]


@backend.jit(parallel=True)
def _gather_fwd_chunks(gemm, setl, one, xpf, wm, xidx, ident, P1, bias, y,
                       items):  # pragma: no cover - compiled
    """Any stride / dilation: y[n, o, p] = bias[o] + sum_{c,t} wm[o, c*K+t] * xpf[n, c,
    xidx[t, p]]; work items as in ``_grid_fwd_chunks`` (rows of the output's first axis)."""
    O = wm.shape[0]
    for it in prange(items.shape[0]):
        b0, nb, o0, o1 = items[it, 0], items[it, 1], items[it, 2], items[it, 3]
        q0 = o0 * P1
        Pc = (o1 - o0) * P1
        n = nb * Pc
        cols = _gather_patches(xpf, xidx, b0, nb, q0, Pc)
        res = np.empty((O, n), xpf.dtype)
        _mm(gemm, setl, False, wm, False, cols, one, one - one, res)
        _rows_out(res, y, bias, b0, nb, q0, q0 + Pc, ident, -q0, Pc)


@backend.jit(parallel=True)
def _gather_bwdw_chunks(gemm, setl, one, xpf, gy3, xidx, ident, P1, parts,
                        items):  # pragma: no cover - compiled
    """Any stride / dilation: parts[slot] = sum of gy @ patches^T over the slot's work items
    (a contiguous run of ``items``; parts zeroed by the caller, one slot per thread)."""
    nslots = parts.shape[0]
    for slot in prange(nslots):  # one accumulator per slot, items in order: reproducible sums
        for it in range(slot * items.shape[0] // nslots, (slot + 1) * items.shape[0] // nslots):
            b0, nb, o0, o1 = items[it, 0], items[it, 1], items[it, 2], items[it, 3]
            q0 = o0 * P1
            Pc = (o1 - o0) * P1
            cols = _gather_patches(xpf, xidx, b0, nb, q0, Pc)
            gyc = _rows_in(gy3, b0, nb, q0, q0 + Pc, ident, -q0, Pc)
            _mm(gemm, setl, False, gyc, True, cols, one, one, parts[slot])


@functools.lru_cache(maxsize=32)
def _flat_offsets(out_sp, fst, s) -> np.ndarray:
    """``gidx`` (P,) int32: flat offset of every output position on a grid with flat strides
    ``fst`` (position i -> sum_j i_j * s_j * fst_j). Cached, read-only."""
    grids = np.meshgrid(*[np.arange(n) for n in out_sp], indexing="ij")
    gidx = sum(g.ravel() * s[j] * fst[j] for j, g in enumerate(grids)).astype(np.int32)
    gidx.setflags(write=False)
    return gidx


@functools.lru_cache(maxsize=32)
def _identity(n) -> np.ndarray:
    """0, 1, ..., n-1 (int32, read-only): the gather kernels' output positions."""
    a = np.arange(n, dtype=np.int32)
    a.setflags(write=False)
    return a


@functools.lru_cache(maxsize=32)
def _tap_offsets(out_sp, fst, s, d, k) -> np.ndarray:
    """``xidx`` (K, P) int32: ``gidx`` + the flat offset of each kernel tap (the input value
    tap t meets at output p). Cached (a few MB for large maps, hence the small cache)."""
    taps = np.array([sum(t[j] * d[j] * fst[j] for j in range(len(k))) for t in np.ndindex(*k)],
                    np.int32)
    xidx = np.ascontiguousarray(taps[:, None] + _flat_offsets(out_sp, fst, s)[None, :])
    xidx.setflags(write=False)
    return xidx


@backend.jit(parallel=True)
def _pad2_nb(x, out, pt, pl):  # pragma: no cover - compiled
    """out[p] = plane x[p] (H, W) with pt rows and pl columns of zeros before it and zeros after
    it to fill out's (Hp, Wp): every plane in one pass, on every thread. Each plane is zeroed
    whole (one long loop) and then gets its rows, on flat indices: per-row zero runs and row
    views cost more than the data on small maps (64 planes of 8x8: 7.6 -> 3.3 us)."""
    P, H, W = x.shape
    Hp, Wp = out.shape[1], out.shape[2]
    xf = x.reshape(-1)
    of = out.reshape(-1)
    for p in prange(P):
        base = p * Hp * Wp
        for i in range(base, base + Hp * Wp):
            of[np.uintp(i)] = 0
        for r in range(H):
            d0 = base + (r + pt) * Wp + pl
            s0 = (p * H + r) * W
            for j in range(W):
                of[np.uintp(d0 + j)] = xf[np.uintp(s0 + j)]


def _padded_flat(x, pads) -> np.ndarray:
    """(N, C, prod(Sp)) zero-padded copy of x (x itself when unpadded and contiguous). A fresh
    array, not a workspace: it is as large as the whole batch and would stay allocated."""
    N, C = x.shape[:2]
    if _no_pad(pads) and x.flags.c_contiguous:
        return x.reshape(N, C, -1)
    sp = x.shape[2:]
    Sp = padded_shape(sp, pads)
    if len(sp) == 2 and x.flags.c_contiguous and x.size and backend.use_numba():
        buf = np.empty((N * C,) + Sp, x.dtype)  # (NumPy's zeros + copy run on one core)
        _pad2_nb(x.reshape(N * C, *sp), buf, pads[0][0], pads[1][0])
        return buf.reshape(N, C, -1)
    buf = np.zeros((N, C) + Sp, x.dtype)
    buf[_interior_sl(sp, pads)] = x
    return buf.reshape(N, C, -1)


@functools.lru_cache(maxsize=256)
def _grid_items(N, rows, B, R, threads) -> np.ndarray:
    """Work items (first image, images, first output row, end row) for the chunk kernels: the
    plan's chunks (``B`` images of all rows, or one image's ``R``-row blocks), images split
    further until every thread has one, and rows too when there are fewer images than
    threads."""
    if R >= rows and N >= threads:
        nch = max(threads, -(-N // B))
        nch = min(N, -(-nch // threads) * threads)  # a whole number of chunks per thread
        items = [(ch * N // nch, (ch + 1) * N // nch - ch * N // nch, 0, rows)
                 for ch in range(nch)]
    else:
        if N < threads:  # fewer images than threads (batch-1 inference): split their rows too
            R = min(R, max(1, rows // -(-threads // N)))
        items = [(n, 1, o0, min(o0 + R, rows)) for n in range(N) for o0 in range(0, rows, R)]
    a = np.array(items, np.int64).reshape(-1, 4)
    a.setflags(write=False)
    return a


@functools.lru_cache(maxsize=256)
def _grid_fwd_plan(x_shape, O, k, pads, d, out_sp, itemsize, dtype, threads):
    """What ``grid_fwd_chunked`` derives from the geometry alone (a layer's every call asks the
    same): tap offsets, grid run, output offsets, work items, and a zero bias."""
    N, C = x_shape[:2]
    Sp, fst, offs, L, B, R = grid_plan(x_shape[2:], pads, k, d, out_sp, itemsize, C, N)
    gidx = _flat_offsets(tuple(out_sp), fst, (1,) * len(fst))
    items = _grid_items(N, out_sp[0], B, R, threads)
    # the kernels only read the offsets and the zero bias: one array per plan serves every call
    return (np.asarray(offs, np.int64), fst[0], L, gidx, math.prod(out_sp[1:]), items,
            np.zeros(O, dtype))


def grid_fwd_chunked(x, w, pads, d, out_sp, bias, threads) -> np.ndarray:
    """Stride-1 forward (+ bias) on the padded grid, one chunk pipeline per thread."""
    N = x.shape[0]
    O = w.shape[0]
    offs, fst0, L, gidx, P1, items, zero = _grid_fwd_plan(
        x.shape, O, w.shape[2:], tuple(map(tuple, pads)), tuple(d), tuple(out_sp), x.itemsize,
        x.dtype, threads)
    xpf = _padded_flat(x, pads)
    y = np.empty((N, O, *out_sp), x.dtype)
    b = zero if bias is None else np.ascontiguousarray(bias, x.dtype)
    backend.run_split(
        _grid_fwd_chunks, len(items), *_blas.kernel_args(x.dtype), xpf,
        np.ascontiguousarray(w.reshape(O, -1)), offs, fst0, L, gidx, P1, b,
        y.reshape(N, O, -1), items)
    return y


def grid_bwd_weight_chunked(x, gy, k, pads, d, threads) -> np.ndarray:
    """Stride-1 weight gradient on the padded grid, per-thread partial sums."""
    N, C = x.shape[:2]
    O = gy.shape[1]
    out_sp = gy.shape[2:]
    Sp, fst, offs, L, B, R = grid_plan(x.shape[2:], pads, k, d, out_sp, x.itemsize, C, N)
    xpf = _padded_flat(x, pads)
    gidx = _flat_offsets(tuple(out_sp), fst, (1,) * len(fst))
    items = _grid_items(N, out_sp[0], B, R, threads)
    parts = np.zeros((max(1, min(threads, len(items))), O, C * len(offs)), gy.dtype)
    backend.run_split(
        _grid_bwdw_chunks, len(parts), *_blas.kernel_args(gy.dtype), xpf,
        np.ascontiguousarray(gy).reshape(N, O, -1), np.asarray(offs, np.int64), fst[0], L, gidx,
        math.prod(out_sp[1:]), parts, items)
    return parts.sum(0).reshape(O, C, *k)


def _gather_plan(x_shape, pads, out_sp, s, d, k, itemsize, threads):
    """(xidx on the padded grid, P1, work items) for the gather kernels."""
    N, C = x_shape[:2]
    fst = _common.flat_strides(padded_shape(x_shape[2:], pads))
    xidx = _tap_offsets(tuple(out_sp), fst, tuple(s), tuple(d), tuple(k))
    K, P1 = len(xidx), math.prod(out_sp[1:])
    B, R = _common._image_chunks(N, C * K * math.prod(out_sp) * itemsize,
                                 C * K * P1 * itemsize, out_sp[0], _common._BUDGET)
    return xidx, P1, _grid_items(N, out_sp[0], B, R, threads)


def gather_fwd_chunked(x, w, pads, s, d, out_sp, bias, threads) -> np.ndarray:
    """Forward (+ bias), any stride / dilation: gathered patches, one chunk pipeline per thread."""
    N = x.shape[0]
    O = w.shape[0]
    xidx, P1, items = _gather_plan(x.shape, pads, out_sp, s, d, w.shape[2:], x.itemsize,
                                   threads)
    y = np.empty((N, O, *out_sp), x.dtype)
    b = np.zeros(O, x.dtype) if bias is None else np.ascontiguousarray(bias, x.dtype)
    backend.run_split(
        _gather_fwd_chunks, len(items), *_blas.kernel_args(x.dtype), _padded_flat(x, pads),
        np.ascontiguousarray(w.reshape(O, -1)), xidx, _identity(xidx.shape[1]), P1, b,
        y.reshape(N, O, -1), items)
    return y


def gather_bwd_weight_chunked(x, gy, k, pads, s, d, threads) -> np.ndarray:
    """Weight gradient, any stride / dilation: per-thread partial sums of gy @ patches^T."""
    N, C = x.shape[:2]
    O = gy.shape[1]
    xidx, P1, items = _gather_plan(x.shape, pads, gy.shape[2:], s, d, k, x.itemsize, threads)
    parts = np.zeros((max(1, min(threads, len(items))), O, C * len(xidx)), gy.dtype)
    backend.run_split(
        _gather_bwdw_chunks, len(parts), *_blas.kernel_args(gy.dtype), _padded_flat(x, pads),
        np.ascontiguousarray(gy).reshape(N, O, -1), xidx, _identity(xidx.shape[1]), P1, parts,
        items)
    return parts.sum(0).reshape(O, C, *k)


@functools.lru_cache(maxsize=256)
def _col2im_items(N, C, B, threads) -> np.ndarray:
    """(first image, images, first channel, end channel) per item: chunks of ``B`` images as
    ``_grid_items`` cuts them, all channels; with fewer images than threads (a transposed
    convolution's batch-1 forward) each image's channels split over the threads instead."""
    if N < threads:
        parts = max(1, min(C, -(-threads // N)))
        items = [(n, 1, j * C // parts, (j + 1) * C // parts) for n in range(N)
                 for j in range(parts)]
    else:
        items = [(b0, nb, 0, C) for b0, nb, _, _ in _grid_items(N, 1, B, 1, threads)]
    a = np.array(items, np.int64).reshape(-1, 4)
    a.setflags(write=False)
    return a


def col2im_bwd_data_chunked(gy, w, x_shape, pads, s, d, threads) -> np.ndarray:
    """Input gradient (groups = 1, any stride / dilation): chunk GEMM + flat-index col2im."""
    N, C = x_shape[:2]
    sp = tuple(x_shape[2:])
    O = w.shape[0]
    k = tuple(w.shape[2:])
    Sp = padded_shape(sp, pads)
    fst = _common.flat_strides(Sp)
    xidx = _tap_offsets(tuple(gy.shape[2:]), fst, tuple(s), tuple(d), k)
    padded = not _no_pad(pads)
    gxp = np.zeros((N, C, *Sp), gy.dtype)
    P = math.prod(gy.shape[2:])
    items = _col2im_items(N, C, _chunk_size(N, C * len(xidx) * P * gy.itemsize), threads)
    backend.run_split(
        _col2im_chunks, len(items), *_blas.kernel_args(gy.dtype),
        np.ascontiguousarray(gy).reshape(N, O, -1), np.ascontiguousarray(w.reshape(O, -1)), xidx,
        gxp.reshape(N, C, -1), items)
    if padded:
        return np.ascontiguousarray(gxp[_interior_sl(sp, pads)])
    return gxp
