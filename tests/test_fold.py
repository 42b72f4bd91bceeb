"""unfold / fold: 2-d against torch, 1-d / 3-d against a hand reference, adjointness, gradcheck,
errors, modules."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

import convnp
import convnp.nn as nn
import convnp.nn.functional as F
from convnp.autograd.gradcheck import gradcheck


def _ref_unfold(x, k, d, p, s):
    """Reference im2col with explicit loops over blocks (tiny shapes only)."""
    n = len(k)
    N, C = x.shape[:2]
    xp = np.pad(x, [(0, 0), (0, 0)] + [(pp, pp) for pp in p])
    blocks = [(xp.shape[2 + i] - d[i] * (k[i] - 1) - 1) // s[i] + 1 for i in range(n)]
    out = np.zeros((N, C, math.prod(k), math.prod(blocks)))
    for li, b in enumerate(itertools.product(*(range(v) for v in blocks))):
        for ki, off in enumerate(itertools.product(*(range(v) for v in k))):
            idx = tuple(b[i] * s[i] + off[i] * d[i] for i in range(n))
            out[:, :, ki, li] = xp[(slice(None), slice(None)) + idx]
    return out.reshape(N, C * math.prod(k), -1)


CASES = [
    # id, input shape, kernel, dilation, padding, stride
    ("1d", (2, 3, 9), (3,), 1, 0, 1),
    ("1d-s2-p1-d2", (1, 2, 10), (2,), (2,), (1,), (2,)),
    ("2d", (2, 3, 5, 6), 2, 1, 0, 1),
    ("2d-nonsquare-all", (1, 2, 6, 7), (2, 3), (2, 1), (1, 2), (2, 1)),
    ("3d", (2, 2, 4, 5, 3), (2, 2, 2), 1, 0, 1),
    ("3d-all", (1, 2, 5, 4, 6), (2, 1, 3), (1, 2, 1), (1, 0, 1), (2, 1, 2)),
]


@pytest.mark.parametrize("name,shape,k,d,p,s", CASES, ids=[c[0] for c in CASES])
def test_unfold_matches_reference_and_fold_is_adjoint(name, shape, k, d, p, s):
    n = len(shape) - 2
    tup = lambda v: v if isinstance(v, tuple) else (v,) * n  # noqa: E731
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape)
    cols = F.unfold(convnp.tensor(x), k, d, p, s).data
    np.testing.assert_allclose(cols, _ref_unfold(x, tup(k), tup(d), tup(p), tup(s)), rtol=1e-12)
    y = rng.standard_normal(cols.shape)
    back = F.fold(convnp.tensor(y), shape[2:], k, d, p, s).data
    assert back.shape == shape
    np.testing.assert_allclose(np.vdot(cols, y), np.vdot(x, back), rtol=1e-12)


def test_golden_fold_counts_overlaps():
    # folding the unfolded ones counts how many blocks cover each pixel
    ones = convnp.ones(1, 1, 3, 4, dtype="float64")
    cover = F.fold(F.unfold(ones, 2), (3, 4), 2).data[0, 0]
    np.testing.assert_array_equal(cover, [[1, 2, 2, 1], [2, 4, 4, 2], [1, 2, 2, 1]])


def test_golden_unfold_2x2():
    x = convnp.tensor(np.arange(9.0).reshape(1, 1, 3, 3))
    cols = F.unfold(x, 2).data[0]
    np.testing.assert_array_equal(cols[:, 0], [0, 1, 3, 4])
    np.testing.assert_array_equal(cols[0], [0, 1, 3, 4])


def test_unbatched_and_dtype():
    x = convnp.randn(3, 5, 6)
    assert F.unfold(x, 2).shape == (12, 20)
    assert F.unfold(x, 2).dtype == np.float32
    assert F.fold(convnp.randn(12, 20), (5, 6), 2).shape == (3, 5, 6)


@pytest.mark.parametrize("name,shape,k,d,p,s", [CASES[1], CASES[3], CASES[5]],
                         ids=[CASES[1][0], CASES[3][0], CASES[5][0]])
def test_gradcheck(name, shape, k, d, p, s):
    rng = np.random.default_rng(1)
    x = convnp.tensor(rng.standard_normal(shape), requires_grad=True)
    assert gradcheck(lambda t: F.unfold(t, k, d, p, s), [x])
    cols_shape = F.unfold(x, k, d, p, s).shape
    y = convnp.tensor(rng.standard_normal(cols_shape), requires_grad=True)
    assert gradcheck(lambda t: F.fold(t, shape[2:], k, d, p, s), [y])


@pytest.mark.parametrize("call,exc,match", [
    (lambda: F.unfold(convnp.ones(1, 2, 3, 3), 4), RuntimeError, "at least one"),
    (lambda: F.unfold(convnp.ones(2, 3), 2), RuntimeError, "expected a 3-d"),
    (lambda: F.unfold(convnp.ones(1, 2, 3, 3), 0), ValueError, "kernel_size"),
    (lambda: F.unfold(convnp.ones(1, 2, 3, 3), 2, padding=-1), ValueError, "padding"),
    (lambda: F.unfold(np.ones((1, 2, 3, 3)), 2), TypeError, "Tensor"),
    (lambda: F.fold(convnp.ones(1, 5, 4), (3, 3), 2), RuntimeError, "divisible"),
    (lambda: F.fold(convnp.ones(1, 8, 5), (3, 3), 2), RuntimeError, "sliding blocks"),
    (lambda: F.fold(convnp.ones(8, 5, 1, 1), (3, 3), 2), RuntimeError, "2-d"),
    (lambda: F.fold(convnp.ones(1, 8, 4), (3, 3, 3), (2, 2)), ValueError, "kernel_size"),
], ids=["too-small", "bad-ndim", "zero-kernel", "neg-padding", "ndarray", "fold-divisible",
        "fold-L", "fold-ndim", "fold-size-mismatch"])
def test_errors(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_module_repr_and_forward():
    m = nn.Unfold(2, padding=1)
    assert repr(m) == "Unfold(kernel_size=2, dilation=1, padding=1, stride=1)"
    f = nn.Fold((4, 5), (2, 3))
    assert repr(f) == ("Fold(output_size=(4, 5), kernel_size=(2, 3), dilation=1, padding=0, "
                       "stride=1)")
    assert nn.Unfold((2, 3))(convnp.randn(2, 5, 3, 4)).shape == (2, 30, 4)
    assert nn.Fold((4, 5), 2)(convnp.randn(1, 12, 12)).shape == (1, 3, 4, 5)


# ------------------------------------------------------------------ torch parity (2-d)
TORCH_CASES = [
    ("k2", (2, 3, 5, 6), dict(kernel_size=2)),
    ("k3-p1", (1, 2, 4, 4), dict(kernel_size=3, padding=1)),
    ("k2x3-all", (2, 2, 6, 7), dict(kernel_size=(2, 3), dilation=(2, 1), padding=(1, 2),
                                    stride=(2, 1))),
    ("s2-no-overlap", (1, 3, 4, 6), dict(kernel_size=2, stride=2)),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("name,shape,kw", TORCH_CASES, ids=[c[0] for c in TORCH_CASES])
def test_vs_torch(name, shape, kw, dtype):
    torch = pytest.importorskip("torch")
    from tests.oracle import compare, rand

    TF = torch.nn.functional
    compare(lambda a: F.unfold(a, **kw), lambda a: TF.unfold(a, **kw), rand(*shape), dtype=dtype)
    L = TF.unfold(torch.zeros(shape), **kw).shape
    compare(lambda a: F.fold(a, shape[2:], **kw), lambda a: TF.fold(a, shape[2:], **kw),
            rand(*L, seed=1), dtype=dtype)
    # unbatched
    compare(lambda a: F.unfold(a, **kw), lambda a: TF.unfold(a, **kw), rand(*shape[1:]),
            dtype=dtype)


def test_modules_vs_torch():
    torch = pytest.importorskip("torch")
    from tests.oracle import compare, rand

    compare(nn.Unfold((2, 3), padding=1, stride=2), torch.nn.Unfold((2, 3), padding=1, stride=2),
            rand(2, 3, 5, 6), dtype=np.float64)
    compare(nn.Fold((5, 6), 3, padding=1), torch.nn.Fold((5, 6), 3, padding=1),
            rand(2, 18, 30), dtype=np.float64)
    assert repr(nn.Fold((5, 6), 3)) == repr(torch.nn.Fold((5, 6), 3))
    assert repr(nn.Unfold(3, 2)) == repr(torch.nn.Unfold(3, 2))


def test_1d_3d_vs_torch_construction():
    """1-d unfold == 2-d torch unfold with a height-1 kernel; 3-d checked against the reference
    above, here against torch's Tensor.unfold sliding windows."""
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(3).standard_normal((2, 3, 9))
    ours = F.unfold(convnp.tensor(x), (3,), (2,), (1,), (2,)).data
    theirs = torch.nn.functional.unfold(torch.tensor(x)[:, :, None], (1, 3), (1, 2), (0, 1),
                                        (1, 2)).numpy()
    np.testing.assert_allclose(ours, theirs, rtol=1e-12)
    x3 = np.random.default_rng(4).standard_normal((2, 2, 4, 5, 3))
    ours3 = F.unfold(convnp.tensor(x3), (2, 3, 2), stride=(2, 1, 1)).data
    t = torch.tensor(x3).unfold(2, 2, 2).unfold(3, 3, 1).unfold(4, 2, 1)  # N,C,bD,bH,bW,kD,kH,kW
    t = t.permute(0, 1, 5, 6, 7, 2, 3, 4).reshape(2, 2 * 12, -1).numpy()
    np.testing.assert_allclose(ours3, t, rtol=1e-12)


def test_property_fold_is_unfold_adjoint():
    hyp = pytest.importorskip("hypothesis")
    st = hyp.strategies

    @hyp.settings(max_examples=30, deadline=None)
    @hyp.given(st.data())
    def run(data):
        n = data.draw(st.integers(1, 3), label="spatial dims")
        k = tuple(data.draw(st.integers(1, 3)) for _ in range(n))
        d = tuple(data.draw(st.integers(1, 2)) for _ in range(n))
        p = tuple(data.draw(st.integers(0, 2)) for _ in range(n))
        s = tuple(data.draw(st.integers(1, 3)) for _ in range(n))
        size = tuple(data.draw(st.integers(max(1, d[i] * (k[i] - 1) + 1 - 2 * p[i]), 6))
                     for i in range(n))
        x = np.random.default_rng(0).standard_normal((2, 2) + size)
        cols = F.unfold(convnp.tensor(x), k, d, p, s).data
        np.testing.assert_allclose(cols, _ref_unfold(x, k, d, p, s), rtol=1e-12)
        y = np.random.default_rng(1).standard_normal(cols.shape)
        back = F.fold(convnp.tensor(y), size, k, d, p, s).data
        np.testing.assert_allclose(np.vdot(cols, y), np.vdot(x, back), rtol=1e-10, atol=1e-12)

    run()
