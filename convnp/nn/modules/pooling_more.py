"""``FractionalMaxPool2d`` / ``FractionalMaxPool3d`` (thin modules over
:mod:`convnp.ops.fractional_pool`)."""

from __future__ import annotations

from convnp.nn.modules.module import Module
from convnp.ops import _shape
from convnp.ops.fractional_pool import fractional_max_pool2d, fractional_max_pool3d

__all__ = ["FractionalMaxPool2d", "FractionalMaxPool3d"]


class _FractionalMaxPoolNd(Module):
    _n = 2

    def __init__(self, kernel_size, output_size=None, output_ratio=None,
                 return_indices: bool = False, _random_samples=None) -> None:
        super().__init__()
        name, n = type(self).__name__, self._n
        self.kernel_size = _shape.ntuple(kernel_size, n, "kernel_size", name, minimum=1)
        self.return_indices = return_indices
        self.register_buffer("_random_samples", _random_samples)
        self.output_size = (_shape.ntuple(output_size, n, "output_size", name, minimum=1)
                            if output_size is not None else None)
        self.output_ratio = (tuple(output_ratio) if isinstance(output_ratio, (tuple, list))
                             else (output_ratio,) * n if output_ratio is not None else None)
        if output_size is None and output_ratio is None:
            raise ValueError(f"{name} requires specifying either an output size, or a pooling "
                             "ratio")
        if output_size is not None and output_ratio is not None:
            raise ValueError("only one of output_size and output_ratio may be specified")
        if self.output_ratio is not None and not all(0 < r < 1 for r in self.output_ratio):
            raise ValueError(f"output_ratio must be between 0 and 1 (got {output_ratio})")

    def forward(self, input):
        fn = fractional_max_pool2d if self._n == 2 else fractional_max_pool3d
        return fn(input, self.kernel_size, self.output_size, self.output_ratio,
                  self.return_indices, _random_samples=self._random_samples)

    def output_shape(self, input_shape):
        """``output_size``, or ``floor(size * output_ratio)`` per spatial axis."""
        shape = tuple(int(v) for v in input_shape)
        n = self._n
        out = self.output_size or tuple(int(x * r) for x, r in zip(shape[-n:], self.output_ratio))
        return shape[:-n] + tuple(out)

    def window(self, input_shape=None):
        """The kernel at the mean step ``(size - k) / (out - 1)`` (the steps are pseudo-random
        around it); without ``input_shape`` there is no step to state: None."""
        from convnp.nn.modules._geometry import Window

        if input_shape is None:
            return None
        sp, out = tuple(input_shape)[-self._n:], self.output_shape(input_shape)[-self._n:]
        step = tuple((x - k) / (o - 1) if o > 1 else x for x, k, o in
                     zip(sp, self.kernel_size, out))
        return Window(self.kernel_size, step, 1, 0)


class FractionalMaxPool2d(_FractionalMaxPoolNd):
    r"""2-d fractional max pooling: max over ``kernel_size`` windows at pseudo-random strides
    so that the output is ``output_size`` (or ``output_ratio`` of the input).

    Args:
        kernel_size: window size. output_size / output_ratio: one of them. return_indices:
            also return the indices of the maxima. _random_samples: fixed ``(N, C, 2)``
            samples (a buffer), for reproducible windows.

    Shape: input :math:`(N, C, H, W)` or :math:`(C, H, W)`, output
    :math:`(N, C, H_{out}, W_{out})`.

    Example::

        >>> nn.FractionalMaxPool2d(3, output_ratio=(0.5, 0.5))(convnp.randn(1, 2, 10, 8)).shape
        (1, 2, 5, 4)
    """

    _n = 2


class FractionalMaxPool3d(_FractionalMaxPoolNd):
    r"""3-d fractional max pooling of :math:`(N, C, T, H, W)` (see
    :class:`FractionalMaxPool2d`; ``_random_samples`` is ``(N, C, 3)``)."""

    _n = 3
