"""Distance layers: ``PairwiseDistance`` and ``CosineSimilarity`` (torch's
``nn.modules.distance``)."""

from __future__ import annotations

from convnp.nn.modules._declared import _DeclaredLayer
from convnp.ops import distance as D

__all__ = ["CosineSimilarity", "PairwiseDistance"]


class PairwiseDistance(_DeclaredLayer):
    r""":math:`\|x_1 - x_2 + \epsilon\|_p` over the last dimension.

    Args:
        p: the norm degree (default 2). eps: added to the difference (default 1e-6).
        keepdim: keep the reduced dimension.

    Shape: inputs :math:`(N, D)` or :math:`(D)` (broadcastable); output :math:`(N)` or
    :math:`()`.

    Example::

        >>> nn.PairwiseDistance()(convnp.randn(4, 3), convnp.randn(4, 3)).shape
        (4,)
    """

    _params = (("p", 2.0), ("eps", 1e-6), ("keepdim", False))
    _fn = D.pairwise_distance
    _repr = ""

    def _store(self, p: float, eps: float, keepdim: bool) -> None:
        # torch keeps the norm's degree as ``norm``
        super()._store(norm=p, eps=eps, keepdim=keepdim)

    def _fn_kwargs(self) -> dict:
        return {"p": self.norm, "eps": self.eps, "keepdim": self.keepdim}


class CosineSimilarity(_DeclaredLayer):
    r""":math:`\frac{x_1 \cdot x_2}{\max(\|x_1\|, \epsilon) \max(\|x_2\|, \epsilon)}` along
    ``dim``.

    Args:
        dim: the dimension compared (default 1). eps: lower clamp of each norm (default 1e-8).

    Shape: inputs broadcastable; output without ``dim``.
    """

    _params = (("dim", 1), ("eps", 1e-8))
    _fn = D.cosine_similarity
    _repr = ""
