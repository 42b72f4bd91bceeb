"""Dropout family: statistics, channel-wise masks, eval identity, gradient = forward's mask *
scale, determinism under manual_seed, errors, modules."""

from __future__ import annotations

import numpy as np
import pytest

import convnp
import convnp.nn as nn
import convnp.nn.functional as F

CASES = [
    # id, fn, input shape, mask shape (None: elementwise)
    ("dropout", F.dropout, (20, 50), None),
    ("dropout-4d", F.dropout, (4, 5, 6, 7), None),
    ("dropout1d", F.dropout1d, (40, 30, 8), (40, 30, 1)),
    ("dropout1d-unbatched", F.dropout1d, (300, 8), (300, 1)),
    ("dropout2d", F.dropout2d, (40, 30, 3, 4), (40, 30, 1, 1)),
    ("dropout2d-unbatched", F.dropout2d, (600, 3, 4), None),  # 3-D: torch's (N, C, L) rule
    ("dropout3d", F.dropout3d, (30, 20, 2, 3, 2), (30, 20, 1, 1, 1)),
    ("dropout3d-unbatched", F.dropout3d, (500, 2, 2, 3), (500, 1, 1, 1)),
]


@pytest.mark.filterwarnings("ignore:dropout2d")
@pytest.mark.parametrize("p", [0.2, 0.5], ids=["p0.2", "p0.5"])
@pytest.mark.parametrize("cid,fn,shape,mshape", CASES, ids=[c[0] for c in CASES])
def test_statistics_and_gradient(cid, fn, shape, mshape, p):
    convnp.manual_seed(1)
    x = convnp.tensor(np.random.default_rng(0).uniform(1, 2, shape), requires_grad=True)
    y = fn(x, p)
    kept = y.array != 0
    # kept elements are scaled by exactly 1 / (1 - p)
    np.testing.assert_allclose(y.array[kept], x.array[kept] / (1 - p), rtol=1e-6)
    frac = 1 - kept.mean()
    assert abs(frac - p) < 0.06, f"dropped fraction {frac} for p={p}"
    if mshape is not None:  # whole channels: the mask is constant over the spatial axes
        m = kept.reshape(mshape[: len(mshape) - sum(s == 1 for s in mshape)] + (-1,))
        assert np.all(m.all(-1) | ~m.any(-1))
    if cid == "dropout2d-unbatched":  # treated as (N, C, L): constant along the last axis
        assert np.all(kept.all(-1) | ~kept.any(-1))
    g = np.random.default_rng(2).standard_normal(shape).astype(np.float32)
    (y * convnp.tensor(g)).sum().backward()
    np.testing.assert_allclose(x.grad.array, g * kept / (1 - p), rtol=1e-6)
    assert y.dtype == x.dtype


@pytest.mark.parametrize("fn", [F.dropout, F.dropout2d, F.alpha_dropout,
                                F.feature_alpha_dropout], ids=["drop", "drop2d", "alpha",
                                                              "feature-alpha"])
def test_eval_identity_and_p0(fn):
    x = convnp.randn(2, 3, 4, 4)
    assert fn(x, 0.5, training=False) is x
    assert fn(x, 0.0, training=True) is x


def test_p1_zeroes_everything():
    x = convnp.randn(3, 4, requires_grad=True)
    y = F.dropout(x, 1.0)
    assert not y.array.any()
    y.sum().backward()
    assert not x.grad.array.any()


def test_determinism_and_generator():
    x = convnp.ones(50, 40)
    convnp.manual_seed(7)
    a = F.dropout(x).array
    convnp.manual_seed(7)
    b = F.dropout(x).array
    np.testing.assert_array_equal(a, b)
    g1, g2 = convnp.Generator().manual_seed(3), convnp.Generator().manual_seed(3)
    np.testing.assert_array_equal(F.dropout(x, generator=g1).array,
                                  F.dropout(x, generator=g2).array)
    assert not np.array_equal(a, F.dropout(x).array)


@pytest.mark.parametrize("fn,shape", [(F.alpha_dropout, (200, 300)),
                                      (F.feature_alpha_dropout, (400, 300, 4))],
                         ids=["alpha", "feature-alpha"])
def test_alpha_dropout_keeps_mean_and_variance(fn, shape):
    convnp.manual_seed(0)
    x = convnp.tensor(np.random.default_rng(0).standard_normal(shape), requires_grad=True)
    y = fn(x, 0.3, training=True)
    assert abs(float(y.array.mean())) < 0.03
    assert abs(float(y.array.std()) - 1) < 0.03
    # gradient: a * keep-mask; dropped elements all equal the same saturation value
    y.sum().backward()
    a = 1 / np.sqrt((1.7580993408473766 ** 2 * 0.3 + 1) * 0.7)
    grad = x.grad.array
    assert set(np.unique(np.round(grad, 6))) <= {0.0, round(a, 6)}
    dropped = grad == 0
    vals = y.array[dropped]
    np.testing.assert_allclose(vals, vals.flat[0], rtol=1e-12)
    if fn is F.feature_alpha_dropout:
        assert np.all(dropped.all(-1) | ~dropped.any(-1))


def test_errors():
    x = convnp.randn(2, 3, 4)
    for fn in (F.dropout, F.dropout1d, F.dropout2d, F.alpha_dropout):
        with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1, "
                                             "but got 1.5"):
            fn(x, 1.5)
    with pytest.raises(RuntimeError, match="dropout1d: Expected 2D or 3D input"):
        F.dropout1d(convnp.randn(2, 3, 4, 5))
    with pytest.raises(ValueError, match="Dropout: dropout probability"):
        nn.Dropout(-0.1)
    with pytest.raises(TypeError, match="dropout.*Tensor"):
        F.dropout(np.ones(3))
    with pytest.warns(UserWarning, match="3D input to dropout2d"):
        F.dropout2d(x)


@pytest.mark.parametrize("cls,shape", [("Dropout", (4, 5)), ("Dropout1d", (2, 3, 4)),
                                       ("Dropout2d", (2, 3, 4, 4)), ("Dropout3d", (2, 3, 2, 2, 2)),
                                       ("AlphaDropout", (4, 5)),
                                       ("FeatureAlphaDropout", (2, 3, 4))])
def test_modules(cls, shape):
    m = getattr(nn, cls)(0.3)
    x = convnp.randn(*shape)
    convnp.manual_seed(0)
    y = m(x)
    assert y.shape == x.shape and not np.array_equal(y.array, x.array)
    m.eval()
    assert m(x) is x
    torch = pytest.importorskip("torch")
    assert repr(m) == repr(getattr(torch.nn, cls)(0.3))
    assert repr(getattr(nn, cls)(0.5, inplace=True)) == repr(getattr(torch.nn, cls)(0.5, True))


def test_elementwise_dropout_keeps_a_bool_mask_as_torch():
    """The mask saved for backward is one byte an element (torch's CPU dropout saves a mask of the
    input's dtype), not a float array of the input's size; the node has torch's name."""
    torch = pytest.importorskip("torch")
    x = convnp.randn(8, 300, requires_grad=True)
    y = F.dropout(x, 0.3)
    (mask,) = y.grad_fn.ctx.saved_tensors
    assert mask.dtype == np.bool_ and mask.shape == x.shape
    t = torch.nn.functional.dropout(torch.randn(8, 300, requires_grad=True), 0.3)
    assert y.grad_fn.name() == type(t.grad_fn).__name__ == "MulBackward0"
