"""The rest of torch.nn's loss layers: margin, embedding, ranking, probabilistic and triplet
losses (thin modules over :mod:`convnp.ops.loss_composite`), and ``NLLLoss2d``."""

from __future__ import annotations

import warnings

from convnp.nn.modules._declared import KW_ONLY
from convnp.nn.modules.distance import PairwiseDistance
from convnp.nn.modules.loss import LEGACY, NLLLoss, _Loss, _WeightedLoss
from convnp.ops import loss_composite as C

__all__ = ["CosineEmbeddingLoss", "GaussianNLLLoss", "HingeEmbeddingLoss", "MarginRankingLoss",
           "MultiLabelMarginLoss", "MultiLabelSoftMarginLoss", "MultiMarginLoss", "NLLLoss2d",
           "PoissonNLLLoss", "SoftMarginLoss", "TripletMarginLoss",
           "TripletMarginWithDistanceLoss"]


class MarginRankingLoss(_Loss):
    r"""Ranking loss :math:`\max(0, -y (x_1 - x_2) + \text{margin})` with :math:`y \in \{1,
    -1\}` saying which input should rank higher.

    Args:
        margin: default 0. reduction: ``'none'`` | ``'mean'`` | ``'sum'``.

    Shape: ``input1``, ``input2``, ``target``: :math:`(N)` or :math:`()`; output scalar or
    :math:`(N)` with ``'none'``.

    Example::

        >>> nn.MarginRankingLoss()(convnp.randn(3), convnp.randn(3), convnp.tensor([1., -1., 1.]))
    """

    _params = (("margin", 0.0),) + LEGACY
    _fn = C.margin_ranking_loss


class HingeEmbeddingLoss(_Loss):
    r""":math:`x` where :math:`y = 1`, :math:`\max(0, \text{margin} - x)` where :math:`y = -1`
    (``x`` usually a distance).

    Args:
        margin: default 1.0. reduction: ``'none'`` | ``'mean'`` | ``'sum'``.

    Shape: input :math:`(*)`, target :math:`(*)` of 1/-1; output scalar or :math:`(*)`.
    """

    _params = (("margin", 1.0),) + LEGACY
    _fn = C.hinge_embedding_loss


class SoftMarginLoss(_Loss):
    r"""Two-class logistic loss :math:`\log(1 + \exp(-y x))` with :math:`y \in \{1, -1\}`.

    Shape: input :math:`(*)`, target :math:`(*)`; output scalar or :math:`(*)`.
    """

    _fn = C.soft_margin_loss


class MultiLabelSoftMarginLoss(_WeightedLoss):
    r"""Multi-label one-versus-all logistic loss: per class
    :math:`-(y \log\sigma(x) + (1 - y) \log\sigma(-x))`, weighted by ``weight``, averaged over
    the :math:`C` classes.

    Shape: input :math:`(N, C)` or :math:`(C)`, target of 0/1 the same; output scalar or
    :math:`(N)` with ``'none'``.
    """

    _fn = C.multilabel_soft_margin_loss


class CosineEmbeddingLoss(_Loss):
    r""":math:`1 - \cos(x_1, x_2)` where :math:`y = 1`,
    :math:`\max(0, \cos(x_1, x_2) - \text{margin})` where :math:`y = -1`.

    Args:
        margin: in [-1, 1], default 0.

    Shape: inputs :math:`(N, D)` or :math:`(D)`, target :math:`(N)` or :math:`()`.
    """

    _params = (("margin", 0.0),) + LEGACY
    _fn = C.cosine_embedding_loss


class MultiMarginLoss(_WeightedLoss):
    r"""Multi-class hinge loss
    :math:`\frac{1}{C}\sum_{i \ne y} \max(0, \text{margin} - x_y + x_i)^p`, times
    ``weight[y]``.

    Args:
        p: 1 or 2 (default 1). margin: default 1. weight: per-class weights (C,).

    Shape: input :math:`(N, C)` or :math:`(C)`, target class indices :math:`(N)` or
    :math:`()`.
    """

    _params = (("p", 1), ("margin", 1.0), ("weight", None)) + LEGACY
    _fn = C.multi_margin_loss

    def _check(self) -> None:
        if self.p not in (1, 2):
            raise ValueError("only p == 1 and p == 2 supported")
        if self.weight is not None and self.weight.ndim != 1:
            raise ValueError(f"MultiMarginLoss: expected weight to be a 1D tensor but got: "
                             f"{self.weight.ndim}D")


class MultiLabelMarginLoss(_Loss):
    r"""Multi-label hinge loss :math:`\sum_{j \in y}\sum_{i \notin y}
    \max(0, 1 - (x_j - x_i)) / C`; ``target`` holds the class indices of each sample, ended by
    the first -1.

    Shape: input and target :math:`(N, C)` or :math:`(C)`.
    """

    _fn = C.multilabel_margin_loss


class GaussianNLLLoss(_Loss):
    r"""Gaussian negative log likelihood
    :math:`\frac12(\log \max(\text{var}, \epsilon) + (x - y)^2 / \max(\text{var}, \epsilon))`
    (plus :math:`\frac12\log 2\pi` when ``full``).

    Args:
        full: add the constant term. eps: lower clamp of ``var`` (default 1e-6).

    Shape: input :math:`(N, *)`, target like input, var like input or with one dimension of
    size 1 (or the last one missing).
    """

    _params = (KW_ONLY, ("full", False), ("eps", 1e-6), ("reduction", "mean"))
    _fn = C.gaussian_nll_loss


class PoissonNLLLoss(_Loss):
    r"""Poisson negative log likelihood: :math:`e^x - y x` (``log_input``) or
    :math:`x - y \log(x + \epsilon)`, plus Stirling's approximation of :math:`\log y!` for
    :math:`y > 1` when ``full``.

    Shape: input :math:`(*)`, target :math:`(*)`.
    """

    _params = (("log_input", True), ("full", False), ("size_average", None), ("eps", 1e-8),
               ("reduce", None), ("reduction", "mean"))
    _fn = C.poisson_nll_loss

    def forward(self, log_input, target):
        # the input is named as in torch's layer; the op's ``log_input`` is the setting
        return super().forward(log_input, target)


def _check_margin(loss) -> None:
    if loss.margin <= 0:
        raise ValueError(f"{type(loss).__name__}: expected margin to be greater than 0, got "
                         f"{loss.margin} instead")


class TripletMarginLoss(_Loss):
    r"""Triplet loss :math:`\max(0, \text{margin} + d(a, p) - d(a, n))` with the p-norm
    distance :math:`d(x, y) = \|x - y + \epsilon\|_p`; ``swap`` uses
    :math:`\min(d(a, n), d(p, n))` (distance swap).

    Shape: anchor, positive, negative :math:`(N, D)` or :math:`(D)`.
    """

    _params = (("margin", 1.0), ("p", 2.0), ("eps", 1e-6), ("swap", False)) + LEGACY
    _fn = C.triplet_margin_loss

    def _check(self) -> None:
        _check_margin(self)


class TripletMarginWithDistanceLoss(_Loss):
    r"""Triplet loss with any distance function (default: the pairwise 2-norm distance).

    Args:
        distance_function: ``d(x, y) -> Tensor`` of non-negative distances.
        margin: default 1. swap: distance swap. reduction: as the other losses.
    """

    _params = (KW_ONLY, ("distance_function", None), ("margin", 1.0), ("swap", False),
               ("reduction", "mean"))
    _fn = C.triplet_margin_with_distance_loss

    def _check(self) -> None:
        _check_margin(self)
        if self.distance_function is None:  # torch's default: a PairwiseDistance submodule
            self.distance_function = PairwiseDistance()


class NLLLoss2d(NLLLoss):
    """Deprecated alias of :class:`NLLLoss` (torch keeps it for old scripts)."""

    def __init__(self, weight=None, size_average=None, ignore_index: int = -100, reduce=None,
                 reduction: str = "mean") -> None:
        warnings.warn("NLLLoss2d has been deprecated. Please use NLLLoss instead as a drop-in "
                      "replacement and see https://pytorch.org/docs/main/nn.html#torch.nn."
                      "NLLLoss for more details.", DeprecationWarning, stacklevel=2)
        super().__init__(weight, size_average, ignore_index, reduce, reduction)


class CTCLoss(_Loss):
    r"""Connectionist Temporal Classification loss (see :func:`convnp.ops.ctc.ctc_loss`).

    Args:
        blank: the blank label (default 0).
        reduction: ``'mean'`` (per-sample loss over its target length, then averaged),
            ``'sum'`` or ``'none'``.
        zero_infinity: zero the infinite losses of impossible alignments and their gradients.

    Shape: log_probs :math:`(T, N, C)` or :math:`(T, C)`; targets :math:`(N, S)` or
    concatenated; input_lengths and target_lengths :math:`(N)`.

    Example::

        >>> ctc = nn.CTCLoss()
        >>> loss = ctc(log_probs, targets, input_lengths, target_lengths)
    """

    _params = (("blank", 0), ("reduction", "mean"), ("zero_infinity", False))

    def forward(self, log_probs, targets, input_lengths, target_lengths):
        from convnp.ops.ctc import ctc_loss

        return ctc_loss(log_probs, targets, input_lengths, target_lengths,
                        **self._fn_kwargs())


__all__.append("CTCLoss")


class LinearCrossEntropyOptions:
    """torch's options of the chunked ``linear_cross_entropy`` path (``batch_chunk_size``,
    ``chunking_method``, ``acc_policy``, ...). Accepted and kept; convnp always computes the
    reference path (the full logits, then cross entropy), whose numbers the chunked path
    reproduces."""

    def __init__(self, **kwargs) -> None:
        self.__dict__.update(kwargs)


class LinearCrossEntropyLoss(_WeightedLoss):
    r"""Cross entropy of linearly projected inputs: ``cross_entropy(linear(input, W, b),
    target)`` with a learnable projection ``self.linear`` to ``num_classes`` (times
    ``prod(out_features)`` for a K-dimensional loss) (torch's ``nn.LinearCrossEntropyLoss``).

    Args:
        in_features: size of each input sample. num_classes: C.
        out_features: extra class dimensions ``(d_1, ..., d_K)`` (default ``()``).
        bias: a bias on the projection (default False).
        reduction, weight, ignore_index, label_smoothing: as :class:`CrossEntropyLoss`
            (``ignore_index=None`` ignores nothing).
        options: :class:`LinearCrossEntropyOptions`, accepted (convnp computes the reference
            path).

    Shape: input :math:`(N, in)` or :math:`(in)`; target :math:`(N)` (or
    :math:`(N, d_1, ..., d_K)`) class indices, or class probabilities.
    """

    def __init__(self, in_features: int, num_classes: int, *, out_features: tuple = (),
                 bias: bool = False, device=None, dtype=None, reduction: str = "mean",
                 weight=None, ignore_index: int | None = None, label_smoothing: float = 0.0,
                 options=None) -> None:
        import math

        from convnp.nn.modules.linear import Linear

        if weight is not None and tuple(weight.shape) != (num_classes,):
            raise RuntimeError(f"expected weight shape to be {(num_classes,)}, got "
                               f"{tuple(weight.shape)}")
        if label_smoothing < 0 or label_smoothing > 1.0:
            raise RuntimeError(f"expected label_smoothing to be in range [0, 1], got "
                               f"{label_smoothing}")
        super().__init__(weight, None, None, reduction)
        self.num_classes = num_classes
        self.out_features = tuple(out_features)
        self.ignore_index = ignore_index
        self.label_smoothing = label_smoothing
        self.linear = Linear(in_features, math.prod(self.out_features, start=num_classes),
                             bias=bias, device=device, dtype=dtype)
        self.options = options

    def forward(self, input, target):
        from convnp.ops.linear import linear
        from convnp.ops.loss import cross_entropy

        if input.ndim not in (1, 2):
            raise RuntimeError(f"expected input with dimensionality 1 or 2, got {input.ndim}")
        if self.out_features and input.ndim == 1:
            raise RuntimeError("K-dimensional loss requires batched input, (N, in_features), got "
                               f"unbatched input with shape {tuple(input.shape)}")
        logits = linear(input, self.linear.weight, self.linear.bias)
        logits = logits.reshape(*input.shape[:-1], self.num_classes, *self.out_features)
        ignore = -100 if self.ignore_index is None else self.ignore_index
        return cross_entropy(logits, target, weight=self.weight, ignore_index=ignore,
                             reduction=self.reduction, label_smoothing=self.label_smoothing)

    def extra_repr(self) -> str:
        return (f"in_features={self.linear.in_features}, num_classes={self.num_classes}, "
                f"out_features={self.out_features}, bias={self.linear.bias is not None}, "
                f"reduction={self.reduction}, ignore_index={self.ignore_index}, "
                f"label_smoothing={self.label_smoothing}, options={self.options}")


__all__ += ["LinearCrossEntropyLoss", "LinearCrossEntropyOptions"]
