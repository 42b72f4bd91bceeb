"""The rest of torch.nn's normalization layers: ``RMSNorm``, ``CrossMapLRN2d``,
``SyncBatchNorm``."""

from __future__ import annotations

import numbers

import numpy as np

from convnp import _dtype
from convnp.nn.modules import _composite as C
from convnp.nn.modules.module import Module, Parameter
from convnp.nn.modules.normalization import _BatchNorm
from convnp.ops.cross_map_lrn import cross_map_lrn2d

__all__ = ["CrossMapLRN2d", "RMSNorm", "SyncBatchNorm"]


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
        return C.rms_norm(x, self.normalized_shape, self.weight, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}")


class CrossMapLRN2d(Module):
    r"""torch's legacy cross-channel local response normalization of 4-D inputs
    (:math:`b_c = a_c (k + \frac{\alpha}{n}\sum a^2)^{-\beta}` over a window of channels, with
    torch's exact windows; see :mod:`convnp.ops.cross_map_lrn`).

    Args:
        size: channels in the window. alpha, beta, k: as :class:`LocalResponseNorm`.

    Shape: input :math:`(N, C, H, W)`, output the same.
    """

    def __init__(self, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1) -> None:
        super().__init__()
        self.size, self.alpha, self.beta, self.k = size, alpha, beta, k

    def forward(self, input):
        return cross_map_lrn2d(input, self.size, self.alpha, self.beta, self.k)

    def extra_repr(self) -> str:
        return f"{self.size}, alpha={self.alpha}, beta={self.beta}, k={self.k}"


def _distributed_world_size() -> int:
    """The world size of an initialised convnp.distributed process group (1 when none)."""
    import importlib
    import importlib.util

    if importlib.util.find_spec("convnp.distributed") is None:
        return 1
    dist = importlib.import_module("convnp.distributed")
    try:
        if getattr(dist, "is_initialized", lambda: False)():
            return int(dist.get_world_size())
    except Exception:  # noqa: BLE001 - a half-set-up group means no synchronisation either
        return 1
    return 1


class SyncBatchNorm(_BatchNorm):
    r"""Batch normalization over any ``(N, C, *)`` input whose statistics torch synchronises
    across the processes of a distributed group.

    Without a distributed group of more than one process (always, in a single process) it is
    exactly :class:`BatchNorm2d`'s computation over ``(N, C, *)``, as torch's SyncBatchNorm
    falls back to plain batch norm. Synchronising statistics across processes is not
    supported: a forward in training within a multi-process group raises NotImplementedError.

    Args: as :class:`BatchNorm1d`, plus ``process_group`` (kept as an attribute).

    Example::

        >>> model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    """

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = True, track_running_stats: bool = True, process_group=None,
                 device=None, dtype=None) -> None:
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device, dtype)
        self.process_group = process_group

    def _check_input_dim(self, input) -> None:
        if input.ndim < 2:
            raise ValueError(f"expected at least 2D input (got {input.ndim}D input)")

    def forward(self, input):
        self._check_input_dim(input)
        if input.shape[1] == 0:
            raise ValueError("SyncBatchNorm number of input channels should be non-zero")
        if self.training and _distributed_world_size() > 1:
            raise NotImplementedError(
                "SyncBatchNorm: synchronising batch statistics across processes is not "
                "supported by convnp; use BatchNorm (per-process statistics) instead.")
        return super().forward(input)

    @classmethod
    def convert_sync_batchnorm(cls, module: Module, process_group=None) -> Module:
        """Replace every ``BatchNorm*d`` in ``module`` by a SyncBatchNorm holding the same
        parameters and buffers (the objects themselves)."""
        out = module
        if isinstance(module, _BatchNorm) and not isinstance(module, SyncBatchNorm):
            out = cls(module.num_features, module.eps, module.momentum, module.affine,
                      module.track_running_stats, process_group)
            if module.affine:
                out.weight = module.weight
                out.bias = module.bias
            out.running_mean = module.running_mean
            out.running_var = module.running_var
            out.num_batches_tracked = module.num_batches_tracked
            out.training = module.training
        for name, child in module.named_children():
            out.add_module(name, cls.convert_sync_batchnorm(child, process_group))
        return out
