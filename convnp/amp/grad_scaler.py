"""``GradScaler``: dynamic loss scaling with torch's rules and numbers."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from convnp._dtype import is_floating

__all__ = ["GradScaler"]

_READY, _UNSCALED, _STEPPED = 0, 1, 2


def _accessors(attribute: str):
    """torch's ``get_x()`` / ``set_x(value)`` pair for the hyperparameter ``attribute``."""

    def get(self):
        return getattr(self, attribute)

    def set(self, value) -> None:
        setattr(self, attribute, value)

    return get, set


class GradScaler:
    r"""Loss scaling for mixed-precision training (torch's ``torch.amp.GradScaler``).

    Multiply the loss by a scale before ``backward()`` (:meth:`scale`), so small float16
    gradients do not flush to zero; :meth:`step` divides the gradients by the scale and skips
    the optimizer step when one is inf/NaN; :meth:`update` halves the scale after a skipped step
    (``backoff_factor``) and doubles it after ``growth_interval`` clean steps
    (``growth_factor``).

    Args:
        device: ``'cpu'`` for a working scaler on convnp's device; the default ``'cuda'`` (as
            torch) has no device here, so the scaler disables itself with torch's warning and
            every method passes through (``scale(loss)`` is ``loss``).
        init_scale: initial scale (default 2**16).
        growth_factor: multiplies the scale after ``growth_interval`` clean steps (2.0).
        backoff_factor: multiplies the scale after a step with inf/NaN gradients (0.5).
        growth_interval: clean steps between growths (2000).
        enabled: False makes every method a pass-through.

    Example::

        >>> scaler = convnp.amp.GradScaler("cpu")
        >>> scaler.scale(loss).backward()
        >>> scaler.step(optimizer)      # skipped if a gradient is inf/NaN
        >>> scaler.update()
    """

    def __init__(self, device: str = "cuda", init_scale: float = 2.0 ** 16,
                 growth_factor: float = 2.0, backoff_factor: float = 0.5,
                 growth_interval: int = 2000, enabled: bool = True) -> None:
        self._device = device
        self._enabled = bool(enabled)
        if self._enabled and device != "cpu":
            warnings.warn(f"torch.amp.GradScaler is enabled, but {device} is not available "
                          "(convnp computes on the CPU).  Disabling.", UserWarning, stacklevel=2)
            self._enabled = False
        if self._enabled:
            if growth_factor <= 1.0:
                raise ValueError("The growth factor must be > 1.0.")
            if backoff_factor >= 1.0:
                raise ValueError("The backoff factor must be < 1.0.")
        self._init_scale = init_scale
        self._scale: np.ndarray | None = None  # float32 0-d, as torch's scale tensor
        self._growth_factor = growth_factor
        self._backoff_factor = backoff_factor
        self._growth_interval = growth_interval
        self._init_growth_tracker = 0
        self._growth_tracker = None
        self._per_optimizer_states: dict[int, dict] = {}

    # ------------------------------------------------------------------ helpers
    def _lazy_init(self) -> None:
        if self._scale is None:
            self._scale = np.array(self._init_scale, np.float32)
            self._growth_tracker = self._init_growth_tracker

    def _check_scale(self, method: str) -> None:
        if self._scale is None:
            raise RuntimeError(f"Attempted {method} but _scale is None.  This may indicate your "
                               "script did not use scaler.scale(loss or outputs) earlier in the "
                               "iteration.")

    def _opt_state(self, optimizer) -> dict:
        return self._per_optimizer_states.setdefault(id(optimizer),
                                                     {"stage": _READY, "found_inf": None})

    # ------------------------------------------------------------------ API
    def scale(self, outputs):
        """``outputs`` (a Tensor, or an iterable of them) multiplied by the scale."""
        from convnp.tensor import Tensor

        if not self._enabled:
            return outputs
        self._lazy_init()
        if isinstance(outputs, Tensor):
            return outputs * Tensor._wrap(self._scale.copy())
        if isinstance(outputs, (list, tuple)):
            return type(outputs)(self.scale(o) for o in outputs)
        if isinstance(outputs, dict):
            return {k: self.scale(v) for k, v in outputs.items()}
        raise ValueError("outputs must be a Tensor or an iterable of Tensors")

    def unscale_(self, optimizer) -> None:
        """Divide ``optimizer``'s gradients by the scale, in place, and note whether one is
        inf/NaN (for :meth:`step`). Call it before clipping gradients."""
        if not self._enabled:
            return
        self._check_scale("unscale_")
        state = self._opt_state(optimizer)
        if state["stage"] is _UNSCALED:
            raise RuntimeError("unscale_() has already been called on this optimizer since the "
                               "last update().")
        if state["stage"] is _STEPPED:
            raise RuntimeError("unscale_() is being called after step().")
        # torch: the reciprocal in float64, rounded to float32
        inv = np.float32(1.0 / np.float64(self._scale))
        found = False
        for group in optimizer.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad.array
                if not np.isfinite(g).all():
                    found = True
                g *= inv.astype(g.dtype) if is_floating(g.dtype) else inv
        state["found_inf"] = found
        state["stage"] = _UNSCALED

    def step(self, optimizer, *args: Any, **kwargs: Any):
        """Unscale (if not done) and call ``optimizer.step()`` unless a gradient is inf/NaN;
        returns what ``step`` returned (None when skipped)."""
        if not self._enabled:
            return optimizer.step(*args, **kwargs)
        if "closure" in kwargs:
            raise RuntimeError("Closure use is not currently supported if GradScaler is "
                               "enabled.")
        self._check_scale("step")
        state = self._opt_state(optimizer)
        if state["stage"] is _STEPPED:
            raise RuntimeError("step() has already been called since the last update().")
        if state["stage"] is _READY:
            self.unscale_(optimizer)
        result = None
        if not state["found_inf"]:
            result = optimizer.step(*args, **kwargs)
        state["stage"] = _STEPPED
        return result

    def update(self, new_scale=None) -> None:
        """Adapt the scale from this iteration's inf/NaN checks (or set ``new_scale``)."""
        if not self._enabled:
            return
        self._check_scale("update")
        if new_scale is not None:
            value = getattr(new_scale, "array", new_scale)
            if np.size(value) != 1 or getattr(new_scale, "requires_grad", False):
                raise AssertionError("new_scale should be a float or a 1-element tensor with "
                                     "requires_grad=False.")
            self._scale = np.array(np.asarray(value).reshape(()), np.float32)
        else:
            checks = [s["found_inf"] for s in self._per_optimizer_states.values()
                      if s["found_inf"] is not None]
            if not checks:
                raise AssertionError("No inf checks were recorded prior to update.")
            if any(checks):
                self._scale = np.array(self._scale * np.float32(self._backoff_factor),
                                       np.float32)
                self._growth_tracker = 0
            else:
                tracker = self._growth_tracker + 1
                if tracker == self._growth_interval:
                    grown = np.float32(self._scale * np.float32(self._growth_factor))
                    if np.isfinite(grown):
                        self._scale = np.array(grown, np.float32)
                    tracker = 0
                self._growth_tracker = tracker
        self._per_optimizer_states = {}

    # ------------------------------------------------------------------ accessors
    def get_scale(self) -> float:
        """The current scale (1.0 when disabled; the initial scale before the first use)."""
        if not self._enabled:
            return 1.0
        return self._init_scale if self._scale is None else float(self._scale)

    get_growth_factor, set_growth_factor = _accessors("_growth_factor")
    get_backoff_factor, set_backoff_factor = _accessors("_backoff_factor")
    get_growth_interval, set_growth_interval = _accessors("_growth_interval")

    def is_enabled(self) -> bool:
        return self._enabled

    def state_dict(self) -> dict:
        """torch's layout: ``scale``, ``growth_factor``, ``backoff_factor``, ``growth_interval``,
        ``_growth_tracker`` (empty when disabled)."""
        if not self._enabled:
            return {}
        return {"scale": self.get_scale(), "growth_factor": self._growth_factor,
                "backoff_factor": self._backoff_factor,
                "growth_interval": self._growth_interval,
                "_growth_tracker": self._growth_tracker if self._growth_tracker is not None
                else self._init_growth_tracker}

    def load_state_dict(self, state_dict: dict) -> None:
        if not self._enabled:
            return
        if len(state_dict) == 0:
            raise RuntimeError("The source state dict is empty, possibly because it was saved "
                               "from a disabled instance of GradScaler.")
        self._init_scale = float(state_dict["scale"])
        if self._scale is not None:
            self._scale = np.array(self._init_scale, np.float32)
        self._growth_factor = float(state_dict["growth_factor"])
        self._backoff_factor = float(state_dict["backoff_factor"])
        self._growth_interval = int(state_dict["growth_interval"])
        self._init_growth_tracker = int(state_dict["_growth_tracker"])
        if self._growth_tracker is not None:
            self._growth_tracker = self._init_growth_tracker
