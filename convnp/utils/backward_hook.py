"""``BackwardHook``: ``Module.register_full_backward_hook`` / ``register_full_backward_pre_hook``
(torch's ``torch.utils.hooks.BackwardHook``). The module's tensor inputs and outputs are passed
through identity Functions whose backward sees the gradients flowing through the module
boundary, as torch does it.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from convnp.autograd.function import Function
from convnp.autograd.grad_mode import is_grad_enabled
from convnp.tensor import Tensor
from convnp.utils.hooks import hook_name


class _Boundary(Function):
    """Identity on any number of arrays; its backward hands the gradients to a callback."""

    @staticmethod
    def forward(ctx, *arrays, on_backward=None):
        ctx.on_backward = on_backward
        return tuple(arrays)

    @staticmethod
    def backward(ctx, *grads):
        return tuple(ctx.on_backward(grads))


def _tensor_positions(values) -> list[int]:
    return [i for i, v in enumerate(values) if isinstance(v, Tensor) and v.requires_grad]


class BackwardHook:
    """One module call's full backward hooks (see ``Module.register_full_backward_hook``).

    ``grad_input`` has one entry per positional argument of ``forward`` (None for arguments that
    are not tensors requiring grad); ``grad_output`` one per tensor output.
    """

    def __init__(self, module: Any, hooks: list[Callable], pre_hooks: list[Callable]) -> None:
        self.module = module
        self.hooks = hooks
        self.pre_hooks = pre_hooks
        self.n_inputs = 0
        self.input_positions: list[int] = []
        self.grad_output: tuple | None = None

    def setup_input_hook(self, args: tuple) -> tuple:
        self.n_inputs = len(args)
        self.input_positions = _tensor_positions(args) if is_grad_enabled() else []
        if not self.input_positions or not self.hooks:
            self.input_positions = []
            return args
        wrapped = _Boundary.apply(*(args[i] for i in self.input_positions),
                                  on_backward=self._on_input_grads)
        out = list(args)
        for i, t in zip(self.input_positions, wrapped):
            out[i] = t
        return tuple(out)

    def setup_output_hook(self, result: Any) -> Any:
        single = isinstance(result, Tensor)
        values = (result,) if single else result
        if not isinstance(values, (tuple, list)) or not is_grad_enabled():
            return result
        positions = _tensor_positions(values)
        if not positions:
            return result
        wrapped = _Boundary.apply(*(values[i] for i in positions),
                                  on_backward=self._on_output_grads)
        out = list(values)
        for i, t in zip(positions, wrapped):
            out[i] = t
        if single:
            return out[0]
        return type(values)(out)

    def _wrap_grads(self, grads) -> tuple:
        return tuple(None if g is None else Tensor._wrap(g) for g in grads)

    def _on_output_grads(self, grads: tuple) -> tuple:
        grads = tuple(grads)
        for hook in self.pre_hooks:
            res = hook(self.module, self._wrap_grads(grads))
            if res is not None:
                grads = self._replace(hook, "grad_output", grads, res)
        self.grad_output = self._wrap_grads(grads)
        if not self.input_positions:  # no input wants a gradient: fire now, as torch does
            for hook in self.hooks:
                hook(self.module, (None,) * self.n_inputs, self.grad_output)
        return grads

    def _on_input_grads(self, grads: tuple) -> tuple:
        full: list = [None] * self.n_inputs
        for i, g in zip(self.input_positions, grads):
            full[i] = g
        full_t = self._wrap_grads(full)
        for hook in self.hooks:
            res = hook(self.module, full_t, self.grad_output)
            if res is not None:
                full = list(self._replace(hook, "grad_input", tuple(full), res))
                full_t = self._wrap_grads(full)
        return tuple(full[i] for i in self.input_positions)

    def _replace(self, hook: Callable, what: str, old: tuple, res: Any) -> tuple:
        if isinstance(res, Tensor):
            res = (res,)
        if not isinstance(res, (tuple, list)) or len(res) != len(old):
            raise RuntimeError(f"backward hook {hook_name(hook)!r} of "
                               f"{type(self.module).__name__} returned {type(res).__name__} "
                               f"of length {len(res) if isinstance(res, (tuple, list)) else '-'}; "
                               f"expected None or a tuple of {len(old)} {what} gradients")
        new = []
        for o, r in zip(old, res):
            if r is None:
                new.append(None)
                continue
            a = r.array if isinstance(r, Tensor) else np.asarray(r)
            if o is not None and a.shape != o.shape:
                raise RuntimeError(f"backward hook {hook_name(hook)!r} of "
                                   f"{type(self.module).__name__} returned a {what} gradient of "
                                   f"shape {tuple(a.shape)}, expected {tuple(o.shape)}")
            new.append(a)
        return tuple(new)
