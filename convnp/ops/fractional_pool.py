"""Fractional max pooling (Graham, 2014): max over ``kernel_size`` windows whose starts follow a
pseudo-random sequence, so that the output size can be any fraction of the input size.

One N-d core serves 2-d and 3-d. The window starts of each (sample, channel) plane come from a
sample ``u`` in [0, 1) per spatial axis, with torch's rule (computed in the input's dtype, as
torch does)::

    alpha = (in - k) / (out - 1)
    start[i] = int((i + u) * alpha) - int(u * alpha)   for i < out - 1;   start[out-1] = in - k

Given the same ``_random_samples`` the output and the indices equal torch's; without them the
samples come from convnp's generator.
"""

from __future__ import annotations

import numpy as np

from convnp.autograd.function import Function
from convnp.tensor import Tensor

__all__ = ["fractional_max_pool2d", "fractional_max_pool3d"]


def _starts(samples: np.ndarray, size: int, out: int, k: int) -> np.ndarray:
    """Window starts, shape samples.shape + (out,), from the per-plane samples of one axis."""
    dt = samples.dtype.type
    seq = np.empty(samples.shape + (out,), np.int64)
    if out > 1:
        alpha = dt(size - k) / dt(out - 1)
        i = np.arange(out - 1, dtype=samples.dtype)
        # C's float-to-int conversion truncates towards zero; the values are non-negative
        seq[..., :-1] = ((i + samples[..., None]) * alpha).astype(np.int64) - \
            (samples[..., None] * alpha).astype(np.int64)
    if out > 0:
        seq[..., -1] = size - k
    return seq


class FractionalMaxPool(Function):
    """Forward gathers every window and keeps the first maximum in row-major order (a NaN wins,
    as in torch); backward scatters the gradient to those positions."""

    @staticmethod
    def forward(ctx, x, kernel, out_size, samples):
        n, c = x.shape[:2]
        sp = x.shape[2:]
        d = len(sp)
        # axis order of the samples: torch takes W first in 2-d ((W, H)) and (T, H, W) in 3-d
        order = (1, 0) if d == 2 else (0, 1, 2)
        # per axis: (N, C, out_a, k_a) input positions
        pos = []
        for a in range(d):
            s = _starts(samples[..., order[a]], sp[a], out_size[a], kernel[a])
            pos.append(s[..., None] + np.arange(kernel[a]))
        # flat plane index of every (out_0, k_0, out_1, k_1, ...) window element
        strides = np.cumprod((1,) + sp[::-1])[:-1][::-1]
        flat = np.zeros((n, c) + sum(((out_size[a], kernel[a]) for a in range(d)), ()),
                        np.int64)
        for a in range(d):
            shape = [n, c] + [1] * (2 * d)
            shape[2 + 2 * a], shape[3 + 2 * a] = out_size[a], kernel[a]
            flat = flat + (pos[a] * strides[a]).reshape(shape)
        # (N, C, out..., k...) with the window elements last
        perm = [0, 1] + [2 + 2 * a for a in range(d)] + [3 + 2 * a for a in range(d)]
        # explicit window size: -1 cannot be inferred for an empty batch
        flat = flat.transpose(perm).reshape(n, c, *out_size, int(np.prod(kernel)))
        planes = x.reshape(n, c, int(np.prod(sp)))
        vals = np.take_along_axis(planes, flat.reshape(n, c, int(np.prod(flat.shape[2:]))),
                                  axis=2).reshape(flat.shape)
        nan = np.isnan(vals)
        choice = np.where(nan.any(-1), nan.argmax(-1), vals.argmax(-1))
        idx = np.take_along_axis(flat, choice[..., None], -1)[..., 0]
        out = np.take_along_axis(vals, choice[..., None], -1)[..., 0]
        ctx.save_for_backward(idx)
        ctx.in_shape = x.shape
        ctx.mark_non_differentiable(1)
        return out, idx

    @staticmethod
    def backward(ctx, g, _gidx):
        (idx,) = ctx.saved_tensors
        n, c = ctx.in_shape[:2]
        gx = np.zeros((n, c, int(np.prod(ctx.in_shape[2:]))), g.dtype)
        # windows overlap: accumulate (np.add.at sums repeated indices)
        rows = np.arange(n * c).reshape(n, c, *([1] * (idx.ndim - 2)))
        np.add.at(gx.reshape(n * c, gx.shape[2]), (np.broadcast_to(rows, idx.shape), idx), g)
        return gx.reshape(ctx.in_shape), None, None, None


def _fractional(d: int, input, kernel_size, output_size, output_ratio, return_indices,
                _random_samples):
    from convnp import random as R
    from convnp.ops import _shape

    name = f"fractional_max_pool{d}d"
    if not isinstance(input, Tensor):
        raise TypeError(f"{name}: input must be a convnp Tensor, got {type(input).__name__}")
    if input.ndim not in (d + 1, d + 2):
        raise ValueError(f"{name}: expected a {d + 1}D or {d + 2}D input, got {input.ndim}D")
    if output_size is None and output_ratio is None:
        raise ValueError(f"{name} requires specifying either an output_size or an "
                         "output_ratio")
    kernel = _shape.ntuple(kernel_size, d, "kernel_size", name, minimum=1)
    unbatched = input.ndim == d + 1
    x = input.unsqueeze(0) if unbatched else input
    sp = x.shape[2:]
    if output_size is None:
        ratio = (tuple(float(r) for r in output_ratio)
                 if isinstance(output_ratio, (tuple, list)) else (float(output_ratio),) * d)
        if len(ratio) != d:
            raise ValueError(f"{name}: output_ratio must be a float or {d} floats, got "
                             f"{output_ratio!r}")
        for r in ratio:
            if not 0 < r < 1:
                raise ValueError(f"{name}: output_ratio must be between 0 and 1 (got "
                                 f"{output_ratio})")
        out_size = tuple(int(s * r) for s, r in zip(sp, ratio))
    else:
        out_size = _shape.ntuple(output_size, d, "output_size", name, minimum=1)
    for a in range(d):
        if out_size[a] + kernel[a] - 1 > sp[a]:
            raise RuntimeError(f"{name}(): pool size {kernel[a]} and output size {out_size[a]} "
                               f"are too large for input size {sp[a]} at spatial axis {a}")
    n, c = x.shape[:2]
    if _random_samples is None:
        samples = R.rng().random((n, c, d)).astype(x.dtype)
    else:
        samples = np.asarray(getattr(_random_samples, "array", _random_samples))
        if samples.shape != (n, c, d):
            raise ValueError(f"{name}: _random_samples must have shape {(n, c, d)}, got "
                             f"{samples.shape}")
        samples = samples.astype(x.dtype, copy=False)
    out, idx = FractionalMaxPool.apply(x, kernel, out_size, samples)
    if unbatched:
        out, idx = out.squeeze(0), idx.squeeze(0)
    return (out, idx) if return_indices else out


def fractional_max_pool2d(input, kernel_size, output_size=None, output_ratio=None,
                          return_indices: bool = False, _random_samples=None):
    r"""2-d fractional max pooling of ``(N, C, H, W)`` or ``(C, H, W)`` (torch's
    ``F.fractional_max_pool2d``).

    Args:
        kernel_size: window size (int or pair).
        output_size: ``(H_out, W_out)``; or give ``output_ratio`` in (0, 1).
        return_indices: also return the flat ``h * W + w`` index of each maximum.
        _random_samples: ``(N, C, 2)`` samples in [0, 1) (W's then H's), for reproducibility.

    Shape: output :math:`(N, C, H_{out}, W_{out})`, with
    :math:`H_{out} = \lfloor H \cdot r_0 \rfloor` when a ratio is given.
    """
    return _fractional(2, input, kernel_size, output_size, output_ratio, return_indices,
                       _random_samples)


def fractional_max_pool3d(input, kernel_size, output_size=None, output_ratio=None,
                          return_indices: bool = False, _random_samples=None):
    r"""3-d fractional max pooling of ``(N, C, T, H, W)`` or ``(C, T, H, W)`` (torch's
    ``F.fractional_max_pool3d``); ``_random_samples`` is ``(N, C, 3)`` (T, H, W)."""
    return _fractional(3, input, kernel_size, output_size, output_ratio, return_indices,
                       _random_samples)
