"""ResNet (He et al., 2015) with torchvision's definitions: the same modules, attribute names
(so its ``state_dict`` keys), initialisation and factory functions."""

from __future__ import annotations

from typing import Callable

import convnp.nn as nn
from convnp.nn.modules.blocks import BasicBlock as _BasicBlock
from convnp.nn.modules.blocks import Bottleneck
from convnp.vision.models._weights import imagenet_weights, model_builder, weights_enum

__all__ = ["ResNet", "BasicBlock", "Bottleneck", "resnet18", "resnet34", "resnet50", "resnet101",
           "resnet152", "resnext50_32x4d", "resnext101_32x8d", "wide_resnet50_2",
           "wide_resnet101_2", "ResNet18_Weights", "ResNet34_Weights", "ResNet50_Weights",
           "ResNet101_Weights", "ResNet152_Weights", "conv1x1", "conv3x3"]


def conv3x3(in_planes: int, out_planes: int, stride: int = 1, groups: int = 1,
            dilation: int = 1) -> nn.Conv2d:
    """3x3 convolution with padding (no bias: a batch norm follows)."""
    return nn.Conv2d(in_planes, out_planes, 3, stride=stride, padding=dilation, groups=groups,
                     bias=False, dilation=dilation)


def conv1x1(in_planes: int, out_planes: int, stride: int = 1) -> nn.Conv2d:
    """1x1 convolution (no bias)."""
    return nn.Conv2d(in_planes, out_planes, 1, stride=stride, bias=False)


class BasicBlock(_BasicBlock):
    """ResNet-18/34 block with torchvision's full signature (groups/base_width/dilation are
    accepted for the shared ``_make_layer`` call and must keep their defaults)."""

    def __init__(self, inplanes: int, planes: int, stride: int = 1, downsample=None,
                 groups: int = 1, base_width: int = 64, dilation: int = 1,
                 norm_layer: Callable | None = None) -> None:
        if groups != 1 or base_width != 64:
            raise ValueError("BasicBlock only supports groups=1 and base_width=64")
        if dilation > 1:
            raise NotImplementedError("Dilation > 1 not supported in BasicBlock")
        super().__init__(inplanes, planes, stride, downsample, norm_layer)


class ResNet(nn.Module):
    """torchvision's ResNet: 7x7/2 stem, max pool, four stages of ``block`` (``layers`` blocks
    each, strides 1, 2, 2, 2), global average pool, ``fc``.

    Args:
        block: :class:`BasicBlock` or :class:`Bottleneck`.
        layers: blocks per stage, e.g. ``[2, 2, 2, 2]`` for ResNet-18.
        num_classes: outputs of ``fc``.
        zero_init_residual: start each block's last BN weight at 0 (the block is the identity).
        groups, width_per_group: ResNeXt / Wide ResNet bottleneck width.
        replace_stride_with_dilation: three bools: dilate stages 2-4 instead of striding.
        norm_layer: defaults to ``nn.BatchNorm2d``.

    Shape: ``(N, 3, H, W) -> (N, num_classes)``.

    Example:
        >>> model = resnet18(num_classes=10)
        >>> model(convnp.randn(2, 3, 64, 64)).shape
        (2, 10)
    """

    def __init__(self, block, layers: list[int], num_classes: int = 1000,
                 zero_init_residual: bool = False, groups: int = 1, width_per_group: int = 64,
                 replace_stride_with_dilation: list[bool] | None = None,
                 norm_layer: Callable | None = None) -> None:
        super().__init__()
        if norm_layer is None:
            norm_layer = nn.BatchNorm2d
        self._norm_layer = norm_layer
        self.inplanes, self.dilation = 64, 1
        if replace_stride_with_dilation is None:
            replace_stride_with_dilation = [False, False, False]
        if len(replace_stride_with_dilation) != 3:
            raise ValueError("replace_stride_with_dilation should be None or a 3-element tuple, "
                             f"got {replace_stride_with_dilation}")
        self.groups, self.base_width = groups, width_per_group
        self.conv1 = nn.Conv2d(3, self.inplanes, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = norm_layer(self.inplanes)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(block, 64, layers[0])
        self.layer2 = self._make_layer(block, 128, layers[1], stride=2,
                                       dilate=replace_stride_with_dilation[0])
        self.layer3 = self._make_layer(block, 256, layers[2], stride=2,
                                       dilate=replace_stride_with_dilation[1])
        self.layer4 = self._make_layer(block, 512, layers[3], stride=2,
                                       dilate=replace_stride_with_dilation[2])
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512 * block.expansion, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)
        if zero_init_residual:
            for m in self.modules():
                if isinstance(m, Bottleneck) and m.bn3.weight is not None:
                    nn.init.constant_(m.bn3.weight, 0)
                elif isinstance(m, _BasicBlock) and m.bn2.weight is not None:
                    nn.init.constant_(m.bn2.weight, 0)

    def _make_layer(self, block, planes: int, blocks: int, stride: int = 1,
                    dilate: bool = False) -> nn.Sequential:
        norm_layer = self._norm_layer
        downsample = None
        previous_dilation = self.dilation
        if dilate:
            self.dilation *= stride
            stride = 1
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(conv1x1(self.inplanes, planes * block.expansion, stride),
                                       norm_layer(planes * block.expansion))
        layers = [block(self.inplanes, planes, stride, downsample, self.groups, self.base_width,
                        previous_dilation, norm_layer)]
        self.inplanes = planes * block.expansion
        for _ in range(1, blocks):
            layers.append(block(self.inplanes, planes, groups=self.groups,
                                base_width=self.base_width, dilation=self.dilation,
                                norm_layer=norm_layer))
        return nn.Sequential(*layers)

    def _forward_impl(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(self.avgpool(x).flatten(1))

    def forward(self, x):
        return self._forward_impl(x)


ResNet18_Weights = weights_enum("ResNet18_Weights", __name__, "IMAGENET1K_V1",
                                IMAGENET1K_V1=imagenet_weights("resnet18-f37072fd.pth", 11_689_512))
ResNet34_Weights = weights_enum("ResNet34_Weights", __name__, "IMAGENET1K_V1",
                                IMAGENET1K_V1=imagenet_weights("resnet34-b627a593.pth", 21_797_672))
ResNet50_Weights = weights_enum(
    "ResNet50_Weights", __name__, "IMAGENET1K_V2",
    IMAGENET1K_V1=imagenet_weights("resnet50-0676ba61.pth", 25_557_032),
    IMAGENET1K_V2=imagenet_weights("resnet50-11ad3fa6.pth", 25_557_032, resize=232))
ResNet101_Weights = weights_enum(
    "ResNet101_Weights", __name__, "IMAGENET1K_V2",
    IMAGENET1K_V1=imagenet_weights("resnet101-63fe2227.pth", 44_549_160),
    IMAGENET1K_V2=imagenet_weights("resnet101-cd907fc2.pth", 44_549_160, resize=232))
ResNet152_Weights = weights_enum(
    "ResNet152_Weights", __name__, "IMAGENET1K_V2",
    IMAGENET1K_V1=imagenet_weights("resnet152-394f9c45.pth", 60_192_808),
    IMAGENET1K_V2=imagenet_weights("resnet152-f82ba261.pth", 60_192_808, resize=232))


def _builder(name: str, block, layers: list[int], weights, doc: str, **fixed):
    """torchvision's ``name(*, weights=None, progress=True, **kwargs)`` building a ResNet."""
    return model_builder(name, lambda w, **kw: ResNet(block, layers, **kw), weights, doc,
                         __name__, ResNet, fixed)


# name, block, blocks per stage, weights enum, docstring, fixed keywords
resnet18 = _builder("resnet18", BasicBlock, [2, 2, 2, 2], ResNet18_Weights,
                    "ResNet-18 (``BasicBlock``, [2, 2, 2, 2]); 11,689,512 parameters for 1000 "
                    "classes.")
resnet34 = _builder("resnet34", BasicBlock, [3, 4, 6, 3], ResNet34_Weights,
                    "ResNet-34 (``BasicBlock``, [3, 4, 6, 3]).")
resnet50 = _builder("resnet50", Bottleneck, [3, 4, 6, 3], ResNet50_Weights,
                    "ResNet-50 (``Bottleneck``, [3, 4, 6, 3]).")
resnet101 = _builder("resnet101", Bottleneck, [3, 4, 23, 3], ResNet101_Weights,
                     "ResNet-101 (``Bottleneck``, [3, 4, 23, 3]).")
resnet152 = _builder("resnet152", Bottleneck, [3, 8, 36, 3], ResNet152_Weights,
                     "ResNet-152 (``Bottleneck``, [3, 8, 36, 3]).")
resnext50_32x4d = _builder("resnext50_32x4d", Bottleneck, [3, 4, 6, 3], None,
                           "ResNeXt-50 32x4d (``groups=32``, ``width_per_group=4``).",
                           groups=32, width_per_group=4)
resnext101_32x8d = _builder("resnext101_32x8d", Bottleneck, [3, 4, 23, 3], None,
                            "ResNeXt-101 32x8d.", groups=32, width_per_group=8)
wide_resnet50_2 = _builder("wide_resnet50_2", Bottleneck, [3, 4, 6, 3], None,
                           "Wide ResNet-50-2 (bottleneck width doubled).", width_per_group=128)
wide_resnet101_2 = _builder("wide_resnet101_2", Bottleneck, [3, 4, 23, 3], None,
                            "Wide ResNet-101-2.", width_per_group=128)
