"""VGG (Simonyan & Zisserman, 2014) and AlexNet (Krizhevsky et al., 2012) with torchvision's
definitions, attribute names and initialisation."""

from __future__ import annotations

import convnp.nn as nn
from convnp.vision.models._api import Weights, _build, _legacy, _resolve

__all__ = ["VGG", "vgg11", "vgg11_bn", "vgg13", "vgg13_bn", "vgg16", "vgg16_bn", "vgg19",
           "vgg19_bn", "make_layers", "cfgs", "AlexNet", "alexnet", "VGG11_Weights",
           "VGG11_BN_Weights", "VGG13_Weights", "VGG13_BN_Weights", "VGG16_Weights",
           "VGG16_BN_Weights", "VGG19_Weights", "VGG19_BN_Weights", "AlexNet_Weights"]


class VGG(nn.Module):
    """torchvision's VGG: ``features`` (convs + max pools), ``avgpool`` to 7x7, ``classifier``
    (4096-4096-num_classes with ReLU and dropout).

    Shape: ``(N, 3, H, W) -> (N, num_classes)`` (H, W >= 32).
    """

    def __init__(self, features: nn.Module, num_classes: int = 1000, init_weights: bool = True,
                 dropout: float = 0.5) -> None:
        super().__init__()
        self.features = features
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        self.classifier = nn.Sequential(
            nn.Linear(512 * 7 * 7, 4096), nn.ReLU(True), nn.Dropout(p=dropout),
            nn.Linear(4096, 4096), nn.ReLU(True), nn.Dropout(p=dropout),
            nn.Linear(4096, num_classes))
        if init_weights:
            for m in self.modules():
                if isinstance(m, nn.Conv2d):
                    nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                    if m.bias is not None:
                        nn.init.constant_(m.bias, 0)
                elif isinstance(m, nn.BatchNorm2d):
                    nn.init.constant_(m.weight, 1)
                    nn.init.constant_(m.bias, 0)
                elif isinstance(m, nn.Linear):
                    nn.init.normal_(m.weight, 0, 0.01)
                    nn.init.constant_(m.bias, 0)

    def forward(self, x):
        x = self.avgpool(self.features(x))
        return self.classifier(x.flatten(1))


def make_layers(cfg: list, batch_norm: bool = False) -> nn.Sequential:
    """VGG's feature extractor from a config: ints are 3x3 conv widths, 'M' a 2x2 max pool."""
    layers: list[nn.Module] = []
    in_channels = 3
    for v in cfg:
        if v == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
            continue
        conv = nn.Conv2d(in_channels, v, kernel_size=3, padding=1)
        layers += [conv, nn.BatchNorm2d(v), nn.ReLU(inplace=True)] if batch_norm else \
            [conv, nn.ReLU(inplace=True)]
        in_channels = v
    return nn.Sequential(*layers)


cfgs = {
    "A": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "B": [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "D": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
    "E": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512,
          512, 512, "M"],
}

_TV = "https://download.pytorch.org/models/"


class VGG11_Weights(Weights):
    IMAGENET1K_V1 = _TV + "vgg11-8a719046.pth"
    DEFAULT = IMAGENET1K_V1


class VGG11_BN_Weights(Weights):
    IMAGENET1K_V1 = _TV + "vgg11_bn-6002323d.pth"
    DEFAULT = IMAGENET1K_V1


class VGG13_Weights(Weights):
    IMAGENET1K_V1 = _TV + "vgg13-19584684.pth"
    DEFAULT = IMAGENET1K_V1


class VGG13_BN_Weights(Weights):
    IMAGENET1K_V1 = _TV + "vgg13_bn-abd245e5.pth"
    DEFAULT = IMAGENET1K_V1


class VGG16_Weights(Weights):
    IMAGENET1K_V1 = _TV + "vgg16-397923af.pth"
    DEFAULT = IMAGENET1K_V1


class VGG16_BN_Weights(Weights):
    IMAGENET1K_V1 = _TV + "vgg16_bn-6c64b313.pth"
    DEFAULT = IMAGENET1K_V1


class VGG19_Weights(Weights):
    IMAGENET1K_V1 = _TV + "vgg19-dcbb9e9d.pth"
    DEFAULT = IMAGENET1K_V1


class VGG19_BN_Weights(Weights):
    IMAGENET1K_V1 = _TV + "vgg19_bn-c79401a0.pth"
    DEFAULT = IMAGENET1K_V1


def _vgg(fn, cfg, batch_norm, weights, enum, progress, kwargs) -> VGG:
    _legacy(kwargs, fn)
    weights = _resolve(weights, enum, fn)
    if weights is not None:
        kwargs["init_weights"] = False
    return _build(VGG(make_layers(cfgs[cfg], batch_norm), **kwargs), weights, progress)


def vgg11(*, weights=None, progress: bool = True, **kwargs) -> VGG:
    """VGG-11 (config A)."""
    return _vgg("vgg11", "A", False, weights, VGG11_Weights, progress, kwargs)


def vgg11_bn(*, weights=None, progress: bool = True, **kwargs) -> VGG:
    """VGG-11 with batch norm."""
    return _vgg("vgg11_bn", "A", True, weights, VGG11_BN_Weights, progress, kwargs)


def vgg13(*, weights=None, progress: bool = True, **kwargs) -> VGG:
    """VGG-13 (config B)."""
    return _vgg("vgg13", "B", False, weights, VGG13_Weights, progress, kwargs)


def vgg13_bn(*, weights=None, progress: bool = True, **kwargs) -> VGG:
    """VGG-13 with batch norm."""
    return _vgg("vgg13_bn", "B", True, weights, VGG13_BN_Weights, progress, kwargs)


def vgg16(*, weights=None, progress: bool = True, **kwargs) -> VGG:
    """VGG-16 (config D); 138,357,544 parameters for 1000 classes."""
    return _vgg("vgg16", "D", False, weights, VGG16_Weights, progress, kwargs)


def vgg16_bn(*, weights=None, progress: bool = True, **kwargs) -> VGG:
    """VGG-16 with batch norm."""
    return _vgg("vgg16_bn", "D", True, weights, VGG16_BN_Weights, progress, kwargs)


def vgg19(*, weights=None, progress: bool = True, **kwargs) -> VGG:
    """VGG-19 (config E)."""
    return _vgg("vgg19", "E", False, weights, VGG19_Weights, progress, kwargs)


def vgg19_bn(*, weights=None, progress: bool = True, **kwargs) -> VGG:
    """VGG-19 with batch norm."""
    return _vgg("vgg19_bn", "E", True, weights, VGG19_BN_Weights, progress, kwargs)


class AlexNet(nn.Module):
    """torchvision's AlexNet (the one-GPU variant): five convs, 6x6 adaptive average pool,
    classifier with dropout. Shape: ``(N, 3, H, W) -> (N, num_classes)`` (H, W >= 63)."""

    def __init__(self, num_classes: int = 1000, dropout: float = 0.5) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 64, kernel_size=11, stride=4, padding=2), nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(64, 192, kernel_size=5, padding=2), nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(192, 384, kernel_size=3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(384, 256, kernel_size=3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(256, 256, kernel_size=3, padding=1), nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2))
        self.avgpool = nn.AdaptiveAvgPool2d((6, 6))
        self.classifier = nn.Sequential(
            nn.Dropout(p=dropout), nn.Linear(256 * 6 * 6, 4096), nn.ReLU(inplace=True),
            nn.Dropout(p=dropout), nn.Linear(4096, 4096), nn.ReLU(inplace=True),
            nn.Linear(4096, num_classes))

    def forward(self, x):
        x = self.avgpool(self.features(x))
        return self.classifier(x.flatten(1))


class AlexNet_Weights(Weights):
    IMAGENET1K_V1 = _TV + "alexnet-owt-7be5be79.pth"
    DEFAULT = IMAGENET1K_V1


def alexnet(*, weights=None, progress: bool = True, **kwargs) -> AlexNet:
    """AlexNet; 61,100,840 parameters for 1000 classes."""
    _legacy(kwargs, "alexnet")
    weights = _resolve(weights, AlexNet_Weights, "alexnet")
    return _build(AlexNet(**kwargs), weights, progress)
