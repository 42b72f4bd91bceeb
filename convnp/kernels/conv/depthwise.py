"""Depthwise kernels (one input channel per group, channel multiplier m = O / C).

``dw_*_nb`` run compiled tap loops on each channel plane's flattened padded grid; ``dw_*_np`` are
their NumPy twins (one vectorised multiply-add per kernel tap), used when Numba is off.
"""

from __future__ import annotations

import numpy as np

from convnp import backend
from convnp.backend import prange
from convnp.kernels.conv._common import _interior_sl, _no_pad, _pad_zero, padded_shape
from convnp.ops._window import taps


def _lift3(a, lead: int) -> np.ndarray:
    """Reshape (..lead.., *sp) with 1-3 spatial axes to exactly 3 spatial axes (C-contiguous)."""
    sp = a.shape[lead:]
    return np.ascontiguousarray(a).reshape(a.shape[:lead] + (1,) * (3 - len(sp)) + sp)


def _lift_t(t, fill=1) -> tuple:
    return (fill,) * (3 - len(t)) + tuple(t)


def _lo3(pads) -> tuple:
    return _lift_t([lo for lo, _ in pads], 0)


def dw_fwd_nb(x, w, pads, s, d, out_sp) -> np.ndarray:
    """Depthwise forward (compiled; handles the zero border itself: no padded copy)."""
    N, C = x.shape[:2]
    m = w.shape[0] // C
    k = w.shape[2:]
    y = np.empty((N, C, m, *_lift_t(out_sp)), x.dtype)
    _dw_fwd_nb(_lift3(x, 2), _lift3(w.reshape(C, m, *k), 2), y, *_lift_t(s), *_lift_t(d),
               *_lo3(pads), backend.get_num_threads())
    return y.reshape(N, C * m, *out_sp)


def dw_fwd_np(x, w, pads, s, d, out_sp) -> np.ndarray:
    """Depthwise forward in NumPy: one broadcast multiply-add per kernel tap."""
    N, C = x.shape[:2]
    m = w.shape[0] // C
    k = w.shape[2:]
    xp = _pad_zero(x, pads)
    y = np.zeros((N, C, m, *out_sp), x.dtype)
    tmp = np.empty_like(y)
    wv = w.reshape(C, m, *k)
    for _, t, idx in taps(k, s, d, out_sp):
        xv = xp[idx][:, :, None]  # (N, C, 1, *out)
        wt = wv[(slice(None), slice(None)) + t].reshape((1, C, m) + (1,) * len(k))
        np.multiply(xv, wt, out=tmp)
        y += tmp
    return y.reshape(N, C * m, *out_sp)


def dw_bwd_data_nb(gy, w, x_shape, pads, s, d) -> np.ndarray:
    """Depthwise input gradient (compiled)."""
    N, C = x_shape[:2]
    m = w.shape[0] // C
    k = w.shape[2:]
    out_sp = gy.shape[2:]
    gx = np.zeros((N, C, *_lift_t(x_shape[2:])), gy.dtype)
    _dw_bwd_data_nb(_lift3(gy.reshape(N, C, m, *out_sp), 3), _lift3(w.reshape(C, m, *k), 2),
                    gx, *_lift_t(s), *_lift_t(d), *_lo3(pads), backend.get_num_threads())
    return gx.reshape(x_shape)


def dw_bwd_data_np(gy, w, x_shape, pads, s, d) -> np.ndarray:
    """Depthwise input gradient in NumPy: one strided add per kernel tap."""
    N, C = x_shape[:2]
    sp = tuple(x_shape[2:])
    m = w.shape[0] // C
    k = w.shape[2:]
    out_sp = gy.shape[2:]
    gxp = np.zeros((N, C, *padded_shape(sp, pads)), gy.dtype)
    g5 = gy.reshape(N, C, m, *out_sp)
    wv = w.reshape(C, m, *k)
    for _, t, idx in taps(k, s, d, out_sp):
        wt = wv[(slice(None), slice(None)) + t].reshape((1, C, m) + (1,) * len(k))
        if m == 1:
            gxp[idx] += g5[:, :, 0] * wt[:, :, 0]
        else:
            gxp[idx] += (g5 * wt).sum(axis=2)
    if _no_pad(pads):
        return gxp
    return np.ascontiguousarray(gxp[_interior_sl(sp, pads)])


def dw_bwd_weight_nb(x, gy, k, pads, s, d) -> np.ndarray:
    """Depthwise weight gradient (compiled)."""
    N, C = x.shape[:2]
    m = gy.shape[1] // C
    out_sp = gy.shape[2:]
    gw = np.empty((C, m, *_lift_t(k)), gy.dtype)
    _dw_bwd_weight_nb(_lift3(x, 2), _lift3(gy.reshape(N, C, m, *out_sp), 3), gw, *_lift_t(s),
                      *_lift_t(d), *_lo3(pads), np.zeros(1, x.dtype))
    return gw.reshape(C * m, 1, *k)


def dw_bwd_weight_np(x, gy, k, pads, s, d) -> np.ndarray:
    """Depthwise weight gradient in NumPy: one contraction per kernel tap."""
    N, C = x.shape[:2]
    m = gy.shape[1] // C
    out_sp = gy.shape[2:]
    xp = _pad_zero(x, pads)
    gw = np.empty((C, m, *k), gy.dtype)
    P = int(np.prod(out_sp))
    g5 = gy.reshape(N, C, m, P)
    for _, t, idx in taps(k, s, d, out_sp):
        xv = xp[idx].reshape(N, C, 1, P)
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
def _dw_grid(D, H, W, Do, Ho, Wo, KD, KH, KW, sd, sh, sw, dd, dh, dw, pd, ph,
             pw):  # pragma: no cover - compiled
    """(depth, plane size, row length) of the padded stride-1 grid of one channel plane, large
    enough for every window, and the run ``L`` on it that covers all outputs."""
    Dp = max(pd + D, (Do - 1) * sd + (KD - 1) * dd + 1)
    Hp = max(ph + H, (Ho - 1) * sh + (KH - 1) * dh + 1)
    Wp = max(pw + W, (Wo - 1) * sw + (KW - 1) * dw + 1)
    HW = Hp * Wp
    return Dp, HW, Wp, (Do - 1) * sd * HW + (Ho - 1) * sh * Wp + (Wo - 1) * sw + 1


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
    Dp, HW, Wp, L = _dw_grid(D, H, W, Do, Ho, Wo, KD, KH, KW, sd, sh, sw, dd, dh, dw, pd, ph, pw)
    J = N * C
    for slot in prange(nslots):  # buffers per slot of planes, not per plane: fewer allocations
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
    Dp, HW, Wp, L = _dw_grid(D, H, W, Do, Ho, Wo, KD, KH, KW, sd, sh, sw, dd, dh, dw, pd, ph, pw)
    K = KD * KH * KW
    offs = np.empty(K, np.int64)  # flat grid offset of every tap
    for t in range(K):
        offs[t] = (t // (KH * KW)) * dd * HW + ((t // KW) % KH) * dh * Wp + (t % KW) * dw
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
                for t in range(K):  # add gg, weighted, onto the window of every tap
                    wv = w[c, m, t // (KH * KW), (t // KW) % KH, t % KW]
                    off = offs[t]  # a local: gpad's writes could alias offs
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
    Dp, HW, Wp, L = _dw_grid(D, H, W, Do, Ho, Wo, KD, KH, KW, sd, sh, sw, dd, dh, dw, pd, ph, pw)
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
