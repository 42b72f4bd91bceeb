"""Pooling layers: thin holders of PyTorch's settings that call ``convnp.ops.pooling``.

Each layer also has ``output_shape(input_shape)``, computed with ``convnp.ops._shape`` only, so the
summary/explain tools report exactly what ``forward`` produces.
"""

from __future__ import annotations

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


def _split(input_shape, nd, name):
    shape = tuple(int(s) for s in input_shape)
    if len(shape) not in (nd + 1, nd + 2):
        raise ValueError(f"{name}.output_shape: expected a {nd + 1}- or {nd + 2}-entry shape, got "
                         f"{shape}")
    return shape[:-nd], shape[-nd:]


def _window_shape(mod, input_shape, dilation, ceil_mode):
    nd = mod._nd
    name = type(mod).__name__
    lead, sp = _split(input_shape, nd, name)
    k = _shape.ntuple(mod.kernel_size, nd, "kernel_size", name)
    s = k if mod.stride is None else _shape.ntuple(mod.stride, nd, "stride", name)
    p = _shape.ntuple(mod.padding, nd, "padding", name)
    d = _shape.ntuple(dilation, nd, "dilation", name)
    return lead + tuple(_shape.pool_output_size(n, kk, ss, pp, dd, ceil_mode)
                        for n, kk, ss, pp, dd in zip(sp, k, s, p, d))


class _MaxPoolNd(Module):
    _nd = 0

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices=False,
                 ceil_mode=False) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.dilation = dilation
        self.return_indices = return_indices
        self.ceil_mode = ceil_mode

    def forward(self, input):
        return getattr(P, f"max_pool{self._nd}d")(input, self.kernel_size, self.stride,
                                                 self.padding, self.dilation,
                                                 ceil_mode=self.ceil_mode,
                                                 return_indices=self.return_indices)

    def output_shape(self, input_shape):
        """Output shape for an input of ``input_shape`` (no data needed)."""
        return _window_shape(self, input_shape, self.dilation, self.ceil_mode)

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class MaxPool1d(_MaxPoolNd):
    """1-d max pooling layer; see ``convnp.nn.functional.max_pool1d``.

    Shape:
        ``(N, C, L) -> (N, C, L_out)``, ``L_out = floor_or_ceil((L + 2p - d(k-1) - 1)/s) + 1``.

    Example:
        >>> MaxPool1d(2)(convnp.randn(1, 3, 8)).shape
        (1, 3, 4)
    """

    _nd = 1


class MaxPool2d(_MaxPoolNd):
    """2-d max pooling layer; see ``convnp.nn.functional.max_pool2d``.

    Example:
        >>> MaxPool2d(2)(convnp.randn(1, 3, 8, 8)).shape  # halves H and W
        (1, 3, 4, 4)
    """

    _nd = 2


class MaxPool3d(_MaxPoolNd):
    """3-d max pooling layer; see ``convnp.nn.functional.max_pool3d``."""

    _nd = 3


class _AvgPoolNd(Module):
    _nd = 0

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False,
                 count_include_pad=True, divisor_override=None) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad
        self.divisor_override = divisor_override

    def forward(self, input):
        return getattr(P, f"avg_pool{self._nd}d")(input, self.kernel_size, self.stride,
                                                 self.padding, self.ceil_mode,
                                                 self.count_include_pad, self.divisor_override)

    def output_shape(self, input_shape):
        """Output shape for an input of ``input_shape`` (no data needed)."""
        return _window_shape(self, input_shape, 1, self.ceil_mode)

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


class AvgPool2d(_AvgPoolNd):
    """2-d average pooling layer; see ``convnp.nn.functional.avg_pool2d``.

    Example:
        >>> AvgPool2d(3, stride=2, padding=1)(convnp.randn(1, 3, 8, 8)).shape
        (1, 3, 4, 4)
    """

    _nd = 2


class AvgPool3d(_AvgPoolNd):
    """3-d average pooling layer; see ``convnp.nn.functional.avg_pool3d``."""

    _nd = 3


class _LPPoolNd(Module):
    _nd = 0

    def __init__(self, norm_type, kernel_size, stride=None, ceil_mode=False) -> None:
        super().__init__()
        self.norm_type = norm_type
        self.kernel_size = kernel_size
        self.stride = stride
        self.ceil_mode = ceil_mode
        self.padding = 0

    def forward(self, input):
        return getattr(P, f"lp_pool{self._nd}d")(input, float(self.norm_type), self.kernel_size,
                                                self.stride, self.ceil_mode)

    def output_shape(self, input_shape):
        """Output shape for an input of ``input_shape`` (no data needed)."""
        return _window_shape(self, input_shape, 1, self.ceil_mode)

    def extra_repr(self) -> str:
        return (f"norm_type={self.norm_type}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, ceil_mode={self.ceil_mode}")


class LPPool1d(_LPPoolNd):
    """1-d power-average pooling layer; see ``convnp.nn.functional.lp_pool1d``."""

    _nd = 1


class LPPool2d(_LPPoolNd):
    """2-d power-average pooling layer; see ``convnp.nn.functional.lp_pool2d``."""

    _nd = 2


class LPPool3d(_LPPoolNd):
    """3-d power-average pooling layer; see ``convnp.nn.functional.lp_pool3d``."""

    _nd = 3


def _adaptive_shape(mod, input_shape):
    nd = mod._nd
    lead, sp = _split(input_shape, nd, type(mod).__name__)
    o = mod.output_size
    o = (o,) * nd if isinstance(o, int) else tuple(o) * (nd if len(tuple(o)) == 1 else 1)
    return lead + tuple(n if oo is None else oo for oo, n in zip(o, sp))


class _AdaptiveAvgPoolNd(Module):
    _nd = 0

    def __init__(self, output_size) -> None:
        super().__init__()
        self.output_size = output_size

    def forward(self, input):
        return getattr(P, f"adaptive_avg_pool{self._nd}d")(input, self.output_size)

    def output_shape(self, input_shape):
        """Output shape for an input of ``input_shape`` (no data needed)."""
        return _adaptive_shape(self, input_shape)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveAvgPool1d(_AdaptiveAvgPoolNd):
    """Adaptive average pooling to a fixed length; see ``adaptive_avg_pool1d``."""

    _nd = 1


class AdaptiveAvgPool2d(_AdaptiveAvgPoolNd):
    """Adaptive average pooling to a fixed (H, W); ``AdaptiveAvgPool2d(1)`` is global pooling.

    Example:
        >>> AdaptiveAvgPool2d((2, 3))(convnp.randn(1, 4, 7, 9)).shape
        (1, 4, 2, 3)
    """

    _nd = 2


class AdaptiveAvgPool3d(_AdaptiveAvgPoolNd):
    """Adaptive average pooling to a fixed (D, H, W); see ``adaptive_avg_pool3d``."""

    _nd = 3


class _AdaptiveMaxPoolNd(Module):
    _nd = 0

    def __init__(self, output_size, return_indices=False) -> None:
        super().__init__()
        self.output_size = output_size
        self.return_indices = return_indices

    def forward(self, input):
        return getattr(P, f"adaptive_max_pool{self._nd}d")(input, self.output_size,
                                                          self.return_indices)

    def output_shape(self, input_shape):
        """Output shape for an input of ``input_shape`` (no data needed)."""
        return _adaptive_shape(self, input_shape)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveMaxPool1d(_AdaptiveMaxPoolNd):
    """Adaptive max pooling to a fixed length; see ``adaptive_max_pool1d``."""

    _nd = 1


class AdaptiveMaxPool2d(_AdaptiveMaxPoolNd):
    """Adaptive max pooling to a fixed (H, W); see ``adaptive_max_pool2d``."""

    _nd = 2


class AdaptiveMaxPool3d(_AdaptiveMaxPoolNd):
    """Adaptive max pooling to a fixed (D, H, W); see ``adaptive_max_pool3d``."""

    _nd = 3


class _MaxUnpoolNd(Module):
    _nd = 0

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

    def output_shape(self, input_shape):
        """Default output shape (without ``output_size`` or remembered indices)."""
        lead, sp = _split(input_shape, self._nd, type(self).__name__)
        return lead + tuple(_shape.unpool_output_size(n, k, s, p) for n, k, s, p in
                            zip(sp, self.kernel_size, self.stride, self.padding))

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxUnpool1d(_MaxUnpoolNd):
    """Partial inverse of ``MaxPool1d``; see ``convnp.nn.functional.max_unpool1d``."""

    _nd = 1


class MaxUnpool2d(_MaxUnpoolNd):
    """Partial inverse of ``MaxPool2d``: maxima back at their switch positions, zeros elsewhere.

    Example:
        >>> pool, unpool = MaxPool2d(2, return_indices=True), MaxUnpool2d(2)
        >>> y, i = pool(convnp.randn(1, 1, 5, 5))
        >>> unpool(y, i).shape  # the indices remember the 5x5 input
        (1, 1, 5, 5)
    """

    _nd = 2


class MaxUnpool3d(_MaxUnpoolNd):
    """Partial inverse of ``MaxPool3d``; see ``convnp.nn.functional.max_unpool3d``."""

    _nd = 3


class _GlobalPoolNd(Module):
    _nd = 0
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

    def output_shape(self, input_shape):
        """``(N, C, *spatial) -> (N, C)`` (or ``(N, C, 1, ...)`` with keepdim)."""
        lead, _ = _split(input_shape, self._nd, type(self).__name__)
        return lead + ((1,) * self._nd if self.keepdim else ())

    def extra_repr(self) -> str:
        return f"keepdim={self.keepdim}"


class GlobalAvgPool1d(_GlobalPoolNd):
    """Global average pooling: ``(N, C, L) -> (N, C)``, one mean per channel."""

    _nd = 1


class GlobalAvgPool2d(_GlobalPoolNd):
    """Global average pooling: a ``C x H x W`` feature map becomes a C-vector.

    Args:
        keepdim: keep the spatial axes as size 1 (``(N, C, 1, 1)``, like ``AdaptiveAvgPool2d(1)``).

    Shape:
        ``(N, C, H, W) -> (N, C)``; unbatched ``(C, H, W) -> (C,)``.

    Example:
        >>> GlobalAvgPool2d()(convnp.randn(8, 64, 7, 7)).shape
        (8, 64)
    """

    _nd = 2


class GlobalAvgPool3d(_GlobalPoolNd):
    """Global average pooling: ``(N, C, D, H, W) -> (N, C)``."""

    _nd = 3


class GlobalMaxPool1d(_GlobalPoolNd):
    """Global max pooling: ``(N, C, L) -> (N, C)``, one maximum per channel."""

    _nd = 1
    _max = True


class GlobalMaxPool2d(_GlobalPoolNd):
    """Global max pooling: ``(N, C, H, W) -> (N, C)`` (``keepdim=True``: ``(N, C, 1, 1)``)."""

    _nd = 2
    _max = True


class GlobalMaxPool3d(_GlobalPoolNd):
    """Global max pooling: ``(N, C, D, H, W) -> (N, C)``."""

    _nd = 3
    _max = True
