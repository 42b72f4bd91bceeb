"""The ``dim`` arguments of reductions: validation, NumPy's ``axis=``/``keepdims=`` aliases, and
the ``(values, indices)`` result, shared by ``reduction`` and ``statistics``."""

from __future__ import annotations

import functools
from collections import namedtuple

from convnp._layout import normalize_dims  # noqa: F401 (re-exported for the reductions)

MaxMin = namedtuple("MaxMin", ["values", "indices"])


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
