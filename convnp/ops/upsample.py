"""Resampling: ``interpolate`` (nearest, nearest-exact, (bi/tri)linear, bicubic, area; antialias)
and ``pixel_shuffle`` / ``pixel_unshuffle``.

Every interpolation mode is separable: along one axis an output sample is a weighted sum of a few
input samples, described by a small ``(O, T)`` table of source indices and weights built with
PyTorch's exact coordinate rules. The op applies one table per resized axis (last axis first, as
PyTorch's separable kernel does); backward applies the transposed tables in reverse order. A Numba
kernel gathers/scatters with the tables; the NumPy reference path uses the equivalent dense
``(O, L)`` matrix per axis (a batched GEMM). No loops over pixels.
"""

from __future__ import annotations

import math

import numpy as np

from convnp import _blas, backend
from convnp._dtype import is_floating, is_half
from convnp.autograd.function import Function
from convnp.ops import _shape

__all__ = ["interpolate", "upsample", "upsample_nearest", "upsample_bilinear", "pixel_shuffle",
           "pixel_unshuffle"]

_prange = backend.prange  # numba.prange in the compiled kernels


@backend.jit(parallel=True)
def _axis_table_nb(x, idx, w, out, adjoint):
    """``out[p, o, q] = sum_t w[o, t] * x[p, idx[o, t], q]``, or with ``adjoint`` its transpose
    ``x[p, idx[o, t], q] += w[o, t] * out[p, o, q]``; parallel over p (no write races)."""
    P, Q = x.shape[0], x.shape[2]
    O, T = idx.shape
    for p in _prange(P):
        for o in range(O):
            if not adjoint:
                for q in range(Q):
                    out[p, o, q] = 0
            for t in range(T):
                i = idx[o, t]
                wt = w[o, t]
                if adjoint:
                    for q in range(Q):
                        x[p, i, q] += wt * out[p, o, q]
                else:
                    for q in range(Q):
                        out[p, o, q] += wt * x[p, i, q]


@backend.jit(parallel=True)
def _gather2_nb(x, ih, wh, iw, ww, out):
    """Both last axes in one pass per plane: ``out[p, i, j] = sum wh[i,a] ww[j,b] x[p, ih[i,a],
    iw[j,b]]``. The gathers along a row are the expensive part, so the pass order keeps them
    few: upsampling in H first resamples every source row along W (H*OW gathers) and then blends
    whole rows (contiguous, vectorised); otherwise the source rows are blended first and each
    output row is gathered once (OH*OW gathers). Unsigned indices skip the wraparound test."""
    P, H, W = x.shape
    OH, TH = ih.shape
    OW, TW = iw.shape
    rows_first = H <= OH
    for p in _prange(P):
        xp, op = x[p], out[p]
        if rows_first:
            hb = np.empty((H, OW), x.dtype)
            for h in range(H):
                xr, hr = xp[h], hb[h]
                for ow in range(OW):
                    acc = ww[ow, 0] * xr[np.uintp(iw[ow, 0])]
                    for b in range(1, TW):
                        acc += ww[ow, b] * xr[np.uintp(iw[ow, b])]
                    hr[ow] = acc
            for oh in range(OH):
                orow = op[oh]
                r0, w0 = hb[np.uintp(ih[oh, 0])], wh[oh, 0]
                for ow in range(OW):
                    orow[ow] = w0 * r0[ow]
                for a in range(1, TH):
                    ra, wa = hb[np.uintp(ih[oh, a])], wh[oh, a]
                    for ow in range(OW):
                        orow[ow] += wa * ra[ow]
        else:
            tmp = np.empty(W, x.dtype)
            for oh in range(OH):
                r0, w0 = xp[np.uintp(ih[oh, 0])], wh[oh, 0]
                for w in range(W):
                    tmp[w] = w0 * r0[w]
                for a in range(1, TH):
                    ra, wa = xp[np.uintp(ih[oh, a])], wh[oh, a]
                    for w in range(W):
                        tmp[w] += wa * ra[w]
                orow = op[oh]
                for ow in range(OW):
                    acc = ww[ow, 0] * tmp[np.uintp(iw[ow, 0])]
                    for b in range(1, TW):
                        acc += ww[ow, b] * tmp[np.uintp(iw[ow, b])]
                    orow[ow] = acc


@backend.jit(parallel=True)
def _scatter2_nb(g, ih, wh, iw, ww, gx):
    """Adjoint of ``_gather2_nb``; parallel over p, so the scatter never races."""
    P, H, W = gx.shape
    OH, TH = ih.shape
    OW, TW = iw.shape
    for p in _prange(P):
        tmp = np.empty(W, gx.dtype)
        for oh in range(OH):
            for w in range(W):
                tmp[w] = 0
            for ow in range(OW):
                v = g[p, oh, ow]
                for b in range(TW):
                    tmp[iw[ow, b]] += ww[ow, b] * v
            for a in range(TH):
                r = ih[oh, a]
                wa = wh[oh, a]
                for w in range(W):
                    gx[p, r, w] += wa * tmp[w]


def _apply_last2(x, th, tw, out_hw, adjoint=False):
    """Resample the last two axes at once (Numba path): one pass instead of two."""
    shape = x.shape
    x3 = np.ascontiguousarray(x).reshape(-1, shape[-2], shape[-1])  # (P, H, W)
    if adjoint:
        out = np.zeros((x3.shape[0],) + out_hw, x.dtype)
        _scatter2_nb(x3, th[0], th[1], tw[0], tw[1], out)
    else:
        out = np.empty((x3.shape[0],) + out_hw, x.dtype)
        _gather2_nb(x3, th[0], th[1], tw[0], tw[1], out)
    return out.reshape(shape[:-2] + out_hw)


# ---------------------------------------------------------------------------- per-axis tables
def _scale_value(n_in, n_out, scale, ft):
    """PyTorch's ``compute_scales_value``: 1/scale_factor when given, else in/out, in ``ft``."""
    if scale is not None and scale > 0:
        return ft(1.0 / scale)
    return ft(n_in) / ft(n_out)


def _area_scale(n_in, n_out, align_corners, scale, ft):
    """PyTorch's ``area_pixel_compute_scale``."""
    if align_corners:
        return ft(n_in - 1) / ft(n_out - 1) if n_out > 1 else ft(0)
    return _scale_value(n_in, n_out, scale, ft)


def _source_index(sc, n_out, align_corners, cubic, ft):
    """PyTorch's ``area_pixel_compute_source_index`` for every output position."""
    o = np.arange(n_out).astype(ft)
    if align_corners:
        return sc * o
    src = sc * (o + ft(0.5)) - ft(0.5)
    return src if cubic else np.maximum(src, ft(0))


def _nearest_table(n_in, n_out, scale, exact, ft):
    if not exact and n_out == n_in:
        idx = np.arange(n_out)
    elif not exact and n_out == 2 * n_in:
        idx = np.arange(n_out) >> 1
    else:
        # PyTorch computes these in float32 whatever the dtype (floorf)
        s = _scale_value(n_in, n_out, scale, np.float32)
        o = np.arange(n_out)
        if exact:
            src = np.floor(((o + 0.5) * np.float64(s)).astype(np.float32))
        else:
            src = np.floor(o.astype(np.float32) * s)
        idx = np.minimum(src.astype(np.int64), n_in - 1)
    return idx[:, None].astype(np.int64), np.ones((n_out, 1), ft)


def _linear_table(n_in, n_out, scale, align_corners, ft):
    sc = _area_scale(n_in, n_out, align_corners, scale, ft)
    src = _source_index(sc, n_out, align_corners, False, ft)
    i0 = np.minimum(np.floor(src).astype(np.int64), n_in - 1)
    lam = np.clip(src - i0.astype(ft), 0, 1).astype(ft)
    i1 = np.minimum(i0 + 1, n_in - 1)
    return np.stack([i0, i1], 1), np.stack([ft(1) - lam, lam], 1).astype(ft)


def _cubic_coeffs(t, ft, A=-0.75):
    """Keys' cubic convolution weights of the 4 taps around ``t`` (PyTorch: A = -0.75)."""
    A = ft(A)

    def c1(x):
        return ((A + 2) * x - (A + 3)) * x * x + 1

    def c2(x):
        return ((A * x - 5 * A) * x + 8 * A) * x - 4 * A

    one, two = ft(1), ft(2)
    return np.stack([c2(t + one), c1(t), c1(one - t), c2(two - t)], 1).astype(ft)


def _cubic_table(n_in, n_out, scale, align_corners, ft):
    sc = _area_scale(n_in, n_out, align_corners, scale, ft)
    src = _source_index(sc, n_out, align_corners, True, ft)
    i0 = np.minimum(np.floor(src).astype(np.int64), n_in - 1)
    t = np.clip(src - i0.astype(ft), 0, 1).astype(ft)
    idx = np.clip(i0[:, None] + np.arange(-1, 3), 0, n_in - 1)  # border samples repeat
    return idx, _cubic_coeffs(t, ft)


def _aa_filter_linear(x):
    return np.maximum(0, 1 - np.abs(x))


def _aa_filter_cubic(x):
    a = -0.5  # PyTorch's (and PIL's) antialiased bicubic uses Keys' a = -0.5
    x = np.abs(x)
    return np.where(x < 1, ((a + 2) * x - (a + 3)) * x * x + 1,
                    np.where(x < 2, (((x - 5) * x + 8) * x - 4) * a, 0))


def _aa_table(n_in, n_out, scale, align_corners, cubic, ft):
    """PyTorch's antialiased (PIL-style) resampling weights: the filter is stretched by the
    downscale factor so every input sample contributes; weights normalised per output."""
    interp = 4 if cubic else 2
    sc = float(_area_scale(n_in, n_out, align_corners, scale, ft))
    support = interp * 0.5 * sc if sc >= 1.0 else interp * 0.5
    invscale = 1.0 / sc if sc >= 1.0 else 1.0
    i = np.arange(n_out)
    center = sc * (i + 0.5)
    xmin = np.maximum((center - support + 0.5).astype(np.int64), 0)
    xmax = np.minimum((center + support + 0.5).astype(np.int64), n_in)
    size = xmax - xmin
    T = max(int(size.max()), 1)
    j = np.arange(T)
    filt = _aa_filter_cubic if cubic else _aa_filter_linear
    w = filt((j + xmin[:, None] - center[:, None] + 0.5) * invscale)
    w = np.where(j < size[:, None], w, 0.0)
    total = w.sum(1, keepdims=True)
    w = np.where(total != 0, w / np.where(total != 0, total, 1), w)
    idx = np.minimum(xmin[:, None] + j, n_in - 1)
    return idx.astype(np.int64), w.astype(ft)


def _is_identity(idx, w, n_in):
    n_out = idx.shape[0]
    return (n_out == n_in and np.array_equal(idx[:, 0], np.arange(n_in))
            and np.all(w[:, 0] == 1) and not np.any(w[:, 1:]))


def _dense(idx, w, n_in):
    """The ``(O, L)`` matrix of one axis table (NumPy reference path)."""
    m = np.zeros((idx.shape[0], n_in), w.dtype)
    np.add.at(m, (np.repeat(np.arange(idx.shape[0]), idx.shape[1]), idx.ravel()), w.ravel())
    return m


def _apply_axis(x, axis, table, n_out, adjoint=False):
    """Resample ``x`` along ``axis`` with ``(idx, w)`` (or its adjoint, back to length n_out)."""
    idx, w = table
    shape = x.shape
    P = math.prod(shape[:axis])
    Q = math.prod(shape[axis + 1:])
    x3 = np.ascontiguousarray(x).reshape(P, shape[axis], Q)  # (P, L, Q)
    if backend.use_numba() and x3.size:
        if adjoint:
            out = np.zeros((P, n_out, Q), x.dtype)
            _axis_table_nb(out, idx, w, x3, True)
        else:
            out = np.empty((P, n_out, Q), x.dtype)
            _axis_table_nb(x3, idx, w, out, False)
    else:
        if adjoint:
            m = _dense(idx, w, n_out).T  # (L_in, O)
        else:
            m = _dense(idx, w, shape[axis])  # (O, L_in)
        out = _blas.matmul(m, x3)  # (O, L) @ (P, L, Q) -> (P, O, Q)
    return out.reshape(shape[:axis] + (n_out,) + shape[axis + 1:])


class Interpolate(Function):
    """Separable resampling with one ``(idx, w)`` table per resized spatial axis."""

    half_in_float32 = True

    @staticmethod
    def forward(ctx, x, tables, spec=None):
        # spec: the interpolate() call that built the tables (mode, sizes, ...), read by the ONNX
        # exporter and by grad_fn's name
        ctx.tables = tables
        ctx.x_shape = x.shape
        n = x.ndim
        rest = sorted(tables, reverse=True)
        if backend.use_numba() and x.size and n - 1 in tables and n - 2 in tables:
            th, tw = tables[n - 2], tables[n - 1]
            x = _apply_last2(x, th, tw, (th[0].shape[0], tw[0].shape[0]))
            rest = rest[2:]
        for axis in rest:
            x = _apply_axis(x, axis, tables[axis], tables[axis][0].shape[0])
        return np.ascontiguousarray(x)

    @staticmethod
    def backward(ctx, g):
        tables, x_shape = ctx.tables, ctx.x_shape
        n = g.ndim
        fused = backend.use_numba() and g.size and n - 1 in tables and n - 2 in tables
        for axis in sorted(tables):
            if not (fused and axis >= n - 2):
                g = _apply_axis(g, axis, tables[axis], x_shape[axis], adjoint=True)
        if fused:
            g = _apply_last2(g, tables[n - 2], tables[n - 1], x_shape[-2:], adjoint=True)
        return g


_DIM_MODES = {"linear": 1, "bilinear": 2, "bicubic": 2, "trilinear": 3}
_MODES = ("nearest", "linear", "bilinear", "bicubic", "trilinear", "area", "nearest-exact")


def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None,
                recompute_scale_factor=None, antialias=False):
    """Resample a batch ``(N, C, *spatial)`` to ``size`` or by ``scale_factor`` (PyTorch rules).

    Args:
        size: output spatial size (int or one int per spatial axis).
        scale_factor: multiplier per spatial axis; the output size is ``floor(in * scale)`` and,
            unless ``recompute_scale_factor=True``, the coordinate mapping uses ``1/scale``
            itself (not ``in/out``), as PyTorch does.
        mode: 'nearest' | 'nearest-exact' | 'linear' (3-d input) | 'bilinear' | 'bicubic'
            (4-d) | 'trilinear' (5-d) | 'area' (adaptive average pooling).
        align_corners: linear modes only; True maps the corner samples' centres onto each other
            (``src = dst * (in-1)/(out-1)``, 0 for a size-1 output), False (default) uses
            half-pixel centres.
        recompute_scale_factor: recompute the scale from the output size before resampling.
        antialias: bilinear/bicubic on 4-d input: widen the filter when downsampling (PIL).

    Shape:
        ``(N, C, *in) -> (N, C, *out)``, ``out = size`` or ``floor(in * scale_factor)``.

    Example:
        >>> interpolate(convnp.randn(1, 3, 4, 5), scale_factor=2, mode="bilinear").shape
        (1, 3, 8, 10)
    """
    nd = _check_interpolate(input, mode, align_corners, antialias)
    out, scales = _interpolate_size(input.shape[2:], size, scale_factor, mode,
                                    recompute_scale_factor)
    if mode == "area":
        from convnp.ops import pooling

        return getattr(pooling, f"adaptive_avg_pool{nd}d")(input, out)
    align = bool(align_corners)
    # float16/bfloat16 run in float32 (Interpolate.half_in_float32), weights included, as torch's
    ft = np.float32 if is_half(input.dtype) else input.dtype.type
    tables = {}
    for a, (n_in, n_out) in enumerate(zip(input.shape[2:], out)):
        tab = _axis_table(n_in, n_out, None if scales is None else scales[a], mode, align,
                          antialias, ft)
        if not _is_identity(*tab, n_in):
            tables[a + 2] = (np.ascontiguousarray(tab[0]), np.ascontiguousarray(tab[1]))
    spec = {"mode": mode, "size": out, "scales": scales, "align_corners": align,
            "antialias": bool(antialias)}
    return Interpolate.apply(input, tables=tables, spec=spec)


def _axis_table(n_in, n_out, scale, mode, align, antialias, ft):
    """One axis's (source indices, weights) table for ``mode``."""
    if antialias:
        return _aa_table(n_in, n_out, scale, align, mode == "bicubic", ft)
    if mode in ("nearest", "nearest-exact"):
        return _nearest_table(n_in, n_out, scale, mode == "nearest-exact", ft)
    if mode == "bicubic":
        return _cubic_table(n_in, n_out, scale, align, ft)
    return _linear_table(n_in, n_out, scale, align, ft)


def _check_interpolate(input, mode, align_corners, antialias) -> int:
    """``interpolate``'s checks of the input and the mode; returns the number of spatial axes."""
    from convnp.tensor import Tensor

    fn = "interpolate"
    if not isinstance(input, Tensor):
        raise TypeError(f"{fn}: 'input' must be a convnp Tensor, got {type(input).__name__}")
    if mode not in _MODES:
        raise NotImplementedError(f"{fn}: mode must be one of {' | '.join(_MODES)}, got "
                                  f"{mode!r}")
    if input.ndim not in (3, 4, 5):
        raise NotImplementedError(f"{fn}: only 3-d, 4-d and 5-d (N, C, *spatial) inputs are "
                                  f"supported, got {input.ndim}-d input of shape "
                                  f"{tuple(input.shape)} (add a batch axis for a single image)")
    if not is_floating(input.dtype):
        raise TypeError(f"{fn}: expected a floating-point input, got dtype {input.dtype}")
    nd = input.ndim - 2
    if mode in _DIM_MODES and _DIM_MODES[mode] != nd:
        raise NotImplementedError(f"{fn}: got {input.ndim}D input, but {mode} mode needs "
                                  f"{_DIM_MODES[mode] + 2}D input")
    if align_corners is not None and mode not in _DIM_MODES:
        raise ValueError(f"{fn}: align_corners option can only be set with the interpolating "
                         "modes: linear | bilinear | bicubic | trilinear")
    if antialias and not (mode in ("bilinear", "bicubic") and input.ndim == 4):
        raise ValueError(f"{fn}: anti-alias option is restricted to bilinear and bicubic modes "
                         f"and requires a 4-D tensor as input (got mode={mode!r}, "
                         f"{input.ndim}-D input)")
    return nd


def _interpolate_size(sp, size, scale_factor, mode, recompute_scale_factor):
    """``interpolate``'s output size and the scales its coordinate mapping uses (None: in/out)."""
    fn, nd = "interpolate", len(sp)
    if size is not None and scale_factor is not None:
        raise ValueError(f"{fn}: only one of size or scale_factor should be defined")
    if size is None and scale_factor is None:
        raise ValueError(f"{fn}: either size or scale_factor should be defined")
    if size is not None:
        if recompute_scale_factor:
            raise ValueError(f"{fn}: recompute_scale_factor is not meaningful with an explicit "
                             "size.")
        out = (size,) * nd if isinstance(size, (int, np.integer)) else tuple(size)
        if len(out) != nd:
            raise ValueError(f"{fn}: input and output must have the same number of spatial "
                             f"dimensions, but got input with spatial dimensions of {list(sp)} "
                             f"and output size of {list(out)}. Please provide input tensor in "
                             "(N, C, d1, d2, ...,dK) format and output size in (o1, o2, ...,oK) "
                             "format.")
        if any(not isinstance(o, (int, np.integer)) or isinstance(o, bool) or o <= 0 for o in out):
            raise ValueError(f"{fn}: 'size' entries must be positive ints, got {size!r}")
        return tuple(int(o) for o in out), None
    sf = (scale_factor,) * nd if isinstance(scale_factor, (int, float, np.number)) \
        else tuple(scale_factor)
    if len(sf) != nd:
        raise ValueError(f"{fn}: input and scale_factor must have the same number of spatial "
                         f"dimensions, but got input with spatial dimensions of {list(sp)} "
                         f"and scale_factor of shape {list(sf)}. Please provide input tensor "
                         "in (N, C, d1, d2, ...,dK) format and scale_factor in (s1, s2, ...,"
                         "sK) format.")
    if any(not float(s) > 0 for s in sf):
        raise ValueError(f"{fn}: 'scale_factor' entries must be > 0, got {scale_factor!r}")
    out = tuple(_shape.interpolate_output_size(n, s) for n, s in zip(sp, sf))
    if any(o <= 0 for o in out):
        raise ValueError(f"{fn}: scale_factor {scale_factor!r} gives an empty output "
                         f"{out} for input size {tuple(sp)}")
    if mode == "area" or recompute_scale_factor:
        return out, None
    return out, [float(s) for s in sf]


def upsample(input, size=None, scale_factor=None, mode="nearest", align_corners=None):
    """Deprecated alias of ``interpolate`` (kept for PyTorch compatibility)."""
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(input, size=None, scale_factor=None):
    """``interpolate(..., mode='nearest')`` (PyTorch's deprecated alias)."""
    return interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(input, size=None, scale_factor=None):
    """``interpolate(..., mode='bilinear', align_corners=True)`` (PyTorch's deprecated alias)."""
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)


# ---------------------------------------------------------------------------- pixel shuffle
def _check_factor(name, value, fn):
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value <= 0:
        raise ValueError(f"{fn}: '{name}' must be a positive int, got {value!r}")
    return int(value)


def _shuffle_args(input, name, factor, fn):
    """The checked factor and ``(lead, C, H, W)`` of a pixel (un)shuffle's input."""
    r = _check_factor(name, factor, fn)
    if input.ndim < 3:
        raise ValueError(f"{fn}: expected an input with at least 3 dims (*, C, H, W), got shape "
                         f"{tuple(input.shape)}")
    *lead, c, h, w = input.shape
    return r, lead, c, h, w


def pixel_shuffle(input, upscale_factor):
    """Rearrange ``(*, C*r*r, H, W)`` into ``(*, C, H*r, W*r)`` (sub-pixel convolution output).

    Shape:
        ``C_out = C_in / r^2``, ``H_out = H_in * r``, ``W_out = W_in * r``.

    Example:
        >>> pixel_shuffle(convnp.randn(1, 8, 3, 3), 2).shape
        (1, 2, 6, 6)
    """
    fn = "pixel_shuffle"
    r, lead, c, h, w = _shuffle_args(input, "upscale_factor", upscale_factor, fn)
    if c % (r * r):
        raise RuntimeError(f"{fn}: expects its input's 'channel' dimension to be divisible by "
                           f"the square of upscale_factor, but input.size(-3)={c} is not "
                           f"divisible by {r * r}")
    n = len(lead)
    y = input.reshape(*lead, c // (r * r), r, r, h, w)
    y = y.permute(*range(n), n, n + 3, n + 1, n + 4, n + 2)  # (*, C, H, r, W, r)
    return y.reshape(*lead, c // (r * r), h * r, w * r)


def pixel_unshuffle(input, downscale_factor):
    """Inverse of ``pixel_shuffle``: ``(*, C, H*r, W*r)`` -> ``(*, C*r*r, H, W)``.

    Example:
        >>> pixel_unshuffle(convnp.randn(1, 2, 6, 6), 2).shape
        (1, 8, 3, 3)
    """
    fn = "pixel_unshuffle"
    r, lead, c, h, w = _shuffle_args(input, "downscale_factor", downscale_factor, fn)
    if h % r or w % r:
        raise RuntimeError(f"{fn}: expects height and width to be divisible by "
                           f"downscale_factor, but input.size(-2)={h} and input.size(-1)={w} "
                           f"are not both divisible by {r}")
    n = len(lead)
    y = input.reshape(*lead, c, h // r, r, w // r, r)
    y = y.permute(*range(n), n, n + 2, n + 4, n + 1, n + 3)  # (*, C, r, r, H/r, W/r)
    return y.reshape(*lead, c * r * r, h // r, w // r)
