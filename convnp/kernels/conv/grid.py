"""Stride-1 "grid" kernels and the polyphase input gradient.

The patch matrix is built from CONTIGUOUS runs of the flattened zero-padded input (one
memcpy-like copy per kernel tap), the product is computed on the whole padded grid and the valid
outputs are cropped while copying out (with the bias fused into that copy). A classic im2col
copies short strided rows instead, which costs more than the GEMM itself for small images.

Two ways to compute on the grid: a BLAS GEMM per chunk (``grid-gemm``), or, for few-channel
layers whose GEMMs would be thin, the compiled loops ``_grid_fwd_nb`` / ``_grid_bwdw_nb``
(``grid-direct``). A strided input gradient with dilation 1 becomes s^n stride-1 problems
(``polyphase_bwd_data``).
"""

from __future__ import annotations

import functools

import numpy as np
from numpy.lib.stride_tricks import as_strided

from convnp import _blas, backend
from convnp.backend import prange
from convnp.kernels.conv import _common
from convnp.kernels.conv._common import (
    _dual_weight,
    _interior_sl,
    _no_pad,
    _padded_buffer,
    _workspace,
    padded_shape,
)


def grid_plan(sp, pads, k, d, out_sp, itemsize, C, N):
    """Padded grid ``Sp``, its flat strides, the flat offset of every kernel tap, the grid run
    ``L`` that covers all outputs, and the chunking (images ``B``, output rows ``R``). Cached:
    a training loop asks for the same few geometries every step."""
    return _grid_plan_cached(tuple(sp), tuple(tuple(p) for p in pads), tuple(k), tuple(d),
                             tuple(out_sp), int(itemsize), int(C), int(N), _common._BUDGET)


@functools.lru_cache(maxsize=256)
def _grid_plan_cached(sp, pads, k, d, out_sp, itemsize, C, N, budget):
    Sp = padded_shape(sp, pads)
    fst = _common.flat_strides(Sp)
    offs = [sum(t[i] * d[i] * fst[i] for i in range(len(k))) for t in np.ndindex(*k)]
    L = sum((out_sp[i] - 1) * fst[i] for i in range(len(k))) + 1
    B, R = _common._image_chunks(N, C * len(offs) * L * itemsize,
                                 C * len(offs) * fst[0] * itemsize, out_sp[0], budget)
    return Sp, fst, tuple(offs), L, B, R


def _grid_chunks(x, pads, plan, out_sp):
    """Yield (n0, b, xpf, o0, o1, p0, Lc) per chunk: images n0..n0+b as a (b, C, prod(Sp)) flat
    zero-padded view ``xpf``, output rows o0..o1, which are the grid run [p0, p0 + Lc)."""
    N, C = x.shape[:2]
    sp = x.shape[2:]
    Sp, fst, offs, L, B, R = plan
    direct = _no_pad(pads) and x.flags.c_contiguous
    xbuf = None if direct else _padded_buffer("xpad", B, C, sp, pads, x.dtype)
    for n0 in range(0, N, B):
        b = min(B, N - n0)
        if xbuf is None:
            xpf = x[n0:n0 + b].reshape(b, C, -1)
        else:
            xp = xbuf[:b]
            xp[_interior_sl(sp, pads)] = x[n0:n0 + b]
            xpf = xp.reshape(b, C, -1)
        for o0 in range(0, out_sp[0], R):
            o1 = min(o0 + R, out_sp[0])
            p0 = o0 * fst[0]
            yield n0, b, xpf, o0, o1, p0, min(o1 * fst[0], L) - p0


def _grid_cols(xpf, offs, p0, Lc, groups, name="cols"):
    """(g, Cg*K, b*Lc) patch matrix from contiguous runs of ``xpf`` (b, C, S)."""
    b, C = xpf.shape[:2]
    cg = C // groups
    K = len(offs)
    cols = _workspace(name, C * K * b * Lc, xpf.dtype).reshape(groups, cg, K, b, Lc)
    for t, off in enumerate(offs):
        np.copyto(cols[:, :, t], xpf[:, :, off + p0:off + p0 + Lc].reshape(
            b, groups, cg, Lc).transpose(1, 2, 0, 3))
    return cols.reshape(groups, cg * K, b * Lc)


def _grid_view(res, b, O, rows, out_sp, fst, Lc):
    """(b, O, rows, *out[1:]) view of the valid outputs in a (g, Og, b, Lc) grid result."""
    it = res.itemsize
    return as_strided(res, (b, O, rows, *out_sp[1:]),
                      (Lc * it, b * Lc * it, *(f * it for f in fst)), writeable=True)


def grid_fwd(x, w, pads, d, groups, out_sp, bias=None, direct=False) -> np.ndarray:
    """Stride-1 zero-padded cross-correlation (+ bias) on the padded grid: a GEMM per chunk,
    or the compiled direct loop ``_grid_fwd_nb`` when ``direct`` (groups = 1)."""
    if direct and len(out_sp) == 1:
        return _direct1d_fwd(x, w, pads[0][0], d[0], out_sp[0], bias)
    N, C = x.shape[:2]
    O = w.shape[0]
    og = O // groups
    plan = grid_plan(x.shape[2:], pads, w.shape[2:], d, out_sp, x.itemsize, C, N)
    fst, offs = plan[1], plan[2]
    wm = w.reshape(groups, og, -1)  # (g, Og, Cg*K)
    y = np.empty((N, O, *out_sp), x.dtype)
    bb = None if bias is None else bias.reshape((1, O) + (1,) * len(out_sp))
    if direct:
        wk = np.ascontiguousarray(w.reshape(O, C, len(offs)))
        offs_a = np.asarray(offs, np.int64)
    for n0, b, xpf, o0, o1, p0, Lc in _grid_chunks(x, pads, plan, out_sp):
        res = _workspace("ybuf", O * b * Lc, x.dtype).reshape(groups, og, b * Lc)
        if direct:
            _grid_fwd_nb(xpf, wk, offs_a, p0, res.reshape(O, b, Lc))
        else:
            _blas.matmul(wm, _grid_cols(xpf, offs, p0, Lc, groups), out=res)
        view = _grid_view(res, b, O, o1 - o0, out_sp, fst, Lc)
        dst = y[n0:n0 + b, :, o0:o1]
        if bb is None:
            np.copyto(dst, view)
        else:
            np.add(view, bb, out=dst)
    return y


def grid_bwd_weight(x, gy, k, pads, d, groups, direct=False) -> np.ndarray:
    """Stride-1 weight gradient on the padded grid (gy scattered onto a zeroed grid): a GEMM
    per chunk, or the compiled direct loop ``_grid_bwdw_nb`` when ``direct`` (groups = 1)."""
    N, C = x.shape[:2]
    O = gy.shape[1]
    out_sp = gy.shape[2:]
    cg, og = C // groups, O // groups
    plan = grid_plan(x.shape[2:], pads, k, d, out_sp, x.itemsize, C, N)
    fst, offs = plan[1], plan[2]
    gw = np.zeros((groups, og, cg * len(offs)), gy.dtype)
    tmp = np.empty_like(gw)
    offs_a = np.asarray(offs, np.int64)
    zero = np.zeros(1, gy.dtype)
    for n0, b, xpf, o0, o1, p0, Lc in _grid_chunks(x, pads, plan, out_sp):
        gg = _workspace("gygrid", O * b * Lc, gy.dtype).reshape(groups, og, b * Lc)
        gg.fill(0)
        np.copyto(_grid_view(gg, b, O, o1 - o0, out_sp, fst, Lc), gy[n0:n0 + b, :, o0:o1])
        if direct:
            _grid_bwdw_nb(xpf, gg.reshape(O, b, Lc), offs_a, p0, gw.reshape(O, C, -1), zero)
        else:
            cm = _grid_cols(xpf, offs, p0, Lc, groups)
            _blas.matmul(gg, cm.transpose(0, 2, 1), out=tmp)
            gw += tmp
    return gw.reshape(O, cg, *k)


def dual_pads(sp, k, d, pads, out_sp) -> tuple:
    """Padding of the stride-1 full correlation of gy with the dual weight that gives a
    stride-1 conv's input gradient (negative where the padding exceeds the kernel extent)."""
    out = []
    for i in range(len(k)):
        lo = d[i] * (k[i] - 1) - pads[i][0]
        out.append((lo, sp[i] + d[i] * (k[i] - 1) - out_sp[i] - lo))
    return tuple(out)


def polyphase_bwd_data(gy, w, x_shape, pads, s, groups, fwd) -> np.ndarray:
    """Strided (dilation 1) input gradient as s^n stride-1 problems, one per output phase.

    Padded input position q = j*s + r receives taps t = r, r+s, ... of every output o = j - i
    (t = r + i*s): a stride-1 full correlation of gy with the sub-kernel w[..., r::s] flipped.
    Each phase runs on ``fwd(x, w, pads, dilation, groups, out_sp)`` (a stride-1 forward kernel
    chosen by the dispatch) and is written once into its interleaved positions, which replaces
    the k^n strided scatter-adds of col2im.
    """
    N, C = x_shape[:2]
    sp = tuple(x_shape[2:])
    k = w.shape[2:]
    nd = len(k)
    out_sp = gy.shape[2:]
    if _no_pad(pads):
        gxp = np.empty(x_shape, gy.dtype)
    else:
        gxp = np.empty((N, C, *padded_shape(sp, pads)), gy.dtype)
    ones = (1,) * nd
    for r in np.ndindex(*s):
        phase = (slice(None), slice(None)) + tuple(slice(r[i], None, s[i]) for i in range(nd))
        dst = gxp[phase]
        kr = [len(range(r[i], k[i], s[i])) for i in range(nd)]
        if 0 in kr:
            dst.fill(0)
            continue
        J = dst.shape[2:]
        dpads = tuple((kr[i] - 1, J[i] - out_sp[i]) for i in range(nd))
        dst[...] = fwd(gy, _dual_weight(w[phase], groups), dpads, ones, groups, J)
    if _no_pad(pads):
        return gxp
    return np.ascontiguousarray(gxp[_interior_sl(sp, pads)])


# Few-channel stride-1 layers (LeNet's 1->6 and 6->16 5x5 convs, an RGB stem): the patch-matrix
# GEMMs are thin (6 or 16 rows; 25-150 deep), so BLAS runs far below its peak and the patch copies
# cost as much as the products. These kernels compute on the same padded grid straight from the
# flattened input (no patch matrix): contiguous runs, unsigned indices so the loops vectorise,
# reassociation allowed so the dot products vectorise too (float rounding as a BLAS dot's).
@backend.jit(parallel=True, fastmath={"reassoc", "contract"})
def _grid_fwd_nb(xpf, w, offs, p0, res):
    """res[o, b, l] = sum_{c,t} w[o, c, t] * xpf[b, c, p0 + offs[t] + l] (groups = 1)."""
    B, C, _ = xpf.shape
    O, _, L = res.shape
    K = offs.shape[0]
    for o in prange(O):
        for b in range(B):
            for i in range(L):
                res[o, b, np.uintp(i)] = 0
            for c in range(C):
                for t in range(K):
                    wv = w[o, c, t]
                    base = p0 + offs[t]
                    for i in range(L):
                        res[o, b, np.uintp(i)] += wv * xpf[b, c, np.uintp(base + i)]


def _direct1d_fwd(x, w, lo, d, L, bias) -> np.ndarray:
    """The 1-d case of the direct loops, straight into the output: each tap's products over
    the output range whose reads fall inside the input, so no padded copy, no grid, no crop."""
    N, C = x.shape[:2]
    O = w.shape[0]
    y = np.empty((N, O, L), x.dtype)
    if y.size == 0:
        return y
    has_bias = bias is not None
    b = bias if has_bias else y[0, :, 0]  # any array of the dtype: never read
    _direct1d_fwd_nb(np.ascontiguousarray(x), np.ascontiguousarray(w), lo, d, b, has_bias, y)
    return y


@backend.jit(parallel=True, fastmath={"reassoc", "contract"})
def _direct1d_fwd_nb(x, w, lo, d, bias, has_bias, y):
    """y[n, o, i] = sum_{c,t} w[o, c, t] * x[n, c, i + t*d - lo] (+ bias[o]), zero outside x."""
    N, C, Lin = x.shape
    O, _, K = w.shape
    L = y.shape[2]
    for job in prange(N * O):
        n = job // O
        o = job - n * O
        row = y[n, o]
        for i in range(L):
            row[np.uintp(i)] = 0
        for c in range(C):
            xs = x[n, c]
            for t in range(K):
                sh = t * d - lo
                i0 = max(0, -sh)
                i1 = min(L, Lin - sh)
                wv = w[o, c, t]
                for i in range(i0, i1):
                    row[np.uintp(i)] += wv * xs[np.uintp(i + sh)]
        if has_bias:
            bv = bias[o]
            for i in range(L):
                row[np.uintp(i)] += bv


@backend.jit(parallel=True, fastmath={"reassoc", "contract"})
def _grid_bwdw_nb(xpf, gg, offs, p0, gw, zero):
    """gw[o, c, t] += sum_{b,l} gg[o, b, l] * xpf[b, c, p0 + offs[t] + l] (groups = 1);
    ``zero``: a one-element array of the dtype, the accumulator's start."""
    B, C, _ = xpf.shape
    O, _, L = gg.shape
    K = offs.shape[0]
    for o in prange(O):
        for b in range(B):  # one image's rows stay in L1 across all (c, t)
            for c in range(C):
                for t in range(K):
                    base = p0 + offs[t]
                    acc = zero[0]
                    for i in range(L):
                        acc += gg[o, b, np.uintp(i)] * xpf[b, c, np.uintp(base + i)]
                    gw[o, c, t] += acc


# ---------------------------------------------------------------------------------------------
# chunk-parallel kernels (groups = 1): the batch is cut into chunks, one per thread or more, and
# each chunk runs its whole pipeline (patch matrix, single-threaded BLAS GEMM, crop / scatter)
# on its own thread, inside one Numba parallel region. Copies then run in parallel too, and no
# BLAS thread pool competes with Numba's (convnp._blas). Positions are flat indices: ``gidx[p]``
# the padded-grid offset of valid output p, ``xidx[t, p]`` the padded-input offset that tap t of
# output p reads, so the same kernels serve 1-d, 2-d and 3-d.
# ---------------------------------------------------------------------------------------------
