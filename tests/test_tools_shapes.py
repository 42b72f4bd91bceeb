"""Shape functions, summary, receptive fields and conv_matrix of convnp.tools."""

import numpy as np
import pytest

import convnp
import convnp.nn as nn
from convnp.tools import (
    conv_input_sizes,
    conv_matrix,
    conv_output_shape,
    conv_transpose_output_shape,
    index_map,
    pool_output_shape,
    receptive_field,
    same_padding,
    summary,
)

# ---------------------------------------------------------------- shape functions (golden)


@pytest.mark.parametrize("args,kw,want", [
    (((32, 32), 5), {}, (28, 28)),                                   # LeNet C1
    ((32, 5), {"padding": 2}, 32),
    ((7, 3), {"stride": 2, "padding": "same"}, 4),
    (((8, 9), 3), {"padding": "valid"}, (6, 7)),
    ((10, 3), {"dilation": 2, "padding": "causal"}, 10),
    (((5, 6, 7), (1, 2, 3)), {"stride": (1, 2, 3)}, (5, 3, 2)),
    (((10,), 3), {"padding": ((2, 0),)}, (10,)),
], ids=["lenet-c1", "pad2", "same-s2", "valid-2d", "causal-d2", "3d-per-axis", "per-side"])
def test_conv_output_shape_golden(args, kw, want):
    assert conv_output_shape(*args, **kw) == want


def test_other_shapes_golden():
    assert conv_transpose_output_shape((16, 16), 4, stride=2, padding=1) == (32, 32)
    assert conv_transpose_output_shape(3, 3, 2, 1, output_padding=1) == 6
    assert pool_output_shape((28, 28), 2) == (14, 14)
    assert pool_output_shape(5, 2, ceil_mode=True) == 3
    assert pool_output_shape(5, 3, 2, 1) == 3
    assert same_padding(32, 4) == (1, 2)
    assert same_padding((7, 8), 3, stride=2) == ((1, 1), (0, 1))


@pytest.mark.parametrize("out,k,s,p,d", [(14, 3, 2, 1, 1), (1, 5, 1, 0, 1), (4, 3, 2, "same", 1),
                                         (6, 3, 3, 0, 2), (10, 3, 1, "causal", 2), (5, 4, 4, 2, 1)])
def test_conv_input_sizes_inverse(out, k, s, p, d):
    got = conv_input_sizes(out, k, s, p, d)

    def out_of(x):
        try:
            return conv_output_shape(x, k, s, p, d)
        except ValueError:
            return None

    brute = [x for x in range(1, 80) if out_of(x) == out]
    assert list(got) == brute and len(got) >= 1


def test_conv_input_sizes_2d_and_empty():
    assert conv_input_sizes((14, 7), 3, 2, 1) == (range(27, 29), range(13, 15))
    assert list(conv_input_sizes(1, 3, 1, 2)) == []   # padding 2 always gives >= 3 outputs


@pytest.mark.parametrize("call,match", [
    (lambda: conv_output_shape((4, 4), 5), "too small"),
    (lambda: conv_output_shape("x", 3), "input_shape"),
    (lambda: conv_output_shape((4, 4), (3, 3, 3)), "kernel_size"),
    (lambda: conv_output_shape(8, 3, padding="full"), "padding"),
    (lambda: pool_output_shape(8, 2, padding=2), "half of the kernel"),
    (lambda: conv_transpose_output_shape(4, 3, padding="same"), "padding"),
    (lambda: same_padding(0, 3), ">= 1"),
])
def test_shape_errors(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()


def test_top_level_exports_are_light():
    import subprocess
    import sys
    code = ("import sys, convnp; convnp.conv_output_shape(8, 3); "
            "print('matplotlib' in sys.modules, 'numba' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
    assert convnp.summary is summary and convnp.conv_matrix is conv_matrix


# ---------------------------------------------------------------- shapes agree with layers

@pytest.mark.parametrize("layer,shape", [
    (lambda: nn.Conv2d(2, 3, 3, stride=2, padding=1), (2, 7, 8)),
    (lambda: nn.Conv1d(2, 3, 4, padding="same", dilation=2), (2, 9)),
    (lambda: nn.Conv3d(1, 2, (1, 2, 3), stride=(1, 2, 1)), (1, 4, 5, 6)),
    (lambda: nn.ConvTranspose2d(2, 3, 4, stride=2, padding=1, output_padding=1), (2, 5, 6)),
    (lambda: nn.MaxPool2d(3, 2, 1, ceil_mode=True), (2, 8, 9)),
    (lambda: nn.AvgPool1d(2), (2, 9)),
], ids=["conv2d", "conv1d-same", "conv3d", "convT2d", "maxpool-ceil", "avgpool1d"])
def test_shape_functions_match_layers(layer, shape):
    m = layer()
    y = m(convnp.zeros((1,) + shape))
    sp = shape[1:]
    if isinstance(m, (nn.MaxPool2d, nn.AvgPool1d)):
        want = pool_output_shape(sp, m.kernel_size, m.stride, m.padding,
                                 getattr(m, "dilation", 1), m.ceil_mode)
    elif m.transposed:
        want = conv_transpose_output_shape(sp, m.kernel_size, m.stride, m.padding,
                                           m.output_padding, m.dilation)
    else:
        want = conv_output_shape(sp, m.kernel_size, m.stride, m.padding, m.dilation)
    assert tuple(y.shape[2:]) == tuple(want)
    assert summary(nn.Sequential(m), shape).output_shape == tuple(y.shape[1:])


# ---------------------------------------------------------------- summary

def _lenet_chain():
    return nn.Sequential(nn.Conv2d(1, 6, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(6, 16, 5),
                         nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(16, 120, 5), nn.Flatten(),
                         nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))


def test_summary_shape_mode_lenet():
    s = summary(_lenet_chain(), (1, 32, 32))
    assert s.mode == "shape" and s.error is None
    assert [r.output_shape for r in s.rows][:7] == [
        (6, 28, 28), (6, 28, 28), (6, 14, 14), (16, 10, 10), (16, 10, 10), (16, 5, 5),
        (120, 1, 1)]
    assert s.total_params == 61706 == sum(r.params for r in s.rows)
    assert s.rows[0].macs == 6 * 28 * 28 * 25 and s.rows[3].macs == 16 * 100 * 150
    assert s.total_macs == 117600 + 240000 + 48000 + 10080 + 840
    assert [r.rf for r in s.rows[:7]] == [5, 5, 6, 14, 14, 16, 32]
    assert [r.jump for r in s.rows[:7]] == [1, 1, 2, 2, 2, 4, 4]
    text = str(s)
    assert "Total params: 61,706" in text and "Conv2d" in text and "mode: shape" in text


def test_summary_trace_mode_model_registry():
    from convnp.models import get_model
    s = summary(get_model("lenet5"), (1, 32, 32))
    assert s.mode == "trace" and s.total_params == 61706
    assert s.output_shape == (10,)
    assert [r.rf for r in s.rows if r.type == "Conv2d"] == [5, 14, 32]


def test_summary_shared_parameters_counted_once():
    conv = nn.Conv2d(2, 2, 3, padding=1)
    s = summary(nn.Sequential(conv, nn.ReLU(), conv), (2, 6, 6))
    assert s.rows[0].params == 38 and s.rows[2].params == 0 and s.total_params == 38


def test_summary_reports_first_incompatible_layer():
    net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.Flatten(), nn.Linear(100, 2), nn.Linear(2, 2))
    s = summary(net, (1, 8, 8))
    assert len(s.rows) == 2 and s.error is not None
    assert "'2'" in s.error and "Linear" in s.error and "144" in s.error
    assert "ERROR" in str(s)
    s = summary(nn.Sequential(nn.Conv2d(3, 4, 3)), (1, 8, 8))
    assert s.rows == [] and "channels" in s.error


def test_summary_errors():
    with pytest.raises(ValueError, match="input_shape"):
        summary(_lenet_chain(), 32)
    with pytest.raises(ValueError, match="mode"):
        summary(_lenet_chain(), (1, 32, 32), mode="fast")


# ---------------------------------------------------------------- receptive fields

@pytest.mark.parametrize("layers", [1, 2, 5])
def test_rf_stacked_3x3_is_1_plus_L_times_K_minus_1(layers):
    net = nn.Sequential(*[nn.Conv2d(1, 1, 3, padding=1) for _ in range(layers)])
    assert summary(net, (1, 16, 16)).rows[-1].rf == 1 + layers * 2


def test_rf_vgg16_conv5_3_196_pool5_212():
    # hand computed: 3,5 | 6 | 10,14 | 16 | 24,32,40 | 44 | 60,76,92 | 100 | 132,164,196 | 212
    layers = []
    for n in [2, 2, 3, 3, 3]:
        layers += [nn.Conv2d(1, 1, 3, padding=1) for _ in range(n)] + [nn.MaxPool2d(2)]
    rows = summary(nn.Sequential(*layers), (1, 224, 224)).rows
    assert [r.rf for r in rows if r.type == "MaxPool2d"] == [6, 16, 44, 100, 212]
    conv5_3, pool5 = rows[-2], rows[-1]
    assert (conv5_3.rf, conv5_3.jump, conv5_3.output_shape) == (196, 16, (1, 14, 14))
    assert (pool5.rf, pool5.jump, pool5.output_shape) == (212, 32, (1, 7, 7))


def test_rf_alexnet_pool5_is_195():
    net = nn.Sequential(nn.Conv2d(1, 1, 11, 4), nn.MaxPool2d(3, 2), nn.Conv2d(1, 1, 5, padding=2),
                        nn.MaxPool2d(3, 2), nn.Conv2d(1, 1, 3, padding=1),
                        nn.Conv2d(1, 1, 3, padding=1), nn.Conv2d(1, 1, 3, padding=1),
                        nn.MaxPool2d(3, 2))
    s = summary(net, (1, 227, 227))
    assert [r.rf for r in s.rows] == [11, 19, 51, 67, 99, 131, 163, 195]
    assert s.rows[-1].output_shape == (1, 6, 6) and s.rows[-1].jump == 32


def test_rf_dilation_transposed_and_branches():
    s = summary(nn.Sequential(nn.Conv1d(1, 1, 3, dilation=4)), (1, 20))
    assert s.rows[0].rf == 9
    s = summary(nn.Sequential(nn.Conv2d(1, 1, 3, stride=2), nn.ConvTranspose2d(1, 1, 3, 2)),
                (1, 9, 9))
    assert s.rows[1].jump == 1 and s.rows[1].rf == 5
    from convnp.nn.modules.blocks import InceptionBlock
    blk = InceptionBlock(2, 2, 2, 2, 2, 2, 2)
    s = summary(blk, (2, 12, 12))
    assert s.mode == "trace"
    assert max(r.rf for r in s.rows) == 5          # the 5x5 branch wins


def _ones_net(net):
    for p in net.parameters():
        p.data[...] = 1.0
    return net


@pytest.mark.parametrize("build,shape,unit", [
    (lambda: nn.Sequential(nn.Conv2d(1, 1, 3), nn.Conv2d(1, 1, 3)), (1, 9, 9), (2, 3)),
    (lambda: nn.Sequential(nn.Conv2d(1, 1, 3, padding=1), nn.AvgPool2d(2),
                           nn.Conv2d(1, 1, 3, stride=2, padding=1)), (1, 12, 10), (0, 2)),
    (lambda: nn.Sequential(nn.Conv1d(1, 1, 5, stride=2, padding=2), nn.AvgPool1d(3, 1),
                           nn.Conv1d(1, 1, 2, dilation=1)), (1, 23), (4,)),
    (lambda: nn.Sequential(nn.Conv2d(1, 1, 3), nn.Conv2d(1, 1, 3, dilation=2)), (1, 11, 11),
     (1, 2)),
], ids=["two-3x3", "conv-pool-stride-pad", "1d-stride-pool", "dilated"])
def test_rf_matches_gradient_support(build, shape, unit):
    net = _ones_net(build())
    x = convnp.ones((1,) + shape, requires_grad=True)
    y = net(x)
    (g,) = convnp.autograd.grad(y[(0, 0) + tuple(unit)], x)
    nz = np.argwhere(g.numpy()[0, 0] != 0)
    region = receptive_field(net, shape, unit)
    lo = nz.min(0)
    hi = nz.max(0) + 1
    assert tuple(slice(int(a), int(b)) for a, b in zip(lo, hi)) == region
    mask = np.zeros(shape[1:], bool)
    mask[region] = True
    assert not (g.numpy()[0, 0] != 0)[~mask].any()


def test_receptive_field_errors():
    net = nn.Sequential(nn.Conv2d(1, 1, 3))
    with pytest.raises(ValueError, match="outside the output"):
        receptive_field(net, (1, 5, 5), (3, 0))


# ---------------------------------------------------------------- conv_matrix

def test_conv_matrix_toeplitz_golden():
    m = conv_matrix(np.array([[[1., 2., 3.]]]), (1, 5))
    np.testing.assert_array_equal(m, [[1, 2, 3, 0, 0], [0, 1, 2, 3, 0], [0, 0, 1, 2, 3]])
    c = conv_matrix(np.array([[[1., 2., 3.]]]), (1, 4), padding=1, padding_mode="circular")
    np.testing.assert_array_equal(c, [[2, 3, 0, 1], [1, 2, 3, 0], [0, 1, 2, 3], [3, 0, 1, 2]])


def test_conv_matrix_doubly_block_toeplitz_2d():
    w = np.arange(1., 5.).reshape(1, 1, 2, 2)
    m = conv_matrix(w, (1, 3, 3))            # 4 outputs x 9 inputs, 2x2 blocks of 3x3
    blocks = m.reshape(2, 2, 3, 3).transpose(0, 2, 1, 3)   # (out row, in row) blocks
    np.testing.assert_array_equal(blocks[0, 0], blocks[1, 1])   # Toeplitz in blocks
    np.testing.assert_array_equal(blocks[1, 0], 0)
    np.testing.assert_array_equal(blocks[0, 0], [[1, 2, 0], [0, 1, 2]])


@pytest.mark.parametrize("sp,k,s,p,d,g,mode", [
    ((7,), 3, 2, 1, 1, 1, "zeros"),
    ((5, 6), (3, 2), (2, 1), 1, (1, 2), 2, "circular"),
    ((4, 5, 3), 2, 1, 1, 1, 1, "zeros"),
    ((6, 7), 3, 1, 2, 1, 1, "reflect"),
    ((6, 5), 3, 2, "same", 1, 1, "replicate"),
], ids=["1d-s2", "2d-circ-g2", "3d", "2d-reflect", "2d-same-replicate"])
def test_conv_matrix_matches_convnp_conv(sp, k, s, p, d, g, mode):
    rng = np.random.default_rng(0)
    nd = len(sp)
    kk = (k,) * nd if isinstance(k, int) else k
    w = rng.standard_normal((4, 4 // g) + kk)
    x = rng.standard_normal((1, 4) + sp)
    conv = getattr(nn, f"Conv{nd}d")(4, 4, k, s, p, d, g, bias=False, padding_mode=mode).double()
    conv.weight.data[...] = w
    y = conv(convnp.tensor(x)).numpy()
    m = conv_matrix(w, (4,) + sp, s, p, d, g, padding_mode=mode)
    np.testing.assert_allclose(m @ x.ravel(), y.ravel(), atol=1e-12)
    ms = conv_matrix(w, (4,) + sp, s, p, d, g, padding_mode=mode, sparse=True)
    np.testing.assert_allclose(ms.toarray(), m)


@pytest.mark.parametrize("nd", [1, 2])
def test_conv_matrix_transpose_is_conv_transpose(nd):
    import convnp.nn.functional as F
    rng = np.random.default_rng(1)
    w = rng.standard_normal((3, 2) + (3,) * nd)
    sp = (7,) * nd
    m = conv_matrix(w, (2,) + sp, stride=2, padding=1)
    out_sp = conv_output_shape(sp, 3, 2, 1)
    gy = rng.standard_normal((1, 3) + tuple(out_sp))
    xt = getattr(F, f"conv_transpose{nd}d")(convnp.tensor(gy), convnp.tensor(w), stride=2,
                                             padding=1)
    np.testing.assert_allclose(m.T @ gy.ravel(), xt.numpy().ravel(), atol=1e-12)


def test_conv_matrix_vs_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(2)
    w = rng.standard_normal((2, 3, 3, 2))
    x = rng.standard_normal((1, 3, 6, 5))
    m = conv_matrix(w, (3, 6, 5), stride=(2, 1), padding=1, dilation=(1, 2))
    y = torch.nn.functional.conv2d(torch.tensor(x), torch.tensor(w), stride=(2, 1), padding=1,
                                   dilation=(1, 2))
    np.testing.assert_allclose(m @ x.ravel(), y.numpy().ravel(), atol=1e-12)
    g = rng.standard_normal(y.shape)
    xt = torch.nn.functional.conv_transpose2d(torch.tensor(g), torch.tensor(w), stride=(2, 1),
                                              padding=1, dilation=(1, 2),
                                              output_padding=(1, 0))
    np.testing.assert_allclose(m.T @ g.ravel(), xt.numpy().ravel(), atol=1e-12)


def test_conv_matrix_errors():
    with pytest.raises(ValueError, match="weight"):
        conv_matrix(np.ones((3, 3)), (1, 5))
    with pytest.raises(ValueError, match="groups"):
        conv_matrix(np.ones((2, 2, 3)), (3, 5))
    with pytest.raises(ValueError, match="too small"):
        conv_matrix(np.ones((1, 1, 3)), (1, 2))
    with pytest.raises(ValueError, match="padding_mode"):
        conv_matrix(np.ones((1, 1, 3)), (1, 5), padding_mode="wrap")


# ---------------------------------------------------------------- index maps

@pytest.mark.parametrize("kw", [
    dict(input_shape=(5, 5), kernel_size=3, stride=2, padding=1),
    dict(input_shape=(6, 7), kernel_size=(3, 2), stride=1, padding=0, dilation=2),
    dict(input_shape=9, kernel_size=4, stride=3, padding=2),
], ids=["2d-s2-p1", "2d-dilated", "1d"])
def test_index_map_conv_feeds_are_matrix_nonzeros(kw):
    out_sp, feeds = index_map(**kw)
    sp = kw["input_shape"] if isinstance(kw["input_shape"], tuple) else (kw["input_shape"],)
    k = kw["kernel_size"]
    kk = k if isinstance(k, tuple) else (k,) * len(sp)
    m = conv_matrix(np.ones((1, 1) + kk), (1,) + sp, kw["stride"], kw["padding"],
                    kw.get("dilation", 1))
    assert len(feeds) == m.shape[0] == np.prod(out_sp)
    for j, f in enumerate(feeds):
        assert len(f) == np.prod(kk)                       # padding cells included
        inside = f[np.all((f >= 0) & (f < np.array(sp)), axis=1)]
        want = np.argwhere(m[j].reshape(sp) != 0)
        assert sorted(map(tuple, inside)) == sorted(map(tuple, want))


def test_index_map_pool_and_transpose():
    out_sp, feeds = index_map(5, 2, None, kind="pool", ceil_mode=True)
    assert out_sp == (3,) and [f.ravel().tolist() for f in feeds] == [[0, 1], [2, 3], [4, 5]]
    out_sp, feeds = index_map(3, 3, 2, 1, kind="conv_transpose")
    assert out_sp == (5,)
    assert [f.ravel().tolist() for f in feeds] == [[0], [0, 1], [1], [1, 2], [2]]
    with pytest.raises(ValueError, match="kind"):
        index_map(5, 3, kind="deconv")


def test_summary_shape_mode_mixed_layers_match_forward():
    net = nn.Sequential(nn.GatedConv2d(1, 4, 3, padding=1), nn.MaxPool2d(2),
                        nn.ConvTranspose2d(4, 2, 2, 2), nn.Upsample(scale_factor=2),
                        nn.AdaptiveAvgPool2d(3), nn.Flatten(), nn.Linear(18, 3))
    s = summary(net, (1, 8, 8))
    assert s.mode == "shape" and s.error is None
    assert [r.output_shape for r in s.rows] == [(4, 8, 8), (4, 4, 4), (2, 8, 8), (2, 16, 16),
                                                (2, 3, 3), (18,), (3,)]
    assert s.rows[2].jump == 1 and s.rows[3].jump == 0.5          # fractional jumps
    assert s.total_params == sum(p.numel() for p in net.parameters())
    assert tuple(net(convnp.zeros(1, 1, 8, 8)).shape) == (1, 3)
    t = summary(net, (1, 8, 8), mode="trace")
    assert [r.output_shape for r in t.rows][-3:] == [(2, 3, 3), (18,), (3,)]


@pytest.mark.filterwarnings("ignore:Using padding=.same.")
def test_shape_functions_vs_torch():
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    rng = np.random.default_rng(3)
    for _ in range(25):
        n = int(rng.integers(1, 4))
        sp = tuple(int(v) for v in rng.integers(8, 14, n))
        k, s, d = (int(rng.integers(1, 4)) for _ in range(3))
        p = int(rng.integers(0, k // 2 + 1))
        x = torch.zeros((1, 1) + sp)
        w = torch.zeros((1, 1) + (k,) * n)
        conv = getattr(F, f"conv{n}d")
        assert tuple(conv(x, w, stride=s, padding=p, dilation=d).shape[2:]) == \
            conv_output_shape(sp, k, s, p, d)
        if s == 1:
            assert tuple(conv(x, w, padding="same", dilation=d).shape[2:]) == \
                conv_output_shape(sp, k, 1, "same", d)
        op = int(rng.integers(0, max(s, d)))
        convt = getattr(F, f"conv_transpose{n}d")
        assert tuple(convt(x, w, stride=s, padding=p, output_padding=op,
                           dilation=d).shape[2:]) == \
            conv_transpose_output_shape(sp, k, s, p, op, d)
        ceil = bool(rng.integers(0, 2))
        pool = getattr(F, f"max_pool{n}d")
        assert tuple(pool(x, k, s, p, d, ceil_mode=ceil).shape[2:]) == \
            pool_output_shape(sp, k, s, p, d, ceil)


class _TwoBranch(nn.Module):
    """conv3 and conv5 branches concatenated, then a strided 3x3 conv (custom forward)."""

    def __init__(self):
        super().__init__()
        self.a = nn.Conv2d(1, 1, 3, padding=1)
        self.b = nn.Conv2d(1, 1, 5, padding=2)
        self.head = nn.Conv2d(2, 1, 3, stride=2)

    def forward(self, x):
        return self.head(convnp.cat([self.a(x), self.b(x)], 1))


def test_rf_branches_take_the_maximum_and_match_gradient():
    net = _ones_net(_TwoBranch())
    s = summary(net, (1, 13, 13))
    assert s.mode == "trace" and s.rows[-1].rf == 7 and s.rows[-1].jump == 2
    x = convnp.ones((1, 1, 13, 13), requires_grad=True)
    y = net(x)
    (g,) = convnp.autograd.grad(y[0, 0, 2, 3], x)
    nz = np.argwhere(g.numpy()[0, 0] != 0)
    region = receptive_field(net, (1, 13, 13), (2, 3))
    assert region == tuple(slice(int(a), int(b) + 1) for a, b in zip(nz.min(0), nz.max(0)))
