"""Gradients at non-smooth points (kinks, ties, zeros, bounds) equal torch's, value for value.

The other op tests use tie-free inputs away from kinks; this table puts every input exactly on
the kink, where an op's derivative is a convention: torch's convention is the one to match.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import convnp
import convnp.nn.functional as F

torch = pytest.importorskip("torch")
TF = torch.nn.functional

Z = np.array([-2.0, -1.0, 0.0, 0.0, 1.0, 2.0])           # zeros and ±1/±2 kinks
TIES = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0], [0.0, -1.0, 0.0]])
ZERO_ROW = np.array([[0.0, 0.0, 0.0], [3.0, -4.0, 0.0]])
SIX = np.array([-3.0, 0.0, 3.0, 6.0, 7.0, -0.5, 0.5])    # relu6 / hardswish / hardsigmoid kinks
LAMBDA = np.array([-0.5, -0.25, 0.0, 0.25, 0.5, 1.0])  # shrink thresholds at ±0.5

# (id, input, fn(lib, F, x) -> output); lib is convnp or torch and F its functional module
CASES = [
    ("norm-zero", np.zeros(4), lambda L, F, x: x.norm()),
    ("norm-zero-p1", np.zeros(4), lambda L, F, x: x.norm(p=1)),
    ("norm-zero-p3", np.zeros(4), lambda L, F, x: x.norm(p=3)),
    ("norm-p3", Z, lambda L, F, x: x.norm(p=3)),
    ("norm-p1-kinks", Z, lambda L, F, x: x.norm(p=1)),
    ("norm-inf-ties", TIES, lambda L, F, x: x.norm(p=float("inf"))),
    ("norm-dim-zero-row", ZERO_ROW, lambda L, F, x: x.norm(dim=1)),
    ("norm-dim-keepdim", ZERO_ROW, lambda L, F, x: x.norm(dim=0, keepdim=True)),
    ("norm-fro", ZERO_ROW, lambda L, F, x: x.norm(p="fro")),
    ("abs-zero", Z, lambda L, F, x: x.abs()),
    ("sqrt-zero", np.array([0.0, 1.0, 4.0]), lambda L, F, x: x.sqrt()),
    ("max-ties", TIES, lambda L, F, x: x.max()),
    ("min-ties", TIES, lambda L, F, x: x.min()),
    ("max-dim-ties", TIES, lambda L, F, x: x.max(dim=1)[0]),
    ("min-dim-ties", TIES, lambda L, F, x: x.min(dim=0)[0]),
    ("max-dim-keepdim-ties", TIES, lambda L, F, x: x.max(dim=1, keepdim=True)[0]),
    ("amax-ties", TIES, lambda L, F, x: x.amax(dim=1)),
    ("amin-ties", TIES, lambda L, F, x: x.amin(dim=0)),
    ("amax-all-ties", TIES, lambda L, F, x: x.amax()),
    ("maximum-equal", TIES, lambda L, F, x: L.maximum(x, x.flip(1))),
    ("minimum-equal", TIES, lambda L, F, x: L.minimum(x, x.flip(0))),
    ("clamp-bounds", Z, lambda L, F, x: x.clamp(-1.0, 1.0)),
    ("clamp-min-bound", Z, lambda L, F, x: x.clamp(min=0.0)),
    ("clamp-max-bound", Z, lambda L, F, x: x.clamp(max=0.0)),
    ("relu-zero", Z, lambda L, F, x: F.relu(x)),
    ("relu6-kinks", SIX, lambda L, F, x: F.relu6(x)),
    ("hardtanh-kinks", Z, lambda L, F, x: F.hardtanh(x)),
    ("hardtanh-custom", Z, lambda L, F, x: F.hardtanh(x, -2.0, 0.0)),
    ("leaky-relu-zero", Z, lambda L, F, x: F.leaky_relu(x, 0.1)),
    ("elu-zero", Z, lambda L, F, x: F.elu(x)),
    ("celu-zero", Z, lambda L, F, x: F.celu(x, 2.0)),
    ("selu-zero", Z, lambda L, F, x: F.selu(x)),
    ("prelu-zero", Z, lambda L, F, x: F.prelu(x, x.new_tensor([0.25]))),
    ("threshold-at", Z, lambda L, F, x: F.threshold(x, 1.0, -5.0)),
    ("hardshrink-at", LAMBDA, lambda L, F, x: F.hardshrink(x)),
    ("softshrink-at", LAMBDA, lambda L, F, x: F.softshrink(x)),
    ("hardswish-kinks", SIX, lambda L, F, x: F.hardswish(x)),
    ("hardsigmoid-kinks", SIX, lambda L, F, x: F.hardsigmoid(x)),
    ("softplus-threshold", np.array([19.0, 20.0, 21.0]),
     lambda L, F, x: F.softplus(x, 1.0, 20.0)),
    ("pow2-zero", Z, lambda L, F, x: x ** 2),
    ("pow0-zero", Z, lambda L, F, x: x ** 0),
    ("pow1-zero", Z, lambda L, F, x: x ** 1),
    ("pow-half-zero", np.array([0.0, 1.0, 4.0]), lambda L, F, x: x ** 0.5),
    ("pow-neg-zero", np.array([0.0, 1.0, -2.0]), lambda L, F, x: x ** -1),
    ("pow-tensor-exponent-zero-base", np.array([0.0, 0.0, 2.0, 0.0]),
     lambda L, F, x: x.new_tensor([0.0, 0.0, 1.0, 2.0]) ** x),
    ("pow-zero-base-tensor-exponent", np.array([0.0, 1.0, 2.0, -1.0]),
     lambda L, F, x: x.new_tensor([0.0, 0.0, 0.0, 0.0]) ** x),
    ("pow-both-zero", np.array([0.0, 0.0, 2.0]), lambda L, F, x: x ** x),
    ("std-constant", np.array([2.0, 2.0, 2.0]), lambda L, F, x: x.std()),
    ("std-dim-constant-row", np.array([[1.0, 1.0], [1.0, 3.0]]), lambda L, F, x: x.std(dim=1)),
    ("var-constant", np.array([2.0, 2.0, 2.0]), lambda L, F, x: x.var()),
    ("l1-loss-zero", Z, lambda L, F, x: F.l1_loss(x, x.detach() * 0 + x.new_tensor(Z))),
    ("smooth-l1-at-beta", Z, lambda L, F, x: F.smooth_l1_loss(x, x.new_tensor(Z * 0), beta=1.0)),
    ("huber-at-delta", Z, lambda L, F, x: F.huber_loss(x, x.new_tensor(Z * 0), delta=2.0)),
    ("normalize-zero", ZERO_ROW, lambda L, F, x: F.normalize(x, dim=1)),
    ("max-pool-ties", np.array([[[[1.0, 1.0, 0.0, 2.0], [1.0, 1.0, 2.0, 2.0],
                                  [5.0, 5.0, 5.0, 5.0], [5.0, 5.0, 5.0, 5.0]]]]),
     lambda L, F, x: F.max_pool2d(x, 2)),
    ("max-pool-overlap-ties", np.ones((1, 1, 4, 4)), lambda L, F, x: F.max_pool2d(x, 3, 1)),
    ("adaptive-max-pool-ties", np.ones((1, 1, 5, 5)),
     lambda L, F, x: F.adaptive_max_pool2d(x, 2)),
    ("sort-ties", TIES, lambda L, F, x: x.sort(dim=1)[0] * x.new_tensor([1.0, 2.0, 3.0])),
    ("topk-ties", TIES, lambda L, F, x: x.topk(2, dim=1)[0] * x.new_tensor([1.0, 2.0])),
    ("logsumexp-ties", TIES, lambda L, F, x: x.logsumexp(1)),
]


def _grads(lib, Fm, fn, x_np, dtype):
    x = lib.tensor(x_np.astype(dtype), requires_grad=True)
    y = fn(lib, Fm, x)
    # a fixed, asymmetric upstream gradient: ties must route it exactly as torch does
    g = np.arange(1, y.numel() + 1, dtype=dtype).reshape(tuple(y.shape)) / 7
    y.backward(lib.tensor(g))
    return y.detach().numpy(), x.grad.numpy()


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_gradient_at_nonsmooth_point_matches_torch(case, dtype):
    _, x, fn = case
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # no NumPy divide-by-zero noise either
        out, grad = _grads(convnp, F, fn, x, dtype)
    t_out, t_grad = _grads(torch, TF, fn, x, dtype)
    tol = dict(rtol=1e-6, atol=1e-7) if dtype == np.float64 else dict(rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out, t_out, **tol)
    np.testing.assert_allclose(grad, t_grad, **tol)  # NaN and inf must sit where torch's do


def test_norm_of_zero_has_zero_gradient_not_nan():
    x = convnp.zeros(3, requires_grad=True)
    x.norm().backward()
    assert np.array_equal(x.grad.array, np.zeros(3))
