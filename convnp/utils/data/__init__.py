"""``convnp.utils.data``: torch's ``torch.utils.data`` layout over :mod:`convnp.data`, so
``from convnp.utils.data import DataLoader, TensorDataset`` and
``from convnp.utils.data.sampler import WeightedRandomSampler`` work as in torch.

Submodules: ``sampler``, ``dataset``, ``dataloader``.
"""

from convnp.data import *  # noqa: F401,F403
from convnp.data import (  # noqa: F401
                         BatchSampler,
                         ConcatDataset,
                         DataLoader,
                         Dataset,
                         IterableDataset,
                         RandomSampler,
                         Sampler,
                         SequentialSampler,
                         Subset,
                         SubsetRandomSampler,
                         TensorDataset,
                         default_collate,
                         random_split,
)
from convnp.utils.data import dataloader, dataset, sampler  # noqa: F401,E402
from convnp.utils.data.sampler import WeightedRandomSampler  # noqa: F401,E402


def __getattr__(name: str):
    # torch.utils.data exports DistributedSampler; its module (with convnp.distributed) loads on
    # first use
    if name == "DistributedSampler":
        from convnp.data.distributed import DistributedSampler
        return DistributedSampler
    raise AttributeError(f"module 'convnp.utils.data' has no attribute {name!r}")
