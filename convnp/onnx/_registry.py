"""The one decorator factory behind both operator tables (export converters, import ops)."""

from __future__ import annotations

from typing import Callable


def registrar(table: dict[str, Callable]) -> Callable:
    """A decorator ``register(*names)`` that files the decorated function in ``table`` under
    every name given and returns it unchanged."""

    def register(*names: str) -> Callable:
        def deco(f: Callable) -> Callable:
            for n in names:
                table[n] = f
            return f
        return deco

    return register
