"""``convnp.utils.checkpoint``: activation checkpointing (torch's ``torch.utils.checkpoint``).

``checkpoint(function, *args)`` runs ``function`` without recording its graph, keeping only the
inputs; the backward pass runs it again (with the random state of the first run, so dropout masks
repeat) to rebuild the graph and backpropagates through that. Memory for the intermediate
activations is traded for a second forward; the gradients are the same as without checkpointing.
"""

from __future__ import annotations

import warnings
from typing import Any, Callable

import numpy as np

from convnp.autograd.function import Function
from convnp.autograd.grad_mode import enable_grad, is_grad_enabled, no_grad

__all__ = ["checkpoint", "checkpoint_sequential"]


def _outputs(out, where: str) -> tuple:
    from convnp.tensor import Tensor

    outs = out if isinstance(out, tuple) else (out,)
    for o in outs:
        if not isinstance(o, Tensor):
            raise TypeError(f"{where}: the checkpointed function must return a Tensor or a tuple "
                            f"of Tensors, got {type(o).__name__}")
    return outs


class _Checkpoint(Function):
    """Forward: the function under no_grad. Backward: recompute with grad enabled from detached
    copies of the inputs, backpropagate into them (and into every parameter the function used,
    whose ``.grad`` accumulates as in torch), return the inputs' gradients."""

    @staticmethod
    def forward(ctx, *raw, run, n_inputs, kinds, preserve_rng_state):
        from convnp import random as R
        from convnp.tensor import Tensor

        ctx.run, ctx.kinds, ctx.raw = run, kinds, raw[:n_inputs]
        ctx.rng_state = R.get_rng_state() if preserve_rng_state else None
        args = [Tensor._wrap(a) if k else a for a, k in zip(raw[:n_inputs], kinds)]
        with no_grad():
            outs = _outputs(run(*args), "checkpoint")
        ctx.multi = len(outs) > 1
        arrays = tuple(o.array for o in outs)
        return arrays if ctx.multi else arrays[0]

    @staticmethod
    def backward(ctx, *grads):
        from convnp import random as R
        from convnp.autograd.engine import run_backward
        from convnp.tensor import Tensor

        inputs = []
        for a, kind, need in zip(ctx.raw, ctx.kinds, ctx.needs_input_grad):
            if not kind:
                inputs.append(a)
                continue
            t = Tensor._wrap(a)
            if need:
                t.requires_grad = True
            inputs.append(t)
        saved = R.get_rng_state() if ctx.rng_state is not None else None
        if saved is not None:
            R.set_rng_state(ctx.rng_state)
        try:
            with enable_grad():
                outs = _outputs(ctx.run(*inputs), "checkpoint (recomputation)")
        finally:
            if saved is not None:
                R.set_rng_state(saved)
        pairs = [(o, g) for o, g in zip(outs, grads)
                 if g is not None and o.requires_grad]
        if pairs:
            run_backward([o for o, _ in pairs], [g for _, g in pairs])
        result = []
        for t, kind, need in zip(inputs, ctx.kinds, ctx.needs_input_grad):
            result.append(t.grad.array if kind and need and t.grad is not None else None)
        return tuple(result) + (None,)  # the trailing entry is the dummy input's


def checkpoint(function: Callable, *args: Any, use_reentrant: bool | None = None,
               context_fn: Callable | None = None, determinism_check: str = "default",
               debug: bool = False, preserve_rng_state: bool = True, **kwargs: Any):
    r"""Run ``function(*args, **kwargs)`` without storing its intermediate activations; they are
    recomputed during backward (torch's ``torch.utils.checkpoint.checkpoint``).

    Args:
        function: what to run (a module, or a function of tensors) returning a Tensor or a
            tuple of Tensors.
        *args: its positional inputs (Tensors and other values).
        use_reentrant: torch's two implementations. ``False`` (what torch recommends): gradients
            reach the parameters the function uses even when no input requires grad, and
            keyword arguments are passed on. ``True``: torch's older variant, which gives no
            gradients at all when no input requires grad (with a warning) and takes no keyword
            arguments. ``None`` acts as ``True`` with torch's warning to pass it explicitly.
        context_fn, determinism_check, debug: accepted for torch scripts; only their defaults
            are supported.
        preserve_rng_state: replay the random state of the forward in the recomputation, so
            dropout draws the same masks (default True).

    Returns: what ``function`` returns. Under ``no_grad`` (or when nothing requires grad) the
    function simply runs.

    Example::

        >>> from convnp.utils.checkpoint import checkpoint
        >>> y = checkpoint(block, x, use_reentrant=False)   # block's activations not stored
        >>> y.sum().backward()                              # block runs again here
    """
    from convnp.tensor import Tensor

    if use_reentrant is None:
        warnings.warn("convnp.utils.checkpoint: the use_reentrant parameter should be passed "
                      "explicitly (as torch asks); use_reentrant=False is recommended",
                      UserWarning, stacklevel=2)
        use_reentrant = True
    if context_fn is not None:
        raise NotImplementedError("checkpoint: context_fn is not supported by convnp; leave it "
                                  "unset")
    if determinism_check not in ("default", "none"):
        raise ValueError(f"checkpoint: determinism_check must be 'default' or 'none', got "
                         f"{determinism_check!r}")
    if use_reentrant and kwargs:
        raise ValueError("Unexpected keyword arguments: " + ",".join(kwargs) +
                         " (use_reentrant=True takes none; pass use_reentrant=False)")
    run = (lambda *a: function(*a, **kwargs)) if kwargs else function
    kinds = tuple(isinstance(a, Tensor) for a in args)
    if not is_grad_enabled():
        return function(*args, **kwargs)
    if use_reentrant and not any(a.requires_grad for a in args if isinstance(a, Tensor)):
        warnings.warn("None of the inputs have requires_grad=True. Gradients will be None",
                      UserWarning, stacklevel=2)
    # the non-reentrant variant must record the call even when no input requires grad, so that
    # the parameters used inside still get gradients: a dummy input that requires grad does it
    dummy = Tensor._wrap(np.zeros((), np.float32))
    dummy.requires_grad = not use_reentrant
    out = _Checkpoint.apply(*args, dummy, run=run, n_inputs=len(args), kinds=kinds,
                            preserve_rng_state=preserve_rng_state)
    return out


def checkpoint_sequential(functions, segments: int, input, use_reentrant: bool | None = None,
                          **kwargs):
    """Split a ``Sequential`` (or a list of modules) into ``segments`` chunks and checkpoint all
    but the last (torch's ``checkpoint_sequential``)."""
    if use_reentrant is None:
        warnings.warn("convnp.utils.checkpoint: the use_reentrant parameter should be passed "
                      "explicitly (as torch asks); use_reentrant=False is recommended",
                      UserWarning, stacklevel=2)
        use_reentrant = True
    from convnp.nn.modules.container import Sequential

    if isinstance(functions, Sequential):
        functions = list(functions.children())
    functions = list(functions)
    size = len(functions) // segments

    def run(start, end):
        def forward(x):
            for j in range(start, end + 1):
                x = functions[j](x)
            return x
        return forward

    end = -1
    for start in range(0, size * (segments - 1), size):
        end = start + size - 1
        input = checkpoint(run(start, end), input, use_reentrant=use_reentrant, **kwargs)
    return run(end + 1, len(functions) - 1)(input)
