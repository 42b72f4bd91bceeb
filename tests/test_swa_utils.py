"""optim.swa_utils against torch: AveragedModel (SWA, EMA, custom avg_fn, buffers), SWALR's lr
sequence, update_bn's running statistics; SparseAdam's clear error."""

import numpy as np
import pytest

import convnp
from convnp import nn, optim
from convnp.optim import swa_utils

torch = pytest.importorskip("torch")


def _pair():
    convnp.manual_seed(0)
    cm = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2)).double()
    tm = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4),
                             torch.nn.Linear(4, 2)).double()
    tm.load_state_dict({k: torch.tensor(v.array) for k, v in cm.state_dict().items()})
    return cm, tm


@pytest.mark.parametrize("mode", ["swa", "ema", "avg_fn", "buffers"])
def test_averaged_model_matches_torch(mode):
    cm, tm = _pair()
    kw_c, kw_t = {}, {}
    if mode == "ema":
        kw_c["multi_avg_fn"] = swa_utils.get_ema_multi_avg_fn(0.9)
        kw_t["multi_avg_fn"] = torch.optim.swa_utils.get_ema_multi_avg_fn(0.9)
    elif mode == "avg_fn":
        kw_c["avg_fn"] = swa_utils.get_ema_avg_fn(0.8)
        kw_t["avg_fn"] = torch.optim.swa_utils.get_ema_avg_fn(0.8)
    elif mode == "buffers":
        kw_c["use_buffers"] = kw_t["use_buffers"] = True
    ca, ta = swa_utils.AveragedModel(cm, **kw_c), torch.optim.swa_utils.AveragedModel(tm, **kw_t)
    assert list(ca.state_dict()) == list(ta.state_dict())
    copt = optim.SGD(cm.parameters(), lr=0.1)
    topt = torch.optim.SGD(tm.parameters(), lr=0.1)
    r = np.random.default_rng(0)
    for _ in range(4):
        x = r.standard_normal((5, 3))
        for lib, m, opt, avg in ((convnp, cm, copt, ca), (torch, tm, topt, ta)):
            opt.zero_grad()
            (m(lib.tensor(x)) ** 2).mean().backward()
            opt.step()
            avg.update_parameters(m)
    for (k, v), tv in zip(ca.state_dict().items(), ta.state_dict().values()):
        np.testing.assert_allclose(np.asarray(v.array, float), tv.numpy().astype(float),
                                   rtol=1e-10, atol=1e-12, err_msg=k)
    x = r.standard_normal((2, 3))
    ca.eval()
    ta.eval()
    np.testing.assert_allclose(ca(convnp.tensor(x)).array, ta(torch.tensor(x)).detach().numpy(),
                               rtol=1e-10)


def test_update_bn_matches_torch():
    cm, tm = _pair()
    data = [np.random.default_rng(i).standard_normal((6, 3)) for i in range(3)]
    swa_utils.update_bn([(convnp.tensor(d), 0) for d in data], cm)
    torch.optim.swa_utils.update_bn([(torch.tensor(d), 0) for d in data], tm)
    for (k, v), tv in zip(cm.state_dict().items(), tm.state_dict().values()):
        np.testing.assert_allclose(np.asarray(v.array, float), tv.numpy().astype(float),
                                   rtol=1e-10, atol=1e-12, err_msg=k)
    assert cm[1].momentum == 0.1 and cm.training


@pytest.mark.parametrize("kw", [dict(swa_lr=0.05), dict(swa_lr=[0.01, 0.2], anneal_epochs=3,
                                                        anneal_strategy="linear"),
                                dict(swa_lr=0.02, anneal_epochs=0)], ids=["cos", "linear", "0"])
def test_swalr_matches_torch(kw):
    lrs = []
    for lib in (convnp, torch):
        ps = [lib.ones(2, requires_grad=True), lib.ones(2, requires_grad=True)]
        opt = lib.optim.SGD([{"params": [ps[0]]}, {"params": [ps[1]], "lr": 0.3}], lr=0.5)
        s = lib.optim.swa_utils.SWALR(opt, **kw)
        seq = [list(s.get_last_lr())]
        for _ in range(12):
            opt.step()
            s.step()
            seq.append(list(s.get_last_lr()))
        lrs.append(np.array(seq))
    np.testing.assert_allclose(lrs[0], lrs[1], rtol=1e-12)


def test_errors():
    with pytest.raises(NotImplementedError, match="SparseAdam: convnp has no sparse tensors"):
        optim.SparseAdam([convnp.ones(2, requires_grad=True)])
    with pytest.raises(ValueError, match="Invalid decay value"):
        swa_utils.get_ema_multi_avg_fn(1.5)
    with pytest.raises(AssertionError, match="Only one of avg_fn and multi_avg_fn"):
        swa_utils.AveragedModel(nn.Linear(1, 1), avg_fn=lambda *a: a[0],
                                multi_avg_fn=lambda *a: None)


def test_swap_in_optimizer_params_and_state_as_torch():
    import copy

    results = []
    for lib in (convnp, torch):
        r = np.random.default_rng(0)
        p = lib.tensor(r.standard_normal(4), requires_grad=True)
        opt = lib.optim.Adam([p], lr=0.1)
        (p * p).sum().backward()
        opt.step()
        live_before = (np.array(p.detach().numpy() if lib is torch else p.array),
                       copy.deepcopy(opt.state_dict()))
        shadow = lib.tensor(r.standard_normal(4), requires_grad=True)
        (shadow * shadow).sum().backward()
        sd = copy.deepcopy(opt.state_dict())
        sd["param_groups"][0]["lr"] = 0.5
        with lib.optim.swap_in_optimizer_params_and_state(opt, {"w": shadow}, sd):
            assert opt.param_groups[0]["lr"] == 0.5
            opt.step()
        live_after = np.array(p.detach().numpy() if lib is torch else p.array)
        np.testing.assert_array_equal(live_before[0], live_after)  # the live param untouched
        assert opt.param_groups[0]["lr"] == 0.1 and opt.param_groups[0]["params"][0] is p
        sv = sd["state"][0]["exp_avg"]
        results.append((np.array(shadow.detach().numpy() if lib is torch else shadow.array),
                        np.array(sv.numpy() if lib is torch else sv.array)))
    np.testing.assert_allclose(results[0][0], results[1][0], rtol=1e-6)
    np.testing.assert_allclose(results[0][1], results[1][1], rtol=1e-6)
    with pytest.raises(RuntimeError, match="requires initialized optimizer state"):
        with optim.swap_in_optimizer_params_and_state(
                optim.SGD([convnp.ones(2, requires_grad=True)], lr=0.1), {}, {}):
            pass
