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
