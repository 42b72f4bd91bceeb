"""VGG (Simonyan & Zisserman, 2014) and AlexNet (Krizhevsky et al., 2012) with torchvision's
definitions, attribute names and initialisation."""

from __future__ import annotations

from functools import partial

import convnp.nn as nn
from convnp.vision.models._weights import imagenet_weights, model_builder, weights_enum

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


def _imagenet(name: str, file: str, num_params: int):
    """A ``*_Weights`` enum of one ImageNet checkpoint (its ``DEFAULT``)."""
    return weights_enum(name, __name__, "IMAGENET1K_V1",
                        IMAGENET1K_V1=imagenet_weights(file, num_params))


VGG11_Weights = _imagenet("VGG11_Weights", "vgg11-8a719046.pth", 132_863_336)
VGG11_BN_Weights = _imagenet("VGG11_BN_Weights", "vgg11_bn-6002323d.pth", 132_868_840)
VGG13_Weights = _imagenet("VGG13_Weights", "vgg13-19584684.pth", 133_047_848)
VGG13_BN_Weights = _imagenet("VGG13_BN_Weights", "vgg13_bn-abd245e5.pth", 133_053_736)
VGG16_Weights = _imagenet("VGG16_Weights", "vgg16-397923af.pth", 138_357_544)
VGG16_BN_Weights = _imagenet("VGG16_BN_Weights", "vgg16_bn-6c64b313.pth", 138_365_992)
VGG19_Weights = _imagenet("VGG19_Weights", "vgg19-dcbb9e9d.pth", 143_667_240)
VGG19_BN_Weights = _imagenet("VGG19_BN_Weights", "vgg19_bn-c79401a0.pth", 143_678_248)


def _vgg(cfg: str, batch_norm: bool, weights, **kwargs) -> VGG:
    if weights is not None:
        kwargs["init_weights"] = False
    return VGG(make_layers(cfgs[cfg], batch_norm), **kwargs)


def _builder(name: str, cfg: str, batch_norm: bool, weights, doc: str):
    """torchvision's ``name(*, weights=None, progress=True, **kwargs)`` building a VGG."""
    return model_builder(name, partial(_vgg, cfg, batch_norm), weights, doc, __name__, VGG)


# name, config, batch norm, weights enum, docstring
vgg11 = _builder("vgg11", "A", False, VGG11_Weights, "VGG-11 (config A).")
vgg11_bn = _builder("vgg11_bn", "A", True, VGG11_BN_Weights, "VGG-11 with batch norm.")
vgg13 = _builder("vgg13", "B", False, VGG13_Weights, "VGG-13 (config B).")
vgg13_bn = _builder("vgg13_bn", "B", True, VGG13_BN_Weights, "VGG-13 with batch norm.")
vgg16 = _builder("vgg16", "D", False, VGG16_Weights,
                 "VGG-16 (config D); 138,357,544 parameters for 1000 classes.")
vgg16_bn = _builder("vgg16_bn", "D", True, VGG16_BN_Weights, "VGG-16 with batch norm.")
vgg19 = _builder("vgg19", "E", False, VGG19_Weights, "VGG-19 (config E).")
vgg19_bn = _builder("vgg19_bn", "E", True, VGG19_BN_Weights, "VGG-19 with batch norm.")


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


AlexNet_Weights = _imagenet("AlexNet_Weights", "alexnet-owt-7be5be79.pth", 61_100_840)
alexnet = model_builder("alexnet", lambda w, **kw: AlexNet(**kw), AlexNet_Weights,
                        "AlexNet; 61,100,840 parameters for 1000 classes.", __name__, AlexNet)
