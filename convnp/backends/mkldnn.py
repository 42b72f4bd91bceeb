"""``convnp.backends.mkldnn``: oneDNN (MKL-DNN). convnp does not call oneDNN: ``is_available()``
is False; ``enabled`` and ``deterministic`` are settable attributes it does not read."""

from convnp.backends._flags import set_flags

enabled: bool = True
deterministic: bool = False
allow_tf32: bool = True


def is_available() -> bool:
    """False: convnp's kernels are NumPy/Numba, not oneDNN."""
    return False


def flags(enabled=False, deterministic=False):
    """Context manager setting ``enabled``/``deterministic`` for a block (torch's
    ``mkldnn.flags``)."""
    return set_flags(__name__, enabled=enabled, deterministic=deterministic)
