"""convnp.amp: GradScaler matches torch.amp.GradScaler('cpu') step by step (scaled losses,
unscaled gradients, skipped steps on inf, scale growth/backoff, state_dict); the default 'cuda'
scaler disables itself as torch's does without CUDA; autocast is accepted and tracked."""

import warnings

import numpy as np
import pytest

import convnp
from convnp import amp, nn

torch = pytest.importorskip("torch")


def _models(dtype):
    convnp.manual_seed(0)
    cm = nn.Linear(3, 2)
    tm = torch.nn.Linear(3, 2)
    tm.load_state_dict({k: torch.tensor(v.array) for k, v in cm.state_dict().items()})
    if dtype == np.float64:
        cm.double()
        tm.double()
    return cm, tm


@pytest.mark.filterwarnings("ignore:invalid value encountered")  # the injected inf inputs
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_grad_scaler_matches_torch(dtype):
    cm, tm = _models(dtype)
    copt = convnp.optim.SGD(cm.parameters(), lr=0.1, momentum=0.9)
    topt = torch.optim.SGD(tm.parameters(), lr=0.1, momentum=0.9)
    kw = dict(init_scale=2.0 ** 10, growth_interval=3)
    cs, ts = amp.GradScaler("cpu", **kw), torch.amp.GradScaler("cpu", **kw)
    r = np.random.default_rng(0)
    for it in range(12):
        x = r.standard_normal((4, 3)).astype(dtype)
        if it in (4, 5, 9):
            x[0, 0] = np.inf  # inf/nan gradients: the step is skipped, the scale backs off
        outs = []
        for lib, m, opt, s in ((convnp, cm, copt, cs), (torch, tm, topt, ts)):
            opt.zero_grad()
            loss = (m(lib.tensor(x)) ** 2).mean()
            scaled = s.scale(loss)
            scaled.backward()
            s.unscale_(opt)
            grads = [p.grad.array.copy() if lib is convnp else p.grad.numpy().copy()
                     for p in m.parameters()]
            ret = s.step(opt)
            s.update()
            outs.append((float(scaled.detach() if lib is torch else scaled), grads, ret,
                         s.get_scale(), s.state_dict()))
        (cl, cg, cret, cscale, csd), (tl, tg, tret, tscale, tsd) = outs
        np.testing.assert_allclose(cl, tl, rtol=1e-6)
        for a, b in zip(cg, tg):
            np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
        assert cret == tret is None
        assert cscale == tscale and csd == tsd, (it, csd, tsd)
    for (k, v), tv in zip(cm.state_dict().items(), tm.state_dict().values()):
        np.testing.assert_allclose(v.array, tv.numpy(), rtol=1e-5, atol=1e-6, err_msg=k)
    # state_dict round trip into a fresh scaler
    s2 = amp.GradScaler("cpu")
    s2.load_state_dict(cs.state_dict())
    assert s2.state_dict() == cs.state_dict()


def test_default_cuda_scaler_is_disabled_like_torch_without_cuda():
    with pytest.warns(UserWarning, match="Disabling"):
        s = amp.GradScaler()
    with pytest.warns(UserWarning, match="Disabling"):
        t = torch.amp.GradScaler()
    assert s.is_enabled() == t.is_enabled() is False
    loss = convnp.tensor(2.0, requires_grad=True)
    assert s.scale(loss) is loss and s.get_scale() == t.get_scale() == 1.0
    assert s.state_dict() == t.state_dict() == {}
    p = nn.Parameter(convnp.ones(2))
    opt = convnp.optim.SGD([p], lr=1.0)
    (p * p).sum().backward()
    s.step(opt)
    s.update()
    np.testing.assert_array_equal(p.array, [-1.0, -1.0])
    with pytest.warns(UserWarning):
        assert not convnp.cuda.amp.GradScaler().is_enabled()


def test_scaler_errors_as_torch():
    s = amp.GradScaler("cpu")
    p = nn.Parameter(convnp.ones(2))
    opt = convnp.optim.SGD([p], lr=0.1)
    with pytest.raises(RuntimeError, match="did not use scaler.scale"):
        s.step(opt)
    s.scale(p.sum()).backward()
    s.unscale_(opt)
    with pytest.raises(RuntimeError, match="already been called on this optimizer"):
        s.unscale_(opt)
    s.step(opt)
    with pytest.raises(RuntimeError, match="step\\(\\) has already been called"):
        s.step(opt)
    with pytest.raises(RuntimeError, match="Closure use is not currently supported"):
        s.step(opt, closure=lambda: 0)
    s.update()
    with pytest.raises(RuntimeError, match="state dict is empty"):
        s.load_state_dict({})
    with pytest.raises(ValueError, match="growth factor must be > 1.0"):
        amp.GradScaler("cpu", growth_factor=0.5)


def test_autocast_is_tracked_and_lowers_linear_to_bfloat16():
    lin = nn.Linear(3, 2)
    x = convnp.randn(4, 3)
    ref = lin(x)
    assert not amp.is_autocast_enabled("cpu")
    with convnp.autocast("cpu") as ac:
        assert amp.is_autocast_enabled("cpu") and amp.get_autocast_dtype("cpu") == "bfloat16"
        y = lin(x)
        with amp.autocast("cpu", enabled=False):
            assert not amp.is_autocast_enabled("cpu")
            assert lin(x).dtype == np.float32          # a disabled inner region: full precision
        assert amp.is_autocast_enabled("cpu")
    assert isinstance(ac, amp.autocast) and not amp.is_autocast_enabled("cpu")
    assert y.dtype == convnp.bfloat16                  # as torch's CPU autocast
    np.testing.assert_allclose(np.asarray(y.array, np.float32), ref.array, rtol=2e-2, atol=2e-2)

    @amp.autocast("cpu", dtype=convnp.float16)
    def f():
        return amp.is_autocast_enabled("cpu"), amp.get_autocast_dtype("cpu")

    assert f() == (True, "float16")
    with pytest.warns(UserWarning, match="not available"):
        with convnp.autocast("cuda"):
            assert not amp.is_autocast_enabled("cuda")
    with pytest.warns(UserWarning, match="target dtype is not supported"):
        amp.autocast("cpu", dtype=convnp.float64)
    with pytest.raises(RuntimeError, match="unsupported autocast device_type 'tpu9'"):
        amp.autocast("tpu9")
    # torch agrees on the warnings for a device it lacks
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        torch.autocast("cpu", dtype=torch.float64)
    assert any("not supported" in str(m.message) for m in w)
