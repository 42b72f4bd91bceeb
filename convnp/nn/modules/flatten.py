"""``Flatten`` and ``Unflatten``: reshape a contiguous range of dims (movement ops underneath)."""

from __future__ import annotations

import math
from typing import Sequence

from convnp.nn.modules.module import Module
from convnp.ops.movement import flatten, unflatten

__all__ = ["Flatten", "Unflatten"]


class Flatten(Module):
    r"""Flatten dims ``start_dim..end_dim`` into one (by default all but the batch dim).

    Args:
        start_dim: first dim to flatten (default = 1).
        end_dim: last dim to flatten (default = -1).

    Shape:
        - Input: :math:`(*, S_{start}, ..., S_{i}, ..., S_{end}, *)`.
        - Output: :math:`(*, \prod_{i=start}^{end} S_{i}, *)`.

    Example::

        >>> nn.Flatten()(convnp.randn(32, 1, 5, 5)).shape
        (32, 25)
    """

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim = start_dim
        self.end_dim = end_dim

    def forward(self, input):
        return flatten(input, self.start_dim, self.end_dim)

    def output_shape(self, input_shape: Sequence[int]) -> tuple[int, ...]:
        """``input_shape`` with dims ``start_dim..end_dim`` replaced by their product."""
        shape = tuple(int(v) for v in input_shape)
        nd = max(len(shape), 1)
        a, b = self.start_dim % nd, self.end_dim % nd
        return shape[:a] + (math.prod(shape[a:b + 1]),) + shape[b + 1:]

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    r"""Expand dim ``dim`` into the shape ``unflattened_size``.

    Args:
        dim: the dim to unflatten.
        unflattened_size: the new shape of that dim (its product must equal the dim's size;
            one entry may be -1).

    Shape:
        - Input: :math:`(*, S_{dim}, *)`.
        - Output: :math:`(*, U_1, ..., U_n, *)` with :math:`\prod U_i = S_{dim}`.

    Example::

        >>> nn.Unflatten(1, (2, 5, 5))(convnp.randn(2, 50)).shape
        (2, 2, 5, 5)
    """

    def __init__(self, dim: int, unflattened_size) -> None:
        super().__init__()
        if not isinstance(unflattened_size, (tuple, list)) or not all(
                isinstance(s, int) for s in unflattened_size):
            raise TypeError(f"Unflatten: unflattened_size must be a tuple of ints, got "
                            f"{unflattened_size!r}")
        self.dim = dim
        self.unflattened_size = tuple(unflattened_size)

    def forward(self, input):
        return unflatten(input, self.dim, self.unflattened_size)

    def output_shape(self, input_shape: Sequence[int]) -> tuple[int, ...]:
        """``input_shape`` with dim ``dim`` expanded into ``unflattened_size`` (-1 inferred)."""
        shape = tuple(int(v) for v in input_shape)
        dim = self.dim % len(shape)
        sizes = list(self.unflattened_size)
        if -1 in sizes:
            known = math.prod(v for v in sizes if v != -1)
            sizes[sizes.index(-1)] = shape[dim] // known if known else 0
        if math.prod(sizes) != shape[dim]:
            raise ValueError(f"Unflatten: unflattened_size {self.unflattened_size} does not "
                             f"multiply to the size {shape[dim]} of dim {self.dim} of input "
                             f"shape {shape}")
        return shape[:dim] + tuple(sizes) + shape[dim + 1:]

    def extra_repr(self) -> str:
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"
