"""``convnp.accelerator``: torch's device-agnostic accelerator API, answering as torch does on a
machine without a GPU (convnp computes on the CPU).

Example::

    >>> import convnp
    >>> device = convnp.accelerator.current_accelerator() if convnp.accelerator.is_available() \\
    ...     else "cpu"
    >>> device
    'cpu'
"""

from __future__ import annotations

# the no-ops are convnp.cuda's: no device memory, nothing asynchronous
from convnp.cuda import (
    empty_cache,
    max_memory_allocated,
    memory_allocated,
    reset_peak_memory_stats,
    synchronize,
)

__all__ = ["current_accelerator", "current_device_index", "current_device_idx", "device_count",
           "device_index", "empty_cache", "is_available", "max_memory_allocated",
           "memory_allocated", "reset_peak_memory_stats", "set_device_index", "set_device_idx",
           "synchronize"]

_NONE = ("Cannot access accelerator device when none is available (convnp computes on the CPU; "
         "use device='cpu').")


def is_available() -> bool:
    """False: convnp has no accelerator."""
    return False


def current_accelerator(check_available: bool = False):
    """None: there is no accelerator (torch's answer on a CPU-only machine)."""
    return None


def device_count() -> int:
    """0 accelerator devices."""
    return 0


def current_device_index() -> int:
    """Raises ``RuntimeError`` as torch does without an accelerator."""
    raise RuntimeError(_NONE)


current_device_idx = current_device_index


def set_device_index(device) -> None:
    """Raises ``RuntimeError`` as torch does without an accelerator."""
    raise RuntimeError(_NONE)


set_device_idx = set_device_index


class device_index:
    """Context manager that selects an accelerator index; only ``None`` (a no-op) is accepted
    without an accelerator, as in torch."""

    def __init__(self, device) -> None:
        if device is not None:
            raise RuntimeError(_NONE)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        return None

