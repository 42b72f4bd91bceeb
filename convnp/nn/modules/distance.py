"""Distance layers: ``PairwiseDistance`` and ``CosineSimilarity`` (torch's
``nn.modules.distance``)."""

from __future__ import annotations

from convnp.nn.modules.module import Module
from convnp.ops import distance as D

__all__ = ["CosineSimilarity", "PairwiseDistance"]


class PairwiseDistance(Module):
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

    def __init__(self, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False) -> None:
        super().__init__()
        self.norm, self.eps, self.keepdim = p, eps, keepdim

    def forward(self, x1, x2):
        return D.pairwise_distance(x1, x2, self.norm, self.eps, self.keepdim)


class CosineSimilarity(Module):
    r""":math:`\frac{x_1 \cdot x_2}{\max(\|x_1\|, \epsilon) \max(\|x_2\|, \epsilon)}` along
    ``dim``.

    Args:
        dim: the dimension compared (default 1). eps: lower clamp of each norm (default 1e-8).

    Shape: inputs broadcastable; output without ``dim``.
    """

    def __init__(self, dim: int = 1, eps: float = 1e-8) -> None:
        super().__init__()
        self.dim, self.eps = dim, eps

    def forward(self, x1, x2):
        return D.cosine_similarity(x1, x2, self.dim, self.eps)
