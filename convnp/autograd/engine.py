"""The backward engine: iterative topological traversal, un-broadcasting, fan-out accumulation.

It walks the graph of ``convnp.autograd.graph`` on NumPy arrays and knows no Tensor: a leaf's
final gradient goes to a sink, which adds it into ``.grad`` (``backward``) or keeps it for
``autograd.grad``; gradient hooks are ``array -> array`` callables (``Tensor.register_hook``
adapts the user's)."""

from __future__ import annotations

import sys
from typing import Any, Iterable, Sequence

import numpy as np

from convnp.autograd.graph import Node, check_saved_versions


def unbroadcast(grad: np.ndarray, shape: tuple, op: str = "op") -> np.ndarray:
    """Sum ``grad`` over the axes along which an input of ``shape`` was broadcast."""
    if grad.shape == shape:
        return grad
    extra = grad.ndim - len(shape)
    if extra < 0:
        raise RuntimeError(f"{op}: backward returned a gradient of shape {grad.shape} "
                           f"for an input of shape {shape}")
    axes = tuple(range(extra)) + tuple(
        extra + i for i, s in enumerate(shape) if s == 1 and grad.shape[extra + i] != 1)
    if axes:
        grad = grad.sum(axis=axes, keepdims=True)
    if extra:
        grad = grad.reshape(grad.shape[extra:])
    if grad.shape != shape:
        raise RuntimeError(f"{op}: backward returned a gradient of shape {grad.shape} "
                           f"for an input of shape {shape}")
    return grad


def _counts(g: np.ndarray) -> tuple[int, int]:
    """Reference counts of ``g`` and of the array it views (0 if none; a large number when its
    memory comes from something other than a plain array that owns it)."""
    base = g.base
    if base is None:
        return sys.getrefcount(g), 0
    if type(base) is not np.ndarray or base.base is not None:
        return 1 << 30, 1 << 30
    return sys.getrefcount(g), sys.getrefcount(base)


def _probe() -> tuple[int, int]:
    # The counts of a view of a fresh array held by one local variable, measured the way the
    # engine measures (a local passed to _counts) rather than assumed: interpreters differ in
    # which references they count.
    g = np.empty(4).reshape(2, 2)
    return _counts(g)


_SOLE = _probe()


def _owned(counts: tuple[int, int]) -> bool:
    """Whether the counts say that nobody but the engine's one local variable holds the array (an
    op's fresh result, not an upstream gradient passed on, a saved array or a user's array): the
    engine may then add into it and hand it to ``.grad`` without a copy, as torch steals a
    gradient whose use count is 1."""
    return counts[0] <= _SOLE[0] and counts[1] <= _SOLE[1]


class _Acc:
    """A gradient buffer that copies only when a second contribution arrives (and not even then
    when the first was an array nobody else holds)."""

    __slots__ = ("value", "owned")

    def __init__(self, value: np.ndarray, owned: bool = False) -> None:
        self.value = value
        self.owned = owned

    def add(self, g: np.ndarray) -> None:
        if self.owned:
            np.add(self.value, g, out=self.value)
        else:
            # asarray: the sum of two 0-d arrays is a NumPy scalar, which `out=` cannot take
            self.value = np.asarray(self.value + g)
            self.owned = True


def dependencies(roots: Iterable[Node]) -> dict[Node, int]:
    """Count, for every node reachable from ``roots``, how many edges point at it."""
    deps: dict[Node, int] = {}
    seen: set[int] = set()
    stack = list(roots)
    for r in stack:
        deps.setdefault(r, 0)
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        for edge in node.edges:
            if edge is not None and edge[0] == "node":
                parent = edge[1][0]
                deps[parent] = deps.get(parent, 0) + 1
                if id(parent) not in seen:
                    stack.append(parent)
    return deps


class _Accumulate:
    """The sink of ``backward``: a leaf's final gradient is added into its ``.grad``."""

    def wants(self, t: Any) -> bool:
        return True

    def leaf(self, t: Any, g: np.ndarray, owned: bool = False) -> None:
        t._accumulate_grad(g, owned)
        _post_accumulate_hooks(t)

    def node_output(self, node: Node, i: int, g: np.ndarray | None) -> None:
        pass

    def results(self) -> None:
        return None


class _Capture:
    """The sink of ``autograd.grad``: the gradients of the captured tensors (leaves or not) are
    kept, in order, and no ``.grad`` is touched."""

    def __init__(self, tensors: Sequence[Any]) -> None:
        self.values: list[np.ndarray | None] = [None] * len(tensors)
        self.nodes: dict[tuple[int, int], int] = {}
        self.leaves: dict[int, int] = {}
        for i, t in enumerate(tensors):
            if t.grad_fn is not None:
                self.nodes[(id(t.grad_fn), t._output_nr)] = i
            else:
                self.leaves[id(t)] = i

    def wants(self, t: Any) -> bool:
        return id(t) in self.leaves

    def leaf(self, t: Any, g: np.ndarray, owned: bool = False) -> None:
        self.values[self.leaves[id(t)]] = g

    def node_output(self, node: Node, i: int, g: np.ndarray | None) -> None:
        k = self.nodes.get((id(node), i))
        if k is not None:
            self.values[k] = g

    def results(self) -> list[np.ndarray | None]:
        return self.values


class _LeafGrads:
    """Each leaf's gradient, summed over its incoming edges and sent to the sink (after the
    leaf's hooks) as soon as the last edge is done, so that its hooks (e.g.
    DistributedDataParallel's allreduce) run during the backward."""

    def __init__(self, uses: dict[int, int], sink) -> None:
        self.uses, self.sink = uses, sink
        self.pending: dict[int, tuple[Any, _Acc]] = {}

    def add(self, t: Any, g: np.ndarray | None, owned: bool = False) -> None:
        if g is not None and self.sink.wants(t):
            entry = self.pending.get(id(t))
            if entry is None:
                self.pending[id(t)] = (t, _Acc(g, owned))
            else:
                entry[1].add(g)
        self.uses[id(t)] -= 1
        if self.uses[id(t)] == 0 and id(t) in self.pending:
            self.send(*self.pending.pop(id(t)))

    def send(self, t: Any, acc: _Acc) -> None:
        # a hook may keep the array it sees or return one it keeps: after hooks, .grad copies
        owned = acc.owned and not t.__dict__.get("_grad_hooks")
        self.sink.leaf(t, _leaf_hooks(t, acc.value), owned)

    def flush(self) -> None:
        for entry in self.pending.values():
            self.send(*entry)


def run_backward(tensors: Sequence[Any], grads: Sequence[np.ndarray], retain_graph: bool = False,
                 capture: Sequence[Any] | None = None) -> list[np.ndarray | None] | None:
    """Propagate ``grads`` from ``tensors`` to every leaf (or only into ``capture``, see ``grad``).

    With ``capture`` given, nothing is accumulated into ``.grad``; the gradients with respect to the
    captured tensors are returned instead, in order (None where a tensor is not reached).
    Callbacks queued during the pass (``queue_callback``) run after it, in order.
    """
    sink = _Accumulate() if capture is None else _Capture(capture)
    _callbacks.append([])
    try:
        _run_backward(tensors, grads, retain_graph, sink)
    except BaseException:
        _callbacks.pop()
        raise
    for callback in _callbacks.pop():
        callback()
    return sink.results()


def _add(buffers: dict[Node, list], node: Node, nr: int, g: np.ndarray,
         owned: bool = False) -> None:
    """Add ``g`` to the gradient of output ``nr`` of ``node``."""
    slots = buffers.setdefault(node, [None] * node.n_outputs)
    if slots[nr] is None:
        slots[nr] = _Acc(g, owned)
    else:
        slots[nr].add(g)


def _run_backward(tensors: Sequence[Any], grads: Sequence[np.ndarray], retain_graph: bool,
                  sink) -> None:
    buffers: dict[Node, list] = {}
    roots = []
    for t, g in zip(tensors, grads):
        if t.grad_fn is None:
            if t.requires_grad and sink.wants(t):  # backward on a leaf: the seed is its gradient
                sink.leaf(t, _leaf_hooks(t, g))
            continue
        _add(buffers, t.grad_fn, t._output_nr, g)
        roots.append(t.grad_fn)

    deps = dependencies(roots)
    leaves = _LeafGrads(leaf_edge_counts(deps), sink)
    ready = [n for n in dict.fromkeys(roots) if deps[n] == 0]
    while ready:
        node = ready.pop()
        in_grads = list(_run_node(node, buffers.pop(node, None), retain_graph, sink))
        for k, edge in enumerate(node.edges):
            # taken out of the list so that an array the op made fresh is held by `g` alone
            g, in_grads[k] = in_grads[k], None
            if edge is None:
                continue
            kind, target, shape, dtype = edge
            owned = False
            if g is not None:
                g = np.asarray(g)
                if g.shape != shape:  # the op's name only for unbroadcast's error message
                    g = unbroadcast(g, shape, node.name())
                if g.dtype != dtype:
                    g = g.astype(dtype)
                owned = g.flags.writeable and _owned(_counts(g))
            if kind == "leaf":
                leaves.add(target, g, owned)
                continue
            parent, nr = target
            if g is not None:
                _add(buffers, parent, nr, g, owned)
            deps[parent] -= 1
            if deps[parent] == 0:
                ready.append(parent)
    leaves.flush()


def _run_node(node: Node, slots: list | None, retain_graph: bool, sink) -> tuple:
    """Call ``node``'s backward on its output gradients (zeros where none arrived, after the
    tensors' hooks); return one input gradient per edge."""
    out_grads = []
    for i, acc in enumerate(slots or [None] * node.n_outputs):
        if acc is None:
            shape, dtype = node.out_meta[i]
            g = None if i in node.ctx.non_differentiable else np.zeros(shape, dtype)
        else:
            g = acc.value
        if g is not None and node.hooks.get(i):
            g = _run_hooks(node.hooks[i], g)
        out_grads.append(g)
        sink.node_output(node, i, g)
        ref = node.retained.get(i)
        if ref is not None and ref() is not None and g is not None:
            ref()._accumulate_grad(g)
    if node.freed:
        raise RuntimeError(
            f"{node.name()}: trying to backward through the graph a second time; its saved "
            "arrays were freed. Specify retain_graph=True on the first backward call.")
    if node.ctx.saved_versions is not None:
        check_saved_versions(node)
    if node.ctx.half:  # forward ran in float32 (Function.half_in_float32): so does backward
        out_grads = [g if g is None else g.astype(np.float32) for g in out_grads]
    in_grads = node.fn.backward(node.ctx, *out_grads)
    if not isinstance(in_grads, tuple):
        in_grads = (in_grads,)
    if len(in_grads) != len(node.edges):
        raise RuntimeError(f"{node.name()}: backward returned {len(in_grads)} gradients, "
                           f"expected {len(node.edges)} (one per positional input)")
    if not retain_graph:
        node.ctx.saved_tensors = node.ctx.saved_versions = None
        node.freed = True
    return in_grads


def leaf_edge_counts(deps: dict[Node, int]) -> dict[int, int]:
    """How many edges of the nodes in ``deps`` point at each leaf, by the leaf's id (its
    gradient is final when they are done); the keys are the leaves the graph reaches."""
    uses: dict[int, int] = {}
    for node in deps:
        for edge in node.edges:
            if edge is not None and edge[0] == "leaf":
                uses[id(edge[1])] = uses.get(id(edge[1]), 0) + 1
    return uses


def _run_hooks(hooks: dict, g: np.ndarray) -> np.ndarray:
    """Apply gradient hooks in order, each ``array -> array`` (``Tensor.register_hook`` stores
    its hooks in that form)."""
    for hook in list(hooks.values()):
        g = hook(g)
    return g


def _leaf_hooks(t: Any, g: np.ndarray) -> np.ndarray:
    """A leaf's ``register_hook`` hooks see its total gradient before it is accumulated."""
    hooks = t.__dict__.get("_grad_hooks")
    return _run_hooks(hooks, g) if hooks else g


def _post_accumulate_hooks(t: Any) -> None:
    """``register_post_accumulate_grad_hook`` hooks see the tensor once its .grad is updated."""
    hooks = t.__dict__.get("_post_accumulate_hooks")
    if hooks:
        for hook in list(hooks.values()):
            hook(t)


_callbacks: list[list] = []  # one list per backward in progress (innermost last)


def queue_callback(callback) -> None:
    """Run ``callback()`` once the backward pass in progress has finished (every leaf's gradient
    accumulated), as torch's ``Variable._execution_engine.queue_callback``: a gradient hook uses
    it to finish work that needs all gradients, e.g. waiting for DDP's pending allreduces."""
    if not _callbacks:
        raise RuntimeError("queue_callback: no backward pass is running; call it from a gradient "
                           "hook")
    _callbacks[-1].append(callback)
