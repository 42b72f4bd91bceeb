"""``Tensor``: a NumPy array with a gradient and a place in the autograd graph.

Methods delegate in one line to the functional ops in ``convnp.ops``; the arithmetic lives there.
``tensor.array`` is the underlying ``np.ndarray`` (PyTorch's ``.array`` is a Tensor: convert with
``convnp.tensor(t.array)`` where a Tensor is needed).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from convnp import _dtype
from convnp._dtype import is_floating
from convnp._tensor_api import Size
from convnp.autograd import engine
from convnp.autograd.function import Function
from convnp.autograd.grad_mode import is_grad_enabled
from convnp.ops import elementwise as E
from convnp.ops import linalg as L
from convnp.ops import movement as M
from convnp.ops import reduction as R


def _infer_array(data: Any, dtype=None) -> np.ndarray:
    """Convert ``data`` like ``torch.tensor`` does: Python floats become the default float dtype."""
    from convnp import _dtype as D

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
    # metadata that survives detach(), clone() and to(): max-pool indices remember the pooled
    # input's size here, so max_unpool restores it from a detached or cast copy too
    _CARRIED = ("pooled_input_shape",)
    # version counter ([n]) shared with views and detach() aliases; None until one is needed
    # (see convnp/autograd/function.py: version counters)
    _vc = None

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
        t.grad = None
        t.grad_fn = None
        t._output_nr = 0
        t._retains_grad = False
        t.requires_grad = False
        return t

    # ------------------------------------------------------------------ metadata
    @property
    def data(self) -> "Tensor":
        """A detached Tensor sharing this tensor's storage (PyTorch's ``.data``).

        As in torch, changes made through ``.data`` are hidden from autograd: the alias has its
        own version counter (``detach()`` shares it, so autograd sees changes made through it).
        """
        return self._carry(Tensor._wrap(self.array))

    @data.setter
    def data(self, value) -> None:
        array = value.array if isinstance(value, Tensor) else np.asarray(value)
        self.array = array

    @property
    def _version(self) -> int:
        """How many in-place changes this tensor's storage has seen (torch's ``_version``)."""
        vc = self._vc
        return 0 if vc is None else vc[0]

    def _bump_version(self) -> None:
        """Record an in-place change (every in-place op and optimizer update calls this)."""
        vc = self._vc
        if vc is None:
            self._vc = [1]
        else:
            vc[0] += 1

    @property
    def shape(self) -> "Size":
        return Size(self.array.shape)

    @property
    def dtype(self) -> np.dtype:
        return self.array.dtype

    @property
    def ndim(self) -> int:
        return self.array.ndim

    @property
    def device(self):
        from convnp._device import CPU

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
            return Size(self.array.shape)
        return self.array.shape[R.normalize_dims(dim, self.ndim, "size")[0]]

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
        from convnp._format import tensor_repr

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

    def to(self, *args, **kwargs) -> "Tensor":
        """``to(dtype)``, ``to('cpu')`` or ``to(other_tensor)``; differentiable dtype casts."""
        from convnp._device import check_cpu, require_cpu

        dtype = kwargs.pop("dtype", None)
        if kwargs.get("device") is not None:
            require_cpu(kwargs["device"], "Tensor.to")
        kwargs.pop("device", None)
        kwargs.pop("non_blocking", None)
        kwargs.pop("copy", None)
        for a in args:
            if isinstance(a, Tensor):
                dtype = a.dtype
            elif check_cpu(a, "Tensor.to"):
                continue
            else:
                dtype = a
        if dtype is None:
            return self
        dtype = _dtype.resolve(dtype)
        if dtype == self.dtype:
            return self
        return self._carry(Cast.apply(self, dtype=dtype))

    def _carry(self, other: "Tensor") -> "Tensor":
        """Copy the carried metadata (``_CARRIED``) onto ``other``; returns ``other``."""
        for name in self._CARRIED:
            if name in self.__dict__:
                setattr(other, name, self.__dict__[name])
        return other

    def type(self, dtype=None):
        if dtype is None:
            return f"convnp.{self.dtype}"
        return self.to(dtype)

    def type_as(self, other: "Tensor") -> "Tensor":
        return self.to(other.dtype)

    def float(self) -> "Tensor":
        return self.to(np.float32)

    def double(self) -> "Tensor":
        return self.to(np.float64)

    def half(self) -> "Tensor":
        return self.to(np.float16)

    def bfloat16(self) -> "Tensor":
        return self.to(_dtype._bfloat16())

    def long(self) -> "Tensor":
        return self.to(np.int64)

    def int(self) -> "Tensor":
        return self.to(np.int32)

    def bool(self) -> "Tensor":
        return self.to(np.bool_)

    def cpu(self) -> "Tensor":
        return self

    def detach(self) -> "Tensor":
        """Same data, cut from the graph; shares the version counter, so in-place changes to
        the result are seen by autograd where this tensor was saved for backward."""
        from convnp.autograd.function import _counter

        t = Tensor._wrap(self.array)
        t._vc = _counter(self)
        return self._carry(t)

    def clone(self) -> "Tensor":
        return self._carry(Clone.apply(self))

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
        import weakref

        if self.grad_fn is None:
            return
        self.grad_fn.retained[self._output_nr] = weakref.ref(self)
        self._retains_grad = True

    def register_hook(self, hook):
        """Call ``hook(grad)`` whenever the gradient with respect to this tensor is computed;
        a non-None result (same shape) replaces the gradient from there on (for a leaf: before
        it is accumulated into ``.grad``). Returns a handle whose ``remove()`` unregisters it."""
        from convnp.utils.hooks import RemovableHandle

        if not self.requires_grad:
            raise RuntimeError("register_hook: cannot register a hook on a tensor that doesn't "
                               "require gradient")
        if not callable(hook):
            raise TypeError(f"register_hook: hook must be callable, got {type(hook).__name__}")
        if self.grad_fn is not None:
            store = self.grad_fn.hooks.setdefault(self._output_nr, {})
        else:
            store = self.__dict__.setdefault("_grad_hooks", {})
        return RemovableHandle(store, hook)

    def register_post_accumulate_grad_hook(self, hook):
        """Call ``hook(tensor)`` after the backward pass has accumulated this leaf's gradient into
        ``.grad`` (the hook reads or changes ``tensor.grad``; its result is ignored), as torch.
        Runs as soon as the leaf's gradient is final, while the rest of the backward goes on.
        Returns a handle whose ``remove()`` unregisters it."""
        from convnp.utils.hooks import RemovableHandle

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

    def _accumulate_grad(self, g: np.ndarray) -> None:
        if self.grad is None:
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
        from convnp.random import rng

        return self._set("uniform_", rng(generator).uniform(a, b, self.shape))

    def normal_(self, mean: float = 0.0, std: float = 1.0, generator=None) -> "Tensor":
        from convnp.random import rng

        return self._set("normal_", rng(generator).normal(mean, std, self.shape))

    def __setitem__(self, index, value) -> None:
        self._check_inplace("__setitem__")
        index = index.array if isinstance(index, Tensor) else index
        self.array[index] = value.array if isinstance(value, Tensor) else value
        self._bump_version()

    # ------------------------------------------------------------------ arithmetic
    def __add__(self, o):
        return E.add(self, o)

    def __radd__(self, o):
        return E.add(o, self)

    def __sub__(self, o):
        return E.sub(self, o)

    def __rsub__(self, o):
        return E.sub(o, self)

    def __mul__(self, o):
        return E.mul(self, o)

    def __rmul__(self, o):
        return E.mul(o, self)

    def __truediv__(self, o):
        return E.div(self, o)

    def __rtruediv__(self, o):
        return E.div(o, self)

    def __pow__(self, o):
        return E.pow(self, o)

    def __rpow__(self, o):
        return E.pow(o, self)

    def __neg__(self):
        return E.neg(self)

    def __pos__(self):
        return self

    def __abs__(self):
        return E.abs(self)

    def __matmul__(self, o):
        return L.matmul(self, o if isinstance(o, Tensor) else Tensor(o))

    def __rmatmul__(self, o):
        return L.matmul(Tensor(o), self)

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

    # ------------------------------------------------------------------ math methods
    add = E.add
    sub = E.sub
    mul = E.mul
    div = E.div
    pow = E.pow
    neg = E.neg
    exp = E.exp
    log = E.log
    sqrt = E.sqrt
    abs = E.abs
    sin = E.sin
    cos = E.cos
    tanh = E.tanh
    sigmoid = E.sigmoid
    clamp = clip = E.clamp
    maximum = E.maximum
    minimum = E.minimum
    matmul = L.matmul
    mm = L.mm

    def masked_fill(self, mask, value):
        return E.where(mask, value, self)

    def where(self, condition, other):
        return E.where(condition, self, other)

    # ------------------------------------------------------------------ reductions
    sum = R.sum
    mean = R.mean
    prod = R.prod
    max = R.max
    min = R.min
    amax = R.amax
    amin = R.amin
    argmax = R.argmax
    argmin = R.argmin
    var = R.var
    std = R.std
    logsumexp = R.logsumexp

    def argsort(self, dim=-1, descending=False):
        a = -self.array if descending else self.array
        return Tensor._wrap(np.argsort(a, axis=dim, kind="stable").astype(np.int64))

    def sort(self, dim=-1, descending=False, stable=False):
        """(values, indices) along ``dim``; ties keep their order (a stable sort), as torch's
        CPU sort does. Values are differentiable (the gradient goes back to each element)."""
        order = np.argsort(-self.array if descending else self.array, axis=dim, kind="stable")
        if descending and is_floating(self.array.dtype):  # -x flips NaN's place: put NaN first
            nan = np.isnan(np.take_along_axis(self.array, order, axis=dim))
            order = np.take_along_axis(order, np.argsort(~nan, axis=dim, kind="stable"), dim)
        return R.MaxMin(self.gather(dim, Tensor._wrap(order)),
                        Tensor._wrap(order.astype(np.int64)))

    def topk(self, k, dim=-1, largest=True, sorted=True):
        idx = np.argsort(-self.array if largest else self.array, axis=dim, kind="stable")
        idx = np.take(idx, np.arange(k), axis=dim)
        return R.MaxMin(self.gather(dim, Tensor._wrap(idx)), Tensor._wrap(idx.astype(np.int64)))

    def gather(self, dim, index):
        idx = index.array if isinstance(index, Tensor) else np.asarray(index)
        return Gather.apply(self, axis=dim % self.ndim, index=idx)

    # ------------------------------------------------------------------ movement
    def reshape(self, *shape):
        return M.reshape(self, *shape)

    def view(self, *shape):
        return M.reshape(self, *shape)

    def view_as(self, other):
        return M.reshape(self, other.shape)

    def reshape_as(self, other):
        return M.reshape(self, other.shape)

    def permute(self, *dims):
        return M.permute(self, *dims)

    def transpose(self, dim0, dim1):
        return M.transpose(self, dim0, dim1)

    def t(self):
        if self.ndim > 2:
            raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, got {self.ndim}")
        return M.transpose(self, 0, -1) if self.ndim == 2 else self

    @property
    def T(self):
        return M.permute(self, *reversed(range(self.ndim)))

    @property
    def mT(self):
        return M.transpose(self, -2, -1)

    def expand(self, *sizes):
        return M.expand(self, *sizes)

    def expand_as(self, other):
        return M.expand(self, other.shape)

    def repeat(self, *sizes):
        sizes = M._shape_arg(sizes)
        x = self.reshape((1,) * (len(sizes) - self.ndim) + self.shape)
        # repeat = expand over new interleaved axes + reshape; differentiable through Expand
        inter = []
        for s, n in zip(x.shape, sizes):
            inter += [n, s]
        y = x.reshape(tuple(v for s in x.shape for v in (1, s))).expand(*inter)
        return y.reshape(tuple(s * n for s, n in zip(x.shape, sizes)))

    flatten = M.flatten
    unflatten = M.unflatten
    squeeze = M.squeeze
    unsqueeze = M.unsqueeze
    flip = M.flip
    split = M.split
    chunk = M.chunk

    def __getitem__(self, index):
        return M.getitem(self, index)

    # ------------------------------------------------------------------ creation helpers
    def new_zeros(self, size, dtype=None) -> "Tensor":
        return Tensor._wrap(np.zeros(size, _dtype.resolve(dtype) or self.dtype))

    def new_ones(self, size, dtype=None) -> "Tensor":
        return Tensor._wrap(np.ones(size, _dtype.resolve(dtype) or self.dtype))

    def new_full(self, size, fill_value, dtype=None) -> "Tensor":
        return Tensor._wrap(np.full(size, fill_value, _dtype.resolve(dtype) or self.dtype))

    def new_tensor(self, data, dtype=None) -> "Tensor":
        return Tensor(data, dtype=dtype or self.dtype)

    # activation shortcuts (defined with the activations)
    def relu(self):
        from convnp.ops.activation import relu

        return relu(self)

    def softmax(self, dim):
        from convnp.ops.activation import softmax

        return softmax(self, dim)

    def log_softmax(self, dim):
        from convnp.ops.activation import log_softmax

        return log_softmax(self, dim)


class Cast(Function):
    @staticmethod
    def forward(ctx, a, dtype):
        ctx.dtype = a.dtype
        return a.astype(dtype)

    @staticmethod
    def backward(ctx, g):
        return g.astype(ctx.dtype) if is_floating(ctx.dtype) else None


class Clone(Function):
    @staticmethod
    def forward(ctx, a):
        return a.copy()

    @staticmethod
    def backward(ctx, g):
        return g


class Gather(Function):
    @staticmethod
    def forward(ctx, a, axis, index):
        ctx.shape, ctx.axis, ctx.index = a.shape, axis, index
        return np.take_along_axis(a, index, axis)

    @staticmethod
    def backward(ctx, g):
        out = np.zeros(ctx.shape, g.dtype)
        np.add.at(out, _along_axis_index(ctx.index, ctx.axis), g)
        return out


def _along_axis_index(index: np.ndarray, axis: int) -> tuple:
    """Full fancy index equivalent to ``take_along_axis(., index, axis)`` (for scatter-add)."""
    grids = list(np.indices(index.shape, sparse=True))
    grids[axis] = index
    return tuple(grids)


def is_tensor(obj: Any) -> bool:
    return isinstance(obj, Tensor)

