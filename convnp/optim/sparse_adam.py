"""``SparseAdam``: present so that torch scripts naming it get a clear error."""

from __future__ import annotations


class SparseAdam:
    """torch's Adam for sparse gradients (``nn.Embedding(sparse=True)``). convnp has no sparse
    tensors, so constructing it raises ``NotImplementedError``; use :class:`convnp.optim.Adam`
    (dense gradients)."""

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8,
                 maximize: bool = False) -> None:
        raise NotImplementedError("optim.SparseAdam: convnp has no sparse tensors or sparse "
                                  "gradients; use convnp.optim.Adam, which takes the dense "
                                  "gradients convnp computes.")
