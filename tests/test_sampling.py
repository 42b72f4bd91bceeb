"""grid_sample and affine_grid against PyTorch, numerical gradients, golden cases and errors."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import convnp
import convnp.nn.functional as F
from convnp.autograd import gradcheck
from tests.oracle import compare

torch = pytest.importorskip("torch")
TF = torch.nn.functional

CASES = [(d, m, p, a) for d, m, p, a in itertools.product(
    (2, 3), ("bilinear", "nearest", "bicubic"), ("zeros", "border", "reflection"), (False, True))
    if not (d == 3 and m == "bicubic")]


def _ids(c):
    return f"{c[0]}d-{c[1]}-{c[2]}-{'ac' if c[3] else 'noac'}"


def _inputs(d, seed, lattice=False):
    rng = np.random.default_rng(seed)
    sizes, out = ((4, 5), (3, 6)) if d == 2 else ((3, 4, 5), (2, 3, 4))
    x = rng.standard_normal((2, 3) + sizes)
    if lattice:  # points on pixel centres and edges, exactly +-1 included: the kinks
        g = rng.choice(np.linspace(-1.5, 1.5, 13), (2,) + out + (d,))
    else:
        g = rng.uniform(-1.3, 1.3, (2,) + out + (d,))
    return x, g


@pytest.mark.parametrize("case", CASES, ids=_ids)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("lattice", [False, True], ids=["random", "lattice"])
def test_grid_sample_matches_torch(case, dtype, lattice):
    d, mode, pad, ac = case
    x, g = _inputs(d, seed=hash(case) % 1000, lattice=lattice)
    tol = {} if dtype == np.float64 else dict(rtol=1e-4, atol=2e-5)
    compare(lambda a, b: F.grid_sample(a, b, mode, pad, ac),
            lambda a, b: TF.grid_sample(a, b, mode, pad, ac),
            x.astype(dtype), g.astype(dtype), dtype=dtype, **tol)


@pytest.mark.parametrize("case", [c for c in CASES if c[1] != "nearest"], ids=_ids)
def test_grid_sample_gradcheck(case):
    d, mode, pad, ac = case
    x, g = _inputs(d, seed=3)
    xs = convnp.tensor(x[:1, :2], requires_grad=True)
    gs = convnp.tensor(g[:1] * 0.9, requires_grad=True)  # off the lattice: smooth there
    assert gradcheck(lambda a, b: F.grid_sample(a, b, mode, pad, ac), (xs, gs))


def test_grid_sample_numba_and_reference_agree():
    x, g = _inputs(2, seed=5)
    xt, gt = convnp.tensor(x, requires_grad=True), convnp.tensor(g)
    y1 = F.grid_sample(xt, gt, "bilinear", "reflection", False)
    y1.sum().backward()
    g1 = xt.grad.array.copy()
    xt.grad = None
    with convnp.backend.numba_disabled():
        y2 = F.grid_sample(xt, gt, "bilinear", "reflection", False)
        y2.sum().backward()
    np.testing.assert_allclose(y1.array, y2.array, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(g1, xt.grad.array, rtol=1e-12, atol=1e-12)


def test_identity_grid_reproduces_input():
    x = convnp.arange(20.0).reshape(1, 1, 4, 5)
    for ac in (False, True):
        grid = F.affine_grid(convnp.tensor([[[1.0, 0, 0], [0, 1, 0]]]), (1, 1, 4, 5),
                             align_corners=ac)
        for mode in ("bilinear", "nearest", "bicubic"):
            y = F.grid_sample(x, grid, mode, align_corners=ac)
            np.testing.assert_allclose(y.array, x.array, atol=1e-5)


def test_golden_bilinear_midpoint_and_outside():
    # 2x2 image, align_corners=True: the centre is the mean; a point outside reads 0 (zeros)
    x = convnp.tensor([[[[1.0, 2.0], [3.0, 4.0]]]])
    grid = convnp.tensor([[[[0.0, 0.0], [3.0, 0.0]]]])
    y = F.grid_sample(x, grid, align_corners=True)
    np.testing.assert_allclose(y.array.ravel(), [2.5, 0.0])
    y = F.grid_sample(x, grid, padding_mode="border", align_corners=True)
    np.testing.assert_allclose(y.array.ravel(), [2.5, 3.0])


@pytest.mark.parametrize("d", [2, 3])
@pytest.mark.parametrize("ac", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_affine_grid_matches_torch(d, ac, dtype):
    size = (2, 3, 4, 5) if d == 2 else (2, 3, 3, 4, 5)
    theta = np.random.default_rng(d).standard_normal((2, d, d + 1)).astype(dtype)
    compare(lambda t: F.affine_grid(t, size, ac), lambda t: TF.affine_grid(t, size, ac),
            theta, dtype=dtype)


@pytest.mark.parametrize("call, match", [
    (lambda: F.grid_sample(convnp.zeros(1, 1, 4), convnp.zeros(1, 4, 1)), "4-D"),
    (lambda: F.grid_sample(convnp.zeros(1, 1, 4, 4), convnp.zeros(1, 2, 2, 3)), "grid must"),
    (lambda: F.grid_sample(convnp.zeros(2, 1, 4, 4), convnp.zeros(1, 2, 2, 2)), "batch"),
    (lambda: F.grid_sample(convnp.zeros(1, 1, 4, 4), convnp.zeros(1, 2, 2, 2), "cubic"), "mode"),
    (lambda: F.grid_sample(convnp.zeros(1, 1, 2, 4, 4), convnp.zeros(1, 1, 2, 2, 3),
                           "bicubic"), "bicubic"),
    (lambda: F.grid_sample(convnp.zeros(1, 1, 4, 4), convnp.zeros(1, 2, 2, 2),
                           padding_mode="wrap"), "padding_mode"),
    (lambda: F.affine_grid(convnp.zeros(1, 2, 3), (1, 1, 4)), "size"),
    (lambda: F.affine_grid(convnp.zeros(1, 3, 4), (1, 1, 4, 4)), "theta"),
])
def test_errors(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()
