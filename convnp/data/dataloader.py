"""``DataLoader`` and samplers, with PyTorch's signature.

Fast path: when ``collate_fn`` is the default and the dataset has ``get_batch`` (every
array-backed dataset here does), a batch is one fancy-index per array plus a vectorised
transform. ``prefetch=k`` (or ``num_workers > 0``) prepares up to k batches in a background
thread so that decoding and augmentation overlap the training step (NumPy releases the GIL).

Randomness is reproducible: at the start of each epoch the loader draws one base seed from its
``generator`` (or convnp's default generator); batch ``i`` gets its own stream seeded from
``(base_seed, i)``, so results do not depend on threads or prefetch depth.
"""

from __future__ import annotations

import queue
import threading
import weakref
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from convnp.data import transforms as _transforms
from convnp.random import rng as _rng
from convnp.tensor import Tensor

__all__ = ["DataLoader", "Sampler", "SequentialSampler", "RandomSampler", "SubsetRandomSampler",
           "BatchSampler", "default_collate", "default_convert", "get_worker_info"]


class Sampler:
    """Yields dataset indices."""

    def __iter__(self) -> Iterator[int]:
        raise NotImplementedError

    def __len__(self) -> int:
        raise NotImplementedError


class SequentialSampler(Sampler):
    def __init__(self, data_source) -> None:
        self.data_source = data_source

    def __iter__(self):
        return iter(range(len(self.data_source)))

    def __len__(self) -> int:
        return len(self.data_source)


class RandomSampler(Sampler):
    """A random permutation each epoch (drawn from ``generator`` or the default generator)."""

    def __init__(self, data_source, replacement: bool = False, num_samples: int | None = None,
                 generator=None) -> None:
        self.data_source = data_source
        self.replacement = replacement
        self._num_samples = num_samples
        self.generator = generator

    @property
    def num_samples(self) -> int:
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def __iter__(self):
        n, g = len(self.data_source), _rng(self.generator)
        if self.replacement:
            return iter(g.integers(0, n, self.num_samples).tolist())
        reps = -(-self.num_samples // n)
        perm = np.concatenate([g.permutation(n) for _ in range(reps)])[:self.num_samples]
        return iter(perm.tolist())

    def __len__(self) -> int:
        return self.num_samples


class SubsetRandomSampler(Sampler):
    def __init__(self, indices: Sequence[int], generator=None) -> None:
        self.indices = np.asarray(indices)
        self.generator = generator

    def __iter__(self):
        return iter(self.indices[_rng(self.generator).permutation(len(self.indices))].tolist())

    def __len__(self) -> int:
        return len(self.indices)


class BatchSampler(Sampler):
    """Groups a sampler's indices into lists of ``batch_size``."""

    def __init__(self, sampler, batch_size: int, drop_last: bool) -> None:
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size <= 0:
            raise ValueError(f"BatchSampler: batch_size should be a positive integer, got "
                             f"{batch_size!r}")
        self.sampler, self.batch_size, self.drop_last = sampler, batch_size, drop_last

    def __iter__(self):
        idx = np.fromiter(iter(self.sampler), dtype=np.int64)
        n = len(idx)
        stop = n - n % self.batch_size if self.drop_last else n
        for s in range(0, stop, self.batch_size):
            yield idx[s:s + self.batch_size].tolist()

    def __len__(self) -> int:
        n = len(self.sampler)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)


def _to_tensor(a: np.ndarray) -> Tensor:
    a = np.asarray(a)
    if a.dtype.kind in "iu" and a.dtype != np.int64:
        a = a.astype(np.int64)  # labels become int64 like torch's LongTensor
    elif a.dtype == np.float16:
        a = a.astype(np.float32)
    return Tensor._wrap(np.ascontiguousarray(a))


def default_collate(batch: list) -> Any:
    """Stack a list of samples into batched Tensors (tuples/dicts are collated field-wise)."""
    first = batch[0]
    if isinstance(first, Tensor):
        return Tensor._wrap(np.stack([b.array for b in batch]))
    if isinstance(first, np.ndarray):
        return _to_tensor(np.stack(batch))
    if isinstance(first, (bool, int, float, np.number)):
        return _to_tensor(np.asarray(batch))
    if isinstance(first, (str, bytes)):
        return list(batch)
    if isinstance(first, dict):
        return {k: default_collate([b[k] for b in batch]) for k in first}
    if isinstance(first, (tuple, list)):
        return type(first)(default_collate(list(col)) for col in zip(*batch)) \
            if isinstance(first, tuple) else [default_collate(list(c)) for c in zip(*batch)]
    if type(first).__module__.startswith("PIL."):
        raise TypeError("default_collate: batch must contain tensors, numpy arrays, numbers, dicts "
                        "or lists; found a PIL Image: add transforms.ToTensor() to the dataset's "
                        "transform")
    raise TypeError(f"default_collate: batch elements of type {type(first).__name__} are not "
                    f"supported; pass collate_fn=")


def default_convert(data: Any) -> Any:
    """NumPy arrays and numbers inside ``data`` (recursively through tuples, lists and dicts)
    become Tensors, without batching (``torch.utils.data.default_convert``)."""
    if isinstance(data, np.ndarray) and data.dtype.kind in "biuf":
        return Tensor._wrap(data)
    if isinstance(data, np.number):
        return Tensor._wrap(np.asarray(data))
    if isinstance(data, dict):
        return {k: default_convert(v) for k, v in data.items()}
    if isinstance(data, tuple) and hasattr(data, "_fields"):  # namedtuple
        return type(data)(*(default_convert(v) for v in data))
    if isinstance(data, tuple):  # torch turns plain tuples into lists here
        return [default_convert(v) for v in data]
    if isinstance(data, list):
        return [default_convert(v) for v in data]
    return data


def get_worker_info():
    """None: convnp's DataLoader prepares batches in the main process or a thread of it, never in
    worker processes, which is what torch returns in the main process. Dataset code that shards
    its work per worker therefore reads everything once, as with ``num_workers=0`` in torch."""
    return None


class DataLoader:
    """Iterates over a dataset in (shuffled) mini-batches of Tensors.

    Args:
        dataset: a Dataset (map-style) or IterableDataset.
        batch_size: samples per batch (default 1; None disables batching).
        shuffle: reshuffle every epoch (default False).
        sampler / batch_sampler: custom index orders (exclusive with shuffle).
        num_workers: if > 0, batches are prepared by a background thread (no processes).
        collate_fn: merges a list of samples into a batch (default: stack into Tensors).
        drop_last: drop the last incomplete batch.
        generator: convnp.Generator for shuffling and augmentation seeds.
        prefetch_factor: batches per worker queued ahead (default 2).
        persistent_workers: keep one iterator per loader; a new ``iter()`` resets it, dropping
            what the previous epoch had prepared (needs ``num_workers > 0``, as in torch).
        prefetch: convnp extension: number of batches prepared ahead in a background thread
            (0 = synchronous; default ``num_workers * prefetch_factor``).

    A prefetching iterator left early (``break``) stops its thread and frees the batches it
    prepared when it is garbage-collected; ``close()`` on the iterator does it at once.

    Example:
        >>> loader = DataLoader(MNIST(root, transform=ToTensor()), batch_size=64, shuffle=True)
        >>> for images, labels in loader: ...   # images (64, 1, 28, 28) float32, labels int64
    """

    def __init__(self, dataset, batch_size: int | None = 1, shuffle: bool | None = None,
                 sampler=None, batch_sampler=None, num_workers: int = 0,
                 collate_fn: Callable | None = None, pin_memory: bool = False,
                 drop_last: bool = False, timeout: float = 0, worker_init_fn=None,
                 multiprocessing_context=None, generator=None, *, prefetch_factor=None,
                 persistent_workers: bool = False, pin_memory_device: str = "",
                 prefetch: int | None = None) -> None:
        from convnp.data.dataset import IterableDataset

        if num_workers < 0:
            raise ValueError("DataLoader: num_workers option should be non-negative")
        if persistent_workers and num_workers == 0:
            raise ValueError("DataLoader: persistent_workers option needs num_workers > 0")
        self.dataset = dataset
        self.batch_size = batch_size
        self.drop_last = drop_last
        self.num_workers = num_workers
        self.generator = generator
        self.collate_fn = collate_fn
        self.persistent_workers = persistent_workers
        self._iterator = None  # persistent_workers: weakref to the current iterator
        self._auto_collate = collate_fn is None
        self._iterable = isinstance(dataset, IterableDataset)
        if prefetch is None:
            prefetch = num_workers * (prefetch_factor or 2)
        self.prefetch = int(prefetch)
        if self._iterable:
            if shuffle or sampler is not None or batch_sampler is not None:
                raise ValueError("DataLoader with IterableDataset: expected unspecified shuffle, "
                                 "sampler and batch_sampler")
            self.sampler = self.batch_sampler = None
            return
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("DataLoader: batch_sampler option is mutually exclusive with "
                                 "batch_size, shuffle, sampler, and drop_last")
            self.batch_size, self.drop_last = None, False
        elif batch_size is None and drop_last:
            raise ValueError("DataLoader: batch_size=None option disables auto-batching and is "
                             "mutually exclusive with drop_last")
        if sampler is not None and shuffle:
            raise ValueError("DataLoader: sampler option is mutually exclusive with shuffle")
        if sampler is None:
            sampler = (RandomSampler(dataset, generator=generator) if shuffle
                       else SequentialSampler(dataset))
        if batch_sampler is None and batch_size is not None:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)
        self.sampler, self.batch_sampler = sampler, batch_sampler

    def __len__(self) -> int:
        if self._iterable:
            return len(self.dataset)
        return len(self.batch_sampler) if self.batch_sampler is not None else len(self.sampler)

    # -- iteration -------------------------------------------------------------------------
    def _index_iter(self):
        if self._iterable:
            return iter([])
        return iter(self.batch_sampler if self.batch_sampler is not None else self.sampler)

    def _fetch(self, i: int, index, base_seed: int):
        rng = np.random.default_rng([base_seed, i])
        with _transforms.use_rng(rng):
            if self.batch_sampler is None:  # no auto-batching: one sample at a time
                sample = self.dataset[index]
                return sample if not self._auto_collate else _convert(sample)
            get_batch = getattr(self.dataset, "get_batch", None) if self._auto_collate else None
            if get_batch is not None:
                return tuple(_to_tensor(a) for a in get_batch(np.asarray(index, np.int64), rng))
            samples = [self.dataset[j] for j in index]
            return (self.collate_fn or default_collate)(samples)

    def _iter_iterable(self):
        collate = self.collate_fn or default_collate
        if self.batch_size is None:
            yield from self.dataset
            return
        buf = []
        for sample in self.dataset:
            buf.append(sample)
            if len(buf) == self.batch_size:
                yield collate(buf)
                buf = []
        if buf and not self.drop_last:
            yield collate(buf)

    def __iter__(self):
        if self._iterable:
            return self._iter_iterable()
        # torch draws the workers' base seed first, then the sampler's permutation
        base_seed = int(_rng(self.generator).integers(0, 2**63 - 1))
        jobs = enumerate(self._index_iter())
        if self.prefetch <= 0:
            return (self._fetch(i, idx, base_seed) for i, idx in jobs)
        if self.persistent_workers:
            # torch keeps one iterator per loader and resets it for the next epoch: the
            # previous epoch's pending batches are dropped
            prev = self._iterator() if self._iterator is not None else None
            if prev is not None:
                prev.close()
            it = _Prefetcher(self, jobs, base_seed)
            self._iterator = weakref.ref(it)
            return it
        return _Prefetcher(self, jobs, base_seed)


def _convert(sample):
    if isinstance(sample, np.ndarray):
        return _to_tensor(sample)
    if isinstance(sample, tuple):
        return tuple(_convert(s) for s in sample)
    return sample


def _prefetch_worker(loader: DataLoader, jobs, base_seed: int, q: queue.Queue,
                     stop: threading.Event, end: object) -> None:
    """The background thread: fetch batches in order until done or told to stop. It holds no
    reference to its iterator, so an abandoned iterator can be garbage-collected (and stop it)."""

    def put(item) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    try:
        for i, idx in jobs:
            if stop.is_set() or not put((True, loader._fetch(i, idx, base_seed))):
                return
    except BaseException as e:  # re-raised in the consumer thread
        put((False, e))
        return
    put((True, end))


def _shutdown_prefetch(stop: threading.Event, q: queue.Queue, thread: threading.Thread) -> None:
    """Stop the worker, free the batches it queued, and wait for it (briefly: one fetch)."""
    stop.set()
    while True:
        try:
            q.get_nowait()
        except queue.Empty:
            break
    if thread is not threading.current_thread():
        thread.join(timeout=5.0)
    while True:  # a batch the worker finished while we waited
        try:
            q.get_nowait()
        except queue.Empty:
            break


class _Prefetcher:
    """Runs ``loader._fetch`` in a background thread, ``loader.prefetch`` batches ahead.

    The thread stops, and the batches it queued are freed, when the epoch ends, on
    :meth:`close`, when the iterator is garbage-collected (a ``for`` loop left with ``break``),
    and, with ``persistent_workers=True``, when the loader starts its next epoch.
    """

    _END = object()

    def __init__(self, loader: DataLoader, jobs, base_seed: int) -> None:
        q: queue.Queue = queue.Queue(maxsize=max(1, loader.prefetch))
        stop = threading.Event()
        self._q, self._stop = q, stop
        self._thread = threading.Thread(target=_prefetch_worker, name="convnp-prefetch",
                                        args=(loader, jobs, base_seed, q, stop, self._END),
                                        daemon=True)
        self._finalizer = weakref.finalize(self, _shutdown_prefetch, stop, q, self._thread)
        self._thread.start()

    def __iter__(self):
        return self

    def __next__(self):
        if not self._finalizer.alive:  # closed: nothing more comes
            raise StopIteration
        ok, item = self._q.get()
        if not ok:
            self.close()
            raise item
        if item is self._END:
            self.close()
            raise StopIteration
        return item

    def close(self) -> None:
        """Stop the background thread and drop the batches it prepared ahead."""
        self._finalizer()
