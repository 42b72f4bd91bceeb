"""Batch-chunked im2col / col2im GEMM kernels, the 1x1 and the dense kernels: NumPy + BLAS.

The batch is processed in chunks whose patch matrix stays around ``_common._BUDGET`` bytes,
through reused workspaces; a 1x1 convolution is a plain GEMM with no patch copy, and so is a
convolution whose one window covers the whole unpadded input (LeNet's C5, a DCGAN
discriminator's last layer, a generator's first transposed layer): a fully connected layer.
"""

from __future__ import annotations

import math

import numpy as np

from convnp import _blas, backend
from convnp._blas import gemm_call, int_call  # noqa: F401 (what _gemm_off compiles with)
from convnp.backend import prange
from convnp.kernels.conv._common import (
    _chunk_size,
    _gy_chunk,
    _interior_sl,
    _no_pad,
    _padded_buffer,
    _workspace,
    padded_shape,
)
from convnp.kernels.conv.shift import _gemm_off
from convnp.ops._window import patches


def _im2col_chunks(x, k, pads, s, d, groups, out_sp, reuse_1x1=False):
    """Yield (n0, b, cm) per batch chunk: the (g, Cg*K, b*P) patch matrix of images n0..n0+b
    of the zero-padded ``x`` (a view of x itself for an unpadded stride-1 1x1 image when
    ``reuse_1x1``)."""
    N, C = x.shape[:2]
    sp = x.shape[2:]
    cg = C // groups
    K, P = math.prod(k), math.prod(out_sp)
    B = _chunk_size(N, C * K * P * x.itemsize)
    cols_flat = _workspace("cols", groups * cg * K * B * P, x.dtype)
    if len(k) == 1 and backend.use_numba() and x.dtype in _NB_FLOATS and not reuse_1x1:
        # sequences: one compiled pass per chunk reads the input where each tap lands, writes
        # zeros where it falls in the padding (no padded copy, no strided view to build)
        xc = np.ascontiguousarray(x)
        for n0 in range(0, N, B):
            b = min(B, N - n0)
            cols = cols_flat[:C * K * b * P].reshape(C, K, b, P)
            _cols1d_nb(xc[n0:n0 + b], s[0], d[0], pads[0][0], cols)
            yield n0, b, cols.reshape(groups, cg * K, b * P)
        return
    xbuf = None if _no_pad(pads) else _padded_buffer("xpad", B, C, sp, pads, x.dtype)
    inner = _interior_sl(sp, pads)
    same = K == 1 and all(v == 1 for v in s) and tuple(out_sp) == padded_shape(sp, pads)
    for n0 in range(0, N, B):
        b = min(B, N - n0)
        if xbuf is None:
            xp = x[n0:n0 + b]
        else:
            xp = xbuf[:b]
            xp[inner] = x[n0:n0 + b]
        if reuse_1x1 and same and b == 1 and xp[0].flags.c_contiguous:
            yield n0, b, xp[0].reshape(groups, cg, P)
            continue
        cols = cols_flat[:groups * cg * K * b * P].reshape(groups, cg, *k, b, *out_sp)
        np.copyto(cols, patches(xp, k, s, d, out_sp, groups))
        yield n0, b, cols.reshape(groups, cg * K, b * P)  # (g, Cg*K, b*P)


_NB_FLOATS = backend.COMPILED_FLOATS


@backend.helper
def _patch_row(src, sh, s, dst):  # pragma: no cover - compiled
    """dst[i] = src[i*s + sh], zero where that falls outside ``src``: one tap of one channel."""
    Lin = src.shape[0]
    L = dst.shape[0]
    # outputs whose read lands inside: 0 <= i*s + sh < Lin
    i0 = min(L, max(0, (-sh + s - 1) // s))
    i1 = max(i0, min(L, (Lin - sh + s - 1) // s))
    for i in range(i0):
        dst[i] = 0
    if s == 1:
        for i in range(i0, i1):
            dst[np.uintp(i)] = src[np.uintp(i + sh)]
    else:
        for i in range(i0, i1):
            dst[np.uintp(i)] = src[np.uintp(i * s + sh)]
    for i in range(i1, L):
        dst[i] = 0


@backend.jit(parallel=True)
def _cols1d_nb(x, s, d, lo, cols):  # pragma: no cover - compiled
    """cols[c, t, n, i] = x[n, c, i*s + t*d - lo], zero where that falls outside x."""
    b, C = x.shape[:2]
    K = cols.shape[1]
    for ct in prange(C * K):
        c = ct // K
        t = ct - c * K
        for n in range(b):
            _patch_row(x[n, c], t * d - lo, s, cols[c, t, n])


@backend.jit()
def _im2col1d_fwd_nb(gemm, setl, one, x, w2, s, d, lo, cols, y3):  # pragma: no cover
    """y3[n] = w2 @ cols(x[n]) per sequence, on the calling thread: the patch pass of
    ``_cols1d_nb``, then one single-threaded BLAS GEMM straight into the output."""
    N, C = x.shape[:2]
    CK, L = cols.shape
    K = CK // C
    O = w2.shape[0]
    for n in range(N):
        for ct in range(CK):
            c = ct // K
            _patch_row(x[n, c], (ct - c * K) * d - lo, s, cols[ct])
        _gemm_off(gemm, setl, False, False, O, L, CK, w2, 0, CK, cols, 0, L, one - one, y3[n],
                  0, L, one)


def im2col_fwd(x, w, pads, s, d, groups, out_sp) -> np.ndarray:
    """Zero-padded cross-correlation, any geometry: patch matrix per chunk, one GEMM."""
    N = x.shape[0]
    O = w.shape[0]
    og = O // groups
    P = math.prod(out_sp)
    y = np.empty((N, O, *out_sp), x.dtype)
    if (len(out_sp) == 1 and groups == 1 and x.dtype in _NB_FLOATS and w.dtype == x.dtype
            and backend.get_num_threads() == 1 and _blas.available() and y.size):
        # sequences on one thread: patch pass and GEMM in one compiled call (no Python between)
        K = w.shape[1] * w.shape[2]
        _im2col1d_fwd_nb(*_blas.kernel_args(x.dtype), np.ascontiguousarray(x),
                         np.ascontiguousarray(w.reshape(O, K)), s[0], d[0], pads[0][0],
                         _workspace("cols", K * P, x.dtype).reshape(K, P), y)
        return y
    wm = w.reshape(groups, og, -1)  # (g, Og, Cg*K)
    for n0, b, cm in _im2col_chunks(x, w.shape[2:], pads, s, d, groups, out_sp):
        if b == 1:
            _blas.matmul(wm, cm, out=y[n0].reshape(groups, og, P))
        else:
            yb = _workspace("ybuf", groups * og * b * P, x.dtype).reshape(groups, og, b * P)
            _blas.matmul(wm, cm, out=yb)
            np.copyto(y[n0:n0 + b].reshape(b, groups, og, P),
                      yb.reshape(groups, og, b, P).transpose(2, 0, 1, 3))
    return y


def im2col_bwd_weight(x, gy, k, pads, s, d, groups) -> np.ndarray:
    """Weight gradient, any geometry: sum over chunks of gy @ patches^T."""
    C = x.shape[1]
    O = gy.shape[1]
    cg, og = C // groups, O // groups
    gw = np.zeros((groups, og, cg * math.prod(k)), gy.dtype)
    tmp = np.empty_like(gw)
    for n0, b, cm in _im2col_chunks(x, k, pads, s, d, groups, gy.shape[2:], reuse_1x1=True):
        gyc = _gy_chunk(gy, n0, b, groups, "gybuf")  # (g, Og, b*P)
        _blas.matmul(gyc, cm.transpose(0, 2, 1), out=tmp)
        gw += tmp
    return gw.reshape(O, cg, *k)


def col2im_bwd_data(gy, w, x_shape, pads, s, d, groups) -> np.ndarray:
    """Input gradient, any geometry: GEMM w^T @ gy per chunk, then col2im (one strided add per
    kernel tap: taps overlap each other, never themselves)."""
    N, C = x_shape[:2]
    sp = tuple(x_shape[2:])
    O = w.shape[0]
    k = w.shape[2:]
    out_sp = gy.shape[2:]
    dtype = gy.dtype
    cg, og = C // groups, O // groups
    K, P = math.prod(k), math.prod(out_sp)
    wt = w.reshape(groups, og, cg * K).transpose(0, 2, 1)  # (g, Cg*K, Og)
    B = _chunk_size(N, C * K * P * gy.itemsize)
    cols_flat = _workspace("cols", groups * cg * K * B * P, dtype)
    if _no_pad(pads):
        gx = np.zeros(x_shape, dtype)
        gbuf = None
    else:
        gx = np.empty(x_shape, dtype)
        gbuf = _workspace("gxpad", B * C * math.prod(padded_shape(sp, pads)), dtype).reshape(
            B, C, *padded_shape(sp, pads))
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
        V = patches(gxp, k, s, d, out_sp, groups, writeable=True)
        for t in taps:
            idx = (slice(None), slice(None)) + t
            V[idx] += G[idx]
        if gbuf is not None:
            gx[n0:n0 + b] = gxp[_interior_sl(sp, pads)]
    return gx


def conv1x1_bwd_data(gy, w, x_shape, groups) -> np.ndarray:
    """Unpadded stride-1 1x1 input gradient: one GEMM w^T @ gy per image and group."""
    N, C = x_shape[:2]
    O = w.shape[0]
    cg, og = C // groups, O // groups
    gx = np.empty(x_shape, gy.dtype)
    P = math.prod(x_shape[2:])
    wt = w.reshape(groups, og, cg).transpose(0, 2, 1)  # (g, Cg, Og)
    _blas.matmul(wt, gy.reshape(N, groups, og, P), out=gx.reshape(N, groups, cg, P))
    return gx


def conv1x1_bwd_weight(x, gy, groups) -> np.ndarray:
    """1x1 stride-1 weight gradient as per-image GEMMs gy[n] @ x[n]^T on every thread (no
    copies of x or gy), summed over the batch in slices of about 32 MB of partial results."""
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


def conv1x1_fwd(x, w, s, groups, out_sp) -> np.ndarray:
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
# "dense": the kernel covers the whole unpadded input (one output position per image), so the
# convolution is x (N, C*K) @ w (O, C*K)^T: one GEMM for each op, no patches
# ---------------------------------------------------------------------------------------------
def dense_fwd(x, w) -> np.ndarray:
    """y (N, O, 1, ...) = x (N, C, *k) flattened @ w (O, C, *k) flattened^T."""
    N, O = x.shape[0], w.shape[0]
    y = _blas.matmul(np.ascontiguousarray(x).reshape(N, -1), w.reshape(O, -1).T)
    return y.reshape((N, O) + (1,) * (x.ndim - 2))


def dense_bwd_data(gy, w, x_shape) -> np.ndarray:
    """gx (N, C, *k) = gy (N, O) @ w (O, C*K)."""
    N, O = gy.shape[:2]
    return _blas.matmul(gy.reshape(N, O), np.ascontiguousarray(w).reshape(O, -1)).reshape(
        x_shape)


def dense_bwd_weight(x, gy) -> np.ndarray:
    """gw (O, C, *k) = gy (N, O)^T @ x (N, C*K)."""
    N, O = gy.shape[:2]
    gw = _blas.matmul(gy.reshape(N, O).T, np.ascontiguousarray(x).reshape(N, -1))
    return gw.reshape((O,) + x.shape[1:])
