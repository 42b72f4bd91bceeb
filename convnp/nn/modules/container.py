"""Containers: ``Sequential``, ``ModuleList``, ``ModuleDict``, ``ParameterList``, ``ParameterDict``.

Children are registered under PyTorch's names (``'0'``, ``'1'``, ... for the sequences, the keys
for the dicts), so state_dict keys read ``'0.weight'`` exactly as in torch.
"""

from __future__ import annotations

import operator
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import numpy as np

from convnp.autograd.grad_mode import is_grad_enabled
from convnp.nn import _fusion
from convnp.nn.modules.module import Module, Parameter
from convnp.tensor import Tensor

__all__ = ["Sequential", "ModuleList", "ModuleDict", "ParameterList", "ParameterDict"]


def _addindent(s: str, n: int) -> str:
    lines = s.split("\n")
    if len(lines) == 1:
        return s
    return lines[0] + "\n" + "\n".join(" " * n + line for line in lines[1:])


def _index(idx: Any, n: int, owner: str) -> int:
    """A Python-style (possibly negative) index into ``n`` items, checked."""
    try:
        i = operator.index(idx)
    except TypeError:
        raise TypeError(f"{owner} indices must be integers or slices, got "
                        f"{type(idx).__name__}") from None
    if not -n <= i < n:
        raise IndexError(f"index {i} is out of range for {owner} of length {n}")
    return i % n


class _ModuleSequence(Module):
    """What Sequential and ModuleList share: child modules in order, named ``'0'``, ``'1'``,
    ... (a Sequential built from an OrderedDict keeps its names) and indexed by position."""

    def _key(self, idx) -> str:
        return list(self._modules)[_index(idx, len(self), type(self).__name__)]

    def __setitem__(self, idx, module: Module) -> None:
        setattr(self, self._key(idx), module)

    def __delitem__(self, idx) -> None:
        keys = list(self._modules)[idx] if isinstance(idx, slice) else [self._key(idx)]
        for key in keys:
            delattr(self, key)
        # renumber so that the names stay '0', '1', ... like torch
        object.__setattr__(self, "_modules",
                           OrderedDict((str(i), m) for i, m in enumerate(self._modules.values())))

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def append(self, module: Module):
        """Append ``module`` at the end, named ``str(len(self))``."""
        self.add_module(str(len(self)), module)
        return self

    def pop(self, key: int | slice) -> Module:
        v = self[key]
        del self[key]
        return v


class Sequential(_ModuleSequence):
    r"""Run modules one after another, each on the previous one's output.

    Built from modules (named ``'0'``, ``'1'``, ...) or from an ``OrderedDict`` of named modules.
    Indexing with an int returns a module, with a slice a new ``Sequential``.

    Example::

        >>> model = nn.Sequential(nn.Flatten(), nn.Linear(784, 128), nn.ReLU(),
        ...                       nn.Linear(128, 10))
        >>> model(convnp.randn(2, 1, 28, 28)).shape
        (2, 10)
    """

    def __init__(self, *args: Module) -> None:
        super().__init__()
        if len(args) == 1 and isinstance(args[0], OrderedDict):
            for key, module in args[0].items():
                self.add_module(key, module)
        else:
            for idx, module in enumerate(args):
                self.add_module(str(idx), module)

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return self.__class__(OrderedDict(list(self._modules.items())[idx]))
        return self._modules[self._key(idx)]

    def __add__(self, other: "Sequential") -> "Sequential":
        if not isinstance(other, Sequential):
            raise TypeError(f"add operator supports only objects of Sequential class, but "
                            f"{type(other).__name__} is given")
        return Sequential(*self, *other)

    def __iadd__(self, other: "Sequential") -> "Sequential":
        return self.extend(other)

    def insert(self, index: int, module: Module) -> "Sequential":
        """Insert ``module`` before position ``index``; later modules are renumbered."""
        if not isinstance(module, Module):
            raise AssertionError(f"module should be of type: {Module}")
        n = len(self._modules)
        if not -n <= index <= n:
            raise IndexError(f"Index out of range: {index}")
        if index < 0:
            index += n
        mods = list(self._modules.values())
        mods.insert(index, module)
        object.__setattr__(self, "_modules",
                           OrderedDict((str(i), m) for i, m in enumerate(mods)))
        return self

    def extend(self, sequential: Iterable[Module]) -> "Sequential":
        for layer in sequential:
            self.append(layer)
        return self

    def forward(self, input):
        if not is_grad_enabled():  # inference: conv + batch norm [+ relu] folded (nn/_fusion.py)
            return _fusion.sequential_forward(self._modules.values(), input)
        for module in self:
            input = module(input)
        return input


class ModuleList(_ModuleSequence):
    r"""A list of modules, registered as children (``'0'``, ``'1'``, ...); it has no forward.

    Example::

        >>> layers = nn.ModuleList([nn.Linear(10, 10) for _ in range(3)])
        >>> len(list(layers.parameters()))
        6
    """

    def __init__(self, modules: Iterable[Module] | None = None) -> None:
        super().__init__()
        if modules is not None:
            self += modules

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return self.__class__(list(self._modules.values())[idx])
        return self._modules[self._key(idx)]

    def __iadd__(self, modules: Iterable[Module]) -> "ModuleList":
        return self.extend(modules)

    def __add__(self, other: Iterable[Module]) -> "ModuleList":
        return ModuleList(list(self) + list(other))

    def insert(self, index: int, module: Module) -> None:
        """Insert ``module`` before position ``index``."""
        for i in range(len(self._modules), index, -1):
            self._modules[str(i)] = self._modules[str(i - 1)]
        self._modules[str(index)] = module

    def extend(self, modules: Iterable[Module]) -> "ModuleList":
        if not isinstance(modules, Iterable):
            raise TypeError("ModuleList.extend should be called with an iterable, but got "
                            + type(modules).__name__)
        offset = len(self)
        for i, module in enumerate(modules):
            self.add_module(str(offset + i), module)
        return self

    def forward(self, *args, **kwargs):
        raise NotImplementedError("ModuleList has no forward(): iterate over it and call the "
                                  "modules, or use nn.Sequential")

    def __repr__(self) -> str:
        # torch compresses runs of identical children: "(0-2): 3 x Linear(...)"
        reprs = [repr(m) for m in self]
        if not reprs:
            return type(self).__name__ + "()"
        spans = [[0, 0]]
        blocks = [reprs[0]]
        for i, r in enumerate(reprs[1:], 1):
            if r == blocks[-1]:
                spans[-1][1] += 1
                continue
            spans.append([i, i])
            blocks.append(r)
        lines = []
        for (start, end), b in zip(spans, blocks):
            local = f"({start}): {b}" if start == end else \
                f"({start}-{end}): {end - start + 1} x {b}"
            lines.append(_addindent(local, 2))
        return type(self).__name__ + "(\n  " + "\n  ".join(lines) + "\n)"


class _KeyedContainer(Module):
    """What ModuleDict and ParameterDict share: the mapping protocol over an ordered key store
    (``_key_store()``), ``update`` from a mapping or ``(key, value)`` pairs, and no forward."""

    _item = "value"

    def _key_store(self):
        raise NotImplementedError

    def __len__(self) -> int:
        return len(self._key_store())

    def __iter__(self) -> Iterator[str]:
        return iter(self._key_store())

    def __contains__(self, key: str) -> bool:
        return key in self._key_store()

    def keys(self):
        return self._key_store().keys()

    def pop(self, key: str):
        v = self[key]
        del self[key]
        return v

    def clear(self) -> None:
        for key in list(self._key_store()):
            del self[key]

    def update(self, entries) -> None:
        """Add entries from a mapping or an iterable of ``(key, value)`` pairs."""
        items = entries.items() if isinstance(entries, Mapping) or hasattr(entries, "items") \
            else entries
        for j, kv in enumerate(items):
            if not isinstance(kv, (tuple, list)) or len(kv) != 2:
                raise ValueError(f"{type(self).__name__} update sequence element #{j} should "
                                 f"be a (key, {self._item}) pair, got {kv!r}")
            self[kv[0]] = kv[1]

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} has no forward(): index it by key")


class ModuleDict(_KeyedContainer):
    r"""An ordered dict of modules, registered as children under their keys; it has no forward.

    Example::

        >>> heads = nn.ModuleDict({'cls': nn.Linear(8, 3), 'box': nn.Linear(8, 4)})
        >>> heads['box'](convnp.randn(2, 8)).shape
        (2, 4)
    """

    _item = "module"

    def _key_store(self):
        return self._modules

    def __init__(self, modules: Mapping[str, Module] | None = None) -> None:
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __getitem__(self, key: str) -> Module:
        return self._modules[key]

    def __setitem__(self, key: str, module: Module) -> None:
        self.add_module(key, module)

    def __delitem__(self, key: str) -> None:
        del self._modules[key]

    def items(self):
        return self._modules.items()

    def values(self):
        return self._modules.values()


def _as_parameter(value: Any) -> Any:
    """Tensors become Parameters (like torch's ParameterList); other objects are kept."""
    if isinstance(value, Tensor) and not isinstance(value, Parameter):
        return Parameter(value)
    if isinstance(value, np.ndarray):
        return Parameter(value)
    return value


def _param_line(k, p) -> str:
    if isinstance(p, Tensor):
        size = "x".join(str(s) for s in p.shape)
        kind = "Parameter" if isinstance(p, Parameter) else "Tensor"
        return f"  ({k}): {kind} containing: [convnp.{p.dtype} of size {size}]"
    return f"  ({k}): Object of type: {type(p).__name__}"


class ParameterList(Module):
    r"""A list of Parameters registered under ``'0'``, ``'1'``, ... (tensors are wrapped).

    Example::

        >>> ps = nn.ParameterList([nn.Parameter(convnp.randn(10, 10)) for _ in range(3)])
        >>> [name for name, _ in ps.named_parameters()]
        ['0', '1', '2']
    """

    def __init__(self, values: Iterable[Any] | None = None) -> None:
        super().__init__()
        object.__setattr__(self, "_size", 0)
        if values is not None:
            self += values

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return self.__class__([self[i] for i in range(len(self))[idx]])
        return getattr(self, str(_index(idx, len(self), "ParameterList")))

    def __setitem__(self, idx: int, param: Any) -> None:
        idx = _index(idx, len(self), "ParameterList")
        param = _as_parameter(param)
        if isinstance(param, Parameter):
            self.register_parameter(str(idx), param)
        else:
            setattr(self, str(idx), param)

    def __len__(self) -> int:
        return self._size

    def __iter__(self) -> Iterator[Any]:
        return iter(self[i] for i in range(len(self)))

    def __iadd__(self, parameters: Iterable[Any]) -> "ParameterList":
        return self.extend(parameters)

    def append(self, value: Any) -> "ParameterList":
        new_idx = len(self)
        object.__setattr__(self, "_size", new_idx + 1)
        value = _as_parameter(value)
        if isinstance(value, Parameter):
            self.register_parameter(str(new_idx), value)
        else:
            object.__setattr__(self, str(new_idx), value)
        return self

    def extend(self, values: Iterable[Any]) -> "ParameterList":
        if not isinstance(values, Iterable) or isinstance(values, Tensor):
            raise TypeError("ParameterList.extend should be called with an iterable, but got "
                            + type(values).__name__)
        for value in values:
            self.append(value)
        return self

    def extra_repr(self) -> str:
        return "\n".join(_param_line(k, p) for k, p in enumerate(self))

    def forward(self, *args, **kwargs):
        raise NotImplementedError("ParameterList has no forward()")


class ParameterDict(_KeyedContainer):
    r"""An ordered dict of Parameters registered under their keys (tensors are wrapped).

    Example::

        >>> pd = nn.ParameterDict({'left': nn.Parameter(convnp.randn(5, 10))})
        >>> pd['left'].shape
        (5, 10)
    """

    _item = "parameter"

    def _key_store(self):
        return self._keys

    def __init__(self, parameters: Any = None) -> None:
        super().__init__()
        object.__setattr__(self, "_keys", {})
        if parameters is not None:
            self.update(parameters)

    def __getitem__(self, key: str) -> Any:
        return getattr(self, key)

    def __setitem__(self, key: str, value: Any) -> None:
        if not isinstance(key, str):
            raise TypeError(f"ParameterDict keys must be strings, got {type(key).__name__}")
        self._keys[key] = None
        value = _as_parameter(value)
        if isinstance(value, Parameter):
            self.register_parameter(key, value)
        else:
            setattr(self, key, value)

    def __delitem__(self, key: str) -> None:
        del self._keys[key]
        delattr(self, key)

    def items(self):
        return ((k, self[k]) for k in self._keys)

    def values(self):
        return (self[k] for k in self._keys)

    def get(self, key: str, default: Any = None) -> Any:
        return self[key] if key in self else default

    def extra_repr(self) -> str:
        return "\n".join(_param_line(k, p) for k, p in self.items())
