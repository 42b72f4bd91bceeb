"""Convolution engine: parity with torch (forward + input/weight/bias gradients), the extensions
(per-side / 'same' / 'causal' padding, padding modes, flip, output_size, adjoint padding modes),
the dispatch paths, gradcheck, a hypothesis property test and the error paths."""

import numpy as np
import pytest

import convnp
import convnp.nn.functional as F
from convnp.autograd import gradcheck
from convnp.kernels.conv import _common
from convnp.kernels.conv import grid as grid_kernels
from convnp.ops import _shape
from tests.oracle import compare, rand

torch = pytest.importorskip("torch")
TF = torch.nn.functional

DTYPES = [np.float32, np.float64]

# id, n, x shape, w shape, bias?, kwargs (the same for convnp and torch)
CONV_CASES = [
    ("conv1d-basic", 1, (2, 3, 10), (4, 3, 3), True, {}),
    ("conv1d-s2-p1", 1, (2, 3, 11), (4, 3, 3), True, dict(stride=2, padding=1)),
    ("conv1d-d2-p2-g3", 1, (2, 6, 11), (6, 2, 3), False, dict(dilation=2, padding=2, groups=3)),
    ("conv1d-unbatched", 1, (3, 10), (4, 3, 4), True, dict(padding=1)),
    ("conv1d-same-k3", 1, (1, 2, 9), (3, 2, 3), True, dict(padding="same")),
    ("conv1d-dw", 1, (2, 4, 9), (4, 1, 3), True, dict(groups=4, padding=1)),
    ("conv2d-basic-b1", 2, (1, 3, 6, 7), (4, 3, 3, 3), True, {}),
    ("conv2d-s2-p1-g2", 2, (2, 4, 7, 9), (6, 2, 3, 3), True, dict(stride=2, padding=1, groups=2)),
    ("conv2d-aniso-s12-p20-d21", 2, (2, 3, 8, 7), (5, 3, 3, 2), True,
     dict(stride=(1, 2), padding=(2, 0), dilation=(2, 1))),
    ("conv2d-nobias-valid", 2, (2, 3, 6, 5), (4, 3, 2, 2), False, dict(padding="valid")),
    # output much smaller than the input: the input gradient goes through GEMM + col2im
    ("conv2d-lenet-c3-col2im", 2, (3, 6, 14, 14), (16, 6, 5, 5), True, {}),
    ("conv2d-lenet-c5-col2im", 2, (3, 16, 5, 5), (12, 16, 5, 5), True, {}),
    ("conv2d-col2im-g2-d2", 2, (2, 4, 9, 9), (8, 2, 3, 3), True, dict(groups=2, dilation=2)),
    ("conv2d-same-d2", 2, (2, 2, 7, 6), (3, 2, 3, 4), True, dict(padding="same", dilation=2)),
    ("conv2d-1x1", 2, (2, 6, 5, 4), (3, 6, 1, 1), True, {}),
    ("conv2d-1x1-s2", 2, (2, 6, 5, 4), (3, 6, 1, 1), True, dict(stride=2)),
    ("conv2d-1x1-g3-p1", 2, (2, 6, 5, 4), (3, 2, 1, 1), True, dict(groups=3, padding=1)),
    ("conv2d-tinycin-k5-p2", 2, (3, 1, 8, 8), (5, 1, 5, 5), True, dict(padding=2)),
    ("conv2d-dw", 2, (2, 4, 6, 6), (4, 1, 3, 3), True, dict(groups=4, padding=1)),
    ("conv2d-dw-mult2-s2-d2", 2, (2, 3, 9, 8), (6, 1, 3, 3), True,
     dict(groups=3, padding=2, stride=2, dilation=2)),
    ("conv2d-unbatched", 2, (3, 6, 7), (4, 3, 3, 3), True, dict(padding=1, stride=2)),
    ("conv3d-basic-p1", 3, (2, 2, 4, 5, 6), (3, 2, 3, 3, 3), True, dict(padding=1)),
    ("conv3d-s212-d121-g2", 3, (1, 4, 5, 6, 7), (4, 2, 2, 3, 2), True,
     dict(stride=(2, 1, 2), dilation=(1, 2, 1), groups=2)),
    ("conv3d-dw", 3, (2, 3, 4, 4, 5), (3, 1, 2, 3, 3), True, dict(groups=3, padding=1)),
    ("conv3d-unbatched", 3, (2, 4, 5, 4), (3, 2, 2, 2, 2), False, dict(padding=1)),
]

# id, n, x shape, w shape (C_in, C_out/g, *k), bias?, kwargs
CONVT_CASES = [
    ("convT1d-basic", 1, (2, 4, 5), (4, 3, 3), True, {}),
    ("convT1d-s2-p1-op1", 1, (2, 4, 5), (4, 3, 3), True,
     dict(stride=2, padding=1, output_padding=1)),
    ("convT1d-g2-d2", 1, (2, 4, 5), (4, 2, 3), False, dict(groups=2, dilation=2)),
    ("convT1d-1x1-s2", 1, (2, 3, 5), (3, 2, 1), True, dict(stride=2)),
    ("convT2d-k4-s2-p1", 2, (2, 4, 5, 6), (4, 3, 4, 4), True, dict(stride=2, padding=1)),
    ("convT2d-aniso-op12", 2, (1, 3, 4, 5), (3, 2, 3, 3), True,
     dict(stride=(2, 3), padding=(1, 0), output_padding=(1, 2), dilation=(1, 2))),
    ("convT2d-dw-g4", 2, (2, 4, 5, 5), (4, 1, 3, 3), True, dict(groups=4, stride=2)),
    ("convT2d-op-lt-dilation", 2, (2, 2, 4, 4), (2, 3, 3, 3), True,
     dict(dilation=2, output_padding=1)),
    ("convT2d-unbatched", 2, (3, 4, 5), (3, 2, 3, 3), True, dict(stride=2, padding=1)),
    ("convT3d-s2-p1-op1", 3, (1, 2, 3, 4, 3), (2, 3, 3, 3, 2), True,
     dict(stride=2, padding=1, output_padding=1)),
    ("convT3d-g2", 3, (2, 4, 3, 3, 3), (4, 1, 2, 2, 2), False, dict(groups=2)),
]

FN = {1: (F.conv1d, TF.conv1d), 2: (F.conv2d, TF.conv2d), 3: (F.conv3d, TF.conv3d)}
FNT = {1: (F.conv_transpose1d, TF.conv_transpose1d), 2: (F.conv_transpose2d, TF.conv_transpose2d),
       3: (F.conv_transpose3d, TF.conv_transpose3d)}


def _args(xs, ws, bias, cout):
    args = [rand(*xs, seed=1), rand(*ws, seed=2)]
    if bias:
        args.append(rand(cout, seed=3))
    return args


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("case", CONV_CASES, ids=[c[0] for c in CONV_CASES])
def test_conv_parity(case, dtype):
    _, n, xs, ws, bias, kw = case
    f, tf = FN[n]
    compare(lambda *a: f(*a, **kw), lambda *a: tf(*a, **kw), *_args(xs, ws, bias, ws[0]),
            dtype=dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("case", CONVT_CASES, ids=[c[0] for c in CONVT_CASES])
def test_conv_transpose_parity(case, dtype):
    _, n, xs, ws, bias, kw = case
    f, tf = FNT[n]
    g = kw.get("groups", 1)
    compare(lambda *a: f(*a, **kw), lambda *a: tf(*a, **kw), *_args(xs, ws, bias, ws[1] * g),
            dtype=dtype)


@pytest.mark.parametrize("case", [c for c in CONV_CASES + CONVT_CASES if "dw" in c[0]],
                         ids=lambda c: c[0])
def test_depthwise_every_path(case, path):
    name, n, xs, ws, bias, kw = case
    f, tf = (FNT if name.startswith("convT") else FN)[n]
    cout = ws[1] * kw.get("groups", 1) if name.startswith("convT") else ws[0]
    compare(lambda *a: f(*a, **kw), lambda *a: tf(*a, **kw), *_args(xs, ws, bias, cout),
            dtype=np.float64)


@pytest.mark.parametrize("case", [c for c in CONV_CASES if "dw" not in c[0]
                                  and c[5].get("stride", 1) == 1], ids=lambda c: c[0])
def test_stride1_every_path(case, path):
    """Stride-1 convs run the padded-grid GEMM (NumPy path, many channels) or the direct grid
    kernels (Numba, few channels): both against torch on every path."""
    name, n, xs, ws, bias, kw = case
    f, tf = FN[n]
    compare(lambda *a: f(*a, **kw), lambda *a: tf(*a, **kw), *_args(xs, ws, bias, ws[0]),
            dtype=np.float64)


def test_few_channel_layers_take_the_direct_grid_kernels(monkeypatch):
    """LeNet's C1 (1 -> 6, 5x5) runs the direct forward (its weight gradient: shifted GEMMs); its
    C3 (6 -> 16) stays on the GEMMs; the NumPy path never uses them. Checked by counting calls,
    so the tables above cover both."""
    from convnp import backend

    calls = []
    for name in ("_grid_fwd_nb", "_grid_bwdw_nb"):
        real = getattr(grid_kernels, name)
        monkeypatch.setattr(grid_kernels, name, lambda *a, real=real, name=name: (
            calls.append(name), real(*a))[1])
    for cin, cout, expect in ((1, 6, ["_grid_fwd_nb"]), (6, 16, [])):
        calls.clear()
        x = convnp.tensor(rand(2, cin, 12, 12))
        w = convnp.tensor(rand(cout, cin, 5, 5), requires_grad=True)
        F.conv2d(x, w, padding=2).sum().backward()
        assert calls == expect, (cin, cout, calls)
    prev = backend.use_numba()
    backend.use_numba(False)
    try:
        calls.clear()
        F.conv2d(convnp.tensor(rand(2, 1, 12, 12)),
                 convnp.tensor(rand(6, 1, 5, 5), requires_grad=True), padding=2).sum().backward()
        assert calls == []
    finally:
        backend.use_numba(prev)


def test_input_grad_dispatch_picks_col2im_for_small_outputs():
    from convnp.kernels.conv.dispatch import col2im_cheaper as _col2im_cheaper
    # LeNet C5: 16 x 5x5 -> 120 x 1x1; dual grid 9x9 of 120 channels vs 16 channels x 1 output
    assert _col2im_cheaper(16, 120, (5, 5), (1, 1), ((4, 4), (4, 4)))
    # same-padded 3x3, 64 -> 64 on 56x56: the padded-grid dual conv stays
    assert not _col2im_cheaper(64, 64, (56, 56), (56, 56), ((1, 1), (1, 1)))


@pytest.mark.parametrize("budget", [1, 5000], ids=["chunk1", "chunk-partial"])
def test_batch_chunking(monkeypatch, budget):
    # tiny budgets force one image per chunk, or chunks of b > 1 with a partial last chunk
    monkeypatch.setattr(_common, "_BUDGET", budget)
    x, w, b = rand(5, 2, 6, 5, seed=1), rand(3, 2, 3, 3, seed=2), rand(3, seed=3)
    compare(lambda x, w, b: F.conv2d(x, w, b, padding=1, stride=(1, 2)),
            lambda x, w, b: TF.conv2d(x, w, b, padding=1, stride=(1, 2)), x, w, b,
            dtype=np.float64)
    compare(lambda x, w, b: F.conv2d(x, w, b, padding=(2, 1), dilation=(2, 1)),
            lambda x, w, b: TF.conv2d(x, w, b, padding=(2, 1), dilation=(2, 1)), x, w, b,
            dtype=np.float64)
    x3, w3 = rand(3, 2, 4, 5, 3, seed=5), rand(3, 2, 3, 3, 2, seed=6)
    compare(lambda x, w, b: F.conv3d(x, w, b, padding=1),
            lambda x, w, b: TF.conv3d(x, w, b, padding=1), x3, w3, b, dtype=np.float64)
    wt = rand(2, 3, 3, 3, seed=4)
    compare(lambda x, w, b: F.conv_transpose2d(x, w, b, stride=2, padding=1),
            lambda x, w, b: TF.conv_transpose2d(x, w, b, stride=2, padding=1), x, wt, b,
            dtype=np.float64)


@pytest.mark.parametrize("kind", ["general", "1x1"])
def test_channels_last_input(kind):
    k = 3 if kind == "general" else 1
    x = np.ascontiguousarray(rand(2, 5, 6, 4, seed=1)).transpose(0, 3, 1, 2)  # NHWC memory
    w = rand(3, 4, k, k, seed=2)
    compare(lambda x, w: F.conv2d(x, w), lambda x, w: TF.conv2d(x, w), x, w, dtype=np.float64)
    y = F.conv2d(convnp.tensor(x), convnp.tensor(w))
    np.testing.assert_allclose(y.data, TF.conv2d(torch.tensor(x), torch.tensor(w)).numpy(),
                               rtol=1e-12, atol=1e-12)


# ------------------------------------------------------------------------------ extensions
@pytest.mark.parametrize("size,k,s,d", [(7, 3, 2, 1), (8, 3, 2, 1), (9, 4, 3, 1), (10, 3, 2, 2),
                                        (5, 5, 4, 1), (6, 2, 1, 3)])
def test_same_any_stride_matches_explicit_pad(size, k, s, d):
    x, w = rand(2, 3, size, size + 1, seed=1), rand(4, 3, k, k, seed=2)
    ph = _shape.same_padding(size, k, s, d)
    pw = _shape.same_padding(size + 1, k, s, d)
    out = compare(lambda x, w: F.conv2d(x, w, stride=s, dilation=d, padding="same"),
                  lambda x, w: TF.conv2d(TF.pad(x, (*pw, *ph)), w, stride=s, dilation=d),
                  x, w, dtype=np.float64)
    assert out.shape[2:] == (-(-size // s), -(-(size + 1) // s))


def test_causal_and_mixed_and_per_side_padding():
    x, w = rand(2, 3, 9, 7, seed=1), rand(4, 3, 3, 2, seed=2)
    compare(lambda x, w: F.conv2d(x, w, padding="causal", dilation=(2, 1)),
            lambda x, w: TF.conv2d(TF.pad(x, (1, 0, 4, 0)), w, dilation=(2, 1)), x, w,
            dtype=np.float64)
    compare(lambda x, w: F.conv2d(x, w, padding=("causal", 1)),
            lambda x, w: TF.conv2d(TF.pad(x, (1, 1, 2, 0)), w), x, w, dtype=np.float64)
    compare(lambda x, w: F.conv2d(x, w, padding=((1, 2), (0, 3)), stride=2),
            lambda x, w: TF.conv2d(TF.pad(x, (0, 3, 1, 2)), w, stride=2), x, w,
            dtype=np.float64)
    x1, w1 = rand(2, 3, 10, seed=3), rand(2, 3, 4, seed=4)
    compare(lambda x, w: F.conv1d(x, w, padding="causal"),
            lambda x, w: TF.conv1d(TF.pad(x, (3, 0)), w), x1, w1, dtype=np.float32)


@pytest.mark.parametrize("n", [1, 2, 3])
def test_flip_is_conv_with_flipped_kernel(n):
    xs = (2, 4) + (5, 6, 4)[:n]
    ws = (4, 2) + (3, 2, 3)[:n]
    dims = list(range(2, 2 + n))
    f, tf = FN[n]
    compare(lambda x, w: f(x, w, padding=1, groups=2, flip=True),
            lambda x, w: tf(x, w.flip(dims), padding=1, groups=2),
            rand(*xs, seed=1), rand(*ws, seed=2), dtype=np.float64)
    ft, tft = FNT[n]
    wts = (4, 3) + (3, 2, 3)[:n]
    compare(lambda x, w: ft(x, w, stride=2, flip=True),
            lambda x, w: tft(x, w.flip(dims), stride=2),
            rand(*xs, seed=1), rand(*wts, seed=2), dtype=np.float64)


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
@pytest.mark.parametrize("n", [1, 2, 3])
def test_padding_modes_match_torch_pad(n, mode):
    xs = (2, 2) + (6, 5, 7)[:n]
    ws = (3, 2) + (3, 3, 2)[:n]
    pad = (1, 2, 1)[:n]
    tpad = sum(((p, p) for p in reversed(pad)), ())
    f, tf = FN[n]
    compare(lambda x, w, b: f(x, w, b, padding=pad, stride=2, padding_mode=mode),
            lambda x, w, b: tf(TF.pad(x, tpad, mode=mode), w, b, stride=2),
            rand(*xs, seed=1), rand(*ws, seed=2), rand(3, seed=3), dtype=np.float64)


def test_per_axis_padding_mode_equirectangular():
    x, w = rand(2, 3, 6, 8, seed=1), rand(4, 3, 3, 3, seed=2)

    def tref(x, w):
        x = TF.pad(x, (1, 1, 0, 0), mode="circular")  # wrap longitude (W)
        x = TF.pad(x, (0, 0, 1, 1), mode="replicate")  # clamp latitude (H)
        return TF.conv2d(x, w)

    compare(lambda x, w: F.conv2d(x, w, padding=1, padding_mode=("replicate", "circular")),
            tref, x, w, dtype=np.float64)


@pytest.mark.parametrize("mode", ["zeros", "reflect", "replicate", "circular",
                                  ("reflect", "circular")])
@pytest.mark.parametrize("cfg", [dict(stride=1, padding=1), dict(stride=2, padding=(2, 1)),
                                 dict(stride=2, padding=1, dilation=2, groups=2)],
                         ids=["s1", "s2", "s2-d2-g2"])
def test_adjoint_identity(mode, cfg):
    r = np.random.default_rng(0)
    g = cfg.get("groups", 1)
    x = r.standard_normal((2, 4, 9, 8))
    w = r.standard_normal((6, 4 // g, 3, 3))
    y = F.conv2d(convnp.tensor(x), convnp.tensor(w), padding_mode=mode, **cfg)
    v = r.standard_normal(y.shape)
    xt = F.conv_transpose2d(convnp.tensor(v), convnp.tensor(w), output_size=x.shape,
                            padding_mode=mode, **cfg)
    assert xt.shape == x.shape
    np.testing.assert_allclose((y.data * v).sum(), (x * xt.data).sum(), rtol=1e-11)
    # and its gradients are the conv's: transposed conv with padding modes vs autograd of conv
    vt = convnp.tensor(v, requires_grad=True)
    F.conv_transpose2d(vt, convnp.tensor(w), output_size=x.shape, padding_mode=mode,
                       **cfg).backward(convnp.tensor(x))
    np.testing.assert_allclose(vt.grad.data, y.data, rtol=1e-10, atol=1e-10)


def test_output_size_derives_output_padding():
    x, w = rand(2, 4, 5, 6, seed=1), rand(4, 3, 3, 3, seed=2)
    for size in [(9, 11), (10, 12)]:
        op = (size[0] - 9, size[1] - 11)
        out = compare(lambda x, w, size=size: F.conv_transpose2d(x, w, stride=2, padding=1,
                                                                 output_size=size),
                      lambda x, w, op=op: TF.conv_transpose2d(x, w, stride=2, padding=1,
                                                              output_padding=op),
                      x, w, dtype=np.float64)
        assert out.shape == (2, 3) + size
    m = torch.nn.ConvTranspose2d(4, 3, 3, stride=2, padding=1, bias=False)
    m.weight.data = torch.tensor(w)
    ref = m(torch.tensor(x), output_size=(2, 3, 10, 12)).detach().numpy()
    got = F.conv_transpose2d(convnp.tensor(x), convnp.tensor(w), stride=2, padding=1,
                             output_size=(2, 3, 10, 12))
    np.testing.assert_allclose(got.data, ref, rtol=1e-12, atol=1e-12)


def test_transposed_per_side_padding_matches_crop():
    x, w = rand(2, 3, 4, 5, seed=1), rand(3, 2, 3, 3, seed=2)
    compare(lambda x, w: F.conv_transpose2d(x, w, stride=2, padding=((1, 0), (2, 1))),
            lambda x, w: TF.conv_transpose2d(x, w, stride=2)[:, :, 1:, 2:-1], x, w,
            dtype=np.float64)


# ------------------------------------------------------------------------------ gradcheck
def _t(a, grad=True):
    return convnp.tensor(a, requires_grad=grad)


def test_gradcheck(path):
    x, w, b = _t(rand(2, 4, 5, 4, seed=1)), _t(rand(6, 2, 3, 2, seed=2)), _t(rand(6, seed=3))
    gradcheck(lambda x, w, b: F.conv2d(x, w, b, stride=2, padding=1, dilation=(1, 2),
                                       groups=2, padding_mode="reflect", flip=True),
              [x, w, b])
    wt = _t(rand(4, 2, 3, 3, seed=4))
    gradcheck(lambda x, w, b: F.conv_transpose2d(x, w, b[:4], stride=2, padding=1,
                                                 output_padding=1, groups=2,
                                                 padding_mode="circular"),
              [x, wt, b])
    wd = _t(rand(8, 1, 3, 3, seed=5))
    gradcheck(lambda x, w: F.conv2d(x, w, padding=1, groups=4, stride=(2, 1)), [x, wd])
    x1, w1 = _t(rand(3, 7, seed=6)), _t(rand(2, 3, 3, seed=7))
    gradcheck(lambda x, w: F.conv1d(x, w, padding="same", stride=2,
                                    padding_mode="replicate"), [x1, w1])
    x3, w3 = _t(rand(1, 2, 3, 4, 3, seed=8)), _t(rand(2, 2, 2, 2, 2, seed=9))
    gradcheck(lambda x, w: F.conv3d(x, w, padding=1, stride=2), [x3, w3])


# ------------------------------------------------------------------------------ property test
def test_property_random_configs():
    hyp = pytest.importorskip("hypothesis")
    st = hyp.strategies

    @hyp.settings(max_examples=30, deadline=None, derandomize=True)
    @hyp.given(n=st.integers(1, 3), data=st.data())
    def run(n, data):
        g = data.draw(st.sampled_from([1, 2]))
        cin = g * data.draw(st.integers(1, 2))
        cout = g * data.draw(st.integers(1, 2))
        k = tuple(data.draw(st.integers(1, 3)) for _ in range(n))
        s = tuple(data.draw(st.integers(1, 2)) for _ in range(n))
        d = tuple(data.draw(st.integers(1, 2)) for _ in range(n))
        p = tuple(data.draw(st.integers(0, 2)) for _ in range(n))
        sp = tuple(data.draw(st.integers(d[i] * (k[i] - 1) + 1, 6)) for i in range(n))
        N = data.draw(st.integers(1, 2))
        transposed = data.draw(st.booleans())
        x = rand(N, cin, *sp, seed=1)
        if transposed:
            op = tuple(data.draw(st.integers(0, max(s[i], d[i]) - 1)) for i in range(n))
            if any(_shape.conv_transpose_output_size(sp[i], k[i], s[i], p[i], p[i], d[i], op[i])
                   <= 0 for i in range(n)):
                return
            w = rand(cin, cout // g, *k, seed=2)
            kw = dict(stride=s, padding=p, dilation=d, groups=g, output_padding=op)
            f, tf = FNT[n]
        else:
            w = rand(cout, cin // g, *k, seed=2)
            kw = dict(stride=s, padding=p, dilation=d, groups=g)
            f, tf = FN[n]
        compare(lambda x, w: f(x, w, **kw), lambda x, w: tf(x, w, **kw), x, w,
                dtype=np.float64)

    run()


# ------------------------------------------------------------------------------ errors
def _x(*s):
    return convnp.tensor(np.zeros(s, np.float32))


def test_error_channel_mismatch_with_channels_last_hint():
    with pytest.raises(RuntimeError, match=r"conv2d: expected input with 3 channels.*"
                                           r"channels-last"):
        F.conv2d(_x(1, 8, 8, 3), _x(4, 3, 3, 3))
    with pytest.raises(RuntimeError, match=r"conv2d: expected input with 3 channels") as e:
        F.conv2d(_x(1, 5, 8, 8), _x(4, 3, 3, 3))
    assert "channels-last" not in str(e.value)
    with pytest.raises(RuntimeError, match="conv_transpose2d: expected input with 4 channels"):
        F.conv_transpose2d(_x(1, 3, 5, 5), _x(4, 2, 3, 3))


def test_error_kernel_larger_than_padded_input():
    with pytest.raises(RuntimeError, match="kernel size can't be greater"):
        F.conv2d(_x(1, 1, 4, 4), _x(1, 1, 5, 5))
    with pytest.raises(RuntimeError, match="kernel size can't be greater"):
        F.conv1d(_x(1, 1, 5), _x(1, 1, 3), dilation=3)
    assert F.conv2d(_x(1, 1, 4, 4), _x(1, 1, 5, 5), padding=1).shape == (1, 1, 2, 2)


@pytest.mark.parametrize("padding,exc,msg", [
    ("full", ValueError, "padding string must be one of"),
    (1.5, TypeError, "padding must be an int"),
    ((1, 2, 3), ValueError, "padding needs 1 or 2 entries"),
    (-1, ValueError, "non-negative"),
    (((1, 2, 3), 1), TypeError, "padding must be an int"),
])
def test_error_bad_padding(padding, exc, msg):
    with pytest.raises(exc, match=msg):
        F.conv2d(_x(1, 1, 6, 6), _x(1, 1, 3, 3), padding=padding)


def test_error_bad_padding_mode_and_transposed_strings():
    with pytest.raises(ValueError, match="padding_mode must be one of"):
        F.conv2d(_x(1, 1, 6, 6), _x(1, 1, 3, 3), padding=1, padding_mode="mirror")
    with pytest.raises(ValueError, match="padding_mode needs one mode or 2"):
        F.conv2d(_x(1, 1, 6, 6), _x(1, 1, 3, 3), padding=1, padding_mode=("zeros",) * 3)
    with pytest.raises(ValueError, match="not supported for transposed"):
        F.conv_transpose2d(_x(1, 1, 6, 6), _x(1, 1, 3, 3), padding="same")


def test_error_groups():
    with pytest.raises(ValueError, match="groups=2 must divide the input's channels"):
        F.conv2d(_x(1, 3, 6, 6), _x(4, 1, 3, 3), groups=2)
    with pytest.raises(ValueError, match="groups=3 must divide out_channels=4"):
        F.conv2d(_x(1, 3, 6, 6), _x(4, 1, 3, 3), groups=3)
    with pytest.raises(ValueError, match="groups must be a positive int"):
        F.conv2d(_x(1, 3, 6, 6), _x(4, 3, 3, 3), groups=0)


def test_error_output_padding_and_output_size():
    with pytest.raises(ValueError, match="output_padding must be smaller than either stride"):
        F.conv_transpose2d(_x(1, 2, 4, 4), _x(2, 1, 3, 3), stride=2, output_padding=2)
    with pytest.raises(ValueError, match=r"requested an output size of \(12, 9\).*range from 9 "
                                         r"to 10"):
        F.conv_transpose2d(_x(1, 2, 5, 5), _x(2, 1, 3, 3), stride=2, padding=1,
                           output_size=(12, 9))


def test_error_reflect_padding_too_large():
    with pytest.raises(ValueError, match="reflect padding .* must be smaller than its size"):
        F.conv2d(_x(1, 1, 3, 8), _x(1, 1, 3, 3), padding=3, padding_mode="reflect")
    with pytest.raises(ValueError, match="circular padding"):
        F.conv1d(_x(1, 1, 3), _x(1, 1, 3), padding=4, padding_mode="circular")


def test_error_types_and_dims():
    with pytest.raises(TypeError, match="conv2d: input must be a Tensor"):
        F.conv2d([[1.0]], _x(1, 1, 1, 1))
    with pytest.raises(ValueError, match="conv2d: weight must have 4 dimensions"):
        F.conv2d(_x(1, 1, 4, 4), _x(1, 1, 3))
    with pytest.raises(ValueError, match=r"conv2d: expected a 3-d \(unbatched\) or 4-d"):
        F.conv2d(_x(4, 4), _x(1, 1, 3, 3))
    with pytest.raises(TypeError, match="same floating dtype"):
        F.conv2d(_x(1, 1, 4, 4), convnp.tensor(np.zeros((1, 1, 3, 3))))
    with pytest.raises(ValueError, match=r"bias must be None or of shape \(2,\)"):
        F.conv2d(_x(1, 1, 4, 4), _x(2, 1, 3, 3), _x(3))
    with pytest.raises(ValueError, match="stride"):
        F.conv2d(_x(1, 1, 4, 4), _x(2, 1, 3, 3), stride=0)


def test_threads_do_not_share_scratch_buffers():
    """Convolutions running in several threads at once (BLAS releases the GIL) give the same
    numbers as one at a time: the chunk workspaces are per thread."""
    from concurrent.futures import ThreadPoolExecutor

    rng = np.random.default_rng(0)
    xs = [rng.standard_normal((3, 4, 12, 12)).astype(np.float32) for _ in range(4)]
    w = convnp.tensor(rng.standard_normal((5, 4, 3, 3)).astype(np.float32))
    expect = [F.conv2d(convnp.tensor(x), w, padding=1).numpy() for x in xs]

    def work(i):
        return all(np.array_equal(F.conv2d(convnp.tensor(xs[i]), w, padding=1).numpy(),
                                  expect[i]) for _ in range(30))

    with ThreadPoolExecutor(4) as pool:
        assert all(pool.map(work, range(4)))
