"""Gradient mode: ``no_grad`` / ``enable_grad`` / ``set_grad_enabled`` (context managers and
decorators)."""

from __future__ import annotations

import functools
import threading


class _State(threading.local):
    enabled = True  # per thread; a thread that never set it records (the class default)


_state = _State()


def is_grad_enabled() -> bool:
    """Return True when operations currently record a graph for backward."""
    return _state.enabled


def _set(enabled: bool) -> None:
    _state.enabled = bool(enabled)


class _GradMode:
    """Base of the grad-mode context managers; usable as decorators too."""

    _target: bool = True

    def __enter__(self) -> None:
        self._prev = is_grad_enabled()
        _set(self._target)

    def __exit__(self, *exc) -> None:
        _set(self._prev)

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with self.__class__():
                return fn(*args, **kwargs)

        return wrapper


class no_grad(_GradMode):
    """Disable graph recording inside the block (or the decorated function), like
    ``torch.no_grad``."""

    _target = False


class inference_mode(_GradMode):
    """``torch.inference_mode``: in convnp the same as ``no_grad`` (``inference_mode(False)``
    leaves recording as it is)."""

    def __init__(self, mode: bool = True) -> None:
        self._mode = bool(mode)

    def __enter__(self) -> None:
        self._prev = is_grad_enabled()
        _set(False if self._mode else self._prev)

    def __call__(self, fn):
        mode = self._mode

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with inference_mode(mode):
                return fn(*args, **kwargs)

        return wrapper


class enable_grad(_GradMode):
    """Re-enable graph recording inside the block, like ``torch.enable_grad``."""

    _target = True


class set_grad_enabled(_GradMode):
    """Set graph recording on or off; works as a function call, context manager or decorator."""

    def __init__(self, mode: bool) -> None:
        self._target = bool(mode)
        self._prev = is_grad_enabled()
        _set(self._target)

    def __enter__(self) -> None:
        pass

    def __call__(self, fn):
        mode = self._target
        _set(self._prev)

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with set_grad_enabled(mode):
                return fn(*args, **kwargs)

        return wrapper
