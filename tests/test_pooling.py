"""Pooling: parity with torch (output, indices, input gradient) on both the Numba and the NumPy
path, gradchecks, modules (repr, output_shape) and error paths."""

import numpy as np
import pytest

import convnp
import convnp.nn as nn
import convnp.nn.functional as F
from convnp.autograd import gradcheck
from tests.oracle import compare, distinct, rand

torch = pytest.importorskip("torch")
TF = torch.nn.functional

DTYPES = [pytest.param(np.float32, id="f32"), pytest.param(np.float64, id="f64")]


# id, n, x shape, kwargs (same for convnp and torch)
MAX_CASES = [
    ("1d-k2", 1, (2, 3, 9), dict(kernel_size=2)),
    ("1d-k3-s2-p1-ceil", 1, (1, 2, 10), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)),
    ("1d-k3-d2-p1", 1, (2, 2, 11), dict(kernel_size=3, dilation=2, padding=1)),
    ("1d-unbatched", 1, (3, 8), dict(kernel_size=2, stride=1)),
    ("1d-k300-int32codes", 1, (1, 1, 310), dict(kernel_size=300, stride=5)),
    ("2d-k2-s2", 2, (2, 3, 6, 8), dict(kernel_size=2)),
    ("2d-k3-s2-p1", 2, (1, 2, 7, 9), dict(kernel_size=3, stride=2, padding=1)),
    ("2d-ceil-window-in-pad", 2, (2, 2, 7, 6),
     dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)),
    ("2d-ceil-overhang", 2, (1, 2, 5, 8), dict(kernel_size=2, stride=2, ceil_mode=True)),
    ("2d-k4-p2-max-pad", 2, (1, 2, 7, 7), dict(kernel_size=4, stride=3, padding=2)),
    ("2d-rect-dil", 2, (1, 2, 9, 11),
     dict(kernel_size=(2, 3), stride=(1, 2), dilation=(2, 1), padding=(1, 1))),
    ("2d-dil-ceil-pad", 2, (1, 1, 9, 11),
     dict(kernel_size=(2, 5), stride=(2, 1), dilation=(2, 3), padding=(1, 2), ceil_mode=True)),
    ("2d-unbatched", 2, (3, 5, 7), dict(kernel_size=2, stride=1)),
    ("3d-k2", 3, (2, 2, 4, 6, 5), dict(kernel_size=2)),
    ("3d-k3-s2-p1-ceil", 3, (1, 2, 5, 7, 6),
     dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)),
    ("3d-unbatched-rect", 3, (2, 4, 4, 6), dict(kernel_size=(1, 2, 3), stride=(1, 2, 2))),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", MAX_CASES, ids=[c[0] for c in MAX_CASES])
def test_max_pool_matches_torch(case, dtype, path):
    _, n, shape, kw = case
    x = distinct(*shape)
    out, idx = compare(lambda t: getattr(F, f"max_pool{n}d")(t, return_indices=True, **kw),
                       lambda t: getattr(TF, f"max_pool{n}d")(t, return_indices=True, **kw),
                       x, dtype=dtype)
    assert idx.dtype == np.int64
    assert idx.array.pooled_input_shape == shape[-n:]
    # without indices: same values
    plain = getattr(F, f"max_pool{n}d")(convnp.tensor(x.astype(dtype)), **kw)
    np.testing.assert_array_equal(plain.data, out.data)


def test_max_pool_nan_propagates_like_torch(path):
    x = distinct(1, 1, 4, 4)
    x[0, 0, 1, 1] = np.nan
    x[0, 0, 2, 3] = np.nan
    compare(lambda t: F.max_pool2d(t, 2, 1, return_indices=True),
            lambda t: TF.max_pool2d(t, 2, 1, return_indices=True), x, dtype=np.float64,
            check_grad=False)


def test_max_pool_windows_inside_fast_path_ties_nan_inf(path):
    """2-d, unpadded, every window inside (the register kernel): ties take the first tap, a NaN
    wins (the last one when a window holds two), all -inf windows report their first tap."""
    from convnp.ops.pooling import _windows_inside

    assert _windows_inside((1, 6, 8), (1, 2, 2), (1, 2, 2), (0, 0, 0), (1, 1, 1), (1, 3, 4))
    assert not _windows_inside((1, 5, 5), (1, 2, 2), (1, 2, 2), (0, 0, 0), (1, 1, 1), (1, 3, 3))
    assert not _windows_inside((1, 6, 8), (1, 2, 2), (1, 2, 2), (0, 1, 1), (1, 1, 1), (1, 4, 5))
    x = np.round(distinct(2, 3, 6, 8) * 2) / 2  # rounding makes ties
    x[0, 0, 0, :2] = np.nan
    x[0, 0, 1, 0] = np.nan
    x[1, 2, 2:4, 2:4] = -np.inf
    x[1, 1, 0:2, 0:2] = 7.0
    for kw in (dict(kernel_size=2), dict(kernel_size=(2, 3), stride=(2, 1)),
               dict(kernel_size=3, stride=2)):
        compare(lambda t, kw=kw: F.max_pool2d(t, return_indices=True, **kw),
                lambda t, kw=kw: TF.max_pool2d(t, return_indices=True, **kw), x,
                dtype=np.float64, check_grad=False)
    finite = np.where(np.isfinite(x), x, 0.0)
    compare(lambda t: F.max_pool2d(t, 2), lambda t: TF.max_pool2d(t, 2), finite,
            dtype=np.float64)
    compare(lambda t: F.max_pool1d(t, 3), lambda t: TF.max_pool1d(t, 3), finite[:, :, 0],
            dtype=np.float32)


def test_max_pool_minus_inf_windows_pick_torchs_index(path):
    x = distinct(1, 2, 5, 6)
    x[0, 0, :3, :3] = -np.inf  # whole windows of -inf, some reaching into the padding
    x[0, 1, 2, 4] = -np.inf
    for kw in (dict(kernel_size=3, stride=2, padding=1), dict(kernel_size=2, ceil_mode=True)):
        compare(lambda t, kw=kw: F.max_pool2d(t, return_indices=True, **kw),
                lambda t, kw=kw: TF.max_pool2d(t, return_indices=True, **kw), x, dtype=np.float64,
                check_grad=False)


# id, n, x shape, kwargs
AVG_CASES = [
    ("1d-k3", 1, (2, 3, 9), dict(kernel_size=3)),
    ("1d-k3-s2-p1-ceil-nopadcount", 1, (1, 2, 10),
     dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, count_include_pad=False)),
    ("1d-unbatched", 1, (3, 8), dict(kernel_size=2, stride=1, padding=1)),
    ("2d-k2", 2, (2, 3, 6, 8), dict(kernel_size=2)),
    ("2d-k3-s2-p1", 2, (1, 2, 7, 9), dict(kernel_size=3, stride=2, padding=1)),
    ("2d-k3-s2-p1-nopadcount", 2, (2, 2, 7, 9),
     dict(kernel_size=3, stride=2, padding=1, count_include_pad=False)),
    ("2d-ceil-overhang-padcount", 2, (1, 2, 6, 6),
     dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)),
    ("2d-ceil-overhang-nopad", 2, (1, 2, 6, 5), dict(kernel_size=2, stride=2, ceil_mode=True)),
    ("2d-ceil-nopadcount", 2, (1, 2, 6, 6),
     dict(kernel_size=3, stride=2, padding=1, ceil_mode=True, count_include_pad=False)),
    ("2d-divisor", 2, (2, 2, 7, 7), dict(kernel_size=3, stride=2, padding=1, divisor_override=5)),
    ("2d-rect-unbatched", 2, (2, 7, 8), dict(kernel_size=(3, 2), stride=(2, 1), padding=(1, 0))),
    ("3d-k2", 3, (2, 2, 4, 6, 5), dict(kernel_size=2)),
    ("3d-k3-s2-p1-ceil", 3, (1, 2, 5, 7, 6),
     dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)),
    ("3d-divisor-nopadcount", 3, (1, 1, 5, 4, 6),
     dict(kernel_size=(3, 2, 3), stride=2, padding=1, count_include_pad=False,
          divisor_override=7)),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", AVG_CASES, ids=[c[0] for c in AVG_CASES])
def test_avg_pool_matches_torch(case, dtype, path):
    _, n, shape, kw = case
    compare(lambda t: getattr(F, f"avg_pool{n}d")(t, **kw),
            lambda t: getattr(TF, f"avg_pool{n}d")(t, **kw), rand(*shape), dtype=dtype)


LP_CASES = [
    ("1d-p2-k3-s2", 1, (2, 3, 9), (2, 3), dict(stride=2)),
    ("2d-p3-k2", 2, (1, 2, 6, 7), (3, 2), {}),
    ("2d-p1.5-k3-s2-ceil", 2, (2, 2, 7, 6), (1.5, 3), dict(stride=2, ceil_mode=True)),
    ("2d-unbatched-rect", 2, (2, 6, 6), (2, (2, 3)), {}),
    ("3d-p2-k2", 3, (1, 2, 4, 4, 5), (2, 2), {}),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", LP_CASES, ids=[c[0] for c in LP_CASES])
def test_lp_pool_matches_torch(case, dtype):
    _, n, shape, (p, k), kw = case
    compare(lambda t: getattr(F, f"lp_pool{n}d")(t, p, k, **kw),
            lambda t: getattr(TF, f"lp_pool{n}d")(t, p, k, **kw),
            rand(*shape, low=0.1, high=1.0), dtype=dtype)


ADAPTIVE_CASES = [
    ("1d-10to4-uneven", 1, (2, 3, 10), 4),
    ("1d-7to3", 1, (1, 2, 7), 3),
    ("1d-same", 1, (2, 2, 5), 5),
    ("2d-7x5to3x2", 2, (2, 3, 7, 5), (3, 2)),
    ("2d-global", 2, (2, 3, 6, 5), 1),
    ("2d-even-8x6to4x3", 2, (1, 2, 8, 6), (4, 3)),
    ("2d-none-keeps", 2, (1, 2, 7, 5), (None, 3)),
    ("2d-upsizing-3to5", 2, (1, 2, 3, 4), (5, 6)),
    ("2d-unbatched", 2, (3, 7, 6), 4),
    ("3d-5x6x7to2x3x4", 3, (1, 2, 5, 6, 7), (2, 3, 4)),
    ("3d-global", 3, (2, 2, 3, 4, 5), 1),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", ADAPTIVE_CASES, ids=[c[0] for c in ADAPTIVE_CASES])
def test_adaptive_avg_pool_matches_torch(case, dtype, path):
    _, n, shape, o = case
    compare(lambda t: getattr(F, f"adaptive_avg_pool{n}d")(t, o),
            lambda t: getattr(TF, f"adaptive_avg_pool{n}d")(t, o), rand(*shape), dtype=dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", ADAPTIVE_CASES, ids=[c[0] for c in ADAPTIVE_CASES])
def test_adaptive_max_pool_matches_torch(case, dtype, path):
    _, n, shape, o = case
    out, idx = compare(lambda t: getattr(F, f"adaptive_max_pool{n}d")(t, o, True),
                       lambda t: getattr(TF, f"adaptive_max_pool{n}d")(t, o, True),
                       distinct(*shape), dtype=dtype)
    assert idx.array.pooled_input_shape == shape[-n:]


# ---------------------------------------------------------------------------- gradcheck
GRADCHECK = [
    ("max2d-k3-s2-p1", lambda t: F.max_pool2d(t, 3, 2, 1), (1, 2, 5, 6)),
    ("max3d-dil", lambda t: F.max_pool3d(t, 2, 1, 0, 2), (1, 1, 4, 4, 4)),
    ("max1d-ceil", lambda t: F.max_pool1d(t, 2, 2, ceil_mode=True), (2, 1, 7)),
    ("avg2d-ceil-nopad", lambda t: F.avg_pool2d(t, 3, 2, 1, True, False), (1, 2, 6, 5)),
    ("avg3d-divisor", lambda t: F.avg_pool3d(t, 2, 1, 1, divisor_override=3), (1, 1, 3, 3, 3)),
    ("lp2d", lambda t: F.lp_pool2d(t, 2, 2), (1, 1, 4, 4)),
    ("adaptive-avg2d", lambda t: F.adaptive_avg_pool2d(t, (3, 2)), (1, 2, 7, 5)),
    ("adaptive-max2d", lambda t: F.adaptive_max_pool2d(t, (3, 2)), (1, 2, 7, 5)),
]


@pytest.mark.parametrize("name,fn,shape", GRADCHECK, ids=[c[0] for c in GRADCHECK])
def test_gradcheck(name, fn, shape, path):
    x = distinct(*shape, spacing=0.1)
    if name.startswith("lp"):
        x = x + 5.0  # x**p with a fractional root needs positive sums
    assert gradcheck(fn, [convnp.tensor(x, dtype=np.float64, requires_grad=True)])


# ---------------------------------------------------------------------------- modules
MODULES = [
    ("MaxPool1d", (3,), dict(stride=2, padding=1), (2, 3, 9)),
    ("MaxPool2d", (2,), {}, (2, 3, 6, 7)),
    ("MaxPool2d", ((2, 3),), dict(stride=1, dilation=2, ceil_mode=True), (1, 2, 9, 10)),
    ("MaxPool3d", (2,), dict(padding=1), (1, 2, 4, 5, 6)),
    ("AvgPool1d", (2,), {}, (2, 3, 9)),
    ("AvgPool2d", (3, 2, 1), dict(ceil_mode=True, count_include_pad=False), (1, 2, 7, 8)),
    ("AvgPool2d", (2,), dict(divisor_override=3), (1, 2, 6, 6)),
    ("AvgPool3d", (2,), {}, (1, 2, 4, 4, 4)),
    ("LPPool1d", (2, 3), {}, (1, 2, 9)),
    ("LPPool2d", (2, 3), dict(stride=2, ceil_mode=True), (1, 2, 8, 8)),
    ("AdaptiveAvgPool1d", (4,), {}, (2, 3, 9)),
    ("AdaptiveAvgPool2d", ((2, None),), {}, (2, 3, 7, 5)),
    ("AdaptiveAvgPool3d", (2,), {}, (1, 2, 5, 4, 6)),
    ("AdaptiveMaxPool1d", (3,), {}, (2, 3, 8)),
    ("AdaptiveMaxPool2d", (3,), {}, (2, 3, 7, 5)),
    ("AdaptiveMaxPool3d", ((1, 2, 3),), {}, (1, 2, 4, 5, 6)),
]


@pytest.mark.parametrize("name,args,kw,shape", MODULES,
                         ids=[f"{m[0]}-{i}" for i, m in enumerate(MODULES)])
def test_module_matches_torch(name, args, kw, shape):
    m, tm = getattr(nn, name)(*args, **kw), getattr(torch.nn, name)(*args, **kw)
    assert repr(m) == repr(tm)
    x = rand(*shape, low=0.1, high=1.0) if name.startswith("LP") else distinct(*shape)
    out = compare(m, tm, x, dtype=np.float64)
    assert m.output_shape(shape) == out.shape


def test_module_return_indices():
    x = distinct(1, 2, 6, 6)
    compare(nn.MaxPool2d(2, return_indices=True), torch.nn.MaxPool2d(2, return_indices=True), x)
    compare(nn.AdaptiveMaxPool2d(4, True), torch.nn.AdaptiveMaxPool2d(4, True), x)


@pytest.mark.parametrize("nd", [1, 2, 3])
@pytest.mark.parametrize("kind", ["Avg", "Max"])
def test_global_pool_matches_adaptive(nd, kind):
    shape = (2, 3) + (4, 5, 3)[:nd]
    x = distinct(*shape)
    g = getattr(nn, f"Global{kind}Pool{nd}d")()
    t = getattr(torch.nn, f"Adaptive{kind}Pool{nd}d")(1)
    out = compare(g, lambda a: t(a).flatten(2).squeeze(-1), x)
    assert out.shape == (2, 3) == g.output_shape(shape)
    keep = getattr(nn, f"Global{kind}Pool{nd}d")(keepdim=True)
    assert keep(convnp.tensor(x)).shape == (2, 3) + (1,) * nd == keep.output_shape(shape)
    assert repr(keep) == f"Global{kind}Pool{nd}d(keepdim=True)"


# ---------------------------------------------------------------------------- error paths
def test_padding_rule_error():
    x = convnp.randn(1, 1, 8, 8)
    with pytest.raises(RuntimeError, match=r"max_pool2d: pad should be at most half of kernel "
                                           r"size.*padding <= kernel_size // 2"):
        F.max_pool2d(x, 3, padding=2)
    with pytest.raises(RuntimeError, match="dilation not counted"):
        F.max_pool2d(x, 3, padding=2, dilation=2)  # torch ignores dilation in this rule too
    with pytest.raises(RuntimeError, match="avg_pool2d: pad should be at most half"):
        F.avg_pool2d(x, 2, padding=2)
    with pytest.raises(RuntimeError):
        TF.max_pool2d(torch.zeros(1, 1, 8, 8), 3, padding=2, dilation=2)


def test_error_paths():
    x = convnp.randn(1, 1, 4, 4)
    with pytest.raises(ValueError, match=r"max_pool2d: expected a 3-d \(unbatched\) or 4-d"):
        F.max_pool2d(convnp.randn(4, 4), 2)
    with pytest.raises(RuntimeError, match="output size .* too small"):
        F.max_pool2d(x, 5)
    with pytest.raises(TypeError, match="'kernel_size' must be an int or a sequence of 2"):
        F.max_pool2d(x, 2.5)
    with pytest.raises(ValueError, match="'kernel_size' must be an int or a sequence of 2"):
        F.avg_pool2d(x, (2, 2, 2))
    with pytest.raises(ValueError, match="'stride' must be >= 1"):
        F.max_pool1d(convnp.randn(1, 1, 4), 2, stride=0)
    with pytest.raises(ValueError, match="divisor_override"):
        F.avg_pool2d(x, 2, divisor_override=0)
    with pytest.raises(TypeError, match="floating-point"):
        F.max_pool2d(convnp.tensor(np.zeros((1, 1, 4, 4), np.int64)), 2)
    with pytest.raises(TypeError, match="convnp Tensor"):
        F.max_pool2d(np.zeros((1, 1, 4, 4)), 2)
    with pytest.raises(ValueError, match="output_size' entries must be ints >= 0"):
        F.adaptive_avg_pool2d(x, (-1, 2))
    with pytest.raises(TypeError, match="output_size"):
        F.adaptive_max_pool2d(x, (1, 2, 3))
    with pytest.raises(ValueError, match="norm_type"):
        F.lp_pool2d(x, 0, 2)
    with pytest.raises(ValueError, match="empty"):
        F.max_pool2d(convnp.randn(1, 0, 4, 4), 2)


# ---------------------------------------------------------------------------- property test
hyp = pytest.importorskip("hypothesis")
st = hyp.strategies


@hyp.settings(max_examples=40, deadline=None)
@hyp.given(size=st.integers(1, 12), k=st.integers(1, 4), s=st.integers(1, 3),
           p=st.integers(0, 2), d=st.integers(1, 2), ceil=st.booleans())
# found by hypothesis: no tap of the window lands inside the input (torch reports index 1)
@hyp.example(size=1, k=2, s=1, p=1, d=2, ceil=False)
def test_max_pool1d_shape_and_values_property(size, k, s, p, d, ceil):
    """Any valid geometry: same output (shape, values, indices) as torch, or the same refusal."""
    x = distinct(1, 2, size)
    try:
        ref = TF.max_pool1d(torch.tensor(x), k, s, p, d, ceil, return_indices=True)
    except RuntimeError:
        with pytest.raises(RuntimeError):
            F.max_pool1d(convnp.tensor(x), k, s, p, d, ceil)
        return
    out, idx = F.max_pool1d(convnp.tensor(x), k, s, p, d, ceil, return_indices=True)
    np.testing.assert_array_equal(out.data, ref[0].numpy())
    np.testing.assert_array_equal(idx.data, ref[1].numpy())


@pytest.mark.parametrize("nd,k,s", [(1, 2, 2), (1, 3, 2), (2, 2, 2), (2, (2, 3), (1, 2)),
                                    (2, 3, 3)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_max_pool_without_gradient_matches_torch(nd, k, s, dtype):
    """A max pool nobody differentiates (no_grad, or an input without requires_grad) takes the
    values-only kernel: torch's values, NaN propagating, -inf and ties as torch."""
    rng = np.random.default_rng(0)
    shape = (3, 4, 17) if nd == 1 else (3, 4, 11, 13)
    x = rng.standard_normal(shape).astype(dtype)
    x.reshape(-1)[rng.choice(x.size, 9, replace=False)] = np.nan
    x.reshape(-1)[rng.choice(x.size, 9, replace=False)] = -np.inf
    x.reshape(-1)[::7] = 0.5  # ties
    fn = f"max_pool{nd}d"
    want = getattr(torch.nn.functional, fn)(torch.from_numpy(x), k, s).numpy()
    with convnp.no_grad():
        got = getattr(F, fn)(convnp.from_numpy(x), k, s)
    np.testing.assert_array_equal(got.array, want)
    np.testing.assert_array_equal(getattr(F, fn)(convnp.from_numpy(x), k, s).array, want)
    xg = convnp.from_numpy(x).requires_grad_()
    np.testing.assert_array_equal(getattr(F, fn)(xg, k, s).array, want)  # the code path


@pytest.mark.parametrize("nd,shape,k,s", [(1, (2, 3, 300), 2, 2), (1, (2, 3, 301), 3, 2),
                                          (2, (2, 3, 5, 140), (2, 3), (1, 2))])
def test_max_pool_long_rows_kernel_matches_torch(nd, shape, k, s):
    """Output rows of 64 or more take the row-vectorized coded kernel: torch's values, indices
    (first maximal tap, NaN wins) and input gradient."""
    rng = np.random.default_rng(2)
    x = rng.standard_normal(shape)
    x.reshape(-1)[rng.choice(x.size, 7, replace=False)] = np.nan
    x.reshape(-1)[::5] = 0.25  # ties
    g = rng.standard_normal(np.shape(getattr(torch.nn.functional, f"max_pool{nd}d")(
        torch.from_numpy(x), k, s)))
    tx = torch.from_numpy(x).requires_grad_()
    ty, ti = getattr(torch.nn.functional, f"max_pool{nd}d")(tx, k, s, return_indices=True)
    ty.backward(torch.from_numpy(g))
    cx = convnp.from_numpy(x).requires_grad_()
    cy, ci = getattr(F, f"max_pool{nd}d")(cx, k, s, return_indices=True)
    assert cy.shape[-1] >= 64
    cy.backward(convnp.from_numpy(g))
    np.testing.assert_array_equal(cy.array, ty.detach().numpy())
    np.testing.assert_array_equal(np.asarray(ci.array), ti.numpy())
    np.testing.assert_allclose(cx.grad.array, tx.grad.numpy(), rtol=1e-12, atol=1e-12)


def test_pool_validation_is_kept_per_call_and_errors_repeat():
    """Validated window arguments are kept per (shape, dtype, settings); a call that fails
    validation fails the same way every time, even after a good call with the same shape."""
    x = convnp.randn(2, 3, 8, 8)
    for _ in range(2):
        assert F.max_pool2d(x, 2).shape == (2, 3, 4, 4)
        assert F.avg_pool2d(x, 3, 1, 1).shape == (2, 3, 8, 8)
    for _ in range(2):
        with pytest.raises(TypeError, match="max_pool2d: 'input' must be a convnp Tensor"):
            F.max_pool2d(x.array, 2)
        with pytest.raises(RuntimeError, match="pad should be at most half"):
            F.max_pool2d(x, 2, 2, 2)
        with pytest.raises(ValueError, match="avg_pool2d: expected a 3-d"):
            F.avg_pool2d(convnp.randn(8, 8), 2)
