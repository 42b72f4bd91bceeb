"""Every convolution kernel against the reference core, on one case table.

Each case is a zero-padded convolution geometry; every kernel of ``convnp.kernels.conv`` that
accepts it runs through the dispatch (``force``) for the forward, the input gradient and the
weight gradient, and must give the reference's numbers (``convnp.ops.conv.reference_*``: pad once,
loop over kernel offsets, one GEMM). The dispatch's own choice is pinned on a few layers whose
thresholds were measured."""

import numpy as np
import pytest

import convnp
from convnp import _blas, backend
from convnp.kernels.conv import dispatch
from convnp.ops import conv as C
from tests.oracle import rand

# id, N, C, O, spatial, kernel, pads, stride, dilation, groups
CASES = [
    ("1d-basic", 2, 3, 4, (10,), (3,), ((0, 0),), (1,), (1,), 1),
    ("1d-s2-p12", 2, 3, 4, (11,), (3,), ((1, 2),), (2,), (1,), 1),
    ("1d-d2-g3", 2, 6, 6, (11,), (3,), ((2, 2),), (1,), (2,), 3),
    ("1d-dw-m2", 2, 4, 8, (9,), (3,), ((1, 1),), (1,), (1,), 4),
    # shifted GEMMs: batch 1 splits the output channels over the threads; dilated taps
    ("1d-shift-b1", 1, 16, 24, (20,), (5,), ((2, 2),), (1,), (1,), 1),
    ("1d-shift-d3", 3, 16, 16, (30,), (3,), ((3, 3),), (1,), (3,), 1),
    ("1d-p-over-s3-d2", 2, 3, 4, (9,), (3,), ((4, 5),), (3,), (2,), 1),
    ("1d-empty-batch", 0, 1, 4, (12,), (5,), ((2, 2),), (1,), (1,), 1),
    ("2d-shift-gaps", 3, 16, 16, (7, 9), (3, 5), ((1, 2), (2, 1)), (1, 1), (1, 2), 1),
    ("2d-shift-phases", 3, 16, 16, (9, 8), (3, 4), ((1, 0), (2, 1)), (2, 3), (1, 1), 1),
    ("2d-p1", 2, 3, 5, (7, 6), (3, 3), ((1, 1), (1, 1)), (1, 1), (1, 1), 1),
    ("2d-lenet-c1", 2, 1, 6, (12, 12), (5, 5), ((2, 2), (2, 2)), (1, 1), (1, 1), 1),
    ("2d-lenet-c5", 3, 16, 12, (5, 5), (5, 5), ((0, 0), (0, 0)), (1, 1), (1, 1), 1),
    ("2d-s2-p1-g2", 2, 4, 6, (7, 9), (3, 3), ((1, 1), (1, 1)), (2, 2), (1, 1), 2),
    ("2d-s12-d21", 2, 3, 5, (8, 7), (3, 2), ((2, 2), (0, 0)), (1, 2), (2, 1), 1),
    ("2d-k4-s2-p1", 2, 3, 4, (8, 8), (4, 4), ((1, 1), (1, 1)), (2, 2), (1, 1), 1),
    ("2d-p-over-extent", 1, 2, 3, (4, 5), (2, 2), ((3, 0), (0, 3)), (1, 1), (1, 1), 1),
    ("2d-1x1", 2, 6, 3, (5, 4), (1, 1), ((0, 0), (0, 0)), (1, 1), (1, 1), 1),
    ("2d-empty-batch", 0, 3, 4, (6, 6), (3, 3), ((1, 1), (1, 1)), (1, 1), (1, 1), 1),
    ("2d-1x1-empty-batch", 0, 8, 4, (5, 5), (1, 1), ((0, 0), (0, 0)), (1, 1), (1, 1), 1),
    ("2d-1x1-s2", 2, 6, 3, (5, 4), (1, 1), ((0, 0), (0, 0)), (2, 2), (1, 1), 1),
    ("2d-1x1-g3-p1", 2, 6, 3, (5, 4), (1, 1), ((1, 1), (1, 1)), (1, 1), (1, 1), 3),
    ("2d-dw-empty-batch", 0, 3, 3, (5, 5), (3, 3), ((1, 1), (1, 1)), (1, 1), (1, 1), 3),
    ("2d-dw-s2-d2", 2, 3, 6, (9, 8), (3, 3), ((2, 2), (2, 2)), (2, 2), (2, 2), 3),
    ("2d-wino-odd", 1, 8, 9, (9, 7), (3, 3), ((1, 1), (1, 1)), (1, 1), (1, 1), 1),
    ("2d-wino-pads", 3, 4, 5, (6, 5), (3, 3), ((2, 0), (1, 3)), (1, 1), (1, 1), 1),
    ("3d-p1", 2, 2, 3, (4, 5, 6), (3, 3, 3), ((1, 1),) * 3, (1, 1, 1), (1, 1, 1), 1),
    ("3d-wino-pads", 2, 3, 4, (3, 5, 4), (3, 3, 3), ((3, 0), (1, 1), (0, 2)), (1, 1, 1),
     (1, 1, 1), 1),
    ("3d-s212-g2", 1, 4, 4, (5, 6, 7), (2, 3, 2), ((0, 0),) * 3, (2, 1, 2), (1, 2, 1), 2),
    ("3d-dw", 2, 3, 3, (4, 4, 5), (2, 3, 3), ((1, 1),) * 3, (1, 1, 1), (1, 1, 1), 3),
]
OPS = ("fwd", "bwd_data", "bwd_weight")


def _geometry(case):
    _, N, Cin, O, sp, k, pads, s, d, groups = case
    return dispatch.geometry((N, Cin, *sp), np.empty((O, Cin // groups, *k)), pads, s, d, groups)


def _operands(g, dtype):
    x = rand(g.N, g.C, *g.sp, seed=1).astype(dtype)
    w = rand(g.O, g.C // g.groups, *g.k, seed=2).astype(dtype)
    gy = rand(g.N, g.O, *g.out_sp, seed=3).astype(dtype)
    b = rand(g.O, seed=4).astype(dtype)
    return x, w, gy, b


def _run(op, g, x, w, gy, b):
    if op == "fwd":
        return dispatch.conv_fwd(x, w, g.pads, g.s, g.d, g.groups, bias=b)
    if op == "bwd_data":
        return dispatch.conv_bwd_data(gy, w, x.shape, g.pads, g.s, g.d, g.groups)
    return dispatch.conv_bwd_weight(x, gy, g.k, g.pads, g.s, g.d, g.groups)


def _reference(op, g, x, w, gy, b):
    if op == "fwd":
        return C.reference_fwd(x, w, g.pads, g.s, g.d, g.groups) + b.reshape(
            (1, -1) + (1,) * len(g.sp))
    if op == "bwd_data":
        return C.reference_bwd_data(gy, w, x.shape, g.pads, g.s, g.d, g.groups)
    return C.reference_bwd_weight(x, gy, g.k, g.pads, g.s, g.d, g.groups)


def _params():
    out = []
    for op in OPS:
        for name in sorted(dispatch.KERNELS[op]):
            if name != "reference":
                out.append(pytest.param(op, name, id=f"{op}-{name}"))
    return out


@pytest.mark.parametrize("op,name", _params())
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_kernel_matches_reference(op, name, dtype):
    ran = []
    for case in CASES:
        g = _geometry(case)
        if not dispatch.KERNELS[op][name].accepts(g, dtype):
            continue
        x, w, gy, b = _operands(g, dtype)
        with dispatch.force(op, name):
            got = _run(op, g, x, w, gy, b)
        ref = _reference(op, g, x, w, gy, b)
        tol = 1e-12 if dtype == np.float64 else 2e-5
        np.testing.assert_allclose(got, ref, rtol=tol, atol=tol, err_msg=f"{case[0]} {op} {name}")
        assert got.dtype == dtype and got.shape == ref.shape
        ran.append(case[0])
    # a kernel the table never reaches is untested: the table must grow with the kernels
    needs = name.startswith(("grid-chunked", "gather", "col2im-chunked", "shift", "winograd"))
    if needs and not _blas.available():
        pytest.skip("chunk kernels need NumPy's OpenBLAS")
    assert ran, f"no case of the table runs the {op} kernel {name!r}"


@pytest.mark.parametrize("op", OPS)
def test_reference_matches_numpy_loops(op):
    """The reference against a plain loop over outputs (a 1-d grouped, strided, dilated case)."""
    g = _geometry(("1d", 2, 4, 6, (9,), (3,), ((2, 1),), (2,), (2,), 2))
    x, w, gy, b = _operands(g, np.float64)
    xp = np.pad(x, ((0, 0), (0, 0), g.pads[0]))
    cg, og = g.C // g.groups, g.O // g.groups
    y = np.zeros((g.N, g.O, g.out_sp[0]))
    for o in range(g.O):
        gi = o // og
        for i in range(g.out_sp[0]):
            win = xp[:, gi * cg:(gi + 1) * cg, i * 2:i * 2 + 5:2]  # (N, Cg, k)
            y[:, o, i] = (win * w[o]).sum((1, 2))
    if op == "fwd":
        np.testing.assert_allclose(C.reference_fwd(x, w, g.pads, g.s, g.d, g.groups), y)
        return
    # adjoint identities: <conv(x), gy> == <x, conv^T(gy)> == <w, gw(x, gy)>
    lhs = (y * gy).sum()
    if op == "bwd_data":
        rhs = (x * C.reference_bwd_data(gy, w, x.shape, g.pads, g.s, g.d, g.groups)).sum()
    else:
        rhs = (w * C.reference_bwd_weight(x, gy, g.k, g.pads, g.s, g.d, g.groups)).sum()
    np.testing.assert_allclose(lhs, rhs)


@pytest.mark.parametrize("case,threads,numba,want", [
    # LeNet C1 (1 -> 6, 5x5): the direct grid loops forward (one input channel), shifted GEMMs
    # for its gradients; C3 (6 -> 16) shifted GEMMs throughout: with few channels the patch
    # copies they save outweigh the grid positions they add (waste 1.96 here)
    ((2, 1, 6, (12, 12), (5, 5), ((2, 2),) * 2, (1, 1), (1, 1), 1), 1, True,
     ("grid-direct", "shift", "shift")),
    ((2, 6, 16, (14, 14), (5, 5), ((0, 0),) * 2, (1, 1), (1, 1), 1), 1, True,
     ("shift", "shift", "shift")),
    # LeNet C5 (a 5x5 window over a 5x5 map): a fully connected layer, one GEMM each
    ((2, 16, 120, (5, 5), (5, 5), ((0, 0),) * 2, (1, 1), (1, 1), 1), 2, True,
     ("dense", "dense", "dense")),
    # a same-padded 3x3 on 16x16: under 8 input channels shifted GEMMs; from 8 channels
    # Winograd, the input gradient as the dual conv
    ((2, 4, 12, (16, 16), (3, 3), ((1, 1),) * 2, (1, 1), (1, 1), 1), 1, True,
     ("shift", "shift", "shift")),
    ((4, 8, 8, (16, 16), (3, 3), ((1, 1),) * 2, (1, 1), (1, 1), 1), 1, True,
     ("winograd", "dual-grid", "winograd")),
    # ... but not on an 8x8 map (shifted GEMMs there); 3x3x3 from 8x8 slices
    ((4, 8, 8, (8, 8), (3, 3), ((1, 1),) * 2, (1, 1), (1, 1), 1), 1, True,
     ("shift", "dual-grid", "shift")),
    ((4, 8, 8, (4, 8, 8), (3, 3, 3), ((1, 1),) * 3, (1, 1, 1), (1, 1, 1), 1), 1, True,
     ("winograd", "dual-grid", "winograd")),
    # many channels on a small map: the gathered patches (the padded grid wastes a third)
    ((4, 128, 128, (4, 4), (3, 3), ((1, 1),) * 2, (1, 1), (1, 1), 1), 1, True,
     ("gather-chunked", "col2im-chunked", "gather-chunked")),
    # batch-1 inference on a 2x2 map with 512 channels: one GEMM over the output channels
    ((1, 512, 512, (2, 2), (3, 3), ((1, 1),) * 2, (1, 1), (1, 1), 1), 1, True,
     ("im2col", "col2im-chunked", "gather-chunked")),
    # ... and on ResNet-18's 7x7 stage when the threads outnumber the images (a weight of 2.4M
    # values); one thread, or a smaller weight (256 -> 256 on 8x8), keeps the gathered patches
    ((1, 512, 512, (7, 7), (3, 3), ((1, 1),) * 2, (1, 1), (1, 1), 1), 2, True,
     ("im2col", "col2im-chunked", "gather-chunked")),
    ((1, 512, 512, (7, 7), (3, 3), ((1, 1),) * 2, (1, 1), (1, 1), 1), 1, True,
     ("gather-chunked", "col2im-chunked", "gather-chunked")),
    ((1, 256, 256, (8, 8), (3, 3), ((1, 1),) * 2, (1, 1), (1, 1), 1), 2, True,
     ("gather-chunked", "col2im-chunked", "gather-chunked")),
    # strided: shifted GEMMs on per-phase grids with Numba (gathered patches where their grid
    # adds too much, below); polyphase and im2col without
    ((2, 3, 4, (8, 8), (4, 4), ((1, 1),) * 2, (2, 2), (1, 1), 1), 1, True,
     ("shift", "shift", "shift")),
    ((4, 128, 256, (16, 16), (4, 4), ((1, 1),) * 2, (2, 2), (1, 1), 1), 2, True,
     ("gather-chunked", "col2im-chunked", "gather-chunked")),
    ((2, 3, 4, (8, 8), (4, 4), ((1, 1),) * 2, (2, 2), (1, 1), 1), 1, False,
     ("im2col", "polyphase", "im2col")),
    # ... from 16 channels the shifted GEMMs on per-phase grids (a transposed conv's forward
    # is the input gradient); at batch 1 the forward only
    ((4, 16, 32, (32, 32), (3, 3), ((1, 1),) * 2, (2, 2), (1, 1), 1), 2, True,
     ("shift", "shift", "shift")),
    ((1, 16, 32, (32, 32), (4, 4), ((1, 1),) * 2, (2, 2), (1, 1), 1), 2, True,
     ("shift", "col2im-chunked", "gather-chunked")),
    # 1x1: a plain GEMM; its weight gradient takes the per-image GEMMs from 2 threads on
    ((2, 6, 3, (5, 4), (1, 1), ((0, 0),) * 2, (1, 1), (1, 1), 1), 1, False,
     ("1x1", "1x1", "im2col")),
    ((2, 6, 3, (5, 4), (1, 1), ((0, 0),) * 2, (1, 1), (1, 1), 1), 2, True,
     ("1x1", "1x1", "1x1")),
    # sequences: the shifted GEMMs (no patch matrix; the input gradient is their dual conv);
    # at batch 1 the forward splits the output channels, the weight gradient keeps the chunks
    ((4, 32, 64, (512,), (5,), ((2, 2),), (1,), (1,), 1), 2, True,
     ("shift", "dual-grid", "shift")),
    ((1, 32, 64, (512,), (5,), ((2, 2),), (1,), (1,), 1), 2, True,
     ("shift", "dual-grid", "grid-chunked")),
    # ... on one thread one sequence's forward is one compiled patch pass and GEMM (its weight
    # gradient: the shifted GEMMs, one image per thread)
    ((1, 32, 64, (512,), (5,), ((2, 2),), (1,), (1,), 1), 1, True,
     ("im2col", "dual-grid", "shift")),
    # ... and 2-d maps where Winograd does not pay (8x8: 9x9 grid per image, 27% more
    # products); at batch 1 only where an image's grid has two columns per input channel
    ((4, 64, 64, (8, 8), (3, 3), ((1, 1),) * 2, (1, 1), (1, 1), 1), 2, True,
     ("shift", "dual-grid", "shift")),
    ((1, 32, 32, (16, 16), (3, 3), ((1, 1),) * 2, (1, 1), (1, 1), 1), 2, True,
     ("shift", "dual-grid", "grid-chunked")),
    ((1, 256, 256, (14, 14), (3, 3), ((1, 1),) * 2, (1, 1), (1, 1), 1), 2, True,
     ("grid-chunked", "dual-grid", "grid-chunked")),
    # up to 32 channels their forward replaces Winograd's (the weight gradient stays Winograd)
    ((4, 16, 16, (32, 32), (3, 3), ((1, 1),) * 2, (1, 1), (1, 1), 1), 2, True,
     ("shift", "dual-grid", "winograd")),
    ((4, 64, 64, (32, 32), (3, 3), ((1, 1),) * 2, (1, 1), (1, 1), 1), 2, True,
     ("winograd", "dual-grid", "winograd")),
    # depthwise
    ((2, 4, 8, (9, 9), (3, 3), ((1, 1),) * 2, (1, 1), (1, 1), 4), 1, True,
     ("depthwise", "depthwise", "depthwise")),
    ((2, 4, 8, (9, 9), (3, 3), ((1, 1),) * 2, (1, 1), (1, 1), 4), 1, False,
     ("depthwise-numpy", "depthwise-numpy", "depthwise-numpy")),
])
def test_select_picks_the_measured_kernel(case, threads, numba, want):
    if numba and not _blas.available():
        pytest.skip("the choice with Numba depends on NumPy's OpenBLAS")
    g = _geometry(("case",) + case)
    prev = backend.use_numba()
    backend.use_numba(numba)
    try:
        got = tuple(dispatch.select(op, g, np.float32, threads).name for op in OPS)
    finally:
        backend.use_numba(prev)
    assert got == want


def test_force_refuses_a_kernel_that_cannot_run():
    g = _geometry(CASES[1])  # stride 2: no grid kernel
    x, w, gy, b = _operands(g, np.float64)
    with dispatch.force("fwd", "grid-gemm"), pytest.raises(ValueError, match="grid-gemm"):
        _run("fwd", g, x, w, gy, b)
    with pytest.raises(ValueError, match="no fwd kernel 'nope'"):
        with dispatch.force("fwd", "nope"):
            pass


@pytest.mark.parametrize("budget", [1 << 10, 1 << 20])
@pytest.mark.parametrize("threads", [1, 2, 3])
@pytest.mark.parametrize("N", [1, 5])
def test_winograd_work_items_cover_every_tile(monkeypatch, budget, threads, N):
    """Winograd's work items (whole images, or blocks of one image's tile rows; split so each
    thread has one) cover every tile once: forward and weight gradient equal the reference for
    run sizes from one tile row to several images, on 1-3 threads, odd output sizes."""
    from convnp.kernels.conv import winograd

    if not _blas.available():
        pytest.skip("Winograd calls NumPy's OpenBLAS")
    monkeypatch.setattr(winograd, "_RUN_BYTES", budget)
    winograd._runs.cache_clear()
    try:
        g = _geometry(("w", N, 8, 12, (11, 13), (3, 3), ((1, 1), (2, 0)), (1, 1), (1, 1), 1))
        x, w, gy, b = _operands(g, np.float64)
        y = winograd.wino_fwd(x, w, g.pads, g.out_sp, b, threads)
        np.testing.assert_allclose(y, _reference("fwd", g, x, w, gy, b), rtol=1e-12, atol=1e-12)
        gw = winograd.wino_bwd_weight(x, gy, g.pads, threads)
        np.testing.assert_allclose(gw, _reference("bwd_weight", g, x, w, gy, b), rtol=1e-12,
                                   atol=1e-12)
        items = winograd._runs(N, 6, 8, 16 * 20 * 8, threads)
        rows = [(n, r) for n0, nb, r0, r1 in items for n in range(n0, n0 + nb)
                for r in range(r0, r1)]
        assert sorted(rows) == [(n, r) for n in range(N) for r in range(6)]
        assert len(items) >= min(threads, N * 6)
    finally:
        winograd._runs.cache_clear()


@pytest.mark.parametrize("budget", [1 << 10, 1 << 20])
@pytest.mark.parametrize("threads", [1, 2, 3])
@pytest.mark.parametrize("N", [1, 3])
def test_winograd_3d_slabs_cover_every_slice(monkeypatch, budget, threads, N):
    """3x3x3 Winograd: slabs of output slices (one slice to all) on 1-3 threads give the
    reference's forward and weight gradient, with depth pads that leave slices without input."""
    from convnp.kernels.conv import winograd

    if not _blas.available():
        pytest.skip("Winograd calls NumPy's OpenBLAS")
    monkeypatch.setattr(winograd, "_RUN_BYTES", budget)
    winograd._slabs.cache_clear()
    try:
        g = _geometry(("w", N, 5, 6, (5, 7, 6), (3, 3, 3), ((3, 1), (1, 1), (2, 0)), (1, 1, 1),
                       (1, 1, 1), 1))
        x, w, gy, b = _operands(g, np.float64)
        y = winograd.wino3_fwd(x, w, g.pads, g.out_sp, b, threads)
        np.testing.assert_allclose(y, _reference("fwd", g, x, w, gy, b), rtol=1e-12, atol=1e-12)
        gw = winograd.wino3_bwd_weight(x, gy, g.pads, threads)
        np.testing.assert_allclose(gw, _reference("bwd_weight", g, x, w, gy, b), rtol=1e-12,
                                   atol=1e-12)
        items = winograd._slabs(N, g.out_sp[0], 16 * 11 * 4 * 5 * 8, threads)
        got = sorted((n, z) for n, z0, z1 in items for z in range(z0, z1))
        assert got == [(n, z) for n in range(N) for z in range(g.out_sp[0])]
        assert len(items) >= min(threads, N * g.out_sp[0])
    finally:
        winograd._slabs.cache_clear()


@pytest.mark.parametrize("s,d", [((1, 1), (2, 2)), ((2, 2), (1, 1))])
def test_shift_kernels_take_fewer_outputs_than_the_formula(s, d):
    """The convolution a transposed one with output padding differentiates has fewer outputs
    than its input size gives (the output padding's rows and columns are read by no window):
    the shifted GEMMs' gradients take the outputs as gy has them."""
    if not _blas.available():
        pytest.skip("shifted GEMMs need NumPy's OpenBLAS")
    pads = ((0, 0), (0, 0))
    x, w = rand(2, 3, 9, 9, seed=1), rand(4, 3, 3, 3, seed=2)
    gy = rand(2, 4, 3, 3, seed=3)  # the formula gives 5x5 (d2) or 4x4 (s2)
    g = dispatch.geometry(x.shape, w, pads, s, d, 1, out_sp=(3, 3))
    with dispatch.force("bwd_weight", "shift"):
        gw = dispatch.conv_bwd_weight(x, gy, (3, 3), pads, s, d, 1)
    with dispatch.force("bwd_data", "shift"):
        gx = dispatch.conv_bwd_data(gy, w, x.shape, pads, s, d, 1)
    np.testing.assert_allclose(gw, C.reference_bwd_weight(x, gy, g.k, pads, s, d, 1),
                               rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(gx, C.reference_bwd_data(gy, w, x.shape, pads, s, d, 1),
                               rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_one_thread_sequence_kernels_match_reference(dtype):
    """On one thread 1-d im2col runs its patch pass and GEMM in one compiled call, and the few-
    channel direct loops write straight into the output: every 1-d case of the table against
    the reference, forced and as the dispatch picks them."""
    prev = convnp.get_num_threads()
    convnp.set_num_threads(1)
    try:
        for case in CASES:
            g = _geometry(case)
            if len(g.k) != 1:
                continue
            x, w, gy, b = _operands(g, dtype)
            ref = _reference("fwd", g, x, w, gy, b)
            tol = 1e-12 if dtype == np.float64 else 2e-5
            for name in ("im2col", "grid-direct", None):
                if name is not None and not dispatch.KERNELS["fwd"][name].accepts(g, dtype):
                    continue
                if name is None:
                    got = _run("fwd", g, x, w, gy, b)
                else:
                    with dispatch.force("fwd", name):
                        got = _run("fwd", g, x, w, gy, b)
                np.testing.assert_allclose(got, ref, rtol=tol, atol=tol,
                                           err_msg=f"{case[0]} {name}")
    finally:
        convnp.set_num_threads(prev)
