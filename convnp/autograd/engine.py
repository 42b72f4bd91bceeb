"""The backward engine: iterative topological traversal, un-broadcasting, fan-out accumulation."""

from __future__ import annotations

from typing import Any, Iterable, Sequence

import numpy as np

from convnp.autograd.function import Node, check_saved_versions
from convnp.utils.hooks import run_grad_hooks


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


class _Acc:
    """A gradient buffer that copies only when a second contribution arrives."""

    __slots__ = ("value", "owned")

    def __init__(self, value: np.ndarray) -> None:
        self.value = value
        self.owned = False

    def add(self, g: np.ndarray) -> None:
        if self.owned:
            np.add(self.value, g, out=self.value)
        else:
            # asarray: the sum of two 0-d arrays is a NumPy scalar, which `out=` cannot take
            self.value = np.asarray(self.value + g)
            self.owned = True


def _dependencies(roots: Iterable[Node]) -> dict[Node, int]:
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


def run_backward(tensors: Sequence[Any], grads: Sequence[np.ndarray], retain_graph: bool = False,
                 capture: Sequence[Any] | None = None) -> list[np.ndarray | None] | None:
    """Propagate ``grads`` from ``tensors`` to every leaf (or only into ``capture``, see ``grad``).

    With ``capture`` given, nothing is accumulated into ``.grad``; the gradients with respect to the
    captured tensors are returned instead, in order (None where a tensor is not reached).
    Callbacks queued during the pass (``queue_callback``) run after it, in order.
    """
    _callbacks.append([])
    try:
        results = _run_backward(tensors, grads, retain_graph, capture)
    except BaseException:
        _callbacks.pop()
        raise
    for callback in _callbacks.pop():
        callback()
    return results


def _run_backward(tensors: Sequence[Any], grads: Sequence[np.ndarray], retain_graph: bool,
                  capture: Sequence[Any] | None) -> list[np.ndarray | None] | None:
    buffers: dict[Node, list] = {}
    leaf_grads: dict[int, tuple[Any, _Acc]] = {}
    captured_nodes: dict[tuple[int, int], int] = {}
    captured_leaves: dict[int, int] = {}
    results: list[np.ndarray | None] = []
    if capture is not None:
        for i, t in enumerate(capture):
            results.append(None)
            if t.grad_fn is not None:
                captured_nodes[(id(t.grad_fn), t._output_nr)] = i
            else:
                captured_leaves[id(t)] = i

    roots = []
    for t, g in zip(tensors, grads):
        if t.grad_fn is None:
            if t.requires_grad:  # backward on a leaf: its gradient is the seed itself
                g = _leaf_hooks(t, g)
                if capture is not None:
                    if id(t) in captured_leaves:
                        results[captured_leaves[id(t)]] = g
                else:
                    t._accumulate_grad(g)
                    _post_accumulate_hooks(t)
            continue
        node = t.grad_fn
        slots = buffers.setdefault(node, [None] * node.n_outputs)
        if slots[t._output_nr] is None:
            slots[t._output_nr] = _Acc(g)
        else:
            slots[t._output_nr].add(g)
        roots.append(node)

    deps = _dependencies(roots)
    leaf_uses = _leaf_edge_counts(deps)
    ready = [n for n in dict.fromkeys(roots) if deps[n] == 0]
    while ready:
        node = ready.pop()
        slots = buffers.pop(node, [None] * node.n_outputs)
        out_grads = []
        for i, acc in enumerate(slots):
            if acc is None:
                shape, dtype = node.out_meta[i]
                g = None if i in node.ctx.non_differentiable else np.zeros(shape, dtype)
            else:
                g = acc.value
            if g is not None and node.hooks.get(i):
                g = run_grad_hooks(node.hooks[i], g)
            out_grads.append(g)
            if capture is not None and (id(node), i) in captured_nodes:
                results[captured_nodes[(id(node), i)]] = g
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
        for edge, g in zip(node.edges, in_grads):
            if edge is None:
                continue
            kind, target, shape, dtype = edge
            if g is not None:
                g = np.asarray(g)
                g = unbroadcast(g, shape, node.name())
                if g.dtype != dtype:
                    g = g.astype(dtype)
            if kind == "leaf":
                if g is not None and (capture is None or id(target) in captured_leaves):
                    entry = leaf_grads.get(id(target))
                    if entry is None:
                        leaf_grads[id(target)] = (target, _Acc(g))
                    else:
                        entry[1].add(g)
                # a leaf is final once its last incoming edge is done: accumulate it now, so
                # its hooks (e.g. DistributedDataParallel's allreduce) run during the backward
                leaf_uses[id(target)] -= 1
                if leaf_uses[id(target)] == 0 and id(target) in leaf_grads:
                    _finish_leaf(leaf_grads.pop(id(target)), capture, captured_leaves, results)
                continue
            parent, nr = target
            if g is not None:
                pslots = buffers.setdefault(parent, [None] * parent.n_outputs)
                if pslots[nr] is None:
                    pslots[nr] = _Acc(g)
                else:
                    pslots[nr].add(g)
            deps[parent] -= 1
            if deps[parent] == 0:
                ready.append(parent)

    for entry in leaf_grads.values():
        _finish_leaf(entry, capture, captured_leaves, results)
    return results if capture is not None else None


def _finish_leaf(entry: tuple[Any, _Acc], capture, captured_leaves: dict,
                 results: list) -> None:
    """Run a leaf's hooks on its total gradient, then capture it or accumulate it into .grad."""
    target, acc = entry
    g = _leaf_hooks(target, acc.value)
    if capture is not None:
        results[captured_leaves[id(target)]] = g
    else:
        target._accumulate_grad(g)
        _post_accumulate_hooks(target)


def _leaf_edge_counts(deps: dict[Node, int]) -> dict[int, int]:
    """How many edges of the nodes to run point at each leaf (its gradient is final at 0)."""
    uses: dict[int, int] = {}
    for node in deps:
        for edge in node.edges:
            if edge is not None and edge[0] == "leaf":
                uses[id(edge[1])] = uses.get(id(edge[1]), 0) + 1
    return uses


def _leaf_hooks(t: Any, g: np.ndarray) -> np.ndarray:
    """A leaf's ``register_hook`` hooks see its total gradient before it is accumulated."""
    hooks = t.__dict__.get("_grad_hooks")
    return run_grad_hooks(hooks, g) if hooks else g


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
