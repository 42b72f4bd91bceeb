"""``parameters_to_vector`` / ``vector_to_parameters`` (``torch.nn.utils``)."""

from __future__ import annotations

from collections.abc import Iterable

from convnp.ops.movement import cat, reshape
from convnp.tensor import Tensor

__all__ = ["parameters_to_vector", "vector_to_parameters"]


def parameters_to_vector(parameters: Iterable[Tensor]) -> Tensor:
    r"""Flatten and concatenate ``parameters`` into one 1-d Tensor (differentiable).

    Example::

        >>> parameters_to_vector(nn.Linear(3, 2).parameters()).shape
        (8,)
    """
    params = list(parameters)
    for p in params:
        if not isinstance(p, Tensor):
            raise TypeError(f"parameters_to_vector: expected Tensors, got {type(p).__name__}")
    return cat([reshape(p, -1) for p in params])


def vector_to_parameters(vec: Tensor, parameters: Iterable[Tensor]) -> None:
    r"""Copy the slices of the 1-d ``vec`` into ``parameters`` in order (in place, no graph).

    Example::

        >>> m = nn.Linear(3, 2)
        >>> vector_to_parameters(convnp.zeros(8), m.parameters())
    """
    if not isinstance(vec, Tensor):
        raise TypeError(f"vector_to_parameters: expected 'vec' to be a Tensor, got "
                        f"{type(vec).__name__}")
    if vec.ndim != 1:
        raise ValueError(f"vector_to_parameters: 'vec' must be 1-d, got shape {tuple(vec.shape)}")
    params = list(parameters)
    total = sum(p.numel() for p in params)
    if total != vec.numel():
        raise ValueError(f"vector_to_parameters: 'vec' has {vec.numel()} elements but the "
                         f"parameters hold {total}")
    pointer = 0
    for p in params:
        n = p.numel()
        p.array[...] = vec.array[pointer:pointer + n].reshape(p.shape).astype(p.dtype, copy=False)
        pointer += n
