"""Reverse-mode automatic differentiation: Function, the engine, grad mode and gradcheck."""

import numpy as np

from convnp.autograd.engine import run_backward
from convnp.autograd.function import Context, Function
from convnp.autograd.grad_mode import (
    enable_grad,
    inference_mode,
    is_grad_enabled,
    no_grad,
    set_grad_enabled,
)
from convnp.autograd.gradcheck import GradcheckError, gradcheck
from convnp.tensor import Tensor


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, allow_unused=False):
    """Gradients of ``outputs`` w.r.t. ``inputs`` without touching any ``.grad`` (like torch)."""
    outputs = list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]
    single = not isinstance(inputs, (list, tuple))
    inputs = [inputs] if single else list(inputs)
    if grad_outputs is None:
        grad_outputs = [None] * len(outputs)
    elif not isinstance(grad_outputs, (list, tuple)):
        grad_outputs = [grad_outputs]
    seeds = []
    for o, g in zip(outputs, grad_outputs):
        if g is None:
            if o.array.size != 1:
                raise RuntimeError("grad: grad can be implicitly created only for scalar outputs")
            seeds.append(np.ones(o.shape, o.dtype))
        else:
            seeds.append((g.array if isinstance(g, Tensor) else np.asarray(g)).astype(o.dtype))
    res = run_backward(outputs, seeds, bool(retain_graph), capture=inputs)
    out = []
    for r in res:
        if r is None and not allow_unused:
            raise RuntimeError("grad: one of the differentiated Tensors appears to not have been "
                               "used in the graph. Set allow_unused=True if this is intended.")
        out.append(None if r is None else Tensor._wrap(np.array(r, copy=True)))
    return tuple(out)


__all__ = ["Context", "Function", "GradcheckError", "enable_grad", "grad", "gradcheck",
           "inference_mode", "is_grad_enabled", "no_grad", "set_grad_enabled"]
