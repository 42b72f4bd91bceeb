"""The optimizers added for torch.optim coverage (Adadelta, Adamax, NAdam, RAdam, ASGD, Rprop,
LBFGS) against torch over many steps in float32 and float64, and torch's implementation
keywords (foreach, fused, capturable, differentiable) on every optimizer."""

import numpy as np
import pytest

import convnp
from convnp import optim
from tests.test_optim import _assert_params, _data, _ids, _init_weights, _loss, _np, _params, _run

torch = pytest.importorskip("torch")

STEPS = 30

CASES = [
    ("Adadelta", dict()),
    ("Adadelta", dict(lr=0.5, rho=0.8, eps=1e-5, weight_decay=0.1)),
    ("Adadelta", dict(maximize=True, foreach=False)),
    ("Adamax", dict()),
    ("Adamax", dict(lr=0.01, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1)),
    ("Adamax", dict(lr=0.01, maximize=True)),
    ("NAdam", dict()),
    ("NAdam", dict(lr=0.01, momentum_decay=0.01, weight_decay=0.1)),
    ("NAdam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True, maximize=True)),
    ("RAdam", dict()),
    ("RAdam", dict(lr=0.01, betas=(0.8, 0.9), weight_decay=0.1)),
    ("RAdam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True, maximize=True)),
    ("ASGD", dict()),
    ("ASGD", dict(lr=0.05, lambd=0.01, alpha=0.5, t0=10, weight_decay=0.1)),
    ("ASGD", dict(lr=0.05, t0=5, maximize=True)),
    ("Rprop", dict()),
    ("Rprop", dict(lr=0.05, etas=(0.3, 1.5), step_sizes=(1e-3, 0.2))),
    ("Rprop", dict(lr=0.02, maximize=True)),
    ("Adafactor", dict()),
    ("Adafactor", dict(lr=0.05, beta2_decay=-0.5, eps=(1e-6, 1e-2), d=1.5, weight_decay=0.1)),
    ("Adafactor", dict(lr=0.02, maximize=True, foreach=False)),
    ("SGD", dict(lr=0.1, momentum=0.9, foreach=True)),
    ("SGD", dict(lr=0.1, fused=True)),
    ("Adam", dict(lr=0.01, fused=True)),
    ("AdamW", dict(lr=0.01, foreach=True, maximize=True)),
    ("Adagrad", dict(lr=0.1, fused=False, foreach=True)),
    ("RMSprop", dict(lr=0.01, foreach=True, capturable=False)),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("case", CASES, ids=[_ids(c) for c in CASES])
def test_trajectory_matches_torch(case, dtype):
    name, kw = case
    cp, copt, _ = _run(convnp, optim, name, kw, dtype, STEPS)
    tp, topt, _ = _run(torch, torch.optim, name, kw, dtype, STEPS)
    _assert_params(cp, tp, dtype)
    cs, ts = copt.state_dict(), topt.state_dict()
    assert sorted(cs["state"]) == sorted(ts["state"])
    for i in ts["state"]:
        assert sorted(cs["state"][i]) == sorted(ts["state"][i])
        for key in ts["state"][i]:
            c, t = _np(cs["state"][i][key]), _np(ts["state"][i][key])
            assert np.asarray(c).dtype == np.asarray(t).dtype, key
            np.testing.assert_allclose(c, t, rtol=1e-3, atol=1e-5, err_msg=key)
    # the same group entries as torch, flags included
    cg, tg = cs["param_groups"][0], ts["param_groups"][0]
    assert sorted(cg) == sorted(tg)
    for k in tg:
        assert cg[k] == tg[k], k


@pytest.mark.parametrize("name", ["Adadelta", "Adamax", "NAdam", "RAdam", "ASGD", "Rprop"])
def test_load_torch_state_dict_and_continue(name):
    tp, topt, _ = _run(torch, torch.optim, name, dict(lr=0.01), np.float64, 10)
    cp = {k: convnp.tensor(v.detach().numpy().copy(), requires_grad=True) for k, v in tp.items()}
    copt = getattr(optim, name)(list(cp.values()), lr=0.01)
    copt.load_state_dict(topt.state_dict())
    # torch casts loaded floating state (ASGD's eta and mu too) to the parameter's dtype:
    # compare with a torch optimizer that loaded the same dict
    tp = {k: torch.tensor(v.detach().numpy().copy(), requires_grad=True) for k, v in tp.items()}
    topt2 = getattr(torch.optim, name)(list(tp.values()), lr=0.01)
    topt2.load_state_dict(topt.state_dict())
    x, y = _data()
    for lib, p, opt in ((convnp, cp, copt), (torch, tp, topt2)):
        xs, ys = lib.tensor(x), lib.tensor(y)
        for _ in range(10):
            opt.zero_grad()
            _loss(lib, p, xs, ys).backward()
            opt.step()
    _assert_params(cp, tp, np.float64)


def test_updates_write_into_the_parameter_arrays():
    # an optimizer must update p in place: views of p.array (shared memory, .data) see it
    for name in ["Adadelta", "Adamax", "NAdam", "RAdam", "ASGD", "Rprop"]:
        p = convnp.tensor([1.0, -2.0, 3.0], requires_grad=True)
        buf = p.array
        opt = getattr(optim, name)([p], lr=0.1)
        (p * p).sum().backward()
        opt.step()
        assert p.array is buf and not np.allclose(buf, [1.0, -2.0, 3.0]), name


# ------------------------------------------------------------------------------------ LBFGS
def _lbfgs_run(lib, dtype, steps, **kw):
    p = _params(lib, _init_weights(), dtype)
    x, y = _data()
    xs, ys = lib.tensor(x.astype(dtype)), lib.tensor(y.astype(dtype))
    opt = lib.optim.LBFGS(list(p.values()), **kw)
    losses = []

    def closure():
        opt.zero_grad()
        loss = _loss(lib, p, xs, ys)
        loss.backward()
        return loss

    for _ in range(steps):
        losses.append(float(opt.step(closure).detach()))
    return p, opt, losses


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("kw", [dict(), dict(line_search_fn="strong_wolfe"),
                                dict(lr=0.5, max_iter=5, history_size=3),
                                dict(history_size=2, max_iter=7, line_search_fn="strong_wolfe")],
                         ids=["default", "wolfe", "lr-hist3", "hist2-wolfe"])
def test_lbfgs_matches_torch(kw, dtype):
    cp, copt, closs = _lbfgs_run(convnp, dtype, 3, **kw)
    tp, topt, tloss = _lbfgs_run(torch, dtype, 3, **kw)
    tol = dict(rtol=2e-3, atol=2e-4) if dtype == np.float32 else dict(rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(closs, tloss, **tol)
    for k in cp:
        np.testing.assert_allclose(_np(cp[k]), _np(tp[k]), err_msg=k, **tol)
    cs, ts = copt.state[cp["w1"]], topt.state[tp["w1"]]
    assert cs["func_evals"] == ts["func_evals"] and cs["n_iter"] == ts["n_iter"]
    assert closs[-1] < closs[0]


@pytest.mark.parametrize("source", ["convnp", "torch"])
def test_lbfgs_state_dict_round_trip(source):
    import copy

    kw = dict(history_size=4, max_iter=4, line_search_fn="strong_wolfe")
    lib = convnp if source == "convnp" else torch
    p, opt, _ = _lbfgs_run(lib, np.float64, 2, **kw)
    saved = copy.deepcopy(opt.state_dict())
    weights = {k: _np(v).copy() for k, v in p.items()}
    full, _, full_losses = _lbfgs_run(lib, np.float64, 4, **kw)
    cp = {k: convnp.tensor(v, requires_grad=True) for k, v in weights.items()}
    copt = optim.LBFGS(list(cp.values()), **kw)
    copt.load_state_dict(saved)
    x, y = _data()
    xs, ys = convnp.tensor(x), convnp.tensor(y)

    def closure():
        copt.zero_grad()
        loss = _loss(convnp, cp, xs, ys)
        loss.backward()
        return loss

    for _ in range(2):
        copt.step(closure)
    for k in cp:  # 2 + 2 steps across a save/load == 4 steps in one go
        np.testing.assert_allclose(cp[k].array, _np(full[k]), rtol=1e-8, atol=1e-10)


def test_lbfgs_errors():
    p = convnp.ones(2, requires_grad=True)
    with pytest.raises(ValueError, match="parameter groups"):
        optim.LBFGS([{"params": [p]}, {"params": [convnp.ones(1, requires_grad=True)]}])
    with pytest.raises(ValueError, match="line_search_fn"):
        optim.LBFGS([p], line_search_fn="armijo")
    with pytest.raises(RuntimeError, match="closure"):
        optim.LBFGS([p]).step(None)


# ------------------------------------------------------------------- implementation keywords
ALL = ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta", "Adamax", "NAdam", "RAdam",
       "ASGD", "Rprop"]


@pytest.mark.parametrize("name", ALL + ["Adafactor", "LBFGS"])
def test_keywords_and_group_entries_as_torch(name):
    tparam = torch.nn.Parameter(torch.ones(2))
    topt = getattr(torch.optim, name)([tparam])
    copt = getattr(optim, name)([convnp.ones(2, requires_grad=True)])
    tg, cg = topt.param_groups[0], copt.param_groups[0]
    assert sorted(cg) == sorted(tg)
    for k in tg:
        if k != "params":
            assert cg[k] == tg[k], k


@pytest.mark.parametrize("name", ALL)
def test_capturable_and_differentiable_refused_at_step(name):
    import inspect
    sig = inspect.signature(getattr(optim, name).__init__).parameters
    p = convnp.ones(2, requires_grad=True)
    (p * p).sum().backward()
    if "capturable" in sig:
        with pytest.raises(RuntimeError, match=f"{name}: capturable=True"):
            getattr(optim, name)([p], capturable=True).step()
    with pytest.raises(NotImplementedError, match=f"{name}: differentiable=True"):
        getattr(optim, name)([p], differentiable=True).step()


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW", "Adagrad"])
def test_fused_errors_as_torch(name):
    p = convnp.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="cannot be `True` together"):
        getattr(optim, name)([p], fused=True, foreach=True)
    with pytest.raises(RuntimeError, match="does not support `differentiable`"):
        getattr(optim, name)([p], fused=True, differentiable=True)


@pytest.mark.parametrize("ctor,msg", [
    (lambda p: optim.Adadelta(p, rho=1.5), "Invalid rho value: 1.5"),
    (lambda p: optim.Adamax(p, betas=(1.0, 0.9)), "Invalid beta parameter at index 0"),
    (lambda p: optim.NAdam(p, momentum_decay=-1), "Invalid momentum_decay value"),
    (lambda p: optim.RAdam(p, eps=-1), "Invalid epsilon value"),
    (lambda p: optim.ASGD(p, lr=-1), "Invalid learning rate"),
    (lambda p: optim.Rprop(p, etas=(1.5, 1.2)), "Invalid eta values: 1.5, 1.2"),
], ids=lambda v: v if isinstance(v, str) else "")
def test_invalid_hyperparameters(ctor, msg):
    with pytest.raises(ValueError, match=msg):
        ctor([convnp.ones(2, requires_grad=True)])


# ------------------------------------------------------------------------------------- Muon
def _muon_run(lib, dtype, steps, **kw):
    r = np.random.default_rng(3)
    w1 = lib.tensor(r.uniform(-1, 1, (4, 6)).astype(dtype), requires_grad=True)
    w2 = lib.tensor(r.uniform(-1, 1, (6, 3)).astype(dtype), requires_grad=True)
    x, y = _data()
    xs, ys = lib.tensor(x.astype(dtype)), lib.tensor(y.astype(dtype))
    opt = lib.optim.Muon([w1, w2], **kw)
    for _ in range(steps):
        opt.zero_grad()
        d = (xs @ w1).tanh() @ w2 - ys
        (d * d).mean().backward()
        opt.step()
    return [w1, w2], opt


@pytest.mark.parametrize("kw", [dict(lr=0.02), dict(lr=0.05, nesterov=False, momentum=0.8,
                                                    weight_decay=0.0),
                                dict(lr=0.02, adjust_lr_fn="match_rms_adamw", ns_steps=3)],
                         ids=["default", "no-nesterov", "match-adamw"])
def test_muon_matches_torch_to_bfloat16_rounding(kw):
    cp, copt = _muon_run(convnp, np.float32, 5, **kw)
    tp, topt = _muon_run(torch, np.float32, 5, **kw)
    for c, t in zip(cp, tp):
        # the orthogonalised update is rounded to bfloat16 in both libraries, the same way
        np.testing.assert_allclose(_np(c), _np(t), rtol=1e-6, atol=1e-6)
    cb = copt.state_dict()["state"][0]["momentum_buffer"]
    tb = topt.state_dict()["state"][0]["momentum_buffer"]
    np.testing.assert_allclose(_np(cb), _np(tb), rtol=1e-2, atol=1e-4)
    assert sorted(copt.param_groups[0]) == sorted(topt.param_groups[0])


def test_newton_schulz_bfloat16_step_matches_torch():
    from torch.optim._muon import _zeropower_via_newtonschulz

    from convnp.optim.muon import _bf16, _newton_schulz

    g = np.random.default_rng(0).standard_normal((5, 8)).astype(np.float32)
    t = torch.tensor(g)
    np.testing.assert_array_equal(_bf16(g), t.bfloat16().float().numpy())
    ours = _newton_schulz(g, (3.4445, -4.7750, 2.0315), 5, 1e-7)
    ref = _zeropower_via_newtonschulz(t, (3.4445, -4.7750, 2.0315), 5, 1e-7).float().numpy()
    assert np.abs(ours - ref).max() <= 2 ** -6  # a last-bit bfloat16 difference at most
    with pytest.raises(ValueError, match="Muon only supports 2D parameters"):
        optim.Muon([convnp.ones(3, requires_grad=True)])
