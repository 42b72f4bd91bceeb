"""Activation layers (``torch.nn.ReLU`` & co.): settings only, ``forward`` calls the functional op.

``inplace=True`` is stored and shown in the repr like torch, but convnp computes out of place.
"""

from __future__ import annotations

import numpy as np

from convnp.nn.modules.module import Module, Parameter
from convnp.ops import activation as A

__all__ = ["ReLU", "ReLU6", "LeakyReLU", "PReLU", "ELU", "SELU", "CELU", "GELU", "SiLU", "Mish",
           "Hardswish", "Hardsigmoid", "Hardtanh", "Softplus", "Softsign", "Tanhshrink",
           "Hardshrink", "Softshrink", "LogSigmoid", "Sigmoid", "Tanh", "Softmax", "LogSoftmax",
           "Softmin", "Threshold"]


def _inplace(flag: bool, lead: str = ", ") -> str:
    return f"{lead}inplace=True" if flag else ""


class ReLU(Module):
    r"""Applies :func:`convnp.nn.functional.relu` elementwise.

    Args:
        inplace: accepted (convnp computes out of place).

    Shape: input ``(*)``, output ``(*)``, same shape.

    Example::
        >>> nn.ReLU()(convnp.tensor([-1.0, 1.0]))
        tensor([0., 1.])
    """

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def forward(self, input):
        return A.relu(input)

    def extra_repr(self) -> str:
        return _inplace(self.inplace, "")


class Hardtanh(Module):
    r"""Clips to ``[min_val, max_val]``. Shape: unchanged."""

    def __init__(self, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False) -> None:
        super().__init__()
        if max_val <= min_val:
            raise ValueError(f"Hardtanh: max_val ({max_val}) must be greater than min_val "
                             f"({min_val})")
        self.min_val, self.max_val, self.inplace = min_val, max_val, inplace

    def forward(self, input):
        return A.hardtanh(input, self.min_val, self.max_val)

    def extra_repr(self) -> str:
        return f"min_val={self.min_val}, max_val={self.max_val}{_inplace(self.inplace)}"


class ReLU6(Hardtanh):
    r""":math:`\min(\max(0, x), 6)`. Shape: unchanged."""

    def __init__(self, inplace: bool = False) -> None:
        super().__init__(0.0, 6.0, inplace)

    def extra_repr(self) -> str:
        return _inplace(self.inplace, "")


class LeakyReLU(Module):
    r""":math:`x` if :math:`x > 0` else ``negative_slope * x``. Shape: unchanged."""

    def __init__(self, negative_slope: float = 1e-2, inplace: bool = False) -> None:
        super().__init__()
        self.negative_slope, self.inplace = negative_slope, inplace

    def forward(self, input):
        return A.leaky_relu(input, self.negative_slope)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}{_inplace(self.inplace)}"


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


class ELU(Module):
    r""":math:`x` if :math:`x > 0` else :math:`\alpha(e^x - 1)`. Shape: unchanged."""

    def __init__(self, alpha: float = 1.0, inplace: bool = False) -> None:
        super().__init__()
        self.alpha, self.inplace = alpha, inplace

    def forward(self, input):
        return A.elu(input, self.alpha)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}{_inplace(self.inplace)}"


class CELU(Module):
    r""":math:`\max(0,x) + \min(0, \alpha(e^{x/\alpha} - 1))`. Shape: unchanged."""

    def __init__(self, alpha: float = 1.0, inplace: bool = False) -> None:
        super().__init__()
        self.alpha, self.inplace = alpha, inplace

    def forward(self, input):
        return A.celu(input, self.alpha)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}{_inplace(self.inplace)}"


class GELU(Module):
    r""":math:`x\Phi(x)` (``approximate='none'``) or its tanh approximation. Shape: unchanged."""

    def __init__(self, approximate: str = "none") -> None:
        super().__init__()
        self.approximate = approximate

    def forward(self, input):
        return A.gelu(input, approximate=self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


class Softplus(Module):
    r""":math:`\frac{1}{\beta}\log(1 + e^{\beta x})`, linear above ``threshold``."""

    def __init__(self, beta: float = 1.0, threshold: float = 20.0) -> None:
        super().__init__()
        self.beta, self.threshold = beta, threshold

    def forward(self, input):
        return A.softplus(input, self.beta, self.threshold)

    def extra_repr(self) -> str:
        return f"beta={self.beta}, threshold={self.threshold}"


class Threshold(Module):
    r""":math:`x` if :math:`x > threshold` else ``value``. Shape: unchanged."""

    def __init__(self, threshold: float, value: float, inplace: bool = False) -> None:
        super().__init__()
        self.threshold, self.value, self.inplace = threshold, value, inplace

    def forward(self, input):
        return A.threshold(input, self.threshold, self.value)

    def extra_repr(self) -> str:
        return f"threshold={self.threshold}, value={self.value}{_inplace(self.inplace)}"


class Hardshrink(Module):
    r""":math:`x` where :math:`|x| > \lambda` else 0. Shape: unchanged."""

    def __init__(self, lambd: float = 0.5) -> None:
        super().__init__()
        self.lambd = lambd

    def forward(self, input):
        return A.hardshrink(input, self.lambd)

    def extra_repr(self) -> str:
        return f"{self.lambd}"


class Softshrink(Hardshrink):
    r""":math:`x - \lambda\,\mathrm{sign}(x)` where :math:`|x| > \lambda` else 0."""

    def forward(self, input):
        return A.softshrink(input, self.lambd)

    def extra_repr(self) -> str:
        return str(self.lambd)


class _SoftmaxBase(Module):
    _fn = staticmethod(A.softmax)

    def __init__(self, dim: int | None = None) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, input):
        return type(self)._fn(input, self.dim, _stacklevel=5)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


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

    _fn = staticmethod(A.softmax)


class LogSoftmax(_SoftmaxBase):
    r"""Log of softmax along ``dim``, computed stably. Shape: unchanged."""

    _fn = staticmethod(A.log_softmax)


class Softmin(_SoftmaxBase):
    r"""Softmax of ``-input`` along ``dim``. Shape: unchanged."""

    _fn = staticmethod(A.softmin)


def _simple(name: str, fn, doc: str, has_inplace: bool, repr_inplace: bool = True):
    """A parameter-free activation layer class calling ``fn``."""

    if has_inplace:
        def __init__(self, inplace: bool = False) -> None:
            Module.__init__(self)
            self.inplace = inplace

        def extra_repr(self) -> str:
            return _inplace(self.inplace, "") if repr_inplace else ""
    else:
        def __init__(self) -> None:
            Module.__init__(self)

        def extra_repr(self) -> str:
            return ""

    def forward(self, input):
        return fn(input)

    return type(name, (Module,), {"__init__": __init__, "forward": forward,
                                   "extra_repr": extra_repr,
                                   "__doc__": doc + "\n\n    Shape: output has the input's shape.",
                                   "__module__": __name__})


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
