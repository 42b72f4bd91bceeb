"""Spherical CNNs: SphereNet sampling, icosphere meshes and their operators, MeshConv, Spherical
MNIST. No torch equivalent exists: the tests check the geometry against direct computations,
the equivariances, and gradients numerically."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

import convnp
import convnp.nn.functional as F
from convnp.autograd import gradcheck
from convnp.ops.sampling import table_sample
from convnp.sphere import (
    Mesh,
    MeshConv,
    MeshPool,
    MeshUnpool,
    SphereConv2d,
    SpherePool2d,
    equirect_to_mesh,
    icosphere,
    inverse_gnomonic,
    sphere_taps,
)
from convnp.sphere.datasets import SphericalMNIST, project_digits, random_rotations
from convnp.sphere.equirect import pixel_angles, tangent_offsets

MNIST = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"


def _unit(lat, lon):
    return np.stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)], -1)


# ---------------------------------------------------------------------------- SphereNet sampling
def test_inverse_gnomonic_matches_direct_projection():
    # direct: the tangent-plane point c + x e + y n, pushed back onto the sphere
    rng = np.random.default_rng(0)
    lat0, lon0 = rng.uniform(-1.5, 1.5, 50), rng.uniform(-3, 3, 50)
    x, y = rng.normal(0, 0.3, 50), rng.normal(0, 0.3, 50)
    c = _unit(lat0, lon0)
    e = np.stack([-np.sin(lon0), np.cos(lon0), 0 * lon0], -1)
    n = np.cross(c, e)
    p = c + x[:, None] * e + y[:, None] * n
    p /= np.linalg.norm(p, axis=1, keepdims=True)
    lat, lon = inverse_gnomonic(x, y, lat0, lon0)
    np.testing.assert_allclose(_unit(lat, lon), p, atol=1e-12)


def test_taps_cover_the_same_angle_at_every_latitude():
    h, w = 16, 32
    lat0, lon0 = pixel_angles(h, w)
    x, y = tangent_offsets(h, w, 3)
    lat, lon = inverse_gnomonic(x[None, None], y[None, None], lat0[..., None, None],
                                lon0[..., None, None])
    ang = np.arccos(np.clip(np.einsum("...k,...k->...", _unit(lat, lon),
                                      _unit(lat0, lon0)[..., None, None, :]), -1, 1))
    # the great-circle distance of each tap from its centre is atan(tangent radius), everywhere
    np.testing.assert_allclose(ang, np.broadcast_to(np.arctan(np.hypot(x, y)), ang.shape),
                               atol=1e-7)


def test_taps_at_the_equator_are_the_plain_grid_horizontally():
    h, w = 16, 32
    idx, wt = sphere_taps(h, w, (3, 3), (1, 1), (1, 1))
    idx, wt = idx.reshape(h, w, 3, 3, 4), wt.reshape(h, w, 3, 3, 4)
    # pixel (row 7, col 5): its left/right taps sit exactly on columns 4 and 6 of row 7 (up to
    # the half-pixel latitude offset of the row, which bends them by < 1 % of a pixel)
    for j, col in ((0, 4), (2, 6)):
        dense = np.zeros(h * w)
        np.add.at(dense, idx[7, 5, 1, j], wt[7, 5, 1, j])
        assert dense[7 * w + col] > 0.98


def test_sphere_conv_approaches_plain_conv_at_the_equator():
    h, w = 64, 128
    lat, lon = pixel_angles(h, w)
    img = np.sin(6 * lon) + np.cos(2 * lat)
    x = convnp.tensor(img[None, None])
    conv = SphereConv2d(1, 2, 3, dtype=convnp.float64)
    ref = F.conv2d(F.pad(x, (1, 1, 1, 1), mode="circular"), conv.weight, conv.bias)
    out = conv(x)
    eq = slice(h // 2 - 2, h // 2 + 2)
    err = np.abs(out.array[..., eq, :] - ref.array[..., eq, :]).max()
    assert err < 2e-3 * np.abs(ref.array).max()
    # near the poles the two differ: the sphere kernel spreads over many more columns
    assert np.abs(out.array[..., :2, :] - ref.array[..., :2, :]).max() > 10 * err


@pytest.mark.parametrize("stride", [1, 2])
def test_sphere_conv_commutes_with_longitude_rolls(stride):
    x = convnp.randn(2, 3, 8, 16, dtype=convnp.float64)
    conv = SphereConv2d(3, 4, 3, stride=stride, dtype=convnp.float64)
    pool = SpherePool2d(2)
    for shift in (2, 6):
        rolled = convnp.tensor(np.roll(x.array, shift, -1))
        np.testing.assert_allclose(conv(rolled).array,
                                   np.roll(conv(x).array, shift // stride, -1), atol=1e-10)
        np.testing.assert_allclose(pool(rolled).array, np.roll(pool(x).array, shift // 2, -1),
                                   atol=1e-12)


def test_sphere_conv_and_pool_gradients():
    x = convnp.randn(1, 2, 4, 8, dtype=convnp.float64, requires_grad=True)
    conv = SphereConv2d(2, 3, 3, stride=2, dtype=convnp.float64)
    assert gradcheck(lambda a, w, b: _sc(conv, a, w, b), (x, conv.weight, conv.bias))
    xp = convnp.tensor(np.random.default_rng(1).permutation(64).reshape(1, 2, 4, 8) / 7.0,
                       requires_grad=True)  # distinct values: no max ties
    assert gradcheck(lambda a: SpherePool2d(2, mode="max")(a), (xp,))
    assert gradcheck(lambda a: SpherePool2d(3, 1, mode="avg")(a), (xp,))


def _sc(conv, a, w, b):
    conv.weight, conv.bias = w, b
    return conv(a)


def test_table_sample_is_the_dense_matrix_product():
    rng = np.random.default_rng(2)
    idx, w = rng.integers(0, 10, (7, 3)), rng.standard_normal((7, 3))
    dense = np.zeros((7, 10))
    np.add.at(dense, (np.repeat(np.arange(7), 3), idx.ravel()), w.ravel())
    x = convnp.tensor(rng.standard_normal((2, 3, 10)), requires_grad=True)
    y = table_sample(x, idx, w)
    np.testing.assert_allclose(y.array, x.array @ dense.T, atol=1e-12)
    g = rng.standard_normal(y.shape)
    y.backward(convnp.tensor(g))
    np.testing.assert_allclose(x.grad.array, g @ dense, atol=1e-12)
    with convnp.backend.numba_disabled():
        np.testing.assert_allclose(table_sample(x, idx, w).array, y.array, atol=1e-12)


# ---------------------------------------------------------------------------- icosphere
@pytest.mark.parametrize("level", [0, 1, 2, 3])
def test_icosphere_counts_and_nesting(level):
    v, f = icosphere(level)
    assert len(v) == 10 * 4 ** level + 2 and len(f) == 20 * 4 ** level
    edges = {tuple(sorted(e)) for t in f for e in ((t[0], t[1]), (t[1], t[2]), (t[2], t[0]))}
    assert len(v) - len(edges) + len(f) == 2                    # Euler characteristic
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1)
    if level:
        np.testing.assert_array_equal(icosphere(level - 1)[0], v[:len(icosphere(level - 1)[0])])


def test_mesh_operators_on_known_functions():
    m = Mesh.at(4)
    ops, h = m.operators, m.spacing
    x, z = m.vertices[:, 0], m.vertices[:, 2]
    np.testing.assert_allclose(ops["laplacian"] @ np.ones(len(m)), 0, atol=1e-12)
    np.testing.assert_allclose(ops["identity"] @ z, z)
    # surface gradient of z is cos(lat) northwards; of x is -sin(lon) eastwards
    assert np.abs(ops["north"] @ z / h - np.cos(m.lat)).max() < 0.01
    assert np.abs(ops["east"] @ z / h).max() < 0.01
    assert np.abs(ops["east"] @ x / h + np.sin(m.lon)).max() < 0.01
    # z is a degree-1 spherical harmonic: Laplace-Beltrami(z) = -2 z
    err = np.abs(ops["laplacian"] @ z / h ** 2 + 2 * z)
    assert err.mean() < 0.02 and err.max() < 0.3


def test_mesh_conv_is_the_operator_combination():
    m = Mesh.at(2)
    conv = MeshConv(2, 3, 2, dtype=convnp.float64)
    x = convnp.randn(2, 2, len(m), dtype=convnp.float64)
    feats = np.stack([x.array @ m.operators[k].T.toarray() for k in
                      ("identity", "east", "north", "laplacian")], 2)    # (N, C, 4, V)
    ref = np.einsum("nckv,ock->nov", feats, conv.weight.array) + conv.bias.array[:, None]
    np.testing.assert_allclose(conv(x).array, ref, atol=1e-10)


def test_mesh_layers_gradients():
    x = convnp.tensor(np.random.default_rng(3).permutation(2 * 42).reshape(1, 2, 42) / 9.0,
                      requires_grad=True)
    conv = MeshConv(2, 2, 1, dtype=convnp.float64)
    assert gradcheck(lambda a, w, b: _sc(conv, a, w, b), (x, conv.weight, conv.bias))
    assert gradcheck(lambda a: MeshPool(1, "max")(a), (x,))
    assert gradcheck(lambda a: MeshPool(1, "avg")(a), (x,))
    xc = convnp.randn(1, 2, 12, dtype=convnp.float64, requires_grad=True)
    assert gradcheck(lambda a: MeshUnpool(1)(a), (xc,))


def test_mesh_pool_and_unpool_values():
    m1 = Mesh.at(1)
    x = convnp.tensor(m1.vertices[:, 2][None, None])           # z on level 1
    up = MeshUnpool(2)(x).array[0, 0]
    v2 = Mesh.at(2).vertices
    np.testing.assert_allclose(up[:42], m1.vertices[:, 2])
    parents = ((v2[42:, None, :] - m1.vertices[None]) ** 2).sum(-1).argsort(1)[:, :2]
    np.testing.assert_allclose(up[42:], m1.vertices[parents, 2].mean(1))
    ones = convnp.ones(1, 1, 162)
    np.testing.assert_allclose(MeshPool(2, "avg")(ones).array, 1)
    # max over a one-ring: a spike at a coarse vertex survives at that vertex
    spike = np.zeros((1, 1, 162))
    spike[0, 0, 5] = 3.0
    assert MeshPool(2)(convnp.tensor(spike)).array[0, 0, 5] == 3.0


def test_equirect_to_mesh_samples_the_image():
    lat, lon = pixel_angles(32, 64)
    img = np.sin(lat) + 0.5 * np.cos(lat) * np.cos(lon)      # = z + x / 2 on the sphere
    m = Mesh.at(3)
    got = equirect_to_mesh(convnp.tensor(img[None, None]), 3).array[0, 0]
    want = m.vertices[:, 2] + 0.5 * m.vertices[:, 0]
    err = np.abs(got - want)
    # bilinear error is tiny; the vertices above the first row's latitude read that row
    assert err.mean() < 0.005 and err.max() < 0.03


# ---------------------------------------------------------------------------- Spherical MNIST
def test_projection_places_the_digit_on_the_northern_cap():
    img = np.zeros((1, 28, 28), np.uint8)
    img[0, 13:15, 13:15] = 255                                  # a dot in the middle
    pole = np.array([[0.0, 0.0, 1.0], [0.0, 0.0, -1.0], [1.0, 0.0, 0.0]])
    np.testing.assert_allclose(project_digits(img, pole)[0], [255, 0, 0])


def test_random_rotations_are_rotations_and_reproducible():
    r = random_rotations(5, seed=3)
    np.testing.assert_allclose(r @ r.transpose(0, 2, 1), np.broadcast_to(np.eye(3), r.shape),
                               atol=1e-12)
    np.testing.assert_allclose(np.linalg.det(r), 1)
    np.testing.assert_array_equal(r[2], random_rotations(1, seed=3, start=2)[0])


@pytest.mark.skipif(not MNIST.is_dir(), reason="../shared/data/mnist is absent")
def test_spherical_mnist_items():
    ds = SphericalMNIST(MNIST, train=False, size=20, limit=8)
    x, y = ds.get_batch(np.arange(8))
    assert x.shape == (8, 1, 20, 40) and x.dtype == np.float32 and 0 <= x.min() and x.max() <= 1
    assert x[:, :, 10:].max() == 0                              # southern hemisphere is empty
    np.testing.assert_array_equal(y, ds.targets[:8])
    rot = SphericalMNIST(MNIST, train=False, size=20, limit=8, rotate=True, seed=1)
    xr, _ = rot.get_batch(np.arange(8))
    assert xr[:, :, 10:].max() > 0
    np.testing.assert_array_equal(xr, rot.get_batch(np.arange(8))[0])
    mesh = SphericalMNIST(MNIST, train=False, grid="mesh", level=2, limit=2)
    assert mesh[0][0].shape == (1, 162)


# ---------------------------------------------------------------------------- errors
@pytest.mark.parametrize("call, match", [
    (lambda: SphereConv2d(1, 2, 3)(convnp.zeros(1, 1, 8, 8)), "twice its height"),
    (lambda: SphereConv2d(2, 2, 3)(convnp.zeros(1, 1, 8, 16)), "2 input channels"),
    (lambda: SpherePool2d(2)(convnp.zeros(1, 8, 16)), r"\(N, C, H, W\)"),
    (lambda: SpherePool2d(2, mode="min"), "mode"),
    (lambda: icosphere(9), "level"),
    (lambda: MeshConv(1, 2, 2)(convnp.zeros(1, 1, 42)), r"\(N, C, 162\)"),
    (lambda: MeshPool(0), "level must be >= 1"),
    (lambda: equirect_to_mesh(convnp.zeros(1, 1, 8, 8), 2), "equirectangular"),
    (lambda: SphericalMNIST(grid="cube"), "grid"),
])
def test_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_angles_helpers_are_consistent():
    lat, lon = pixel_angles(4, 8)
    assert lat[0, 0] == pytest.approx(math.pi / 2 - math.pi / 8)
    assert lon[0, 0] == pytest.approx(-math.pi + math.pi / 8)


# ---------------------------------------------------------------------------- explain / summary
def test_receptive_field_in_degrees():
    import convnp.nn as nn
    from convnp.sphere.explain import receptive_field_degrees

    sphere = nn.Sequential(SphereConv2d(1, 2, 3), SpherePool2d(2), SphereConv2d(2, 2, 3))
    plain = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.MaxPool2d(2),
                          nn.Conv2d(2, 2, 3, padding=1))
    # rf 8 pixels of 180/16 = 11.25 degrees at the equator, for both
    for net in (sphere, plain):
        a = receptive_field_degrees(net, (1, 16, 32))
        assert (a.north_south, a.east_west) == pytest.approx((90.0, 90.0))
    # at 60 degrees the plain net's east-west arc halves; the sphere net's does not
    assert receptive_field_degrees(plain, (1, 16, 32), 60).east_west == pytest.approx(45.0)
    assert receptive_field_degrees(sphere, (1, 16, 32), 60).east_west == pytest.approx(90.0)
    mesh = nn.Sequential(MeshConv(1, 2, 3), MeshPool(3), MeshConv(2, 2, 2))
    arc = receptive_field_degrees(mesh, (1, 642))
    want = math.degrees(2 * (2 * Mesh.at(3).spacing + Mesh.at(2).spacing))
    assert arc.north_south == pytest.approx(want)


def test_explain_cli_knows_the_spherical_layers(capsys):
    from convnp.cli import main

    assert main(["explain", "sphereconv", "--in", "60x120", "--latitude", "75"]) == 0
    out = capsys.readouterr().out
    assert "at latitude 75" in out and "2 columns = 1.55 deg" in out
    assert main(["explain", "meshconv", "--level", "3", "--out-channels", "8"]) == 0
    out = capsys.readouterr().out
    assert "V = 10 * 4^3 + 2 = 642" in out and "8 * 1 * 4 + 8 = 40" in out


def test_summary_rows_for_sphere_layers():
    import convnp.nn as nn
    from convnp.tools.summary import summary

    s = summary(nn.Sequential(SphereConv2d(1, 8, 3), SpherePool2d(2),
                              SphereConv2d(8, 8, 3, stride=2)), (1, 16, 32))
    assert [r.output_shape for r in s.rows] == [(8, 16, 32), (8, 8, 16), (8, 4, 8)]
    assert [r.rf for r in s.rows] == [3, 4, 8]
    assert s.total_params == 8 * 9 + 8 + 8 * 8 * 9 + 8
