"""Numerical gradient check in float64: analytic vector-Jacobian products vs central differences."""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from convnp._dtype import is_floating
from convnp.autograd.grad_mode import no_grad
from convnp.tensor import Tensor


class GradcheckError(AssertionError):
    """Raised by ``gradcheck`` when analytic and numerical gradients disagree."""


def _float_outputs(out) -> list:
    outs = out if isinstance(out, (tuple, list)) else (out,)
    return [o for o in outs if is_floating(o.dtype)]


def gradcheck(fn: Callable, inputs: Sequence, eps: float = 1e-6, atol: float = 1e-5,
              rtol: float = 1e-3, seed: int = 0, raise_exception: bool = True) -> bool:
    """Check ``fn``'s backward against central differences.

    Args:
        fn: takes the tensors in ``inputs`` and returns a tensor or a tuple of tensors.
        inputs: tensors; those with ``requires_grad=True`` are checked (use float64).
        eps, atol, rtol: finite-difference step and tolerances.
        seed: seed of the random upstream gradient (a random ``v``, so errors cannot cancel
            the way they can with ``.sum()``).

    Returns True, or raises ``GradcheckError`` naming the input and the worst element.
    """
    inputs = list(inputs)
    checked = [i for i, t in enumerate(inputs) if isinstance(t, Tensor) and t.requires_grad]
    for i in checked:
        if inputs[i].dtype != np.float64:
            raise TypeError(f"gradcheck: input {i} has dtype {inputs[i].dtype}; use float64 "
                            "(finite differences are meaningless in float32)")
    r = np.random.default_rng(seed)
    outs = _float_outputs(fn(*inputs))
    vs = [r.standard_normal(o.shape) for o in outs]
    total = sum((o * Tensor._wrap(v)).sum() for o, v in zip(outs, vs))
    for i in checked:
        inputs[i].grad = None
    total.backward()
    analytic = [inputs[i].grad.array.copy() if inputs[i].grad is not None
                else np.zeros(inputs[i].shape) for i in checked]

    def scalar() -> float:
        with no_grad():
            o = _float_outputs(fn(*inputs))
        return float(sum(np.sum(a.array * v) for a, v in zip(o, vs)))

    for k, i in enumerate(checked):
        x = inputs[i].array
        num = np.zeros(x.shape)
        flat = x.reshape(-1)  # a view: perturb in place, restore after
        if not np.shares_memory(flat, x):
            raise TypeError(f"gradcheck: input {i} must be contiguous")
        for j in range(flat.size):
            old = flat[j]
            flat[j] = old + eps
            fp = scalar()
            flat[j] = old - eps
            fm = scalar()
            flat[j] = old
            num.reshape(-1)[j] = (fp - fm) / (2 * eps)
        bad = ~np.isclose(analytic[k], num, rtol=rtol, atol=atol)
        if bad.any():
            j = np.unravel_index(np.argmax(np.abs(analytic[k] - num) * bad), num.shape)
            msg = (f"gradcheck: gradient of input {i} (shape {x.shape}) is wrong at index "
                   f"{tuple(int(v) for v in j)}: analytic {analytic[k][j]:.6g}, numerical "
                   f"{num[j]:.6g}; {int(bad.sum())} of {num.size} elements differ")
            if raise_exception:
                raise GradcheckError(msg)
            return False
    return True
