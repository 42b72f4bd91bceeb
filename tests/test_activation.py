"""Activations: golden cases (no torch), torch parity for forward and gradients, gradchecks,
modules and error paths."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import convnp
import convnp.nn as nn
import convnp.nn.functional as F
from convnp.autograd import gradcheck
from tests.oracle import distinct, rand


def away_from_kinks(*shape, kinks=(0.0,), seed=0, scale=4.0, gap=0.05):
    """Tie-free data at least ``gap`` away from every kink (relu's 0, hardtanh's +-1, ...)."""
    x = distinct(*shape, seed=seed, spacing=scale / max(1, np.prod(shape)))
    x = x * 2 + 0.013
    for k in kinks:
        near = np.abs(x - k) < gap
        x = np.where(near, k + np.sign(x - k + 1e-12) * gap, x)
    return x


# ------------------------------------------------------------------------- golden (no torch)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("layout", ["contiguous", "strided"])
def test_relu_every_path_matches_the_numpy_semantics(path, dtype, layout):
    """Compiled (serial and parallel) and NumPy paths agree exactly, NaN and zeros included;
    the gradient is 0 where the output is 0 even for a NaN upstream gradient (as torch)."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((3, 7, 1931)).astype(dtype)  # not a multiple of the kernel block
    a.flat[::97] = 0
    a.flat[5::101] = np.nan
    g = rng.standard_normal(a.shape).astype(dtype)
    g.flat[3::89] = np.nan
    if layout == "strided":
        a, g = a[:, ::2], g[:, ::2]
    x = convnp.tensor(a, requires_grad=True)
    y = F.relu(x)
    y.backward(convnp.tensor(g))
    expect = np.where(np.isnan(a), a, np.maximum(a, 0))
    np.testing.assert_array_equal(y.data, expect)
    np.testing.assert_array_equal(x.grad.data, np.where(expect > 0, g, 0))
    assert y.dtype == dtype and x.grad.dtype == dtype


def test_relu_golden():
    x = convnp.tensor([[-2.0, -0.5, 0.0, 0.5, 3.0]], requires_grad=True)
    y = F.relu(x)
    np.testing.assert_array_equal(y.data, [[0, 0, 0, 0.5, 3]])
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.data, [[0, 0, 0, 1, 1]])  # relu'(0) = 0 as torch


def test_softmax_rows_sum_to_one_and_golden():
    x = convnp.tensor([[1.0, 2.0, 3.0], [1000.0, 1000.0, 1000.0]])
    s = F.softmax(x, dim=1)
    np.testing.assert_allclose(s.data.sum(1), 1, rtol=1e-6)
    e = np.exp([1.0, 2.0, 3.0])
    np.testing.assert_allclose(s.data[0], e / e.sum(), rtol=1e-6)
    np.testing.assert_allclose(s.data[1], 1 / 3, rtol=1e-6)  # no overflow
    np.testing.assert_allclose(F.log_softmax(x, 1).data, np.log(s.data), rtol=1e-5)


def test_golden_values():
    x = convnp.tensor([-1.0, 0.0, 2.0])
    np.testing.assert_allclose(F.leaky_relu(x, 0.1).data, [-0.1, 0, 2], rtol=1e-6)
    np.testing.assert_allclose(F.relu6(convnp.tensor([-1.0, 3.0, 7.0])).data, [0, 3, 6])
    np.testing.assert_allclose(F.hardsigmoid(x).data, [2 / 6, 0.5, 5 / 6], rtol=1e-6)
    np.testing.assert_allclose(F.softsign(x).data, [-0.5, 0, 2 / 3], rtol=1e-6)
    np.testing.assert_allclose(F.elu(x).data, [np.expm1(-1), 0, 2], rtol=1e-6)
    np.testing.assert_allclose(F.threshold(x, 0.5, -7.0).data, [-7, -7, 2])
    np.testing.assert_allclose(F.silu(x).data, [-1 / (1 + np.e), 0, 2 / (1 + np.exp(-2))],
                               rtol=1e-6)
    np.testing.assert_allclose(F.logsigmoid(convnp.tensor([-100.0, 100.0])).data, [-100, 0],
                               atol=1e-6)
    assert F.relu(convnp.zeros(2, dtype=convnp.float64)).dtype == np.float64
    assert F.gelu(convnp.zeros(2)).dtype == np.float32


def test_tensor_methods():
    x = convnp.tensor([[-1.0, 1.0]])
    np.testing.assert_array_equal(x.relu().data, [[0, 1]])
    np.testing.assert_allclose(x.softmax(1).data.sum(), 1, rtol=1e-6)
    np.testing.assert_allclose(x.log_softmax(1).data, F.log_softmax(x, 1).data)


GRADCHECK = [
    ("relu", lambda x: F.relu(x), (0.0,)),
    ("relu6", lambda x: F.relu6(x * 4), (0.0, 1.5)),
    ("leaky", lambda x: F.leaky_relu(x, 0.2), (0.0,)),
    ("elu", lambda x: F.elu(x, 0.7), (0.0,)),
    ("selu", lambda x: F.selu(x), (0.0,)),
    ("celu", lambda x: F.celu(x, 1.5), (0.0,)),
    ("gelu", lambda x: F.gelu(x), ()),
    ("gelu-tanh", lambda x: F.gelu(x, approximate="tanh"), ()),
    ("silu", lambda x: F.silu(x), ()),
    ("mish", lambda x: F.mish(x), ()),
    ("hardswish", lambda x: F.hardswish(x * 4), (-0.75, 0.75)),
    ("hardsigmoid", lambda x: F.hardsigmoid(x * 4), (-0.75, 0.75)),
    ("hardtanh", lambda x: F.hardtanh(x * 2, -0.5, 1.0), (-0.25, 0.5)),
    ("softplus", lambda x: F.softplus(x, 2.0, 1.0), (0.5,)),
    ("softsign", lambda x: F.softsign(x), ()),
    ("tanhshrink", lambda x: F.tanhshrink(x), ()),
    ("hardshrink", lambda x: F.hardshrink(x, 0.3), (-0.3, 0.3)),
    ("softshrink", lambda x: F.softshrink(x, 0.3), (-0.3, 0.3)),
    ("logsigmoid", lambda x: F.logsigmoid(x), ()),
    ("threshold", lambda x: F.threshold(x, 0.1, 2.0), (0.1,)),
    ("softmax", lambda x: F.softmax(x, 1), ()),
    ("log_softmax", lambda x: F.log_softmax(x, -1), ()),
    ("softmin", lambda x: F.softmin(x, 0), ()),
]


@pytest.mark.parametrize("name,fn,kinks", GRADCHECK, ids=[c[0] for c in GRADCHECK])
def test_gradcheck(name, fn, kinks):
    x = convnp.tensor(away_from_kinks(3, 4, kinks=kinks, gap=0.02), requires_grad=True)
    assert gradcheck(fn, [x])


def test_prelu_gradcheck():
    x = convnp.tensor(away_from_kinks(2, 3, 4), requires_grad=True)
    w = convnp.tensor([0.1, 0.3, -0.2], dtype=convnp.float64, requires_grad=True)
    assert gradcheck(lambda a, b: F.prelu(a, b), [x, w])
    w1 = convnp.tensor([0.25], dtype=convnp.float64, requires_grad=True)
    assert gradcheck(lambda a, b: F.prelu(a, b), [x, w1])


# ------------------------------------------------------------------------- errors
def test_errors():
    x = convnp.randn(2, 3, 4)
    with pytest.raises(ValueError, match="gelu.*approximate"):
        F.gelu(x, approximate="fast")
    with pytest.raises(ValueError, match="prelu.*3 channels"):
        F.prelu(x, convnp.ones(2))
    with pytest.raises(IndexError, match="softmax.*Dimension out of range"):
        F.softmax(x, 3)
    with pytest.raises(TypeError, match="relu.*Tensor"):
        F.relu(np.ones(3))
    with pytest.raises(ValueError, match="hardtanh.*min_val"):
        F.hardtanh(x, 2.0, 1.0)
    with pytest.raises(ValueError, match="softshrink"):
        F.softshrink(x, -1.0)


def test_softmax_implicit_dim_warns():
    x = convnp.randn(2, 3)
    with pytest.warns(UserWarning, match="Implicit dimension"):
        y = F.softmax(x)
    np.testing.assert_allclose(y.data.sum(1), 1, rtol=1e-6)  # dim 1 for 2-d input
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        np.testing.assert_allclose(nn.Softmax()(convnp.randn(3, 2, 2)).data.sum(0), 1,
                                   rtol=1e-6)  # dim 0 for 3-d input


# ------------------------------------------------------------------------- torch parity
try:
    import torch
except ImportError:  # golden tests above still run without torch
    torch = None

if torch is not None:
    TF = torch.nn.functional
    from tests.oracle import compare

    CASES = [
        # id, convnp fn, torch fn, shape, kinks
        ("relu-4d", F.relu, TF.relu, (2, 3, 4, 5), (0.0,)),
        ("relu-inplace-flag", lambda x: F.relu(x, inplace=True), TF.relu, (5, 7), (0.0,)),
        ("relu6", F.relu6, TF.relu6, (3, 4), (0.0, 6.0)),
        ("leaky-default", F.leaky_relu, TF.leaky_relu, (2, 7), (0.0,)),
        ("leaky-0.2", lambda x: F.leaky_relu(x, 0.2), lambda x: TF.leaky_relu(x, 0.2), (1, 3, 5),
         (0.0,)),
        ("elu-a0.5", lambda x: F.elu(x, 0.5), lambda x: TF.elu(x, 0.5), (4, 5), (0.0,)),
        ("selu", F.selu, TF.selu, (4, 5), (0.0,)),
        ("celu-a2", lambda x: F.celu(x, 2.0), lambda x: TF.celu(x, 2.0), (4, 5), (0.0,)),
        ("gelu", F.gelu, TF.gelu, (2, 3, 4), ()),
        ("gelu-tanh", lambda x: F.gelu(x, approximate="tanh"),
         lambda x: TF.gelu(x, approximate="tanh"), (2, 3, 4), ()),
        ("silu", F.silu, TF.silu, (3, 4), ()),
        ("mish", F.mish, TF.mish, (3, 4), ()),
        ("hardswish", F.hardswish, TF.hardswish, (6, 7), (-3.0, 3.0)),
        ("hardsigmoid", F.hardsigmoid, TF.hardsigmoid, (6, 7), (-3.0, 3.0)),
        ("hardtanh-2-3", lambda x: F.hardtanh(x, -2.0, 3.0), lambda x: TF.hardtanh(x, -2.0, 3.0),
         (6, 7), (-2.0, 3.0)),
        ("softplus", F.softplus, TF.softplus, (3, 4), ()),
        ("softplus-b2-t3", lambda x: F.softplus(x, 2.0, 3.0), lambda x: TF.softplus(x, 2.0, 3.0),
         (6, 7), (1.5,)),
        ("softsign", F.softsign, TF.softsign, (3, 4), ()),
        ("tanhshrink", F.tanhshrink, TF.tanhshrink, (3, 4), ()),
        ("hardshrink", F.hardshrink, TF.hardshrink, (6, 7), (-0.5, 0.5)),
        ("softshrink-0.3", lambda x: F.softshrink(x, 0.3), lambda x: TF.softshrink(x, 0.3), (6, 7),
         (-0.3, 0.3)),
        ("logsigmoid", F.logsigmoid, TF.logsigmoid, (3, 4), ()),
        ("threshold", lambda x: F.threshold(x, 0.5, -1.0), lambda x: TF.threshold(x, 0.5, -1.0),
         (6, 7), (0.5,)),
        ("softmax-dim0", lambda x: F.softmax(x, 0), lambda x: TF.softmax(x, 0), (3, 4, 2), ()),
        ("softmax-dim-1", lambda x: F.softmax(x, -1), lambda x: TF.softmax(x, -1), (3, 4), ()),
        ("log_softmax-dim1", lambda x: F.log_softmax(x, 1), lambda x: TF.log_softmax(x, 1),
         (2, 5, 3), ()),
        ("softmin-dim1", lambda x: F.softmin(x, 1), lambda x: TF.softmin(x, 1), (2, 5), ()),
        ("sigmoid", F.sigmoid, torch.sigmoid, (3, 4), ()),
        ("tanh", F.tanh, torch.tanh, (3, 4), ()),
    ]


    @pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
    @pytest.mark.parametrize("cid,fn,tfn,shape,kinks", CASES, ids=[c[0] for c in CASES])
    def test_parity(cid, fn, tfn, shape, kinks, dtype):
        x = away_from_kinks(*shape, kinks=kinks, scale=8.0, gap=0.02)
        compare(fn, tfn, x, dtype=dtype)


    @pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
    @pytest.mark.parametrize("shape,nw", [((2, 3, 4), 3), ((2, 3), 1), ((5,), 1),
                                          ((2, 4, 3, 3), 4)],
                             ids=["3d-per-channel", "2d-shared", "1d-shared", "4d-per-channel"])
    def test_prelu_parity(shape, nw, dtype):
        x = away_from_kinks(*shape)
        w = rand(nw, seed=3)
        compare(F.prelu, TF.prelu, x, w, dtype=dtype)


    def test_softmax_dtype_arg():
        x = rand(2, 3).astype(np.float32)
        y = F.softmax(convnp.tensor(x), 1, dtype=convnp.float64)
        assert y.dtype == np.float64
        ref = TF.softmax(torch.tensor(x), 1, dtype=torch.float64).numpy()
        np.testing.assert_allclose(y.data, ref, rtol=1e-12)


    MODULES = [
        ("ReLU", lambda m: m.ReLU(), (0.0,)),
        ("ReLU6", lambda m: m.ReLU6(inplace=True), (0.0, 6.0)),
        ("LeakyReLU", lambda m: m.LeakyReLU(0.3), (0.0,)),
        ("ELU", lambda m: m.ELU(0.8), (0.0,)),
        ("SELU", lambda m: m.SELU(), (0.0,)),
        ("CELU", lambda m: m.CELU(0.5), (0.0,)),
        ("GELU", lambda m: m.GELU("tanh"), ()),
        ("SiLU", lambda m: m.SiLU(), ()),
        ("Mish", lambda m: m.Mish(), ()),
        ("Hardswish", lambda m: m.Hardswish(), (-3.0, 3.0)),
        ("Hardsigmoid", lambda m: m.Hardsigmoid(), (-3.0, 3.0)),
        ("Hardtanh", lambda m: m.Hardtanh(-0.5, 2.0), (-0.5, 2.0)),
        ("Softplus", lambda m: m.Softplus(0.5, 2.0), (4.0,)),
        ("Softsign", lambda m: m.Softsign(), ()),
        ("Tanhshrink", lambda m: m.Tanhshrink(), ()),
        ("Hardshrink", lambda m: m.Hardshrink(0.4), (-0.4, 0.4)),
        ("Softshrink", lambda m: m.Softshrink(0.4), (-0.4, 0.4)),
        ("LogSigmoid", lambda m: m.LogSigmoid(), ()),
        ("Sigmoid", lambda m: m.Sigmoid(), ()),
        ("Tanh", lambda m: m.Tanh(), ()),
        ("Softmax", lambda m: m.Softmax(dim=1), ()),
        ("LogSoftmax", lambda m: m.LogSoftmax(dim=-1), ()),
        ("Softmin", lambda m: m.Softmin(dim=0), ()),
        ("Threshold", lambda m: m.Threshold(0.2, 5.0), (0.2,)),
        ("PReLU", lambda m: m.PReLU(3, 0.1), (0.0,)),
        ("PReLU-shared", lambda m: m.PReLU(), (0.0,)),
    ]


    @pytest.mark.parametrize("mid,make,kinks", MODULES, ids=[c[0] for c in MODULES])
    def test_module_parity_and_repr(mid, make, kinks):
        cm, tm = make(nn), make(torch.nn)
        assert repr(cm) == repr(tm)
        assert list(cm.state_dict()) == list(tm.state_dict())
        x = away_from_kinks(2, 3, 4, kinks=kinks, scale=8.0, gap=0.02)
        if isinstance(tm, torch.nn.PReLU):
            tm.weight.data.uniform_(-0.5, 0.5)
            cm.weight.data[...] = tm.weight.detach().numpy()  # copy torch's weights
            cm.double()
            tm.double()
        compare(cm, lambda a: tm(a.clone()), x, dtype=np.float64)  # clone: torch inplace=True
        if isinstance(tm, torch.nn.PReLU):
            np.testing.assert_allclose(cm.weight.grad.data, tm.weight.grad.numpy(), rtol=1e-10)

    @pytest.mark.parametrize("name", ["ReLU", "ReLU6", "SELU", "SiLU", "Mish", "Hardswish",
                                      "Hardsigmoid", "ELU", "CELU", "LeakyReLU", "Hardtanh"])
    def test_inplace_repr(name):
        assert repr(getattr(nn, name)(inplace=True)) == repr(getattr(torch.nn, name)(inplace=True))
