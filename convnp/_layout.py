"""What a tensor's shape and layout are: ``Size`` (torch.Size), the memory formats and the
layouts torch scripts pass around. Plain values that know nothing of tensors, so every module
(``tensor.py`` included) can use them."""

from __future__ import annotations

import math

import numpy as np


# ----------------------------------------------------------------------------- Size
class Size(tuple):
    """A tensor's shape: a tuple of ints that prints as ``convnp.Size([2, 3])`` (torch.Size)."""

    def __new__(cls, sizes=()):
        return super().__new__(cls, (int(s) for s in sizes))

    @classmethod
    def _of(cls, shape: tuple) -> "Size":
        """A Size of an ndarray's shape (a tuple of Python ints already: nothing to convert)."""
        return tuple.__new__(cls, shape)

    def __repr__(self) -> str:
        return f"convnp.Size({list(self)})"

    __str__ = __repr__

    def numel(self) -> int:
        """The number of elements a tensor of this shape holds."""
        return math.prod(self)

    def __getitem__(self, index):
        out = tuple.__getitem__(self, index)
        return Size(out) if isinstance(index, slice) else out

    def __add__(self, other):
        return Size(tuple(self) + tuple(other))

    def __radd__(self, other):
        return Size(tuple(other) + tuple(self))

    def __mul__(self, n):
        return Size(tuple(self) * n)

    __rmul__ = __mul__

    def __reduce__(self):
        return (Size, (tuple(self),))


def normalize_dims(dim, ndim: int, fn: str) -> tuple[int, ...] | None:
    """Validate ``dim`` (int, tuple or None) against ``ndim``; return sorted non-negative axes."""
    if dim is None:
        return None
    if type(dim) is int and -ndim <= dim < ndim:  # the common cases, as the loop below gives
        return (dim % ndim,)
    if type(dim) is tuple and len(dim) == 1 and type(dim[0]) is int and -ndim <= dim[0] < ndim:
        return (dim[0] % ndim,)
    dims = (dim,) if isinstance(dim, (int, np.integer)) else tuple(dim)
    out = []
    for d in dims:
        if not isinstance(d, (int, np.integer)):
            raise TypeError(f"{fn}: 'dim' must be an int or a tuple of ints, "
                            f"got {type(d).__name__}")
        lo, hi = (-ndim, ndim - 1) if ndim else (-1, 0)
        if not lo <= d <= hi:
            raise IndexError(f"{fn}: dimension out of range (expected to be in range of "
                             f"[{lo}, {hi}], but got {d})")
        out.append(int(d) % max(ndim, 1))
    return tuple(sorted(set(out)))


# ----------------------------------------------------------------------------- memory formats
class _Named:
    """A named constant that prints as ``convnp.<name>``, as torch's do."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"convnp.{self.name}"


class memory_format(_Named):  # noqa: N801 (torch's name)
    """torch's memory formats. convnp's tensors are NumPy arrays laid out NCHW (row-major); the
    formats are accepted wherever torch takes ``memory_format=`` and change nothing: every op
    computes the same numbers whatever the layout."""

    __slots__ = ()


contiguous_format = memory_format("contiguous_format")
channels_last = memory_format("channels_last")
channels_last_3d = memory_format("channels_last_3d")
preserve_format = memory_format("preserve_format")


class layout(_Named):  # noqa: N801 (torch's name)
    """torch's tensor layouts; convnp has one, ``convnp.strided`` (dense arrays)."""

    __slots__ = ()


strided = layout("strided")


def _check_memory_format(fmt, where: str) -> None:
    if fmt is not None and not isinstance(fmt, memory_format):
        raise TypeError(f"{where}: memory_format must be one of convnp.contiguous_format, "
                        f"channels_last, channels_last_3d or preserve_format, got {fmt!r}")
