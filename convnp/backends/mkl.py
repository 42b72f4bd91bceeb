"""``convnp.backends.mkl``: convnp does not link Intel MKL itself (NumPy's BLAS does the matrix
products), so ``is_available()`` is False."""


def is_available() -> bool:
    return False


class verbose:
    """Context manager accepted for torch scripts (``mkl.verbose(level)``); prints nothing."""

    VERBOSE_OFF = 0
    VERBOSE_ON = 1

    def __init__(self, enable) -> None:
        self.enable = enable

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        return None
