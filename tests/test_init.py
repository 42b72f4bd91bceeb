"""nn.init: statistics of every initialiser against PyTorch's formulas (fixed seeds), gains and
fans equal to torch's, in-place semantics, generators, errors."""

from __future__ import annotations

import math

import numpy as np
import pytest

import convnp
import convnp.nn as nn
from convnp.nn import init

SHAPE = (64, 32, 3, 3)  # fan_in = 288, fan_out = 576
FAN_IN, FAN_OUT = 32 * 9, 64 * 9


def _p(*shape, dtype=np.float32):
    return nn.Parameter(np.zeros(shape, dtype))


def test_fans():
    assert init._calculate_fan_in_and_fan_out(_p(*SHAPE)) == (FAN_IN, FAN_OUT)
    assert init._calculate_fan_in_and_fan_out(_p(5, 7)) == (7, 5)
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        init._calculate_fan_in_and_fan_out(_p(5))
    with pytest.raises(ValueError, match="Mode fan_avg not supported"):
        init.kaiming_uniform_(_p(5, 7), mode="fan_avg")


GAINS = [("linear", None), ("conv2d", None), ("conv_transpose3d", None), ("sigmoid", None),
         ("tanh", None), ("relu", None), ("leaky_relu", None), ("leaky_relu", 0.2),
         ("leaky_relu", 1), ("selu", None)]


@pytest.mark.parametrize("name,param", GAINS, ids=[f"{n}-{p}" for n, p in GAINS])
def test_gain_formula(name, param):
    expected = {"tanh": 5 / 3, "relu": math.sqrt(2), "selu": 0.75}.get(name, 1.0)
    if name == "leaky_relu":
        slope = 0.01 if param is None else param
        expected = math.sqrt(2 / (1 + slope**2))
    assert math.isclose(init.calculate_gain(name, param), expected, rel_tol=1e-15)


@pytest.mark.parametrize("name,param", GAINS, ids=[f"{n}-{p}" for n, p in GAINS])
def test_gain_equals_torch(name, param):
    torch = pytest.importorskip("torch")
    assert init.calculate_gain(name, param) == torch.nn.init.calculate_gain(name, param)


def test_gain_errors():
    with pytest.raises(ValueError, match="unsupported nonlinearity 'swish'"):
        init.calculate_gain("swish")
    with pytest.raises(ValueError, match="negative_slope True is not a valid number"):
        init.calculate_gain("leaky_relu", True)


def _check_uniform(a, bound):
    assert np.abs(a).max() <= bound * (1 + 1e-6)
    assert np.abs(a).max() > 0.98 * bound
    assert abs(a.mean()) < 0.02 * bound
    assert abs(a.std() - bound / math.sqrt(3)) < 0.02 * bound


def _check_normal(a, std, mean=0.0):
    assert abs(a.mean() - mean) < 0.02 * std + 1e-12
    assert abs(a.std() - std) < 0.02 * std


UNIFORM = [
    ("uniform", lambda t: init.uniform_(t, -0.3, 0.3), 0.3),
    ("xavier_uniform", lambda t: init.xavier_uniform_(t),
     math.sqrt(6 / (FAN_IN + FAN_OUT))),
    ("xavier_uniform-gain", lambda t: init.xavier_uniform_(t, gain=2.0),
     2 * math.sqrt(6 / (FAN_IN + FAN_OUT))),
    ("kaiming_uniform", lambda t: init.kaiming_uniform_(t), math.sqrt(2) * math.sqrt(3 / FAN_IN)),
    ("kaiming_uniform-a5", lambda t: init.kaiming_uniform_(t, a=math.sqrt(5)),
     1 / math.sqrt(FAN_IN)),
    ("kaiming_uniform-fanout-relu", lambda t: init.kaiming_uniform_(t, mode="fan_out",
                                                                    nonlinearity="relu"),
     math.sqrt(2) * math.sqrt(3 / FAN_OUT)),
    ("kaiming_uniform-tanh", lambda t: init.kaiming_uniform_(t, nonlinearity="tanh"),
     5 / 3 * math.sqrt(3 / FAN_IN)),
]


@pytest.mark.parametrize("fn,bound", [u[1:] for u in UNIFORM], ids=[u[0] for u in UNIFORM])
def test_uniform_family(fn, bound):
    convnp.manual_seed(0)
    t = _p(*SHAPE)
    assert fn(t) is t  # in place, returns its argument
    _check_uniform(t.array, bound)


NORMAL = [
    ("normal", lambda t: init.normal_(t, 0.5, 0.2), 0.2, 0.5),
    ("xavier_normal", lambda t: init.xavier_normal_(t), math.sqrt(2 / (FAN_IN + FAN_OUT)), 0.0),
    ("kaiming_normal", lambda t: init.kaiming_normal_(t), math.sqrt(2 / FAN_IN), 0.0),
    ("kaiming_normal-leaky-fanout", lambda t: init.kaiming_normal_(t, a=0.1, mode="fan_out"),
     math.sqrt(2 / (1 + 0.01)) / math.sqrt(FAN_OUT), 0.0),
]


@pytest.mark.parametrize("fn,std,mean", [n[1:] for n in NORMAL], ids=[n[0] for n in NORMAL])
def test_normal_family(fn, std, mean):
    convnp.manual_seed(0)
    t = _p(*SHAPE)
    fn(t)
    _check_normal(t.array, std, mean)


def test_trunc_normal():
    convnp.manual_seed(0)
    t = _p(200, 200)
    init.trunc_normal_(t, mean=0.1, std=1.0, a=-1.0, b=2.0)
    assert t.array.min() >= -1.0 and t.array.max() <= 2.0
    # the mean and std of a truncated normal (closed form)
    alpha, beta = -1.1, 1.9
    phi = lambda z: math.exp(-z * z / 2) / math.sqrt(2 * math.pi)  # noqa: E731
    cdf = lambda z: 0.5 * (1 + math.erf(z / math.sqrt(2)))  # noqa: E731
    z = cdf(beta) - cdf(alpha)
    mean = 0.1 + (phi(alpha) - phi(beta)) / z
    var = 1 + (alpha * phi(alpha) - beta * phi(beta)) / z - ((phi(alpha) - phi(beta)) / z) ** 2
    assert abs(t.array.mean() - mean) < 0.01
    assert abs(t.array.std() - math.sqrt(var)) < 0.01
    # a narrow window takes the uniform-proposal path
    init.trunc_normal_(t, std=0.02, a=-0.001, b=0.001)
    assert t.array.min() >= -0.001 and t.array.max() <= 0.001
    assert abs(t.array.std() - 0.001 / math.sqrt(3)) < 5e-5  # ~uniform on a window << std


def test_constant_ones_zeros_eye_dirac():
    t = _p(3, 4)
    assert init.constant_(t, 0.3) is t and np.all(t.array == np.float32(0.3))
    init.ones_(t)
    assert np.all(t.array == 1)
    init.zeros_(t)
    assert np.all(t.array == 0)
    init.eye_(t)
    np.testing.assert_array_equal(t.array, np.eye(3, 4))
    w = _p(4, 2, 3, 3)
    init.dirac_(w)
    x = np.random.default_rng(0).standard_normal((2, 5, 5))
    # a dirac kernel applied to the 3x3 window around a pixel copies the first min(out, in)
    # channels of that pixel
    out = np.einsum("oikl,ikl->o", w.array, x[:, 1:4, 1:4])
    np.testing.assert_allclose(out[:2], x[:, 2, 2], rtol=1e-6)
    assert np.all(out[2:] == 0)
    init.dirac_(w, groups=2)
    assert w.array.sum() == 4 and w.array[2, 0, 1, 1] == 1 and w.array[3, 1, 1, 1] == 1


def test_dirac_and_eye_equal_torch():
    torch = pytest.importorskip("torch")
    for shape, groups in [((4, 2, 3), 1), ((6, 3, 3, 3), 2), ((4, 4, 1, 3, 3), 4)]:
        c, t = _p(*shape), torch.empty(shape)
        init.dirac_(c, groups=groups)
        torch.nn.init.dirac_(t, groups=groups)
        np.testing.assert_array_equal(c.array, t.numpy())
    c, t = _p(3, 5), torch.empty(3, 5)
    np.testing.assert_array_equal(init.eye_(c).array, torch.nn.init.eye_(t).numpy())


@pytest.mark.parametrize("shape", [(6, 4), (4, 6), (8, 2, 3, 3), (5, 5)],
                         ids=["tall", "wide", "conv", "square"])
def test_orthogonal(shape):
    convnp.manual_seed(0)
    t = _p(*shape, dtype=np.float64)
    init.orthogonal_(t, gain=2.0)
    m = t.array.reshape(shape[0], -1) / 2.0
    small = min(m.shape)
    gram = m @ m.T if m.shape[0] == small else m.T @ m
    np.testing.assert_allclose(gram, np.eye(small), atol=1e-12)


def test_sparse():
    convnp.manual_seed(0)
    t = _p(10, 6)
    init.sparse_(t, sparsity=0.3, std=0.5)
    assert np.all((t.array == 0).sum(0) == 3)


def test_generator_reproducible_and_independent():
    a, b = _p(5, 5), _p(5, 5)
    init.kaiming_normal_(a, generator=convnp.Generator().manual_seed(7))
    init.kaiming_normal_(b, generator=convnp.Generator().manual_seed(7))
    np.testing.assert_array_equal(a.array, b.array)
    convnp.manual_seed(1)
    init.uniform_(a)
    convnp.manual_seed(1)
    init.uniform_(b)
    np.testing.assert_array_equal(a.array, b.array)


def test_inplace_no_graph_dtype_kept():
    p = _p(4, 3, dtype=np.float64)
    ident = p.array
    init.xavier_uniform_(p)
    assert p.array is ident and p.dtype == np.float64 and p.grad_fn is None and p.requires_grad


def test_zero_element_warns():
    with pytest.warns(UserWarning, match="zero-element"):
        init.kaiming_uniform_(_p(0, 3))


INIT_ERRORS = [
    (lambda: init.eye_(_p(2, 2, 2)), ValueError, "eye_: only tensors with 2 dimensions"),
    (lambda: init.dirac_(_p(3, 3)), ValueError, "dirac_: only tensors with 3, 4, or 5"),
    (lambda: init.dirac_(_p(3, 3, 3), groups=2), ValueError, "dim 0 must be divisible by groups"),
    (lambda: init.orthogonal_(_p(3)), ValueError, "orthogonal_: only tensors with 2 or more"),
    (lambda: init.uniform_([1.0, 2.0]), TypeError, "uniform_: expected a convnp Tensor"),
    (lambda: init.trunc_normal_(_p(3), a=1, b=0), ValueError, "trunc_normal_: expected a < b"),
    (lambda: init.uniform_(_p(3), generator=3), TypeError, "expected a convnp.Generator"),
]


@pytest.mark.parametrize("fn,exc,match", INIT_ERRORS,
                         ids=["eye", "dirac-dim", "dirac-groups", "orth", "type", "trunc", "gen"])
def test_errors(fn, exc, match):
    with pytest.raises(exc, match=match):
        fn()


def test_statistics_match_torch():
    """Same distribution as torch for each random initialiser (large tensor, loose moments)."""
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    convnp.manual_seed(0)
    for name, kw in [("xavier_uniform_", {}), ("xavier_normal_", dict(gain=0.5)),
                     ("kaiming_uniform_", dict(a=math.sqrt(5))),
                     ("kaiming_normal_", dict(mode="fan_out", nonlinearity="relu")),
                     ("trunc_normal_", dict(std=0.5))]:
        c, t = _p(*SHAPE), torch.empty(SHAPE)
        getattr(init, name)(c, **kw)
        getattr(torch.nn.init, name)(t, **kw)
        tn = t.numpy()
        assert abs(c.array.std() - tn.std()) < 0.02 * tn.std(), name
        if "normal" not in name or "trunc" in name:  # bounded: the extremes agree too
            assert abs(np.abs(c.array).max() - np.abs(tn).max()) < 0.02 * np.abs(tn).max(), name
