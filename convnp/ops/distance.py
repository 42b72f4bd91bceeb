"""Distances between vectors: ``cosine_similarity``, ``pairwise_distance``, ``pdist``.

Composed from differentiable ops (their gradients come from the pieces), with torch's ``eps``
conventions."""

from __future__ import annotations

import numpy as np

from convnp.ops import elementwise as E
from convnp.ops import reduction as R

__all__ = ["cosine_similarity", "pairwise_distance", "pdist"]


def cosine_similarity(x1, x2, dim: int = 1, eps: float = 1e-8):
    r"""Cosine of the angle between ``x1`` and ``x2`` along ``dim`` (broadcast):
    :math:`\frac{x_1 \cdot x_2}{\max(\lVert x_1\rVert, \epsilon)\,\max(\lVert x_2\rVert,
    \epsilon)}`. Shape: the broadcast shape without ``dim``.

    Example::

        >>> F.cosine_similarity(convnp.randn(4, 8), convnp.randn(4, 8)).shape
        convnp.Size([4])
    """
    _check_tensors("cosine_similarity", x1, x2)
    n1 = _clamped_value(E.sqrt(R.sum(E.mul(x1, x1), dim, keepdim=True)), eps)
    n2 = _clamped_value(E.sqrt(R.sum(E.mul(x2, x2), dim, keepdim=True)), eps)
    return R.sum(E.mul(E.div(x1, n1), E.div(x2, n2)), dim)


def _check_tensors(fn: str, x1, x2) -> None:
    """A TypeError, as torch's, for an argument that is not a Tensor (a NumPy array would
    otherwise broadcast silently into a result of the wrong type)."""
    from convnp.tensor import Tensor

    for name, x in (("x1", x1), ("x2", x2)):
        if not isinstance(x, Tensor):
            raise TypeError(f"{fn}: argument '{name}' must be a Tensor, got "
                            f"{type(x).__name__}; wrap arrays with convnp.tensor(...)")


def _clamped_value(t, lo: float):
    """``t`` with its values clamped at ``lo`` but the gradient of ``t`` itself (torch clamps
    the norms in place under no_grad, so the clamp does not stop their gradient)."""
    import numpy as np

    from convnp.tensor import Tensor

    d = t.array
    return E.add(t, Tensor._wrap(np.maximum(d, np.asarray(lo, d.dtype)) - d))


def pairwise_distance(x1, x2, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False):
    r""":math:`\lVert x_1 - x_2 + \epsilon \rVert_p` over the last dim (broadcast batch dims).

    Shape: ``(N, D)`` inputs give ``(N,)`` (``(N, 1)`` with ``keepdim``)."""
    _check_tensors("pairwise_distance", x1, x2)
    d = E.add(E.sub(x1, x2), eps)
    dim = -1 if max(x1.ndim, x2.ndim) > 0 else None
    return R.norm(d, p, dim, keepdim)


def pdist(input, p: float = 2.0):
    r"""The p-norm distances between all pairs of rows of an ``(N, M)`` input: the upper
    triangle of the distance matrix, row by row, shape ``(N * (N - 1) / 2,)``."""
    if input.ndim != 2:
        raise RuntimeError(f"pdist: expected a 2-d (N, M) input, got shape {tuple(input.shape)}")
    n = input.shape[0]
    i, j = np.triu_indices(n, 1)
    from convnp.ops.indexing import index_select
    from convnp.tensor import Tensor

    a = index_select(input, 0, Tensor._wrap(i.astype(np.int64)))
    b = index_select(input, 0, Tensor._wrap(j.astype(np.int64)))
    return R.norm(E.sub(a, b), p, -1)
