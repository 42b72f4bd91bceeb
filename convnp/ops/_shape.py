"""Shape arithmetic shared by every layer AND by the explain/summary/animation tools.

Pure functions on ints: output sizes, 'same'/'causal' padding, argument normalisation. A layer and
its explanation call the same function here, so they cannot disagree.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np


def ntuple(value, n: int, name: str, fn: str, minimum: int | None = None) -> tuple[int, ...]:
    """Normalise an int-or-sequence argument to a tuple of ``n`` ints, with a clear error."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        out = (int(value),) * n
    elif isinstance(value, (tuple, list)) and all(
            isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in value):
        if len(value) == 1:
            out = (int(value[0]),) * n
        elif len(value) != n:
            raise ValueError(f"{fn}: '{name}' must be an int or a sequence of {n} ints, got "
                             f"{tuple(value)} ({len(value)} values)")
        else:
            out = tuple(int(v) for v in value)
    else:
        raise TypeError(f"{fn}: '{name}' must be an int or a sequence of {n} ints, got "
                        f"{value!r} ({type(value).__name__})")
    if minimum is not None and any(v < minimum for v in out):
        raise ValueError(f"{fn}: every entry of '{name}' must be >= {minimum}, got {out}")
    return out


def conv_output_size(size: int, kernel: int, stride: int = 1, pad_lo: int = 0,
                     pad_hi: int | None = None, dilation: int = 1) -> int:
    """Output length of a convolution along one axis:
    ``floor((size + pad_lo + pad_hi - dilation*(kernel-1) - 1) / stride) + 1``.

    With symmetric padding p, dilation 1 this is the notes' ``(x - k + 2p)/s + 1``.
    """
    pad_hi = pad_lo if pad_hi is None else pad_hi
    return (size + pad_lo + pad_hi - dilation * (kernel - 1) - 1) // stride + 1


def conv_transpose_output_size(size: int, kernel: int, stride: int = 1, pad_lo: int = 0,
                               pad_hi: int | None = None, dilation: int = 1,
                               output_padding: int = 0) -> int:
    """Output length of a transposed convolution along one axis:
    ``(size - 1)*stride - pad_lo - pad_hi + dilation*(kernel-1) + output_padding + 1``."""
    pad_hi = pad_lo if pad_hi is None else pad_hi
    return (size - 1) * stride - pad_lo - pad_hi + dilation * (kernel - 1) + output_padding + 1


def same_padding(size: int, kernel: int, stride: int = 1, dilation: int = 1) -> tuple[int, int]:
    """Padding ``(lo, hi)`` that makes a convolution output ``ceil(size / stride)`` values.

    Total pad = ``max(0, (out - 1)*stride + dilation*(kernel - 1) + 1 - size)``; the odd element
    goes at the end (TensorFlow / ONNX SAME_UPPER). For stride 1 this equals PyTorch's 'same'.
    """
    out = -(-size // stride)
    total = max(0, (out - 1) * stride + dilation * (kernel - 1) + 1 - size)
    return total // 2, total - total // 2


def causal_padding(kernel: int, dilation: int = 1) -> tuple[int, int]:
    """Padding ``(lo, hi)`` for a causal (temporal) convolution: everything before, nothing after."""
    return dilation * (kernel - 1), 0


def pool_output_size(size: int, kernel: int, stride: int, padding: int = 0, dilation: int = 1,
                     ceil_mode: bool = False) -> int:
    """Output length of max/avg pooling along one axis (PyTorch's rule).

    ``floor_or_ceil((size + 2*padding - dilation*(kernel-1) - 1) / stride) + 1``; with ceil_mode
    the last window must start inside the input or the left padding, so it is dropped when it
    would start in the right padding.
    """
    eff = size + 2 * padding - dilation * (kernel - 1) - 1
    out = (-(-eff // stride) if ceil_mode else eff // stride) + 1
    if ceil_mode and (out - 1) * stride >= size + padding:
        out -= 1
    return out


def adaptive_bins(size: int, out: int) -> tuple[np.ndarray, np.ndarray]:
    """Start and end (exclusive) of each adaptive-pooling bin:
    ``start = floor(i*size/out)``, ``end = ceil((i+1)*size/out)``."""
    i = np.arange(out)
    return (i * size) // out, -((-(i + 1) * size) // out)


def conv_params(in_channels: int, out_channels: int, kernel: Sequence[int], groups: int = 1,
                bias: bool = True) -> int:
    """Parameter count: ``out * (in/groups) * prod(kernel)`` (+ ``out`` biases)."""
    return out_channels * (in_channels // groups) * math.prod(kernel) + (out_channels if bias
                                                                         else 0)


def receptive_field(kernels: Sequence[int], strides: Sequence[int] | None = None,
                    dilations: Sequence[int] | None = None) -> int:
    """Receptive field of a stack of layers along one axis: ``1 + sum_l d_l*(k_l-1)*prod(s_<l)``.

    For L stride-1 layers of kernel K this is the slides' ``1 + L(K - 1)``.
    """
    strides = strides or [1] * len(kernels)
    dilations = dilations or [1] * len(kernels)
    rf, jump = 1, 1
    for k, s, d in zip(kernels, strides, dilations):
        rf += d * (k - 1) * jump
        jump *= s
    return rf
