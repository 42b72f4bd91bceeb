"""``convnp.device``: torch's device object. convnp computes on the CPU; other device types can be
named (so ``torch.device("cuda" if torch.cuda.is_available() else "cpu")`` runs unchanged) but
moving a tensor or module to them raises a clear error."""

from __future__ import annotations

_TYPES = ("cpu", "cuda", "mps", "xpu", "meta")


class device:
    """``device("cpu")``, ``device("cuda:1")``, ``device("cuda", 0)``; compares equal to its
    string form too."""

    __slots__ = ("type", "index")

    def __init__(self, type, index: int | None = None) -> None:  # noqa: A002 (torch's name)
        if isinstance(type, device):
            type, index = type.type, type.index if index is None else index
        if not isinstance(type, str):
            raise TypeError(f"device: expected a string such as 'cpu' or 'cuda:0', got "
                            f"{type.__class__.__name__}")
        kind, _, idx = type.partition(":")
        if kind not in _TYPES:
            raise ValueError(f"device: unknown device type {kind!r}; expected one of "
                             f"{', '.join(_TYPES)}")
        if idx:
            if index is not None:
                raise ValueError(f"device: {type!r} already holds an index; got index={index}")
            if not idx.isdigit():
                raise ValueError(f"device: the index in {type!r} must be a non-negative integer")
            index = int(idx)
        if index is not None and (not isinstance(index, int) or index < 0):
            raise ValueError(f"device: index must be a non-negative integer, got {index!r}")
        self.type, self.index = kind, index

    def __repr__(self) -> str:
        return (f"device(type='{self.type}')" if self.index is None else
                f"device(type='{self.type}', index={self.index})")

    def __str__(self) -> str:
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __eq__(self, other) -> bool:
        if isinstance(other, str):
            try:
                other = device(other)
            except ValueError:
                return False
        return isinstance(other, device) and (self.type, self.index) == (other.type, other.index)

    def __hash__(self) -> int:
        return hash((self.type, self.index))


CPU = device("cpu")


def require_cpu(dev, where: str) -> None:
    """``dev`` (a str or device) must name the CPU: a clear error naming ``where`` otherwise."""
    try:
        d = device(dev)
    except (TypeError, ValueError) as e:
        raise type(e)(f"{where}: {e}") from None
    if d.type != "cpu":
        raise RuntimeError(f"{where}: convnp computes on the CPU only; got device "
                           f"'{d}' (convnp.cuda.is_available() is False)")


def check_cpu(dev, where: str) -> bool:
    """For ``.to(*args)``: True when ``dev`` names a device (the CPU; any other raises), False
    when it is something else (a dtype)."""
    if isinstance(dev, device) or (isinstance(dev, str) and dev.partition(":")[0] in _TYPES):
        require_cpu(dev, where)
        return True
    return False
