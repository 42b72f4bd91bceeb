"""Layers describe their own geometry: ``output_shape`` agrees with ``forward`` and ``window()``
states each layer's kernel, stride, dilation, pads; the summary reads them (custom layers too)."""

import numpy as np
import pytest

import convnp
import convnp.nn as nn
from convnp.nn.modules._geometry import Window, window_of
from convnp.nn.modules.module import has_own_output_shape
from convnp.sphere import MeshConv, MeshPool, MeshUnpool, SphereConv2d, SpherePool2d
from convnp.sphere.mesh import EquirectToMesh
from convnp.tools.summary import receptive_field, summary

# ------------------------------------------------------------------ output_shape == forward

CASES = [
    ("conv1d-s2-p1", lambda: nn.Conv1d(3, 4, 3, stride=2, padding=1), (2, 3, 11)),
    ("conv1d-unbatched-d3", lambda: nn.Conv1d(3, 4, 3, dilation=3), (3, 12)),
    ("conv1d-causal", lambda: nn.Conv1d(2, 2, 4, padding="causal", dilation=2), (1, 2, 9)),
    ("conv2d-same-s2", lambda: nn.Conv2d(2, 4, 3, stride=2, padding="same"), (1, 2, 7, 8)),
    ("conv2d-pairs-g2", lambda: nn.Conv2d(4, 6, (3, 2), padding=((1, 0), (2, 1)), groups=2),
     (2, 4, 5, 6)),
    ("conv2d-reflect", lambda: nn.Conv2d(1, 2, 3, padding=2, padding_mode="reflect"),
     (1, 1, 6, 7)),
    ("conv2d-circular-mixed", lambda: nn.Conv2d(1, 1, 3, padding=("causal", 1),
                                                padding_mode=("replicate", "circular")),
     (1, 1, 6, 5)),
    ("conv3d-s-d", lambda: nn.Conv3d(1, 2, 2, stride=(1, 2, 1), dilation=(2, 1, 1)),
     (1, 1, 5, 6, 4)),
    ("convT1d-op", lambda: nn.ConvTranspose1d(2, 3, 3, stride=3, padding=1, output_padding=2),
     (1, 2, 5)),
    ("convT2d-dil-op", lambda: nn.ConvTranspose2d(2, 2, 3, stride=2, padding=(1, 0),
                                                  output_padding=(1, 0), dilation=2),
     (2, 2, 4, 5)),
    ("convT3d-unbatched", lambda: nn.ConvTranspose3d(1, 2, 2, stride=2), (1, 3, 2, 3)),
    ("lazyconv2d", lambda: nn.LazyConv2d(3, 3, padding=1), (1, 5, 6, 6)),
    ("lazyconvT1d", lambda: nn.LazyConvTranspose1d(2, 4, stride=2), (2, 3, 5)),
    ("gated2d", lambda: nn.GatedConv2d(2, 3, 3, stride=2), (1, 2, 9, 8)),
    ("maxpool1d-ceil", lambda: nn.MaxPool1d(2, ceil_mode=True), (1, 2, 5)),
    ("maxpool2d-ceil-pad-dil", lambda: nn.MaxPool2d(3, 2, 1, dilation=2, ceil_mode=True),
     (1, 1, 10, 9)),
    ("maxpool3d", lambda: nn.MaxPool3d((1, 2, 2)), (1, 1, 3, 4, 5)),
    ("avgpool1d-ceil", lambda: nn.AvgPool1d(3, 2, 1, ceil_mode=True), (1, 1, 8)),
    ("avgpool2d", lambda: nn.AvgPool2d(3, stride=2, padding=1), (2, 1, 7, 6)),
    ("avgpool3d-ceil", lambda: nn.AvgPool3d(2, ceil_mode=True), (1, 1, 5, 4, 3)),
    ("lppool2d-ceil", lambda: nn.LPPool2d(2, 3, 2, ceil_mode=True), (1, 1, 8, 7)),
    ("adaptiveavg2d-none", lambda: nn.AdaptiveAvgPool2d((3, None)), (1, 2, 7, 5)),
    ("adaptivemax1d", lambda: nn.AdaptiveMaxPool1d(4), (2, 3)),
    ("adaptivemax3d", lambda: nn.AdaptiveMaxPool3d(2), (1, 1, 5, 4, 3)),
    ("fractional2d-ratio", lambda: nn.FractionalMaxPool2d(2, output_ratio=0.5), (1, 1, 9, 8)),
    ("fractional3d-size", lambda: nn.FractionalMaxPool3d(2, output_size=(3, 2, 2)),
     (1, 1, 6, 5, 4)),
    ("globalavg2d", lambda: nn.GlobalAvgPool2d(), (2, 3, 4, 5)),
    ("globalmax1d-keep", lambda: nn.GlobalMaxPool1d(keepdim=True), (2, 3, 4)),
    ("zeropad2d", lambda: nn.ZeroPad2d((1, 2, 0, 3)), (1, 1, 4, 5)),
    ("constantpad1d-crop", lambda: nn.ConstantPad1d((2, -1), 0.5), (2, 6)),
    ("reflectpad3d", lambda: nn.ReflectionPad3d(1), (1, 1, 3, 4, 5)),
    ("replicatepad1d", lambda: nn.ReplicationPad1d((0, 2)), (1, 2, 4)),
    ("circularpad2d", lambda: nn.CircularPad2d((1, 0, 2, 1)), (1, 1, 4, 4)),
    ("upsample-scale", lambda: nn.Upsample(scale_factor=1.5, mode="nearest"), (1, 2, 5, 4)),
    ("upsample-size", lambda: nn.Upsample(size=(7, 3), mode="bilinear"), (1, 1, 4, 4)),
    ("pixelshuffle", lambda: nn.PixelShuffle(2), (1, 8, 3, 2)),
    ("pixelunshuffle", lambda: nn.PixelUnshuffle(2), (1, 2, 4, 6)),
    ("unfold2d", lambda: nn.Unfold((2, 3), padding=1, stride=2), (2, 3, 5, 6)),
    ("unfold1d-dil", lambda: nn.Unfold((3,), dilation=2), (1, 2, 9)),
    ("fold2d", lambda: nn.Fold((4, 5), 2), (1, 12, 12)),
    ("fold3d-s2", lambda: nn.Fold((4, 4, 2), (2, 2, 1), stride=(2, 2, 1)), (1, 8, 8)),
    ("flatten", lambda: nn.Flatten(), (2, 3, 4, 5)),
    ("flatten-0-1", lambda: nn.Flatten(0, 1), (2, 3, 4)),
    ("unflatten", lambda: nn.Unflatten(1, (2, -1)), (3, 8, 2)),
    ("linear", lambda: nn.Linear(5, 3), (2, 4, 5)),
    ("relu", lambda: nn.ReLU(), (2, 3, 4)),
    ("glu", lambda: nn.GLU(1), (2, 6, 3)),
    ("addcoords-r", lambda: nn.AddCoords(2, with_r=True), (1, 2, 4, 5)),
    ("equirectpad", lambda: nn.EquirectPad2d((1, 2)), (1, 1, 4, 8)),
    ("batchnorm2d", lambda: nn.BatchNorm2d(3), (2, 3, 4, 4)),
    ("sphereconv", lambda: SphereConv2d(1, 2, 3, stride=2), (1, 1, 8, 16)),
    ("spherepool", lambda: SpherePool2d(2), (1, 2, 8, 16)),
    ("meshconv", lambda: MeshConv(2, 3, 1), (1, 2, 42)),
    ("meshpool", lambda: MeshPool(2), (1, 2, 162)),
    ("meshunpool", lambda: MeshUnpool(2), (1, 2, 42)),
    ("equirect-to-mesh", lambda: EquirectToMesh(1), (1, 2, 8, 16)),
]


@pytest.mark.parametrize("build,shape", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_output_shape_matches_forward(build, shape):
    convnp.manual_seed(0)
    m = build()
    want = m.output_shape(shape)
    got = m(convnp.randn(*shape))
    assert want == tuple(got.shape)


def test_maxunpool_output_shape_matches_forward():
    for nd, shape, kw in ((1, (1, 2, 7), dict(kernel_size=3, stride=2)),
                          (2, (1, 1, 6, 4), dict(kernel_size=2, stride=2, padding=1)),
                          (3, (1, 1, 4, 4, 4), dict(kernel_size=2))):
        pool = getattr(nn, f"MaxPool{nd}d")(return_indices=True, **kw)
        unpool = getattr(nn, f"MaxUnpool{nd}d")(**kw)
        y, i = pool(convnp.randn(*shape))
        # without output_size the default rule; the indices' remembered size may be larger
        out = unpool.output_shape(y.shape)
        assert out == tuple(unpool(y, i, output_size=out).shape)


def test_convtranspose_output_size_and_errors():
    m = nn.ConvTranspose2d(2, 1, 3, stride=2, padding=1)
    assert m.output_shape((1, 2, 4, 4), output_size=(8, 7)) == (1, 1, 8, 7)
    assert m.window((1, 2, 4, 4), output_size=(8, 7)).output_padding == (1, 0)
    with pytest.raises(ValueError, match="valid sizes"):
        m.output_shape((1, 2, 4, 4), output_size=(9, 9))
    with pytest.raises(TypeError, match="transposed"):
        nn.Conv2d(1, 1, 3).window(output_size=(3, 3))
    with pytest.raises(ValueError, match="depends on the input size"):
        nn.Conv2d(1, 1, 3, stride=2, padding="same").window()
    with pytest.raises(ValueError, match="padding should be at most half"):
        nn.MaxPool2d(2, padding=2).output_shape((1, 1, 8, 8))
    with pytest.raises(ValueError, match="entries"):
        nn.MaxPool2d(2).output_shape((8,))
    with pytest.raises(ValueError, match="does not multiply"):
        nn.Unflatten(1, (3, 3)).output_shape((2, 8))
    with pytest.raises(ValueError, match="input features"):
        nn.Linear(4, 2).output_shape((2, 5))


# ------------------------------------------------------------------ window() fields

WINDOWS = [
    ("conv", nn.Conv2d(1, 1, (3, 5), stride=(2, 1), padding=(1, 2), dilation=(1, 2)),
     dict(kernel=(3, 5), stride=(2, 1), dilation=(1, 2), pads=((1, 1), (2, 2)),
          transposed=False)),
    ("conv-same-s1", nn.Conv1d(1, 1, 4, padding="same"),
     dict(kernel=(4,), pads=((1, 2),))),
    ("conv-causal", nn.Conv1d(1, 1, 3, padding="causal", dilation=2), dict(pads=((4, 0),))),
    ("convT", nn.ConvTranspose2d(1, 1, 4, 2, 1, output_padding=1),
     dict(kernel=(4, 4), stride=(2, 2), pads=((1, 1), (1, 1)), transposed=True,
          output_padding=(1, 1))),
    ("lazy-convT", nn.LazyConvTranspose1d(2, 3, stride=2, padding=1),
     dict(kernel=(3,), stride=(2,), transposed=True)),
    ("gated", nn.GatedConv1d(1, 2, 5, dilation=2), dict(kernel=(5,), dilation=(2,))),
    ("maxpool", nn.MaxPool2d(3, 2, 1, dilation=2, ceil_mode=True),
     dict(kernel=(3, 3), stride=(2, 2), dilation=(2, 2), pads=((1, 1), (1, 1)),
          ceil_mode=True, transposed=False)),
    ("maxpool-default-stride", nn.MaxPool1d(3), dict(stride=(3,))),
    ("avgpool1d", nn.AvgPool1d(4, 2, 1), dict(kernel=(4,), stride=(2,), pads=((1, 1),))),
    ("lppool", nn.LPPool3d(2, 2), dict(kernel=(2, 2, 2), stride=(2, 2, 2),
                                       pads=((0, 0),) * 3)),
    ("unpool", nn.MaxUnpool2d(2, padding=1), dict(kernel=(2, 2), stride=(2, 2),
                                                  pads=((1, 1), (1, 1)), transposed=True)),
    ("pad", nn.ZeroPad2d((1, 2, 3, 4)), dict(kernel=(1, 1), stride=(1, 1),
                                             pads=((3, 4), (1, 2)))),
    ("unfold", nn.Unfold(3, 2, 1, 2), dict(kernel=(3, 3), dilation=(2, 2), stride=(2, 2),
                                           pads=((1, 1), (1, 1)), transposed=False)),
    ("fold", nn.Fold((5,), 2), dict(kernel=(2,), transposed=True)),
    ("sphereconv", SphereConv2d(1, 1, 3, stride=2), dict(kernel=(3, 3), stride=(2, 2),
                                                         sphere=True, pads=((0.5, 0.5),) * 2)),
    ("spherepool", SpherePool2d(2), dict(kernel=(2, 2), stride=(2, 2), sphere=True)),
]


@pytest.mark.parametrize("m,fields", [w[1:] for w in WINDOWS], ids=[w[0] for w in WINDOWS])
def test_window_fields(m, fields):
    w = m.window()
    assert isinstance(w, Window)
    for k, v in fields.items():
        assert getattr(w, k) == v, (k, getattr(w, k), v)


@pytest.mark.parametrize("m", [nn.ReLU(), nn.Linear(3, 2), nn.AdaptiveAvgPool2d(2),
                               nn.GlobalAvgPool2d(), nn.Upsample(scale_factor=2), nn.Flatten(),
                               nn.PixelShuffle(2), MeshConv(1, 1, 1), nn.Sequential()],
                         ids=lambda m: type(m).__name__)
def test_layers_without_a_window(m):
    assert m.window() is None


def test_window_arithmetic_and_validation():
    assert nn.Window is Window  # public, for users' own windowed layers
    w = Window((3,), 2, 1, 1)
    assert w.pads == ((1, 1),) and w.output_padding == (0,) and w.output_size((8,)) == (4,)
    assert Window((3, 3), 1, 2, 0).extent() == (5, 5)
    assert Window((2,), 2, 1, 0, ceil_mode=True).output_size((5,)) == (3,)
    assert Window((3,), 2, 1, 1, transposed=True, output_padding=(1,)).output_size((4,)) == (8,)
    with pytest.raises(ValueError, match="one entry per axis"):
        Window((3, 3), (1, 2, 3), 1, 0)
    # a frozen dataclass: a description, not a setting to change
    with pytest.raises(AttributeError):
        w.kernel = (5,)
    fr = nn.FractionalMaxPool2d(3, output_size=(4, 5))
    assert fr.window() is None
    assert fr.window((1, 1, 10, 13)).stride == (7 / 3, 10 / 4)
    assert window_of(nn.Conv2d(1, 1, 3, stride=2, padding="same")) is None


def test_default_output_shape_and_composites():
    assert nn.Dropout().output_shape((2, 3)) == (2, 3)
    assert has_own_output_shape(nn.ReLU()) and has_own_output_shape(nn.GatedConv2d(1, 1, 3))
    assert not has_own_output_shape(nn.Sequential(nn.ReLU()))


# ------------------------------------------------------------------ the tools read the protocol

class Blur(nn.Module):
    """A user's layer: a fixed k x k box blur with a stride, under a name no tool knows."""

    def __init__(self, k, stride):
        super().__init__()
        self.k, self.s = k, stride

    def forward(self, x):
        return nn.functional.avg_pool2d(x, self.k, self.s)

    def window(self, input_shape=None):
        return Window((self.k, self.k), self.s, 1, 0)

    def output_shape(self, input_shape):
        return tuple(input_shape[:-2]) + self.window().output_size(input_shape[-2:])


class Spread(nn.Module):
    """A user's upsampler: each input spreads over a 3-wide window at stride 2 (transposed)."""

    def forward(self, x):
        w = convnp.ones(x.shape[1], 1, 3, 3)
        return nn.functional.conv_transpose2d(x, w, stride=2, padding=1, groups=x.shape[1])

    def window(self, input_shape=None):
        return Window((3, 3), 2, 1, 1, transposed=True)

    def output_shape(self, input_shape):
        return tuple(input_shape[:-2]) + self.window().output_size(input_shape[-2:])


def _support(net, shape, unit):
    x = convnp.ones((1,) + shape, requires_grad=True)
    y = net(x)
    (g,) = convnp.autograd.grad(y[(0, 0) + tuple(unit)], x)
    nz = np.argwhere(g.numpy()[0, 0] != 0)
    return tuple(slice(int(a), int(b) + 1) for a, b in zip(nz.min(0), nz.max(0)))


@pytest.mark.parametrize("build,shape,unit", [
    (lambda: nn.Sequential(Blur(3, 2), nn.Conv2d(1, 1, 3)), (1, 13, 11), (1, 2)),
    (lambda: nn.Sequential(Blur(2, 1), nn.Conv2d(1, 1, 3, dilation=2), Blur(3, 3)),
     (1, 14, 12), (1, 1)),
    (lambda: nn.Sequential(nn.ZeroPad2d((2, 0, 1, 1)), nn.Conv2d(1, 1, 3)), (1, 6, 6), (0, 0)),
], ids=["blur", "blur-dilated-blur", "pad-layer"])
def test_custom_window_layers_in_receptive_field(build, shape, unit):
    net = build()
    for p in net.parameters():
        p.data[...] = 1.0
    s = summary(net, shape)
    assert s.mode == "shape" and s.error is None
    assert s.output_shape == tuple(net(convnp.zeros((1,) + shape)).shape[1:])
    assert receptive_field(net, shape, unit) == _support(net, shape, unit)


@pytest.mark.parametrize("mine,builtin", [
    (lambda: Blur(2, 2), lambda: nn.AvgPool2d(2)),
    (lambda: Spread(), lambda: nn.ConvTranspose2d(1, 1, 3, 2, 1, bias=False)),
], ids=["blur-as-avgpool", "spread-as-convT"])
def test_custom_layer_rows_match_a_builtin_with_the_same_window(mine, builtin):
    def rows(layer):
        net = nn.Sequential(nn.Conv2d(1, 1, 3, stride=2), layer, nn.Conv2d(1, 1, 3))
        return summary(net, (1, 17, 16)).rows

    a, b = rows(mine()), rows(builtin())
    assert [(r.output_shape, r.rf, r.jump, r.start) for r in a] == \
        [(r.output_shape, r.rf, r.jump, r.start) for r in b]
    assert a[1].type == type(mine()).__name__ and a[1].jump == b[1].jump


def test_summary_shape_and_trace_modes_agree():
    net = nn.Sequential(nn.ReflectionPad2d(1), nn.Conv2d(1, 2, 3, stride=2),
                        nn.MaxPool2d(2, ceil_mode=True), nn.ConvTranspose2d(2, 2, 2, 2),
                        nn.MaxPool2d(3, 1, 1), nn.Unfold(2), nn.Flatten())
    a, b = summary(net, (1, 15, 13)), summary(net, (1, 15, 13), mode="trace")
    assert a.mode == "shape" and b.mode == "trace"
    assert [(r.output_shape, r.rf, r.jump, r.start, r.macs) for r in a.rows] == \
        [(r.output_shape, r.rf, r.jump, r.start, r.macs) for r in b.rows]
