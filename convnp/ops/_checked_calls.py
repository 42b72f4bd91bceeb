"""The validated arguments of recent calls of an op, kept per distinct call.

Validating a convolution's arguments (types, channels, groups, padding resolution, the limits
of each padding mode) depends only on the arrays' shapes and dtypes and on the settings, and a
network calls each layer with the same ones every time; so an op validates a call once and keeps
what the checks derived, under a key made of the op's name, the arrays' shapes and dtypes and
the settings.

Only calls whose settings are *plain* (ints, strings, None and tuples of them, exactly those
types) are kept: ``2 == 2.0 == True`` as dict keys, and a float or a bool must still meet the
check that rejects it. Anything else is validated on every call, and a call that raises is never
kept, so bad arguments raise the same error on every call.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from convnp.tensor import Tensor


def _plain(v) -> bool:
    """An int, a string, None, or a tuple of these (nested: ``(lo, hi)`` pairs)."""
    t = type(v)
    if t is int or t is str or v is None:
        return True
    if t is tuple:
        for e in v:
            te = type(e)
            if not (te is int or te is str or e is None or te is tuple and _plain(e)):
                return False
        return True
    return False


def _meta(a) -> tuple | None:
    """(shape, dtype) of a Tensor or ndarray; None for anything else."""
    if isinstance(a, Tensor):
        a = a.array
    elif not isinstance(a, np.ndarray):
        return None
    return a.shape, a.dtype


class CheckedCalls:
    """Validated results by call key (at most ``maxsize``; emptied when full)."""

    def __init__(self, maxsize: int = 512) -> None:
        self.maxsize = maxsize
        self._entries: dict = {}

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        self._entries.clear()

    @staticmethod
    def key(fn: str, arrays: tuple, settings: tuple) -> tuple | None:
        """The key of a call of ``fn`` on ``arrays`` (Tensors, ndarrays or None) with
        ``settings``; None when an array is something else or a setting is not plain."""
        metas = []
        for a in arrays:
            if a is None:
                metas.append(None)
                continue
            m = _meta(a)
            if m is None:
                return None
            metas.append(m)
        if not _plain(settings):
            return None
        return (fn, *metas, *settings)

    def get(self, key: tuple | None, validate: Callable[[], Any]) -> Any:
        """The kept result for ``key``, else ``validate()`` (kept when it returns, and when the
        call has a key)."""
        found = self._entries.get(key)
        if found is None:
            found = validate()
            if key is not None:
                if len(self._entries) >= self.maxsize:
                    self._entries.clear()
                self._entries[key] = found
        return found
