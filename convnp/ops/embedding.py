"""Lookup tables: ``embedding``, ``embedding_bag``, ``one_hot``."""

from __future__ import annotations

import numpy as np

from convnp.autograd.function import Function

__all__ = ["embedding", "embedding_bag", "one_hot"]


def _index(x, fn):
    from convnp.tensor import Tensor

    a = x.array if isinstance(x, Tensor) else np.asarray(x)
    if a.dtype.kind not in "iu":
        raise TypeError(f"{fn}: indices must be an integer (int64) tensor, got dtype {a.dtype}")
    return a.astype(np.int64, copy=False)


class Embedding(Function):
    @staticmethod
    def forward(ctx, weight, index, padding_idx=None, scale_grad_by_freq=False):
        ctx.shape, ctx.index = weight.shape, index
        ctx.padding_idx, ctx.scale = padding_idx, scale_grad_by_freq
        return weight[index]

    @staticmethod
    def backward(ctx, g):
        idx = ctx.index.reshape(-1)
        rows = g.reshape(idx.size, -1)
        if ctx.scale:  # divide each row's gradient by how often it was looked up
            counts = np.bincount(idx, minlength=ctx.shape[0])
            rows = rows / counts[idx][:, None]
        out = np.zeros(ctx.shape, g.dtype)
        np.add.at(out, idx, rows)
        if ctx.padding_idx is not None:
            out[ctx.padding_idx] = 0
        return out


def _renorm_(weight, idx, max_norm, norm_type):
    """torch's ``max_norm``: rows looked up are rescaled in place to norm <= max_norm."""
    rows = np.unique(idx)
    w = weight.array
    norms = np.linalg.norm(w[rows], ord=norm_type, axis=1)
    scale = np.where(norms > max_norm, max_norm / (norms + 1e-7), 1.0)
    w[rows] = w[rows] * scale[:, None].astype(w.dtype)


def _padding_idx(padding_idx, n, fn):
    if padding_idx is None:
        return None
    if not -n <= padding_idx < n:
        raise ValueError(f"{fn}: padding_idx must be within [-{n}, {n - 1}], got {padding_idx}")
    return padding_idx % n


def embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0,
              scale_grad_by_freq=False, sparse=False):
    r"""Rows of ``weight`` at the indices ``input``: shape ``(*, embedding_dim)``.

    ``padding_idx``'s row gets no gradient; ``max_norm`` rescales the rows looked up (in place,
    as torch) to at most that ``norm_type``-norm; ``scale_grad_by_freq`` divides each row's
    gradient by its count in the batch. ``sparse`` gradients are not supported (dense ones are
    returned)."""
    idx = _index(input, "embedding")
    if weight.ndim != 2:
        raise RuntimeError(f"embedding: weight must be 2-d (num_embeddings, embedding_dim), "
                           f"got shape {tuple(weight.shape)}")
    n = weight.shape[0]
    if idx.size and (idx.min() < 0 or idx.max() >= n):
        raise IndexError(f"embedding: index out of range: indices must be in [0, {n - 1}], got "
                         f"values in [{idx.min()}, {idx.max()}]")
    if sparse:
        raise NotImplementedError("embedding(sparse=True): sparse gradients are not supported "
                                  "by convnp; use sparse=False")
    if max_norm is not None:
        _renorm_(weight, idx, max_norm, norm_type)
    return Embedding.apply(weight, index=idx, padding_idx=_padding_idx(padding_idx, n,
                                                                       "embedding"),
                           scale_grad_by_freq=scale_grad_by_freq)


def embedding_bag(input, weight, offsets=None, max_norm=None, norm_type=2, scale_grad_by_freq=False,
                  mode="mean", sparse=False, per_sample_weights=None, include_last_offset=False,
                  padding_idx=None):
    r"""Sums, means or maxima of bags of embeddings, without the intermediate ``(*, D)`` tensor
    in torch (here: built, then reduced per bag).

    ``input`` is ``(B, N)`` (B bags of N indices) or 1-d with ``offsets`` giving each bag's
    start. ``per_sample_weights`` (``mode='sum'`` only) scale each looked-up row; entries equal
    to ``padding_idx`` are left out of their bag. Empty bags give zeros. Shape: ``(B, D)``."""
    from convnp.ops import elementwise as E
    from convnp.ops.linalg import matmul
    from convnp.ops.movement import stack
    from convnp.tensor import Tensor

    if mode not in ("sum", "mean", "max"):
        raise ValueError(f"embedding_bag: mode must be 'sum', 'mean' or 'max', got {mode!r}")
    idx = _index(input, "embedding_bag")
    if idx.ndim == 2:
        if offsets is not None:
            raise ValueError("embedding_bag: offsets must be None when input is 2-d (B, N)")
        b, n = idx.shape
        starts = np.arange(0, b * n, n) if n else np.zeros(b, np.int64)
        idx = idx.reshape(-1)
        ends = starts + n
    elif idx.ndim == 1:
        if offsets is None:
            raise ValueError("embedding_bag: offsets are required when input is 1-d")
        off = _index(offsets, "embedding_bag")
        if include_last_offset:
            starts, ends = off[:-1], off[1:]
        else:
            starts, ends = off, np.append(off[1:], idx.size)
    else:
        raise ValueError(f"embedding_bag: input must be 1-d or 2-d, got {idx.ndim} dims")
    if per_sample_weights is not None and mode != "sum":
        raise NotImplementedError("embedding_bag: per_sample_weights is only supported for "
                                  "mode='sum' (as in torch)")
    pad = _padding_idx(padding_idx, weight.shape[0], "embedding_bag")
    rows = embedding(Tensor._wrap(idx), weight, pad, max_norm, norm_type, scale_grad_by_freq)
    keep = np.ones(idx.size, bool) if pad is None else idx != pad
    if per_sample_weights is not None:
        rows = E.mul(rows, per_sample_weights.reshape(-1, 1))
    nb = len(starts)
    if mode in ("sum", "mean"):
        m = np.zeros((nb, idx.size), weight.dtype)
        for k, (s, e) in enumerate(zip(starts, ends)):
            m[k, s:e] = keep[s:e]
        if mode == "mean":
            m = m / np.maximum(m.sum(1, keepdims=True), 1)
        return matmul(Tensor._wrap(m.astype(weight.dtype)), rows)
    outs = []
    for s, e in zip(starts, ends):
        members = np.arange(s, e)[keep[s:e]]
        if members.size == 0:
            outs.append(Tensor._wrap(np.zeros(weight.shape[1], weight.dtype)))
        else:
            outs.append(rows[Tensor._wrap(members)].amax(0))
    return stack(outs, 0)


def one_hot(tensor, num_classes: int = -1):
    r"""``(*,)`` int64 class indices -> ``(*, num_classes)`` int64 one-hot vectors
    (``num_classes=-1``: one more than the largest index).

    Example::

        >>> F.one_hot(convnp.tensor([0, 2]), 3)
        tensor([[1, 0, 0],
                [0, 0, 1]])
    """
    from convnp.tensor import Tensor

    idx = _index(tensor, "one_hot")
    if num_classes == -1:
        num_classes = int(idx.max()) + 1 if idx.size else 0
    if idx.size and (idx.min() < 0 or idx.max() >= num_classes):
        raise RuntimeError(f"one_hot: class values must be in [0, {num_classes - 1}], got "
                           f"values in [{idx.min()}, {idx.max()}]")
    out = np.zeros(idx.shape + (num_classes,), np.int64)
    np.put_along_axis(out, idx[..., None], 1, axis=-1)
    return Tensor._wrap(out)
