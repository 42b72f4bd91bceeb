"""Normalization layers' ops: batch, group, layer, instance and local response norm, normalize.

Batch norm has two paths with the same numbers:
- compiled kernels (``backend.use_numba()``, float32/float64): batch statistics from per-piece
  moments merged per channel (one read of the input), then ONE fused pass for the normalised
  output (eval mode: the same pass with the running statistics); the backward reads g and x
  once for sum(g) and sum(g * xhat) and once more for the input gradient. No full-size
  temporary beyond the output; the input is what backward keeps;
- the NumPy reference path: per-channel sums pushed into BLAS (a product with a ones vector) and
  the affine folded into one multiply-add into preallocated arrays; it keeps the centred input.

Both see the input as a ``(N, C, M)`` view or, for channels-last strided inputs (logical
``(N, C, *)`` with channels fastest in memory) and 2-D ``(N, C)`` inputs, as a ``(P, C)`` matrix,
no copy; the output keeps the input's memory layout, as PyTorch's does. 1-d, 2-d and 3-d batch
norm share all of it.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from convnp.autograd.function import Function
from convnp.autograd.grad_mode import no_grad
from convnp.ops._norm_kernels import (
    _affine,
    _bcast,
    _channel_sum,
    _compiled,
    _empty_like_layout,
    _from_layout,
    _grad_sums,
    _layout,
    _stats,
)
from convnp.tensor import Tensor

__all__ = ["batch_norm", "group_norm", "layer_norm", "instance_norm", "local_response_norm",
           "normalize"]


# ---------------------------------------------------------------- batch norm
class BatchNormTrain(Function):
    """Batch statistics; returns out and (for the running update) the biased batch variance."""

    half_in_float32 = True

    @staticmethod
    def forward(ctx, x, weight, bias, eps=1e-5):
        shape, dt = x.shape, x.dtype
        c = shape[1]
        kind, xv = _layout(x)
        cnt = xv.size // c
        w = weight if weight is not None else np.ones(c, dt)
        b = bias if bias is not None else np.zeros(c, dt)
        out, ov = _empty_like_layout(kind, xv, x)
        use_nb = _compiled(xv)
        if use_nb:
            mean64, var64 = _stats(kind, xv)
            inv64 = 1 / np.sqrt(var64 + eps)
            scale = w * inv64
            _affine(kind, xv, scale, b - mean64 * scale, ov)
            mean, var, invstd = mean64.astype(dt), var64.astype(dt), inv64.astype(dt)
            xc = None
        else:
            mean = _channel_sum(xv, kind) / dt.type(cnt)
            xc = np.subtract(xv, _bcast(mean, kind))  # centred data, kept for backward
            np.multiply(xc, xc, out=ov)
            var = _channel_sum(ov, kind) / dt.type(cnt)
            invstd = (1 / np.sqrt(var + dt.type(eps))).astype(dt)
            np.multiply(xc, _bcast(w * invstd, kind), out=ov)
            ov += _bcast(b, kind)
        # the NumPy path keeps only the centred data; the kernel path only the input
        ctx.save_for_backward(xv if xc is None else None, xc, mean, invstd, w)
        ctx.kind, ctx.shape, ctx.cnt, ctx.use_nb = kind, shape, cnt, use_nb
        ctx.mark_non_differentiable(1, 2)
        return out, mean, var

    @staticmethod
    def backward(ctx, g, _gm=None, _gv=None):
        xv, xc, mean, invstd, w = ctx.saved_tensors
        kind, cnt, dt = ctx.kind, ctx.cnt, mean.dtype
        # g arrives in any layout: bring it to the input's view (a copy only if layouts differ)
        gv = _view_like(g, kind, xc if xv is None else xv)
        need_x = ctx.needs_input_grad[0]
        gx = None
        if ctx.use_nb and _compiled(gv, xv):
            sg, sgx = _grad_sums(kind, gv, xv, mean)
            inv = invstd.astype(np.float64)
            sgxh = sgx * inv
            if need_x:
                # gx = a * (g - mean(g)) - a * xhat * mean(g * xhat): one multiply-add per value
                a = w * inv
                bcoef = -a * inv * sgxh / cnt
                gx = np.empty(xv.shape, dt)
                _affine(kind, xv, bcoef, -a * sg / cnt - bcoef * mean, gx, gv, a)
        else:
            if xc is None:  # the kernels saved x, but g came in float16 or another dtype
                xc = np.subtract(xv, _bcast(mean, kind))
            sg = _channel_sum(gv, kind)
            tmp = np.multiply(gv, xc)
            sgxh = _channel_sum(tmp, kind) * invstd
            if need_x:
                a = w * invstd
                bcoef = -a * invstd * sgxh / dt.type(cnt)
                # gx = a * (g - mean(g)) - a * xhat * mean(g * xhat): one multiply-add chain
                gx = np.multiply(gv, _bcast(a, kind))
                np.multiply(xc, _bcast(bcoef, kind), out=tmp)
                gx += tmp
                gx += _bcast(-a * sg / dt.type(cnt), kind)
        gx_full = _from_layout(kind, gx, ctx.shape) if need_x else None
        gw = sgxh.astype(dt, copy=False) if ctx.needs_input_grad[1] else None
        gb = sg.astype(dt, copy=False) if ctx.needs_input_grad[2] else None
        return gx_full, gw, gb


def _view_like(g: np.ndarray, kind: str, xv: np.ndarray) -> np.ndarray:
    k2, v = _layout(g)
    if k2 == kind:
        return v
    if kind == "ncm":
        return np.ascontiguousarray(g).reshape(xv.shape)
    nd = g.ndim
    return np.ascontiguousarray(g.transpose(0, *range(2, nd), 1)).reshape(xv.shape)


class BatchNormEval(Function):
    """Normalise with given (running) statistics: out = x * scale + shift per channel."""

    half_in_float32 = True

    @staticmethod
    def forward(ctx, x, weight, bias, mean=None, var=None, eps=1e-5):
        scale, shift, invstd, mean = _eval_affine(x.dtype, weight, bias, mean, var, eps)
        ctx.save_for_backward(x, mean, invstd, scale)
        ctx.bshape = bshape = (1, x.shape[1]) + (1,) * (x.ndim - 2)
        kind, xv = _layout(x)
        if _compiled(xv, scale, shift):  # one fused pass, in the input's memory layout
            out, ov = _empty_like_layout(kind, xv, x)
            _affine(kind, xv, scale, shift, ov)
            return out
        out = np.multiply(x, scale.reshape(bshape))
        out += shift.reshape(bshape)
        return out

    @staticmethod
    def backward(ctx, g):
        x, mean, invstd, scale = ctx.saved_tensors
        bs = ctx.bshape
        axes = (0,) + tuple(range(2, x.ndim))
        gx = g * scale.reshape(bs) if ctx.needs_input_grad[0] else None
        gw = ((g * (x - mean.reshape(bs))).sum(axes) * invstd if ctx.needs_input_grad[1]
              else None)
        gb = g.sum(axes) if ctx.needs_input_grad[2] else None
        return gx, gw, gb


def _eval_affine(dt, weight, bias, mean, var, eps):
    """Per-channel ``(scale, shift, invstd, mean)`` in ``dt`` of eval-mode batch norm:
    ``out = x * scale + shift`` with ``scale = w / sqrt(var + eps)``, ``shift = b - mean * scale``
    (a missing weight is 1, a missing bias 0: the same numbers as multiplying by ones and
    subtracting from zeros). Computed into fresh arrays, a few in-place ufuncs on C values."""
    invstd = var.astype(dt)  # a copy: the running statistics are never written
    invstd += dt.type(eps)
    np.sqrt(invstd, out=invstd)
    np.divide(1, invstd, out=invstd)
    scale = invstd if weight is None else weight * invstd
    mean = mean.astype(dt)  # a copy: backward must see the statistics of this call
    ms = mean * scale
    if bias is None or bias.dtype == ms.dtype:
        shift = np.subtract(dt.type(0) if bias is None else bias, ms, out=ms)
    else:
        shift = bias - ms  # promotes, as the arithmetic on mixed dtypes does
    return scale, shift, invstd, mean


def _arr(t):
    return None if t is None else (t.array if hasattr(t, "array") else np.asarray(t))


def _check_vec(t, c: int, name: str, fn: str) -> None:
    if t is None:
        return
    shape = t.array.shape if isinstance(t, Tensor) else tuple(t.shape)
    if shape != (c,):
        raise RuntimeError(f"{fn}: '{name}' should contain {c} elements (one per channel of the "
                           f"input), got shape {shape}")


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training: bool = False,
               momentum: float = 0.1, eps: float = 1e-5):
    r"""Batch normalization over the channel axis (dim 1) of ``(N, C, *)`` input.

    :math:`y = \frac{x - \mathrm{E}[x]}{\sqrt{\mathrm{Var}[x] + \epsilon}} \gamma + \beta`,
    statistics per channel over the batch and spatial axes.

    Args:
        input: ``(N, C)``, ``(N, C, L)``, ``(N, C, H, W)`` or ``(N, C, D, H, W)``.
        running_mean, running_var: ``(C,)`` tensors or None. In training they are updated IN
            PLACE: ``r = (1 - momentum) * r + momentum * batch_stat``, with the UNBIASED batch
            variance for ``running_var`` (the biased one normalises). In eval they normalise.
        weight, bias: optional ``(C,)`` affine parameters :math:`\gamma, \beta`.
        training: use batch statistics (True) or the running ones (False).
        momentum: running-stat update factor (the module turns ``momentum=None`` into
            ``1 / num_batches_tracked``, a cumulative average).
        eps: added to the variance for numerical stability.

    Shape: output has the input's shape (and memory layout).

    Example::
        >>> x = convnp.tensor([[1.0], [3.0]])
        >>> F.batch_norm(x, None, None, training=True)   # mean 2, var 1
        tensor([[-1.0000],
                [ 1.0000]])
    """
    fn = "batch_norm"
    if not isinstance(input, Tensor):
        raise TypeError(f"{fn}: 'input' must be a convnp Tensor, got {type(input).__name__}")
    shape = input.array.shape
    if len(shape) < 2:
        raise ValueError(f"{fn}: expected input of shape (N, C, *) with at least 2 dims, got "
                         f"shape {shape}")
    c = shape[1]
    for name, t in (("running_mean", running_mean), ("running_var", running_var),
                    ("weight", weight), ("bias", bias)):
        _check_vec(t, c, name, fn)
    if training and input.numel() == 0 and c:
        # as torch: an empty batch gives an empty output and zero parameter gradients, and
        # leaves the running statistics as they were (there is nothing to average)
        return _empty_affine(input, weight, bias)
    if training:
        size = math.prod(shape) // c
        if size == 1:
            raise ValueError(f"Expected more than 1 value per channel when training, got input "
                             f"size {tuple(input.shape)}")
        out, mean, var = BatchNormTrain.apply(input, weight, bias, eps=float(eps))
        if running_mean is not None or running_var is not None:
            m = 0.1 if momentum is None else float(momentum)
            _update_running(running_mean, running_var, mean.array, var.array, size, m)
        return out
    if running_mean is None or running_var is None:
        raise RuntimeError(f"{fn}: running_mean and running_var must be given when training=False "
                           "(or call with training=True to use batch statistics)")
    return BatchNormEval.apply(input, weight, bias, mean=_arr(running_mean),
                               var=_arr(running_var), eps=float(eps))


def _update_running(running_mean, running_var, mean: np.ndarray, var: np.ndarray, n: int,
                    momentum: float) -> None:
    """In-place EMA of the running statistics (unbiased variance), as torch does."""
    with no_grad():
        if running_mean is not None:
            rm = _arr(running_mean)
            rm *= rm.dtype.type(1 - momentum)
            rm += (momentum * mean).astype(rm.dtype)
        if running_var is not None:
            rv = _arr(running_var)
            rv *= rv.dtype.type(1 - momentum)
            rv += (momentum * var.astype(np.float64) * (n / (n - 1))).astype(rv.dtype)


# ---------------------------------------------------------------- generic standardize
class Standardize(Function):
    """(x - mean) / sqrt(var + eps) over ``axes`` of a reshaped view, then ``* w + b``.

    Serves layer, group and instance norm: forward reshapes x to ``view``, normalises over
    ``axes`` there, applies the affine (w, b reshaped to ``wshape``, broadcast against the
    ORIGINAL shape) and returns the original shape.
    """

    half_in_float32 = True

    @staticmethod
    def forward(ctx, x, w, b, view=None, axes=None, wshape=None, eps=1e-5):
        dt = x.dtype
        xv = x.reshape(view)
        mean = xv.mean(axis=axes, keepdims=True)
        xc = xv - mean
        var = np.mean(xc * xc, axis=axes, keepdims=True)
        invstd = (1 / np.sqrt(var + dt.type(eps))).astype(dt)
        xhat = (xc * invstd).reshape(x.shape)
        out = xhat
        if w is not None:
            out = out * w.reshape(wshape)
        if b is not None:
            out = out + b.reshape(wshape)
        ctx.save_for_backward(xhat, invstd, w)
        ctx.view, ctx.axes, ctx.wshape = view, axes, wshape
        ctx.bshape = None if b is None else b.shape
        ctx.mark_non_differentiable(1, 2)
        return out, mean, var

    @staticmethod
    def backward(ctx, g, _gm=None, _gv=None):
        xhat, invstd, w = ctx.saved_tensors
        ws = ctx.wshape
        gx = gw = gb = None
        if ctx.needs_input_grad[1] or ctx.needs_input_grad[2]:
            waxes = tuple(i for i in range(g.ndim) if ws[i] == 1)
            if ctx.needs_input_grad[1]:
                gw = (g * xhat).sum(axis=waxes).reshape(w.shape)
            if ctx.needs_input_grad[2]:
                gb = g.sum(axis=waxes).reshape(ctx.bshape)
        if ctx.needs_input_grad[0]:
            gh = g * w.reshape(ws) if w is not None else g
            ghv = gh.reshape(ctx.view)
            xh = xhat.reshape(ctx.view)
            gx = invstd * (ghv - ghv.mean(axis=ctx.axes, keepdims=True)
                           - xh * (ghv * xh).mean(axis=ctx.axes, keepdims=True))
            gx = gx.reshape(g.shape)
        return gx, gw, gb


def _empty_affine(input, weight, bias):
    """``input * weight + bias`` per channel (dim 1): the graph of a norm of an empty batch."""
    shape = (1, input.shape[1]) + (1,) * (input.ndim - 2)
    out = input * weight.reshape(shape) if weight is not None else input * 1
    return out + bias.reshape(shape) if bias is not None else out


def _standardize(input, weight, bias, view, axes, wshape, eps, fn):
    out, mean, var = Standardize.apply(input, weight, bias, view=tuple(view), axes=tuple(axes),
                                       wshape=tuple(wshape), eps=float(eps))
    return out, mean, var


def layer_norm(input, normalized_shape, weight=None, bias=None, eps: float = 1e-5):
    r"""Normalise over the last ``len(normalized_shape)`` dims of each sample, then affine.

    Args:
        input: ``(*, *normalized_shape)``.
        normalized_shape: int or tuple, must equal the trailing dims of the input.
        weight, bias: optional, of shape ``normalized_shape`` (elementwise affine).
        eps: added to the variance.

    Shape: output has the input's shape.

    Example::
        >>> F.layer_norm(convnp.tensor([[1.0, 3.0]]), (2,))
        tensor([[-1.0000,  1.0000]])
    """
    fn = "layer_norm"
    if isinstance(normalized_shape, numbers.Integral):
        normalized_shape = (int(normalized_shape),)
    ns = tuple(int(s) for s in normalized_shape)
    k = len(ns)
    if k == 0 or input.ndim < k or tuple(input.shape[input.ndim - k:]) != ns:
        raise RuntimeError(f"{fn}: Given normalized_shape={list(ns)}, expected input with shape "
                           f"[*, {', '.join(map(str, ns))}], but got input of size "
                           f"{list(input.shape)}")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and tuple(t.shape) != ns:
            raise RuntimeError(f"{fn}: '{name}' must have shape {ns} (normalized_shape), got "
                               f"{tuple(t.shape)}")
    nd = input.ndim
    lead = tuple(input.shape[:nd - k])
    view = lead + (int(np.prod(ns)),)
    wshape = (1,) * (nd - k) + ns
    out, _, _ = _standardize(input, weight, bias, view, (len(view) - 1,), wshape, eps, fn)
    return out


def group_norm(input, num_groups: int, weight=None, bias=None, eps: float = 1e-5):
    r"""Normalise each group of ``C / num_groups`` channels of each sample, then per-channel affine.

    Args:
        input: ``(N, C, *)``.
        num_groups: divides ``C``.
        weight, bias: optional ``(C,)``.
        eps: added to the variance.

    Shape: output has the input's shape.

    Example::
        >>> F.group_norm(convnp.randn(2, 4, 3, 3), 2).shape
        (2, 4, 3, 3)
    """
    fn = "group_norm"
    if input.ndim < 2:
        raise RuntimeError(f"{fn}: Expected at least 2 dimensions for input tensor but received "
                           f"{input.ndim}")
    n, c = input.shape[0], input.shape[1]
    if num_groups <= 0 or c % num_groups:
        raise RuntimeError(f"{fn}: Expected number of channels in input to be divisible by "
                           f"num_groups, but got input of shape {list(input.shape)} and "
                           f"num_groups={num_groups}")
    for name, t in (("weight", weight), ("bias", bias)):
        _check_vec(t, c, name, fn)
    view = (n, num_groups, math.prod(input.shape[1:]) // num_groups)  # explicit: n may be 0
    wshape = (1, c) + (1,) * (input.ndim - 2)
    out, _, _ = _standardize(input, weight, bias, view, (2,), wshape, eps, fn)
    return out


def instance_norm(input, running_mean=None, running_var=None, weight=None, bias=None,
                  use_input_stats: bool = True, momentum: float = 0.1, eps: float = 1e-5):
    r"""Normalise each channel of each sample over its spatial axes, then per-channel affine.

    Args:
        input: ``(N, C, *)`` with at least one spatial axis.
        running_mean, running_var: optional ``(C,)``; with ``use_input_stats`` they are updated
            in place with the batch average of the per-instance mean and unbiased variance.
        weight, bias: optional ``(C,)``.
        use_input_stats: normalise with per-instance statistics (True) or the running ones.
        momentum, eps: as in :func:`batch_norm`.

    Shape: output has the input's shape.
    """
    fn = "instance_norm"
    if input.ndim < 3:
        raise ValueError(f"{fn}: expected input of shape (N, C, *) with at least one spatial dim, "
                         f"got shape {tuple(input.shape)}")
    n, c = input.shape[0], input.shape[1]
    for name, t in (("running_mean", running_mean), ("running_var", running_var),
                    ("weight", weight), ("bias", bias)):
        _check_vec(t, c, name, fn)
    if not use_input_stats:
        if running_mean is None or running_var is None:
            raise ValueError(f"{fn}: Expected running_mean and running_var to be defined when "
                             "use_input_stats is false")
        return batch_norm(input, running_mean, running_var, weight, bias, False, momentum, eps)
    m = int(np.prod(input.shape[2:]))
    if m == 1:
        raise ValueError(f"Expected more than 1 spatial element when training, got input size "
                         f"{tuple(input.shape)}")
    view = (n, c, m)
    wshape = (1, c) + (1,) * (input.ndim - 2)
    out, mean, var = _standardize(input, weight, bias, view, (2,), wshape, eps, fn)
    # an empty batch has no statistics: the running ones stay as they are (as batch_norm's)
    if (running_mean is not None or running_var is not None) and n:
        mom = 0.1 if momentum is None else float(momentum)
        _update_running(running_mean, running_var, mean.array.reshape(n, c).mean(0),
                        var.array.reshape(n, c).mean(0), m, mom)
    return out


# ---------------------------------------------------------------- LRN
class LocalResponseNorm(Function):
    half_in_float32 = True

    @staticmethod
    def forward(ctx, x, size=5, alpha=1e-4, beta=0.75, k=1.0):
        dt = x.dtype
        c = x.shape[1]
        lo, hi = size // 2, (size - 1) // 2
        sq = x * x
        pad = np.zeros((x.shape[0], c + lo + hi) + x.shape[2:], dt)
        pad[:, lo:lo + c] = sq
        s = np.zeros_like(x)
        for off in range(size):  # loop over window offsets along the channel axis
            s += pad[:, off:off + c]
        d = dt.type(k) + dt.type(alpha / size) * s
        dpow = d ** dt.type(-beta)
        ctx.save_for_backward(x, d, dpow)
        ctx.size, ctx.alpha, ctx.beta = size, alpha, beta
        return x * dpow

    @staticmethod
    def backward(ctx, g):
        x, d, dpow = ctx.saved_tensors
        dt = x.dtype
        size, c = ctx.size, x.shape[1]
        lo, hi = size // 2, (size - 1) // 2
        # gd = g * d(out)/d(d) = -beta * x * d^(-beta-1); gs = gd * alpha / size
        gs = g * x * dpow / d * dt.type(-ctx.beta * ctx.alpha / size)
        # each s[j] sums sq[j-lo .. j+hi], so sq[i] collects gs[i-hi .. i+lo]
        pad = np.zeros((x.shape[0], c + lo + hi) + x.shape[2:], dt)
        pad[:, hi:hi + c] = gs
        gsq = np.zeros_like(x)
        for off in range(size):
            gsq += pad[:, off:off + c]
        return g * dpow + gsq * 2 * x


def local_response_norm(input, size: int, alpha: float = 1e-4, beta: float = 0.75,
                        k: float = 1.0):
    r"""Local response normalization across channels (AlexNet):
    :math:`b_c = a_c \left(k + \frac{\alpha}{n} \sum_{c'} a_{c'}^2\right)^{-\beta}`, the sum over
    ``size`` neighbouring channels (zero padded).

    Args:
        input: ``(N, C, *)`` with at least 3 dims.
        size: number of neighbouring channels; alpha, beta, k: as in the formula.

    Shape: output has the input's shape.
    """
    if input.ndim < 3:
        raise ValueError(f"Expected 3D or higher dimensionality input (got {input.ndim} "
                         "dimensions)")
    if not isinstance(size, numbers.Integral) or size < 1:
        raise ValueError(f"local_response_norm: 'size' must be a positive int, got {size!r}")
    if input.numel() == 0:
        return input
    return LocalResponseNorm.apply(input, size=int(size), alpha=float(alpha), beta=float(beta),
                                   k=float(k))


# ---------------------------------------------------------------- normalize
class Normalize(Function):
    half_in_float32 = True

    @staticmethod
    def forward(ctx, x, p=2.0, dim=1, eps=1e-12):
        dt = x.dtype
        ax = np.abs(x)
        if p == 2:
            n = np.sqrt((x * x).sum(axis=dim, keepdims=True))
        elif p == 1:
            n = ax.sum(axis=dim, keepdims=True)
        elif np.isinf(p):
            n = ax.max(axis=dim, keepdims=True) if p > 0 else ax.min(axis=dim, keepdims=True)
        else:
            n = (ax ** dt.type(p)).sum(axis=dim, keepdims=True) ** dt.type(1 / p)
        den = np.maximum(n, dt.type(eps))
        ctx.save_for_backward(x, n, den)
        ctx.p, ctx.dim, ctx.eps = p, dim, eps
        return x / den

    @staticmethod
    def backward(ctx, g):
        x, n, den = ctx.saved_tensors
        p, dim = ctx.p, ctx.dim
        dt = x.dtype
        gx = g / den
        # through the norm, where it is above eps: d(x/n)/dn = -x/n^2, dn/dx_i below
        s = (g * x).sum(axis=dim, keepdims=True) / (den * den) * (n > ctx.eps)
        with np.errstate(divide="ignore", invalid="ignore"):
            if p == 2:
                dn = np.where(n > 0, x / n, 0)
            elif p == 1:
                dn = np.sign(x)
            elif np.isinf(p):
                ax = np.abs(x)
                hit = ax == n
                dn = np.sign(x) * hit / np.maximum(hit.sum(axis=dim, keepdims=True), 1)
            else:
                dn = np.where(n > 0, np.sign(x) * (np.abs(x) / n) ** dt.type(p - 1), 0)
        return (gx - s * dn).astype(dt, copy=False)


def normalize(input, p: float = 2.0, dim: int = 1, eps: float = 1e-12, out=None):
    r""":math:`v / \max(\lVert v \rVert_p, \epsilon)` along ``dim``.

    Args:
        input: any shape.
        p: the norm's exponent (default 2). dim: the reduced axis (default 1). eps: floor of the
            norm, avoids division by zero.

    Shape: output has the input's shape.

    Example::
        >>> F.normalize(convnp.tensor([[3.0, 4.0]]))
        tensor([[0.6000, 0.8000]])
    """
    if out is not None:
        raise ValueError("normalize: 'out=' is not supported by convnp (it returns a new tensor)")
    nd = input.ndim
    if not -max(nd, 1) <= dim < max(nd, 1):
        raise IndexError(f"normalize: Dimension out of range (expected to be in range of "
                         f"[{-max(nd, 1)}, {max(nd, 1) - 1}], but got {dim})")
    return Normalize.apply(input, p=float(p), dim=dim % max(nd, 1) if nd else None,
                           eps=float(eps))
