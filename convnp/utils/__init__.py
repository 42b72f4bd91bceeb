"""``convnp.utils``: the layout of ``torch.utils`` (``convnp.utils.data``, ``.hooks``,
``.checkpoint``).

Submodules load on first use, so that ``convnp.nn`` (which needs ``hooks``) does not pull in the
data pipeline.
"""

import importlib

__all__ = ["checkpoint", "data", "hooks"]


def __getattr__(name: str):
    if name in __all__:
        return importlib.import_module(f"convnp.utils.{name}")
    raise AttributeError(f"module 'convnp.utils' has no attribute {name!r}")
