"""``convnp.backends.mps``: Apple's Metal backend. convnp computes on the CPU, so it is
neither built nor available."""


def is_available() -> bool:
    """False: convnp has no Metal (MPS) backend; it computes on the CPU."""
    return False


def is_built() -> bool:
    return False


def is_macos13_or_newer(minor: int = 0) -> bool:
    return False


def is_macos_or_newer(major: int, minor: int) -> bool:
    return False
