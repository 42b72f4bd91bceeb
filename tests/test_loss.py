"""Losses: golden values and errors (no torch), then parity with torch (forward and every gradient,
float32 and float64) and float64 gradchecks over a case table covering every option."""

from __future__ import annotations

import math

import numpy as np
import pytest

import convnp
import convnp.nn as nn
import convnp.nn.functional as F
from convnp.autograd import gradcheck
from tests.oracle import compare, rand

# ---------------------------------------------------------------------------- data makers


def _softmax(a, axis):
    e = np.exp(a - a.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _idx(shape, c, seed=1, ignore=None, every=3):
    t = np.random.default_rng(seed).integers(0, c, shape).astype(np.int64)
    if ignore is not None:
        t.reshape(-1)[::every] = ignore
    return t


def _prob(*shape, seed=2, axis=1):
    return _softmax(rand(*shape, seed=seed) * 2, axis)


def _logp(*shape, seed=3):
    a = rand(*shape, seed=seed) * 2
    return a - np.log(np.exp(a).sum(1 if a.ndim > 1 else 0, keepdims=True))


# ---------------------------------------------------------------------------- torch-free part
def test_golden_cross_entropy_uniform_logits():
    out = F.cross_entropy(convnp.tensor([[0.0, 0.0], [1.0, 1.0]]), convnp.tensor([0, 1]))
    assert math.isclose(out.item(), math.log(2), rel_tol=1e-6)


def test_golden_cross_entropy_gradient_is_softmax_minus_onehot():
    x = convnp.tensor([[1.0, 2.0, 3.0]], dtype=convnp.float64, requires_grad=True)
    F.cross_entropy(x, convnp.tensor([2])).backward()
    p = _softmax(np.array([[1.0, 2.0, 3.0]]), 1)
    np.testing.assert_allclose(x.grad.data, p - np.array([[0, 0, 1.0]]), rtol=1e-12)


def test_golden_regression_losses():
    x = convnp.tensor([0.0, 1.0, 3.0])
    y = convnp.tensor([0.5, 1.0, 0.0])
    assert math.isclose(F.mse_loss(x, y).item(), (0.25 + 0 + 9) / 3, rel_tol=1e-6)
    assert math.isclose(F.l1_loss(x, y, reduction="sum").item(), 3.5, rel_tol=1e-6)
    # smooth L1 (beta=1): 0.5*0.25, 0, 3-0.5
    assert math.isclose(F.smooth_l1_loss(x, y, reduction="sum").item(), 0.125 + 2.5, rel_tol=1e-6)
    # huber (delta=2): 0.5*0.25, 0, 2*(3-1)
    np.testing.assert_allclose(F.huber_loss(x, y, reduction="none", delta=2.0).data,
                               [0.125, 0.0, 4.0], rtol=1e-6)


def test_golden_binary_losses():
    p = convnp.tensor([0.5, 0.5])
    t = convnp.tensor([1.0, 0.0])
    assert math.isclose(F.binary_cross_entropy(p, t).item(), math.log(2), rel_tol=1e-6)
    z = convnp.tensor([0.0, 0.0])
    assert math.isclose(F.binary_cross_entropy_with_logits(z, t).item(), math.log(2),
                        rel_tol=1e-6)
    # a probability of exactly 0 for a positive target is clamped at log = -100, like torch
    assert math.isclose(F.binary_cross_entropy(convnp.tensor([0.0]), convnp.tensor([1.0])).item(),
                        100.0, rel_tol=1e-6)


def test_golden_nll_and_kl():
    logp = convnp.tensor([[-1.0, -2.0], [-3.0, -4.0]])
    assert math.isclose(F.nll_loss(logp, convnp.tensor([1, 0])).item(), 2.5, rel_tol=1e-6)
    q = convnp.tensor([[0.5, 0.5]])
    lp = convnp.tensor([[math.log(0.5), math.log(0.5)]])
    assert abs(F.kl_div(lp, q, reduction="batchmean").item()) < 1e-7


def test_all_ignored_mean_is_nan_like_torch():
    out = F.cross_entropy(convnp.randn(3, 4), convnp.tensor([-100, -100, -100]))
    assert math.isnan(out.item())


def test_legacy_size_average_reduce():
    x, y = convnp.tensor([1.0, 2.0]), convnp.tensor([0.0, 0.0])
    assert F.mse_loss(x, y, size_average=False).item() == 5.0
    assert F.mse_loss(x, y, reduce=False).shape == (2,)
    assert nn.MSELoss(size_average=False).reduction == "sum"


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_preserved(dtype):
    x = convnp.tensor(rand(4, 3).astype(dtype))
    assert F.cross_entropy(x, convnp.tensor([0, 1, 2, 0])).dtype == dtype
    assert F.mse_loss(x, x).dtype == dtype
    assert F.binary_cross_entropy_with_logits(x, x).dtype == dtype


ERRORS = [
    ("ce-prob-wrong-classes", lambda: F.cross_entropy(convnp.randn(8, 5), convnp.rand(8, 10)),
     ValueError, r"cross_entropy: target has shape \(8, 10\) of class probabilities but input "
     r"has 5 classes"),
    ("ce-float-indices", lambda: F.cross_entropy(convnp.randn(8, 5), convnp.zeros(8)),
     TypeError, r"cross_entropy: expected target of shape \(8,\) with class indices, got float "
     r"dtype.*\.long\(\)"),
    ("ce-index-shape", lambda: F.cross_entropy(convnp.randn(8, 5), convnp.tensor([0, 1])),
     ValueError, r"cross_entropy: expected target of shape \(8,\).*got target shape \(2,\)"),
    ("ce-out-of-bounds", lambda: F.cross_entropy(convnp.randn(2, 5), convnp.tensor([0, 7])),
     IndexError, r"cross_entropy: target 7 is out of bounds for 5 classes"),
    ("ce-weight-shape", lambda: F.cross_entropy(convnp.randn(2, 5), convnp.tensor([0, 1]),
                                                weight=convnp.ones(4)),
     ValueError, r"cross_entropy: weight must have one entry per class, shape \(5,\)"),
    ("ce-reduction", lambda: F.cross_entropy(convnp.randn(2, 5), convnp.tensor([0, 1]),
                                             reduction="avg"),
     ValueError, r"cross_entropy: 'avg' is not a valid value for reduction"),
    ("ce-smoothing", lambda: F.cross_entropy(convnp.randn(2, 5), convnp.tensor([0, 1]),
                                             label_smoothing=1.5),
     ValueError, r"label_smoothing must be between 0.0 and 1.0"),
    ("ce-0d", lambda: F.cross_entropy(convnp.tensor(1.0), convnp.tensor(0)),
     ValueError, r"cross_entropy: input must have a class dimension"),
    ("nll-float-target", lambda: F.nll_loss(convnp.randn(2, 5), convnp.rand(2, 5)),
     TypeError, r"nll_loss: expected target of shape \(2,\) with class indices"),
    ("mse-shapes", lambda: F.mse_loss(convnp.randn(2, 3), convnp.randn(4)),
     ValueError, r"mse_loss: input of shape \(2, 3\) and target of shape \(4,\) cannot be "
     r"broadcast"),
    ("mse-weight-shape", lambda: F.mse_loss(convnp.randn(2, 3), convnp.randn(2, 3),
                                            weight=convnp.ones(3)),
     ValueError, r"mse_loss: weight of shape \(3,\) must have the input's shape \(2, 3\)"),
    ("smooth-l1-beta", lambda: F.smooth_l1_loss(convnp.randn(2), convnp.randn(2), beta=-1),
     ValueError, r"smooth_l1_loss: beta must be non-negative"),
    ("huber-delta", lambda: F.huber_loss(convnp.randn(2), convnp.randn(2), delta=0),
     ValueError, r"huber_loss: delta must be positive"),
    ("bce-range", lambda: F.binary_cross_entropy(convnp.tensor([1.5]), convnp.tensor([1.0])),
     RuntimeError, r"binary_cross_entropy: all elements of input should be between 0 and 1"),
    ("bce-shape", lambda: F.binary_cross_entropy(convnp.rand(2, 3), convnp.rand(3)),
     ValueError, r"binary_cross_entropy: target of shape \(3,\) must have the same shape as "
     r"the input \(2, 3\)"),
    ("bcel-shape", lambda: F.binary_cross_entropy_with_logits(convnp.rand(2, 3), convnp.rand(2)),
     ValueError, r"binary_cross_entropy_with_logits: target size \(\(2,\)\) must be the same"),
    ("bcel-pos-weight", lambda: F.binary_cross_entropy_with_logits(
        convnp.rand(2, 3), convnp.rand(2, 3), pos_weight=convnp.ones(4)),
     ValueError, r"pos_weight of shape \(4,\) cannot be broadcast to the input's shape"),
    ("kl-reduction", lambda: F.kl_div(convnp.randn(2), convnp.rand(2), reduction="avg"),
     ValueError, r"kl_div: 'avg' is not a valid value for reduction; use one of .*'batchmean'"),
    ("type", lambda: F.mse_loss([1.0], convnp.randn(1)),
     TypeError, r"mse_loss: argument 'input' must be a Tensor, got list"),
]


@pytest.mark.parametrize("fn,exc,match", [e[1:] for e in ERRORS], ids=[e[0] for e in ERRORS])
def test_errors(fn, exc, match):
    with pytest.raises(exc, match=match):
        fn()


def test_broadcast_target_warns():
    with pytest.warns(UserWarning, match="mse_loss: using a target size"):
        F.mse_loss(convnp.randn(2, 3), convnp.randn(3))


def test_kl_div_mean_warns():
    with pytest.warns(UserWarning, match="batchmean"):
        F.kl_div(convnp.randn(2, 3), convnp.rand(2, 3), reduction="mean")


def test_loss_modules_registered_buffers():
    w = convnp.ones(3)
    assert list(nn.CrossEntropyLoss(weight=w).state_dict()) == ["weight"]
    assert list(nn.BCEWithLogitsLoss(pos_weight=w).state_dict()) == ["pos_weight"]
    assert list(nn.CrossEntropyLoss().state_dict()) == []
    m = nn.CrossEntropyLoss(weight=w).double()
    assert m.weight.dtype == np.float64
    assert repr(nn.CrossEntropyLoss()) == "CrossEntropyLoss()"


# ---------------------------------------------------------------------------- gradchecks (no torch)
GRADCHECK = [
    ("mse", lambda x, y: F.mse_loss(x, y), (3, 2), "real"),
    ("l1", lambda x, y: F.l1_loss(x, y, reduction="sum"), (3, 2), "real"),
    ("smooth_l1", lambda x, y: F.smooth_l1_loss(x, y, beta=0.7), (3, 2), "real"),
    ("huber", lambda x, y: F.huber_loss(x, y, delta=0.6, reduction="none"), (3, 2), "real"),
    ("bce", lambda x, y: F.binary_cross_entropy(x, y), (3, 2), "prob01"),
    ("bce-logits-pw", lambda x, y: F.binary_cross_entropy_with_logits(
        x, y, pos_weight=convnp.tensor([1.5, 0.5], dtype=convnp.float64)), (3, 2), "real01"),
    ("kl", lambda x, y: F.kl_div(x, y, reduction="batchmean"), (3, 2), "logp-prob"),
    ("kl-logt", lambda x, y: F.kl_div(x, y, reduction="sum", log_target=True), (3, 2),
     "logp-logp"),
    ("ce-prob-ls", lambda x, y: F.cross_entropy(x, y, label_smoothing=0.2,
                                                weight=convnp.tensor([1.0, 2.0, 0.5],
                                                                     dtype=convnp.float64)),
     (2, 3, 2), "prob"),
]


@pytest.mark.parametrize("fn,shape,kind", [g[1:] for g in GRADCHECK],
                         ids=[g[0] for g in GRADCHECK])
def test_gradcheck(fn, shape, kind):
    r = np.random.default_rng(0)
    x = r.uniform(-1, 1, shape)
    y = r.uniform(-1, 1, shape)
    if kind == "prob01":
        x, y = r.uniform(0.1, 0.9, shape), r.uniform(0, 1, shape)
    elif kind == "real01":
        y = r.uniform(0, 1, shape)
    elif kind == "logp-prob":
        x, y = np.log(_softmax(x, 1)), _softmax(y, 1)
    elif kind == "logp-logp":
        x, y = np.log(_softmax(x, 1)), np.log(_softmax(y, 1))
    elif kind == "prob":
        y = _softmax(y, 1)
    xt = convnp.tensor(x, requires_grad=True)
    yt = convnp.tensor(y, requires_grad=True)
    assert gradcheck(fn, [xt, yt])


@pytest.mark.parametrize("kw", [dict(), dict(label_smoothing=0.3), dict(ignore_index=1),
                                dict(weight=[1.0, 2.0, 0.5], label_smoothing=0.1,
                                     ignore_index=0, reduction="sum")],
                         ids=["plain", "ls", "ignore", "weight-ls-ignore-sum"])
def test_gradcheck_cross_entropy_index_kdim(kw):
    kw = dict(kw)
    if "weight" in kw:
        kw["weight"] = convnp.tensor(kw["weight"], dtype=convnp.float64)
    x = convnp.tensor(rand(2, 3, 2, 2), requires_grad=True)
    t = convnp.tensor(_idx((2, 2, 2), 3))
    assert gradcheck(lambda a: F.cross_entropy(a, t, **kw), [x])
    assert gradcheck(lambda a: F.nll_loss(a, t, **{k: v for k, v in kw.items()
                                                  if k != "label_smoothing"}), [x])


# ---------------------------------------------------------------------------- torch parity
W3 = np.array([0.3, 1.0, 2.0])
W5 = np.array([0.5, 1.0, 2.0, 0.25, 1.5])

# (id, convnp fn, torch-fn name, args (arrays), kwargs, grad flags for the float arrays)
CASES = [
    # regression losses, 1-d/2-d/3-d, every reduction and option, target gradients too
    ("mse-mean-2d", "mse_loss", (rand(3, 4), rand(3, 4, seed=1)), {}, None),
    ("mse-none-1d", "mse_loss", (rand(5), rand(5, seed=1)), dict(reduction="none"), None),
    ("mse-sum-3d", "mse_loss", (rand(2, 3, 4), rand(2, 3, 4, seed=1)), dict(reduction="sum"),
     None),
    ("mse-weight", "mse_loss", (rand(3, 4), rand(3, 4, seed=1), rand(3, 4, seed=2, low=0.1)),
     {}, [True, True, False]),
    ("l1-mean", "l1_loss", (rand(3, 4), rand(3, 4, seed=1)), {}, None),
    ("l1-none-3d", "l1_loss", (rand(2, 3, 4), rand(2, 3, 4, seed=1)), dict(reduction="none"),
     None),
    ("l1-weight-sum", "l1_loss", (rand(3, 4), rand(3, 4, seed=1), rand(3, 4, seed=2, low=0.1)),
     dict(reduction="sum"), [True, True, False]),
    ("smoothl1-b1", "smooth_l1_loss", (rand(4, 5) * 2, rand(4, 5, seed=1)), {}, None),
    ("smoothl1-b0.3-none", "smooth_l1_loss", (rand(4, 5) * 2, rand(4, 5, seed=1)),
     dict(beta=0.3, reduction="none"), None),
    ("smoothl1-b0-sum", "smooth_l1_loss", (rand(4, 5), rand(4, 5, seed=1)),
     dict(beta=0.0, reduction="sum"), None),
    ("huber-d1", "huber_loss", (rand(4, 5) * 2, rand(4, 5, seed=1)), {}, None),
    ("huber-d0.4-none-3d", "huber_loss", (rand(2, 3, 4) * 2, rand(2, 3, 4, seed=1)),
     dict(delta=0.4, reduction="none"), None),
    ("huber-weight", "huber_loss", (rand(4, 5) * 2, rand(4, 5, seed=1), rand(4, 5, seed=2)),
     dict(delta=0.5), [True, True, False]),
    # cross entropy: index targets
    ("ce-mean", "cross_entropy", (rand(4, 5) * 3, _idx(4, 5)), {}, None),
    ("ce-batch1", "cross_entropy", (rand(1, 5) * 3, _idx(1, 5)), {}, None),
    ("ce-unbatched", "cross_entropy", (rand(5) * 3, np.array(3)), {}, None),
    ("ce-none", "cross_entropy", (rand(4, 5) * 3, _idx(4, 5)), dict(reduction="none"), None),
    ("ce-sum", "cross_entropy", (rand(4, 5) * 3, _idx(4, 5)), dict(reduction="sum"), None),
    ("ce-weight", "cross_entropy", (rand(6, 5) * 3, _idx(6, 5), W5), {}, [True, False]),
    ("ce-ignore-default", "cross_entropy", (rand(6, 5) * 3, _idx(6, 5, ignore=-100)), {},
     None),
    ("ce-ignore-2-weight", "cross_entropy", (rand(6, 5) * 3, _idx(6, 5, ignore=2), W5),
     dict(ignore_index=2), [True, False]),
    ("ce-ls", "cross_entropy", (rand(6, 5) * 3, _idx(6, 5)), dict(label_smoothing=0.1), None),
    ("ce-ls-weight-ignore", "cross_entropy", (rand(6, 5) * 3, _idx(6, 5, ignore=-100), W5),
     dict(label_smoothing=0.2), [True, False]),
    ("ce-ls-weight-ignore-none", "cross_entropy", (rand(6, 5) * 3, _idx(6, 5, ignore=-100), W5),
     dict(label_smoothing=0.2, reduction="none"), [True, False]),
    ("ce-ls-sum", "cross_entropy", (rand(6, 5) * 3, _idx(6, 5, ignore=-100)),
     dict(label_smoothing=0.3, reduction="sum"), None),
    ("ce-1d-seg", "cross_entropy", (rand(2, 3, 7) * 3, _idx((2, 7), 3)), {}, None),
    ("ce-2d-seg-weight-ignore", "cross_entropy",
     (rand(2, 3, 4, 5) * 3, _idx((2, 4, 5), 3, ignore=-100), W3), dict(label_smoothing=0.1),
     [True, False]),
    ("ce-3d-seg-none", "cross_entropy", (rand(2, 3, 2, 3, 2) * 3, _idx((2, 2, 3, 2), 3)),
     dict(reduction="none"), None),
    # cross entropy: class-probability targets (their gradient too)
    ("ce-prob", "cross_entropy", (rand(4, 5) * 3, _prob(4, 5)), {}, None),
    ("ce-prob-weight-ls", "cross_entropy", (rand(4, 5) * 3, _prob(4, 5), W5),
     dict(label_smoothing=0.15), [True, True, False]),
    ("ce-prob-2d-none", "cross_entropy", (rand(2, 3, 4, 2) * 3, _prob(2, 3, 4, 2)),
     dict(reduction="none"), None),
    ("ce-prob-sum-unbatched", "cross_entropy", (rand(5) * 3, _prob(5, axis=0)),
     dict(reduction="sum"), None),
    # nll
    ("nll-mean", "nll_loss", (_logp(4, 5), _idx(4, 5)), {}, None),
    ("nll-weight-ignore", "nll_loss", (_logp(6, 5), _idx(6, 5, ignore=-100), W5), {},
     [True, False]),
    ("nll-none", "nll_loss", (_logp(6, 5), _idx(6, 5, ignore=4)),
     dict(ignore_index=4, reduction="none"), None),
    ("nll-2d-sum", "nll_loss", (_logp(2, 3, 4, 3), _idx((2, 4, 3), 3)), dict(reduction="sum"),
     None),
    ("nll-unbatched", "nll_loss", (_logp(5), np.array(1)), {}, None),
    # binary
    ("bce-mean", "binary_cross_entropy", (rand(3, 4, low=0.05, high=0.95),
                                          rand(3, 4, seed=1, low=0, high=1)), {}, None),
    ("bce-weight-none", "binary_cross_entropy", (rand(3, 4, low=0.05, high=0.95),
                                                 rand(3, 4, seed=1, low=0, high=1),
                                                 rand(4, seed=2, low=0.1, high=2)),
     dict(reduction="none"), [True, True, False]),
    ("bce-sum-3d", "binary_cross_entropy", (rand(2, 3, 2, low=0.05, high=0.95),
                                            rand(2, 3, 2, seed=1, low=0, high=1)),
     dict(reduction="sum"), None),
    ("bcel-mean", "binary_cross_entropy_with_logits", (rand(3, 4) * 4,
                                                       rand(3, 4, seed=1, low=0, high=1)),
     {}, None),
    ("bcel-posweight", "binary_cross_entropy_with_logits",
     (rand(3, 4) * 4, rand(3, 4, seed=1, low=0, high=1), rand(4, seed=2, low=0.2, high=3)),
     "pos_weight", [True, True, False]),
    ("bcel-weight-posweight-none", "binary_cross_entropy_with_logits",
     (rand(3, 4) * 4, rand(3, 4, seed=1, low=0, high=1), rand(3, 1, seed=3, low=0.2, high=2),
      rand(4, seed=2, low=0.2, high=3)), "weight+pos_weight", [True, True, False, False]),
    ("bcel-sum-1d", "binary_cross_entropy_with_logits",
     (rand(6) * 30, rand(6, seed=1, low=0, high=1)), dict(reduction="sum"), None),
    # KL divergence
    ("kl-batchmean", "kl_div", (_logp(3, 4), _prob(3, 4)), dict(reduction="batchmean"), None),
    ("kl-sum", "kl_div", (_logp(3, 4), _prob(3, 4)), dict(reduction="sum"), None),
    ("kl-none-3d", "kl_div", (_logp(2, 3, 2), _prob(2, 3, 2)), dict(reduction="none"), None),
    ("kl-logtarget", "kl_div", (_logp(3, 4), _logp(3, 4, seed=7)),
     dict(reduction="batchmean", log_target=True), None),
]


def _call(lib, name, args, kw):
    """Call ``lib.<name>`` with the case's arrays; extra arrays become weight/pos_weight."""
    fn = getattr(lib, name)
    if kw == "pos_weight":
        return fn(args[0], args[1], pos_weight=args[2])
    if kw == "weight+pos_weight":
        return fn(args[0], args[1], weight=args[2], pos_weight=args[3])
    if len(args) == 3:
        return fn(args[0], args[1], weight=args[2], **kw)
    return fn(*args, **kw)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("name,args,kw,grad", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_parity(name, args, kw, grad, dtype):
    torch = pytest.importorskip("torch")
    compare(lambda *a: _call(F, name, a, kw), lambda *a: _call(torch.nn.functional, name, a, kw),
            *args, dtype=dtype, grad=grad)


MODULES = [
    ("CrossEntropyLoss", dict(weight=W5, label_smoothing=0.1, ignore_index=1),
     lambda: (rand(6, 5) * 3, _idx(6, 5))),
    ("NLLLoss", dict(weight=W5, reduction="sum"), lambda: (_logp(6, 5), _idx(6, 5))),
    ("MSELoss", dict(reduction="none"), lambda: (rand(3, 4), rand(3, 4, seed=1))),
    ("L1Loss", {}, lambda: (rand(3, 4), rand(3, 4, seed=1))),
    ("SmoothL1Loss", dict(beta=0.5), lambda: (rand(3, 4), rand(3, 4, seed=1))),
    ("HuberLoss", dict(delta=0.3), lambda: (rand(3, 4), rand(3, 4, seed=1))),
    ("BCELoss", dict(weight=rand(4, low=0.1, high=1)),
     lambda: (rand(3, 4, low=0.05, high=0.95), rand(3, 4, seed=1, low=0, high=1))),
    ("BCEWithLogitsLoss", dict(pos_weight=rand(4, low=0.1, high=2)),
     lambda: (rand(3, 4) * 3, rand(3, 4, seed=1, low=0, high=1))),
    ("KLDivLoss", dict(reduction="batchmean", log_target=True),
     lambda: (_logp(3, 4), _logp(3, 4, seed=4))),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("cls,kw,data", MODULES, ids=[m[0] for m in MODULES])
def test_module_parity(cls, kw, data, dtype):
    torch = pytest.importorskip("torch")
    ckw = {k: (convnp.tensor(v.astype(dtype)) if isinstance(v, np.ndarray) else v)
           for k, v in kw.items()}
    tkw = {k: (torch.tensor(v.astype(dtype)) if isinstance(v, np.ndarray) else v)
           for k, v in kw.items()}
    cm, tm = getattr(nn, cls)(**ckw), getattr(torch.nn, cls)(**tkw)
    assert repr(cm) == repr(tm)
    assert list(cm.state_dict()) == list(tm.state_dict())
    x, t = data()
    compare(cm, tm, x, t, dtype=dtype, grad=[True, False] if t.dtype.kind == "f" else None)
