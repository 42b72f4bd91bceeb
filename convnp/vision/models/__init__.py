"""``convnp.vision.models``: torchvision's CNN classifiers under its names and state_dict keys.

    from convnp.vision import models
    net = models.resnet18(num_classes=10)             # weights=None: random init, as torchvision
    net.load_state_dict(convnp.load("resnet18-f37072fd.pth"))   # torchvision's checkpoint

``weights=`` takes the ``*_Weights`` enums (or their names, e.g. ``"DEFAULT"``); downloading goes
through ``convnp.hub`` where available, else the error names the file to fetch.
``weights.transforms()`` is the inference preset (resize, centre crop, normalise).
"""

from convnp.vision.models import _api, _utils, utils
from convnp.vision.models._api import (
    Weights,
    WeightsEnum,
    get_model,
    get_model_builder,
    get_model_weights,
    get_weight,
    list_models,
)
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
    AlexNet,
    AlexNet_Weights,
    VGG11_BN_Weights,
    VGG11_Weights,
    VGG13_BN_Weights,
    VGG13_Weights,
    VGG16_BN_Weights,
    VGG16_Weights,
    VGG19_BN_Weights,
    VGG19_Weights,
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


def __getattr__(name: str):
    from convnp.vision import _unsupported

    _unsupported.check("models", name, _unsupported.MODELS)
