"""Dropout layers: active in ``train()`` mode, the identity in ``eval()``."""

from __future__ import annotations

from convnp.nn.modules._declared import _DeclaredLayer, layer_class
from convnp.ops import dropout as D

__all__ = ["Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout", "FeatureAlphaDropout"]


class _DropoutNd(_DeclaredLayer):
    _params = (("p", 0.5), ("inplace", False))
    _fn = D.dropout
    _show_inplace = "always"

    def _check(self) -> None:
        if not isinstance(self.p, (int, float)) or not 0 <= self.p <= 1:
            raise ValueError(f"{type(self).__name__}: dropout probability has to be between 0 "
                             f"and 1, but got {self.p}")

    def _fn_kwargs(self) -> dict:
        return {"p": self.p, "training": self.training}


class Dropout(_DropoutNd):
    r"""During training, zero each element with probability ``p`` and scale the others by
    :math:`1/(1-p)`; the identity in eval mode.

    Args:
        p: drop probability (0.5). inplace: accepted (convnp computes out of place).

    Shape: output has the input's shape.

    Example::
        >>> m = nn.Dropout(0.2); m.eval(); m(convnp.ones(3))
        tensor([1., 1., 1.])
    """

    _fn = D.dropout


(Dropout1d, Dropout2d, Dropout3d, AlphaDropout, FeatureAlphaDropout) = (
    layer_class(name, _DropoutNd, fn, doc, __name__) for name, fn, doc in (
        ("Dropout1d", D.dropout1d, "Zero whole channels of ``(N, C, L)`` / ``(C, L)`` input in "
         "training. Shape: unchanged."),
        ("Dropout2d", D.dropout2d, "Zero whole channels of ``(N, C, H, W)`` / ``(C, H, W)`` "
         "input in training."),
        ("Dropout3d", D.dropout3d, "Zero whole channels of ``(N, C, D, H, W)`` / "
         "``(C, D, H, W)`` input in training."),
        ("AlphaDropout", D.alpha_dropout, "Alpha dropout for SELU networks (keeps zero mean, "
         "unit variance). Shape: unchanged."),
        ("FeatureAlphaDropout", D.feature_alpha_dropout, "Channel-wise alpha dropout. Shape: "
         "unchanged.")))
