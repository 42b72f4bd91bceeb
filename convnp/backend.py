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
from typing import Callable

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
    return _enabled and numba_available()


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


# Below this many elements (largest array argument) a parallel kernel runs its serial twin.
# Small kernels gain nothing from a second thread, and starting Numba's thread team right after a
# BLAS call fights OpenBLAS's still-spinning workers for the cores: a LeNet-5 training step on
# 2 cores took 68 ms with every kernel parallel and 30 ms with small kernels serial.
PARALLEL_MIN_ELEMENTS = 1 << 20


def _work(args) -> int:
    n = 0
    for a in args:
        size = getattr(a, "size", None)
        if size is not None and size > n:
            n = size
    return n


def _renamed(fn: Callable, suffix: str) -> Callable:
    """A copy of ``fn`` with its own qualified name (so its Numba cache file is its own)."""
    import types

    twin = types.FunctionType(fn.__code__, fn.__globals__, fn.__name__ + suffix,
                              fn.__defaults__, fn.__closure__)
    twin.__qualname__ = fn.__qualname__ + suffix
    twin.__module__ = fn.__module__
    return twin


def _bind_prange(fn: Callable) -> None:
    """Kernels loop with a module-level ``prange`` (or ``_prange``) that is plain ``range`` until
    the first compilation, so that importing a kernel's module does not import Numba; bind the
    real ``numba.prange`` in that module just before compiling."""
    import numba

    g = fn.__globals__
    for name in ("prange", "_prange"):
        if name in g and g[name] is not numba.prange:
            g[name] = numba.prange


def jit(parallel: bool = False, **options) -> Callable:
    """Decorator: compile with ``numba.njit(cache=True, fastmath=False, ...)`` on first call.

    The function object stays importable without Numba; compilation happens lazily. A
    ``parallel=True`` kernel also gets a serial twin (``prange`` runs as ``range``), used when its
    largest array argument has fewer than ``PARALLEL_MIN_ELEMENTS`` elements; each twin compiles on
    its first use and has its own cache entry.
    """

    def deco(fn: Callable) -> Callable:
        compiled: dict = {}

        def get(par: bool):
            kern = compiled.get(par)
            if kern is None:
                import numba

                _bind_prange(fn)
                src = fn if par or not parallel else _renamed(fn, "_serial")
                kern = compiled[par] = numba.njit(cache=True, parallel=par, nogil=True,
                                                  **options)(src)
            return kern

        def wrapper(*args):
            par = parallel and _work(args) >= PARALLEL_MIN_ELEMENTS
            return wrapper.variant(par)(*args)

        wrapper.__name__ = fn.__name__
        wrapper.__doc__ = fn.__doc__
        wrapper.py_func = fn  # the plain-Python version, for debugging
        wrapper.variant = get  # get(True) / get(False): the parallel / serial compiled kernel
        return wrapper

    return deco
