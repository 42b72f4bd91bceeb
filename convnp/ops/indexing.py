"""Indexing ops: gather / scatter, index_* , masked_*, select / narrow / take, nonzero, and the
``*_scatter`` family. Two Functions carry the gradients: ``Put`` (write ``src`` into a copy of
``input`` at an index: the input's gradient is zero there, ``src``'s is the gradient read back
from there) and ``ScatterReduce`` (scatter with a reduction along a dim); everything else is a
read through ``GetItem`` (whose backward accumulates repeated indices).
"""

from __future__ import annotations

import numpy as np

from convnp._dtype import is_floating
from convnp._layout import normalize_dims
from convnp.autograd.function import Function
from convnp.ops.movement import GetItem, getitem, reshape

__all__ = ["gather", "take_along_dim", "take", "index_select", "masked_select", "narrow",
           "narrow_copy", "select", "nonzero", "argwhere", "scatter", "scatter_add",
           "scatter_reduce", "index_add", "index_copy", "index_fill", "index_reduce",
           "index_put", "masked_scatter", "masked_fill", "put", "select_scatter",
           "slice_scatter", "diagonal_scatter", "unravel_index"]


def _arr(x):
    from convnp.tensor import Tensor

    return x.array if isinstance(x, Tensor) else np.asarray(x)


def _dim(dim, ndim, fn):
    return normalize_dims(dim, ndim, fn)[0]


def _int_index(index, fn: str, name: str = "index") -> np.ndarray:
    idx = _arr(index)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"{fn}: '{name}' must be an integer (int64) tensor, got dtype {idx.dtype}")
    return idx.astype(np.int64, copy=False)


class Put(Function):
    """``out = input.copy(); out[index] = src`` (or ``+=`` with ``accumulate``)."""

    @staticmethod
    def forward(ctx, a, src, index, accumulate=False):
        out = a.copy()
        src = np.asarray(src, a.dtype)
        if accumulate:
            np.add.at(out, index, src)
        else:
            out[index] = src
        ctx.index, ctx.accumulate, ctx.src_shape = index, accumulate, np.shape(src)
        return out

    @staticmethod
    def backward(ctx, g):
        ga = gs = None
        if ctx.needs_input_grad[0]:
            ga = g
            if not ctx.accumulate:
                ga = g.copy()
                ga[ctx.index] = 0
        if ctx.needs_input_grad[1]:
            gs = g[ctx.index]
            if gs.shape != ctx.src_shape:  # src was broadcast into the indexed region
                gs = np.broadcast_to(gs, np.broadcast_shapes(gs.shape, ctx.src_shape))
        return ga, gs


def _along(index: np.ndarray, axis: int) -> tuple:
    """Fancy index equal to ``take_along_axis(., index, axis)`` (for scatters)."""
    grids = list(np.indices(index.shape, sparse=True))
    grids[axis] = index
    return tuple(grids)


class ScatterReduce(Function):
    """scatter with ``sum`` / ``prod`` / ``mean`` / ``amax`` / ``amin`` along ``axis``."""

    @staticmethod
    def forward(ctx, a, src, axis, index, reduce, include_self=True):
        where = _along(index, axis)
        ctx.src_full_shape = src.shape
        src = src[tuple(slice(0, s) for s in index.shape)]
        hit = np.zeros(a.shape, bool)
        hit[where] = True
        if reduce in ("sum", "mean"):
            out = a.copy() if include_self else np.where(hit, 0, a).astype(a.dtype)
            np.add.at(out, where, src)
            if reduce == "mean":
                count = np.zeros(a.shape, a.dtype) + (1 if include_self else 0)
                np.add.at(count, where, 1)
                count = np.where(hit, count, 1)
                out = out / count if is_floating(a.dtype) else out // count
                ctx.count = count
        elif reduce == "prod":
            out = a.copy() if include_self else np.where(hit, 1, a).astype(a.dtype)
            np.multiply.at(out, where, src)
        elif reduce in ("amax", "amin"):
            ufunc = np.maximum if reduce == "amax" else np.minimum
            fill = (-np.inf if reduce == "amax" else np.inf) if is_floating(a.dtype) else (
                np.iinfo(a.dtype).min if reduce == "amax" else np.iinfo(a.dtype).max)
            out = a.copy() if include_self else np.where(hit, fill, a).astype(a.dtype)
            ufunc.at(out, where, src)
        else:
            raise ValueError(f"scatter_reduce: reduce must be 'sum', 'prod', 'mean', 'amax' or "
                             f"'amin', got {reduce!r}")
        ctx.where, ctx.hit, ctx.reduce, ctx.include_self = where, hit, reduce, include_self
        ctx.src_shape = index.shape
        ctx.save_for_backward(a, src, out)
        return out

    @staticmethod
    def backward(ctx, g):
        a, src, out = ctx.saved_tensors
        r, where, hit = ctx.reduce, ctx.where, ctx.hit
        if r == "sum":
            ga = g if ctx.include_self else np.where(hit, 0, g)
            gs = g[where]
        elif r == "mean":
            gm = g / ctx.count
            ga = gm if ctx.include_self else np.where(hit, 0, g)
            gs = gm[where]
        elif r == "prod":
            with np.errstate(divide="ignore", invalid="ignore"):
                ga = np.where(hit, 0, g) if not ctx.include_self else g * out / a
                gs = (g * out)[where] / src
            if not (np.all(np.isfinite(ga)) and np.all(np.isfinite(gs))):
                raise NotImplementedError("scatter_reduce(reduce='prod'): the gradient with "
                                          "zeros among the reduced values is not supported")
        else:  # amax / amin: ties share the gradient evenly, as torch
            self_hit = (a == out) if ctx.include_self else ~hit
            src_hit = src == out[where]
            count = self_hit.astype(g.dtype)
            np.add.at(count, where, src_hit.astype(g.dtype))
            share = g / np.maximum(count, 1)
            ga = np.where(self_hit, share, 0)
            gs = np.where(src_hit, share[where], 0)
        gs_full = np.zeros(ctx.src_full_shape, g.dtype)
        gs_full[tuple(slice(0, s) for s in gs.shape)] = gs
        return (ga.astype(g.dtype, copy=False) if ctx.needs_input_grad[0] else None,
                gs_full.astype(g.dtype, copy=False) if ctx.needs_input_grad[1] else None)


def _check_scatter(input, dim, index, fn):
    axis = _dim(dim, input.ndim, fn)
    idx = _int_index(index, fn)
    if idx.ndim != input.ndim:
        raise RuntimeError(f"{fn}: index has {idx.ndim} dims but input has {input.ndim}; they "
                           "must have the same number of dimensions")
    n = input.shape[axis]
    if idx.size and (idx.min() < -n or idx.max() >= n):
        raise IndexError(f"{fn}: index out of range for dim {axis} of size {n} "
                         f"(got values in [{idx.min()}, {idx.max()}])")
    return axis, np.where(idx < 0, idx + n, idx)


def _src_tensor(src, input):
    from convnp.tensor import Tensor

    if isinstance(src, Tensor):
        return src
    return Tensor._wrap(np.asarray(src, input.dtype))


def scatter(input, dim, index, src=None, *, value=None, reduce=None):
    """Write ``src`` (or the scalar ``value``) into a copy of ``input`` at ``index`` along
    ``dim``: ``out[i][index[i][j]] = src[i][j]`` for ``dim=1``. ``reduce`` 'add' / 'multiply'
    combine instead of overwrite."""
    from convnp.tensor import Tensor

    if src is None and value is None:
        raise TypeError("scatter: pass 'src' (a tensor) or 'value' (a number)")
    if src is not None and not isinstance(src, Tensor):
        src, value = None, src
    axis, idx = _check_scatter(input, dim, index, "scatter")
    if src is None:
        src = Tensor._wrap(np.full(idx.shape, value, input.dtype))
    if reduce is not None:
        table = {"add": "sum", "multiply": "prod"}
        if reduce not in table:
            raise ValueError(f"scatter: reduce must be 'add' or 'multiply', got {reduce!r}")
        return scatter_reduce(input, dim, index, src, table[reduce])
    sl = tuple(slice(0, s) for s in idx.shape)
    return Put.apply(input, getitem(src, sl) if src.shape != idx.shape else src,
                     index=_along(idx, axis))


def scatter_add(input, dim, index, src):
    """``out[...index[i][j]...] += src[i][j]`` along ``dim`` (duplicates accumulate)."""
    return scatter_reduce(input, dim, index, src, "sum")


def scatter_reduce(input, dim, index, src, reduce, *, include_self=True):
    """Reduce ``src`` into a copy of ``input`` at ``index`` along ``dim`` with ``reduce`` one of
    'sum', 'prod', 'mean', 'amax', 'amin' (``include_self``: whether ``input``'s values take
    part)."""
    axis, idx = _check_scatter(input, dim, index, "scatter_reduce")
    src = _src_tensor(src, input)
    if any(i > s for i, s in zip(idx.shape, src.shape)):
        raise RuntimeError(f"scatter_reduce: index shape {tuple(idx.shape)} must not exceed src "
                           f"shape {tuple(src.shape)} in any dim")
    return ScatterReduce.apply(input, src, axis=axis, index=idx, reduce=reduce,
                               include_self=include_self)


def gather(input, dim, index, *, sparse_grad=False):
    """``out[i][j] = input[i][index[i][j]]`` for ``dim=1``."""
    axis = _dim(dim, input.ndim, "gather")
    idx = _int_index(index, "gather")
    n = input.shape[axis]
    if idx.size and (idx.min() < -n or idx.max() >= n):
        raise IndexError(f"gather: index out of range for dim {axis} of size {n}")
    return Gather.apply(input, axis=axis, index=idx)


def take_along_dim(input, indices, dim=None):
    """``gather`` with broadcasting of ``indices`` against ``input``; the flat input when ``dim``
    is None."""
    idx = _int_index(indices, "take_along_dim", "indices")
    if dim is None:
        return take(input, idx.reshape(-1))
    axis = _dim(dim, input.ndim, "take_along_dim")
    shape = list(np.broadcast_shapes(tuple(s for i, s in enumerate(input.shape) if i != axis),
                                     tuple(s for i, s in enumerate(idx.shape) if i != axis)))
    ishape, xshape = list(shape), list(shape)
    ishape.insert(axis, idx.shape[axis])
    xshape.insert(axis, input.shape[axis])
    x = input if tuple(xshape) == input.shape else input.expand(*xshape)
    from convnp.tensor import Tensor

    return gather(x, axis, Tensor._wrap(np.broadcast_to(idx, ishape)))


def take(input, index):
    """Elements of the flattened ``input`` at ``index`` (result has ``index``'s shape)."""
    idx = _int_index(index, "take")
    n = input.array.size
    if idx.size and (idx.min() < -n or idx.max() >= n):
        raise IndexError(f"take: index out of range for a tensor of {n} elements")
    return GetItem.apply(reshape(input, -1), index=idx)


def index_select(input, dim, index):
    """The slices of ``input`` along ``dim`` listed by the 1-d ``index``."""
    axis = _dim(dim, input.ndim, "index_select")
    idx = _int_index(index, "index_select")
    if idx.ndim > 1:
        raise IndexError(f"index_select: index must be 0-d or 1-d, got {idx.ndim} dims")
    return GetItem.apply(input, index=(slice(None),) * axis + (idx.reshape(-1),))


def masked_select(input, mask):
    """The 1-d tensor of ``input``'s elements where the bool ``mask`` (broadcast) is True."""
    m = _arr(mask)
    if m.dtype != bool:
        raise TypeError(f"masked_select: mask must be a bool tensor, got dtype {m.dtype}")
    shape = np.broadcast_shapes(input.shape, m.shape)
    x = input if input.shape == shape else input.expand(*shape)
    return GetItem.apply(x, index=np.broadcast_to(m, shape))


def narrow(input, dim, start, length):
    """``length`` elements of ``input`` along ``dim`` from ``start`` (a view in torch)."""
    axis = _dim(dim, input.ndim, "narrow")
    n = input.shape[axis]
    start = int(start)
    if start < 0:
        start += n
    if not (0 <= start <= n and 0 <= length and start + length <= n):
        raise IndexError(f"narrow: start ({start}) + length ({length}) exceeds dimension size "
                         f"({n}) of dim {axis}")
    return GetItem.apply(input, index=(slice(None),) * axis + (slice(start, start + length),))


narrow_copy = narrow


def select(input, dim, index):
    """The slice of ``input`` at ``index`` along ``dim`` (that dim removed)."""
    axis = _dim(dim, input.ndim, "select")
    n = input.shape[axis]
    if not -n <= index < n:
        raise IndexError(f"select: index {index} out of range for dim {axis} of size {n}")
    return GetItem.apply(input, index=(slice(None),) * axis + (int(index),))


def nonzero(input, *, as_tuple=False):
    """Indices of the nonzero elements: an (n, ndim) int64 tensor, or one tensor per dim."""
    from convnp.tensor import Tensor

    nz = np.nonzero(input.array)
    if as_tuple:
        return tuple(Tensor._wrap(i.astype(np.int64)) for i in nz)
    return Tensor._wrap(np.stack(nz, axis=1).astype(np.int64) if nz else
                        np.zeros((0, 0), np.int64))


def argwhere(input):
    """``nonzero(input)``: the (n, ndim) indices of the nonzero elements."""
    return nonzero(input)


def _index_axis(input, dim, index, fn):
    axis = _dim(dim, input.ndim, fn)
    idx = _int_index(index, fn).reshape(-1)
    n = input.shape[axis]
    if idx.size and (idx.min() < -n or idx.max() >= n):
        raise IndexError(f"{fn}: index out of range for dim {axis} of size {n}")
    return axis, (slice(None),) * axis + (idx,)


def index_add(input, dim, index, source, *, alpha=1):
    """``out = input`` with ``alpha * source[..., i, ...]`` added at ``index[i]`` along ``dim``."""
    axis, where = _index_axis(input, dim, index, "index_add")
    src = _src_tensor(source, input)
    if alpha != 1:
        src = src * alpha
    return Put.apply(input, src, index=where, accumulate=True)


def index_copy(input, dim, index, source):
    """``out = input`` with ``source``'s slices copied to ``index`` along ``dim``."""
    axis, where = _index_axis(input, dim, index, "index_copy")
    return Put.apply(input, _src_tensor(source, input), index=where)


def index_fill(input, dim, index, value):
    """``out = input`` with the slices at ``index`` along ``dim`` set to ``value``."""
    axis, where = _index_axis(input, dim, index, "index_fill")
    return Put.apply(input, _src_tensor(value, input), index=where)


def index_reduce(input, dim, index, source, reduce, *, include_self=True):
    """Reduce ``source``'s slices into ``input`` at ``index`` along ``dim`` ('prod', 'mean',
    'amax', 'amin')."""
    from convnp.tensor import Tensor

    axis, _ = _index_axis(input, dim, index, "index_reduce")
    idx = _int_index(index, "index_reduce").reshape(-1) % input.shape[axis]
    shape = [1] * source.ndim
    shape[axis] = -1
    full = np.broadcast_to(idx.reshape(shape), source.shape)
    return scatter_reduce(input, axis, Tensor._wrap(full), source, reduce,
                          include_self=include_self)


def index_put(input, indices, values, accumulate=False):
    """``out = input`` with ``out[indices] = values`` (``+=`` with ``accumulate``)."""
    index = tuple(_arr(i) for i in indices)
    return Put.apply(input, _src_tensor(values, input), index=index, accumulate=accumulate)


def masked_scatter(input, mask, source):
    """Copy ``source``'s leading elements, in order, into ``input`` where ``mask`` is True."""
    m = np.broadcast_to(_arr(mask), input.shape)
    count = int(m.sum())
    if source.numel() < count:
        raise RuntimeError(f"masked_scatter: the mask selects {count} elements but source has "
                           f"only {source.numel()}")
    flat = reshape(source, -1)
    return Put.apply(input, GetItem.apply(flat, index=slice(0, count)), index=m)


def masked_fill(input, mask, value):
    """``input`` with ``value`` where the bool ``mask`` (broadcast) is True."""
    from convnp.ops.elementwise import where

    m = _arr(mask)
    if m.dtype != bool:
        raise TypeError(f"masked_fill: mask must be a bool tensor, got dtype {m.dtype}")
    return where(m, value, input)


def put(input, index, source, accumulate=False):
    """``input.flatten()[index] = source`` (``+=`` with ``accumulate``), reshaped back."""
    idx = _int_index(index, "put").reshape(-1)
    out = Put.apply(reshape(input, -1), reshape(_src_tensor(source, input), -1), index=idx,
                    accumulate=accumulate)
    return reshape(out, input.shape)


def select_scatter(input, src, dim, index):
    """``input`` with its slice at ``index`` along ``dim`` replaced by ``src``."""
    axis = _dim(dim, input.ndim, "select_scatter")
    return Put.apply(input, src, index=(slice(None),) * axis + (int(index),))


def slice_scatter(input, src, dim=0, start=None, end=None, step=1):
    """``input`` with ``input[..., start:end:step, ...]`` (along ``dim``) replaced by ``src``."""
    axis = _dim(dim, input.ndim, "slice_scatter")
    return Put.apply(input, src, index=(slice(None),) * axis + (slice(start, end, step),))


def _diag_index(shape, offset, d1, d2):
    n1, n2 = shape[d1], shape[d2]
    if offset >= 0:
        k = max(0, min(n1, n2 - offset))
        r, c = np.arange(k), np.arange(k) + offset
    else:
        k = max(0, min(n1 + offset, n2))
        r, c = np.arange(k) - offset, np.arange(k)
    return r, c


def diagonal_scatter(input, src, offset=0, dim1=0, dim2=1):
    """``input`` with its diagonal (``offset``, ``dim1``, ``dim2``) replaced by ``src``."""
    from convnp.ops.movement import permute

    d1, d2 = (_dim(d, input.ndim, "diagonal_scatter") for d in (dim1, dim2))
    order = [i for i in range(input.ndim) if i not in (d1, d2)] + [d1, d2]
    inv = list(np.argsort(order))
    moved = permute(input, *order)
    r, c = _diag_index(input.shape, offset, d1, d2)
    out = Put.apply(moved, src, index=(Ellipsis, r, c))
    return permute(out, *inv)


def unravel_index(indices, shape):
    """The tuple of coordinate tensors of flat ``indices`` in an array of ``shape``."""
    from convnp.tensor import Tensor

    idx = _int_index(indices, "unravel_index", "indices")
    shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
    n = int(np.prod(shape))
    if idx.size and (idx.min() < -n or idx.max() >= n):
        raise RuntimeError(f"unravel_index: index out of range for shape {shape}")
    return tuple(Tensor._wrap(a.astype(np.int64)) for a in np.unravel_index(idx % max(n, 1),
                                                                           shape))


class Gather(Function):
    """``np.take_along_axis(a, index, axis)``; the backward scatter-adds (repeated indices sum)."""

    @staticmethod
    def forward(ctx, a, axis, index):
        ctx.shape, ctx.axis, ctx.index = a.shape, axis, index
        return np.take_along_axis(a, index, axis)

    @staticmethod
    def backward(ctx, g):
        out = np.zeros(ctx.shape, g.dtype)
        np.add.at(out, _along(ctx.index, ctx.axis), g)
        return out
