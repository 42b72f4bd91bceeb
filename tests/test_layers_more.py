"""The torch.nn layers added for coverage (losses, distances, GLU, RReLU, Softmax2d,
ChannelShuffle, RMSNorm, CrossMapLRN2d, ...) against torch: outputs and every input gradient
with a random upstream gradient, float32 and float64, every argument at least once."""

import numpy as np
import pytest

import convnp
from convnp import nn

torch = pytest.importorskip("torch")

R = np.random.default_rng(0)


def _x(*shape, lo=None):
    a = R.standard_normal(shape)
    return np.abs(a) + lo if lo is not None else a


def _sign(*shape):
    return np.where(R.standard_normal(shape) > 0, 1.0, -1.0)


def _int(hi, *shape):
    return R.integers(0, hi, shape)


def _mlm_target(n, c):
    t = -np.ones((n, c), np.int64)
    for i in range(n):
        k = 1 + i % (c - 1)
        t[i, :k] = R.permutation(c)[:k]
    return t


# (id, class name, kwargs, [inputs: ("x", array) differentiable / ("c", array) constant])
CASES = [
    ("margin-ranking", "MarginRankingLoss", {}, [("x", _x(6)), ("x", _x(6)), ("c", _sign(6))]),
    ("margin-ranking-m-sum", "MarginRankingLoss", dict(margin=0.3, reduction="sum"),
     [("x", _x(6)), ("x", _x(6)), ("c", _sign(6))]),
    ("hinge-emb", "HingeEmbeddingLoss", {}, [("x", _x(4, 5)), ("c", _sign(4, 5))]),
    ("hinge-emb-m-none", "HingeEmbeddingLoss", dict(margin=0.5, reduction="none"),
     [("x", _x(7)), ("c", _sign(7))]),
    ("soft-margin", "SoftMarginLoss", {}, [("x", _x(3, 4)), ("c", _sign(3, 4))]),
    ("soft-margin-none", "SoftMarginLoss", dict(reduction="none"),
     [("x", _x(5)), ("c", _sign(5))]),
    ("ml-soft-margin", "MultiLabelSoftMarginLoss", {},
     [("x", _x(4, 5)), ("c", (_x(4, 5) > 0).astype(float))]),
    ("ml-soft-margin-w-none", "MultiLabelSoftMarginLoss",
     dict(weight=_x(5, lo=0.1), reduction="none"),
     [("x", _x(4, 5)), ("c", (_x(4, 5) > 0).astype(float))]),
    ("cos-emb", "CosineEmbeddingLoss", {}, [("x", _x(5, 4)), ("x", _x(5, 4)), ("c", _sign(5))]),
    ("cos-emb-m-1d", "CosineEmbeddingLoss", dict(margin=0.2, reduction="sum"),
     [("x", _x(4)), ("x", _x(4)), ("c", np.array(-1.0))]),
    ("multi-margin", "MultiMarginLoss", {}, [("x", _x(5, 4)), ("c", _int(4, 5))]),
    ("multi-margin-p2-w", "MultiMarginLoss", dict(p=2, margin=0.7, weight=_x(4, lo=0.1)),
     [("x", _x(5, 4)), ("c", _int(4, 5))]),
    ("multi-margin-1d-none", "MultiMarginLoss", dict(reduction="none"),
     [("x", _x(4)), ("c", np.array(2))]),
    ("ml-margin", "MultiLabelMarginLoss", {}, [("x", _x(4, 5)), ("c", _mlm_target(4, 5))]),
    ("ml-margin-none", "MultiLabelMarginLoss", dict(reduction="none"),
     [("x", _x(3, 4)), ("c", _mlm_target(3, 4))]),
    ("gauss-nll", "GaussianNLLLoss", {},
     [("x", _x(4, 3)), ("x", _x(4, 3)), ("x", _x(4, 3, lo=0.1))]),
    ("gauss-nll-full-homo-sum", "GaussianNLLLoss", dict(full=True, reduction="sum"),
     [("x", _x(4, 3)), ("c", _x(4, 3)), ("x", _x(4, lo=0.1))]),
    ("gauss-nll-eps-clamp-none", "GaussianNLLLoss", dict(eps=0.5, reduction="none"),
     [("x", _x(4, 3)), ("c", _x(4, 3)), ("x", _x(4, 1, lo=0.01))]),
    ("poisson-nll", "PoissonNLLLoss", {}, [("x", _x(4, 3)), ("c", _x(4, 3, lo=0.0) * 3)]),
    ("poisson-nll-nolog-full", "PoissonNLLLoss", dict(log_input=False, full=True, eps=1e-4),
     [("x", _x(4, 3, lo=0.1)), ("c", np.floor(_x(4, 3, lo=0.0) * 3))]),
    ("triplet", "TripletMarginLoss", {}, [("x", _x(5, 3)), ("x", _x(5, 3)), ("x", _x(5, 3))]),
    ("triplet-p1-swap-none", "TripletMarginLoss",
     dict(margin=0.5, p=1.0, swap=True, reduction="none"),
     [("x", _x(5, 3)), ("x", _x(5, 3)), ("x", _x(5, 3))]),
    ("triplet-dist", "TripletMarginWithDistanceLoss", {},
     [("x", _x(5, 3)), ("x", _x(5, 3)), ("x", _x(5, 3))]),
    ("triplet-dist-cos-swap", "TripletMarginWithDistanceLoss",
     dict(distance_function="cosine", margin=0.4, swap=True),
     [("x", _x(5, 3)), ("x", _x(5, 3)), ("x", _x(5, 3))]),
    ("pairwise", "PairwiseDistance", {}, [("x", _x(4, 3)), ("x", _x(4, 3))]),
    ("pairwise-p1-keep", "PairwiseDistance", dict(p=1.0, keepdim=True),
     [("x", _x(4, 3)), ("x", _x(4, 3))]),
    ("pairwise-p3-bcast", "PairwiseDistance", dict(p=3.0, eps=1e-3),
     [("x", _x(4, 3)), ("x", _x(3))]),
    ("pairwise-pinf", "PairwiseDistance", dict(p=float("inf")), [("x", _x(4, 3)), ("x", _x(4, 3))]),
    ("cos-sim", "CosineSimilarity", {}, [("x", _x(4, 3, 2)), ("x", _x(4, 3, 2))]),
    ("cos-sim-dim0-eps", "CosineSimilarity", dict(dim=0, eps=0.5),
     [("x", _x(3, 4) * 0.1), ("x", _x(3, 4))]),
    ("glu", "GLU", {}, [("x", _x(3, 4))]),
    ("glu-dim1", "GLU", dict(dim=1), [("x", _x(2, 6, 3))]),
    ("rrelu-eval", "RReLU", dict(lower=0.1, upper=0.4), [("x", _x(3, 5))]),
    ("softmax2d", "Softmax2d", {}, [("x", _x(2, 3, 4, 5))]),
    ("softmax2d-3d", "Softmax2d", {}, [("x", _x(3, 4, 5))]),
    ("channel-shuffle", "ChannelShuffle", dict(groups=3), [("x", _x(2, 6, 4, 3))]),
    ("channel-shuffle-1d", "ChannelShuffle", dict(groups=2), [("x", _x(2, 4, 5))]),
]


def _torch_kwargs(kw):
    out = {}
    for k, v in kw.items():
        if isinstance(v, np.ndarray):
            v = torch.tensor(v)
        if k == "distance_function" and v == "cosine":
            v = lambda a, b: 1 - torch.nn.functional.cosine_similarity(a, b)  # noqa: E731
        out[k] = v
    return out


def _convnp_kwargs(kw, dtype):
    out = {}
    for k, v in kw.items():
        if isinstance(v, np.ndarray):
            v = convnp.tensor(v.astype(dtype))
        if k == "distance_function" and v == "cosine":
            from convnp.nn.functional import cosine_similarity

            v = lambda a, b: 1 - cosine_similarity(a, b)  # noqa: E731
        out[k] = v
    return out


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_layer_matches_torch(case, dtype):
    _, name, kw, inputs = case
    tkw = _torch_kwargs(kw)
    ckw = _convnp_kwargs(kw, dtype)
    tdt = torch.float32 if dtype == np.float32 else torch.float64
    tm = getattr(torch.nn, name)(**{k: (v.to(tdt) if isinstance(v, torch.Tensor) else v)
                                    for k, v in tkw.items()})
    cm = getattr(nn, name)(**ckw)
    if name == "RReLU":
        tm.eval()
        cm.eval()
    cin, tin = [], []
    for kind, a in inputs:
        a = np.asarray(a)
        if a.dtype.kind == "f":
            a = a.astype(dtype)
        cin.append(convnp.tensor(a, requires_grad=kind == "x"))
        tin.append(torch.tensor(a, requires_grad=kind == "x"))
    cy, ty = cm(*cin), tm(*tin)
    tol = dict(rtol=2e-5, atol=2e-6) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-12)
    assert cy.shape == tuple(ty.shape)
    assert cy.dtype == dtype
    np.testing.assert_allclose(cy.array, ty.detach().numpy(), **tol)
    g = R.standard_normal(ty.shape).astype(dtype)
    cy.backward(convnp.tensor(g))
    ty.backward(torch.tensor(g))
    for i, (c, t) in enumerate(zip(cin, tin)):
        if t.requires_grad:
            np.testing.assert_allclose(c.grad.array, t.grad.numpy(), err_msg=f"input {i}", **tol)


def test_rrelu_training_slopes():
    convnp.manual_seed(0)
    m = nn.RReLU(0.2, 0.3)
    x = convnp.tensor(np.linspace(-2, 2, 400), requires_grad=True)
    y = m(x)
    y.sum().backward()
    neg = x.array < 0
    slopes = x.grad.array[neg]
    assert (slopes >= 0.2).all() and (slopes <= 0.3).all() and slopes.std() > 0.01
    np.testing.assert_allclose(y.array[neg], x.array[neg] * slopes)
    np.testing.assert_array_equal(x.grad.array[~neg], 1.0)


def test_gradcheck_float64():
    from convnp.autograd import gradcheck
    from convnp.nn import functional as F

    a = convnp.tensor(_x(3, 4), requires_grad=True)
    b = convnp.tensor(_x(3, 4), requires_grad=True)
    t = convnp.tensor(_int(4, 3))
    assert gradcheck(lambda u, v: F.cosine_similarity(u, v), [a, b])
    assert gradcheck(lambda u: F.multi_margin_loss(u, t, p=2), [a])
    assert gradcheck(lambda u, v: F.triplet_margin_loss(u, v, v * 0.5, p=3), [a, b])
    assert gradcheck(lambda u: F.glu(u, 1), [a])


def test_errors():
    with pytest.raises(RuntimeError, match="Halving dimension must be even"):
        nn.GLU()(convnp.randn(3, 5))
    with pytest.raises(ValueError, match="Softmax2d: expected input to be 3D or 4D, got 2D"):
        nn.Softmax2d()(convnp.randn(3, 5))
    with pytest.raises(RuntimeError, match="divisible by groups"):
        nn.ChannelShuffle(4)(convnp.randn(1, 6, 2, 2))
    with pytest.raises(ValueError, match="only p == 1 and p == 2 supported"):
        nn.MultiMarginLoss(p=3)
    with pytest.raises(ValueError, match="var is of incorrect size"):
        nn.GaussianNLLLoss()(convnp.randn(4, 3), convnp.randn(4, 3), convnp.ones(2))
    with pytest.raises(ValueError, match="var has negative entry"):
        nn.GaussianNLLLoss()(convnp.randn(4, 3), convnp.randn(4, 3), -convnp.ones(4, 3))
    with pytest.raises(ValueError, match="expected margin to be greater than 0"):
        nn.TripletMarginLoss(margin=0)
    with pytest.raises(ValueError, match="not a valid value for reduction"):
        nn.SoftMarginLoss(reduction="avg")(convnp.randn(3), convnp.ones(3))
    with pytest.warns(DeprecationWarning, match="NLLLoss2d has been deprecated"):
        m = nn.NLLLoss2d()
    assert isinstance(m, nn.NLLLoss)


# layers with parameters or state: torch's state_dict loads into convnp, then outputs, input
# and parameter gradients, and the state after the call (running stats) agree
STATEFUL = [
    ("rmsnorm", "RMSNorm", ([4],), {}, (3, 2, 4)),
    ("rmsnorm-2d-eps", "RMSNorm", ([3, 4],), dict(eps=1e-3), (2, 3, 4)),
    ("rmsnorm-noaffine", "RMSNorm", (5,), dict(elementwise_affine=False), (3, 5)),
    ("crossmap-lrn-3", "CrossMapLRN2d", (3,), dict(alpha=1e-2, beta=0.6, k=2.0), (2, 6, 3, 3)),
    ("crossmap-lrn-4", "CrossMapLRN2d", (4,), {}, (2, 7, 2, 3)),
    ("crossmap-lrn-5-few-ch", "CrossMapLRN2d", (5,), dict(alpha=0.1), (1, 3, 2, 2)),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("case", STATEFUL, ids=[c[0] for c in STATEFUL])
def test_stateful_layer_matches_torch(case, dtype):
    _, name, args, kw, shape = case
    tdt = torch.float32 if dtype == np.float32 else torch.float64
    tm = getattr(torch.nn, name)(*args, **kw).to(tdt)
    for p in tm.parameters():  # non-trivial affine parameters
        with torch.no_grad():
            p.copy_(torch.tensor(R.standard_normal(tuple(p.shape))))
    cm = getattr(nn, name)(*args, **kw)
    if dtype == np.float64:
        cm.double()
    assert list(cm.state_dict()) == list(tm.state_dict())
    cm.load_state_dict({k: v.numpy() for k, v in tm.state_dict().items()})
    x = R.standard_normal(shape).astype(dtype)
    cx, tx = convnp.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    cy, ty = cm(cx), tm(tx)
    tol = dict(rtol=1e-4, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(cy.array, ty.detach().numpy(), **tol)
    g = R.standard_normal(shape).astype(dtype)
    cy.backward(convnp.tensor(g))
    ty.backward(torch.tensor(g))
    np.testing.assert_allclose(cx.grad.array, tx.grad.numpy(), **tol)
    tp = dict(tm.named_parameters())
    for k, p in cm.named_parameters():
        np.testing.assert_allclose(p.grad.array, tp[k].grad.numpy(), err_msg=k, **tol)
    for (k, v), tv in zip(cm.state_dict().items(), tm.state_dict().values()):
        np.testing.assert_allclose(np.asarray(v.array, float), tv.numpy().astype(float),
                                   err_msg=k, **tol)
    assert cm.extra_repr() == tm.extra_repr()


def test_crossmap_lrn_differs_from_local_response_norm_as_torch():
    # torch's legacy window keeps channel 0: the layers differ, in both libraries alike
    x = R.standard_normal((1, 6, 2, 2))
    a = nn.CrossMapLRN2d(3, 1e-1)(convnp.tensor(x)).array
    b = nn.functional.local_response_norm(convnp.tensor(x), 3, 1e-1).array
    ta = torch.nn.CrossMapLRN2d(3, 1e-1)(torch.tensor(x)).numpy()
    tb = torch.nn.functional.local_response_norm(torch.tensor(x), 3, 1e-1).numpy()
    np.testing.assert_allclose(a - b, ta - tb, rtol=1e-10, atol=1e-14)
    assert np.abs(a - b).max() > 1e-4
    with pytest.raises(ValueError, match="Expected input to be 4D, got 3D"):
        nn.CrossMapLRN2d(3)(convnp.randn(1, 2, 3))


def test_buffer_and_container():
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Buffer(convnp.ones(3))
            self.b = nn.Buffer(convnp.zeros(2), persistent=False)

    class T(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.a = torch.nn.Buffer(torch.ones(3))
            self.b = torch.nn.Buffer(torch.zeros(2), persistent=False)

    m, t = M(), T()
    assert [k for k, _ in m.named_buffers()] == [k for k, _ in t.named_buffers()] == ["a", "b"]
    assert list(m.state_dict()) == list(t.state_dict()) == ["a"]
    assert isinstance(m.a, nn.Buffer) and not isinstance(convnp.ones(1), nn.Buffer)
    m.double()
    assert m.a.dtype == np.float64
    from convnp.nn.parameter import Buffer, Parameter, UninitializedParameter  # noqa: F401

    with pytest.warns(UserWarning, match="nn.Container is deprecated"):
        c = nn.Container(fc=nn.Linear(2, 3))
    assert list(c.state_dict()) == ["fc.weight", "fc.bias"]


FRACTIONAL = [
    ("fmp2d-size", "FractionalMaxPool2d", (3,), dict(output_size=(4, 3)), (2, 3, 9, 7)),
    ("fmp2d-ratio-k2", "FractionalMaxPool2d", ((2, 3),), dict(output_ratio=(0.5, 0.6)),
     (1, 2, 10, 11)),
    ("fmp2d-unbatched-idx", "FractionalMaxPool2d", (2,), dict(output_size=5,
                                                              return_indices=True), (3, 8, 8)),
    ("fmp2d-out1", "FractionalMaxPool2d", (2,), dict(output_size=(1, 4)), (2, 1, 5, 6)),
    ("fmp3d-size", "FractionalMaxPool3d", (2,), dict(output_size=(3, 4, 2)), (2, 2, 5, 6, 4)),
    ("fmp3d-ratio-idx", "FractionalMaxPool3d", ((2, 2, 3),),
     dict(output_ratio=0.5, return_indices=True), (1, 2, 6, 8, 9)),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("case", FRACTIONAL, ids=[c[0] for c in FRACTIONAL])
def test_fractional_max_pool_matches_torch(case, dtype):
    _, name, args, kw, shape = case
    d = 2 if "2d" in name else 3
    n = shape[0] if len(shape) == d + 2 else 1
    samples = R.random((n, shape[-d - 1], d)).astype(dtype)
    x = R.permutation(int(np.prod(shape))).reshape(shape).astype(dtype)  # tie-free
    tm = getattr(torch.nn, name)(*args, **kw, _random_samples=torch.tensor(samples))
    cm = getattr(nn, name)(*args, **kw, _random_samples=convnp.tensor(samples))
    cx, tx = convnp.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    cy, ty = cm(cx), tm(tx)
    if kw.get("return_indices"):
        (cy, ci), (ty, ti) = cy, ty
        np.testing.assert_array_equal(ci.array, ti.numpy())
        assert ci.dtype == np.int64
    np.testing.assert_array_equal(cy.array, ty.detach().numpy())
    g = R.standard_normal(ty.shape).astype(dtype)
    cy.backward(convnp.tensor(g))
    ty.backward(torch.tensor(g))
    np.testing.assert_allclose(cx.grad.array, tx.grad.numpy(), rtol=1e-6, atol=1e-7)


def test_fractional_max_pool_random_and_errors():
    convnp.manual_seed(0)
    x = convnp.randn(2, 3, 12, 12)
    y = nn.FractionalMaxPool2d(2, output_ratio=0.5)(x)
    assert y.shape == (2, 3, 6, 6)
    # every output is the maximum of some 2x2 window of its plane
    from numpy.lib.stride_tricks import sliding_window_view

    win = sliding_window_view(x.array, (2, 2), axis=(2, 3)).max((-1, -2))
    for i in range(2):
        for c in range(3):
            assert np.isin(y.array[i, c], win[i, c]).all()
    with pytest.raises(ValueError, match="requires specifying either an output size"):
        nn.FractionalMaxPool2d(2)
    with pytest.raises(ValueError, match="only one of output_size and output_ratio"):
        nn.FractionalMaxPool2d(2, output_size=3, output_ratio=0.5)
    with pytest.raises(ValueError, match="output_ratio must be between 0 and 1"):
        nn.FractionalMaxPool3d(2, output_ratio=1.5)
    with pytest.raises(RuntimeError, match="too large for input size"):
        nn.FractionalMaxPool2d(4, output_size=10)(convnp.randn(1, 1, 8, 8))


def test_default_initialisation_as_torch():
    # deterministic initialisations: equal to torch's
    for name, args in (("RMSNorm", ([3, 4],)), ("RMSNorm", (5,))):
        c, t = getattr(nn, name)(*args), getattr(torch.nn, name)(*args)
        for (k, v), tv in zip(c.state_dict().items(), t.state_dict().values()):
            assert v.dtype == tv.numpy().dtype, k
            np.testing.assert_array_equal(v.array, tv.numpy(), err_msg=f"{name}.{k}")
    # random ones: torch's distributions (kaiming-uniform bound 1/sqrt(fan_in))
    convnp.manual_seed(0)
    lce = nn.LinearCrossEntropyLoss(64, 10, bias=True)
    als = nn.AdaptiveLogSoftmaxWithLoss(64, 20, [5, 10])
    for w, fan_in in ((lce.linear.weight, 64), (lce.linear.bias, 64), (als.head.weight, 64),
                      (als.tail[0][0].weight, 64), (als.tail[1][1].weight, 4)):
        bound = 1 / np.sqrt(fan_in)
        assert np.abs(w.array).max() <= bound and np.abs(w.array).max() > 0.5 * bound
        assert w.dtype == np.float32
