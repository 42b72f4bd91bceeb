"""Conv1d/2d/3d, ConvTranspose1d/2d/3d and GatedConv1d/2d/3d modules.

Torch-free part: golden cases from the notes, output_shape, default init distribution, gated conv
against an explicit composition, convnp's extensions (strided 'same', causal, per-axis
padding_mode, padded transposed conv as an exact adjoint), errors. Then torch parity: weights
copied through state_dict, outputs and every gradient (input, weight, bias) compared, state_dict
round trips, repr strings.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import convnp
import convnp.nn as nn
import convnp.nn.functional as F
from convnp import backend
from convnp.autograd.gradcheck import gradcheck


def _param_grads_match(m, tm, rtol, atol):
    for name, p in m.named_parameters():
        tp = dict(tm.named_parameters())[name]
        assert p.grad is not None, f"{name}: convnp has no gradient"
        np.testing.assert_allclose(p.grad.array, tp.grad.numpy(), rtol=rtol, atol=atol,
                                   err_msg=f"gradient of {name} differs from torch")


# ------------------------------------------------------------------ golden, torch-free
def test_golden_notes_66():
    img = np.array([[1, 2, 3, 4, 5], [6, 7, 8, 2, 3], [2, 5, 9, 9, 5], [4, 8, 8, 2, 1]], float)
    ker = np.array([[1, 1, 1], [2, 1, 2], [3, 2, 1]], float)
    m = nn.Conv2d(1, 1, 3, bias=False, dtype="float64")
    m.weight.array[...] = ker
    out = m(convnp.tensor(img[None, None]))
    assert out.shape == (1, 1, 2, 3)
    assert out.array[0, 0, 0, 0] == 66


def test_golden_notes_lenet_shape():
    m = nn.Conv2d(3, 6, 5)
    assert m.weight.shape == (6, 3, 5, 5) and m.bias.shape == (6,)
    assert m.output_shape((3, 32, 32)) == (6, 28, 28)
    assert m(convnp.randn(1, 3, 32, 32)).shape == (1, 6, 28, 28)


OUTPUT_SHAPE_CASES = [
    ("c1d", nn.Conv1d, (3, 4, 3), dict(stride=2, padding=1), (2, 3, 11)),
    ("c1d-causal-d2", nn.Conv1d, (3, 4, 3), dict(padding="causal", dilation=2), (2, 3, 9)),
    ("c2d-same-s2", nn.Conv2d, (3, 4, 3), dict(padding="same", stride=2), (2, 3, 7, 10)),
    ("c2d-per-side", nn.Conv2d, (3, 4, (2, 3)), dict(padding=((0, 2), (1, 0))), (1, 3, 5, 6)),
    ("c2d-valid-d2", nn.Conv2d, (3, 4, 3), dict(padding="valid", dilation=2), (3, 9, 8)),
    ("c3d-g", nn.Conv3d, (4, 6, 3), dict(padding=1, stride=(1, 2, 2), groups=2), (1, 4, 4, 6, 5)),
    ("t1d", nn.ConvTranspose1d, (3, 4, 3), dict(stride=2, output_padding=1), (2, 3, 5)),
    ("t2d", nn.ConvTranspose2d, (3, 4, 4), dict(stride=2, padding=1), (2, 3, 5, 6)),
    ("t2d-d2", nn.ConvTranspose2d, (4, 2, 3), dict(dilation=2, groups=2), (4, 5, 6)),
    ("t3d", nn.ConvTranspose3d, (2, 3, 2), dict(stride=(1, 2, 3), padding=(0, 1, 0)),
     (1, 2, 3, 4, 2)),
]


@pytest.mark.parametrize("name,cls,args,kw,shape", OUTPUT_SHAPE_CASES,
                         ids=[c[0] for c in OUTPUT_SHAPE_CASES])
def test_output_shape_matches_forward(name, cls, args, kw, shape):
    m = cls(*args, **kw)
    assert m.output_shape(shape) == m(convnp.randn(*shape)).shape


def test_same_strided_and_output_size():
    m = nn.Conv2d(2, 3, 3, stride=3, padding="same")
    assert m(convnp.randn(1, 2, 7, 10)).shape == (1, 3, 3, 4)  # ceil(in / stride)
    t = nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1)
    x = convnp.randn(1, 3, 4, 5)
    for size in [(7, 9), (8, 10), (1, 2, 8, 9)]:
        assert t(x, output_size=size).shape[-2:] == tuple(size[-2:])
        assert t.output_shape(x.shape, output_size=size) == (1, 2) + tuple(size[-2:])
    with pytest.raises(ValueError, match="range"):
        t(x, output_size=(9, 9))


@pytest.mark.parametrize("cls,args,fan_in", [
    (nn.Conv2d, (16, 32, 3), 16 * 9), (nn.Conv1d, (8, 12, 5, 1, 0, 1, 4), 2 * 5),
    (nn.ConvTranspose2d, (16, 24, 3), 24 * 9), (nn.Conv3d, (4, 8, 3), 4 * 27),
], ids=["conv2d", "conv1d-groups", "convT2d", "conv3d"])
def test_default_init_like_torch(cls, args, fan_in):
    convnp.manual_seed(0)
    m = cls(*args)
    bound = 1 / math.sqrt(fan_in)
    w = m.weight.array
    assert w.dtype == np.float32
    assert np.abs(w).max() <= bound
    assert np.abs(w).max() > 0.95 * bound
    assert abs(w.std() - bound / math.sqrt(3)) < 0.08 * bound / math.sqrt(3)
    assert abs(w.mean()) < 0.1 * bound
    assert np.abs(m.bias.array).max() <= bound
    assert m.weight.requires_grad and m.bias.requires_grad
    convnp.manual_seed(0)
    np.testing.assert_array_equal(cls(*args).weight.array, w)  # reproducible


def test_dtype_float64_and_no_bias():
    m = nn.Conv2d(2, 3, 3, bias=False, dtype="float64")
    assert m.weight.dtype == np.float64 and m.bias is None
    assert list(m.state_dict()) == ["weight"]
    assert m(convnp.randn(1, 2, 4, 4, dtype="float64")).dtype == np.float64


def test_unbatched_input():
    m = nn.Conv1d(2, 3, 3, padding=1)
    x = convnp.randn(2, 7)
    np.testing.assert_allclose(m(x).array, m(x.unsqueeze(0)).array[0], rtol=1e-6)


def test_per_axis_padding_mode_equals_manual_padding():
    rng = np.random.default_rng(0)
    m = nn.Conv2d(2, 3, 3, padding=1, padding_mode=("replicate", "circular"), dtype="float64")
    x = rng.standard_normal((2, 2, 5, 8))
    xp = np.pad(np.pad(x, [(0, 0), (0, 0), (1, 1), (0, 0)], mode="edge"),
                [(0, 0), (0, 0), (0, 0), (1, 1)], mode="wrap")
    want = F.conv2d(convnp.tensor(xp), m.weight, m.bias).array
    np.testing.assert_allclose(m(convnp.tensor(x)).array, want, rtol=1e-10, atol=1e-14)
    # circular longitude: equivariant to horizontal rolls
    rolled = m(convnp.tensor(np.roll(x, 3, axis=-1))).array
    np.testing.assert_allclose(rolled, np.roll(m(convnp.tensor(x)).array, 3, axis=-1), rtol=1e-10)


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular", ("reflect", "circular")],
                         ids=str)
def test_transposed_padding_mode_is_adjoint(mode):
    rng = np.random.default_rng(1)
    conv = nn.Conv2d(3, 2, 3, stride=2, padding=1, padding_mode=mode, bias=False,
                     dtype="float64")
    convt = nn.ConvTranspose2d(2, 3, 3, stride=2, padding=1, output_padding=1, padding_mode=mode,
                               bias=False, dtype="float64")
    convt.weight.array[...] = conv.weight.array
    x = rng.standard_normal((2, 3, 6, 8))
    y = conv(convnp.tensor(x)).array
    g = rng.standard_normal(y.shape)
    xt = convt(convnp.tensor(g)).array
    assert xt.shape == x.shape
    np.testing.assert_allclose(np.vdot(y, g), np.vdot(x, xt), rtol=1e-10)


# ------------------------------------------------------------------ gated convolution
def _gated_reference(m, x, act):
    """phi(conv_f(x)) * sigmoid(conv_g(x)) with two separate convolutions."""
    out, g = m.out_channels, m.conv.groups
    w = m.conv.weight.array
    b = m.conv.bias.array
    k = w.shape[2:]
    # per group: out/g feature rows then out/g gate rows
    wg = w.reshape(g, 2, out // g, *w.shape[1:])
    bg = b.reshape(g, 2, out // g)
    wf, wgt = wg[:, 0].reshape(out, -1, *k), wg[:, 1].reshape(out, -1, *k)
    bf, bgt = bg[:, 0].reshape(out), bg[:, 1].reshape(out)
    conv = getattr(F, f"conv{len(k)}d")
    c = m.conv
    kw = dict(stride=c.stride, padding=c.padding, dilation=c.dilation, groups=c.groups,
              padding_mode=c.padding_mode)
    f = conv(x, convnp.tensor(wf), convnp.tensor(bf), **kw)
    gate = conv(x, convnp.tensor(wgt), convnp.tensor(bgt), **kw)
    return act(f) * F.sigmoid(gate)


@pytest.mark.parametrize("cls,args,kw,shape", [
    (nn.GatedConv1d, (3, 4, 3), dict(padding="causal"), (2, 3, 8)),
    (nn.GatedConv2d, (4, 6, 3), dict(padding=1, groups=2, stride=2), (2, 4, 7, 6)),
    (nn.GatedConv2d, (2, 3, (3, 5)), dict(padding="same", padding_mode="reflect"), (1, 2, 6, 7)),
    (nn.GatedConv3d, (2, 2, 2), dict(dilation=2), (1, 2, 5, 5, 4)),
], ids=["1d-causal", "2d-groups-s2", "2d-same-reflect", "3d-dilated"])
def test_gated_conv_vs_composition(cls, args, kw, shape):
    m = cls(*args, **kw, dtype="float64")
    x = convnp.randn(*shape, dtype="float64")
    out = m(x)
    np.testing.assert_allclose(out.array, _gated_reference(m, x, F.elu).array, rtol=1e-10,
                               atol=1e-14)
    assert out.shape == m.output_shape(shape)
    assert list(m.state_dict()) == ["conv.weight", "conv.bias"]


def test_gated_conv_activations_and_gradcheck():
    x = convnp.randn(1, 2, 5, 5, dtype="float64")
    m = nn.GatedConv2d(2, 2, 3, padding=1, activation=None, dtype="float64")
    np.testing.assert_allclose(m(x).array, _gated_reference(m, x, lambda t: t).array, rtol=1e-10,
                               atol=1e-14)
    m2 = nn.GatedConv2d(2, 2, 3, activation=F.relu, dtype="float64")
    np.testing.assert_allclose(m2(x).array, _gated_reference(m2, x, F.relu).array, rtol=1e-10,
                               atol=1e-14)
    assert "activation=relu" in repr(m2)
    m3 = nn.GatedConv2d(2, 2, 3, activation=nn.ELU(alpha=0.5), dtype="float64")
    np.testing.assert_allclose(m3(x).array, _gated_reference(m3, x, lambda t: F.elu(t, 0.5)).array,
                               rtol=1e-10, atol=1e-14)
    assert "(activation): ELU(alpha=0.5)" in repr(m3)
    xs = convnp.tensor(np.random.default_rng(0).standard_normal((1, 2, 4, 4)), requires_grad=True)
    small = nn.GatedConv2d(2, 2, 3, padding=1, groups=2, dtype="float64")
    assert gradcheck(lambda t: small(t), [xs])
    # parameters are perturbed in place by gradcheck, so the module itself is checked
    xs.requires_grad_(False)
    assert gradcheck(lambda w, b: small(xs), [small.conv.weight, small.conv.bias])


# ------------------------------------------------------------------ errors
@pytest.mark.parametrize("call,exc,match", [
    (lambda: nn.Conv2d(3, 4, 3, groups=2), ValueError, "in_channels must be divisible"),
    (lambda: nn.Conv2d(4, 3, 3, groups=2), ValueError, "out_channels must be divisible"),
    (lambda: nn.Conv2d(4, 4, 3, groups=0), ValueError, "groups must be a positive"),
    (lambda: nn.Conv2d(4, 4, 3, padding="full"), ValueError, "invalid padding string"),
    (lambda: nn.Conv2d(4, 4, 3, padding=-1), ValueError, "non-negative"),
    (lambda: nn.Conv2d(4, 4, 3, padding=(1, 2, 3)), ValueError, "1 or 2 entries"),
    (lambda: nn.Conv2d(4, 4, 3, padding=1.5), TypeError, "padding"),
    (lambda: nn.Conv2d(4, 4, 3, padding_mode="mirror"), ValueError, "padding_mode"),
    (lambda: nn.Conv2d(4, 4, 3, padding_mode=("zeros",) * 3), ValueError, "padding_mode"),
    (lambda: nn.Conv2d(4, 4, 0), ValueError, "kernel_size"),
    (lambda: nn.Conv2d(4, 4, (3, 3, 3)), ValueError, "kernel_size"),
    (lambda: nn.Conv2d(0, 4, 3), ValueError, "in_channels"),
    (lambda: nn.Conv2d(4, 4, 3, device="cuda"), ValueError, "CPU"),
    (lambda: nn.ConvTranspose2d(4, 4, 3, stride=2, output_padding=2), ValueError,
     "output_padding"),
    (lambda: nn.ConvTranspose2d(4, 4, 3, padding="same"), ValueError, "transposed"),
    (lambda: nn.GatedConv2d(4, 4, 3, activation="swish"), ValueError, "activation"),
    (lambda: nn.GatedConv2d(4, 4, 3, activation=3), TypeError, "activation"),
    (lambda: nn.Conv2d(3, 4, 3)(convnp.randn(1, 4, 5, 5)), RuntimeError, "channels"),
    (lambda: nn.Conv2d(3, 4, 3)(convnp.randn(1, 5, 5, 3)), RuntimeError, "channels-last"),
    (lambda: nn.Conv2d(3, 4, 3).output_shape((1, 4, 5, 5)), ValueError, "3 input channels"),
    (lambda: nn.Conv2d(3, 4, 3).output_shape((5, 5)), ValueError, "entries"),
], ids=["groups-in", "groups-out", "groups-0", "pad-string", "pad-neg", "pad-len", "pad-type",
        "pad-mode", "pad-mode-len", "kernel-0", "kernel-len", "in-0", "device", "output-padding",
        "transposed-same", "gated-act-str", "gated-act-type", "forward-channels",
        "channels-last-hint", "output-shape-channels", "output-shape-rank"])
def test_errors(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_extra_repr_extensions():
    m = nn.Conv1d(2, 2, 3, padding="causal", padding_mode=("circular",))
    assert repr(m) == ("Conv1d(2, 2, kernel_size=(3,), stride=(1,), padding=causal, "
                       "padding_mode=('circular',))")
    m = nn.Conv2d(2, 2, 3, padding=((1, 0), 2))
    assert "padding=((1, 0), 2)" in repr(m)


# ------------------------------------------------------------------ torch parity
PARITY = [
    # id, class name, constructor args, kwargs, input shape
    ("c1d-b1", "Conv1d", (3, 4, 3), {}, (1, 3, 9)),
    ("c1d-s2-p2-d2", "Conv1d", (2, 4, 3), dict(stride=2, padding=2, dilation=2), (3, 2, 11)),
    ("c1d-reflect-same", "Conv1d", (2, 3, 4), dict(padding="same", padding_mode="reflect"),
     (2, 2, 8)),
    ("c2d-nonsquare-g2", "Conv2d", (4, 6, (2, 3)), dict(stride=(2, 1), padding=(1, 2), groups=2),
     (2, 4, 5, 7)),
    ("c2d-depthwise-circular", "Conv2d", (3, 6, 3), dict(padding=1, groups=3,
                                                          padding_mode="circular"), (2, 3, 5, 6)),
    ("c2d-replicate-nobias", "Conv2d", (2, 3, 3), dict(padding=2, padding_mode="replicate",
                                                       bias=False), (2, 2, 4, 5)),
    ("c2d-same-d2", "Conv2d", (2, 3, 3), dict(padding="same", dilation=2), (1, 2, 6, 7)),
    ("c3d", "Conv3d", (2, 4, 3), dict(padding=1), (2, 2, 4, 5, 3)),
    ("c3d-s2-reflect", "Conv3d", (2, 2, (2, 3, 2)), dict(stride=2, padding=1,
                                                          padding_mode="reflect"), (1, 2, 4, 5, 6)),
    ("t1d", "ConvTranspose1d", (3, 2, 3), dict(stride=2, output_padding=1), (2, 3, 5)),
    ("t2d-k4-s2-p1", "ConvTranspose2d", (4, 2, 4), dict(stride=2, padding=1), (2, 4, 3, 5)),
    ("t2d-g2-d2-nobias", "ConvTranspose2d", (4, 6, (3, 2)), dict(groups=2, dilation=2,
                                                                 bias=False), (1, 4, 4, 3)),
    ("t3d", "ConvTranspose3d", (2, 3, 2), dict(stride=(1, 2, 2), padding=(0, 1, 0),
                                               output_padding=(0, 1, 1)), (1, 2, 3, 3, 4)),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("name,cls,args,kw,shape", PARITY, ids=[c[0] for c in PARITY])
def test_modules_vs_torch(name, cls, args, kw, shape, dtype):
    torch = pytest.importorskip("torch")
    from tests.oracle import TOL, compare, rand

    tm = getattr(torch.nn, cls)(*args, **kw)
    m = getattr(nn, cls)(*args, **kw)
    assert repr(m) == repr(tm)
    tm = tm.double() if dtype == np.float64 else tm
    m = m.double() if dtype == np.float64 else m
    res = m.load_state_dict(tm.state_dict())
    assert not res.missing_keys and not res.unexpected_keys
    tol = dict(TOL[np.dtype(dtype)])
    if dtype == np.float32:
        tol = dict(rtol=2e-4, atol=2e-5)
    compare(m, tm, rand(*shape), dtype=dtype, **tol)
    _param_grads_match(m, tm, **tol)
    # the same module on an unbatched input
    compare(m, tm, rand(*shape[1:], seed=3), dtype=dtype, check_grad=False, **tol)


def test_transposed_output_size_vs_torch():
    torch = pytest.importorskip("torch")
    from tests.oracle import compare, rand

    tm = torch.nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1).double()
    m = nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1).double()
    m.load_state_dict(tm.state_dict())
    compare(lambda x: m(x, output_size=(8, 9)), lambda x: tm(x, output_size=(8, 9)),
            rand(2, 3, 4, 5), dtype=np.float64)
    _param_grads_match(m, tm, rtol=1e-9, atol=1e-11)


def test_depthwise_both_paths_vs_torch():
    torch = pytest.importorskip("torch")
    from tests.oracle import compare, rand

    tm = torch.nn.Conv2d(4, 4, 3, padding=1, groups=4).double()
    m = nn.Conv2d(4, 4, 3, padding=1, groups=4).double()
    m.load_state_dict(tm.state_dict())
    x = rand(2, 4, 6, 5)
    compare(m, tm, x, dtype=np.float64)
    with backend.numba_disabled():
        m.zero_grad()
        tm.zero_grad()
        compare(m, tm, x, dtype=np.float64)
        _param_grads_match(m, tm, rtol=1e-9, atol=1e-11)


def test_state_dict_round_trip():
    torch = pytest.importorskip("torch")
    for cls, args in [("Conv2d", (3, 4, 3)), ("ConvTranspose3d", (2, 4, 2)),
                      ("Conv1d", (2, 2, 3))]:
        tm = getattr(torch.nn, cls)(*args)
        m = getattr(nn, cls)(*args)
        m.load_state_dict(tm.state_dict())
        sd = m.state_dict()
        assert list(sd) == list(tm.state_dict())
        tm2 = getattr(torch.nn, cls)(*args)
        tm2.load_state_dict({k: torch.tensor(v.array) for k, v in sd.items()})
        for k, v in tm.state_dict().items():
            assert torch.equal(v, tm2.state_dict()[k])


@pytest.mark.parametrize("cls,args,kw", [
    ("Conv1d", (2, 3, 3), {}), ("Conv2d", (4, 8, (3, 5)), dict(stride=2, padding=(1, 2))),
    ("Conv2d", (4, 8, 3), dict(padding="same", dilation=3, groups=4, bias=False,
                               padding_mode="circular")),
    ("Conv3d", (2, 4, 3), dict(padding="valid", stride=(1, 2, 1))),
    ("ConvTranspose1d", (2, 3, 4), dict(stride=2, padding=1, output_padding=1)),
    ("ConvTranspose2d", (4, 8, 3), dict(groups=2, dilation=2, bias=False)),
    ("ConvTranspose3d", (2, 2, 3), {}),
], ids=lambda v: v if isinstance(v, str) else None)
def test_repr_equals_torch(cls, args, kw):
    torch = pytest.importorskip("torch")
    assert repr(getattr(nn, cls)(*args, **kw)) == repr(getattr(torch.nn, cls)(*args, **kw))


def test_gated_conv_vs_torch_composition():
    torch = pytest.importorskip("torch")
    from tests.oracle import compare, rand

    m = nn.GatedConv2d(3, 4, 3, padding=1, stride=2, dtype="float64")
    tconv = torch.nn.Conv2d(3, 8, 3, padding=1, stride=2).double()
    tconv.load_state_dict({k.split(".", 1)[1]: torch.tensor(v.array)
                           for k, v in m.state_dict().items()})

    def tfn(x):
        y = tconv(x)
        return torch.nn.functional.elu(y[:, :4]) * torch.sigmoid(y[:, 4:])

    compare(m, tfn, rand(2, 3, 7, 6), dtype=np.float64)
    np.testing.assert_allclose(m.conv.weight.grad.array, tconv.weight.grad.numpy(), rtol=1e-9,
                               atol=1e-11)
