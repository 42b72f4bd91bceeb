"""``convnp.amp``: torch's automatic-mixed-precision API (``autocast``, ``GradScaler``,
``custom_fwd``/``custom_bwd``), with what it means on convnp's CPU/NumPy engine.

- :class:`autocast` on the CPU does what torch's does: matrix products, linear layers and
  convolutions run in bfloat16 (``convnp.bfloat16``, via ml_dtypes) or float16, losses in
  float32, everything else in its inputs' dtype (rules in ``convnp._autocast``).
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
