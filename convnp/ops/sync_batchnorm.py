"""Synchronised batch norm: batch statistics over the whole global batch of a distributed job.

Each rank computes its per-channel mean and biased variance and their count; an allgather
combines them exactly (pooled mean, pooled variance = mean of the per-rank variances plus the
spread of the per-rank means), so N ranks of batch B normalise exactly as one process of batch
N x B. Backward all-reduces the two per-channel sums the input gradient needs (sum of g and of
g * (x - mean)); the weight and bias gradients stay local, as torch's SyncBatchNorm, and
DistributedDataParallel averages them.
"""

from __future__ import annotations

import numpy as np

from convnp.autograd.function import Function

__all__ = ["SyncBatchNormTrain", "sync_batch_norm"]


def _axes(x: np.ndarray) -> tuple:
    return (0,) + tuple(range(2, x.ndim))


def _bshape(x: np.ndarray) -> tuple:
    return (1, x.shape[1]) + (1,) * (x.ndim - 2)


class SyncBatchNormTrain(Function):
    """Training-mode batch norm with statistics over every rank; returns out, mean, biased var
    and the global count per channel (the last three non-differentiable)."""

    @staticmethod
    def forward(ctx, x, weight, bias, eps=1e-5):
        from convnp import distributed as dist
        dt, c = x.dtype, x.shape[1]
        axes, bs = _axes(x), _bshape(x)
        count = x.size // c
        local_mean = x.mean(axis=axes, dtype=np.float64)
        local_var = ((x - local_mean.astype(dt).reshape(bs)) ** 2).mean(axis=axes,
                                                                           dtype=np.float64)
        stats = dist._allgather(np.stack([local_mean, local_var,
                                          np.full(c, count, np.float64)]), "SyncBatchNorm")
        means, variances, counts = stats[:, 0], stats[:, 1], stats[:, 2]  # (world, C) each
        total = counts.sum(0)
        mean = (counts * means).sum(0) / total
        var = (counts * (variances + (means - mean) ** 2)).sum(0) / total
        invstd = (1.0 / np.sqrt(var + eps)).astype(dt)
        w = weight if weight is not None else np.ones(c, dt)
        b = bias if bias is not None else np.zeros(c, dt)
        xc = x - mean.astype(dt).reshape(bs)
        out = xc * (w * invstd).reshape(bs) + b.reshape(bs)
        ctx.save_for_backward(xc, invstd, w)
        ctx.total = total
        ctx.mark_non_differentiable(1, 2, 3)
        return out.astype(dt, copy=False), mean.astype(dt), var.astype(dt), total

    @staticmethod
    def backward(ctx, g, _gm=None, _gv=None, _gc=None):
        from convnp import distributed as dist
        xc, invstd, w = ctx.saved_tensors
        dt, bs, axes = xc.dtype, _bshape(xc), _axes(xc)
        sg = g.sum(axis=axes, dtype=np.float64)
        sgxc = (g * xc).sum(axis=axes, dtype=np.float64)
        gw = (sgxc * invstd).astype(dt) if ctx.needs_input_grad[1] else None
        gb = sg.astype(dt) if ctx.needs_input_grad[2] else None
        gx = None
        if ctx.needs_input_grad[0]:
            sums = np.stack([sg, sgxc])  # (2, C)
            dist._iallreduce(sums, "SyncBatchNorm backward").wait()
            inv = invstd.astype(np.float64)
            mean_g = sums[0] / ctx.total
            mean_gxc = sums[1] * inv * inv / ctx.total
            a = (w * inv).astype(dt)
            gx = (g - mean_g.astype(dt).reshape(bs) - xc * mean_gxc.astype(dt).reshape(bs))
            gx *= a.reshape(bs)
        return gx, gw, gb


def sync_batch_norm(input, running_mean, running_var, weight, bias, momentum: float, eps: float):
    """Training-mode batch norm over the global batch of every rank; updates the running
    statistics in place (unbiased variance over the global count) as ``batch_norm`` does."""
    from convnp.ops.normalization import _update_running

    out, mean, var, total = SyncBatchNormTrain.apply(input, weight, bias, eps=float(eps))
    if running_mean is not None or running_var is not None:
        n = int(total.array[0])
        if n <= 1:
            raise ValueError(f"SyncBatchNorm: expected more than 1 value per channel when "
                             f"training over all ranks, got {n}")
        _update_running(running_mean, running_var, mean.array, var.array, n, momentum)
    return out
