"""Datasets: ``Dataset``, ``TensorDataset``, ``Subset``, ``ConcatDataset``, ``random_split``.

Array-backed datasets also implement ``get_batch(indices, rng=None) -> tuple of arrays``: the
DataLoader then gathers a whole batch with one fancy-index per array instead of a Python loop
over items (PyTorch's ``__getitems__`` plays the same role).
"""

from __future__ import annotations

import bisect
import math
from typing import Any, Sequence

import numpy as np

from convnp.random import rng as _rng
from convnp.tensor import Tensor

__all__ = ["Dataset", "IterableDataset", "TensorDataset", "Subset", "ConcatDataset",
           "random_split", "ChainDataset", "StackDataset"]


class Dataset:
    """An indexable collection of samples: subclasses define ``__getitem__`` and ``__len__``."""

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must implement __getitem__")

    def __add__(self, other: "Dataset") -> "ConcatDataset":
        return ConcatDataset([self, other])


class IterableDataset(Dataset):
    """A stream of samples: subclasses define ``__iter__``."""

    def __iter__(self):
        raise NotImplementedError(f"{type(self).__name__} must implement __iter__")


def _array(x: Any) -> np.ndarray:
    return x.array if isinstance(x, Tensor) else np.asarray(x)


class TensorDataset(Dataset):
    """Samples are rows of the given tensors (convnp Tensors or NumPy arrays).

    Args:
        *tensors: tensors with the same size of the first dimension.

    Example:
        >>> ds = TensorDataset(convnp.randn(100, 3), convnp.randint(0, 2, (100,)))
        >>> x, y = ds[0]
    """

    def __init__(self, *tensors) -> None:
        if not tensors:
            raise ValueError("TensorDataset: expected at least one tensor")
        self.tensors = tuple(tensors)
        self._arrays = tuple(_array(t) for t in tensors)
        n = {a.shape[0] if a.ndim else None for a in self._arrays}
        if len(n) != 1 or None in n:
            raise ValueError(f"TensorDataset: size mismatch between tensors; first dimensions are "
                             f"{[a.shape[0] if a.ndim else () for a in self._arrays]}")

    def __getitem__(self, index):
        return tuple(Tensor._wrap(np.asarray(a[index])) for a in self._arrays)

    def get_batch(self, indices: np.ndarray, rng=None) -> tuple:
        return tuple(a[indices] for a in self._arrays)

    def __len__(self) -> int:
        return self._arrays[0].shape[0]


class Subset(Dataset):
    """The samples of ``dataset`` at ``indices``."""

    def __init__(self, dataset: Dataset, indices: Sequence[int]) -> None:
        self.dataset = dataset
        self.indices = np.asarray(indices, dtype=np.int64)

    def __getitem__(self, idx):
        if isinstance(idx, list):
            return [self.dataset[int(self.indices[i])] for i in idx]
        return self.dataset[int(self.indices[idx])]

    def __len__(self) -> int:
        return len(self.indices)

    def __getattr__(self, name: str):
        # get_batch (and attributes like classes) exist only if the wrapped dataset has them
        if name in ("dataset", "indices"):  # not set yet (e.g. while unpickling)
            raise AttributeError(name)
        if name == "get_batch":
            inner = self.dataset.get_batch
            return lambda indices, rng=None: inner(self.indices[np.asarray(indices)], rng)
        if name in ("classes", "class_to_idx", "transform", "target_transform"):
            return getattr(self.dataset, name)
        raise AttributeError(name)


class ConcatDataset(Dataset):
    """The concatenation of several datasets."""

    def __init__(self, datasets) -> None:
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("ConcatDataset: datasets should not be an empty iterable")
        self.cumulative_sizes = list(np.cumsum([len(d) for d in self.datasets]).tolist())

    def __len__(self) -> int:
        return self.cumulative_sizes[-1]

    def __getitem__(self, idx: int):
        if idx < 0:
            if -idx > len(self):
                raise IndexError(f"ConcatDataset: index {idx} out of range for length {len(self)}")
            idx += len(self)
        d = bisect.bisect_right(self.cumulative_sizes, idx)
        start = 0 if d == 0 else self.cumulative_sizes[d - 1]
        return self.datasets[d][idx - start]

    def __getattr__(self, name: str):
        if name == "datasets":
            raise AttributeError(name)
        if name == "get_batch" and all(hasattr(d, "get_batch") for d in self.datasets):
            return self._get_batch
        raise AttributeError(name)

    def _get_batch(self, indices, rng=None) -> tuple:
        indices = np.asarray(indices)
        which = np.searchsorted(self.cumulative_sizes, indices, side="right")
        starts = np.concatenate([[0], self.cumulative_sizes[:-1]])
        out = None
        for d in np.unique(which):  # a loop over datasets, not items
            pos = np.nonzero(which == d)[0]
            parts = self.datasets[d].get_batch(indices[pos] - starts[d], rng)
            if out is None:
                out = [np.empty((len(indices),) + p.shape[1:], p.dtype) for p in parts]
            for o, p in zip(out, parts):
                o[pos] = p
        return tuple(out)


def random_split(dataset: Dataset, lengths: Sequence[int | float], generator=None) -> list[Subset]:
    """Randomly split ``dataset`` into non-overlapping Subsets of the given lengths.

    ``lengths`` may be fractions summing to 1 (remainders go round-robin, like torch).
    """
    n = len(dataset)
    lengths = list(lengths)
    if math.isclose(sum(lengths), 1) and sum(lengths) <= 1:
        sizes = [int(math.floor(n * f)) for f in lengths]
        for i in range(n - sum(sizes)):
            sizes[i % len(sizes)] += 1
        lengths = sizes
    if sum(lengths) != n:
        raise ValueError(f"random_split: sum of input lengths ({sum(lengths)}) does not equal the "
                         f"length of the input dataset ({n})")
    perm = _rng(generator).permutation(n)
    out, offset = [], 0
    for length in lengths:
        out.append(Subset(dataset, perm[offset:offset + length]))
        offset += length
    return out


class ChainDataset(IterableDataset):
    """Iterable datasets chained one after another (``torch.utils.data.ChainDataset``)."""

    def __init__(self, datasets) -> None:
        self.datasets = list(datasets)

    def __iter__(self):
        for d in self.datasets:
            if not isinstance(d, IterableDataset):
                raise TypeError(f"ChainDataset: expected IterableDatasets, got "
                                f"{type(d).__name__}; use ConcatDataset for indexable datasets")
            yield from d

    def __len__(self) -> int:
        return sum(len(d) for d in self.datasets)


class StackDataset(Dataset):
    """Several datasets of one length read side by side: ``StackDataset(a, b)[i] == (a[i],
    b[i])``, ``StackDataset(x=a, y=b)[i] == {"x": a[i], "y": b[i]}``
    (``torch.utils.data.StackDataset``)."""

    def __init__(self, *args, **kwargs) -> None:
        if args and kwargs:
            raise ValueError("StackDataset: give datasets as positional or as keyword arguments, "
                             "not both")
        parts = list(args) or list(kwargs.values())
        if not parts:
            raise ValueError("StackDataset: at least one dataset should be passed")
        self._length = len(parts[0])
        if any(len(d) != self._length for d in parts):
            raise ValueError(f"StackDataset: size mismatch between datasets (lengths "
                             f"{[len(d) for d in parts]})")
        self.datasets = kwargs if kwargs else tuple(args)

    def __getitem__(self, index):
        if isinstance(self.datasets, dict):
            return {k: d[index] for k, d in self.datasets.items()}
        return tuple(d[index] for d in self.datasets)

    def __len__(self) -> int:
        return self._length

