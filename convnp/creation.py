"""Tensor creation: ``tensor``, ``zeros``, ``ones``, ``full``, ``arange``, ``linspace``, ``eye``,
``rand``, ``randn``, ``randint``, ``*_like`` — PyTorch's signatures and dtype defaults."""

from __future__ import annotations

import functools

import numpy as np

from convnp import _dtype as D
from convnp._device import require_cpu
from convnp._layout import _check_memory_format, strided
from convnp.ops.movement import GetItem
from convnp.random import rng
from convnp.tensor import Tensor, _infer_array


def _cpu_only(fn):
    """Accept torch's ``device=`` keyword: the CPU (or None) passes, another device raises.
    torch's layout keywords are accepted too: ``memory_format=`` (convnp keeps NCHW, see
    ``convnp.channels_last``), ``layout=convnp.strided``, ``pin_memory=False``; and functions
    taking ``*size`` also take ``size=`` as a keyword, as torch's do."""
    import inspect

    varsize = any(p.kind is p.VAR_POSITIONAL and p.name == "size"
                  for p in inspect.signature(fn).parameters.values())

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        if kwargs.get("device") is not None:
            require_cpu(kwargs["device"], fn.__name__)
        _layout_kwargs(kwargs, fn.__name__)
        if varsize and "size" in kwargs:
            if args:
                raise TypeError(f"{fn.__name__}: got the size both positionally and as size=")
            args = (kwargs.pop("size"),)
        return fn(*args, **kwargs)

    return wrapper


def _layout_kwargs(kwargs: dict, where: str) -> None:
    """Check and drop torch's layout keywords (all describe what convnp always does)."""
    _check_memory_format(kwargs.pop("memory_format", None), where)
    lay = kwargs.pop("layout", None)
    if lay is not None and lay is not strided:
        raise NotImplementedError(f"{where}: layout={lay!r} is not supported; convnp tensors "
                                  "are dense (convnp.strided)")
    if kwargs.pop("pin_memory", False):
        raise NotImplementedError(f"{where}: pin_memory=True needs a CUDA device; convnp "
                                  "computes on the CPU (drop the argument)")


def _size(size) -> tuple:
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    for s in size:
        if not isinstance(s, (int, np.integer)) or s < 0:
            raise ValueError(f"sizes must be non-negative ints, got {tuple(size)}")
    return tuple(int(s) for s in size)


def _float(dtype) -> np.dtype:
    return D.resolve(dtype) or D.get_default_dtype()


def _out(arr: np.ndarray, requires_grad: bool) -> Tensor:
    t = Tensor._wrap(arr)
    return t.requires_grad_(True) if requires_grad else t


@_cpu_only
def tensor(data, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """Copy ``data`` (nested lists, numbers, arrays, tensors) into a new tensor.

    Python floats give float32 (the default dtype), ints give int64, bools give bool; NumPy
    arrays keep their dtype.
    """
    arr = _infer_array(data, dtype)
    arr = np.array(arr, copy=True)
    return _out(arr, requires_grad)


@_cpu_only
def as_tensor(data, dtype=None, device=None) -> Tensor:
    """Like ``tensor`` but shares memory with a NumPy array when the dtype already matches."""
    if isinstance(data, Tensor) and (dtype is None or D.resolve(dtype) == data.dtype):
        return data
    return Tensor._wrap(_infer_array(data, dtype))


def from_numpy(array: np.ndarray) -> Tensor:
    """Wrap a NumPy array without copying (dtype kept)."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy: expected np.ndarray, got {type(array).__name__}")
    return Tensor._wrap(array)


@_cpu_only
def zeros(*size, dtype=None, device=None, requires_grad=False) -> Tensor:
    return _out(np.zeros(_size(size), _float(dtype)), requires_grad)


@_cpu_only
def ones(*size, dtype=None, device=None, requires_grad=False) -> Tensor:
    return _out(np.ones(_size(size), _float(dtype)), requires_grad)


@_cpu_only
def empty(*size, dtype=None, device=None, requires_grad=False) -> Tensor:
    return _out(np.empty(_size(size), _float(dtype)), requires_grad)


@_cpu_only
def full(size, fill_value, dtype=None, device=None, requires_grad=False) -> Tensor:
    if dtype is None:
        dtype = (np.bool_ if isinstance(fill_value, bool) else np.int64
                 if isinstance(fill_value, (int, np.integer)) else D.get_default_dtype())
    return _out(np.full(_size((size,)), fill_value, D.resolve(dtype)), requires_grad)


@_cpu_only
def arange(start, end=None, step=1, dtype=None, device=None, requires_grad=False) -> Tensor:
    if end is None:
        start, end = 0, start
    if dtype is None:
        ints = all(isinstance(v, (int, np.integer)) for v in (start, end, step))
        dtype = np.int64 if ints else D.get_default_dtype()
    return _out(np.arange(start, end, step).astype(D.resolve(dtype)), requires_grad)


@_cpu_only
def linspace(start, end, steps, dtype=None, device=None, requires_grad=False) -> Tensor:
    return _out(np.linspace(start, end, steps).astype(_float(dtype)), requires_grad)


@_cpu_only
def eye(n, m=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    return _out(np.eye(n, m, dtype=_float(dtype)), requires_grad)


@_cpu_only
def rand(*size, generator=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Uniform samples in [0, 1)."""
    return _out(rng(generator).random(_size(size)).astype(_float(dtype)), requires_grad)


@_cpu_only
def randn(*size, generator=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Standard normal samples."""
    return _out(rng(generator).standard_normal(_size(size)).astype(_float(dtype)), requires_grad)


@_cpu_only
def randint(low, high=None, size=None, generator=None, dtype=None, device=None) -> Tensor:
    """Integers uniform in [low, high) (``randint(high, size)`` also accepted)."""
    if size is None:
        if high is None or not isinstance(high, (tuple, list)):
            raise TypeError("randint: expected randint(low, high, size) or randint(high, size)")
        low, high, size = 0, low, high
    if high is None:
        low, high = 0, low
    return Tensor._wrap(rng(generator).integers(low, high, _size((size,))).astype(
        D.resolve(dtype) or np.int64))


@_cpu_only
def randperm(n, generator=None, dtype=None, device=None) -> Tensor:
    return Tensor._wrap(rng(generator).permutation(n).astype(D.resolve(dtype) or np.int64))


def _like(fn, input: Tensor, dtype, requires_grad, **kw) -> Tensor:
    dtype = D.resolve(dtype) or input.dtype
    return _out(fn(input.shape, dtype, **kw), requires_grad)


@_cpu_only
def zeros_like(input, dtype=None, device=None, requires_grad=False) -> Tensor:
    return _like(np.zeros, input, dtype, requires_grad)


@_cpu_only
def ones_like(input, dtype=None, device=None, requires_grad=False) -> Tensor:
    return _like(np.ones, input, dtype, requires_grad)


@_cpu_only
def empty_like(input, dtype=None, device=None, requires_grad=False) -> Tensor:
    return _like(np.empty, input, dtype, requires_grad)


@_cpu_only
def full_like(input, fill_value, dtype=None, device=None, requires_grad=False) -> Tensor:
    return _out(np.full(input.shape, fill_value, D.resolve(dtype) or input.dtype), requires_grad)


@_cpu_only
def rand_like(input, dtype=None, generator=None, requires_grad=False) -> Tensor:
    return rand(*input.shape, dtype=dtype or input.dtype, generator=generator,
                requires_grad=requires_grad)


@_cpu_only
def randn_like(input, dtype=None, generator=None, requires_grad=False) -> Tensor:
    return randn(*input.shape, dtype=dtype or input.dtype, generator=generator,
                 requires_grad=requires_grad)


# ----------------------------------------------------------------------------- more creation
@_cpu_only
def range(start, end=None, step=1, dtype=None, device=None, requires_grad=False) -> Tensor:  # noqa: A001
    """Deprecated in torch: like ``arange`` but ``end`` included and a float result."""
    if end is None:
        start, end = 0, start
    n = int(np.floor((end - start) / step)) + 1
    return _out((start + step * np.arange(max(n, 0))).astype(_float(dtype)), requires_grad)


@_cpu_only
def logspace(start, end, steps, base=10.0, dtype=None, device=None,
             requires_grad=False) -> Tensor:
    """``steps`` values ``base ** x`` for x evenly spaced from ``start`` to ``end``."""
    return _out(np.power(base, np.linspace(start, end, steps)).astype(_float(dtype)),
                requires_grad)


@_cpu_only
def asarray(obj, *, dtype=None, device=None, copy=None, requires_grad=False) -> Tensor:
    """A tensor sharing memory with ``obj`` where possible (``copy=True`` forces a copy)."""
    if isinstance(obj, Tensor) and copy is not True and (dtype is None or
                                                         D.resolve(dtype) == obj.dtype):
        return obj
    arr = _infer_array(obj, dtype)
    if copy:
        arr = np.array(arr, copy=True)
    return _out(arr, requires_grad)


def frombuffer(buffer, *, dtype, count=-1, offset=0, requires_grad=False) -> Tensor:
    """A 1-d tensor viewing the bytes of ``buffer`` (any object with the buffer protocol)."""
    return _out(np.frombuffer(buffer, D.resolve(dtype), count, offset), requires_grad)


def from_dlpack(ext_tensor) -> Tensor:
    """A tensor sharing memory with an object that implements ``__dlpack__`` (CPU only)."""
    return Tensor._wrap(np.from_dlpack(ext_tensor))


@_cpu_only
def empty_strided(size, stride, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    """``empty(size)``; convnp lays every new tensor out row-major, whatever ``stride`` says."""
    if len(tuple(size)) != len(tuple(stride)):
        raise RuntimeError(f"empty_strided: size {tuple(size)} and stride {tuple(stride)} must "
                           "have the same length")
    return _out(np.empty(_size((size,)), _float(dtype)), requires_grad)


@_cpu_only
def empty_permuted(size, physical_layout, *, dtype=None, device=None,
                   requires_grad=False) -> Tensor:
    """``empty(size)`` (convnp lays tensors out row-major)."""
    return _out(np.empty(_size((size,)), _float(dtype)), requires_grad)


@_cpu_only
def scalar_tensor(s, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    """A 0-d tensor holding ``s`` (default float dtype)."""
    return _out(np.asarray(s, _float(dtype)), requires_grad)


def as_strided(input, size, stride, storage_offset=0) -> Tensor:
    """The view of ``input``'s (contiguous) elements with the given ``size`` and ``stride`` (in
    elements), as torch reads its storage; differentiable (overlapping windows accumulate)."""
    size, stride = tuple(int(s) for s in size), tuple(int(s) for s in stride)
    if len(size) != len(stride):
        raise RuntimeError(f"as_strided: size {size} and stride {stride} must have the same "
                           "length")
    n = input.numel()
    last = storage_offset + sum((s - 1) * st for s, st in zip(size, stride) if s > 0)
    if any(s < 0 for s in stride) or (all(s > 0 for s in size) and last >= n):
        raise RuntimeError(f"as_strided: size {size}, stride {stride} and offset "
                           f"{storage_offset} reach element {last} of a tensor of {n}")
    index = np.zeros(size, np.int64) + storage_offset
    for axis, st in enumerate(stride):
        shape = [1] * len(size)
        shape[axis] = -1
        index = index + (np.arange(size[axis]) * st).reshape(shape)
    return GetItem.apply(input.reshape(-1), index=index)


# random sampling
def bernoulli(input, p=None, *, generator=None) -> Tensor:
    """0/1 samples with probabilities ``input`` (or the scalar ``p``), in ``input``'s dtype."""
    probs = input.array if p is None else np.full(input.shape, p)
    if np.any((probs < 0) | (probs > 1)):
        raise RuntimeError("bernoulli: probabilities must be in [0, 1]")
    return Tensor._wrap((rng(generator).random(input.shape) < probs).astype(input.dtype))


def multinomial(input, num_samples, replacement=False, *, generator=None) -> Tensor:
    """Indices sampled from the rows of ``input`` (non-negative weights), int64."""
    w = input.array.astype(np.float64)
    if w.ndim not in (1, 2):
        raise RuntimeError(f"multinomial: input must be 1-d or 2-d, got {w.ndim} dims")
    rows = w.reshape(-1, w.shape[-1])
    if np.any(rows < 0) or np.any(~np.isfinite(rows)) or np.any(rows.sum(1) <= 0):
        raise RuntimeError("multinomial: weights must be finite, non-negative and not all zero")
    if not replacement and num_samples > rows.shape[1]:
        raise RuntimeError(f"multinomial: cannot sample {num_samples} > {rows.shape[1]} "
                           "categories without replacement")
    g = rng(generator)
    out = np.stack([g.choice(rows.shape[1], num_samples, replace=replacement, p=r / r.sum())
                    for r in rows])
    return Tensor._wrap(out.reshape(w.shape[:-1] + (num_samples,)).astype(np.int64))


def normal(mean=0.0, std=1.0, size=None, *, generator=None, dtype=None, device=None,
           requires_grad=False) -> Tensor:
    """Normal samples: elementwise for tensor ``mean`` / ``std`` (broadcast), else of ``size``.
    No gradient flows to ``mean`` or ``std`` (torch's is zero as well)."""
    if device is not None:
        require_cpu(device, "normal")
    m = mean.array if isinstance(mean, Tensor) else mean
    s = std.array if isinstance(std, Tensor) else std
    if np.any(np.asarray(s) < 0):
        raise RuntimeError("normal: std must be non-negative")
    if size is None:
        if not isinstance(mean, Tensor) and not isinstance(std, Tensor):
            raise TypeError("normal: pass 'size' when mean and std are numbers")
        like = mean if isinstance(mean, Tensor) else std
        shape = np.broadcast_shapes(np.shape(m), np.shape(s))
        dt = like.dtype
    else:
        shape = _size((size,)) if not isinstance(size, (int, np.integer)) else (int(size),)
        dt = _float(dtype)
    return _out(rng(generator).normal(m, s, shape).astype(dt), requires_grad)


def poisson(input, generator=None) -> Tensor:
    """Poisson samples with rates ``input``, in ``input``'s dtype."""
    return Tensor._wrap(rng(generator).poisson(input.array).astype(input.dtype))


@_cpu_only
def randint_like(input, low=0, high=None, *, dtype=None, device=None, generator=None,
                 requires_grad=False) -> Tensor:
    """Integers uniform in [low, high) with ``input``'s shape (and dtype unless given)."""
    if high is None:
        low, high = 0, low
    arr = rng(generator).integers(low, high, input.shape)
    return _out(arr.astype(D.resolve(dtype) or input.dtype), requires_grad)


CREATION = ["range", "logspace", "asarray", "frombuffer", "from_dlpack", "empty_strided",
            "empty_permuted", "scalar_tensor", "as_strided", "bernoulli", "multinomial", "normal",
            "poisson", "randint_like"]
