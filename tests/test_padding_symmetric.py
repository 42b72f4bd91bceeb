"""The 'symmetric' padding mode (NumPy's: mirror including the edge value), end to end.

It is one entry of ``convnp.ops.padding.MODES`` (an index map); everything else reads that table:
``F.pad`` forward and its adjoint, the convolutions' ``padding_mode`` (pad, then a zero-padded
conv) and the transposed convolutions (the exact adjoint), the conv modules and
``convnp.tools.conv_matrix``. The reference is ``np.pad(mode='symmetric')``; the convolution of the
padded array is checked against torch."""

import numpy as np
import pytest

import convnp
import convnp.nn as nn
import convnp.nn.functional as F
from convnp.autograd import gradcheck
from convnp.ops import padding as P
from convnp.tools import conv_matrix
from tests.oracle import rand

torch = pytest.importorskip("torch")

# id, shape, torch-style pad list (last axis first)
PAD_CASES = [
    ("1d-1-2", (2, 3, 5), (1, 2)),
    ("1d-full", (1, 2, 4), (4, 4)),
    ("2d-aniso", (2, 1, 4, 5), (2, 0, 3, 1)),
    ("3d", (1, 2, 3, 4, 2), (1, 2, 2, 0, 3, 3)),
    ("1d-crop", (1, 2, 6), (-2, 3)),
]


def _np_pad(x, pad):
    pairs = P.torch_pad_to_pairs(pad)
    lead = [(0, 0)] * (x.ndim - len(pairs))
    pos = [(max(lo, 0), max(hi, 0)) for lo, hi in pairs]
    out = np.pad(x, lead + pos, mode="symmetric")
    # negative pads crop after padding (the mode pads first, as reflect/replicate do)
    idx = [slice(None)] * len(lead) + [slice(-min(lo, 0), out.shape[len(lead) + i] + min(hi, 0))
                                        for i, (lo, hi) in enumerate(pairs)]
    return out[tuple(idx)]


def test_symmetric_is_one_entry_of_the_mode_table():
    assert "symmetric" in P.PAD_MODES and "symmetric" in P.CONV_PADDING_MODES
    assert "symmetric" in convnp.ops.conv.PADDING_MODES


@pytest.mark.parametrize("case", PAD_CASES, ids=lambda c: c[0])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_pad_matches_numpy(case, dtype):
    _, shape, pad = case
    x = rand(*shape, seed=1).astype(dtype)
    y = F.pad(convnp.tensor(x), pad, mode="symmetric")
    np.testing.assert_array_equal(y.array, _np_pad(x, pad))
    assert y.dtype == convnp.tensor(x).dtype


@pytest.mark.parametrize("case", PAD_CASES, ids=lambda c: c[0])
def test_pad_backward_is_the_adjoint_and_gradchecks(case):
    _, shape, pad = case
    x = rand(*shape, seed=2)
    y = _np_pad(x, pad)
    g = rand(*y.shape, seed=3)
    pairs = P.torch_pad_to_pairs(pad)
    gx = P.pad_nd_backward(g, pairs, "symmetric", x.shape)
    np.testing.assert_allclose((y * g).sum(), (x * gx).sum(), rtol=1e-12)
    t = convnp.tensor(x, requires_grad=True)
    assert gradcheck(lambda a: F.pad(a, pad, mode="symmetric"), [t])


CONV_CASES = [
    # id, n, x shape, w shape, kwargs
    ("conv1d-p2", 1, (2, 3, 7), (4, 3, 3), dict(padding=2)),
    ("conv2d-p1-s2", 2, (2, 2, 6, 5), (3, 2, 3, 3), dict(padding=1, stride=2)),
    ("conv2d-same-d2", 2, (1, 2, 6, 7), (2, 2, 3, 3), dict(padding="same", dilation=2)),
    ("conv3d-p1-g2", 3, (1, 4, 3, 4, 5), (2, 2, 2, 3, 3), dict(padding=1, groups=2)),
]
FN = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}
FNT = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}
TFN = {1: torch.nn.functional.conv1d, 2: torch.nn.functional.conv2d,
       3: torch.nn.functional.conv3d}


@pytest.mark.parametrize("case", CONV_CASES, ids=lambda c: c[0])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_conv_symmetric_is_pad_then_zero_padded_conv(case, dtype):
    """Forward and both gradients: torch's conv of np.pad(x, 'symmetric'), its input gradient
    folded back by the adjoint of np.pad (the sum over the positions each value was copied to)."""
    _, n, xs, ws, kw = case
    x, w = rand(*xs, seed=4).astype(dtype), rand(*ws, seed=5).astype(dtype)
    tx, tw = convnp.tensor(x, requires_grad=True), convnp.tensor(w, requires_grad=True)
    y = FN[n](tx, tw, padding_mode="symmetric", **kw)
    pads = convnp.ops._shape.conv_padding_pairs(kw["padding"], xs[2:], ws[2:],
                                                (kw.get("stride", 1),) * n,
                                                (kw.get("dilation", 1),) * n, "test")
    xp = np.pad(x, [(0, 0), (0, 0)] + list(pads), mode="symmetric")
    txp = torch.tensor(xp, requires_grad=True)
    tkw = {k: v for k, v in kw.items() if k != "padding"}
    tw_ref = torch.tensor(w, requires_grad=True)
    ty = TFN[n](txp, tw_ref, **tkw)
    tol = dict(rtol=1e-5, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(y.array, ty.detach().numpy(), **tol)
    g = rand(*y.shape, seed=6).astype(dtype)
    y.backward(convnp.tensor(g))
    gxp, gw = torch.autograd.grad(ty, [txp, tw_ref], torch.tensor(g))
    # adjoint of np.pad: every padded position's gradient lands on the value it copied
    idx = np.arange(x.size).reshape(x.shape)
    src = np.pad(idx, [(0, 0), (0, 0)] + list(pads), mode="symmetric")
    gx = np.bincount(src.ravel(), gxp.numpy().ravel(), minlength=x.size).reshape(x.shape)
    np.testing.assert_allclose(tx.grad.array, gx, **tol)
    np.testing.assert_allclose(tw.grad.array, gw.numpy(), **tol)


@pytest.mark.parametrize("case", CONV_CASES, ids=lambda c: c[0])
def test_conv_transpose_symmetric_is_the_exact_adjoint(case):
    _, n, xs, ws, kw = case
    if kw["padding"] == "same":
        pytest.skip("transposed convs take explicit padding")
    x, w = rand(*xs, seed=7), rand(*ws, seed=8)
    y = FN[n](convnp.tensor(x), convnp.tensor(w), padding_mode="symmetric", **kw).array
    g = rand(*y.shape, seed=9)
    wt = w  # conv weight (O, C/g, *k) is the transposed conv's (C_in, C_out/g, *k)
    xt = FNT[n](convnp.tensor(g), convnp.tensor(wt), padding_mode="symmetric",
                output_size=xs[2:], **kw).array
    np.testing.assert_allclose((y * g).sum(), (x * xt).sum(), rtol=1e-11)
    tg = convnp.tensor(g, requires_grad=True)
    assert gradcheck(lambda a: FNT[n](a, convnp.tensor(wt), padding_mode="symmetric",
                                      output_size=xs[2:], **kw), [tg])


def test_modules_and_conv_matrix_take_symmetric():
    m = nn.Conv2d(2, 3, 3, padding=2, padding_mode=("symmetric", "circular"), dtype="float64")
    x = rand(1, 2, 5, 6, seed=10)
    want = F.conv2d(convnp.tensor(x), m.weight, m.bias, padding=2,
                    padding_mode=("symmetric", "circular"))
    np.testing.assert_allclose(m(convnp.tensor(x)).array, want.array)
    assert "padding_mode=('symmetric', 'circular')" in repr(m)
    mt = nn.ConvTranspose1d(2, 3, 3, padding=1, padding_mode="symmetric", dtype="float64")
    xt = rand(1, 2, 6, seed=11)
    want = F.conv_transpose1d(convnp.tensor(xt), mt.weight, mt.bias, padding=1,
                              padding_mode="symmetric")
    np.testing.assert_allclose(mt(convnp.tensor(xt)).array, want.array)
    w = rand(3, 2, 3, 3, seed=12)
    M = conv_matrix(w, (2, 5, 6), padding=2, padding_mode="symmetric")
    y = F.conv2d(convnp.tensor(x), convnp.tensor(w), padding=2, padding_mode="symmetric").array
    np.testing.assert_allclose(M @ x.ravel(), y.ravel(), rtol=1e-12)


def test_symmetric_errors_name_the_limit():
    x = convnp.tensor(rand(1, 1, 3))
    with pytest.raises(ValueError, match=r"symmetric padding \(4, 0\) .* must not exceed its "
                                         r"size 3 \(it would mirror more than once\)"):
        F.pad(x, (4, 0), mode="symmetric")
    with pytest.raises(ValueError, match="conv1d: symmetric padding"):
        F.conv1d(x, convnp.tensor(rand(1, 1, 3)), padding=4, padding_mode="symmetric")
    with pytest.raises(ValueError, match="conv_matrix: symmetric padding"):
        conv_matrix(rand(1, 1, 3), (1, 3), padding=4, padding_mode="symmetric")


def test_onnx_export_names_symmetric_as_unsupported(tmp_path):
    pytest.importorskip("onnx")
    from convnp import onnx as conv_onnx

    m = nn.Conv2d(1, 2, 3, padding=1, padding_mode="symmetric")
    with pytest.raises(Exception, match="padding mode 'symmetric'"):
        conv_onnx.export(m, (convnp.randn(1, 1, 5, 5),), str(tmp_path / "m.onnx"))
