"""The pieces the optimizers and schedulers share, where they have behaviour of their own:
torch's lerp_/addcmul_ rounding, the hyperparameter checks, the fresh state layout, the
per-parameter loop a new rule plugs into, the chainable scheduler form, per-group values and
the backend flags context."""

import numpy as np
import pytest

import convnp
from convnp import optim
from convnp.optim._functional import average_square_, bias_correction, decayed_grad, lerp_
from convnp.optim.lr_scheduler import LRScheduler
from convnp.optim.lr_scheduler._base import per_group
from convnp.optim.optimizer import PerParameterOptimizer, check_hyperparameters, fresh_state


def _rand(seed, shape=(64,), dtype=np.float32):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


@pytest.mark.parametrize("weight", [0.1, 0.4999, 0.5, 0.7, 1.0])
def test_lerp_follows_torch(weight):
    torch = pytest.importorskip("torch")
    start, end = _rand(0), _rand(1)
    expected = torch.tensor(start).lerp_(torch.tensor(end), weight).numpy()
    lerp_(start, end, weight)
    np.testing.assert_allclose(start, expected, rtol=1e-5, atol=1e-6)


def test_lerp_is_exact_at_weight_one():
    # torch switches to end - (end - start) * (1 - w) from w = 0.5 on: exact at w = 1, where
    # start + w * (end - start) can miss end by a rounding
    start = np.array([1e8, 3.0, -7.1], np.float32)
    end = np.array([1.0, 1e-8, 2.3], np.float32)
    assert not np.array_equal(start + 1.0 * (end - start), end)
    lerp_(start, end, 1.0)
    np.testing.assert_array_equal(start, end)


def test_average_square_follows_torch_addcmul():
    torch = pytest.importorskip("torch")
    avg, g = np.abs(_rand(2)), _rand(3)
    expected = torch.tensor(avg).mul_(0.999).addcmul_(torch.tensor(g), torch.tensor(g),
                                                       value=1 - 0.999).numpy()
    average_square_(avg, g, 0.999)
    np.testing.assert_array_max_ulp(avg, expected, maxulp=1)


def test_bias_correction_and_decayed_grad():
    assert bias_correction(0.9, 2) == pytest.approx(0.19)
    p = convnp.tensor(np.array([1.0, -2.0]))
    g = np.array([0.5, 0.5])
    np.testing.assert_allclose(decayed_grad(p, g, True, 0.0), [-0.5, -0.5])
    np.testing.assert_allclose(decayed_grad(p, g, False, 0.1), [0.6, 0.3])
    # decoupled: the parameter shrinks in place, the gradient is untouched
    np.testing.assert_allclose(decayed_grad(p, g, False, 0.1, lr=0.5, decoupled=True), g)
    np.testing.assert_allclose(p.array, [0.95, -1.9])


def test_check_hyperparameters_messages_in_order():
    check_hyperparameters((0.0, 0.999), lr=0.0, eps=0.0, weight_decay=0.0)
    with pytest.raises(ValueError, match="Invalid learning rate: -1"):
        check_hyperparameters(lr=-1, eps=-1)
    with pytest.raises(ValueError, match="Invalid epsilon value: -0.5"):
        check_hyperparameters(lr=1, eps=-0.5)
    with pytest.raises(ValueError, match="Invalid momentum_decay value: -2"):
        check_hyperparameters(momentum_decay=-2)
    with pytest.raises(ValueError, match="Invalid beta parameter at index 1: 1.0"):
        check_hyperparameters((0.9, 1.0), lr=1)


def test_fresh_state_layout():
    p = convnp.zeros(2, 3, dtype=convnp.float64)
    state = fresh_state(p, mu=np.ones((), np.float32), acc=0.5, exp_avg=0)
    assert list(state) == ["step", "mu", "acc", "exp_avg"]  # torch's key order
    assert state["step"].array.shape == () and state["step"].array.dtype == np.float32
    assert state["mu"].array.dtype == np.float32 and state["mu"].array.shape == ()
    assert state["acc"].array.dtype == np.float64 and state["acc"].array.shape == (2, 3)
    np.testing.assert_array_equal(state["acc"].array, 0.5)


class _SignDescent(PerParameterOptimizer):
    """A rule written only as _update, with one zero buffer: p -= lr * sign(g + last g)."""

    _zero_buffers = ("last",)

    def __init__(self, params, lr=0.1, weight_decay=0.0, maximize=False):
        super().__init__(params, dict(lr=lr, weight_decay=weight_decay, maximize=maximize))

    def _update(self, p, g, group):
        state, step = self._state(p, group)
        p.array -= group["lr"] * np.sign(g + state["last"].array)
        state["last"].array[...] = g


def test_per_parameter_loop_serves_a_new_rule():
    w = convnp.tensor(np.array([1.0, -1.0]), requires_grad=True)
    unused = convnp.tensor(np.array([3.0]), requires_grad=True)
    opt = _SignDescent([w, unused], lr=0.5, weight_decay=0.1, maximize=True)

    def closure():
        opt.zero_grad()
        loss = (w * convnp.tensor(np.array([2.0, 2.0]))).sum()
        loss.backward()
        return loss

    loss = opt.step(closure)
    assert float(loss.array) == 0.0
    # maximize negates the gradient (2) before the L2 term (0.1 * w): g = -2 + 0.1 w
    np.testing.assert_allclose(w.array, [1.5, -0.5])
    np.testing.assert_allclose(opt.state[w]["last"].array, [-1.9, -2.1])
    assert float(opt.state[w]["step"].array) == 1.0
    assert unused not in opt.state and unused.array[0] == 3.0  # no gradient: untouched
    opt.step(closure)
    assert float(opt.state[w]["step"].array) == 2.0
    # torch's flag checks run for every rule
    opt.param_groups[0]["differentiable"] = True
    with pytest.raises(NotImplementedError, match="_SignDescent: differentiable=True"):
        opt.step(closure)


def test_adam_small_beta1_uses_torchs_second_lerp_formula():
    torch = pytest.importorskip("torch")
    from tests.test_optim import _assert_params, _run

    kw = dict(lr=0.01, betas=(0.3, 0.9))
    cp, _, _ = _run(convnp, optim, "Adam", kw, np.float32, 20)
    tp, _, _ = _run(torch, torch.optim, "Adam", kw, np.float32, 20)
    _assert_params(cp, tp, np.float32)


class _Halving(LRScheduler):
    def _factor(self):
        return None if self._is_initial else 0.5


class _PerGroup(LRScheduler):
    def _factor(self):
        return None if self._is_initial else [0.5, 0.1]


def _two_groups():
    a, b = convnp.ones(2, requires_grad=True), convnp.ones(2, requires_grad=True)
    return optim.SGD([{"params": [a]}, {"params": [b], "lr": 1.0}], lr=0.1)


def test_chainable_form_from_a_factor():
    opt = _two_groups()
    sched = _Halving(opt)
    assert sched.get_last_lr() == [0.1, 1.0]
    sched.step()
    sched.step()
    assert sched.get_last_lr() == [0.025, 0.25]
    sched = _PerGroup(_two_groups())
    sched.step()
    assert sched.get_last_lr() == pytest.approx([0.05, 0.1])


def test_scheduler_without_a_rule_says_what_to_implement():
    class Empty(LRScheduler):
        pass

    with pytest.raises(NotImplementedError, match="Empty must implement get_lr"):
        Empty(_two_groups())


def test_per_group_values():
    opt = _two_groups()
    assert per_group(opt, 3, "{n} {got}") == [3, 3]
    assert per_group(opt, (1, 2), "{n} {got}") == [1, 2]
    with pytest.raises(ValueError, match="expected 2 things, got 3"):
        per_group(opt, [1, 2, 3], "expected {n} things, got {got}")


def test_backend_flags_restore_after_an_exception():
    cudnn, mkldnn = convnp.backends.cudnn, convnp.backends.mkldnn
    before = (cudnn.enabled, cudnn.benchmark, mkldnn.deterministic)
    with pytest.raises(KeyError):
        with cudnn.flags(enabled=False, benchmark=True), mkldnn.flags(deterministic=True):
            assert (cudnn.enabled, cudnn.benchmark, mkldnn.deterministic) == (False, True, True)
            raise KeyError("inside")
    assert (cudnn.enabled, cudnn.benchmark, mkldnn.deterministic) == before
