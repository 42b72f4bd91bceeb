"""What a layer does to the geometry of its input, described by the layer itself.

Two methods on every ``Module`` (defaults in ``module.py``) let the summary / receptive-field /
explain tools read a layer's geometry as data instead of guessing it from the class name:

- ``output_shape(input_shape) -> tuple``: the output shape for an input shape, from the settings
  alone (no data). The default is shape-preserving (activations, normalisation, dropout); a layer
  whose ``forward`` changes the shape overrides it.
- ``window(input_shape=None) -> Window | None``: the sliding window the layer applies over the
  trailing spatial axes (convolutions, pooling, unpooling, padding, fold/unfold), or ``None``
  when it has none (elementwise layers; adaptive pooling and resampling, whose windows follow
  from the input and output sizes). ``input_shape`` is needed only where the padding depends on
  the input size (``padding='same'`` with a stride > 1).

A ``Window`` is the per-axis arithmetic of ``convnp.ops._shape`` bundled with its settings, so a
layer's ``output_shape`` and the tools' receptive fields come from one description.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from convnp.ops import _shape

__all__ = ["Window", "spatial_split", "window_of"]


def _tuple(v, n: int) -> tuple:
    return tuple(v) if isinstance(v, (tuple, list)) else (v,) * n


@dataclass(frozen=True)
class Window:
    """A sliding window over the last ``len(kernel)`` axes of a layer's input.

    Attributes:
        kernel (tuple of int): window size per axis (1 for padding layers).
        stride (tuple): step per axis; an int, or a float for layers whose windows step
            irregularly (fractional max pooling: the mean step).
        dilation (tuple of int): spacing between taps per axis.
        pads (tuple of (lo, hi)): padding before and after each axis (numbers; negative crops,
            fractional where a layer only places its outputs as such padding would, e.g. the
            spherical layers).
        transposed (bool): the layer is the adjoint of this window (transposed convolution,
            max-unpooling, fold): each *input* value spreads over a window of the output.
        ceil_mode (bool): output sizes round up (pooling's ``ceil_mode``).
        output_padding (tuple of int): extra output size on the high side (transposed only).
        sphere (bool): the taps lie on the sphere's tangent plane (SphereNet): on an
            equirectangular image the window covers the same arc at every latitude.

    Example::

        >>> w = nn.Conv2d(1, 1, 3, stride=2, padding=1).window()
        >>> w.kernel, w.stride, w.pads, w.output_size((8, 8))
        ((3, 3), (2, 2), ((1, 1), (1, 1)), (4, 4))
    """

    kernel: tuple
    stride: tuple
    dilation: tuple
    pads: tuple
    transposed: bool = False
    ceil_mode: bool = False
    output_padding: tuple = ()
    sphere: bool = False

    def __post_init__(self) -> None:
        n = len(self.kernel)
        set_ = object.__setattr__  # frozen: normalise once, here
        set_(self, "kernel", tuple(int(k) for k in self.kernel))
        set_(self, "stride", _tuple(self.stride, n))
        set_(self, "dilation", tuple(int(d) for d in _tuple(self.dilation, n)))
        set_(self, "pads", tuple(tuple(p) if isinstance(p, (tuple, list)) else (p, p)
                                 for p in _tuple(self.pads, n)))
        set_(self, "output_padding", tuple(int(v) for v in self.output_padding) or (0,) * n)
        for name in ("stride", "dilation", "pads", "output_padding"):
            if len(getattr(self, name)) != n:
                raise ValueError(f"Window: '{name}' needs one entry per axis of the kernel "
                                 f"{self.kernel}, got {getattr(self, name)}")

    @property
    def ndim(self) -> int:
        """Number of spatial axes the window slides over."""
        return len(self.kernel)

    @property
    def pad_lo(self) -> tuple:
        return tuple(p[0] for p in self.pads)

    def extent(self) -> tuple[int, ...]:
        """Input positions one window spans per axis: ``d*(k - 1) + 1``."""
        return tuple(_shape.receptive_field([k], [1], [d]) for k, d in
                     zip(self.kernel, self.dilation))

    def output_size(self, sizes: Sequence[int]) -> tuple[int, ...]:
        """Output sizes of the window's axes for input sizes ``sizes`` (the last ``ndim``)."""
        sizes = tuple(sizes)[-self.ndim:]
        out = []
        for x, k, s, d, (lo, hi), op in zip(sizes, self.kernel, self.stride, self.dilation,
                                            self.pads, self.output_padding):
            if self.transposed:
                out.append(_shape.conv_transpose_output_size(x, k, s, lo, hi, d, op))
            elif self.ceil_mode:
                # pooling's rule: symmetric padding, a last window may not start in the padding
                out.append(_shape.pool_output_size(x, k, s, lo, d, True))
            else:
                out.append(_shape.conv_output_size(x, k, s, lo, hi, d))
        return tuple(int(v) for v in out)


def spatial_split(input_shape: Sequence[int], n: int, layer: str,
                  ranks: Sequence[int] | None = None) -> tuple[tuple, tuple]:
    """``input_shape`` split into its leading axes and its last ``n`` (spatial) axes, checking
    that it has one of ``ranks`` entries (default ``n + 1`` or ``n + 2``: unbatched or batched).
    """
    shape = tuple(int(v) for v in input_shape)
    ranks = (n + 1, n + 2) if ranks is None else tuple(ranks)
    if len(shape) not in ranks:
        want = " or ".join(str(r) for r in ranks)
        raise ValueError(f"{layer}.output_shape: expected an input shape with {want} entries, "
                         f"got {shape}")
    return shape[:len(shape) - n], shape[len(shape) - n:]


def window_of(module, input_shape: Sequence[int] | None = None) -> Window | None:
    """``module.window(input_shape)``, or None where the window depends on an input size that
    was not given (``padding='same'`` with a stride) or the shape does not fit the layer."""
    try:
        return module.window(input_shape) if input_shape is not None else module.window()
    except (ValueError, TypeError):
        return None
