"""Reference classification networks: LeNet-5, a VGG-style net, ResNet-20 (CIFAR), a
ResNet-18-style net, an all-convolutional net, and 1-d / 3-d CNNs.

Every network uses PyTorch's layer classes and attribute names, so a torch twin built the same
way has the same ``state_dict`` keys and parameter count (the tests check this).
"""

from __future__ import annotations

from convnp import nn
from convnp.nn._fusion import conv_norm_act
from convnp.nn.modules.blocks import BasicBlock

__all__ = ["LeNet5", "VGGNet", "ResNetCIFAR", "resnet20", "ResNet18", "resnet18", "AllConvNet",
           "CNN1d", "CNN3d", "GlobalAvgPool"]


class GlobalAvgPool(nn.Module):
    """Mean over every spatial axis: (N, C, *) -> (N, C)."""

    def forward(self, x):
        return x.mean(dim=tuple(range(2, x.ndim)))


class LeNet5(nn.Module):
    """LeNet-5 (LeCun et al. 1998) on 32x32 single-channel images.

    =====  ===========================  ==================
    layer  operation                    output (32x32 in)
    =====  ===========================  ==================
    C1     Conv2d(in, 6, 5)             6 x 28 x 28
    S2     act + pool 2x2               6 x 14 x 14
    C3     Conv2d(6, 16, 5)             16 x 10 x 10
    S4     act + pool 2x2               16 x 5 x 5
    C5     Conv2d(16, 120, 5) + act     120 x 1 x 1
    F6     Linear(120, 84) + act        84
    out    Linear(84, num_classes)      num_classes
    =====  ===========================  ==================

    61,706 parameters for 10 classes. For 28x28 inputs (MNIST) pass ``input_size=28``: C1 then
    pads by 2 so that it still produces 6 x 28 x 28, exactly as the classic net on padded digits.

    Args:
        num_classes: outputs. Default 10.
        in_channels: input channels. Default 1.
        input_size: 32 (classic) or smaller; C1 pads by ``(32 - input_size) // 2``.
        activation: 'relu' (default) or 'tanh' (the 1998 paper).
        pooling: 'max' (default) or 'avg' (the paper's subsampling).

    Shape: (N, in_channels, input_size, input_size) -> (N, num_classes).

    Example:
        >>> model = LeNet5(input_size=28)
        >>> model(convnp.randn(8, 1, 28, 28)).shape
        (8, 10)
    """

    def __init__(self, num_classes: int = 10, in_channels: int = 1, input_size: int = 32,
                 activation: str = "relu", pooling: str = "max") -> None:
        super().__init__()
        if activation not in ("relu", "tanh"):
            raise ValueError(f"LeNet5: activation must be 'relu' or 'tanh', got {activation!r}")
        if pooling not in ("max", "avg"):
            raise ValueError(f"LeNet5: pooling must be 'max' or 'avg', got {pooling!r}")
        if not 20 <= input_size <= 32:
            raise ValueError(f"LeNet5: input_size must be between 20 and 32, got {input_size}")
        act = nn.ReLU if activation == "relu" else nn.Tanh
        pool = nn.MaxPool2d if pooling == "max" else nn.AvgPool2d
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 6, 5, padding=(32 - input_size) // 2), act(), pool(2),
            nn.Conv2d(6, 16, 5), act(), pool(2),
            nn.Conv2d(16, 120, 5), act(),
        )
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(120, 84), act(),
                                        nn.Linear(84, num_classes))

    def forward(self, x):
        return self.classifier(self.features(x))


def _conv_bn_relu(cin: int, cout: int, dim: int = 2, kernel_size: int = 3, stride: int = 1):
    conv = (nn.Conv1d, nn.Conv2d, nn.Conv3d)[dim - 1]
    bn = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)[dim - 1]
    return [conv(cin, cout, kernel_size, stride=stride, padding=kernel_size // 2, bias=False),
            bn(cout), nn.ReLU()]


class VGGNet(nn.Module):
    """A VGG-style net of double-conv blocks, ending in global average pooling.

    ======  ==============================================  ================
    stage   operation                                       output (32x32 in)
    ======  ==============================================  ================
    i       [Conv3x3(c_i) - BN - ReLU] x 2 - MaxPool 2x2    c_i x 32/2^(i+1)
    head    global average pool - Dropout - Linear          num_classes
    ======  ==============================================  ================

    Args:
        num_classes, in_channels: outputs and input channels (defaults 10, 3).
        channels: width of each stage (default (64, 128, 256)).
        dropout: before the classifier (default 0.3).

    Shape: (N, in_channels, H, W) -> (N, num_classes); H, W divisible by 2^len(channels).
    """

    def __init__(self, num_classes: int = 10, in_channels: int = 3,
                 channels: tuple[int, ...] = (64, 128, 256), dropout: float = 0.3) -> None:
        super().__init__()
        layers, c = [], in_channels
        for width in channels:
            layers += _conv_bn_relu(c, width) + _conv_bn_relu(width, width) + [nn.MaxPool2d(2)]
            c = width
        self.features = nn.Sequential(*layers)
        self.pool = GlobalAvgPool()
        self.classifier = nn.Sequential(nn.Dropout(dropout), nn.Linear(c, num_classes))

    def forward(self, x):
        return self.classifier(self.pool(self.features(x)))


def _make_layer(inplanes: int, planes: int, blocks: int, stride: int):
    downsample = None
    if stride != 1 or inplanes != planes:
        downsample = nn.Sequential(nn.Conv2d(inplanes, planes, 1, stride=stride, bias=False),
                                   nn.BatchNorm2d(planes))
    layers = [BasicBlock(inplanes, planes, stride, downsample)]
    layers += [BasicBlock(planes, planes) for _ in range(blocks - 1)]
    return nn.Sequential(*layers)


class ResNetCIFAR(nn.Module):
    """CIFAR-style ResNet (He et al. 2016, sec. 4.2): depth = 6n + 2.

    =======  ====================================  ================
    stage    operation                             output (32x32 in)
    =======  ====================================  ================
    conv1    Conv3x3(16) - BN - ReLU                16 x 32 x 32
    layer1   n BasicBlocks(16)                      16 x 32 x 32
    layer2   n BasicBlocks(32), first stride 2      32 x 16 x 16
    layer3   n BasicBlocks(64), first stride 2      64 x 8 x 8
    head     global average pool - Linear           num_classes
    =======  ====================================  ================

    Shortcuts that change shape use a 1x1 conv + BN (option B). ResNet-20 (n=3): 272,474
    parameters for 10 classes.

    Shape: (N, in_channels, H, W) -> (N, num_classes).
    """

    def __init__(self, depth: int = 20, num_classes: int = 10, in_channels: int = 3) -> None:
        super().__init__()
        if (depth - 2) % 6:
            raise ValueError(f"ResNetCIFAR: depth must be 6n + 2 (20, 32, 44, 56...), got {depth}")
        n = (depth - 2) // 6
        self.conv1 = nn.Conv2d(in_channels, 16, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.relu = nn.ReLU()
        self.layer1 = _make_layer(16, 16, n, 1)
        self.layer2 = _make_layer(16, 32, n, 2)
        self.layer3 = _make_layer(32, 64, n, 2)
        self.avgpool = GlobalAvgPool()
        self.fc = nn.Linear(64, num_classes)

    def forward(self, x):
        x = conv_norm_act(self.conv1, self.bn1, self.relu, x)  # folded in inference
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(self.avgpool(x))


def resnet20(num_classes: int = 10, in_channels: int = 3) -> ResNetCIFAR:
    """ResNet-20 for 32x32 images (see :class:`ResNetCIFAR`)."""
    return ResNetCIFAR(20, num_classes, in_channels)


class ResNet18(nn.Module):
    """ResNet-18 with torchvision's attribute names (its state_dict loads into this net).

    =======  ===========================================  ===================
    stage    operation                                    output (224 in)
    =======  ===========================================  ===================
    conv1    Conv7x7(64, s2) - BN - ReLU - MaxPool3 s2    64 x 56 x 56
    layer1   2 BasicBlocks(64)                            64 x 56 x 56
    layer2   2 BasicBlocks(128), stride 2                 128 x 28 x 28
    layer3   2 BasicBlocks(256), stride 2                 256 x 14 x 14
    layer4   2 BasicBlocks(512), stride 2                 512 x 7 x 7
    head     global average pool - Linear(512)            num_classes
    =======  ===========================================  ===================

    ``small_input=True`` (for 32x32 images) uses a 3x3 stride-1 stem without max pooling.
    11,689,512 parameters for 1000 classes (as torchvision); 11,173,962 small-input/10 classes.

    Shape: (N, in_channels, H, W) -> (N, num_classes).
    """

    def __init__(self, num_classes: int = 1000, in_channels: int = 3, small_input: bool = False,
                 width: int = 64) -> None:
        super().__init__()
        w = width
        if small_input:
            self.conv1 = nn.Conv2d(in_channels, w, 3, stride=1, padding=1, bias=False)
            self.maxpool = nn.Identity() if hasattr(nn, "Identity") else _Identity()
        else:
            self.conv1 = nn.Conv2d(in_channels, w, 7, stride=2, padding=3, bias=False)
            self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        self.bn1 = nn.BatchNorm2d(w)
        self.relu = nn.ReLU()
        self.layer1 = _make_layer(w, w, 2, 1)
        self.layer2 = _make_layer(w, 2 * w, 2, 2)
        self.layer3 = _make_layer(2 * w, 4 * w, 2, 2)
        self.layer4 = _make_layer(4 * w, 8 * w, 2, 2)
        self.avgpool = GlobalAvgPool()
        self.fc = nn.Linear(8 * w, num_classes)

    def forward(self, x):
        x = self.maxpool(conv_norm_act(self.conv1, self.bn1, self.relu, x))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(self.avgpool(x))


def resnet18(num_classes: int = 1000, in_channels: int = 3, input_size: int = 224,
             width: int = 64) -> ResNet18:
    """A :class:`ResNet18` for ``input_size`` images: below 64 pixels the 3x3 stride-1 stem of
    ``small_input=True`` (a 7x7/2 stem and a max pool would leave too few pixels)."""
    return ResNet18(num_classes, in_channels, small_input=input_size < 64, width=width)


class _Identity(nn.Module):
    def forward(self, x):
        return x


class AllConvNet(nn.Module):
    """All-convolutional net (Springenberg et al. 2015, "All-CNN-C"): strided convs replace
    pooling and a 1x1 conv + global average pooling replaces the fully connected layers.

    ======  =============================================  ==================
    block   operation                                      output (32x32 in)
    ======  =============================================  ==================
    1       Conv3x3(c1)-BN-ReLU x 2, Conv3x3(c1, s2)-BN-ReLU  c1 x 16 x 16
    2       Conv3x3(c2)-BN-ReLU x 2, Conv3x3(c2, s2)-BN-ReLU  c2 x 8 x 8
    3       Conv3x3(c2)-BN-ReLU, Conv1x1(c2)-BN-ReLU          c2 x 8 x 8
    head    Conv1x1(num_classes) - global average pool      num_classes
    ======  =============================================  ==================

    Args: num_classes, in_channels, c1 (default 96), c2 (default 192).

    Shape: (N, in_channels, H, W) -> (N, num_classes).
    """

    def __init__(self, num_classes: int = 10, in_channels: int = 3, c1: int = 96,
                 c2: int = 192) -> None:
        super().__init__()
        layers = (_conv_bn_relu(in_channels, c1) + _conv_bn_relu(c1, c1)
                  + _conv_bn_relu(c1, c1, stride=2)
                  + _conv_bn_relu(c1, c2) + _conv_bn_relu(c2, c2) + _conv_bn_relu(c2, c2, stride=2)
                  + _conv_bn_relu(c2, c2) + _conv_bn_relu(c2, c2, kernel_size=1)
                  + [nn.Conv2d(c2, num_classes, 1)])
        self.features = nn.Sequential(*layers)
        self.pool = GlobalAvgPool()

    def forward(self, x):
        return self.pool(self.features(x))


class _StagedCNN(nn.Module):
    """Three Conv-BN-ReLU blocks of widths c, 2c, 4c (max pooling 2 after the first two), global
    average pooling and a linear classifier, in ``dim`` spatial dimensions: the body of
    :class:`CNN1d` and :class:`CNN3d`, which differ only in ``dim`` and the kernel sizes."""

    def __init__(self, dim: int, kernels: tuple[int, int, int], num_classes: int,
                 in_channels: int, channels: int) -> None:
        super().__init__()
        c = channels
        pool = (nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d)[dim - 1]
        k1, k2, k3 = kernels
        self.features = nn.Sequential(
            *_conv_bn_relu(in_channels, c, dim, k1), pool(2),
            *_conv_bn_relu(c, 2 * c, dim, k2), pool(2),
            *_conv_bn_relu(2 * c, 4 * c, dim, k3))
        self.pool = GlobalAvgPool()
        self.fc = nn.Linear(4 * c, num_classes)

    def forward(self, x):
        return self.fc(self.pool(self.features(x)))


class CNN1d(_StagedCNN):
    """A 1-d CNN for sequences (signals, time series, text embeddings).

    =====  =============================================  ==============
    block  operation                                      output (L in)
    =====  =============================================  ==============
    1      Conv1d(in, c, 5, p2) - BN - ReLU - MaxPool 2    c x L/2
    2      Conv1d(c, 2c, 5, p2) - BN - ReLU - MaxPool 2    2c x L/4
    3      Conv1d(2c, 4c, 3, p1) - BN - ReLU               4c x L/4
    head   global average pool - Linear(4c)               num_classes
    =====  =============================================  ==============

    Shape: (N, in_channels, L) -> (N, num_classes). Default c = 32.
    """

    def __init__(self, num_classes: int = 10, in_channels: int = 1, channels: int = 32) -> None:
        super().__init__(1, (5, 5, 3), num_classes, in_channels, channels)


class CNN3d(_StagedCNN):
    """A 3-d CNN for volumes (medical scans, voxel grids, short video clips).

    =====  =================================================  ================
    block  operation                                          output (D,H,W in)
    =====  =================================================  ================
    1      Conv3d(in, c, 3, p1) - BN - ReLU - MaxPool 2        c x D/2 x H/2 x W/2
    2      Conv3d(c, 2c, 3, p1) - BN - ReLU - MaxPool 2        2c x D/4 x H/4 x W/4
    3      Conv3d(2c, 4c, 3, p1) - BN - ReLU                   4c x D/4 x H/4 x W/4
    head   global average pool - Linear(4c)                   num_classes
    =====  =================================================  ================

    Shape: (N, in_channels, D, H, W) -> (N, num_classes). Default c = 16.
    """

    def __init__(self, num_classes: int = 10, in_channels: int = 1, channels: int = 16) -> None:
        super().__init__(3, (3, 3, 3), num_classes, in_channels, channels)
