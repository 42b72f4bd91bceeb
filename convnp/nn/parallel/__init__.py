"""``convnp.nn.parallel``: torch's ``torch.nn.parallel`` layout.

``DataParallel`` (and ``data_parallel``) behave as torch's do on a machine without GPUs: the
wrapped module is called directly. ``DistributedDataParallel`` lives in ``.distributed`` and is
imported on first use.
"""

import importlib

from convnp.nn.parallel.data_parallel import DataParallel, data_parallel

__all__ = ["DataParallel", "DistributedDataParallel", "data_parallel"]


def __getattr__(name: str):
    if name == "DistributedDataParallel":
        return importlib.import_module("convnp.nn.parallel.distributed").DistributedDataParallel
    raise AttributeError(f"module 'convnp.nn.parallel' has no attribute {name!r}")
