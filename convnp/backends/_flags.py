"""What the flag-holding backend modules share: torch's ``<backend>.flags(...)`` context manager,
which sets some of a module's settable flags for a block and restores them after."""

from __future__ import annotations

import contextlib
import sys


@contextlib.contextmanager
def set_flags(module: str, **new):
    """Set the attributes ``new`` of the module named ``module`` for the ``with`` block."""
    namespace = sys.modules[module]
    old = {name: getattr(namespace, name) for name in new}
    for name, value in new.items():
        setattr(namespace, name, value)
    try:
        yield
    finally:
        for name, value in old.items():
            setattr(namespace, name, value)
