"""Loss modules: hold ``reduction`` and the other settings, call ``convnp.ops.loss``.

Each loss declares its constructor's parameters (torch's names, order and defaults) and its op;
the shared base (:mod:`convnp.nn.modules._declared`) builds ``__init__`` and ``forward``.
The deprecated ``size_average``/``reduce`` pair is folded into ``reduction`` as torch does, and
class weights (``weight``, ``pos_weight``) are buffers like in torch, so they appear in the
state_dict and follow ``.double()``.
"""

from __future__ import annotations

import numpy as np

from convnp.nn.modules._declared import _DeclaredLayer
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


LEGACY = (("size_average", None), ("reduce", None), ("reduction", "mean"))
_BUFFERS = ("weight", "pos_weight")


class _Loss(_DeclaredLayer):
    _params = LEGACY
    _repr = ""  # torch's losses print no settings

    def _store(self, size_average=None, reduce=None, reduction: str = "mean",
               **settings) -> None:
        self.reduction = L.legacy_reduction(size_average, reduce, reduction)
        for name, value in settings.items():
            if name in _BUFFERS:
                self.register_buffer(name, _buffer(value, type(self).__name__, name))
            else:
                setattr(self, name, value)


class _WeightedLoss(_Loss):
    _params = (("weight", None),) + LEGACY


class L1Loss(_Loss):
    r"""Mean absolute error, see :func:`convnp.nn.functional.l1_loss`.

    Shape:
        - Input: :math:`(*)`, Target: :math:`(*)`; output scalar (or :math:`(*)` with 'none').

    Example::

        >>> nn.L1Loss()(convnp.randn(3, 5, requires_grad=True), convnp.randn(3, 5)).backward()
    """

    _fn = L.l1_loss


class MSELoss(_Loss):
    r"""Mean squared error, see :func:`convnp.nn.functional.mse_loss`.

    Shape:
        - Input: :math:`(*)`, Target: :math:`(*)`; output scalar (or :math:`(*)` with 'none').

    Example::

        >>> nn.MSELoss()(convnp.randn(3, 5, requires_grad=True), convnp.randn(3, 5)).backward()
    """

    _fn = L.mse_loss


class SmoothL1Loss(_Loss):
    r"""Smooth L1 loss with threshold ``beta``, see :func:`convnp.nn.functional.smooth_l1_loss`.

    Shape:
        - Input: :math:`(*)`, Target: :math:`(*)`; output scalar (or :math:`(*)` with 'none').

    Example::

        >>> nn.SmoothL1Loss(beta=0.5)(convnp.randn(3, 5), convnp.randn(3, 5))
    """

    _params = LEGACY + (("beta", 1.0),)
    _fn = L.smooth_l1_loss


class HuberLoss(_Loss):
    r"""Huber loss with threshold ``delta``, see :func:`convnp.nn.functional.huber_loss`.

    Shape:
        - Input: :math:`(*)`, Target: :math:`(*)`; output scalar (or :math:`(*)` with 'none').

    Example::

        >>> nn.HuberLoss(delta=2.0)(convnp.randn(3, 5), convnp.randn(3, 5))
    """

    _params = (("reduction", "mean"), ("delta", 1.0))
    _fn = L.huber_loss


class NLLLoss(_WeightedLoss):
    r"""Negative log-likelihood of log-probabilities, see :func:`convnp.nn.functional.nll_loss`.

    Shape:
        - Input: :math:`(N, C)` or :math:`(N, C, d_1, ..., d_K)` (or :math:`(C)`).
        - Target: :math:`(N)` or :math:`(N, d_1, ..., d_K)` class indices (or :math:`()`).

    Example::

        >>> m = nn.NLLLoss()
        >>> m(F.log_softmax(convnp.randn(3, 5), 1), convnp.tensor([1, 0, 4]))
    """

    _params = (("weight", None), ("size_average", None), ("ignore_index", -100),
               ("reduce", None), ("reduction", "mean"))
    _fn = L.nll_loss


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

    _params = NLLLoss._params + (("label_smoothing", 0.0),)
    _fn = L.cross_entropy


class BCELoss(_WeightedLoss):
    r"""Binary cross entropy of probabilities, see
    :func:`convnp.nn.functional.binary_cross_entropy`.

    Shape:
        - Input: :math:`(*)`, Target: :math:`(*)`; output scalar (or :math:`(*)` with 'none').

    Example::

        >>> nn.BCELoss()(F.sigmoid(convnp.randn(3)), convnp.tensor([0., 1., 1.]))
    """

    _fn = L.binary_cross_entropy


class BCEWithLogitsLoss(_Loss):
    r"""Sigmoid + binary cross entropy, stable, see
    :func:`convnp.nn.functional.binary_cross_entropy_with_logits`.

    Shape:
        - Input: :math:`(*)`, Target: :math:`(*)`; output scalar (or :math:`(*)` with 'none').

    Example::

        >>> loss = nn.BCEWithLogitsLoss(pos_weight=convnp.ones(3) * 2)
        >>> loss(convnp.randn(4, 3), convnp.rand(4, 3))
    """

    _params = _WeightedLoss._params + (("pos_weight", None),)
    _fn = L.binary_cross_entropy_with_logits


class KLDivLoss(_Loss):
    r"""Kullback-Leibler divergence of log-probabilities, see
    :func:`convnp.nn.functional.kl_div`.

    Shape:
        - Input: :math:`(*)`, Target: :math:`(*)`; output scalar (or :math:`(*)` with 'none').

    Example::

        >>> kl = nn.KLDivLoss(reduction='batchmean')
        >>> kl(F.log_softmax(convnp.randn(3, 5), 1), F.softmax(convnp.randn(3, 5), 1))
    """

    _params = LEGACY + (("log_target", False),)
    _fn = L.kl_div
