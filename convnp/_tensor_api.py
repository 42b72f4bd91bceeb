"""The rest of torch's ``Tensor`` surface, registered onto ``convnp.Tensor`` from tables.

``tensor.py`` holds the core (storage, metadata, autograd) and imports no op; this module, which
``convnp/__init__.py`` runs once, binds every method that computes, in one place each: the
arithmetic dunders, math, reductions, movement and casts the core API names (``_core``); the
device/layout predicates torch scripts test (``is_cuda``, ``is_mps``, ``is_xpu``, ... all False:
convnp computes on the CPU); ``__format__``; the functional ops as methods (``x.sinh()``,
``x.scatter_add(...)``); and the in-place ``*_`` variants, each computed out of place and
written back through ``Tensor._set`` (so they share its rules about tensors in the autograd
graph). So the ops depend on the Tensor, never the reverse.

Names torch has but convnp leaves out on purpose (sparse, quantized, complex, ...) are answered
by ``Tensor.__getattr__`` with ``convnp.Unsupported`` (see ``convnp/_unsupported.py``).
"""

from __future__ import annotations

import numpy as np

from convnp import _dtype, _namespace, _unsupported
from convnp import creation as C
from convnp._device import require_cpu
from convnp._dtype import is_floating
from convnp._layout import (
    _check_memory_format,
    channels_last,
    channels_last_3d,
    contiguous_format,
    normalize_dims,
    strided,
)
from convnp.creation import _out
from convnp.ops import activation as A
from convnp.ops import cast, numeric
from convnp.ops import elementwise as E
from convnp.ops import linalg as L
from convnp.ops import movement as M
from convnp.ops import pointwise as _P
from convnp.ops import reduction as R
from convnp.random import rng
from convnp.tensor import Tensor

# ----------------------------------------------------------------------------- predicates
# device and layout predicates torch scripts test; all False for convnp's dense CPU arrays
FALSE_PROPERTIES = ("is_cuda", "is_mps", "is_xpu", "is_xla", "is_ipu", "is_hpu", "is_mtia",
                    "is_maia", "is_meta", "is_vulkan", "is_mkldnn", "is_sparse", "is_sparse_csr",
                    "is_quantized", "is_nested")
FALSE_METHODS = ("is_complex", "is_conj", "is_neg", "is_inference", "is_pinned")


def _false_property(name):
    return property(lambda self: False, doc=f"False: convnp tensors are dense CPU arrays "
                                            f"(torch.Tensor.{name}).")


def _false_method(name):
    def method(self) -> bool:
        return False

    method.__name__ = name
    method.__doc__ = f"False for convnp's tensors (torch.Tensor.{name})."
    return method


# ----------------------------------------------------------------------------- plain methods
def _format(self, spec: str) -> str:
    """``f"{loss:.3f}"``: a one-element 0-d tensor formats as its Python number, as torch."""
    if self.ndim == 0:
        return format(self.array.item(), spec)
    return object.__format__(self, spec)


def _stride(self, dim=None):
    """Strides in elements, as torch reports them."""
    st = tuple(s // self.array.itemsize for s in self.array.strides)
    return st if dim is None else st[dim]


def _is_contiguous(self, memory_format=None) -> bool:
    """Row-major contiguity (``channels_last``: whether the array is NHWC-contiguous)."""
    _check_memory_format(memory_format, "is_contiguous")
    a = self.array
    if memory_format is channels_last or memory_format is channels_last_3d:
        nd = 4 if memory_format is channels_last else 5
        if a.ndim != nd:
            return False
        return bool(np.moveaxis(a, 1, -1).flags.c_contiguous)
    return bool(a.flags.c_contiguous)


def _contiguous(self, memory_format=contiguous_format):
    """The tensor itself when already row-major contiguous, else a contiguous copy; convnp
    keeps NCHW whatever ``memory_format`` asks (see ``convnp.channels_last``)."""
    _check_memory_format(memory_format, "contiguous")
    if self.array.flags.c_contiguous:
        return self
    return self.clone()


def _h_error(self):
    raise RuntimeError(f"tensor.H is only supported on matrices (2-d tensors); got a "
                       f"{self.ndim}-d tensor: use .mH for batches of matrices")


def _get_device(self) -> int:
    return -1  # torch's answer for a CPU tensor


def _ndimension(self) -> int:
    return self.array.ndim


def _itemsize(self) -> int:
    return self.array.itemsize


def _nbytes(self) -> int:
    return self.array.nbytes


def _is_signed(self) -> bool:
    return self.array.dtype.kind in "if"


def _is_nonzero(self) -> bool:
    if self.array.size != 1:
        raise RuntimeError(f"is_nonzero: a Tensor with {self.array.size} elements is ambiguous")
    return bool(self.array.reshape(()).item())


def _is_same_size(self, other) -> bool:
    return self.shape == other.shape


def _dim_order(self, *, ambiguity_check=False):
    return tuple(int(i) for i in np.argsort(-np.asarray(self.array.strides), kind="stable"))


def _unfold(self, dimension: int, size: int, step: int):
    """Windows of ``size`` elements every ``step`` along ``dimension``, as a new last dim."""
    d = normalize_dims(dimension, max(self.ndim, 1), "unfold")[0]
    n = self.shape[d] if self.ndim else 1
    if size > n or size < 0 or step <= 0:
        raise RuntimeError(f"unfold: size ({size}) must be in [0, {n}] (the size of dim {d}) "
                           f"and step ({step}) positive")
    x = self if self.ndim else self.reshape(1)
    windows = np.arange(0, n - size + 1, step)[:, None] + np.arange(size)  # (nw, size)
    out = M.GetItem.apply(x, index=(slice(None),) * d + (windows,))  # (..., nw, size, ...)
    order = [i for i in range(out.ndim) if i != d + 1] + [d + 1]
    return out.permute(*order)


def _split_with_sizes(self, split_sizes, dim=0):
    return M.split(self, list(split_sizes), dim)


def _fill_diagonal_(self, fill_value, wrap=False):
    """Fill the main diagonal (all dims equal, or 2-d tall matrices with ``wrap``)."""
    a = self.array
    if a.ndim < 2 or (a.ndim > 2 and len(set(a.shape)) != 1):
        raise RuntimeError("fill_diagonal_: all dimensions of input must be of equal length "
                           "(or the tensor 2-d)")
    self._check_inplace("fill_diagonal_")
    np.fill_diagonal(a, fill_value, wrap=wrap)
    return self


def _bmm(self, mat2):
    return L.bmm(self, mat2)


def _prelu(self, weight):
    return A.prelu(self, weight)


def _hardshrink(self, lambd=0.5):
    return A.hardshrink(self, lambd)


def _histogram(self, bins=100, *, range=None, weight=None, density=False):  # noqa: A002

    return numeric.histogram(self, bins, range=range, weight=weight, density=density)


PLAIN_METHODS = {
    "fill_diagonal_": _fill_diagonal_, "bmm": _bmm, "prelu": _prelu, "hardshrink": _hardshrink,
    "histogram": _histogram, "resolve_neg": lambda self: self, "to_dense": lambda self,
    dtype=None, *, masked_grad=None: self if dtype is None else self.to(dtype),
    "unfold": _unfold, "split_with_sizes": _split_with_sizes,
    "unsafe_split": lambda self, split_size, dim=0: self.split(split_size, dim),
    "unsafe_chunk": lambda self, chunks, dim=0: self.chunk(chunks, dim),
    "__format__": _format, "stride": _stride, "is_contiguous": _is_contiguous,
    "contiguous": _contiguous, "get_device": _get_device, "ndimension": _ndimension,
    "is_signed": _is_signed, "is_nonzero": _is_nonzero, "is_same_size": _is_same_size,
    "dim_order": _dim_order,
}
PLAIN_PROPERTIES = {"itemsize": _itemsize,
                    "H": lambda self: self.t() if self.ndim == 2 else _h_error(self),
                    "mH": lambda self: self.mT, "nbytes": _nbytes,
                    "layout": lambda self: strided,
                    "is_cpu": lambda self: True}


# ----------------------------------------------------------------------------- the core ops
def _binary(fn, reflected: bool = False):
    """``self <op> other`` (or ``other <op> self``, reflected) as a method."""
    if reflected:
        return lambda self, other: fn(other, self)
    return lambda self, other: fn(self, other)


def _argsort(self, dim=-1, descending=False, stable=False):
    a = -self.array if descending else self.array
    return self._wrap(np.argsort(a, axis=dim, kind="stable").astype(np.int64))


def _sort(self, dim=-1, descending=False, stable=False):
    """(values, indices) along ``dim``; ties keep their order (a stable sort), as torch's CPU
    sort does. Values are differentiable (the gradient goes back to each element)."""
    order = np.argsort(-self.array if descending else self.array, axis=dim, kind="stable")
    if descending and is_floating(self.array.dtype):  # -x flips NaN's place: put NaN first
        nan = np.isnan(np.take_along_axis(self.array, order, axis=dim))
        order = np.take_along_axis(order, np.argsort(~nan, axis=dim, kind="stable"), dim)
    return R.MaxMin(self.gather(dim, self._wrap(order)), self._wrap(order.astype(np.int64)))


def _topk(self, k, dim=-1, largest=True, sorted=True):
    idx = np.argsort(-self.array if largest else self.array, axis=dim, kind="stable")
    idx = np.take(idx, np.arange(k), axis=dim)
    return R.MaxMin(self.gather(dim, self._wrap(idx)), self._wrap(idx.astype(np.int64)))


def _t(self):
    if self.ndim > 2:
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, got {self.ndim}")
    return self.transpose(0, -1) if self.ndim == 2 else self


def _repeat(self, *sizes):
    sizes = M._shape_arg(sizes)
    x = self.reshape((1,) * (len(sizes) - self.ndim) + self.shape)
    # repeat = expand over new interleaved axes + reshape; differentiable through Expand
    inter = []
    for s, n in zip(x.shape, sizes):
        inter += [n, s]
    y = x.reshape(tuple(v for s in x.shape for v in (1, s))).expand(*inter)
    return y.reshape(tuple(s * n for s, n in zip(x.shape, sizes)))


def _core() -> tuple[dict, dict]:
    """The methods and properties the core API names (arithmetic dunders, math, reductions,
    movement, casts): name -> function(self, ...). They take precedence over the tables below."""
    def as_tensor(o):
        return o if isinstance(o, Tensor) else Tensor(o)

    methods = {"to": cast.to, "clone": cast.clone, "argsort": _argsort,
               "sort": _sort, "topk": _topk, "t": _t, "repeat": _repeat,
               "__neg__": E.neg, "__pos__": lambda self: self, "__abs__": E.abs,
               "__matmul__": lambda self, o: L.matmul(self, as_tensor(o)),
               "__rmatmul__": lambda self, o: L.matmul(Tensor(o), self),
               "__getitem__": M.getitem, "masked_fill": lambda self, mask, value: E.where(
                   mask, value, self),
               "where": lambda self, condition, other: E.where(condition, self, other),
               "reshape": M.reshape, "view": M.reshape,
               "view_as": lambda self, other: M.reshape(self, other.shape),
               "reshape_as": lambda self, other: M.reshape(self, other.shape),
               "expand_as": lambda self, other: M.expand(self, other.shape),
               "relu": A.relu, "softmax": lambda self, dim: A.softmax(self, dim),
               "log_softmax": lambda self, dim: A.log_softmax(self, dim)}
    for name, fn in (("add", E.add), ("sub", E.sub), ("mul", E.mul), ("truediv", E.div),
                     ("pow", E.pow)):
        methods[f"__{name}__"] = _binary(fn)
        methods[f"__r{name}__"] = _binary(fn, reflected=True)
    for mod, names in ((E, "add sub mul div pow neg exp log sqrt abs sin cos tanh sigmoid clamp "
                           "maximum minimum"),
                       (L, "matmul mm"),
                       (R, "sum mean prod max min amax amin argmax argmin var std logsumexp"),
                       (M, "permute transpose expand flatten unflatten squeeze unsqueeze flip "
                           "split chunk")):
        methods.update({n: getattr(mod, n) for n in names.split()})
    methods["clip"] = E.clamp
    properties = {"T": lambda self: M.permute(self, *reversed(range(self.ndim))),
                  "mT": lambda self: M.transpose(self, -2, -1)}
    return methods, properties


# ----------------------------------------------------------------------------- dtype shortcuts
# x.float(), x.long(), ...: ``x.to(dtype)``; bfloat16 is looked up when used (ml_dtypes)
CASTS = {"float": np.float32, "double": np.float64, "half": np.float16, "long": np.int64,
         "int": np.int32, "short": np.int16, "char": np.int8, "byte": np.uint8, "bool": np.bool_,
         "bfloat16": _dtype._bfloat16}


def _cast_method(name: str, dtype):
    def method(self):
        return self.to(dtype() if callable(dtype) and not isinstance(dtype, type) else dtype)

    method.__name__ = name
    method.__doc__ = f"``self.to({name})`` (torch.Tensor.{name})."
    return method


# ----------------------------------------------------------------------------- in-place variants
def _inplace(name: str, fn):
    """``x.name_(...)``: compute ``fn(x, ...)`` out of place, write it back into ``x``."""
    def method(self, *args, **kwargs):
        out = fn(self, *args, **kwargs)
        res = out.array
        if res.shape != self.array.shape:
            raise RuntimeError(f"{name}: output with shape {tuple(self.shape)} doesn't match the "
                               f"broadcast shape {tuple(res.shape)}")
        if not np.can_cast(res.dtype, self.array.dtype, "same_kind"):
            raise RuntimeError(f"{name}: result type {res.dtype} can't be cast to the desired "
                               f"output type {self.array.dtype}; convert the tensor first "
                               f"(e.g. x = x.float())")
        return self._set(name, out)

    method.__name__ = name
    method.__doc__ = f"In-place version of ``Tensor.{name[:-1]}``."
    return method


def _inplace_view(name: str, fn):
    """``x.t_()``, ``x.squeeze_()``...: shape-changing in-place ops rebind the storage's view."""
    def method(self, *args, **kwargs):
        self._check_inplace(name)
        self.array = fn(self, *args, **kwargs).array
        return self

    method.__name__ = name
    method.__doc__ = f"In-place version of ``Tensor.{name[:-1]}`` (changes the shape)."
    return method


def _polygamma_method(self, n):
    return _P.polygamma(n, self)


def _new_empty(self, size, *, dtype=None, device=None, requires_grad=False):
    if device is not None:

        require_cpu(device, "new_empty")
    size = tuple(size) if isinstance(size, (list, tuple)) else (size,)
    return _out(np.empty(size, _dtype.resolve(dtype) or self.dtype), requires_grad)


def _fill_random(name, sample):
    def method(self, *args, generator=None):

        return self._set(name, sample(rng(generator), self.array.shape, *args))

    method.__name__ = name
    method.__doc__ = f"Fill in place with samples (torch.Tensor.{name})."
    return method


def _random_(g, shape, start=None, end=None):
    if start is None:
        return g.integers(0, 2 ** 24, shape)
    if end is None:
        start, end = 0, start
    return g.integers(start, end, shape)


RANDOM_FILLS = {
    "random_": _random_,
    "exponential_": lambda g, shape, lambd=1.0: g.exponential(1 / lambd, shape),
    "geometric_": lambda g, shape, p: g.geometric(p, shape),
    "log_normal_": lambda g, shape, mean=1.0, std=2.0: g.lognormal(mean, std, shape),
    "cauchy_": lambda g, shape, median=0.0, sigma=1.0: median + sigma * g.standard_cauchy(shape),
}


def _bernoulli_(self, p=0.5, *, generator=None):
    probs = p.array if hasattr(p, "array") else p
    return self._set("bernoulli_", rng(generator).random(self.shape) < probs)


def _methods() -> dict:
    """Every function-backed Tensor method this module adds: name -> function(self, ...)."""
    table = _namespace.op_functions()
    table.pop("gradient")  # torch.gradient has no method form
    table["polygamma"] = _polygamma_method
    for n in ("unravel_index", "meshgrid", "cartesian_prod", "broadcast_tensors",
              "broadcast_shapes", "atleast_1d", "atleast_2d", "atleast_3d", "hstack", "vstack",
              "row_stack", "dstack", "column_stack", "isin", "einsum", "tensordot",
              "chain_matmul", "cdist", "tril_indices", "triu_indices", "bucketize",
              "searchsorted", "block_diag", "combinations", "vander", "trapezoid", "trapz",
              "cumulative_trapezoid", "histogram"):
        table.pop(n, None)  # torch functions without a method form
    table.update({"as_strided": C.as_strided, "new_empty": _new_empty,
                  "bernoulli": lambda self, p=None, *, generator=None: C.bernoulli(
                      self, p, generator=generator),
                  "multinomial": C.multinomial, "bernoulli_": _bernoulli_})
    for name, sample in RANDOM_FILLS.items():
        table[name] = _fill_random(name, sample)
    return table


# in-place variants of methods: written back elementwise (same shape and dtype kind) ...
INPLACE = [*_P.DIFFERENTIABLE_UNARY, *_P.DIFFERENTIABLE_BINARY,
           "arcsin", "arccos", "arctan", "arcsinh", "arccosh", "arctanh", "arctan2", "fix",
           "sgn", "floor_divide", "nextafter", "heaviside", "bitwise_and", "bitwise_or",
           "bitwise_xor", "bitwise_left_shift", "bitwise_right_shift", "bitwise_not", "gcd",
           "lcm", "logical_and", "logical_or", "logical_xor", "logical_not", "addcmul",
           "addcdiv", "lerp", "logit", "nan_to_num", "float_power", "round", "clamp_min",
           "clamp_max", "divide", "polygamma", "mvlgamma", "igamma", "igammac", "exp", "log",
           "sqrt", "abs", "absolute", "neg", "negative", "sin", "cos", "tanh", "sigmoid", "pow",
           "multiply", "subtract", "true_divide", "relu", "clip", "eq", "ne", "lt", "le", "gt",
           "ge", "greater", "greater_equal", "less", "less_equal", "not_equal", "scatter",
           "scatter_add", "scatter_reduce", "index_add", "index_copy", "index_fill",
           "index_reduce", "index_put", "masked_fill", "masked_scatter", "put", "tril", "triu",
           "cumsum", "cumprod", "logcumsumexp", "addmm", "addmv", "addr", "baddbmm", "addbmm",
           "renorm", "cross"]
# ... and those that change the shape (the tensor's view is replaced)
INPLACE_VIEW = ["t", "transpose", "swapaxes", "swapdims", "squeeze", "unsqueeze", "as_strided"]


def _getattr(self, name: str):
    """Only reached for names Tensor lacks: torch's excluded names get ``Unsupported``."""
    if not name.startswith("_"):
        _unsupported.check("Tensor", name)
    raise AttributeError(f"'Tensor' object has no attribute {name!r}")


def register(cls) -> None:
    """Attach the surface above to ``cls`` (``convnp.Tensor``); names it defines itself stay."""
    cls.__getattr__ = _getattr
    methods, properties = _core()
    for name, fn in methods.items():
        if fn.__name__ == "<lambda>":  # a method of its own: named as the method
            fn.__name__, fn.__qualname__ = name, f"Tensor.{name}"
        setattr(cls, name, fn)
    for name, fn in properties.items():
        setattr(cls, name, property(fn))
    for name in FALSE_PROPERTIES:
        if name not in cls.__dict__:
            setattr(cls, name, _false_property(name))
    for name in FALSE_METHODS:
        setattr(cls, name, _false_method(name))
    for name, fn in PLAIN_METHODS.items():
        setattr(cls, name, fn)
    for name, dtype in CASTS.items():
        setattr(cls, name, _cast_method(name, dtype))
    for name, fn in PLAIN_PROPERTIES.items():
        setattr(cls, name, property(fn))
    for name, fn in _methods().items():
        if name not in cls.__dict__:
            setattr(cls, name, fn)
    for name in INPLACE:
        if name + "_" not in cls.__dict__ and hasattr(cls, name):
            setattr(cls, name + "_", _inplace(name + "_", getattr(cls, name)))
    for name in INPLACE_VIEW:
        if name + "_" not in cls.__dict__ and hasattr(cls, name):
            setattr(cls, name + "_", _inplace_view(name + "_", getattr(cls, name)))
