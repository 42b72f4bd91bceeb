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
    """Padding ``(lo, hi)`` of a causal (temporal) convolution: all before, nothing after."""
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


# --------------------------------------------------------------------------------------------
# Convolution padding resolution (used by convnp.ops.conv and by the explain/summary tools)
# --------------------------------------------------------------------------------------------

_PAD_STRINGS = ("valid", "same", "causal")


def _is_int(v) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)


def conv_padding_pairs(padding, sizes: Sequence[int], kernel: Sequence[int],
                       stride: Sequence[int], dilation: Sequence[int],
                       fn: str = "conv") -> tuple[tuple[int, int], ...]:
    """Resolve a convolution ``padding`` argument to one ``(lo, hi)`` pair per spatial axis.

    Accepts an int (same on every side), a sequence of ints (one per axis, symmetric), a sequence
    of ``(lo, hi)`` pairs, the strings ``'valid'`` (no padding), ``'same'`` (``same_padding``:
    ``ceil(size / stride)`` outputs for any stride and dilation, the odd element at the end) and
    ``'causal'`` (``causal_padding``: everything before), or a sequence mixing these per axis,
    e.g. ``('causal', 1)``.
    """
    n = len(kernel)

    def one(p, i):
        if _is_int(p):
            if p < 0:
                raise ValueError(f"{fn}: padding must be non-negative, got {padding!r}")
            return int(p), int(p)
        if isinstance(p, str):
            if p == "valid":
                return 0, 0
            if p == "same":
                return same_padding(sizes[i], kernel[i], stride[i], dilation[i])
            if p == "causal":
                return causal_padding(kernel[i], dilation[i])
            raise ValueError(f"{fn}: padding string must be one of {_PAD_STRINGS}, got {p!r}")
        if (isinstance(p, (tuple, list)) and len(p) == 2 and all(_is_int(v) for v in p)):
            if p[0] < 0 or p[1] < 0:
                raise ValueError(f"{fn}: padding must be non-negative, got {padding!r}")
            return int(p[0]), int(p[1])
        raise TypeError(f"{fn}: padding must be an int, a string in {_PAD_STRINGS}, a sequence of "
                        f"{n} ints or of {n} (lo, hi) pairs, got {padding!r}")

    if _is_int(padding) or isinstance(padding, str):
        return tuple(one(padding, i) for i in range(n))
    if isinstance(padding, (tuple, list)):
        if len(padding) == 1:
            return tuple(one(padding[0], i) for i in range(n))
        if len(padding) != n:
            raise ValueError(f"{fn}: padding needs 1 or {n} entries (one per spatial axis), got "
                             f"{padding!r} ({len(padding)} entries)")
        return tuple(one(p, i) for i, p in enumerate(padding))
    raise TypeError(f"{fn}: padding must be an int, a string in {_PAD_STRINGS}, a sequence of "
                    f"{n} ints or of {n} (lo, hi) pairs, got {padding!r} "
                    f"({type(padding).__name__})")


def conv_transpose_output_padding(output_size: Sequence[int], sizes: Sequence[int],
                                  kernel: Sequence[int], stride: Sequence[int],
                                  pads: Sequence[tuple[int, int]], dilation: Sequence[int],
                                  fn: str = "conv_transpose") -> tuple[int, ...]:
    """``output_padding`` that makes a transposed convolution produce ``output_size`` (spatial).

    Valid sizes along an axis range from ``conv_transpose_output_size(..., output_padding=0)`` to
    that plus ``stride - 1`` (PyTorch's rule); anything else raises a ValueError naming the range.
    """
    out = []
    for i, want in enumerate(output_size):
        lo = conv_transpose_output_size(sizes[i], kernel[i], stride[i], pads[i][0], pads[i][1],
                                        dilation[i])
        hi = lo + stride[i] - 1
        if not lo <= want <= hi:
            raise ValueError(f"{fn}: requested an output size of {tuple(output_size)}, but valid "
                             f"sizes along spatial axis {i} range from {lo} to {hi} (for an input "
                             f"of {tuple(sizes)}, kernel {tuple(kernel)}, stride {tuple(stride)})")
        out.append(want - lo)
    return tuple(out)


def conv_transpose_output_sizes(sizes: Sequence[int], kernel: Sequence[int],
                                stride: Sequence[int], pads: Sequence[tuple[int, int]],
                                dilation: Sequence[int], output_padding, output_size,
                                fn: str = "conv_transpose") -> tuple[int, ...]:
    """A transposed convolution's spatial output size, from ``output_size`` (spatial or full
    shape) when given, else from ``output_padding`` (each < stride or < dilation, torch's rule).
    """
    n = len(kernel)
    if output_size is not None:
        osz = tuple(int(v) for v in output_size)
        if len(osz) not in (n, n + 1, n + 2):
            raise ValueError(f"{fn}: output_size must have {n} (spatial) entries, got {osz}")
        op = conv_transpose_output_padding(osz[-n:], sizes, kernel, stride, pads, dilation, fn)
    else:
        op = ntuple(output_padding, n, "output_padding", fn, minimum=0)
        if any(op[i] >= stride[i] and op[i] >= dilation[i] for i in range(n)):
            raise ValueError(f"{fn}: output_padding must be smaller than either stride or "
                             f"dilation, got output_padding={op}, stride={tuple(stride)}, "
                             f"dilation={tuple(dilation)}")
    out = tuple(conv_transpose_output_size(sizes[i], kernel[i], stride[i], pads[i][0],
                                           pads[i][1], dilation[i], op[i]) for i in range(n))
    if any(o <= 0 for o in out):
        raise RuntimeError(f"{fn}: output size {out} is not positive (input size {tuple(sizes)}, "
                           f"kernel {tuple(kernel)}, padding {tuple(pads)}, stride "
                           f"{tuple(stride)}, dilation {tuple(dilation)})")
    return out


def pool_max_padding(kernel: int) -> int:
    """Largest padding PyTorch accepts for max/avg pooling: ``kernel // 2``.

    Dilation does not enter: PyTorch checks the undilated kernel, even for dilated max pooling."""
    return kernel // 2


def unpool_output_size(size: int, kernel: int, stride: int, padding: int = 0) -> int:
    """Default output length of max-unpooling: ``(size - 1)*stride - 2*padding + kernel``."""
    return (size - 1) * stride - 2 * padding + kernel


def interpolate_output_size(size: int, scale: float) -> int:
    """Output length of ``interpolate`` with a scale factor: ``floor(size * scale)``."""
    return int(math.floor(float(size) * float(scale)))


def conv_input_size_range(out: int, kernel: int, stride: int = 1, pad_lo: int = 0,
                          pad_hi: int | None = None, dilation: int = 1) -> tuple[int, int]:
    """Inverse of ``conv_output_size``: the smallest and largest input lengths (inclusive) that
    give ``out`` outputs with fixed padding: ``(out-1)*s + d*(k-1) + 1 - lo - hi`` plus ``0..s-1``
    (the floor drops up to ``s - 1`` trailing inputs). The smallest is clipped at 1."""
    pad_hi = pad_lo if pad_hi is None else pad_hi
    lo = (out - 1) * stride + dilation * (kernel - 1) + 1 - pad_lo - pad_hi
    return max(lo, 1), lo + stride - 1
