"""``Module`` and ``Parameter``: PyTorch's layer contract on convnp tensors."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from convnp import _dtype
from convnp._dtype import is_floating
from convnp.tensor import Tensor
from convnp.utils.backward_hook import BackwardHook
from convnp.utils.hooks import RemovableHandle


class Parameter(Tensor):
    """A Tensor that a Module registers as a learnable parameter (``requires_grad=True``)."""

    def __init__(self, data: Any = None, requires_grad: bool = True) -> None:
        source = data if isinstance(data, Tensor) else None
        if source is not None:
            data = data.array
        super().__init__(data if data is not None else np.zeros((0,), np.float32))
        if source is not None and self.array is source.array:
            # the same storage, so the same version counter (as torch's Parameter(t))
            from convnp.autograd.function import _counter

            self._vc = _counter(source)
        if requires_grad:
            self.requires_grad_(True)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()


def _as_array(value: Any, where: str) -> np.ndarray:
    if isinstance(value, Tensor):
        return value.array
    if isinstance(value, np.ndarray):
        return value
    # a torch tensor, recognised without importing torch
    if hasattr(value, "detach") and hasattr(value, "numpy"):
        return value.detach().cpu().numpy()
    raise TypeError(f"{where}: expected a convnp Tensor, a NumPy array or a torch tensor, got "
                    f"{type(value).__name__}")


class _IncompatibleKeys(tuple):
    """``(missing_keys, unexpected_keys)`` as returned by ``load_state_dict``."""

    def __new__(cls, missing, unexpected):
        obj = super().__new__(cls, (missing, unexpected))
        obj.missing_keys, obj.unexpected_keys = missing, unexpected
        return obj

    def __repr__(self) -> str:
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return (f"_IncompatibleKeys(missing_keys={self.missing_keys}, "
                f"unexpected_keys={self.unexpected_keys})")


class Module:
    """Base class of every layer: holds parameters, buffers and child modules under PyTorch's names.

    Subclasses set attributes in ``__init__`` (Parameters, Modules, or buffers via
    ``register_buffer``) and implement ``forward``; call the module to run it.
    """

    training: bool

    def __init__(self, *args, **kwargs) -> None:
        if args or kwargs:
            raise TypeError(f"{type(self).__name__}.__init__() got unexpected arguments")
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_non_persistent", set())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "_forward_hooks", OrderedDict())
        object.__setattr__(self, "_forward_pre_hooks", OrderedDict())
        object.__setattr__(self, "_backward_hooks", OrderedDict())
        object.__setattr__(self, "_backward_pre_hooks", OrderedDict())

    # ------------------------------------------------------------------ attribute plumbing
    def __setattr__(self, name: str, value: Any) -> None:
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"cannot assign {name!r} before Module.__init__() is called "
                                 f"(call super().__init__() first in {type(self).__name__})")
        # torch's rules: a Parameter/Module moves the name into its store; assigning anything
        # else to a registered parameter (child module) name is an error unless it is None
        if getattr(value, "_is_buffer", False):  # nn.Buffer(t, persistent=...)
            for d in (self.__dict__, self._parameters, self._modules):
                d.pop(name, None)
            self.register_buffer(name, value, getattr(value, "persistent", True))
        elif isinstance(value, Parameter):
            self._register_entry(self._parameters, name, value)
        elif name in self._parameters:
            self._store_none(self._parameters, name, value, "parameter", "convnp.nn.Parameter")
        elif isinstance(value, Module):
            self._register_entry(self._modules, name, value)
        elif name in self._modules:
            self._store_none(self._modules, name, value, "child module", "convnp.nn.Module")
        elif name in self._buffers:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"cannot assign {type(value).__name__} as buffer {name!r} "
                                "(Tensor or None expected)")
            self._buffers[name] = value
        else:
            object.__setattr__(self, name, value)

    def _register_entry(self, store: dict, name: str, value: Any) -> None:
        """Move ``name`` into ``store`` (parameters or modules), out of every other place."""
        for d in (self.__dict__, self._parameters, self._buffers, self._modules):
            if d is not store:
                d.pop(name, None)
        self._non_persistent.discard(name)
        store[name] = value

    @staticmethod
    def _store_none(store: dict, name: str, value: Any, what: str, expected: str) -> None:
        """Assigning to a registered parameter / child module name: only None clears it."""
        if value is not None:
            raise TypeError(f"cannot assign {type(value).__name__} as {what} {name!r} "
                            f"({expected} or None expected)")
        store[name] = None

    def __getattr__(self, name: str) -> Any:
        # every parameter, buffer and child access lands here: the three stores read inline
        d = self.__dict__
        try:
            store = d["_parameters"]
            if name in store:
                return store[name]
            store = d["_buffers"]
            if name in store:
                return store[name]
            store = d["_modules"]
            if name in store:
                return store[name]
        except KeyError:  # before Module.__init__ made the stores
            pass
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name: str) -> None:
        for store in (self._parameters, self._buffers, self._modules):
            if name in store:
                del store[name]
                return
        object.__delattr__(self, name)

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"register_parameter: {name!r} must be a Parameter or None, got "
                            f"{type(param).__name__}")
        self._parameters[name] = param

    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"register_buffer: {name!r} must be a Tensor or None, got "
                            f"{type(tensor).__name__}")
        self.__dict__.pop(name, None)
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent.discard(name)
        else:
            self._non_persistent.add(name)

    def add_module(self, name: str, module: "Module | None") -> None:
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"add_module: {name!r} must be a Module, got {type(module).__name__}")
        self._modules[name] = module

    register_module = add_module

    def get_submodule(self, target: str) -> "Module":
        mod = self
        for part in target.split(".") if target else []:
            if part not in mod._modules:
                raise AttributeError(f"{type(mod).__name__} has no submodule {part!r}")
            mod = mod._modules[part]
        return mod

    # ------------------------------------------------------------------ running
    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} must implement forward()")

    def __call__(self, *args, **kwargs):
        if not (self._forward_pre_hooks or self._forward_hooks or self._backward_hooks
                or self._backward_pre_hooks):
            return self.forward(*args, **kwargs)  # no hooks: nothing else to do
        return self._call_with_hooks(args, kwargs)

    def _call_with_hooks(self, args: tuple, kwargs: dict):
        with_kw = self.__dict__.get("_hooks_with_kwargs", ())
        for hid, hook in list(self._forward_pre_hooks.items()):
            if hid in with_kw:
                res = hook(self, args, kwargs)
                if res is not None:
                    if not (isinstance(res, tuple) and len(res) == 2):
                        raise RuntimeError("forward pre-hook registered with_kwargs=True must "
                                           "return None or a tuple (new_args, new_kwargs), got "
                                           f"{type(res).__name__}")
                    args, kwargs = res
            else:
                res = hook(self, args)
                if res is not None:
                    args = res if isinstance(res, tuple) else (res,)
        bw = None
        if self._backward_hooks or self._backward_pre_hooks:
            bw = BackwardHook(self, list(self._backward_hooks.values()),
                              list(self._backward_pre_hooks.values()))
            args = bw.setup_input_hook(args)
        out = self.forward(*args, **kwargs)
        for hid, hook in list(self._forward_hooks.items()):
            res = hook(self, args, kwargs, out) if hid in with_kw else hook(self, args, out)
            if res is not None:
                out = res
        if bw is not None:
            out = bw.setup_output_hook(out)
        return out

    def _add_hook(self, store: OrderedDict, hook: Callable, prepend: bool,
                  with_kwargs: bool) -> RemovableHandle:
        handle = RemovableHandle(store, hook)
        if prepend:
            store.move_to_end(handle.id, last=False)
        if with_kwargs:
            if "_hooks_with_kwargs" not in self.__dict__:
                object.__setattr__(self, "_hooks_with_kwargs", set())
            self._hooks_with_kwargs.add(handle.id)
        return handle

    def register_forward_hook(self, hook: Callable, *, prepend: bool = False,
                              with_kwargs: bool = False,
                              always_call: bool = False) -> RemovableHandle:
        """Call ``hook(module, args, output)`` (``hook(module, args, kwargs, output)`` with
        ``with_kwargs``) after every forward; a non-None result replaces the output."""
        return self._add_hook(self._forward_hooks, hook, prepend, with_kwargs)

    def register_forward_pre_hook(self, hook: Callable, *, prepend: bool = False,
                                  with_kwargs: bool = False) -> RemovableHandle:
        """Call ``hook(module, args)`` (``hook(module, args, kwargs)`` with ``with_kwargs``)
        before every forward; a non-None result replaces the inputs."""
        return self._add_hook(self._forward_pre_hooks, hook, prepend, with_kwargs)

    def register_full_backward_hook(self, hook: Callable, prepend: bool = False
                                    ) -> RemovableHandle:
        """Call ``hook(module, grad_input, grad_output)`` when the gradients with respect to
        the module's inputs are computed; a non-None result (a tuple, one entry per positional
        input) replaces ``grad_input``. As in torch, ``grad_input`` holds None for arguments that
        are not tensors requiring grad, and the hook fires with all-None ``grad_input`` as soon as
        ``grad_output`` is known when no input requires grad."""
        return self._add_hook(self._backward_hooks, hook, prepend, False)

    def register_full_backward_pre_hook(self, hook: Callable, prepend: bool = False
                                        ) -> RemovableHandle:
        """Call ``hook(module, grad_output)`` when the gradients with respect to the module's
        outputs are computed; a non-None result (a tuple) replaces ``grad_output``."""
        return self._add_hook(self._backward_pre_hooks, hook, prepend, False)

    # ------------------------------------------------------------------ traversal
    def named_modules(self, memo: set | None = None, prefix: str = "",
                      remove_duplicate: bool = True) -> Iterator[tuple[str, "Module"]]:
        memo = set() if memo is None else memo
        if remove_duplicate and id(self) in memo:
            return
        memo.add(id(self))
        yield prefix, self
        for name, m in self._modules.items():
            if m is None:
                continue
            yield from m.named_modules(memo, f"{prefix}.{name}" if prefix else name,
                                       remove_duplicate)

    def modules(self) -> Iterator["Module"]:
        for _, m in self.named_modules():
            yield m

    def named_children(self) -> Iterator[tuple[str, "Module"]]:
        seen = set()
        for name, m in self._modules.items():
            if m is not None and id(m) not in seen:
                seen.add(id(m))
                yield name, m

    def children(self) -> Iterator["Module"]:
        for _, m in self.named_children():
            yield m

    def _named_members(self, store: str, prefix: str, recurse: bool, remove_duplicate: bool = True):
        seen = set()
        mods = self.named_modules(prefix=prefix) if recurse else [(prefix, self)]
        for mprefix, m in mods:
            for name, v in getattr(m, store).items():
                if v is None or (remove_duplicate and id(v) in seen):
                    continue
                seen.add(id(v))
                yield (f"{mprefix}.{name}" if mprefix else name), v

    def named_parameters(self, prefix: str = "", recurse: bool = True,
                         remove_duplicate: bool = True) -> Iterator[tuple[str, Parameter]]:
        yield from self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix: str = "", recurse: bool = True,
                      remove_duplicate: bool = True) -> Iterator[tuple[str, Tensor]]:
        yield from self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    # ------------------------------------------------------------------ state
    def state_dict(self, destination=None, prefix: str = "",
                   keep_vars: bool = False) -> OrderedDict:
        """Parameters and persistent buffers under PyTorch's dotted names (tensors share memory)."""
        out = OrderedDict() if destination is None else destination
        for name, p in self._parameters.items():
            if p is not None:
                out[prefix + name] = p if keep_vars else p.detach()
        for name, b in self._buffers.items():
            if b is not None and name not in self._non_persistent:
                out[prefix + name] = b if keep_vars else b.detach()
        for name, m in self._modules.items():
            if m is not None:
                m.state_dict(out, prefix + name + ".", keep_vars)
        return out

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):
        """Copy values from ``state_dict`` (convnp tensors, NumPy arrays or torch tensors).

        With ``strict=True`` missing or unexpected keys raise a RuntimeError listing them; a
        shape mismatch always raises, naming the key and both shapes.
        """
        for name, m in self.named_modules():
            if hasattr(m, "_materialize_from"):  # lazy layers take the saved shapes first
                m._materialize_from(state_dict, name + "." if name else "")
        own = self.state_dict(keep_vars=True)
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        errors = []
        for k, target in own.items():
            if k not in state_dict:
                continue
            arr = _as_array(state_dict[k], f"load_state_dict[{k!r}]")
            if tuple(arr.shape) != tuple(target.shape):
                errors.append(f"size mismatch for {k}: copying a param with shape "
                              f"{tuple(arr.shape)} from checkpoint, the shape in current model "
                              f"is {tuple(target.shape)}.")
                continue
            target.array[...] = arr.astype(target.dtype, copy=False)
            target._bump_version()  # torch copies in place (param.copy_)
        if strict and (missing or unexpected):
            # torch's order: missing keys first, then unexpected ones, then size mismatches
            if unexpected:
                errors.insert(0, "Unexpected key(s) in state_dict: " +
                              ", ".join(f'"{k}"' for k in unexpected) + ".")
            if missing:
                errors.insert(0, "Missing key(s) in state_dict: " +
                              ", ".join(f'"{k}"' for k in missing) + ".")
        if errors:
            raise RuntimeError(f"Error(s) in loading state_dict for {type(self).__name__}:\n\t" +
                               "\n\t".join(errors))
        return _IncompatibleKeys(missing, unexpected)

    # ------------------------------------------------------------------ modes and conversion
    def train(self, mode: bool = True) -> "Module":
        if not isinstance(mode, bool):
            raise ValueError("train: 'mode' is expected to be a bool")
        for m in self.modules():
            object.__setattr__(m, "training", mode)
        return self

    def eval(self) -> "Module":
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> "Module":
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self.parameters():
            if p.grad is not None:
                if set_to_none:
                    p.grad = None
                else:
                    p.grad.array[...] = 0

    def apply(self, fn: Callable[["Module"], None]) -> "Module":
        for m in self.children():
            m.apply(fn)
        fn(self)
        return self

    def _cast(self, dtype) -> "Module":
        dtype = _dtype.resolve(dtype)
        for m in self.modules():
            for store in (m._parameters, m._buffers):
                for v in store.values():
                    if getattr(v, "_is_uninitialized", False):  # lazy: the dtype it will get
                        v.array = np.empty(0, dtype)
                        continue
                    if v is not None and is_floating(v.dtype):
                        v.array = v.array.astype(dtype)
                        if v.grad is not None:
                            v.grad.array = v.grad.array.astype(dtype)
        return self

    def share_memory(self) -> "Module":
        """Move parameters and buffers into shared memory, for several processes to update
        them (Hogwild; see :mod:`convnp.multiprocessing`)."""
        from convnp.multiprocessing import share_module

        return share_module(self)

    def double(self) -> "Module":
        return self._cast(np.float64)

    def float(self) -> "Module":
        return self._cast(np.float32)

    def half(self) -> "Module":
        return self._cast(np.float16)

    def bfloat16(self) -> "Module":
        from convnp._dtype import _bfloat16

        return self._cast(_bfloat16())

    def to(self, *args, **kwargs) -> "Module":
        from convnp._device import check_cpu, require_cpu

        dtype = kwargs.get("dtype")
        if kwargs.get("device") is not None:
            require_cpu(kwargs["device"], f"{type(self).__name__}.to")
        for a in args:
            if check_cpu(a, f"{type(self).__name__}.to"):
                continue
            dtype = a
        return self._cast(dtype) if dtype is not None else self

    def cpu(self) -> "Module":
        return self

    # ------------------------------------------------------------------ geometry
    def output_shape(self, input_shape: Sequence[int]) -> tuple[int, ...]:
        """Output shape of ``forward`` for an input of ``input_shape``, from the settings alone
        (no data); the summary / explain tools read it.

        The default is shape-preserving (activations, normalisation, dropout...): a layer whose
        ``forward`` changes the shape overrides it. A module with children that does not override
        it has no known shape (the tools then trace it, see :func:`has_own_output_shape`).
        """
        return tuple(int(v) for v in input_shape)

    def window(self, input_shape: Sequence[int] | None = None):
        """The sliding window this layer applies over the trailing spatial axes, as a
        :class:`convnp.nn.Window`, or ``None`` (the default: no window).

        ``input_shape`` is needed only when the window depends on the input size
        (``padding='same'`` with a stride > 1). Implement it in a custom windowed layer and
        ``convnp.tools.summary`` computes its receptive field.
        """
        return None

    # ------------------------------------------------------------------ repr
    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        lines = []
        extra = self.extra_repr()
        if extra:
            lines = extra.split("\n")
        for name, m in self._modules.items():
            sub = repr(m).replace("\n", "\n  ")
            lines.append(f"({name}): {sub}")
        main = type(self).__name__ + "("
        if lines:
            if len(lines) == 1 and not self._modules:
                main += lines[0]
            else:
                main += "\n  " + "\n  ".join(lines) + "\n"
        return main + ")"

    def __dir__(self):
        return list(super().__dir__()) + list(self._parameters) + list(self._buffers) + list(
            self._modules)


def has_own_output_shape(m: Module) -> bool:
    """Whether ``m`` states its output shape: a leaf (the default is shape-preserving) or a
    module whose class overrides :meth:`Module.output_shape`."""
    return type(m).output_shape is not Module.output_shape or not m._modules
