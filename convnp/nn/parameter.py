"""``convnp.nn.parameter``: torch's module path for ``Parameter``, ``UninitializedParameter``,
``UninitializedBuffer`` and ``Buffer``."""

from convnp.nn.modules.buffer import Buffer  # noqa: F401
from convnp.nn.modules.lazy import UninitializedBuffer, UninitializedParameter  # noqa: F401
from convnp.nn.modules.module import Parameter  # noqa: F401

__all__ = ["Buffer", "Parameter", "UninitializedBuffer", "UninitializedParameter"]
