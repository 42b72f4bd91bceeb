"""Tracing a convnp forward for the ONNX exporter, and the converter table.

While ``export`` runs the model once, ``convnp.autograd.function._tracer`` records every
``Function`` call (class, inputs, keyword arguments, outputs) and the module that made it, so
layers and functional code (``F.relu``, ``x + y``, ``x.view``, ``cat``) are both captured. A
converter (registered with ``_converts`` under the Function's name, in ``_export_layers`` and
``_export_tensor_ops``) turns each recorded call, seen as a ``_Ctx``, into ONNX nodes through the
``_Builder``.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from convnp.autograd import function as _function
from convnp.onnx._registry import registrar

ADAPTIVE_HINT = "convnp: adaptive_avg_pool"


class UnsupportedOperatorError(NotImplementedError):
    """A traced op (or an ONNX node) has no translation."""


class _Call:
    __slots__ = ("fn", "args", "kwargs", "outs", "module")

    def __init__(self, fn, args, kwargs, outs, module):
        self.fn, self.args, self.kwargs, self.outs, self.module = fn, args, kwargs, outs, module


class _Tracer:
    """Records Function calls and the dotted name of the module running each one."""

    def __init__(self, model) -> None:
        self.calls: list[_Call] = []
        self.stack: list[str] = []
        self.handles = []
        for name, m in model.named_modules():
            label = f"{name or 'model'} ({type(m).__name__})"
            self.handles.append(m.register_forward_pre_hook(
                lambda _m, _a, label=label: self.stack.append(label)))
            self.handles.append(m.register_forward_hook(
                lambda _m, _a, _o: self.stack.pop() and None))

    def __call__(self, fn, args, kwargs, outs) -> None:
        self.calls.append(_Call(fn, args, kwargs, outs, self.stack[-1] if self.stack else "model"))

    def __enter__(self):
        if _function._tracer is not None:
            raise RuntimeError("convnp.onnx.export: already tracing (export is not reentrant)")
        _function._tracer = self
        return self

    def __exit__(self, *exc) -> None:
        _function._tracer = None
        for h in self.handles:
            h.remove()


class _Builder:
    """Accumulates nodes and initializers; maps traced tensors to ONNX value names."""

    def __init__(self, onnx, opset: int, params: dict[int, str]) -> None:
        self.onnx, self.opset = onnx, opset
        self.nodes: list = []
        self.inits: dict[str, np.ndarray] = {}
        self.params = params  # id(Tensor or ndarray) -> state_dict name
        self.by_tensor: dict[int, str] = {}
        self.by_array: dict[int, str] = {}
        self.meta: dict[str, dict] = {}  # value name -> facts a later converter needs
        self.keep: list = []  # objects whose id() is a key above stay alive
        self.counter = 0

    def fresh(self, hint: str) -> str:
        self.counter += 1
        return f"{hint}_{self.counter}"

    def const(self, value, dtype=None, hint: str = "const") -> str:
        arr = np.asarray(value, dtype=dtype)
        name = self.fresh(hint)
        self.inits[name] = arr
        return name

    def ints(self, values) -> str:
        return self.const(np.asarray(list(values), np.int64), hint="shape")

    def node(self, op: str, inputs, n_out: int = 1, hint: str | None = None,
             doc: str | None = None, **attrs) -> list[str]:
        outs = [self.fresh(hint or op.lower()) for _ in range(n_out)]
        attrs = {k: v for k, v in attrs.items() if v is not None}
        self.nodes.append(self.onnx.helper.make_node(op, list(inputs), outs, doc_string=doc,
                                                     name=self.fresh(f"/{op}"), **attrs))
        return outs

    def one(self, op: str, inputs, **attrs) -> str:
        return self.node(op, inputs, **attrs)[0]

    def bind(self, t, name: str) -> None:
        self.keep.append(t)
        self.by_tensor[id(t)] = name
        self.by_array[id(t.array)] = name

    def name_of(self, x, raw: bool = False) -> str:
        """ONNX name of a traced tensor, parameter, buffer or constant input ``x``."""
        from convnp.tensor import Tensor

        if x is None:
            return ""
        arr = x.array if isinstance(x, Tensor) else x
        name = self.by_tensor.get(id(x)) or self.by_array.get(id(arr))
        if name is None:
            pname = self.params.get(id(x)) or self.params.get(id(arr))
            if pname is not None:
                self.inits.setdefault(pname, np.asarray(arr))
                name = pname
            else:
                name = self.const(np.asarray(arr))
            self.keep.append(x)
            self.by_array[id(arr)] = name
        if not raw and self.meta.get(name, {}).get("flat_plane"):
            name = self._plane_indices(name)
        return name

    def _plane_indices(self, name: str) -> str:
        """ONNX MaxPool indices count over the whole (N, C, *S) tensor; convnp's and PyTorch's
        count within each plane, so the remainder modulo the plane size converts them."""
        m = self.meta[name]
        if "plane_name" not in m:
            m["plane_name"] = self.one("Mod", [name, self.const(np.int64(m["flat_plane"]))])
        return m["plane_name"]


class _Ctx:
    """One recorded call as a converter sees it."""

    def __init__(self, b: _Builder, call: _Call) -> None:
        from convnp.tensor import Tensor

        self.b, self.call, self.kw = b, call, call.kwargs
        self.arrays = [a.array if isinstance(a, Tensor) else a for a in call.args]
        self.out_shapes = [o.array.shape for o in call.outs]

    def x(self, i: int = 0, raw: bool = False) -> str:
        return self.b.name_of(self.call.args[i], raw) if i < len(self.call.args) else ""

    def shape(self, i: int = 0) -> tuple:
        return np.shape(self.arrays[i])

    def fail(self, why: str):
        raise UnsupportedOperatorError(
            f"convnp.onnx.export: {self.call.module} calls {self.call.fn.__name__} {why}, which "
            "has no ONNX form")


_CONVERTERS: dict[str, Callable[[_Ctx], Any]] = {}


_converts = registrar(_CONVERTERS)


def _slice(b: _Builder, x: str, axes, starts, ends, steps=None) -> str:
    ins = [x, b.ints(starts), b.ints(ends), b.ints(axes)]
    if steps is not None:
        ins.append(b.ints(steps))
    return b.one("Slice", ins)


_ONNX_DTYPE = {np.dtype(np.float32): 1, np.dtype(np.float64): 11, np.dtype(np.float16): 10,
               np.dtype(np.int64): 7, np.dtype(np.int32): 6, np.dtype(np.bool_): 9,
               np.dtype(np.uint8): 2, np.dtype(np.int8): 3}
