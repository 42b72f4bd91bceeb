"""``Function``: an op's forward and backward on raw NumPy arrays, and the graph node it
leaves behind.

Every differentiable op in convnp is a subclass::

    class Mul(Function):
        @staticmethod
        def forward(ctx, a, b):            # NumPy arrays in (Tensors are unwrapped) ...
            ctx.save_for_backward(a, b)
            return a * b                   # ... a NumPy array (or a tuple of them) out
        @staticmethod
        def backward(ctx, grad):           # one upstream gradient per output
            a, b = ctx.saved_tensors
            return grad * b, grad * a      # one gradient (or None) per positional input

    Mul.apply(x, y)                        # -> Tensor, graph recorded when needed

The engine (``engine.py``) does the generic work so ops don't: gradients of broadcast inputs are
summed back to the input's shape, fan-out is accumulated, ``ctx.needs_input_grad`` tells which
gradients anybody wants, and saved arrays are freed after use unless ``retain_graph``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from convnp.autograd.grad_mode import is_grad_enabled

# Set by ``convnp.onnx`` while it traces a forward: called as ``_tracer(cls, args, kwargs, out)``
# after every Function call, so functional code (``F.relu``, ``x + y``, ``x.view``) is recorded
# along with the layers. None outside tracing (one global lookup per op).
_tracer = None


class Context:
    """Per-call scratch space of a Function: saved arrays, flags and any attribute the op sets."""

    def __init__(self, needs_input_grad: tuple[bool, ...]) -> None:
        self.needs_input_grad = needs_input_grad
        self.saved_tensors: tuple = ()
        self.non_differentiable: set[int] = set()

    def save_for_backward(self, *arrays: Any) -> None:
        """Keep arrays needed by backward; the engine frees them after backward ran."""
        self.saved_tensors = arrays

    def mark_non_differentiable(self, *output_indices: int) -> None:
        """Declare outputs (by position) that carry no gradient, e.g. argmax indices."""
        self.non_differentiable.update(output_indices)


class Node:
    """A recorded Function call: the graph vertex the engine walks in backward."""

    __slots__ = ("fn", "ctx", "edges", "n_outputs", "out_meta", "freed", "retained", "hooks",
                 "__weakref__")

    def __init__(self, fn: type, ctx: Context, edges: list, out_meta: list) -> None:
        self.fn = fn
        self.ctx = ctx
        # one entry per positional input: None (no gradient wanted) or (kind, target, shape, dtype)
        # where kind is "node" (target=(Node, output_nr)) or "leaf" (target=Tensor)
        self.edges = edges
        self.n_outputs = len(out_meta)
        self.out_meta = out_meta  # (shape, dtype) of each output, to build zero gradients
        self.freed = False
        self.retained: dict[int, Any] = {}
        self.hooks: dict[int, dict] = {}  # output nr -> Tensor.register_hook hooks

    def name(self) -> str:
        return self.fn.__name__ + "Backward"

    def __repr__(self) -> str:
        return f"<{self.name()}>"


def _is_float(a: np.ndarray) -> bool:
    return a.dtype.kind in "fc"


class Function:
    """Base class of every differentiable op (see the module docstring for the contract)."""

    @staticmethod
    def forward(ctx: Context, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError

    @staticmethod
    def backward(ctx: Context, *grads: np.ndarray) -> Any:
        raise NotImplementedError

    @classmethod
    def apply(cls, *args: Any, **kwargs: Any):
        from convnp.tensor import Tensor

        raw = [a.array if isinstance(a, Tensor) else a for a in args]
        needs = tuple(isinstance(a, Tensor) and a.requires_grad for a in args)
        record = is_grad_enabled() and any(needs)
        ctx = Context(needs if record else (False,) * len(args))
        out = cls.forward(ctx, *raw, **kwargs)
        multi = isinstance(out, tuple)
        outs = out if multi else (out,)
        outs = tuple(o if isinstance(o, np.ndarray) else np.asarray(o) for o in outs)
        if not record:
            tensors = tuple(Tensor._wrap(o) for o in outs)
            if _tracer is not None:
                _tracer(cls, args, kwargs, tensors)
            return tensors if multi else tensors[0]

        edges = []
        for a, need in zip(args, needs):
            if not need:
                edges.append(None)
            elif a.grad_fn is not None:
                edges.append(("node", (a.grad_fn, a._output_nr), a.array.shape, a.array.dtype))
            else:
                edges.append(("leaf", a, a.array.shape, a.array.dtype))
        node = Node(cls, ctx, edges, [(o.shape, o.dtype) for o in outs])
        tensors = []
        for i, o in enumerate(outs):
            differentiable = i not in ctx.non_differentiable and _is_float(o)
            t = Tensor._wrap(o)
            if differentiable:
                t.requires_grad = True
                t.grad_fn = node
                t._output_nr = i
            tensors.append(t)
        tensors = tuple(tensors)
        if _tracer is not None:
            _tracer(cls, args, kwargs, tensors)
        return tensors if multi else tensors[0]
