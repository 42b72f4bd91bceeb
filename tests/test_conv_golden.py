"""Golden, hand-computed convolution cases from the notes (no torch needed)."""

import numpy as np
import pytest

import convnp
import convnp.nn.functional as F
from convnp.ops import _shape

IMAGE = np.array([[1, 2, 3, 4, 5],
                  [6, 7, 8, 2, 3],
                  [2, 5, 9, 9, 5],
                  [4, 8, 8, 2, 1]], dtype=np.float64)
KERNEL = np.array([[1, 1, 1],
                   [2, 1, 2],
                   [3, 2, 1]], dtype=np.float64)


def _loop_xcorr(img, ker):
    """Reference sliding window (test-only loops)."""
    kh, kw = ker.shape
    out = np.zeros((img.shape[0] - kh + 1, img.shape[1] - kw + 1))
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            out[i, j] = (img[i:i + kh, j:j + kw] * ker).sum()
    return out


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_notes_4x5_image_gives_66(dtype):
    x = convnp.tensor(IMAGE[None, None].astype(dtype))
    w = convnp.tensor(KERNEL[None, None].astype(dtype))
    y = F.conv2d(x, w)
    assert y.shape == (1, 1, 2, 3)
    assert y.dtype == dtype
    assert y.data[0, 0, 0, 0] == 66
    # by hand: e.g. (0,1) = (2+3+4) + (14+8+4) + (15+18+9) = 77
    np.testing.assert_array_equal(y.data[0, 0], [[66, 77, 86], [84, 96, 79]])
    np.testing.assert_array_equal(y.data[0, 0], _loop_xcorr(IMAGE, KERNEL))


def test_flip_is_true_convolution():
    x = convnp.tensor(IMAGE[None, None])
    w = convnp.tensor(KERNEL[None, None])
    y = F.conv2d(x, w, flip=True)
    # flipped kernel [[1,2,3],[2,1,2],[1,1,1]]: (1+4+9) + (12+7+16) + (2+5+9) = 65 at (0, 0)
    assert y.data[0, 0, 0, 0] == 65
    np.testing.assert_array_equal(y.data[0, 0], _loop_xcorr(IMAGE, KERNEL[::-1, ::-1]))
    assert not np.array_equal(y.data, F.conv2d(x, w).data)
    # a symmetric kernel gives the same result either way
    sym = convnp.tensor(np.array([[[[0, 1, 0], [1, 2, 1], [0, 1, 0.]]]]))
    np.testing.assert_array_equal(F.conv2d(x, sym, flip=True).data, F.conv2d(x, sym).data)


def test_notes_3x32x32_six_filters():
    x = convnp.randn(3, 32, 32)
    w = convnp.randn(6, 3, 5, 5)
    assert F.conv2d(x, w).shape == (6, 28, 28)
    assert F.conv2d(convnp.tensor(x.data[None]), w).shape == (1, 6, 28, 28)
    assert _shape.conv_output_size(32, 5) == 28


def test_toeplitz_1d():
    x = np.array([1.0, 2.0, 3.0, 4.0])
    w = np.array([1.0, 0.0, -1.0])
    T = np.array([[1.0, 0.0, -1.0, 0.0],
                  [0.0, 1.0, 0.0, -1.0]])  # the conv as a Toeplitz matrix
    y = F.conv1d(convnp.tensor(x[None, None]), convnp.tensor(w[None, None]))
    np.testing.assert_array_equal(y.data[0, 0], T @ x)
    np.testing.assert_array_equal(y.data[0, 0], [-2.0, -2.0])
    g = np.array([1.0, 3.0])
    yt = F.conv_transpose1d(convnp.tensor(g[None, None]), convnp.tensor(w[None, None]))
    np.testing.assert_array_equal(yt.data[0, 0], T.T @ g)  # transposed conv = T^T


def test_same_padding_rule():
    # out = ceil(in / s); total = max(0, (out-1)*s + d*(k-1) + 1 - in); odd element at the end
    assert _shape.same_padding(7, 3, 2) == (1, 1)
    assert _shape.same_padding(8, 3, 2) == (0, 1)
    assert _shape.same_padding(5, 4, 1) == (1, 2)
    assert _shape.same_padding(10, 3, 1, 2) == (2, 2)
    x = convnp.randn(1, 2, 9, 8)
    w = convnp.randn(3, 2, 3, 3)
    assert F.conv2d(x, w, stride=2, padding="same").shape == (1, 3, 5, 4)
    assert F.conv2d(x, w, stride=3, dilation=2, padding="same").shape == (1, 3, 3, 3)
    assert _shape.conv_padding_pairs("causal", (10,), (3,), (1,), (2,)) == ((4, 0),)


def test_causal_1d_only_sees_the_past():
    x = np.zeros((1, 1, 8))
    x[0, 0, 5] = 1.0
    w = np.ones((1, 1, 3))
    y = F.conv1d(convnp.tensor(x), convnp.tensor(w), padding="causal")
    assert y.shape == (1, 1, 8)
    np.testing.assert_array_equal(y.data[0, 0], [0, 0, 0, 0, 0, 1, 1, 1])


def test_adjoint_identity_without_torch():
    r = np.random.default_rng(0)
    x = r.standard_normal((2, 3, 7, 6))
    w = r.standard_normal((4, 3, 3, 3))
    for mode in ("zeros", "reflect", "replicate", "circular"):
        y = F.conv2d(convnp.tensor(x), convnp.tensor(w), stride=2, padding=1, padding_mode=mode)
        v = r.standard_normal(y.shape)
        xt = F.conv_transpose2d(convnp.tensor(v), convnp.tensor(w), stride=2, padding=1,
                                output_size=x.shape[2:], padding_mode=mode)
        assert xt.shape == x.shape
        np.testing.assert_allclose((y.data * v).sum(), (x * xt.data).sum(), rtol=1e-12)


def test_numpy_and_numba_depthwise_agree():
    r = np.random.default_rng(1)
    x = convnp.tensor(r.standard_normal((2, 4, 7, 7)))
    w = convnp.tensor(r.standard_normal((8, 1, 3, 3)))
    a = F.conv2d(x, w, padding=1, groups=4, stride=2).data
    with convnp.backend.numba_disabled():
        b = F.conv2d(x, w, padding=1, groups=4, stride=2).data
    np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
