"""``Buffer`` (torch's ``nn.Buffer``) and the deprecated ``Container``."""

from __future__ import annotations

import warnings

from convnp.nn.modules.module import Module
from convnp.tensor import Tensor

__all__ = ["Buffer", "Container"]


class _BufferMeta(type):
    def __instancecheck__(cls, instance) -> bool:
        return isinstance(instance, Tensor) and getattr(instance, "_is_buffer", False)


class Buffer(metaclass=_BufferMeta):
    r"""Marks a tensor as a module buffer: assigning ``self.name = nn.Buffer(t)`` in a Module
    registers it as ``register_buffer(name, t, persistent)`` would (torch's ``nn.Buffer``).

    Args:
        data: the tensor (default: an empty one); the buffer shares its data, detached.
        persistent: whether it appears in ``state_dict()`` (default True).

    Example::

        >>> class M(nn.Module):
        ...     def __init__(self):
        ...         super().__init__()
        ...         self.mask = nn.Buffer(convnp.ones(3), persistent=False)
    """

    def __new__(cls, data: Tensor | None = None, *, persistent: bool = True) -> Tensor:
        import numpy as np

        if data is None:
            from convnp import _dtype

            data = Tensor._wrap(np.empty(0, _dtype.get_default_dtype()))
        t = data.detach()
        if data.requires_grad:
            t.requires_grad_(True)
        t.persistent = persistent
        t._is_buffer = True
        return t


class Container(Module):
    """Deprecated base class (torch's ``nn.Container``): a Module whose keyword arguments become
    child modules."""

    def __init__(self, **kwargs) -> None:
        super().__init__()
        warnings.warn("nn.Container is deprecated. All of it's functionality is now implemented "
                      "in nn.Module. Subclass that instead.", stacklevel=2)
        for key, value in kwargs.items():
            self.add_module(key, value)
