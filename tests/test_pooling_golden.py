"""Hand-computed pooling/unpooling/resampling cases (no torch needed)."""

import numpy as np

import convnp
import convnp.nn as nn
import convnp.nn.functional as F
from convnp.ops import _shape

X44 = np.array([[1, 3, 2, 0],
                [4, 2, 1, 5],
                [0, 6, 7, 1],
                [2, 1, 3, 8]], np.float32)


def test_maxpool_2x2_s2_halves_and_picks_maxima(path):
    x = convnp.tensor(X44[None, None], requires_grad=True)
    y, idx = F.max_pool2d(x, 2, return_indices=True)
    assert y.shape == (1, 1, 2, 2)
    np.testing.assert_array_equal(y.data[0, 0], [[4, 5], [6, 8]])
    np.testing.assert_array_equal(idx.data[0, 0], [[4, 7], [9, 15]])  # flat per-plane indices
    y.sum().backward()
    expect = np.zeros((4, 4), np.float32)
    expect.flat[[4, 7, 9, 15]] = 1
    np.testing.assert_array_equal(x.grad.data[0, 0], expect)


def test_maxpool_halves_rectangular_map():
    assert F.max_pool2d(convnp.randn(3, 8, 10, 6), 2).shape == (3, 8, 5, 3)


def test_avgpool_2x2_values(path):
    y = F.avg_pool2d(convnp.tensor(X44[None, None]), 2)
    np.testing.assert_allclose(y.data[0, 0], [[2.5, 2.0], [2.25, 4.75]])


def test_avgpool_ceil_overhang_divisor(path):
    # length 5, k2 s2 ceil: last window covers only x[4]; divisor 1 (overhang not counted)
    y = F.avg_pool1d(convnp.tensor([[[1., 2., 3., 4., 10.]]]), 2, ceil_mode=True)
    np.testing.assert_allclose(y.data, [[[1.5, 3.5, 10.0]]])
    # padding 1 counted (count_include_pad) but the overhang beyond the padding is not
    y = F.avg_pool1d(convnp.tensor([[[1., 2., 3., 4.]]]), 2, 2, padding=1, ceil_mode=True)
    np.testing.assert_allclose(y.data, [[[0.5, 2.5, 2.0]]])


def test_global_pooling_reduces_map_to_vector(path):
    x = np.arange(2 * 3 * 4 * 5, dtype=np.float32).reshape(2, 3, 4, 5)
    v = nn.GlobalAvgPool2d()(convnp.tensor(x))
    assert v.shape == (2, 3)
    np.testing.assert_allclose(v.data, x.mean(axis=(2, 3)))
    m = nn.GlobalMaxPool2d()(convnp.tensor(x))
    np.testing.assert_array_equal(m.data, x.max(axis=(2, 3)))
    assert nn.GlobalAvgPool2d()(convnp.tensor(x[0])).shape == (3,)  # unbatched C x H x W


def test_unpool_puts_maxima_back_at_switches(path):
    y, idx = F.max_pool2d(convnp.tensor(X44[None, None]), 2, return_indices=True)
    u = F.max_unpool2d(y, idx, 2)
    expect = np.zeros((4, 4), np.float32)
    expect.flat[[4, 7, 9, 15]] = [4, 5, 6, 8]
    np.testing.assert_array_equal(u.data[0, 0], expect)


def test_unpool_restores_odd_size_from_switches(path):
    x = np.arange(25, dtype=np.float32).reshape(1, 1, 5, 5)
    y, idx = F.max_pool2d(convnp.tensor(x), 2, return_indices=True)
    assert idx.array.pooled_input_shape == (5, 5)
    u = F.max_unpool2d(y, idx, 2)  # torch would give 4x4 here without output_size
    assert u.shape == (1, 1, 5, 5)
    np.testing.assert_array_equal(u.data[0, 0][[1, 1, 3, 3], [1, 3, 1, 3]], [6, 8, 16, 18])
    assert u.data.sum() == 6 + 8 + 16 + 18


def test_adaptive_bins_uneven():
    start, end = _shape.adaptive_bins(10, 4)
    np.testing.assert_array_equal(start, [0, 2, 5, 7])
    np.testing.assert_array_equal(end, [3, 5, 8, 10])
    y = F.adaptive_avg_pool1d(convnp.tensor(np.arange(10.)[None, None]), 4)
    np.testing.assert_allclose(y.data[0, 0], [1.0, 3.0, 6.0, 8.0])


def test_shape_rules():
    assert _shape.pool_output_size(7, 3, 2, 1, 1, ceil_mode=True) == 4
    assert _shape.pool_output_size(5, 2, 2, 1, 1, ceil_mode=True) == 3  # 4th would start in pad
    assert _shape.pool_max_padding(3) == 1
    assert _shape.unpool_output_size(2, 2, 2, 0) == 4
    assert _shape.interpolate_output_size(5, 1.5) == 7


def test_nearest_and_bilinear_golden(path):
    x = convnp.tensor([[[[1., 2.], [3., 4.]]]])
    up = F.interpolate(x, scale_factor=2)
    np.testing.assert_array_equal(up.data[0, 0], np.kron([[1, 2], [3, 4]], np.ones((2, 2))))
    b = F.interpolate(x, size=3, mode="bilinear", align_corners=True)
    np.testing.assert_allclose(b.data[0, 0], [[1, 1.5, 2], [2, 2.5, 3], [3, 3.5, 4]])
    one = F.interpolate(x, size=1, mode="bilinear", align_corners=True)  # size-1 axis: corner
    np.testing.assert_allclose(one.data[0, 0], [[1.0]])


def test_pixel_shuffle_roundtrip():
    x = convnp.tensor(np.arange(16.).reshape(1, 4, 2, 2))
    y = F.pixel_shuffle(x, 2)
    np.testing.assert_array_equal(y.data[0, 0, 0], [0, 4, 1, 5])
    np.testing.assert_array_equal(F.pixel_unshuffle(y, 2).data, x.data)
