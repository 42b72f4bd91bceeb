"""The torch oracle: run one case in convnp and in torch with the same inputs and a random upstream
gradient; compare the output(s) and every input gradient.

    out = compare(lambda x, w: F.conv2d(x, w, padding=1),
                  lambda x, w: torch.nn.functional.conv2d(x, w, padding=1),
                  x_array, w_array, dtype=np.float64)

Arrays with a floating dtype become leaves that require grad (pass ``grad=[True, False, ...]`` to
choose). Integer arrays (targets, indices) are passed through as int64 tensors without grad.
Non-array arguments (ints, None, tuples) are passed unchanged to both functions.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

import convnp

# tight default tolerances per dtype; a case may pass its own, never loosened globally
TOL = {np.dtype(np.float32): dict(rtol=1e-4, atol=1e-5),
       np.dtype(np.float64): dict(rtol=1e-9, atol=1e-11)}


def _torch():
    import torch

    return torch


def _outputs(o) -> list:
    if isinstance(o, (tuple, list)):
        return list(o)
    return [o]


def _to_np(t) -> np.ndarray:
    if isinstance(t, convnp.Tensor):
        return t.array
    return t.detach().cpu().numpy()


def compare(fn: Callable, tfn: Callable, *args, dtype=np.float32,
            grad: Sequence[bool] | None = None,
            rtol: float | None = None, atol: float | None = None,
            grad_rtol: float | None = None, grad_atol: float | None = None, seed: int = 0,
            check_grad: bool = True):
    """Compare ``fn`` (convnp) with ``tfn`` (torch) on the same inputs; returns convnp's outputs."""
    torch = _torch()
    dtype = np.dtype(dtype)
    tol = TOL.get(dtype, dict(rtol=1e-3, atol=1e-3))
    rtol = tol["rtol"] if rtol is None else rtol
    atol = tol["atol"] if atol is None else atol
    grad_rtol = rtol if grad_rtol is None else grad_rtol
    grad_atol = atol if grad_atol is None else grad_atol

    c_args, t_args, leaves = [], [], []
    float_idx = [i for i, a in enumerate(args) if isinstance(a, np.ndarray) and a.dtype.kind == "f"]
    for i, a in enumerate(args):
        if isinstance(a, np.ndarray):
            if a.dtype.kind == "f":
                a = a.astype(dtype)
                want = grad[float_idx.index(i)] if grad is not None else True
                c = convnp.tensor(a, requires_grad=want)
                t = torch.tensor(a, requires_grad=want)
                if want:
                    leaves.append((i, c, t))
            else:
                c, t = convnp.tensor(a), torch.tensor(a)
            c_args.append(c)
            t_args.append(t)
        else:
            c_args.append(a)
            t_args.append(a)

    c_out = _outputs(fn(*c_args))
    t_out = _outputs(tfn(*t_args))
    assert len(c_out) == len(t_out), f"convnp returned {len(c_out)} outputs, torch {len(t_out)}"
    for k, (c, t) in enumerate(zip(c_out, t_out)):
        cn, tn = _to_np(c), _to_np(t)
        assert cn.shape == tuple(tn.shape), f"output {k}: shape {cn.shape} != torch {tn.shape}"
        if tn.dtype.kind in "iub":
            np.testing.assert_array_equal(cn, tn, err_msg=f"output {k} (integer) differs")
        else:
            assert cn.dtype == tn.dtype, f"output {k}: dtype {cn.dtype} != torch {tn.dtype}"
            np.testing.assert_allclose(cn, tn, rtol=rtol, atol=atol,
                                       err_msg=f"output {k} differs from torch")

    if not (check_grad and leaves):
        return c_out if len(c_out) > 1 else c_out[0]
    r = np.random.default_rng(seed)
    c_total, t_total = None, None
    for c, t in zip(c_out, t_out):
        if not (isinstance(c, convnp.Tensor) and c.requires_grad and c.dtype.kind == "f"):
            continue
        v = r.standard_normal(c.shape).astype(c.dtype)
        cs = (c * convnp.tensor(v)).sum()
        ts = (t * torch.tensor(v)).sum()
        c_total = cs if c_total is None else c_total + cs
        t_total = ts if t_total is None else t_total + ts
    assert c_total is not None, "no differentiable output to compare gradients on"
    c_total.backward()
    t_total.backward()
    for i, c, t in leaves:
        tg = t.grad
        cg = c.grad
        if tg is None:
            assert cg is None or not np.any(cg.data), \
                f"input {i}: convnp has a gradient, torch none"
            continue
        assert cg is not None, f"input {i}: torch has a gradient, convnp none"
        assert cg.shape == tuple(tg.shape), f"input {i}: grad shape {cg.shape} != {tuple(tg.shape)}"
        np.testing.assert_allclose(cg.data, tg.numpy(), rtol=grad_rtol, atol=grad_atol,
                                   err_msg=f"gradient of input {i} differs from torch")
    return c_out if len(c_out) > 1 else c_out[0]


def rand(*shape, seed: int = 0, low: float = -1.0, high: float = 1.0) -> np.ndarray:
    """float64 uniform test data (cast by ``compare``)."""
    return np.random.default_rng(seed).uniform(low, high, shape)


def distinct(*shape, seed: int = 0, spacing: float = 0.01) -> np.ndarray:
    """Tie-free data: a random permutation of evenly spaced values (for max/relu/sort tests)."""
    n = int(np.prod(shape))
    vals = (np.arange(n) - n / 2 + 0.5) * spacing
    return np.random.default_rng(seed).permutation(vals).reshape(shape)


def compare_module(c_mod, t_mod, *inputs: np.ndarray, dtype=np.float64, train: bool = True,
                   rtol: float | None = None, atol: float | None = None, seed: int = 0):
    """Load ``t_mod``'s state_dict into ``c_mod`` (same key names), run both on ``inputs`` and
    compare the output, the input gradients and every parameter gradient (random upstream)."""
    torch = _torch()
    dtype = np.dtype(dtype)
    tol = TOL.get(dtype, dict(rtol=1e-3, atol=1e-3))
    rtol = tol["rtol"] if rtol is None else rtol
    atol = tol["atol"] if atol is None else atol
    t_mod = t_mod.to(torch.float64 if dtype == np.float64 else torch.float32)
    c_mod = c_mod.to(dtype)
    c_mod.load_state_dict(t_mod.state_dict())
    c_mod.train(train)
    t_mod.train(train)
    c_in = [convnp.tensor(x.astype(dtype), requires_grad=True) for x in inputs]
    t_in = [torch.tensor(x.astype(dtype), requires_grad=True) for x in inputs]
    c_out, t_out = c_mod(*c_in), t_mod(*t_in)
    np.testing.assert_allclose(c_out.data, t_out.detach().numpy(), rtol=rtol, atol=atol,
                               err_msg="module output differs from torch")
    v = np.random.default_rng(seed).standard_normal(c_out.shape).astype(dtype)
    (c_out * convnp.tensor(v)).sum().backward()
    (t_out * torch.tensor(v)).sum().backward()
    for i, (c, t) in enumerate(zip(c_in, t_in)):
        np.testing.assert_allclose(c.grad.data, t.grad.numpy(), rtol=rtol, atol=atol,
                                   err_msg=f"gradient of input {i} differs from torch")
    t_params = dict(t_mod.named_parameters())
    for name, p in c_mod.named_parameters():
        tg = t_params[name].grad
        if tg is None:
            assert p.grad is None or not np.any(p.grad.data), f"{name}: grad only in convnp"
            continue
        np.testing.assert_allclose(p.grad.data, tg.numpy(), rtol=rtol, atol=atol,
                                   err_msg=f"gradient of parameter {name} differs from torch")
    for name, b in t_mod.named_buffers():
        np.testing.assert_allclose(c_mod.state_dict()[name].data, b.numpy(), rtol=rtol,
                                   atol=atol, err_msg=f"buffer {name} differs from torch")
    return c_out
