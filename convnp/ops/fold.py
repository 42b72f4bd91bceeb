"""``unfold`` (im2col) and ``fold`` (col2im) for 1-d, 2-d and 3-d, with PyTorch's 2-d semantics.

``unfold`` extracts every sliding block of a batched input ``(N, C, *spatial)`` into columns
``(N, C * prod(kernel_size), L)`` (channel-major, then the kernel offsets in C order, exactly as
``torch.nn.functional.unfold``); ``fold`` sums such columns back into an image. They are each
other's adjoint, so each one's backward is the other's forward.

The spatial dimensionality comes from the arguments: the length of the first tuple among
``kernel_size``, ``dilation``, ``padding``, ``stride`` (and ``output_size`` for fold); all ints
means 2-d, PyTorch's case. A 1-d unfold therefore needs e.g. ``kernel_size=(3,)``.

No loops over pixels: one strided slice copy (unfold) or slice add (fold) per kernel offset.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from convnp.autograd.function import Function
from convnp.ops import _window
from convnp.ops._shape import conv_output_size, ntuple

__all__ = ["unfold", "fold"]


def _ndim_of(*args, default: int = 2) -> int:
    for a in args:
        if isinstance(a, (tuple, list)) and len(a) > 1:
            return len(a)
    for a in args:
        if isinstance(a, (tuple, list)) and len(a) == 1:
            return 1
    return default


def _block_grid(spatial: Sequence[int], k, d, p, s) -> tuple[int, ...]:
    return tuple(conv_output_size(n, kk, ss, pp, pp, dd)
                 for n, kk, dd, pp, ss in zip(spatial, k, d, p, s))


def unfold_nd(x: np.ndarray, k, d, p, s) -> np.ndarray:
    """Raw im2col: ``(N, C, *spatial)`` -> ``(N, C * prod(k), L)``."""
    N, C = x.shape[:2]
    blocks = _block_grid(x.shape[2:], k, d, p, s)
    if any(p):
        xp = np.zeros((N, C) + tuple(sz + 2 * pp for sz, pp in zip(x.shape[2:], p)), x.dtype)
        xp[(slice(None), slice(None)) + tuple(slice(pp, pp + sz) for pp, sz in
                                              zip(p, x.shape[2:]))] = x
    else:
        xp = x
    K = math.prod(k)
    cols = np.empty((N, C, K) + blocks, dtype=x.dtype)  # (N, C, K, *blocks)
    for j, _, idx in _window.taps(k, s, d, blocks):
        cols[:, :, j] = xp[idx]
    return cols.reshape(N, C * K, math.prod(blocks))


def fold_nd(cols: np.ndarray, output_size, k, d, p, s) -> np.ndarray:
    """Raw col2im: ``(N, C * prod(k), L)`` -> ``(N, C, *output_size)``, overlaps summed."""
    N = cols.shape[0]
    K = math.prod(k)
    C = cols.shape[1] // K
    blocks = _block_grid(output_size, k, d, p, s)
    cols = cols.reshape((N, C, K) + blocks)  # (N, C, K, *blocks)
    padded = tuple(o + 2 * pp for o, pp in zip(output_size, p))
    out = np.zeros((N, C) + padded, dtype=cols.dtype)
    for j, _, idx in _window.taps(k, s, d, blocks):
        out[idx] += cols[:, :, j]
    if any(p):
        out = out[(slice(None), slice(None)) + tuple(slice(pp, pp + o)
                                                     for pp, o in zip(p, output_size))]
        out = np.ascontiguousarray(out)
    return out


class Unfold(Function):
    """im2col; backward is fold (its adjoint)."""

    @staticmethod
    def forward(ctx, x, k=(), d=(), p=(), s=()):
        ctx.args, ctx.size = (k, d, p, s), x.shape[2:]
        return unfold_nd(x, k, d, p, s)

    @staticmethod
    def backward(ctx, g):
        k, d, p, s = ctx.args
        return fold_nd(g, ctx.size, k, d, p, s)


class Fold(Function):
    """col2im; backward is unfold (its adjoint)."""

    @staticmethod
    def forward(ctx, cols, output_size=(), k=(), d=(), p=(), s=()):
        ctx.args = (k, d, p, s)
        return fold_nd(cols, output_size, k, d, p, s)

    @staticmethod
    def backward(ctx, g):
        k, d, p, s = ctx.args
        return unfold_nd(g, k, d, p, s)


def _settings(fn: str, n: int, kernel_size, dilation, padding, stride):
    k = ntuple(kernel_size, n, "kernel_size", fn)
    d = ntuple(dilation, n, "dilation", fn)
    p = ntuple(padding, n, "padding", fn)
    s = ntuple(stride, n, "stride", fn)
    for name, v, lo in (("kernel_size", k, 1), ("dilation", d, 1), ("stride", s, 1),
                        ("padding", p, 0)):
        if any(x < lo for x in v):
            raise ValueError(f"{fn}: every entry of '{name}' must be >= {lo}, got {v}")
    return k, d, p, s


def unfold(input, kernel_size, dilation=1, padding=0, stride=1):
    """Extracts sliding local blocks from a batched input (im2col;
    ``torch.nn.functional.unfold``, generalised to 1-d and 3-d).

    Args:
        input (Tensor): ``(N, C, *spatial)`` or unbatched ``(C, *spatial)``.
        kernel_size (int or tuple): size of the blocks. The number of spatial dimensions is the
            length of the first tuple among kernel_size, dilation, padding, stride (2 if all ints).
        dilation (int or tuple): spacing of the elements inside a block. Default: 1
        padding (int or tuple): implicit zero padding on both sides. Default: 0
        stride (int or tuple): step between blocks. Default: 1

    Shape:
        - Input: :math:`(N, C, *)`
        - Output: :math:`(N, C \\times \\prod(\\text{kernel\\_size}), L)` with
          :math:`L = \\prod_d \\lfloor (\\text{size}_d + 2p_d - d_d(k_d - 1) - 1)/s_d \\rfloor + 1`;
          rows are channel-major, then kernel offsets in C order.

    Example::

        >>> F.unfold(convnp.randn(2, 3, 4, 5), kernel_size=(2, 3)).shape
        (2, 18, 9)
    """
    from convnp.tensor import Tensor

    fn = "unfold"
    if not isinstance(input, Tensor):
        raise TypeError(f"{fn}: 'input' must be a Tensor, got {type(input).__name__}")
    n = _ndim_of(kernel_size, dilation, padding, stride)
    k, d, p, s = _settings(fn, n, kernel_size, dilation, padding, stride)
    if input.ndim not in (n + 1, n + 2):
        raise RuntimeError(f"{fn}: expected a {n + 1}-d (unbatched) or {n + 2}-d (batched) input "
                           f"for {n}-d blocks (kernel_size={k}), got shape {tuple(input.shape)}")
    unbatched = input.ndim == n + 1
    x = input.unsqueeze(0) if unbatched else input
    spatial = tuple(x.shape[2:])
    blocks = _block_grid(spatial, k, d, p, s)
    if any(b < 1 for b in blocks):
        raise RuntimeError(f"{fn}: given input with spatial size {spatial}, kernel_size={k}, "
                           f"dilation={d}, padding={p}, calculated shape of the array of sliding "
                           f"blocks as {blocks}, but its components must be at least one.")
    out = Unfold.apply(x, k=k, d=d, p=p, s=s)
    return out.squeeze(0) if unbatched else out


def fold(input, output_size, kernel_size, dilation=1, padding=0, stride=1):
    """Combines an array of sliding local blocks into a tensor, summing overlaps (col2im;
    ``torch.nn.functional.fold``, generalised to 1-d and 3-d). The adjoint of :func:`unfold`.

    Args:
        input (Tensor): ``(N, C * prod(kernel_size), L)`` or unbatched ``(C * prod(k), L)``.
        output_size (int or tuple): spatial shape of the output.
        kernel_size, dilation, padding, stride: as in :func:`unfold`.

    Shape:
        - Input: :math:`(N, C \\times \\prod(\\text{kernel\\_size}), L)`
        - Output: :math:`(N, C, *\\text{output\\_size})`; ``L`` must equal the number of blocks
          that :func:`unfold` would extract from that output size.

    Example::

        >>> F.fold(convnp.randn(1, 12, 12), output_size=(4, 5), kernel_size=2).shape
        (1, 3, 4, 5)
    """
    from convnp.tensor import Tensor

    fn = "fold"
    if not isinstance(input, Tensor):
        raise TypeError(f"{fn}: 'input' must be a Tensor, got {type(input).__name__}")
    n = _ndim_of(output_size, kernel_size, dilation, padding, stride)
    osz = ntuple(output_size, n, "output_size", fn, minimum=1)
    k, d, p, s = _settings(fn, n, kernel_size, dilation, padding, stride)
    if input.ndim not in (2, 3):
        raise RuntimeError(f"{fn}: expected a 2-d (unbatched) or 3-d (batched) input "
                           f"(N, C*prod(kernel_size), L), got shape {tuple(input.shape)}")
    unbatched = input.ndim == 2
    x = input.unsqueeze(0) if unbatched else input
    K = math.prod(k)
    if x.shape[1] % K:
        raise RuntimeError(f"{fn}: expected size of input's dimension {1 - unbatched} to be "
                           f"divisible by the product of kernel_size, but got "
                           f"input.size({1 - unbatched})={x.shape[1]} and kernel_size={k}.")
    blocks = _block_grid(osz, k, d, p, s)
    if any(b < 1 for b in blocks) or math.prod(blocks) != x.shape[2]:
        raise RuntimeError(
            f"{fn}: given output_size={osz}, kernel_size={k}, dilation={d}, padding={p}, "
            f"stride={s}, expected size of input's dimension {2 - unbatched} to match the "
            f"calculated number of sliding blocks {' * '.join(map(str, blocks))} = "
            f"{math.prod(blocks)}, but got input.size({2 - unbatched})={x.shape[2]}.")
    out = Fold.apply(x, output_size=osz, k=k, d=d, p=p, s=s)
    return out.squeeze(0) if unbatched else out
