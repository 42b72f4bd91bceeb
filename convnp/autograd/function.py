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

import weakref
from typing import Any

import numpy as np

from convnp._dtype import is_floating, is_half
from convnp.autograd.grad_mode import is_grad_enabled
from convnp.autograd.names import torch_saved_inputs

# Set by ``convnp.onnx`` while it traces a forward: called as ``_tracer(cls, args, kwargs, out)``
# after every Function call, so functional code (``F.relu``, ``x + y``, ``x.view``) is recorded
# along with the layers. None outside tracing (one global lookup per op).
_tracer = None


class Context:
    """Per-call scratch space of a Function: saved arrays, flags and any attribute the op sets."""

    half = False  # True: a float16 call computed in float32 (Function.half_in_float32)

    def __init__(self, needs_input_grad: tuple[bool, ...]) -> None:
        self.needs_input_grad = needs_input_grad
        self.saved_tensors: tuple = ()
        self.non_differentiable: set[int] = set()
        # (counter, version at save time, description) of each saved input/output tensor
        self.saved_versions: list | None = None

    def save_for_backward(self, *arrays: Any) -> None:
        """Keep arrays needed by backward; the engine frees them after backward ran."""
        self.saved_tensors = arrays

    def mark_non_differentiable(self, *output_indices: int) -> None:
        """Declare outputs (by position) that carry no gradient, e.g. argmax indices."""
        self.non_differentiable.update(output_indices)


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
        self.hooks: dict[int, dict] = {}  # output nr -> Tensor.register_hook hooks

    def name(self) -> str:
        """torch's name for this node (``'MulBackward0'``, ``'AddmmBackward0'``, ...)."""
        from convnp.autograd.names import torch_name

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
        from convnp.autograd.names import torch_next_functions

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


def _is_float(a: np.ndarray) -> bool:
    return is_floating(a.dtype)


class Function:
    """Base class of every differentiable op (see the module docstring for the contract)."""

    # True: float16 inputs are computed in float32 (forward and backward) and the results
    # rounded to float16 once, as torch's CPU kernels do; for ops whose NumPy arithmetic would
    # otherwise accumulate in float16 (sums and variances of normalization layers)
    half_in_float32 = False

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
        if cls.half_in_float32 and any(is_half(getattr(x, "dtype", None)) for x in raw):
            outs, multi = _forward_in_float32(cls, ctx, raw, kwargs)
        else:
            out = cls.forward(ctx, *raw, **kwargs)
            multi = isinstance(out, tuple)
            outs = out if multi else (out,)
            outs = tuple(o if isinstance(o, np.ndarray) else np.asarray(o) for o in outs)
        if not record:
            tensors = tuple(Tensor._wrap(o) for o in outs)
            _share_view_versions(args, raw, outs, tensors)
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
        node = Node(cls, ctx, edges, [(o.shape, o.dtype) for o in outs], kwargs)
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
        _share_view_versions(args, raw, outs, tensors)
        extra = torch_saved_inputs(cls, kwargs)
        if ctx.saved_tensors or extra:
            ctx.saved_versions = _saved_versions(ctx.saved_tensors, args, raw, outs, tensors,
                                                 extra)
        if _tracer is not None:
            _tracer(cls, args, kwargs, tensors)
        return tensors if multi else tensors[0]


def _forward_in_float32(cls, ctx, raw, kwargs):
    """Run a ``half_in_float32`` op's forward on float32 copies of its float16 inputs."""
    half = next(x.dtype for x in raw if is_half(getattr(x, "dtype", None)))
    raw = [x.astype(np.float32) if is_half(getattr(x, "dtype", None)) else x for x in raw]
    ctx.half = True  # the engine runs backward in float32 as well
    out = cls.forward(ctx, *raw, **kwargs)
    multi = isinstance(out, tuple)
    outs = tuple(np.asarray(o).astype(half) if np.asarray(o).dtype == np.float32
                 else np.asarray(o) for o in (out if multi else (out,)))
    return outs, multi


# ----------------------------------------------------------------------------- version counters
# As in torch, every tensor has a version counter (``Tensor._version``) that each in-place
# change bumps; views and ``detach()`` aliases share their base's counter, so a change through
# any alias of the storage is seen. A Function records the version of each input or output it
# saves for backward, and the engine refuses to run a backward whose saved tensors changed since
# (the gradient would silently be computed from the new values). Counters are created lazily
# (``Tensor._vc`` is None until an alias, a save or an in-place change needs one), so ops that
# save nothing pay only for the view check below.


def _root(a: np.ndarray) -> np.ndarray:
    """The array that owns ``a``'s memory (``a`` itself when it is not a view)."""
    b = a.base
    while isinstance(b, np.ndarray):
        a, b = b, b.base
    return a


def _counter(t) -> list:
    vc = t._vc
    if vc is None:
        vc = t._vc = [0]
    return vc


def _share_view_versions(args, raw, outs, tensors) -> None:
    """Give each output that views an input's memory that input's version counter."""
    for o, t in zip(outs, tensors):
        if o.base is None:
            # an op may hand back its input array unchanged (an alias, not a copy)
            for a, x in zip(args, raw):
                if x is o and a is not x:  # a is not x: a is the Tensor x came from
                    t._vc = _counter(a)
                    break
            continue
        r = _root(o)
        for a, x in zip(args, raw):
            if a is not x and isinstance(x, np.ndarray) and (x is r or _root(x) is r):
                t._vc = _counter(a)
                break


def _saved_versions(saved, args, raw, outs, tensors, extra=()) -> list | None:
    """Version counters (and their value now) of the inputs/outputs among the saved arrays, and
    of the inputs at positions ``extra`` (those torch saves where convnp saves a derivative)."""
    found = []
    for i in extra:
        if i < len(args) and args[i] is not raw[i]:  # a Tensor argument
            t = args[i]
            vc = _counter(t)
            desc = None if t.grad_fn is None else (t.grad_fn, t._output_nr)
            found.append((vc, vc[0], t.shape, t.dtype, desc))
    for s in saved:
        if not isinstance(s, np.ndarray):
            continue
        t = desc = None
        for a, x in zip(args, raw):
            if x is s and a is not x:
                t = a
                break
        else:
            for j, o in enumerate(outs):
                if o is s:  # None: this node itself (holding it here would be a cycle)
                    t, desc = tensors[j], (None, j)
                    break
            else:
                r = _root(s)
                for a, x in zip(args, raw):
                    if a is not x and isinstance(x, np.ndarray) and _root(x) is r:
                        t = a
                        break
        if t is None:
            continue  # a derived array the op computed itself: no tensor can change it
        if desc is None and t.grad_fn is not None:
            desc = (t.grad_fn, t._output_nr)
        vc = _counter(t)
        found.append((vc, vc[0], t.shape, t.dtype, desc))
    return found or None


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
