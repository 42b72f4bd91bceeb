"""``Optimizer``: the base class of every optimizer — param groups, per-parameter state and
PyTorch's ``state_dict`` layout."""

from __future__ import annotations

import copy
from typing import Any, Callable, Iterable

import numpy as np

from convnp._dtype import is_floating
from convnp.autograd.grad_mode import enable_grad, no_grad
from convnp.optim._flags import check_flags
from convnp.optim._functional import decayed_grad
from convnp.tensor import Tensor


class _RequiredParameter:
    """Marks a hyperparameter without a default (PyTorch's ``optim.optimizer.required``)."""

    def __repr__(self) -> str:
        return "<required parameter>"


required = _RequiredParameter()


def _as_state_value(value: Any) -> Any:
    """Turn a loaded state value (Tensor, ndarray, torch tensor, number) into a convnp value."""
    if isinstance(value, Tensor):
        return Tensor._wrap(np.array(value.array, copy=True))
    if isinstance(value, np.ndarray):
        return Tensor._wrap(np.array(value, copy=True))
    if hasattr(value, "detach") and hasattr(value, "numpy"):  # a torch tensor (torch not imported)
        return Tensor._wrap(np.array(value.detach().cpu().numpy(), copy=True))
    return copy.deepcopy(value)


class Optimizer:
    """Base class of all optimizers.

    Args:
        params: an iterable of Tensors, or of dicts defining parameter groups (each dict has a
            ``'params'`` entry and may override any default hyperparameter).
        defaults: the default hyperparameters of every group.

    ``state`` maps each parameter to its per-parameter state (a dict of Tensors); ``state_dict``
    and ``load_state_dict`` use PyTorch's layout ``{'state': {index: {...}}, 'param_groups':
    [{..., 'params': [index, ...]}]}`` with parameters numbered in group order.
    """

    def __init__(self, params: Iterable, defaults: dict) -> None:
        self.defaults = defaults
        if isinstance(params, Tensor):
            raise TypeError("params argument given to the optimizer should be an iterable of "
                            f"Tensors or dicts, but got {type(params).__name__}")
        self.state: dict = {}
        self.param_groups: list[dict] = []
        param_groups = list(params)
        if len(param_groups) == 0:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(param_groups[0], dict):
            param_groups = [{"params": param_groups}]
        for group in param_groups:
            self.add_param_group(dict(group))

    def __repr__(self) -> str:
        lines = [self.__class__.__name__ + " ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for key in sorted(group):
                if key != "params":
                    lines.append(f"    {key}: {group[key]}")
        lines.append(")")
        return "\n".join(lines)

    def __getstate__(self) -> dict:
        return {"defaults": self.defaults, "state": self.state, "param_groups": self.param_groups}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)

    def add_param_group(self, param_group: dict) -> None:
        """Add a parameter group (a dict with ``'params'`` and optional hyperparameters)."""
        if not isinstance(param_group, dict):
            raise TypeError(f"add_param_group: param_group must be a dict, got "
                            f"{type(param_group).__name__}")
        params = param_group["params"]
        if isinstance(params, Tensor):
            param_group["params"] = [params]
        elif isinstance(params, set):
            raise TypeError("optimizer parameters need to be organized in ordered collections, "
                            "but the ordering of tensors in sets will change between runs. "
                            "Please use a list instead.")
        else:
            param_group["params"] = list(params)
        for p in param_group["params"]:
            if not isinstance(p, Tensor):
                raise TypeError("optimizer can only optimize Tensors, but one of the params is "
                                f"{type(p).__name__}")
            if p.grad_fn is not None:
                raise ValueError("can't optimize a non-leaf Tensor")
        for name, default in self.defaults.items():
            if default is required and name not in param_group:
                raise ValueError("parameter group didn't specify a value of required "
                                 f"optimization parameter {name}")
            param_group.setdefault(name, default)
        ids = [id(p) for p in param_group["params"]]
        if len(set(ids)) != len(ids):
            raise ValueError("optimizer contains a parameter group with duplicate parameters")
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if seen & set(ids):
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(param_group)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the gradients of all optimized parameters (to None by default, like torch)."""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    p.grad.grad_fn = None
                    p.grad.array[...] = 0

    def step(self, closure: Callable | None = None):
        """Perform one optimization step (``closure`` re-evaluates the loss and returns it)."""
        raise NotImplementedError

    def _closure(self, closure: Callable | None):
        if closure is None:
            return None
        with enable_grad():
            return closure()

    def _params_with_grad(self, group: dict):
        """(param, grad array) for each parameter of ``group`` that has a gradient.

        The caller updates ``p.array`` in place: as torch's in-place updates do, that bumps the
        parameter's version, so a retained graph that saved the old values refuses to backward.
        """
        for p in group["params"]:
            if p.grad is not None:
                p._bump_version()
                yield p, p.grad.array

    # ------------------------------------------------------------------ state dict
    def state_dict(self) -> dict:
        """``{'state': {index: {...}}, 'param_groups': [{..., 'params': [index, ...]}]}``.

        Like torch, the state values are references to the live buffers: deep-copy the dict to
        keep a snapshot while training goes on.
        """
        index: dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            for p in group["params"]:
                index.setdefault(id(p), len(index))
            packed["params"] = [index[id(p)] for p in group["params"]]
            groups.append(packed)
        state = {index[id(p)]: s for p, s in self.state.items() if id(p) in index}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict) -> None:
        """Load a ``state_dict`` (convnp's or torch's): hyperparameters and per-parameter state.

        Floating state is cast to its parameter's dtype (except ``step``), like torch.
        """
        if "state" not in state_dict or "param_groups" not in state_dict:
            raise ValueError("load_state_dict: expected a dict with 'state' and 'param_groups' "
                             f"keys, got keys {sorted(state_dict)}")
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError("loaded state dict has a different number of parameter groups "
                             f"({len(saved_groups)}) than the optimizer "
                             f"({len(self.param_groups)})")
        for i, (g, s) in enumerate(zip(self.param_groups, saved_groups)):
            if len(g["params"]) != len(s["params"]):
                raise ValueError("loaded state dict contains a parameter group that doesn't "
                                 f"match the size of optimizer's group: group {i} has "
                                 f"{len(s['params'])} parameters in the state dict, "
                                 f"{len(g['params'])} in the optimizer")
        id_map = {}
        for g, s in zip(self.param_groups, saved_groups):
            for idx, p in zip(s["params"], g["params"]):
                id_map[idx] = p
        new_state: dict = {}
        for k, v in state_dict["state"].items():
            key = int(k) if not isinstance(k, int) else k
            if key not in id_map:
                continue
            p = id_map[key]
            entry = {}
            for name, value in v.items():
                value = _as_state_value(value)
                if (name != "step" and isinstance(value, Tensor)
                        and is_floating(value.dtype) and is_floating(p.dtype)):
                    value = Tensor._wrap(value.array.astype(p.dtype, copy=False))
                entry[name] = value
            new_state[p] = entry
        new_groups = []
        for g, s in zip(self.param_groups, saved_groups):
            ng = {k: copy.deepcopy(v) for k, v in s.items() if k != "params"}
            ng["params"] = g["params"]
            new_groups.append(ng)
        self.state = new_state
        self.param_groups = new_groups


def _step_tensor() -> Tensor:
    """A fresh ``step`` counter: a 0-d float32 tensor, as torch keeps it."""
    return Tensor._wrap(np.zeros((), np.float32))


def fresh_state(p: Tensor, **buffers) -> dict:
    """A parameter's new state, in torch's key order: ``step`` (a 0-d float32 counter), then
    each named buffer. A number gives an array of ``p``'s shape and dtype filled with it; an
    ndarray (torch's 0-d float32 scalars such as NAdam's ``mu_product``) is taken as it is."""
    state = {"step": _step_tensor()}
    for name, init in buffers.items():
        value = init if isinstance(init, np.ndarray) else np.full_like(p.array, init)
        state[name] = Tensor._wrap(value)
    return state


def _bump(state: dict) -> float:
    """Increment ``state['step']`` in place and return the new value as a float."""
    step = state["step"]
    if not isinstance(step, Tensor):
        step = state["step"] = Tensor._wrap(np.asarray(step, np.float32))
    # a checkpoint may hand back the counter as shape (1,): keep it 0-d, as torch does
    step.array = np.asarray(step.array + np.float32(1), np.float32).reshape(())
    return float(step.array)


def _check(cond: bool, message: str) -> None:
    if not cond:
        raise ValueError(message)


_WHAT = {"lr": "learning rate", "eps": "epsilon value"}


def check_hyperparameters(betas: tuple | None = None, **nonnegative: float) -> None:
    """torch's constructor checks: every keyword must be >= 0 (``Invalid learning rate: -1``,
    ``Invalid momentum value: -1``, ...), checked in the order given, then each beta in [0, 1)."""
    for name, value in nonnegative.items():
        _check(value >= 0.0, f"Invalid {_WHAT.get(name, name + ' value')}: {value}")
    for i, beta in enumerate(betas or ()):
        _check(0.0 <= beta < 1.0, f"Invalid beta parameter at index {i}: {beta}")


class PerParameterOptimizer(Optimizer):
    """An optimizer whose rule updates each parameter from its own gradient and state (all of
    torch's except LBFGS). The base writes the loop once: the closure, ``no_grad``, torch's
    implementation-flag checks, the parameters that have a gradient, and ``_gradient``:
    ``maximize`` and the (L2 or, with a ``decoupled_weight_decay`` group entry, decoupled)
    weight decay. A subclass writes the rule, ``_update(p, g, group)``, and the state it starts
    from, ``_init_state(p, group)`` (usually :func:`fresh_state`), which ``_state`` creates on
    the parameter's first step.
    """

    #: the state buffers that start at zero, in torch's order, for the default ``_init_state``
    _zero_buffers: tuple[str, ...] = ()

    def _init_state(self, p: Tensor, group: dict) -> dict:
        return fresh_state(p, **dict.fromkeys(self._zero_buffers, 0))

    def _state(self, p: Tensor, group: dict) -> tuple[dict, float]:
        """``p``'s state (created on its first step) and the step number, counted here."""
        state = self.state.setdefault(p, {})
        if not state:
            state.update(self._init_state(p, group))
        return state, _bump(state)

    def _gradient(self, p: Tensor, grad: np.ndarray, group: dict) -> np.ndarray:
        """The gradient the rule sees (a rule that decays the weights at a point of its own, or
        has no ``maximize``, overrides this)."""
        return decayed_grad(p, grad, group["maximize"], group.get("weight_decay", 0),
                            group["lr"], group.get("decoupled_weight_decay", False))

    def _update(self, p: Tensor, g: np.ndarray, group: dict) -> None:
        raise NotImplementedError

    def step(self, closure: Callable | None = None):
        """Perform one optimization step; returns ``closure()``'s loss when a closure is given."""
        loss = self._closure(closure)
        with no_grad():
            for group in self.param_groups:
                check_flags(type(self).__name__, group)
                for p, grad in self._params_with_grad(group):
                    self._update(p, self._gradient(p, grad, group), group)
        return loss
