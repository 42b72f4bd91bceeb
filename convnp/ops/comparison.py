"""Comparison ops: eq / ne / lt / le / gt / ge and torch's long names for them, isclose, isin,
isreal, msort. Results are bool tensors without gradient (``sort`` / ``topk`` / ``kthvalue``,
which carry gradients, live with the tensor methods and reductions)."""

from __future__ import annotations

import numpy as np

__all__ = ["eq", "ne", "lt", "le", "gt", "ge", "greater", "greater_equal", "less", "less_equal",
           "not_equal", "isclose", "isin", "isreal", "msort"]


def _arr(x):
    from convnp.tensor import Tensor

    return x.array if isinstance(x, Tensor) else np.asarray(x)


def _compare(np_fn, name):
    def fn(input, other):
        from convnp.tensor import Tensor

        try:
            return Tensor._wrap(np.asarray(np_fn(_arr(input), _arr(other))))
        except ValueError:
            raise RuntimeError(f"{name}: shapes {tuple(np.shape(_arr(input)))} and "
                               f"{tuple(np.shape(_arr(other)))} cannot be broadcast together"
                               ) from None

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"Elementwise ``{name}`` with broadcasting: a bool tensor, no gradient."
    return fn


eq = _compare(np.equal, "eq")
ne = not_equal = _compare(np.not_equal, "ne")
lt = less = _compare(np.less, "lt")
le = less_equal = _compare(np.less_equal, "le")
gt = greater = _compare(np.greater, "gt")
ge = greater_equal = _compare(np.greater_equal, "ge")


def isclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    """``|input - other| <= atol + rtol * |other|`` elementwise."""
    from convnp.tensor import Tensor

    return Tensor._wrap(np.asarray(np.isclose(_arr(input), _arr(other), rtol, atol, equal_nan)))


def isin(elements, test_elements, *, assume_unique=False, invert=False):
    """True where an element of ``elements`` occurs in ``test_elements``."""
    from convnp.tensor import Tensor

    return Tensor._wrap(np.asarray(np.isin(_arr(elements), _arr(test_elements),
                                           assume_unique=assume_unique, invert=invert)))


def isreal(input):
    """True everywhere: convnp's tensors are real."""
    from convnp.tensor import Tensor

    return Tensor._wrap(np.ones(input.shape, bool))


def msort(input):
    """``sort(input, dim=0)`` values."""
    return input.sort(0).values
