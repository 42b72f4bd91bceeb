"""Movement ops: reshape/view, permute/transpose, expand, indexing, cat/stack, split/chunk, flip."""

from __future__ import annotations

import math

import numpy as np

from convnp._layout import normalize_dims
from convnp.autograd.function import Function


def _shape_arg(shape) -> tuple:
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    return tuple(int(s) for s in shape)


class Reshape(Function):
    @staticmethod
    def forward(ctx, a, shape):
        ctx.shape = a.shape
        return a.reshape(shape)

    @staticmethod
    def backward(ctx, g):
        return g.reshape(ctx.shape)


class Permute(Function):
    @staticmethod
    def forward(ctx, a, dims):
        ctx.inv = tuple(np.argsort(dims))
        return a.transpose(dims)

    @staticmethod
    def backward(ctx, g):
        return g.transpose(ctx.inv)


class Expand(Function):
    @staticmethod
    def forward(ctx, a, shape):
        return np.broadcast_to(a, shape)

    @staticmethod
    def backward(ctx, g):
        return g  # the engine sums the gradient back to the input's shape


class Flip(Function):
    @staticmethod
    def forward(ctx, a, axes):
        ctx.axes = axes
        return np.flip(a, axes)

    @staticmethod
    def backward(ctx, g):
        return np.flip(g, ctx.axes)


def _is_basic(index) -> bool:
    """True when ``index`` only uses ints, slices, None and Ellipsis (a view; no duplicates)."""
    items = index if isinstance(index, tuple) else (index,)
    return all(isinstance(i, (int, np.integer, slice, type(None), type(Ellipsis))) for i in items)


class GetItem(Function):
    @staticmethod
    def forward(ctx, a, index):
        ctx.shape, ctx.dtype, ctx.index = a.shape, a.dtype, index
        return np.asarray(a[index])

    @staticmethod
    def backward(ctx, g):
        out = np.zeros(ctx.shape, g.dtype)
        if _is_basic(ctx.index):
            out[ctx.index] = g
        else:
            np.add.at(out, ctx.index, g)  # integer arrays may repeat an index: accumulate
        return out


class Cat(Function):
    @staticmethod
    def forward(ctx, *arrays, axis=0):
        ctx.axis = axis
        ctx.sizes = [a.shape[axis] for a in arrays]
        return np.concatenate(arrays, axis=axis)

    @staticmethod
    def backward(ctx, g):
        bounds = np.cumsum(ctx.sizes)[:-1]
        return tuple(np.split(g, bounds, axis=ctx.axis))


class Stack(Function):
    @staticmethod
    def forward(ctx, *arrays, axis=0):
        ctx.axis = axis
        return np.stack(arrays, axis=axis)

    @staticmethod
    def backward(ctx, g):
        return tuple(np.moveaxis(g, ctx.axis, 0))


# ----------------------------------------------------------------------------- functional forms
def reshape(input, *shape):
    """Same data, new shape (one entry may be -1)."""
    shape = _shape_arg(shape)
    n = input.array.size
    known = math.prod(s for s in shape if s != -1)
    if shape.count(-1) > 1 or (-1 not in shape and known != n) or (
            -1 in shape and (known == 0 or n % known)):
        raise RuntimeError(f"reshape: shape {list(shape)} is invalid for input of size {n} "
                           f"(input shape {tuple(input.shape)})")
    return Reshape.apply(input, shape=shape)


view = reshape


def permute(input, *dims):
    """Reorder dimensions."""
    dims = _shape_arg(dims)
    if len(dims) != input.ndim or sorted(d % max(input.ndim, 1) for d in dims) != list(
            range(input.ndim)):
        raise RuntimeError(f"permute: dims {list(dims)} are not a permutation of the "
                           f"{input.ndim} dimensions of an input of shape {tuple(input.shape)}")
    return Permute.apply(input, dims=tuple(d % input.ndim for d in dims))


def transpose(input, dim0, dim1):
    """Swap two dimensions."""
    if input.ndim == 0:
        return input
    d0, d1 = (normalize_dims(d, input.ndim, "transpose")[0] for d in (dim0, dim1))
    dims = list(range(input.ndim))
    dims[d0], dims[d1] = dims[d1], dims[d0]
    return Permute.apply(input, dims=tuple(dims))


def expand(input, *sizes):
    """Broadcast to a larger shape without copying (-1 keeps a size)."""
    sizes = _shape_arg(sizes)
    if len(sizes) < input.ndim:
        raise RuntimeError(f"expand: the number of sizes ({len(sizes)}) must be at least the "
                           f"number of dimensions ({input.ndim})")
    lead = len(sizes) - input.ndim
    shape = tuple(input.shape[i - lead] if s == -1 and i >= lead else s
                  for i, s in enumerate(sizes))
    for i, s in enumerate(input.shape):
        if s != 1 and s != shape[lead + i]:
            raise RuntimeError(f"expand: the expanded size {shape[lead + i]} must match the "
                               f"existing size {s} at non-singleton dimension {lead + i}; "
                               f"target sizes {list(sizes)}, tensor sizes {list(input.shape)}")
    return Expand.apply(input, shape=shape)


def flatten(input, start_dim=0, end_dim=-1):
    """Merge dims ``start_dim..end_dim`` into one."""
    if input.ndim == 0:
        return reshape(input, 1)
    s, e = (normalize_dims(d, input.ndim, "flatten")[0] for d in (start_dim, end_dim))
    if s > e:
        raise RuntimeError("flatten: start_dim cannot come after end_dim")
    shape = input.shape[:s] + (math.prod(input.shape[s:e + 1]),) + input.shape[e + 1:]
    return Reshape.apply(input, shape=shape)


def unflatten(input, dim, sizes):
    """Split dim ``dim`` into ``sizes``."""
    (d,) = normalize_dims(dim, input.ndim, "unflatten")
    sizes = tuple(sizes)
    if -1 in sizes:
        known = math.prod(s for s in sizes if s != -1)
        sizes = tuple(input.shape[d] // known if s == -1 else s for s in sizes)
    if math.prod(sizes) != input.shape[d]:
        raise RuntimeError(f"unflatten: provided sizes {list(sizes)} don't multiply up to the "
                           f"size of dim {dim} ({input.shape[d]}) in the input tensor")
    return Reshape.apply(input, shape=input.shape[:d] + sizes + input.shape[d + 1:])


def squeeze(input, dim=None):
    """Remove size-1 dims (all, or the given ones)."""
    if dim is None:
        shape = tuple(s for s in input.shape if s != 1)
    else:
        axes = normalize_dims(dim, input.ndim, "squeeze") or ()
        shape = tuple(s for i, s in enumerate(input.shape) if not (i in axes and s == 1))
    return Reshape.apply(input, shape=shape)


def unsqueeze(input, dim):
    """Insert a size-1 dim at ``dim``."""
    nd = input.ndim + 1
    if not -nd <= dim < nd:
        raise IndexError(f"unsqueeze: dimension out of range (expected to be in range of "
                         f"[{-nd}, {nd - 1}], but got {dim})")
    d = dim % nd
    return Reshape.apply(input, shape=input.shape[:d] + (1,) + input.shape[d:])


def flip(input, dims):
    """Reverse the order of elements along ``dims``."""
    return Flip.apply(input, axes=normalize_dims(dims, input.ndim, "flip"))


def _as_tensors(tensors, fn):
    from convnp.tensor import Tensor

    tensors = list(tensors)
    if not tensors:
        raise ValueError(f"{fn}: expected a non-empty sequence of tensors")
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f"{fn}: expected a sequence of Tensors, element {i} is "
                            f"{type(t).__name__}")
    return tensors


def cat(tensors, dim=0):
    """Concatenate along an existing dim."""
    tensors = _as_tensors(tensors, "cat")
    (axis,) = normalize_dims(dim, tensors[0].ndim, "cat")
    ref = tensors[0].shape
    for i, t in enumerate(tensors):
        if t.ndim != len(ref) or any(a != b for j, (a, b) in enumerate(zip(t.shape, ref))
                                     if j != axis):
            raise RuntimeError(f"cat: sizes of tensors must match except in dimension {axis}; "
                               f"tensor 0 has shape {tuple(ref)}, tensor {i} has {tuple(t.shape)}")
    return Cat.apply(*tensors, axis=axis)


concat = concatenate = cat


def stack(tensors, dim=0):
    """Stack equal-shaped tensors along a new dim."""
    tensors = _as_tensors(tensors, "stack")
    for i, t in enumerate(tensors):
        if t.shape != tensors[0].shape:
            raise RuntimeError(f"stack: expects each tensor to be equal size, but got "
                               f"{tuple(tensors[0].shape)} at entry 0 and {tuple(t.shape)} "
                               f"at entry {i}")
    nd = tensors[0].ndim + 1
    if not -nd <= dim < nd:
        raise IndexError(f"stack: dimension out of range (expected [{-nd}, {nd - 1}], got {dim})")
    return Stack.apply(*tensors, axis=dim % nd)


def split(tensor, split_size_or_sections, dim=0):
    """Split into chunks of a given size (last may be smaller) or of the listed sizes."""
    (axis,) = normalize_dims(dim, tensor.ndim, "split")
    n = tensor.shape[axis]
    if isinstance(split_size_or_sections, (int, np.integer)):
        step = int(split_size_or_sections)
        if step <= 0:
            raise ValueError(f"split: split_size must be positive, got {step}")
        sizes = [min(step, n - s) for s in range(0, n, step)] or [0]
    else:
        sizes = [int(s) for s in split_size_or_sections]
        if sum(sizes) != n:
            raise RuntimeError(f"split: split sizes {sizes} sum to {sum(sizes)}, but the input "
                               f"has size {n} in dim {axis}")
    out, start = [], 0
    for s in sizes:
        index = (slice(None),) * axis + (slice(start, start + s),)
        out.append(GetItem.apply(tensor, index=index))
        start += s
    return tuple(out)


def chunk(input, chunks, dim=0):
    """Split into ``chunks`` pieces of size ceil(n / chunks) (fewer if it does not divide)."""
    if chunks <= 0:
        raise ValueError(f"chunk: 'chunks' must be positive, got {chunks}")
    (axis,) = normalize_dims(dim, input.ndim, "chunk")
    step = max(1, -(-input.shape[axis] // chunks))
    return split(input, step, dim)


def getitem(input, index):
    """``input[index]`` with slices, ints, None, Ellipsis, bool masks and integer arrays."""
    from convnp.tensor import Tensor

    def conv(i):
        if isinstance(i, Tensor):
            return i.array
        if isinstance(i, list):
            return np.asarray(i)
        return i

    index = tuple(conv(i) for i in index) if isinstance(index, tuple) else conv(index)
    try:
        return GetItem.apply(input, index=index)
    except IndexError as e:
        raise IndexError(f"index {index!r} is invalid for a tensor of shape "
                         f"{tuple(input.shape)}: {e}") from None
