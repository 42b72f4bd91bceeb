"""Blocks and encoder-decoder networks (issue 7): each block against the same composition built
from torch layers (a torch twin with identical attribute names, so the state_dict moves as is)."""

import numpy as np
import pytest

import convnp
import convnp.nn as nn
from convnp.models.encoder_decoder import (
    ConvAutoencoder,
    DeepLabSmall,
    GatedInpaintNet,
    InceptionNet,
    SegNet,
    UNet,
)
from convnp.nn.modules.blocks import (
    ASPP,
    AddCoords,
    BasicBlock,
    Bottleneck,
    ConvNormAct,
    CoordConv2d,
    DoubleConv,
    EquirectConv2d,
    EquirectPad2d,
    InceptionBlock,
    UpBlock,
    coordinate_channels,
)
from tests.oracle import compare_module, rand

# ----------------------------------------------------------------------------- torch-free checks


def test_coordinate_channels_golden():
    c = coordinate_channels((3, 2), with_r=True, dtype=np.float64)
    assert c.shape == (3, 3, 2)
    np.testing.assert_array_equal(c[0], [[-1, -1], [0, 0], [1, 1]])    # row coordinate
    np.testing.assert_array_equal(c[1], [[-1, 1], [-1, 1], [-1, 1]])   # column coordinate
    np.testing.assert_allclose(c[2], np.sqrt(c[0] ** 2 + c[1] ** 2))


def test_addcoords_shape_and_error():
    x = convnp.randn(2, 3, 4, 5)
    assert AddCoords(2)(x).shape == (2, 5, 4, 5)
    assert AddCoords(2, with_r=True)(x).shape == (2, 6, 4, 5)
    with pytest.raises(ValueError, match="AddCoords"):
        AddCoords(3)(x)


def _roll(x, s):
    return convnp.tensor(np.roll(x.data, s, axis=-1))


@pytest.mark.parametrize("pole", ["pole", "replicate", "reflect", "zeros"])
def test_equirect_conv_exactly_equivariant_to_longitude_rolls(pole):
    convnp.manual_seed(0)
    conv = EquirectConv2d(2, 3, 3, pole=pole).double()
    x = convnp.randn(1, 2, 6, 8, dtype=convnp.float64)
    y = conv(x)
    assert y.shape == (1, 3, 6, 8)
    for s in range(1, 8):
        np.testing.assert_allclose(conv(_roll(x, s)).data, np.roll(y.data, s, -1), atol=1e-12)


def test_zero_padded_conv_is_not_roll_equivariant():
    convnp.manual_seed(0)
    conv = nn.Conv2d(2, 3, 3, padding=1).double()
    x = convnp.randn(1, 2, 6, 8, dtype=convnp.float64)
    err = np.abs(conv(_roll(x, 1)).data - np.roll(conv(x).data, 1, -1)).max()
    assert err > 1e-3


def test_pole_padding_golden():
    x = convnp.tensor(np.arange(8, dtype=np.float64).reshape(1, 1, 2, 4))
    p = EquirectPad2d((1, 1))(x).data[0, 0]
    # rows: across the north pole is row 0 turned by half a turn: [2, 3, 0, 1]
    np.testing.assert_array_equal(p[0, 1:-1], [2, 3, 0, 1])
    np.testing.assert_array_equal(p[-1, 1:-1], [6, 7, 4, 5])
    np.testing.assert_array_equal(p[1], [3, 0, 1, 2, 3, 0])  # circular in longitude
    with pytest.raises(ValueError, match="even width"):
        EquirectPad2d(1)(convnp.zeros(1, 1, 2, 3))


def test_unet_shapes_and_size_error():
    convnp.manual_seed(0)
    for mode in ("bilinear", "transpose"):
        net = UNet(1, 3, base_channels=4, depth=2, up_mode=mode)
        y = net(convnp.randn(2, 1, 12, 8))
        assert y.shape == (2, 3, 12, 8)
        assert net.output_shape((2, 1, 12, 8)) == (2, 3, 12, 8)
    with pytest.raises(ValueError, match="divisible by 4"):
        net(convnp.randn(1, 1, 10, 8))


def test_segnet_unpools_with_switches():
    convnp.manual_seed(0)
    net = SegNet(1, 4, widths=(4, 8))
    x = convnp.randn(2, 1, 8, 12, requires_grad=True)
    y = net(x)
    assert y.shape == (2, 4, 8, 12)
    y.sum().backward()
    assert x.grad is not None and np.isfinite(x.grad.data).all()


def test_other_networks_shapes():
    convnp.manual_seed(0)
    assert DeepLabSmall(1, 3, width=4)(convnp.randn(2, 1, 16, 16)).shape == (2, 3, 16, 16)
    img, mask = convnp.rand(2, 1, 8, 8), (convnp.rand(2, 1, 8, 8) > 0.5).float()
    for gated in (True, False):
        out = GatedInpaintNet(1, width=4, gated=gated)(img, mask)
        assert out.shape == (2, 1, 8, 8)
        keep = mask.data == 0  # known pixels are passed through
        np.testing.assert_allclose(out.data[keep], img.data[keep], atol=1e-6)
    assert InceptionNet(1, 10)(convnp.randn(2, 1, 28, 28)).shape == (2, 10)
    ae = ConvAutoencoder(1, embedding_dim=8, width=4, input_size=28)
    x = convnp.rand(3, 1, 28, 28)
    assert ae.encode(x).shape == (3, 8)
    y = ae(x)
    assert y.shape == (3, 1, 28, 28) and 0 <= y.data.min() and y.data.max() <= 1


def test_block_errors():
    with pytest.raises(ValueError, match="norm"):
        ConvNormAct(1, 2, norm="weird")
    with pytest.raises(ValueError, match="activation"):
        ConvNormAct(1, 2, activation="weird")
    with pytest.raises(ValueError, match="mode"):
        UpBlock(4, 2, mode="cubic")
    with pytest.raises(ValueError, match="skip"):
        UpBlock(4, 2, skip_channels=2)(convnp.randn(1, 4, 2, 2))


# ----------------------------------------------------------------------------- torch twins
torch = pytest.importorskip("torch")
tnn = torch.nn
tF = torch.nn.functional


class TConvNormAct(tnn.Module):
    def __init__(self, i, o, k=3, stride=1, dilation=1, norm=True, act=True):
        super().__init__()
        self.conv = tnn.Conv2d(i, o, k, stride=stride, padding=(k - 1) // 2 * dilation,
                               dilation=dilation, bias=not norm)
        self.norm = tnn.BatchNorm2d(o) if norm else None
        self.act = tnn.ReLU() if act else None

    def forward(self, x):
        x = self.conv(x)
        x = self.norm(x) if self.norm is not None else x
        return self.act(x) if self.act is not None else x


class TDoubleConv(tnn.Module):
    def __init__(self, i, o, pool=None):
        super().__init__()
        self.conv1, self.conv2 = TConvNormAct(i, o), TConvNormAct(o, o)
        self.pool = tnn.MaxPool2d(2) if pool == "max" else None

    def forward(self, x):
        x = self.conv2(self.conv1(x))
        return self.pool(x) if self.pool is not None else x


class TUpBlock(tnn.Module):
    def __init__(self, i, o, skip, mode):
        super().__init__()
        if mode == "transpose":
            up = i // 2 if skip else i
            self.up = tnn.ConvTranspose2d(i, up, 2, stride=2)
        else:
            up = i
            self.up = tnn.Upsample(scale_factor=2, mode="bilinear", align_corners=False)
        self.skip = skip
        self.conv = TDoubleConv(up + skip, o)

    def forward(self, x, skip=None):
        x = self.up(x)
        if self.skip:
            x = torch.cat([skip, x], 1)
        return self.conv(x)


class TInception(tnn.Module):
    def __init__(self, i, c1, c3r, c3, c5r, c5, pp):
        super().__init__()
        self.branch1 = TConvNormAct(i, c1, 1)
        self.branch2 = tnn.Sequential(TConvNormAct(i, c3r, 1), TConvNormAct(c3r, c3, 3))
        self.branch3 = tnn.Sequential(TConvNormAct(i, c5r, 1), TConvNormAct(c5r, c5, 5))
        self.branch4 = tnn.Sequential(tnn.MaxPool2d(3, 1, 1), TConvNormAct(i, pp, 1))

    def forward(self, x):
        return torch.cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], 1)


class TASPPPooling(tnn.Module):
    def __init__(self, i, o):
        super().__init__()
        self.pool = tnn.AdaptiveAvgPool2d(1)
        self.conv = tnn.Conv2d(i, o, 1, bias=False)
        self.bn = tnn.BatchNorm2d(o)
        self.relu = tnn.ReLU()

    def forward(self, x):
        y = self.relu(self.bn(self.conv(self.pool(x))))
        return tF.interpolate(y, size=x.shape[-2:], mode="bilinear", align_corners=False)


class TASPP(tnn.Module):
    def __init__(self, i, o, rates):
        super().__init__()
        b = [TConvNormAct(i, o, 1)] + [TConvNormAct(i, o, 3, dilation=r) for r in rates]
        b.append(TASPPPooling(i, o))
        self.convs = tnn.ModuleList(b)
        self.project = tnn.Sequential(tnn.Conv2d(len(b) * o, o, 1, bias=False),
                                      tnn.BatchNorm2d(o), tnn.ReLU(), tnn.Dropout(0.0))

    def forward(self, x):
        return self.project(torch.cat([c(x) for c in self.convs], 1))


class TBasicBlock(tnn.Module):
    def __init__(self, inp, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = tnn.Conv2d(inp, planes, 3, stride, 1, bias=False)
        self.bn1 = tnn.BatchNorm2d(planes)
        self.relu = tnn.ReLU()
        self.conv2 = tnn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = tnn.BatchNorm2d(planes)
        self.downsample = downsample

    def forward(self, x):
        idt = x if self.downsample is None else self.downsample(x)
        out = self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x)))))
        return self.relu(out + idt)


class TBottleneck(tnn.Module):
    def __init__(self, inp, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = tnn.Conv2d(inp, planes, 1, bias=False)
        self.bn1 = tnn.BatchNorm2d(planes)
        self.conv2 = tnn.Conv2d(planes, planes, 3, stride, 1, bias=False)
        self.bn2 = tnn.BatchNorm2d(planes)
        self.conv3 = tnn.Conv2d(planes, planes * 4, 1, bias=False)
        self.bn3 = tnn.BatchNorm2d(planes * 4)
        self.relu = tnn.ReLU()
        self.downsample = downsample

    def forward(self, x):
        idt = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        return self.relu(self.bn3(self.conv3(out)) + idt)


class TCoordConv(tnn.Module):
    def __init__(self, i, o, k, with_r):
        super().__init__()
        self.with_r = with_r
        self.conv = tnn.Conv2d(i + 2 + with_r, o, k, padding=1)

    def forward(self, x):
        c = torch.tensor(coordinate_channels(x.shape[2:], self.with_r, np.float64),
                         dtype=x.dtype).expand(x.shape[0], -1, -1, -1)
        return self.conv(torch.cat([x, c], 1))


def _seeded(fn):
    torch.manual_seed(0)
    convnp.manual_seed(0)
    return fn()


CASES = [
    ("convnormact", lambda: ConvNormAct(3, 4, 3), lambda: TConvNormAct(3, 4, 3), [(2, 3, 6, 5)]),
    ("convnormact-s2-nonorm", lambda: ConvNormAct(3, 4, 3, stride=2, norm=None),
     lambda: TConvNormAct(3, 4, 3, stride=2, norm=False), [(2, 3, 7, 6)]),
    ("doubleconv-maxpool", lambda: DoubleConv(2, 4, pool="max"),
     lambda: TDoubleConv(2, 4, pool="max"), [(2, 2, 6, 8)]),
    ("upblock-bilinear-skip", lambda: UpBlock(4, 3, skip_channels=2),
     lambda: TUpBlock(4, 3, 2, "bilinear"), [(2, 4, 3, 4), (2, 2, 6, 8)]),
    ("upblock-transpose-skip", lambda: UpBlock(4, 3, skip_channels=2, mode="transpose"),
     lambda: TUpBlock(4, 3, 2, "transpose"), [(2, 4, 3, 4), (2, 2, 6, 8)]),
    ("inception", lambda: InceptionBlock(3, 2, 2, 3, 1, 2, 2),
     lambda: TInception(3, 2, 2, 3, 1, 2, 2), [(2, 3, 6, 6)]),
    ("aspp", lambda: ASPP(3, 4, (1, 2), dropout=0.0), lambda: TASPP(3, 4, (1, 2)),
     [(2, 3, 6, 6)]),
    ("basicblock-s2-down",
     lambda: BasicBlock(3, 4, 2, nn.Sequential(nn.Conv2d(3, 4, 1, 2, bias=False),
                                               nn.BatchNorm2d(4))),
     lambda: TBasicBlock(3, 4, 2, tnn.Sequential(tnn.Conv2d(3, 4, 1, 2, bias=False),
                                                 tnn.BatchNorm2d(4))), [(2, 3, 6, 6)]),
    ("bottleneck", lambda: Bottleneck(8, 2), lambda: TBottleneck(8, 2), [(2, 8, 5, 5)]),
    ("coordconv-r", lambda: CoordConv2d(2, 3, 3, padding=1, with_r=True),
     lambda: TCoordConv(2, 3, 3, True), [(2, 2, 5, 4)]),
]


@pytest.mark.parametrize("name,make,tmake,shapes", CASES, ids=[c[0] for c in CASES])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_block_matches_torch_composition(name, make, tmake, shapes, dtype):
    c_mod, t_mod = _seeded(make), _seeded(tmake)
    assert list(c_mod.state_dict()) == list(t_mod.state_dict())  # weights move both ways
    xs = [rand(*s, seed=i) for i, s in enumerate(shapes)]
    kw = {} if dtype == np.float64 else dict(rtol=2e-4, atol=2e-5)
    compare_module(c_mod, t_mod, *xs, dtype=dtype, **kw)
