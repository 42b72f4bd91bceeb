"""``convnp.utils.data``: alias of :mod:`convnp.data` so ``from convnp.utils.data import
DataLoader, TensorDataset`` works as in torch."""

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


def __getattr__(name: str):
    # torch.utils.data exports DistributedSampler; its module loads on first use
    if name == "DistributedSampler":
        from convnp.data.distributed import DistributedSampler
        return DistributedSampler
    raise AttributeError(f"module 'convnp.utils.data' has no attribute {name!r}")


# torch's submodule paths (torch.utils.data.sampler / .dataset / .dataloader) and
# WeightedRandomSampler
from convnp.utils.data import dataloader, dataset, sampler  # noqa: F401,E402
from convnp.utils.data.sampler import WeightedRandomSampler  # noqa: F401,E402
