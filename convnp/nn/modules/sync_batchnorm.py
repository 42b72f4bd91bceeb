"""``SyncBatchNorm``: batch norm whose training statistics span every rank of a distributed job."""

from __future__ import annotations

from convnp.nn.modules.module import Module
from convnp.nn.modules.normalization import _BatchNorm

__all__ = ["SyncBatchNorm"]


class SyncBatchNorm(_BatchNorm):
    r"""Batch normalization over ``(N, C, *)`` input with statistics over the global batch of all
    ranks (``convnp.distributed``), as torch's ``SyncBatchNorm``.

    In training, inside an initialised process group with more than one rank, the per-channel
    mean and variance are those of the concatenation of every rank's batch, so ``k`` ranks of
    batch ``B`` compute what one process computes on batch ``k * B``; the running statistics use
    the unbiased variance over the global count. Outside a process group (or in eval mode) it is
    a plain :class:`BatchNorm2d` of any dimensionality.

    Args:
        num_features: C. eps, momentum, affine, track_running_stats: as :class:`BatchNorm1d`.
        process_group: None (the default group; the only one convnp's MPI backend has).

    Shape: input ``(N, C, *)``, output the same.

    Example::
        >>> model = nn.SyncBatchNorm.convert_sync_batchnorm(model)   # every BatchNorm*d replaced
    """

    _dims, _dims_text = (2, 3, 4, 5), "at least 2D"

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = True, track_running_stats: bool = True, process_group=None,
                 device=None, dtype=None, *, bias: bool = True) -> None:
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device, dtype,
                         bias=bias)
        if process_group is not None:
            raise NotImplementedError("SyncBatchNorm: only the default process group "
                                      "(process_group=None) is supported")
        self.process_group = process_group

    def _batch_norm(self, input, running_mean, running_var, bn_training: bool, factor: float):
        from convnp import distributed as dist

        if not (bn_training and dist.is_initialized() and dist.get_world_size() > 1):
            return super()._batch_norm(input, running_mean, running_var, bn_training, factor)
        from convnp.ops.sync_batchnorm import sync_batch_norm

        return sync_batch_norm(input, running_mean, running_var, self.weight, self.bias, factor,
                               self.eps)

    @classmethod
    def convert_sync_batchnorm(cls, module: Module, process_group=None) -> Module:
        """Replace every ``BatchNorm1d/2d/3d`` in ``module`` (or ``module`` itself) by a
        ``SyncBatchNorm`` sharing its parameters and buffers; returns the converted module."""
        out = module
        if isinstance(module, _BatchNorm) and not isinstance(module, SyncBatchNorm):
            out = cls(module.num_features, module.eps, module.momentum, module.affine,
                      module.track_running_stats, process_group,
                      bias=not module.affine or module.bias is not None)
            if module.affine:
                out.weight, out.bias = module.weight, module.bias
            out.running_mean = module.running_mean
            out.running_var = module.running_var
            out.num_batches_tracked = module.num_batches_tracked
            out.training = module.training
        for name, child in module.named_children():
            out.add_module(name, cls.convert_sync_batchnorm(child, process_group))
        return out
