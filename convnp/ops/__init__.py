"""Differentiable ops, one module per family; each holds its kernels, Functions and functional
wrappers with PyTorch's signatures. ``convnp.nn.functional`` re-exports the public ones."""
