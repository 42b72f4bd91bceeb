"""``autocast``: torch's mixed-precision region. On the CPU it does what torch's does: matrix
products, linear layers and convolutions run in bfloat16 (or float16), losses in float32
(the rules live in ``convnp._autocast``)."""

from __future__ import annotations

import functools
import warnings
from typing import Any, Callable

__all__ = ["autocast", "custom_bwd", "custom_fwd", "get_autocast_dtype", "is_autocast_available",
           "is_autocast_enabled"]

# torch's CPU autocast runs in bfloat16 by default; NumPy has no bfloat16, so convnp names it
_BF16 = "bfloat16"
from convnp._autocast import state as _state  # noqa: E402  (read by the ops' casting rules)

_KNOWN = ("cpu", "cuda", "xpu", "mps", "hpu", "xla", "mtia", "ipu", "maia")


def _dtype_name(dtype) -> str:
    if dtype is None:
        return _BF16
    if isinstance(dtype, str):
        return dtype
    import numpy as np

    name = getattr(dtype, "__name__", None)
    if name == "bfloat16":
        return _BF16
    try:
        return np.dtype(dtype).name
    except TypeError:
        return str(dtype)


def is_autocast_available(device_type: str) -> bool:
    """True for ``'cpu'`` (the API is accepted there); False for devices convnp lacks."""
    return device_type == "cpu"


def is_autocast_enabled(device_type: str = "cpu") -> bool:
    """Whether an enabled :class:`autocast` region for ``device_type`` is active."""
    return _state.get(device_type, {"enabled": False})["enabled"]


def get_autocast_dtype(device_type: str = "cpu"):
    """The dtype autocast would use for ``device_type`` (``'bfloat16'`` on the CPU by
    default: a name, since NumPy has no bfloat16 type)."""
    return _state.get(device_type, {"dtype": None})["dtype"]


class autocast:
    r"""Context manager / decorator for a mixed-precision region (torch's ``torch.autocast`` and
    ``torch.amp.autocast``).

    Args:
        device_type: ``'cpu'`` (``'cuda'`` and other devices are accepted and disabled with
            torch's warning, as on a machine without them).
        dtype: ``bfloat16`` (CPU default) or ``float16``; other dtypes disable the region with
            torch's warning.
        enabled: turn the region on (default True).
        cache_enabled: accepted (torch's weight-cast cache).

    What it does on the CPU, as torch's: inside an enabled region, ``conv{1,2,3}d``,
    ``conv_transpose{1,2,3}d``, ``linear``, ``matmul`` / ``mm`` / ``bmm`` / ``addmm`` and
    ``prelu`` cast their floating inputs (float64 excepted) to the region's dtype and return it;
    the losses (cross-entropy, NLL, MSE, L1, smooth L1, Huber, BCE, KL) cast 16-bit inputs to
    float32. Other ops run in their inputs' dtype. Gradients flow back through the casts, so
    float32 parameters get float32 gradients.

    Example::

        >>> with convnp.autocast("cpu"):
        ...     out = model(x)                  # bfloat16 after a conv or linear layer
        ...     loss = loss_fn(out, y)          # float32
    """

    def __init__(self, device_type: str = "cpu", dtype=None, enabled: bool = True,
                 cache_enabled: bool | None = None) -> None:
        if not isinstance(device_type, str):
            raise ValueError(f"Expected `device_type` of type `str`, got: `{type(device_type)}`")
        if device_type not in _KNOWN:
            raise RuntimeError(f"User specified an unsupported autocast device_type "
                               f"'{device_type}'")
        self.device = device_type
        self.fast_dtype = _dtype_name(dtype) if dtype is not None else (
            _BF16 if device_type == "cpu" else "float16")
        self._enabled = bool(enabled)
        self._cache_enabled = cache_enabled
        if self._enabled and device_type != "cpu":
            warnings.warn(f"User provided device_type of '{device_type}', but {device_type} is "
                          "not available (convnp computes on the CPU). Disabling",
                          UserWarning, stacklevel=2)
            self._enabled = False
        if self._enabled and device_type == "cpu" and self.fast_dtype not in (_BF16, "float16"):
            warnings.warn("In CPU autocast, but the target dtype is not supported. Disabling "
                          "autocast.\nCPU Autocast only supports dtype of torch.bfloat16, "
                          "torch.float16 currently.", UserWarning, stacklevel=2)
            self._enabled = False

    def __enter__(self):
        state = _state.setdefault(self.device, {"enabled": False, "dtype": self.fast_dtype})
        self._prev = dict(state)
        if self._enabled:
            state["enabled"] = True
            state["dtype"] = self.fast_dtype
        elif self.device == "cpu":
            state["enabled"] = False
        return self

    def __exit__(self, *exc) -> None:
        _state[self.device] = self._prev
        return None

    def __call__(self, func: Callable) -> Callable:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any):
            with autocast(self.device, self.fast_dtype, self._enabled, self._cache_enabled):
                return func(*args, **kwargs)
        return wrapper


def custom_fwd(fwd: Callable | None = None, *, device_type: str = "cpu", cast_inputs=None):
    """torch's decorator for a custom Function's forward under autocast; the forward runs as
    written (``cast_inputs`` is accepted)."""
    if fwd is None:
        return functools.partial(custom_fwd, device_type=device_type, cast_inputs=cast_inputs)
    return fwd


def custom_bwd(bwd: Callable | None = None, *, device_type: str = "cpu"):
    """torch's decorator for a custom Function's backward under autocast; runs as written."""
    if bwd is None:
        return functools.partial(custom_bwd, device_type=device_type)
    return bwd
