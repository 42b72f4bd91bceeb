"""``convnp.cuda``: present so torch scripts that probe for a GPU run unchanged on the CPU."""


def is_available() -> bool:
    """Always False: convnp computes on the CPU."""
    return False


def device_count() -> int:
    return 0


def manual_seed(seed: int) -> None:
    """No GPU generators to seed (kept for torch scripts)."""


def manual_seed_all(seed: int) -> None:
    """No GPU generators to seed (kept for torch scripts)."""


def synchronize(device=None) -> None:
    """Nothing runs asynchronously on the CPU."""
