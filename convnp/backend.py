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


def jit(parallel: bool = False, **options) -> Callable:
    """Decorator: compile with ``numba.njit(cache=True, fastmath=False, ...)`` on first call.

    The function object stays importable without Numba; compilation happens lazily.
    """

    def deco(fn: Callable) -> Callable:
        compiled = None

        def wrapper(*args):
            nonlocal compiled
            if compiled is None:
                import numba

                compiled = numba.njit(cache=True, parallel=parallel, nogil=True, **options)(fn)
            return compiled(*args)

        wrapper.__name__ = fn.__name__
        wrapper.__doc__ = fn.__doc__
        wrapper.py_func = fn  # the plain-Python version, for debugging
        return wrapper

    return deco
