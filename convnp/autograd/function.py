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

from convnp._dtype import any_half, is_floating, is_half
from convnp.autograd.grad_mode import _state as _grad_state
from convnp.autograd.graph import Context, Node
from convnp.autograd.names import torch_saved_inputs
from convnp.tensor import Tensor

# Set by ``convnp.onnx`` while it traces a forward: called as ``_tracer(cls, args, kwargs, out)``
# after every Function call, so functional code (``F.relu``, ``x + y``, ``x.view``) is recorded
# along with the layers. None outside tracing (one global lookup per op).
_tracer = None


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
        raw = [a.array if isinstance(a, Tensor) else a for a in args]
        if _grad_state.enabled:
            for a in args:
                if isinstance(a, Tensor) and a.requires_grad:
                    return _apply_recorded(cls, args, raw, kwargs)
        # nothing to record: no edges, no node, no saved versions; the outputs still share their
        # inputs' version counters where they view them
        ctx = Context(_NO_NEEDS.get(len(args)) or _no_needs(len(args)))
        if cls.half_in_float32 and any_half(raw):
            outs, multi = _forward_in_float32(cls, ctx, raw, kwargs)
        else:
            out = cls.forward(ctx, *raw, **kwargs)
            if isinstance(out, np.ndarray):
                t = Tensor._wrap(out)
                _share_view_version(args, raw, out, t)
                if _tracer is not None:
                    _tracer(cls, args, kwargs, (t,))
                return t
            outs, multi = _as_outputs(out)
        tensors = tuple(Tensor._wrap(o) for o in outs)
        _share_view_versions(args, raw, outs, tensors)
        if _tracer is not None:
            _tracer(cls, args, kwargs, tensors)
        return tensors if multi else tensors[0]


def _apply_recorded(cls, args, raw, kwargs):
    """``Function.apply`` when a graph is recorded: the forward, then a Node holding the edges
    to the inputs that need a gradient, the saved versions, and outputs that point at it."""
    needs = tuple(isinstance(a, Tensor) and a.requires_grad for a in args)
    ctx = Context(needs)
    if cls.half_in_float32 and any_half(raw):
        outs, multi = _forward_in_float32(cls, ctx, raw, kwargs)
    else:
        outs, multi = _as_outputs(cls.forward(ctx, *raw, **kwargs))
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
        ctx.saved_versions = _saved_versions(ctx.saved_tensors, args, raw, outs, tensors, extra)
    if _tracer is not None:
        _tracer(cls, args, kwargs, tensors)
    return tensors if multi else tensors[0]


def _as_outputs(out) -> tuple[tuple, bool]:
    """A forward's result as (tuple of arrays, whether it returned a tuple)."""
    multi = isinstance(out, tuple)
    outs = out if multi else (out,)
    return tuple(o if isinstance(o, np.ndarray) else np.asarray(o) for o in outs), multi


_NO_NEEDS: dict[int, tuple] = {}


def _no_needs(n: int) -> tuple:
    """``(False,) * n``, built once per arity (``apply`` reads ``_NO_NEEDS`` first)."""
    t = _NO_NEEDS[n] = (False,) * n
    return t


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
    return t._version_counter()


def _share_view_versions(args, raw, outs, tensors) -> None:
    """Give each output that views an input's memory that input's version counter."""
    for o, t in zip(outs, tensors):
        _share_view_version(args, raw, o, t)


def _share_view_version(args, raw, o, t) -> None:
    """``_share_view_versions`` for one output ``o`` wrapped as ``t``."""
    if o.base is None:
        # an op may hand back its input array unchanged (an alias, not a copy)
        for a, x in zip(args, raw):
            if x is o and a is not x:  # a is not x: a is the Tensor x came from
                t._vc = _counter(a)
                return
        return
    r = _root(o)
    for a, x in zip(args, raw):
        if a is not x and isinstance(x, np.ndarray) and (x is r or _root(x) is r):
            t._vc = _counter(a)
            return


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
