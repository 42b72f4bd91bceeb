"""Shape ops beyond ``movement.py``'s core: torch's stacking/splitting helpers (hstack,
tensor_split, unbind, ...), movedim / swapaxes, tile, roll, rot90, repeat_interleave,
diagonal / tril / triu, broadcast_*, atleast_*, meshgrid. Nearly all compose the
differentiable core (reshape, permute, getitem, cat, expand), so their gradients come from it;
``Roll`` and ``Diagonal`` are Functions.
"""

from __future__ import annotations

import numpy as np

from convnp.autograd.function import Function
from convnp.ops import movement as M
from convnp.ops.reduction import normalize_dims

__all__ = ["movedim", "moveaxis", "swapaxes", "swapdims", "adjoint", "t", "tile", "unbind",
           "tensor_split", "hsplit", "vsplit", "dsplit", "hstack", "vstack", "row_stack",
           "dstack", "column_stack", "atleast_1d", "atleast_2d", "atleast_3d", "broadcast_to",
           "broadcast_tensors", "broadcast_shapes", "ravel", "fliplr", "flipud", "roll", "rot90",
           "repeat_interleave", "diagonal", "diag", "diag_embed", "diagflat", "tril", "triu",
           "meshgrid", "cartesian_prod", "view_as", "squeeze", "unsqueeze"]

squeeze, unsqueeze = M.squeeze, M.unsqueeze


def _dims(dims, ndim, fn):
    dims = (dims,) if isinstance(dims, (int, np.integer)) else tuple(dims)
    out = [normalize_dims(d, ndim, fn)[0] for d in dims]
    if len(set(out)) != len(out):
        raise RuntimeError(f"{fn}: repeated dim in {list(dims)}")
    return out


def movedim(input, source, destination):
    """Move dims ``source`` to positions ``destination`` (others keep their order)."""
    src = _dims(source, input.ndim, "movedim")
    dst = _dims(destination, input.ndim, "movedim")
    if len(src) != len(dst):
        raise RuntimeError(f"movedim: source ({len(src)} dims) and destination "
                           f"({len(dst)} dims) must have the same number of dims")
    order = [d for d in range(input.ndim) if d not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return M.permute(input, *order)


moveaxis = movedim


def swapaxes(input, axis0, axis1):
    """Swap two dims (``transpose``)."""
    return M.transpose(input, axis0, axis1)


swapdims = swapaxes


def t(input):
    """Transpose of a matrix (0-d and 1-d tensors come back unchanged)."""
    if input.ndim > 2:
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, got {input.ndim}")
    return M.transpose(input, 0, -1) if input.ndim == 2 else input


def adjoint(input):
    """Transpose of the last two dims (the conjugate is the identity on real tensors)."""
    if input.ndim < 2:
        raise RuntimeError(f"adjoint: expected a tensor with at least 2 dims, got {input.ndim}")
    return M.transpose(input, -2, -1)


def tile(input, dims):
    """Repeat ``input`` ``dims[i]`` times along each dim (leading 1s added as needed)."""
    dims = tuple(dims)
    if len(dims) < input.ndim:
        dims = (1,) * (input.ndim - len(dims)) + dims
    return input.repeat(*dims)


def unbind(input, dim=0):
    """The tuple of slices along ``dim`` (that dim removed)."""
    axis = normalize_dims(dim, input.ndim, "unbind")[0]
    return tuple(M.GetItem.apply(input, index=(slice(None),) * axis + (i,))
                 for i in range(input.shape[axis]))


def tensor_split(input, indices_or_sections, dim=0):
    """Split into ``n`` near-equal parts (the first ``size % n`` one larger) or at the listed
    indices, as ``numpy.array_split``."""
    from convnp.tensor import Tensor

    axis = normalize_dims(dim, input.ndim, "tensor_split")[0]
    n = input.shape[axis]
    ios = indices_or_sections
    if isinstance(ios, Tensor):
        ios = ios.array.tolist() if ios.ndim else int(ios.item())
    if isinstance(ios, (int, np.integer)):
        if ios <= 0:
            raise RuntimeError(f"tensor_split: number of sections must be positive, got {ios}")
        q, r = divmod(n, int(ios))
        bounds = np.cumsum([0] + [q + 1] * r + [q] * (int(ios) - r))
    else:
        bounds = [0] + [min(max(int(i), 0), n) for i in ios] + [n]
    out = []
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        hi = max(lo, hi)
        out.append(M.GetItem.apply(input, index=(slice(None),) * axis + (slice(lo, hi),)))
    return tuple(out)


def _split_dim(input, ios, dim, fn, min_ndim):
    if input.ndim < min_ndim:
        raise RuntimeError(f"{fn}: expected a tensor with at least {min_ndim} dims, got "
                           f"{input.ndim}")
    if isinstance(ios, (int, np.integer)) and input.shape[dim] % ios:
        raise RuntimeError(f"{fn}: dim {dim} of size {input.shape[dim]} is not divisible by "
                           f"{ios}")
    return tensor_split(input, ios, dim)


def hsplit(input, indices_or_sections):
    """``tensor_split`` along dim 1 (dim 0 for 1-d tensors); equal parts required."""
    return _split_dim(input, indices_or_sections, 1 if input.ndim > 1 else 0, "hsplit", 1)


def vsplit(input, indices_or_sections):
    """``tensor_split`` along dim 0 of a tensor with at least 2 dims; equal parts required."""
    return _split_dim(input, indices_or_sections, 0, "vsplit", 2)


def dsplit(input, indices_or_sections):
    """``tensor_split`` along dim 2 of a tensor with at least 3 dims; equal parts required."""
    return _split_dim(input, indices_or_sections, 2, "dsplit", 3)


def atleast_1d(*tensors):
    """Tensors with at least 1 dim (0-d becomes shape (1,))."""
    return _atleast(tensors, 1)


def atleast_2d(*tensors):
    """Tensors with at least 2 dims (a 1-d (n,) becomes (1, n))."""
    return _atleast(tensors, 2)


def atleast_3d(*tensors):
    """Tensors with at least 3 dims ((n,) -> (1, n, 1), (m, n) -> (m, n, 1))."""
    return _atleast(tensors, 3)


def _atleast(tensors, n):
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        return tuple(_atleast(tuple(tensors[0]), n))
    out = []
    for x in tensors:
        s = x.shape
        if x.ndim >= n:
            out.append(x)
            continue
        if n == 1:
            shape = (1,)
        elif n == 2:
            shape = (1,) * (2 - x.ndim) + tuple(s)
        else:
            shape = {0: (1, 1, 1), 1: (1, s[0], 1) if s else (1, 1, 1)}.get(x.ndim, tuple(s) + (1,))
        out.append(M.reshape(x, shape))
    return out[0] if len(out) == 1 else tuple(out)


def hstack(tensors):
    """Concatenate along dim 1 (dim 0 for 1-d tensors)."""
    ts = atleast_1d(*tensors)
    ts = ts if isinstance(ts, tuple) else (ts,)
    return M.cat(ts, 0 if ts[0].ndim == 1 else 1)


def vstack(tensors):
    """Concatenate the tensors made at least 2-d along dim 0."""
    ts = atleast_2d(*tensors)
    return M.cat(ts if isinstance(ts, tuple) else (ts,), 0)


row_stack = vstack


def dstack(tensors):
    """Concatenate the tensors made at least 3-d along dim 2."""
    ts = atleast_3d(*tensors)
    return M.cat(ts if isinstance(ts, tuple) else (ts,), 2)


def column_stack(tensors):
    """Stack 1-d tensors as columns (0-d / 1-d become (n, 1)), then ``hstack``."""
    ts = [M.reshape(x, (x.numel(), 1)) if x.ndim <= 1 else x for x in tensors]
    return M.cat(ts, 1)


def broadcast_to(input, size):
    """``input`` broadcast to ``size`` (``expand``)."""
    return M.expand(input, *size)


def broadcast_shapes(*shapes):
    """The shape the given shapes broadcast to."""
    from convnp._layout import Size

    try:
        return Size(np.broadcast_shapes(*[(s,) if isinstance(s, int) else tuple(s)
                                          for s in shapes]))
    except ValueError as e:
        raise RuntimeError(f"broadcast_shapes: shapes {list(shapes)} cannot be broadcast "
                           "together (sizes must match or be 1 in each trailing dim)") from e


def broadcast_tensors(*tensors):
    """The tensors expanded to their common broadcast shape."""
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    shape = broadcast_shapes(*[t.shape for t in tensors])
    return tuple(t if t.shape == shape else M.expand(t, *shape) for t in tensors)


def ravel(input):
    """The flattened tensor (``reshape(-1)``)."""
    return M.reshape(input, -1)


def fliplr(input):
    """Reverse dim 1 (left/right)."""
    if input.ndim < 2:
        raise RuntimeError("fliplr: input must have at least 2 dims")
    return M.flip(input, 1)


def flipud(input):
    """Reverse dim 0 (up/down)."""
    if input.ndim < 1:
        raise RuntimeError("flipud: input must have at least 1 dim")
    return M.flip(input, 0)


class Roll(Function):
    @staticmethod
    def forward(ctx, a, shifts, axes):
        ctx.shifts, ctx.axes = shifts, axes
        return np.roll(a, shifts, axes)

    @staticmethod
    def backward(ctx, g):
        return np.roll(g, tuple(-s for s in ctx.shifts) if ctx.axes is not None else
                       -ctx.shifts, ctx.axes)


def roll(input, shifts, dims=None):
    """Shift elements cyclically by ``shifts`` along ``dims`` (the flat tensor if None)."""
    if dims is None:
        if not isinstance(shifts, (int, np.integer)):
            shifts = tuple(shifts)
            if len(shifts) != 1:
                raise RuntimeError("roll: without dims, shifts must be one int")
            shifts = shifts[0]
        return M.reshape(Roll.apply(M.reshape(input, -1), shifts=int(shifts), axes=None),
                         input.shape)
    shifts = (shifts,) if isinstance(shifts, (int, np.integer)) else tuple(shifts)
    dims = (dims,) if isinstance(dims, (int, np.integer)) else tuple(dims)
    if len(shifts) != len(dims):
        raise RuntimeError(f"roll: shifts ({len(shifts)}) and dims ({len(dims)}) must have the "
                           "same length")
    axes = tuple(normalize_dims(d, input.ndim, "roll")[0] for d in dims)
    return Roll.apply(input, shifts=tuple(int(s) for s in shifts), axes=axes)


def rot90(input, k=1, dims=(0, 1)):
    """Rotate by 90 degrees ``k`` times in the plane of ``dims`` (from the first towards the
    second)."""
    d0, d1 = _dims(dims, input.ndim, "rot90")
    k %= 4
    if k == 1:
        return M.transpose(M.flip(input, d1), d0, d1)
    if k == 2:
        return M.flip(input, (d0, d1))
    if k == 3:
        return M.flip(M.transpose(input, d0, d1), d1)
    return input


def repeat_interleave(input, repeats=None, dim=None, *, output_size=None):
    """Repeat each element (or slice along ``dim``) ``repeats`` times; with a tensor alone,
    ``repeat_interleave(r)`` gives ``[0]*r[0] + [1]*r[1] + ...``."""
    from convnp.tensor import Tensor

    if repeats is None:  # torch.repeat_interleave(repeats)
        r = input.array
        return Tensor._wrap(np.repeat(np.arange(r.size, dtype=np.int64), r))
    if isinstance(repeats, Tensor):
        repeats = repeats.array
    x = input if dim is not None else M.reshape(input, -1)
    axis = 0 if dim is None else normalize_dims(dim, input.ndim, "repeat_interleave")[0]
    n = x.shape[axis]
    idx = np.repeat(np.arange(n), np.broadcast_to(np.asarray(repeats, np.int64), (n,)))
    return M.GetItem.apply(x, index=(slice(None),) * axis + (idx,))


class Diagonal(Function):
    @staticmethod
    def forward(ctx, a, offset, d1, d2):
        ctx.shape, ctx.args = a.shape, (offset, d1, d2)
        return np.diagonal(a, offset, d1, d2).copy()

    @staticmethod
    def backward(ctx, g):
        out = np.zeros(ctx.shape, g.dtype)
        offset, d1, d2 = ctx.args
        idx = _diag_positions(ctx.shape, offset, d1, d2)
        moved = np.moveaxis(out, (d1, d2), (-2, -1))
        moved[(Ellipsis,) + idx] = g
        return out


def _diag_positions(shape, offset, d1, d2):
    from convnp.ops.indexing import _diag_index

    return _diag_index(shape, offset, d1, d2)


def diagonal(input, offset=0, dim1=0, dim2=1):
    """The diagonal of the (``dim1``, ``dim2``) planes, appended as the last dim."""
    d1, d2 = _dims((dim1, dim2), input.ndim, "diagonal")
    return Diagonal.apply(input, offset=offset, d1=d1, d2=d2)


def diag_embed(input, offset=0, dim1=-2, dim2=-1):
    """A tensor whose (``dim1``, ``dim2``) diagonals are ``input``'s last dim."""
    from convnp.ops.indexing import diagonal_scatter
    from convnp.tensor import Tensor

    n = input.shape[-1] + abs(offset)
    shape = list(input.shape[:-1])
    nd = len(shape) + 2
    d1, d2 = (d % nd for d in (dim1, dim2))
    for d in sorted((d1, d2)):
        shape.insert(d, n)
    zeros = Tensor._wrap(np.zeros(shape, input.dtype))
    return diagonal_scatter(zeros, input, offset, d1, d2)


def diag(input, diagonal=0):
    """1-d input: the square matrix with it on the ``diagonal``; 2-d: that diagonal."""
    if input.ndim == 1:
        return diag_embed(input, diagonal, 0, 1)
    if input.ndim == 2:
        return Diagonal.apply(input, offset=diagonal, d1=0, d2=1)
    raise RuntimeError(f"diag: expected a 1-d or 2-d tensor, got {input.ndim} dims")


def diagflat(input, offset=0):
    """The flattened input as the ``offset`` diagonal of a square matrix."""
    return diag_embed(M.reshape(input, -1), offset, 0, 1)


def _tri(input, diagonal, lower, fn):
    from convnp.ops.elementwise import mul

    if input.ndim < 2:
        raise RuntimeError(f"{fn}: input tensor must have at least 2 dimensions")
    r, c = input.shape[-2:]
    keep = (np.tril if lower else np.triu)(np.ones((r, c), bool), diagonal)
    return mul(input, keep.astype(input.dtype)) if input.dtype != bool else \
        type(input)._wrap(input.array & keep)


def tril(input, diagonal=0):
    """The lower triangle (on and below ``diagonal``) of the last two dims; zeros above."""
    return _tri(input, diagonal, True, "tril")


def triu(input, diagonal=0):
    """The upper triangle (on and above ``diagonal``) of the last two dims; zeros below."""
    return _tri(input, diagonal, False, "triu")


def meshgrid(*tensors, indexing=None):
    """Coordinate grids from 1-d tensors; ``indexing`` 'ij' (matrix, torch's default) or 'xy'
    (Cartesian: the first two output dims swapped)."""
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    if indexing is None:
        indexing = "ij"
    if indexing not in ("ij", "xy"):
        raise ValueError(f"meshgrid: indexing must be 'ij' or 'xy', got {indexing!r}")
    for i, x in enumerate(tensors):
        if x.ndim > 1:
            raise RuntimeError(f"meshgrid: expected 0-d or 1-d tensors, tensor {i} has shape "
                               f"{tuple(x.shape)}")
    ts = [M.reshape(x, -1) for x in tensors]
    swap = indexing == "xy" and len(ts) >= 2
    if swap:
        ts[0], ts[1] = ts[1], ts[0]
    shape = tuple(x.shape[0] for x in ts)
    out = []
    for i, x in enumerate(ts):
        view = [1] * len(ts)
        view[i] = -1
        out.append(M.expand(M.reshape(x, view), *shape))
    if swap:
        out[0], out[1] = out[1], out[0]
    return tuple(out)


def cartesian_prod(*tensors):
    """All combinations of the 1-d tensors' elements, as rows (like itertools.product)."""
    grids = meshgrid(*tensors, indexing="ij")
    if len(grids) == 1:
        return tensors[0]
    return M.stack([M.reshape(g, -1) for g in grids], 1)


def view_as(input, other):
    """``input`` reshaped to ``other``'s shape."""
    return M.reshape(input, other.shape)
