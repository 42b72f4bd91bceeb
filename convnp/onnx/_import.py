"""Run an ONNX graph with convnp ops: ``OnnxModule`` interprets the nodes in order.

Every operator is a function ``(module, node, inputs) -> outputs`` in ``_OPS``, built from convnp's
differentiable functional ops, so gradients flow through an imported model and its weights
(Parameters) can be trained. Shape-like inputs (Reshape's shape, Resize's sizes, Slice's starts...)
are read as plain integers.
"""

from __future__ import annotations

import math
import re
from typing import Any, Callable

import numpy as np

from convnp.onnx._export import ADAPTIVE_HINT, UnsupportedOperatorError

# (op, input position) pairs that are settings rather than data: never Parameters
_SETTING_INPUTS = {("Reshape", 1), ("Resize", 1), ("Resize", 2), ("Resize", 3), ("Pad", 1),
                   ("Pad", 2), ("Pad", 3), ("Slice", 1), ("Slice", 2), ("Slice", 3),
                   ("Slice", 4), ("Clip", 1), ("Clip", 2), ("Unsqueeze", 1), ("Squeeze", 1),
                   ("Expand", 1), ("MaxUnpool", 1), ("MaxUnpool", 2),
                   ("ReduceMean", 1), ("ReduceSum", 1), ("ConstantOfShape", 0),
                   ("Upsample", 1), ("Range", 0), ("Range", 1), ("Range", 2), ("Split", 1),
                   ("ReduceMax", 1), ("ReduceMin", 1), ("Dropout", 1), ("Dropout", 2)}
_BUFFER_INPUTS = {("BatchNormalization", 3), ("BatchNormalization", 4)}
_PARAM_INPUTS = {("Conv", 1), ("Conv", 2), ("ConvTranspose", 1), ("ConvTranspose", 2),
                 ("Gemm", 0), ("Gemm", 1), ("Gemm", 2), ("MatMul", 0), ("MatMul", 1),
                 ("BatchNormalization", 1), ("BatchNormalization", 2), ("PRelu", 1),
                 ("InstanceNormalization", 1), ("InstanceNormalization", 2),
                 ("LayerNormalization", 1), ("LayerNormalization", 2),
                 ("Add", 0), ("Add", 1),
                 ("Mul", 0), ("Mul", 1), ("Sub", 0), ("Sub", 1), ("Div", 0), ("Div", 1)}


def read_model(f, onnx):
    """Parse a path / file object / bytes / ModelProto, with one-line errors for bad files."""
    if isinstance(f, onnx.ModelProto):
        proto = f
    else:
        if isinstance(f, (bytes, bytearray)):
            data, where = bytes(f), "the given bytes"
        elif hasattr(f, "read"):
            data, where = f.read(), "the given file object"
        else:
            with open(f, "rb") as fh:
                data = fh.read()
            where = repr(str(f))
        proto = onnx.ModelProto()
        try:
            proto.ParseFromString(data)
        except Exception as e:  # noqa: BLE001 - protobuf raises DecodeError and RuntimeWarning
            raise ValueError(f"convnp.onnx.load: {where} is not a readable ONNX model "
                             f"({len(data)} bytes; truncated or not ONNX?): {e}") from None
        if not proto.graph.node and not proto.graph.output:
            raise ValueError(f"convnp.onnx.load: {where} holds no ONNX graph ({len(data)} bytes; "
                             "truncated or not an ONNX file?)")
    _check_wiring(proto)
    opset = _opset(proto)
    newest = onnx.defs.onnx_opset_version()
    if not 7 <= opset <= newest:
        raise ValueError(f"convnp.onnx.load: the model uses opset {opset}; this onnx "
                         f"{onnx.__version__} knows opsets 7 to {newest}")
    unsupported = sorted({n.op_type if n.domain in ("", "ai.onnx") else f"{n.domain}.{n.op_type}"
                          for n in proto.graph.node
                          if n.domain not in ("", "ai.onnx") or n.op_type not in _OPS})
    if unsupported:
        raise UnsupportedOperatorError(
            f"convnp.onnx.load: the model uses operators convnp does not run: "
            f"{', '.join(unsupported)} (supported: {', '.join(sorted(_OPS))})")
    return proto


def _check_wiring(proto) -> None:
    """Every node reads values that exist by then (a cut or corrupt file fails here, with the
    node named, rather than deep inside a forward)."""
    g = proto.graph
    known = {i.name for i in g.input} | {t.name for t in g.initializer} | {""}
    for k, n in enumerate(g.node):
        missing = [i for i in n.input if i not in known]
        if missing:
            raise ValueError(f"convnp.onnx.load: node {k} ({n.op_type} {n.name!r}) reads "
                             f"{missing}, which no earlier node, initializer or input defines "
                             "(truncated or corrupt file?)")
        known.update(n.output)
    missing = [o.name for o in g.output if o.name not in known]
    if missing:
        raise ValueError(f"convnp.onnx.load: the graph's outputs {missing} are never computed "
                         "(truncated or corrupt file?)")


def _opset(proto) -> int:
    for o in proto.opset_import:
        if o.domain in ("", "ai.onnx"):
            return int(o.version)
    return 1


def _attrs(node, onnx) -> dict[str, Any]:
    out = {}
    for a in node.attribute:
        v = onnx.helper.get_attribute_value(a)
        if isinstance(v, bytes):
            v = v.decode()
        elif a.type == onnx.AttributeProto.TENSOR:
            v = onnx.numpy_helper.to_array(v)
        out[a.name] = v
    return out


def _ident(name: str) -> str:
    return re.sub(r"\W", "_", name) or "_"


class _Node:
    __slots__ = ("op", "inputs", "outputs", "attrs", "name", "doc")

    def __init__(self, op, inputs, outputs, attrs, name, doc=""):
        self.op, self.inputs, self.outputs, self.attrs, self.name = (op, inputs, outputs, attrs,
                                                                     name)
        self.doc = doc

    def where(self) -> str:
        return f"ONNX {self.op} node {self.name or self.outputs[0]!r}"


def _module_class():
    from convnp.nn.modules.module import Module

    class OnnxModule(Module):
        """An ONNX graph run by convnp (see ``convnp.onnx.load``)."""

        def __init__(self, proto, dtype=None) -> None:
            super().__init__()
            import onnx

            from convnp.nn import Parameter
            from convnp.tensor import Tensor

            g = proto.graph
            self.opset = _opset(proto)
            self._nodes = [_Node(n.op_type, list(n.input), list(n.output), _attrs(n, onnx), n.name,
                                 n.doc_string) for n in g.node]
            init_names = {t.name for t in g.initializer}
            self.input_names = [i.name for i in g.input if i.name not in init_names]
            self.output_names = [o.name for o in g.output]
            self._input_specs = []
            for i in g.input:
                if i.name in init_names:
                    continue
                tt = i.type.tensor_type
                dims = [d.dim_value if d.HasField("dim_value") else None for d in tt.shape.dim]
                self._input_specs.append((i.name, dims if tt.HasField("shape") else None,
                                          onnx.helper.tensor_dtype_to_np_dtype(tt.elem_type)))
            uses: dict[str, set] = {}
            for n in self._nodes:
                for k, name in enumerate(n.inputs):
                    uses.setdefault(name, set()).add((n.op, k))
            self._consts: dict[str, np.ndarray] = {}
            self._weights: dict[str, str] = {}  # ONNX name -> dotted attribute path
            taken: set[str] = set()
            for t in g.initializer:
                arr = onnx.numpy_helper.to_array(t).copy()
                u = uses.get(t.name, set())
                floating = arr.dtype.kind == "f"
                if floating and dtype is not None:
                    from convnp import _dtype

                    arr = arr.astype(_dtype.resolve(dtype))
                kind = None
                if floating and u and not (u & _SETTING_INPUTS):
                    if u <= _BUFFER_INPUTS:
                        kind = "buffer"
                    elif u & _PARAM_INPUTS and arr.ndim >= 1:
                        kind = "param"
                if kind is None:
                    self._consts[t.name] = arr
                    continue
                path = self._place(t.name, taken)
                owner, attr = self._owner(path, create=True)
                if kind == "param":
                    owner.register_parameter(attr, Parameter(Tensor._wrap(arr)))
                else:
                    owner.register_buffer(attr, Tensor._wrap(arr))
                self._weights[t.name] = path

        def _place(self, name: str, taken: set) -> str:
            parts = [_ident(p) for p in name.split(".")] if "." in name else [_ident(name)]
            path = ".".join(parts)
            k = 1
            while path in taken or any(t.startswith(path + ".") or path.startswith(t + ".")
                                       for t in taken):
                path = ".".join(parts[:-1] + [f"{parts[-1]}_{k}"])
                k += 1
            taken.add(path)
            return path

        def _owner(self, path: str, create: bool = False):
            mod = self
            *mods, attr = path.split(".")
            for p in mods:
                sub = mod._modules.get(p)
                if sub is None:
                    if not create:
                        raise KeyError(path)
                    sub = Module()
                    mod.add_module(p, sub)
                mod = sub
            return mod, attr

        def _weight(self, path: str):
            owner, attr = self._owner(path)
            return getattr(owner, attr)

        def _check_inputs(self, args) -> None:
            if len(args) != len(self._input_specs):
                raise ValueError(f"OnnxModule: the model takes {len(self._input_specs)} inputs "
                                 f"({', '.join(self.input_names)}), got {len(args)}")
            for t, (name, dims, _) in zip(args, self._input_specs):
                if dims is None:
                    continue
                shape = tuple(t.shape)
                if len(shape) != len(dims) or any(d is not None and d > 0 and d != s
                                                  for d, s in zip(dims, shape)):
                    want = "(" + ", ".join("?" if d in (None, 0) else str(d) for d in dims) + ")"
                    raise ValueError(f"OnnxModule: input {name!r} must have shape {want}, got "
                                     f"{shape}")

        def forward(self, *args):
            from convnp.tensor import Tensor

            args = tuple(a if isinstance(a, Tensor) else Tensor(np.asarray(a)) for a in args)
            self._check_inputs(args)
            env: dict[str, Any] = {"": None}
            for name, arr in self._consts.items():
                env[name] = Tensor._wrap(arr)
            for name, path in self._weights.items():
                env[name] = self._weight(path)
            for name, t in zip(self.input_names, args):
                env[name] = t
            for node in self._nodes:
                ins = [env[i] if i else None for i in node.inputs]
                try:
                    outs = _OPS[node.op](self, node, ins)
                except (ValueError, RuntimeError, TypeError, IndexError) as e:
                    raise type(e)(f"{node.where()}: {e}") from None
                if not isinstance(outs, (tuple, list)):
                    outs = (outs,)
                for name, o in zip(node.outputs, outs):
                    if name:
                        env[name] = o
            outs = tuple(env[n] for n in self.output_names)
            return outs[0] if len(outs) == 1 else outs

        def extra_repr(self) -> str:
            ops: dict[str, int] = {}
            for n in self._nodes:
                ops[n.op] = ops.get(n.op, 0) + 1
            return (f"opset={self.opset}, inputs={self.input_names}, outputs={self.output_names}, "
                    f"{len(self._nodes)} nodes: " + ", ".join(f"{k} x{v}" for k, v in ops.items()))

    return OnnxModule


_CLASS = None


def OnnxModule(proto, dtype=None):  # noqa: N802 - a lazily built class
    global _CLASS
    if _CLASS is None:
        _CLASS = _module_class()
    return _CLASS(proto, dtype)


# --------------------------------------------------------------------------------- operators
_OPS: dict[str, Callable] = {}


def _op(*names):
    def deco(f):
        for n in names:
            _OPS[n] = f
        return f
    return deco


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


def _window(node, x, k):
    nd = len(k)
    s = list(node.attrs.get("strides", [1] * nd))
    d = list(node.attrs.get("dilations", [1] * nd))
    pads = _auto_pads(node, x.shape[2:], k, s, d) or _pairs(node.attrs.get("pads"), nd)
    return s, d, pads


@_op("Conv")
def _conv(m, node, ins):
    from convnp.ops.conv import convnd

    x, w = ins[0], ins[1]
    b = ins[2] if len(ins) > 2 else None
    k = list(node.attrs.get("kernel_shape", w.shape[2:]))
    s, d, pads = _window(node, x, k)
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
    k = list(node.attrs["kernel_shape"])
    nd = len(k)
    s, d, pairs = _window(node, x, k)
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
    k = list(node.attrs["kernel_shape"])
    nd = len(k)
    s, d, pairs = _window(node, x, k)
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


# --------------------------------------------------------------------------------- reductions
def _axes(node, ins, ndim):
    if len(ins) > 1 and ins[1] is not None:
        return tuple(a % ndim for a in _ints(ins[1]))
    if "axes" in node.attrs:
        return tuple(int(a) % ndim for a in node.attrs["axes"])
    return None


@_op("ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin")
def _reduce(m, node, ins):
    x = ins[0]
    axes = _axes(node, ins, x.ndim)
    if axes is None:
        if node.attrs.get("noop_with_empty_axes", 0):
            return x
        axes = tuple(range(x.ndim))
    keep = bool(node.attrs.get("keepdims", 1))
    if node.op == "ReduceMean":
        return x.mean(dim=axes, keepdim=keep)
    if node.op == "ReduceSum":
        return x.sum(dim=axes, keepdim=keep)
    return (x.amax if node.op == "ReduceMax" else x.amin)(dim=axes, keepdim=keep)


# ---------------------------------------------------------------------------------- movement
@_op("Flatten")
def _flatten(m, node, ins):
    x = ins[0]
    axis = int(node.attrs.get("axis", 1)) % (x.ndim + 1) if x.ndim else 0
    return x.reshape(math.prod(x.shape[:axis]), math.prod(x.shape[axis:]))


@_op("Reshape")
def _reshape(m, node, ins):
    x = ins[0]
    shape = _ints(ins[1])
    if not node.attrs.get("allowzero", 0):
        shape = [x.shape[i] if v == 0 else v for i, v in enumerate(shape)]
    return x.reshape(*shape)


@_op("Transpose")
def _transpose(m, node, ins):
    x = ins[0]
    perm = node.attrs.get("perm", list(range(x.ndim))[::-1])
    return x.permute(*[int(p) for p in perm])


@_op("Concat")
def _concat(m, node, ins):
    from convnp.ops.movement import cat

    return cat([t for t in ins if t is not None], dim=int(node.attrs["axis"]))


@_op("Squeeze")
def _squeeze(m, node, ins):
    x = ins[0]
    axes = _axes(node, ins, x.ndim)
    if axes is None:
        axes = tuple(i for i, s in enumerate(x.shape) if s == 1)
    return x.reshape(*[s for i, s in enumerate(x.shape) if i not in axes])


@_op("Unsqueeze")
def _unsqueeze(m, node, ins):
    x = ins[0]
    raw = _ints(ins[1]) if len(ins) > 1 and ins[1] is not None else list(node.attrs["axes"])
    n = x.ndim + len(raw)
    axes = sorted(a % n for a in raw)
    shape = list(x.shape)
    for a in axes:
        shape.insert(a, 1)
    return x.reshape(*shape)


@_op("Slice")
def _slice(m, node, ins):
    x = ins[0]
    if len(ins) > 1:
        starts, ends = _ints(ins[1]), _ints(ins[2])
        axes = _ints(ins[3]) if len(ins) > 3 and ins[3] is not None else list(range(len(starts)))
        steps = _ints(ins[4]) if len(ins) > 4 and ins[4] is not None else [1] * len(starts)
    else:  # opset < 10: attributes
        starts, ends = list(node.attrs["starts"]), list(node.attrs["ends"])
        axes = list(node.attrs.get("axes", range(len(starts))))
        steps = [1] * len(starts)
    index = [slice(None)] * x.ndim
    for a, st, en, sp in zip(axes, starts, ends, steps):
        size = x.shape[a]
        # ONNX clamps starts/ends (INT_MAX / INT_MIN mean "to the end"); Python slices do too,
        # except that a negative end below -size must mean "before the first element"
        stop = None if (sp < 0 and en < -size) or (sp > 0 and en >= size) else en
        index[a % x.ndim] = slice(st, stop, sp)
    return x[tuple(index)]


@_op("Shape")
def _shape(m, node, ins):
    shape = np.asarray(ins[0].shape, np.int64)
    start = node.attrs.get("start", 0)
    end = node.attrs.get("end", None)
    return _wrap(shape[start:end])


@_op("Gather")
def _gather(m, node, ins):
    x, idx = ins
    axis = int(node.attrs.get("axis", 0))
    if x.requires_grad:
        index = [slice(None)] * x.ndim
        index[axis % x.ndim] = idx.array
        return x[tuple(index)]
    return _wrap(np.take(x.array, idx.array, axis=axis))


@_op("Constant")
def _constant(m, node, ins):
    a = node.attrs
    for key in ("value", "value_float", "value_floats", "value_int", "value_ints"):
        if key in a:
            v = np.asarray(a[key])
            if key.startswith("value_int"):
                v = v.astype(np.int64)
            elif key.startswith("value_float"):
                v = v.astype(np.float32)
            return _wrap(v)
    raise ValueError(f"Constant with attributes {sorted(a)} is not supported")


@_op("ConstantOfShape")
def _constant_of_shape(m, node, ins):
    value = node.attrs.get("value", np.zeros(1, np.float32))
    return _wrap(np.full(_ints(ins[0]), np.asarray(value).reshape(-1)[0],
                         np.asarray(value).dtype))


@_op("Expand")
def _expand(m, node, ins):
    x = ins[0]
    shape = np.broadcast_shapes(tuple(x.shape), tuple(_ints(ins[1])))
    return x.expand(*shape)


@_op("Range")
def _range(m, node, ins):
    start, limit, delta = (np.asarray(t.array).reshape(()) for t in ins)
    return _wrap(np.arange(start, limit, delta).astype(start.dtype))


@_op("Pad")
def _pad(m, node, ins):
    from convnp.ops.padding import Pad

    x = ins[0]
    if len(ins) > 1 and ins[1] is not None:
        pads = _ints(ins[1])
        value = _scalar(ins[2]) if len(ins) > 2 and ins[2] is not None else 0.0
        axes = _ints(ins[3]) if len(ins) > 3 and ins[3] is not None else list(range(x.ndim))
    else:  # opset < 11: attributes
        pads = list(node.attrs["pads"])
        value = float(node.attrs.get("value", 0.0))
        axes = list(range(x.ndim))
    n = len(axes)
    pairs = [(0, 0)] * x.ndim
    for i, a in enumerate(axes):
        pairs[a % x.ndim] = (int(pads[i]), int(pads[i + n]))
    mode = node.attrs.get("mode", "constant")
    ours = {"constant": "constant", "reflect": "reflect", "edge": "replicate",
            "wrap": "circular"}.get(mode)
    if ours is None:
        raise ValueError(f"Pad mode {mode!r} is not supported")
    # leading axes without padding stay out of the Pad call (reflect needs no size check there)
    first = next((i for i, p in enumerate(pairs) if p != (0, 0)), x.ndim)
    pairs = pairs[first:]
    if not pairs:
        return x
    return Pad.apply(x, pads=tuple(pairs), modes=(ours,) * len(pairs), value=value)


# -------------------------------------------------------------------------------------- Resize
def _resize_table(n_in, n_out, scale, attrs, ft, given_scale):
    ctm = attrs.get("coordinate_transformation_mode", "half_pixel")
    mode = attrs.get("mode", "nearest")
    torch_table = _torch_table(n_in, n_out, attrs, ctm, mode, ft, given_scale)
    if torch_table is not None:
        return torch_table
    o = np.arange(n_out, dtype=np.float64)
    if ctm == "half_pixel":
        x = (o + 0.5) / scale - 0.5
    elif ctm == "pytorch_half_pixel":
        x = (o + 0.5) / scale - 0.5 if n_out > 1 else np.zeros(n_out)
    elif ctm == "align_corners":
        x = o * (n_in - 1) / (n_out - 1) if n_out > 1 else np.zeros(n_out)
    elif ctm == "asymmetric":
        x = o / scale
    elif ctm == "half_pixel_symmetric":
        adj = n_out / (n_in * scale)
        x = n_in / 2 * (1 - adj) + (o + 0.5) / scale - 0.5
    else:
        raise ValueError(f"Resize coordinate_transformation_mode={ctm!r} is not supported")
    if mode == "nearest":
        nm = attrs.get("nearest_mode", "round_prefer_floor")
        r = {"round_prefer_floor": lambda v: np.ceil(v - 0.5),
             "round_prefer_ceil": lambda v: np.floor(v + 0.5),
             "floor": np.floor, "ceil": np.ceil}[nm](x)
        idx = np.clip(r, 0, n_in - 1).astype(np.int64)[:, None]
        return idx, np.ones((n_out, 1), ft)
    if mode == "linear":
        x = np.clip(x, 0, n_in - 1)
        i0 = np.floor(x).astype(np.int64)
        lam = x - i0
        i1 = np.minimum(i0 + 1, n_in - 1)
        return np.stack([i0, i1], 1), np.stack([1 - lam, lam], 1).astype(ft)
    if mode == "cubic":
        a = float(attrs.get("cubic_coeff_a", -0.75))
        i0 = np.floor(x).astype(np.int64)
        t = x - i0
        dist = np.stack([t + 1, t, 1 - t, 2 - t], 1)
        ad = np.abs(dist)
        w = np.where(ad <= 1, ((a + 2) * ad - (a + 3)) * ad * ad + 1,
                     np.where(ad < 2, ((a * ad - 5 * a) * ad + 8 * a) * ad - 4 * a, 0.0))
        idx = i0[:, None] + np.arange(-1, 3)
        if attrs.get("exclude_outside", 0):
            w = np.where((idx >= 0) & (idx < n_in), w, 0.0)
            w = w / w.sum(1, keepdims=True)
        return np.clip(idx, 0, n_in - 1), w.astype(ft)
    raise ValueError(f"Resize mode={mode!r} is not supported")


def _torch_table(n_in, n_out, attrs, ctm, mode, ft, scale):
    """The cases PyTorch's interpolate exports to, computed by convnp's own tables (the same
    arithmetic, so a convnp -> ONNX -> convnp round trip is exact); None for the others."""
    from convnp.ops import upsample as U

    if mode == "nearest":
        nm = attrs.get("nearest_mode", "round_prefer_floor")
        if ctm == "asymmetric" and nm == "floor":
            return U._nearest_table(n_in, n_out, scale, False, ft)
        if ctm == "half_pixel" and nm == "round_prefer_ceil":
            return U._nearest_table(n_in, n_out, scale, True, ft)
        return None
    if ctm == "align_corners" or ctm == "half_pixel" or (ctm == "pytorch_half_pixel"
                                                        and n_out > 1):
        align = ctm == "align_corners"
        if mode == "linear":
            return U._linear_table(n_in, n_out, scale, align, ft)
        if mode == "cubic" and float(attrs.get("cubic_coeff_a", -0.75)) == -0.75 \
                and not attrs.get("exclude_outside", 0):
            return U._cubic_table(n_in, n_out, scale, align, ft)
    return None


@_op("Resize", "Upsample")
def _resize(m, node, ins):
    from convnp.ops.upsample import Interpolate

    x = ins[0]
    if node.op == "Upsample":
        scales = ins[1].array.astype(np.float64) if len(ins) > 1 else \
            np.asarray(node.attrs["scales"], np.float64)
        sizes = None
        attrs = dict(node.attrs, coordinate_transformation_mode="asymmetric",
                     nearest_mode="floor")
    else:
        attrs = node.attrs
        scales = ins[2].array.astype(np.float64) if len(ins) > 2 and ins[2] is not None \
            and ins[2].array.size else None
        sizes = _ints(ins[3]) if len(ins) > 3 and ins[3] is not None else None
        if attrs.get("antialias", 0):
            raise ValueError("Resize with antialias=1 is not supported")
        if attrs.get("axes") is not None:
            full_s = np.ones(x.ndim) if scales is not None else None
            full_z = list(x.shape) if sizes is not None else None
            for i, a in enumerate(attrs["axes"]):
                if full_s is not None:
                    full_s[a] = scales[i]
                if full_z is not None:
                    full_z[a] = sizes[i]
            scales, sizes = full_s, full_z
    if attrs.get("mode", "nearest") == "linear" and "coordinate_transformation_mode" not in attrs:
        attrs = dict(attrs, coordinate_transformation_mode="half_pixel")
    tables = {}
    ft = x.dtype.type
    for a in range(x.ndim):
        n_in = x.shape[a]
        given = None
        if sizes is not None:
            n_out, sc = int(sizes[a]), sizes[a] / n_in
        else:
            # scales travel as float32; the shortest decimal of that float32 is the scale the
            # model was built with (2.5, 1.7), which PyTorch and convnp invert in double
            sc = given = float(str(np.float32(scales[a])))
            n_out = int(math.floor(n_in * sc))
        if n_out == n_in and sc == 1.0:
            continue
        if a < 2 and n_out != n_in:
            raise ValueError(f"resizing the batch or channel axis ({n_in} -> {n_out}) is not "
                             "supported")
        tables[a] = _resize_table(n_in, n_out, sc, attrs, ft, given)
    return Interpolate.apply(x, tables=tables)
