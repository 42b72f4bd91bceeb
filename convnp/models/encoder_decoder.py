"""Encoder-decoder networks from the notes: UNet, a SegNet-style net that unpools with the encoder's
switch indices, a DeepLab-style ASPP segmenter, a gated-convolution inpainting net, a small
Inception classifier and a convolutional autoencoder with an exportable embedding."""

from __future__ import annotations

from convnp import nn
from convnp.nn.modules.blocks import ASPP, ConvNormAct, DoubleConv, InceptionBlock, UpBlock
from convnp.ops.movement import cat
from convnp.ops.upsample import interpolate

__all__ = ["UNet", "SegNet", "DeepLabHead", "DeepLabSmall", "GatedInpaintNet", "InceptionNet",
           "ConvAutoencoder"]


def _check_divisible(x, factor: int, name: str) -> None:
    bad = [s for s in x.shape[2:] if s % factor]
    if bad:
        raise ValueError(f"{name}: spatial size {tuple(x.shape[2:])} must be divisible by "
                         f"{factor} (2**depth); pad or resize the input")


class UNet(nn.Module):
    """UNet (Ronneberger et al. 2015): a DoubleConv encoder that halves the resolution ``depth``
    times, a decoder of ``UpBlock``s (bilinear or transposed-conv upsampling, concatenated skip
    connection, DoubleConv), and a final 1x1 conv to ``num_classes`` logits per pixel.

    Layer table (base b, depth 4): enc0 DoubleConv(in, b) | enc1..4 MaxPool2 + DoubleConv(c, 2c)
    | up4..1 UpBlock(2c -> c, skip c) | head Conv1x1(b, num_classes).

    Args:
        in_channels, num_classes: channels in; logits out.
        base_channels: channels of the first stage (doubling per stage). Default 64.
        depth: number of down/up steps. Input sizes must be divisible by ``2**depth``.
        up_mode: 'bilinear' (default) or 'transpose'.
        norm: normalisation in the DoubleConvs ('batch' default, None for the original).

    Shape: (N, in_channels, H, W) -> (N, num_classes, H, W).
    """

    def __init__(self, in_channels: int = 1, num_classes: int = 2, base_channels: int = 64,
                 depth: int = 4, up_mode: str = "bilinear", norm="batch") -> None:
        super().__init__()
        if depth < 1:
            raise ValueError(f"UNet: 'depth' must be >= 1, got {depth}")
        ch = [base_channels * 2 ** i for i in range(depth + 1)]
        self.depth = depth
        self.enc = nn.ModuleList([DoubleConv(in_channels, ch[0], norm=norm)] + [
            nn.Sequential(nn.MaxPool2d(2), DoubleConv(ch[i - 1], ch[i], norm=norm))
            for i in range(1, depth + 1)])
        self.dec = nn.ModuleList([
            UpBlock(ch[i], ch[i - 1], skip_channels=ch[i - 1], mode=up_mode, norm=norm)
            for i in range(depth, 0, -1)])
        self.head = nn.Conv2d(ch[0], num_classes, 1)

    def forward(self, x):
        _check_divisible(x, 2 ** self.depth, "UNet")
        skips = []
        for stage in self.enc:
            x = stage(x)
            skips.append(x)
        x = skips.pop()
        for up in self.dec:
            x = up(x, skips.pop())
        return self.head(x)

    def output_shape(self, input_shape):
        n, _, *spatial = input_shape
        return (n, self.head.out_channels, *spatial)


class SegNet(nn.Module):
    """SegNet-style encoder-decoder (Badrinarayanan et al. 2017): each encoder stage ends in a
    2x2 max pool that records its argmax positions (the notes' *switch variables*); the matching
    decoder stage max-unpools with them — maxima go back where they came from, zeros elsewhere —
    then convolves. No ``output_size`` is needed: convnp's indices remember the pooled size.

    Args: in_channels, num_classes, widths (channels per stage, default (32, 64, 128)).

    Shape: (N, in_channels, H, W) -> (N, num_classes, H, W), H and W divisible by 2**stages.
    """

    def __init__(self, in_channels: int = 1, num_classes: int = 2,
                 widths=(32, 64, 128), norm="batch") -> None:
        super().__init__()
        widths = list(widths)
        ins = [in_channels] + widths[:-1]
        self.encoders = nn.ModuleList([DoubleConv(i, o, norm=norm) for i, o in zip(ins, widths)])
        self.pool = nn.MaxPool2d(2, return_indices=True)
        self.unpool = nn.MaxUnpool2d(2)
        outs = widths[-2::-1] + [widths[0]]
        self.decoders = nn.ModuleList([DoubleConv(i, o, norm=norm)
                                       for i, o in zip(widths[::-1], outs)])
        self.head = nn.Conv2d(widths[0], num_classes, 1)

    def forward(self, x):
        _check_divisible(x, 2 ** len(self.encoders), "SegNet")
        switches = []
        for enc in self.encoders:
            x, idx = self.pool(enc(x))
            switches.append(idx)
        for dec in self.decoders:
            x = dec(self.unpool(x, switches.pop()))
        return self.head(x)


class DeepLabHead(nn.Sequential):
    """torchvision's DeepLabHead: ASPP -> 3x3 ConvNormAct -> 1x1 classifier."""

    def __init__(self, in_channels: int, num_classes: int, atrous_rates=(12, 24, 36),
                 channels: int = 256, dropout: float = 0.5) -> None:
        super().__init__(ASPP(in_channels, channels, atrous_rates, dropout=dropout),
                         ConvNormAct(channels, channels, 3),
                         nn.Conv2d(channels, num_classes, 1))


class DeepLabSmall(nn.Module):
    """A small DeepLab-v3-style segmenter: a stride-4 convolutional backbone, an ASPP head
    (parallel dilated convs at ``atrous_rates`` + image pooling) and bilinear upsampling of the
    logits back to the input size.

    Shape: (N, in_channels, H, W) -> (N, num_classes, H, W).
    """

    def __init__(self, in_channels: int = 1, num_classes: int = 2, width: int = 32,
                 atrous_rates=(2, 4, 6), dropout: float = 0.1) -> None:
        super().__init__()
        self.backbone = nn.Sequential(
            ConvNormAct(in_channels, width, 3, stride=2), ConvNormAct(width, width, 3),
            ConvNormAct(width, 2 * width, 3, stride=2), ConvNormAct(2 * width, 2 * width, 3))
        self.head = DeepLabHead(2 * width, num_classes, atrous_rates, channels=width,
                                dropout=dropout)

    def forward(self, x):
        size = tuple(x.shape[-2:])
        return interpolate(self.head(self.backbone(x)), size=size, mode="bilinear",
                           align_corners=False)


class GatedInpaintNet(nn.Module):
    """Inpainting network of gated convolutions (Yu et al., ICCV 2019), small enough for MNIST.

    Input: the masked image and the mask (1 = hole) concatenated, (N, C + 1, H, W). Each layer
    is ``GatedConv2d`` (features * sigmoid(gate)), so the network learns where to trust its input;
    with ``gated=False`` the same layout uses plain convolutions (the comparison baseline).
    Encoder (stride 2 twice), dilated middle (rates 2, 4), decoder (nearest upsample + conv),
    final 3x3 conv with sigmoid.

    Shape: (N, C + 1, H, W) -> (N, C, H, W), H and W divisible by 4.
    """

    def __init__(self, in_channels: int = 1, width: int = 32, gated: bool = True) -> None:
        super().__init__()
        self.gated = gated

        def layer(i, o, stride=1, dilation=1):
            if gated:
                return nn.GatedConv2d(i, o, 3, stride=stride, padding=dilation,
                                      dilation=dilation)
            return ConvNormAct(i, o, 3, stride=stride, dilation=dilation, norm=None,
                               activation="elu")

        w = width
        self.body = nn.Sequential(
            layer(in_channels + 1, w), layer(w, 2 * w, stride=2), layer(2 * w, 2 * w),
            layer(2 * w, 4 * w, stride=2), layer(4 * w, 4 * w, dilation=2),
            layer(4 * w, 4 * w, dilation=4), layer(4 * w, 4 * w),
            nn.Upsample(scale_factor=2, mode="nearest"), layer(4 * w, 2 * w),
            nn.Upsample(scale_factor=2, mode="nearest"), layer(2 * w, w),
            nn.Conv2d(w, in_channels, 3, padding=1), nn.Sigmoid())

    def forward(self, image, mask):
        """``image`` (N, C, H, W) in [0, 1]; ``mask`` (N, 1, H, W), 1 where pixels are missing."""
        _check_divisible(image, 4, "GatedInpaintNet")
        masked = image * (1 - mask)
        out = self.body(cat([masked, mask], dim=1))
        return out * mask + masked  # keep the known pixels


class InceptionNet(nn.Module):
    """A small Inception classifier: ConvNormAct stem, two Inception blocks with a max pool
    between them, global average pooling and a linear classifier.

    Layer table (MNIST 1x28x28): stem 32x28x28 | inception(32->64) 64x28x28 | maxpool 64x14x14 |
    inception(64->128) 128x14x14 | global avg pool 128 | linear 10.
    """

    def __init__(self, in_channels: int = 1, num_classes: int = 10) -> None:
        super().__init__()
        self.stem = ConvNormAct(in_channels, 32, 3)
        self.block1 = InceptionBlock(32, 16, 16, 24, 4, 8, 16)       # -> 64
        self.pool = nn.MaxPool2d(2)
        self.block2 = InceptionBlock(64, 32, 32, 48, 8, 24, 24)      # -> 128
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(128, num_classes)

    def forward(self, x):
        x = self.block2(self.pool(self.block1(self.stem(x))))
        return self.fc(self.gap(x).flatten(1))


class ConvAutoencoder(nn.Module):
    """Convolutional autoencoder: a stride-2 ConvNormAct encoder to an ``embedding_dim`` vector
    and a decoder that upsamples (bilinear or transposed conv) then convolves, ending in a 3x3 conv
    with sigmoid (outputs in [0, 1]). ``encode(x)`` exports the embedding; ``decode(z)`` inverts.

    Shape: (N, C, S, S) -> (N, C, S, S) with S divisible by 4 (use 28 for MNIST).
    """

    def __init__(self, in_channels: int = 1, embedding_dim: int = 32, width: int = 16,
                 input_size: int = 28, up_mode: str = "bilinear") -> None:
        super().__init__()
        if input_size % 4:
            raise ValueError(f"ConvAutoencoder: input_size must be divisible by 4, got "
                             f"{input_size}")
        s = input_size // 4
        self.encoder = nn.Sequential(
            ConvNormAct(in_channels, width, 3, stride=2),
            ConvNormAct(width, 2 * width, 3, stride=2),
            nn.Flatten(), nn.Linear(2 * width * s * s, embedding_dim))
        self.decoder = nn.Sequential(
            nn.Linear(embedding_dim, 2 * width * s * s), nn.ReLU(),
            nn.Unflatten(1, (2 * width, s, s)),
            UpBlock(2 * width, width, mode=up_mode), UpBlock(width, width, mode=up_mode),
            nn.Conv2d(width, in_channels, 3, padding=1), nn.Sigmoid())

    def encode(self, x):
        return self.encoder(x)

    def decode(self, z):
        return self.decoder(z)

    def forward(self, x):
        return self.decode(self.encode(x))
