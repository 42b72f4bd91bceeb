"""``Identity``, ``Linear`` and ``Bilinear`` (PyTorch's attribute names and initialisation)."""

from __future__ import annotations

import math

import numpy as np

from convnp import _dtype
from convnp.nn import init
from convnp.nn.modules.module import Module, Parameter
from convnp.ops.linear import bilinear, linear

__all__ = ["Identity", "Linear", "Bilinear"]


class Identity(Module):
    r"""A placeholder that returns its input unchanged; constructor arguments are ignored.

    Shape:
        - Input: :math:`(*)`, Output: :math:`(*)`, the same.

    Example::

        >>> nn.Identity(54, unused_argument1=0.1)(convnp.randn(128, 20)).shape
        (128, 20)
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__()

    def forward(self, input):
        return input


def _empty(shape, dtype) -> Parameter:
    return Parameter(np.empty(shape, _dtype.resolve(dtype) or _dtype.get_default_dtype()))


def _weight_and_bias(module: Module, weight_shape: tuple, bias: bool, dtype) -> None:
    """Give ``module`` a ``weight`` of ``weight_shape`` and, with ``bias``, a ``bias`` of its
    first dimension (else ``bias`` is None), then initialise them by its ``reset_parameters``."""
    module.weight = _empty(weight_shape, dtype)
    if bias:
        module.bias = _empty(weight_shape[:1], dtype)
    else:
        module.register_parameter("bias", None)
    module.reset_parameters()


class Linear(Module):
    r"""Affine map :math:`y = xA^T + b`.

    Args:
        in_features: size of each input sample.
        out_features: size of each output sample.
        bias: if ``False``, the layer learns no additive bias. Default: ``True``.

    Attributes:
        weight: :math:`(\text{out\_features}, \text{in\_features})`, initialised from
            :math:`\mathcal{U}(-\sqrt{k}, \sqrt{k})`, :math:`k = 1 / \text{in\_features}`
            (``kaiming_uniform_(a=sqrt(5))``, PyTorch's default).
        bias: :math:`(\text{out\_features})`, from the same distribution.

    Shape:
        - Input: :math:`(*, H_{in})` with :math:`H_{in} = \text{in\_features}`.
        - Output: :math:`(*, H_{out})` with :math:`H_{out} = \text{out\_features}`.

    Example::

        >>> m = nn.Linear(20, 30)
        >>> m(convnp.randn(128, 20)).shape
        (128, 30)
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, device=None,
                 dtype=None) -> None:
        super().__init__()
        for name, v in (("in_features", in_features), ("out_features", out_features)):
            if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 0:
                raise ValueError(f"Linear: {name} must be a non-negative int, got {v!r}")
        self.in_features = int(in_features)
        self.out_features = int(out_features)
        _weight_and_bias(self, (self.out_features, self.in_features), bias, dtype)

    def reset_parameters(self) -> None:
        """PyTorch's default: kaiming_uniform_(a=sqrt(5)) weight, U(-1/sqrt(fan_in), ...) bias."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = init._calculate_fan_in_and_fan_out(self.weight)
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input):
        return linear(input, self.weight, self.bias)

    def output_shape(self, input_shape):
        """``(*, in_features) -> (*, out_features)`` (a lazy layer, in_features 0, takes any)."""
        shape = tuple(int(v) for v in input_shape)
        if self.in_features and (not shape or shape[-1] != self.in_features):
            raise ValueError(f"Linear expects {self.in_features} input features, got input shape "
                             f"{shape} (last axis {shape[-1] if shape else None})")
        return shape[:-1] + (self.out_features,)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")


class Bilinear(Module):
    r"""Bilinear map :math:`y = x_1^T A x_2 + b`.

    Args:
        in1_features: size of each first input sample.
        in2_features: size of each second input sample.
        out_features: size of each output sample.
        bias: if ``False``, no additive bias. Default: ``True``.

    Attributes:
        weight: :math:`(\text{out}, \text{in1}, \text{in2})`, from
            :math:`\mathcal{U}(-\sqrt{k}, \sqrt{k})`, :math:`k = 1 / \text{in1\_features}`.
        bias: :math:`(\text{out})`, from the same distribution.

    Shape:
        - Input1: :math:`(*, H_{in1})`, Input2: :math:`(*, H_{in2})`, same leading dims.
        - Output: :math:`(*, H_{out})`.

    Example::

        >>> m = nn.Bilinear(20, 30, 40)
        >>> m(convnp.randn(128, 20), convnp.randn(128, 30)).shape
        (128, 40)
    """

    def __init__(self, in1_features: int, in2_features: int, out_features: int,
                 bias: bool = True, device=None, dtype=None) -> None:
        super().__init__()
        self.in1_features = in1_features
        self.in2_features = in2_features
        self.out_features = out_features
        _weight_and_bias(self, (out_features, in1_features, in2_features), bias, dtype)

    def reset_parameters(self) -> None:
        bound = 1 / math.sqrt(self.weight.shape[1])
        init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input1, input2):
        return bilinear(input1, input2, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (f"in1_features={self.in1_features}, in2_features={self.in2_features}, "
                f"out_features={self.out_features}, bias={self.bias is not None}")
