"""``convnp.nn.init``: weight initialisers with PyTorch's formulas (filled in by the nn-core work)."""
