"""Padding: the raw core (pad_nd / pad_nd_backward), F.pad and the padding modules.

Torch-free part first (golden cases, NumPy references, adjointness, gradcheck, errors), then the
torch parity tables.
"""

from __future__ import annotations

import numpy as np
import pytest

import convnp
import convnp.nn as nn
import convnp.nn.functional as F
from convnp.autograd.gradcheck import gradcheck
from convnp.ops.padding import pad_nd, pad_nd_backward

MODES = ["constant", "reflect", "replicate", "circular"]
_NP_MODE = {"constant": "constant", "reflect": "reflect", "replicate": "edge", "circular": "wrap"}


def _np_ref(x, pads, modes, value=0.0):
    """Reference: np.pad axis by axis (negative pads crop first)."""
    first = x.ndim - len(pads)
    for i, ((lo, hi), m) in enumerate(zip(pads, modes)):
        ax = first + i
        sl = [slice(None)] * x.ndim
        sl[ax] = slice(max(-lo, 0), x.shape[ax] - max(-hi, 0))
        x = x[tuple(sl)]
        width = [(0, 0)] * x.ndim
        width[ax] = (max(lo, 0), max(hi, 0))
        kw = dict(constant_values=value) if m == "constant" else {}
        x = np.pad(x, width, mode=_NP_MODE[m], **kw)
    return x


# ------------------------------------------------------------------ golden, torch-free
def test_golden_1d_every_mode():
    x = np.arange(4.0).reshape(1, 1, 4)
    expect = {"constant": [0, 0, 0, 1, 2, 3, 0], "reflect": [2, 1, 0, 1, 2, 3, 2],
              "replicate": [0, 0, 0, 1, 2, 3, 3], "circular": [2, 3, 0, 1, 2, 3, 0]}
    for mode, want in expect.items():
        out = F.pad(convnp.tensor(x), (2, 1), mode=mode)
        np.testing.assert_array_equal(out.array[0, 0], want, err_msg=mode)


def test_golden_2d_constant_value_and_crop():
    x = convnp.tensor(np.array([[1.0, 2.0], [3.0, 4.0]]))
    out = F.pad(x, (1, 0, 0, 1), value=9.0)
    np.testing.assert_array_equal(out.array, [[9, 1, 2], [9, 3, 4], [9, 9, 9]])
    np.testing.assert_array_equal(F.pad(x, (-1, 0)).array, [[2], [4]])


def test_golden_reflect_2d_corner():
    x = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]])
    out = pad_nd(x, [(1, 1), (1, 1)], ["reflect", "reflect"])
    np.testing.assert_array_equal(out[0], [5, 4, 5, 6, 5])
    np.testing.assert_array_equal(out[:, 0], [5, 2, 5, 8, 5])


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("shape,pads", [
    ((2, 3, 6), [(2, 3)]),
    ((1, 2, 4, 5), [(1, 3), (0, 2)]),
    ((2, 1, 3, 4, 5), [(2, 1), (0, 3), (1, 4)]),
    ((2, 3, 5, 6), [(-1, 2), (3, -2)]),
    ((4, 5), [(0, 0), (4, 4)]),
], ids=["1d", "2d-asym", "3d", "2d-crop", "no-batch"])
def test_pad_nd_matches_numpy_and_is_adjoint(mode, shape, pads):
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape)
    if mode == "circular":
        pads = [(min(lo, s), min(hi, s)) for (lo, hi), s in zip(pads, shape[-len(pads):])]
    modes = [mode] * len(pads)
    y = pad_nd(x, pads, modes, value=0.0)
    np.testing.assert_array_equal(y, _np_ref(x, pads, modes))
    g = rng.standard_normal(y.shape)
    gx = pad_nd_backward(g, pads, modes, x.shape)
    assert gx.shape == x.shape
    np.testing.assert_allclose(np.vdot(y, g), np.vdot(x, gx), rtol=1e-12)


@pytest.mark.parametrize("modes", [("replicate", "circular"), ("reflect", "constant"),
                                   ("circular", "reflect", "replicate")],
                         ids=lambda m: "-".join(m))
def test_per_axis_modes(modes):
    rng = np.random.default_rng(1)
    shape = (2, 3, 4, 5, 6)[-len(modes) - 2:]
    pads = [(2, 1), (3, 2), (1, 3)][:len(modes)]
    x = rng.standard_normal(shape)
    y = pad_nd(x, pads, modes, value=0.5)
    np.testing.assert_array_equal(y, _np_ref(x, pads, modes, value=0.5))
    y = pad_nd(x, pads, modes)  # value 0: linear, so the adjoint identity holds
    g = rng.standard_normal(y.shape)
    np.testing.assert_allclose(np.vdot(y, g), np.vdot(x, pad_nd_backward(g, pads, modes, x.shape)),
                               rtol=1e-12)


def test_pad_nd_preserves_dtype_and_copies():
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    assert pad_nd(x, [(1, 1)], ["reflect"]).dtype == np.float32
    y = pad_nd(x, [(0, 0)], ["constant"])
    y[0, 0] = 100
    assert x[0, 0] == 0
    assert pad_nd(np.arange(3), [(1, 1)], ["replicate"]).tolist() == [0, 0, 1, 2, 2]


@pytest.mark.parametrize("mode", MODES)
def test_gradcheck(mode):
    x = convnp.tensor(np.random.default_rng(2).standard_normal((1, 2, 3, 4)), requires_grad=True)
    assert gradcheck(lambda t: F.pad(t, (2, 1, 1, 2), mode=mode), [x])
    assert gradcheck(lambda t: F.pad(t, (-1, 2, 2, -1), mode=mode), [x])


def test_module_forward_golden():
    x = convnp.tensor(np.arange(3.0).reshape(1, 1, 3))
    assert nn.ReflectionPad1d(2)(x).array.tolist() == [[[2, 1, 0, 1, 2, 1, 0]]]
    assert nn.ReplicationPad1d((1, 0))(x).array.tolist() == [[[0, 0, 1, 2]]]
    assert nn.CircularPad1d((0, 2))(x).array.tolist() == [[[0, 1, 2, 0, 1]]]
    assert nn.ConstantPad1d(1, 2.5)(x).array.tolist() == [[[2.5, 0, 1, 2, 2.5]]]
    assert nn.ZeroPad2d((1, 0, 0, 0))(x).array.tolist() == [[[0, 0, 1, 2]]]
    assert nn.CircularPad3d(1)(convnp.ones(1, 2, 2, 2)).shape == (1, 4, 4, 4)


# ------------------------------------------------------------------ errors
@pytest.mark.parametrize("call,exc,match", [
    (lambda x: F.pad(x, (1,)), ValueError, "divisible by 2"),
    (lambda x: F.pad(x, (1, 1) * 4), ValueError, "padding length"),
    (lambda x: F.pad(x, (1, 1), mode="foo"), ValueError, "mode"),
    (lambda x: F.pad(x, (1, 1), mode="reflect", value=1.0), ValueError, "value"),
    (lambda x: F.pad(x, (5, 0), mode="reflect"), ValueError, "smaller than its size"),
    (lambda x: F.pad(x, (6, 0), mode="circular"), ValueError, "wrap around"),
    (lambda x: F.pad(x, (-3, -3)), ValueError, "crops more"),
    (lambda x: F.pad(x, (1.5, 1)), TypeError, "tuple of ints"),
    (lambda x: F.pad(x.array, (1, 1)), TypeError, "Tensor"),
    (lambda x: F.pad(convnp.ones(2, 0), (1, 1), mode="replicate"), ValueError, "non-empty"),
    (lambda x: nn.ReflectionPad2d((1, 2)), TypeError, "4 ints"),
], ids=["odd", "too-long", "bad-mode", "value-non-constant", "reflect-too-big",
        "circular-too-big", "over-crop", "float-pad", "not-tensor", "replicate-empty",
        "module-bad-tuple"])
def test_errors(call, exc, match):
    x = convnp.ones(1, 2, 5)
    with pytest.raises(exc, match=match):
        call(x)


def test_module_repr():
    assert repr(nn.ConstantPad2d(1, 3.5)) == "ConstantPad2d(padding=(1, 1, 1, 1), value=3.5)"
    assert repr(nn.ZeroPad2d((1, 2, 3, 4))) == "ZeroPad2d((1, 2, 3, 4))"
    assert repr(nn.ReflectionPad1d(2)) == "ReflectionPad1d((2, 2))"


# ------------------------------------------------------------------ torch parity
torch_cases = [
    ("1d-b1", (1, 2, 7), (2, 3)),
    ("1d-b3-unbatched-like", (3, 6), (1, 4)),
    ("2d-nonsquare", (2, 3, 5, 7), (1, 2, 3, 0)),
    ("3d", (2, 2, 3, 4, 5), (1, 2, 0, 3, 2, 1)),
    ("2d-crop", (2, 2, 5, 6), (-1, 2, 2, -2)),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("name,shape,p", torch_cases, ids=[c[0] for c in torch_cases])
def test_pad_vs_torch(name, shape, p, mode, dtype):
    torch = pytest.importorskip("torch")
    from tests.oracle import compare, rand

    kw = dict(value=0.75) if mode == "constant" else {}
    compare(lambda t: F.pad(t, p, mode=mode, **kw),
            lambda t: torch.nn.functional.pad(t, p, mode=mode, **kw),
            rand(*shape), dtype=dtype)


def test_constant_pad_any_rank_vs_torch():
    torch = pytest.importorskip("torch")
    from tests.oracle import compare, rand

    compare(lambda t: F.pad(t, (1, 2, 0, 1, 2, 0, 1, 1)),
            lambda t: torch.nn.functional.pad(t, (1, 2, 0, 1, 2, 0, 1, 1)),
            rand(2, 3, 2, 3), dtype=np.float64)


@pytest.mark.parametrize("cls,arg,shape", [
    ("ConstantPad1d", (2, 1.5), (2, 3, 4)), ("ConstantPad2d", ((1, 0, 2, 3), -1.0), (1, 2, 3, 4)),
    ("ConstantPad3d", (1, 0.5), (1, 1, 2, 3, 4)), ("ZeroPad1d", ((3, 1),), (2, 4)),
    ("ZeroPad2d", (1,), (1, 1, 3, 3)), ("ZeroPad3d", ((1, 0, 0, 1, 2, 0),), (1, 1, 2, 2, 2)),
    ("ReflectionPad1d", (2,), (2, 3, 4)), ("ReflectionPad2d", ((1, 2, 0, 1),), (1, 2, 3, 4)),
    ("ReflectionPad3d", (1,), (1, 1, 2, 3, 4)), ("ReplicationPad1d", ((0, 3),), (2, 3, 4)),
    ("ReplicationPad2d", (2,), (1, 2, 3, 4)), ("ReplicationPad3d", ((1, 2, 0, 1, 2, 0),),
                                               (1, 1, 2, 3, 4)),
    ("CircularPad1d", (2,), (2, 3, 4)), ("CircularPad2d", ((1, 2, 3, 0),), (1, 2, 3, 4)),
    ("CircularPad3d", (1,), (1, 1, 2, 3, 4)),
], ids=lambda v: v if isinstance(v, str) else None)
def test_modules_vs_torch(cls, arg, shape):
    torch = pytest.importorskip("torch")
    from tests.oracle import compare, rand

    m, tm = getattr(nn, cls)(*arg), getattr(torch.nn, cls)(*arg)
    assert repr(m) == repr(tm)
    compare(m, tm, rand(*shape), dtype=np.float64)


# ------------------------------------------------------------------ property test
def test_property_random_pads_match_numpy_and_adjoint():
    hyp = pytest.importorskip("hypothesis")
    st = hyp.strategies

    @hyp.settings(max_examples=25, deadline=None)
    @hyp.given(st.data())
    def run(data):
        k = data.draw(st.integers(1, 3), label="padded axes")
        sizes = data.draw(st.lists(st.integers(1, 5), min_size=k, max_size=k), label="sizes")
        modes = data.draw(st.lists(st.sampled_from(MODES), min_size=k, max_size=k), label="modes")
        pads = []
        for n, m in zip(sizes, modes):
            top = {"reflect": n - 1, "circular": n}.get(m, 4)
            pads.append((data.draw(st.integers(0, top)), data.draw(st.integers(0, top))))
        x = np.random.default_rng(0).standard_normal([2] + sizes)
        y = pad_nd(x, pads, modes)
        np.testing.assert_array_equal(y, _np_ref(x, pads, modes))
        g = np.random.default_rng(1).standard_normal(y.shape)
        np.testing.assert_allclose(np.vdot(y, g),
                                   np.vdot(x, pad_nd_backward(g, pads, modes, x.shape)),
                                   rtol=1e-10, atol=1e-12)

    run()
