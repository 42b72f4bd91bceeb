"""Inference fusion: a convolution followed by batch norm (and ReLU, ReLU6, Hardtanh or
LeakyReLU) in a ``Sequential`` runs as ONE convolution with folded weight and bias, then the
activation in place.

In eval mode batch norm is an affine map per channel, ``y * s + t`` with
``s = gamma / sqrt(running_var + eps)`` and ``t = beta - running_mean * s``, so

    bn(conv(x, W, b)) = conv(x, W * s[o], b * s + t)

(``s`` scales output channel ``o``: dim 0 of a convolution's weight, dim 1 of a transposed
convolution's per group). This saves the batch-norm pass over the output, its allocation and, with
the activation applied in place, the activation's too; with an activation the folded bias is added
in the activation's pass (one compiled kernel) rather than by the convolution kernel.

When: ``Sequential.forward`` hands its modules here while gradients are off (``no_grad`` or
``inference_mode``), and ResNet's blocks call ``conv_norm_act`` for their conv - bn [- relu]
runs. A run ``Conv{1,2,3}d`` or ``ConvTranspose{1,2,3}d`` - ``BatchNorm{1,2,3}d``
[- ``ReLU`` / ``ReLU6`` / ``Hardtanh`` / ``LeakyReLU``] is fused when both layers are in eval
mode, the batch norm has running statistics, none of the modules has hooks or a ``forward`` of
its own (a subclass), parameters and input are float32/float64 of one dtype, no autocast region
is active and no ONNX export is tracing. Anything else runs module by module, as without fusion.

The folded weights are cached per (conv, batch-norm) pair and refolded when a parameter or buffer
changes: each tensor's identity and version counter (``Tensor._version``: in-place ops, optimizer
steps, ``load_state_dict`` and ``nn.init`` bump it) are part of the cache key, the batch norm's
per-channel vectors are compared by value (cheap: C numbers; this also catches direct writes such
as ``reset_running_stats``), and so is an evenly spaced sample of the convolution's weight. A
change that bypasses the version counters (writes through ``.data`` aliases or ``.array``) to
only a few weight entries outside that sample is not seen: call :func:`clear_cache` after one,
or turn fusion off with :func:`set_enabled`.

Numbers: the folded convolution rounds differently from the two-step computation; the results
agree to float rounding (about 1e-6 relative to the output's scale in float32, 1e-14 in float64;
the tests hold both paths to rtol/atol 1e-4/1e-5 in float32 and 1e-10 in float64).
"""

from __future__ import annotations

import weakref

import numpy as np

from convnp import _autocast
from convnp.autograd import function as _function
from convnp.autograd.grad_mode import is_grad_enabled
from convnp.nn.modules.activation import Hardtanh, LeakyReLU, ReLU
from convnp.nn.modules.conv import _Conv, _ConvTranspose, _functional
from convnp.nn.modules.normalization import _BatchNorm
from convnp.ops import activation as _activation
from convnp.tensor import Tensor

__all__ = ["sequential_forward", "conv_norm_act", "set_enabled", "clear_cache"]

_enabled = True
_SAMPLE = 64  # weight entries compared by value on every call
_cache: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()  # bn -> (key, values, w, b)


def set_enabled(flag: bool) -> bool:
    """Turn inference fusion on or off (it is on by default); returns the previous setting."""
    global _enabled
    prev, _enabled = _enabled, bool(flag)
    return prev


def clear_cache() -> None:
    """Forget every folded weight (they are refolded on the next call)."""
    _cache.clear()


def _no_hooks(m) -> bool:
    return not (m._forward_hooks or m._forward_pre_hooks or m._backward_hooks
                or m._backward_pre_hooks)


_ROLES: dict = {}  # module type -> (its forward, its role): classes do not change their forward


def _role(m):
    """What module ``m`` can be in a fused run: ``_Conv`` or ``_ConvTranspose`` (the first
    layer), ``_BatchNorm`` (the second) or an activation's ``activate_`` arguments (kind, p, q)
    (the third); None for anything else, a subclass with its own ``forward`` and a module with
    hooks included."""
    t = type(m)
    fwd = t.forward
    hit = _ROLES.get(t)
    if hit is None or hit[0] is not fwd:
        role = None
        for base in (_Conv, _ConvTranspose, _BatchNorm, ReLU, Hardtanh, LeakyReLU):
            if issubclass(t, base) and fwd is base.forward:
                role = base
                break
        hit = _ROLES[t] = (fwd, role)
    role = hit[1]
    if role is None or not _no_hooks(m):
        return None
    if role is ReLU:
        return ("relu", 0.0, 0.0)
    if role is Hardtanh:  # and ReLU6
        return ("clamp", float(m.min_val), float(m.max_val))
    if role is LeakyReLU:
        return ("leaky", float(m.negative_slope), 0.0)
    return role


def _fusable(conv, bn, x) -> bool:
    if conv.training or bn.training or bn.running_mean is None or bn.running_var is None:
        return False
    # batched input only: an unbatched conv output would meet BatchNorm1d as (N, C)
    if bn.num_features != conv.out_channels or x.ndim != conv._n + 2 or x.ndim not in bn._dims:
        return False
    dt = x.array.dtype
    if dt not in (np.float32, np.float64):
        return False
    tensors = (conv.weight, conv.bias, bn.weight, bn.bias, bn.running_mean, bn.running_var)
    return all(t is None or t.array.dtype == dt for t in tensors)


def _values(tensors) -> bytes:
    """The bytes the cache compares by value: the batch norm's vectors and an evenly spaced
    sample of the convolution's weight (bytes: one comparison, no per-array calls)."""
    w = tensors[0].array.reshape(-1)
    parts = [t.array.tobytes() for t in tensors[2:] if t is not None]
    parts.append(w[:: max(1, w.size // _SAMPLE)].tobytes())
    return b"".join(parts)


def _key(conv, bn, x, tensors) -> tuple:
    """What a cached fold was made for: the pair, eps, the input's dtype and rank, and each
    tensor's identity, array and version (None for a missing one)."""
    key = [id(conv), bn.eps, x.array.dtype, x.array.ndim]
    for t in tensors:
        if t is None:
            key.append(None)
        else:
            vc = t._vc
            key += (id(t), id(t.array), 0 if vc is None else vc[0])
    return tuple(key)


def _tensors(conv, bn) -> tuple:
    """(conv weight, conv bias, bn weight, bn bias, running mean, running var); read from the
    modules' stores (an attribute lookup through ``Module.__getattr__`` costs more than the
    rest of a cache check), through the attributes where a name is not in its store."""
    cp, bp, bb = conv._parameters, bn._parameters, bn._buffers
    try:
        return (cp["weight"], cp["bias"], bp["weight"], bp["bias"], bb["running_mean"],
                bb["running_var"])
    except KeyError:
        return (conv.weight, conv.bias, bn.weight, bn.bias, bn.running_mean, bn.running_var)


def _folded(conv, bn, x):
    """(weight, bias) Tensors of the folded convolution for input ``x``, from the cache when
    nothing changed; None when the pair cannot be fused (see the module docstring)."""
    if conv.training or bn.training:
        return None
    tensors = _tensors(conv, bn)
    key = _key(conv, bn, x, tensors)
    hit = _cache.get(bn)
    if hit is not None and hit[0] == key and hit[1] == _values(tensors):
        return hit[2], hit[3]  # a key that matches was checked fusable when it was stored
    if not _fusable(conv, bn, x):
        return None
    w = conv.weight.array
    dt = w.dtype
    c = bn.num_features
    rv = bn.running_var.array.astype(np.float64)
    scale = 1 / np.sqrt(rv + bn.eps)
    if bn.weight is not None:
        scale = scale * bn.weight.array
    shift = -bn.running_mean.array * scale
    if bn.bias is not None:
        shift = shift + bn.bias.array
    bias = shift if conv.bias is None else conv.bias.array * scale + shift
    if isinstance(conv, _ConvTranspose):  # (Cin, Cout / groups, *k): channel g * Cout/groups + j
        g = conv.groups
        ws = w.reshape(g, w.shape[0] // g, c // g, -1) * scale.reshape(g, 1, c // g, 1)
    else:  # (Cout, Cin / groups, *k)
        ws = w.reshape(c, -1) * scale[:, None]
    wf = Tensor._wrap(ws.astype(dt).reshape(w.shape))
    bf = Tensor._wrap(bias.astype(dt))
    _cache[bn] = (key, _values(tensors), wf, bf)
    return wf, bf


def _fused_call(conv, folded, clamp, x):
    """The folded convolution of ``x`` (weight and bias ``folded``), then ``clamp`` in place;
    with an activation, the bias is added in the activation's pass where that kernel runs (a
    GEMM kernel would otherwise add it in a pass of its own)."""
    w, b = folded
    if clamp is None:
        return _conv(conv, w, b, x)
    y = _conv(conv, w, None, x)
    if not _activation.bias_activate_(y.array, b.array, *clamp):
        # in place on the fresh output (no pass allocates): the bias, then the activation
        y.array += b.array.reshape((1, -1) + (1,) * (y.ndim - 2))
        _activation.activate_(y.array, *clamp)
    return y


def _conv(conv, w, b, x):
    """``conv``'s convolution of ``x`` with weight ``w`` and bias ``b`` (Tensors or None)."""
    if isinstance(conv, _ConvTranspose):
        return _functional(True, conv._n)(
            x, w, b, conv.stride, conv.padding, conv.output_padding, conv.groups, conv.dilation,
            padding_mode=conv.padding_mode)
    return _functional(False, conv._n)(x, w, b, conv.stride, conv.padding, conv.dilation,
                                       conv.groups, padding_mode=conv.padding_mode)


def _active(x) -> bool:
    """Can anything be fused for input ``x`` now? (gradients off, fusion on, no tracing or
    autocast)."""
    return (_enabled and isinstance(x, Tensor) and not is_grad_enabled()
            and _function._tracer is None and not _autocast.state["cpu"]["enabled"])


def sequential_forward(modules, x):
    """Run ``modules`` (a Sequential's children, in order) on ``x`` with gradients off, each
    fusable convolution - batch norm [- activation] run as one folded convolution."""
    if not _active(x):
        for m in modules:
            x = m(x)
        return x
    mods = list(modules)
    i, n = 0, len(mods)
    while i < n:
        m = mods[i]
        if i + 1 < n and isinstance(x, Tensor):
            role = _role(m)
            if (role is _Conv or role is _ConvTranspose) and _role(mods[i + 1]) is _BatchNorm:
                folded = _folded(m, mods[i + 1], x)
                if folded is not None:
                    clamp = _role(mods[i + 2]) if i + 2 < n else None
                    clamp = clamp if type(clamp) is tuple else None
                    x = _fused_call(m, folded, clamp, x)
                    i += 2 if clamp is None else 3
                    continue
        x = m(x)
        i += 1
    return x


def conv_norm_act(conv, bn, act, x):
    """``act(bn(conv(x)))`` (``act`` may be None) for blocks that call their layers in their
    own ``forward`` (``ConvNormAct``, ResNet's BasicBlock, Bottleneck and stems): conv and batch
    norm as one folded convolution where a ``Sequential`` would fold them, the activation in
    place when it is one fusion applies, else called after; otherwise the three modules in turn."""
    if _active(x):
        role = _role(conv)
        if (role is _Conv or role is _ConvTranspose) and _role(bn) is _BatchNorm:
            folded = _folded(conv, bn, x)
            if folded is not None:
                clamp = None if act is None else _role(act)
                clamp = clamp if type(clamp) is tuple else None
                y = _fused_call(conv, folded, clamp, x)
                return y if act is None or clamp is not None else act(y)
    x = bn(conv(x))
    return x if act is None else act(x)
