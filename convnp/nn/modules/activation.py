"""Activation layers (``torch.nn.ReLU`` & co.): settings only, ``forward`` calls the functional op.

Each layer declares its constructor's parameters (torch's names and defaults) and its op; the
shared base (:mod:`convnp.nn.modules._declared`) builds ``__init__``, ``forward`` and the repr.
``inplace=True`` is stored and shown in the repr like torch, but convnp computes out of place.
"""

from __future__ import annotations

import numpy as np

from convnp.nn.modules._declared import REQUIRED, _DeclaredLayer, layer_class
from convnp.nn.modules.module import Module, Parameter
from convnp.ops import activation as A

__all__ = ["ReLU", "ReLU6", "LeakyReLU", "PReLU", "ELU", "SELU", "CELU", "GELU", "SiLU", "Mish",
           "Hardswish", "Hardsigmoid", "Hardtanh", "Softplus", "Softsign", "Tanhshrink",
           "Hardshrink", "Softshrink", "LogSigmoid", "Sigmoid", "Tanh", "Softmax", "LogSoftmax",
           "Softmin", "Threshold"]

_INPLACE = ("inplace", False)


class ReLU(_DeclaredLayer):
    r"""Applies :func:`convnp.nn.functional.relu` elementwise.

    Args:
        inplace: accepted (convnp computes out of place).

    Shape: input ``(*)``, output ``(*)``, same shape.

    Example::
        >>> nn.ReLU()(convnp.tensor([-1.0, 1.0]))
        tensor([0., 1.])
    """

    _params = (_INPLACE,)
    _fn = A.relu


class Hardtanh(_DeclaredLayer):
    r"""Clips to ``[min_val, max_val]``. Shape: unchanged."""

    _params = (("min_val", -1.0), ("max_val", 1.0), _INPLACE)
    _fn = A.hardtanh

    def _check(self) -> None:
        if self.max_val <= self.min_val:
            raise ValueError(f"Hardtanh: max_val ({self.max_val}) must be greater than min_val "
                             f"({self.min_val})")


class ReLU6(Hardtanh):
    r""":math:`\min(\max(0, x), 6)`. Shape: unchanged."""

    _params = (_INPLACE,)
    _fn_args = ("min_val", "max_val")

    def _store(self, inplace: bool) -> None:
        super()._store(min_val=0.0, max_val=6.0, inplace=inplace)


class LeakyReLU(_DeclaredLayer):
    r""":math:`x` if :math:`x > 0` else ``negative_slope * x``. Shape: unchanged."""

    _params = (("negative_slope", 1e-2), _INPLACE)
    _fn = A.leaky_relu


class PReLU(Module):
    r"""Parametric ReLU with a learnable slope per channel (dim 1) or one shared slope.

    Args:
        num_parameters: 1 or the number of input channels.
        init: initial slope (0.25).

    Shape: input ``(N, C, *)`` (or any shape when ``num_parameters=1``), output same.

    Example::
        >>> m = nn.PReLU(3); m(convnp.randn(2, 3, 4)).shape
        (2, 3, 4)
    """

    def __init__(self, num_parameters: int = 1, init: float = 0.25, device=None,
                 dtype=None) -> None:
        super().__init__()
        from convnp import _dtype

        self.num_parameters = num_parameters
        self.init = init
        dt = _dtype.resolve(dtype) or _dtype.get_default_dtype()
        self.weight = Parameter(np.full((num_parameters,), init, dtype=dt))

    def reset_parameters(self) -> None:
        self.weight.array[...] = self.init

    def forward(self, input):
        return A.prelu(input, self.weight)

    def extra_repr(self) -> str:
        return f"num_parameters={self.num_parameters}"


class ELU(_DeclaredLayer):
    r""":math:`x` if :math:`x > 0` else :math:`\alpha(e^x - 1)`. Shape: unchanged."""

    _params = (("alpha", 1.0), _INPLACE)
    _fn = A.elu


class CELU(_DeclaredLayer):
    r""":math:`\max(0,x) + \min(0, \alpha(e^{x/\alpha} - 1))`. Shape: unchanged."""

    _params = (("alpha", 1.0), _INPLACE)
    _fn = A.celu


class GELU(_DeclaredLayer):
    r""":math:`x\Phi(x)` (``approximate='none'``) or its tanh approximation. Shape: unchanged."""

    _params = (("approximate", "none"),)
    _fn = A.gelu


class Softplus(_DeclaredLayer):
    r""":math:`\frac{1}{\beta}\log(1 + e^{\beta x})`, linear above ``threshold``."""

    _params = (("beta", 1.0), ("threshold", 20.0))
    _fn = A.softplus


class Threshold(_DeclaredLayer):
    r""":math:`x` if :math:`x > threshold` else ``value``. Shape: unchanged."""

    _params = (("threshold", REQUIRED), ("value", REQUIRED), _INPLACE)
    _fn = A.threshold


class Hardshrink(_DeclaredLayer):
    r""":math:`x` where :math:`|x| > \lambda` else 0. Shape: unchanged."""

    _params = (("lambd", 0.5),)
    _fn = A.hardshrink
    _repr = "{lambd}"


class Softshrink(Hardshrink):
    r""":math:`x - \lambda\,\mathrm{sign}(x)` where :math:`|x| > \lambda` else 0."""

    _fn = A.softshrink


class _SoftmaxBase(_DeclaredLayer):
    _params = (("dim", None),)
    _fn = A.softmax

    def _fn_kwargs(self) -> dict:
        return {"dim": self.dim, "_stacklevel": 5}


class Softmax(_SoftmaxBase):
    r"""Softmax along ``dim`` (values in [0, 1] summing to 1).

    Args:
        dim: the axis to normalise. ``None`` uses PyTorch's deprecated implicit choice (dim 0
            for 0-, 1- and 3-d inputs, else 1) with a warning.

    Shape: unchanged.

    Example::
        >>> nn.Softmax(dim=1)(convnp.zeros(1, 4))
        tensor([[0.2500, 0.2500, 0.2500, 0.2500]])
    """

    _fn = A.softmax


LogSoftmax = layer_class("LogSoftmax", _SoftmaxBase, A.log_softmax,
                         "Log of softmax along ``dim``, computed stably. Shape: unchanged.",
                         __name__)
Softmin = layer_class("Softmin", _SoftmaxBase, A.softmin,
                      "Softmax of ``-input`` along ``dim``. Shape: unchanged.", __name__)


def _simple(name: str, fn, doc: str, has_inplace: bool, repr_inplace: bool = True):
    """A parameter-free activation layer class calling ``fn``."""
    return layer_class(name, _DeclaredLayer, fn,
                       doc + "\n\n    Shape: output has the input's shape.", __name__,
                       _params=(_INPLACE,) if has_inplace else (),
                       _show_inplace="if_set" if repr_inplace else "never")


SELU = _simple("SELU", A.selu, r"``scale * elu(x, alpha)`` with SELU's constants.", True)
SiLU = _simple("SiLU", A.silu, r":math:`x \sigma(x)` (swish).", True)
Mish = _simple("Mish", A.mish, r":math:`x \tanh(\mathrm{softplus}(x))`.", True)
# torch's Hardswish/Hardsigmoid take inplace but do not show it in their repr
Hardswish = _simple("Hardswish", A.hardswish, r":math:`x\,\mathrm{relu6}(x + 3) / 6`.", True,
                    False)
Hardsigmoid = _simple("Hardsigmoid", A.hardsigmoid, r":math:`\mathrm{relu6}(x + 3) / 6`.", True,
                      False)
Softsign = _simple("Softsign", A.softsign, r":math:`x / (1 + |x|)`.", False)
Tanhshrink = _simple("Tanhshrink", A.tanhshrink, r":math:`x - \tanh(x)`.", False)
LogSigmoid = _simple("LogSigmoid", A.logsigmoid, r":math:`\log \sigma(x)`.", False)
Sigmoid = _simple("Sigmoid", A.sigmoid, r":math:`1 / (1 + e^{-x})`.", False)
Tanh = _simple("Tanh", A.tanh, r":math:`\tanh(x)`.", False)
