"""Run an ONNX graph with convnp ops: ``OnnxModule`` interprets the nodes in order.

Every operator is a function ``(module, node, inputs) -> outputs`` in ``_OPS``
(``_import_layers``, ``_import_tensor_ops``), built from convnp's differentiable functional ops,
so gradients flow through an imported model and its weights (Parameters) can be trained.
Shape-like inputs (Reshape's shape, Resize's sizes, Slice's starts...) are read as plain integers.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from convnp.nn.modules.module import Module
from convnp.onnx import _import_tensor_ops  # noqa: F401  (registers its operators in _OPS)
from convnp.onnx._import_layers import _OPS
from convnp.onnx._trace import UnsupportedOperatorError

# (op, input position) pairs that are settings rather than data: never Parameters
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


def _input_specs(graph, init_names: set, onnx) -> list[tuple]:
    """(name, dims or None, dtype) of each graph input that is not an initializer."""
    specs = []
    for i in graph.input:
        if i.name in init_names:
            continue
        tt = i.type.tensor_type
        dims = [d.dim_value if d.HasField("dim_value") else None for d in tt.shape.dim]
        specs.append((i.name, dims if tt.HasField("shape") else None,
                      onnx.helper.tensor_dtype_to_np_dtype(tt.elem_type)))
    return specs


def _initializer_kind(arr: np.ndarray, uses: set) -> str | None:
    """'param' or 'buffer' for a float initializer feeding weights or statistics, None for a
    constant (settings such as shapes, integer tables, unused values)."""
    if arr.dtype.kind != "f" or not uses or uses & _SETTING_INPUTS:
        return None
    if uses <= _BUFFER_INPUTS:
        return "buffer"
    if uses & _PARAM_INPUTS and arr.ndim >= 1:
        return "param"
    return None


class OnnxModule(Module):
    """An ONNX graph run by convnp (see ``convnp.onnx.load``)."""

    def __init__(self, proto, dtype=None) -> None:
        super().__init__()
        import onnx

        g = proto.graph
        self.opset = _opset(proto)
        self._nodes = [_Node(n.op_type, list(n.input), list(n.output), _attrs(n, onnx), n.name,
                             n.doc_string) for n in g.node]
        init_names = {t.name for t in g.initializer}
        self.input_names = [i.name for i in g.input if i.name not in init_names]
        self.output_names = [o.name for o in g.output]
        self._input_specs = _input_specs(g, init_names, onnx)
        self._consts: dict[str, np.ndarray] = {}
        self._weights: dict[str, str] = {}  # ONNX name -> dotted attribute path
        self._load_initializers(g, dtype, onnx)

    def _load_initializers(self, g, dtype, onnx) -> None:
        """Float weights become Parameters, BatchNormalization statistics buffers (nested at the
        dots of their names), everything else a constant."""
        from convnp import _dtype
        from convnp.nn import Parameter
        from convnp.tensor import Tensor

        uses: dict[str, set] = {}
        for n in self._nodes:
            for k, name in enumerate(n.inputs):
                uses.setdefault(name, set()).add((n.op, k))
        taken: set[str] = set()
        for t in g.initializer:
            arr = onnx.numpy_helper.to_array(t).copy()
            if arr.dtype.kind == "f" and dtype is not None:
                arr = arr.astype(_dtype.resolve(dtype))
            kind = _initializer_kind(arr, uses.get(t.name, set()))
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
