"""``DistributedDataParallel``: data-parallel training over ``convnp.distributed`` (MPI).

How a step runs (torch's design, on MPI's non-blocking collectives):

- construction: rank 0's parameters and buffers are broadcast, so every rank starts equal; the
  parameters are split into buckets (in reverse registration order, which is roughly the order
  backward produces their gradients; the first bucket small so communication starts early);
- forward: BatchNorm's running statistics (every buffer) are broadcast from rank 0 first
  (``broadcast_buffers``); with ``find_unused_parameters`` the autograd graph of the output is
  walked to find the parameters that will get no gradient;
- backward: each parameter's post-accumulate-grad hook copies its gradient into its bucket's
  contiguous buffer; a full bucket starts a non-blocking ``MPI_Iallreduce`` at once (buckets
  start in the same order on every rank, as MPI requires), so communication overlaps the rest of
  the backward; every hook also tests the requests in flight, which is what moves them forward;
- end of backward (a callback the autograd engine runs after the pass): wait for the
  allreduces and write the averaged gradients back into ``.grad``, so ``optimizer.step()`` sees
  the average over ranks.
"""

from __future__ import annotations

import contextlib
import time
from typing import Any, Iterator

import numpy as np

from convnp.autograd import engine
from convnp.autograd.grad_mode import is_grad_enabled
from convnp.nn.modules.module import Module
from convnp.tensor import Tensor

__all__ = ["DistributedDataParallel"]

_FIRST_BUCKET_BYTES = 1024 * 1024  # torch's first bucket: small, so its allreduce starts early


def _dist():
    """``convnp.distributed``, loaded when a DistributedDataParallel is built (``import convnp``,
    which loads this module with ``convnp.nn``, does not load it)."""
    from convnp import distributed

    return distributed


class _Bucket:
    """Parameters whose gradients are averaged by one allreduce of a contiguous buffer."""

    def __init__(self, index: int, params: list[tuple[int, Any]], dtype: np.dtype) -> None:
        self.index = index
        self.params = params  # [(parameter index, Parameter)], in the order they fill the buffer
        self.offsets = {}
        n = 0
        for i, p in params:
            self.offsets[i] = (n, n + p.array.size)
            n += p.array.size
        self.buffer = np.zeros(n, dtype)
        self.pending = len(params)
        self.work = None

    def reset(self) -> None:
        self.pending = len(self.params)
        self.work = None


class DistributedDataParallel(Module):
    r"""Data parallelism over the ranks of ``convnp.distributed`` (one process per rank, started
    by ``mpirun``), with torch's ``DistributedDataParallel`` behaviour.

    Every rank holds a replica of ``module`` and runs forward and backward on its own share of
    the batch; gradients are averaged over the ranks during the backward pass (bucketed,
    non-blocking allreduces started from gradient hooks), so after ``loss.backward()`` every
    rank's ``.grad`` is the same average and the ranks' optimizers keep the replicas equal.
    With equal per-rank batches and a mean loss, ``k`` ranks of batch ``B`` take the same steps as
    one process of batch ``k * B``.

    Args:
        module: the model to replicate (its parameters and buffers are overwritten with rank 0's).
        device_ids, output_device, dim: accepted for torch compatibility (CPU only; must be None
            or CPU, dim 0).
        broadcast_buffers: broadcast rank 0's buffers (BatchNorm running statistics) at each
            forward that follows a synchronised step (default True).
        init_sync: broadcast rank 0's parameters and buffers at construction (default True).
        process_group: None (the default group).
        bucket_cap_mb: bucket size in MiB (default 25; the first bucket is at most 1 MiB, so its
            allreduce starts early).
        find_unused_parameters: walk the output's autograd graph at each forward so that
            parameters that get no gradient do not hold their bucket back (their gradient counts
            as zero in the average; one that no rank used keeps its ``.grad`` untouched). Without
            it, a parameter that got no gradient makes the next forward raise, as torch does.
        check_reduction, gradient_as_bucket_view, static_graph: accepted for compatibility;
            no effect.

    Example::
        >>> dist.init_process_group("mpi")                   # under mpirun -n 2
        >>> model = DistributedDataParallel(LeNet5())
        >>> loss = F.cross_entropy(model(x_shard), y_shard)
        >>> loss.backward()                                  # .grad = average over the ranks
        >>> opt.step()
        >>> with model.no_sync():                            # accumulate locally, no allreduce
        ...     F.cross_entropy(model(x1), y1).backward()
    """

    def __init__(self, module: Module, device_ids=None, output_device=None, dim: int = 0,
                 broadcast_buffers: bool = True, init_sync: bool = True,
                 process_group: Any = None,
                 bucket_cap_mb: float | None = None, find_unused_parameters: bool = False,
                 check_reduction: bool = False, gradient_as_bucket_view: bool = False,
                 static_graph: bool = False, **kwargs: Any) -> None:
        super().__init__()
        dist = _dist()
        where = "DistributedDataParallel"
        if not isinstance(module, Module):
            raise TypeError(f"{where}: 'module' must be a convnp.nn.Module, got "
                            f"{type(module).__name__}")
        if not dist.is_initialized():
            raise RuntimeError(f"{where}: the default process group is not initialized; call "
                               "convnp.distributed.init_process_group('mpi') first, in a "
                               f"process started by an MPI launcher ({dist.LAUNCH_HINT})")
        if process_group is not None:
            raise NotImplementedError(f"{where}: only the default process group "
                                      "(process_group=None) is supported")
        for name, value in (("device_ids", device_ids), ("output_device", output_device)):
            if value not in (None, "cpu") and value != [] and value != ["cpu"]:
                raise ValueError(f"{where}: {name}={value!r}: convnp runs on the CPU; leave "
                                 f"{name} unset")
        if dim != 0:
            raise ValueError(f"{where}: dim must be 0 (the batch dimension), got {dim}")
        if bucket_cap_mb is not None and not bucket_cap_mb > 0:
            raise ValueError(f"{where}: bucket_cap_mb must be positive, got {bucket_cap_mb}")
        self.module = module
        self.broadcast_buffers = bool(broadcast_buffers)
        self.find_unused_parameters = bool(find_unused_parameters)
        self.bucket_bytes_cap = int((25 if bucket_cap_mb is None else bucket_cap_mb) * 2**20)
        self.gradient_as_bucket_view = gradient_as_bucket_view
        self.static_graph = static_graph
        self.require_backward_grad_sync = True
        self.require_forward_param_sync = True
        named = [(n, p) for n, p in module.named_parameters() if p.requires_grad]
        if not named:
            raise RuntimeError(f"{where} is not needed when a module doesn't have any parameter "
                               "that requires a gradient.")
        self._param_names = [n for n, _ in named]
        self._params = [p for _, p in named]
        self._rank, self._world = dist.get_rank(), dist.get_world_size()
        self._comm = dist._dup_comm(where)
        if init_sync:
            self._sync_module_states()
        self._buckets = self._assign_buckets()
        self._bucket_of = {i: b for b in self._buckets for i, _ in b.params}
        self._hooks = [p.register_post_accumulate_grad_hook(self._make_hook(i))
                       for i, p in enumerate(self._params)]
        self._expect_hooks = False  # set by a forward that will be followed by a synced backward
        self._finalize_queued = False
        self._next_bucket = 0
        self._ready = np.zeros(len(self._params), bool)
        self._unused: list[int] = []
        self._unfinished: list[str] | None = None
        # seconds this rank spent waiting for allreduces at the end of backward, and in the hooks
        # (copies, launches, tests); read by benchmarks/distributed.py
        self.comm_wait_seconds = 0.0
        self.comm_hook_seconds = 0.0

    # -- construction ---------------------------------------------------------------------
    def _sync_module_states(self) -> None:
        """Rank 0's parameters and buffers everywhere (one broadcast per tensor, all in flight
        together)."""
        dist = _dist()
        if self._world == 1:
            return
        tensors = list(self.module.parameters()) + [b for b in self.module.buffers()
                                                    if b is not None]
        works = [dist.broadcast(t, 0, async_op=True) for t in tensors]
        for w in works:
            w.wait()

    def _assign_buckets(self) -> list[_Bucket]:
        """Reverse registration order, one dtype per bucket, closed once it reaches its cap."""
        buckets: list[_Bucket] = []
        open_: dict[np.dtype, tuple[list, int]] = {}
        caps = {}
        for i in reversed(range(len(self._params))):
            p = self._params[i]
            dt = p.array.dtype
            members, size = open_.get(dt, ([], 0))
            members.append((i, p))
            size += p.array.nbytes
            cap = caps.get(dt, min(_FIRST_BUCKET_BYTES, self.bucket_bytes_cap))
            if size >= cap:
                buckets.append(_Bucket(len(buckets), members, dt))
                caps[dt] = self.bucket_bytes_cap
                members, size = [], 0
            open_[dt] = (members, size)
        for dt, (members, _) in open_.items():
            if members:
                buckets.append(_Bucket(len(buckets), members, dt))
        return buckets

    # -- forward --------------------------------------------------------------------------
    def forward(self, *inputs, **kwargs):
        if self._unfinished is not None:
            names = ", ".join(self._unfinished)
            self._unfinished = None
            raise RuntimeError(
                "Expected to have finished reduction in the prior iteration before starting a new "
                "one. This error indicates that your module has parameters that were not used in "
                "producing loss. You can enable unused parameter detection by passing the keyword "
                "argument `find_unused_parameters=True` to "
                "`convnp.nn.parallel.DistributedDataParallel`, and by making sure all `forward` "
                "function outputs participate in calculating loss. Parameters that did not "
                f"receive a gradient on rank {self._rank}: {names}")
        if self.require_forward_param_sync and self.broadcast_buffers and self._world > 1:
            self._sync_buffers()
        out = self.module(*inputs, **kwargs)
        if is_grad_enabled() and self.require_backward_grad_sync:
            self.require_forward_param_sync = True
            self._prepare_for_backward(out)
        else:
            self.require_forward_param_sync = False
            self._expect_hooks = False
        return out

    def _sync_buffers(self) -> None:
        dist = _dist()
        works = [dist.broadcast(b, 0, async_op=True) for b in self.module.buffers()
                 if b is not None]
        for w in works:
            w.wait()

    def _prepare_for_backward(self, out) -> None:
        for b in self._buckets:
            b.reset()
        self._ready[:] = False
        self._next_bucket = 0
        self._finalize_queued = False
        self._expect_hooks = True
        self._unused = []
        if self.find_unused_parameters:
            reached = _reachable_leaves(out)
            self._unused = [i for i, p in enumerate(self._params) if id(p) not in reached]

    # -- backward -------------------------------------------------------------------------
    def _make_hook(self, index: int):
        def hook(param):
            if self._expect_hooks and self.require_backward_grad_sync:
                start = time.perf_counter()
                self._on_grad_ready(index, param.grad.array)
                self.comm_hook_seconds += time.perf_counter() - start
        return hook

    def _on_grad_ready(self, index: int, grad: np.ndarray | None) -> None:
        if not self._finalize_queued:
            self._finalize_queued = True
            engine.queue_callback(self._finalize)
            for i in self._unused:  # known to get no gradient: zeros now, not at the end
                self._mark_ready(i, None)
        if not self._ready[index]:
            self._mark_ready(index, grad)
        for b in self._buckets[:self._next_bucket]:
            if b.work is not None:
                b.work.is_completed()  # MPI progresses non-blocking collectives only in calls

    def _mark_ready(self, index: int, grad: np.ndarray | None) -> None:
        self._ready[index] = True
        bucket = self._bucket_of[index]
        lo, hi = bucket.offsets[index]
        if grad is None:
            bucket.buffer[lo:hi] = 0
        else:
            bucket.buffer[lo:hi] = grad.reshape(-1)
        bucket.pending -= 1
        self._launch_ready_buckets()

    def _launch_ready_buckets(self) -> None:
        """Start the allreduces of full buckets, strictly in bucket order on every rank."""
        dist = _dist()
        while self._next_bucket < len(self._buckets):
            b = self._buckets[self._next_bucket]
            if b.pending:
                return
            b.work = dist._iallreduce(b.buffer, "DistributedDataParallel", self._comm)
            self._next_bucket += 1

    def _finalize(self) -> None:
        """After backward: wait for the allreduces and write the averages into ``.grad``."""
        dist = _dist()
        self._expect_hooks = False
        missing = [i for i in range(len(self._params)) if not self._ready[i]]
        if missing and not self.find_unused_parameters:
            self._unfinished = [self._param_names[i] for i in missing]
            return
        for i in missing:  # found unused only now (e.g. a backward that returned no gradient)
            self._mark_ready(i, None)
        used = None
        if self.find_unused_parameters:
            # a parameter no rank used keeps its .grad untouched, as torch
            used = np.ones(len(self._params), np.int32)
            used[self._unused + missing] = 0
            used_work = dist._iallreduce(used, "DistributedDataParallel", self._comm)
        start = time.perf_counter()
        for b in self._buckets:
            b.work.wait()
        if used is not None:
            used_work.wait()
        self.comm_wait_seconds += time.perf_counter() - start
        for b in self._buckets:
            b.buffer /= self._world
            for i, p in b.params:
                if used is not None and not used[i]:
                    continue
                lo, hi = b.offsets[i]
                avg = b.buffer[lo:hi].reshape(p.array.shape)
                if p.grad is None:
                    p.grad = Tensor._wrap(avg.copy())
                else:
                    np.copyto(p.grad.array, avg)

    # -- user API -------------------------------------------------------------------------
    @contextlib.contextmanager
    def no_sync(self) -> Iterator[None]:
        """Within this context gradients accumulate locally, with no allreduce; the first
        backward after it averages the accumulated gradients (gradient accumulation)."""
        old = self.require_backward_grad_sync
        self.require_backward_grad_sync = False
        try:
            yield
        finally:
            self.require_backward_grad_sync = old

    def extra_repr(self) -> str:
        return (f"world_size={self._world}, buckets={len(self._buckets)}, "
                f"find_unused_parameters={self.find_unused_parameters}")


def _reachable_leaves(out) -> set[int]:
    """ids of the leaf tensors the autograd graph of ``out`` (tensors in nested containers)
    reaches."""
    roots, stack = [], [out]
    while stack:
        o = stack.pop()
        if isinstance(o, Tensor):
            if o.grad_fn is not None:
                roots.append(o.grad_fn)
            elif o.requires_grad:
                roots.append(o)
        elif isinstance(o, (list, tuple)):
            stack.extend(o)
        elif isinstance(o, dict):
            stack.extend(o.values())
    leaves = {id(r) for r in roots if isinstance(r, Tensor)}
    nodes = [r for r in roots if not isinstance(r, Tensor)]
    leaves.update(engine.leaf_edge_counts(engine.dependencies(nodes)))
    return leaves
