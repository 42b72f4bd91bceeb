"""``convnp.multiprocessing``: Python's :mod:`multiprocessing` with tensors in shared memory
(torch's ``torch.multiprocessing``), enough for the Hogwild pattern::

    import convnp.multiprocessing as mp

    model = Net()
    model.share_memory()                      # parameters now live in shared memory
    procs = [mp.Process(target=train, args=(model,)) for _ in range(4)]
    for p in procs: p.start()                 # every process updates the same parameters
    for p in procs: p.join()

``Tensor.share_memory_()`` moves a tensor's data into a named POSIX shared-memory block
(:class:`multiprocessing.shared_memory.SharedMemory`); the tensor keeps its identity, so
modules and optimizers holding it see the change. A forked child shares the pages directly; a
tensor pickled to a spawned child (``spawn``/``forkserver`` start methods, a ``Queue``) is
re-attached to the same block by name instead of copied. Optimizers update parameters in place,
so every process's steps land in the shared arrays (without locks: that is Hogwild).

Gradients stay private to each process. The block is unlinked when the process that created it
exits.

With the ``fork`` start method (Linux's default), start the processes before the parent runs the
model: once convnp's parallel kernels have started Numba's GNU OpenMP thread pool, a forked child
would be killed, so ``Process.start()`` raises a ``RuntimeError`` saying so; the ``spawn`` start
method has no such limit.

Everything else (``Process``, ``Queue``, ``Pool``, ``get_context``, ``set_start_method``, ...)
is the standard library's.
"""

from __future__ import annotations

import atexit
import multiprocessing as _mp
import os
from multiprocessing import *  # noqa: F401,F403
from multiprocessing import shared_memory as _shm_mod

import numpy as np

from convnp._tagged import TaggedArray

__all__ = list(_mp.__all__) + [
    "get_all_sharing_strategies", "get_sharing_strategy", "set_sharing_strategy", "spawn",
    "start_processes"]

_SHARING_STRATEGIES = {"file_system"}
_strategy = "file_system"


def get_all_sharing_strategies() -> set:
    """The ways tensors can be shared: convnp uses named shared-memory blocks
    (``'file_system'``)."""
    return set(_SHARING_STRATEGIES)


def get_sharing_strategy() -> str:
    return _strategy


def set_sharing_strategy(new_strategy: str) -> None:
    """Accepts torch's strategy names; convnp always uses named shared-memory blocks."""
    if new_strategy not in ("file_system", "file_descriptor"):
        raise ValueError(f"set_sharing_strategy: unknown strategy {new_strategy!r} (expected "
                         "'file_system' or 'file_descriptor')")


class _SharedArray(TaggedArray):
    """An ndarray backed by a named shared-memory block; pickles as (block name, layout) so
    another process maps the same memory. Results of arithmetic are plain ndarrays."""

    def __array_finalize__(self, obj) -> None:
        self._block = getattr(obj, "_block", None)

    def __reduce__(self):
        if not _within_block(self):
            # a copy that merely inherited the class: pickle it by value
            return (np.array, (np.asarray(self.view(np.ndarray)).copy(),))
        offset = self.__array_interface__["data"][0] - _address(self._block)
        return (_attach, (self._block.name, self.shape, self.dtype.str, offset, self.strides))


def _byte_bounds(a: np.ndarray) -> tuple[int, int]:
    try:
        from numpy.lib.array_utils import byte_bounds
    except ImportError:  # NumPy < 2
        byte_bounds = np.byte_bounds
    return byte_bounds(a)


def _within_block(a) -> bool:
    """Whether ``a``'s memory lies inside its shared block (views do; new arrays that only
    inherited the class do not)."""
    block = getattr(a, "_block", None)
    if block is None:
        return False
    base = _address(block)
    lo, hi = _byte_bounds(np.asarray(a).view(np.ndarray))
    return base <= lo and hi <= base + block.size


def _address(block) -> int:
    return np.frombuffer(block.buf, np.uint8).__array_interface__["data"][0]


_owned: dict[str, tuple[int, object]] = {}
_attached: dict[str, object] = {}


def _release_owned() -> None:
    for pid, block in list(_owned.values()):
        if pid != os.getpid():
            continue
        try:
            block.unlink()
        except (FileNotFoundError, OSError):
            pass


atexit.register(_release_owned)


def _attach(name: str, shape, dtype: str, offset: int, strides) -> np.ndarray:
    """Map the block ``name`` (once per process) and view the array at ``offset`` in it."""
    block = _attached.get(name) or (_owned.get(name) or (None, None))[1]
    if block is None:
        block = _shm_mod.SharedMemory(name=name)
        _attached[name] = block
    arr = np.ndarray(shape, np.dtype(dtype), buffer=block.buf, offset=offset,
                     strides=strides).view(_SharedArray)
    arr._block = block
    return arr


def _share_array(a: np.ndarray) -> np.ndarray:
    """A copy of ``a`` in a new shared-memory block (``a`` itself if it already is shared)."""
    if is_shared_array(a):
        return a
    block = _shm_mod.SharedMemory(create=True, size=max(int(a.nbytes), 1))
    _owned[block.name] = (os.getpid(), block)
    out = np.ndarray(a.shape, a.dtype, buffer=block.buf).view(_SharedArray)
    out._block = block
    out[...] = a
    return out


def is_shared_array(a) -> bool:
    """Whether the ndarray ``a`` lives in a shared-memory block."""
    return isinstance(a, _SharedArray) and _within_block(a)


def share_tensor_(t):
    """``Tensor.share_memory_()``: move ``t``'s data into shared memory, in place."""
    t.array = _share_array(t.array)
    return t


def share_module(module):
    """``Module.share_memory()``: share every parameter and buffer (and existing gradients)."""
    for m in module.modules():
        for store in (m._parameters, m._buffers):
            for t in store.values():
                if t is not None and not getattr(t, "_is_uninitialized", False):
                    share_tensor_(t)
                    if t.grad is not None:
                        share_tensor_(t.grad)
    return module


def _check_fork_safe(start_method: str | None) -> None:
    """Refuse to fork once Numba's GNU OpenMP thread pool runs in this process: the child would
    be killed at once ("fork() called from a process already using GNU OpenMP")."""
    import sys

    if (start_method or _mp.get_start_method(allow_none=True) or "fork") != "fork":
        return
    if "numba" not in sys.modules:
        return
    from numba.np.ufunc import parallel

    if not parallel._is_initialized:
        return
    import numba

    if numba.threading_layer() == "omp":
        raise RuntimeError(
            "convnp.multiprocessing: cannot fork after convnp's parallel kernels ran in this "
            "process (Numba's GNU OpenMP pool is not fork-safe; the child would be killed). "
            "Start the processes before running the model in the parent (as the Hogwild "
            "example does), or use the 'spawn' start method: "
            "convnp.multiprocessing.set_start_method('spawn') (with an "
            "`if __name__ == '__main__':` guard).")


class Process(_mp.Process):
    """``multiprocessing.Process`` that refuses, with a clear error, a fork that the compiled
    kernels' OpenMP pool would make crash (see :func:`_check_fork_safe`)."""

    def start(self) -> None:
        _check_fork_safe(None)
        super().start()


def spawn(fn, args=(), nprocs: int = 1, join: bool = True, daemon: bool = False,
          start_method: str = "spawn"):
    """Start ``nprocs`` processes running ``fn(i, *args)`` (torch's ``mp.spawn``); with
    ``join`` wait for them and raise if one failed."""
    return start_processes(fn, args, nprocs, join, daemon, start_method)


class ProcessContext:
    """The processes started by :func:`start_processes`; ``join()`` waits for all."""

    def __init__(self, processes) -> None:
        self.processes = processes

    def pids(self) -> list:
        return [p.pid for p in self.processes]

    def join(self, timeout=None) -> bool:
        for p in self.processes:
            p.join(timeout)
        failed = [(i, p.exitcode) for i, p in enumerate(self.processes)
                  if p.exitcode not in (0, None)]
        if failed:
            i, code = failed[0]
            raise ProcessExitedException(f"process {i} terminated with exit code {code}",
                                         error_index=i, exit_code=code)
        return all(p.exitcode is not None for p in self.processes)


class ProcessExitedException(Exception):
    """A process started by :func:`spawn` exited with a non-zero code."""

    def __init__(self, msg: str, error_index: int = 0, exit_code: int = 1) -> None:
        super().__init__(msg)
        self.error_index, self.exit_code = error_index, exit_code


def start_processes(fn, args=(), nprocs: int = 1, join: bool = True, daemon: bool = False,
                    start_method: str = "spawn"):
    ctx = _mp.get_context(start_method)
    _check_fork_safe(start_method)
    procs = [ctx.Process(target=fn, args=(i, *args), daemon=daemon) for i in range(nprocs)]
    for p in procs:
        p.start()
    context = ProcessContext(procs)
    if not join:
        return context
    context.join()
    return None
