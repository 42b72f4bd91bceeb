"""``convnp.backends.opt_einsum``: whether the opt_einsum package is installed (torch uses it to
order einsum contractions); ``enabled`` and ``strategy`` are settable attributes."""

import importlib.util

enabled: bool = True
strategy: str = "auto"


def is_available() -> bool:
    return importlib.util.find_spec("opt_einsum") is not None


def get_opt_einsum():
    """The opt_einsum module when installed, else None."""
    if not is_available():
        return None
    import opt_einsum

    return opt_einsum
