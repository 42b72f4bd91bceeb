"""ONNX operators run with convnp ops (1/2): the table, its helpers, and the layer operators
(convolution, pooling, normalisation, dropout), linear algebra, elementwise math and activations.

Every operator is a function ``(module, node, inputs) -> outputs`` in ``_OPS``, registered with
``_op``; ``_import_tensor_ops`` adds reductions, movement, Pad and Resize to the same table.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np

from convnp.onnx._registry import registrar
from convnp.onnx._trace import ADAPTIVE_HINT

# --------------------------------------------------------------------------------- operators
_OPS: dict[str, Callable] = {}
_op = registrar(_OPS)


def _ints(t) -> list[int]:
    return [int(v) for v in np.asarray(t.array if hasattr(t, "array") else t).reshape(-1)]


def _scalar(t) -> float:
    """A scalar input (stored 0-d, or 1-element as some exporters write it)."""
    return float(np.asarray(t.array).reshape(-1)[0])


def _wrap(a):
    from convnp.tensor import Tensor

    return Tensor._wrap(np.asarray(a))


def _pairs(pads, n) -> list[tuple[int, int]]:
    pads = list(pads) if pads else [0] * (2 * n)
    return [(int(pads[i]), int(pads[i + n])) for i in range(n)]


def _auto_pads(node, sp, k, s, d) -> list[tuple[int, int]] | None:
    auto = node.attrs.get("auto_pad", "NOTSET")
    if auto in ("NOTSET", ""):
        return None
    if auto == "VALID":
        return [(0, 0)] * len(sp)
    out = []
    for n, kk, ss, dd in zip(sp, k, s, d):
        total = max((-(-n // ss) - 1) * ss + (kk - 1) * dd + 1 - n, 0)
        small, big = total // 2, total - total // 2
        out.append((small, big) if auto == "SAME_UPPER" else (big, small))
    return out


def _window(node, x, k=None):
    """Kernel (``kernel_shape`` unless given), strides, dilations and (lo, hi) pads of a node."""
    k = list(node.attrs["kernel_shape"]) if k is None else k
    nd = len(k)
    s = list(node.attrs.get("strides", [1] * nd))
    d = list(node.attrs.get("dilations", [1] * nd))
    pads = _auto_pads(node, x.shape[2:], k, s, d) or _pairs(node.attrs.get("pads"), nd)
    return k, s, d, pads


@_op("Conv")
def _conv(m, node, ins):
    from convnp.ops.conv import convnd

    x, w = ins[0], ins[1]
    b = ins[2] if len(ins) > 2 else None
    k = list(node.attrs.get("kernel_shape", w.shape[2:]))
    _, s, d, pads = _window(node, x, k)
    return convnd(x, w, b, stride=s, padding=pads, dilation=d,
                  groups=int(node.attrs.get("group", 1)), _fn=node.where())


@_op("ConvTranspose")
def _conv_transpose(m, node, ins):
    from convnp.ops.conv import conv_transposend

    x, w = ins[0], ins[1]
    b = ins[2] if len(ins) > 2 else None
    nd = w.ndim - 2
    k = list(node.attrs.get("kernel_shape", w.shape[2:]))
    s = list(node.attrs.get("strides", [1] * nd))
    d = list(node.attrs.get("dilations", [1] * nd))
    op = list(node.attrs.get("output_padding", [0] * nd))
    sp = x.shape[2:]
    auto = node.attrs.get("auto_pad", "NOTSET")
    if "output_shape" in node.attrs or auto in ("SAME_UPPER", "SAME_LOWER"):
        osz = list(node.attrs.get("output_shape", []))[-nd:] or [n * ss for n, ss in zip(sp, s)]
        pads = []
        for i in range(nd):
            total = s[i] * (sp[i] - 1) + op[i] + (k[i] - 1) * d[i] + 1 - osz[i]
            if total < 0:  # a larger output: the extra lands on the high side
                op[i] -= total
                total = 0
            lo = total // 2 if auto == "SAME_UPPER" else total - total // 2
            pads.append((lo, total - lo))
    elif auto == "VALID":
        pads = [(0, 0)] * nd
    else:
        pads = _pairs(node.attrs.get("pads"), nd)
    return conv_transposend(x, w, b, stride=s, padding=pads, output_padding=op, dilation=d,
                            groups=int(node.attrs.get("group", 1)), _fn=node.where())


def _explicit_pad(x, pairs, value):
    from convnp.ops.padding import Pad

    full = [(0, 0)] * 2 + list(pairs)
    return Pad.apply(x, pads=tuple(full), modes=("constant",) * len(full), value=value)


def _symmetric(pairs, k) -> bool:
    return all(lo == hi and 2 * lo <= kk for (lo, hi), kk in zip(pairs, k))


@_op("MaxPool")
def _max_pool(m, node, ins):
    from convnp.ops.pooling import MaxPoolNd

    x = ins[0]
    k, s, d, pairs = _window(node, x)
    nd = len(k)
    if node.attrs.get("storage_order", 0):
        raise ValueError("storage_order=1 (column-major indices) is not supported")
    want_idx = len(node.outputs) > 1 and bool(node.outputs[1])
    if not _symmetric(pairs, k):
        if want_idx:
            raise ValueError(f"asymmetric pads {pairs} with an Indices output are not supported")
        x = _explicit_pad(x, pairs, -np.inf)
        pairs = [(0, 0)] * nd
    fn = node.where()
    res = MaxPoolNd.apply(x, nd=nd, k=tuple(k), s=tuple(s), p=tuple(lo for lo, _ in pairs),
                          d=tuple(d), ceil_mode=bool(node.attrs.get("ceil_mode", 0)),
                          return_indices=want_idx, fn=fn)
    if not want_idx:
        return res
    y, idx = res
    # ONNX counts indices over the whole (N, C, *S) input; convnp within each plane
    plane = math.prod(x.shape[2:])
    offs = (np.arange(x.shape[0] * x.shape[1], dtype=np.int64) * plane).reshape(
        x.shape[:2] + (1,) * nd)
    return y, _wrap(idx.array + offs)


@_op("AveragePool")
def _avg_pool(m, node, ins):
    from convnp.ops.pooling import AvgPoolNd

    x = ins[0]
    k, s, d, pairs = _window(node, x)
    nd = len(k)
    if any(dd != 1 for dd in d):
        raise ValueError(f"dilations {d} are not supported for AveragePool")
    if node.doc == ADAPTIVE_HINT and k == s and not any(lo or hi for lo, hi in pairs):
        from convnp.ops.pooling import AdaptiveAvgPoolNd

        return AdaptiveAvgPoolNd.apply(x, nd=nd, out=tuple(n // kk for n, kk in
                                                          zip(x.shape[2:], k)))
    include = bool(node.attrs.get("count_include_pad", 0))
    ceil = bool(node.attrs.get("ceil_mode", 0))
    fn = node.where()
    if _symmetric(pairs, k):
        return AvgPoolNd.apply(x, nd=nd, k=tuple(k), s=tuple(s), p=tuple(lo for lo, _ in pairs),
                               ceil_mode=ceil, count_include_pad=include, divisor_override=None,
                               fn=fn)
    xp = _explicit_pad(x, pairs, 0.0)
    kw = dict(nd=nd, k=tuple(k), s=tuple(s), p=(0,) * nd, ceil_mode=ceil,
              count_include_pad=True, divisor_override=None, fn=fn)
    y = AvgPoolNd.apply(xp, **kw)
    if include:
        return y
    # exclude the padding: rescale by the share of real (unpadded) samples in each window
    ones = _explicit_pad(_wrap(np.ones((1, 1) + tuple(x.shape[2:]), x.dtype)), pairs, 0.0)
    share = AvgPoolNd.apply(ones, **kw)
    return y / share


@_op("GlobalAveragePool")
def _gap(m, node, ins):
    from convnp.ops.pooling import AdaptiveAvgPoolNd

    x = ins[0]
    return AdaptiveAvgPoolNd.apply(x, nd=x.ndim - 2, out=(1,) * (x.ndim - 2))


@_op("GlobalMaxPool")
def _gmp(m, node, ins):
    x = ins[0]
    return x.amax(dim=tuple(range(2, x.ndim)), keepdim=True)


@_op("MaxUnpool")
def _max_unpool(m, node, ins):
    from convnp.ops.unpooling import MaxUnpoolNd

    x, idx = ins[0], ins[1]
    k = list(node.attrs["kernel_shape"])
    nd = len(k)
    s = list(node.attrs.get("strides", [1] * nd))
    pairs = _pairs(node.attrs.get("pads"), nd)
    if len(ins) > 2 and ins[2] is not None:
        out_sp = tuple(_ints(ins[2])[-nd:])
    else:
        out_sp = tuple((n - 1) * ss - lo - hi + kk
                       for n, ss, (lo, hi), kk in zip(x.shape[2:], s, pairs, k))
    plane = math.prod(out_sp)
    return MaxUnpoolNd.apply(x, _wrap(idx.array % plane), nd=nd, out_sp=out_sp, fn=node.where())


@_op("BatchNormalization")
def _batch_norm(m, node, ins):
    from convnp.ops.normalization import batch_norm

    x, scale, bias, mean, var = ins[:5]
    train = m.training and not isinstance(mean, np.ndarray)
    return batch_norm(x, mean, var, scale, bias, training=train,
                      momentum=1.0 - float(node.attrs.get("momentum", 0.9)),
                      eps=float(node.attrs.get("epsilon", 1e-5)))


@_op("InstanceNormalization")
def _instance_norm(m, node, ins):
    from convnp.ops.normalization import instance_norm

    return instance_norm(ins[0], weight=ins[1], bias=ins[2],
                         eps=float(node.attrs.get("epsilon", 1e-5)))


@_op("LayerNormalization")
def _layer_norm(m, node, ins):
    from convnp.ops.normalization import layer_norm

    x = ins[0]
    axis = int(node.attrs.get("axis", -1)) % x.ndim
    bias = ins[2] if len(ins) > 2 else None
    return layer_norm(x, tuple(x.shape[axis:]), ins[1], bias,
                      eps=float(node.attrs.get("epsilon", 1e-5)))


@_op("Dropout")
def _dropout(m, node, ins):
    from convnp.ops.dropout import dropout

    ratio = _scalar(ins[1]) if len(ins) > 1 and ins[1] is not None else \
        float(node.attrs.get("ratio", 0.5))
    training = len(ins) > 2 and ins[2] is not None and bool(np.asarray(ins[2].array).reshape(-1)[0])
    y = dropout(ins[0], ratio, training=training or m.training)
    if len(node.outputs) > 1:
        return y, _wrap(np.ones(ins[0].shape, bool))
    return y


# ------------------------------------------------------------------------------ linear algebra
@_op("Gemm")
def _gemm(m, node, ins):
    a, b = ins[0], ins[1]
    c = ins[2] if len(ins) > 2 else None
    alpha, beta = float(node.attrs.get("alpha", 1.0)), float(node.attrs.get("beta", 1.0))
    if node.attrs.get("transA", 0):
        a = a.transpose(0, 1)
    plain_bias = c is None or (beta == 1.0 and c.ndim == 1)
    if node.attrs.get("transB", 0) and alpha == 1.0 and plain_bias:
        from convnp.ops.linear import linear

        return linear(a, b, c)
    if node.attrs.get("transB", 0):
        b = b.transpose(0, 1)
    y = a @ b
    if alpha != 1.0:
        y = y * alpha
    if c is not None:
        y = y + (c * beta if beta != 1.0 else c)
    return y


@_op("MatMul")
def _matmul(m, node, ins):
    return ins[0] @ ins[1]


def _binary(fn):
    def run(m, node, ins):
        return fn(ins[0], ins[1])
    return run


_OPS["Add"] = _binary(lambda a, b: a + b)
_OPS["Sub"] = _binary(lambda a, b: a - b)
_OPS["Mul"] = _binary(lambda a, b: a * b)


@_op("Div")
def _div(m, node, ins):
    a, b = ins
    if a.dtype.kind in "iu" and b.dtype.kind in "iu":
        return _wrap(np.trunc(a.array / b.array).astype(a.dtype))  # ONNX integer Div truncates
    return a / b


@_op("Mod")
def _mod(m, node, ins):
    a, b = ins
    f = np.fmod if node.attrs.get("fmod", 0) else np.mod
    return _wrap(f(a.array, b.array))


@_op("Pow")
def _pow(m, node, ins):
    return ins[0] ** ins[1]


def _unary(fn):
    def run(m, node, ins):
        return fn(ins[0])
    return run


def _F():
    import convnp.nn.functional as F

    return F


_OPS.update({
    "Relu": _unary(lambda x: _F().relu(x)),
    "Sigmoid": _unary(lambda x: _F().sigmoid(x)),
    "Tanh": _unary(lambda x: _F().tanh(x)),
    "Softsign": _unary(lambda x: _F().softsign(x)),
    "Softplus": _unary(lambda x: _F().softplus(x, threshold=np.inf)),
    "HardSwish": _unary(lambda x: _F().hardswish(x)),
    "Exp": _unary(lambda x: x.exp()),
    "Log": _unary(lambda x: x.log()),
    "Sqrt": _unary(lambda x: x.sqrt()),
    "Abs": _unary(lambda x: x.abs()),
    "Neg": _unary(lambda x: -x),
    "Sin": _unary(lambda x: x.sin()),
    "Cos": _unary(lambda x: x.cos()),
    "Identity": _unary(lambda x: x),
    "Reciprocal": _unary(lambda x: 1.0 / x),
})


def _erf_function():
    from scipy.special import erf

    from convnp.autograd.function import Function

    class Erf(Function):
        """ONNX Erf (GELU's exact form exports through it); d/dx erf = 2/sqrt(pi) exp(-x^2)."""

        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return erf(x).astype(x.dtype, copy=False)

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * (np.exp(-x * x) * (2.0 / math.sqrt(math.pi))).astype(x.dtype, copy=False)

    return Erf


@_op("Erf")
def _erf(m, node, ins):
    global _ERF
    if _ERF is None:
        _ERF = _erf_function()
    return _ERF.apply(ins[0])


_ERF = None


@_op("Elu")
def _elu(m, node, ins):
    return _F().elu(ins[0], alpha=float(node.attrs.get("alpha", 1.0)))


@_op("Selu")
def _selu(m, node, ins):
    from convnp.ops.activation import ELU

    return ELU.apply(ins[0], alpha=float(node.attrs.get("alpha", 1.67326319217681884765625)),
                     scale=float(node.attrs.get("gamma", 1.05070102214813232421875)))


@_op("Celu")
def _celu(m, node, ins):
    return _F().celu(ins[0], alpha=float(node.attrs.get("alpha", 1.0)))


@_op("LeakyRelu")
def _leaky(m, node, ins):
    return _F().leaky_relu(ins[0], float(node.attrs.get("alpha", 0.01)))


@_op("PRelu")
def _prelu(m, node, ins):
    x, w = ins
    return _F().relu(x) - _F().relu(-x) * w


@_op("Gelu")
def _gelu(m, node, ins):
    return _F().gelu(ins[0], approximate=node.attrs.get("approximate", "none"))


@_op("HardSigmoid")
def _hardsigmoid(m, node, ins):
    alpha, beta = float(node.attrs.get("alpha", 0.2)), float(node.attrs.get("beta", 0.5))
    if alpha == float(np.float32(1 / 6)) and beta == 0.5:
        return _F().hardsigmoid(ins[0])  # PyTorch's hardsigmoid: relu6(x + 3) / 6
    return (ins[0] * alpha + beta).clamp(0.0, 1.0)


@_op("Clip")
def _clip(m, node, ins):
    lo = node.attrs.get("min")
    hi = node.attrs.get("max")
    if len(ins) > 1 and ins[1] is not None:
        lo = _scalar(ins[1])
    if len(ins) > 2 and ins[2] is not None:
        hi = _scalar(ins[2])
    if lo is not None and hi is not None and lo == 0.0:
        return _F().hardtanh(ins[0], lo, hi)
    return ins[0].clamp(lo, hi)


@_op("Shrink")
def _shrink(m, node, ins):
    lambd, bias = float(node.attrs.get("lambd", 0.5)), float(node.attrs.get("bias", 0.0))
    if bias == 0.0:
        return _F().hardshrink(ins[0], lambd)
    if bias == lambd:
        return _F().softshrink(ins[0], lambd)
    raise ValueError(f"Shrink with bias={bias} other than 0 or lambd={lambd} is not supported")


@_op("Softmax", "LogSoftmax")
def _softmax(m, node, ins):
    x = ins[0]
    axis = int(node.attrs.get("axis", -1 if m.opset >= 13 else 1))
    if m.opset < 13 and axis % x.ndim != x.ndim - 1:
        # before opset 13 Softmax normalised over all axes from `axis` on, flattened
        shape = x.shape
        x = x.reshape(*shape[:axis], -1)
        f = _F().log_softmax if node.op == "LogSoftmax" else _F().softmax
        return f(x, dim=-1).reshape(*shape)
    f = _F().log_softmax if node.op == "LogSoftmax" else _F().softmax
    return f(x, dim=axis)


@_op("Max", "Min")
def _maxmin(m, node, ins):
    from convnp.ops.elementwise import maximum, minimum

    f = maximum if node.op == "Max" else minimum
    y = ins[0]
    for t in ins[1:]:
        y = f(y, t)
    return y


@_op("Where")
def _where(m, node, ins):
    from convnp.ops.elementwise import where

    return where(ins[0], ins[1], ins[2])


@_op("Greater", "Less", "Equal", "GreaterOrEqual", "LessOrEqual")
def _compare(m, node, ins):
    f = {"Greater": np.greater, "Less": np.less, "Equal": np.equal,
         "GreaterOrEqual": np.greater_equal, "LessOrEqual": np.less_equal}[node.op]
    return _wrap(f(ins[0].array, ins[1].array))


@_op("Cast")
def _cast(m, node, ins):
    import onnx

    dt = onnx.helper.tensor_dtype_to_np_dtype(int(node.attrs["to"]))
    return ins[0].to(dt) if ins[0].dtype.kind == "f" and np.dtype(dt).kind == "f" else \
        _wrap(ins[0].array.astype(dt))
