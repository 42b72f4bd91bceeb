"""Compiled-kernel backend: Numba where measurements show it pays, NumPy as the reference path.

Numba is imported only when a compiled kernel is first needed (``import convnp`` stays light).
Kernels compile with ``cache=True`` so later processes load them from disk instead of compiling.

Select the path:
- environment: ``CONVNP_NUMBA=0`` forces the NumPy reference path everywhere;
- code: ``convnp.backend.use_numba(False)`` or ``with convnp.backend.numba_disabled(): ...``.
"""

from __future__ import annotations

import contextlib
import os
import threading
from typing import Callable

import numpy as np

from convnp._dtype import is_half

_enabled = os.environ.get("CONVNP_NUMBA", "1").lower() not in ("0", "false", "no", "off")
_available: bool | None = None


def numba_available() -> bool:
    """True when Numba can be imported (checked once)."""
    global _available
    if _available is None:
        try:
            import numba  # noqa: F401

            _available = True
        except Exception:  # pragma: no cover - numba is a core dependency
            _available = False
    return _available


def use_numba(flag: bool | None = None) -> bool:
    """Query (no argument) or set whether compiled kernels are used; returns the current state."""
    global _enabled
    if flag is not None:
        _enabled = bool(flag)
    return _enabled and (_available or numba_available())


@contextlib.contextmanager
def numba_disabled():
    """Run a block on the NumPy reference path (tests compare both paths against torch)."""
    global _enabled
    prev = _enabled
    _enabled = False
    try:
        yield
    finally:
        _enabled = prev


# Below this many elements (largest array argument) a parallel kernel runs its serial twin
# (torch's grain size is 32768 too). This threshold can only be this low while no second thread
# pool spins on the cores: a Numba team started right after a call into a pool that keeps its
# workers spinning (NumPy's multi-threaded BLAS) fights them for the cores. ``convnp._blas`` runs
# every convnp GEMM single-threaded on Numba's threads where NumPy's BLAS allows it, and says so
# through ``set_second_pool``; where it cannot, parallel kernels start at the larger size.
PARALLEL_MIN_ELEMENTS = 1 << 15
PARALLEL_MIN_ELEMENTS_SHARED = 1 << 20
_second_pool = True


def set_second_pool(active: bool) -> None:
    """Declare whether another thread pool may be spinning on the cores when a parallel kernel
    starts (see ``parallel_min_elements``)."""
    global _second_pool
    _second_pool = bool(active)


def parallel_min_elements() -> int:
    """The size from which parallel kernels run on several threads (see above)."""
    return PARALLEL_MIN_ELEMENTS_SHARED if _second_pool else PARALLEL_MIN_ELEMENTS


_threads: int | None = None


def _default_threads() -> int:
    n = os.cpu_count() or 1
    for var in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS"):
        v = os.environ.get(var, "").strip()
        if v.isdigit() and int(v) > 0:
            n = min(n, int(v))
    return n


def get_num_threads() -> int:
    """Threads convnp uses for intra-op parallelism (as ``torch.get_num_threads``).

    Default: the number of CPUs, capped by ``NUMBA_NUM_THREADS`` or ``OMP_NUM_THREADS`` when
    set. Every parallel kernel and every GEMM convnp runs uses at most this many threads, all
    from Numba's pool (see ``convnp._blas``)."""
    global _threads
    if _threads is None:
        _threads = _default_threads()
    return _threads


def set_num_threads(n: int) -> None:
    """Use ``n`` threads for intra-op parallelism (as ``torch.set_num_threads``); at most the
    number Numba's pool started with (``NUMBA_NUM_THREADS``, default: the CPUs) are used."""
    global _threads
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise TypeError(f"set_num_threads: n must be an int, got {type(n).__name__}")
    if n < 1:
        raise ValueError(f"set_num_threads: n must be >= 1, got {n}")
    _threads = int(n)


def team() -> int:
    """``get_num_threads()``, with Numba's team for parallel regions started from this thread
    set to match (capped by the size of Numba's pool). Work is split for the returned count."""
    n = get_num_threads()
    if n > 1 and getattr(_team, "n", None) != n and use_numba():
        import numba

        numba.set_num_threads(min(n, numba.config.NUMBA_NUM_THREADS))
        _team.n = n  # Numba's setting is per calling thread: remember it per thread
    return n


_team = threading.local()


def run_split(kernel: Callable, parts: int, *args):
    """Run a ``jit(parallel=True)`` kernel whose work the caller cut into ``parts`` independent
    pieces: on several threads whenever there are several pieces and threads, whatever the
    arrays' sizes (a convolution's arithmetic is far more than its operands' element count,
    which is what the kernel wrapper's size rule sees)."""
    variant = getattr(kernel, "variant", None)
    if variant is None:  # a plain callable in the kernel's place (a wrapper, a test's spy)
        return kernel(*args)
    return variant(parts > 1 and team() > 1)(*args)


def _work(args) -> int:
    """The largest array argument's size; -1 when an argument is float16 or bfloat16 (see
    ``_half_call``)."""
    n = 0
    for a in args:
        if isinstance(a, _ARRAYS):  # ints, floats and tuples carry no dtype
            dt = a.dtype
            if dt.itemsize == 2 and (dt.kind == "f" or (dt.kind == "V" and is_half(dt))):
                return -1
            size = a.size
            if size > n:
                n = size
    return n


_ARRAYS = (np.ndarray, np.generic)

# the floating dtypes compiled kernels take (everything else runs the NumPy paths)
COMPILED_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def _half_call(kernel: Callable, args: tuple):
    """Run ``kernel`` on float16 data the way torch's CPU kernels do: compute in float32 and
    round once at the end. Numba has no float16 arithmetic, so every float16 argument (arrays
    and scalars) goes in as a float32 copy; the arrays the kernel wrote into (any writeable
    float16 array: round-tripping an unchanged input is exact) are copied back, and float32
    arrays the kernel returns come back as float16."""
    conv, back, memo, half = [], [], {}, None
    for a in args:
        if is_half(getattr(a, "dtype", None)):
            half = half or a.dtype
            if isinstance(a, np.ndarray):
                c = memo.get(id(a))
                if c is None:  # the same array twice (in-place kernels) stays one array
                    c = memo[id(a)] = a.astype(np.float32)
                    if a.flags.writeable:
                        back.append((a, c))
                a = c
            else:
                a = np.float32(a)
        conv.append(a)
    out = kernel(*conv)
    for a, c in back:
        np.copyto(a, c, casting="unsafe")
    if isinstance(out, tuple):
        return tuple(_to_half(o, half) for o in out)
    return _to_half(out, half)


def _to_half(o, half):
    return o.astype(half) if getattr(o, "dtype", None) == np.float32 else o


class late:  # noqa: N801 (used like a function name at the kernels' module level)
    """A name a compiled kernel's module binds to an object that exists only once Numba is
    loaded (``prange``, a Numba intrinsic): ``late(module, attr)``. The kernel compiles with the
    real object in its place (see ``_compile_globals``), so importing a kernel's module does not
    import Numba; called from plain Python (``kernel.py_func``), it loads it and calls it."""

    __slots__ = ("module", "attr")

    def __init__(self, module: str, attr: str) -> None:
        self.module, self.attr = module, attr

    def resolve(self):
        import importlib

        return getattr(importlib.import_module(self.module), self.attr)

    def __call__(self, *args, **kwargs):
        return self.resolve()(*args, **kwargs)

    def __repr__(self) -> str:
        return f"late({self.module!r}, {self.attr!r})"


prange = late("numba", "prange")  # kernels' parallel loops: ``from convnp.backend import prange``

_helpers: dict[tuple[str, str], Callable] = {}  # (module, name) -> compiled helper


def _compile_globals(fn: Callable) -> dict:
    """The globals ``fn`` compiles with: its module's, with each ``late`` name resolved and each
    ``helper`` compiled (once per module). The module itself is left as it is."""
    import numba

    src = fn.__globals__
    for name in fn.__code__.co_names:
        if src.get(name) is range and name != "range":
            raise RuntimeError(f"{fn.__qualname__}: '{name}' is range in {fn.__module__}; "
                               "import prange from convnp.backend so the kernel's loop runs "
                               "in parallel")
    g = dict(src)
    for name, value in src.items():
        if isinstance(value, late):
            g[name] = value.resolve()
        elif getattr(value, "_convnp_helper", False):
            key = (fn.__module__, name)
            if key not in _helpers:
                _helpers[key] = numba.njit(cache=True, nogil=True)(_with_globals(value, g))
            g[name] = _helpers[key]
    return g


def _with_globals(fn: Callable, g: dict, suffix: str = "") -> Callable:
    """A copy of ``fn`` that reads globals from ``g``, named with ``suffix`` (a twin's own
    qualified name gives it its own Numba cache file)."""
    import types

    twin = types.FunctionType(fn.__code__, g, fn.__name__ + suffix, fn.__defaults__,
                              fn.__closure__)
    twin.__qualname__ = fn.__qualname__ + suffix
    twin.__module__ = fn.__module__
    twin.__doc__ = fn.__doc__
    return twin


def helper(fn: Callable) -> Callable:
    """Mark a plain function as a helper that compiled kernels of its module call: it is
    compiled when the module's first kernel compiles and bound in the kernels' globals."""
    fn._convnp_helper = True
    return fn


def jit(parallel: bool = False, **options) -> Callable:
    """Decorator: compile with ``numba.njit(cache=True, fastmath=False, ...)`` on first call.

    The function object stays importable without Numba; compilation happens lazily. A
    ``parallel=True`` kernel also gets a serial twin (``prange`` runs as ``range``), used when its
    largest array argument has fewer than ``parallel_min_elements()`` elements or convnp runs on
    one thread (``get_num_threads()``); each twin compiles on its first use and has its own cache
    entry.
    """

    def deco(fn: Callable) -> Callable:
        compiled: dict = {}

        def get(par: bool):
            kern = compiled.get(par)
            if kern is None:
                import numba

                suffix = "" if par or not parallel else "_serial"
                src = _with_globals(fn, _compile_globals(fn), suffix)
                kern = compiled[par] = numba.njit(cache=True, parallel=par, nogil=True,
                                                  **options)(src)
            return kern

        def wrapper(*args):
            work = _work(args)
            if work < 0:
                return _half_call(wrapper, args)
            par = parallel and work >= parallel_min_elements() and team() > 1
            return wrapper.variant(par)(*args)

        wrapper.__name__ = fn.__name__
        wrapper.__doc__ = fn.__doc__
        wrapper.py_func = fn  # the plain-Python version, for debugging
        wrapper.variant = get  # get(True) / get(False): the parallel / serial compiled kernel
        return wrapper

    return deco
