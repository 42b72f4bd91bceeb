"""Tensor creation: ``tensor``, ``zeros``, ``ones``, ``full``, ``arange``, ``linspace``, ``eye``,
``rand``, ``randn``, ``randint``, ``*_like`` — PyTorch's signatures and dtype defaults."""

from __future__ import annotations

import functools

import numpy as np

from convnp import _dtype as D
from convnp._device import require_cpu
from convnp.random import rng
from convnp.tensor import Tensor, _infer_array


def _cpu_only(fn):
    """Accept torch's ``device=`` keyword: the CPU (or None) passes, another device raises."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        if kwargs.get("device") is not None:
            require_cpu(kwargs["device"], fn.__name__)
        return fn(*args, **kwargs)

    return wrapper


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


def rand_like(input, dtype=None, generator=None, requires_grad=False) -> Tensor:
    return rand(*input.shape, dtype=dtype or input.dtype, generator=generator,
                requires_grad=requires_grad)


def randn_like(input, dtype=None, generator=None, requires_grad=False) -> Tensor:
    return randn(*input.shape, dtype=dtype or input.dtype, generator=generator,
                 requires_grad=requires_grad)
