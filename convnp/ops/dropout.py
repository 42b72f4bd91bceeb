"""Dropout family: elementwise, channel-wise (1d/2d/3d) and alpha dropout.

Masks come from ``convnp.random`` (seeded by ``convnp.manual_seed``, or an explicit
``generator=``). They do not reproduce torch's random stream; the statistics and the gradient
(the same scaled mask as the forward) are what match. ``inplace=True`` is accepted and computes
out of place.
"""

from __future__ import annotations

import numbers
import warnings

import numpy as np

from convnp import random as _random
from convnp.autograd.function import Function

__all__ = ["dropout", "dropout1d", "dropout2d", "dropout3d", "alpha_dropout",
           "feature_alpha_dropout"]

_ALPHA = 1.7580993408473766  # -SELU scale * alpha: the value SELU saturates to, negated


class MaskAffine(Function):
    """out = x * scale * keep + shift: ``keep`` a bool mask that broadcasts over x (saved for
    backward at one byte an element, where torch's CPU dropout saves one of the input's dtype),
    ``scale`` a scalar of x's dtype, ``shift`` None or an array; the gradient is
    ``g * scale * keep``."""

    @staticmethod
    def forward(ctx, x, keep=None, scale=None, shift=None):
        ctx.save_for_backward(keep)
        ctx.scale = scale
        out = np.multiply(x, scale)
        out *= keep
        if shift is not None:
            out += shift
        return out

    @staticmethod
    def backward(ctx, g):
        (keep,) = ctx.saved_tensors
        gx = np.multiply(g, ctx.scale)
        gx *= keep
        return gx


def _check_p(p, fn: str) -> float:
    if not isinstance(p, numbers.Real) or not 0.0 <= p <= 1.0:
        raise ValueError(f"{fn}: dropout probability has to be between 0 and 1, but got {p}")
    return float(p)


def _keep(shape, p: float, generator) -> np.ndarray:
    """Bernoulli(1 - p) keep-mask (bool)."""
    return _random.rng(generator).random(shape) >= p


def _dropout(input, p: float, training: bool, noise_shape, alpha: bool, generator):
    if not training or p == 0.0:
        return input
    dt = input.dtype
    if p == 1.0:
        # torch multiplies by zero (alpha variants too): output and gradient are zero
        return MaskAffine.apply(input, keep=np.zeros((1,) * input.ndim, bool), scale=dt.type(1))
    keep = _keep(noise_shape, p, generator)
    if not alpha:
        return MaskAffine.apply(input, keep=keep, scale=dt.type(1.0 / (1.0 - p)))
    a = 1.0 / np.sqrt((_ALPHA * _ALPHA * p + 1) * (1 - p))
    # torch: b = (keep - 1) * alpha * a + alpha * a * p; out = x * keep * a + b
    shift = ((keep.astype(dt) - 1) * (_ALPHA * a) + _ALPHA * a * p).astype(dt)
    return MaskAffine.apply(input, keep=keep, scale=dt.type(a), shift=shift)


def _tensor_check(input, fn: str):
    from convnp.tensor import Tensor

    if not isinstance(input, Tensor):
        raise TypeError(f"{fn}: 'input' must be a convnp Tensor, got {type(input).__name__}")


def dropout(input, p: float = 0.5, training: bool = True, inplace: bool = False, *,
            generator=None):
    r"""Zero each element with probability ``p`` and scale the rest by :math:`1/(1-p)`.

    Args:
        input: any shape.
        p: probability of an element being zeroed (0 <= p <= 1).
        training: apply dropout (True) or return the input unchanged.
        inplace: accepted; convnp returns a new tensor.
        generator: optional ``convnp.Generator`` for the mask (convnp extension).

    Shape: output has the input's shape.

    Example::
        >>> convnp.manual_seed(0); F.dropout(convnp.ones(4), 0.5)
        tensor([2., 0., 2., 0.])   # some pattern of 0 and 2
    """
    _tensor_check(input, "dropout")
    p = _check_p(p, "dropout")
    return _dropout(input, p, training, input.shape, False, generator)


def _channel_noise(input, fn: str, spatial: int, warn_3d: bool = False):
    """Mask shape (N, C, 1, ...) for channel-wise dropout; unbatched inputs are (C, ...)."""
    nd = input.ndim
    if nd not in (spatial + 1, spatial + 2):
        if spatial == 1:
            raise RuntimeError(f"dropout1d: Expected 2D or 3D input, but received a {nd}D input. "
                               "Note that dropout1d exists to provide channel-wise dropout on "
                               "inputs with 1 spatial dimension, a channel dimension, and an "
                               "optional batch dimension (i.e. 2D or 3D inputs).")
        warnings.warn(f"{fn}: Received a {nd}-D input to {fn}, which is deprecated and will "
                      f"result in an error in a future release. To retain the behavior and "
                      f"silence this warning, please use dropout instead. Note that {fn} exists "
                      f"to provide channel-wise dropout on inputs with {spatial} spatial "
                      f"dimensions, a channel dimension, and an optional batch dimension "
                      f"(i.e. {spatial + 1}D or {spatial + 2}D inputs).", UserWarning,
                      stacklevel=4)
    if warn_3d and nd == 3:
        warnings.warn("dropout2d: Received a 3D input to dropout2d and assuming that channel-wise "
                      "1D dropout behavior is desired - input is interpreted as shape (N, C, L), "
                      "where C is the channel dim. This behavior will change in a future release "
                      "to interpret the input as one without a batch dimension, i.e. shape "
                      "(C, H, W). To maintain the 1D channel-wise dropout behavior, please "
                      "switch to using dropout1d instead.", UserWarning, stacklevel=4)
        return input.shape[:2] + (1,)
    if nd == spatial + 1:  # unbatched (C, *spatial)
        return input.shape[:1] + (1,) * spatial
    return input.shape[:2] + (1,) * (nd - 2)


def _channel_dropout(input, p, training, generator, n: int):
    """``dropout{n}d``: one Bernoulli draw per (sample, channel), broadcast over the n spatial
    axes (a 3-d input to dropout2d is read as (N, C, L), with torch's warning)."""
    name = f"dropout{n}d"
    _tensor_check(input, name)
    p = _check_p(p, name)
    noise = _channel_noise(input, name, n, warn_3d=n == 2)
    return _dropout(input, p, training, noise, False, generator)


def dropout1d(input, p: float = 0.5, training: bool = True, inplace: bool = False, *,
              generator=None):
    r"""Zero whole channels of ``(N, C, L)`` or ``(C, L)`` input with probability ``p``; scale
    the kept ones by :math:`1/(1-p)`. Shape: unchanged."""
    return _channel_dropout(input, p, training, generator, 1)


def dropout2d(input, p: float = 0.5, training: bool = True, inplace: bool = False, *,
              generator=None):
    r"""Zero whole channels of ``(N, C, H, W)`` or ``(C, H, W)`` input with probability ``p``.

    As in PyTorch, a 3-D input is (with a warning) treated as ``(N, C, L)``. Shape: unchanged.

    Example::
        >>> F.dropout2d(convnp.ones(2, 3, 4, 4), 0.5)   # each (n, c) plane all 0 or all 2
    """
    return _channel_dropout(input, p, training, generator, 2)


def dropout3d(input, p: float = 0.5, training: bool = True, inplace: bool = False, *,
              generator=None):
    r"""Zero whole channels of ``(N, C, D, H, W)`` or ``(C, D, H, W)`` input. Shape: unchanged."""
    return _channel_dropout(input, p, training, generator, 3)


def alpha_dropout(input, p: float = 0.5, training: bool = False, inplace: bool = False, *,
                  generator=None):
    r"""Dropout for SELU networks: dropped elements take SELU's negative saturation value and an
    affine correction keeps the mean and variance (zero mean, unit variance inputs stay so).

    Args:
        input: any shape. p: drop probability. training: apply (default False, as torch).

    Shape: output has the input's shape.
    """
    _tensor_check(input, "alpha_dropout")
    p = _check_p(p, "alpha_dropout")
    return _dropout(input, p, training, input.shape, True, generator)


def feature_alpha_dropout(input, p: float = 0.5, training: bool = False, inplace: bool = False,
                          *, generator=None):
    r"""Alpha dropout of whole channels (mask shape ``(N, C, 1, ...)``). Shape: unchanged."""
    _tensor_check(input, "feature_alpha_dropout")
    p = _check_p(p, "feature_alpha_dropout")
    if input.ndim < 2:
        raise RuntimeError(f"feature_alpha_dropout: Feature dropout requires at least 2 "
                           f"dimensions in the input, got shape {tuple(input.shape)}")
    noise = input.shape[:2] + (1,) * (input.ndim - 2)
    return _dropout(input, p, training, noise, True, generator)
