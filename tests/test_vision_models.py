"""convnp.vision.models against torch twins written here from torchvision's documented
architectures: identical state_dict keys and shapes, and the same outputs and gradients once
the twin's weights are loaded."""

import numpy as np
import pytest
import torch
import torch.nn as tnn

import convnp
from convnp.vision import models


# ------------------------------------------------------------------ torch twins
class TBasic(tnn.Module):
    expansion = 1

    def __init__(self, cin, planes, stride=1, down=None):
        super().__init__()
        self.conv1 = tnn.Conv2d(cin, planes, 3, stride, 1, bias=False)
        self.bn1 = tnn.BatchNorm2d(planes)
        self.relu = tnn.ReLU()
        self.conv2 = tnn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = tnn.BatchNorm2d(planes)
        self.downsample = down

    def forward(self, x):
        idt = x if self.downsample is None else self.downsample(x)
        return self.relu(self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x))))) + idt)


class TBottle(tnn.Module):
    expansion = 4

    def __init__(self, cin, planes, stride=1, down=None):
        super().__init__()
        self.conv1 = tnn.Conv2d(cin, planes, 1, bias=False)
        self.bn1 = tnn.BatchNorm2d(planes)
        self.conv2 = tnn.Conv2d(planes, planes, 3, stride, 1, bias=False)
        self.bn2 = tnn.BatchNorm2d(planes)
        self.conv3 = tnn.Conv2d(planes, planes * 4, 1, bias=False)
        self.bn3 = tnn.BatchNorm2d(planes * 4)
        self.relu = tnn.ReLU()
        self.downsample = down

    def forward(self, x):
        idt = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        return self.relu(self.bn3(self.conv3(out)) + idt)


class TResNet(tnn.Module):
    def __init__(self, block, layers, num_classes=1000):
        super().__init__()
        self.inplanes = 64
        self.conv1 = tnn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = tnn.BatchNorm2d(64)
        self.relu = tnn.ReLU()
        self.maxpool = tnn.MaxPool2d(3, 2, 1)
        for i, (planes, n) in enumerate(zip((64, 128, 256, 512), layers)):
            setattr(self, f"layer{i + 1}", self._layer(block, planes, n, 1 if i == 0 else 2))
        self.avgpool = tnn.AdaptiveAvgPool2d((1, 1))
        self.fc = tnn.Linear(512 * block.expansion, num_classes)

    def _layer(self, block, planes, n, stride):
        down = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            down = tnn.Sequential(tnn.Conv2d(self.inplanes, planes * block.expansion, 1, stride,
                                             bias=False), tnn.BatchNorm2d(planes * block.expansion))
        blocks = [block(self.inplanes, planes, stride, down)]
        self.inplanes = planes * block.expansion
        blocks += [block(self.inplanes, planes) for _ in range(1, n)]
        return tnn.Sequential(*blocks)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def tcna(cin, cout, k=3, s=1, groups=1):
    return tnn.Sequential(tnn.Conv2d(cin, cout, k, s, (k - 1) // 2, groups=groups, bias=False),
                          tnn.BatchNorm2d(cout), tnn.ReLU6())


class TInvRes(tnn.Module):
    def __init__(self, cin, cout, s, t):
        super().__init__()
        hid = cin * t
        layers = [tcna(cin, hid, 1)] if t != 1 else []
        layers += [tcna(hid, hid, 3, s, hid), tnn.Conv2d(hid, cout, 1, bias=False),
                   tnn.BatchNorm2d(cout)]
        self.conv = tnn.Sequential(*layers)
        self.res = s == 1 and cin == cout

    def forward(self, x):
        return x + self.conv(x) if self.res else self.conv(x)


class TMobileNetV2(tnn.Module):
    def __init__(self, num_classes=1000):
        super().__init__()
        feats, cin = [tcna(3, 32, 3, 2)], 32
        for t, c, n, s in ([1, 16, 1, 1], [6, 24, 2, 2], [6, 32, 3, 2], [6, 64, 4, 2],
                           [6, 96, 3, 1], [6, 160, 3, 2], [6, 320, 1, 1]):
            for i in range(n):
                feats.append(TInvRes(cin, c, s if i == 0 else 1, t))
                cin = c
        feats.append(tcna(cin, 1280, 1))
        self.features = tnn.Sequential(*feats)
        self.classifier = tnn.Sequential(tnn.Dropout(0.2), tnn.Linear(1280, num_classes))

    def forward(self, x):
        x = tnn.functional.adaptive_avg_pool2d(self.features(x), 1)
        return self.classifier(torch.flatten(x, 1))


def same_keys_and_shapes(c_model, t_model):
    c_sd, t_sd = c_model.state_dict(), t_model.state_dict()
    assert list(c_sd) == list(t_sd)
    for k in t_sd:
        assert tuple(c_sd[k].shape) == tuple(t_sd[k].shape), k


def randomise_bn(t_model, seed=0):
    """Non-trivial running statistics so eval mode tests them."""
    g = torch.Generator().manual_seed(seed)
    for m in t_model.modules():
        if isinstance(m, tnn.BatchNorm2d):
            m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.1)
            m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
            m.weight.data.copy_(torch.rand(m.num_features, generator=g) + 0.5)
            m.bias.data.copy_(torch.randn(m.num_features, generator=g) * 0.1)


def check_parity(c_model, t_model, shape, train, rtol=1e-4, atol=1e-4):
    randomise_bn(t_model)
    c_model.load_state_dict(t_model.state_dict())
    c_model.train(train)
    t_model.train(train)
    x = np.random.default_rng(0).normal(size=shape).astype(np.float32)
    cx = convnp.tensor(x, requires_grad=True)
    tx = torch.tensor(x, requires_grad=True)
    c_out, t_out = c_model(cx), t_model(tx)
    np.testing.assert_allclose(c_out.numpy(), t_out.detach().numpy(), rtol=rtol, atol=atol)
    g = np.random.default_rng(1).normal(size=c_out.shape).astype(np.float32)
    c_out.backward(convnp.tensor(g))
    t_out.backward(torch.tensor(g))
    np.testing.assert_allclose(cx.grad.numpy(), tx.grad.numpy(), rtol=rtol, atol=atol)
    cw, tw = dict(c_model.named_parameters()), dict(t_model.named_parameters())
    for k in ("conv1.weight", "features.0.0.weight", "fc.weight", "classifier.1.weight"):
        if k in tw:
            np.testing.assert_allclose(cw[k].grad.numpy(), tw[k].grad.numpy(), rtol=rtol,
                                       atol=atol * 10)


# ------------------------------------------------------------------ tests
def test_resnet18_matches_torch_twin():
    torch.manual_seed(0)
    t_model = TResNet(TBasic, [2, 2, 2, 2], num_classes=10)
    c_model = models.resnet18(num_classes=10)
    same_keys_and_shapes(c_model, t_model)
    check_parity(c_model, t_model, (2, 3, 32, 32), train=False)
    # training mode: batch statistics; 64x64 so layer4's BN sees 8 values per channel, not 2
    check_parity(c_model, t_model, (2, 3, 64, 64), train=True)
    np.testing.assert_allclose(c_model.layer4[1].bn2.running_mean.numpy(),
                               t_model.layer4[1].bn2.running_mean.numpy(), rtol=1e-4, atol=1e-5)


def test_resnet_documented_keys_and_counts():
    m = models.resnet18()
    sd = m.state_dict()
    assert len(sd) == 122 and sum(p.numel() for p in m.parameters()) == 11_689_512
    assert tuple(sd["layer2.0.downsample.0.weight"].shape) == (128, 64, 1, 1)
    assert tuple(sd["layer4.1.bn2.running_var"].shape) == (512,)
    assert tuple(sd["fc.weight"].shape) == (1000, 512) and "bn1.num_batches_tracked" in sd
    # zero_init_residual zeroes each block's last BN weight
    z = models.resnet18(zero_init_residual=True)
    assert float(abs(z.layer1[0].bn2.weight).sum()) == 0
    assert isinstance(models.resnet34().layer3[5], models.BasicBlock)


def test_resnet50_keys_match_torch_twin():
    with torch.device("meta"):
        t_model = TResNet(TBottle, [3, 4, 6, 3])
    c_model = models.resnet50()
    same_keys_and_shapes(c_model, t_model)
    assert sum(p.numel() for p in c_model.parameters()) == 25_557_032


def test_mobilenet_v2_matches_torch_twin():
    torch.manual_seed(0)
    t_model = TMobileNetV2(num_classes=10)
    c_model = models.mobilenet_v2(num_classes=10)
    same_keys_and_shapes(c_model, t_model)
    check_parity(c_model, t_model, (1, 3, 32, 32), train=False)


def test_vgg_and_alexnet_structure():
    # features of every VGG config, with and without batch norm, as torchvision's make_layers
    for cfg, bn in (("A", False), ("E", True)):
        feats = models.vgg.make_layers(models.vgg.cfgs[cfg], batch_norm=bn)
        layers, cin = [], 3
        for v in models.vgg.cfgs[cfg]:
            if v == "M":
                layers.append(tnn.MaxPool2d(2, 2))
                continue
            layers += [tnn.Conv2d(cin, v, 3, padding=1)] + ([tnn.BatchNorm2d(v)] if bn else [])
            layers.append(tnn.ReLU())
            cin = v
        with torch.device("meta"):
            twin = tnn.Sequential(*layers)
        same_keys_and_shapes(feats, twin)
    torch.manual_seed(0)
    feats = models.vgg.make_layers([8, "M", 16, 16, "M"], batch_norm=True)
    twin = tnn.Sequential(tnn.Conv2d(3, 8, 3, padding=1), tnn.BatchNorm2d(8), tnn.ReLU(),
                          tnn.MaxPool2d(2, 2), tnn.Conv2d(8, 16, 3, padding=1),
                          tnn.BatchNorm2d(16), tnn.ReLU(), tnn.Conv2d(16, 16, 3, padding=1),
                          tnn.BatchNorm2d(16), tnn.ReLU(), tnn.MaxPool2d(2, 2))
    check_parity(feats, twin, (2, 3, 12, 12), train=True)
    a = models.alexnet(num_classes=10)
    sd = a.state_dict()
    assert [k for k in sd if k.endswith("weight")] == [
        "features.0.weight", "features.3.weight", "features.6.weight", "features.8.weight",
        "features.10.weight", "classifier.1.weight", "classifier.4.weight", "classifier.6.weight"]
    assert tuple(sd["classifier.1.weight"].shape) == (4096, 9216)
    a.eval()
    assert a(convnp.randn(1, 3, 63, 63)).shape == (1, 10)


def test_weights_argument():
    with pytest.raises(ValueError, match="weights"):
        models.resnet18(weights="IMAGENET_V9")
    with pytest.warns(UserWarning, match="'pretrained' is deprecated"):
        m = models.resnet18(pretrained=False, num_classes=3)
    assert m.fc.out_features == 3
    w = models.ResNet18_Weights.DEFAULT
    assert w is models.ResNet18_Weights.IMAGENET1K_V1 and w.url.endswith("resnet18-f37072fd.pth")
    assert models.ResNet18_Weights.verify("ResNet18_Weights.IMAGENET1K_V1") is w
    assert models.get_weight("ResNet50_Weights.DEFAULT").url.endswith("resnet50-11ad3fa6.pth")
    assert models.get_model_weights("resnet18") is models.ResNet18_Weights
    with pytest.raises(ValueError, match="num_classes"):
        models.resnet18(weights=w, num_classes=10)  # the checkpoint fixes 1000 classes
    assert models.get_model("resnet18", num_classes=3).fc.out_features == 3
    assert {"resnet18", "vgg16_bn", "alexnet", "mobilenet_v2"} <= set(models.list_models())
    with pytest.raises(ValueError, match="unknown model"):
        models.get_model("resnet7")
    with pytest.raises(ValueError, match="groups=1"):
        models.BasicBlock(8, 8, groups=2)


def test_inference_preset():
    from PIL import Image

    preset = models.ResNet18_Weights.DEFAULT.transforms()
    a = np.random.default_rng(0).integers(0, 256, (300, 400, 3), dtype=np.uint8)
    x = preset(Image.fromarray(a))
    assert x.shape == (3, 224, 224) and x.dtype == np.float32
    # the same steps by hand: PIL resize of the shorter side to 256, centre crop, scale, normalise
    r = np.asarray(Image.fromarray(a).resize((341, 256), Image.BILINEAR), np.float32)
    top, left = int(round((256 - 224) / 2)), int(round((341 - 224) / 2))
    r = r[top:top + 224, left:left + 224].transpose(2, 0, 1) / 255
    want = (r - np.float32([0.485, 0.456, 0.406])[:, None, None]) / np.float32(
        [0.229, 0.224, 0.225])[:, None, None]
    np.testing.assert_allclose(x.numpy(), want, rtol=1e-5, atol=1e-5)
