"""Pooling: max, average, power-average (Lp) and adaptive pooling in 1-d, 2-d and 3-d.

One N-d core: every input is viewed as ``(B, D, H, W)`` planes (``B = N*C``; 1-d and 2-d inputs get
singleton leading spatial axes and a kernel of 1 there), so one kernel serves all three ranks.

Max pooling records, per output, the *tap code* of its argmax (the position inside the window,
``uint8`` for windows of up to 255 taps) instead of a flat int64 index: backward scatters the
gradient through the codes, and PyTorch's per-plane flat indices are only built when
``return_indices=True`` asks for them. Compiled Numba kernels (parallel over planes, so scatters
never race) run when ``convnp.backend.use_numba()``; the NumPy path loops over kernel taps only and
is the reference.
"""

from __future__ import annotations

import math

import numpy as np

from convnp import _blas
from convnp._dtype import is_floating
from convnp._tagged import TaggedArray
from convnp.autograd.function import Function
from convnp.ops import _pool_kernels as K
from convnp.ops import _shape
from convnp.ops._checked_calls import CheckedCalls
from convnp.ops._pool_kernels import windows_inside as _windows_inside  # noqa: F401 (tests)

__all__ = [
    "max_pool1d", "max_pool2d", "max_pool3d", "avg_pool1d", "avg_pool2d", "avg_pool3d",
    "lp_pool1d", "lp_pool2d", "lp_pool3d", "adaptive_avg_pool1d", "adaptive_avg_pool2d",
    "adaptive_avg_pool3d", "adaptive_max_pool1d", "adaptive_max_pool2d", "adaptive_max_pool3d",
]


# ---------------------------------------------------------------------------- argument handling
def _planes(x: np.ndarray, nd: int):
    """View ``(N, C, *sp)`` or ``(C, *sp)`` as ``(B, D, H, W)``; return it and the leading dims."""
    lead = x.shape[:-nd]
    sp = x.shape[-nd:]
    sp4 = (1,) * (3 - nd) + tuple(sp)
    return np.ascontiguousarray(x).reshape((-1,) + sp4), lead


def _pad3(t: tuple, fill: int) -> tuple:
    return (fill,) * (3 - len(t)) + tuple(t)


def _check_input(x, nd: int, fn: str) -> None:
    from convnp.tensor import Tensor

    if not isinstance(x, Tensor):
        raise TypeError(f"{fn}: 'input' must be a convnp Tensor, got {type(x).__name__}")
    if x.ndim not in (nd + 1, nd + 2):
        raise ValueError(f"{fn}: expected a {nd + 1}-d (unbatched) or {nd + 2}-d (batched) input "
                         f"of shape (N, C, {', '.join('LHW'[-nd:] if nd < 3 else 'DHW')}), got "
                         f"shape {tuple(x.shape)}")
    if not is_floating(x.dtype):
        raise TypeError(f"{fn}: expected a floating-point input, got dtype {x.dtype}")
    if any(s == 0 for s in x.shape[-nd - 1:]):
        raise ValueError(f"{fn}: input has an empty channel or spatial axis: {tuple(x.shape)}")


def _window_args(nd, fn, kernel_size, stride, padding, dilation):
    k = _shape.ntuple(kernel_size, nd, "kernel_size", fn, minimum=1)
    s = k if stride is None or (isinstance(stride, (list, tuple)) and len(stride) == 0) else \
        _shape.ntuple(stride, nd, "stride", fn, minimum=1)
    p = _shape.ntuple(padding, nd, "padding", fn, minimum=0)
    d = _shape.ntuple(dilation, nd, "dilation", fn, minimum=1)
    if any(pp > _shape.pool_max_padding(kk) for kk, pp in zip(k, p)):
        raise RuntimeError(
            f"{fn}: pad should be at most half of kernel size, but got padding={p} and "
            f"kernel_size={k} (PyTorch's rule: padding <= kernel_size // 2 on every axis, "
            f"dilation not counted; here at most {tuple(kk // 2 for kk in k)})")
    return k, s, p, d


def _out_sizes(fn, sp, k, s, p, d, ceil_mode):
    out = tuple(_shape.pool_output_size(n, kk, ss, pp, dd, ceil_mode)
                for n, kk, ss, pp, dd in zip(sp, k, s, p, d))
    if any(o <= 0 for o in out):
        raise RuntimeError(f"{fn}: given input spatial size {tuple(sp)}, kernel_size {k}, "
                           f"stride {s}, padding {p}, dilation {d}, the output size {out} is too "
                           "small (every output size must be >= 1)")
    return out



class PoolIndices(TaggedArray):
    """Max-pool argmax indices (int64, flat per plane as PyTorch's) that remember the pooled
    input's spatial size (``pooled_input_shape``), so ``max_unpool*d`` restores a 5x5 map pooled
    2x2 to 5x5 without ``output_size``.

    A ``TaggedArray``, so the size travels with the array through ``detach()``, ``clone()``,
    ``to()``, reshapes and slices; arithmetic on indices gives plain arrays.
    """

    pooled_input_shape: tuple | None = None

    @classmethod
    def tag(cls, idx: np.ndarray, spatial) -> "PoolIndices":
        out = idx.view(cls)
        out.pooled_input_shape = tuple(spatial)
        return out

    def __array_finalize__(self, obj) -> None:
        self.pooled_input_shape = getattr(obj, "pooled_input_shape", None)


class MaxPoolNd(Function):
    """N-d max pooling; backward scatters through the recorded argmax tap codes."""

    @staticmethod
    def forward(ctx, x, nd, k, s, p, d, ceil_mode, return_indices, fn, geom=None):
        x4, lead = _planes(x, nd)
        if geom is None:
            geom = _geometry(fn, x.shape[-nd:], k, s, p, d, ceil_mode)
        k3, s3, p3, d3, o, o3 = geom
        if not (return_indices or ctx.needs_input_grad[0]):  # inference: no tap codes
            out = K.max_values(x4, k3, s3, p3, d3, o3)
            if out is not None:
                return out.reshape(lead + o)
        out, code, idx = K.max_forward(x4, k3, s3, p3, d3, o3, return_indices)
        ctx.geom = (x4.shape, k3, s3, p3, d3, x.shape)
        ctx.save_for_backward(code)
        out = out.reshape(lead + o)
        if not return_indices:
            return out
        return out, PoolIndices.tag(idx.reshape(lead + o), x.shape[-nd:])

    @staticmethod
    def backward(ctx, g, *_):
        (code,) = ctx.saved_tensors
        x4_shape, k3, s3, p3, d3, x_shape = ctx.geom
        gx = K.max_backward(g.reshape(code.shape), code, x4_shape, k3, s3, p3, d3)
        return gx.reshape(x_shape)


def _geometry(fn, sp, k, s, p, d, ceil_mode) -> tuple:
    """(k3, s3, p3, d3, out, out3): the window and output sizes, padded to three axes."""
    o = _out_sizes(fn, sp, k, s, p, d, ceil_mode)
    return _pad3(k, 1), _pad3(s, 1), _pad3(p, 0), _pad3(d, 1), o, _pad3(o, 1)


# a network calls each pooling layer with the same shapes and settings every time: validated once
_checked = CheckedCalls()


def _checked_window(fn, nd, input, kernel_size, stride, padding, dilation, ceil_mode):
    """``_check_input``, ``_window_args`` and the geometry of the input's spatial size
    (``_geometry``) as ``(k, s, p, d, geometry)``, kept per distinct call (Tensors only:
    anything else is checked, and rejected, every time)."""
    from convnp.tensor import Tensor

    key = (_checked.key(fn, (input,), (kernel_size, stride, padding, dilation, int(ceil_mode)))
           if isinstance(input, Tensor) else None)

    def validate():
        _check_input(input, nd, fn)
        k, s, p, d = _window_args(nd, fn, kernel_size, stride, padding, dilation)
        return k, s, p, d, _geometry(fn, input.shape[-nd:], k, s, p, d, ceil_mode)
    return _checked.get(key, validate)


_MAX_NAMES = {1: "max_pool1d", 2: "max_pool2d", 3: "max_pool3d"}


def _max_pool(nd, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices):
    fn = _MAX_NAMES[nd]
    ceil_mode = bool(ceil_mode)
    k, s, p, d, geom = _checked_window(fn, nd, input, kernel_size, stride, padding, dilation,
                                       ceil_mode)
    return MaxPoolNd.apply(input, nd=nd, k=k, s=s, p=p, d=d, ceil_mode=ceil_mode,
                           return_indices=bool(return_indices), fn=fn, geom=geom)


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """1-d max pooling over ``(N, C, L)`` (or ``(C, L)``).

    Args:
        kernel_size: window length. stride: step (default ``kernel_size``).
        padding: implicit -inf padding on both sides, at most half the effective kernel.
        dilation: spacing between window taps. ceil_mode: round the output length up (a last
            window must still start inside the input or the left padding).
        return_indices: also return the argmax positions (flat per plane, PyTorch's convention);
            they are ``PoolIndices``, which remember the input's length for ``max_unpool1d``.

    Shape:
        ``L_out = floor_or_ceil((L + 2*padding - dilation*(kernel_size-1) - 1) / stride) + 1``

    Example:
        >>> max_pool1d(convnp.randn(2, 3, 8), 2).shape
        (2, 3, 4)
    """
    return _max_pool(1, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """2-d max pooling over ``(N, C, H, W)`` (or ``(C, H, W)``); arguments as ``max_pool1d``.

    Shape:
        ``H_out = floor_or_ceil((H + 2*padding[0] - dilation[0]*(kernel_size[0]-1) - 1)
        / stride[0]) + 1``, likewise ``W_out``.

    Example:
        >>> max_pool2d(convnp.randn(1, 3, 8, 6), 2).shape  # 2x2, stride 2: halves H and W
        (1, 3, 4, 3)
    """
    return _max_pool(2, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def max_pool3d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """3-d max pooling over ``(N, C, D, H, W)`` (or ``(C, D, H, W)``); as ``max_pool2d``.

    Example:
        >>> max_pool3d(convnp.randn(1, 2, 4, 4, 4), 2).shape
        (1, 2, 2, 2, 2)
    """
    return _max_pool(3, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


# ---------------------------------------------------------------------------- average pooling
def _avg_divisor(sp3, o3, k3, s3, p3, count_include_pad, divisor_override, dtype):
    """PyTorch's divisor per output window ``(OD, OH, OW)``; separable, so a product of axes."""
    if divisor_override:
        return np.full(o3, float(divisor_override), np.float64)
    per_axis = []
    for n, o, k, s, p in zip(sp3, o3, k3, s3, p3):
        start = np.arange(o) * s - p
        end = np.minimum(start + k, n + p)  # windows may overhang into the padding, not beyond
        if count_include_pad:
            cnt = end - start
        else:
            cnt = np.minimum(end, n) - np.maximum(start, 0)
        per_axis.append(np.maximum(cnt, 1).astype(np.float64))
    return (per_axis[0][:, None, None] * per_axis[1][:, None] * per_axis[2])


class AvgPoolNd(Function):
    """N-d average pooling with PyTorch's divisor rules."""

    @staticmethod
    def forward(ctx, x, nd, k, s, p, ceil_mode, count_include_pad, divisor_override, fn,
                geom=None):
        x4, lead = _planes(x, nd)
        if geom is None:
            geom = _geometry(fn, x.shape[-nd:], k, s, p, (1,) * nd, ceil_mode)
        k3, s3, p3, _, o, o3 = geom
        div = _avg_divisor(x4.shape[1:], o3, k3, s3, p3, count_include_pad, divisor_override,
                           x.dtype)
        ctx.geom = (x4.shape, k3, s3, p3, x.shape, div)
        return K.avg_forward(x4, k3, s3, p3, o3, div).reshape(lead + o)

    @staticmethod
    def backward(ctx, g):
        x4_shape, k3, s3, p3, x_shape, div = ctx.geom
        g = g.reshape((x4_shape[0],) + div.shape)
        return K.avg_backward(g, x4_shape, k3, s3, p3, div).reshape(x_shape)


def _avg_pool(nd, input, kernel_size, stride, padding, ceil_mode, count_include_pad,
              divisor_override):
    fn = f"avg_pool{nd}d"
    ceil_mode = bool(ceil_mode)
    k, s, p, _, geom = _checked_window(fn, nd, input, kernel_size, stride, padding, 1, ceil_mode)
    if divisor_override is not None and (not isinstance(divisor_override, (int, np.integer))
                                         or divisor_override == 0):
        raise ValueError(f"{fn}: 'divisor_override' must be a non-zero int or None, got "
                         f"{divisor_override!r}")
    return AvgPoolNd.apply(input, nd=nd, k=k, s=s, p=p, ceil_mode=ceil_mode,
                           count_include_pad=bool(count_include_pad),
                           divisor_override=divisor_override, fn=fn, geom=geom)


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True):
    """1-d average pooling over ``(N, C, L)`` (or ``(C, L)``).

    Args:
        kernel_size, stride (default ``kernel_size``), padding (zeros, at most kernel_size // 2),
        ceil_mode: as ``max_pool1d``.
        count_include_pad: divide by the window length including padding (but never counting a
            ceil_mode overhang beyond the padding), else by the number of input elements.

    Shape:
        ``L_out = floor_or_ceil((L + 2*padding - kernel_size) / stride) + 1``

    Example:
        >>> avg_pool1d(convnp.tensor([[[1., 2., 3., 4.]]]), 2)
        tensor([[[1.5000, 3.5000]]])
    """
    return _avg_pool(1, input, kernel_size, stride, padding, ceil_mode, count_include_pad, None)


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None):
    """2-d average pooling over ``(N, C, H, W)`` (or ``(C, H, W)``); as ``avg_pool1d``, plus
    ``divisor_override`` (divide every window sum by this int instead).

    Shape:
        ``H_out = floor_or_ceil((H + 2*padding[0] - kernel_size[0]) / stride[0]) + 1``, same for W.

    Example:
        >>> avg_pool2d(convnp.randn(1, 3, 6, 6), 3, stride=2, padding=1).shape
        (1, 3, 3, 3)
    """
    return _avg_pool(2, input, kernel_size, stride, padding, ceil_mode, count_include_pad,
                     divisor_override)


def avg_pool3d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None):
    """3-d average pooling over ``(N, C, D, H, W)`` (or ``(C, D, H, W)``); as ``avg_pool2d``.

    Example:
        >>> avg_pool3d(convnp.randn(1, 2, 4, 4, 4), 2).shape
        (1, 2, 2, 2, 2)
    """
    return _avg_pool(3, input, kernel_size, stride, padding, ceil_mode, count_include_pad,
                     divisor_override)


# ---------------------------------------------------------------------------- Lp pooling
def _lp_pool(nd, input, norm_type, kernel_size, stride, ceil_mode):
    fn = f"lp_pool{nd}d"
    _check_input(input, nd, fn)
    k = _shape.ntuple(kernel_size, nd, "kernel_size", fn, minimum=1)
    if not isinstance(norm_type, (int, float, np.number)) or isinstance(norm_type, bool) \
            or norm_type == 0:
        raise ValueError(f"{fn}: 'norm_type' must be a non-zero number, got {norm_type!r}")
    out = _avg_pool(nd, input ** norm_type, k, stride, 0, ceil_mode, True, None)
    # PyTorch: (sign(out) * relu(|out|)) * prod(k), then ** (1/p); sign*|out| == out
    return (out * float(math.prod(k))) ** (1.0 / norm_type)


def lp_pool1d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    """1-d power-average pooling: ``(sum over the window of x**p) ** (1/p)``.

    Shape:
        as ``avg_pool1d`` without padding.

    Example:
        >>> lp_pool1d(convnp.tensor([[[3., 4.]]]), 2, 2)
        tensor([[[5.]]])
    """
    return _lp_pool(1, input, norm_type, kernel_size, stride, ceil_mode)


def lp_pool2d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    """2-d power-average pooling; as ``lp_pool1d`` over ``(N, C, H, W)``."""
    return _lp_pool(2, input, norm_type, kernel_size, stride, ceil_mode)


def lp_pool3d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    """3-d power-average pooling; as ``lp_pool1d`` over ``(N, C, D, H, W)``."""
    return _lp_pool(3, input, norm_type, kernel_size, stride, ceil_mode)


# ---------------------------------------------------------------------------- adaptive pooling
def _adaptive_out(nd, output_size, sp, fn):
    if isinstance(output_size, (int, np.integer)) and not isinstance(output_size, bool):
        output_size = (int(output_size),) * nd
    if not isinstance(output_size, (tuple, list)) or len(output_size) not in (1, nd):
        raise TypeError(f"{fn}: 'output_size' must be an int or a sequence of {nd} ints/None, "
                        f"got {output_size!r}")
    if len(output_size) == 1:
        output_size = tuple(output_size) * nd
    out = tuple(n if o is None else o for o, n in zip(output_size, sp))
    if any(not isinstance(o, (int, np.integer)) or isinstance(o, bool) or o < 0 for o in out):
        raise ValueError(f"{fn}: 'output_size' entries must be ints >= 0 (or None to keep the "
                         f"input size), got {tuple(output_size)}")
    return tuple(int(o) for o in out)


def _bin_matrix(n, o, dtype):
    """``(o, n)`` averaging matrix of the adaptive bins along one axis."""
    start, end = _shape.adaptive_bins(n, o)
    cols = np.arange(n)
    m = (cols >= start[:, None]) & (cols < end[:, None])
    return (m / (end - start)[:, None]).astype(dtype)


def _apply_axes(x4, mats):
    """Apply per-axis ``(O, L)`` matrices (None = identity) to ``(B, D, H, W)``."""
    md, mh, mw = mats
    B, D, H, W = x4.shape
    if mw is not None:
        x4 = _blas.matmul(x4.reshape(-1, W), mw.T).reshape(B, D, H, -1)  # (B*D*H, W) @ (W, OW)
        W = x4.shape[3]
    if mh is not None:
        x4 = _blas.matmul(mh, x4.reshape(B * D, H, W)).reshape(B, D, -1, W)  # (OH,H)@(BD,H,W)
        H = x4.shape[2]
    if md is not None:
        x4 = _blas.matmul(md, x4.reshape(B, D, H * W)).reshape(B, -1, H, W)  # (OD,D)@(B,D,HW)
    return x4


class AdaptiveAvgPoolNd(Function):
    """Adaptive average pooling as one small averaging matrix per axis (GEMMs, no loops)."""

    half_in_float32 = True  # NumPy's matmul widens bfloat16 to float32; sum in float32 for both

    @staticmethod
    def forward(ctx, x, nd, out):
        x4, lead = _planes(x, nd)
        sp3 = x4.shape[1:]
        o3 = _pad3(out, 1)
        ctx.geom = (x4.shape, x.shape, o3)
        if o3 == (1, 1, 1) or x.size == 0:
            if x.size == 0:  # an empty batch (or zero-size output): nothing to average
                return np.zeros(lead + out, x.dtype)
            # global average: a product with a ones vector runs on every thread
            # (convnp._blas splits the GEMV over the thread pool); x.mean() would run on one core
            flat = x4.reshape(x4.shape[0], math.prod(x4.shape[1:]))
            sums = _blas.matmul(flat, np.ones(flat.shape[1], x.dtype))
            return (sums / x.dtype.type(flat.shape[1])).reshape(lead + out)
        mats = [None if n == o else _bin_matrix(n, o, x.dtype) for n, o in zip(sp3, o3)]
        ctx.mats = mats
        return _apply_axes(x4, mats).reshape(lead + out)

    @staticmethod
    def backward(ctx, g):
        x4_shape, x_shape, o3 = ctx.geom
        B = x4_shape[0]
        if g.size == 0 or math.prod(x_shape) == 0:
            return np.zeros(x_shape, g.dtype)
        g4 = g.reshape((B,) + o3)
        if o3 == (1, 1, 1):
            n = math.prod(x4_shape[1:])
            return K.global_avg_backward(g4, B, n, g.dtype).reshape(x_shape)
        md, mh, mw = ctx.mats
        t = g4
        # transpose of _apply_axes, axes in reverse order
        if md is not None:
            t = _blas.matmul(md.T, t.reshape(B, o3[0], -1)).reshape((B, -1) + t.shape[2:])
        if mh is not None:
            t = _blas.matmul(mh.T, t.reshape((-1,) + t.shape[2:])).reshape(
                (B, t.shape[1], -1, t.shape[3]))
        if mw is not None:
            t = _blas.matmul(t.reshape(-1, t.shape[3]), mw).reshape(t.shape[:3] + (-1,))
        return np.ascontiguousarray(t).reshape(x_shape)



def _adaptive_avg(nd, input, output_size):
    fn = f"adaptive_avg_pool{nd}d"
    _check_input(input, nd, fn)
    out = _adaptive_out(nd, output_size, input.shape[-nd:], fn)
    return AdaptiveAvgPoolNd.apply(input, nd=nd, out=out)


def adaptive_avg_pool1d(input, output_size):
    """Adaptive average pooling to ``output_size`` over ``(N, C, L)``.

    Bin ``i`` averages ``x[floor(i*L/O) : ceil((i+1)*L/O)]`` (bins may overlap when L % O != 0).

    Shape:
        ``(N, C, L) -> (N, C, O)``

    Example:
        >>> adaptive_avg_pool1d(convnp.randn(2, 3, 10), 4).shape
        (2, 3, 4)
    """
    return _adaptive_avg(1, input, output_size)


def adaptive_avg_pool2d(input, output_size):
    """Adaptive average pooling over ``(N, C, H, W)``; ``output_size`` int or (H, W), None keeps
    that axis. ``output_size=1`` is global average pooling.

    Example:
        >>> adaptive_avg_pool2d(convnp.randn(2, 3, 7, 5), (2, None)).shape
        (2, 3, 2, 5)
    """
    return _adaptive_avg(2, input, output_size)


def adaptive_avg_pool3d(input, output_size):
    """Adaptive average pooling over ``(N, C, D, H, W)``; as ``adaptive_avg_pool2d``."""
    return _adaptive_avg(3, input, output_size)


class AdaptiveMaxPoolNd(Function):
    """Adaptive max pooling: uneven bins gathered tap by tap; backward scatters by flat index."""

    @staticmethod
    def forward(ctx, x, nd, out, fn):
        x4, lead = _planes(x, nd)
        sp3 = x4.shape[1:]
        o3 = _pad3(out, 1)
        B = x4.shape[0]
        if all(n % o == 0 for n, o in zip(sp3, o3)):
            # even bins are a plain max pool with kernel = stride = n / o
            k3 = tuple(n // o for n, o in zip(sp3, o3))
            res, _, idx = K.max_forward(x4, k3, k3, (0, 0, 0), (1, 1, 1), o3, True)
        else:
            taps = []
            for n, o in zip(sp3, o3):
                st, en = _shape.adaptive_bins(n, o)
                kmax = int((en - st).max())
                # clamp to the bin's last element: re-reading it never changes a strict max
                taps.append(np.minimum(st[:, None] + np.arange(kmax), en[:, None] - 1))
            D, H, W = sp3
            res = np.full((B,) + o3, -np.inf, x.dtype)
            idx = np.zeros((B,) + o3, np.int64)
            xf = x4.reshape(B, math.prod(x4.shape[1:]))
            first = True
            for td in range(taps[0].shape[1]):
                fd = taps[0][:, td][:, None, None] * (H * W)
                for th in range(taps[1].shape[1]):
                    fh = fd + taps[1][:, th][:, None] * W
                    for tw in range(taps[2].shape[1]):
                        f = (fh + taps[2][:, tw]).ravel()  # flat per-plane index per output
                        v = xf[:, f].reshape(res.shape)
                        if first:
                            res[...] = v
                            idx[...] = f.reshape(o3)
                            first = False
                            continue
                        m = (v > res) | np.isnan(v)
                        np.copyto(res, v, where=m)
                        np.copyto(idx, np.broadcast_to(f.reshape(o3), idx.shape), where=m)
        ctx.geom = (x4.shape, x.shape, math.prod(o3))
        ctx.save_for_backward(idx)
        return res.reshape(lead + out), PoolIndices.tag(idx.reshape(lead + out), x.shape[-nd:])

    @staticmethod
    def backward(ctx, g, _):
        (idx,) = ctx.saved_tensors
        x4_shape, x_shape, n = ctx.geom
        B = x4_shape[0]
        # explicit plane size n: reshape(B, -1) cannot infer it when B == 0
        gx = K.scatter_planes(g.reshape(B, n), idx.reshape(B, n), math.prod(x4_shape[1:]), True)
        return gx.reshape(x_shape)


def _adaptive_max(nd, input, output_size, return_indices):
    fn = f"adaptive_max_pool{nd}d"
    _check_input(input, nd, fn)
    out = _adaptive_out(nd, output_size, input.shape[-nd:], fn)
    if any(o == 0 for o in out):
        raise ValueError(f"{fn}: 'output_size' entries must be >= 1, got {out}")
    res, idx = AdaptiveMaxPoolNd.apply(input, nd=nd, out=out, fn=fn)
    return (res, idx) if return_indices else res


def adaptive_max_pool1d(input, output_size, return_indices=False):
    """Adaptive max pooling over ``(N, C, L)`` with the bins of ``adaptive_avg_pool1d``.

    Shape:
        ``(N, C, L) -> (N, C, O)``; indices are flat per plane, as ``max_pool1d``.

    Example:
        >>> adaptive_max_pool1d(convnp.randn(2, 3, 10), 4).shape
        (2, 3, 4)
    """
    return _adaptive_max(1, input, output_size, return_indices)


def adaptive_max_pool2d(input, output_size, return_indices=False):
    """Adaptive max pooling over ``(N, C, H, W)``; ``output_size=1`` is global max pooling."""
    return _adaptive_max(2, input, output_size, return_indices)


def adaptive_max_pool3d(input, output_size, return_indices=False):
    """Adaptive max pooling over ``(N, C, D, H, W)``."""
    return _adaptive_max(3, input, output_size, return_indices)
