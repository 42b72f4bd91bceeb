"""Where the benchmarks read MNIST when no ``--data-dir`` is given.

A development checkout may keep an offline copy of the datasets in a ``shared/data`` folder next
to the repository (the test suite finds it there too); otherwise the benchmarks use convnp's
cache (``$CONVNP_DATA`` or ``~/.cache/convnp``), which ``--download`` fills.
"""

from __future__ import annotations

from pathlib import Path

_OFFLINE = Path(__file__).resolve().parents[2] / "shared" / "data"


def default_data_dir(name: str = "mnist") -> str | None:
    """The offline copy of dataset ``name`` when it exists, else None (convnp's cache)."""
    folder = _OFFLINE / name
    return str(folder) if folder.is_dir() else None
