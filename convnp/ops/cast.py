"""Copies of a tensor: ``Tensor.to(dtype)`` (a differentiable cast, torch's ``_to_copy``) and
``Tensor.clone()``."""

from __future__ import annotations

from convnp import _dtype
from convnp._device import check_cpu, require_cpu
from convnp._dtype import is_floating
from convnp.autograd.function import Function
from convnp.tensor import Tensor


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


def to(self: Tensor, *args, **kwargs) -> Tensor:
    """``to(dtype)``, ``to('cpu')`` or ``to(other_tensor)``; differentiable dtype casts."""
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
    return Cast.apply(self, dtype=dtype)


def clone(self: Tensor, *, memory_format=None) -> Tensor:
    """A copy of the data that stays in the graph (its gradient flows back to ``self``)."""
    return Clone.apply(self)
