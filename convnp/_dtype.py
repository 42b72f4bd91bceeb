"""dtypes: convnp uses NumPy's, under PyTorch's names.

``convnp.float32`` is ``np.dtype('float32')``.
"""

from __future__ import annotations

import numpy as np

float16 = half = np.dtype(np.float16)
float32 = float = np.dtype(np.float32)
float64 = double = np.dtype(np.float64)
int8 = np.dtype(np.int8)
uint8 = np.dtype(np.uint8)
int16 = short = np.dtype(np.int16)
int32 = int = np.dtype(np.int32)
int64 = long = np.dtype(np.int64)
bool = np.dtype(np.bool_)

_default_dtype = float32

# bfloat16 comes from ml_dtypes (NumPy has none); importing it costs about a second, so
# ``convnp.bfloat16`` loads it on first use (module ``__getattr__``)
_BFLOAT16_NAMES = ("bfloat16",)


def __getattr__(name: str):
    if name in _BFLOAT16_NAMES:
        return _bfloat16()
    raise AttributeError(f"module 'convnp._dtype' has no attribute {name!r}")


def _bfloat16() -> np.dtype:
    import ml_dtypes

    return np.dtype(ml_dtypes.bfloat16)


def is_half(d) -> bool:
    """True for the 16-bit floats (float16, bfloat16), which convnp computes in float32 inside
    its kernels and rounds once at the end, as torch's CPU kernels do."""
    d = getattr(d, "dtype", d)
    kind = getattr(d, "kind", None)
    if kind == "f":  # the kind first: every op asks, and ``dtype.name`` is slow to build
        return d.itemsize == 2
    return kind == "V" and d.name == "bfloat16"


def any_half(arrays) -> bool:
    """Whether any of ``arrays`` (anything: what has no dtype counts as not half) is float16 or
    bfloat16; ``is_half`` on each, for the per-call checks of ops and kernels."""
    for a in arrays:
        d = getattr(a, "dtype", None)
        if d is not None:
            kind = getattr(d, "kind", None)
            if (kind == "f" and d.itemsize == 2) or (kind == "V" and d.name == "bfloat16"):
                return True
    return False


def is_floating(d) -> bool:
    """True for floating dtypes, bfloat16 included (ml_dtypes gives it NumPy kind 'V')."""
    d = getattr(d, "dtype", d)
    kind = getattr(d, "kind", None)
    return kind in ("f", "c") or (kind == "V" and d.name == "bfloat16")


def get_default_dtype() -> np.dtype:
    """The dtype of floating tensors made from Python numbers (float32 unless changed)."""
    return _default_dtype


def set_default_dtype(d) -> None:
    """Set the default floating dtype (float32 or float64), like ``torch.set_default_dtype``."""
    global _default_dtype
    d = resolve(d)
    if d not in (float32, float64):
        raise TypeError(f"set_default_dtype: only float32 and float64 are supported, got {d}")
    _default_dtype = d


def resolve(d) -> np.dtype | None:
    """Turn a dtype-like (np dtype, type, 'float32') into ``np.dtype``; None stays None."""
    if d is None:
        return None
    if isinstance(d, str) and d.removeprefix("convnp.") == "bfloat16":
        return _bfloat16()
    try:
        return np.dtype(d)
    except TypeError:
        raise TypeError(f"unsupported dtype {d!r}; use e.g. convnp.float32, convnp.float64, "
                        "convnp.int64 or a NumPy dtype") from None
