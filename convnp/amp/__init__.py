"""``convnp.amp``: torch's automatic-mixed-precision API (``autocast``, ``GradScaler``,
``custom_fwd``/``custom_bwd``), with what it means on convnp's CPU/NumPy engine.

- :class:`autocast` is accepted and tracked (``convnp.is_autocast_enabled()``), but convnp does
  not lower precision: NumPy has no bfloat16 (torch's CPU autocast type), so operations inside
  the region compute in their inputs' dtype (float32) and return it. The numbers equal torch's
  with autocast disabled; torch's CPU autocast would round matmul/conv results to bfloat16.
- :class:`GradScaler` is torch's loss scaler: with ``device='cpu'`` it scales, unscales, skips
  steps with inf/nan gradients and adapts the scale exactly as torch's; with the default
  ``device='cuda'`` it disables itself with torch's warning (no CUDA), so ``scale(loss)`` returns
  the loss and ``step(opt)`` just calls ``opt.step()``.
"""

from convnp.amp.autocast_mode import (  # noqa: F401
    autocast,
    custom_bwd,
    custom_fwd,
    get_autocast_dtype,
    is_autocast_available,
    is_autocast_enabled,
)
from convnp.amp.grad_scaler import GradScaler  # noqa: F401

__all__ = ["GradScaler", "autocast", "custom_bwd", "custom_fwd", "get_autocast_dtype",
           "is_autocast_available", "is_autocast_enabled"]
