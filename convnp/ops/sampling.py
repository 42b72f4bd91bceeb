"""Sampling at arbitrary points: ``grid_sample`` and ``affine_grid``.

``grid_sample`` reads the input at the points of a grid of normalised coordinates in [-1, 1]. Each
output point is a weighted sum of a few input pixels (1 for nearest, 2 per axis for (tri)linear,
4 per axis for bicubic): the op first builds that *sampling table*, flat pixel indices ``idx`` and
weights ``w`` of shape ``(N, P, T)`` with PyTorch's exact coordinate rules (unnormalisation,
border / reflection padding, out-of-range taps dropped), then applies it. Backward scatters the
upstream gradient with the same table (input gradient) and differentiates the weights (grid
gradient). The table is the whole arithmetic; applying it is a gather, done by a Numba kernel with
a NumPy reference beside it. The spherical convolutions (``convnp.sphere``) use the same tables.
"""

from __future__ import annotations

import itertools

import numpy as np

from convnp import backend
from convnp._dtype import is_floating
from convnp.autograd.function import Function

# the functional API (re-exported by convnp.nn.functional); the table helpers are imported by name
__all__ = ["grid_sample", "affine_grid"]

_prange = backend.prange  # numba.prange in the compiled kernels

_MODES = ("bilinear", "nearest", "bicubic")
_PADDING = ("zeros", "border", "reflection")
_CUBIC_A = -0.75  # PyTorch's (and OpenCV's) bicubic convolution constant


# ---------------------------------------------------------------------------- coordinate rules
def _unnormalize(u, size: int, align_corners: bool):
    """[-1, 1] -> pixel coordinate, and d(pixel)/d(u)."""
    if align_corners:
        return (u + 1) / 2 * (size - 1), (size - 1) / 2
    return ((u + 1) * size - 1) / 2, size / 2


def _clip(x, size: int):
    """Clip to [0, size-1]; gradient 1 strictly inside, 0 on and beyond the borders (as PyTorch)."""
    hi = size - 1
    return np.clip(x, 0, hi), ((x > 0) & (x < hi)).astype(x.dtype)


def _reflect(x, twice_low: int, twice_high: int):
    """Reflect ``x`` into [low, high] (bounds given doubled to stay integral), with its gradient."""
    if twice_low == twice_high:
        return np.zeros_like(x), np.zeros_like(x)
    lo, span = twice_low / 2, (twice_high - twice_low) / 2
    d = x - lo
    sign = np.where(d < 0, -1, 1).astype(x.dtype)
    d = np.abs(d)
    extra = np.fmod(d, span)
    even = (np.floor(d / span) % 2) == 0
    return np.where(even, extra + lo, span - extra + lo), np.where(even, sign, -sign)


def _pad_coordinate(x, size: int, padding_mode: str, align_corners: bool):
    """Apply border / reflection padding to a pixel coordinate; returns (coord, d coord/dx)."""
    if padding_mode == "border":
        return _clip(x, size)
    if padding_mode == "reflection":
        if align_corners:
            x, g1 = _reflect(x, 0, 2 * (size - 1))
        else:
            x, g1 = _reflect(x, -1, 2 * size - 1)
        x, g2 = _clip(x, size)
        return x, g1 * g2
    return x, np.ones_like(x)


def _cubic(t):
    """The four bicubic weights for fractional offset ``t`` and their derivatives in ``t``."""
    A = _CUBIC_A

    def c1(x):  # |x| <= 1
        return ((A + 2) * x - (A + 3)) * x * x + 1

    def c2(x):  # 1 < |x| < 2
        return ((A * x - 5 * A) * x + 8 * A) * x - 4 * A

    def d1(x):
        return (3 * (A + 2) * x - 2 * (A + 3)) * x

    def d2(x):
        return (3 * A * x - 10 * A) * x + 8 * A

    w = [c2(t + 1), c1(t), c1(1 - t), c2(2 - t)]
    dw = [d2(t + 1), d1(t), -d1(1 - t), -d2(2 - t)]
    return w, dw


def _axis_taps(u, size: int, mode: str, padding_mode: str, align_corners: bool):
    """Taps along one axis: a list of (index, valid, weight, d weight / d u) arrays."""
    x, du = _unnormalize(u, size, align_corners)
    if mode == "bicubic":
        # bicubic pads each tap's index, not the sampling point (PyTorch's rule)
        i0 = np.floor(x)
        w, dw = _cubic(x - i0)
        taps = []
        for k in range(4):
            xi = i0 - 1 + k
            if padding_mode != "zeros":
                xi, _ = _pad_coordinate(xi, size, padding_mode, align_corners)
            taps.append((xi, w[k], dw[k] * du))
    else:
        x, dpad = _pad_coordinate(x, size, padding_mode, align_corners)
        du = du * dpad
        if mode == "nearest":
            zero = np.zeros_like(x)
            taps = [(np.rint(x), zero + 1, zero)]  # rint: round half to even, as nearbyint
        else:
            i0 = np.floor(x)
            f = x - i0
            taps = [(i0, 1 - f, -du + 0 * f), (i0 + 1, f, du + 0 * f)]
    out = []
    for xi, w, dw in taps:
        valid = (xi >= 0) & (xi <= size - 1)
        idx = np.where(valid, xi, 0).astype(np.int64)
        out.append((idx, valid, w, dw))
    return out


def sampling_table(grid: np.ndarray, sizes: tuple, mode: str = "bilinear",
                   padding_mode: str = "zeros", align_corners: bool = False,
                   with_grad: bool = False):
    """The sampling table of ``grid_sample``.

    Args:
        grid: ``(N, *out, d)`` normalised coordinates, last axis ordered (x, y[, z]) as PyTorch's.
        sizes: the input's spatial sizes ``(H, W)`` or ``(D, H, W)``.

    Returns:
        ``idx`` (N, P, T) flat indices into the spatial input, ``w`` (N, P, T) weights (0 for taps
        outside the input), and, when ``with_grad``, ``dw`` (N, P, T, d): the derivative of each
        weight with respect to each grid coordinate.
    """
    d = len(sizes)
    n = grid.shape[0]
    g = grid.reshape(n, -1, d)
    # axis a of the input (…, D, H, W) is grid component d-1-a
    per_axis = [_axis_taps(g[..., d - 1 - a], sizes[a], mode, padding_mode, align_corners)
                for a in range(d)]
    strides = [int(np.prod(sizes[a + 1:])) for a in range(d)]
    idx, w, dw = [], [], []
    for combo in itertools.product(*per_axis):
        flat = sum(t[0] * s for t, s in zip(combo, strides))
        valid = np.logical_and.reduce([t[1] for t in combo])
        ws = [t[2] for t in combo]
        idx.append(flat)
        w.append(np.where(valid, np.prod(ws, axis=0), 0))
        if with_grad:
            # d w / d (grid component d-1-a) = dw_a * prod of the other axes' weights
            parts = []
            for comp in range(d):
                a = d - 1 - comp
                others = [ws[b] for b in range(d) if b != a]
                prod = combo[a][3] * (np.prod(others, axis=0) if others else 1)
                parts.append(np.where(valid, prod, 0))
            dw.append(np.stack(parts, -1))
    idx = np.stack(idx, -1)
    w = np.stack(w, -1).astype(grid.dtype, copy=False)
    if not with_grad:
        return idx, w
    return idx, w, np.stack(dw, -2).astype(grid.dtype, copy=False)


# ---------------------------------------------------------------------------- applying a table
def _gather_ref(x, idx, w):
    """``out[n, c, p] = sum_t w[n, p, t] * x[n, c, idx[n, p, t]]`` (x flat: (N, C, L))."""
    rows = np.arange(x.shape[0])[:, None, None]
    taps = x.transpose(0, 2, 1)[rows, idx]                  # (N, P, T, C)
    return np.einsum("nptc,npt->ncp", taps, w)


def _scatter_ref(g, idx, w, length: int):
    """Adjoint of ``_gather_ref``: ``gx[n, c, idx[n, p, t]] += w[n, p, t] * g[n, c, p]``."""
    n, c, _ = g.shape
    gx = np.zeros((n, length, c), g.dtype)
    rows = np.broadcast_to(np.arange(n)[:, None, None], idx.shape)
    np.add.at(gx, (rows, idx), w[..., None] * g.transpose(0, 2, 1)[:, :, None, :])
    return gx.transpose(0, 2, 1)


@backend.jit(parallel=True)
def _table_nb(x, idx, w, out, adjoint):
    """Numba twin of ``_gather_ref`` (``out`` from ``x``), or with ``adjoint`` of
    ``_scatter_ref`` (``x += `` the transpose applied to ``out``); parallel over images and
    channels, so the scatter never races. ``x`` is (N, C, L), ``out`` (N, C, P)."""
    N, C = out.shape[0], out.shape[1]
    P, T = idx.shape[1], idx.shape[2]
    for nc in _prange(N * C):
        n, c = nc // C, nc % C
        xr, orow = x[n, c], out[n, c]
        for p in range(P):
            if adjoint:
                v = orow[p]
                for t in range(T):
                    xr[idx[n, p, t]] += w[n, p, t] * v
            else:
                acc = w[n, p, 0] * xr[idx[n, p, 0]]
                for t in range(1, T):
                    acc += w[n, p, t] * xr[idx[n, p, t]]
                orow[p] = acc


def apply_table(x: np.ndarray, idx: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Gather ``(N, C, L) -> (N, C, P)`` through a sampling table (``idx``, ``w``: (N, P, T))."""
    if backend.use_numba() and x.dtype in (np.float32, np.float64):
        out = np.empty((x.shape[0], x.shape[1], idx.shape[1]), x.dtype)
        _table_nb(np.ascontiguousarray(x), idx, w.astype(x.dtype, copy=False), out, False)
        return out
    return _gather_ref(x, idx, w).astype(x.dtype, copy=False)


def apply_table_adjoint(g: np.ndarray, idx: np.ndarray, w: np.ndarray, length: int) -> np.ndarray:
    """The transpose of :func:`apply_table`: ``(N, C, P) -> (N, C, L)``."""
    if backend.use_numba() and g.dtype in (np.float32, np.float64):
        gx = np.zeros((g.shape[0], g.shape[1], length), g.dtype)
        _table_nb(gx, idx, w.astype(g.dtype, copy=False), np.ascontiguousarray(g), True)
        return gx
    return _scatter_ref(g, idx, w, length).astype(g.dtype, copy=False)


class GridSample(Function):
    half_in_float32 = True  # einsum has no bfloat16 loop; interpolate in float32 as torch

    @staticmethod
    def forward(ctx, x, grid, mode, padding_mode, align_corners):
        n, c, *sizes = x.shape
        need_grid = ctx.needs_input_grad[1]
        table = sampling_table(grid, tuple(sizes), mode, padding_mode, align_corners,
                               with_grad=need_grid)
        xf = x.reshape(n, c, -1)                            # (N, C, L)
        out = apply_table(xf, table[0], table[1])           # (N, C, P)
        ctx.table = table
        ctx.shapes = (x.shape, grid.shape)
        ctx.save_for_backward(xf if need_grid else None)
        return out.reshape(n, c, *grid.shape[1:-1])

    @staticmethod
    def backward(ctx, g):
        (xshape, gshape), table = ctx.shapes, ctx.table
        (xf,) = ctx.saved_tensors
        n, c = xshape[:2]
        gf = g.reshape(n, c, -1)                            # (N, C, P)
        gx = ggrid = None
        if ctx.needs_input_grad[0]:
            gx = apply_table_adjoint(gf, table[0], table[1], xf.shape[2] if xf is not None
                                     else int(np.prod(xshape[2:]))).reshape(xshape)
        if ctx.needs_input_grad[1]:
            idx, _, dw = table
            rows = np.arange(n)[:, None, None]
            taps = xf.transpose(0, 2, 1)[rows, idx]         # (N, P, T, C)
            # d out[n,c,p] / d grid[n,p,k] = sum_t x[n,c,idx] * dw[n,p,t,k]
            ggrid = np.einsum("ncp,nptc,nptk->npk", gf, taps, dw).reshape(gshape)
        return gx, ggrid, None, None, None


def _check_grid_sample(input, grid, mode, padding_mode, align_corners):
    if input.ndim not in (4, 5):
        raise ValueError(f"grid_sample: expected a 4-D (N, C, H, W) or 5-D (N, C, D, H, W) input, "
                         f"got shape {tuple(input.shape)}")
    d = input.ndim - 2
    if grid.ndim != input.ndim or grid.shape[-1] != d:
        raise ValueError(f"grid_sample: for a {input.ndim}-D input the grid must have shape "
                         f"(N, {', '.join('out' for _ in range(d))}, {d}); got "
                         f"{tuple(grid.shape)}")
    if grid.shape[0] != input.shape[0]:
        raise ValueError(f"grid_sample: grid and input must have the same batch size; got "
                         f"{grid.shape[0]} and {input.shape[0]}")
    if mode not in _MODES:
        raise ValueError(f"grid_sample: mode must be one of {_MODES}, got {mode!r}")
    if mode == "bicubic" and d != 2:
        raise ValueError("grid_sample: mode='bicubic' needs a 4-D input (PyTorch's rule); use "
                         "'bilinear' or 'nearest' for volumes")
    if padding_mode not in _PADDING:
        raise ValueError(f"grid_sample: padding_mode must be one of {_PADDING}, got "
                         f"{padding_mode!r}")
    if not is_floating(input.dtype) or not is_floating(grid.dtype):
        raise TypeError(f"grid_sample: expected floating-point input and grid, got "
                        f"{input.dtype} and {grid.dtype}")


def grid_sample(input, grid, mode: str = "bilinear", padding_mode: str = "zeros",
                align_corners: bool | None = None):
    """Sample ``input`` at the normalised coordinates of ``grid`` (PyTorch's ``grid_sample``).

    ``grid[n, ..., :]`` holds (x, y) or (x, y, z) in [-1, 1], where -1 is the left/top edge and
    +1 the right/bottom edge: the centres of the corner pixels when ``align_corners=True``, their
    outer edges when ``False`` (the default).

    Args:
        input: ``(N, C, H_in, W_in)`` or ``(N, C, D_in, H_in, W_in)``.
        grid: ``(N, H_out, W_out, 2)`` or ``(N, D_out, H_out, W_out, 3)``.
        mode: ``'bilinear'`` (trilinear for volumes), ``'nearest'`` or ``'bicubic'`` (4-D only).
        padding_mode: what points outside the input read: ``'zeros'``, ``'border'`` (the nearest
            edge pixel) or ``'reflection'`` (the input mirrored at its edges).
        align_corners: see above; ``None`` means ``False``, as PyTorch.

    Shape:
        Output: ``(N, C, H_out, W_out)`` or ``(N, C, D_out, H_out, W_out)``.

    Example:
        >>> x = convnp.arange(16.).reshape(1, 1, 4, 4)
        >>> theta = convnp.tensor([[[1., 0, 0], [0, 1, 0]]])
        >>> F.grid_sample(x, F.affine_grid(theta, (1, 1, 4, 4), align_corners=False),
        ...               align_corners=False).equal(x)
        True
    """
    from convnp.tensor import Tensor

    input = input if isinstance(input, Tensor) else Tensor(input)
    grid = grid if isinstance(grid, Tensor) else Tensor(grid)
    _check_grid_sample(input, grid, mode, padding_mode, align_corners)
    if grid.dtype != input.dtype:
        raise TypeError(f"grid_sample: grid dtype {grid.dtype} differs from input dtype "
                        f"{input.dtype}; cast one of them")
    return GridSample.apply(input, grid, mode, padding_mode, bool(align_corners))


def _base_grid(sizes: tuple, align_corners: bool, dtype) -> np.ndarray:
    """Homogeneous pixel-centre coordinates ``(*sizes, d + 1)``, last axis (x, y[, z], 1)."""
    axes = []
    for s in sizes:
        v = np.linspace(-1, 1, s, dtype=np.float64) if s > 1 else np.zeros(1)
        axes.append(v if align_corners else v * (s - 1) / s)
    mesh = np.meshgrid(*axes, indexing="ij")               # each (*sizes)
    comps = [mesh[a] for a in reversed(range(len(sizes)))]  # x first
    return np.stack(comps + [np.ones(sizes)], -1).astype(dtype)


def affine_grid(theta, size, align_corners: bool | None = None):
    """The sampling grid of an affine map, for :func:`grid_sample` (PyTorch's ``affine_grid``).

    Args:
        theta: ``(N, 2, 3)`` for 2-d or ``(N, 3, 4)`` for 3-d affine matrices, acting on
            normalised (x, y[, z], 1) coordinates.
        size: the target output size ``(N, C, H, W)`` or ``(N, C, D, H, W)``.
        align_corners: as in :func:`grid_sample`; ``None`` means ``False``.

    Shape:
        Output: ``(N, H, W, 2)`` or ``(N, D, H, W, 3)``.
    """
    from convnp.tensor import Tensor

    theta = theta if isinstance(theta, Tensor) else Tensor(theta)
    size = tuple(int(s) for s in size)
    if len(size) not in (4, 5):
        raise ValueError(f"affine_grid: size must be (N, C, H, W) or (N, C, D, H, W), got {size}")
    d = len(size) - 2
    if not is_floating(theta.dtype):
        raise TypeError(f"affine_grid: expected a floating-point theta, got {theta.dtype}")
    if tuple(theta.shape) != (size[0], d, d + 1):
        raise ValueError(f"affine_grid: for size {size} theta must have shape "
                         f"({size[0]}, {d}, {d + 1}); got {tuple(theta.shape)}")
    if min(size) <= 0:
        raise ValueError(f"affine_grid: every size must be positive, got {size}")
    base = Tensor._wrap(_base_grid(size[2:], bool(align_corners), theta.dtype).reshape(-1, d + 1))
    # (P, d+1) @ (N, d+1, d) -> (N, P, d)
    grid = base.matmul(theta.transpose(1, 2))
    return grid.reshape(size[0], *size[2:], d)


# ---------------------------------------------------------------------------- fixed tables
class TableSample(Function):
    """Apply one sampling table, shared by every image and channel: ``(N, C, L) -> (N, C, P)``."""

    @staticmethod
    def forward(ctx, x, idx, w):
        n, c, length = x.shape
        ctx.shape = (n, c, length)
        ctx.table = (idx, w)
        out = apply_table(x.reshape(1, n * c, length), idx[None], w[None])
        return out.reshape(n, c, idx.shape[0])

    @staticmethod
    def backward(ctx, g):
        (n, c, length), (idx, w) = ctx.shape, ctx.table
        gx = apply_table_adjoint(g.reshape(1, n * c, -1), idx[None], w[None], length)
        return gx.reshape(n, c, length), None, None


def table_sample(x, idx: np.ndarray, w: np.ndarray):
    """Read ``x`` ``(N, C, L)`` through a fixed sampling table: ``out[n, c, p] = sum_t w[p, t] *
    x[n, c, idx[p, t]]`` (``idx``, ``w``: ``(P, T)``), differentiable in ``x``. Spherical
    convolutions, mesh operators and resampling onto meshes are all such tables."""
    return TableSample.apply(x, np.ascontiguousarray(idx, np.int64),
                             np.ascontiguousarray(w, x.dtype))
