"""What ``convnp train --distributed`` changes in the training loop, in one object.

``Trainer`` asks its ``dist`` (a :class:`Single` or a :class:`DataParallel`) at a handful of
places: wrap the model, the train sampler, the test shard, the start of an epoch, summing the
epoch's counters over the ranks, and whether this rank writes files and prints (rank 0 alone).
The single-process object answers with what the loop did before, so the loop has one code path.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
from typing import Any, Iterator

import numpy as np


class Single:
    """One process: nothing to shard or reduce."""

    rank, world_size, is_main = 0, 1, True

    def wrap(self, model):
        return model

    def train_sampler(self, dataset, seed: int):
        return None

    def test_shard(self, dataset):
        return dataset

    def start_epoch(self, trainer, epoch: int) -> None:
        pass

    def sum(self, values: list[Any]) -> list[Any]:
        return values

    def sync_buffers(self, model) -> None:
        pass

    @contextlib.contextmanager
    def main_first(self) -> Iterator[None]:
        yield


class DataParallel(Single):
    """One rank of ``mpirun -n N convnp train --distributed``: DistributedDataParallel, the train
    set split by DistributedSampler (per-rank batch x N = global batch), the test set split by
    strides and its counts summed, and rank 0 alone printing and writing the run directory."""

    def __init__(self) -> None:
        from convnp import distributed as dist
        if not dist.is_initialized():
            dist.init_process_group("mpi")
        self.rank, self.world_size = dist.get_rank(), dist.get_world_size()
        self.is_main = self.rank == 0

    def wrap(self, model):
        from convnp.nn.parallel import DistributedDataParallel
        return DistributedDataParallel(model)

    def train_sampler(self, dataset, seed: int):
        from convnp.data.distributed import DistributedSampler
        self._sampler = DistributedSampler(dataset, self.world_size, self.rank, shuffle=True,
                                           seed=seed)
        return self._sampler

    def test_shard(self, dataset):
        from convnp.data import Subset
        # strided, not padded: every test image is counted exactly once over the ranks
        return Subset(dataset, range(self.rank, len(dataset), self.world_size))

    def start_epoch(self, trainer, epoch: int) -> None:
        # the shuffle depends on (seed, epoch) only and the augmentation stream on (seed, epoch,
        # rank): an epoch is the same whether or not the run was resumed, with any N
        self._sampler.set_epoch(epoch)
        trainer.loader_gen.manual_seed(
            int(np.random.SeedSequence([trainer.cfg.seed, epoch, self.rank]).generate_state(1)[0]))

    def sum(self, values: list[Any]) -> list[Any]:
        """Element-wise sums over the ranks of numbers and arrays (one allreduce)."""
        from convnp import distributed as dist
        arrays = [np.asarray(v, np.float64) for v in values]
        flat = np.concatenate([a.reshape(-1) for a in arrays])
        dist.all_reduce(flat)
        out, at = [], 0
        for v, a in zip(values, arrays):
            part = flat[at:at + a.size].reshape(a.shape)
            at += a.size
            if isinstance(v, np.ndarray):
                out.append(np.rint(part).astype(v.dtype) if v.dtype.kind in "iu" else part)
            elif isinstance(v, (int, np.integer)):
                out.append(int(round(float(part))))
            else:
                out.append(float(part))
        return out

    @contextlib.contextmanager
    def main_first(self) -> Iterator[None]:
        """Rank 0 runs the block first (e.g. downloads the dataset), then the others."""
        from convnp import distributed as dist
        if not self.is_main:
            dist.barrier()
        yield
        if self.is_main:
            dist.barrier()

    def sync_buffers(self, model) -> None:
        from convnp import distributed as dist
        for b in model.buffers():
            if b is not None:
                dist.broadcast(b, 0)


def data_parallel(distributed: bool) -> Single:
    """The loop's ``dist`` object: :class:`DataParallel` when ``distributed`` (joining the MPI
    job), else :class:`Single`."""
    return DataParallel() if distributed else Single()


def threads_per_rank(environ=os.environ) -> int | None:
    """Threads for each rank when neither --threads nor OMP/NUMBA_NUM_THREADS says: the cores
    shared among the ranks on this node (None when not under an MPI launcher)."""
    local = environ.get("OMPI_COMM_WORLD_LOCAL_SIZE") or environ.get("MPI_LOCALNRANKS")
    if not local or not local.isdigit():
        return None
    return max(1, (os.cpu_count() or 1) // int(local))


def abort_job_on_error(command):
    """Wrap a CLI command so that an error on one rank ends the whole MPI job (with the error on
    one line) instead of leaving the other ranks waiting in a collective for it."""
    @functools.wraps(command)
    def run(args):
        try:
            return command(args)
        except BaseException as e:
            from convnp import distributed as dist
            if dist.is_initialized() and dist.get_world_size() > 1:
                sys.stderr.write(f"convnp: error on rank {dist.get_rank()}: "
                                 f"{type(e).__name__}: {e}; aborting the MPI job\n")
                sys.stderr.flush()
                dist._default("abort").comm.Abort(130 if isinstance(e, KeyboardInterrupt) else 2)
            raise
    return run
