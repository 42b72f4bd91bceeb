"""What every loss shares: the ``reduction`` argument (and torch's legacy ``size_average`` /
``reduce`` flags), reducing a per-element loss and scaling the gradient back, argument checks."""

from __future__ import annotations

import warnings

import numpy as np

from convnp.tensor import Tensor

REDUCTIONS = ("none", "mean", "sum")



def legacy_reduction(size_average, reduce, reduction: str) -> str:
    """PyTorch's mapping of the deprecated ``size_average``/``reduce`` flags to ``reduction``."""
    if size_average is None and reduce is None:
        return reduction
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    if not reduce:
        return "none"
    return "mean" if size_average else "sum"


def check_reduction(reduction: str, fn: str, allowed=REDUCTIONS) -> None:
    if reduction not in allowed:
        raise ValueError(f"{fn}: {reduction!r} is not a valid value for reduction; use one of "
                         f"{', '.join(repr(r) for r in allowed)}")


def as_tensor(x, name: str, fn: str) -> Tensor:
    if isinstance(x, Tensor):
        return x
    if isinstance(x, np.ndarray):
        return Tensor._wrap(x)
    raise TypeError(f"{fn}: argument '{name}' must be a Tensor, got {type(x).__name__}")


def setting_array(x, dtype=None) -> np.ndarray | None:
    """A non-differentiable setting (class weights) as an ndarray of ``dtype``."""
    if x is None:
        return None
    arr = x.array if isinstance(x, Tensor) else np.asarray(x)
    return arr.astype(dtype, copy=False) if dtype is not None else arr


def reduce_loss(loss: np.ndarray, reduction: str, denom=None) -> np.ndarray:
    if reduction == "none":
        return loss
    total = loss.sum()
    if reduction == "sum":
        return total
    n = loss.size if denom is None else denom
    with np.errstate(invalid="ignore", divide="ignore"):  # empty / all-ignored: nan like torch
        return (total / n).astype(loss.dtype)


def elem_grad(g: np.ndarray, reduction: str, n) -> np.ndarray:
    """The upstream gradient per element of the unreduced loss."""
    if reduction == "mean":
        with np.errstate(invalid="ignore", divide="ignore"):
            return g / n
    return g


def broadcast_pair(input: Tensor, target: Tensor, fn: str) -> None:
    if tuple(input.shape) == tuple(target.shape):
        return
    try:
        np.broadcast_shapes(input.shape, target.shape)
    except ValueError:
        raise ValueError(f"{fn}: input of shape {tuple(input.shape)} and target of shape "
                         f"{tuple(target.shape)} cannot be broadcast together; they should have "
                         "the same shape") from None
    warnings.warn(f"{fn}: using a target size ({tuple(target.shape)}) that is different to the "
                  f"input size ({tuple(input.shape)}). This will likely lead to incorrect results "
                  "due to broadcasting. Please ensure they have the same size.", stacklevel=3)


def float_target(target: Tensor, input: Tensor) -> Tensor:
    """Targets of regression losses in the input's dtype (a cast that keeps gradients)."""
    if target.dtype == input.dtype:
        return target
    if target.requires_grad:
        return target.to(input.dtype)
    return Tensor._wrap(target.array.astype(input.dtype))


def loss_args(name: str, input, target, size_average, reduce, reduction: str,
              allowed=REDUCTIONS):
    """A loss's ``(input, target, reduction)`` checked: Tensors (or ndarrays), the legacy flags
    folded into ``reduction``, and ``reduction`` one of ``allowed``."""
    reduction = legacy_reduction(size_average, reduce, reduction)
    check_reduction(reduction, name, allowed)
    return as_tensor(input, "input", name), as_tensor(target, "target", name), reduction
