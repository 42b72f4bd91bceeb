"""lr_scheduler: every scheduler's lr sequence (and momentum for OneCycleLR) equals torch's over
100 steps, state_dict round trips mid-way, golden sequences, errors."""

import copy
import math
import warnings

import numpy as np
import pytest

import convnp
from convnp import optim
from convnp.optim import lr_scheduler as S

STEPS = 100

# (name, kwargs, optimizer name, optimizer kwargs)
CASES = [
    ("StepLR", dict(step_size=7), "SGD", {}),
    ("StepLR", dict(step_size=3, gamma=0.5), "SGD", {}),
    ("MultiStepLR", dict(milestones=[10, 30, 30, 75]), "SGD", {}),
    ("MultiStepLR", dict(milestones=[5, 50], gamma=0.3), "Adam", {}),
    ("ExponentialLR", dict(gamma=0.95), "SGD", {}),
    ("CosineAnnealingLR", dict(T_max=30), "SGD", {}),
    ("CosineAnnealingLR", dict(T_max=17, eta_min=0.001), "Adam", {}),
    ("LinearLR", dict(), "SGD", {}),
    ("LinearLR", dict(start_factor=0.1, end_factor=0.9, total_iters=20), "SGD", {}),
    ("LinearLR", dict(start_factor=1.0, end_factor=0.0, total_iters=100), "SGD", {}),
    ("LambdaLR", dict(lr_lambda=lambda e: 0.9 ** e), "SGD", {}),
    ("LambdaLR", dict(lr_lambda=[lambda e: 1 / (e + 1), lambda e: 0.5]), "SGD", {}),
    ("MultiplicativeLR", dict(lr_lambda=lambda e: 0.97), "SGD", {}),
    ("ConstantLR", dict(), "SGD", {}),
    ("ConstantLR", dict(factor=0.5, total_iters=40), "SGD", {}),
    ("PolynomialLR", dict(total_iters=50, power=2.0), "SGD", {}),
    ("PolynomialLR", dict(), "Adam", {}),
    ("CosineAnnealingWarmRestarts", dict(T_0=10), "SGD", {}),
    ("CosineAnnealingWarmRestarts", dict(T_0=7, T_mult=2, eta_min=0.01), "SGD", {}),
    ("OneCycleLR", dict(max_lr=0.5, total_steps=100), "SGD", dict(momentum=0.9)),
    ("OneCycleLR", dict(max_lr=[0.5, 0.2], total_steps=100, anneal_strategy="linear"), "SGD",
     dict(momentum=0.9)),
    ("OneCycleLR", dict(max_lr=0.1, epochs=10, steps_per_epoch=10, three_phase=True,
                        pct_start=0.25), "Adam", {}),
    ("OneCycleLR", dict(max_lr=0.1, total_steps=100, cycle_momentum=False, div_factor=10.0,
                        final_div_factor=100.0), "Adagrad", {}),
    ("OneCycleLR", dict(max_lr=0.3, total_steps=100, base_momentum=0.8, max_momentum=0.9),
     "RMSprop", dict(momentum=0.9)),
    ("CyclicLR", dict(base_lr=0.01, max_lr=0.1, step_size_up=7), "SGD", dict(momentum=0.9)),
    ("CyclicLR", dict(base_lr=[0.01, 0.02], max_lr=0.2, step_size_up=5, step_size_down=12,
                      mode="triangular2"), "Adam", {}),
    ("CyclicLR", dict(base_lr=0.001, max_lr=0.05, step_size_up=10, mode="exp_range",
                      gamma=0.97, base_momentum=0.7), "SGD", dict(momentum=0.5)),
    ("CyclicLR", dict(base_lr=0.01, max_lr=0.1, step_size_up=4, scale_fn=lambda x: 0.9 ** x,
                      scale_mode="iterations", cycle_momentum=False), "Adagrad", {}),
]


def _ids(case):
    # callables (lr_lambda) print with a memory address: name them stably so that test ids
    # are identical in every pytest-xdist worker
    def show(v):
        return "fn" if callable(v) else "fns" if isinstance(v, list) and callable(v[0]) else v

    return case[0] + "".join(f"-{k}={show(v)}" for k, v in case[1].items()) + "-" + case[2]


def _optimizer(lib, opt_mod, name, kw, groups=2):
    ps = [lib.ones(3, requires_grad=True) for _ in range(groups)]
    return getattr(opt_mod, name)([{"params": [ps[0]]}] + [
        {"params": [p], "lr": 0.05 * (i + 2)} for i, p in enumerate(ps[1:])], lr=0.1, **kw)


def _momenta(opt):
    out = []
    for g in opt.param_groups:
        out.append(g["betas"][0] if "betas" in g else g.get("momentum"))
    return out


def _arr(moms):
    return np.array([[np.nan if m is None else m for m in row] for row in moms], float)


def _trace(lib, opt_mod, case, steps=STEPS, round_trip_at=None):
    name, kw, oname, okw = case
    opt = _optimizer(lib, opt_mod, oname, okw)
    sched = getattr(opt_mod.lr_scheduler, name)(opt, **kw)
    lrs, moms = [sched.get_last_lr()], [_momenta(opt)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch warns when step() order is unusual
        for i in range(steps - 1):
            opt.step()
            sched.step()
            lrs.append(list(sched.get_last_lr()))
            moms.append(_momenta(opt))
            if round_trip_at == i:
                sd = copy.deepcopy(sched.state_dict())
                osd = copy.deepcopy(opt.state_dict())
                # the usual resume order: build both, then load both
                opt = _optimizer(lib, opt_mod, oname, okw)
                sched = getattr(opt_mod.lr_scheduler, name)(opt, **kw)
                opt.load_state_dict(osd)
                sched.load_state_dict(sd)
    return lrs, moms


@pytest.mark.parametrize("case", CASES, ids=[_ids(c) for c in CASES])
def test_lr_sequence_matches_torch(case):
    torch = pytest.importorskip("torch")
    c_lrs, c_moms = _trace(convnp, optim, case)
    t_lrs, t_moms = _trace(torch, torch.optim, case)
    np.testing.assert_allclose(np.array(c_lrs), np.array(t_lrs), rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(_arr(c_moms), _arr(t_moms), rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("case", CASES[::2], ids=[_ids(c) for c in CASES[::2]])
def test_state_dict_round_trip_mid_way(case):
    full, full_m = _trace(convnp, optim, case)
    resumed, resumed_m = _trace(convnp, optim, case, round_trip_at=40)
    np.testing.assert_allclose(np.array(resumed), np.array(full), rtol=1e-13)
    np.testing.assert_allclose(_arr(resumed_m), _arr(full_m), rtol=1e-13)


def _plateau_trace(lib, opt_mod, kw, metrics):
    opt = _optimizer(lib, opt_mod, "SGD", {})
    sched = opt_mod.lr_scheduler.ReduceLROnPlateau(opt, **kw)
    out = []
    for i, m in enumerate(metrics):
        sched.step(m)
        out.append(list(sched.get_last_lr()))
        if i == 50:  # round trip mid-way
            sd = copy.deepcopy(sched.state_dict())
            sched = opt_mod.lr_scheduler.ReduceLROnPlateau(opt, **kw)
            sched.load_state_dict(sd)
    return out


PLATEAU = [
    dict(),
    dict(patience=2),
    dict(mode="max", patience=3, factor=0.5),
    dict(patience=1, threshold=0.05, threshold_mode="abs", cooldown=2),
    dict(mode="max", threshold_mode="abs", threshold=0.01, patience=0, min_lr=0.02),
    dict(patience=1, factor=0.5, min_lr=[0.01, 0.05], eps=1e-3),
]


@pytest.mark.parametrize("kw", PLATEAU, ids=lambda kw: "-".join(f"{k}={v}" for k, v in kw.items())
                         or "default")
def test_reduce_on_plateau_matches_torch(kw):
    torch = pytest.importorskip("torch")
    r = np.random.default_rng(0)
    # noisy, slowly improving then flat metric
    metrics = list(np.concatenate([np.linspace(1, 0.5, 30), np.full(70, 0.5)])
                   + r.uniform(0, 0.05, 100))
    c = _plateau_trace(convnp, optim, kw, metrics)
    t = _plateau_trace(torch, torch.optim, kw, metrics)
    np.testing.assert_allclose(np.array(c), np.array(t), rtol=1e-13)


def test_sequential_lr_matches_torch():
    torch = pytest.importorskip("torch")

    def trace(lib, om):
        opt = _optimizer(lib, om, "SGD", {})
        warm = om.lr_scheduler.LinearLR(opt, start_factor=0.1, total_iters=5)
        cos = om.lr_scheduler.CosineAnnealingLR(opt, T_max=30)
        step = om.lr_scheduler.StepLR(opt, step_size=4, gamma=0.7)
        sched = om.lr_scheduler.SequentialLR(opt, [warm, cos, step], milestones=[5, 40])
        out = [sched.get_last_lr()]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for _ in range(70):
                opt.step()
                sched.step()
                out.append(list(sched.get_last_lr()))
        return out

    np.testing.assert_allclose(np.array(trace(convnp, optim)),
                               np.array(trace(torch, torch.optim)), rtol=1e-13)


def test_chained_scheduler_matches_torch():
    torch = pytest.importorskip("torch")

    def trace(lib, om):
        opt = _optimizer(lib, om, "SGD", {})
        sched = om.lr_scheduler.ChainedScheduler([
            om.lr_scheduler.ConstantLR(opt, factor=0.1, total_iters=3),
            om.lr_scheduler.ExponentialLR(opt, gamma=0.9)])
        out = [sched.get_last_lr()]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for _ in range(20):
                opt.step()
                sched.step()
                out.append(list(sched.get_last_lr()))
        return out

    np.testing.assert_allclose(np.array(trace(convnp, optim)),
                               np.array(trace(torch, torch.optim)), rtol=1e-13)


def test_closed_form_epoch_argument_matches_torch():
    torch = pytest.importorskip("torch")
    for name, kw in [("StepLR", dict(step_size=3)), ("ExponentialLR", dict(gamma=0.9)),
                     ("CosineAnnealingLR", dict(T_max=10)),
                     ("MultiStepLR", dict(milestones=[2, 5])),
                     ("ConstantLR", dict(factor=0.5, total_iters=9)),
                     ("PolynomialLR", dict(total_iters=9, power=1.5)),
                     ("LinearLR", dict(start_factor=0.2, total_iters=10)),
                     ("CosineAnnealingWarmRestarts", dict(T_0=3, T_mult=2))]:
        res = []
        for lib, om in [(convnp, optim), (torch, torch.optim)]:
            opt = _optimizer(lib, om, "SGD", {})
            s = getattr(om.lr_scheduler, name)(opt, **kw)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                s.step(7)
            res.append(s.get_last_lr())
        assert res[0] == pytest.approx(res[1], rel=1e-13), name


# ---------------------------------------------------------------------- golden (no torch)
def _sgd(lr=1.0):
    return optim.SGD([convnp.ones(1, requires_grad=True)], lr=lr)


def _lrs(sched, n):
    out = [sched.get_last_lr()[0]]
    for _ in range(n):
        sched.optimizer.step()
        sched.step()
        out.append(sched.get_last_lr()[0])
    return out


def test_golden_step_and_multistep():
    assert _lrs(S.StepLR(_sgd(), step_size=2, gamma=0.5), 5) == [1, 1, 0.5, 0.5, 0.25, 0.25]
    got = _lrs(S.MultiStepLR(_sgd(), milestones=[1, 3, 3], gamma=0.1), 4)
    assert got == pytest.approx([1, 0.1, 0.1, 0.001, 0.001])


def test_golden_cosine_follows_closed_form():
    got = _lrs(S.CosineAnnealingLR(_sgd(), T_max=10, eta_min=0.1), 10)
    want = [0.1 + 0.9 * (1 + math.cos(math.pi * t / 10)) / 2 for t in range(11)]
    assert got == pytest.approx(want, rel=1e-12)


def test_golden_linear_warmup_and_exponential():
    got = _lrs(S.LinearLR(_sgd(), start_factor=0.25, total_iters=3), 5)
    assert got == pytest.approx([0.25, 0.5, 0.75, 1.0, 1.0, 1.0])
    assert _lrs(S.ExponentialLR(_sgd(), gamma=0.5), 3) == pytest.approx([1, 0.5, 0.25, 0.125])


def test_golden_one_cycle_endpoints_and_momentum():
    opt = optim.SGD([convnp.ones(1, requires_grad=True)], lr=1.0, momentum=0.9)
    s = S.OneCycleLR(opt, max_lr=1.0, total_steps=10, pct_start=0.5, anneal_strategy="linear")
    lrs = _lrs(s, 9)
    assert lrs[0] == pytest.approx(1 / 25) and max(lrs) == pytest.approx(1.0)
    assert lrs[-1] == pytest.approx(1 / 25 / 1e4)
    assert opt.param_groups[0]["momentum"] == pytest.approx(0.95)
    s.step()
    with pytest.raises(ValueError, match="Tried to step 11 times"):
        s.step()


def test_golden_plateau():
    s = S.ReduceLROnPlateau(_sgd(), patience=1, factor=0.5)
    out = []
    for m in [1.0, 0.9, 0.9, 0.9, 0.9, 0.8]:
        s.step(m)
        out.append(s.get_last_lr()[0])
    assert out == [1.0, 1.0, 1.0, 0.5, 0.5, 0.5]


def test_base_lrs_and_initial_lr():
    opt = _sgd(0.3)
    s = S.StepLR(opt, step_size=1)
    assert s.base_lrs == [0.3] and opt.param_groups[0]["initial_lr"] == 0.3
    assert "optimizer" not in s.state_dict() and s.state_dict()["last_epoch"] == 0


# ---------------------------------------------------------------------- errors
def test_scheduler_errors():
    with pytest.raises(TypeError, match="is not an Optimizer"):
        S.StepLR(object(), step_size=1)
    with pytest.raises(KeyError, match="initial_lr"):
        S.StepLR(_sgd(), step_size=1, last_epoch=3)
    with pytest.raises(ValueError, match="Starting multiplicative factor"):
        S.LinearLR(_sgd(), start_factor=0)
    with pytest.raises(ValueError, match="Ending multiplicative factor"):
        S.LinearLR(_sgd(), end_factor=1.5)
    with pytest.raises(ValueError, match="Factor should be < 1.0"):
        S.ReduceLROnPlateau(_sgd(), factor=1.0)
    with pytest.raises(ValueError, match="mode avg is unknown"):
        S.ReduceLROnPlateau(_sgd(), mode="avg")
    with pytest.raises(ValueError, match="threshold mode"):
        S.ReduceLROnPlateau(_sgd(), threshold_mode="x")
    with pytest.raises(ValueError, match="expected 1 min_lrs, got 2"):
        S.ReduceLROnPlateau(_sgd(), min_lr=[0, 0])
    with pytest.raises(ValueError, match="total_steps OR"):
        S.OneCycleLR(_sgd(), max_lr=0.1)
    with pytest.raises(ValueError, match="positive integer total_steps"):
        S.OneCycleLR(_sgd(), max_lr=0.1, total_steps=0)
    with pytest.raises(ValueError, match="pct_start"):
        S.OneCycleLR(_sgd(), max_lr=0.1, total_steps=10, pct_start=1.5)
    with pytest.raises(ValueError, match="anneal_strategy"):
        S.OneCycleLR(_sgd(), max_lr=0.1, total_steps=10, anneal_strategy="exp")
    with pytest.raises(ValueError, match="momentum or beta1"):
        S.OneCycleLR(optim.Adagrad([convnp.ones(1, requires_grad=True)]), max_lr=0.1,
                     total_steps=10)
    with pytest.raises(ValueError, match="Constant multiplicative factor"):
        S.ConstantLR(_sgd(), factor=2.0)
    with pytest.raises(ValueError, match="positive integer T_0"):
        S.CosineAnnealingWarmRestarts(_sgd(), T_0=0)
    with pytest.raises(ValueError, match="T_mult >= 1"):
        S.CosineAnnealingWarmRestarts(_sgd(), T_0=2, T_mult=0)
    with pytest.raises(ValueError, match="Expected 1 lr_lambdas, but got 2"):
        S.LambdaLR(_sgd(), [lambda e: 1.0, lambda e: 1.0])
    with pytest.raises(TypeError, match="lr_lambda should be a function"):
        S.MultiplicativeLR(_sgd(), 0.5)
    with pytest.raises(ValueError, match="at least one scheduler"):
        S.ChainedScheduler([])
    opt = _sgd()
    with pytest.raises(ValueError, match="number of milestone points"):
        S.SequentialLR(opt, [S.StepLR(opt, 2), S.StepLR(opt, 3)], milestones=[])
    with pytest.raises(ValueError, match="ReduceLROnPlateau"):
        S.SequentialLR(opt, [S.ReduceLROnPlateau(opt)], milestones=[])
