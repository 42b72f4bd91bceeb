"""``convnp.utils.data.sampler``: torch's module path for the samplers, and
``WeightedRandomSampler``."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from convnp.data.dataloader import (  # noqa: F401
    BatchSampler,
    RandomSampler,
    Sampler,
    SequentialSampler,
    SubsetRandomSampler,
)
from convnp.random import rng as _rng

__all__ = ["BatchSampler", "RandomSampler", "Sampler", "SequentialSampler",
           "SubsetRandomSampler", "WeightedRandomSampler"]


class WeightedRandomSampler(Sampler):
    r"""Draws ``num_samples`` indices in ``[0, len(weights))`` with probabilities proportional
    to ``weights`` (torch's ``WeightedRandomSampler``; the draws come from convnp's generator,
    so the indices differ from torch's while the distribution is the same).

    Args:
        weights: a 1-D sequence of non-negative weights (they need not sum to one).
        num_samples: number of indices drawn per epoch.
        replacement: draw with replacement (default True); without it, each index at most once
            (needs ``num_samples`` <= the number of non-zero weights).
        generator: a ``convnp.Generator`` (default: the global one).

    Example::

        >>> sampler = WeightedRandomSampler([0.1, 0.9, 0.4, 0.7, 3.0, 0.6], 5)
        >>> loader = DataLoader(dataset, batch_size=16, sampler=sampler)
    """

    def __init__(self, weights: Sequence[float], num_samples: int, replacement: bool = True,
                 generator=None) -> None:
        if not isinstance(num_samples, int) or isinstance(num_samples, bool) or num_samples <= 0:
            raise ValueError("num_samples should be a positive integer value, but got "
                             f"num_samples={num_samples}")
        if not isinstance(replacement, bool):
            raise ValueError("replacement should be a boolean value, but got "
                             f"replacement={replacement}")
        w = np.asarray(getattr(weights, "array", weights), dtype=np.float64)
        if w.ndim != 1:
            raise ValueError("weights should be a 1d sequence but given weights have shape "
                             f"{tuple(w.shape)}")
        if (w < 0).any() or not np.isfinite(w).all() or w.sum() <= 0:
            raise RuntimeError("WeightedRandomSampler: weights must be finite, non-negative and "
                               "not all zero")
        if not replacement and num_samples > int((w > 0).sum()):
            raise RuntimeError("WeightedRandomSampler: cannot sample n_sample > prob_dist.size(-1)"
                               f" samples without replacement ({num_samples} asked, "
                               f"{int((w > 0).sum())} non-zero weights)")
        from convnp.tensor import Tensor

        self.weights = Tensor._wrap(w)
        self.num_samples = num_samples
        self.replacement = replacement
        self.generator = generator

    def __iter__(self):
        w = self.weights.array
        idx = _rng(self.generator).choice(len(w), self.num_samples, replace=self.replacement,
                                          p=w / w.sum())
        return iter(idx.tolist())

    def __len__(self) -> int:
        return self.num_samples
