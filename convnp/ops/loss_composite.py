"""The margin, ranking, embedding and likelihood losses, composed from differentiable ops
(their gradients come from the pieces): torch's definitions, reductions and defaults."""

from __future__ import annotations

import math

import numpy as np

from convnp.ops import elementwise as E
from convnp.ops import reduction as R
from convnp.ops._loss import check_reduction, legacy_reduction

# one CTC loss, the fused recursion of ops/ctc.py: F.ctc_loss (exported from here) and
# nn.CTCLoss both reach it
from convnp.ops.ctc import ctc_loss  # noqa: F401

__all__ = ["cosine_embedding_loss", "hinge_embedding_loss", "margin_ranking_loss",
           "soft_margin_loss", "multilabel_soft_margin_loss", "multi_margin_loss",
           "multilabel_margin_loss", "gaussian_nll_loss", "poisson_nll_loss",
           "triplet_margin_loss", "triplet_margin_with_distance_loss", "linear_cross_entropy",
           "ctc_loss"]


def _reduction(size_average, reduce, reduction, fn):
    reduction = legacy_reduction(size_average, reduce, reduction)
    check_reduction(reduction, fn)
    return reduction


def _reduce(loss, reduction):
    if reduction == "mean":
        return R.mean(loss)
    if reduction == "sum":
        return R.sum(loss)
    return loss


def _t():
    from convnp.tensor import Tensor

    return Tensor


def cosine_embedding_loss(input1, input2, target, margin: float = 0.0, size_average=None,
                          reduce=None, reduction: str = "mean"):
    r""":math:`1 - \cos(x_1, x_2)` where ``target`` is 1, :math:`\max(0, \cos(x_1, x_2) -
    \text{margin})` where it is -1. Shape: ``(N, D)`` inputs and ``(N,)`` target (or unbatched
    ``(D,)`` and ``()``)."""
    reduction = _reduction(size_average, reduce, reduction, "cosine_embedding_loss")
    if input1.shape != input2.shape or input1.ndim != target.ndim + 1 or target.ndim > 1:
        raise RuntimeError(f"cosine_embedding_loss: {target.ndim}D target tensor expects "
                           f"{target.ndim + 1}D input tensors of one shape, but found inputs "
                           f"with sizes {tuple(input1.shape)} and {tuple(input2.shape)}")
    dim = target.ndim
    eps = 1e-12  # torch's EPSILON in the magnitudes
    prod = R.sum(E.mul(input1, input2), dim)
    mag = E.mul(E.add(R.sum(E.mul(input1, input1), dim), eps),
                E.add(R.sum(E.mul(input2, input2), dim), eps))
    cos = E.div(prod, E.sqrt(mag))
    y = target.array
    zero = np.zeros((), cos.dtype)
    loss = E.add(E.where(_t()._wrap(y == 1), E.sub(1, cos), zero),
                 E.where(_t()._wrap(y == -1), E.clamp(E.sub(cos, margin), min=0), zero))
    return _reduce(loss, reduction)


def hinge_embedding_loss(input, target, margin: float = 1.0, size_average=None, reduce=None,
                         reduction: str = "mean"):
    r""":math:`x` where ``target`` is 1, :math:`\max(0, \text{margin} - x)` where it is -1."""
    reduction = _reduction(size_average, reduce, reduction, "hinge_embedding_loss")
    y = target.array if isinstance(target, _t()) else np.asarray(target)
    zero = np.zeros((), input.dtype)
    loss = E.add(E.where(_t()._wrap(y != 1), E.clamp(E.sub(margin, input), min=0), zero),
                 E.where(_t()._wrap(y != -1), input, zero))
    return _reduce(loss, reduction)


def margin_ranking_loss(input1, input2, target, margin: float = 0.0, size_average=None,
                        reduce=None, reduction: str = "mean"):
    r""":math:`\max(0, -y (x_1 - x_2) + \text{margin})` elementwise."""
    reduction = _reduction(size_average, reduce, reduction, "margin_ranking_loss")
    if not (input1.ndim == input2.ndim == target.ndim):
        raise RuntimeError(f"margin_ranking_loss: All input tensors should have same dimension "
                           f"but got sizes: input1: {tuple(input1.shape)}, input2: "
                           f"{tuple(input2.shape)}, target: {tuple(target.shape)}")
    loss = E.clamp(E.add(E.mul(E.neg(target), E.sub(input1, input2)), margin), min=0)
    return _reduce(loss, reduction)


def soft_margin_loss(input, target, size_average=None, reduce=None, reduction: str = "mean"):
    r""":math:`\log(1 + e^{-y x})` elementwise (two-class logistic loss, ``y`` in {1, -1})."""
    from convnp.ops.pointwise import log1p

    reduction = _reduction(size_average, reduce, reduction, "soft_margin_loss")
    return _reduce(log1p(E.exp(E.mul(E.neg(input), target))), reduction)


def multilabel_soft_margin_loss(input, target, weight=None, size_average=None, reduce=None,
                                reduction: str = "mean"):
    r"""Per-class logistic losses averaged over the ``C`` classes: ``(N, C)`` -> ``(N,)``
    before the reduction; ``weight`` (``(C,)``) scales each class."""
    from convnp.ops.activation import logsigmoid

    reduction = _reduction(size_average, reduce, reduction, "multilabel_soft_margin_loss")
    loss = E.neg(E.add(E.mul(target, logsigmoid(input)),
                       E.mul(E.sub(1, target), logsigmoid(E.neg(input)))))
    if weight is not None:
        loss = E.mul(loss, weight)
    dim = input.ndim - 1
    loss = E.div(R.sum(loss, dim), input.shape[dim])
    return _reduce(loss, reduction)


def _class_indices(target, fn: str) -> np.ndarray:
    """``target``'s class indices as int64 (torch wants an integer tensor here)."""
    t = target.array if isinstance(target, _t()) else np.asarray(target)
    if t.dtype.kind not in "iu":
        raise RuntimeError(f"{fn}: expected target of integer class indices (int64), got "
                           f"dtype {t.dtype}")
    return t.astype(np.int64)


def multi_margin_loss(input, target, p: int = 1, margin: float = 1.0, weight=None,
                      size_average=None, reduce=None, reduction: str = "mean"):
    r"""Multi-class hinge loss: :math:`\sum_{i \ne y} \max(0, \text{margin} - x_y + x_i)^p / C`
    per sample (``weight[y]`` scales each term). ``(N, C)`` or ``(C,)`` input, int64 target."""
    from convnp.ops.indexing import gather

    reduction = _reduction(size_average, reduce, reduction, "multi_margin_loss")
    if p not in (1, 2):
        raise ValueError(f"multi_margin_loss: only p == 1 and p == 2 are supported, got {p}")
    if input.ndim > 2:
        raise RuntimeError(f"multi_margin_loss: expected a (C,) or (N, C) input, got shape "
                           f"{tuple(input.shape)}")
    x = input if input.ndim == 2 else input.reshape(1, -1)
    y = _class_indices(target, "multi_margin_loss").reshape(-1)
    c = x.shape[1]
    if y.size != x.shape[0] or (y.size and (y.min() < 0 or y.max() >= c)):
        raise RuntimeError(f"multi_margin_loss: target out of range: expected {x.shape[0]} "
                           f"class indices in [0, {c - 1}], got {y.tolist()}")
    T = _t()
    xy = gather(x, 1, T._wrap(y[:, None]))
    z = E.clamp(E.add(E.sub(margin, xy), x), min=0)
    if p == 2:
        z = E.mul(z, z)
    if weight is not None:
        z = E.mul(z, weight.array[y][:, None])
    not_y = np.ones(x.shape, x.dtype)
    not_y[np.arange(len(y)), y] = 0
    loss = E.div(R.sum(E.mul(z, not_y), 1), c)
    if input.ndim != 2:
        loss = loss.reshape(())
    return _reduce(loss, reduction)


def multilabel_margin_loss(input, target, size_average=None, reduce=None,
                           reduction: str = "mean"):
    r"""Multi-label hinge loss: target rows hold class indices, ended by the first -1; each
    pair (target class j, non-target class i) adds :math:`\max(0, 1 - (x_j - x_i)) / C`."""
    from convnp.ops.indexing import gather

    reduction = _reduction(size_average, reduce, reduction, "multilabel_margin_loss")
    x = input if input.ndim == 2 else input.reshape(1, -1)
    y = _class_indices(target, "multilabel_margin_loss")
    if y.size != x.numel() or y.max(initial=-1) >= x.shape[1] or y.min(initial=-1) < -1:
        raise RuntimeError(f"multilabel_margin_loss: argument 'target' is out of range: "
                           f"expected {tuple(input.shape)} class indices in [-1, "
                           f"{x.shape[1] - 1}], got {y.tolist()}")
    y = y.reshape(x.shape)
    n, c = x.shape
    valid = np.cumprod(y >= 0, axis=1).astype(bool)  # entries before the first -1
    is_target = np.zeros((n, c), bool)
    rows = np.repeat(np.arange(n), c)
    is_target[rows[valid.reshape(-1)], y[valid]] = True
    T = _t()
    xj = gather(x, 1, T._wrap(np.where(valid, y, 0)))  # (n, c): x at each target entry
    z = E.clamp(E.add(E.sub(1, xj.unsqueeze(2)), x.unsqueeze(1)), min=0)  # (n, j, i)
    mask = (valid[:, :, None] & ~is_target[:, None, :]).astype(x.dtype)
    loss = E.div(R.sum(E.mul(z, mask), (1, 2)), c)
    if input.ndim != 2:
        loss = loss.reshape(())
    return _reduce(loss, reduction)


def gaussian_nll_loss(input, target, var, full: bool = False, eps: float = 1e-6,
                      reduction: str = "mean"):
    r"""Gaussian negative log-likelihood :math:`\frac12(\log \max(\text{var}, \epsilon) +
    (x - y)^2 / \max(\text{var}, \epsilon))` (+ :math:`\frac12\log 2\pi` with ``full``).
    ``var`` has ``input``'s shape, or lacks its last dim, or has 1 there, or is a float. The
    clamp to ``eps`` passes the gradient through unchanged, as torch's."""
    check_reduction(reduction, "gaussian_nll_loss")
    T = _t()
    if not isinstance(var, T):
        var = T._wrap(np.full(input.shape, var, input.dtype))
    if var.shape != input.shape:
        if input.shape[:-1] == var.shape:
            var = var.unsqueeze(-1)
        elif not (input.shape[:-1] == var.shape[:-1] and var.shape[-1] == 1):
            raise ValueError(f"gaussian_nll_loss: var of shape {tuple(var.shape)} does not "
                             f"match input of shape {tuple(input.shape)}: var is of incorrect "
                             f"size (give it input's shape, or that shape without the last "
                             f"dim or with 1 there)")
    if np.any(var.array < 0):
        raise ValueError("gaussian_nll_loss: var has negative entry/entries")
    v = E.add(var, T._wrap(np.maximum(var.array, eps) - var.array))  # clamp, identity gradient
    d = E.sub(input, target)
    loss = E.mul(E.add(E.log(v), E.div(E.mul(d, d), v)), 0.5)
    if full:
        loss = E.add(loss, 0.5 * math.log(2 * math.pi))
    return _reduce(loss, reduction)


def poisson_nll_loss(input, target, log_input: bool = True, full: bool = False,
                     size_average=None, eps: float = 1e-8, reduce=None, reduction: str = "mean"):
    r"""Poisson negative log-likelihood: :math:`e^x - y x` (``log_input``) or :math:`x - y
    \log(x + \epsilon)`; ``full`` adds Stirling's :math:`y \log y - y + \frac12 \log(2\pi y)`
    where :math:`y > 1`."""
    reduction = _reduction(size_average, reduce, reduction, "poisson_nll_loss")
    if log_input:
        loss = E.sub(E.exp(input), E.mul(target, input))
    else:
        loss = E.sub(input, E.mul(target, E.log(E.add(input, eps))))
    if full:  # as torch: a differentiable term in the target too, masked where target <= 1
        with np.errstate(divide="ignore", invalid="ignore"):
            st = E.add(E.sub(E.mul(target, E.log(target)), target),
                       E.mul(E.log(E.mul(target, 2 * math.pi)), 0.5))
        loss = E.add(loss, E.where(_t()._wrap(target.array > 1), st, np.zeros((), loss.dtype)))
    return _reduce(loss, reduction)


def triplet_margin_loss(anchor, positive, negative, margin: float = 1.0, p: float = 2,
                        eps: float = 1e-6, swap: bool = False, size_average=None, reduce=None,
                        reduction: str = "mean"):
    r""":math:`\max(d(a, p) - d(a, n) + \text{margin}, 0)` with :math:`d` the ``p``-norm
    ``pairwise_distance``; ``swap`` uses :math:`\min(d(a, n), d(p, n))`."""
    from convnp.ops.distance import pairwise_distance

    reduction = _reduction(size_average, reduce, reduction, "triplet_margin_loss")
    dims = (anchor.ndim, positive.ndim, negative.ndim)
    if len(set(dims)) != 1 or dims[0] not in (1, 2):
        raise RuntimeError(f"triplet_margin_loss: The anchor, positive, and negative tensors "
                           f"are expected to have the same number of dimensions (1 or 2), but "
                           f"got: anchor {dims[0]}D, positive {dims[1]}D, and negative "
                           f"{dims[2]}D inputs")

    def dist(x, y):
        return pairwise_distance(x, y, p, eps)
    return _triplet(anchor, positive, negative, dist, margin, swap, reduction)


def triplet_margin_with_distance_loss(anchor, positive, negative, *, distance_function=None,
                                      margin: float = 1.0, swap: bool = False,
                                      reduction: str = "mean"):
    r"""``triplet_margin_loss`` with any ``distance_function(x, y)`` (default
    ``pairwise_distance``)."""
    from convnp.ops.distance import pairwise_distance
    check_reduction(reduction, "triplet_margin_with_distance_loss")
    if margin <= 0:
        raise ValueError(f"triplet_margin_with_distance_loss: margin must be greater than 0, "
                         f"got {margin}")
    return _triplet(anchor, positive, negative, distance_function or pairwise_distance, margin,
                    swap, reduction)


def _triplet(a, p, n, dist, margin, swap, reduction):
    d_ap = dist(a, p)
    d_an = dist(a, n)
    if swap:
        d_an = E.minimum(d_an, dist(p, n))
    return _reduce(E.clamp(E.add(E.sub(d_ap, d_an), margin), min=0), reduction)


def linear_cross_entropy(input, linear_weight, target, *, linear_bias=None, weight=None,
                         reduction: str = "mean", ignore_index=None, label_smoothing: float = 0.0,
                         options=None):
    r"""``cross_entropy(linear(input, linear_weight, linear_bias), target, ...)`` (torch fuses
    the two to save memory; convnp computes them in turn)."""
    from convnp.ops.linear import linear
    from convnp.ops.loss import cross_entropy

    logits = linear(input, linear_weight, linear_bias)
    return cross_entropy(logits, target, weight, ignore_index=-100 if ignore_index is None
                         else ignore_index, reduction=reduction, label_smoothing=label_smoothing)

