"""Activation functions: forward and backward side by side (``torch.nn.functional`` names).

``inplace=True`` is accepted everywhere torch accepts it, but convnp computes out of place and
returns a new tensor: autograd on NumPy arrays never mutates an array another node may have saved.
Gradients at kinks follow PyTorch (e.g. relu'(0) = 0, hardtanh' = 0 at the clip values).
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from convnp import _autocast, backend
from convnp._dtype import is_floating
from convnp.autograd.function import Function
from convnp.ops.elementwise import Sigmoid, Tanh, _sigmoid
from convnp.tensor import Tensor

__all__ = ["relu", "relu_", "relu6", "leaky_relu", "leaky_relu_", "prelu", "elu", "elu_", "selu",
           "celu", "gelu", "silu", "mish", "hardswish", "hardsigmoid", "hardtanh", "hardtanh_",
           "softplus", "softsign", "tanhshrink", "hardshrink", "softshrink", "logsigmoid",
           "softmax", "log_softmax", "softmin", "threshold", "threshold_"]
# sigmoid and tanh are defined below for the Sigmoid/Tanh layers; nn.functional takes them from
# convnp.ops.elementwise (same Functions)

_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def _float_array(a: np.ndarray, fn: str) -> None:
    if not is_floating(a.dtype):
        raise TypeError(f"{fn}: expected a floating point input, got dtype {a.dtype}")


def _c(value, like: np.ndarray):
    """A Python scalar as a 0-d array of the input's dtype (keeps float32 float32)."""
    return np.asarray(value, dtype=like.dtype)


# ---------------------------------------------------------------- relu
# NumPy's ufuncs run on one core; on large maps the compiled kernels below use every core and
# fuse the backward's mask and multiply into one pass (no boolean temporary). Small arrays run
# the serial twin (convnp.backend), the NumPy expressions stay the reference path. The kernels
# see flat memory: any dense layout (C order, channels-last, any axis permutation) is walked as
# one run; a gradient in another layout (a transpose's, a broadcast's zero strides) is copied
# once into the saved output's layout and masked in place.
_BLOCK = 1 << 14  # elements per parallel job: long contiguous runs that vectorise


@backend.jit(parallel=True)
def _relu_fwd_nb(x, out):  # pragma: no cover - compiled
    n = x.size
    for j in _prange((n + _BLOCK - 1) // _BLOCK):
        lo, hi = j * _BLOCK, min(n, (j + 1) * _BLOCK)
        xs, os = x[lo:hi], out[lo:hi]  # block views: the compiler sees no aliasing, vectorises
        for i in range(hi - lo):
            v = xs[i]
            os[i] = v if not v <= 0 else 0  # NaN passes through, as in torch


@backend.jit(parallel=True)
def _relu_bwd_nb(g, out, gx):  # pragma: no cover - compiled
    n = g.size
    for j in _prange((n + _BLOCK - 1) // _BLOCK):
        lo, hi = j * _BLOCK, min(n, (j + 1) * _BLOCK)
        gs, os, gxs = g[lo:hi], out[lo:hi], gx[lo:hi]
        for i in range(hi - lo):
            gxs[i] = gs[i] if os[i] > 0 else 0  # a select, not a branch (10x on random signs)


@backend.jit(parallel=True)
def _relu_mask_nb(gx, out):  # pragma: no cover - compiled
    """``_relu_bwd_nb`` in place on gx (one array argument: a g that aliased gx would fail the
    compiler's overlap check and run the scalar, branching loop)."""
    n = gx.size
    for j in _prange((n + _BLOCK - 1) // _BLOCK):
        lo, hi = j * _BLOCK, min(n, (j + 1) * _BLOCK)
        os, gxs = out[lo:hi], gx[lo:hi]
        for i in range(hi - lo):
            gxs[i] = gxs[i] if os[i] > 0 else 0


@backend.jit(parallel=True)
def _clip_bwd_nb(g, a, lo_v, hi_v, gx):  # pragma: no cover - compiled
    """gx = g where lo < a < hi, else 0 (hardtanh, relu6); 0 also for NaN a or g, as torch."""
    n = g.size
    for j in _prange((n + _BLOCK - 1) // _BLOCK):
        lo, hi = j * _BLOCK, min(n, (j + 1) * _BLOCK)
        gs, as_, gxs = g[lo:hi], a[lo:hi], gx[lo:hi]
        for i in range(hi - lo):
            v = as_[i]
            gxs[i] = gs[i] if (v > lo_v) & (v < hi_v) else 0


@backend.jit(parallel=True)
def _clip_mask_nb(gx, a, lo_v, hi_v):  # pragma: no cover - compiled
    """``_clip_bwd_nb`` in place on gx (see ``_relu_mask_nb``)."""
    n = gx.size
    for j in _prange((n + _BLOCK - 1) // _BLOCK):
        lo, hi = j * _BLOCK, min(n, (j + 1) * _BLOCK)
        as_, gxs = a[lo:hi], gx[lo:hi]
        for i in range(hi - lo):
            v = as_[i]
            gxs[i] = gxs[i] if (v > lo_v) & (v < hi_v) else 0


@backend.jit(parallel=True)
def _leaky_fwd_nb(x, slope, out):  # pragma: no cover - compiled
    """out = x where x > 0, else x * slope (NaN stays NaN, as torch)."""
    n = x.size
    for j in _prange((n + _BLOCK - 1) // _BLOCK):
        lo, hi = j * _BLOCK, min(n, (j + 1) * _BLOCK)
        xs, os = x[lo:hi], out[lo:hi]
        for i in range(hi - lo):
            v = xs[i]
            os[i] = v if v > 0 else v * slope


@backend.jit(parallel=True)
def _leaky_bwd_nb(g, a, slope, gx):  # pragma: no cover - compiled
    """gx = g where the input a > 0, else g * slope (torch's rule, on the input)."""
    n = g.size
    for j in _prange((n + _BLOCK - 1) // _BLOCK):
        lo, hi = j * _BLOCK, min(n, (j + 1) * _BLOCK)
        gs, as_, gxs = g[lo:hi], a[lo:hi], gx[lo:hi]
        for i in range(hi - lo):
            v = gs[i]
            gxs[i] = v if as_[i] > 0 else v * slope


@backend.jit(parallel=True)
def _leaky_mask_nb(gx, a, slope):  # pragma: no cover - compiled
    """``_leaky_bwd_nb`` in place on gx (see ``_relu_mask_nb``)."""
    n = gx.size
    for j in _prange((n + _BLOCK - 1) // _BLOCK):
        lo, hi = j * _BLOCK, min(n, (j + 1) * _BLOCK)
        as_, gxs = a[lo:hi], gx[lo:hi]
        for i in range(hi - lo):
            v = gxs[i]
            gxs[i] = v if as_[i] > 0 else v * slope


@backend.jit(parallel=True)
def _act_inplace_nb(x, kind, p, q):  # pragma: no cover - compiled
    """x = act(x) in place: kind 0 ReLU, 1 clamp to [p, q] (ReLU6, Hardtanh), 2 leaky ReLU
    with slope p. NaN stays NaN. One array argument, so the loops vectorize."""
    n = x.size
    for j in _prange((n + _BLOCK - 1) // _BLOCK):
        lo, hi = j * _BLOCK, min(n, (j + 1) * _BLOCK)
        xs = x[lo:hi]
        if kind == 0:
            for i in range(hi - lo):
                v = xs[i]
                xs[i] = v if not v <= 0 else 0
        elif kind == 1:
            for i in range(hi - lo):
                v = xs[i]
                xs[i] = p if v < p else (q if v > q else v)
        else:
            for i in range(hi - lo):
                v = xs[i]
                xs[i] = v if v > 0 else v * p


@backend.jit(parallel=True)
def _bias_act_nb(y, b, kind, p, q):  # pragma: no cover - compiled
    """y[n, c, :] = act(y[n, c, :] + b[c]) in place, ``act`` as in ``_act_inplace_nb``."""
    N, C, S = y.shape
    for r in _prange(N * C):
        n = r // C
        c = r - n * C
        row = y[n, c]
        bc = b[c]
        if kind == 0:
            for i in range(S):
                v = row[np.uintp(i)] + bc
                row[np.uintp(i)] = v if not v <= 0 else 0
        elif kind == 1:
            for i in range(S):
                v = row[np.uintp(i)] + bc
                row[np.uintp(i)] = p if v < p else (q if v > q else v)
        else:
            for i in range(S):
                v = row[np.uintp(i)] + bc
                row[np.uintp(i)] = v if v > 0 else v * p


_prange = backend.prange  # numba.prange in the compiled kernels


_NB_FLOATS = backend.COMPILED_FLOATS


def _flat(*arrays):
    """1-d views of arrays of one shape, dtype and strides whose memory is one dense run (in
    some axis order); None when there is none, Numba is off or the dtype is not float32/64."""
    a0 = arrays[0]
    dt, shape, strides = a0.dtype, a0.shape, a0.strides
    if dt not in _NB_FLOATS or not backend.use_numba():
        return None
    for a in arrays:
        if a.dtype != dt or a.shape != shape or a.strides != strides:
            return None
    if a0.flags.c_contiguous:
        return [a.ravel() for a in arrays]  # views: every array has a0's (C-order) strides
    order = np.argsort([-abs(st) for st in a0.strides], kind="stable")
    if not a0.transpose(order).flags.c_contiguous:
        return None
    return [a.transpose(order).reshape(-1) for a in arrays]


def _masked_grad(g, saved, kernel, in_place, *args):
    """Run ``kernel(g, saved, *args, gx)`` on flat memory in ``saved``'s layout (or, for a g in
    another layout, copy g into gx and run ``in_place(gx, saved, *args)``); None when the
    compiled kernels do not take ``saved``."""
    gx = np.empty_like(saved)  # keeps a dense input's layout
    views = _flat(saved, gx)
    if views is None or g.dtype != saved.dtype:
        return None
    gv = _flat(g, saved)
    if gv is None:
        np.copyto(gx, g)  # once, into the output's layout; then masked in place
        in_place(views[1], views[0], *args)
    else:
        kernel(gv[0], views[0], *args, views[1])
    return gx


class ReLU(Function):
    @staticmethod
    def forward(ctx, a):
        out = np.empty_like(a)  # in a dense input's layout (np.empty_like keeps it)
        views = _flat(a, out)
        if views is not None and a.size:
            _relu_fwd_nb(*views)
        else:
            np.maximum(a, _c(0, a), out=out)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved_tensors
        gx = _masked_grad(g, out, _relu_bwd_nb, _relu_mask_nb) if out.size else None
        if gx is not None:
            return gx
        return np.where(out > 0, g, _c(0, g))  # as torch: 0 where the output is 0, even for NaN g


class Hardtanh(Function):
    @staticmethod
    def forward(ctx, a, min_val=-1.0, max_val=1.0):
        ctx.save_for_backward(a)
        ctx.lo, ctx.hi = min_val, max_val
        return np.clip(a, _c(min_val, a), _c(max_val, a))

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        gx = None
        if a.size:
            lo, hi = a.dtype.type(ctx.lo), a.dtype.type(ctx.hi)
            gx = _masked_grad(g, a, _clip_bwd_nb, _clip_mask_nb, lo, hi)
        if gx is not None:
            return gx
        # as torch: 0 outside (lo, hi) even for NaN g
        return np.where((a > ctx.lo) & (a < ctx.hi), g, _c(0, g))


class LeakyReLU(Function):
    @staticmethod
    def forward(ctx, a, slope=0.01):
        ctx.save_for_backward(a)
        ctx.slope = slope
        out = np.empty_like(a)
        views = _flat(a, out)
        if views is not None and a.size:
            _leaky_fwd_nb(views[0], _c(slope, a), views[1])
            return out
        return np.where(a > 0, a, a * _c(slope, a))

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        if a.size:
            gx = _masked_grad(g, a, _leaky_bwd_nb, _leaky_mask_nb, _c(ctx.slope, a))
            if gx is not None:
                return gx
        return np.where(a > 0, g, g * _c(ctx.slope, g))


_ACT_KINDS = {"relu": 0, "clamp": 1, "leaky": 2}


def activate_(a: np.ndarray, kind: str, p: float = 0.0, q: float = 0.0) -> None:
    """Apply an activation to ``a`` in place (a fresh array nobody else holds): ``"relu"``,
    ``"clamp"`` to [p, q] (ReLU6, Hardtanh) or ``"leaky"`` with slope p; the compiled kernel
    on dense float32/64 memory, NumPy otherwise (inference fusion, nn/_fusion.py)."""
    if a.flags.c_contiguous and a.dtype in _NB_FLOATS and a.size and backend.use_numba():
        views = [a.reshape(-1)]  # the fresh convolution outputs fusion hands over
    else:
        views = _flat(a)
    if views is not None and a.size:
        t = a.dtype.type
        _act_inplace_nb(views[0], _ACT_KINDS[kind], t(p), t(q))
    elif kind == "relu":
        np.maximum(a, _c(0, a), out=a)
    elif kind == "clamp":
        np.clip(a, _c(p, a), _c(q, a), out=a)
    else:
        np.copyto(a, a * _c(p, a), where=~(a > 0))


def bias_activate_(a: np.ndarray, bias: np.ndarray, kind: str, p: float = 0.0,
                   q: float = 0.0) -> bool:
    """``activate_(a + bias)`` in one compiled pass over a fresh C-contiguous (N, C, ...) array
    (``bias``: C values of its dtype); False, touching nothing, where that kernel cannot run."""
    if not (a.flags.c_contiguous and a.dtype in _NB_FLOATS and a.ndim >= 2
            and bias.dtype == a.dtype and bias.shape == (a.shape[1],) and backend.use_numba()):
        return False
    if a.size == 0:
        return True
    t = a.dtype.type
    _bias_act_nb(a.reshape(a.shape[0], a.shape[1], -1), np.ascontiguousarray(bias),
                 _ACT_KINDS[kind], t(p), t(q))
    return True


class PReLU(Function):
    @staticmethod
    def forward(ctx, a, w):
        # weight broadcast along the channel axis (dim 1), or a single shared value
        shape = [1] * a.ndim
        if a.ndim >= 2 and w.size > 1:
            shape[1] = w.size
        wv = w.reshape(shape) if a.ndim else w.reshape(())
        ctx.save_for_backward(a, wv)
        ctx.wshape = w.shape
        return np.where(a > 0, a, a * wv)

    @staticmethod
    def backward(ctx, g):
        a, wv = ctx.saved_tensors
        ga = np.where(a > 0, g, g * wv) if ctx.needs_input_grad[0] else None
        gw = None
        if ctx.needs_input_grad[1]:
            contrib = np.where(a > 0, 0, g * a)
            axes = tuple(i for i in range(a.ndim) if not (wv.ndim and wv.shape[i] > 1))
            gw = contrib.sum(axis=axes).reshape(ctx.wshape)
        return ga, gw


class ELU(Function):
    """elu / selu / celu: ``scale * (x if x > 0 else alpha * (exp(x / input_scale) - 1))``."""

    @staticmethod
    def forward(ctx, a, alpha=1.0, scale=1.0, input_scale=1.0):
        neg = np.expm1(np.minimum(a, 0) * _c(input_scale, a))
        ctx.save_for_backward(a, neg)
        ctx.alpha, ctx.scale, ctx.input_scale = alpha, scale, input_scale
        return np.where(a > 0, a * _c(scale, a), neg * _c(alpha * scale, a))

    @staticmethod
    def backward(ctx, g):
        a, neg = ctx.saved_tensors
        k = ctx.alpha * ctx.scale * ctx.input_scale
        # d/dx alpha*(exp(x*s)-1) = alpha*s*exp(x*s) = alpha*s*(neg+1)
        return np.where(a > 0, g * _c(ctx.scale, g), g * (neg + 1) * _c(k, g))


class GELU(Function):
    @staticmethod
    def forward(ctx, a, approximate="none"):
        ctx.approximate = approximate
        if approximate == "tanh":
            k = _c(math.sqrt(2.0 / math.pi), a)
            inner = k * (a + _c(0.044715, a) * a * a * a)
            t = np.tanh(inner)
            ctx.save_for_backward(a, t)
            return _c(0.5, a) * a * (1 + t)
        from scipy.special import erf

        cdf = (_c(0.5, a) * (1 + erf(a * _c(1 / math.sqrt(2.0), a)))).astype(a.dtype, copy=False)
        ctx.save_for_backward(a, cdf)
        return a * cdf

    @staticmethod
    def backward(ctx, g):
        a, aux = ctx.saved_tensors
        if ctx.approximate == "tanh":
            t = aux
            k = math.sqrt(2.0 / math.pi)
            dinner = _c(k, a) * (1 + _c(3 * 0.044715, a) * a * a)
            d = _c(0.5, a) * (1 + t) + _c(0.5, a) * a * (1 - t * t) * dinner
            return g * d
        pdf = np.exp(_c(-0.5, a) * a * a) * _c(1 / math.sqrt(2 * math.pi), a)
        return g * (aux + a * pdf)


class SiLU(Function):
    @staticmethod
    def forward(ctx, a):
        s = _sigmoid(a)
        ctx.save_for_backward(a, s)
        return a * s

    @staticmethod
    def backward(ctx, g):
        a, s = ctx.saved_tensors
        return g * s * (1 + a * (1 - s))


def _softplus(a: np.ndarray) -> np.ndarray:
    """log(1 + exp(a)) without overflow."""
    return np.maximum(a, 0) + np.log1p(np.exp(-np.abs(a)))


class Mish(Function):
    @staticmethod
    def forward(ctx, a):
        t = np.tanh(_softplus(a))
        ctx.save_for_backward(a, t)
        return a * t

    @staticmethod
    def backward(ctx, g):
        a, t = ctx.saved_tensors
        return g * (t + a * _sigmoid(a) * (1 - t * t))


class Hardswish(Function):
    half_in_float32 = True  # NumPy's clip with Python bounds widens bfloat16

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return a * np.clip(a + 3, 0, 6) / _c(6, a)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        # torch: 0 for x <= -3, (2x + 3) / 6 for -3 < x < 3, 1 from 3 on
        mid = g * (a / _c(3, a) + _c(0.5, a))
        return np.where(a <= -3, 0, np.where(a < 3, mid, g)).astype(g.dtype, copy=False)


class Hardsigmoid(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return np.clip(a + 3, 0, 6) / _c(6, a)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        # torch multiplies by the float literal 1.0f/6.0f, also for float64
        return g * ((a > -3) & (a < 3)) * _c(np.float32(1.0) / np.float32(6.0), g)


class Softplus(Function):
    @staticmethod
    def forward(ctx, a, beta=1.0, threshold=20.0):
        z = a * _c(beta, a)
        linear = z > threshold
        ctx.save_for_backward(z, linear)
        return np.where(linear, a, _softplus(z) / _c(beta, a))

    @staticmethod
    def backward(ctx, g):
        z, linear = ctx.saved_tensors
        return np.where(linear, g, g * _sigmoid(z))


class Softsign(Function):
    @staticmethod
    def forward(ctx, a):
        d = 1 + np.abs(a)
        ctx.save_for_backward(d)
        return a / d

    @staticmethod
    def backward(ctx, g):
        (d,) = ctx.saved_tensors
        return g / (d * d)


class Tanhshrink(Function):
    @staticmethod
    def forward(ctx, a):
        t = np.tanh(a)
        ctx.save_for_backward(t)
        return a - t

    @staticmethod
    def backward(ctx, g):
        (t,) = ctx.saved_tensors
        return g * t * t


class Shrink(Function):
    """hardshrink (soft=False) and softshrink (soft=True)."""

    @staticmethod
    def forward(ctx, a, lambd=0.5, soft=False):
        keep = (a > lambd) | (a < -lambd)
        ctx.save_for_backward(keep)
        if soft:
            return np.where(keep, a - np.sign(a) * _c(lambd, a), _c(0, a))
        return np.where(keep, a, _c(0, a))

    @staticmethod
    def backward(ctx, g):
        (keep,) = ctx.saved_tensors
        return g * keep


class LogSigmoid(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return np.minimum(a, 0) - np.log1p(np.exp(-np.abs(a)))

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        return g * _sigmoid(-a)


class Threshold(Function):
    @staticmethod
    def forward(ctx, a, threshold=0.0, value=0.0):
        keep = a > threshold
        ctx.save_for_backward(keep)
        return np.where(keep, a, _c(value, a))

    @staticmethod
    def backward(ctx, g):
        (keep,) = ctx.saved_tensors
        return g * keep


class Softmax(Function):
    half_in_float32 = True  # sums over dim in float32, as torch's CPU kernels for 16-bit floats

    @staticmethod
    def forward(ctx, a, dim, log=False, negate=False):
        x = -a if negate else a
        z = x - x.max(axis=dim, keepdims=True)
        ez = np.exp(z)
        s = ez.sum(axis=dim, keepdims=True)
        ctx.dim, ctx.log, ctx.negate = dim, log, negate
        if log:
            out = z - np.log(s)
            ctx.save_for_backward(out)
            return out
        out = ez / s
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved_tensors
        if ctx.log:
            gx = g - np.exp(out) * g.sum(axis=ctx.dim, keepdims=True)
        else:
            gx = out * (g - (g * out).sum(axis=ctx.dim, keepdims=True))
        return -gx if ctx.negate else gx


# ---------------------------------------------------------------- helpers
def _check(input, fn: str, floats: bool = True):
    if not isinstance(input, Tensor):
        raise TypeError(f"{fn}: 'input' must be a convnp Tensor, got {type(input).__name__}")
    if floats:
        _float_array(input.array, fn)
    return input


def _get_softmax_dim(name: str, ndim: int) -> int:
    warnings.warn(f"Implicit dimension choice for {name} has been deprecated. Change the call to "
                  "include dim=X as an argument.", UserWarning, stacklevel=4)
    return 0 if ndim in (0, 1, 3) else 1


def _softmax_dim(input, dim, name: str) -> int:
    nd = input.ndim
    if dim is None:
        dim = _get_softmax_dim(name, nd)
    if not isinstance(dim, (int, np.integer)) or isinstance(dim, bool):
        raise TypeError(f"{name}: 'dim' must be an int, got {dim!r}")
    lo, hi = (-1, 0) if nd == 0 else (-nd, nd - 1)
    if not lo <= dim <= hi:
        raise IndexError(f"{name}: Dimension out of range (expected to be in range of [{lo}, {hi}],"
                         f" but got {dim})")
    return int(dim) % max(nd, 1) if nd else None


def _cast(input, dtype):
    if dtype is None:
        return input
    return input.to(dtype)


# ---------------------------------------------------------------- API
def relu(input, inplace: bool = False):
    r"""Rectified linear unit, elementwise: :math:`\max(0, x)`.

    Args:
        input: any shape.
        inplace: accepted for PyTorch compatibility; convnp returns a new tensor.

    Shape: output has the input's shape.

    Example::
        >>> F.relu(convnp.tensor([-1.0, 2.0]))
        tensor([0., 2.])
    """
    return ReLU.apply(_check(input, "relu", floats=False))  # integers allowed, as in torch


def relu_(input):
    """Out-of-place in convnp (see module docstring); returns ``relu(input)``."""
    return relu(input)


def relu6(input, inplace: bool = False):
    r""":math:`\min(\max(0, x), 6)` elementwise (``hardtanh(x, 0, 6)``). Shape: unchanged."""
    return Hardtanh.apply(_check(input, "relu6"), min_val=0.0, max_val=6.0)


def hardtanh(input, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False):
    r"""Clip to ``[min_val, max_val]``; gradient 1 strictly inside, 0 elsewhere. Shape: unchanged.

    Example::
        >>> F.hardtanh(convnp.tensor([-2.0, 0.5, 3.0]))
        tensor([-1.0000,  0.5000,  1.0000])
    """
    if min_val > max_val:
        raise ValueError(f"hardtanh: min_val ({min_val}) cannot be greater than max_val "
                         f"({max_val})")
    return Hardtanh.apply(_check(input, "hardtanh"), min_val=float(min_val), max_val=float(max_val))


def hardtanh_(input, min_val: float = -1.0, max_val: float = 1.0):
    return hardtanh(input, min_val, max_val)


def leaky_relu(input, negative_slope: float = 0.01, inplace: bool = False):
    r""":math:`x` if :math:`x > 0` else ``negative_slope * x``. Shape: unchanged.

    Example::
        >>> F.leaky_relu(convnp.tensor([-1.0, 2.0]), 0.1)
        tensor([-0.1000,  2.0000])
    """
    return LeakyReLU.apply(_check(input, "leaky_relu"), slope=float(negative_slope))


def leaky_relu_(input, negative_slope: float = 0.01):
    return leaky_relu(input, negative_slope)


@_autocast.lower
def prelu(input, weight):
    r"""Parametric ReLU: :math:`x` if :math:`x > 0` else ``weight[c] * x``.

    Args:
        input: ``(N, C, *)``; for inputs with fewer than 2 dims there is no channel axis.
        weight: 1-D, either one value shared by all channels or ``C`` values (channel = dim 1).

    Shape: output has the input's shape.
    """
    _check(input, "prelu")
    w = weight.array if hasattr(weight, "array") else np.asarray(weight)
    if w.ndim > 1:
        raise ValueError(f"prelu: 'weight' must be 1-D (or a scalar), got shape {tuple(w.shape)}")
    if w.size != 1:
        channels = input.shape[1] if input.ndim >= 2 else 1
        if input.ndim < 2 or w.size != channels:
            raise ValueError(f"prelu: mismatch of parameter numbers and input channel size: weight "
                             f"has {w.size} values but input of shape {tuple(input.shape)} has "
                             f"{channels} channels (dim 1); use 1 or {channels} parameters")
    return PReLU.apply(input, weight)


def elu(input, alpha: float = 1.0, inplace: bool = False):
    r""":math:`x` if :math:`x > 0` else :math:`\alpha (e^x - 1)`. Shape: unchanged."""
    return ELU.apply(_check(input, "elu"), alpha=float(alpha))


def elu_(input, alpha: float = 1.0):
    return elu(input, alpha)


def selu(input, inplace: bool = False):
    r"""``scale * elu(x, alpha)`` with SELU's fixed alpha ~1.6733 and scale ~1.0507."""
    return ELU.apply(_check(input, "selu"), alpha=_SELU_ALPHA, scale=_SELU_SCALE)


def celu(input, alpha: float = 1.0, inplace: bool = False):
    r""":math:`\max(0, x) + \min(0, \alpha (e^{x/\alpha} - 1))`. Shape: unchanged."""
    if alpha == 0:
        raise ValueError("celu: 'alpha' must not be 0 (ZeroDivisionError in x / alpha)")
    return ELU.apply(_check(input, "celu"), alpha=float(alpha), input_scale=1.0 / alpha)


def gelu(input, approximate: str = "none"):
    r"""Gaussian error linear unit :math:`x \Phi(x)`; ``approximate='tanh'`` uses
    :math:`0.5x(1 + \tanh(\sqrt{2/\pi}(x + 0.044715x^3)))`. Shape: unchanged."""
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: 'approximate' must be 'none' or 'tanh', got {approximate!r}")
    return GELU.apply(_check(input, "gelu"), approximate=approximate)


def softplus(input, beta: float = 1.0, threshold: float = 20.0):
    r""":math:`\frac{1}{\beta}\log(1 + e^{\beta x})`, linear where :math:`\beta x > threshold`."""
    return Softplus.apply(_check(input, "softplus"), beta=float(beta), threshold=float(threshold))


def hardshrink(input, lambd: float = 0.5):
    r""":math:`x` where :math:`|x| > \lambda`, else 0. Shape: unchanged."""
    return Shrink.apply(_check(input, "hardshrink"), lambd=float(lambd), soft=False)


def softshrink(input, lambd: float = 0.5):
    r""":math:`x - \lambda\,\mathrm{sign}(x)` where :math:`|x| > \lambda`, else 0."""
    if lambd < 0:
        raise ValueError(f"softshrink: lambda must be greater or equal to 0, but found to be "
                         f"{lambd}.")
    return Shrink.apply(_check(input, "softshrink"), lambd=float(lambd), soft=True)


def threshold(input, threshold: float, value: float, inplace: bool = False):
    r""":math:`x` if :math:`x > threshold` else ``value``. Shape: unchanged."""
    return Threshold.apply(_check(input, "threshold"), threshold=float(threshold),
                           value=float(value))


def threshold_(input, threshold: float, value: float):
    return globals()["threshold"](input, threshold, value)


def softmax(input, dim: int | None = None, _stacklevel: int = 3, dtype=None):
    r""":math:`e^{x_i} / \sum_j e^{x_j}` along ``dim`` (max-subtracted, so no overflow).

    Args:
        input: any shape.
        dim: the axis that sums to 1. ``None`` applies PyTorch's deprecated implicit rule
            (dim 0 for 0-, 1- and 3-d inputs, else 1) with a warning.
        dtype: cast the input to this dtype first.

    Example::
        >>> F.softmax(convnp.tensor([[1.0, 1.0]]), dim=1)
        tensor([[0.5000, 0.5000]])
    """
    input = _cast(_check(input, "softmax"), dtype)
    d = _softmax_dim(input, dim, "softmax")
    return Softmax.apply(input, dim=d)


def softmin(input, dim: int | None = None, _stacklevel: int = 3, dtype=None):
    r"""``softmax(-input, dim)``."""
    input = _cast(_check(input, "softmin"), dtype)
    d = _softmax_dim(input, dim, "softmin")
    return Softmax.apply(input, dim=d, negate=True)


def log_softmax(input, dim: int | None = None, _stacklevel: int = 3, dtype=None):
    r""":math:`x_i - \log\sum_j e^{x_j}` along ``dim`` (stable; prefer it to log(softmax))."""
    input = _cast(_check(input, "log_softmax"), dtype)
    d = _softmax_dim(input, dim, "log_softmax")
    return Softmax.apply(input, dim=d, log=True)


def _activation(fn_cls, name: str, inplace: bool, doc: str):
    """A pointwise activation's functional form: the input checked, then ``fn_cls``; torch's
    ``inplace`` argument is accepted where torch has one (the result is a new tensor)."""
    if inplace:
        def fn(input, inplace: bool = False):
            return fn_cls.apply(_check(input, name))
    else:
        def fn(input):
            return fn_cls.apply(_check(input, name))
    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = doc
    return fn


silu = _activation(SiLU, "silu", True,
                   r"""Sigmoid linear unit (swish): :math:`x \sigma(x)`. Shape: unchanged.""")
mish = _activation(Mish, "mish", True,
                   r""":math:`x \tanh(\mathrm{softplus}(x))`. Shape: unchanged.""")
hardswish = _activation(Hardswish, "hardswish", True,
                        r""":math:`x \cdot \mathrm{relu6}(x + 3) / 6`. Shape: unchanged.""")
hardsigmoid = _activation(Hardsigmoid, "hardsigmoid", True,
                          r""":math:`\mathrm{relu6}(x + 3) / 6`. Shape: unchanged.""")
softsign = _activation(Softsign, "softsign", False,
                       r""":math:`x / (1 + |x|)`. Shape: unchanged.""")
tanhshrink = _activation(Tanhshrink, "tanhshrink", False,
                         r""":math:`x - \tanh(x)`. Shape: unchanged.""")
logsigmoid = _activation(LogSigmoid, "logsigmoid", False,
                         r""":math:`\log \sigma(x) = -\mathrm{softplus}(-x)`, computed without
    overflow.""")
sigmoid = _activation(Sigmoid, "sigmoid", False,
                      r""":math:`1 / (1 + e^{-x})`, computed without overflow.""")
tanh = _activation(Tanh, "tanh", False,
                   r"""Hyperbolic tangent, elementwise.""")
