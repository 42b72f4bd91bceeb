"""Convolution: one N-d core for conv1d/2d/3d and conv_transpose1d/2d/3d, forward and backward.

What a convolution computes is written here once, as the reference: pad once, loop over the
kernel offsets, one GEMM (``reference_fwd``; its input gradient ``reference_bwd_data`` scatters
the same windows back, ``reference_bwd_weight`` contracts them with the output gradient). All
three work on a *zero*-padded input; the Functions below run them through
``convnp.kernels.conv`` (whose ``select`` picks a fast kernel per call, each tested against this
reference) and the duals reuse each other: the transposed convolution's forward is the input
gradient, its input gradient is the forward.

Padding modes other than zeros are applied by composition, as torch's ``_conv_forward`` does:
``convnp.ops.padding.pad_nd`` first, then a zero-padded convolution, and the exact adjoint
``pad_nd_backward`` after the transposed one, so the transposed conv with e.g. reflect padding is
the exact adjoint of the reflect-padded conv. The modes are ``convnp.ops.padding``'s list.

Cross-correlation vs convolution: like PyTorch, ``conv*d`` computes the cross-correlation
``y[o, i] = sum_{c, k} w[o, c, k] * x[c, i*s + k*d]``. With ``flip=True`` the kernel is flipped
along every spatial axis first, which gives the true convolution of the slides
``y[o, i] = sum_{c, k} w[o, c, k] * x[c, i - k]`` (up to the padding offset).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from convnp import _autocast, _blas
from convnp._dtype import is_floating
from convnp.autograd import function as _function
from convnp.autograd.function import Function
from convnp.autograd.grad_mode import _state as _grad_state
from convnp.kernels.conv import dispatch as _dispatch
from convnp.kernels.conv._common import _flip, _no_pad
from convnp.ops import _shape, _window
from convnp.ops import padding as _padding
from convnp.ops._checked_calls import CheckedCalls
from convnp.tensor import Tensor

__all__ = ["conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
           "conv_transpose3d", "convnd", "conv_transposend"]

# 'zeros' plus every non-constant mode of convnp.ops.padding
PADDING_MODES = _padding.CONV_PADDING_MODES

# the engine's entry points: zero-padded conv, its input gradient, its weight gradient
_conv_fwd = _dispatch.conv_fwd
_conv_bwd_data = _dispatch.conv_bwd_data
_conv_bwd_weight = _dispatch.conv_bwd_weight


# ---------------------------------------------------------------------------------------------
# the reference: pad once, loop over kernel offsets, one GEMM
# ---------------------------------------------------------------------------------------------
def _windows(xp, k, s, d, out_sp, groups) -> np.ndarray:
    """(N, g, Cg*K, P) values of the padded ``xp`` (N, C, *Sp) under every kernel tap (im2col)."""
    N, C = xp.shape[:2]
    K, P = math.prod(k), math.prod(out_sp)
    cols = np.empty((N, C, K, P), xp.dtype)
    for j, _, idx in _window.taps(k, s, d, out_sp):
        cols[:, :, j] = xp[idx].reshape(N, C, P)
    return cols.reshape(N, groups, (C // groups) * K, P)


def reference_fwd(x, w, pads, s, d, groups) -> np.ndarray:
    """Zero-padded cross-correlation: x (N, C, *sp), w (O, C/g, *k) -> (N, O, *out)."""
    O, k = w.shape[0], w.shape[2:]
    xp = _padding.pad_nd(x, pads, "constant")
    out_sp = tuple((n - d[i] * (k[i] - 1) - 1) // s[i] + 1 for i, n in enumerate(xp.shape[2:]))
    cols = _windows(xp, k, s, d, out_sp, groups)  # (N, g, Cg*K, P)
    y = np.matmul(w.reshape(groups, O // groups, -1), cols)  # (N, g, Og, P)
    return y.reshape(x.shape[0], O, *out_sp)


def reference_bwd_data(gy, w, x_shape, pads, s, d, groups) -> np.ndarray:
    """Adjoint of ``reference_fwd`` w.r.t. x: the GEMM w^T gy, each tap's rows added back."""
    N, C = x_shape[:2]
    O, k, out_sp = w.shape[0], w.shape[2:], gy.shape[2:]
    K, P = math.prod(k), math.prod(out_sp)
    wt = w.reshape(groups, O // groups, -1).transpose(0, 2, 1)  # (g, Cg*K, Og)
    G = np.matmul(wt, gy.reshape(N, groups, O // groups, P)).reshape(N, C, K, *out_sp)
    gxp = np.zeros((N, C) + tuple(n + lo + hi for n, (lo, hi) in zip(x_shape[2:], pads)),
                   gy.dtype)
    for j, _, idx in _window.taps(k, s, d, out_sp):
        gxp[idx] += G[:, :, j]
    return np.ascontiguousarray(_padding.pad_nd(gxp, [(-lo, -hi) for lo, hi in pads],
                                                "constant"))


def reference_bwd_weight(x, gy, k, pads, s, d, groups) -> np.ndarray:
    """Gradient w.r.t. the weight: sum over images of gy @ windows^T -> (O, C/g, *k)."""
    N, C = x.shape[:2]
    O, out_sp = gy.shape[1], gy.shape[2:]
    cols = _windows(_padding.pad_nd(x, pads, "constant"), k, s, d, out_sp, groups)
    g4 = gy.reshape(N, groups, O // groups, math.prod(out_sp))
    gw = np.matmul(g4, cols.transpose(0, 1, 3, 2)).sum(0)  # (g, Og, Cg*K)
    return gw.reshape(O, C // groups, *k)


def _register_reference() -> None:
    """The reference is a kernel like the others: the dispatch can be forced to it (tests)."""
    K, ok = _dispatch.Kernel, (lambda g, dt: True)
    _dispatch.register(K("reference", "fwd", ok, lambda x, w, g, b: _bias_added(
        reference_fwd(x, w, g.pads, g.s, g.d, g.groups), b)))
    _dispatch.register(K("reference", "bwd_data", ok, lambda gy, w, g: reference_bwd_data(
        gy, w, (g.N, g.C, *g.sp), g.pads, g.s, g.d, g.groups)))
    _dispatch.register(K("reference", "bwd_weight", ok, lambda x, gy, g: reference_bwd_weight(
        x, gy, g.k, g.pads, g.s, g.d, g.groups)))


def _bias_added(y: np.ndarray, b) -> np.ndarray:
    if b is not None:
        _bias_add(y, b)
    return y


_register_reference()


# ---------------------------------------------------------------------------------------------
# autograd Functions
# ---------------------------------------------------------------------------------------------
def _bias_grad(g: np.ndarray) -> np.ndarray:
    # per-channel sum as a product with a ones vector: runs in BLAS
    N, O = g.shape[:2]
    g3 = g.reshape(N, O, math.prod(g.shape[2:]))  # explicit: -1 is ambiguous when N == 0
    return _blas.matmul(g3, np.ones(g3.shape[2], g.dtype)).sum(axis=0)


def _bias_add(y: np.ndarray, b: np.ndarray) -> None:
    y += b.reshape((1, -1) + (1,) * (y.ndim - 2))


def _pad_names(modes) -> tuple:
    """The conv's padding_mode names in convnp.ops.padding's: 'zeros' is constant padding."""
    names = _PAD_NAMES.get(modes)
    if names is None:
        names = tuple("constant" if m == "zeros" else m for m in modes)
        if len(_PAD_NAMES) < 64:  # a handful of mode tuples exist: (n axes) x modes
            _PAD_NAMES[modes] = names
    return names


_PAD_NAMES: dict = {}


class _Cfg(NamedTuple):
    """What a convolution Function keeps for its backward besides the saved arrays."""

    pads: tuple
    s: tuple
    d: tuple
    groups: int
    modes: tuple  # convnp.ops.padding's mode names, one per spatial axis
    flip: bool
    batched: bool
    has_bias: bool


def _conv_pads(pads, modes) -> tuple:
    """The padding left to the zero-padded kernels: all of it for zeros, none once padded."""
    for m in modes:
        if m != "constant":
            break
    else:
        return pads
    return pads if _no_pad(pads) else ((0, 0),) * len(pads)


def _pad_first(a, pads, modes) -> np.ndarray:
    """``a`` padded by its (non-zero) modes; as is when the kernels pad (zeros)."""
    return a if _conv_pads(pads, modes) is pads else _padding.pad_nd(a, pads, modes)


def _pad_adjoint(g, pads, modes, shape) -> np.ndarray:
    """The adjoint of ``_pad_first``: a padded array's gradient folded back onto ``shape``."""
    return g if _conv_pads(pads, modes) is pads else _padding.pad_nd_backward(g, pads, modes,
                                                                              shape)


def _transposed(g, we, shape, cfg: "_Cfg") -> np.ndarray:
    """The transposed convolution of ``g`` onto ``shape``: the zero-padded kernels' adjoint, then
    the padding's (the exact adjoint of ``_pad_first`` + the zero-padded conv)."""
    cpads = _conv_pads(cfg.pads, cfg.modes)
    full = shape[:2] + tuple(n + (lo + hi) * (cpads is not cfg.pads)
                             for n, (lo, hi) in zip(shape[2:], cfg.pads))
    gf = _conv_bwd_data(g, we, full, cpads, cfg.s, cfg.d, cfg.groups)
    return _pad_adjoint(gf, cfg.pads, cfg.modes, shape)


def _saved(ctx, g):
    """(saved input, saved weight, cfg, upstream gradient with its batch axis) of a backward."""
    a, we = ctx.saved_tensors
    return a, we, ctx.cfg, g if ctx.cfg.batched else g[None]


def _unbatched(gx, cfg: "_Cfg"):
    return gx if gx is None or cfg.batched else gx[0]


def _weight_bias_grads(ctx, a, gy, k, cfg: _Cfg, g):
    """Weight gradient of the zero-padded conv of ``a`` with output gradient ``gy``, and the
    bias gradient from ``g``, for the inputs that want them."""
    gw = gb = None
    if ctx.needs_input_grad[1]:
        gw = _conv_bwd_weight(a, gy, k, _conv_pads(cfg.pads, cfg.modes), cfg.s, cfg.d,
                              cfg.groups)
        gw = _flip(gw) if cfg.flip else gw
    if cfg.has_bias and ctx.needs_input_grad[2]:
        gb = _bias_grad(g)
    return gw, gb


class ConvNd(Function):
    """N-d convolution (cross-correlation, or true convolution with ``flip``): pad by the
    modes, then the zero-padded kernels. Its input gradient is the transposed convolution."""

    @staticmethod
    def forward(ctx, x, w, b=None, *, stride, pads, dilation, groups, modes, flip, batched):
        x, modes = (x if batched else x[None]), _pad_names(modes)
        we = _flip(w) if flip else w
        xin = _pad_first(x, pads, modes)
        ctx.save_for_backward(xin, we)
        ctx.cfg = _Cfg(pads, stride, dilation, groups, modes, flip, batched, b is not None)
        ctx.x_shape = x.shape
        y = _conv_fwd(xin, we, _conv_pads(pads, modes), stride, dilation, groups, bias=b)
        return y if batched else y[0]

    @staticmethod
    def backward(ctx, g):
        xin, we, cfg, g = _saved(ctx, g)
        gx = _transposed(g, we, ctx.x_shape, cfg) if ctx.needs_input_grad[0] else None
        return (_unbatched(gx, cfg), *_weight_bias_grads(ctx, xin, g, we.shape[2:], cfg, g))


class ConvTransposeNd(Function):
    """N-d transposed convolution: the adjoint of ``ConvNd`` w.r.t. its input; its input
    gradient is the convolution."""

    @staticmethod
    def forward(ctx, x, w, b=None, *, stride, pads, dilation, groups, modes, flip, out_sp,
                batched):
        x, modes = (x if batched else x[None]), _pad_names(modes)
        we = _flip(w) if flip else w
        ctx.cfg = _Cfg(pads, stride, dilation, groups, modes, flip, batched, b is not None)
        y = _transposed(x, we, (x.shape[0], w.shape[1] * groups, *out_sp), ctx.cfg)
        if b is not None:
            _bias_add(y, b)
        ctx.save_for_backward(x, we)
        return y if batched else y[0]

    @staticmethod
    def backward(ctx, g):
        x, we, cfg, g = _saved(ctx, g)
        gin = _pad_first(g, cfg.pads, cfg.modes)
        gx = None
        if ctx.needs_input_grad[0]:
            gx = _conv_fwd(gin, we, _conv_pads(cfg.pads, cfg.modes), cfg.s, cfg.d, cfg.groups,
                           out_sp=x.shape[2:])
        return (_unbatched(gx, cfg), *_weight_bias_grads(ctx, gin, x, we.shape[2:], cfg, g))


# ---------------------------------------------------------------------------------------------
# argument validation and public functions
# ---------------------------------------------------------------------------------------------
def _arr(t):
    if isinstance(t, Tensor):
        return t.array
    if isinstance(t, np.ndarray):
        return t
    return None


def _check_common(fn, input, weight, bias, n, groups, transposed):
    x, w = _arr(input), _arr(weight)
    if x is None:
        raise TypeError(f"{fn}: input must be a Tensor or ndarray, got {type(input).__name__}")
    if w is None:
        raise TypeError(f"{fn}: weight must be a Tensor or ndarray, got {type(weight).__name__}")
    if x.ndim not in (n + 1, n + 2):
        raise ValueError(f"{fn}: expected a {n + 1}-d (unbatched) or {n + 2}-d (batched) input, "
                         f"got shape {x.shape}")
    if not is_floating(x.dtype) or w.dtype != x.dtype:
        raise TypeError(f"{fn}: input and weight must have the same floating dtype, got input "
                        f"{x.dtype} and weight {w.dtype}")
    if not (isinstance(groups, (int, np.integer)) and not isinstance(groups, bool)) or groups < 1:
        raise ValueError(f"{fn}: groups must be a positive int, got {groups!r}")
    groups, batched = int(groups), x.ndim == n + 2
    C = x.shape[1 if batched else 0]
    # the weight is (C_out, C_in/groups, *kernel); a transposed conv's (C_in, C_out/groups, ...)
    layout = "C_in, C_out/groups" if transposed else "C_out, C_in/groups"
    want, out_ch = (w.shape[0], w.shape[1] * groups) if transposed else (w.shape[1] * groups,
                                                                        w.shape[0])
    wdesc = f"weight {w.shape} ({layout}, *kernel)" + f" and groups={groups}" * (not transposed)
    if w.shape[0] % groups:
        raise ValueError(f"{fn}: groups={groups} must divide {'in' if transposed else 'out'}"
                         f"_channels={w.shape[0]} (weight {w.shape})")
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


def _check_mode_pads(shape, pads, modes, fn) -> None:
    """Modes other than zeros can pad only so far (reflect: less than the axis' size, ...)."""
    if not _no_pad(pads) and any(m != "zeros" for m in modes):
        _padding.check_pads(shape, pads, modes, fn)


def _args(fn, input, weight, bias, stride, dilation, groups, padding_mode, transposed):
    """Validated (x, w, groups, batched, stride, dilation, modes) of a (transposed) conv call."""
    n = (_arr(weight).ndim - 2) if _arr(weight) is not None else 0
    if not 1 <= n <= 3:
        raise ValueError(f"{fn}: weight must have 3 to 5 dimensions, got {n + 2}")
    x, w, groups, batched = _check_common(fn, input, weight, bias, n, groups, transposed)
    s = _shape.ntuple(stride, n, "stride", fn, minimum=1)
    d = _shape.ntuple(dilation, n, "dilation", fn, minimum=1)
    return x, w, groups, batched, s, d, _padding.conv_modes(padding_mode, n, fn)


@_autocast.lower
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
        padding_mode: one of ``PADDING_MODES`` ('zeros', 'reflect', ...) or one per spatial axis,
            e.g. ``('replicate', 'circular')`` for 360-degree images.
        flip: true convolution instead of cross-correlation.

    Shape:
        out = floor((in + lo + hi - dilation*(k - 1) - 1) / stride) + 1 per spatial axis.

    Example:
        >>> x, w = convnp.randn(2, 3, 8, 8), convnp.randn(4, 3, 3, 3)
        >>> convnd(x, w, padding="same", stride=2).shape
        (2, 4, 4, 4)
    """
    key = _checked.key(_fn, (input, weight, bias),
                       (stride, padding, dilation, groups, padding_mode))
    groups, batched, s, d, modes, pads = _checked.get(key, lambda: _conv_call(
        _fn, input, weight, bias, stride, padding, dilation, groups, padding_mode))
    if batched and not flip and modes in _ZERO_MODES and _forward_only(input, weight, bias):
        # nothing to record (inference): the zero-padded kernels, without the Function's
        # context, saved arrays and configuration
        return Tensor._wrap(_conv_fwd(input.array, weight.array, pads, s, d, groups,
                                      bias=None if bias is None else bias.array))
    return ConvNd.apply(input, weight, bias, stride=s, pads=pads, dilation=d, groups=groups,
                        modes=modes, flip=bool(flip), batched=batched)


_ZERO_MODES = {("zeros",) * n for n in (1, 2, 3)}
_FORWARD_DTYPES = (np.float32, np.float64)


def _forward_only(*tensors) -> bool:
    """Is a call on these Tensors (or None) a plain float32/float64 forward that records
    nothing: gradients off or wanted by none of them, no ONNX export tracing it?"""
    if _function._tracer is not None:
        return False
    grad = _grad_state.enabled
    dt = tensors[0].array.dtype if isinstance(tensors[0], Tensor) else None
    if dt is None or dt.type not in _FORWARD_DTYPES:
        return False
    for t in tensors:
        if t is not None and (not isinstance(t, Tensor) or t.array.dtype != dt
                              or (grad and t.requires_grad)):
            return False
    return True


def _conv_call(fn, input, weight, bias, stride, padding, dilation, groups, padding_mode):
    """Validated ``(groups, batched, stride, dilation, modes, pads)`` of a ``convnd`` call."""
    x, w, groups, batched, s, d, modes = _args(fn, input, weight, bias, stride, dilation, groups,
                                               padding_mode, False)
    sp, k = x.shape[2 - (not batched):], w.shape[2:]
    n = len(k)
    pads = _shape.conv_padding_pairs(padding, sp, k, s, d, fn)
    _check_mode_pads(x.shape, pads, modes, fn)
    for i in range(n):
        eff = d[i] * (k[i] - 1) + 1
        if sp[i] + pads[i][0] + pads[i][1] < eff:
            raise RuntimeError(f"{fn}: kernel size can't be greater than the padded input size: "
                               f"spatial axis {i} has {sp[i]} + padding {pads[i]} = "
                               f"{sp[i] + pads[i][0] + pads[i][1]} values, the (dilated) kernel "
                               f"needs {eff} (input {x.shape}, weight {w.shape})")
    return groups, batched, s, d, modes, pads


@_autocast.lower
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
    key = _checked.key(_fn, (input, weight, bias), (stride, padding, output_padding, groups,
                                                     dilation, output_size, padding_mode))
    groups, batched, s, d, modes, pads, out_sp = _checked.get(key, lambda: _conv_transpose_call(
        _fn, input, weight, bias, stride, padding, output_padding, groups, dilation, output_size,
        padding_mode))
    return ConvTransposeNd.apply(input, weight, bias, stride=s, pads=pads, dilation=d,
                                 groups=groups, modes=modes, flip=bool(flip), out_sp=out_sp,
                                 batched=batched)


def _conv_transpose_call(fn, input, weight, bias, stride, padding, output_padding, groups,
                         dilation, output_size, padding_mode):
    """Validated ``(groups, batched, stride, dilation, modes, pads, out_sp)`` of a
    ``conv_transposend`` call."""
    if isinstance(padding, str) and padding != "valid" or (
            isinstance(padding, (tuple, list)) and any(isinstance(p, str) for p in padding)):
        raise ValueError(f"{fn}: padding strings other than 'valid' are not supported for "
                         f"transposed convolution (got {padding!r}); pass ints, (lo, hi) pairs "
                         f"or output_size=")
    x, w, groups, batched, s, d, modes = _args(fn, input, weight, bias, stride, dilation, groups,
                                               padding_mode, True)
    sp, k = x.shape[2 - (not batched):], w.shape[2:]
    pads = _shape.conv_padding_pairs(padding, sp, k, s, d, fn)
    out_sp = _shape.conv_transpose_output_sizes(sp, k, s, pads, d, output_padding,
                                                output_size, fn)
    _check_mode_pads((x.shape[0], w.shape[1] * groups) + out_sp, pads, modes, fn)
    return groups, batched, s, d, modes, pads, out_sp


# validated once per distinct call (see convnp/ops/_checked_calls.py)
_checked = CheckedCalls()


def _check_dim(n: int, name: str, weight) -> None:
    wa = _arr(weight)
    if wa is not None and wa.ndim != n + 2:
        raise ValueError(f"{name}: weight must have {n + 2} dimensions, got shape {wa.shape}")


_AXES = {1: "L", 2: "H, W", 3: "D, H, W"}


def _wrapper(n: int, transposed: bool):
    """``conv{n}d`` / ``conv_transpose{n}d``: the N-d function with the weight's dimensions
    checked, errors named after the wrapper, and a docstring of its own."""
    name = f"conv_transpose{n}d" if transposed else f"conv{n}d"
    axes, first = _AXES[n], _AXES[n].split(",")[0]
    if transposed:
        def conv(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                 dilation=1, *, output_size=None, padding_mode="zeros", flip: bool = False):
            _check_dim(n, name, weight)
            return conv_transposend(input, weight, bias, stride, padding, output_padding, groups,
                                    dilation, output_size=output_size, padding_mode=padding_mode,
                                    flip=flip, _fn=name)
        shape = (f"{first}_out = ({first} - 1)*stride - lo - hi + dilation*(k - 1) + "
                 "output_padding + 1")
        example = (f"{name}(convnp.randn(1, 4, {', '.join(['5'] * n)}), convnp.randn(4, 2, "
                   f"{', '.join(['4'] * n)}), stride=2, padding=1).shape", (1, 2) + (10,) * n)
    else:
        def conv(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, *,
                 padding_mode="zeros", flip: bool = False):
            _check_dim(n, name, weight)
            return convnd(input, weight, bias, stride, padding, dilation, groups,
                          padding_mode=padding_mode, flip=flip, _fn=name)
        shape = f"{first}_out = floor(({first} + lo + hi - dilation*(k - 1) - 1) / stride) + 1"
        example = (f"{name}(convnp.randn(1, 3, {', '.join(['8'] * n)}), convnp.randn(6, 3, "
                   f"{', '.join(['5'] * n)})).shape", (1, 6) + (4,) * n)
    conv.__name__ = conv.__qualname__ = name
    conv.__doc__ = (f"""{n}-d {'transposed ' * transposed}convolution over (N, C_in, {axes}) or
    (C_in, {axes}); see ``{'conv_transposend' if transposed else 'convnd'}``.

    Shape:
        {shape}{', likewise the other axes' * (n > 1)}.

    Example:
        >>> {example[0]}
        {example[1]}
    """)
    return conv


conv1d, conv2d, conv3d = (_wrapper(n, False) for n in (1, 2, 3))
conv_transpose1d, conv_transpose2d, conv_transpose3d = (_wrapper(n, True) for n in (1, 2, 3))
