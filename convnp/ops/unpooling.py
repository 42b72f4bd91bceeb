"""Max-unpooling: put each pooled value back at its recorded argmax (the notes' switch variables).

Forward is the scatter behind max-pool's backward (``_pool_kernels.scatter_planes``, here
assigning); backward is its adjoint, a gather. Beyond PyTorch: the indices convnp's ``max_pool*``
return are ``pooling.PoolIndices``, which carry ``pooled_input_shape``, so unpooling restores the
pooled input's exact size without ``output_size`` (a 5x5 map pooled 2x2 comes back 5x5, not 4x4).
"""

from __future__ import annotations

import math

import numpy as np

from convnp.autograd.function import Function
from convnp.ops import _shape
from convnp.ops._pool_kernels import gather_planes, scatter_planes

__all__ = ["max_unpool1d", "max_unpool2d", "max_unpool3d"]


class MaxUnpoolNd(Function):
    """Scatter values to flat per-plane positions of zero planes; backward gathers."""

    @staticmethod
    def forward(ctx, x, idx, nd, out_sp, fn):
        lead = x.shape[:-nd]
        B = math.prod(lead)
        plane = math.prod(out_sp)
        n = math.prod(x.shape[-nd:])  # explicit: -1 is ambiguous when the batch is empty
        vals = x.reshape(B, n)
        flat = idx.reshape(B, n)
        if flat.size and (flat.min() < 0 or flat.max() >= plane):
            bad = int(flat.max()) if flat.max() >= plane else int(flat.min())
            raise RuntimeError(f"{fn}: found an invalid max index {bad} (output planes have "
                               f"{plane} = {'x'.join(map(str, out_sp))} elements): indices do "
                               "not belong to this output_size")
        ctx.flat, ctx.plane = flat, plane
        ctx.x_shape = x.shape
        return scatter_planes(vals, flat, plane, accumulate=False).reshape(lead + tuple(out_sp))

    @staticmethod
    def backward(ctx, g):
        B = ctx.flat.shape[0]
        gx = gather_planes(g.reshape(B, ctx.plane), ctx.flat)
        return gx.reshape(ctx.x_shape), None


def _max_unpool(nd, input, indices, kernel_size, stride, padding, output_size):
    from convnp.tensor import Tensor

    fn = f"max_unpool{nd}d"
    if not isinstance(input, Tensor) or not isinstance(indices, Tensor):
        raise TypeError(f"{fn}: 'input' and 'indices' must be convnp Tensors, got "
                        f"{type(input).__name__} and {type(indices).__name__}")
    if input.ndim not in (nd + 1, nd + 2):
        raise ValueError(f"{fn}: expected a {nd + 1}-d (unbatched) or {nd + 2}-d (batched) input, "
                         f"got shape {tuple(input.shape)}")
    if indices.dtype.kind not in "iu":
        raise TypeError(f"{fn}: 'indices' must be an integer tensor (from max_pool{nd}d with "
                        f"return_indices=True), got dtype {indices.dtype}")
    if tuple(indices.shape) != tuple(input.shape):
        raise ValueError(f"{fn}: 'indices' shape {tuple(indices.shape)} must equal the input "
                         f"shape {tuple(input.shape)}")
    k = _shape.ntuple(kernel_size, nd, "kernel_size", fn, minimum=1)
    s = k if stride is None else _shape.ntuple(stride, nd, "stride", fn, minimum=1)
    p = _shape.ntuple(padding, nd, "padding", fn, minimum=0)
    sp = input.shape[-nd:]
    default = tuple(_shape.unpool_output_size(n, kk, ss, pp) for n, kk, ss, pp in zip(sp, k, s, p))
    remembered = getattr(indices.array, "pooled_input_shape", None)
    if output_size is None:
        out = remembered if remembered is not None and len(remembered) == nd else default
        if remembered is not None and len(remembered) == nd and any(
                not (d - ss < r < d + ss) for r, d, ss in zip(remembered, default, s)):
            out = default  # indices came from a different pooling geometry: fall back to torch's
    else:
        if isinstance(output_size, (int, np.integer)):
            output_size = (int(output_size),)
        out = tuple(int(v) for v in output_size)
        if len(out) == nd + 2 or len(out) == input.ndim:
            out = out[-nd:]
        if len(out) != nd:
            raise ValueError(f"{fn}: 'output_size' must have {nd} elements (or include the "
                             f"leading dims), got {tuple(output_size)}")
        for i, (o, d, ss) in enumerate(zip(out, default, s)):
            if not d - ss < o < d + ss:
                raise ValueError(
                    f"{fn}: invalid output_size {tuple(output_size)}: dim {i} must be between "
                    f"{d - ss} and {d + ss} (exclusive), got {o}. Pooling with stride {ss} maps "
                    f"any input size in that range to {sp[i]} outputs; the default is "
                    f"(in - 1)*stride - 2*padding + kernel_size = {d}")
    return MaxUnpoolNd.apply(input, indices, nd=nd, out_sp=tuple(out), fn=fn)


def max_unpool1d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """Partial inverse of ``max_pool1d``: pooled values back at their argmax, zeros elsewhere.

    Args:
        indices: from ``max_pool1d(..., return_indices=True)``. Without ``output_size`` the size
            remembered on convnp's indices is restored, else PyTorch's default.
        kernel_size, stride (default ``kernel_size``), padding: those of the pooling.
        output_size: explicit output length, within ``(default - stride, default + stride)``.

    Shape:
        ``L_out = (L_in - 1)*stride - 2*padding + kernel_size`` by default.

    Example:
        >>> y, i = max_pool1d(convnp.tensor([[[1., 5., 2., 3., 4.]]]), 2, return_indices=True)
        >>> max_unpool1d(y, i, 2)
        tensor([[[0., 5., 0., 3., 0.]]])
    """
    return _max_unpool(1, input, indices, kernel_size, stride, padding, output_size)


def max_unpool2d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """Partial inverse of ``max_pool2d`` over ``(N, C, H, W)``; as ``max_unpool1d``.

    Shape:
        ``H_out = (H_in - 1)*stride[0] - 2*padding[0] + kernel_size[0]``, likewise ``W_out``.
    """
    return _max_unpool(2, input, indices, kernel_size, stride, padding, output_size)


def max_unpool3d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """Partial inverse of ``max_pool3d`` over ``(N, C, D, H, W)``; as ``max_unpool1d``."""
    return _max_unpool(3, input, indices, kernel_size, stride, padding, output_size)
