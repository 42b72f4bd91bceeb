"""``cross_map_lrn2d``: torch's legacy ``CrossMapLRN2d`` (Lua Torch's SpatialCrossMapLRN), with
its exact forward and hand-written backward.

It differs from :func:`local_response_norm`: torch's forward slides the channel window by adding
the next square and removing the one ``pre_pad`` back, but never removes channel 0, so channel
0's square stays in every later window; its backward uses centred windows of ``size`` channels.
Both are reproduced so that values and gradients equal torch's.
"""

from __future__ import annotations

import numpy as np

from convnp.autograd.function import Function

__all__ = ["cross_map_lrn2d"]


def _channel_prefix(a: np.ndarray) -> np.ndarray:
    """Cumulative sum over channels with a leading zero: p[:, j] = sum(a[:, :j])."""
    n, c = a.shape[:2]
    out = np.zeros((n, c + 1) + a.shape[2:], a.dtype)
    np.cumsum(a, axis=1, out=out[:, 1:])
    return out


class CrossMapLRN2d(Function):
    @staticmethod
    def forward(ctx, x, size, alpha, beta, k):
        c = x.shape[1]
        pre_pad = int((size - 1) / 2 + 1)
        p = _channel_prefix(x * x)  # (N, C+1, H, W)
        idx = np.arange(c)
        hi = np.minimum(idx + pre_pad - 1, c - 1)
        window = p[:, hi + 1] - np.where((idx > pre_pad)[:, None, None],
                                         p[:, np.maximum(idx - pre_pad, 0) + 1] - p[:, 1:2], 0)
        scale = window * (alpha / size) + k
        out = x * scale ** (-beta)
        ctx.save_for_backward(x, out, scale)
        ctx.args = (size, alpha, beta)
        return out

    @staticmethod
    def backward(ctx, g):
        x, out, scale = ctx.saved_tensors
        size, alpha, beta = ctx.args
        c = x.shape[1]
        inverse_pre_pad = int(size - (size - 1) / 2)
        ratio = g * out / scale
        p = _channel_prefix(ratio)
        idx = np.arange(c)
        # accum[c] = sum of ratio over channels [c - inverse_pre_pad, c + size - 1 -
        # inverse_pre_pad], clipped to the valid range
        lo = np.clip(idx - inverse_pre_pad, 0, c)
        hi = np.clip(idx + size - inverse_pre_pad, 0, c)
        accum = p[:, hi] - p[:, lo]
        gx = scale ** (-beta) * g - (2 * alpha * beta / size) * x * accum
        return gx, None, None, None, None


def cross_map_lrn2d(input, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1):
    """torch's ``CrossMapLRN2d`` function on a 4-D ``(N, C, H, W)`` input."""
    if input.ndim != 4:
        raise ValueError(f"CrossMapLRN2d: Expected input to be 4D, got {input.ndim}D instead.")
    return CrossMapLRN2d.apply(input, size, alpha, beta, k)
