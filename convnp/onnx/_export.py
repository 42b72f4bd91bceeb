"""Trace a convnp forward and write it as an ONNX graph.

``build_model`` runs the model once under a ``_Tracer`` (``convnp.onnx._trace``), translates each
recorded call with the converter registered for its Function (``_export_layers``,
``_export_tensor_ops``), and assembles the graph. Parameters and buffers become initializers
under their ``state_dict`` names; any other tensor a call reads that the trace did not produce is
a constant.
"""

from __future__ import annotations

import io
import os

import numpy as np

from convnp.onnx import _export_layers, _export_tensor_ops  # noqa: F401  (register converters)
from convnp.onnx._trace import (  # noqa: F401  (ADAPTIVE_HINT, UnsupportedOperatorError: API)
    _CONVERTERS,
    _ONNX_DTYPE,
    ADAPTIVE_HINT,
    UnsupportedOperatorError,
    _Builder,
    _Ctx,
    _Tracer,
)


# ------------------------------------------------------------------------------ the driver
def _ort_max_opset() -> int | None:
    """The newest default-domain opset the installed onnxruntime loads (None: not installed)."""
    try:
        import onnxruntime as ort
    except ImportError:
        return None
    import onnx
    from onnx import TensorProto, helper

    g = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "probe",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])])
    for opset in range(onnx.defs.onnx_opset_version(), 12, -1):
        ops = [helper.make_opsetid("", opset)]
        m = helper.make_model(g, opset_imports=ops)
        m.ir_version = helper.find_min_ir_version_for(ops)
        try:
            ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
            return opset
        except Exception:  # noqa: BLE001 - any refusal means this opset is too new
            continue
    return None


def check_opset(opset: int, min_opset: int, onnx) -> int:
    """``opset`` if both the installed onnx and onnxruntime know it, else a ValueError."""
    newest = onnx.defs.onnx_opset_version()
    if not min_opset <= opset <= newest:
        raise ValueError(f"convnp.onnx.export: opset_version must be between {min_opset} and "
                         f"{newest} (the installed onnx {onnx.__version__}), got {opset}")
    ort_max = _ort_max_opset()
    if ort_max is not None and opset > ort_max:
        import onnxruntime

        raise ValueError(f"convnp.onnx.export: opset_version={opset} is newer than the installed "
                         f"onnxruntime {onnxruntime.__version__} accepts (up to {ort_max}); pass "
                         f"opset_version<={ort_max} or upgrade onnxruntime")
    return opset


def write(proto, f) -> None:
    """Write ``proto`` to a path or a binary file object."""
    data = proto.SerializeToString()
    if isinstance(f, (str, os.PathLike)):
        with open(f, "wb") as fh:
            fh.write(data)
    elif isinstance(f, io.IOBase) or hasattr(f, "write"):
        f.write(data)
    else:
        raise TypeError(f"convnp.onnx.export: 'f' must be a path or a binary file object, got "
                        f"{type(f).__name__}")


def _value_info(onnx, name, arr, dyn: dict | None):
    dims = list(arr.shape)
    for axis, label in (dyn or {}).items():
        if axis >= len(dims):
            raise ValueError(f"convnp.onnx.export: dynamic_axes names axis {axis} of {name!r}, "
                             f"which has only {len(dims)} axes (shape {tuple(arr.shape)})")
        dims[axis] = label
    if arr.dtype not in _ONNX_DTYPE:
        raise TypeError(f"convnp.onnx.export: {name!r} has dtype {arr.dtype}, which ONNX graphs "
                        "here do not carry (use float32)")
    return onnx.helper.make_tensor_value_info(name, _ONNX_DTYPE[arr.dtype], dims)


def _dyn_axes(spec, name) -> dict:
    if spec is None or name not in spec:
        return {}
    v = spec[name]
    return {int(a): f"{name}_dim{a}" for a in v} if isinstance(v, (list, tuple)) else \
        {int(a): str(lbl) for a, lbl in v.items()}


def build_model(model, args: tuple, opset: int, input_names, output_names, dynamic_axes,
                onnx):
    """Trace ``model(*args)`` and return the ``onnx.ModelProto``."""
    from convnp.autograd.grad_mode import no_grad
    from convnp.tensor import Tensor

    params = {}
    for name, p in model.named_parameters():
        params.setdefault(id(p), name)
        params.setdefault(id(p.array), name)
    for name, buf in model.named_buffers():
        params.setdefault(id(buf), name)
        params.setdefault(id(buf.array), name)
    with no_grad(), _Tracer(model) as tracer:
        out = model(*args)
    outs = out if isinstance(out, (tuple, list)) else (out,)
    if not all(isinstance(o, Tensor) for o in outs):
        raise TypeError("convnp.onnx.export: the model must return a Tensor or a tuple of "
                        f"Tensors, got {type(out).__name__}")
    input_names = list(input_names or (["input"] if len(args) == 1 else
                                       [f"input_{i}" for i in range(len(args))]))
    output_names = list(output_names or (["output"] if len(outs) == 1 else
                                         [f"output_{i}" for i in range(len(outs))]))
    if len(input_names) != len(args):
        raise ValueError(f"convnp.onnx.export: {len(input_names)} input_names for {len(args)} "
                         "inputs")
    if len(output_names) != len(outs):
        raise ValueError(f"convnp.onnx.export: {len(output_names)} output_names for "
                         f"{len(outs)} outputs")
    b = _Builder(onnx, opset, params)
    for t, name in zip(args, input_names):
        b.bind(t, name)
    missing = sorted({c.fn.__name__ for c in tracer.calls} - set(_CONVERTERS))
    if missing:
        where = {}
        for c in tracer.calls:
            if c.fn.__name__ in missing:
                where.setdefault(c.fn.__name__, c.module)
        raise UnsupportedOperatorError(
            "convnp.onnx.export: no ONNX form for " + "; ".join(
                f"{op} (called by {where[op]})" for op in missing)
            + ". Replace those layers, or export the part of the model before them")
    for call in tracer.calls:
        names = _CONVERTERS[call.fn.__name__](_Ctx(b, call))
        for t, name in zip(call.outs, names):
            if name:
                b.bind(t, name)
    graph_outs = []
    for t, name in zip(outs, output_names):
        src = b.name_of(t)
        b.nodes.append(onnx.helper.make_node("Identity", [src], [name], name=f"/out/{name}"))
        graph_outs.append(_value_info(onnx, name, t.array, _dyn_axes(dynamic_axes, name)))
    graph_ins = [_value_info(onnx, n, t.array, _dyn_axes(dynamic_axes, n))
                 for t, n in zip(args, input_names)]
    inits = [onnx.numpy_helper.from_array(np.array(a, order="C"), name)
             for name, a in b.inits.items()]
    graph = onnx.helper.make_graph(b.nodes, type(model).__name__, graph_ins, graph_outs, inits)
    ops = [onnx.helper.make_opsetid("", opset)]
    m = onnx.helper.make_model(graph, opset_imports=ops, producer_name="convnp")
    # the oldest IR version that carries this opset: every runtime that knows the opset loads it
    m.ir_version = onnx.helper.find_min_ir_version_for(ops)
    return m
