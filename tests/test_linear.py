"""Linear / Bilinear / Identity / Flatten / Unflatten: golden values and errors (no torch), then
torch parity of forward and every gradient (float32 and float64) and gradchecks."""

from __future__ import annotations

import math

import numpy as np
import pytest

import convnp
import convnp.nn as nn
import convnp.nn.functional as F
from convnp.autograd import gradcheck
from tests.oracle import compare, compare_module, rand


# ---------------------------------------------------------------------------- torch-free part
def test_golden_linear():
    x = convnp.tensor([[1.0, 2.0]], requires_grad=True)
    w = convnp.tensor([[1.0, 0.0], [1.0, -1.0], [0.5, 0.5]], requires_grad=True)
    b = convnp.tensor([0.0, 1.0, -1.0], requires_grad=True)
    y = F.linear(x, w, b)
    np.testing.assert_allclose(y.data, [[1.0, 0.0, 0.5]])
    y.sum().backward()
    np.testing.assert_allclose(x.grad.data, [[2.5, -0.5]])
    np.testing.assert_allclose(w.grad.data, [[1, 2], [1, 2], [1, 2]])
    np.testing.assert_allclose(b.grad.data, [1, 1, 1])


def test_linear_is_one_node():
    x = convnp.randn(2, 3, requires_grad=True)
    y = F.linear(x, convnp.randn(4, 3), convnp.randn(4))
    assert y.grad_fn.name() == "AddmmBackward0"  # torch's name for a 2-d linear with bias


def test_linear_default_init_bounds_and_attributes():
    convnp.manual_seed(0)
    m = nn.Linear(50, 20)
    assert m.weight.shape == (20, 50) and m.bias.shape == (20,)
    assert m.weight.dtype == np.float32 and m.weight.requires_grad
    bound = 1 / math.sqrt(50)  # kaiming_uniform_(a=sqrt(5)) gives exactly 1/sqrt(fan_in)
    assert np.abs(m.weight.data).max() <= bound and np.abs(m.weight.data).max() > 0.9 * bound
    assert np.abs(m.bias.data).max() <= bound
    assert abs(m.weight.data.std() - bound / math.sqrt(3)) < 0.1 * bound
    assert nn.Linear(3, 2, bias=False).bias is None
    assert nn.Linear(3, 2, dtype=convnp.float64).weight.dtype == np.float64
    assert [n for n, _ in nn.Linear(3, 2).named_parameters()] == ["weight", "bias"]


def test_linear_reprs():
    assert repr(nn.Linear(4, 5)) == "Linear(in_features=4, out_features=5, bias=True)"
    assert repr(nn.Linear(4, 5, bias=False)) == "Linear(in_features=4, out_features=5, bias=False)"
    assert repr(nn.Bilinear(2, 3, 4)) == ("Bilinear(in1_features=2, in2_features=3, "
                                          "out_features=4, bias=True)")
    assert repr(nn.Identity(3, k=1)) == "Identity()"
    assert repr(nn.Flatten()) == "Flatten(start_dim=1, end_dim=-1)"
    assert repr(nn.Unflatten(1, (2, 5))) == "Unflatten(dim=1, unflattened_size=(2, 5))"


def test_identity_flatten_unflatten():
    x = convnp.randn(2, 3, 4, 5)
    assert nn.Identity()(x) is x
    assert nn.Flatten()(x).shape == (2, 60)
    assert nn.Flatten(0, 2)(x).shape == (24, 5)
    assert nn.Unflatten(1, (3, 20))(nn.Flatten()(x)).shape == (2, 3, 20)
    assert nn.Unflatten(1, (3, -1))(nn.Flatten()(x)).shape == (2, 3, 20)
    y = nn.Unflatten(1, (4, 15))(nn.Flatten()(x))
    assert y.shape == (2, 4, 15)


ERRORS = [
    ("features", lambda: F.linear(convnp.randn(2, 3), convnp.randn(5, 4)), RuntimeError,
     r"linear: input has 3 features in its last dim but weight expects 4 .*weight shape "
     r"\(5, 4\)\); did you forget to flatten\?"),
    ("module-features", lambda: nn.Linear(4, 5)(convnp.randn(2, 3, 2, 2)), RuntimeError,
     r"input shape \(2, 3, 2, 2\).*did you forget to flatten"),
    ("weight-ndim", lambda: F.linear(convnp.randn(2, 3), convnp.randn(3)), RuntimeError,
     r"linear: weight must be 2-d"),
    ("bias-shape", lambda: F.linear(convnp.randn(2, 3), convnp.randn(4, 3), convnp.randn(3)),
     RuntimeError, r"linear: bias must have shape \(4,\)"),
    ("dtype", lambda: F.linear(convnp.randn(2, 3).double(), convnp.randn(4, 3)), RuntimeError,
     r"linear: input, weight and bias must have the same dtype"),
    ("0d", lambda: F.linear(convnp.tensor(1.0), convnp.randn(4, 1)), RuntimeError,
     r"linear: input must have at least 1 dimension"),
    ("type", lambda: F.linear(np.ones((2, 3)), convnp.randn(4, 3)), TypeError,
     r"linear: argument 'input' must be a Tensor, got ndarray"),
    ("bilinear", lambda: F.bilinear(convnp.randn(2, 3), convnp.randn(2, 4),
                                    convnp.randn(5, 3, 3)), RuntimeError,
     r"bilinear: inputs have 3 and 4 features but weight of shape \(5, 3, 3\)"),
    ("bilinear-lead", lambda: F.bilinear(convnp.randn(2, 3), convnp.randn(3, 4),
                                         convnp.randn(5, 3, 4)), RuntimeError,
     r"bilinear: input1 and input2 must have the same leading dims"),
    ("features-arg", lambda: nn.Linear(-1, 3), ValueError,
     r"Linear: in_features must be a non-negative int"),
    ("unflatten-size", lambda: nn.Unflatten(1, 5), TypeError,
     r"Unflatten: unflattened_size must be a tuple of ints"),
]


@pytest.mark.parametrize("fn,exc,match", [e[1:] for e in ERRORS], ids=[e[0] for e in ERRORS])
def test_errors(fn, exc, match):
    with pytest.raises(exc, match=match):
        fn()


@pytest.mark.parametrize("shape", [(3,), (2, 3), (2, 2, 3)], ids=["1d", "2d", "3d"])
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "nobias"])
def test_gradcheck_linear(shape, bias):
    x = convnp.tensor(rand(*shape), requires_grad=True)
    w = convnp.tensor(rand(4, 3, seed=1), requires_grad=True)
    args = [x, w] + ([convnp.tensor(rand(4, seed=2), requires_grad=True)] if bias else [])
    assert gradcheck(lambda *a: F.linear(*a), args)


def test_gradcheck_bilinear():
    args = [convnp.tensor(rand(2, 3, seed=i), requires_grad=True) for i in range(2)]
    args[1] = convnp.tensor(rand(2, 2, seed=5), requires_grad=True)
    args += [convnp.tensor(rand(4, 3, 2, seed=3), requires_grad=True),
             convnp.tensor(rand(4, seed=4), requires_grad=True)]
    assert gradcheck(lambda *a: F.bilinear(*a), args)


# ---------------------------------------------------------------------------- torch parity
CASES = [
    ("1d-in", (7,), 5, True),
    ("batch1", (1, 7), 5, True),
    ("2d", (4, 7), 5, True),
    ("3d", (2, 3, 7), 5, True),
    ("4d-nobias", (2, 3, 2, 7), 6, False),
    ("2d-nobias", (4, 7), 1, False),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("shape,out,bias", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_linear_parity(shape, out, bias, dtype):
    torch = pytest.importorskip("torch")
    args = [rand(*shape), rand(out, shape[-1], seed=1)] + ([rand(out, seed=2)] if bias else [])
    compare(F.linear, torch.nn.functional.linear, *args, dtype=dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("lead,bias", [((4,), True), ((2, 3), False), ((), True)],
                         ids=["2d", "3d-nobias", "1d"])
def test_bilinear_parity(lead, bias, dtype):
    torch = pytest.importorskip("torch")
    args = [rand(*lead, 3), rand(*lead, 2, seed=1), rand(5, 3, 2, seed=2)]
    args += [rand(5, seed=3)] if bias else []
    compare(F.bilinear, torch.nn.functional.bilinear, *args, dtype=dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_module_parity(dtype):
    torch = pytest.importorskip("torch")
    compare_module(nn.Linear(6, 4), torch.nn.Linear(6, 4), rand(3, 6), dtype=dtype)
    compare_module(nn.Linear(6, 4, bias=False), torch.nn.Linear(6, 4, bias=False), rand(2, 5, 6),
                   dtype=dtype)
    compare_module(nn.Sequential(nn.Flatten(), nn.Linear(12, 3), nn.Unflatten(1, (3, 1))),
                   torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 3),
                                       torch.nn.Unflatten(1, (3, 1))),
                   rand(2, 3, 4), dtype=dtype)


def test_bilinear_module_parity():
    torch = pytest.importorskip("torch")
    c, t = nn.Bilinear(3, 2, 4), torch.nn.Bilinear(3, 2, 4).double()
    c.double().load_state_dict(t.state_dict())
    x1, x2 = rand(5, 3), rand(5, 2, seed=1)
    out = c(convnp.tensor(x1), convnp.tensor(x2))
    np.testing.assert_allclose(out.data, t(torch.tensor(x1), torch.tensor(x2)).detach().numpy(),
                               rtol=1e-12)


def test_default_init_distribution_matches_torch():
    """Same formula as torch: compare the empirical bound of a large layer."""
    torch = pytest.importorskip("torch")
    c, t = nn.Linear(400, 300), torch.nn.Linear(400, 300)
    for name in ("weight", "bias"):
        cw, tw = getattr(c, name).data, getattr(t, name).detach().numpy()
        assert abs(np.abs(cw).max() - np.abs(tw).max()) < 2e-3
        assert abs(cw.std() - tw.std()) < 0.05 * tw.std()
