"""``convnp.vision.models``: torchvision's CNN classifiers under its names and state_dict keys.

    from convnp.vision import models
    net = models.resnet18(num_classes=10)             # weights=None: random init, as torchvision
    net.load_state_dict(convnp.load("resnet18-f37072fd.pth"))   # torchvision's checkpoint

``weights=`` takes the ``*_Weights`` enums (or their names, e.g. ``"DEFAULT"``); downloading goes
through ``convnp.hub`` where available, else the error names the file to fetch.
"""

from convnp.vision.models._api import Weights
from convnp.vision.models.mobilenetv2 import (
    InvertedResidual,
    MobileNet_V2_Weights,
    MobileNetV2,
    mobilenet_v2,
)
from convnp.vision.models.resnet import (
    BasicBlock,
    Bottleneck,
    ResNet,
    ResNet18_Weights,
    ResNet34_Weights,
    ResNet50_Weights,
    ResNet101_Weights,
    ResNet152_Weights,
    resnet18,
    resnet34,
    resnet50,
    resnet101,
    resnet152,
    resnext50_32x4d,
    resnext101_32x8d,
    wide_resnet50_2,
    wide_resnet101_2,
)
from convnp.vision.models.vgg import (
    VGG,
    VGG11_BN_Weights,
    VGG11_Weights,
    VGG13_BN_Weights,
    VGG13_Weights,
    VGG16_BN_Weights,
    VGG16_Weights,
    VGG19_BN_Weights,
    VGG19_Weights,
    AlexNet,
    AlexNet_Weights,
    alexnet,
    vgg11,
    vgg11_bn,
    vgg13,
    vgg13_bn,
    vgg16,
    vgg16_bn,
    vgg19,
    vgg19_bn,
)

_BUILDERS = {f.__name__: f for f in (
    resnet18, resnet34, resnet50, resnet101, resnet152, resnext50_32x4d, resnext101_32x8d,
    wide_resnet50_2, wide_resnet101_2, vgg11, vgg11_bn, vgg13, vgg13_bn, vgg16, vgg16_bn, vgg19,
    vgg19_bn, alexnet, mobilenet_v2)}


def list_models(module=None, include=None, exclude=None) -> list[str]:
    """Names accepted by :func:`get_model` (torchvision's ``list_models``)."""
    return sorted(_BUILDERS)


def get_model(name: str, **config):
    """Build a model by name: ``get_model("resnet18", num_classes=10)``."""
    if name not in _BUILDERS:
        raise ValueError(f"get_model: unknown model {name!r}; valid models: "
                         f"{', '.join(sorted(_BUILDERS))}")
    return _BUILDERS[name](**config)


def get_model_builder(name: str):
    if name not in _BUILDERS:
        raise ValueError(f"get_model_builder: unknown model {name!r}")
    return _BUILDERS[name]
