"""Loss modules: hold ``reduction`` and the other settings, call ``convnp.ops.loss``.

Class weights (``weight``, ``pos_weight``) are buffers like in torch, so they appear in the
state_dict and follow ``.double()``.
"""

from __future__ import annotations

import numpy as np

from convnp.nn.modules.module import Module
from convnp.ops import loss as L
from convnp.tensor import Tensor

__all__ = ["L1Loss", "MSELoss", "SmoothL1Loss", "HuberLoss", "NLLLoss", "CrossEntropyLoss",
           "BCELoss", "BCEWithLogitsLoss", "KLDivLoss"]


def _buffer(value, owner: str, name: str) -> Tensor | None:
    if value is None or isinstance(value, Tensor):
        return value
    if isinstance(value, np.ndarray):
        return Tensor(value)
    raise TypeError(f"{owner}: '{name}' must be a Tensor or None, got {type(value).__name__}")


class _Loss(Module):
    def __init__(self, size_average=None, reduce=None, reduction: str = "mean") -> None:
        super().__init__()
        self.reduction = L.legacy_reduction(size_average, reduce, reduction)


class _WeightedLoss(_Loss):
    def __init__(self, weight=None, size_average=None, reduce=None,
                 reduction: str = "mean") -> None:
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", _buffer(weight, type(self).__name__, "weight"))


class L1Loss(_Loss):
    r"""Mean absolute error, see :func:`convnp.nn.functional.l1_loss`.

    Shape:
        - Input: :math:`(*)`, Target: :math:`(*)`; output scalar (or :math:`(*)` with 'none').

    Example::

        >>> nn.L1Loss()(convnp.randn(3, 5, requires_grad=True), convnp.randn(3, 5)).backward()
    """

    def forward(self, input, target):
        return L.l1_loss(input, target, reduction=self.reduction)


class MSELoss(_Loss):
    r"""Mean squared error, see :func:`convnp.nn.functional.mse_loss`.

    Shape:
        - Input: :math:`(*)`, Target: :math:`(*)`; output scalar (or :math:`(*)` with 'none').

    Example::

        >>> nn.MSELoss()(convnp.randn(3, 5, requires_grad=True), convnp.randn(3, 5)).backward()
    """

    def forward(self, input, target):
        return L.mse_loss(input, target, reduction=self.reduction)


class SmoothL1Loss(_Loss):
    r"""Smooth L1 loss with threshold ``beta``, see :func:`convnp.nn.functional.smooth_l1_loss`.

    Shape:
        - Input: :math:`(*)`, Target: :math:`(*)`; output scalar (or :math:`(*)` with 'none').

    Example::

        >>> nn.SmoothL1Loss(beta=0.5)(convnp.randn(3, 5), convnp.randn(3, 5))
    """

    def __init__(self, size_average=None, reduce=None, reduction: str = "mean",
                 beta: float = 1.0) -> None:
        super().__init__(size_average, reduce, reduction)
        self.beta = beta

    def forward(self, input, target):
        return L.smooth_l1_loss(input, target, reduction=self.reduction, beta=self.beta)


class HuberLoss(_Loss):
    r"""Huber loss with threshold ``delta``, see :func:`convnp.nn.functional.huber_loss`.

    Shape:
        - Input: :math:`(*)`, Target: :math:`(*)`; output scalar (or :math:`(*)` with 'none').

    Example::

        >>> nn.HuberLoss(delta=2.0)(convnp.randn(3, 5), convnp.randn(3, 5))
    """

    def __init__(self, reduction: str = "mean", delta: float = 1.0) -> None:
        super().__init__(reduction=reduction)
        self.delta = delta

    def forward(self, input, target):
        return L.huber_loss(input, target, reduction=self.reduction, delta=self.delta)


class NLLLoss(_WeightedLoss):
    r"""Negative log-likelihood of log-probabilities, see :func:`convnp.nn.functional.nll_loss`.

    Shape:
        - Input: :math:`(N, C)` or :math:`(N, C, d_1, ..., d_K)` (or :math:`(C)`).
        - Target: :math:`(N)` or :math:`(N, d_1, ..., d_K)` class indices (or :math:`()`).

    Example::

        >>> m = nn.NLLLoss()
        >>> m(F.log_softmax(convnp.randn(3, 5), 1), convnp.tensor([1, 0, 4]))
    """

    def __init__(self, weight=None, size_average=None, ignore_index: int = -100, reduce=None,
                 reduction: str = "mean") -> None:
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index = ignore_index

    def forward(self, input, target):
        return L.nll_loss(input, target, weight=self.weight, ignore_index=self.ignore_index,
                          reduction=self.reduction)


class CrossEntropyLoss(_WeightedLoss):
    r"""Cross entropy of logits and class indices or probabilities, see
    :func:`convnp.nn.functional.cross_entropy`.

    Shape:
        - Input: :math:`(N, C)` or :math:`(N, C, d_1, ..., d_K)` (or :math:`(C)`).
        - Target: :math:`(N)` / :math:`(N, d_1, ..., d_K)` class indices, or probabilities of the
          input's shape.

    Example::

        >>> loss = nn.CrossEntropyLoss(label_smoothing=0.1)
        >>> loss(convnp.randn(3, 5, requires_grad=True), convnp.tensor([1, 0, 4])).backward()
    """

    def __init__(self, weight=None, size_average=None, ignore_index: int = -100, reduce=None,
                 reduction: str = "mean", label_smoothing: float = 0.0) -> None:
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index = ignore_index
        self.label_smoothing = label_smoothing

    def forward(self, input, target):
        return L.cross_entropy(input, target, weight=self.weight, ignore_index=self.ignore_index,
                               reduction=self.reduction, label_smoothing=self.label_smoothing)


class BCELoss(_WeightedLoss):
    r"""Binary cross entropy of probabilities, see
    :func:`convnp.nn.functional.binary_cross_entropy`.

    Shape:
        - Input: :math:`(*)`, Target: :math:`(*)`; output scalar (or :math:`(*)` with 'none').

    Example::

        >>> nn.BCELoss()(F.sigmoid(convnp.randn(3)), convnp.tensor([0., 1., 1.]))
    """

    def forward(self, input, target):
        return L.binary_cross_entropy(input, target, weight=self.weight,
                                      reduction=self.reduction)


class BCEWithLogitsLoss(_Loss):
    r"""Sigmoid + binary cross entropy, stable, see
    :func:`convnp.nn.functional.binary_cross_entropy_with_logits`.

    Shape:
        - Input: :math:`(*)`, Target: :math:`(*)`; output scalar (or :math:`(*)` with 'none').

    Example::

        >>> loss = nn.BCEWithLogitsLoss(pos_weight=convnp.ones(3) * 2)
        >>> loss(convnp.randn(4, 3), convnp.rand(4, 3))
    """

    def __init__(self, weight=None, size_average=None, reduce=None, reduction: str = "mean",
                 pos_weight=None) -> None:
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", _buffer(weight, "BCEWithLogitsLoss", "weight"))
        self.register_buffer("pos_weight", _buffer(pos_weight, "BCEWithLogitsLoss",
                                                   "pos_weight"))

    def forward(self, input, target):
        return L.binary_cross_entropy_with_logits(input, target, self.weight,
                                                  pos_weight=self.pos_weight,
                                                  reduction=self.reduction)


class KLDivLoss(_Loss):
    r"""Kullback-Leibler divergence of log-probabilities, see
    :func:`convnp.nn.functional.kl_div`.

    Shape:
        - Input: :math:`(*)`, Target: :math:`(*)`; output scalar (or :math:`(*)` with 'none').

    Example::

        >>> kl = nn.KLDivLoss(reduction='batchmean')
        >>> kl(F.log_softmax(convnp.randn(3, 5), 1), F.softmax(convnp.randn(3, 5), 1))
    """

    def __init__(self, size_average=None, reduce=None, reduction: str = "mean",
                 log_target: bool = False) -> None:
        super().__init__(size_average, reduce, reduction)
        self.log_target = log_target

    def forward(self, input, target):
        return L.kl_div(input, target, reduction=self.reduction, log_target=self.log_target)
