"""Padding layers (``torch.nn.ConstantPad2d`` & co.): thin wrappers around ``F.pad``."""

from __future__ import annotations

from typing import Sequence

import numpy as np

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


class ConstantPad1d(_ConstantPadNd):
    __doc__ = _doc("with a constant value", 1, "\n        value (float): fill value.").replace(
        "{cls}", "ConstantPad1d").replace("(2)", "(2, 0.5)")
    _n = 1


class ConstantPad2d(_ConstantPadNd):
    __doc__ = _doc("with a constant value", 2, "\n        value (float): fill value.").replace(
        "{cls}", "ConstantPad2d").replace("(2)", "(2, 0.5)")
    _n = 2


class ConstantPad3d(_ConstantPadNd):
    __doc__ = _doc("with a constant value", 3, "\n        value (float): fill value.").replace(
        "{cls}", "ConstantPad3d").replace("(2)", "(2, 0.5)")
    _n = 3


class _ZeroPadNd(_ConstantPadNd):
    def __init__(self, padding: int | Sequence[int]) -> None:
        super().__init__(padding, 0.0)

    def extra_repr(self) -> str:
        return f"{self.padding}"


ZeroPad1d = _make("ZeroPad1d", _ZeroPadNd, 1, "constant", _doc("with zeros", 1))
ZeroPad2d = _make("ZeroPad2d", _ZeroPadNd, 2, "constant", _doc("with zeros", 2))
ZeroPad3d = _make("ZeroPad3d", _ZeroPadNd, 3, "constant", _doc("with zeros", 3))
_REFL = "with the reflection of its border (edge not repeated; padding < size)"
ReflectionPad1d = _make("ReflectionPad1d", _PadNd, 1, "reflect", _doc(_REFL, 1))
ReflectionPad2d = _make("ReflectionPad2d", _PadNd, 2, "reflect", _doc(_REFL, 2))
ReflectionPad3d = _make("ReflectionPad3d", _PadNd, 3, "reflect", _doc(_REFL, 3))
ReplicationPad1d = _make("ReplicationPad1d", _PadNd, 1, "replicate",
                         _doc("by repeating its edge values", 1))
ReplicationPad2d = _make("ReplicationPad2d", _PadNd, 2, "replicate",
                         _doc("by repeating its edge values", 2))
ReplicationPad3d = _make("ReplicationPad3d", _PadNd, 3, "replicate",
                         _doc("by repeating its edge values", 3))
CircularPad1d = _make("CircularPad1d", _PadNd, 1, "circular",
                      _doc("by wrapping around (periodic; padding <= size)", 1))
CircularPad2d = _make("CircularPad2d", _PadNd, 2, "circular",
                      _doc("by wrapping around (periodic; padding <= size)", 2))
CircularPad3d = _make("CircularPad3d", _PadNd, 3, "circular",
                      _doc("by wrapping around (periodic; padding <= size)", 3))
