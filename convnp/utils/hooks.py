"""Hook plumbing shared by tensors and modules (PyTorch's ``torch.utils.hooks``).

``RemovableHandle`` is what every ``register_*hook`` returns. Module backward hooks, which need
autograd Functions, are in ``convnp/utils/backward_hook.py``.
"""

from __future__ import annotations

import itertools
from collections import OrderedDict
from typing import Callable


class RemovableHandle:
    """Handle of a registered hook: ``remove()`` (or leaving a ``with`` block) unregisters it."""

    _ids = itertools.count()

    def __init__(self, store: OrderedDict, hook: Callable) -> None:
        self.store = store
        self.id = next(RemovableHandle._ids)
        store[self.id] = hook

    def remove(self) -> None:
        self.store.pop(self.id, None)

    def __enter__(self) -> "RemovableHandle":
        return self

    def __exit__(self, *exc) -> None:
        self.remove()


def hook_name(hook: Callable) -> str:
    return getattr(hook, "__qualname__", None) or getattr(hook, "__name__", None) or repr(hook)
