"""nn.CTCLoss against torch: losses and gradients (through log_softmax and on log_probs
directly), padded and concatenated targets, repeated labels, reductions, zero_infinity."""

import numpy as np
import pytest

import convnp
from convnp import nn

torch = pytest.importorskip("torch")

R = np.random.default_rng(0)

CASES = [
    ("padded", 12, 3, 6, [5, 3, 0], [12, 9, 7], "mean", False, 0),
    ("repeats-sum", 10, 2, 4, [4, 3], [10, 8], "sum", False, 0),
    ("concat-none-blank3", 9, 3, 5, [2, 4, 1], [9, 9, 5], "none", False, 3),
    ("impossible-zero-inf", 4, 2, 4, [4, 2], [4, 4], "mean", True, 0),
    ("impossible-inf", 4, 2, 4, [1, 4], [4, 3], "none", False, 0),
]


def _targets(n, s_lens, c, blank, repeats):
    out = np.zeros((n, max(max(s_lens), 1)), np.int64)
    labels = [v for v in range(c) if v != blank]
    for i, s in enumerate(s_lens):
        row = R.choice(labels, s)
        if repeats and s > 1:
            row[1] = row[0]  # a repeated label needs a blank between its two frames
        out[i, :s] = row
    return out


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_ctc_matches_torch(case, dtype):
    name, t, n, c, s_lens, in_lens, reduction, zero_inf, blank = case
    x = R.standard_normal((t, n, c)).astype(dtype)
    tg = _targets(n, s_lens, c, blank, repeats="repeats" in name or "impossible" in name)
    if "concat" in name:
        tg_c = np.concatenate([tg[i, :s] for i, s in enumerate(s_lens)])
    else:
        tg_c = tg
    tol = dict(rtol=1e-4, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-9, atol=1e-11)
    for through_softmax in (True, False):
        cx, tx = convnp.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        clp = nn.functional.log_softmax(cx, 2) if through_softmax else cx
        tlp = torch.log_softmax(tx, 2) if through_softmax else tx
        cl = nn.CTCLoss(blank, reduction, zero_inf)(clp, convnp.tensor(tg_c),
                                                     convnp.tensor(in_lens),
                                                     convnp.tensor(s_lens))
        tl = torch.nn.CTCLoss(blank, reduction, zero_inf)(tlp, torch.tensor(tg_c),
                                                          torch.tensor(in_lens),
                                                          torch.tensor(s_lens))
        np.testing.assert_allclose(cl.array, tl.detach().numpy(), **tol)
        if np.isinf(tl.detach().numpy()).any():
            continue
        g = R.standard_normal(tuple(tl.shape)).astype(dtype)
        cl.backward(convnp.tensor(g))
        tl.backward(torch.tensor(g))
        np.testing.assert_allclose(cx.grad.array, tx.grad.numpy(), **tol)


def test_ctc_unbatched_and_errors():
    x = R.standard_normal((6, 4))
    lp_c = nn.functional.log_softmax(convnp.tensor(x), 1)
    lp_t = torch.log_softmax(torch.tensor(x), 1)
    c = nn.CTCLoss()(lp_c, convnp.tensor([1, 2]), convnp.tensor([6]), convnp.tensor([2]))
    t = torch.nn.CTCLoss()(lp_t, torch.tensor([1, 2]), torch.tensor([6]), torch.tensor([2]))
    np.testing.assert_allclose(c.array, t.numpy(), rtol=1e-10)
    with pytest.raises(RuntimeError, match="differ from the blank"):
        nn.CTCLoss()(lp_c.unsqueeze(1), convnp.tensor([[0, 1]]), convnp.tensor([6]),
                     convnp.tensor([2]))
    with pytest.raises(RuntimeError, match="input_lengths must be in"):
        nn.CTCLoss()(lp_c.unsqueeze(1), convnp.tensor([[2, 1]]), convnp.tensor([7]),
                     convnp.tensor([2]))


LCE = [
    ("plain", dict(), (5, 4), (5,)),
    ("bias-kdim-none", dict(out_features=(2, 3), bias=True, reduction="none"), (5, 4),
     (5, 2, 3)),
    ("weight-smoothing-ignore", dict(weight="w", label_smoothing=0.1, ignore_index=1), (6, 4),
     (6,)),
    ("unbatched-sum", dict(reduction="sum", bias=True), (4,), ()),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("case", LCE, ids=[c[0] for c in LCE])
def test_linear_cross_entropy_loss_matches_torch(case, dtype):
    _, kw, xshape, tshape = case
    classes = 3
    w = R.random(classes) + 0.1
    tkw = dict(kw)
    ckw = dict(kw)
    if kw.get("weight") == "w":
        tkw["weight"] = torch.tensor(w.astype(dtype))
        ckw["weight"] = convnp.tensor(w.astype(dtype))
    tdt = torch.float32 if dtype == np.float32 else torch.float64
    tm = torch.nn.LinearCrossEntropyLoss(4, classes, **tkw).to(tdt)
    cm = nn.LinearCrossEntropyLoss(4, classes, **ckw)
    if dtype == np.float64:
        cm.double()
    assert list(cm.state_dict()) == list(tm.state_dict())
    cm.load_state_dict({k: v.numpy() for k, v in tm.state_dict().items()})
    assert cm.extra_repr() == tm.extra_repr()
    x = R.standard_normal(xshape).astype(dtype)
    y = R.integers(0, classes, tshape)
    cx, tx = convnp.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    cl, tl = cm(cx, convnp.tensor(y)), tm(tx, torch.tensor(y))
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(cl.array, tl.detach().numpy(), **tol)
    g = R.standard_normal(tuple(tl.shape)).astype(dtype)
    cl.backward(convnp.tensor(g))
    tl.backward(torch.tensor(g))
    np.testing.assert_allclose(cx.grad.array, tx.grad.numpy(), **tol)
    np.testing.assert_allclose(cm.linear.weight.grad.array, tm.linear.weight.grad.numpy(), **tol)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("kw", [dict(cutoffs=[3, 6]), dict(cutoffs=[2], div_value=2.0,
                                                             head_bias=True)],
                         ids=["two-clusters", "one-cluster-bias"])
def test_adaptive_log_softmax_matches_torch(kw, dtype):
    tdt = torch.float32 if dtype == np.float32 else torch.float64
    tm = torch.nn.AdaptiveLogSoftmaxWithLoss(16, 10, **kw).to(tdt)
    cm = nn.AdaptiveLogSoftmaxWithLoss(16, 10, **kw)
    if dtype == np.float64:
        cm.double()
    assert list(cm.state_dict()) == list(tm.state_dict())
    cm.load_state_dict({k: v.numpy() for k, v in tm.state_dict().items()})
    x = R.standard_normal((7, 16)).astype(dtype)
    y = np.array([0, 9, 4, 2, 7, 1, 5])
    cx, tx = convnp.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    (co, cl), (to, tl) = cm(cx, convnp.tensor(y)), tm(tx, torch.tensor(y))
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(co.array, to.detach().numpy(), **tol)
    np.testing.assert_allclose(cl.array, tl.detach().numpy(), **tol)
    g = R.standard_normal(7).astype(dtype)
    ((co * convnp.tensor(g)).sum() + cl).backward()
    ((to * torch.tensor(g)).sum() + tl).backward()
    np.testing.assert_allclose(cx.grad.array, tx.grad.numpy(), **tol)
    tp = dict(tm.named_parameters())
    for k, p in cm.named_parameters():
        np.testing.assert_allclose(p.grad.array, tp[k].grad.numpy(), err_msg=k, **tol)
    np.testing.assert_allclose(cm.log_prob(cx).array, tm.log_prob(tx).detach().numpy(), **tol)
    np.testing.assert_array_equal(cm.predict(cx).array, tm.predict(tx).numpy())
    co1, cl1 = cm(cx[1], convnp.tensor(np.array(9)))  # unbatched
    to1, tl1 = tm(tx[1], torch.tensor(9))
    assert co1.shape == tuple(to1.shape) == ()
    np.testing.assert_allclose(co1.array, to1.detach().numpy(), **tol)
    with pytest.raises(RuntimeError, match="Target values should be in"):
        cm(cx, convnp.tensor(np.array([0, 1, 2, 3, 4, 5, 10])))
    with pytest.raises(ValueError, match="cutoffs should be a sequence of unique"):
        nn.AdaptiveLogSoftmaxWithLoss(8, 10, cutoffs=[5, 3])


def test_one_ctc_implementation():
    """F.ctc_loss and nn.CTCLoss run the same fused recursion (ops/ctc.py)."""
    import convnp.nn.functional as F
    from convnp.ops import ctc

    assert F.ctc_loss is ctc.ctc_loss
