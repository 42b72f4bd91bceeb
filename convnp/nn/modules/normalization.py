"""Normalization layers: BatchNorm1d/2d/3d, InstanceNorm1d/2d/3d, GroupNorm, LayerNorm,
LocalResponseNorm. Parameters and buffers under PyTorch's names, so state_dicts interchange."""

from __future__ import annotations

import numbers
import warnings

import numpy as np

from convnp import _dtype
from convnp.nn.modules._declared import REQUIRED, _DeclaredLayer
from convnp.nn.modules.module import Module, Parameter
from convnp.ops import normalization as N
from convnp.tensor import Tensor

__all__ = ["BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "InstanceNorm1d", "InstanceNorm2d",
           "InstanceNorm3d", "GroupNorm", "LayerNorm", "LocalResponseNorm"]


def _dt(dtype) -> np.dtype:
    return _dtype.resolve(dtype) or _dtype.get_default_dtype()


def _register_affine(module: Module, affine: bool, bias: bool, shape, dt) -> None:
    """``weight`` (ones) and ``bias`` (zeros) of ``shape`` when affine, else None (torch's keys)."""
    module.register_parameter("weight", Parameter(np.ones(shape, dt)) if affine else None)
    module.register_parameter("bias", Parameter(np.zeros(shape, dt)) if affine and bias else None)


class _NormBase(Module):
    """Shared state of batch and instance norm: weight/bias, running stats, num_batches_tracked."""

    _dims: tuple[int, ...] = ()
    _dims_text = ""

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = True, track_running_stats: bool = True, device=None,
                 dtype=None, *, bias: bool = True) -> None:
        super().__init__()
        if not isinstance(num_features, numbers.Integral) or num_features <= 0:
            raise ValueError(f"{type(self).__name__}: 'num_features' must be a positive int, got "
                             f"{num_features!r}")
        self.num_features = int(num_features)
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        self.track_running_stats = track_running_stats
        dt = _dt(dtype)
        _register_affine(self, affine, bias, num_features, dt)
        if track_running_stats:
            self.register_buffer("running_mean", Tensor(np.zeros(num_features, dt)))
            self.register_buffer("running_var", Tensor(np.ones(num_features, dt)))
            self.register_buffer("num_batches_tracked", Tensor(np.array(0, np.int64)))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)

    def reset_running_stats(self) -> None:
        if self.track_running_stats:
            self.running_mean.array[...] = 0
            self.running_var.array[...] = 1
            self.num_batches_tracked.array[...] = 0

    def reset_parameters(self) -> None:
        self.reset_running_stats()
        if self.affine:
            self.weight.array[...] = 1
            if self.bias is not None:
                self.bias.array[...] = 0

    def _check_input_dim(self, input) -> None:
        if not isinstance(input, Tensor):
            raise TypeError(f"{type(self).__name__}: expected a convnp Tensor, got "
                            f"{type(input).__name__}")
        if input.array.ndim not in self._dims:
            raise ValueError(f"{type(self).__name__}: expected {self._dims_text} input (got "
                             f"{input.ndim}D input)")

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, bias={self.bias is not None}, "
                f"track_running_stats={self.track_running_stats}")


class _BatchNorm(_NormBase):
    def forward(self, input):
        self._check_input_dim(input)
        if input.array.shape[1] != self.num_features:
            raise ValueError(f"{type(self).__name__}: expected {self.num_features} channels at "
                             f"dim 1, got input of shape {tuple(input.shape)}")
        momentum, training = self.momentum, self.training
        factor = 0.0 if momentum is None else momentum
        if training and self.track_running_stats and self.num_batches_tracked is not None:
            self.num_batches_tracked.array += 1
            if momentum is None:  # cumulative moving average
                factor = 1.0 / float(self.num_batches_tracked.array)
        rm, rv = self.running_mean, self.running_var
        bn_training = training or (rm is None and rv is None)
        use_running = not training or self.track_running_stats
        return self._batch_norm(input, rm if use_running else None, rv if use_running else None,
                                bn_training, factor)

    def _batch_norm(self, input, running_mean, running_var, bn_training: bool, factor: float):
        """The normalization itself, once the input is checked and the running-statistics
        factor known (SyncBatchNorm computes it over every rank instead)."""
        return N.batch_norm(input, running_mean, running_var, self.weight, self.bias,
                            bn_training, factor, self.eps)


class BatchNorm1d(_BatchNorm):
    r"""Batch normalization over a 2-D ``(N, C)`` or 3-D ``(N, C, L)`` input.

    :math:`y = \frac{x - \mathrm{E}[x]}{\sqrt{\mathrm{Var}[x] + \epsilon}} \gamma + \beta`.
    Training uses the batch statistics and updates ``running_mean``/``running_var`` (unbiased
    variance) with ``momentum`` (``None``: cumulative average over ``num_batches_tracked``); eval
    uses the running statistics (or batch statistics when ``track_running_stats=False``).

    Args:
        num_features: C. eps: added to the variance. momentum: running-stat factor (0.1).
        affine: learnable ``weight`` (ones) and ``bias`` (zeros). track_running_stats: keep
            ``running_mean``, ``running_var`` and ``num_batches_tracked`` buffers.

    Shape: input ``(N, C)`` or ``(N, C, L)``, output the same.

    Example::
        >>> bn = nn.BatchNorm1d(4); bn(convnp.randn(8, 4)).shape
        (8, 4)
    """

    _dims, _dims_text = (2, 3), "2D or 3D"


class BatchNorm2d(_BatchNorm):
    r"""Batch normalization over a 4-D ``(N, C, H, W)`` input (see :class:`BatchNorm1d`).

    Shape: input ``(N, C, H, W)``, output the same.

    Example::
        >>> nn.BatchNorm2d(3)(convnp.randn(2, 3, 5, 5)).shape
        (2, 3, 5, 5)
    """

    _dims, _dims_text = (4,), "4D"


class BatchNorm3d(_BatchNorm):
    r"""Batch normalization over a 5-D ``(N, C, D, H, W)`` input (see :class:`BatchNorm1d`).

    Shape: input ``(N, C, D, H, W)``, output the same.
    """

    _dims, _dims_text = (5,), "5D"


class _InstanceNorm(_NormBase):
    _no_batch_dim = 2

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = False, track_running_stats: bool = False, device=None,
                 dtype=None, *, bias: bool = True) -> None:
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device, dtype,
                         bias=bias)

    def forward(self, input):
        self._check_input_dim(input)
        fdim = input.ndim - self._no_batch_dim
        if input.shape[fdim] != self.num_features:
            if self.affine:
                raise ValueError(f"expected input's size at dim={fdim} to match num_features "
                                 f"({self.num_features}), but got: {input.shape[fdim]}.")
            warnings.warn(f"input's size at dim={fdim} does not match num_features. You can "
                          "silence this warning by not passing in num_features, which is not "
                          "used because affine=False", UserWarning, stacklevel=2)
        unbatched = input.ndim == self._no_batch_dim
        x = input.unsqueeze(0) if unbatched else input
        out = N.instance_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                              self.training or not self.track_running_stats,
                              self.momentum if self.momentum is not None else 0.0, self.eps)
        return out.squeeze(0) if unbatched else out


class InstanceNorm1d(_InstanceNorm):
    r"""Instance normalization of each channel of each sample of ``(N, C, L)`` or ``(C, L)``.

    Args:
        num_features: C. eps, momentum: as batch norm. affine: learnable per-channel affine
            (default False). track_running_stats: keep running stats used in eval (default False).

    Shape: output has the input's shape.
    """

    _dims, _dims_text, _no_batch_dim = (2, 3), "2D or 3D", 2


class InstanceNorm2d(_InstanceNorm):
    r"""Instance normalization of ``(N, C, H, W)`` or ``(C, H, W)`` (see InstanceNorm1d)."""

    _dims, _dims_text, _no_batch_dim = (3, 4), "3D or 4D", 3


class InstanceNorm3d(_InstanceNorm):
    r"""Instance normalization of ``(N, C, D, H, W)`` or ``(C, D, H, W)`` (see InstanceNorm1d)."""

    _dims, _dims_text, _no_batch_dim = (4, 5), "4D or 5D", 4


class GroupNorm(Module):
    r"""Group normalization: channels split into ``num_groups`` groups, each normalised per
    sample over its channels and spatial positions, then a per-channel affine.

    Args:
        num_groups: divides ``num_channels``. num_channels: C. eps: added to the variance.
        affine: learnable per-channel ``weight`` (ones) and ``bias`` (zeros).

    Shape: input ``(N, C, *)``, output the same.

    Example::
        >>> nn.GroupNorm(2, 4)(convnp.randn(3, 4, 5)).shape
        (3, 4, 5)
    """

    def __init__(self, num_groups: int, num_channels: int, eps: float = 1e-5, affine: bool = True,
                 device=None, dtype=None, *, bias: bool = True) -> None:
        super().__init__()
        if num_channels % num_groups != 0:
            raise ValueError(f"GroupNorm: num_channels must be divisible by num_groups, got "
                             f"num_channels={num_channels}, num_groups={num_groups}")
        self.num_groups, self.num_channels, self.eps, self.affine = (num_groups, num_channels,
                                                                     eps, affine)
        dt = _dt(dtype)
        _register_affine(self, affine, bias, num_channels, dt)

    def forward(self, input):
        return N.group_norm(input, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}, "
                f"bias={self.bias is not None}")


class LayerNorm(Module):
    r"""Layer normalization over the trailing ``normalized_shape`` dims of each sample.

    Args:
        normalized_shape: int or tuple, the trailing dims. eps: added to the variance.
        elementwise_affine: learnable ``weight`` (ones) of shape ``normalized_shape``.
        bias: also a learnable ``bias`` (zeros) when ``elementwise_affine``.

    Shape: input ``(*, *normalized_shape)``, output the same.

    Example::
        >>> nn.LayerNorm(5)(convnp.randn(2, 3, 5)).shape
        (2, 3, 5)
    """

    def __init__(self, normalized_shape, eps: float = 1e-5, elementwise_affine: bool = True,
                 bias: bool = True, device=None, dtype=None) -> None:
        super().__init__()
        if isinstance(normalized_shape, numbers.Integral):
            normalized_shape = (normalized_shape,)
        self.normalized_shape = tuple(int(s) for s in normalized_shape)
        self.eps, self.elementwise_affine = eps, elementwise_affine
        dt = _dt(dtype)
        _register_affine(self, elementwise_affine, bias, self.normalized_shape, dt)

    def forward(self, input):
        return N.layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}, bias={self.bias is not None}")


_LRN = (("size", REQUIRED), ("alpha", 1e-4), ("beta", 0.75), ("k", 1.0))


class LocalResponseNorm(_DeclaredLayer):
    r"""Local response normalization across neighbouring channels (AlexNet).

    Args:
        size: neighbouring channels summed. alpha, beta, k: see
            :func:`convnp.nn.functional.local_response_norm`.

    Shape: input ``(N, C, *)``, output the same.
    """

    _params = _LRN
    _fn = N.local_response_norm
    _repr = "{size}, alpha={alpha}, beta={beta}, k={k}"
