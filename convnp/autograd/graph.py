"""The autograd graph: ``Context`` (an op call's saved state), ``Node`` (a recorded call, the
vertex the engine walks), ``AccumulateGrad`` (a leaf's node) and the check that saved tensors
were not changed in place. Plain data on NumPy arrays: the engine walks it without knowing
what a Tensor is; ``Function.apply`` (``function.py``) builds it."""

from __future__ import annotations

import weakref
from typing import Any

import numpy as np

from convnp.autograd.names import torch_name, torch_next_functions


class Context:
    """Per-call scratch space of a Function: saved arrays, flags and any attribute the op sets."""

    half = False  # True: a float16 call computed in float32 (Function.half_in_float32)
    # defaults on the class, so a call that sets none of them builds nothing (every op makes a
    # Context, recorded or not)
    saved_tensors: tuple = ()
    non_differentiable: frozenset | set = frozenset()
    # (counter, version at save time, description) of each saved input/output tensor
    saved_versions: list | None = None

    def __init__(self, needs_input_grad: tuple[bool, ...]) -> None:
        self.needs_input_grad = needs_input_grad

    def save_for_backward(self, *arrays: Any) -> None:
        """Keep arrays needed by backward; the engine frees them after backward ran."""
        self.saved_tensors = arrays

    def mark_non_differentiable(self, *output_indices: int) -> None:
        """Declare outputs (by position) that carry no gradient, e.g. argmax indices."""
        self.non_differentiable = {*self.non_differentiable, *output_indices}


class Node:
    """A recorded Function call: the graph vertex the engine walks in backward."""

    __slots__ = ("fn", "ctx", "kwargs", "edges", "n_outputs", "out_meta", "freed", "retained",
                 "hooks", "__weakref__")

    def __init__(self, fn: type, ctx: Context, edges: list, out_meta: list,
                 kwargs: dict | None = None) -> None:
        self.fn = fn
        self.ctx = ctx
        self.kwargs = kwargs  # the forward's keyword arguments: torch's node name depends on some
        # one entry per positional input: None (no gradient wanted) or (kind, target, shape, dtype)
        # where kind is "node" (target=(Node, output_nr)) or "leaf" (target=Tensor)
        self.edges = edges
        self.n_outputs = len(out_meta)
        self.out_meta = out_meta  # (shape, dtype) of each output, to build zero gradients
        self.freed = False
        self.retained: dict[int, Any] = {}
        self.hooks: dict[int, dict] = {}  # output nr -> gradient hooks, array -> array

    def name(self) -> str:
        """torch's name for this node (``'MulBackward0'``, ``'AddmmBackward0'``, ...)."""
        return torch_name(self)

    def op_name(self) -> str:
        """The forward op's name as torch's messages print it (``'Mul'`` for MulBackward0)."""
        name = self.name()
        return name[:name.rindex("Backward")] if "Backward" in name else name

    @property
    def next_functions(self) -> tuple:
        """One ``(node, output_nr)`` per input, as torch: the node that produced the input,
        ``AccumulateGrad`` for a leaf that requires grad, ``None`` for an input needing no
        gradient."""
        out = []
        for edge in self.edges:
            if edge is None:
                out.append((None, 0))
            elif edge[0] == "node":
                out.append(edge[1])
            else:
                out.append((AccumulateGrad.of(edge[1]), 0))
        return torch_next_functions(self, tuple(out))

    def __repr__(self) -> str:
        return f"<{self.name()} object at {hex(id(self))}>"


class AccumulateGrad:
    """The graph node of a leaf tensor (what ``next_functions`` shows for parameters)."""

    __slots__ = ("variable", "__weakref__")

    def __init__(self, variable: Any) -> None:
        self.variable = variable

    @staticmethod
    def of(t: Any) -> "AccumulateGrad":
        """The leaf's node; one per leaf, as torch returns the same object each time."""
        node = _ACCUMULATE.get(id(t))
        if node is None:  # keyed by id: the node keeps its tensor alive, so the id stays valid
            node = _ACCUMULATE[id(t)] = AccumulateGrad(t)
        return node

    next_functions: tuple = ()

    def name(self) -> str:
        return "AccumulateGrad"

    def __repr__(self) -> str:
        return f"<AccumulateGrad object at {hex(id(self))}>"


_ACCUMULATE: "weakref.WeakValueDictionary[int, AccumulateGrad]" = weakref.WeakValueDictionary()


_TYPE_NAMES = {"float32": "Float", "float64": "Double", "float16": "Half", "int64": "Long",
               "int32": "Int", "int16": "Short", "int8": "Char", "uint8": "Byte", "bool": "Bool"}


def _type_name(dtype) -> str:
    """torch's legacy type string for a dtype (``convnp.FloatTensor``), as its message prints."""
    return f"convnp.{_TYPE_NAMES.get(np.dtype(dtype).name, str(dtype))}Tensor"


def check_saved_versions(node: Node) -> None:
    """Raise torch's error when a tensor saved by ``node`` was changed in place since."""
    for vc, version, shape, dtype, desc in node.ctx.saved_versions:
        if vc[0] != version:
            which = ""
            if desc is not None:
                which = f", which is output {desc[1]} of {(desc[0] or node).op_name()},"
            raise RuntimeError(
                "one of the variables needed for gradient computation has been modified by an "
                f"inplace operation: [{_type_name(dtype)} {list(shape)}]{which} is at "
                f"version {vc[0]}; expected version {version} instead. Hint: the tensor was "
                f"changed in place after {node.name()} saved it for backward; change a copy "
                "(x = x + 1, or x.clone() before the change) instead.")
