"""The rest of torch.nn's normalization layers: ``RMSNorm`` and ``CrossMapLRN2d``
(``SyncBatchNorm`` lives with ``convnp.distributed``)."""

from __future__ import annotations

import numbers

import numpy as np

from convnp import _dtype
from convnp.nn.modules._declared import _DeclaredLayer
from convnp.nn.modules.module import Module, Parameter
from convnp.nn.modules.normalization import _LRN, LocalResponseNorm
from convnp.ops.composite import rms_norm
from convnp.ops.cross_map_lrn import cross_map_lrn2d

__all__ = ["CrossMapLRN2d", "RMSNorm"]


class RMSNorm(Module):
    r"""Root-mean-square normalization over the last ``len(normalized_shape)`` dimensions:
    :math:`y = \frac{x}{\sqrt{\mathrm{mean}(x^2) + \epsilon}} \gamma`.

    Args:
        normalized_shape: the trailing shape normalized over.
        eps: added to the mean square (default None: the dtype's machine epsilon).
        elementwise_affine: learnable ``weight`` (ones) of ``normalized_shape``.

    Shape: input :math:`(N, *)`, output the same.

    Example::

        >>> nn.RMSNorm([5])(convnp.randn(2, 5)).shape
        (2, 5)
    """

    def __init__(self, normalized_shape, eps: float | None = None,
                 elementwise_affine: bool = True, device=None, dtype=None) -> None:
        super().__init__()
        if isinstance(normalized_shape, numbers.Integral):
            normalized_shape = (normalized_shape,)
        self.normalized_shape = tuple(int(s) for s in normalized_shape)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        dt = _dtype.resolve(dtype) or _dtype.get_default_dtype()
        if elementwise_affine:
            self.weight = Parameter(np.ones(self.normalized_shape, dt))
        else:
            self.register_parameter("weight", None)

    def reset_parameters(self) -> None:
        if self.weight is not None:
            self.weight.array[...] = 1

    def forward(self, x):
        return rms_norm(x, self.normalized_shape, self.weight, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}")


class CrossMapLRN2d(_DeclaredLayer):
    r"""torch's legacy cross-channel local response normalization of 4-D inputs
    (:math:`b_c = a_c (k + \frac{\alpha}{n}\sum a^2)^{-\beta}` over a window of channels, with
    torch's exact windows; see :mod:`convnp.ops.cross_map_lrn`).

    Args:
        size: channels in the window. alpha, beta, k: as :class:`LocalResponseNorm`.

    Shape: input :math:`(N, C, H, W)`, output the same.
    """

    _params = _LRN[:3] + (("k", 1),)  # torch's default k is the int 1 here
    _fn = cross_map_lrn2d
    _repr = LocalResponseNorm._repr
