"""The autocast region's state and the two casting rules ops apply under it (torch's CPU
autocast): matrix products, linear layers and convolutions run in the region's low-precision
dtype; losses run in float32. ``convnp.amp.autocast`` switches the state; the ops in
``convnp.ops`` wrap their public functions with :func:`lower` or :func:`fp32`."""

from __future__ import annotations

import functools

# per device: is a region active, and its dtype name ('bfloat16' on the CPU by default)
state = {"cpu": {"enabled": False, "dtype": "bfloat16"},
         "cuda": {"enabled": False, "dtype": "float16"}}


def _cast_args(args, kwargs, want, eligible):
    from convnp import _dtype
    from convnp.tensor import Tensor

    dt = _dtype.resolve(want)

    def cast(a):
        if isinstance(a, Tensor) and eligible(a.dtype) and a.dtype != dt:
            return a.to(dt)
        return a

    return [cast(a) for a in args], {k: cast(v) for k, v in kwargs.items()}


def lower(fn):
    """Under an active CPU region, floating inputs (not float64, as torch) are cast to the
    region's dtype before ``fn`` runs; its result is then in that dtype."""
    from convnp import _dtype

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        st = state["cpu"]
        if st["enabled"]:
            args, kwargs = _cast_args(args, kwargs, st["dtype"],
                                      lambda d: _dtype.is_floating(d) and d != "float64")
        return fn(*args, **kwargs)

    return wrapper


def fp32(fn):
    """Under an active CPU region, 16-bit floating inputs are cast to float32 before ``fn``."""
    from convnp import _dtype

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        if state["cpu"]["enabled"]:
            args, kwargs = _cast_args(args, kwargs, "float32", _dtype.is_half)
        return fn(*args, **kwargs)

    return wrapper
