"""``swap_in_optimizer_params_and_state``: run an optimizer on other parameters and state for a
block (torch's ``torch.optim.swap_in_optimizer_params_and_state``)."""

from __future__ import annotations

import contextlib
from typing import Any

__all__ = ["swap_in_optimizer_params_and_state"]


def _fail(what: str):
    raise RuntimeError(f"swap_in_optimizer_params_and_state requires {what}")


@contextlib.contextmanager
def swap_in_optimizer_params_and_state(optimizer, swapin_parameters: dict,
                                       swapin_optim_state: dict[str, Any]):
    """Temporarily replace ``optimizer``'s parameters and state by ``swapin_parameters`` (in
    ``optimizer.param_groups`` order, e.g. ``dict(model.named_parameters())`` of another copy)
    and ``swapin_optim_state`` (an ``optimizer.state_dict()``-shaped dict); ``step()`` inside
    the block updates the swapped-in tensors and state tensors in place. On exit the optimizer's
    own groups and state are restored.

    Example::

        >>> with swap_in_optimizer_params_and_state(opt, dict(shadow.named_parameters()), sd):
        ...     opt.step()      # updates shadow's parameters and sd's state tensors
    """
    if not optimizer.state:
        _fail("initialized optimizer state.")
    if not isinstance(swapin_optim_state, dict):
        _fail("a DCP-style optimizer state_dict.")
    state = swapin_optim_state.get("state")
    groups = swapin_optim_state.get("param_groups")
    if not isinstance(state, dict) or not isinstance(groups, list) \
            or len(groups) != len(optimizer.param_groups):
        _fail("a state_dict with a 'state' dict and one 'param_groups' entry per optimizer "
              "group.")
    flat = list(swapin_parameters.values())
    offset, seen, plan = 0, set(), []
    for live, group in zip(optimizer.param_groups, groups):
        ids = list(group.get("params", []))
        if len(ids) != len(live["params"]):
            _fail("the explicit parameter state to match optimizer.param_groups ordering.")
        params = flat[offset:offset + len(ids)]
        if len(params) != len(ids):
            _fail("the explicit parameter state to match optimizer.param_groups ordering.")
        offset += len(ids)
        seen.update(ids)
        plan.append((live, group, params, ids))
    if offset != len(flat):
        _fail("the explicit parameter state to match optimizer.param_groups ordering.")
    if any(k not in seen for k in state):
        _fail("swapin state keys to belong to the swapped-in param groups.")
    original_state = optimizer.state
    snapshots = [dict(g) for g in optimizer.param_groups]
    try:
        new_state: dict = {}
        for live, group, params, ids in plan:
            live["params"] = params
            for key, value in group.items():
                if key != "params":
                    live[key] = value
            for p, i in zip(params, ids):
                # a shallow copy: in-place updates reach the caller's state tensors, while new
                # keys stay local to the block
                new_state[p] = dict(state.get(i, {}))
        optimizer.state = new_state
        yield
    finally:
        for live, snap in zip(optimizer.param_groups, snapshots):
            live.clear()
            live.update(snap)
        optimizer.state = original_state
