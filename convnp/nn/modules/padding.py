"""Padding layers (``torch.nn.ConstantPad2d`` & co.): thin wrappers around ``F.pad``."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from convnp.nn.modules._geometry import Window
from convnp.nn.modules.module import Module
from convnp.ops.padding import pad

__all__ = [
    "ConstantPad1d", "ConstantPad2d", "ConstantPad3d",
    "ZeroPad1d", "ZeroPad2d", "ZeroPad3d",
    "ReflectionPad1d", "ReflectionPad2d", "ReflectionPad3d",
    "ReplicationPad1d", "ReplicationPad2d", "ReplicationPad3d",
    "CircularPad1d", "CircularPad2d", "CircularPad3d",
]


def _padding_tuple(padding, n: int, layer: str) -> tuple[int, ...]:
    """int -> (p,) * 2n; a tuple of 2n ints is kept (torch's order: last dimension first)."""
    if isinstance(padding, (int, np.integer)) and not isinstance(padding, bool):
        return (int(padding),) * (2 * n)
    if isinstance(padding, (tuple, list)) and len(padding) == 2 * n and all(
            isinstance(p, (int, np.integer)) and not isinstance(p, bool) for p in padding):
        return tuple(int(p) for p in padding)
    raise TypeError(f"{layer}: 'padding' must be an int or a tuple of {2 * n} ints "
                    f"(left, right{', top, bottom' if n > 1 else ''}"
                    f"{', front, back' if n > 2 else ''}), got {padding!r}")


class _PadNd(Module):
    _n = 1
    _mode = "constant"

    def __init__(self, padding: int | Sequence[int]) -> None:
        super().__init__()
        self.padding = _padding_tuple(padding, self._n, type(self).__name__)

    def _check_input_dim(self, input) -> None:
        if input.ndim < self._n:
            raise ValueError(f"{type(self).__name__}: expected an input with at least {self._n} "
                             f"dimensions ((C, ...) or (N, C, ...)), got shape "
                             f"{tuple(input.shape)}")

    def forward(self, input):
        self._check_input_dim(input)
        return pad(input, self.padding, self._mode)

    def window(self, input_shape: Sequence[int] | None = None) -> Window:
        """A 1-wide window with the padding as ``(lo, hi)`` per padded axis (negative crops)."""
        n, p = self._n, self.padding
        # torch's padding order is last axis first: (left, right, top, bottom, ...)
        return Window((1,) * n, 1, 1, tuple((p[2 * i], p[2 * i + 1]) for i in range(n))[::-1])

    def output_shape(self, input_shape: Sequence[int]) -> tuple[int, ...]:
        """The last ``_n`` sizes grow by their padding; the leading ones are kept."""
        shape = tuple(int(v) for v in input_shape)
        if len(shape) < self._n:
            raise ValueError(f"{type(self).__name__}.output_shape: expected at least {self._n} "
                             f"entries, got {shape}")
        return shape[:len(shape) - self._n] + self.window().output_size(shape)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class _ConstantPadNd(_PadNd):
    def __init__(self, padding: int | Sequence[int], value: float) -> None:
        super().__init__(padding)
        self.value = value

    def forward(self, input):
        self._check_input_dim(input)
        return pad(input, self.padding, "constant", self.value)

    def extra_repr(self) -> str:
        return f"padding={self.padding}, value={self.value}"


_SHAPE_DOC = """
    Shape:
        - Input: :math:`(*, {dims_in})` (any leading batch / channel dimensions).
        - Output: :math:`(*, {dims_out})` with e.g.
          :math:`W_{{out}} = W_{{in}} + \\text{{left}} + \\text{{right}}`.
"""


def _doc(what: str, n: int, extra: str = "") -> str:
    names = ["W", "H", "D"][:n][::-1]
    order = "(left, right" + (", top, bottom" if n > 1 else "") + (", front, back" if n > 2
                                                                  else "") + ")"
    return (f"Pads the last {n} dimension{'s' if n > 1 else ''} of the input {what}.\n\n"
            f"    Args:\n        padding (int, tuple): the size of the padding; an int pads every "
            f"side, a {2 * n}-tuple gives {order}.{extra}\n"
            + _SHAPE_DOC.format(dims_in=", ".join(f"{d}_{{in}}" for d in names),
                                dims_out=", ".join(f"{d}_{{out}}" for d in names))
            + f"\n    Example::\n\n        >>> m = nn.{{cls}}(2)\n        >>> m(convnp.randn("
            f"1, 3{', 4' * n})).shape\n        ({', '.join(['1', '3'] + ['8'] * n)})\n")


def _make(name: str, base: type, n: int, mode: str, doc: str) -> type:
    cls = type(name, (base,), {"_n": n, "_mode": mode, "__doc__": doc.replace("{cls}", name)})
    cls.__module__ = __name__
    return cls


class _ZeroPadNd(_ConstantPadNd):
    def __init__(self, padding: int | Sequence[int]) -> None:
        super().__init__(padding, 0.0)

    def extra_repr(self) -> str:
        return f"{self.padding}"


def _family(prefix: str, base: type, mode: str, what: str, extra: str = "",
            example: str = "2") -> tuple[type, type, type]:
    """The 1-d, 2-d and 3-d classes of one padding mode."""
    return tuple(_make(f"{prefix}{n}d", base, n, mode,
                       _doc(what, n, extra).replace("(2)", f"({example})")) for n in (1, 2, 3))


ConstantPad1d, ConstantPad2d, ConstantPad3d = _family(
    "ConstantPad", _ConstantPadNd, "constant", "with a constant value",
    "\n        value (float): fill value.", "2, 0.5")

ZeroPad1d, ZeroPad2d, ZeroPad3d = _family("ZeroPad", _ZeroPadNd, "constant", "with zeros")
ReflectionPad1d, ReflectionPad2d, ReflectionPad3d = _family(
    "ReflectionPad", _PadNd, "reflect",
    "with the reflection of its border (edge not repeated; padding < size)")
ReplicationPad1d, ReplicationPad2d, ReplicationPad3d = _family(
    "ReplicationPad", _PadNd, "replicate", "by repeating its edge values")
CircularPad1d, CircularPad2d, CircularPad3d = _family(
    "CircularPad", _PadNd, "circular", "by wrapping around (periodic; padding <= size)")
