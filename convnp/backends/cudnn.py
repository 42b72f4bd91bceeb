"""``convnp.backends.cudnn``: torch's cuDNN switches. convnp does not use cuDNN (CPU/NumPy):
``is_available()`` is False and the flags below are settable attributes with torch's defaults
that convnp's computation does not read (its CPU results are deterministic whatever they say).
"""

from convnp.backends._flags import set_flags

enabled: bool = True
benchmark: bool = False
benchmark_limit: int = 10
deterministic: bool = False
allow_tf32: bool = True


def is_available() -> bool:
    """False: convnp computes on the CPU without cuDNN."""
    return False


def version() -> None:
    """None, as torch on a build without cuDNN."""
    return None


def is_acceptable(tensor) -> bool:
    return False


def flags(enabled=False, benchmark=False, benchmark_limit=10, deterministic=False,
          allow_tf32=True):
    """Context manager setting the flags for a block (torch's ``cudnn.flags``)."""
    return set_flags(__name__, enabled=enabled, benchmark=benchmark,
                     benchmark_limit=benchmark_limit, deterministic=deterministic,
                     allow_tf32=allow_tf32)
