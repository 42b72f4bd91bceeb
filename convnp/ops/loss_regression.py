"""Regression losses: functions of ``d = input - target`` (MSE, L1, smooth L1, Huber), one
``_Pointwise`` Function each, with torch's per-element ``weight``."""

from __future__ import annotations

import numpy as np

from convnp import _autocast
from convnp._dtype import is_floating
from convnp.autograd.function import Function
from convnp.ops import _loss
from convnp.ops._loss import broadcast_pair, elem_grad, float_target, loss_args, reduce_loss
from convnp.tensor import Tensor

__all__ = ["mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss"]


class _Pointwise(Function):
    """A loss of ``d = x - y``: each subclass gives its per-element ``value`` l(d) and its
    derivative ``deriv`` l'(d) (keyword settings such as ``beta`` passed to both); forward
    reduces l, backward scales the upstream gradient back and multiplies by l'."""

    @classmethod
    def forward(cls, ctx, x, y, reduction, **kw):
        d = x - y
        ctx.save_for_backward(d)
        ctx.reduction, ctx.kw = reduction, kw
        return reduce_loss(cls.value(d, **kw), reduction)

    @classmethod
    def backward(cls, ctx, g):
        (d,) = ctx.saved_tensors
        gd = elem_grad(g, ctx.reduction, d.size) * cls.deriv(d, **ctx.kw)
        return (gd if ctx.needs_input_grad[0] else None,
                -gd if ctx.needs_input_grad[1] else None)


class MSELoss(_Pointwise):
    value = staticmethod(lambda d: d * d)
    deriv = staticmethod(lambda d: 2 * d)


class L1Loss(_Pointwise):
    value = staticmethod(np.abs)
    deriv = staticmethod(np.sign)


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


class HuberLoss(_Pointwise):
    @staticmethod
    def value(d, delta):
        a = np.abs(d)
        return np.where(a < delta, 0.5 * d * d, delta * (a - 0.5 * delta))

    @staticmethod
    def deriv(d, delta):
        return np.clip(d, -delta, delta)


def _pointwise(fn_cls, name, input, target, size_average, reduce, reduction, **kw):
    input, target, reduction = loss_args(name, input, target, size_average, reduce, reduction)
    broadcast_pair(input, target, name)
    if not is_floating(input.dtype):
        raise TypeError(f"{name}: input must be a floating tensor, got {input.dtype}")
    return fn_cls.apply(input, float_target(target, input), reduction=reduction, **kw)


_ERROR_DOC = r"""{title} :math:`l_n = {formula}`, reduced by ``reduction``.

    Args:
        input: predictions, any shape.
        target: same shape as the input.
        reduction: ``'none'`` | ``'mean'`` | ``'sum'``.
        weight: optional per-element weights broadcastable to the input (torch 2.6+).

    Shape:
        - Input: :math:`(*)`, Target: :math:`(*)`; output a scalar, or :math:`(*)` with
          ``'none'``.

    Example::

        >>> F.{name}(convnp.randn(3, 5, requires_grad=True), convnp.randn(3, 5)).backward()
    """


def _mean_error(name: str, fn_cls, title: str, formula: str):
    """``mse_loss`` / ``l1_loss``: one signature, one body, their Function and docstring."""

    def loss(input: Tensor, target: Tensor, size_average=None, reduce=None,
             reduction: str = "mean", weight=None) -> Tensor:
        if weight is not None:
            return _weighted_pointwise(loss, input, target, reduction, weight, name,
                                       size_average, reduce)
        return _pointwise(fn_cls, name, input, target, size_average, reduce, reduction)

    loss.__name__ = loss.__qualname__ = name
    loss.__doc__ = _ERROR_DOC.format(title=title, formula=formula, name=name)
    return _autocast.fp32(loss)


mse_loss = _mean_error("mse_loss", MSELoss, "Mean squared error", "(x_n - y_n)^2")
l1_loss = _mean_error("l1_loss", L1Loss, "Mean absolute error", "|x_n - y_n|")


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
    reduction = _loss.legacy_reduction(size_average, reduce, reduction)
    _loss.check_reduction(reduction, name)
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
