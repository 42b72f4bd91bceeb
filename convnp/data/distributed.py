"""``DistributedSampler``: each rank of a distributed job reads its own share of a dataset."""

from __future__ import annotations

import math
from typing import Iterator

import numpy as np

from convnp.data.dataloader import Sampler

__all__ = ["DistributedSampler"]


def torch_randperm(n: int, seed: int) -> list[int]:
    """``torch.randperm(n, generator=torch.Generator().manual_seed(seed)).tolist()``, exactly.

    torch's CPU generator is a 32-bit Mersenne Twister seeded with the seed's low 32 bits (the
    same initialisation as NumPy's legacy ``RandomState(seed)``), and its ``randperm`` (for
    n below 2**32 / 20) swaps position i with i + (next 32-bit draw mod (n - i)). Reproducing it
    makes convnp's shards the very indices torch's DistributedSampler gives each rank.
    """
    if n >= 2**32 // 20:
        raise ValueError(f"DistributedSampler: datasets of {n} >= 2**32 / 20 samples are not "
                         "supported")
    draws = np.random.RandomState(seed & 0xFFFFFFFF).randint(0, 2**32, max(n - 1, 0),
                                                             dtype=np.uint64)
    perm = list(range(n))
    for i, d in enumerate(draws.tolist()):
        j = i + d % (n - i)
        perm[i], perm[j] = perm[j], perm[i]
    return perm


class DistributedSampler(Sampler):
    r"""Restricts loading to the share of the dataset of one rank, as torch's
    ``DistributedSampler`` (the same indices for the same arguments).

    The (optionally shuffled) index list is made divisible by ``num_replicas``, by repeating
    indices from its start (``drop_last=False``) or by dropping its tail (``drop_last=True``);
    rank ``r`` then takes every ``num_replicas``-th index starting at ``r``. So each epoch every
    sample is seen exactly once over all ranks, except for the padding repeats or the dropped
    tail. Call :meth:`set_epoch` at the start of each epoch to reshuffle (the permutation is
    drawn from ``seed + epoch``, the same on every rank).

    Args:
        dataset: a map-style dataset (anything with ``len``).
        num_replicas: number of ranks (default: ``convnp.distributed.get_world_size()``).
        rank: this rank (default: ``convnp.distributed.get_rank()``).
        shuffle: shuffle the indices (default True).
        seed: the shuffle seed; must be the same on every rank (default 0).
        drop_last: drop the tail instead of padding (default False).

    Example::
        >>> sampler = DistributedSampler(train_set)
        >>> loader = DataLoader(train_set, batch_size=64, sampler=sampler)
        >>> for epoch in range(epochs):
        ...     sampler.set_epoch(epoch)
        ...     for x, y in loader: ...
    """

    def __init__(self, dataset, num_replicas: int | None = None, rank: int | None = None,
                 shuffle: bool = True, seed: int = 0, drop_last: bool = False) -> None:
        if num_replicas is None or rank is None:
            from convnp import distributed as dist
            if not dist.is_initialized():
                raise RuntimeError("DistributedSampler: num_replicas and rank default to the "
                                   "process group's, which is not initialized; call "
                                   "convnp.distributed.init_process_group('mpi') first or pass "
                                   "num_replicas= and rank=")
            num_replicas = dist.get_world_size() if num_replicas is None else num_replicas
            rank = dist.get_rank() if rank is None else rank
        if not isinstance(num_replicas, (int, np.integer)) or num_replicas < 1:
            raise ValueError(f"DistributedSampler: num_replicas must be a positive int, got "
                             f"{num_replicas!r}")
        if not isinstance(rank, (int, np.integer)) or not 0 <= rank < num_replicas:
            raise ValueError(f"Invalid rank {rank}, rank should be in the interval "
                             f"[0, {num_replicas - 1}]")
        self.dataset = dataset
        self.num_replicas, self.rank = int(num_replicas), int(rank)
        self.epoch = 0
        self.drop_last = bool(drop_last)
        n = len(dataset)
        if self.drop_last and n % self.num_replicas:
            # the largest share every rank can have without padding
            self.num_samples = math.ceil((n - self.num_replicas) / self.num_replicas)
        else:
            self.num_samples = math.ceil(n / self.num_replicas)
        self.total_size = self.num_samples * self.num_replicas
        self.shuffle = bool(shuffle)
        self.seed = int(seed)

    def __iter__(self) -> Iterator[int]:
        n = len(self.dataset)
        indices = torch_randperm(n, self.seed + self.epoch) if self.shuffle else list(range(n))
        if not self.drop_last:
            pad = self.total_size - len(indices)
            if pad <= len(indices):
                indices += indices[:pad]
            else:
                indices += (indices * math.ceil(pad / len(indices)))[:pad]
        else:
            indices = indices[:self.total_size]
        return iter(indices[self.rank:self.total_size:self.num_replicas])

    def __len__(self) -> int:
        return self.num_samples

    def set_epoch(self, epoch: int) -> None:
        """Set the epoch whose shuffle the next iteration uses (same on every rank)."""
        self.epoch = int(epoch)
