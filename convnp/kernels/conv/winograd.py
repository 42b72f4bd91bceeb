"""Winograd F(2x2, 3x3): 3x3 and 3x3x3 stride-1 convolutions (dilation 1, groups 1) with 2.25x
fewer multiplications than the direct product.

Lavin and Gray, "Fast Algorithms for Convolutional Neural Networks" (2016). A 2x2 block of
outputs is computed from the 4x4 input tile ``d`` that covers it and the 3x3 kernel ``g`` as

    Y = A^T [ (G g G^T) * (B^T d B) ] A          (* elementwise, 4x4 in the middle)

so, with ``U = G g G^T`` per (output, input) channel pair and ``V = B^T d B`` per (input channel,
tile), the channel sum becomes 16 independent GEMMs, one per position of the 4x4 "Winograd
domain": ``M[p] = U[p] (O x C) @ V[p] (C x tiles)``. Those are GEMMs with K = C and many columns,
which BLAS runs near peak, against the direct method's thin (O x 9C) @ (9C x pixels) product.

Both gradients stay in that domain. The input gradient is the forward of the dual convolution
(the dispatch routes it here like any stride-1 forward); the weight gradient differentiates
through the same transforms: ``dM = A dY A^T`` per output tile, ``dU[p] = sum over tiles of
dM[p] (O x tiles) @ V[p]^T``, ``dg = G^T dU G``. Tiles that stick out past the output (odd sizes)
compute outputs that are dropped, and take a zero gradient.

The work is cut into runs of tiles (``items``), each run's transforms and 16 GEMMs on one thread
inside one parallel region, as the chunk kernels do; so a single image runs on every thread too.
A 3x3x3 convolution is the sum over its three depth taps of 2-d ones between slices: each input
slice is transformed once and enters the GEMMs of the (up to three) output slices that read it,
so per output the transforms cost a third of the 2-d case's against the same GEMM work.
The transforms use additions only (and halves in ``G``, exact in binary), so the result differs
from the direct sum by rounding alone: float32 about 1e-6 relative, float64 1e-15.
"""

from __future__ import annotations

import functools

import numpy as np

from convnp import _blas, backend
from convnp._blas import gemm_call, int_call
from convnp.backend import prange

# a run of tiles keeps its input tiles and products near this size (bytes): inside L2
_RUN_BYTES = 512 << 10
_MIN_COLUMNS = 64


def accepts(k, s, d, groups, pads) -> bool:
    """Does the geometry fit F(2x2, 3x3)? 3x3 or 3x3x3, stride 1, dilation 1, one group,
    pads >= 0."""
    return (len(k) in (2, 3) and all(v == 3 for v in k) and all(v == 1 for v in s)
            and all(v == 1 for v in d) and groups == 1
            and all(lo >= 0 and hi >= 0 for lo, hi in pads))


def weight_transform(w: np.ndarray) -> np.ndarray:
    """U = G g G^T per channel pair: (O, C, 3, 3) -> (16, O, C), position-major, contiguous."""
    O, C = w.shape[:2]
    A = np.empty((15, O * C), w.dtype)  # rows 0..8: the taps g[a, b] at 3a + b; then G g
    A[:9] = w.reshape(O * C, 9).T
    U = np.empty((16, O, C), w.dtype)
    _weight_transform(A, U.reshape(16, O * C))
    return U


def weight_transform_adjoint(dU: np.ndarray) -> np.ndarray:
    """dg = G^T dU G: the weight gradient from the Winograd domain, (16, O, C) -> (O, C, 3, 3)."""
    O, C = dU.shape[1:]
    A = np.empty((21, O * C), dU.dtype)  # rows 0..11: G^T dU; 12..20: the taps at 12 + 3a + b
    _weight_transform_adjoint(np.ascontiguousarray(dU).reshape(16, O * C), A)
    return np.ascontiguousarray(A[12:].T).reshape(O, C, 3, 3)


@backend.helper
def _g_rows(d, dr, a, r0, r1, r2, n):  # pragma: no cover - compiled
    """Rows dr .. dr+3 of d = G (a[r0], a[r1], a[r2]): the three rows times
    G = [1 0 0; .5 .5 .5; .5 -.5 .5; 0 0 1], one contiguous loop per output row."""
    h = d.dtype.type(0.5)
    for q in range(n):
        d[dr, np.uintp(q)] = a[r0, np.uintp(q)]
    for q in range(n):
        u = np.uintp(q)
        d[dr + 1, u] = h * (a[r0, u] + a[r1, u] + a[r2, u])
    for q in range(n):
        u = np.uintp(q)
        d[dr + 2, u] = h * (a[r0, u] - a[r1, u] + a[r2, u])
    for q in range(n):
        d[dr + 3, np.uintp(q)] = a[r2, np.uintp(q)]


@backend.helper
def _gt_rows(d, dr, a, r0, r1, r2, r3, n):  # pragma: no cover - compiled
    """Rows dr .. dr+2 of d = G^T (a[r0], .., a[r3]), G^T = [1 .5 .5 0; 0 .5 -.5 0; 0 .5 .5 1]."""
    h = d.dtype.type(0.5)
    for q in range(n):
        u = np.uintp(q)
        d[dr, u] = a[r0, u] + h * (a[r1, u] + a[r2, u])
    for q in range(n):
        u = np.uintp(q)
        d[dr + 1, u] = h * (a[r1, u] - a[r2, u])
    for q in range(n):
        u = np.uintp(q)
        d[dr + 2, u] = h * (a[r1, u] + a[r2, u]) + a[r3, u]


@backend.jit()
def _weight_transform(A, U):  # pragma: no cover - compiled
    """U[4i + j, q] = (G g G^T)[i, j] for every channel pair q, g[a, b] = A[3a + b, q]
    (A's rows 9..14 are workspace)."""
    n = A.shape[1]
    for b in range(3):  # G g, column b: rows 0, 3 are g's rows 0, 2; rows 1, 2 go to A[9+..]
        h = A.dtype.type(0.5)
        for q in range(n):
            u = np.uintp(q)
            A[9 + b, u] = h * (A[b, u] + A[3 + b, u] + A[6 + b, u])
        for q in range(n):
            u = np.uintp(q)
            A[12 + b, u] = h * (A[b, u] - A[3 + b, u] + A[6 + b, u])
    for i, r in enumerate((0, 9, 12, 6)):  # then each row of G g times G^T
        _g_rows(U, 4 * i, A, r, r + 1, r + 2, n)


@backend.jit()
def _weight_transform_adjoint(dU, A):  # pragma: no cover - compiled
    """A[12 + 3a + b, q] = (G^T dU G)[a, b], dU[4i + j, q] read as a 4x4 per channel pair q:
    the adjoint of ``_weight_transform`` (A's rows 0..11 are workspace)."""
    n = dU.shape[1]
    for j in range(4):  # G^T dU, column j, into A[3j .. 3j+2] (row a of column j at 3j + a)
        _gt_rows(A, 3 * j, dU, j, 4 + j, 8 + j, 12 + j, n)
    for a in range(3):  # then row a of G^T dU times G: its four entries are A[3j + a]
        _gt_rows(A, 12 + 3 * a, A, a, 3 + a, 6 + a, 9 + a, n)


# Tiles live on a "q-grid": tile (ty, tx) is column ty * Wq + tx, Wq = TW + 1. The input is
# split into its four phase planes P[pa][pb][r, k] = x_padded[2r + pa, 2k + pb], each on that
# grid, so the 16 values of every tile are the planes read at offsets 0, 1, Wq and Wq + 1: the
# transforms become loops over contiguous runs, which LLVM vectorizes. Column tx = TW of each
# row is junk (computed, never written out, and given a zero gradient). The helpers index with
# np.uintp: an unsigned index tells Numba no wraparound check is needed.


@backend.helper
def _positions(gemm, setl, ta, a, tb, b, alpha, beta, c):  # pragma: no cover - compiled
    """c[p] = alpha * op(a[p]) @ op(b[p]) + beta * c[p] for the 16 positions, single-threaded
    BLAS (the thread count is set once around the 16 calls: setting it costs as much as a small
    GEMM); a, b, c C-contiguous 3-d, op = transpose when t*."""
    M, N = c.shape[1], c.shape[2]
    K = a.shape[1] if ta else a.shape[2]
    prev = int_call(setl, 1)
    for p in range(16):
        gemm_call(gemm, 112 if ta else 111, 112 if tb else 111, M, N, K, alpha, a[p].ctypes.data,
                   a.shape[2], b[p].ctypes.data, b.shape[2], beta, c[p].ctypes.data, N)
    int_call(setl, prev)


@backend.helper
def _comb(d, dr, do, a, ar, ao, b, br, bo, minus, n):  # pragma: no cover - compiled
    """d[dr, do + i] = a[ar, ao + i] +- b[br, bo + i] for i < n (d, a, b 2-d, C-contiguous).
    One stream per operand and no slices: LLVM vectorizes it after a cheap overlap check (a
    loop that writes the 16 outputs of a tile at once it does not)."""
    if minus:
        for i in range(n):
            d[dr, np.uintp(do + i)] = a[ar, np.uintp(ao + i)] - b[br, np.uintp(bo + i)]
    else:
        for i in range(n):
            d[dr, np.uintp(do + i)] = a[ar, np.uintp(ao + i)] + b[br, np.uintp(bo + i)]


@backend.helper
def _comb3(d, dp, dc, do, a, ar, ao, b, br, bo, minus, n):  # pragma: no cover - compiled
    """``_comb`` into row (dp, dc) of a 3-d d: d[dp, dc, do + i] = a[ar, ao + i] +- b[br, ...]."""
    if minus:
        for i in range(n):
            d[dp, dc, np.uintp(do + i)] = a[ar, np.uintp(ao + i)] - b[br, np.uintp(bo + i)]
    else:
        for i in range(n):
            d[dp, dc, np.uintp(do + i)] = a[ar, np.uintp(ao + i)] + b[br, np.uintp(bo + i)]


@backend.helper
def _planes(x, n, c, r0, nr, Wq, pt, pl, P):  # pragma: no cover - compiled
    """P[2 pa + pb, r * Wq + k] = x[n, c, 2 (r0 + r) + pa - pt, 2k + pb - pl] (0 outside x) for
    plane rows r < nr; P's last elements stay as they are (slack for the junk column's reads)."""
    H, W = x.shape[2], x.shape[3]
    # columns k whose even (2k - pl) and odd (2k + 1 - pl) sources both lie inside x
    k0 = min(Wq, (pl + 1) // 2)
    k1 = max(k0, min(Wq, (W - 1 + pl) // 2))
    for r in range(nr):
        for pa in range(2):
            yy = 2 * (r0 + r) + pa - pt
            e, f = 2 * pa, 2 * pa + 1
            o = r * Wq
            if yy < 0 or yy >= H:
                for k in range(Wq):
                    P[e, o + k] = 0
                    P[f, o + k] = 0
                continue
            for k in range(k0, k1):  # both phases in one pass: LLVM vectorizes this split
                u = np.uintp(o + k)
                P[e, u] = x[n, c, yy, np.uintp(2 * k - pl)]
                P[f, u] = x[n, c, yy, np.uintp(2 * k + 1 - pl)]
            for k in range(Wq):  # the edge columns
                if k0 <= k < k1:
                    continue
                xe, xo = 2 * k - pl, 2 * k + 1 - pl
                P[e, o + k] = x[n, c, yy, xe] if 0 <= xe < W else 0
                P[f, o + k] = x[n, c, yy, xo] if 0 <= xo < W else 0


@backend.helper
def _in_plane(x, n, c, V, cv, o, ty0, R, TW, pt, pl, P, T):  # pragma: no cover - compiled
    """V[p, cv, o + col] = (B^T d B)[p] for the tiles of tile rows ty0 .. ty0+R of plane
    x[n, c] (columns row-major on the q-grid): d the 4x4 tile at (2 ty - pt, 2 tx - pl), zero
    outside the plane. Workspaces: ``P`` (4, >= (R+1) * Wq + 2) the plane's phases, ``T``
    (8, >= R * Wq + 1)."""
    Wq = TW + 1
    nq = R * Wq
    m = nq + 1  # B's step along the rows reads one column further
    _planes(x, n, c, ty0, R + 1, Wq, pt, pl, P)
    for pb in range(2):
        # B^T down the columns: the tile's rows 0..3 are P[pb], P[2+pb] at q and q + Wq
        _comb(T, pb, 0, P, pb, 0, P, pb, Wq, True, m)               # r0 - r2
        _comb(T, 2 + pb, 0, P, 2 + pb, 0, P, pb, Wq, False, m)      # r1 + r2
        _comb(T, 4 + pb, 0, P, pb, Wq, P, 2 + pb, 0, True, m)       # r2 - r1
        _comb(T, 6 + pb, 0, P, 2 + pb, 0, P, 2 + pb, Wq, True, m)   # r1 - r3
    for i in range(4):
        # then B along each row: columns 0..3 are T[2i] at q, T[2i+1] at q, each at q + 1
        ev, od = 2 * i, 2 * i + 1
        _comb3(V, 4 * i, cv, o, T, ev, 0, T, ev, 1, True, nq)         # c0 - c2
        _comb3(V, 4 * i + 1, cv, o, T, od, 0, T, ev, 1, False, nq)    # c1 + c2
        _comb3(V, 4 * i + 2, cv, o, T, ev, 1, T, od, 0, True, nq)     # c2 - c1
        _comb3(V, 4 * i + 3, cv, o, T, od, 0, T, od, 1, True, nq)     # c1 - c3


@backend.helper
def _out_plane(M, om, o, y, n, c, bo, ty0, R, TW, S):  # pragma: no cover - compiled
    """y[n, c, 2ty:2ty+2, 2tx:2tx+2] = A^T M[:, om, o + col] A + bo for the tiles of tile rows
    ty0 .. ty0+R (the part inside y; junk columns skipped). Workspace ``S`` (8, >= R * Wq)."""
    Ho, Wo = y.shape[2], y.shape[3]
    Wq = TW + 1
    nq = R * Wq
    full = Wo // 2
    for j in range(4):  # A^T down the columns: rows 0 and 1 of the 2x4 in S[j], S[4+j]
        for q in range(nq):
            u = np.uintp(o + q)
            S[j, np.uintp(q)] = M[j, om, u] + M[4 + j, om, u] + M[8 + j, om, u]
        for q in range(nq):
            u = np.uintp(o + q)
            S[4 + j, np.uintp(q)] = M[4 + j, om, u] - M[8 + j, om, u] - M[12 + j, om, u]
    for tr in range(R):  # then A along each row, straight into y
        oy = 2 * (ty0 + tr)
        q0 = tr * Wq
        for r in range(2):
            if oy + r >= Ho:
                break
            yy = oy + r
            k = 4 * r
            for tx in range(full):
                q = np.uintp(q0 + tx)
                s1, s2 = S[k + 1, q], S[k + 2, q]
                y[n, c, yy, np.uintp(2 * tx)] = S[k, q] + s1 + s2 + bo
                y[n, c, yy, np.uintp(2 * tx + 1)] = s1 - s2 - S[k + 3, q] + bo
            if full < TW:  # odd width: the last tile's first column only
                q = q0 + full
                y[n, c, yy, 2 * full] = S[k, q] + S[k + 1, q] + S[k + 2, q] + bo


@backend.helper
def _gy_plane(gy, n, c, D, om, o, ty0, R, TW, E):  # pragma: no cover - compiled
    """D[p, om, o + col] = (A dY A^T)[p] for the tiles of tile rows ty0 .. ty0+R: dY the 2x2
    block of plane gy[n, c] the tile computed, zero past its edge and on junk columns.
    Workspace ``E`` (8, >= R * Wq): the block's four phases on the q-grid, then A dY."""
    Ho, Wo = gy.shape[2], gy.shape[3]
    Wq = TW + 1
    nq = R * Wq
    full = Wo // 2
    for tr in range(R):  # E[2r + c, q] = gy[2ty + r, 2tx + c], zero outside
        oy = 2 * (ty0 + tr)
        q0 = tr * Wq
        for r in range(2):
            if oy + r >= Ho:
                for tx in range(Wq):
                    E[2 * r, q0 + tx] = 0
                    E[2 * r + 1, q0 + tx] = 0
                continue
            for tx in range(full):
                q = np.uintp(q0 + tx)
                E[2 * r, q] = gy[n, c, oy + r, np.uintp(2 * tx)]
                E[2 * r + 1, q] = gy[n, c, oy + r, np.uintp(2 * tx + 1)]
            for tx in range(full, Wq):
                E[2 * r, q0 + tx] = gy[n, c, oy + r, 2 * tx] if 2 * tx < Wo else 0
                E[2 * r + 1, q0 + tx] = 0
    # A dY (A = [1 0; 1 1; 1 -1; 0 -1]): its rows are (a), (a + b), (a - b), (-b) for the
    # tile's gy rows a = (E0, E1), b = (E2, E3); kept as E4..E7 = a + b, a - b
    _comb(E, 4, 0, E, 0, 0, E, 2, 0, False, nq)
    _comb(E, 5, 0, E, 1, 0, E, 3, 0, False, nq)
    _comb(E, 6, 0, E, 0, 0, E, 2, 0, True, nq)
    _comb(E, 7, 0, E, 1, 0, E, 3, 0, True, nq)
    for i in range(3):  # rows (h0, h1) times A^T: h0, h0 + h1, h0 - h1, -h1
        h0, h1 = (0, 1) if i == 0 else (2 + 2 * i, 3 + 2 * i)
        for q in range(nq):
            u, v = E[h0, np.uintp(q)], E[h1, np.uintp(q)]
            D[4 * i, om, np.uintp(o + q)] = u
            D[4 * i + 1, om, np.uintp(o + q)] = u + v
            D[4 * i + 2, om, np.uintp(o + q)] = u - v
            D[4 * i + 3, om, np.uintp(o + q)] = -v
    for q in range(nq):  # the row -b: -b0, -b0 - b1, b1 - b0, b1
        u, v = E[2, np.uintp(q)], E[3, np.uintp(q)]
        D[12, om, np.uintp(o + q)] = -u
        D[13, om, np.uintp(o + q)] = -u - v
        D[14, om, np.uintp(o + q)] = v - u
        D[15, om, np.uintp(o + q)] = v


@backend.helper
def _run_in(x, n0, nb, ty0, R, TW, pt, pl):  # pragma: no cover - compiled
    """(V, T): the transformed input tiles (16, C, nb * R * Wq) of images n0 .. n0+nb, tile
    rows ty0 .. ty0+R, and the workspace ``T`` (8, R * Wq + 1) the other transforms reuse."""
    C = x.shape[1]
    Wq = TW + 1
    nq = R * Wq
    P = np.empty((4, (R + 1) * Wq + 2), x.dtype)
    P[:, (R + 1) * Wq:] = 0
    T = np.empty((8, nq + 1), x.dtype)
    V = np.empty((16, C, nb * nq), x.dtype)
    for bi in range(nb):
        for c in range(C):
            _in_plane(x, n0 + bi, c, V, c, bi * nq, ty0, R, TW, pt, pl, P, T)
    return V, T


@backend.helper
def _slab_in(x4, n, z0, z1, D, C, TH, TW, pz, pt, pl):  # pragma: no cover - compiled
    """(V, T, zi0, zi1): the transformed input slices zi0 .. zi1 that output slices z0 .. z1
    of image n read (16, C, (zi1 - zi0) * TH * Wq; x4 (N, C*D, H, W)), and the workspace T."""
    Wq = TW + 1
    nq = TH * Wq
    zi0, zi1 = max(0, z0 - pz), max(max(0, z0 - pz), min(D, z1 + 2 - pz))
    P = np.empty((4, (TH + 1) * Wq + 2), x4.dtype)
    P[:, (TH + 1) * Wq:] = 0
    T = np.empty((8, nq + 1), x4.dtype)
    V = np.empty((16, C, max(1, zi1 - zi0) * nq), x4.dtype)
    for s in range(zi1 - zi0):
        for c in range(C):
            _in_plane(x4, n, c * D + zi0 + s, V, c, s * nq, 0, TH, TW, pt, pl, P, T)
    return V, T, zi0, zi1


@backend.jit(parallel=True)
def _wino_fwd_runs(gemm, setl, one, x, U, bias, y, TW, pt, pl,
                   items):  # pragma: no cover - compiled
    """y = conv(x, g) + bias through U = G g G^T, one work item (first image, images, first
    tile row, end tile row) per loop turn."""
    O = U.shape[1]
    Wq = TW + 1
    for it in prange(items.shape[0]):
        n0, nb, ty0 = items[it, 0], items[it, 1], items[it, 2]
        R = items[it, 3] - ty0
        nq = R * Wq
        V, T = _run_in(x, n0, nb, ty0, R, TW, pt, pl)
        M = np.empty((16, O, nb * nq), x.dtype)
        _positions(gemm, setl, False, U, False, V, one, one - one, M)
        for bi in range(nb):
            for o in range(O):
                _out_plane(M, o, bi * nq, y, n0 + bi, o, bias[o], ty0, R, TW, T)


@backend.jit(parallel=True)
def _wino_bwdw_runs(gemm, setl, one, x, gy, parts, TW, pt, pl,
                    items):  # pragma: no cover - compiled
    """parts[slot] = sum over the slot's work items (a contiguous share of ``items``) of
    dM[p] @ V[p]^T per Winograd position p; parts (slots, 16, O, C) zeroed by the caller."""
    nslots = parts.shape[0]
    O = parts.shape[2]
    Wq = TW + 1
    for slot in prange(nslots):  # one accumulator per slot, items in order: reproducible sums
        for it in range(slot * items.shape[0] // nslots, (slot + 1) * items.shape[0] // nslots):
            n0, nb, ty0 = items[it, 0], items[it, 1], items[it, 2]
            R = items[it, 3] - ty0
            nq = R * Wq
            V, T = _run_in(x, n0, nb, ty0, R, TW, pt, pl)
            D = np.empty((16, O, nb * nq), x.dtype)
            for bi in range(nb):
                for o in range(O):
                    _gy_plane(gy, n0 + bi, o, D, o, bi * nq, ty0, R, TW, T)
            _positions(gemm, setl, False, D, True, V, one, one, parts[slot])


@backend.helper
def _gemm_at(gemm, tb, M, N, K, a, ao, lda, b, bo, ldb, c, co, ldc, one):  # pragma: no cover
    """c[:, co:co+N] += a[:, ao:] @ op(b[:, bo:]) on 2-d C-contiguous rows of lengths lda, ldb,
    ldc (op = transpose when ``tb``): one BLAS call at element offsets (the caller sets BLAS to
    one thread around it)."""
    sz = a.itemsize
    gemm_call(gemm, 111, 112 if tb else 111, M, N, K, one, a.ctypes.data + ao * sz, lda,
               b.ctypes.data + bo * sz, ldb, one, c.ctypes.data + co * sz, ldc)


@backend.helper
def _slices(z0, z1, kz, pz, zi0, zi1):  # pragma: no cover - compiled
    """Output slices [za, zb) of [z0, z1) whose input slice z + kz - pz lies in [zi0, zi1)."""
    return max(z0, zi0 - kz + pz), min(z1, zi1 - kz + pz)


@backend.jit(parallel=True)
def _wino3_fwd_runs(gemm, setl, one, x4, U3, bias, y4, D, Do, TH, TW, pz, pt, pl,
                    items):  # pragma: no cover - compiled
    """3x3x3 forward as three 2-d F(2x2, 3x3) layers summed over the depth taps: every input
    slice is transformed once and meets U3[kz] (kz = 0, 1, 2) in the GEMMs of the output slices
    that read it. x4 (N, C*D, H, W) and y4 (N, O*Do, Ho, Wo) are the volumes with (channel,
    slice) planes; one work item (image, first output slice, end slice) per loop turn."""
    O, C = U3.shape[2], U3.shape[3]
    nq = TH * (TW + 1)
    for it in prange(items.shape[0]):
        n, z0, z1 = items[it, 0], items[it, 1], items[it, 2]
        Z = z1 - z0
        V, T, zi0, zi1 = _slab_in(x4, n, z0, z1, D, C, TH, TW, pz, pt, pl)
        S = zi1 - zi0
        M = np.zeros((16, O, Z * nq), x4.dtype)
        prev = int_call(setl, 1)
        for kz in range(3):
            za, zb = _slices(z0, z1, kz, pz, zi0, zi1)
            if za >= zb:
                continue
            for p in range(16):
                _gemm_at(gemm, False, O, (zb - za) * nq, C, U3[kz, p], 0, C, V[p],
                         (za + kz - pz - zi0) * nq, S * nq, M[p], (za - z0) * nq, Z * nq, one)
        int_call(setl, prev)
        for z in range(Z):
            for o in range(O):
                _out_plane(M, o, z * nq, y4, n, o * Do + z0 + z, bias[o], 0, TH, TW, T)


@backend.jit(parallel=True)
def _wino3_bwdw_runs(gemm, setl, one, x4, gy4, parts, D, Do, TH, TW, pz, pt, pl,
                     items):  # pragma: no cover - compiled
    """parts[slot, kz, p] = sum over the slot's work items of dM[p] @ V[p]^T for the output
    slices whose input slice is z + kz - pz (see ``_wino3_fwd_runs``); parts zeroed."""
    nslots = parts.shape[0]
    O, C = parts.shape[3], parts.shape[4]
    nq = TH * (TW + 1)
    for slot in prange(nslots):  # one accumulator per slot, items in order: reproducible sums
        for it in range(slot * items.shape[0] // nslots, (slot + 1) * items.shape[0] // nslots):
            n, z0, z1 = items[it, 0], items[it, 1], items[it, 2]
            Z = z1 - z0
            V, T, zi0, zi1 = _slab_in(x4, n, z0, z1, D, C, TH, TW, pz, pt, pl)
            S = zi1 - zi0
            G = np.empty((16, O, Z * nq), x4.dtype)
            for z in range(Z):
                for o in range(O):
                    _gy_plane(gy4, n, o * Do + z0 + z, G, o, z * nq, 0, TH, TW, T)
            prev = int_call(setl, 1)
            for kz in range(3):
                za, zb = _slices(z0, z1, kz, pz, zi0, zi1)
                if za >= zb:
                    continue
                for p in range(16):
                    _gemm_at(gemm, True, O, C, (zb - za) * nq, G[p], (za - z0) * nq, Z * nq,
                             V[p], (za + kz - pz - zi0) * nq, S * nq, parts[slot, kz, p], 0, C,
                             one)
            int_call(setl, prev)


@functools.lru_cache(maxsize=256)
def _runs(N: int, TH: int, Wq: int, per_col_bytes: int, threads: int) -> np.ndarray:
    """Work items (first image, images, first tile row, end tile row): whole images while
    one's tiles and products fit ``_RUN_BYTES``, else blocks of one image's tile rows; split
    further until every thread has one."""
    per_image = TH * Wq * per_col_bytes
    if per_image <= _RUN_BYTES and N >= threads:
        nb = max(1, min(_RUN_BYTES // per_image, -(-N // threads)))
        items = [(n, min(nb, N - n), 0, TH) for n in range(0, N, nb)]
    else:
        # at least _MIN_COLUMNS columns: wide layers on small maps would get GEMMs too thin
        rows = max(1, _RUN_BYTES // (Wq * per_col_bytes), -(-_MIN_COLUMNS // Wq))
        if N < threads:  # a thread per row block at least
            rows = min(rows, max(1, TH // -(-threads // N)))
        items = [(n, 1, r, min(r + rows, TH)) for n in range(N) for r in range(0, TH, rows)]
    a = np.array(items, np.int64).reshape(-1, 4)
    a.setflags(write=False)
    return a


def _tiling(out_sp):
    """(TH, TW): tile rows and columns covering the output."""
    return -(-out_sp[0] // 2), -(-out_sp[1] // 2)


def wino_fwd(x, w, pads, out_sp, bias, threads) -> np.ndarray:
    """3x3 stride-1 forward (+ bias) of x (N, C, H, W) with w (O, C, 3, 3) by F(2x2, 3x3)."""
    N, C = x.shape[:2]
    O = w.shape[0]
    TH, TW = _tiling(out_sp)
    y = np.empty((N, O, *out_sp), x.dtype)
    b = np.zeros(O, x.dtype) if bias is None else np.ascontiguousarray(bias, x.dtype)
    items = _runs(N, TH, TW + 1, 16 * (C + O) * x.itemsize, threads)
    backend.run_split(_wino_fwd_runs, len(items), *_blas.kernel_args(x.dtype),
                      np.ascontiguousarray(x), weight_transform(w), b, y, TW, pads[0][0],
                      pads[1][0], items)
    return y


def wino_bwd_weight(x, gy, pads, threads) -> np.ndarray:
    """Weight gradient (O, C, 3, 3) of a 3x3 stride-1 conv of x (N, C, H, W), gy (N, O, *out)."""
    N, C = x.shape[:2]
    O = gy.shape[1]
    TH, TW = _tiling(gy.shape[2:])
    items = _runs(N, TH, TW + 1, 16 * (C + O) * x.itemsize, threads)
    parts = np.zeros((max(1, min(threads, len(items))), 16, O, C), gy.dtype)
    backend.run_split(_wino_bwdw_runs, len(parts), *_blas.kernel_args(gy.dtype),
                      np.ascontiguousarray(x), np.ascontiguousarray(gy), parts, TW, pads[0][0],
                      pads[1][0], items)
    return weight_transform_adjoint(parts.sum(0))


@functools.lru_cache(maxsize=256)
def _slabs(N: int, Do: int, per_slice_bytes: int, threads: int) -> np.ndarray:
    """3-d work items (image, first output slice, end slice): slabs of about ``_RUN_BYTES``,
    split further until every thread has one."""
    z = max(1, _RUN_BYTES // max(1, per_slice_bytes))
    if N < threads:
        z = min(z, max(1, Do // -(-threads // N)))
    a = np.array([(n, z0, min(z0 + z, Do)) for n in range(N) for z0 in range(0, Do, z)],
                 np.int64).reshape(-1, 3)
    a.setflags(write=False)
    return a


def _weights3(w):
    """(3, 16, O, C): U of each depth tap's 3x3 kernel."""
    return np.stack([weight_transform(np.ascontiguousarray(w[:, :, kz])) for kz in range(3)])


def wino3_fwd(x, w, pads, out_sp, bias, threads) -> np.ndarray:
    """3x3x3 stride-1 forward (+ bias) of x (N, C, D, H, W) with w (O, C, 3, 3, 3): F(2x2, 3x3)
    per depth tap, each input slice transformed once."""
    N, C, D = x.shape[:3]
    O = w.shape[0]
    Do = out_sp[0]
    TH, TW = _tiling(out_sp[1:])
    y = np.empty((N, O, *out_sp), x.dtype)
    b = np.zeros(O, x.dtype) if bias is None else np.ascontiguousarray(bias, x.dtype)
    x = np.ascontiguousarray(x)
    items = _slabs(N, Do, 16 * (C + O) * TH * (TW + 1) * x.itemsize, threads)
    backend.run_split(_wino3_fwd_runs, len(items), *_blas.kernel_args(x.dtype),
                      x.reshape(N, C * D, *x.shape[3:]), _weights3(w), b,
                      y.reshape(N, O * Do, *out_sp[1:]), D, Do, TH, TW, pads[0][0], pads[1][0],
                      pads[2][0], items)
    return y


def wino3_bwd_weight(x, gy, pads, threads) -> np.ndarray:
    """Weight gradient (O, C, 3, 3, 3) of a 3x3x3 stride-1 conv of x (N, C, D, H, W)."""
    N, C, D = x.shape[:3]
    O, Do = gy.shape[1], gy.shape[2]
    TH, TW = _tiling(gy.shape[3:])
    x, gy = np.ascontiguousarray(x), np.ascontiguousarray(gy)
    items = _slabs(N, Do, 16 * (C + O) * TH * (TW + 1) * x.itemsize, threads)
    parts = np.zeros((max(1, min(threads, len(items))), 3, 16, O, C), gy.dtype)
    backend.run_split(_wino3_bwdw_runs, len(parts), *_blas.kernel_args(gy.dtype),
                      x.reshape(N, C * D, *x.shape[3:]), gy.reshape(N, O * Do, *gy.shape[3:]),
                      parts, D, Do, TH, TW, pads[0][0], pads[1][0], pads[2][0], items)
    dU = parts.sum(0)
    return np.stack([weight_transform_adjoint(dU[kz]) for kz in range(3)], axis=2)
