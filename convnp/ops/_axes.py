"""The ``dim`` arguments of reductions: validation, NumPy's ``axis=``/``keepdims=`` aliases, and
the ``(values, indices)`` result, shared by ``reduction`` and ``statistics``."""

from __future__ import annotations

import functools
from collections import namedtuple

import numpy as np

MaxMin = namedtuple("MaxMin", ["values", "indices"])


def normalize_dims(dim, ndim: int, fn: str) -> tuple[int, ...] | None:
    """Validate ``dim`` (int, tuple or None) against ``ndim``; return sorted non-negative axes."""
    if dim is None:
        return None
    dims = (dim,) if isinstance(dim, (int, np.integer)) else tuple(dim)
    out = []
    for d in dims:
        if not isinstance(d, (int, np.integer)):
            raise TypeError(f"{fn}: 'dim' must be an int or a tuple of ints, "
                            f"got {type(d).__name__}")
        lo, hi = (-ndim, ndim - 1) if ndim else (-1, 0)
        if not lo <= d <= hi:
            raise IndexError(f"{fn}: dimension out of range (expected to be in range of "
                             f"[{lo}, {hi}], but got {d})")
        out.append(int(d) % max(ndim, 1))
    return tuple(sorted(set(out)))


def numpy_aliases(fn):
    """Accept NumPy's ``axis=`` / ``keepdims=`` for ``dim=`` / ``keepdim=``, as torch does."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        if "axis" in kwargs:
            if "dim" in kwargs:
                raise TypeError(f"{fn.__name__}: got both 'dim' and its alias 'axis'")
            kwargs["dim"] = kwargs.pop("axis")
        if "keepdims" in kwargs:
            if "keepdim" in kwargs:
                raise TypeError(f"{fn.__name__}: got both 'keepdim' and its alias 'keepdims'")
            kwargs["keepdim"] = kwargs.pop("keepdims")
        return fn(*args, **kwargs)

    return wrapper
