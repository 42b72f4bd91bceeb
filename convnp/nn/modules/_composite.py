"""Functional forms behind the layer classes added for torch.nn coverage (margin and embedding
losses, distances, GLU, RReLU, RMS norm, channel shuffle), written with torch's formulas as
compositions of differentiable tensor operations, so autograd gives their gradients.

Each function has torch.nn.functional's name and signature; the layer classes call them.
"""

from __future__ import annotations

import math

import numpy as np

from convnp.tensor import Tensor

_REDUCTIONS = ("none", "mean", "sum")


def _check_tensor(x, name: str, fn: str) -> Tensor:
    if not isinstance(x, Tensor):
        raise TypeError(f"{fn}: {name} must be a convnp Tensor, got {type(x).__name__}")
    return x


def _reduce(loss: Tensor, reduction: str, fn: str) -> Tensor:
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    if reduction == "none":
        return loss
    raise ValueError(f"{fn}: {reduction} is not a valid value for reduction (expected one of "
                     f"{_REDUCTIONS})")


def _legacy(size_average, reduce, reduction: str) -> str:
    """torch's deprecated size_average/reduce pair mapped to a reduction string."""
    if size_average is None and reduce is None:
        return reduction
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    if not reduce:
        return "none"
    return "mean" if size_average else "sum"


def _const(value, like: Tensor) -> Tensor:
    return Tensor._wrap(np.asarray(value, dtype=like.dtype))


def _where(mask: np.ndarray, a: Tensor, b: Tensor) -> Tensor:
    """``a`` where ``mask`` else ``b`` (mask is a constant boolean array)."""
    m = Tensor._wrap(np.asarray(mask, dtype=a.dtype))
    return a * m + b * (1 - m)


def _clamped_value(t: Tensor, lo: float) -> Tensor:
    """``t`` with its values clamped at ``lo`` but the gradient of ``t`` itself (torch clamps
    such values in place under no_grad, so the clamp does not stop the gradient)."""
    d = t.detach()
    shift = Tensor._wrap(np.maximum(d.array, np.asarray(lo, d.dtype)) - d.array)
    return t + shift


# --------------------------------------------------------------------------- distances
def pairwise_distance(x1: Tensor, x2: Tensor, p: float = 2.0, eps: float = 1e-6,
                      keepdim: bool = False) -> Tensor:
    """``||x1 - x2 + eps||_p`` over the last dimension (torch's ``F.pairwise_distance``)."""
    _check_tensor(x1, "x1", "pairwise_distance")
    _check_tensor(x2, "x2", "pairwise_distance")
    d = x1 - x2 + eps
    dim = -1 if max(x1.ndim, x2.ndim) > 0 else None
    if p == 2:
        return (d * d).sum(dim, keepdim=keepdim).sqrt()
    if p == 1:
        return d.abs().sum(dim, keepdim=keepdim)
    if math.isinf(p):
        return d.abs().amax(dim, keepdim=keepdim) if p > 0 else d.abs().amin(dim,
                                                                             keepdim=keepdim)
    if p == 0:
        return (d != 0).sum(dim, keepdim=keepdim).to(x1.dtype)
    return d.abs().pow(p).sum(dim, keepdim=keepdim).pow(1.0 / p)


def cosine_similarity(x1: Tensor, x2: Tensor, dim: int = 1, eps: float = 1e-8) -> Tensor:
    """Cosine of the angle between ``x1`` and ``x2`` along ``dim``, each norm clamped at
    ``eps`` (torch's ``F.cosine_similarity``)."""
    _check_tensor(x1, "x1", "cosine_similarity")
    _check_tensor(x2, "x2", "cosine_similarity")
    n1 = _clamped_value((x1 * x1).sum(dim, keepdim=True).sqrt(), eps)
    n2 = _clamped_value((x2 * x2).sum(dim, keepdim=True).sqrt(), eps)
    return ((x1 / n1) * (x2 / n2)).sum(dim)


# --------------------------------------------------------------------------- losses
def margin_ranking_loss(input1: Tensor, input2: Tensor, target: Tensor, margin: float = 0.0,
                        size_average=None, reduce=None, reduction: str = "mean") -> Tensor:
    """``max(0, -y (x1 - x2) + margin)`` (torch's ``F.margin_ranking_loss``)."""
    reduction = _legacy(size_average, reduce, reduction)
    if not (input1.ndim == input2.ndim == target.ndim):
        raise RuntimeError(f"margin_ranking_loss : All input tensors should have same dimension "
                           f"but got sizes: input1: {tuple(input1.shape)}, input2: "
                           f"{tuple(input2.shape)}, target: {tuple(target.shape)} ")
    return _reduce((-target * (input1 - input2) + margin).clamp(min=0), reduction,
                   "margin_ranking_loss")


def hinge_embedding_loss(input: Tensor, target: Tensor, margin: float = 1.0, size_average=None,
                         reduce=None, reduction: str = "mean") -> Tensor:
    """``x`` where ``y == 1``, ``max(0, margin - x)`` where ``y == -1`` (torch's
    ``F.hinge_embedding_loss``)."""
    reduction = _legacy(size_average, reduce, reduction)
    y = getattr(target, "array", np.asarray(target))
    zero = input * 0
    out = _where(y != 1, (margin - input).clamp(min=0), zero) + _where(y != -1, input, zero)
    return _reduce(out, reduction, "hinge_embedding_loss")


def soft_margin_loss(input: Tensor, target: Tensor, size_average=None, reduce=None,
                     reduction: str = "mean") -> Tensor:
    """``log(1 + exp(-y x))`` (torch's ``F.soft_margin_loss``)."""
    reduction = _legacy(size_average, reduce, reduction)
    return _reduce((-input * target).exp().log1p(), reduction, "soft_margin_loss")


def _logsigmoid(x: Tensor) -> Tensor:
    from convnp.ops.activation import logsigmoid

    return logsigmoid(x)


def multilabel_soft_margin_loss(input: Tensor, target: Tensor, weight: Tensor | None = None,
                                size_average=None, reduce=None,
                                reduction: str = "mean") -> Tensor:
    """Per-class binary logistic loss averaged over the classes (torch's
    ``F.multilabel_soft_margin_loss``)."""
    reduction = _legacy(size_average, reduce, reduction)
    loss = -(target * _logsigmoid(input) + (1 - target) * _logsigmoid(-input))
    if weight is not None:
        loss = loss * weight
    class_dim = input.ndim - 1
    loss = loss.sum(class_dim) / input.shape[class_dim]
    return _reduce(loss, reduction, "multilabel_soft_margin_loss")


def cosine_embedding_loss(input1: Tensor, input2: Tensor, target: Tensor, margin: float = 0.0,
                          size_average=None, reduce=None, reduction: str = "mean") -> Tensor:
    """``1 - cos(x1, x2)`` where ``y == 1``, ``max(0, cos(x1, x2) - margin)`` where ``y == -1``
    (torch's ``F.cosine_embedding_loss``)."""
    reduction = _legacy(size_average, reduce, reduction)
    if input1.ndim != input2.ndim or input1.ndim not in (1, 2):
        raise RuntimeError(f"cosine_embedding_loss: 1D target tensor expects 2D input tensors, "
                           f"but found inputs with sizes {tuple(input1.shape)} and "
                           f"{tuple(input2.shape)}.")
    dim = input1.ndim - 1
    eps = 1e-12
    prod = (input1 * input2).sum(dim)
    m1 = (input1 * input1).sum(dim) + eps
    m2 = (input2 * input2).sum(dim) + eps
    cos = prod / (m1 * m2).sqrt()
    y = getattr(target, "array", np.asarray(target))
    zero = cos * 0
    out = _where(y == 1, 1 - cos, zero) + _where(y == -1, (cos - margin).clamp(min=0), zero)
    return _reduce(out, reduction, "cosine_embedding_loss")


def _targets(target, fn: str) -> np.ndarray:
    t = np.asarray(getattr(target, "array", target))
    if t.dtype.kind not in "iu":
        raise TypeError(f"{fn}: target must hold integer class indices, got dtype {t.dtype}")
    return t.astype(np.int64)


def multi_margin_loss(input: Tensor, target: Tensor, p: int = 1, margin: float = 1.0,
                      weight: Tensor | None = None, size_average=None, reduce=None,
                      reduction: str = "mean") -> Tensor:
    """Multi-class hinge loss: ``sum_{i != y} max(0, margin - x[y] + x[i])**p / C``, times
    ``weight[y]`` (torch's ``F.multi_margin_loss``)."""
    reduction = _legacy(size_average, reduce, reduction)
    if p not in (1, 2):
        raise ValueError("only p == 1 and p == 2 supported")
    x = input if input.ndim == 2 else input.reshape(1, -1) if input.ndim <= 1 else None
    if x is None:
        raise ValueError(f"multi_margin_loss: expected 1D or 2D input, got {input.ndim}D")
    y = _targets(target, "multi_margin_loss").reshape(-1)
    n, c = x.shape
    if y.shape[0] != n or (y < 0).any() or (y >= c).any():
        raise ValueError(f"multi_margin_loss: target must hold {n} class indices in [0, {c}), "
                         f"got {y.tolist()}")
    xy = x.gather(1, Tensor._wrap(y.reshape(-1, 1)))
    z = (margin - xy + x).clamp(min=0)
    if p == 2:
        z = z * z
    if weight is not None:
        z = z * Tensor._wrap(np.asarray(weight.array[y]).reshape(-1, 1))
    not_target = np.ones((n, c), bool)
    not_target[np.arange(n), y] = False
    loss = (z * Tensor._wrap(not_target.astype(x.dtype))).sum(1) / c
    if input.ndim <= 1:
        loss = loss.reshape(())
    return _reduce(loss, reduction, "multi_margin_loss")


def multilabel_margin_loss(input: Tensor, target: Tensor, size_average=None, reduce=None,
                           reduction: str = "mean") -> Tensor:
    """Multi-label hinge loss: ``sum_{j in targets, i not in targets} max(0, 1 - (x[j] -
    x[i])) / C``; ``target`` lists class indices, ended by the first -1 (torch's
    ``F.multilabel_margin_loss``)."""
    reduction = _legacy(size_average, reduce, reduction)
    one_d = input.ndim <= 1
    x = input.reshape(1, -1) if one_d else input
    t = _targets(target, "multilabel_margin_loss").reshape(x.shape)
    n, c = x.shape
    is_target = np.zeros((n, c), bool)
    for row in range(n):  # a row's targets end at its first -1
        for v in t[row]:
            if v < 0:
                break
            if v >= c:
                raise ValueError(f"multilabel_margin_loss: target index {v} out of range for "
                                 f"{c} classes")
            is_target[row, v] = True
    # (N, C, C): [j, i] = 1 - (x[j] - x[i]) for target j, non-target i
    diff = 1 - (x.unsqueeze(2) - x.unsqueeze(1))
    mask = (is_target[:, :, None] & ~is_target[:, None, :]).astype(x.dtype)
    loss = (diff.clamp(min=0) * Tensor._wrap(mask)).sum((1, 2)) / c
    if one_d:
        loss = loss.reshape(())
    return _reduce(loss, reduction, "multilabel_margin_loss")


def gaussian_nll_loss(input: Tensor, target: Tensor, var, full: bool = False, eps: float = 1e-6,
                      reduction: str = "mean") -> Tensor:
    """Gaussian negative log likelihood ``0.5 (log(var) + (input - target)**2 / var)``, var
    clamped at ``eps`` (torch's ``F.gaussian_nll_loss``)."""
    if isinstance(var, float):
        if var < 0:
            raise ValueError("var has negative entry/entries")
        var = Tensor._wrap(np.full(input.shape, var, input.dtype))
    elif (var.array < 0).any():
        raise ValueError("var has negative entry/entries")
    if tuple(var.shape) != tuple(input.shape):
        if tuple(input.shape[:-1]) == tuple(var.shape):
            var = var.unsqueeze(-1)
        elif input.ndim == var.ndim and sum(
                y for x, y in zip(input.shape, var.shape) if x != y) == 1:
            pass
        else:
            raise ValueError("var is of incorrect size")
    if reduction not in _REDUCTIONS:
        raise ValueError(reduction + " is not valid")
    var = _clamped_value(var, eps)
    loss = 0.5 * (var.log() + (input - target) ** 2 / var)
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return _reduce(loss, reduction, "gaussian_nll_loss")


def poisson_nll_loss(input: Tensor, target: Tensor, log_input: bool = True, full: bool = False,
                     size_average=None, eps: float = 1e-8, reduce=None,
                     reduction: str = "mean") -> Tensor:
    """Poisson negative log likelihood: ``exp(input) - target * input`` (``log_input``) or
    ``input - target * log(input + eps)``, plus Stirling's term when ``full`` (torch's
    ``F.poisson_nll_loss``)."""
    reduction = _legacy(size_average, reduce, reduction)
    if reduction not in _REDUCTIONS:
        raise ValueError(reduction + " is not a valid value for reduction")
    if log_input:
        loss = input.exp() - target * input
    else:
        loss = input - target * (input + eps).log()
    if full:
        t = getattr(target, "array", np.asarray(target))
        with np.errstate(divide="ignore", invalid="ignore"):
            st = t * np.log(t) - t + 0.5 * np.log(2 * np.pi * t)
        st = np.where(t > 1, st, 0).astype(input.dtype)
        loss = loss + Tensor._wrap(st)
    return _reduce(loss, reduction, "poisson_nll_loss")


def triplet_margin_loss(anchor: Tensor, positive: Tensor, negative: Tensor, margin: float = 1.0,
                        p: float = 2, eps: float = 1e-6, swap: bool = False, size_average=None,
                        reduce=None, reduction: str = "mean") -> Tensor:
    """``max(0, margin + d(a, p) - d(a, n))`` with the p-norm distance (torch's
    ``F.triplet_margin_loss``); ``swap`` uses ``min(d(a, n), d(p, n))``."""
    reduction = _legacy(size_average, reduce, reduction)
    dims = (anchor.ndim, positive.ndim, negative.ndim)
    if len(set(dims)) != 1 or dims[0] not in (1, 2):
        raise RuntimeError(f"The anchor, positive, and negative tensors are expected to have the "
                           f"same number of dimensions (1 or 2), but got: anchor {dims[0]}D, "
                           f"positive {dims[1]}D, and negative {dims[2]}D inputs")
    d_pos = pairwise_distance(anchor, positive, p, eps)
    d_neg = pairwise_distance(anchor, negative, p, eps)
    if swap:
        d_neg = d_neg.minimum(pairwise_distance(positive, negative, p, eps))
    return _reduce((margin + d_pos - d_neg).clamp(min=0), reduction, "triplet_margin_loss")


def triplet_margin_with_distance_loss(anchor: Tensor, positive: Tensor, negative: Tensor, *,
                                      distance_function=None, margin: float = 1.0,
                                      swap: bool = False, reduction: str = "mean") -> Tensor:
    """Triplet loss with any distance (default :func:`pairwise_distance`) (torch's
    ``F.triplet_margin_with_distance_loss``)."""
    if margin <= 0:
        raise ValueError(f"TripletMarginWithDistanceLoss: expected margin to be greater than 0, "
                         f"got {margin} instead")
    dist = distance_function if distance_function is not None else pairwise_distance
    d_pos = dist(anchor, positive)
    d_neg = dist(anchor, negative)
    if swap:
        d_neg = d_neg.minimum(dist(positive, negative))
    return _reduce((margin + d_pos - d_neg).clamp(min=0), reduction,
                   "triplet_margin_with_distance_loss")


# --------------------------------------------------------------------------- activations etc.
def glu(input: Tensor, dim: int = -1) -> Tensor:
    """Gated linear unit: ``a * sigmoid(b)`` with ``a, b`` the halves of ``input`` along
    ``dim`` (torch's ``F.glu``)."""
    if input.ndim == 0:
        raise RuntimeError("glu does not support scalars because halving size must be even")
    size = input.shape[dim]
    if size % 2:
        raise RuntimeError(f"Halving dimension must be even, but dimension "
                           f"{dim % input.ndim} is size {size}")
    a, b = input.chunk(2, dim)
    return a * b.sigmoid()


def rrelu(input: Tensor, lower: float = 1.0 / 8, upper: float = 1.0 / 3,
          training: bool = False, inplace: bool = False) -> Tensor:
    """Randomized leaky ReLU: negative inputs times a slope drawn from U(lower, upper) per
    element in training, ``(lower + upper) / 2`` in eval (torch's ``F.rrelu``; the training
    slopes come from convnp's generator)."""
    from convnp import random as R

    if not training:
        slope = np.asarray((lower + upper) / 2, input.dtype)
        slopes = np.where(input.array > 0, np.asarray(1, input.dtype), slope)
    else:
        draws = R.rng().uniform(lower, upper, input.shape).astype(input.dtype)
        slopes = np.where(input.array > 0, np.asarray(1, input.dtype), draws)
    out = input * Tensor._wrap(slopes)
    if inplace:
        input.array[...] = out.array
    return out


def channel_shuffle(input: Tensor, groups: int) -> Tensor:
    """Split the channels (dim 1) into ``groups`` and interleave them (torch's
    ``F.channel_shuffle``)."""
    if input.ndim < 3:
        raise RuntimeError(f"channel_shuffle expects input to have at least 3 dimensions, but "
                           f"got input with sizes {list(input.shape)}")
    if not isinstance(groups, int) or groups <= 0:
        raise RuntimeError(f"Number of groups to divide channels in must be positive. Value of "
                           f"groups:{groups}")
    n, c = input.shape[:2]
    if c % groups:
        raise RuntimeError(f"Number of channels must be divisible by groups. Got {c} channels "
                           f"and {groups} groups.")
    rest = tuple(input.shape[2:])
    x = input.reshape(n, groups, c // groups, *rest)  # (N, g, C/g, *)
    return x.transpose(1, 2).reshape(n, c, *rest)


def rms_norm(input: Tensor, normalized_shape, weight: Tensor | None = None,
             eps: float | None = None) -> Tensor:
    """``x / sqrt(mean(x**2 over normalized_shape) + eps) * weight`` (torch's
    ``F.rms_norm``; ``eps`` defaults to the dtype's machine epsilon)."""
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    k = len(shape)
    if tuple(input.shape[input.ndim - k:]) != shape:
        raise RuntimeError(f"rms_norm: expected the input's last dimensions to be {list(shape)}, "
                           f"got input of size {list(input.shape)}")
    if eps is None:
        eps = float(np.finfo(input.dtype).eps)
    dims = tuple(range(input.ndim - k, input.ndim))
    out = input * ((input * input).mean(dims, keepdim=True) + eps).rsqrt()
    return out * weight if weight is not None else out
