"""Resampling layers: ``Upsample`` and its fixed-mode variants, ``PixelShuffle``/``PixelUnshuffle``.

Thin holders of PyTorch's settings; ``forward`` calls ``convnp.ops.upsample``.
"""

from __future__ import annotations

from convnp.nn.modules.module import Module
from convnp.ops import _shape
from convnp.ops import upsample as U

__all__ = ["Upsample", "UpsamplingNearest2d", "UpsamplingBilinear2d", "PixelShuffle",
           "PixelUnshuffle"]


class Upsample(Module):
    """Resample ``(N, C, *spatial)`` to ``size`` or by ``scale_factor``; see ``interpolate``.

    Args:
        size, scale_factor, mode ('nearest' default), align_corners, recompute_scale_factor:
            as ``convnp.nn.functional.interpolate``.

    Shape:
        ``out = size`` or ``floor(in * scale_factor)`` per spatial axis.

    Example:
        >>> Upsample(scale_factor=2, mode="bilinear")(convnp.randn(1, 3, 4, 4)).shape
        (1, 3, 8, 8)
    """

    def __init__(self, size=None, scale_factor=None, mode: str = "nearest", align_corners=None,
                 recompute_scale_factor=None) -> None:
        super().__init__()
        self.name = type(self).__name__
        self.size = size
        if isinstance(scale_factor, (tuple, list)):
            self.scale_factor = tuple(float(f) for f in scale_factor)
        else:
            self.scale_factor = float(scale_factor) if scale_factor else None
        self.mode = mode
        self.align_corners = align_corners
        self.recompute_scale_factor = recompute_scale_factor

    def forward(self, input):
        return U.interpolate(input, self.size, self.scale_factor, self.mode, self.align_corners,
                             recompute_scale_factor=self.recompute_scale_factor)

    def output_shape(self, input_shape):
        """Output shape for an input of ``input_shape`` (no data needed)."""
        shape = tuple(int(s) for s in input_shape)
        nd = len(shape) - 2
        if self.size is not None:
            out = (self.size,) * nd if isinstance(self.size, int) else tuple(self.size)
        else:
            sf = self.scale_factor if isinstance(self.scale_factor, tuple) else \
                (self.scale_factor,) * nd
            out = tuple(_shape.interpolate_output_size(n, s) for n, s in zip(shape[2:], sf))
        return shape[:2] + out

    def extra_repr(self) -> str:
        if self.scale_factor is not None:
            info = "scale_factor=" + repr(self.scale_factor)
        else:
            info = "size=" + repr(self.size)
        return info + ", mode=" + repr(self.mode)


class UpsamplingNearest2d(Upsample):
    """2-d nearest-neighbour upsampling (``Upsample(mode='nearest')``)."""

    def __init__(self, size=None, scale_factor=None) -> None:
        super().__init__(size, scale_factor, mode="nearest")


class UpsamplingBilinear2d(Upsample):
    """2-d bilinear upsampling with ``align_corners=True`` (PyTorch's definition)."""

    def __init__(self, size=None, scale_factor=None) -> None:
        super().__init__(size, scale_factor, mode="bilinear", align_corners=True)


class _PixelShuffleNd(Module):
    """What PixelShuffle and PixelUnshuffle share: a factor ``r`` that moves ``r*r`` channels
    into (or out of) an ``r x r`` block of pixels."""

    _up = True

    def __init__(self, factor: int) -> None:
        super().__init__()
        setattr(self, self._factor_name, factor)

    @property
    def _factor_name(self) -> str:
        return "upscale_factor" if self._up else "downscale_factor"

    def forward(self, input):
        fn = U.pixel_shuffle if self._up else U.pixel_unshuffle
        return fn(input, getattr(self, self._factor_name))

    def output_shape(self, input_shape):
        """Output shape for an input of ``input_shape``."""
        *lead, c, h, w = (int(s) for s in input_shape)
        r = getattr(self, self._factor_name)
        if self._up:
            return tuple(lead) + (c // (r * r), h * r, w * r)
        return tuple(lead) + (c * r * r, h // r, w // r)

    def extra_repr(self) -> str:
        return f"{self._factor_name}={getattr(self, self._factor_name)}"


class PixelShuffle(_PixelShuffleNd):
    """``(*, C*r*r, H, W) -> (*, C, H*r, W*r)``; see ``convnp.nn.functional.pixel_shuffle``.

    Example:
        >>> PixelShuffle(2)(convnp.randn(1, 8, 3, 3)).shape
        (1, 2, 6, 6)
    """

    def __init__(self, upscale_factor: int) -> None:
        super().__init__(upscale_factor)


class PixelUnshuffle(_PixelShuffleNd):
    """``(*, C, H*r, W*r) -> (*, C*r*r, H, W)``; see ``pixel_unshuffle``."""

    _up = False

    def __init__(self, downscale_factor: int) -> None:
        super().__init__(downscale_factor)
