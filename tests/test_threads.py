"""Intra-op threads: convnp.set_num_threads / get_num_threads, the GEMM that runs on Numba's
threads (convnp._blas.matmul) against np.matmul for every layout it accepts, NumPy's BLAS
thread count left as it was, the chunk-parallel conv kernels, and a real two-thread run in a
subprocess against the one-thread result."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import convnp
from convnp import _blas, backend
from convnp.kernels.conv import _common, chunked
from convnp.ops import conv as C
from tests.oracle import rand

needs_blas = pytest.mark.skipif(not _blas.available(), reason="NumPy's OpenBLAS not found")


@pytest.fixture
def threads3(monkeypatch):
    """Work split for three threads, every GEMM split (tiny test matrices)."""
    monkeypatch.setattr(backend, "_threads", 3)
    monkeypatch.setattr(_blas, "_SPLIT_MIN_MACS", 1)
    yield


# ------------------------------------------------------------------------------------ API
def test_set_get_num_threads_roundtrip():
    prev = convnp.get_num_threads()
    try:
        convnp.set_num_threads(1)
        assert convnp.get_num_threads() == 1
        convnp.set_num_threads(np.int64(2))
        assert convnp.get_num_threads() == 2
    finally:
        convnp.set_num_threads(prev)


@pytest.mark.parametrize("bad, exc, msg", [(0, ValueError, ">= 1, got 0"),
                                           (-3, ValueError, ">= 1, got -3"),
                                           ("2", TypeError, "an int, got str"),
                                           (2.0, TypeError, "an int, got float"),
                                           (True, TypeError, "an int, got bool")])
def test_set_num_threads_rejects_bad_values(bad, exc, msg):
    with pytest.raises(exc, match="set_num_threads: n must be " + msg):
        convnp.set_num_threads(bad)


def test_default_threads_follow_the_environment(monkeypatch):
    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    monkeypatch.delenv("NUMBA_NUM_THREADS", raising=False)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    assert backend._default_threads() == 8
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert backend._default_threads() == 3
    monkeypatch.setenv("NUMBA_NUM_THREADS", "2")
    assert backend._default_threads() == 2
    monkeypatch.setenv("OMP_NUM_THREADS", "junk")
    assert backend._default_threads() == 2


def test_cli_threads_option_is_checked(capsys):
    from convnp import cli

    assert cli.main(["train", "--threads", "0"]) == 2
    assert "--threads: set_num_threads: n must be >= 1" in capsys.readouterr().err


# ------------------------------------------------------------------------------------ GEMM
def _views(rng, dtype):
    """(a, b, out or None): contiguous, transposed operands, broadcast batches, strided out."""
    r = lambda *s: rng.standard_normal(s).astype(dtype)  # noqa: E731
    at = r(40, 33).T  # (33, 40) stored column-major
    out_t = np.empty((70, 33), dtype).T  # (33, 70) written column-major
    big = np.empty((33, 90), dtype)
    return [
        ("2d", r(33, 40), r(40, 70), None),
        ("2d-a-transposed", at, r(40, 70), None),
        ("2d-b-transposed", r(33, 40), r(70, 40).T, None),
        ("2d-out-transposed", r(33, 40), r(40, 70), out_t),
        ("2d-out-column-block", r(33, 40), r(40, 70), big[:, 10:80]),
        ("2d-neither-unit-stride", r(66, 80)[::2, ::2], r(40, 70), None),
        ("3d", r(3, 17, 20), r(3, 20, 50), None),
        ("3d-broadcast-a", r(1, 17, 20), r(4, 20, 50), None),
        ("4d-broadcast-2d", r(17, 20), r(2, 3, 20, 50), None),
        ("thin-n1", r(64, 30), r(30, 1), None),
        ("thin-m1", r(1, 30), r(30, 64), None),
        ("k1", r(20, 1), r(1, 30), None),
        ("matrix-vector", r(5, 30), r(30), None),
        ("batch-matrix-vector", r(2, 5, 30), r(30), None),
        ("vector-matrix", r(30), r(30, 7), None),
        ("vector-batch-matrix", r(30), r(3, 30, 7), None),
        ("vector-vector", r(30), r(30), None),
    ]


@needs_blas
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("split", ["threads3", "threads1"])
def test_matmul_matches_numpy(split, dtype, monkeypatch):
    if split == "threads3":
        monkeypatch.setattr(backend, "_threads", 3)
        monkeypatch.setattr(_blas, "_SPLIT_MIN_MACS", 1)
    else:
        monkeypatch.setattr(backend, "_threads", 1)
    rng = np.random.default_rng(0)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    for name, a, b, out in _views(rng, dtype):
        want = np.matmul(a, b)
        got = _blas.matmul(a, b, out=out)
        if out is not None:
            assert got is out, name
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol, err_msg=name)


@needs_blas
def test_matmul_falls_back_for_what_blas_cannot_do(threads3):
    ints = np.arange(12).reshape(3, 4)
    np.testing.assert_array_equal(_blas.matmul(ints, ints.T), ints @ ints.T)
    mixed = _blas.matmul(np.ones((3, 4), np.float32), np.ones((4, 2)))
    assert mixed.dtype == np.float64 and (mixed == 4).all()
    with pytest.raises(ValueError):  # NumPy's own shape error, unchanged
        _blas.matmul(np.ones((3, 4)), np.ones((5, 2)))
    with pytest.raises(ValueError):
        _blas.matmul(np.ones((3, 4)), np.ones((4, 2)), out=np.empty((3, 3)))
    a = np.arange(16.0).reshape(4, 4)
    want = a @ a
    np.testing.assert_array_equal(_blas.matmul(a, a, out=a), want)  # out overlaps an input


@needs_blas
def test_matmul_leaves_numpys_blas_thread_count_alone(threads3):
    lib = _blas._get_lib()

    def current():
        prev = lib.setl(5)
        lib.setl(prev)
        return prev

    before = current()
    a = np.ones((64, 64), np.float32)
    _blas.matmul(a, a)  # split path
    with backend.numba_disabled():
        _blas.matmul(a, a)  # NumPy path
    backend._threads = 1
    _blas.matmul(a, a)  # single-thread path
    assert current() == before


def test_matmul_without_numba_is_numpys(monkeypatch):
    a = rand(5, 6)
    with backend.numba_disabled():
        assert not _blas.available()
        np.testing.assert_array_equal(_blas.matmul(a, a.T), a @ a.T)


# ------------------------------------------------------------------------- conv kernels
@needs_blas
def test_conv_layers_take_the_chunk_kernels(monkeypatch):
    """A 64 -> 128 3x3 layer on 8x8 maps runs all three chunk kernels (forward, weight gradient,
    col2im input gradient); LeNet's C3 all three shifted-GEMM kernels; a grouped conv and the
    NumPy path neither."""
    from convnp.kernels.conv import shift

    calls = []
    for mod, names in ((chunked, ("_grid_fwd_chunks", "_grid_bwdw_chunks", "_col2im_chunks")),
                       (shift, ("_shift_fwd_items", "_shift_bwdw_items",
                                "_shift_bwd_data_items"))):
        for name in names:
            real = getattr(mod, name)
            monkeypatch.setattr(mod, name, lambda *a, real=real, name=name: (
                calls.append(name), real(*a))[1])
    x = convnp.tensor(rand(3, 64, 8, 8), requires_grad=True)
    w = convnp.tensor(rand(128, 64, 3, 3), requires_grad=True)
    convnp.nn.functional.conv2d(x, w, padding=1).sum().backward()
    assert calls == ["_grid_fwd_chunks", "_col2im_chunks", "_grid_bwdw_chunks"]
    calls.clear()
    x = convnp.tensor(rand(3, 6, 14, 14), requires_grad=True)
    w = convnp.tensor(rand(16, 6, 5, 5), requires_grad=True)
    convnp.nn.functional.conv2d(x, w).sum().backward()
    assert calls == ["_shift_fwd_items", "_shift_bwd_data_items", "_shift_bwdw_items"]
    calls.clear()
    convnp.nn.functional.conv2d(x, convnp.tensor(rand(16, 3, 5, 5)), groups=2).sum().backward()
    with backend.numba_disabled():
        convnp.nn.functional.conv2d(x, w).sum().backward()
    assert calls == []


@needs_blas
@pytest.mark.parametrize("budget", [3000, 40000, 1 << 22], ids=["row-blocks", "image-chunks",
                                                               "per-thread"])
@pytest.mark.parametrize("n_images", [1, 2, 7])
def test_chunk_kernels_split_any_batch(threads3, monkeypatch, n_images, budget):
    """One image's row blocks, budget-sized image chunks, one chunk per thread (more threads
    than images, a partial last chunk): torch's numbers (asymmetric padding through F.pad),
    and the NumPy reference path's."""
    torch = pytest.importorskip("torch")
    monkeypatch.setattr(_common, "_BUDGET", budget)
    x, w, b = rand(n_images, 3, 9, 8, seed=1), rand(4, 3, 3, 3, seed=2), rand(4, seed=3)
    pads = ((1, 1), (2, 0))
    y = C._conv_fwd(x, w, pads, (1, 1), (1, 1), 1, bias=b)
    gy = rand(*y.shape, seed=4)
    gx = C._conv_bwd_data(gy, w, x.shape, pads, (1, 1), (1, 1), 1)
    gw = C._conv_bwd_weight(x, gy, (3, 3), pads, (1, 1), (1, 1), 1)
    tx, tw = torch.tensor(x, requires_grad=True), torch.tensor(w, requires_grad=True)
    ty = torch.nn.functional.conv2d(torch.nn.functional.pad(tx, (2, 0, 1, 1)), tw,
                                    torch.tensor(b))
    ty.backward(torch.tensor(gy))
    for mine, ref in ((y, ty), (gx, tx.grad), (gw, tw.grad)):
        np.testing.assert_allclose(mine, ref.detach().numpy(), rtol=1e-10, atol=1e-10)
    with backend.numba_disabled():
        np.testing.assert_allclose(y, C._conv_fwd(x, w, pads, (1, 1), (1, 1), 1, bias=b),
                                   rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(gx, C._conv_bwd_data(gy, w, x.shape, pads, (1, 1), (1, 1),
                                                        1), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(gw, C._conv_bwd_weight(x, gy, (3, 3), pads, (1, 1), (1, 1),
                                                          1), rtol=1e-12, atol=1e-12)


def test_grid_items_cover_every_output_once():
    for N, rows, B, R, threads in [(7, 5, 3, 5, 2), (2, 5, 1, 2, 4), (3, 4, 8, 4, 8),
                                   (1, 9, 1, 9, 3)]:
        items = chunked._grid_items(N, rows, B, R, threads)
        seen = np.zeros((N, rows), int)
        for b0, nb, o0, o1 in items:
            seen[b0:b0 + nb, o0:o1] += 1
        assert (seen == 1).all(), (N, rows, B, R, threads, items)
        # every thread gets an item while there are rows to share (one image: its rows split)
        assert len(items) >= min(N * rows, threads)


def test_flat_offsets_golden():
    # 2x3 outputs on a grid of row stride 5, stride (1, 2), 2x2 taps dilated (1, 1)
    gidx = chunked._flat_offsets((2, 3), (5, 1), (1, 2))
    xidx = chunked._tap_offsets((2, 3), (5, 1), (1, 2), (1, 1), (2, 2))
    assert gidx.tolist() == [0, 2, 4, 5, 7, 9]
    assert xidx.tolist() == [[0, 2, 4, 5, 7, 9], [1, 3, 5, 6, 8, 10],
                             [5, 7, 9, 10, 12, 14], [6, 8, 10, 11, 13, 15]]
    assert not gidx.flags.writeable and not xidx.flags.writeable


# ----------------------------------------------------------------- real threads (subprocess)
_TWO_THREADS = textwrap.dedent("""
    import numpy as np, convnp, convnp.nn as nn
    from convnp.models import LeNet5
    def step(seed):
        convnp.manual_seed(seed)
        m = LeNet5(input_size=28)
        rng = np.random.default_rng(seed)
        x = convnp.tensor(rng.standard_normal((32, 1, 28, 28)).astype(np.float32))
        y = convnp.tensor(rng.integers(0, 10, 32))
        loss = nn.CrossEntropyLoss()(m(x), y)
        loss.backward()
        return [loss.item()] + [p.grad.numpy().copy() for p in m.parameters()]
    convnp.set_num_threads(1)  # serial kernels first, before Numba's pool has started
    one = step(0)
    convnp.set_num_threads(2)
    two = step(0)
    assert abs(two[0] - one[0]) < 1e-6, (two[0], one[0])
    for a, b in zip(two[1:], one[1:]):
        np.testing.assert_allclose(a, b, rtol=2e-4, atol=2e-6)
    print("ok")
""")


@needs_blas
def test_two_real_threads_match_one():
    """Run twice in fresh processes: the second loads every kernel from Numba's disk cache
    (a kernel calling ``numba.get_thread_id`` once crashed exactly there)."""
    env = dict(os.environ, NUMBA_NUM_THREADS="2", OMP_NUM_THREADS="2",
               OPENBLAS_NUM_THREADS="2")
    for _ in range(2):
        res = subprocess.run([sys.executable, "-c", _TWO_THREADS], env=env, capture_output=True,
                             text=True, timeout=300,
                             cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        assert res.returncode == 0 and res.stdout.strip().endswith("ok"), (res.returncode,
                                                                           res.stderr[-3000:])


# ------------------------------------------------------------- every conv case, every path
def _strided_or_dilated_dense():
    from tests.test_conv import CONV_CASES

    return [c for c in CONV_CASES if c[5].get("groups", 1) == 1 and "dw" not in c[0]
            and (c[5].get("stride", 1) != 1 or c[5].get("dilation", 1) != 1)]


@pytest.mark.parametrize("case", _strided_or_dilated_dense(), ids=lambda c: c[0])
def test_strided_dilated_convs_every_path(case, path):
    """Strided / dilated dense convs take the gather chunk kernels (forward, weight gradient)
    with Numba on; against torch on every path (split for three threads on the parallel one)."""
    from tests.oracle import compare
    from tests.test_conv import FN, _args

    name, n, xs, ws, bias, kw = case
    f, tf = FN[n]
    compare(lambda *a: f(*a, **kw), lambda *a: tf(*a, **kw), *_args(xs, ws, bias, ws[0]),
            dtype=np.float64)


@pytest.mark.parametrize("n, xs, ws, groups", [(1, (3, 4, 7), (6, 4, 1), 1),
                                               (2, (5, 6, 3, 4), (9, 2, 1, 1), 3),
                                               (3, (2, 4, 2, 3, 2), (2, 4, 1, 1, 1), 1)],
                         ids=["1d", "2d-g3", "3d"])
def test_1x1_convs_every_path(n, xs, ws, groups, path):
    """1x1 stride-1 weight gradients run per-image GEMMs summed over the batch on several
    threads; against torch on every path."""
    from tests.oracle import compare
    from tests.test_conv import FN

    f, tf = FN[n]
    compare(lambda x, w: f(x, w, groups=groups), lambda x, w: tf(x, w, groups=groups),
            rand(*xs, seed=1), rand(*ws, seed=2), dtype=np.float64)


@pytest.mark.parametrize("xs, ws, kw", [((0, 6, 14, 14), (16, 6, 5, 5), {}),
                                        ((0, 3, 9, 9), (4, 3, 3, 3), dict(stride=2, padding=1)),
                                        ((0, 8, 5, 5), (4, 8, 1, 1), {}),
                                        ((0, 1, 28, 28), (6, 1, 5, 5), dict(padding=2))],
                         ids=["grid", "gather", "1x1", "direct"])
def test_empty_batch_through_every_kernel(xs, ws, kw, path):
    x = convnp.zeros(*xs, requires_grad=True)
    w = convnp.tensor(rand(*ws).astype(np.float32), requires_grad=True)
    y = convnp.nn.functional.conv2d(x, w, **kw)
    y.sum().backward()
    assert y.shape[0] == 0 and x.grad.shape == x.shape
    assert (w.grad.numpy() == 0).all()
    t = convnp.nn.functional.conv_transpose2d(y.detach(), w.detach(), **kw)
    assert t.shape == xs


@pytest.mark.parametrize("shape,pads", [
    ((3, 4, 5, 7), ((1, 1), (1, 1))), ((2, 3, 5, 7), ((2, 0), (1, 3))),
    ((1, 1, 1, 1), ((0, 2), (3, 0))), ((2, 3, 9), ((2, 1),)), ((1, 2, 3, 4, 5), ((1, 0),) * 3)])
@pytest.mark.parametrize("layout", ["c", "channels-last"])
def test_padded_flat_equals_numpy_pad(shape, pads, layout):
    """The chunk kernels' zero-padded copy (compiled and parallel for contiguous 2-d maps, NumPy
    otherwise) is np.pad's, flattened per plane."""
    x = rand(*shape, seed=5)
    if layout == "channels-last":
        x = np.ascontiguousarray(np.moveaxis(x, 1, -1)).transpose(
            0, x.ndim - 1, *range(1, x.ndim - 1))
    got = chunked._padded_flat(x, pads)
    want = np.pad(x, ((0, 0), (0, 0)) + tuple(pads)).reshape(shape[0], shape[1], -1)
    np.testing.assert_array_equal(got, want)
