"""Optimizers: trajectories equal to torch's over many steps for every option, state_dict layout
and round trips (convnp -> convnp and torch -> convnp), param groups, errors, golden steps."""

import copy

import numpy as np
import pytest

import convnp
from convnp import optim

STEPS = 40

# (optimizer name, kwargs): every option at least once, and combinations
CASES = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.1, momentum=0.9)),
    ("SGD", dict(lr=0.1, momentum=0.9, dampening=0.5)),
    ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True)),
    ("SGD", dict(lr=0.1, weight_decay=0.1)),
    ("SGD", dict(lr=0.05, maximize=True)),
    ("SGD", dict(lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.05, maximize=True)),
    ("Adam", dict()),
    ("Adam", dict(lr=0.01, amsgrad=True)),
    ("Adam", dict(lr=0.01, weight_decay=0.1)),
    ("Adam", dict(lr=0.01, maximize=True)),
    ("Adam", dict(lr=0.02, betas=(0.8, 0.99), eps=1e-6)),
    ("Adam", dict(lr=0.01, amsgrad=True, weight_decay=0.05, maximize=True)),
    ("AdamW", dict()),
    ("AdamW", dict(lr=0.01, weight_decay=0.1)),
    ("AdamW", dict(lr=0.01, amsgrad=True)),
    ("AdamW", dict(lr=0.01, betas=(0.85, 0.995), maximize=True, weight_decay=0.0)),
    ("RMSprop", dict()),
    ("RMSprop", dict(lr=0.01, centered=True)),
    ("RMSprop", dict(lr=0.01, momentum=0.9)),
    ("RMSprop", dict(lr=0.005, momentum=0.5, centered=True)),
    ("RMSprop", dict(lr=0.01, alpha=0.9, eps=1e-6, weight_decay=0.1)),
    ("RMSprop", dict(lr=0.01, maximize=True)),
    ("Adagrad", dict()),
    ("Adagrad", dict(lr=0.1, lr_decay=0.01)),
    ("Adagrad", dict(lr=0.1, weight_decay=0.1)),
    ("Adagrad", dict(lr=0.1, initial_accumulator_value=0.5, eps=1e-6)),
    ("Adagrad", dict(lr=0.1, maximize=True)),
]


def _ids(case):
    name, kw = case
    return name + "".join(f"-{k}={v}" for k, v in kw.items())


def _init_weights(seed=0):
    r = np.random.default_rng(seed)
    return {"w1": r.uniform(-1, 1, (4, 5)), "b1": r.uniform(-1, 1, (5,)),
            "w2": r.uniform(-1, 1, (5, 3)), "b2": r.uniform(-1, 1, (3,))}


def _data(seed=1):
    r = np.random.default_rng(seed)
    return r.uniform(-1, 1, (6, 4)), r.uniform(-1, 1, (6, 3))


def _loss(lib, p, x, y):
    """A small tanh MLP regression loss, written once for both libraries."""
    h = (x @ p["w1"] + p["b1"]).tanh()
    d = h @ p["w2"] + p["b2"] - y
    return (d * d).mean()


def _objective(lib, p, x, y, kw):
    # maximize the negated loss, so that the trajectory converges instead of diverging
    loss = _loss(lib, p, x, y)
    return -loss if kw.get("maximize") else loss


def _params(lib, weights, dtype):
    if lib is convnp:
        return {k: convnp.tensor(v.astype(dtype), requires_grad=True) for k, v in weights.items()}
    return {k: lib.tensor(v.astype(dtype), requires_grad=True) for k, v in weights.items()}


def _run(lib, opt_mod, name, kw, dtype, steps, groups=None, sched=None):
    weights = _init_weights()
    x, y = _data()
    p = _params(lib, weights, dtype)
    xs, ys = lib.tensor(x.astype(dtype)), lib.tensor(y.astype(dtype))
    params = list(p.values()) if groups is None else groups(p)
    opt = getattr(opt_mod, name)(params, **kw)
    s = sched(opt) if sched is not None else None
    lrs = []
    for _ in range(steps):
        opt.zero_grad()
        _objective(lib, p, xs, ys, kw).backward()
        opt.step()
        if s is not None:
            s.step()
            lrs.append(s.get_last_lr())
    return p, opt, lrs


def _np(t):
    return t.array if isinstance(t, convnp.Tensor) else t.detach().numpy()


def _assert_params(cp, tp, dtype):
    tol = dict(rtol=2e-4, atol=2e-5) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-12)
    for k in cp:
        assert cp[k].dtype == np.dtype(dtype)
        np.testing.assert_allclose(_np(cp[k]), _np(tp[k]), err_msg=f"parameter {k}", **tol)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("case", CASES, ids=[_ids(c) for c in CASES])
def test_trajectory_matches_torch(case, dtype):
    torch = pytest.importorskip("torch")
    name, kw = case
    cp, copt, _ = _run(convnp, optim, name, kw, dtype, STEPS)
    tp, topt, _ = _run(torch, torch.optim, name, kw, dtype, STEPS)
    _assert_params(cp, tp, dtype)
    # same per-parameter state (names and values) as torch
    cs, ts = copt.state_dict()["state"], topt.state_dict()["state"]
    assert sorted(cs) == sorted(ts)
    for i in ts:
        assert sorted(cs[i]) == sorted(ts[i]), f"state keys of param {i}"
        for key in ts[i]:
            np.testing.assert_allclose(_np(cs[i][key]), _np(ts[i][key]), rtol=1e-3, atol=1e-5)


@pytest.mark.parametrize("case", [c for c in CASES if c[1].get("momentum") or c[0] != "SGD"][::3],
                         ids=_ids)
def test_state_dict_round_trip_mid_way(case):
    """20 steps, save, rebuild optimizer + params, load, 20 more == 40 uninterrupted steps."""
    name, kw = case
    dtype = np.float64
    full, _, _ = _run(convnp, optim, name, kw, dtype, 2 * 20)
    p, opt, _ = _run(convnp, optim, name, kw, dtype, 20)
    saved_opt = copy.deepcopy(opt.state_dict())
    saved_p = {k: v.array.copy() for k, v in p.items()}
    p2 = {k: convnp.tensor(v, requires_grad=True) for k, v in saved_p.items()}
    opt2 = getattr(optim, name)(list(p2.values()), **kw)
    opt2.load_state_dict(saved_opt)
    x, y = _data()
    xs, ys = convnp.tensor(x), convnp.tensor(y)
    for _ in range(20):
        opt2.zero_grad()
        _objective(convnp, p2, xs, ys, kw).backward()
        opt2.step()
    for k in full:
        np.testing.assert_allclose(p2[k].array, full[k].array, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name,kw", [("SGD", dict(lr=0.1, momentum=0.9)),
                                     ("Adam", dict(lr=0.01, amsgrad=True)),
                                     ("RMSprop", dict(lr=0.01, centered=True, momentum=0.5)),
                                     ("Adagrad", dict(lr=0.1))])
def test_load_torch_state_dict_and_continue(name, kw):
    torch = pytest.importorskip("torch")
    tp, topt, _ = _run(torch, torch.optim, name, kw, np.float64, 15)
    cp = {k: convnp.tensor(v.detach().numpy().copy(), requires_grad=True) for k, v in tp.items()}
    copt = getattr(optim, name)(list(cp.values()), **kw)
    copt.load_state_dict(topt.state_dict())
    x, y = _data()
    cx, cy = convnp.tensor(x), convnp.tensor(y)
    tx, ty = torch.tensor(x), torch.tensor(y)
    for _ in range(15):
        copt.zero_grad()
        _objective(convnp, cp, cx, cy, kw).backward()
        copt.step()
        topt.zero_grad()
        _objective(torch, tp, tx, ty, kw).backward()
        topt.step()
    _assert_params(cp, tp, np.float64)


def _two_groups(p):
    return [{"params": [p["w1"], p["b1"]]},
            {"params": [p["w2"], p["b2"]], "lr": 0.003, "weight_decay": 0.01}]


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad"])
def test_param_groups_with_different_lrs(name):
    torch = pytest.importorskip("torch")
    kw = dict(lr=0.02)
    cp, copt, _ = _run(convnp, optim, name, kw, np.float64, 20, groups=_two_groups)
    tp, topt, _ = _run(torch, torch.optim, name, kw, np.float64, 20, groups=_two_groups)
    _assert_params(cp, tp, np.float64)
    cg, tg = copt.state_dict()["param_groups"], topt.state_dict()["param_groups"]
    assert [g["params"] for g in cg] == [g["params"] for g in tg] == [[0, 1], [2, 3]]
    for c, t in zip(cg, tg):
        for k, v in c.items():
            assert t[k] == v, f"param group key {k}: {v} != torch {t[k]}"


def test_optimizer_with_scheduler_matches_torch():
    torch = pytest.importorskip("torch")
    c_s = lambda o: optim.lr_scheduler.StepLR(o, step_size=5, gamma=0.5)  # noqa: E731
    t_s = lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=5, gamma=0.5)  # noqa: E731
    cp, _, clr = _run(convnp, optim, "SGD", dict(lr=0.1, momentum=0.9), np.float64, 20, sched=c_s)
    tp, _, tlr = _run(torch, torch.optim, "SGD", dict(lr=0.1, momentum=0.9), np.float64, 20,
                      sched=t_s)
    assert clr == tlr
    _assert_params(cp, tp, np.float64)


def test_module_parameters_and_closure():
    lin = convnp.nn.Linear(3, 2)
    opt = optim.SGD(lin.parameters(), lr=0.1)
    x = convnp.randn(4, 3)
    before = lin.weight.array.copy()

    def closure():
        opt.zero_grad()
        loss = (lin(x) ** 2).mean()
        loss.backward()
        return loss

    with convnp.no_grad():  # step() re-enables grad for the closure
        loss = opt.step(closure)
    assert isinstance(loss, convnp.Tensor) and loss.ndim == 0
    assert not np.array_equal(before, lin.weight.array)


# ---------------------------------------------------------------------- golden (no torch)
def test_golden_sgd_momentum_steps():
    p = convnp.tensor([1.0, -2.0], dtype=convnp.float64, requires_grad=True)
    opt = optim.SGD([p], lr=0.1, momentum=0.5)
    for _ in range(2):
        p.grad = convnp.tensor([1.0, 2.0], dtype=convnp.float64)
        opt.step()
    # step 1: buf = g = [1, 2]; p = [0.9, -2.2]; step 2: buf = 0.5*buf + g = [1.5, 3]
    np.testing.assert_allclose(p.array, [0.9 - 0.15, -2.2 - 0.3])
    np.testing.assert_allclose(opt.state[p]["momentum_buffer"].array, [1.5, 3.0])


def test_golden_adam_first_step_is_lr_times_sign():
    p = convnp.tensor([1.0, -1.0, 0.5], dtype=convnp.float64, requires_grad=True)
    opt = optim.Adam([p], lr=0.01, eps=0.0)
    p.grad = convnp.tensor([3.0, -0.2, 7.0], dtype=convnp.float64)
    opt.step()
    # after bias correction, m/sqrt(v) = g/|g| on the first step
    np.testing.assert_allclose(p.array, [0.99, -0.99, 0.49])
    assert float(opt.state[p]["step"].item()) == 1.0


def test_golden_adagrad_and_adamw_decay():
    p = convnp.tensor([2.0], dtype=convnp.float64, requires_grad=True)
    opt = optim.Adagrad([p], lr=1.0, eps=0.0)
    p.grad = convnp.tensor([4.0], dtype=convnp.float64)
    opt.step()  # sum = 16, p -= 4/4
    np.testing.assert_allclose(p.array, [1.0])
    q = convnp.tensor([1.0], dtype=convnp.float64, requires_grad=True)
    opt = optim.AdamW([q], lr=0.1, weight_decay=0.5, eps=0.0)
    q.grad = convnp.tensor([1.0], dtype=convnp.float64)
    opt.step()  # q *= 1 - 0.05, then q -= 0.1
    np.testing.assert_allclose(q.array, [0.95 - 0.1])


def test_params_without_grad_are_skipped_and_dtype_preserved():
    a = convnp.ones(3, requires_grad=True)
    b = convnp.ones(2, dtype=convnp.float64, requires_grad=True)
    opt = optim.Adam([a, b], lr=0.1)
    a.grad = convnp.ones(3)
    opt.step()
    assert b not in opt.state and np.all(b.array == 1)
    assert a.dtype == np.float32 and opt.state[a]["exp_avg"].dtype == np.float32


def test_zero_grad_set_to_none_and_zero():
    p = convnp.ones(2, requires_grad=True)
    opt = optim.SGD([p], lr=0.1)
    p.grad = convnp.ones(2)
    opt.zero_grad(set_to_none=False)
    assert p.grad is not None and np.all(p.grad.array == 0)
    opt.zero_grad()
    assert p.grad is None


def test_add_param_group_and_defaults():
    a, b = convnp.ones(2, requires_grad=True), convnp.ones(3, requires_grad=True)
    opt = optim.SGD([a], lr=0.1, momentum=0.9)
    opt.add_param_group({"params": b, "lr": 0.01})
    assert len(opt.param_groups) == 2
    assert opt.param_groups[1]["momentum"] == 0.9 and opt.param_groups[1]["lr"] == 0.01
    with pytest.raises(ValueError, match="more than one parameter group"):
        opt.add_param_group({"params": [a]})
    assert "SGD (" in repr(opt) and "Parameter Group 1" in repr(opt)


def test_state_dict_layout():
    a, b = convnp.ones(2, requires_grad=True), convnp.ones(3, requires_grad=True)
    opt = optim.Adam([{"params": [a]}, {"params": [b], "lr": 0.5}], lr=0.1)
    a.grad, b.grad = convnp.ones(2), convnp.ones(3)
    opt.step()
    sd = opt.state_dict()
    assert set(sd) == {"state", "param_groups"}
    assert sorted(sd["state"]) == [0, 1]
    assert sorted(sd["state"][1]) == ["exp_avg", "exp_avg_sq", "step"]
    assert [g["params"] for g in sd["param_groups"]] == [[0], [1]]
    assert [g["lr"] for g in sd["param_groups"]] == [0.1, 0.5]


# ---------------------------------------------------------------------- errors
@pytest.mark.parametrize("ctor,msg", [
    (lambda p: optim.SGD(p, lr=-1), "Invalid learning rate: -1"),
    (lambda p: optim.SGD(p, momentum=-0.1), "Invalid momentum value: -0.1"),
    (lambda p: optim.SGD(p, weight_decay=-1), "Invalid weight_decay value: -1"),
    (lambda p: optim.SGD(p, nesterov=True), "Nesterov momentum requires a momentum"),
    (lambda p: optim.SGD(p, momentum=0.9, dampening=0.1, nesterov=True), "zero dampening"),
    (lambda p: optim.Adam(p, lr=-0.1), "Invalid learning rate"),
    (lambda p: optim.Adam(p, betas=(1.0, 0.9)), "Invalid beta parameter at index 0: 1.0"),
    (lambda p: optim.Adam(p, betas=(0.9, -0.1)), "Invalid beta parameter at index 1"),
    (lambda p: optim.Adam(p, eps=-1e-8), "Invalid epsilon value"),
    (lambda p: optim.AdamW(p, weight_decay=-1), "Invalid weight_decay value"),
    (lambda p: optim.RMSprop(p, alpha=-1), "Invalid alpha value"),
    (lambda p: optim.RMSprop(p, momentum=-1), "Invalid momentum value"),
    (lambda p: optim.Adagrad(p, lr_decay=-1), "Invalid lr_decay value"),
    (lambda p: optim.Adagrad(p, initial_accumulator_value=-1), "initial_accumulator_value"),
], ids=lambda v: v if isinstance(v, str) else "")
def test_invalid_hyperparameters(ctor, msg):
    with pytest.raises(ValueError, match=msg):
        ctor([convnp.ones(2, requires_grad=True)])


def test_invalid_params():
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.SGD([], lr=0.1)
    with pytest.raises(TypeError, match="iterable of Tensors"):
        optim.SGD(convnp.ones(2, requires_grad=True), lr=0.1)
    with pytest.raises(TypeError, match="can only optimize Tensors"):
        optim.SGD([np.ones(2)], lr=0.1)
    x = convnp.ones(2, requires_grad=True)
    with pytest.raises(ValueError, match="non-leaf"):
        optim.SGD([x * 2], lr=0.1)
    opt = optim.SGD([x], lr=0.1)
    with pytest.raises(ValueError, match="different number of parameter groups"):
        opt.load_state_dict({"state": {}, "param_groups": []})
    with pytest.raises(ValueError, match="doesn't match the size"):
        opt.load_state_dict({"state": {}, "param_groups": [{"lr": 0.1, "params": [0, 1]}]})
