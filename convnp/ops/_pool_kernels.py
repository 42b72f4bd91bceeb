"""Pooling's kernels on ``(B, D, H, W)`` planes: the compiled (Numba) loops and their NumPy twins.

``convnp.ops.pooling`` holds the Functions and the PyTorch-signature wrappers and calls these.
Each kernel has a NumPy path that loops over kernel taps only (the reference) and a compiled
path, parallel over planes so scatters never race, taken when ``convnp.backend.use_numba()``.
Max pooling keeps the *tap code* of each argmax (its position inside the window) and expands it
to PyTorch's flat indices only when asked (``codes_to_indices``).
"""

from __future__ import annotations

import numpy as np

from convnp import backend
from convnp.ops import _window

_prange = backend.prange  # numba.prange in the compiled kernels
_LONG_ROWS = 64  # output rows at least this long take the row-vectorized max-pool kernel


@backend.jit(parallel=True)
def _max_fwd_nb(x, kd, kh, kw, sd, sh, sw, pd, ph, pw, dd, dh, dw, out, code, idx, want_idx,
                ninf):
    """Max over each window of each plane; code = tap number of the (first, NaN-propagating) max;
    with ``want_idx`` also its flat per-plane index (cheaper here than expanding codes later).

    Loops over the taps of one output row at a time with the row's outputs innermost, so the
    compare-select runs over contiguous row buffers."""
    B, D, H, W = x.shape
    OD, OH, OW = out.shape[1], out.shape[2], out.shape[3]
    for b in _prange(B):
        best = np.empty(OW, x.dtype)
        bc = np.empty(OW, np.int32)
        bpos = np.empty(OW, np.int64)
        for od in range(OD):
            d0 = od * sd - pd
            for oh in range(OH):
                h0 = oh * sh - ph
                for ow in range(OW):
                    best[ow] = ninf[0]
                    bc[ow] = -1
                    bpos[ow] = 0
                for i in range(kd):
                    d = d0 + i * dd
                    if d < 0 or d >= D:
                        continue
                    for j in range(kh):
                        h = h0 + j * dh
                        if h < 0 or h >= H:
                            continue
                        base = (d * H + h) * W
                        for k in range(kw):
                            t = (i * kh + j) * kw + k
                            off = k * dw - pw
                            # outputs whose tap k is inside the row: 0 <= ow*sw + off < W
                            lo = 0 if off >= 0 else (sw - 1 - off) // sw
                            hi = min(OW, (W - off + sw - 1) // sw)
                            xr = x[b, d, h]
                            for o in range(lo, hi):
                                ow = np.uintp(o)  # unsigned: no negative-index wraparound test
                                wi = o * sw + off
                                v = xr[np.uintp(wi)]
                                # bc < 0: nothing taken yet (all -inf so far: PyTorch keeps the
                                # first tap). Selects, not branches: on random data a branch
                                # mispredicts every other window
                                take = (v > best[ow]) | (v != v) | (bc[ow] < 0)
                                best[ow] = v if take else best[ow]
                                bc[ow] = t if take else bc[ow]
                                bpos[ow] = base + wi if take else bpos[ow]
                for ow in range(OW):
                    if bc[ow] < 0:
                        # no tap inside the input: PyTorch reports the first tap at a
                        # non-negative position (it may lie past the end)
                        i0 = 0 if d0 >= 0 else (dd - 1 - d0) // dd
                        j0 = 0 if h0 >= 0 else (dh - 1 - h0) // dh
                        w0 = ow * sw - pw
                        k0 = 0 if w0 >= 0 else (dw - 1 - w0) // dw
                        bc[ow] = (i0 * kh + j0) * kw + k0
                        bpos[ow] = ((d0 + i0 * dd) * H + h0 + j0 * dh) * W + w0 + k0 * dw
                    out[b, od, oh, ow] = best[ow]
                    code[b, od, oh, ow] = bc[ow]
                    if want_idx:
                        idx[b, od, oh, ow] = bpos[ow]


@backend.jit(parallel=True)
def _max_fwd_inside_nb(x, kh, kw, sh, sw, out, code, idx, want_idx):
    """``_max_fwd_nb`` for the common case of 2-d planes (D = 1), no padding, no dilation and
    every window inside the input (LeNet's and VGG's 2x2 stride 2): no bounds to test, so each
    output's maximum stays in registers.
    Same tie and NaN rule: the first maximal tap, and a NaN replaces whatever came before."""
    B = x.shape[0]
    W = x.shape[3]
    OH, OW = out.shape[2], out.shape[3]
    two = kh == 2 and kw == 2 and sh == 2 and sw == 2
    for b in _prange(B):
        for oh in range(OH):
            h0 = oh * sh
            if two:
                # 2x2 stride 2 with literal offsets: the loop over the row vectorizes
                # (de-interleaved loads), the same compare-selects in the same order
                r0, r1 = x[b, 0, h0], x[b, 0, h0 + 1]
                orow, crow = out[b, 0, oh], code[b, 0, oh]
                for ow in range(OW):
                    best = r0[np.uintp(2 * ow)]
                    bc = 0
                    v = r0[np.uintp(2 * ow + 1)]
                    take = (v > best) | (v != v)
                    best = v if take else best
                    bc = 1 if take else bc
                    v = r1[np.uintp(2 * ow)]
                    take = (v > best) | (v != v)
                    best = v if take else best
                    bc = 2 if take else bc
                    v = r1[np.uintp(2 * ow + 1)]
                    take = (v > best) | (v != v)
                    best = v if take else best
                    bc = 3 if take else bc
                    orow[np.uintp(ow)] = best
                    crow[np.uintp(ow)] = bc
                if want_idx:
                    for ow in range(OW):
                        bc = crow[ow]
                        idx[b, 0, oh, ow] = (h0 + bc // 2) * W + 2 * ow + bc % 2
                continue
            for ow in range(OW):
                w0 = ow * sw
                best = x[b, 0, h0, w0]
                bc = 0
                for j in range(kh):
                    for k in range(kw):
                        v = x[b, 0, h0 + j, w0 + k]
                        take = (v > best) | (v != v)
                        best = v if take else best
                        bc = j * kw + k if take else bc
                out[b, 0, oh, ow] = best
                code[b, 0, oh, ow] = bc
                if want_idx:
                    idx[b, 0, oh, ow] = (h0 + bc // kw) * W + w0 + bc % kw


@backend.jit(parallel=True)
def _max_fwd_rows_nb(x, kh, kw, sh, sw, out, code, idx, want_idx):  # pragma: no cover
    """``_max_fwd_inside_nb`` with the taps outer and a row of outputs inner, the compare-select
    vectorized over the row: faster on long rows (1-d sequences), slower on short 2-d ones."""
    B = x.shape[0]
    W = x.shape[3]
    OH, OW = out.shape[2], out.shape[3]
    for b in _prange(B):
        for oh in range(OH):
            h0 = oh * sh
            orow, crow = out[b, 0, oh], code[b, 0, oh]
            xr = x[b, 0, h0]
            for ow in range(OW):
                orow[np.uintp(ow)] = xr[np.uintp(ow * sw)]
                crow[np.uintp(ow)] = 0
            for j in range(kh):
                xr = x[b, 0, h0 + j]
                for k in range(kw):
                    if j == 0 and k == 0:
                        continue
                    t = j * kw + k
                    for ow in range(OW):
                        v = xr[np.uintp(ow * sw + k)]
                        cur = orow[np.uintp(ow)]
                        take = (v > cur) | (v != v)
                        orow[np.uintp(ow)] = v if take else cur
                        crow[np.uintp(ow)] = t if take else crow[np.uintp(ow)]
            if want_idx:
                for ow in range(OW):
                    bc = crow[ow]
                    idx[b, 0, oh, ow] = (h0 + bc // kw) * W + ow * sw + bc % kw


@backend.jit(parallel=True)
def _max_vals_inside_nb(x, kh, kw, sh, sw, out):  # pragma: no cover - compiled
    """``_max_fwd_inside_nb`` without tap codes, for calls nobody differentiates (inference):
    taps outer and a row of outputs inner, so the compare-select runs vectorized over the row.
    Same NaN rule: a NaN anywhere in the window is the result."""
    B = x.shape[0]
    OH, OW = out.shape[2], out.shape[3]
    for b in _prange(B):
        for oh in range(OH):
            h0 = oh * sh
            orow = out[b, 0, oh]
            if kw == 2 and sw == 2:
                # the common 2-wide, stride-2 window with literal offsets: the loop vectorizes
                # (de-interleaved loads), 3-4x the general loop below
                for j in range(kh):
                    xr = x[b, 0, h0 + j]
                    for ow in range(OW):
                        a = xr[np.uintp(2 * ow)]
                        v = xr[np.uintp(2 * ow + 1)]
                        m = v if (v > a) | (v != v) else a
                        if j > 0:
                            cur = orow[np.uintp(ow)]
                            m = m if (m > cur) | (m != m) else cur
                        orow[np.uintp(ow)] = m
                continue
            xr = x[b, 0, h0]
            for ow in range(OW):
                orow[np.uintp(ow)] = xr[np.uintp(ow * sw)]
            for j in range(kh):
                xr = x[b, 0, h0 + j]
                for k in range(kw):
                    if j == 0 and k == 0:
                        continue
                    for ow in range(OW):
                        v = xr[np.uintp(ow * sw + k)]
                        cur = orow[np.uintp(ow)]
                        orow[np.uintp(ow)] = v if (v > cur) | (v != v) else cur


@backend.jit(parallel=True)
def _max_bwd_nb(g, code, offd, offh, offw, sd, sh, sw, pd, ph, pw, gx):
    """Scatter-add each output gradient to its argmax; ``off*[code]`` are the tap's offsets."""
    B, D, H, W = gx.shape
    OD, OH, OW = g.shape[1], g.shape[2], g.shape[3]
    for b in _prange(B):
        for od in range(OD):
            for oh in range(OH):
                for ow in range(OW):
                    c = code[b, od, oh, ow]
                    d = od * sd - pd + offd[c]
                    h = oh * sh - ph + offh[c]
                    wi = ow * sw - pw + offw[c]
                    if 0 <= d < D and 0 <= h < H and 0 <= wi < W:
                        gx[b, d, h, wi] += g[b, od, oh, ow]


@backend.jit(parallel=True)
def _avg_nb(x, out, kd, kh, kw, sd, sh, sw, pd, ph, pw, div, adjoint):
    """Average pooling's window walk, both ways: ``out = window sums of x / div``, or with
    ``adjoint`` its transpose ``x += out / div`` spread over each window (the backward).

    Only the in-bounds taps are visited (taps outer, one output row inner, as in
    ``_max_fwd_nb``); ``x`` is ``(B, D, H, W)`` and ``out`` / ``div`` ``(B, OD, OH, OW)`` /
    ``(OD, OH, OW)``."""
    B, D, H, W = x.shape
    OD, OH, OW = out.shape[1], out.shape[2], out.shape[3]
    for b in _prange(B):
        row = np.empty(OW, x.dtype)
        for od in range(OD):
            d0 = od * sd - pd
            for oh in range(OH):
                h0 = oh * sh - ph
                for ow in range(OW):
                    row[ow] = out[b, od, oh, ow] / div[od, oh, ow] if adjoint else 0
                for d in range(max(d0, 0), min(d0 + kd, D)):
                    for h in range(max(h0, 0), min(h0 + kh, H)):
                        for k in range(kw):
                            off = k - pw
                            lo = 0 if off >= 0 else (sw - 1 - off) // sw
                            hi = min(OW, (W - off + sw - 1) // sw)
                            if adjoint:
                                for ow in range(lo, hi):
                                    x[b, d, h, ow * sw + off] += row[ow]
                            else:
                                for ow in range(lo, hi):
                                    row[ow] += x[b, d, h, ow * sw + off]
                if not adjoint:
                    for ow in range(OW):
                        out[b, od, oh, ow] = row[ow] / div[od, oh, ow]


@backend.jit(parallel=True)
def _scatter_nb(vals, idx, out, accumulate):
    """Per plane: ``out[b, idx[b, m]] (+)= vals[b, m]``; serial inside a plane, so no races."""
    B, M = vals.shape
    for b in _prange(B):
        for m in range(M):
            if accumulate:
                out[b, idx[b, m]] += vals[b, m]
            else:
                out[b, idx[b, m]] = vals[b, m]


def scatter_planes(vals: np.ndarray, idx: np.ndarray, plane: int, accumulate: bool) -> np.ndarray:
    """``(B, M)`` values to ``(B, plane)`` zeros at per-plane flat ``idx`` (add or assign).

    The one scatter behind max-pool backward (adaptive case) and max-unpool forward.
    """
    B = vals.shape[0]
    out = np.zeros((B, plane), vals.dtype)
    if B == 0 or vals.size == 0:
        return out
    if backend.use_numba():
        _scatter_nb(np.ascontiguousarray(vals), np.ascontiguousarray(idx, dtype=np.int64), out,
                    accumulate)
        return out
    flat = (idx.astype(np.int64) + (np.arange(B, dtype=np.int64) * plane)[:, None]).ravel()
    if accumulate:
        out = np.bincount(flat, weights=vals.ravel(), minlength=B * plane)
        return out.astype(vals.dtype, copy=False).reshape(B, plane)
    out.reshape(-1)[flat] = vals.ravel()
    return out


def gather_planes(g: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """``(B, L)`` gradient read at per-plane flat ``idx`` ``(B, M)``: the scatter's adjoint."""
    return np.take_along_axis(g, idx.astype(np.int64, copy=False), axis=1)


def _padded(x4, p3, need3, fill):
    """Copy of ``(B, D, H, W)`` padded by ``p3`` before and enough after to cover ``need3``."""
    B = x4.shape[0]
    shape = [B] + [max(need, n + pp) for n, pp, need in zip(x4.shape[1:], p3, need3)]
    xp = np.full(shape, fill, x4.dtype)
    xp[:, p3[0]:p3[0] + x4.shape[1], p3[1]:p3[1] + x4.shape[2], p3[2]:p3[2] + x4.shape[3]] = x4
    return xp


def _reach(o3, s3, k3, d3) -> list:
    """Per axis, how far into the padded input the last window reaches."""
    return [(o - 1) * s + (k - 1) * d + 1 for o, s, k, d in zip(o3, s3, k3, d3)]


def _taps_added_back(per_tap, dtype, x_shape, k3, s3, p3, d3, o3) -> np.ndarray:
    """``sum_t scatter(per_tap(t))``: each tap's ``(B, *o3)`` values added back at the input
    positions the tap reads, the padding cropped (the NumPy backward of max and avg pooling)."""
    shape = [x_shape[0]] + [max(r, n + pp) for n, pp, r in
                            zip(x_shape[1:], p3, _reach(o3, s3, k3, d3))]
    gp = np.zeros(shape, dtype)
    for t, _, idx in _window.taps(k3, s3, d3, o3, lead=1):
        gp[idx] += per_tap(t)
    D, H, W = x_shape[1:]
    return gp[:, p3[0]:p3[0] + D, p3[1]:p3[1] + H, p3[2]:p3[2] + W].copy()


# ---------------------------------------------------------------------------- max pooling
def windows_inside(in3, k3, s3, p3, d3, o3) -> bool:
    """2-d planes, no padding or dilation, and every window inside the input (no ceil_mode
    overhang): the case ``_max_fwd_inside_nb`` handles."""
    return (in3[0] == 1 and k3[0] == 1 and o3[0] == 1 and p3 == (0, 0, 0) and d3 == (1, 1, 1)
            and k3[1] * k3[2] > 1
            and all((o - 1) * st + k <= n for o, st, k, n in zip(o3[1:], s3[1:], k3[1:],
                                                                  in3[1:])))


def max_values(x4, k3, s3, p3, d3, o3):
    """Max values alone (no tap codes: nothing will be differentiated), or None where only
    ``max_forward`` runs (no Numba, or windows that are not all inside the input)."""
    if not (backend.use_numba() and x4.shape[0] and windows_inside(x4.shape[1:], k3, s3, p3, d3,
                                                                  o3)):
        return None
    out = np.empty((x4.shape[0],) + o3, x4.dtype)
    _max_vals_inside_nb(x4, k3[1], k3[2], s3[1], s3[2], out)
    return out


def max_forward(x4, k3, s3, p3, d3, o3, want_idx=False):
    """Max values and tap codes (and flat indices when ``want_idx``, else None)."""
    B = x4.shape[0]
    ntaps = k3[0] * k3[1] * k3[2]
    cdt = np.uint8 if ntaps <= 255 else np.int32
    out = np.empty((B,) + o3, x4.dtype)
    code = np.zeros((B,) + o3, cdt)
    if B == 0:
        return out, code, (np.zeros(code.shape, np.int64) if want_idx else None)
    if backend.use_numba():
        idx = np.empty(code.shape if want_idx else (1, 1, 1, 1), np.int64)
        if windows_inside(x4.shape[1:], k3, s3, p3, d3, o3):
            kern = _max_fwd_rows_nb if o3[2] >= _LONG_ROWS else _max_fwd_inside_nb
            kern(x4, k3[1], k3[2], s3[1], s3[2], out, code, idx, want_idx)
        else:
            _max_fwd_nb(x4, *k3, *s3, *p3, *d3, out, code, idx, want_idx,
                        np.full(1, -np.inf, x4.dtype))
        return out, code, (idx if want_idx else None)
    xp = _padded(x4, p3, _reach(o3, s3, k3, d3), -np.inf)
    out.fill(-np.inf)
    # start from the first tap at a non-negative position: PyTorch's argmax when every tap
    # of a window is -inf or outside the input
    first_tap = [np.where(o * s - p >= 0, 0, (d - 1 - (o * s - p)) // d)
                 for o, s, p, d in ((np.arange(n), s, p, d) for n, s, p, d in
                                    zip(o3, s3, p3, d3))]
    code[...] = ((first_tap[0][:, None, None] * k3[1] + first_tap[1][:, None]) * k3[2]
                 + first_tap[2])
    for t, _, idx in _window.taps(k3, s3, d3, o3, lead=1):
        v = xp[idx]
        m = (v > out) | np.isnan(v)
        np.copyto(out, v, where=m)
        code[m] = t
    idx = codes_to_indices(code, x4.shape[1:], k3, s3, p3, d3) if want_idx else None
    return out, code, idx


def max_backward(g, code, x_shape, k3, s3, p3, d3):
    """Each output gradient added to its window's argmax tap (``code``)."""
    g = np.ascontiguousarray(g)
    if backend.use_numba():
        gx = np.zeros(x_shape, g.dtype)
        t = np.arange(k3[0] * k3[1] * k3[2])  # tap code -> offsets, instead of divisions
        offd = (t // (k3[1] * k3[2])) * d3[0]
        offh = ((t // k3[2]) % k3[1]) * d3[1]
        offw = (t % k3[2]) * d3[2]
        _max_bwd_nb(g, code, offd, offh, offw, *s3, *p3, gx)
        return gx
    zero = np.zeros((), g.dtype)
    return _taps_added_back(lambda t: np.where(code == t, g, zero), g.dtype, x_shape, k3, s3,
                            p3, d3, g.shape[1:])


def codes_to_indices(code, in3, k3, s3, p3, d3) -> np.ndarray:
    """Expand tap codes ``(B, OD, OH, OW)`` to PyTorch's per-plane flat int64 indices."""
    c = code.astype(np.int64)
    OD, OH, OW = code.shape[1:]
    kd, kh, kw = k3
    del kd
    D, H, W = in3
    d = (np.arange(OD) * s3[0] - p3[0])[:, None, None] + (c // (kh * kw)) * d3[0]
    h = (np.arange(OH) * s3[1] - p3[1])[:, None] + ((c // kw) % kh) * d3[1]
    w = (np.arange(OW) * s3[2] - p3[2]) + (c % kw) * d3[2]
    return (d * H + h) * W + w


# ---------------------------------------------------------------------------- average pooling
def avg_forward(x4, k3, s3, p3, o3, div) -> np.ndarray:
    """Window sums of ``(B, D, H, W)`` divided by ``div`` ``(OD, OH, OW)``."""
    B = x4.shape[0]
    if backend.use_numba() and B:
        out = np.empty((B,) + o3, x4.dtype)
        _avg_nb(x4, out, *k3, *s3, *p3, div, False)
        return out
    xp = _padded(x4, p3, _reach(o3, s3, k3, (1, 1, 1)), 0)
    out = np.zeros((B,) + o3, x4.dtype)
    for _, _, idx in _window.taps(k3, s3, (1, 1, 1), o3, lead=1):
        out += xp[idx]
    out /= div.astype(x4.dtype)
    return out


def avg_backward(g, x_shape, k3, s3, p3, div) -> np.ndarray:
    """The adjoint of ``avg_forward``: ``g / div`` spread over each window."""
    g = np.ascontiguousarray(g)
    if backend.use_numba() and x_shape[0]:
        gx = np.zeros(x_shape, g.dtype)
        _avg_nb(gx, g, *k3, *s3, *p3, div, True)
        return gx
    gd = g / div.astype(g.dtype)
    return _taps_added_back(lambda t: gd, g.dtype, x_shape, k3, s3, p3, (1, 1, 1), g.shape[1:])


# ---------------------------------------------------------------------------- adaptive pooling
def global_avg_backward(g, B: int, n: int, dtype) -> np.ndarray:
    """``(B, n)`` rows filled with ``g[b] / n``: the global average's gradient."""
    if backend.use_numba():  # the fill runs on every thread
        gx = np.empty((B, n), dtype)
        _fill_rows_nb(np.ascontiguousarray(g).reshape(B), dtype.type(n), gx)
        return gx
    return np.broadcast_to(g.reshape(B, 1) / dtype.type(n), (B, n)).copy()


@backend.jit(parallel=True)
def _fill_rows_nb(v, n, out):  # pragma: no cover - compiled
    """out[i, :] = v[i] / n (the global average's gradient)."""
    for i in _prange(out.shape[0]):
        val = v[i] / n
        for j in range(out.shape[1]):
            out[i, j] = val
