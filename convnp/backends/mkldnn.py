"""``convnp.backends.mkldnn``: oneDNN (MKL-DNN). convnp does not call oneDNN: ``is_available()``
is False; ``enabled`` and ``deterministic`` are settable attributes it does not read."""

enabled: bool = True
deterministic: bool = False
allow_tf32: bool = True


def is_available() -> bool:
    """False: convnp's kernels are NumPy/Numba, not oneDNN."""
    return False


class flags:
    """Context manager setting ``enabled``/``deterministic`` for a block (torch's
    ``mkldnn.flags``)."""

    def __init__(self, enabled=False, deterministic=False) -> None:
        self._new = dict(enabled=enabled, deterministic=deterministic)

    def __enter__(self):
        g = globals()
        self._old = {k: g[k] for k in self._new}
        g.update(self._new)
        return self

    def __exit__(self, *exc) -> None:
        globals().update(self._old)
