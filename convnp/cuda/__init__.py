"""``convnp.cuda``: present so torch scripts that probe for a GPU run unchanged on the CPU.

The probing functions answer as torch does on a machine without CUDA (``is_available()`` False,
``device_count()`` 0); seeding, synchronising and cache functions are no-ops; anything that needs
a CUDA device (``current_device``, ``set_device``, ``get_device_name``...) raises
``NotImplementedError`` naming the call and saying to use the CPU.
"""

from __future__ import annotations

import importlib


def __getattr__(name: str):
    if name == "amp":  # torch.cuda.amp (deprecated names), loaded on first use
        return importlib.import_module("convnp.cuda.amp")
    raise AttributeError(f"module 'convnp.cuda' has no attribute {name!r}")


def _no_cuda(what: str):
    raise NotImplementedError(f"convnp.cuda.{what}: convnp has no CUDA device; it computes on the "
                              "CPU. Use device='cpu' (or guard the call with "
                              "convnp.cuda.is_available()).")


def is_available() -> bool:
    """Always False: convnp computes on the CPU."""
    return False


def is_initialized() -> bool:
    return False


def device_count() -> int:
    return 0


def manual_seed(seed: int) -> None:
    """No GPU generators to seed (kept for torch scripts)."""


def manual_seed_all(seed: int) -> None:
    """No GPU generators to seed (kept for torch scripts)."""


def seed() -> None:
    """No GPU generators to seed (kept for torch scripts)."""


def seed_all() -> None:
    """No GPU generators to seed (kept for torch scripts)."""


def synchronize(device=None) -> None:
    """Nothing runs asynchronously on the CPU."""


def empty_cache() -> None:
    """No GPU memory cache to empty."""


def memory_allocated(device=None) -> int:
    return 0


def max_memory_allocated(device=None) -> int:
    return 0


def memory_reserved(device=None) -> int:
    return 0


def max_memory_reserved(device=None) -> int:
    return 0


def reset_peak_memory_stats(device=None) -> None:
    """Nothing to reset."""


def is_bf16_supported(including_emulation: bool = True) -> bool:
    return False


def current_device() -> int:
    _no_cuda("current_device()")


def set_device(device) -> None:
    _no_cuda("set_device()")


def get_device_name(device=None) -> str:
    _no_cuda("get_device_name()")


def get_device_properties(device=None):
    _no_cuda("get_device_properties()")


def get_device_capability(device=None):
    _no_cuda("get_device_capability()")


class device:
    """``with convnp.cuda.device(i):`` needs a CUDA device: raises NotImplementedError."""

    def __init__(self, device) -> None:
        _no_cuda("device()")
