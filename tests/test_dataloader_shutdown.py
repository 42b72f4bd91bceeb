"""DataLoader's prefetch thread ends, and its queued batches are freed, whenever an epoch is
abandoned: on the iterator's close(), when the iterator is garbage-collected, and on a new
iter() of a persistent_workers loader."""

from __future__ import annotations

import gc
import threading
import time
import tracemalloc

import numpy as np
import pytest

from convnp.data import DataLoader, Dataset

BATCH_BYTES = 256 * 1024 * 4  # 1 MiB of float32 per batch


class _Big(Dataset):
    """Batches of 1 MiB each, built on demand (the loader's get_batch fast path)."""

    def __len__(self) -> int:
        return 256 * 64

    def __getitem__(self, i):
        return np.ones(1024, np.float32), 0

    def get_batch(self, indices, rng=None):
        return np.ones((len(indices), 1024), np.float32), np.zeros(len(indices), np.int64)


def _prefetch_threads() -> int:
    return sum(t.name == "convnp-prefetch" and t.is_alive() for t in threading.enumerate())


def _settle(expected: int = 0, timeout: float = 5.0) -> int:
    """Prefetch threads still alive once they have had ``timeout`` s to finish (threads of
    other tests' iterators included: the assertions below allow those to end meanwhile)."""
    gc.collect()
    end = time.monotonic() + timeout
    while _prefetch_threads() > expected and time.monotonic() < end:
        time.sleep(0.01)
    return _prefetch_threads()


def test_forty_abandoned_epochs_leave_no_threads_and_no_batches():
    before = _settle()
    loader = DataLoader(_Big(), batch_size=256, prefetch=4)
    tracemalloc.start()
    try:
        for _ in loader:  # warm up: one abandoned epoch, then measure from here
            break
        del _
        _settle(before)
        base, _ = tracemalloc.get_traced_memory()
        for _ in range(40):
            for b in loader:
                assert b[0].shape == (256, 1024)
                break
        del b
        assert _settle(before) <= before
        grown = tracemalloc.get_traced_memory()[0] - base
    finally:
        tracemalloc.stop()
    # leaked, the queues alone would hold 40 epochs x 4-5 batches (160+ MiB)
    assert grown < 4 * BATCH_BYTES, f"{grown / 2**20:.1f} MiB kept by abandoned epochs"


def test_close_stops_the_thread_at_once_and_ends_the_iterator():
    it = iter(DataLoader(_Big(), batch_size=256, prefetch=2))
    next(it)
    assert it._thread.is_alive()
    it.close()
    assert not it._thread.is_alive()  # close() waits for the thread
    assert it._q.empty()
    with pytest.raises(StopIteration):
        next(it)
    it.close()  # idempotent


def test_garbage_collected_iterator_in_a_reference_cycle_is_shut_down():
    before = _settle()
    it = iter(DataLoader(_Big(), batch_size=256, prefetch=2))
    next(it)
    thread = it._thread
    holder = {"it": it}
    holder["self"] = holder  # only the cycle collector can free it
    del it, holder
    gc.collect()
    thread.join(5.0)
    assert not thread.is_alive() and _settle(before) <= before


def test_new_iter_of_persistent_loader_resets_the_previous_epoch():
    before = _settle()
    loader = DataLoader(_Big(), batch_size=256, num_workers=1, persistent_workers=True)
    first = iter(loader)
    next(first)
    second = iter(loader)  # the previous epoch's thread is stopped, its batches dropped
    assert not first._thread.is_alive() and first._q.empty()
    with pytest.raises(StopIteration):
        next(first)
    assert sum(1 for _ in second) == len(loader)
    assert _settle(before) <= before
    with pytest.raises(ValueError, match="persistent_workers option needs num_workers > 0"):
        DataLoader(_Big(), persistent_workers=True)


def test_independent_iterators_of_one_loader_still_run_side_by_side():
    """Without persistent_workers each iter() is its own epoch, as in torch: zip works."""
    ds = _Big()
    loader = DataLoader(ds, batch_size=4096, prefetch=2)
    pairs = list(zip(loader, loader))
    assert len(pairs) == len(loader) == 4


def test_exhausted_and_failed_epochs_end_their_threads():
    before = _settle()
    loader = DataLoader(_Big(), batch_size=4096, prefetch=2)
    assert len(list(loader)) == 4
    assert _settle(before) <= before

    class Bad(_Big):
        def get_batch(self, indices, rng=None):
            raise KeyError("boom")

    with pytest.raises(KeyError, match="boom"):
        list(DataLoader(Bad(), batch_size=256, prefetch=2))
    assert _settle(before) <= before
