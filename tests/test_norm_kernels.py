"""Batch-norm kernels (ops/normalization.py): the compiled path against the NumPy reference path
and against torch, for every layout the kernels take ((N, C, M) rows, channels-last (P, C)
blocks, copied odd strides), 1-d / 2-d / 3-d, float32 and float64, training and eval mode."""

import numpy as np
import pytest

import convnp
import convnp.nn.functional as F
from convnp import backend
from convnp.ops import normalization as N
from tests.oracle import compare

torch = pytest.importorskip("torch")

# (id, shape, layout): "c" C order, "last" channels-last strides, "odd" a strided slice
CASES = [
    ("bn1d-2d", (7, 5), "c"),
    ("bn1d-3d", (4, 3, 11), "c"),
    ("bn2d", (3, 4, 6, 5), "c"),
    ("bn2d-last", (2, 3, 9, 8), "last"),   # 144 rows: three pieces, the last one partial
    ("bn3d", (2, 3, 3, 4, 5), "c"),
    ("bn3d-last", (2, 4, 3, 5, 6), "last"),
    ("bn2d-odd", (3, 4, 6, 5), "odd"),
    ("bn2d-batch1", (1, 6, 5, 7), "c"),
]
IDS = [c[0] for c in CASES]


def _make(shape, layout, dtype, seed=0, offset=0.5):
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal(shape) * 2 + offset).astype(dtype)
    if layout == "last":
        perm = (0, *range(2, len(shape)), 1)
        inv = np.argsort(perm)
        return np.ascontiguousarray(x.transpose(perm)).transpose(inv)
    if layout == "odd":
        big = np.zeros(shape[:-1] + (2 * shape[-1],), dtype)
        big[..., ::2] = x
        return big[..., ::2]
    return x


def _run(x, w, b, g, training, numba):
    """(out, running mean, running var, gx, gw, gb) of batch_norm on one path."""
    with (backend.numba_disabled() if not numba else _null()):
        xt = convnp.Tensor._wrap(x.copy(order="K")).requires_grad_()
        wt = convnp.tensor(w, requires_grad=True)
        bt = convnp.tensor(b, requires_grad=True)
        c = x.shape[1]
        rm = convnp.tensor(np.linspace(-0.2, 0.3, c).astype(x.dtype))
        rv = convnp.tensor(np.linspace(0.5, 1.5, c).astype(x.dtype))
        out = F.batch_norm(xt, rm, rv, wt, bt, training=training)
        out.backward(convnp.Tensor._wrap(g))
        return (out.array, rm.array, rv.array, xt.grad.array, wt.grad.array, bt.grad.array)


class _null:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def _tol(dtype):
    return dict(rtol=2e-5, atol=2e-5) if dtype == np.float32 else dict(rtol=1e-11, atol=1e-11)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_kernels_match_reference_path(case, training, dtype, path):
    _, shape, layout = case
    x = _make(shape, layout, dtype)
    c = shape[1]
    rng = np.random.default_rng(1)
    w = rng.uniform(0.5, 1.5, c).astype(dtype)
    b = rng.uniform(-0.5, 0.5, c).astype(dtype)
    # the upstream gradient in C order even when x is channels-last (a layout the kernel copies)
    g = rng.standard_normal(shape).astype(dtype)
    got = _run(x, w, b, g, training, path)
    ref = _run(x, w, b, g, training, numba=False)
    for name, a, r in zip(("out", "running_mean", "running_var", "gx", "gw", "gb"), got, ref):
        np.testing.assert_allclose(a, r, err_msg=name, **_tol(dtype))
    if layout == "last":  # the output keeps the input's memory layout, as torch's
        assert got[0].strides == _make(shape, layout, dtype).strides


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("training", [True, False], ids=["train", "eval"])
@pytest.mark.parametrize("case", CASES[:5], ids=IDS[:5])
def test_batch_norm_matches_torch(case, training, dtype, path):
    _, shape, layout = case
    x = _make(shape, layout, np.float64)
    c = shape[1]
    rm = np.linspace(-0.2, 0.3, c)
    rv = np.linspace(0.5, 1.5, c)
    tol = dict(rtol=1e-4, atol=1e-5) if dtype == np.float32 else {}

    def cfn(x, w, b):
        return F.batch_norm(x, convnp.tensor(rm.astype(dtype)), convnp.tensor(rv.astype(dtype)),
                            w, b, training=training)

    def tfn(x, w, b):
        return torch.nn.functional.batch_norm(x, torch.tensor(rm.astype(dtype)),
                                              torch.tensor(rv.astype(dtype)), w, b,
                                              training=training)

    rng = np.random.default_rng(2)
    compare(cfn, tfn, x, rng.uniform(0.5, 1.5, c), rng.uniform(-0.5, 0.5, c), dtype=dtype, **tol)


@pytest.mark.parametrize("layout", ["c", "last"])
def test_statistics_accurate_far_from_zero(layout, path):
    """float32 data with a mean 1e4 times its spread: the piecewise two-pass moments keep the
    variance (a one-pass E[x^2] - E[x]^2 in float32 would lose it entirely)."""
    shape = (16, 3, 12, 12)
    x = _make(shape, layout, np.float32, offset=0.0) * np.float32(0.5) + np.float32(1e4)
    out, mean, var = N.BatchNormTrain.apply(convnp.Tensor._wrap(x), None, None, eps=1e-5)
    x64 = x.astype(np.float64)
    np.testing.assert_allclose(var.array, x64.var(axis=(0, 2, 3)), rtol=1e-3)
    np.testing.assert_allclose(mean.array, x64.mean(axis=(0, 2, 3)), rtol=2e-6)
    assert abs(float(out.array.std()) - 1) < 1e-2


def test_nan_stays_in_its_channel(path):
    x = _make((4, 3, 5, 5), "c", np.float32)
    x[1, 1, 2, 2] = np.nan
    out = F.batch_norm(convnp.Tensor._wrap(x), None, None, training=True).array
    assert np.isnan(out[:, 1]).all()
    assert np.isfinite(out[:, [0, 2]]).all()


@pytest.mark.parametrize("need", [(True, False, False), (False, True, True)],
                         ids=["x-only", "params-only"])
def test_partial_gradients(need, path):
    """Only the asked-for gradients are computed, and they equal the full computation's."""
    x = _make((3, 4, 5, 6), "c", np.float64)
    g = np.random.default_rng(3).standard_normal(x.shape)
    w = np.linspace(0.5, 1.5, 4)
    b = np.linspace(-1, 1, 4)
    full = _run(x, w, b, g, True, path)
    xt = convnp.tensor(x, requires_grad=need[0])
    wt = convnp.tensor(w, requires_grad=need[1])
    bt = convnp.tensor(b, requires_grad=need[2])
    F.batch_norm(xt, None, None, wt, bt, training=True).backward(convnp.tensor(g))
    for t, ref, want in zip((xt, wt, bt), full[3:], need):
        if want:
            np.testing.assert_allclose(t.grad.array, ref, rtol=1e-12, atol=1e-12)
        else:
            assert t.grad is None
