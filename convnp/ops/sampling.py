"""Spatial transformer sampling: ``affine_grid`` and ``grid_sample`` (bilinear / nearest,
padding zeros / border / reflection, 2-d and 3-d in one N-d core).

Both compose differentiable ops: the sampling weights are built from the grid tensor, the
values are gathered from the input, so gradients reach both the input and the grid (the grid's
through the bilinear weights and the padding transforms, as torch's kernels compute them)."""

from __future__ import annotations

import itertools

import numpy as np

from convnp.autograd.function import Function
from convnp.ops import elementwise as E

__all__ = ["affine_grid", "grid_sample"]


def _t():
    from convnp.tensor import Tensor

    return Tensor


def _base(n: int, align_corners: bool, dtype) -> np.ndarray:
    """Normalised pixel-centre coordinates in [-1, 1] along one axis of ``n`` pixels."""
    if n <= 1:
        return np.zeros(max(n, 0), dtype)
    if align_corners:
        return np.linspace(-1, 1, n).astype(dtype)
    return ((np.arange(n) * 2 + 1) / n - 1).astype(dtype)


class _GridPassive(Function):
    """Returns ``out``; the grid gets a zero gradient (torch's for ``mode='nearest'``)."""

    @staticmethod
    def forward(ctx, out, grid):
        ctx.grid_shape = grid.shape
        return out

    @staticmethod
    def backward(ctx, g):
        return g, np.zeros(ctx.grid_shape, g.dtype)


def affine_grid(theta, size, align_corners=None):
    r"""Sampling grids for ``grid_sample`` from affine matrices: ``theta`` ``(N, 2, 3)`` with
    ``size`` ``(N, C, H, W)`` gives ``(N, H, W, 2)``; ``(N, 3, 4)`` with ``(N, C, D, H, W)``
    gives ``(N, D, H, W, 3)``. Each output point is ``theta @ [x, y, (z,) 1]`` over the
    normalised output coordinates."""
    from convnp.ops.linalg import matmul

    align_corners = bool(align_corners)
    size = tuple(size)
    nd = len(size) - 2
    if nd not in (2, 3) or theta.ndim != 3 or theta.shape[1:] != (nd, nd + 1):
        raise ValueError(f"affine_grid: expected theta (N, 2, 3) with size (N, C, H, W) or theta "
                         f"(N, 3, 4) with size (N, C, D, H, W); got theta "
                         f"{tuple(theta.shape)} and size {list(size)}")
    if theta.shape[0] != size[0]:
        raise ValueError(f"affine_grid: theta has batch {theta.shape[0]} but size asks for "
                         f"{size[0]}")
    if theta.dtype.kind != "f":
        raise ValueError(f"affine_grid: theta must be a float tensor, got {theta.dtype}")
    spatial = size[2:]
    axes = [_base(n, align_corners, theta.dtype) for n in spatial]  # (D,) H, W
    mesh = np.meshgrid(*axes, indexing="ij")
    # coordinates in x (W), y (H), z (D) order, then the homogeneous 1
    base = np.stack([*reversed(mesh), np.ones(spatial, theta.dtype)], axis=-1)
    base = base.reshape(1, -1, nd + 1)  # (1, prod(spatial), nd+1)
    grid = matmul(_t()._wrap(base), theta.transpose(1, 2))  # (N, prod(spatial), nd)
    return grid.reshape((size[0],) + spatial + (nd,))


def _unnormalize(coord, size, align_corners):
    if align_corners:
        return E.mul(E.add(coord, 1), (size - 1) / 2)
    return E.div(E.sub(E.mul(E.add(coord, 1), size), 1), 2)


def _reflect(x, twice_low, twice_high):
    from convnp.ops.pointwise import fmod

    if twice_low == twice_high:
        return E.mul(x, 0)
    lo = twice_low / 2
    span = (twice_high - twice_low) / 2
    x = E.abs(E.sub(x, lo))
    extra = fmod(x, span)
    flips = np.floor(x.array / span)
    even = _t()._wrap(flips % 2 == 0)
    return E.where(even, E.add(extra, lo), E.add(E.sub(span, extra), lo))


def _source_index(coord, size, padding_mode, align_corners):
    x = _unnormalize(coord, size, align_corners)
    if padding_mode == "border":
        x = E.clamp(x, 0, size - 1)
    elif padding_mode == "reflection":
        x = _reflect(x, 0, 2 * (size - 1)) if align_corners else _reflect(x, -1, 2 * size - 1)
        x = E.clamp(x, 0, size - 1)
    return x


def grid_sample(input, grid, mode: str = "bilinear", padding_mode: str = "zeros",
                align_corners=None):
    r"""Sample ``input`` at the normalised locations ``grid`` (``[-1, 1]``: the input's
    extent; ``grid[..., 0]`` is x, the last input dim).

    Args:
        input: ``(N, C, H, W)`` or ``(N, C, D, H, W)``.
        grid: ``(N, H_out, W_out, 2)`` or ``(N, D_out, H_out, W_out, 3)``.
        mode: 'bilinear' (trilinear for 5-d) or 'nearest' ('bicubic' is not supported).
        padding_mode: 'zeros', 'border' or 'reflection' for locations outside the input.
        align_corners: -1 and 1 are the corner pixels' centres (True) or the corners' outer
            edges (False, the default).

    Shape: ``(N, C, H_out, W_out)`` (or ``(N, C, D_out, H_out, W_out)``).
    """
    from convnp.ops.indexing import gather

    align_corners = bool(align_corners)
    if mode not in ("bilinear", "nearest", "bicubic"):
        raise ValueError(f"grid_sample: mode must be 'bilinear', 'nearest' or 'bicubic', got "
                         f"{mode!r}")
    if mode == "bicubic":
        raise NotImplementedError("grid_sample(mode='bicubic') is not supported by convnp; use "
                                  "'bilinear' or 'nearest'")
    if padding_mode not in ("zeros", "border", "reflection"):
        raise ValueError(f"grid_sample: padding_mode must be 'zeros', 'border' or 'reflection', "
                         f"got {padding_mode!r}")
    nd = input.ndim - 2
    if nd not in (2, 3) or grid.ndim != nd + 2 or grid.shape[-1] != nd or \
            grid.shape[0] != input.shape[0]:
        raise RuntimeError(f"grid_sample: expected input (N, C, H, W) with grid (N, H_out, W_out,"
                           f" 2), or 5-d input with grid (N, D_out, H_out, W_out, 3); got input "
                           f"{tuple(input.shape)} and grid {tuple(grid.shape)}")
    n, c = input.shape[:2]
    spatial = input.shape[2:]
    out_spatial = grid.shape[1:-1]
    m = int(np.prod(out_spatial))
    # source coordinates per input axis (axis k of spatial uses grid[..., nd - 1 - k])
    coords = [_source_index(grid[..., nd - 1 - k], spatial[k], padding_mode, align_corners)
              for k in range(nd)]
    flat_in = input.reshape(n, c, -1)
    strides = np.cumprod((1,) + tuple(reversed(spatial[1:])))[::-1]

    def fetch(idx_list):
        """Values at integer positions (zero where outside), shape (N, C, M)."""
        valid = np.ones((n,) + tuple(out_spatial), bool)
        flat = np.zeros((n,) + tuple(out_spatial), np.int64)
        for k, ik in enumerate(idx_list):
            valid &= (ik >= 0) & (ik < spatial[k])
            flat += np.clip(ik, 0, spatial[k] - 1) * int(strides[k])
        index = np.broadcast_to(flat.reshape(n, 1, m), (n, c, m))
        vals = gather(flat_in, 2, _t()._wrap(index))
        return vals, valid.reshape(n, 1, m)

    if mode == "nearest":
        idx = [np.rint(x.array).astype(np.int64) for x in coords]
        vals, valid = fetch(idx)
        out = E.mul(vals, valid.astype(input.dtype)).reshape((n, c) + tuple(out_spatial))
        return _GridPassive.apply(out, grid)
    lows = [np.floor(x.array).astype(np.int64) for x in coords]
    out = None
    for corner in itertools.product((0, 1), repeat=nd):
        idx = [lo + o for lo, o in zip(lows, corner)]
        weight = None
        for x, lo, o in zip(coords, lows, corner):
            # weight of the upper neighbour: x - lo; of the lower one: lo + 1 - x
            w = E.sub(x, lo.astype(x.dtype)) if o else E.sub((lo + 1).astype(x.dtype), x)
            weight = w if weight is None else E.mul(weight, w)
        vals, valid = fetch(idx)
        term = E.mul(E.mul(vals, weight.reshape(n, 1, m)), valid.astype(input.dtype))
        out = term if out is None else E.add(out, term)
    return out.reshape((n, c) + tuple(out_spatial))
