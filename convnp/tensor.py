"""``Tensor``: a NumPy array with a gradient and a place in the autograd graph.

This module is the core every op builds on: storage, metadata, conversion, the no-graph in-place
updates, and the autograd entry points (``backward``, hooks, ``detach``). It imports no op: the
methods that compute (``x + y``, ``x.sum()``, ``x.view()``, ``x.to()``, ...) are functional ops
of ``convnp.ops`` that ``convnp/_tensor_api.py`` binds onto the class, so the ops depend on the
Tensor and never the reverse. ``tensor.array`` is the underlying ``np.ndarray``.
"""

from __future__ import annotations

import weakref
from typing import Any

import numpy as np

from convnp import _dtype
from convnp._device import CPU
from convnp._format import tensor_repr
from convnp._layout import Size, normalize_dims
from convnp.autograd import engine
from convnp.autograd.grad_mode import is_grad_enabled
from convnp.random import rng
from convnp.utils.hooks import RemovableHandle, hook_name


def _infer_array(data: Any, dtype=None) -> np.ndarray:
    """Convert ``data`` like ``torch.tensor`` does: Python floats become the default float dtype."""
    D = _dtype
    dtype = D.resolve(dtype)
    if isinstance(data, Tensor):
        data = data.array
    if isinstance(data, np.ndarray):
        return data.astype(dtype) if dtype is not None and data.dtype != dtype else data
    if isinstance(data, (list, tuple)) and any(isinstance(d, Tensor) for d in _flat(data)):
        data = _to_nested_arrays(data)
    arr = np.array(data)
    if dtype is not None:
        return arr.astype(dtype, copy=False)
    if arr.dtype == np.float64 and not isinstance(data, np.generic):
        return arr.astype(D.get_default_dtype())
    if arr.dtype.kind in "iu" and not isinstance(data, np.generic):
        return arr.astype(np.int64)
    if arr.dtype.kind not in "biufc":
        raise TypeError(f"tensor: could not convert data of type {type(data).__name__} "
                        f"(NumPy dtype {arr.dtype}) into a numeric tensor")
    return arr


def _flat(x):
    if isinstance(x, (list, tuple)):
        for i in x:
            yield from _flat(i)
    else:
        yield x


def _to_nested_arrays(x):
    if isinstance(x, (list, tuple)):
        return [_to_nested_arrays(i) for i in x]
    return x.array if isinstance(x, Tensor) else x


class Tensor:
    """An n-dimensional array with optional gradient tracking (``requires_grad``)."""

    __array_priority__ = 1000  # make ndarray <op> Tensor defer to Tensor's reflected operators
    # version counter ([n]) shared with views and detach() aliases; None until one is needed
    # (see convnp/autograd/function.py: version counters)
    _vc = None
    # a fresh tensor's autograd state, as class defaults: ``_wrap`` (every op's output) sets
    # only the array, and assignments go to the instance
    grad: "Tensor | None" = None
    grad_fn = None
    _output_nr = 0
    _retains_grad = False
    requires_grad = False

    def __init__(self, data: Any = None, dtype=None, requires_grad: bool = False) -> None:
        if data is None:
            data = np.zeros((0,), _dtype.get_default_dtype())
        self.array = _infer_array(data, dtype)
        if not isinstance(self.array, np.ndarray):
            self.array = np.asarray(self.array)
        self.grad: Tensor | None = None
        self.grad_fn = None
        self._output_nr = 0
        self._retains_grad = False
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    @classmethod
    def _wrap(cls, array: np.ndarray) -> "Tensor":
        """Wrap an array without copying or dtype inference (internal fast path)."""
        t = cls.__new__(cls)
        t.array = array
        return t

    # ------------------------------------------------------------------ metadata
    @property
    def data(self) -> "Tensor":
        """A detached Tensor sharing this tensor's storage (PyTorch's ``.data``).

        As in torch, changes made through ``.data`` are hidden from autograd: the alias has its
        own version counter (``detach()`` shares it, so autograd sees changes made through it).
        """
        return Tensor._wrap(self.array)

    @data.setter
    def data(self, value) -> None:
        array = value.array if isinstance(value, Tensor) else np.asarray(value)
        self.array = array

    @property
    def _version(self) -> int:
        """How many in-place changes this tensor's storage has seen (torch's ``_version``)."""
        vc = self._vc
        return 0 if vc is None else vc[0]

    def _version_counter(self) -> list:
        """The version counter ([n]), created on first need; views and aliases share it."""
        if self._vc is None:
            self._vc = [0]
        return self._vc

    def _bump_version(self) -> None:
        """Record an in-place change (every in-place op and optimizer update calls this)."""
        vc = self._vc
        if vc is None:
            self._vc = [1]
        else:
            vc[0] += 1

    @property
    def shape(self) -> "Size":
        return Size._of(self.array.shape)

    @property
    def dtype(self) -> np.dtype:
        return self.array.dtype

    @property
    def ndim(self) -> int:
        return self.array.ndim

    @property
    def device(self):
        return CPU

    @property
    def is_cuda(self) -> bool:
        return False

    @property
    def is_leaf(self) -> bool:
        return self.grad_fn is None

    def is_floating_point(self) -> bool:
        return _dtype.is_floating(self.array.dtype) and self.array.dtype.kind != "c"

    def dim(self) -> int:
        return self.array.ndim

    def size(self, dim: int | None = None):
        if dim is None:
            return Size._of(self.array.shape)
        return self.array.shape[normalize_dims(dim, self.ndim, "size")[0]]

    def numel(self) -> int:
        return int(self.array.size)

    nelement = numel

    def element_size(self) -> int:
        return self.array.itemsize

    def __len__(self) -> int:
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.array.shape[0]

    def __iter__(self):
        if self.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self.array.shape[0]))

    def __repr__(self) -> str:
        return tensor_repr(self)

    __hash__ = object.__hash__

    # ------------------------------------------------------------------ conversion
    def numpy(self) -> np.ndarray:
        """The underlying array (shares memory, like torch)."""
        return self.array

    def __array__(self, dtype=None, copy=None):
        if dtype is not None and self.array.dtype != dtype:
            return self.array.astype(dtype)
        return self.array

    def item(self):
        if self.array.size != 1:
            raise ValueError(f"item: a Tensor with {self.array.size} elements cannot be converted "
                             "to a Python scalar")
        return self.array.reshape(()).item()

    def tolist(self):
        return self.array.tolist()

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __index__(self) -> int:
        if self.array.dtype.kind not in "iu":
            raise TypeError("only integer tensors can be converted to an index")
        return int(self.item())

    def __bool__(self) -> bool:
        if self.array.size != 1:
            raise RuntimeError(f"Boolean value of Tensor with {self.array.size} values is "
                               "ambiguous")
        return bool(self.array.reshape(()).item())

    def type(self, dtype=None):
        if dtype is None:
            return f"convnp.{self.dtype}"
        return self.to(dtype)

    def type_as(self, other: "Tensor") -> "Tensor":
        return self.to(other.dtype)

    def cpu(self) -> "Tensor":
        return self

    def detach(self) -> "Tensor":
        """Same data, cut from the graph; shares the version counter, so in-place changes to
        the result are seen by autograd where this tensor was saved for backward."""
        t = Tensor._wrap(self.array)
        t._vc = self._version_counter()
        return t

    # ------------------------------------------------------------------ autograd
    def requires_grad_(self, requires_grad: bool = True) -> "Tensor":
        if requires_grad and not _dtype.is_floating(self.array.dtype):
            raise RuntimeError(f"only tensors of floating point dtype can require gradients "
                               f"(this tensor has dtype {self.array.dtype})")
        if not requires_grad and self.grad_fn is not None:
            raise RuntimeError("requires_grad_(False) is only valid on leaf tensors; use "
                               ".detach() to cut a non-leaf tensor from the graph")
        self.requires_grad = bool(requires_grad)
        return self

    def share_memory_(self) -> "Tensor":
        """Move the data into shared memory, in place (see :mod:`convnp.multiprocessing`)."""
        from convnp.multiprocessing import share_tensor_

        return share_tensor_(self)

    def is_shared(self) -> bool:
        """Whether the data lives in shared memory (after ``share_memory_()``)."""
        from convnp.multiprocessing import is_shared_array

        return is_shared_array(self.array)

    def retain_grad(self) -> None:
        """Keep ``.grad`` for this non-leaf tensor after backward."""
        if self.grad_fn is None:
            return
        self.grad_fn.retained[self._output_nr] = weakref.ref(self)
        self._retains_grad = True

    def register_hook(self, hook):
        """Call ``hook(grad)`` whenever the gradient with respect to this tensor is computed;
        a non-None result (same shape) replaces the gradient from there on (for a leaf: before
        it is accumulated into ``.grad``). Returns a handle whose ``remove()`` unregisters it."""
        if not self.requires_grad:
            raise RuntimeError("register_hook: cannot register a hook on a tensor that doesn't "
                               "require gradient")
        if not callable(hook):
            raise TypeError(f"register_hook: hook must be callable, got {type(hook).__name__}")
        if self.grad_fn is not None:
            store = self.grad_fn.hooks.setdefault(self._output_nr, {})
        else:
            store = self.__dict__.setdefault("_grad_hooks", {})
        return RemovableHandle(store, _array_hook(hook))

    def register_post_accumulate_grad_hook(self, hook):
        """Call ``hook(tensor)`` after the backward pass has accumulated this leaf's gradient into
        ``.grad`` (the hook reads or changes ``tensor.grad``; its result is ignored), as torch.
        Runs as soon as the leaf's gradient is final, while the rest of the backward goes on.
        Returns a handle whose ``remove()`` unregisters it."""
        if self.grad_fn is not None:
            raise RuntimeError("register_post_accumulate_grad_hook: post accumulate grad hooks "
                               "cannot be registered on non-leaf tensors")
        if not self.requires_grad:
            raise RuntimeError("register_post_accumulate_grad_hook: cannot register a hook on a "
                               "tensor that doesn't require gradient")
        if not callable(hook):
            raise TypeError("register_post_accumulate_grad_hook: hook must be callable, got "
                            f"{type(hook).__name__}")
        return RemovableHandle(self.__dict__.setdefault("_post_accumulate_hooks", {}), hook)

    def _accumulate_grad(self, g: np.ndarray, owned: bool = False) -> None:
        """Add ``g`` into ``.grad``; ``owned``: nothing else holds ``g`` (the backward engine
        says so of an op's fresh result), so it becomes ``.grad`` itself when the dtype and the
        memory layout fit, instead of a copy."""
        if self.grad is None:
            if owned and g.dtype == self.array.dtype and (
                    g.flags.c_contiguous or not self.array.flags.c_contiguous):
                self.grad = Tensor._wrap(g)
                return
            self.grad = Tensor._wrap(np.array(g, dtype=self.array.dtype, copy=True))
        else:
            self.grad.array = np.asarray(self.grad.array + g)  # 0-d sums are NumPy scalars

    def backward(self, gradient=None, retain_graph: bool | None = None,
                 create_graph: bool = False, inputs=None) -> None:
        """Accumulate d(self)/d(leaf) into every leaf's ``.grad``.

        ``gradient`` is the upstream gradient (required unless self has one element).
        """
        if create_graph:
            raise NotImplementedError("backward(create_graph=True): higher-order gradients are "
                                      "not supported by convnp")
        if not self.requires_grad:
            raise RuntimeError("element 0 of tensors does not require grad and does not have a "
                               "grad_fn")
        if gradient is None:
            if self.array.size != 1:
                raise RuntimeError(f"backward: grad can be implicitly created only for scalar "
                                   f"outputs; this tensor has shape {tuple(self.shape)}: pass "
                                   "'gradient' of the same shape")
            g = np.ones(self.shape, self.dtype)
        else:
            g = gradient.array if isinstance(gradient, Tensor) else np.asarray(gradient)
            if g.shape != self.shape:
                raise RuntimeError(f"backward: 'gradient' has shape {g.shape} but the tensor "
                                   f"has shape {tuple(self.shape)}")
            g = g.astype(self.dtype, copy=False)
        if inputs is not None:
            inputs = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
            grads = engine.run_backward([self], [g], bool(retain_graph), capture=inputs)
            for t, gr in zip(inputs, grads):
                if gr is not None:
                    t._accumulate_grad(gr)
            return
        engine.run_backward([self], [g], bool(retain_graph))

    # ------------------------------------------------------------------ in-place (no graph)
    def _check_inplace(self, name: str) -> None:
        if is_grad_enabled() and (self.grad_fn is not None or self.requires_grad):
            raise RuntimeError(f"{name}: a leaf Variable that requires grad (or a tensor in the "
                               "graph) is being used in an in-place operation; wrap it in "
                               "'with convnp.no_grad():'")

    def _set(self, name: str, value) -> "Tensor":
        self._check_inplace(name)
        value = value.array if isinstance(value, Tensor) else value
        self.array[...] = value
        self._bump_version()
        return self

    def copy_(self, src) -> "Tensor":
        src = src.array if isinstance(src, Tensor) else np.asarray(src)
        if np.broadcast_shapes(src.shape, self.shape) != self.shape:
            raise RuntimeError(f"copy_: source of shape {src.shape} cannot be copied into a "
                               f"tensor of shape {tuple(self.shape)}")
        return self._set("copy_", src)

    def zero_(self) -> "Tensor":
        return self._set("zero_", 0)

    def fill_(self, value) -> "Tensor":
        return self._set("fill_", value)

    def add_(self, other, *, alpha=1) -> "Tensor":
        o = other.array if isinstance(other, Tensor) else other
        return self._set("add_", self.array + alpha * o)

    def sub_(self, other, *, alpha=1) -> "Tensor":
        o = other.array if isinstance(other, Tensor) else other
        return self._set("sub_", self.array - alpha * o)

    def mul_(self, other) -> "Tensor":
        o = other.array if isinstance(other, Tensor) else other
        return self._set("mul_", self.array * o)

    def div_(self, other) -> "Tensor":
        o = other.array if isinstance(other, Tensor) else other
        return self._set("div_", self.array / o)

    def clamp_(self, min=None, max=None) -> "Tensor":
        return self._set("clamp_", np.clip(self.array, min, max))

    def uniform_(self, a: float = 0.0, b: float = 1.0, generator=None) -> "Tensor":
        return self._set("uniform_", rng(generator).uniform(a, b, self.shape))

    def normal_(self, mean: float = 0.0, std: float = 1.0, generator=None) -> "Tensor":
        return self._set("normal_", rng(generator).normal(mean, std, self.shape))

    def __setitem__(self, index, value) -> None:
        self._check_inplace("__setitem__")
        index = index.array if isinstance(index, Tensor) else index
        self.array[index] = value.array if isinstance(value, Tensor) else value
        self._bump_version()

    # ------------------------------------------------------------------ arithmetic
    # x + y, x.sum(), x.view(), ...: the ops, bound by convnp/_tensor_api.py. In-place forms
    # update the array when no graph records them, as torch's do
    def __iadd__(self, o):
        return self.add_(o) if not self._in_graph() else self + o

    def __isub__(self, o):
        return self.sub_(o) if not self._in_graph() else self - o

    def __imul__(self, o):
        return self.mul_(o) if not self._in_graph() else self * o

    def __itruediv__(self, o):
        return self.div_(o) if not self._in_graph() else self / o

    def _in_graph(self) -> bool:
        return is_grad_enabled() and (self.requires_grad or self.grad_fn is not None)

    # comparisons: no gradient, bool result
    def _cmp(self, o, op):
        o = o.array if isinstance(o, Tensor) else o
        return Tensor._wrap(np.asarray(op(self.array, o)))

    def __eq__(self, o):
        return self._cmp(o, np.equal)

    def __ne__(self, o):
        return self._cmp(o, np.not_equal)

    def __lt__(self, o):
        return self._cmp(o, np.less)

    def __le__(self, o):
        return self._cmp(o, np.less_equal)

    def __gt__(self, o):
        return self._cmp(o, np.greater)

    def __ge__(self, o):
        return self._cmp(o, np.greater_equal)

    def __invert__(self):
        return Tensor._wrap(~self.array)

    def __and__(self, o):
        return self._cmp(o, np.logical_and if self.dtype == np.bool_ else np.bitwise_and)

    def __or__(self, o):
        return self._cmp(o, np.logical_or if self.dtype == np.bool_ else np.bitwise_or)

    eq, ne, lt, le, gt, ge = __eq__, __ne__, __lt__, __le__, __gt__, __ge__

    def equal(self, o) -> bool:
        return self.shape == o.shape and bool(np.array_equal(self.array, o.array))

    def allclose(self, o, rtol=1e-5, atol=1e-8) -> bool:
        return bool(np.allclose(self.array, o.array if isinstance(o, Tensor) else o, rtol, atol))

    # ------------------------------------------------------------------ creation helpers
    def new_zeros(self, size, dtype=None) -> "Tensor":
        return Tensor._wrap(np.zeros(size, _dtype.resolve(dtype) or self.dtype))

    def new_ones(self, size, dtype=None) -> "Tensor":
        return Tensor._wrap(np.ones(size, _dtype.resolve(dtype) or self.dtype))

    def new_full(self, size, fill_value, dtype=None) -> "Tensor":
        return Tensor._wrap(np.full(size, fill_value, _dtype.resolve(dtype) or self.dtype))

    def new_tensor(self, data, dtype=None) -> "Tensor":
        return Tensor(data, dtype=dtype or self.dtype)


def _array_hook(hook):
    """``hook(grad: Tensor) -> Tensor | None`` as the engine runs it, on arrays: a non-None
    result of the gradient's shape replaces the gradient."""

    def run(grad: np.ndarray) -> np.ndarray:
        res = hook(Tensor._wrap(grad))
        if res is None:
            return grad
        new = res.array if isinstance(res, Tensor) else np.asarray(res)
        if new.shape != grad.shape:
            raise RuntimeError(f"hook {hook_name(hook)!r} changed the gradient's shape from "
                               f"{tuple(grad.shape)} to {tuple(new.shape)}; a tensor hook must "
                               "return None or a gradient of the tensor's shape")
        return new.astype(grad.dtype, copy=False)

    return run


def is_tensor(obj: Any) -> bool:
    return isinstance(obj, Tensor)

