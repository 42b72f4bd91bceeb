"""Intra-op threads: one thread pool (Numba's) for everything convnp computes, BLAS included.

``convnp.set_num_threads(n)`` / ``convnp.get_num_threads()`` are PyTorch's names. convnp splits
its own work (conv chunks, GEMM blocks, pooling, activations) over Numba's threads and calls BLAS
*single-threaded* inside them, through the OpenBLAS that NumPy loads (its thread-local thread
count, ``openblas_set_num_threads_local``, so NumPy's setting for the rest of the program is
untouched). Two pools on the same cores fight: OpenBLAS's workers keep spinning for a while after
each call, and a Numba parallel region started meanwhile waits for a preempted thread, while
NumPy's own multi-threaded SGEMM runs at one core's speed right after Numba regions; small
kernels then take many times longer (figures: docs/performance.md).

``matmul(a, b, out)`` is ``np.matmul`` for float32/float64 on these threads: the batch and the
larger of M or N are split into blocks, each block one single-threaded ``cblas_?gemm`` call on a
strided view (no copies); matrix-vector products (row sums with a ones vector) run a parallel
dot-product kernel. Compiled kernels call BLAS by address (``kernel_args``; the intrinsics are in
``convnp._blas_nb``), so they cache on disk. Without Numba, or when NumPy is not linked to an
OpenBLAS with 64-bit-integer CBLAS symbols (MKL, Accelerate, 32-bit builds), convnp falls back to
plain ``np.matmul`` with BLAS's own threads.
"""

from __future__ import annotations

import ctypes
import math

import numpy as np

from convnp import backend
from convnp.backend import get_num_threads, late, prange, team

__all__ = ["matmul", "available", "kernel_args"]

# below this many multiply-adds a GEMM runs as one call on the calling thread
_SPLIT_MIN_MACS = 1 << 18
# OpenBLAS runs a GEMM of at most 65536 * GEMM_MULTITHREAD_THRESHOLD (4) products, which is
# _SPLIT_MIN_MACS, on the calling thread, and a GEMV (NumPy's call for a one-row or one-column
# product) of fewer than 2304 * 4 elements; there NumPy's call needs no thread-count switch
# around it (two ctypes calls, more than a classifier's last layer at batch 1 costs)
_BLAS_SERIAL_MACS = 4096

_lib = None  # _Lib or False (not found)


class _Lib:
    """NumPy's OpenBLAS: its thread-local thread count (ctypes, for calls from Python) and the
    addresses of that function and of the 64-bit-integer cblas_sgemm / cblas_dgemm (for
    compiled kernels, which take them as arguments)."""

    def __init__(self, setl, sgemm, dgemm):
        self.setl = setl
        addr = lambda f: ctypes.cast(f, ctypes.c_void_p).value  # noqa: E731
        self.setl_addr, self.sgemm_addr, self.dgemm_addr = addr(setl), addr(sgemm), addr(dgemm)

    def gemm_addr(self, dtype) -> int:
        return self.sgemm_addr if np.dtype(dtype) == np.float32 else self.dgemm_addr


def _find_lib():
    """Look up the OpenBLAS that NumPy's multiarray module links (dlsym searches its deps).
    NumPy's wheels ship a 64-bit-integer OpenBLAS (symbols ending in ``64_``); other BLAS
    builds (32-bit integers, MKL, Accelerate) are not used directly."""
    try:
        core = getattr(np, "_core", None) or np.core
        lib = ctypes.CDLL(core._multiarray_umath.__file__)
    except (OSError, AttributeError):  # pragma: no cover - exotic builds
        return False
    setl = getattr(lib, "openblas_set_num_threads_local", None)
    if setl is None:
        return False
    setl.argtypes, setl.restype = [ctypes.c_int], ctypes.c_int
    for prefix in ("scipy_cblas_", "cblas_"):
        fns = [getattr(lib, f"{prefix}{t}gemm64_", None) for t in "sd"]
        if all(f is not None for f in fns):
            return _Lib(setl, fns[0], fns[1])
    return False  # pragma: no cover - OpenBLAS without 64-bit cblas symbols


def _get_lib():
    global _lib
    if _lib is None:
        _lib = _find_lib()
    return _lib


# with NumPy's BLAS run single-threaded on Numba's threads, no second pool spins on the cores
backend.set_second_pool(not _get_lib())


def available() -> bool:
    """True when convnp runs its GEMMs itself (Numba on and NumPy's OpenBLAS found)."""
    return backend.use_numba() and bool(_get_lib())


# ---------------------------------------------------------------------------------------------
# GEMM
# ---------------------------------------------------------------------------------------------
_NOTRANS, _TRANS = 111, 112
# what compiled kernels call BLAS with (see ``kernel_args``): Numba intrinsics, loaded with Numba
gemm_call = late("convnp._blas_nb", "gemm_call")
int_call = late("convnp._blas_nb", "int_call")


@backend.jit(parallel=True)
def _gemm_blocks(gemm, setl, ta, tb, M, N, K, a, sa, lda, b, sb, ldb, c, sc, ldc, alpha, beta,
                 nbatch, nsplit, split_n, item):  # pragma: no cover - compiled
    """C[i] = alpha * op(A[i]) @ op(B[i]) + beta * C[i] for i < nbatch, each split into
    ``nsplit`` blocks of N columns (``split_n``) or M rows; one single-threaded BLAS call per
    block. gemm/setl: function addresses; a/b/c: byte addresses; sa/sb/sc: batch strides in
    bytes; ld*: leading dimensions."""
    for it in prange(nbatch * nsplit):
        i = it // nsplit
        p = it - i * nsplit
        pa = a + i * sa
        pb = b + i * sb
        pc = c + i * sc
        m0, m1, n0, n1 = 0, M, 0, N
        if split_n:
            n0 = (p * N // nsplit) // 16 * 16
            n1 = N if p == nsplit - 1 else ((p + 1) * N // nsplit) // 16 * 16
            pb += n0 * (ldb if tb == 112 else 1) * item
            pc += n0 * item
        else:
            m0 = p * M // nsplit
            m1 = (p + 1) * M // nsplit
            pa += m0 * (1 if ta == 112 else lda) * item
            pc += m0 * ldc * item
        if m1 > m0 and n1 > n0:
            prev = int_call(setl, 1)
            gemm_call(gemm, ta, tb, m1 - m0, n1 - n0, K, alpha, pa, lda, pb, ldb, beta, pc, ldc)
            int_call(setl, prev)


def kernel_args(dtype) -> tuple:
    """(gemm address, thread-count function address, one) for a compiled kernel that calls BLAS
    on ``dtype`` (float32 / float64) arrays: it calls
    ``_gemm_call(gemm, transA, transB, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc)`` (row-major,
    byte addresses, alpha/beta of the dtype) between ``prev = int_call(setl, 1)`` and
    ``_int_call(setl, prev)``."""
    lib = _get_lib()
    return lib.gemm_addr(dtype), lib.setl_addr, np.dtype(dtype).type(1)


@backend.jit(parallel=True, fastmath={"reassoc", "contract"})
def _matvec_nb(a, x, out, zero):  # pragma: no cover - compiled
    """out[i] = a[i] . x for a C-contiguous (M, K) ``a`` (``zero``: one element of the dtype, the
    accumulator's start). A GEMM with N = 1 would pack ``a`` first, a full extra pass over a
    large ``a`` (a global average over a batch of feature maps) that this loop never makes."""
    M, K = a.shape
    for i in prange(M):
        acc = zero[0]
        for k in range(K):
            acc += a[i, np.uintp(k)] * x[np.uintp(k)]
        out[i] = acc


def _layout(x) -> tuple[int, int] | None:
    """(transpose flag, leading dim) of a 2-D strided matrix for a row-major cblas call, or None
    when neither axis is unit-stride (then the caller copies)."""
    r, cols = x.shape
    s0, s1 = x.strides
    it = x.itemsize
    if (s1 == it or cols == 1) and s0 % it == 0 and (s0 // it >= max(cols, 1) or r == 1):
        return _NOTRANS, max(s0 // it if r > 1 else cols, cols, 1)
    if (s0 == it or r == 1) and s1 % it == 0 and (s1 // it >= max(r, 1) or cols == 1):
        return _TRANS, max(s1 // it if cols > 1 else r, r, 1)
    return None


def _single(fn, *args, **kw):
    """Run a NumPy BLAS call with NumPy's OpenBLAS at one thread on this thread."""
    lib = _get_lib()
    if not lib:
        return fn(*args, **kw)
    prev = lib.setl(1)
    try:
        return fn(*args, **kw)
    finally:
        lib.setl(prev)


def matmul(a: np.ndarray, b: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """``np.matmul(a, b, out=out)`` on convnp's threads (see the module docstring)."""
    if a.dtype.kind == "V" or b.dtype.kind == "V":  # bfloat16: float32 products, rounded once
        dt = a.dtype if a.dtype.kind == "V" else b.dtype
        r = matmul(a.astype(np.float32), b.astype(np.float32))
        if out is None:
            return r.astype(dt)
        np.copyto(out, r, casting="unsafe")
        return out
    if not backend.use_numba() or not _get_lib():
        return np.matmul(a, b, out=out)  # no Numba pool to share the cores with
    if (a.ndim == b.ndim and 2 <= a.ndim <= 3 and a.shape[:-2] == b.shape[:-2]
            and a.shape[-1] == b.shape[-2]):
        M, K = a.shape[-2:]
        N = b.shape[-1]
        macs = M * N * K
        if macs <= _BLAS_SERIAL_MACS or (M > 1 and N > 1 and macs * (
                a.shape[0] if a.ndim == 3 else 1) <= _SPLIT_MIN_MACS):
            return np.matmul(a, b, out=out)  # OpenBLAS runs it on the calling thread by itself
    threads = get_num_threads()
    if (threads == 1 or a.ndim == 0 or b.ndim == 0 or a.dtype != b.dtype
            or a.dtype not in (np.float32, np.float64)):
        return _single(np.matmul, a, b, out=out)
    if a.ndim == 1 or b.ndim == 1:  # a vector: a matrix of one row / column, as NumPy does
        if out is not None or (a.ndim == 1 and b.ndim == 1):
            return _single(np.matmul, a, b, out=out)
        if b.ndim == 1:
            if a.flags.c_contiguous and b.flags.c_contiguous:  # row sums, dot products
                res = np.empty(a.shape[:-1], a.dtype)
                _matvec_nb(a.reshape(-1, a.shape[-1]), b, res.reshape(-1), np.zeros(1, a.dtype))
                return res
            return matmul(a, b[:, None])[..., 0]
        return matmul(a[None, :], b)[..., 0, :]
    M, K = a.shape[-2:]
    N = b.shape[-1]
    if b.shape[-2] != K:
        return np.matmul(a, b, out=out)  # NumPy's own error message
    batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    nbatch = math.prod(batch)
    if out is None:
        out = np.empty(batch + (M, N), a.dtype)
    elif (out.shape != batch + (M, N) or out.dtype != a.dtype or np.may_share_memory(out, a)
          or np.may_share_memory(out, b)):
        return _single(np.matmul, a, b, out=out)  # NumPy checks and buffers overlaps
    macs = nbatch * M * N * K
    if macs < _SPLIT_MIN_MACS or K == 0 or nbatch == 0:
        return _single(np.matmul, a, b, out=out)
    a3 = np.broadcast_to(a, batch + (M, K)).reshape(nbatch, M, K)
    b3 = np.broadcast_to(b, batch + (K, N)).reshape(nbatch, K, N)
    o3 = out.reshape(nbatch, M, N)
    if not np.may_share_memory(o3, out) and out.size:  # the batch does not flatten as a view
        return _single(np.matmul, a, b, out=out)
    _gemm3(a3, b3, o3, team())
    return out


def _gemm3(a3, b3, o3, threads):
    """o3[i] = a3[i] @ b3[i] on ``threads`` threads (3-D strided arrays, same float dtype)."""
    nbatch, M, K = a3.shape
    N = b3.shape[2]
    lo = _layout(o3[0])
    if lo is None or lo[0] == _TRANS:  # C must be row-major: compute C^T = B^T A^T instead
        if lo is not None:
            return _gemm3(b3.transpose(0, 2, 1), a3.transpose(0, 2, 1), o3.transpose(0, 2, 1),
                          threads)
        tmp = np.empty((nbatch, M, N), o3.dtype)
        _gemm3(a3, b3, tmp, threads)
        np.copyto(o3, tmp)
        return None
    la, lb = _layout(a3[0]), _layout(b3[0])
    if la is None:
        a3 = np.ascontiguousarray(a3)
        la = _layout(a3[0])
    if lb is None:
        b3 = np.ascontiguousarray(b3)
        lb = _layout(b3[0])
    per = M * N * K
    nsplit = 1
    if nbatch < threads:
        nsplit = max(1, min(-(-threads // nbatch), per // max(1, _SPLIT_MIN_MACS // 2)))
    split_n = N >= M
    if split_n and N < 32 * nsplit:
        nsplit = max(1, N // 32)
    if not split_n and M < nsplit:
        nsplit = max(1, M)
    gemm, setl, one = kernel_args(a3.dtype)
    _gemm_blocks.variant(True)(
        gemm, setl, la[0], lb[0], M, N, K, a3.ctypes.data,
        a3.strides[0], la[1], b3.ctypes.data, b3.strides[0], lb[1], o3.ctypes.data, o3.strides[0],
        lo[1], one, one - one, nbatch, nsplit, split_n, a3.itemsize)
    return None
