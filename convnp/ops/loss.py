"""Losses with PyTorch's definitions, reductions and defaults; each one fused Function.

Every loss computes its per-element value ``l`` and reduces it (``'none'``, ``'mean'``, ``'sum'``;
``kl_div`` also ``'batchmean'``). Backward scales the upstream gradient back to per-element form
(``g / n`` for ``'mean'``) and multiplies by the derivative of ``l``.

Classification losses put classes on dim 1 (``(N, C)`` or ``(N, C, d1, ..., dK)``, unbatched
``(C,)``); internally the class axis is moved last and the rest flattened to ``(M, C)``.
"""

from __future__ import annotations

import warnings

import numpy as np

from convnp import _autocast
from convnp._dtype import is_floating
from convnp.autograd.function import Function
from convnp.tensor import Tensor

__all__ = ["cross_entropy", "nll_loss", "mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss",
           "binary_cross_entropy", "binary_cross_entropy_with_logits", "kl_div"]

_REDUCTIONS = ("none", "mean", "sum")


class _TargetIndexError(IndexError, ValueError):
    """A class index out of range: IndexError like torch, and a ValueError (bad input value)."""


# ---------------------------------------------------------------------------- shared helpers
def _legacy_reduction(size_average, reduce, reduction: str) -> str:
    """PyTorch's mapping of the deprecated ``size_average``/``reduce`` flags to ``reduction``."""
    if size_average is None and reduce is None:
        return reduction
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    if not reduce:
        return "none"
    return "mean" if size_average else "sum"


def _check_reduction(reduction: str, fn: str, allowed=_REDUCTIONS) -> None:
    if reduction not in allowed:
        raise ValueError(f"{fn}: {reduction!r} is not a valid value for reduction; use one of "
                         f"{', '.join(repr(r) for r in allowed)}")


def _tensor(x, name: str, fn: str) -> Tensor:
    if isinstance(x, Tensor):
        return x
    if isinstance(x, np.ndarray):
        return Tensor._wrap(x)
    raise TypeError(f"{fn}: argument '{name}' must be a Tensor, got {type(x).__name__}")


def _array(x, dtype=None) -> np.ndarray | None:
    """A non-differentiable setting (class weights) as an ndarray of ``dtype``."""
    if x is None:
        return None
    arr = x.array if isinstance(x, Tensor) else np.asarray(x)
    return arr.astype(dtype, copy=False) if dtype is not None else arr


def _reduce(loss: np.ndarray, reduction: str, denom=None) -> np.ndarray:
    if reduction == "none":
        return loss
    total = loss.sum()
    if reduction == "sum":
        return total
    n = loss.size if denom is None else denom
    with np.errstate(invalid="ignore", divide="ignore"):  # empty / all-ignored: nan like torch
        return (total / n).astype(loss.dtype)


def _elem_grad(g: np.ndarray, reduction: str, n) -> np.ndarray:
    """The upstream gradient per element of the unreduced loss."""
    if reduction == "mean":
        with np.errstate(invalid="ignore", divide="ignore"):
            return g / n
    return g


def _broadcast_pair(input: Tensor, target: Tensor, fn: str) -> None:
    if tuple(input.shape) == tuple(target.shape):
        return
    try:
        np.broadcast_shapes(input.shape, target.shape)
    except ValueError:
        raise ValueError(f"{fn}: input of shape {tuple(input.shape)} and target of shape "
                         f"{tuple(target.shape)} cannot be broadcast together; they should have "
                         "the same shape") from None
    warnings.warn(f"{fn}: using a target size ({tuple(target.shape)}) that is different to the "
                  f"input size ({tuple(input.shape)}). This will likely lead to incorrect results "
                  "due to broadcasting. Please ensure they have the same size.", stacklevel=3)


def _float_target(target: Tensor, input: Tensor) -> Tensor:
    """Targets of regression losses in the input's dtype (a cast that keeps gradients)."""
    if target.dtype == input.dtype:
        return target
    if target.requires_grad:
        return target.to(input.dtype)
    return Tensor._wrap(target.array.astype(input.dtype))


# ---------------------------------------------------------------------------- regression losses
class _Pointwise(Function):
    """Base of losses of ``d = x - y``; subclasses give ``value`` (l) and ``deriv`` (l')."""

    @staticmethod
    def value(d, **kw):
        raise NotImplementedError

    @staticmethod
    def deriv(d, **kw):
        raise NotImplementedError

    @classmethod
    def _fwd(cls, ctx, x, y, reduction, **kw):
        d = x - y
        ctx.save_for_backward(d)
        ctx.reduction, ctx.kw = reduction, kw
        return _reduce(cls.value(d, **kw), reduction)

    @classmethod
    def _bwd(cls, ctx, g):
        (d,) = ctx.saved_tensors
        gd = _elem_grad(g, ctx.reduction, d.size) * cls.deriv(d, **ctx.kw)
        return (gd if ctx.needs_input_grad[0] else None,
                -gd if ctx.needs_input_grad[1] else None)


class MSELoss(_Pointwise):
    value = staticmethod(lambda d: d * d)
    deriv = staticmethod(lambda d: 2 * d)

    @staticmethod
    def forward(ctx, x, y, reduction):
        return MSELoss._fwd(ctx, x, y, reduction)

    @staticmethod
    def backward(ctx, g):
        return MSELoss._bwd(ctx, g)


class L1Loss(_Pointwise):
    value = staticmethod(np.abs)
    deriv = staticmethod(np.sign)

    @staticmethod
    def forward(ctx, x, y, reduction):
        return L1Loss._fwd(ctx, x, y, reduction)

    @staticmethod
    def backward(ctx, g):
        return L1Loss._bwd(ctx, g)


class SmoothL1Loss(_Pointwise):
    @staticmethod
    def value(d, beta):
        a = np.abs(d)
        if beta == 0:
            return a
        return np.where(a < beta, 0.5 * d * d / beta, a - 0.5 * beta)

    @staticmethod
    def deriv(d, beta):
        if beta == 0:
            return np.sign(d)
        return np.clip(d / beta, -1, 1)

    @staticmethod
    def forward(ctx, x, y, reduction, beta):
        return SmoothL1Loss._fwd(ctx, x, y, reduction, beta=beta)

    @staticmethod
    def backward(ctx, g):
        return SmoothL1Loss._bwd(ctx, g)


class HuberLoss(_Pointwise):
    @staticmethod
    def value(d, delta):
        a = np.abs(d)
        return np.where(a < delta, 0.5 * d * d, delta * (a - 0.5 * delta))

    @staticmethod
    def deriv(d, delta):
        return np.clip(d, -delta, delta)

    @staticmethod
    def forward(ctx, x, y, reduction, delta):
        return HuberLoss._fwd(ctx, x, y, reduction, delta=delta)

    @staticmethod
    def backward(ctx, g):
        return HuberLoss._bwd(ctx, g)


def _pointwise(fn_cls, name, input, target, size_average, reduce, reduction, **kw):
    input = _tensor(input, "input", name)
    target = _tensor(target, "target", name)
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction, name)
    _broadcast_pair(input, target, name)
    if not is_floating(input.dtype):
        raise TypeError(f"{name}: input must be a floating tensor, got {input.dtype}")
    return fn_cls.apply(input, _float_target(target, input), reduction=reduction, **kw)


@_autocast.fp32
def mse_loss(input: Tensor, target: Tensor, size_average=None, reduce=None,
             reduction: str = "mean", weight=None) -> Tensor:
    r"""Mean squared error :math:`l_n = (x_n - y_n)^2`, reduced by ``reduction``.

    Args:
        input: predictions, any shape.
        target: same shape as the input.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.
        weight: optional per-element weights broadcastable to the input (torch 2.6+).

    Shape:
        - Input: :math:`(*)`, Target: :math:`(*)`; output a scalar, or :math:`(*)` with
          ``'none'``.

    Example::

        >>> F.mse_loss(convnp.randn(3, 5, requires_grad=True), convnp.randn(3, 5)).backward()
    """
    if weight is not None:
        return _weighted_pointwise(mse_loss, input, target, reduction, weight, "mse_loss",
                                   size_average, reduce)
    return _pointwise(MSELoss, "mse_loss", input, target, size_average, reduce, reduction)


@_autocast.fp32
def l1_loss(input: Tensor, target: Tensor, size_average=None, reduce=None,
            reduction: str = "mean", weight=None) -> Tensor:
    r"""Mean absolute error :math:`l_n = |x_n - y_n|`, reduced by ``reduction``.

    Args:
        input: predictions, any shape.
        target: same shape as the input.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.
        weight: optional per-element weights broadcastable to the input (torch 2.6+).

    Shape:
        - Input: :math:`(*)`, Target: :math:`(*)`; output a scalar, or :math:`(*)` with
          ``'none'``.

    Example::

        >>> F.l1_loss(convnp.randn(3, 5, requires_grad=True), convnp.randn(3, 5)).backward()
    """
    if weight is not None:
        return _weighted_pointwise(l1_loss, input, target, reduction, weight, "l1_loss",
                                   size_average, reduce)
    return _pointwise(L1Loss, "l1_loss", input, target, size_average, reduce, reduction)


@_autocast.fp32
def smooth_l1_loss(input: Tensor, target: Tensor, size_average=None, reduce=None,
                   reduction: str = "mean", beta: float = 1.0) -> Tensor:
    r"""Smooth L1: :math:`0.5 d^2 / \beta` where :math:`|d| < \beta`, else :math:`|d| - 0.5\beta`
    with :math:`d = x - y`.

    Args:
        input: predictions, any shape.
        target: same shape as the input.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.
        beta: the threshold between the L2 and L1 regions (>= 0; 0 gives the L1 loss).

    Shape:
        - Input: :math:`(*)`, Target: :math:`(*)`; output a scalar, or :math:`(*)` with
          ``'none'``.

    Example::

        >>> F.smooth_l1_loss(convnp.randn(3, 5), convnp.randn(3, 5), beta=0.5)
    """
    if beta < 0:
        raise ValueError(f"smooth_l1_loss: beta must be non-negative, got {beta}")
    return _pointwise(SmoothL1Loss, "smooth_l1_loss", input, target, size_average, reduce,
                      reduction, beta=float(beta))


@_autocast.fp32
def huber_loss(input: Tensor, target: Tensor, reduction: str = "mean", delta: float = 1.0,
               weight=None) -> Tensor:
    r"""Huber: :math:`0.5 d^2` where :math:`|d| < \delta`, else :math:`\delta (|d| - 0.5\delta)`.

    Args:
        input: predictions, any shape.
        target: same shape as the input.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.
        delta: the threshold between the L2 and L1 regions (> 0).
        weight: optional per-element weights broadcastable to the input (torch 2.6+).

    Shape:
        - Input: :math:`(*)`, Target: :math:`(*)`; output a scalar, or :math:`(*)` with
          ``'none'``.

    Example::

        >>> F.huber_loss(convnp.randn(3, 5), convnp.randn(3, 5), delta=2.0)
    """
    if delta <= 0:
        raise ValueError(f"huber_loss: delta must be positive, got {delta}")
    if weight is not None:
        return _weighted_pointwise(lambda i, t, reduction: huber_loss(i, t, reduction, delta),
                                   input, target, reduction, weight, "huber_loss", None, None,
                                   mean_by_weight=False)
    return _pointwise(HuberLoss, "huber_loss", input, target, None, None, reduction,
                      delta=float(delta))


def _weighted_pointwise(fn, input, target, reduction, weight, name, size_average, reduce,
                        mean_by_weight=True):
    """``weight * l`` reduced; torch's ``'mean'`` divides by ``weight.sum()`` for mse/l1 and by
    the element count for huber."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction, name)
    w = weight if isinstance(weight, Tensor) else Tensor._wrap(np.asarray(weight))
    if tuple(w.shape) != tuple(input.shape):
        raise ValueError(f"{name}: weight of shape {tuple(w.shape)} must have the input's shape "
                         f"{tuple(input.shape)}")
    loss = fn(input, target, reduction="none") * w
    if reduction == "none":
        return loss
    if reduction == "sum":
        return loss.sum()
    return loss.sum() / w.sum() if mean_by_weight else loss.mean()


# ---------------------------------------------------------------------------- classification
def _classes_last(a: np.ndarray) -> np.ndarray:
    """``(N, C, d1, ...)`` -> ``(M, C)`` with the class axis last; ``(C,)`` -> ``(1, C)``."""
    if a.ndim == 1:
        return a[None, :]
    return np.moveaxis(a, 1, -1).reshape(-1, a.shape[1])


def _classes_back(a2: np.ndarray, shape: tuple) -> np.ndarray:
    """Inverse of ``_classes_last``."""
    if len(shape) == 1:
        return a2.reshape(shape)
    moved = (shape[0],) + tuple(shape[2:]) + (shape[1],)
    return np.moveaxis(a2.reshape(moved), -1, 1)


def _log_softmax2(x2: np.ndarray) -> np.ndarray:
    z = x2 - x2.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


class _ClassLoss(Function):
    """Cross entropy / NLL over ``(M, C)`` rows, index or probability targets, fused.

    With ``from_logits`` the input goes through a stable log-softmax and the input gradient is
    ``softmax * sum(q) - q`` (``q`` = the weights the loss puts on each log-probability);
    without it (NLL) the gradient is ``-q``.
    """

    @staticmethod
    def forward(ctx, x, target, weight, ignore_index, reduction, label_smoothing, from_logits,
                probs):
        shape = x.shape
        x2 = _classes_last(x)  # (M, C)
        logp = _log_softmax2(x2) if from_logits else x2
        m, c = logp.shape
        eps = label_smoothing
        w = None if weight is None else weight.astype(x.dtype, copy=False)
        if probs:
            t2 = _classes_last(target)
            q = t2 * (1 - eps) + eps / c if eps > 0 else t2  # (M, C) weights on log-probs
            if w is not None:
                q = q * w
            loss = -(q * logp).sum(1)  # (M,)
            denom = m
            mask = None
        else:
            t = target.reshape(-1)  # (M,)
            mask = t != ignore_index
            safe = np.where(mask, t, 0)
            rows = np.arange(m)
            wy = np.ones(m, x.dtype) if w is None else w[safe]
            wy = wy * mask
            picked = logp[rows, safe]
            loss = -(wy * picked)
            if eps > 0:
                smooth = -(logp * w).sum(1) if w is not None else -logp.sum(1)
                loss = (1 - eps) * loss + (eps / c) * (smooth * mask)
            denom = wy.sum()
            q = None
            ctx.idx = (rows, safe, wy)
        ctx.save_for_backward(logp, q, target if probs else None, w)
        ctx.meta = (shape, reduction, denom, eps, from_logits, probs, mask)
        if reduction == "none":
            lead = (shape[0],) + tuple(shape[2:]) if len(shape) > 1 else ()
            return loss.reshape(lead).astype(x.dtype, copy=False)
        return _reduce(loss, reduction, denom).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        logp, q, target, w = ctx.saved_tensors
        shape, reduction, denom, eps, from_logits, probs, mask = ctx.meta
        m, c = logp.shape
        ge = _elem_grad(g, reduction, denom)
        ge = ge.reshape(-1, 1) if reduction == "none" else ge  # (M, 1) or scalar
        if not probs:
            rows, safe, wy = ctx.idx
            q = np.zeros_like(logp)
            q[rows, safe] = (1 - eps) * wy
            if eps > 0:
                q += (eps / c) * (np.broadcast_to(w, (m, c)) if w is not None else 1.0) \
                    * mask[:, None]
        gx = gt = None
        if ctx.needs_input_grad[0]:
            if from_logits:
                gx2 = np.exp(logp) * q.sum(1, keepdims=True) - q
            else:
                gx2 = -q
            gx = _classes_back(gx2 * ge, shape)
        if probs and ctx.needs_input_grad[1]:
            # d loss / d target: -(1 - eps) * w * logp
            gt2 = -(1 - eps) * logp * (w if w is not None else 1.0)
            gt = _classes_back(gt2 * ge, shape)
        return gx, gt


def _class_loss(name, input, target, weight, ignore_index, reduction, label_smoothing,
                from_logits):
    input = _tensor(input, "input", name)
    target = _tensor(target, "target", name)
    _check_reduction(reduction, name)
    if not is_floating(input.dtype):
        raise TypeError(f"{name}: input must be a floating tensor (logits), got {input.dtype}")
    if input.ndim == 0:
        raise ValueError(f"{name}: input must have a class dimension, (C,) or (N, C, ...), got a "
                         "0-d tensor")
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"{name}: label_smoothing must be between 0.0 and 1.0, got "
                         f"{label_smoothing}")
    shape = tuple(input.shape)
    c = shape[0] if len(shape) == 1 else shape[1]
    idx_shape = () if len(shape) == 1 else (shape[0],) + shape[2:]
    tshape = tuple(target.shape)
    probs = is_floating(target.dtype)
    if probs:
        if not from_logits:
            raise TypeError(f"{name}: expected target of shape {idx_shape} with class indices "
                            f"(int64), got float dtype {target.dtype}: pass target.long()")
        if tshape != shape:
            if len(tshape) == len(shape):
                raise ValueError(f"{name}: target has shape {tshape} of class probabilities but "
                                 f"input has {c} classes (input shape {shape}); class "
                                 "probabilities must have the input's shape")
            raise TypeError(f"{name}: expected target of shape {idx_shape} with class indices, "
                            f"got float dtype {target.dtype} with shape {tshape}: pass "
                            f".long() or probabilities of shape {shape}")
    else:
        if target.dtype.kind not in "iu":
            raise TypeError(f"{name}: target must hold int64 class indices or float class "
                            f"probabilities, got dtype {target.dtype}")
        if tshape != idx_shape:
            raise ValueError(f"{name}: expected target of shape {idx_shape} with class indices "
                             f"for input of shape {shape} (classes on dim 1), got target shape "
                             f"{tshape}")
        t = target.array
        bad = (t != ignore_index) & ((t < 0) | (t >= c))
        if bad.any():
            raise _TargetIndexError(f"{name}: target {int(t[bad].flat[0])} is out of bounds for "
                                    f"{c} classes (valid: 0..{c - 1}, or "
                                    f"ignore_index={ignore_index})")
    w = _array(weight)
    if w is not None and tuple(w.shape) != (c,):
        raise ValueError(f"{name}: weight must have one entry per class, shape ({c},), got "
                         f"{tuple(w.shape)}")
    tgt = _float_target(target, input) if probs else target
    return _ClassLoss.apply(input, tgt, weight=w, ignore_index=ignore_index, reduction=reduction,
                            label_smoothing=float(label_smoothing), from_logits=from_logits,
                            probs=probs)


@_autocast.fp32
def cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None, size_average=None,
                  ignore_index: int = -100, reduce=None, reduction: str = "mean",
                  label_smoothing: float = 0.0) -> Tensor:
    r"""Cross entropy between logits and class targets (log-softmax + NLL, fused and stable).

    For class-index targets
    :math:`l_n = -w_{y_n} \log \frac{\exp x_{n,y_n}}{\sum_c \exp x_{n,c}}` (ignored targets give 0
    and ``'mean'`` divides by :math:`\sum_n w_{y_n}` over the kept ones); for class-probability
    targets :math:`l_n = -\sum_c w_c y_{n,c} \log \mathrm{softmax}(x_n)_c` and ``'mean'`` divides by
    the number of samples. With ``label_smoothing`` :math:`\varepsilon` the target mixes
    :math:`1-\varepsilon` of itself with a uniform :math:`\varepsilon / C`.

    Args:
        input: unnormalised logits.
        target: class indices (int64) in :math:`[0, C)`, or class probabilities (float, the
            input's shape).
        weight: optional rescaling weight per class, shape :math:`(C)`.
        ignore_index: a target value that is ignored (index targets only).
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.
        label_smoothing: in :math:`[0.0, 1.0]`.

    Shape:
        - Input: :math:`(C)`, :math:`(N, C)` or :math:`(N, C, d_1, ..., d_K)`.
        - Target: :math:`()`, :math:`(N)` or :math:`(N, d_1, ..., d_K)` of indices, or the input's
          shape of probabilities.
        - Output: a scalar; with ``'none'`` :math:`()`, :math:`(N)` or :math:`(N, d_1, ..., d_K)`.

    Example::

        >>> logits = convnp.randn(3, 5, requires_grad=True)
        >>> F.cross_entropy(logits, convnp.tensor([1, 0, 4])).backward()
    """
    reduction = _legacy_reduction(size_average, reduce, reduction)
    return _class_loss("cross_entropy", input, target, weight, ignore_index, reduction,
                       label_smoothing, True)


@_autocast.fp32
def nll_loss(input: Tensor, target: Tensor, weight: Tensor | None = None, size_average=None,
             ignore_index: int = -100, reduce=None, reduction: str = "mean") -> Tensor:
    r"""Negative log-likelihood of log-probabilities: :math:`l_n = -w_{y_n} x_{n, y_n}`.

    ``'mean'`` divides by :math:`\sum_n w_{y_n}` over the targets not equal to ``ignore_index``.

    Args:
        input: log-probabilities (e.g. ``F.log_softmax(x, 1)``).
        target: class indices (int64) in :math:`[0, C)`.
        weight: optional rescaling weight per class, shape :math:`(C)`.
        ignore_index: a target value that is ignored.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.

    Shape:
        - Input: :math:`(C)`, :math:`(N, C)` or :math:`(N, C, d_1, ..., d_K)`.
        - Target: :math:`()`, :math:`(N)` or :math:`(N, d_1, ..., d_K)`.
        - Output: a scalar; with ``'none'`` the target's shape.

    Example::

        >>> logp = F.log_softmax(convnp.randn(3, 5, requires_grad=True), dim=1)
        >>> F.nll_loss(logp, convnp.tensor([1, 0, 4])).backward()
    """
    reduction = _legacy_reduction(size_average, reduce, reduction)
    return _class_loss("nll_loss", input, target, weight, ignore_index, reduction, 0.0, False)


# ---------------------------------------------------------------------------- binary losses
def _log_sigmoid(x: np.ndarray) -> np.ndarray:
    """Stable ``log(sigmoid(x)) = -(max(-x, 0) + log1p(exp(-|x|)))``."""
    return -(np.maximum(-x, 0) + np.log1p(np.exp(-np.abs(x))))


class BCELoss(Function):
    @staticmethod
    def forward(ctx, x, y, weight, reduction):
        # torch clamps the logs at -100 so that x = 0 or 1 gives a finite loss
        with np.errstate(divide="ignore"):
            lx = np.maximum(np.log(x), -100)
            l1x = np.maximum(np.log1p(-x), -100)
        loss = -(y * lx + (1 - y) * l1x)
        if weight is not None:
            loss = loss * weight
        ctx.save_for_backward(x, y, weight, lx, l1x)
        ctx.reduction, ctx.n = reduction, loss.size
        return _reduce(loss, reduction)

    @staticmethod
    def backward(ctx, g):
        x, y, weight, lx, l1x = ctx.saved_tensors
        ge = _elem_grad(g, ctx.reduction, ctx.n)
        if weight is not None:
            ge = ge * weight
        gx = gy = None
        if ctx.needs_input_grad[0]:
            gx = ge * (x - y) / np.maximum((1 - x) * x, 1e-12)
        if ctx.needs_input_grad[1]:
            gy = ge * (l1x - lx)
        return gx, gy


@_autocast.fp32
def binary_cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None,
                         size_average=None, reduce=None, reduction: str = "mean") -> Tensor:
    r"""Binary cross entropy of probabilities:
    :math:`l_n = -w_n [y_n \log x_n + (1 - y_n) \log(1 - x_n)]` (logs clamped at -100).

    Args:
        input: probabilities in :math:`[0, 1]` (e.g. after ``sigmoid``).
        target: same shape as the input, values in :math:`[0, 1]`.
        weight: optional rescaling weight broadcastable to the input.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.

    Shape:
        - Input: :math:`(*)`, Target: :math:`(*)`; output a scalar, or :math:`(*)` with
          ``'none'``.

    Example::

        >>> p = convnp.rand(3, 2, requires_grad=True)
        >>> F.binary_cross_entropy(p, convnp.rand(3, 2)).backward()
    """
    name = "binary_cross_entropy"
    input = _tensor(input, "input", name)
    target = _tensor(target, "target", name)
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction, name)
    if tuple(target.shape) != tuple(input.shape):
        raise ValueError(f"{name}: target of shape {tuple(target.shape)} must have the same shape "
                         f"as the input {tuple(input.shape)}")
    if input.array.size and (np.min(input.array) < 0 or np.max(input.array) > 1):
        raise RuntimeError(f"{name}: all elements of input should be between 0 and 1 (got values "
                           f"in [{np.min(input.array):.4g}, {np.max(input.array):.4g}]); pass "
                           "probabilities (apply sigmoid) or use binary_cross_entropy_with_logits")
    w = _array(weight, input.dtype)
    if w is not None:
        w = np.broadcast_to(w, input.shape) if w.shape != input.shape else w
    return BCELoss.apply(input, _float_target(target, input), weight=w, reduction=reduction)


class BCEWithLogitsLoss(Function):
    @staticmethod
    def forward(ctx, x, y, weight, pos_weight, reduction):
        ls_pos = _log_sigmoid(x)  # log sigmoid(x)
        ls_neg = ls_pos - x  # log sigmoid(-x) = log(1 - sigmoid(x))
        pw = 1.0 if pos_weight is None else pos_weight
        loss = -(pw * y * ls_pos + (1 - y) * ls_neg)
        if weight is not None:
            loss = loss * weight
        ctx.save_for_backward(x, y, weight, pos_weight, ls_pos, ls_neg)
        ctx.reduction, ctx.n = reduction, loss.size
        return _reduce(loss, reduction)

    @staticmethod
    def backward(ctx, g):
        x, y, weight, pos_weight, ls_pos, ls_neg = ctx.saved_tensors
        ge = _elem_grad(g, ctx.reduction, ctx.n)
        if weight is not None:
            ge = ge * weight
        pw = 1.0 if pos_weight is None else pos_weight
        gx = gy = None
        if ctx.needs_input_grad[0]:
            s = np.exp(ls_pos)  # sigmoid(x)
            gx = ge * (s * (pw * y + 1 - y) - pw * y)
        if ctx.needs_input_grad[1]:
            gy = ge * (ls_neg - pw * ls_pos)
        return gx, gy


@_autocast.fp32
def binary_cross_entropy_with_logits(input: Tensor, target: Tensor,
                                     weight: Tensor | None = None, size_average=None,
                                     reduce=None, reduction: str = "mean",
                                     pos_weight: Tensor | None = None) -> Tensor:
    r"""Sigmoid + binary cross entropy in one stable expression:
    :math:`l_n = -w_n [p\, y_n \log \sigma(x_n) + (1 - y_n) \log(1 - \sigma(x_n))]`.

    Args:
        input: logits of any shape.
        target: same shape as the input, values in :math:`[0, 1]`.
        weight: optional rescaling weight broadcastable to the input.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.
        pos_weight: optional weight :math:`p` of positive examples, broadcast along the last
            dim (one per class, shape :math:`(C)`).

    Shape:
        - Input: :math:`(*)`, Target: :math:`(*)`; output a scalar, or :math:`(*)` with
          ``'none'``.

    Example::

        >>> x = convnp.randn(3, 2, requires_grad=True)
        >>> F.binary_cross_entropy_with_logits(x, convnp.rand(3, 2)).backward()
    """
    name = "binary_cross_entropy_with_logits"
    input = _tensor(input, "input", name)
    target = _tensor(target, "target", name)
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction, name)
    if tuple(target.shape) != tuple(input.shape):
        raise ValueError(f"{name}: target size ({tuple(target.shape)}) must be the same as input "
                         f"size ({tuple(input.shape)})")
    w = _array(weight, input.dtype)
    pw = _array(pos_weight, input.dtype)
    for nm, a in (("weight", w), ("pos_weight", pw)):
        if a is not None:
            try:
                if np.broadcast_shapes(a.shape, input.shape) != tuple(input.shape):
                    raise ValueError
            except ValueError:
                raise ValueError(f"{name}: {nm} of shape {tuple(a.shape)} cannot be broadcast to "
                                 f"the input's shape {tuple(input.shape)}"
                                 + ("; pos_weight holds one value per class (last dim)"
                                    if nm == "pos_weight" else "")) from None
    return BCEWithLogitsLoss.apply(input, _float_target(target, input), weight=w, pos_weight=pw,
                                   reduction=reduction)


# ---------------------------------------------------------------------------- divergence
class KLDivLoss(Function):
    @staticmethod
    def forward(ctx, x, t, reduction, log_target, batch):
        if log_target:
            et = np.exp(t)
            loss = et * (t - x)
        else:
            with np.errstate(divide="ignore", invalid="ignore"):
                # xlogy(t, t): 0 where t == 0
                tlogt = np.where(t > 0, t * np.log(np.where(t > 0, t, 1)), 0)
            loss = tlogt - t * x
            et = None
        ctx.save_for_backward(x, t, et)
        ctx.meta = (reduction, log_target, batch, loss.size)
        if reduction == "batchmean":
            return (loss.sum() / batch).astype(loss.dtype)
        return _reduce(loss, reduction)

    @staticmethod
    def backward(ctx, g):
        x, t, et = ctx.saved_tensors
        reduction, log_target, batch, n = ctx.meta
        ge = g / batch if reduction == "batchmean" else _elem_grad(g, reduction, n)
        gx = gt = None
        if ctx.needs_input_grad[0]:
            gx = -ge * (et if log_target else t)
        if ctx.needs_input_grad[1]:
            if log_target:
                gt = ge * et * (t - x + 1)
            else:
                with np.errstate(divide="ignore"):
                    gt = ge * (np.log(t) + 1 - x)
        return gx, gt


@_autocast.fp32
def kl_div(input: Tensor, target: Tensor, size_average=None, reduce=None,
           reduction: str = "mean", log_target: bool = False) -> Tensor:
    r"""Kullback-Leibler divergence :math:`l_n = y_n (\log y_n - x_n)` with ``input`` given as
    log-probabilities (and ``target`` as probabilities, or log-probabilities with
    ``log_target=True``: :math:`l_n = e^{y_n} (y_n - x_n)`).

    Args:
        input: log-probabilities (e.g. ``F.log_softmax``).
        target: probabilities (or log-probabilities with ``log_target``), the input's shape.
        reduction: ``'none'`` | ``'batchmean'`` (the mathematical KL: sum / batch size) |
            ``'sum'`` | ``'mean'`` (divides by all elements; warns like torch).
        log_target: whether ``target`` is in log space.

    Shape:
        - Input: :math:`(*)`, Target: :math:`(*)`; output a scalar, or :math:`(*)` with
          ``'none'``.

    Example::

        >>> logp = F.log_softmax(convnp.randn(3, 5, requires_grad=True), dim=1)
        >>> F.kl_div(logp, F.softmax(convnp.randn(3, 5), dim=1), reduction='batchmean')
    """
    name = "kl_div"
    input = _tensor(input, "input", name)
    target = _tensor(target, "target", name)
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction, name, _REDUCTIONS + ("batchmean",))
    if reduction == "mean":
        warnings.warn("reduction: 'mean' divides the total loss by both the batch size and the "
                      "support size.'batchmean' divides only by the batch size, and aligns with "
                      "the KL div math definition.'mean' will be changed to behave the same as "
                      "'batchmean' in the next major release.", stacklevel=2)
    _broadcast_pair(input, target, name)
    batch = input.shape[0] if input.ndim > 0 else 1
    return KLDivLoss.apply(input, _float_target(target, input), reduction=reduction,
                           log_target=bool(log_target), batch=batch)

