"""``torch.nn.functional`` ops that are compositions of other convnp ops (so their gradients
come from the pieces): glu, rrelu, gumbel_softmax, rms_norm, channel_shuffle, conv_tbc, the
``*_with_indices`` pooling names, and the in-place names ``celu_`` / ``selu_`` / ``rrelu_``
(like ``elu_`` here, they return a new tensor)."""

from __future__ import annotations

import numpy as np

from convnp.ops import elementwise as E
from convnp.ops import reduction as R

__all__ = ["glu", "rrelu", "rrelu_", "celu_", "selu_", "gumbel_softmax", "rms_norm",
           "channel_shuffle", "conv_tbc", "max_pool1d_with_indices", "max_pool2d_with_indices",
           "max_pool3d_with_indices", "adaptive_max_pool1d_with_indices",
           "adaptive_max_pool2d_with_indices", "adaptive_max_pool3d_with_indices"]


def _t():
    from convnp.tensor import Tensor

    return Tensor


def glu(input, dim: int = -1):
    r"""Gated linear unit: split ``input`` in halves :math:`a, b` along ``dim``, return
    :math:`a \otimes \sigma(b)`. Shape: ``dim`` halved."""
    if input.ndim == 0:
        raise RuntimeError("glu: does not support scalars because halving size must be even")
    d = dim % input.ndim
    if input.shape[d] % 2:
        raise RuntimeError(f"glu: Halving dimension must be even, but dimension {d} is size "
                           f"{input.shape[d]}")
    a, b = input.chunk(2, d)
    return E.mul(a, E.sigmoid(b))


def rrelu(input, lower: float = 1.0 / 8, upper: float = 1.0 / 3, training: bool = False,
          inplace: bool = False):
    r"""Randomized leaky ReLU: negative inputs are scaled by a slope drawn uniformly from
    ``[lower, upper]`` per element in training, by ``(lower + upper) / 2`` otherwise."""
    from convnp.random import rng

    if training:
        slope = rng().uniform(lower, upper, input.shape).astype(input.dtype)
    else:
        slope = np.asarray((lower + upper) / 2, input.dtype)
    factor = np.where(input.array > 0, np.ones((), input.dtype), slope).astype(input.dtype)
    return E.mul(input, factor)


def rrelu_(input, lower: float = 1.0 / 8, upper: float = 1.0 / 3, training: bool = False):
    return rrelu(input, lower, upper, training)


def celu_(input, alpha: float = 1.0):
    from convnp.ops.activation import celu

    return celu(input, alpha)


def selu_(input):
    from convnp.ops.activation import selu

    return selu(input)


def gumbel_softmax(logits, tau: float = 1, hard: bool = False, eps: float = 1e-10,
                   dim: int = -1):
    r"""Samples from the Gumbel-softmax distribution: ``softmax((logits + g) / tau)`` with
    Gumbel noise ``g``; ``hard`` returns one-hot vectors whose gradient is the soft sample's
    (straight-through)."""
    from convnp.ops.activation import softmax
    from convnp.random import rng

    gumbels = -np.log(rng().exponential(1.0, logits.shape)).astype(logits.dtype)
    y = softmax(E.div(E.add(logits, gumbels), tau), dim)
    if not hard:
        return y
    d = dim % logits.ndim
    index = np.argmax(y.array, axis=d)
    y_hard = np.zeros(y.shape, y.dtype)
    np.put_along_axis(y_hard, np.expand_dims(index, d), 1, axis=d)
    return E.add(E.sub(_t()._wrap(y_hard), y.detach()), y)


def rms_norm(input, normalized_shape, weight=None, eps=None):
    r""":math:`x / \sqrt{\mathrm{mean}(x^2) + \epsilon} \cdot w` over the last
    ``len(normalized_shape)`` dims; ``eps`` defaults to the dtype's machine epsilon."""
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    if tuple(input.shape[input.ndim - len(shape):]) != shape:
        raise RuntimeError(f"rms_norm: normalized_shape {list(shape)} does not match the last "
                           f"dims of input of shape {tuple(input.shape)}")
    if eps is None:
        eps = float(np.finfo(input.dtype).eps)
    dims = tuple(range(input.ndim - len(shape), input.ndim))
    out = E.mul(input, E.pow(E.add(R.mean(E.mul(input, input), dims, keepdim=True), eps), -0.5))
    return out if weight is None else E.mul(out, weight)


def channel_shuffle(input, groups: int):
    r"""Interleave the channels of ``groups`` groups: ``(N, g*k, *)`` seen as ``(N, g, k, *)``,
    transposed to ``(N, k, g, *)`` and flattened back (ShuffleNet)."""
    if input.ndim < 3:
        raise RuntimeError(f"channel_shuffle: expected an input of at least 3 dims (N, C, *), "
                           f"got shape {tuple(input.shape)}")
    n, c = input.shape[:2]
    if not isinstance(groups, int) or groups <= 0:
        raise RuntimeError(f"channel_shuffle: the number of groups to divide channels in must "
                           f"be positive, got groups={groups}")
    if c % groups:
        raise RuntimeError(f"channel_shuffle: Number of channels must be divisible by groups. "
                           f"Got {c} channels and {groups} groups.")
    rest = tuple(input.shape[2:])
    x = input.reshape((n, groups, c // groups) + rest).transpose(1, 2)
    return x.reshape((n, c) + rest)


def conv_tbc(input, weight, bias, pad: int = 0):
    r"""1-d convolution over time-batch-channel input: ``input`` ``(T, N, C_in)``, ``weight``
    ``(K, C_in, C_out)``, ``bias`` ``(C_out,)``; output ``(T + 2 pad - K + 1, N, C_out)``."""
    from convnp.ops.conv import conv1d

    out = conv1d(input.permute(1, 2, 0), weight.permute(2, 1, 0), bias, padding=pad)
    return out.permute(2, 0, 1)


def _with_indices(name):
    def fn(*args, **kwargs):
        from convnp.ops import pooling

        kwargs["return_indices"] = True
        return getattr(pooling, name)(*args, **kwargs)

    fn.__name__ = fn.__qualname__ = name + "_with_indices"
    fn.__doc__ = f"``{name}(..., return_indices=True)``: ``(output, indices)``."
    return fn


max_pool1d_with_indices = _with_indices("max_pool1d")
max_pool2d_with_indices = _with_indices("max_pool2d")
max_pool3d_with_indices = _with_indices("max_pool3d")
adaptive_max_pool1d_with_indices = _with_indices("adaptive_max_pool1d")
adaptive_max_pool2d_with_indices = _with_indices("adaptive_max_pool2d")
adaptive_max_pool3d_with_indices = _with_indices("adaptive_max_pool3d")


# fractional max pooling lives in ops/fractional_pool.py (one Function, used by the layers too)
from convnp.ops.fractional_pool import fractional_max_pool2d, fractional_max_pool3d  # noqa: E402


def fractional_max_pool2d_with_indices(input, kernel_size, output_size=None, output_ratio=None,
                                       return_indices=True, _random_samples=None):
    return fractional_max_pool2d(input, kernel_size, output_size, output_ratio, True,
                                 _random_samples)


def fractional_max_pool3d_with_indices(input, kernel_size, output_size=None, output_ratio=None,
                                       return_indices=True, _random_samples=None):
    return fractional_max_pool3d(input, kernel_size, output_size, output_ratio, True,
                                 _random_samples)


__all__ += ["fractional_max_pool2d", "fractional_max_pool3d",
            "fractional_max_pool2d_with_indices", "fractional_max_pool3d_with_indices"]
