"""``convnp.cuda.amp``: torch's deprecated ``torch.cuda.amp`` names. There is no CUDA device, so
``autocast()`` and ``GradScaler()`` disable themselves with torch's warnings (as torch does on a
machine without CUDA) and pass everything through."""

from __future__ import annotations

from convnp.amp import GradScaler as _GradScaler
from convnp.amp import autocast as _autocast
from convnp.amp import custom_bwd, custom_fwd  # noqa: F401

__all__ = ["GradScaler", "autocast", "custom_bwd", "custom_fwd"]


class autocast(_autocast):
    """``torch.cuda.amp.autocast``: ``autocast('cuda', ...)``, disabled (no CUDA device)."""

    def __init__(self, enabled: bool = True, dtype=None, cache_enabled: bool = True) -> None:
        super().__init__("cuda", dtype=dtype, enabled=enabled, cache_enabled=cache_enabled)


class GradScaler(_GradScaler):
    """``torch.cuda.amp.GradScaler``: ``GradScaler('cuda', ...)``, disabled (no CUDA device)."""

    def __init__(self, init_scale: float = 2.0 ** 16, growth_factor: float = 2.0,
                 backoff_factor: float = 0.5, growth_interval: int = 2000,
                 enabled: bool = True) -> None:
        super().__init__("cuda", init_scale, growth_factor, backoff_factor, growth_interval,
                         enabled)
