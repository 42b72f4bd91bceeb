"""Pooling layers: thin holders of PyTorch's settings that call ``convnp.ops.pooling``.

Each layer also describes its geometry (``output_shape(input_shape)``, and ``window()`` for the
windowed ones), computed with ``convnp.ops._shape`` only, so the summary/explain tools report
exactly what ``forward`` produces. The 1-d/2-d/3-d classes of a family differ only in ``_nd``.
"""

from __future__ import annotations

from typing import Sequence

from convnp.nn.modules._geometry import Window, spatial_split
from convnp.nn.modules.module import Module
from convnp.ops import _shape
from convnp.ops import pooling as P
from convnp.ops import unpooling as U

__all__ = [
    "MaxPool1d", "MaxPool2d", "MaxPool3d", "AvgPool1d", "AvgPool2d", "AvgPool3d", "LPPool1d",
    "LPPool2d", "LPPool3d", "AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "AdaptiveAvgPool3d",
    "AdaptiveMaxPool1d", "AdaptiveMaxPool2d", "AdaptiveMaxPool3d", "MaxUnpool1d", "MaxUnpool2d",
    "MaxUnpool3d", "GlobalAvgPool1d", "GlobalAvgPool2d", "GlobalAvgPool3d", "GlobalMaxPool1d",
    "GlobalMaxPool2d", "GlobalMaxPool3d",
]


def _layer(name: str, base: type, nd: int, doc: str) -> type:
    """One N-d class of a pooling family: ``base`` with ``_nd = nd``."""
    return type(name, (base,), {"__doc__": doc, "_nd": nd, "__module__": __name__})


class _PoolNd(Module):
    """What every pooling layer shares: ``_nd`` spatial axes after optional batch and channel."""

    _nd = 0

    def _split(self, input_shape: Sequence[int]) -> tuple[tuple, tuple]:
        return spatial_split(input_shape, self._nd, type(self).__name__)


class _WindowPoolNd(_PoolNd):
    """Max / average / power-average pooling: a fixed window slid over the input."""

    def __init__(self, kernel_size, stride, padding, ceil_mode) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride
        self.padding = padding
        self.ceil_mode = ceil_mode

    def window(self, input_shape: Sequence[int] | None = None) -> Window:
        """Kernel, stride (default the kernel), dilation, symmetric padding and ceil_mode."""
        name, nd = type(self).__name__, self._nd
        k = _shape.ntuple(self.kernel_size, nd, "kernel_size", name)
        s = k if self.stride is None else _shape.ntuple(self.stride, nd, "stride", name)
        p = _shape.ntuple(self.padding, nd, "padding", name)
        d = _shape.ntuple(getattr(self, "dilation", 1), nd, "dilation", name)
        return Window(k, s, d, p, ceil_mode=bool(self.ceil_mode))

    def output_shape(self, input_shape: Sequence[int]) -> tuple[int, ...]:
        """Output shape for an input of ``input_shape`` (no data needed)."""
        lead, sp = self._split(input_shape)
        win = self.window()
        if any(lo > _shape.pool_max_padding(k) for k, (lo, _) in zip(win.kernel, win.pads)):
            raise ValueError(f"{type(self).__name__}: padding should be at most half of the "
                             f"kernel size, got padding={self.padding} for "
                             f"kernel_size={self.kernel_size}")
        return lead + win.output_size(sp)


class _MaxPoolNd(_WindowPoolNd):
    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices=False,
                 ceil_mode=False) -> None:
        super().__init__(kernel_size, stride if stride is not None else kernel_size, padding,
                         ceil_mode)
        self.dilation = dilation
        self.return_indices = return_indices

    def forward(self, input):
        return getattr(P, f"max_pool{self._nd}d")(input, self.kernel_size, self.stride,
                                                 self.padding, self.dilation,
                                                 ceil_mode=self.ceil_mode,
                                                 return_indices=self.return_indices)

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


MaxPool1d = _layer("MaxPool1d", _MaxPoolNd, 1, """1-d max pooling layer; see
    ``convnp.nn.functional.max_pool1d``.

    Shape:
        ``(N, C, L) -> (N, C, L_out)``, ``L_out = floor_or_ceil((L + 2p - d(k-1) - 1)/s) + 1``.

    Example:
        >>> MaxPool1d(2)(convnp.randn(1, 3, 8)).shape
        (1, 3, 4)
    """)
MaxPool2d = _layer("MaxPool2d", _MaxPoolNd, 2, """2-d max pooling layer; see
    ``convnp.nn.functional.max_pool2d``.

    Example:
        >>> MaxPool2d(2)(convnp.randn(1, 3, 8, 8)).shape  # halves H and W
        (1, 3, 4, 4)
    """)
MaxPool3d = _layer("MaxPool3d", _MaxPoolNd, 3,
                   """3-d max pooling layer; see ``convnp.nn.functional.max_pool3d``.""")


class _AvgPoolNd(_WindowPoolNd):
    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False,
                 count_include_pad=True, divisor_override=None) -> None:
        super().__init__(kernel_size, stride if stride is not None else kernel_size, padding,
                         ceil_mode)
        self.count_include_pad = count_include_pad
        self.divisor_override = divisor_override

    def forward(self, input):
        return getattr(P, f"avg_pool{self._nd}d")(input, self.kernel_size, self.stride,
                                                 self.padding, self.ceil_mode,
                                                 self.count_include_pad, self.divisor_override)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool1d(_AvgPoolNd):
    """1-d average pooling layer; see ``convnp.nn.functional.avg_pool1d``.

    Example:
        >>> AvgPool1d(2)(convnp.randn(1, 3, 8)).shape
        (1, 3, 4)
    """

    _nd = 1

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False,
                 count_include_pad=True) -> None:
        # PyTorch stores AvgPool1d's settings as 1-tuples
        k = _shape.ntuple(kernel_size, 1, "kernel_size", "AvgPool1d")
        s = k if stride is None else _shape.ntuple(stride, 1, "stride", "AvgPool1d")
        super().__init__(k, s, _shape.ntuple(padding, 1, "padding", "AvgPool1d"), ceil_mode,
                         count_include_pad)

    def forward(self, input):
        return P.avg_pool1d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad)


AvgPool2d = _layer("AvgPool2d", _AvgPoolNd, 2, """2-d average pooling layer; see
    ``convnp.nn.functional.avg_pool2d``.

    Example:
        >>> AvgPool2d(3, stride=2, padding=1)(convnp.randn(1, 3, 8, 8)).shape
        (1, 3, 4, 4)
    """)
AvgPool3d = _layer("AvgPool3d", _AvgPoolNd, 3,
                   """3-d average pooling layer; see ``convnp.nn.functional.avg_pool3d``.""")


class _LPPoolNd(_WindowPoolNd):
    def __init__(self, norm_type, kernel_size, stride=None, ceil_mode=False) -> None:
        super().__init__(kernel_size, stride, 0, ceil_mode)
        self.norm_type = norm_type

    def forward(self, input):
        return getattr(P, f"lp_pool{self._nd}d")(input, float(self.norm_type), self.kernel_size,
                                                self.stride, self.ceil_mode)

    def extra_repr(self) -> str:
        return (f"norm_type={self.norm_type}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, ceil_mode={self.ceil_mode}")


LPPool1d, LPPool2d, LPPool3d = (
    _layer(f"LPPool{n}d", _LPPoolNd, n, f"{n}-d power-average pooling layer; see "
           f"``convnp.nn.functional.lp_pool{n}d``.") for n in (1, 2, 3))


class _AdaptivePoolNd(_PoolNd):
    """Adaptive pooling: the windows follow from the input and output sizes (no fixed window)."""

    def __init__(self, output_size) -> None:
        super().__init__()
        self.output_size = output_size

    def output_shape(self, input_shape: Sequence[int]) -> tuple[int, ...]:
        """Output shape for an input of ``input_shape`` (no data needed)."""
        nd = self._nd
        lead, sp = self._split(input_shape)
        o = self.output_size
        o = (o,) * nd if isinstance(o, int) else tuple(o) * (nd if len(tuple(o)) == 1 else 1)
        return lead + tuple(n if oo is None else oo for oo, n in zip(o, sp))

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class _AdaptiveAvgPoolNd(_AdaptivePoolNd):
    def forward(self, input):
        return getattr(P, f"adaptive_avg_pool{self._nd}d")(input, self.output_size)


class _AdaptiveMaxPoolNd(_AdaptivePoolNd):
    def __init__(self, output_size, return_indices=False) -> None:
        super().__init__(output_size)
        self.return_indices = return_indices

    def forward(self, input):
        return getattr(P, f"adaptive_max_pool{self._nd}d")(input, self.output_size,
                                                          self.return_indices)


AdaptiveAvgPool1d = _layer("AdaptiveAvgPool1d", _AdaptiveAvgPoolNd, 1, """Adaptive average
    pooling to a fixed length; see ``adaptive_avg_pool1d``.""")
AdaptiveAvgPool2d = _layer("AdaptiveAvgPool2d", _AdaptiveAvgPoolNd, 2, """Adaptive average
    pooling to a fixed (H, W); ``AdaptiveAvgPool2d(1)`` is global pooling.

    Example:
        >>> AdaptiveAvgPool2d((2, 3))(convnp.randn(1, 4, 7, 9)).shape
        (1, 4, 2, 3)
    """)
AdaptiveAvgPool3d = _layer("AdaptiveAvgPool3d", _AdaptiveAvgPoolNd, 3, """Adaptive average
    pooling to a fixed (D, H, W); see ``adaptive_avg_pool3d``.""")
AdaptiveMaxPool1d, AdaptiveMaxPool2d, AdaptiveMaxPool3d = (
    _layer(f"AdaptiveMaxPool{n}d", _AdaptiveMaxPoolNd, n, f"Adaptive max pooling to a fixed "
           f"{size}; see ``adaptive_max_pool{n}d``.")
    for n, size in ((1, "length"), (2, "(H, W)"), (3, "(D, H, W)")))


class _MaxUnpoolNd(_PoolNd):
    def __init__(self, kernel_size, stride=None, padding=0) -> None:
        super().__init__()
        name = type(self).__name__
        self.kernel_size = _shape.ntuple(kernel_size, self._nd, "kernel_size", name)
        self.stride = self.kernel_size if stride is None else _shape.ntuple(stride, self._nd,
                                                                             "stride", name)
        self.padding = _shape.ntuple(padding, self._nd, "padding", name)

    def forward(self, input, indices, output_size=None):
        return getattr(U, f"max_unpool{self._nd}d")(input, indices, self.kernel_size, self.stride,
                                                   self.padding, output_size)

    def window(self, input_shape: Sequence[int] | None = None) -> Window:
        """The pooling window this layer undoes, transposed: each input spreads over it."""
        return Window(self.kernel_size, self.stride, 1, self.padding, transposed=True)

    def output_shape(self, input_shape: Sequence[int]) -> tuple[int, ...]:
        """Default output shape (without ``output_size`` or remembered indices):
        ``(x - 1)*s - 2p + k`` per axis."""
        lead, sp = self._split(input_shape)
        return lead + self.window().output_size(sp)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


MaxUnpool1d = _layer("MaxUnpool1d", _MaxUnpoolNd, 1, """Partial inverse of ``MaxPool1d``; see
    ``convnp.nn.functional.max_unpool1d``.""")
MaxUnpool2d = _layer("MaxUnpool2d", _MaxUnpoolNd, 2, """Partial inverse of ``MaxPool2d``:
    maxima back at their switch positions, zeros elsewhere.

    Example:
        >>> pool, unpool = MaxPool2d(2, return_indices=True), MaxUnpool2d(2)
        >>> y, i = pool(convnp.randn(1, 1, 5, 5))
        >>> unpool(y, i).shape  # the indices remember the 5x5 input
        (1, 1, 5, 5)
    """)
MaxUnpool3d = _layer("MaxUnpool3d", _MaxUnpoolNd, 3, """Partial inverse of ``MaxPool3d``; see
    ``convnp.nn.functional.max_unpool3d``.""")


class _GlobalPoolNd(_PoolNd):
    _max = False

    def __init__(self, keepdim: bool = False) -> None:
        super().__init__()
        self.keepdim = keepdim

    def forward(self, input):
        kind = "max" if self._max else "avg"
        out = getattr(P, f"adaptive_{kind}_pool{self._nd}d")(input, 1)
        if self.keepdim:
            return out
        return out.reshape(*out.shape[:-self._nd])

    def output_shape(self, input_shape: Sequence[int]) -> tuple[int, ...]:
        """``(N, C, *spatial) -> (N, C)`` (or ``(N, C, 1, ...)`` with keepdim)."""
        lead, _ = self._split(input_shape)
        return lead + ((1,) * self._nd if self.keepdim else ())

    def extra_repr(self) -> str:
        return f"keepdim={self.keepdim}"


class _GlobalMaxPoolNd(_GlobalPoolNd):
    _max = True


GlobalAvgPool1d = _layer("GlobalAvgPool1d", _GlobalPoolNd, 1, """Global average pooling:
    ``(N, C, L) -> (N, C)``, one mean per channel.""")
GlobalAvgPool2d = _layer("GlobalAvgPool2d", _GlobalPoolNd, 2, """Global average pooling: a
    ``C x H x W`` feature map becomes a C-vector.

    Args:
        keepdim: keep the spatial axes as size 1 (``(N, C, 1, 1)``, like ``AdaptiveAvgPool2d(1)``).

    Shape:
        ``(N, C, H, W) -> (N, C)``; unbatched ``(C, H, W) -> (C,)``.

    Example:
        >>> GlobalAvgPool2d()(convnp.randn(8, 64, 7, 7)).shape
        (8, 64)
    """)
GlobalAvgPool3d = _layer("GlobalAvgPool3d", _GlobalPoolNd, 3, """Global average pooling:
    ``(N, C, D, H, W) -> (N, C)``.""")
GlobalMaxPool1d = _layer("GlobalMaxPool1d", _GlobalMaxPoolNd, 1, """Global max pooling:
    ``(N, C, L) -> (N, C)``, one maximum per channel.""")
GlobalMaxPool2d = _layer("GlobalMaxPool2d", _GlobalMaxPoolNd, 2, """Global max pooling:
    ``(N, C, H, W) -> (N, C)`` (``keepdim=True``: ``(N, C, 1, 1)``).""")
GlobalMaxPool3d = _layer("GlobalMaxPool3d", _GlobalMaxPoolNd, 3, """Global max pooling:
    ``(N, C, D, H, W) -> (N, C)``.""")
