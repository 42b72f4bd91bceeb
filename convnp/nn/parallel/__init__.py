"""``convnp.nn.parallel``: ``DistributedDataParallel`` (loaded on first use: it needs
``convnp.distributed``, whose MPI backend is an optional dependency)."""

import importlib

__all__ = ["DistributedDataParallel"]


def __getattr__(name: str):
    if name == "DistributedDataParallel":
        return importlib.import_module("convnp.nn.parallel.distributed").DistributedDataParallel
    raise AttributeError(f"module 'convnp.nn.parallel' has no attribute {name!r}")
