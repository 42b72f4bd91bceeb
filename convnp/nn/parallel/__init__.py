"""``convnp.nn.parallel``: ``DistributedDataParallel`` (loaded on first use: it needs
``convnp.distributed``, whose MPI backend is an optional dependency)."""

import importlib

__all__ = ["DistributedDataParallel"]


def __getattr__(name: str):
    if name == "DistributedDataParallel":
        return importlib.import_module("convnp.nn.parallel.distributed").DistributedDataParallel
    raise AttributeError(f"module 'convnp.nn.parallel' has no attribute {name!r}")


# DataParallel (and data_parallel) as torch's behave on a machine without GPUs: the wrapped
# module is called directly
from convnp.nn.parallel.data_parallel import DataParallel, data_parallel  # noqa: E402

__all__ += ["DataParallel", "data_parallel"]
