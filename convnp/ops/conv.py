"""Convolution: one N-d engine for conv1d/2d/3d and conv_transpose1d/2d/3d, forward and backward.

The engine works on raw arrays with three kernels, all for a *zero*-padded "valid" convolution:

- ``_conv_fwd``       y = conv(x)                       (the forward)
- ``_conv_bwd_data``  gx = conv^T(gy)                   (input gradient == transposed conv forward)
- ``_conv_bwd_weight`` gw = sum_n gy (x) im2col(x)      (weight gradient)

and the duals reuse each other: the transposed convolution's forward is ``_conv_bwd_data``, its
input gradient is ``_conv_fwd``. Padding modes other than zeros are applied with
``convnp.ops.padding.pad_nd`` before the kernel and folded back with its exact adjoint
``pad_nd_backward`` after it, which makes the transposed conv with e.g. reflect padding the exact
adjoint of the reflect-padded conv.

Speed (see ../shared/PERF-NOTES.md): convolutions are lowered to large BLAS GEMMs fed from cache:
the batch is processed in chunks whose patch matrix stays around ``_BUDGET`` bytes, through reused
workspaces; a 1x1 convolution is a plain GEMM; a depthwise convolution (one input channel per
group) has its own tap-loop kernel (Numba when available, NumPy as the reference path).

Cross-correlation vs convolution: like PyTorch, ``conv*d`` computes the cross-correlation
``y[o, i] = sum_{c, k} w[o, c, k] * x[c, i*s + k*d]``. With ``flip=True`` the kernel is flipped
along every spatial axis first, which gives the true convolution of the slides
``y[o, i] = sum_{c, k} w[o, c, k] * x[c, i - k]`` (up to the padding offset).
"""

from __future__ import annotations

import functools
import math
import threading

import numpy as np
from numpy.lib.stride_tricks import as_strided

from convnp import _blas, backend
from convnp.autograd.function import Function
from convnp.ops import _shape
from convnp.ops import padding as _padding

__all__ = ["conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
           "conv_transpose3d", "convnd", "conv_transposend"]

PADDING_MODES = ("zeros", "reflect", "replicate", "circular")

# bytes of packed patch data per batch chunk: 1-8 MB stays in L2/L3 (PERF-NOTES point 1)
_BUDGET = 4 << 20

# ---------------------------------------------------------------------------------------------
# workspaces: reused flat buffers (fresh large allocations page-fault on every call)
# ---------------------------------------------------------------------------------------------
# one set per thread: two threads running convolutions at once never share a scratch buffer
_WS = threading.local()


def _workspace(name: str, size: int, dtype) -> np.ndarray:
    """A flat reused buffer of at least ``size`` elements (contents undefined), per thread."""
    bufs = getattr(_WS, "bufs", None)
    if bufs is None:
        bufs = _WS.bufs = {}
    key = (name, np.dtype(dtype).str)
    buf = bufs.get(key)
    if buf is None or buf.size < size:
        buf = np.empty(max(size, 1), dtype)
        bufs[key] = buf
    return buf[:size]


def _chunk_size(n: int, per_item_bytes: int, budget: int | None = None) -> int:
    budget = _BUDGET if budget is None else budget
    return max(1, min(n, budget // max(per_item_bytes, 1)))


def _interior_sl(sp, pads) -> tuple:
    """Index of the unpadded interior inside a padded (B, C, *Sp) array."""
    return (slice(None), slice(None)) + tuple(slice(lo, lo + n) for (lo, _), n in zip(pads, sp))


def _patches(xp: np.ndarray, k, s, d, groups: int, out_sp, writeable: bool = False) -> np.ndarray:
    """Strided view (g, Cg, *k, B, *out) of patches of ``xp`` (B, C, *Sp), any input strides."""
    B, C = xp.shape[:2]
    st = xp.strides
    cg = C // groups
    nd = len(k)
    shape = (groups, cg, *k, B, *out_sp)
    strides = (cg * st[1], st[1], *(d[i] * st[2 + i] for i in range(nd)), st[0],
               *(s[i] * st[2 + i] for i in range(nd)))
    return as_strided(xp, shape, strides, writeable=writeable)


def _padded_buffer(name, b, C, sp, pads, dtype) -> np.ndarray:
    """Zeroed reused (b, C, *Sp) buffer; its border stays zero while chunks fill the interior."""
    Sp = tuple(n + lo + hi for n, (lo, hi) in zip(sp, pads))
    buf = _workspace(name, b * C * math.prod(Sp), dtype).reshape(b, C, *Sp)
    buf.fill(0)
    return buf


def _gy_chunk(gy, n0, b, groups, name) -> np.ndarray:
    """gy[n0:n0+b] (b, O, *out) as a (g, Og, b*P) matrix (a copy through a workspace if b > 1)."""
    O = gy.shape[1]
    P = math.prod(gy.shape[2:])
    og = O // groups
    g4 = gy[n0:n0 + b].reshape(b, groups, og, P)
    if b == 1:
        return g4[0]
    buf = _workspace(name, groups * og * b * P, gy.dtype).reshape(groups, og, b, P)
    np.copyto(buf, g4.transpose(1, 2, 0, 3))
    return buf.reshape(groups, og, b * P)


def _no_pad(pads) -> bool:
    return not any(lo or hi for lo, hi in pads)


# ---------------------------------------------------------------------------------------------
# dense kernels (GEMM lowering)
# ---------------------------------------------------------------------------------------------
def _conv_fwd(x, w, pads, s, d, groups, out_sp=None, bias=None) -> np.ndarray:
    """Zero-padded cross-correlation (+ bias). x (N, C, *sp), w (O, C/g, *k) -> (N, O, *out)."""
    y = _conv_fwd_nobias(x, w, pads, s, d, groups, out_sp, bias)
    if isinstance(y, tuple):  # the kernel fused the bias
        return y[0]
    if bias is not None:
        _bias_add(y, bias)
    return y


def _conv_fwd_nobias(x, w, pads, s, d, groups, out_sp=None, bias=None):
    N, C = x.shape[:2]
    sp = x.shape[2:]
    O = w.shape[0]
    k = w.shape[2:]
    nd = len(k)
    if out_sp is None:
        out_sp = tuple(_shape.conv_output_size(sp[i], k[i], s[i], pads[i][0], pads[i][1], d[i])
                       for i in range(nd))
    dtype = x.dtype
    cg, og = C // groups, O // groups
    K, P = math.prod(k), math.prod(out_sp)
    if _is_depthwise(C, groups) and groups > 1:
        return _dw_fwd(x, w, pads, s, d, out_sp)
    if K == 1 and _no_pad(pads):
        return _conv1x1_fwd(x, w, s, groups, out_sp)
    if all(v == 1 for v in s):
        return (_conv_fwd_grid(x, w, pads, d, groups, out_sp, bias),)
    if _chunked_ok(x, w, groups):
        return (_gather_fwd_chunked(x, w, pads, s, d, out_sp, bias, backend.team()),)
    y = np.empty((N, O, *out_sp), dtype)
    wm = w.reshape(groups, og, cg * K)  # (g, Og, Cg*K)
    B = _chunk_size(N, C * K * P * x.itemsize)
    cols_flat = _workspace("cols", groups * cg * K * B * P, dtype)
    xbuf = None if _no_pad(pads) else _padded_buffer("xpad", B, C, sp, pads, dtype)
    inner = _interior_sl(sp, pads)
    for n0 in range(0, N, B):
        b = min(B, N - n0)
        if xbuf is None:
            xp = x[n0:n0 + b]
        else:
            xp = xbuf[:b]
            xp[inner] = x[n0:n0 + b]
        cols = cols_flat[:groups * cg * K * b * P].reshape(groups, cg, *k, b, *out_sp)
        np.copyto(cols, _patches(xp, k, s, d, groups, out_sp))
        cm = cols.reshape(groups, cg * K, b * P)  # (g, Cg*K, b*P)
        if b == 1:
            _blas.matmul(wm, cm, out=y[n0].reshape(groups, og, P))
        else:
            yb = _workspace("ybuf", groups * og * b * P, dtype).reshape(groups, og, b * P)
            _blas.matmul(wm, cm, out=yb)
            np.copyto(y[n0:n0 + b].reshape(b, groups, og, P),
                      yb.reshape(groups, og, b, P).transpose(2, 0, 1, 3))
    return y


# ---------------------------------------------------------------------------------------------
# stride-1 "grid" kernels: the patch matrix is built from CONTIGUOUS runs of the flattened padded
# input (one memcpy-like copy per kernel tap), the GEMM computes on the padded grid and the valid
# outputs are cropped while copying out (with the bias fused into that copy). The short-row
# strided copies of a classic im2col are 2-4x slower for small images.
# ---------------------------------------------------------------------------------------------
def _grid_plan(sp, pads, k, d, out_sp, per_row_bytes_per_c, C, N):
    """Padded grid ``Sp``, its flat strides, the flat offset of every kernel tap, the grid run
    ``L`` that covers all outputs, and the chunking (images ``B``, output rows ``R``). Cached:
    a training loop asks for the same few geometries every step."""
    return _grid_plan_cached(tuple(sp), tuple(tuple(p) for p in pads), tuple(k), tuple(d),
                             tuple(out_sp), int(per_row_bytes_per_c), int(C), int(N), _BUDGET)


@functools.lru_cache(maxsize=256)
def _grid_plan_cached(sp, pads, k, d, out_sp, per_row_bytes_per_c, C, N, budget):
    Sp = tuple(n + lo + hi for n, (lo, hi) in zip(sp, pads))
    fst = [math.prod(Sp[i + 1:]) for i in range(len(Sp))]  # flat strides of the padded grid
    offs = [sum(t[i] * d[i] * fst[i] for i in range(len(k))) for t in np.ndindex(*k)]
    L = sum((out_sp[i] - 1) * fst[i] for i in range(len(k))) + 1
    B, R = _image_chunks(N, C * len(offs) * L * per_row_bytes_per_c,
                         C * len(offs) * fst[0] * per_row_bytes_per_c, out_sp[0], budget)
    return Sp, tuple(fst), tuple(offs), L, B, R


def _image_chunks(N, per_image, per_row, rows, budget) -> tuple[int, int]:
    """(images per chunk, output rows per chunk) keeping a chunk's patch matrix within
    ``budget`` bytes: whole images while one fits, else one image's blocks of rows."""
    if per_image <= budget:
        return _chunk_size(N, per_image, budget), rows
    return 1, max(1, budget // per_row)


def _grid_kernel_ok(a, b, groups, work, limit) -> bool:
    """Use a direct grid kernel (``_grid_fwd_nb`` / ``_grid_bwdw_nb``) instead of the GEMM?"""
    return (groups == 1 and work <= limit and backend.use_numba() and a.dtype == b.dtype
            and a.dtype in (np.float32, np.float64))


def _grid_input(x, n0, b, pads, xbuf, sp):
    """(b, C, prod(Sp)) flat view of the zero-padded chunk x[n0:n0+b]."""
    if xbuf is None:
        return x[n0:n0 + b].reshape(b, x.shape[1], -1)
    xp = xbuf[:b]
    xp[_interior_sl(sp, pads)] = x[n0:n0 + b]
    return xp.reshape(b, x.shape[1], -1)


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


def _conv_fwd_grid(x, w, pads, d, groups, out_sp, bias=None) -> np.ndarray:
    """Stride-1 zero-padded cross-correlation through the padded-grid GEMM."""
    N, C = x.shape[:2]
    sp = x.shape[2:]
    O = w.shape[0]
    k = w.shape[2:]
    dtype = x.dtype
    og = O // groups
    Sp, fst, offs, L, B, R = _grid_plan(sp, pads, k, d, out_sp, x.itemsize, C, N)
    kernel = _grid_kernel_ok(x, w, groups, O * C * len(offs), _GRID_DIRECT_FWD_MAX)
    if not kernel and _chunked_ok(x, w, groups):
        return _grid_fwd_chunked(x, w, pads, d, out_sp, bias, (Sp, fst, offs, L, B, R),
                                 backend.team())
    wm = w.reshape(groups, og, -1)  # (g, Og, Cg*K)
    y = np.empty((N, O, *out_sp), dtype)
    direct = _no_pad(pads) and x.flags.c_contiguous
    xbuf = None if direct else _padded_buffer("xpad", B, C, sp, pads, dtype)
    bb = None if bias is None else bias.reshape((1, O) + (1,) * len(out_sp))
    if kernel:
        wk = np.ascontiguousarray(w.reshape(O, C, len(offs)))
        offs_a = np.asarray(offs, np.int64)
    for n0 in range(0, N, B):
        b = min(B, N - n0)
        xpf = _grid_input(x, n0, b, pads, xbuf, sp)
        for o0 in range(0, out_sp[0], R):
            o1 = min(o0 + R, out_sp[0])
            p0 = o0 * fst[0]
            Lc = min(o1 * fst[0], L) - p0
            res = _workspace("ybuf", O * b * Lc, dtype).reshape(groups, og, b * Lc)
            if kernel:
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


def _conv_bwd_weight_grid(x, gy, k, pads, d, groups) -> np.ndarray:
    """Stride-1 weight gradient through the padded grid (gy scattered onto a zeroed grid)."""
    N, C = x.shape[:2]
    sp = x.shape[2:]
    O = gy.shape[1]
    out_sp = gy.shape[2:]
    dtype = gy.dtype
    cg, og = C // groups, O // groups
    Sp, fst, offs, L, B, R = _grid_plan(sp, pads, k, d, out_sp, x.itemsize, C, N)
    chunked = _chunked_ok(x, gy, groups)
    kernel = _grid_kernel_ok(x, gy, groups, (O if chunked else 1) * C * len(offs),
                             _GRID_DIRECT_FWD_MAX if chunked else _GRID_DIRECT_BWDW_MAX)
    if not kernel and chunked:
        return _grid_bwdw_chunked(x, gy, k, pads, d, (Sp, fst, offs, L, B, R), backend.team())
    gw = np.zeros((groups, og, cg * len(offs)), dtype)
    tmp = np.empty_like(gw)
    direct = _no_pad(pads) and x.flags.c_contiguous
    xbuf = None if direct else _padded_buffer("xpad", B, C, sp, pads, dtype)
    offs_a = np.asarray(offs, np.int64)
    zero = np.zeros(1, dtype)
    for n0 in range(0, N, B):
        b = min(B, N - n0)
        xpf = _grid_input(x, n0, b, pads, xbuf, sp)
        for o0 in range(0, out_sp[0], R):
            o1 = min(o0 + R, out_sp[0])
            p0 = o0 * fst[0]
            Lc = min(o1 * fst[0], L) - p0
            gg = _workspace("gygrid", O * b * Lc, dtype).reshape(groups, og, b * Lc)
            gg.fill(0)
            np.copyto(_grid_view(gg, b, O, o1 - o0, out_sp, fst, Lc), gy[n0:n0 + b, :, o0:o1])
            if kernel:
                _grid_bwdw_nb(xpf, gg.reshape(O, b, Lc), offs_a, p0, gw.reshape(O, C, -1), zero)
            else:
                cm = _grid_cols(xpf, offs, p0, Lc, groups)
                _blas.matmul(gg, cm.transpose(0, 2, 1), out=tmp)
                gw += tmp
    return gw.reshape(O, cg, *k)


def _conv_bwd_data_polyphase(gy, w, x_shape, pads, s, groups) -> np.ndarray:
    """Strided (dilation 1) input gradient as s^n stride-1 problems, one per output phase.

    Padded input position q = j*s + r receives taps t = r, r+s, ... of every output o = j - i
    (t = r + i*s): a stride-1 full correlation of gy with the sub-kernel w[..., r::s] flipped. Each
    phase runs on the padded-grid GEMM and is written once into its interleaved positions, which
    replaces the k^n strided scatter-adds of col2im.
    """
    N, C = x_shape[:2]
    sp = tuple(x_shape[2:])
    k = w.shape[2:]
    nd = len(k)
    out_sp = gy.shape[2:]
    Sp = tuple(n + lo + hi for n, (lo, hi) in zip(sp, pads))
    if _no_pad(pads):
        gxp = np.empty(x_shape, gy.dtype)
    else:
        gxp = np.empty((N, C, *Sp), gy.dtype)
    ones = (1,) * nd
    for r in np.ndindex(*s):
        dst = gxp[(slice(None), slice(None)) + tuple(slice(r[i], None, s[i]) for i in range(nd))]
        kr = [len(range(r[i], k[i], s[i])) for i in range(nd)]
        if 0 in kr:
            dst.fill(0)
            continue
        J = dst.shape[2:]
        dpads = tuple((kr[i] - 1, J[i] - out_sp[i]) for i in range(nd))
        wsub = w[(slice(None), slice(None)) + tuple(slice(r[i], None, s[i]) for i in range(nd))]
        if any(hi < 0 for _, hi in dpads):  # cannot happen for consistent shapes; be safe
            return None
        dst[...] = _conv_fwd_grid(gy, _dual_weight(wsub, groups), dpads, ones, groups, J)
    if _no_pad(pads):
        return gxp
    return np.ascontiguousarray(gxp[_interior_sl(sp, pads)])


def _dual_weight(w, groups) -> np.ndarray:
    """Weight of the convolution that computes a stride-1 conv's input gradient:
    channels swapped within each group, kernel flipped. (O, Cg, *k) -> (C, Og, *k)."""
    O, cg = w.shape[:2]
    k = w.shape[2:]
    og = O // groups
    wt = w.reshape(groups, og, cg, *k).swapaxes(1, 2).reshape(groups * cg, og, *k)
    return np.ascontiguousarray(_flip(wt))


def _col2im_cheaper(C, O, sp, out_sp, dpads) -> bool:
    """Stride-1 input gradient: is GEMM + col2im cheaper than the dual conv on the padded grid?

    Per kernel tap, the dual conv copies O rows of the padded gy grid (about prod(sp + pads)
    long) and col2im adds C rows of prod(out) values (a strided read-add-write, ~3x a copy).
    When the output is much smaller than the input (a 5x5 kernel on a 5x5 map, LeNet's C5;
    valid convs on small maps) col2im moves far less data and its GEMM is not C rows thin."""
    grid = math.prod(n + lo + hi for n, (lo, hi) in zip(out_sp, dpads))
    return 3 * C * math.prod(out_sp) < O * grid


def _conv_bwd_data(gy, w, x_shape, pads, s, d, groups) -> np.ndarray:
    """Adjoint of ``_conv_fwd`` w.r.t. x: gy (N, O, *out) -> gx of ``x_shape`` (N, C, *sp)."""
    N, C = x_shape[:2]
    sp = tuple(x_shape[2:])
    O = w.shape[0]
    k = w.shape[2:]
    out_sp = gy.shape[2:]
    dtype = gy.dtype
    cg, og = C // groups, O // groups
    K, P = math.prod(k), math.prod(out_sp)
    if _is_depthwise(C, groups) and groups > 1:
        return _dw_bwd_data(gy, w, x_shape, pads, s, d)
    if K == 1 and _no_pad(pads) and all(v == 1 for v in s) and tuple(out_sp) == sp:
        gx = np.empty(x_shape, dtype)
        wt = w.reshape(groups, og, cg).transpose(0, 2, 1)  # (g, Cg, Og)
        _blas.matmul(wt, gy.reshape(N, groups, og, P), out=gx.reshape(N, groups, cg, P))
        return gx
    if all(v == 1 for v in s):
        # stride 1: the input gradient is a full correlation of gy with the dual weight
        # (duals reuse each other); valid when the padding does not exceed the kernel extent
        dpads = []
        for i in range(len(k)):
            lo = d[i] * (k[i] - 1) - pads[i][0]
            dpads.append((lo, sp[i] + d[i] * (k[i] - 1) - out_sp[i] - lo))
        if all(lo >= 0 and hi >= 0 for lo, hi in dpads) and not _col2im_cheaper(
                C, O, sp, out_sp, dpads):
            return _conv_fwd_grid(gy, _dual_weight(w, groups), tuple(dpads), d, groups, sp)
    elif all(v == 1 for v in d) and K > 1 and not _chunked_ok(gy, w, groups):
        # strided: with the chunk kernels, one parallel GEMM + scatter beats the s^n phases
        # (2 threads: L10's conv_transpose forward 12.6 -> 7.7 ms, L5's input gradient 24.5 ->
        # 13.9 ms; 1 thread 18.2 -> 13.4, 35 -> 24)
        gx = _conv_bwd_data_polyphase(gy, w, x_shape, pads, s, groups)
        if gx is not None:
            return gx
    if _chunked_ok(gy, w, groups):
        return _bwd_data_chunked(gy, w, x_shape, pads, s, d, backend.team())
    wt = w.reshape(groups, og, cg * K).transpose(0, 2, 1)  # (g, Cg*K, Og)
    B = _chunk_size(N, C * K * P * gy.itemsize)
    cols_flat = _workspace("cols", groups * cg * K * B * P, dtype)
    if _no_pad(pads):
        gx = np.zeros(x_shape, dtype)
        gbuf = None
    else:
        gx = np.empty(x_shape, dtype)
        Sp = tuple(n + lo + hi for n, (lo, hi) in zip(sp, pads))
        gbuf = _workspace("gxpad", B * C * math.prod(Sp), dtype).reshape(B, C, *Sp)
    inner = _interior_sl(sp, pads)
    taps = list(np.ndindex(*k))
    for n0 in range(0, N, B):
        b = min(B, N - n0)
        gyc = _gy_chunk(gy, n0, b, groups, "gybuf")  # (g, Og, b*P)
        gc = cols_flat[:groups * cg * K * b * P].reshape(groups, cg * K, b * P)
        _blas.matmul(wt, gyc, out=gc)
        G = gc.reshape(groups, cg, *k, b, *out_sp)
        if gbuf is None:
            gxp = gx[n0:n0 + b]
        else:
            gxp = gbuf[:b]
            gxp.fill(0)
        V = _patches(gxp, k, s, d, groups, out_sp, writeable=True)
        # col2im: one strided add per kernel tap (taps overlap each other, never themselves)
        for t in taps:
            idx = (slice(None), slice(None)) + t
            V[idx] += G[idx]
        if gbuf is not None:
            gx[n0:n0 + b] = gxp[inner]
    return gx


def _conv_bwd_weight(x, gy, k, pads, s, d, groups) -> np.ndarray:
    """Gradient w.r.t. the weight: x (N, C, *sp), gy (N, O, *out) -> (O, C/g, *k)."""
    N, C = x.shape[:2]
    sp = x.shape[2:]
    O = gy.shape[1]
    out_sp = gy.shape[2:]
    dtype = gy.dtype
    cg, og = C // groups, O // groups
    K, P = math.prod(k), math.prod(out_sp)
    if _is_depthwise(C, groups) and groups > 1:
        return _dw_bwd_weight(x, gy, k, pads, s, d)
    if K > 1 and all(v == 1 for v in s):
        return _conv_bwd_weight_grid(x, gy, k, pads, d, groups)
    if (K > 1 or any(v != 1 for v in s)) and _chunked_ok(x, gy, groups):
        return _gather_bwdw_chunked(x, gy, k, pads, s, d, backend.team())
    if K == 1 and all(v == 1 for v in s) and _no_pad(pads) and x.size and gy.size \
            and _blas.available() and backend.get_num_threads() > 1:
        return _conv1x1_bwd_weight(x, gy, groups)
    gw = np.zeros((groups, og, cg * K), dtype)
    tmp = np.empty_like(gw)
    B = _chunk_size(N, C * K * P * x.itemsize)
    cols_flat = _workspace("cols", groups * cg * K * B * P, dtype)
    xbuf = None if _no_pad(pads) else _padded_buffer("xpad", B, C, sp, pads, dtype)
    inner = _interior_sl(sp, pads)
    for n0 in range(0, N, B):
        b = min(B, N - n0)
        if xbuf is None:
            xp = x[n0:n0 + b]
        else:
            xp = xbuf[:b]
            xp[inner] = x[n0:n0 + b]
        if K == 1 and b == 1 and all(v == 1 for v in s) and tuple(out_sp) == tuple(xp.shape[2:]) \
                and xp[0].flags.c_contiguous:
            cm = xp[0].reshape(groups, cg, P)
        else:
            cols = cols_flat[:groups * cg * K * b * P].reshape(groups, cg, *k, b, *out_sp)
            np.copyto(cols, _patches(xp, k, s, d, groups, out_sp))
            cm = cols.reshape(groups, cg * K, b * P)
        gyc = _gy_chunk(gy, n0, b, groups, "gybuf")  # (g, Og, b*P)
        _blas.matmul(gyc, cm.transpose(0, 2, 1), out=tmp)
        gw += tmp
    return gw.reshape(O, cg, *k)


def _conv1x1_bwd_weight(x, gy, groups) -> np.ndarray:
    """1x1 stride-1 weight gradient as per-image GEMMs gy[n] @ x[n]^T on every thread (no
    copies of x or gy), summed over the batch in slices of about 32 MB of partial results
    (2 threads: (32,256,14,14)->64 1.09 -> 0.78 ms)."""
    N, C = x.shape[:2]
    O = gy.shape[1]
    cg, og = C // groups, O // groups
    x4 = x.reshape(N, groups, cg, -1)
    g4 = gy.reshape(N, groups, og, -1)
    gw = np.zeros((groups, og, cg), gy.dtype)
    step = max(1, (32 << 20) // max(1, O * cg * gy.itemsize))
    for n0 in range(0, N, step):
        part = _blas.matmul(g4[n0:n0 + step], x4[n0:n0 + step].transpose(0, 1, 3, 2))
        gw += part.sum(0)
    return gw.reshape((O, cg) + (1,) * (x.ndim - 2))


def _conv1x1_fwd(x, w, s, groups, out_sp) -> np.ndarray:
    """1x1 convolution (no padding): one GEMM per image and group, no patch copy."""
    N, C = x.shape[:2]
    O = w.shape[0]
    cg, og = C // groups, O // groups
    idx = (slice(None), slice(None)) + tuple(slice(0, (o - 1) * st + 1, st)
                                             for o, st in zip(out_sp, s))
    xs = x[idx]
    P = math.prod(out_sp)
    nd = len(out_sp)
    # channels-last input (logical NCHW, NHWC memory): one big GEMM, channels-last output
    perm = (0, *range(2, 2 + nd), 1)
    if groups == 1 and xs.transpose(perm).flags.c_contiguous:
        ycl = _blas.matmul(xs.transpose(perm).reshape(N * P, C), w.reshape(O, C).T)  # (N*P, O)
        return ycl.reshape(N, *out_sp, O).transpose(0, nd + 1, *range(1, nd + 1))
    y = np.empty((N, O, *out_sp), x.dtype)
    _blas.matmul(w.reshape(groups, og, cg), xs.reshape(N, groups, cg, P),
              out=y.reshape(N, groups, og, P))
    return y


# ---------------------------------------------------------------------------------------------
# depthwise kernels (one input channel per group, channel multiplier m = O / C)
# ---------------------------------------------------------------------------------------------
def _is_depthwise(C, groups) -> bool:
    return groups == C


def _pad_zero(x, pads) -> np.ndarray:
    if _no_pad(pads):
        return x
    Sp = tuple(n + lo + hi for n, (lo, hi) in zip(x.shape[2:], pads))
    xp = np.zeros(x.shape[:2] + Sp, x.dtype)
    xp[_interior_sl(x.shape[2:], pads)] = x
    return xp


def _lift3(a, lead: int) -> np.ndarray:
    """Reshape (..lead.., *sp) with 1-3 spatial axes to exactly 3 spatial axes (C-contiguous)."""
    sp = a.shape[lead:]
    return np.ascontiguousarray(a).reshape(a.shape[:lead] + (1,) * (3 - len(sp)) + sp)


def _lift_t(t, fill=1) -> tuple:
    return (fill,) * (3 - len(t)) + tuple(t)


# ``prange`` is plain ``range`` until convnp.backend binds ``numba.prange`` at the first compile.
prange = range

# Few-channel stride-1 layers (LeNet's 1->6 and 6->16 5x5 convs, an RGB stem): the patch-matrix
# GEMMs are thin (6 or 16 rows; 25-150 deep), so BLAS runs far below its peak and the patch copies
# cost as much as the products. These kernels compute on the same padded grid straight from the
# flattened input (no patch matrix): contiguous runs, unsigned indices so the loops vectorise,
# reassociation allowed so the dot products vectorise too (float rounding as a BLAS dot's).
_GRID_DIRECT_FWD_MAX = 256   # O * Cg * K at most: forward (LeNet C1: 6 * 25 = 150)
_GRID_DIRECT_BWDW_MAX = 64  # Cg * K at most: weight gradient (LeNet C1 25, an RGB 3x3 stem 27)
# ... against the chunk-parallel GEMM kernels the weight-gradient kernel only wins when the
# outputs are few too (2 threads: LeNet C1 0.38 vs 0.55 ms, but (32,3,32,32)->64 k3 2.07 vs
# 1.17 and (64,1,28,28)->32 k5 1.66 vs 1.07): then the forward's O * Cg * K limit applies.


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
_gemm_call = _int_call = None  # bound at the first compile (convnp.backend)


@backend.helper
def _mm(gemm, setl, ta, a, tb, b, alpha, beta, c):  # pragma: no cover - compiled
    """c = alpha * op(a) @ op(b) + beta * c with one single-threaded BLAS call (``gemm`` /
    ``setl``: convnp._blas.kernel_args); a, b, c C-contiguous 2-d, op = transpose when t*."""
    M, N = c.shape
    K = a.shape[0] if ta else a.shape[1]
    prev = _int_call(setl, 1)
    _gemm_call(gemm, 112 if ta else 111, 112 if tb else 111, M, N, K, alpha, a.ctypes.data,
               a.shape[1], b.ctypes.data, b.shape[1], beta, c.ctypes.data, N)
    _int_call(setl, prev)


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
    for c in range(C):
        for t in range(K):
            row = cols[c * K + t]
            ix = xidx[t]
            for bi in range(nb):
                src = xpf[b0 + bi, c]
                d0 = bi * Pc - q0
                for p in range(q0, q0 + Pc):
                    row[np.uintp(d0 + p)] = src[np.uintp(ix[p])]
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
    one image chunk of ``items`` (as in ``_grid_fwd_chunks``, all rows) per loop turn."""
    _, O, P = gy3.shape
    C = gxp.shape[1]
    K = xidx.shape[0]
    CK = C * K
    for it in prange(items.shape[0]):
        b0, nb = items[it, 0], items[it, 1]
        n = nb * P
        gyc = np.empty((O, n), gy3.dtype)
        for bi in range(nb):
            for o in range(O):
                src = gy3[b0 + bi, o]
                dst = gyc[o]
                d0 = bi * P
                for p in range(P):
                    dst[np.uintp(d0 + p)] = src[np.uintp(p)]
        G = np.empty((CK, n), gy3.dtype)
        _mm(gemm, setl, True, wm, False, gyc, one, one - one, G)
        for bi in range(nb):
            for c in range(C):
                dst = gxp[b0 + bi, c]
                for t in range(K):
                    g = G[c * K + t]
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


def _chunked_ok(a, b, groups) -> bool:
    """Use the chunk kernels (on any thread count: at one thread they beat the NumPy path's
    col2im 1.7x and match its forward)? groups = 1, non-empty float32/64 operands, Numba on and
    NumPy's OpenBLAS drivable single-threaded (convnp._blas)."""
    return (groups == 1 and a.size > 0 and b.size > 0 and a.dtype == b.dtype
            and a.dtype in (np.float32, np.float64) and _blas.available())


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


def _padded_flat(x, pads) -> np.ndarray:
    """(N, C, prod(Sp)) zero-padded copy of x (x itself when unpadded and contiguous). A fresh
    array, not a workspace: it is as large as the whole batch and would stay allocated."""
    N, C = x.shape[:2]
    if _no_pad(pads) and x.flags.c_contiguous:
        return x.reshape(N, C, -1)
    sp = x.shape[2:]
    buf = np.zeros((N, C) + tuple(n + lo + hi for n, (lo, hi) in zip(sp, pads)), x.dtype)
    buf[_interior_sl(sp, pads)] = x
    return buf.reshape(N, C, -1)


@functools.lru_cache(maxsize=256)
def _grid_items(N, rows, B, R, threads) -> np.ndarray:
    """Work items (first image, images, first output row, end row) for the chunk kernels: the
    plan's chunks (``B`` images of all rows, or one image's ``R``-row blocks), images split
    further until every thread has one."""
    if R >= rows:
        nch = max(1, min(N, max(threads, -(-N // B))))
        items = [(ch * N // nch, (ch + 1) * N // nch - ch * N // nch, 0, rows)
                 for ch in range(nch)]
    else:
        items = [(n, 1, o0, min(o0 + R, rows)) for n in range(N) for o0 in range(0, rows, R)]
    a = np.array(items, np.int64).reshape(-1, 4)
    a.setflags(write=False)
    return a


def _grid_fwd_chunked(x, w, pads, d, out_sp, bias, plan, threads) -> np.ndarray:
    N, C = x.shape[:2]
    O = w.shape[0]
    Sp, fst, offs, L, B, R = plan
    xpf = _padded_flat(x, pads)
    gidx = _flat_offsets(tuple(out_sp), fst, (1,) * len(fst))
    y = np.empty((N, O, *out_sp), x.dtype)
    b = np.zeros(O, x.dtype) if bias is None else np.ascontiguousarray(bias, x.dtype)
    _grid_fwd_chunks(
        *_blas.kernel_args(x.dtype), xpf, np.ascontiguousarray(w.reshape(O, -1)),
        np.asarray(offs, np.int64), fst[0], L, gidx, math.prod(out_sp[1:]), b,
        y.reshape(N, O, -1), _grid_items(N, out_sp[0], B, R, threads))
    return y


def _grid_bwdw_chunked(x, gy, k, pads, d, plan, threads) -> np.ndarray:
    N, C = x.shape[:2]
    O = gy.shape[1]
    Sp, fst, offs, L, B, R = plan
    out_sp = gy.shape[2:]
    xpf = _padded_flat(x, pads)
    gidx = _flat_offsets(tuple(out_sp), fst, (1,) * len(fst))
    items = _grid_items(N, out_sp[0], B, R, threads)
    parts = np.zeros((max(1, min(threads, len(items))), O, C * len(offs)), gy.dtype)
    _grid_bwdw_chunks(
        *_blas.kernel_args(gy.dtype), xpf, np.ascontiguousarray(gy).reshape(N, O, -1),
        np.asarray(offs, np.int64), fst[0], L, gidx, math.prod(out_sp[1:]), parts, items)
    return parts.sum(0).reshape(O, C, *k)


def _gather_plan(x_shape, pads, out_sp, s, d, k, itemsize, threads):
    """(xidx on the padded grid, P1, work items) for the gather kernels."""
    N, C = x_shape[:2]
    Sp = tuple(n + lo + hi for n, (lo, hi) in zip(x_shape[2:], pads))
    fst = tuple(math.prod(Sp[i + 1:]) for i in range(len(Sp)))
    xidx = _tap_offsets(tuple(out_sp), fst, tuple(s), tuple(d), tuple(k))
    K, P1 = len(xidx), math.prod(out_sp[1:])
    B, R = _image_chunks(N, C * K * math.prod(out_sp) * itemsize, C * K * P1 * itemsize,
                         out_sp[0], _BUDGET)
    return xidx, P1, _grid_items(N, out_sp[0], B, R, threads)


def _gather_fwd_chunked(x, w, pads, s, d, out_sp, bias, threads) -> np.ndarray:
    N = x.shape[0]
    O = w.shape[0]
    xidx, P1, items = _gather_plan(x.shape, pads, out_sp, s, d, w.shape[2:], x.itemsize,
                                   threads)
    y = np.empty((N, O, *out_sp), x.dtype)
    b = np.zeros(O, x.dtype) if bias is None else np.ascontiguousarray(bias, x.dtype)
    _gather_fwd_chunks(
        *_blas.kernel_args(x.dtype), _padded_flat(x, pads),
        np.ascontiguousarray(w.reshape(O, -1)), xidx, _identity(xidx.shape[1]), P1, b,
        y.reshape(N, O, -1), items)
    return y


def _gather_bwdw_chunked(x, gy, k, pads, s, d, threads) -> np.ndarray:
    N, C = x.shape[:2]
    O = gy.shape[1]
    xidx, P1, items = _gather_plan(x.shape, pads, gy.shape[2:], s, d, k, x.itemsize, threads)
    parts = np.zeros((max(1, min(threads, len(items))), O, C * len(xidx)), gy.dtype)
    _gather_bwdw_chunks(
        *_blas.kernel_args(gy.dtype), _padded_flat(x, pads),
        np.ascontiguousarray(gy).reshape(N, O, -1), xidx, _identity(xidx.shape[1]), P1, parts,
        items)
    return parts.sum(0).reshape(O, C, *k)


def _bwd_data_chunked(gy, w, x_shape, pads, s, d, threads) -> np.ndarray:
    """Input gradient (groups = 1, any stride / dilation): chunk GEMM + flat-index col2im."""
    N, C = x_shape[:2]
    sp = tuple(x_shape[2:])
    O = w.shape[0]
    k = tuple(w.shape[2:])
    Sp = tuple(n + lo + hi for n, (lo, hi) in zip(sp, pads))
    fst = tuple(math.prod(Sp[i + 1:]) for i in range(len(Sp)))
    xidx = _tap_offsets(tuple(gy.shape[2:]), fst, tuple(s), tuple(d), k)
    padded = not _no_pad(pads)
    gxp = np.zeros((N, C, *Sp), gy.dtype)
    P = math.prod(gy.shape[2:])
    items = _grid_items(N, 1, _chunk_size(N, C * len(xidx) * P * gy.itemsize), 1, threads)
    _col2im_chunks(
        *_blas.kernel_args(gy.dtype), np.ascontiguousarray(gy).reshape(N, O, -1),
        np.ascontiguousarray(w.reshape(O, -1)), xidx, gxp.reshape(N, C, -1), items)
    if padded:
        return np.ascontiguousarray(gxp[_interior_sl(sp, pads)])
    return gxp


def _numba() -> bool:
    """True when the compiled depthwise kernels are to be used."""
    return backend.use_numba()


def _dw_fwd(x, w, pads, s, d, out_sp) -> np.ndarray:
    N, C = x.shape[:2]
    m = w.shape[0] // C
    k = w.shape[2:]
    if _numba():
        # the compiled kernel handles the zero border itself: no padded copy
        y = np.empty((N, C, m, *_lift_t(out_sp)), x.dtype)
        _dw_fwd_nb(_lift3(x, 2), _lift3(w.reshape(C, m, *k), 2), y, *_lift_t(s), *_lift_t(d),
                   *_lift_t([lo for lo, _ in pads], 0), backend.get_num_threads())
        return y.reshape(N, C * m, *out_sp)
    xp = _pad_zero(x, pads)
    y = np.zeros((N, C, m, *out_sp), x.dtype)
    tmp = np.empty_like(y)
    wv = w.reshape(C, m, *k)
    for t in np.ndindex(*k):
        xv = xp[_tap(t, s, d, out_sp)][:, :, None]  # (N, C, 1, *out)
        wt = wv[(slice(None), slice(None)) + t].reshape((1, C, m) + (1,) * len(k))
        np.multiply(xv, wt, out=tmp)
        y += tmp
    return y.reshape(N, C * m, *out_sp)


def _tap(t, s, d, out_sp) -> tuple:
    """Index of the input values that kernel tap ``t`` meets, for every output position."""
    return (slice(None), slice(None)) + tuple(
        slice(t[i] * d[i], t[i] * d[i] + (out_sp[i] - 1) * s[i] + 1, s[i]) for i in range(len(t)))


def _dw_bwd_data(gy, w, x_shape, pads, s, d) -> np.ndarray:
    N, C = x_shape[:2]
    sp = tuple(x_shape[2:])
    m = w.shape[0] // C
    k = w.shape[2:]
    out_sp = gy.shape[2:]
    if _numba():
        gx = np.zeros((N, C, *_lift_t(sp)), gy.dtype)
        _dw_bwd_data_nb(_lift3(gy.reshape(N, C, m, *out_sp), 3), _lift3(w.reshape(C, m, *k), 2),
                        gx, *_lift_t(s), *_lift_t(d), *_lift_t([lo for lo, _ in pads], 0),
                        backend.get_num_threads())
        return gx.reshape(x_shape)
    Sp = tuple(n + lo + hi for n, (lo, hi) in zip(sp, pads))
    gxp = np.zeros((N, C, *Sp), gy.dtype)
    g5 = gy.reshape(N, C, m, *out_sp)
    wv = w.reshape(C, m, *k)
    for t in np.ndindex(*k):
        wt = wv[(slice(None), slice(None)) + t].reshape((1, C, m) + (1,) * len(k))
        if m == 1:
            gxp[_tap(t, s, d, out_sp)] += g5[:, :, 0] * wt[:, :, 0]
        else:
            gxp[_tap(t, s, d, out_sp)] += (g5 * wt).sum(axis=2)
    if _no_pad(pads):
        return gxp
    return np.ascontiguousarray(gxp[_interior_sl(sp, pads)])


def _dw_bwd_weight(x, gy, k, pads, s, d) -> np.ndarray:
    N, C = x.shape[:2]
    m = gy.shape[1] // C
    out_sp = gy.shape[2:]
    if _numba():
        gw = np.empty((C, m, *_lift_t(k)), gy.dtype)
        _dw_bwd_weight_nb(_lift3(x, 2), _lift3(gy.reshape(N, C, m, *out_sp), 3), gw,
                          *_lift_t(s), *_lift_t(d), *_lift_t([lo for lo, _ in pads], 0),
                          np.zeros(1, x.dtype))
        return gw.reshape(C * m, 1, *k)
    xp = _pad_zero(x, pads)
    gw = np.empty((C, m, *k), gy.dtype)
    g5 = gy.reshape(N, C, m, -1)  # (N, C, m, P)
    for t in np.ndindex(*k):
        xv = xp[_tap(t, s, d, out_sp)].reshape(N, C, 1, -1)
        gw[(slice(None), slice(None)) + t] = np.einsum("ncmp,ncxp->cm", g5, xv)
    return gw.reshape(C * m, 1, *k)


@backend.helper
def _dw_plane_in(x, n, c, pbuf, pd, ph, pw, HW, Wp):  # pragma: no cover - compiled
    """Copy plane x[n, c] (D, H, W) into the interior of the flat zero-padded ``pbuf``."""
    D, H, W = x.shape[2], x.shape[3], x.shape[4]
    for z in range(D):
        for yy in range(H):
            base = (z + pd) * HW + (yy + ph) * Wp + pw
            for i in range(W):
                pbuf[np.uintp(base + i)] = x[n, c, z, yy, i]


@backend.helper
def _dw_grid_in(gy, n, c, m, gg, sd, sh, sw, HW, Wp):  # pragma: no cover - compiled
    """Scatter gy[n, c, m] (Do, Ho, Wo) onto the flat stride-1 grid ``gg`` at its strided
    output positions (the other positions are left as they are: zero)."""
    Do, Ho, Wo = gy.shape[3], gy.shape[4], gy.shape[5]
    for od in range(Do):
        for oh in range(Ho):
            base = od * sd * HW + oh * sh * Wp
            for ow in range(Wo):
                gg[np.uintp(base + ow * sw)] = gy[n, c, m, od, oh, ow]


# The compiled kernels work on 3 spatial axes (1-d/2-d are lifted with unit axes). Each job copies
# one channel plane into a local zero-padded buffer and works on the flattened stride-1 grid of
# the padded plane, so every kernel tap is ONE long contiguous loop (vectorised); strides are
# applied when gathering the outputs from (or scattering gy onto) that grid. Unsigned indices let
# Numba skip the negative-index wraparound test, which otherwise blocks vectorisation.
@backend.jit(parallel=True)
def _dw_fwd_nb(x, w, y, sd, sh, sw, dd, dh, dw, pd, ph, pw, nslots):  # pragma: no cover - compiled
    """x (N, C, D, H, W), w (C, M, KD, KH, KW) -> y (N, C, M, Do, Ho, Wo)."""
    N, C, D, H, W = x.shape
    M, KD, KH, KW = w.shape[1], w.shape[2], w.shape[3], w.shape[4]
    Do, Ho, Wo = y.shape[3], y.shape[4], y.shape[5]
    Dp = max(pd + D, (Do - 1) * sd + (KD - 1) * dd + 1)
    Hp = max(ph + H, (Ho - 1) * sh + (KH - 1) * dh + 1)
    Wp = max(pw + W, (Wo - 1) * sw + (KW - 1) * dw + 1)
    HW = Hp * Wp
    L = (Do - 1) * sd * HW + (Ho - 1) * sh * Wp + (Wo - 1) * sw + 1
    J = N * C
    for slot in prange(nslots):  # buffers per slot of planes, not per plane (20-25% faster)
        pbuf = np.zeros(Dp * HW, x.dtype)  # the border stays zero: every plane fills the interior
        acc = np.empty(L, x.dtype)
        for job in range(slot * J // nslots, (slot + 1) * J // nslots):
            n = job // C
            c = job % C
            _dw_plane_in(x, n, c, pbuf, pd, ph, pw, HW, Wp)
            for m in range(M):
                for i in range(L):
                    acc[np.uintp(i)] = 0
                for kd in range(KD):
                    for kh in range(KH):
                        for kw in range(KW):
                            wv = w[c, m, kd, kh, kw]
                            off = kd * dd * HW + kh * dh * Wp + kw * dw
                            for i in range(L):
                                acc[np.uintp(i)] += wv * pbuf[np.uintp(off + i)]
                for od in range(Do):
                    for oh in range(Ho):
                        base = od * sd * HW + oh * sh * Wp
                        for ow in range(Wo):
                            y[n, c, m, od, oh, ow] = acc[np.uintp(base + ow * sw)]


@backend.jit(parallel=True)
def _dw_bwd_data_nb(gy, w, gx, sd, sh, sw, dd, dh, dw, pd, ph, pw, nslots):  # pragma: no cover
    """gy (N, C, M, Do, Ho, Wo), w (C, M, KD, KH, KW) -> gx (N, C, D, H, W)."""
    N, C, D, H, W = gx.shape
    M, KD, KH, KW = w.shape[1], w.shape[2], w.shape[3], w.shape[4]
    Do, Ho, Wo = gy.shape[3], gy.shape[4], gy.shape[5]
    Dp = max(pd + D, (Do - 1) * sd + (KD - 1) * dd + 1)
    Hp = max(ph + H, (Ho - 1) * sh + (KH - 1) * dh + 1)
    Wp = max(pw + W, (Wo - 1) * sw + (KW - 1) * dw + 1)
    HW = Hp * Wp
    L = (Do - 1) * sd * HW + (Ho - 1) * sh * Wp + (Wo - 1) * sw + 1
    J = N * C
    for slot in prange(nslots):  # buffers per slot of planes, not per plane
        gpad = np.empty(Dp * HW, gy.dtype)
        # gy on the stride-1 grid: every plane writes the same positions, the gaps stay zero
        gg = np.zeros(L, gy.dtype)
        for job in range(slot * J // nslots, (slot + 1) * J // nslots):
            n = job // C
            c = job % C
            for i in range(Dp * HW):
                gpad[np.uintp(i)] = 0
            for m in range(M):
                _dw_grid_in(gy, n, c, m, gg, sd, sh, sw, HW, Wp)
                for kd in range(KD):
                    for kh in range(KH):
                        for kw in range(KW):
                            wv = w[c, m, kd, kh, kw]
                            off = kd * dd * HW + kh * dh * Wp + kw * dw
                            for i in range(L):
                                gpad[np.uintp(off + i)] += wv * gg[np.uintp(i)]
            for z in range(D):
                for yy in range(H):
                    base = (z + pd) * HW + (yy + ph) * Wp + pw
                    for i in range(W):
                        gx[n, c, z, yy, i] = gpad[np.uintp(base + i)]


@backend.jit(parallel=True, fastmath=True)
def _dw_bwd_weight_nb(x, gy, gw, sd, sh, sw, dd, dh, dw, pd, ph, pw, zero):  # pragma: no cover
    """x (N, C, D, H, W), gy (N, C, M, Do, Ho, Wo) -> gw (C, M, KD, KH, KW); ``zero``: one
    element of the dtype, the dot products' start.

    fastmath lets the per-tap dot products vectorise (reassociated sums)."""
    N, C, D, H, W = x.shape
    M, KD, KH, KW = gw.shape[1], gw.shape[2], gw.shape[3], gw.shape[4]
    Do, Ho, Wo = gy.shape[3], gy.shape[4], gy.shape[5]
    Dp = max(pd + D, (Do - 1) * sd + (KD - 1) * dd + 1)
    Hp = max(ph + H, (Ho - 1) * sh + (KH - 1) * dh + 1)
    Wp = max(pw + W, (Wo - 1) * sw + (KW - 1) * dw + 1)
    HW = Hp * Wp
    L = (Do - 1) * sd * HW + (Ho - 1) * sh * Wp + (Wo - 1) * sw + 1
    for c in prange(C):
        pbuf = np.zeros(Dp * HW, x.dtype)
        gg = np.zeros(L, x.dtype)
        acc = np.zeros((M, KD, KH, KW), np.float64)
        for n in range(N):
            _dw_plane_in(x, n, c, pbuf, pd, ph, pw, HW, Wp)
            for m in range(M):
                _dw_grid_in(gy, n, c, m, gg, sd, sh, sw, HW, Wp)
                for kd in range(KD):
                    for kh in range(KH):
                        for kw in range(KW):
                            off = kd * dd * HW + kh * dh * Wp + kw * dw
                            t = zero[0]  # of the array's dtype (gg[0] * 0 is NaN at inf)
                            for i in range(L):
                                t += gg[np.uintp(i)] * pbuf[np.uintp(off + i)]
                            acc[m, kd, kh, kw] += t
        for m in range(M):
            for kd in range(KD):
                for kh in range(KH):
                    for kw in range(KW):
                        gw[c, m, kd, kh, kw] = acc[m, kd, kh, kw]


# ---------------------------------------------------------------------------------------------
# autograd Functions
# ---------------------------------------------------------------------------------------------
def _flip(w: np.ndarray) -> np.ndarray:
    nd = w.ndim - 2
    return w[(slice(None), slice(None)) + (slice(None, None, -1),) * nd]


def _bias_grad(g: np.ndarray) -> np.ndarray:
    # per-channel sum as a product with a ones vector: runs in BLAS (PERF-NOTES point 5)
    N, O = g.shape[:2]
    g3 = g.reshape(N, O, math.prod(g.shape[2:]))  # explicit: -1 is ambiguous when N == 0
    return _blas.matmul(g3, np.ones(g3.shape[2], g.dtype)).sum(axis=0)


def _bias_add(y: np.ndarray, b: np.ndarray) -> None:
    y += b.reshape((1, -1) + (1,) * (y.ndim - 2))


class ConvNd(Function):
    """N-d convolution (cross-correlation, or true convolution with ``flip``)."""

    @staticmethod
    def forward(ctx, x, w, b=None, *, stride, pads, dilation, groups, modes, flip, batched):
        if not batched:
            x = x[None]
        we = _flip(w) if flip else w
        zero = all(mo == "zeros" for mo in modes) or _no_pad(pads)
        if zero:
            xin, cpads = x, pads
        else:
            xin = _padding.pad_nd(x, pads, [_pm(mo) for mo in modes])
            cpads = ((0, 0),) * len(pads)
        y = _conv_fwd(xin, we, cpads, stride, dilation, groups, bias=b)
        ctx.save_for_backward(xin, we)
        ctx.cfg = (x.shape, pads, cpads, stride, dilation, groups, modes, flip, zero, batched,
                   b is not None)
        return y if batched else y[0]

    @staticmethod
    def backward(ctx, g):
        xin, we = ctx.saved_tensors
        x_shape, pads, cpads, s, d, groups, modes, flip, zero, batched, has_b = ctx.cfg
        if not batched:
            g = g[None]
        gx = gw = gb = None
        if ctx.needs_input_grad[0]:
            gx = _conv_bwd_data(g, we, xin.shape, cpads, s, d, groups)
            if not zero:
                gx = _padding.pad_nd_backward(gx, pads, [_pm(mo) for mo in modes], x_shape)
            if not batched:
                gx = gx[0]
        if ctx.needs_input_grad[1]:
            gw = _conv_bwd_weight(xin, g, we.shape[2:], cpads, s, d, groups)
            if flip:
                gw = _flip(gw)
        if has_b and ctx.needs_input_grad[2]:
            gb = _bias_grad(g)
        return gx, gw, gb


class ConvTransposeNd(Function):
    """N-d transposed convolution: the adjoint of ``ConvNd`` w.r.t. its input."""

    @staticmethod
    def forward(ctx, x, w, b=None, *, stride, pads, dilation, groups, modes, flip, out_sp,
                batched):
        if not batched:
            x = x[None]
        we = _flip(w) if flip else w
        N = x.shape[0]
        cout = w.shape[1] * groups
        zero = all(mo == "zeros" for mo in modes) or _no_pad(pads)
        out_shape = (N, cout, *out_sp)
        if zero:
            y = _conv_bwd_data(x, we, out_shape, pads, stride, dilation, groups)
        else:
            full = (N, cout) + tuple(n + lo + hi for n, (lo, hi) in zip(out_sp, pads))
            yf = _conv_bwd_data(x, we, full, ((0, 0),) * len(pads), stride, dilation, groups)
            y = _padding.pad_nd_backward(yf, pads, [_pm(mo) for mo in modes], out_shape)
        if b is not None:
            _bias_add(y, b)
        ctx.save_for_backward(x, we)
        ctx.cfg = (pads, stride, dilation, groups, modes, flip, zero, batched, b is not None)
        return y if batched else y[0]

    @staticmethod
    def backward(ctx, g):
        x, we = ctx.saved_tensors
        pads, s, d, groups, modes, flip, zero, batched, has_b = ctx.cfg
        if not batched:
            g = g[None]
        if zero:
            gin, cpads = g, pads
        else:
            gin = _padding.pad_nd(g, pads, [_pm(mo) for mo in modes])
            cpads = ((0, 0),) * len(pads)
        gx = gw = gb = None
        if ctx.needs_input_grad[0]:
            gx = _conv_fwd(gin, we, cpads, s, d, groups, out_sp=x.shape[2:])
            if not batched:
                gx = gx[0]
        if ctx.needs_input_grad[1]:
            gw = _conv_bwd_weight(gin, x, we.shape[2:], cpads, s, d, groups)
            if flip:
                gw = _flip(gw)
        if has_b and ctx.needs_input_grad[2]:
            gb = _bias_grad(g)
        return gx, gw, gb


def _pm(mode: str) -> str:
    return "constant" if mode == "zeros" else mode


# ---------------------------------------------------------------------------------------------
# argument validation and public functions
# ---------------------------------------------------------------------------------------------
def _arr(t):
    from convnp.tensor import Tensor

    if isinstance(t, Tensor):
        return t.array
    if isinstance(t, np.ndarray):
        return t
    return None


def _modes(padding_mode, n: int, fn: str) -> tuple[str, ...]:
    if isinstance(padding_mode, str):
        modes = (padding_mode,) * n
    elif isinstance(padding_mode, (tuple, list)) and all(isinstance(m, str) for m in padding_mode):
        if len(padding_mode) != n:
            raise ValueError(f"{fn}: padding_mode needs one mode or {n} (one per spatial axis), "
                             f"got {tuple(padding_mode)!r}")
        modes = tuple(padding_mode)
    else:
        raise TypeError(f"{fn}: padding_mode must be a string or a tuple of {n} strings, got "
                        f"{padding_mode!r}")
    for m in modes:
        if m not in PADDING_MODES:
            raise ValueError(f"{fn}: padding_mode must be one of {PADDING_MODES}, got {m!r}")
    return modes


def _check_common(fn, input, weight, bias, n, groups, transposed):
    x, w = _arr(input), _arr(weight)
    if x is None:
        raise TypeError(f"{fn}: input must be a Tensor or ndarray, got {type(input).__name__}")
    if w is None:
        raise TypeError(f"{fn}: weight must be a Tensor or ndarray, got {type(weight).__name__}")
    if w.ndim != n + 2:
        raise ValueError(f"{fn}: weight must have {n + 2} dimensions "
                         f"({'C_in, C_out/groups' if transposed else 'C_out, C_in/groups'}, "
                         f"*kernel), got shape {w.shape}")
    if x.ndim not in (n + 1, n + 2):
        raise ValueError(f"{fn}: expected a {n + 1}-d (unbatched) or {n + 2}-d (batched) input, "
                         f"got shape {x.shape}")
    if x.dtype.kind != "f" or w.dtype != x.dtype:
        raise TypeError(f"{fn}: input and weight must have the same floating dtype, got input "
                        f"{x.dtype} and weight {w.dtype}")
    if not (isinstance(groups, (int, np.integer)) and not isinstance(groups, bool)) or groups < 1:
        raise ValueError(f"{fn}: groups must be a positive int, got {groups!r}")
    groups = int(groups)
    batched = x.ndim == n + 2
    C = x.shape[1 if batched else 0]
    if transposed:
        want = w.shape[0]
        wdesc = f"weight {w.shape} (C_in, C_out/groups, *kernel)"
        out_ch = w.shape[1] * groups
        if w.shape[0] % groups:
            raise ValueError(f"{fn}: groups={groups} must divide in_channels={w.shape[0]}")
    else:
        want = w.shape[1] * groups
        wdesc = f"weight {w.shape} (C_out, C_in/groups, *kernel) and groups={groups}"
        out_ch = w.shape[0]
        if w.shape[0] % groups:
            raise ValueError(f"{fn}: groups={groups} must divide out_channels={w.shape[0]} "
                             f"(weight {w.shape})")
    if C % groups:
        raise ValueError(f"{fn}: groups={groups} must divide the input's channels ({C}, input "
                         f"{x.shape})")
    if C != want:
        hint = ""
        if x.shape[-1] == want:
            hint = (f"; the last axis has {want}: channels-last data? convnp expects "
                    f"(N, C, {', '.join('DHW'[3 - n:])}); move the channel axis first")
        raise RuntimeError(f"{fn}: expected input with {want} channels for {wdesc}, got input of "
                           f"shape {x.shape} with {C} channels{hint}")
    if bias is not None:
        bv = _arr(bias)
        if bv is None or bv.shape != (out_ch,):
            raise ValueError(f"{fn}: bias must be None or of shape ({out_ch},), got "
                             f"{getattr(bv, 'shape', type(bias).__name__)}")
        if bv.dtype != x.dtype:
            raise TypeError(f"{fn}: bias dtype {bv.dtype} differs from input dtype {x.dtype}")
    return x, w, groups, batched


def convnd(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, *,
           padding_mode="zeros", flip: bool = False, _fn: str = "convnd"):
    """N-d convolution (1-3 spatial axes, inferred from ``weight``), PyTorch's ``conv{n}d``
    plus convnp's extensions.

    Computes ``out[n, o] = bias[o] + sum_{c in group(o)} sum_k w[o, c, k] * x_pad[n, c, i*s + k*d]``
    (cross-correlation, PyTorch's convention). ``flip=True`` flips the kernel along every spatial
    axis first: the true convolution of the notes (``w[k]`` meets ``x[i - k]``); for symmetric
    kernels both agree.

    Args:
        input: (N, C_in, *spatial) or unbatched (C_in, *spatial).
        weight: (C_out, C_in/groups, *kernel).
        bias: (C_out,) or None.
        stride, dilation: int or one int per spatial axis.
        padding: int, one int per axis, one ``(lo, hi)`` pair per axis, ``'valid'``, ``'same'``
            (any stride and dilation: ``ceil(size/stride)`` outputs, SAME_UPPER, see
            ``convnp.ops._shape.same_padding``), ``'causal'`` (all padding before), or a sequence
            mixing these per axis.
        groups: input and output channels split into ``groups`` independent convolutions.
        padding_mode: ``'zeros' | 'reflect' | 'replicate' | 'circular'`` or one per spatial axis,
            e.g. ``('replicate', 'circular')`` for 360-degree images.
        flip: true convolution instead of cross-correlation.

    Shape:
        out = floor((in + lo + hi - dilation*(k - 1) - 1) / stride) + 1 per spatial axis.

    Example:
        >>> x, w = convnp.randn(2, 3, 8, 8), convnp.randn(4, 3, 3, 3)
        >>> convnd(x, w, padding="same", stride=2).shape
        (2, 4, 4, 4)
    """
    n = (_arr(weight).ndim - 2) if _arr(weight) is not None else 0
    if not 1 <= n <= 3:
        raise ValueError(f"{_fn}: weight must have 3 to 5 dimensions, got {n + 2}")
    fn = _fn
    x, w, groups, batched = _check_common(fn, input, weight, bias, n, groups, False)
    sp = x.shape[-n:]
    k = w.shape[2:]
    s = _shape.ntuple(stride, n, "stride", fn, minimum=1)
    d = _shape.ntuple(dilation, n, "dilation", fn, minimum=1)
    pads = _shape.conv_padding_pairs(padding, sp, k, s, d, fn)
    modes = _modes(padding_mode, n, fn)
    if not _no_pad(pads) and any(m != "zeros" for m in modes):
        _padding.check_pads(x.shape, pads, [_pm(m) for m in modes], fn)
    for i in range(n):
        eff = d[i] * (k[i] - 1) + 1
        if sp[i] + pads[i][0] + pads[i][1] < eff:
            raise RuntimeError(f"{fn}: kernel size can't be greater than the padded input size: "
                               f"spatial axis {i} has {sp[i]} + padding {pads[i]} = "
                               f"{sp[i] + pads[i][0] + pads[i][1]} values, the (dilated) kernel "
                               f"needs {eff} (input {x.shape}, weight {w.shape})")
    return ConvNd.apply(input, weight, bias, stride=s, pads=pads, dilation=d, groups=groups,
                        modes=modes, flip=bool(flip), batched=batched)


def conv_transposend(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1, *, output_size=None, padding_mode="zeros", flip: bool = False,
                     _fn: str = "conv_transposend"):
    """N-d transposed convolution (the adjoint / gradient of ``convnd`` w.r.t. its input),
    PyTorch's ``conv_transpose{n}d`` plus convnp's extensions.

    Args:
        input: (N, C_in, *spatial) or unbatched (C_in, *spatial).
        weight: (C_in, C_out/groups, *kernel) (PyTorch's layout for transposed conv).
        bias: (C_out,) or None.
        stride, dilation, groups: as the convolution it transposes.
        padding: int, one int per axis or one ``(lo, hi)`` pair per axis (removed from the output).
        output_padding: extra size added on the high side of each output axis, < stride or
            < dilation.
        output_size: (keyword) desired spatial output size (or full shape); derives
            ``output_padding`` and raises a ValueError naming the valid range.
        padding_mode: as ``convnd``; modes other than zeros give the exact adjoint of the padded
            convolution, so ``<conv(x), y> == <x, conv_transpose(y)>``.
        flip: adjoint of the flipped-kernel (true) convolution.

    Shape:
        out = (in - 1)*stride - lo - hi + dilation*(k - 1) + output_padding + 1 per axis.

    Example:
        >>> x, w = convnp.randn(2, 4, 5, 5), convnp.randn(4, 3, 4, 4)
        >>> conv_transposend(x, w, stride=2, padding=1).shape
        (2, 3, 10, 10)
    """
    n = (_arr(weight).ndim - 2) if _arr(weight) is not None else 0
    if not 1 <= n <= 3:
        raise ValueError(f"{_fn}: weight must have 3 to 5 dimensions, got {n + 2}")
    fn = _fn
    x, w, groups, batched = _check_common(fn, input, weight, bias, n, groups, True)
    sp = x.shape[-n:]
    k = w.shape[2:]
    s = _shape.ntuple(stride, n, "stride", fn, minimum=1)
    d = _shape.ntuple(dilation, n, "dilation", fn, minimum=1)
    if isinstance(padding, str) and padding != "valid" or (
            isinstance(padding, (tuple, list)) and any(isinstance(p, str) for p in padding)):
        raise ValueError(f"{fn}: padding strings other than 'valid' are not supported for "
                         f"transposed convolution (got {padding!r}); pass ints, (lo, hi) pairs "
                         f"or output_size=")
    pads = _shape.conv_padding_pairs(padding, sp, k, s, d, fn)
    modes = _modes(padding_mode, n, fn)
    if output_size is not None:
        osz = tuple(int(v) for v in output_size)
        if len(osz) not in (n, n + 1, n + 2):
            raise ValueError(f"{fn}: output_size must have {n} (spatial) entries, got {osz}")
        osz = osz[-n:]
        op = _shape.conv_transpose_output_padding(osz, sp, k, s, pads, d, fn)
    else:
        op = _shape.ntuple(output_padding, n, "output_padding", fn, minimum=0)
        for i in range(n):
            if op[i] >= s[i] and op[i] >= d[i]:
                raise ValueError(f"{fn}: output_padding must be smaller than either stride or "
                                 f"dilation, got output_padding={op}, stride={s}, dilation={d}")
    out_sp = tuple(_shape.conv_transpose_output_size(sp[i], k[i], s[i], pads[i][0], pads[i][1],
                                                     d[i], op[i]) for i in range(n))
    if any(o <= 0 for o in out_sp):
        raise RuntimeError(f"{fn}: output size {out_sp} is not positive (input {x.shape}, "
                           f"weight {w.shape}, padding {pads}, stride {s}, dilation {d})")
    if not _no_pad(pads) and any(m != "zeros" for m in modes):
        _padding.check_pads((x.shape[0], w.shape[1] * groups) + out_sp, pads,
                            [_pm(m) for m in modes], fn)
    return ConvTransposeNd.apply(input, weight, bias, stride=s, pads=pads, dilation=d,
                                 groups=groups, modes=modes, flip=bool(flip), out_sp=out_sp,
                                 batched=batched)


def _check_dim(n: int, name: str, weight) -> None:
    wa = _arr(weight)
    if wa is not None and wa.ndim != n + 2:
        raise ValueError(f"{name}: weight must have {n + 2} dimensions, got shape {wa.shape}")


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, *,
           padding_mode="zeros", flip: bool = False):
    """1-d convolution over (N, C_in, L) or (C_in, L); see ``convnd`` for every argument.

    Shape: L_out = floor((L + lo + hi - dilation*(k - 1) - 1) / stride) + 1.
    """
    _check_dim(1, "conv1d", weight)
    return convnd(input, weight, bias, stride, padding, dilation, groups,
                  padding_mode=padding_mode, flip=flip, _fn="conv1d")


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, *,
           padding_mode="zeros", flip: bool = False):
    """2-d convolution over (N, C_in, H, W) or (C_in, H, W); see ``convnd`` for every argument.

    Shape: H_out = floor((H + lo + hi - dilation*(kH - 1) - 1) / stride) + 1, W_out likewise.

    Example:
        >>> x = convnp.randn(1, 3, 32, 32); w = convnp.randn(6, 3, 5, 5)
        >>> conv2d(x, w).shape
        (1, 6, 28, 28)
    """
    _check_dim(2, "conv2d", weight)
    return convnd(input, weight, bias, stride, padding, dilation, groups,
                  padding_mode=padding_mode, flip=flip, _fn="conv2d")


def conv3d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, *,
           padding_mode="zeros", flip: bool = False):
    """3-d convolution over (N, C_in, D, H, W) or (C_in, D, H, W); see ``convnd``."""
    _check_dim(3, "conv3d", weight)
    return convnd(input, weight, bias, stride, padding, dilation, groups,
                  padding_mode=padding_mode, flip=flip, _fn="conv3d")


def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1, *, output_size=None, padding_mode="zeros", flip: bool = False):
    """1-d transposed convolution over (N, C_in, L); see ``conv_transposend``.

    Shape: L_out = (L - 1)*stride - lo - hi + dilation*(k - 1) + output_padding + 1.
    """
    _check_dim(1, "conv_transpose1d", weight)
    return conv_transposend(input, weight, bias, stride, padding, output_padding, groups,
                            dilation, output_size=output_size, padding_mode=padding_mode,
                            flip=flip, _fn="conv_transpose1d")


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1, *, output_size=None, padding_mode="zeros", flip: bool = False):
    """2-d transposed convolution over (N, C_in, H, W); see ``conv_transposend``.

    Shape: H_out = (H - 1)*stride - lo - hi + dilation*(kH - 1) + output_padding + 1.

    Example:
        >>> x = convnp.randn(1, 64, 28, 28); w = convnp.randn(64, 32, 4, 4)
        >>> conv_transpose2d(x, w, stride=2, padding=1).shape
        (1, 32, 56, 56)
    """
    _check_dim(2, "conv_transpose2d", weight)
    return conv_transposend(input, weight, bias, stride, padding, output_padding, groups,
                            dilation, output_size=output_size, padding_mode=padding_mode,
                            flip=flip, _fn="conv_transpose2d")


def conv_transpose3d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1, *, output_size=None, padding_mode="zeros", flip: bool = False):
    """3-d transposed convolution over (N, C_in, D, H, W); see ``conv_transposend``."""
    _check_dim(3, "conv_transpose3d", weight)
    return conv_transposend(input, weight, bias, stride, padding, output_padding, groups,
                            dilation, output_size=output_size, padding_mode=padding_mode,
                            flip=flip, _fn="conv_transpose3d")
