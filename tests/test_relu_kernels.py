"""ReLU / ReLU6 / hardtanh kernels (ops/activation.py) on every memory layout: the compiled
path against the NumPy reference path and torch, inputs and upstream gradients in C order,
channels-last, Fortran order, a transpose, a strided slice and a broadcast."""

import numpy as np
import pytest

import convnp
import convnp.nn.functional as F
from convnp import backend

torch = pytest.importorskip("torch")

SHAPE = (3, 4, 5, 6)


def _layout(a: np.ndarray, layout: str) -> np.ndarray:
    """``a``'s values in the memory layout ``layout`` (same logical array)."""
    if layout == "c":
        return np.ascontiguousarray(a)
    if layout == "last":
        return np.ascontiguousarray(a.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
    if layout == "fortran":
        return np.asfortranarray(a)
    if layout == "perm":  # an arbitrary dense axis order
        return np.ascontiguousarray(a.transpose(2, 0, 3, 1)).transpose(1, 3, 0, 2)
    if layout == "slice":  # not dense: every other element of a wider array
        big = np.zeros(a.shape[:-1] + (2 * a.shape[-1],), a.dtype)
        big[..., 1::2] = a
        return big[..., 1::2]
    raise ValueError(layout)


LAYOUTS = ["c", "last", "fortran", "perm", "slice"]
G_LAYOUTS = ["same", "c", "last", "slice", "bcast"]
FNS = {
    "relu": (F.relu, torch.relu),
    "relu6": (F.relu6, torch.nn.functional.relu6),
    "hardtanh": (lambda t: F.hardtanh(t, -0.5, 0.7),
                 lambda t: torch.nn.functional.hardtanh(t, -0.5, 0.7)),
}


def _data(dtype):
    rng = np.random.default_rng(0)
    # distinct values away from the kinks (0, 6, -0.5, 0.7), both signs, some above 6
    x = rng.permutation(np.linspace(-8, 8, int(np.prod(SHAPE)))).reshape(SHAPE) + 0.0123
    g = rng.standard_normal(SHAPE)
    return x.astype(dtype), g.astype(dtype)


def _grad_in(g, x_layout, g_layout):
    if g_layout == "bcast":
        return np.broadcast_to(g.reshape(-1)[:1].reshape(1, 1, 1, 1), SHAPE)
    return _layout(g, x_layout if g_layout == "same" else g_layout)


def _run(fn, x, g, numba: bool):
    ctx = backend.numba_disabled() if not numba else _Null()
    with ctx:
        xt = convnp.Tensor._wrap(x).requires_grad_()
        out = fn(xt)
        out.backward(convnp.Tensor._wrap(g))
        return out.array, xt.grad.array


class _Null:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("g_layout", G_LAYOUTS)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("name", list(FNS))
def test_layouts_match_reference_and_torch(name, layout, g_layout, dtype, path):
    cfn, tfn = FNS[name]
    x0, g0 = _data(dtype)
    x = _layout(x0, layout)
    g = _grad_in(g0, layout, g_layout)
    out, gx = _run(cfn, x, g, path)
    ref_out, ref_gx = _run(cfn, x, g, numba=False)
    np.testing.assert_array_equal(out, ref_out)
    np.testing.assert_array_equal(gx, ref_gx)
    xt = torch.tensor(x0, requires_grad=True)
    tout = tfn(xt)
    tout.backward(torch.from_numpy(np.ascontiguousarray(g)))
    np.testing.assert_array_equal(out, tout.detach().numpy())
    np.testing.assert_array_equal(gx, xt.grad.numpy())
    if layout in ("last", "fortran", "perm") and name == "relu":
        assert out.strides == x.strides  # the output keeps a dense input's layout, as torch's


@pytest.mark.parametrize("name", ["relu", "relu6"])
def test_nan_gradient_is_zero_where_masked(name, path):
    """As torch: the gradient is 0 where the unit is off, even when the upstream one is NaN."""
    cfn, tfn = FNS[name]
    x = np.array([-2.0, -1.0, 0.5, 3.0, 7.0], np.float32)
    g = np.full(5, np.nan, np.float32)
    _, gx = _run(cfn, x, g, path)
    xt = torch.tensor(x, requires_grad=True)
    tfn(xt).backward(torch.tensor(g))
    np.testing.assert_array_equal(np.isnan(gx), np.isnan(xt.grad.numpy()))
    assert (gx[~np.isnan(gx)] == 0).all()


def test_relu_nan_input_passes_through(path):
    x = np.array([np.nan, -1.0, 2.0] * 20000, np.float32)  # big enough for the parallel kernel
    out = F.relu(convnp.Tensor._wrap(x)).array
    assert np.isnan(out[::3]).all() and (out[1::3] == 0).all() and (out[2::3] == 2).all()


def test_integer_and_empty_inputs():
    assert F.relu(convnp.tensor([-1, 2])).tolist() == [0, 2]
    e = convnp.zeros(0, 3, requires_grad=True)
    F.relu(e).sum().backward()
    assert e.grad.shape == (0, 3)


@pytest.mark.parametrize("kind,p,q", [("relu", 0.0, 0.0), ("clamp", -0.3, 0.4),
                                      ("leaky", 0.2, 0.0)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("layout", ["c", "permuted", "strided"])
def test_activate_inplace_matches_numpy(kind, p, q, dtype, layout):
    """activation.activate_ (the in-place activation inference fusion applies): the compiled
    kernel on dense memory in any axis order, NumPy on strided views; NaN stays NaN."""
    from convnp.ops import activation as A

    rng = np.random.default_rng(0)
    base = rng.standard_normal((3, 5, 40, 41)).astype(dtype)
    base.reshape(-1)[::97] = np.nan
    a = {"c": base, "permuted": base.transpose(0, 2, 3, 1),
         "strided": base[:, :, ::2]}[layout]
    want = {"relu": lambda v: np.maximum(v, 0), "clamp": lambda v: np.clip(v, p, q),
            "leaky": lambda v: np.where(v > 0, v, v * dtype(p))}[kind](a.copy())
    A.activate_(a, kind, p, q)
    np.testing.assert_array_equal(a, want)


@pytest.mark.parametrize("kind,p,q", [("relu", 0.0, 0.0), ("clamp", -0.3, 0.4),
                                      ("leaky", 0.2, 0.0)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(3, 5, 40, 41), (1, 64, 512), (2, 7), (0, 4, 3)])
def test_bias_activate_matches_numpy(kind, p, q, dtype, shape):
    """activation.bias_activate_ (fusion's bias and activation in one pass): the same numbers
    as adding the per-channel bias, then the activation; NaN stays NaN."""
    from convnp.ops import activation as A

    rng = np.random.default_rng(1)
    a = rng.standard_normal(shape).astype(dtype)
    a.reshape(-1)[::97] = np.nan
    b = rng.standard_normal(shape[1]).astype(dtype)
    v = a + b.reshape((1, -1) + (1,) * (a.ndim - 2))
    want = {"relu": lambda v: np.maximum(v, 0), "clamp": lambda v: np.clip(v, p, q),
            "leaky": lambda v: np.where(v > 0, v, v * dtype(p))}[kind](v)
    assert A.bias_activate_(a, b, kind, p, q)
    np.testing.assert_array_equal(a, want)


def test_bias_activate_declines_what_it_cannot_run():
    from convnp.ops import activation as A

    a = np.ones((2, 3, 4), np.float32)
    for arr, bias in [(a.transpose(0, 2, 1), np.ones(4, np.float32)),  # not C-contiguous
                      (a, np.ones(3, np.float64)),                     # mixed dtypes
                      (a, np.ones(4, np.float32))]:                    # one bias per channel
        before = arr.copy()
        assert not A.bias_activate_(arr, bias, "relu")
        np.testing.assert_array_equal(arr, before)
