"""Building blocks from the notes: conv -> norm -> activation, VGG double-conv, decoder up-blocks,
Inception, ASPP, residual blocks, CoordConv and equirectangular (spherical) convolutions.

Every block is a composition of convnp layers under torchvision's attribute names where torchvision
has the block (``BasicBlock``, ``Bottleneck``, ``ASPP``), so weights load from the torch twin and
the numbers match the same composition in PyTorch.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from convnp.creation import from_numpy
from convnp.nn._fusion import conv_norm_act
from convnp.nn.modules.module import Module
from convnp.ops.movement import cat
from convnp.ops.padding import pad
from convnp.ops.upsample import interpolate

__all__ = ["ConvNormAct", "DoubleConv", "UpBlock", "InceptionBlock", "ASPP", "BasicBlock",
           "Bottleneck", "AddCoords", "CoordConv1d", "CoordConv2d", "CoordConv3d",
           "EquirectPad2d", "EquirectConv2d", "make_norm", "make_activation"]


def _nn():
    import convnp.nn as nn  # late import: blocks compose layers defined in sibling modules

    return nn


def _conv_cls(dim: int, transposed: bool = False):
    nn = _nn()
    if dim not in (1, 2, 3):
        raise ValueError(f"'dim' must be 1, 2 or 3, got {dim!r}")
    return getattr(nn, f"{'ConvTranspose' if transposed else 'Conv'}{dim}d")


def make_norm(norm, channels: int, dim: int = 2) -> Module | None:
    """Build a normalisation layer from a name ('batch', 'instance', 'group', 'layer'), a
    callable ``f(channels) -> Module``, or None (no normalisation)."""
    nn = _nn()
    if norm is None or norm is False:
        return None
    if callable(norm) and not isinstance(norm, str):
        return norm(channels)
    if norm == "batch":
        return getattr(nn, f"BatchNorm{dim}d")(channels)
    if norm == "instance":
        return getattr(nn, f"InstanceNorm{dim}d")(channels, affine=True)
    if norm == "group":
        groups = next(g for g in (32, 16, 8, 4, 2, 1) if channels % g == 0)
        return nn.GroupNorm(groups, channels)
    if norm == "layer":  # LayerNorm over channels = GroupNorm with one group
        return nn.GroupNorm(1, channels)
    raise ValueError(f"norm: expected 'batch', 'instance', 'group', 'layer', None or a callable, "
                     f"got {norm!r}")


_ACTIVATIONS = {"relu": "ReLU", "relu6": "ReLU6", "leaky_relu": "LeakyReLU", "elu": "ELU",
                "selu": "SELU", "gelu": "GELU", "silu": "SiLU", "mish": "Mish",
                "hardswish": "Hardswish", "sigmoid": "Sigmoid", "tanh": "Tanh"}


def make_activation(activation) -> Module | None:
    """Build an activation from a name ('relu', 'silu', ...), a Module, a class, or None."""
    nn = _nn()
    if activation is None or activation is False:
        return None
    if isinstance(activation, Module):
        return activation
    if isinstance(activation, type) and issubclass(activation, Module):
        return activation()
    if isinstance(activation, str) and activation.lower() in _ACTIVATIONS:
        return getattr(nn, _ACTIVATIONS[activation.lower()])()
    raise ValueError(f"activation: expected one of {sorted(_ACTIVATIONS)}, a Module or None, "
                     f"got {activation!r}")


class ConvNormAct(Module):
    """Conv -> norm -> activation, the basic block of the notes (like torchvision's
    ``Conv2dNormActivation``).

    Args:
        in_channels, out_channels, kernel_size, stride, dilation, groups, padding_mode: as Conv.
        padding: default ``(kernel_size - 1) // 2 * dilation`` (keeps the size for odd kernels).
        norm: 'batch' (default), 'instance', 'group', 'layer', a callable or None.
        activation: 'relu' (default), any name of ``make_activation``, a Module or None.
        bias: default True only when there is no norm (a norm's shift makes it redundant).
        dim: 1, 2 or 3 spatial dimensions.

    Submodules ``conv``, ``norm``, ``act`` (the latter two may be None).

    Shape: (N, C_in, *S) -> (N, C_out, *S') with S' = conv_output_size(S).

    Example:
        >>> block = ConvNormAct(3, 16, 3, stride=2)   # encoder step: halves H and W
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 3, stride=1,
                 padding=None, dilation: int = 1, groups: int = 1, norm="batch",
                 activation="relu", bias: bool | None = None, padding_mode="zeros",
                 dim: int = 2) -> None:
        super().__init__()
        if padding is None:
            padding = (kernel_size - 1) // 2 * dilation
        if bias is None:
            bias = norm is None or norm is False
        self.conv = _conv_cls(dim)(in_channels, out_channels, kernel_size, stride=stride,
                                   padding=padding, dilation=dilation, groups=groups, bias=bias,
                                   padding_mode=padding_mode)
        self.norm = make_norm(norm, out_channels, dim)
        self.act = make_activation(activation)

    def forward(self, x):
        if self.norm is not None:  # folded into the convolution in inference (nn/_fusion.py)
            return conv_norm_act(self.conv, self.norm, self.act, x)
        x = self.conv(x)
        return x if self.act is None else self.act(x)


class DoubleConv(Module):
    """The traditional VGG / UNet block: (conv -> [norm] -> act) twice, then optional pooling.

    Args:
        in_channels, out_channels: channel counts; ``mid_channels`` defaults to out_channels.
        kernel_size: 3 by default, padded to keep the size.
        norm, activation: as ``ConvNormAct`` (default 'batch', 'relu'; norm=None gives VGG).
        pool: None, 'max' or 'avg' (2x2, stride 2) applied at the end.

    Shape: (N, C_in, H, W) -> (N, C_out, H, W), or halved by the pool.
    """

    def __init__(self, in_channels: int, out_channels: int, mid_channels: int | None = None,
                 kernel_size: int = 3, norm="batch", activation="relu", pool=None,
                 dim: int = 2) -> None:
        super().__init__()
        mid = mid_channels or out_channels
        self.conv1 = ConvNormAct(in_channels, mid, kernel_size, norm=norm,
                                 activation=activation, dim=dim)
        self.conv2 = ConvNormAct(mid, out_channels, kernel_size, norm=norm,
                                 activation=activation, dim=dim)
        nn = _nn()
        if pool is None:
            self.pool = None
        elif pool in ("max", "avg"):
            self.pool = getattr(nn, f"{'Max' if pool == 'max' else 'Avg'}Pool{dim}d")(2)
        else:
            raise ValueError(f"DoubleConv: 'pool' must be None, 'max' or 'avg', got {pool!r}")

    def forward(self, x):
        x = self.conv2(self.conv1(x))
        return self.pool(x) if self.pool is not None else x


def _match_size(x, ref):
    """Crop or zero-pad ``x`` spatially to ``ref``'s size (odd sizes in a UNet skip)."""
    diffs = [r - s for s, r in zip(x.shape[2:], ref.shape[2:])]
    if not any(diffs):
        return x
    pads = []
    for d in reversed(diffs):
        pads += [d // 2, d - d // 2]
    return pad(x, tuple(pads))


class UpBlock(Module):
    """Decoder step: upsample (bilinear or transposed conv), concatenate a skip input, then
    a ``DoubleConv`` — the notes' "upsampling blocks have a transposed convolution or a bilinear
    upsample in the beginning".

    Args:
        in_channels: channels of the input to upsample.
        out_channels: channels produced.
        skip_channels: channels of the skip tensor passed to ``forward`` (0 = no skip).
        mode: 'bilinear' (default), 'nearest' or 'transpose' (ConvTranspose k2 s2, halving the
            channels as in UNet).
        scale_factor: upsampling factor (2).

    Shape: (N, C_in, H, W) [+ skip (N, C_skip, 2H, 2W)] -> (N, C_out, 2H, 2W).
    """

    def __init__(self, in_channels: int, out_channels: int, skip_channels: int = 0,
                 mode: str = "bilinear", scale_factor: int = 2, norm="batch",
                 activation="relu", dim: int = 2) -> None:
        super().__init__()
        nn = _nn()
        if mode == "transpose":
            up_channels = in_channels // 2 if skip_channels else in_channels
            self.up = _conv_cls(dim, transposed=True)(in_channels, up_channels, scale_factor,
                                                      stride=scale_factor)
        elif mode in ("bilinear", "nearest"):
            up_channels = in_channels
            interp = mode if mode == "nearest" else {1: "linear", 2: "bilinear",
                                                     3: "trilinear"}[dim]
            self.up = nn.Upsample(scale_factor=scale_factor, mode=interp,
                                  align_corners=None if mode == "nearest" else False)
        else:
            raise ValueError(f"UpBlock: 'mode' must be 'bilinear', 'nearest' or 'transpose', "
                             f"got {mode!r}")
        self.skip_channels = skip_channels
        self.conv = DoubleConv(up_channels + skip_channels, out_channels, norm=norm,
                               activation=activation, dim=dim)

    def forward(self, x, skip=None):
        x = self.up(x)
        if self.skip_channels:
            if skip is None:
                raise ValueError(f"UpBlock: built with skip_channels={self.skip_channels} but "
                                 "forward got no skip tensor")
            x = cat([skip, _match_size(x, skip)], dim=1)
        return self.conv(x)


class InceptionBlock(Module):
    """Inception module (GoogLeNet): 1x1, 1x1->3x3, 1x1->5x5 and 3x3-maxpool->1x1 branches on the
    same input, concatenated along channels — "a mixture of multiple kernel sizes on one layer".

    Args (GoogLeNet's names): in_channels, ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj;
        norm/activation as ``ConvNormAct`` (default batch norm + ReLU, like torchvision).

    Shape: (N, C_in, H, W) -> (N, ch1x1 + ch3x3 + ch5x5 + pool_proj, H, W).
    """

    def __init__(self, in_channels: int, ch1x1: int, ch3x3red: int, ch3x3: int, ch5x5red: int,
                 ch5x5: int, pool_proj: int, norm="batch", activation="relu") -> None:
        super().__init__()
        nn = _nn()

        def cna(i, o, k):
            return ConvNormAct(i, o, k, norm=norm, activation=activation)

        self.branch1 = cna(in_channels, ch1x1, 1)
        self.branch2 = nn.Sequential(cna(in_channels, ch3x3red, 1), cna(ch3x3red, ch3x3, 3))
        self.branch3 = nn.Sequential(cna(in_channels, ch5x5red, 1), cna(ch5x5red, ch5x5, 5))
        self.branch4 = nn.Sequential(nn.MaxPool2d(3, stride=1, padding=1),
                                     cna(in_channels, pool_proj, 1))
        self.out_channels = ch1x1 + ch3x3 + ch5x5 + pool_proj

    def forward(self, x):
        return cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)],
                          dim=1)


class _ASPPPooling(Module):
    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        nn = _nn()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.conv = nn.Conv2d(in_channels, out_channels, 1, bias=False)
        self.bn = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU()

    def forward(self, x):
        size = x.shape[-2:]
        y = self.relu(self.bn(self.conv(self.pool(x))))
        return interpolate(y, size=size, mode="bilinear", align_corners=False)


class ASPP(Module):
    """Atrous Spatial Pyramid Pooling (DeepLab v3): parallel 1x1 and dilated 3x3 convolutions at
    several rates plus an image-pooling branch, concatenated and projected by a 1x1 conv.
    Dilation stands in for a spatial pyramid at the cost of memory, not parameters.

    Args:
        in_channels, out_channels: channels in and out (every branch has out_channels).
        atrous_rates: dilation rates of the 3x3 branches (default (6, 12, 18)).
        image_pooling: include the global-average-pooling branch (default True).
        dropout: dropout after the projection (0.5 as in torchvision; 0 disables).

    Shape: (N, C_in, H, W) -> (N, out_channels, H, W).
    """

    def __init__(self, in_channels: int, out_channels: int = 256,
                 atrous_rates: Sequence[int] = (6, 12, 18), image_pooling: bool = True,
                 dropout: float = 0.5) -> None:
        super().__init__()
        nn = _nn()
        branches = [ConvNormAct(in_channels, out_channels, 1)]
        for rate in atrous_rates:
            branches.append(ConvNormAct(in_channels, out_channels, 3, dilation=rate))
        if image_pooling:
            branches.append(_ASPPPooling(in_channels, out_channels))
        self.convs = nn.ModuleList(branches)
        self.project = nn.Sequential(
            nn.Conv2d(len(branches) * out_channels, out_channels, 1, bias=False),
            nn.BatchNorm2d(out_channels), nn.ReLU(), nn.Dropout(dropout))

    def forward(self, x):
        return self.project(cat([b(x) for b in self.convs], dim=1))


class BasicBlock(Module):
    """Residual block of ResNet-18/34 (torchvision's names): conv3x3-bn-relu-conv3x3-bn, plus the
    identity (or ``downsample``) shortcut, then ReLU. ``expansion = 1``.

    Shape: (N, inplanes, H, W) -> (N, planes, H/stride, W/stride).
    """

    expansion = 1

    def __init__(self, inplanes: int, planes: int, stride: int = 1,
                 downsample: Module | None = None, norm_layer: Callable | None = None) -> None:
        super().__init__()
        nn = _nn()
        norm_layer = norm_layer or nn.BatchNorm2d
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = norm_layer(planes)
        self.relu = nn.ReLU()
        self.conv2 = nn.Conv2d(planes, planes, 3, padding=1, bias=False)
        self.bn2 = norm_layer(planes)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = conv_norm_act(self.conv1, self.bn1, self.relu, x)  # folded in inference
        out = conv_norm_act(self.conv2, self.bn2, None, out)
        return self.relu(out + identity)


class Bottleneck(Module):
    """Residual bottleneck of ResNet-50+ (torchvision's names, stride on the 3x3): 1x1 reduce ->
    3x3 -> 1x1 expand (x4), plus shortcut, then ReLU. ``expansion = 4``.

    Shape: (N, inplanes, H, W) -> (N, 4*planes, H/stride, W/stride).
    """

    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: int = 1,
                 downsample: Module | None = None, groups: int = 1, base_width: int = 64,
                 dilation: int = 1, norm_layer: Callable | None = None) -> None:
        super().__init__()
        nn = _nn()
        norm_layer = norm_layer or nn.BatchNorm2d
        width = int(planes * (base_width / 64.0)) * groups
        self.conv1 = nn.Conv2d(inplanes, width, 1, bias=False)
        self.bn1 = norm_layer(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride=stride, padding=dilation, groups=groups,
                               dilation=dilation, bias=False)
        self.bn2 = norm_layer(width)
        self.conv3 = nn.Conv2d(width, planes * self.expansion, 1, bias=False)
        self.bn3 = norm_layer(planes * self.expansion)
        self.relu = nn.ReLU()
        self.downsample = downsample
        self.stride = stride

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = conv_norm_act(self.conv1, self.bn1, self.relu, x)  # folded in inference
        out = conv_norm_act(self.conv2, self.bn2, self.relu, out)
        out = conv_norm_act(self.conv3, self.bn3, None, out)
        return self.relu(out + identity)


def coordinate_channels(spatial: Sequence[int], with_r: bool = False,
                        dtype=np.float32) -> np.ndarray:
    """Coordinate maps in [-1, 1], one channel per spatial axis (plus the radius when
    ``with_r``), shape (len(spatial) [+1], *spatial). A size-1 axis gets coordinate 0."""
    axes = [np.linspace(-1.0, 1.0, s) if s > 1 else np.zeros(1) for s in spatial]
    grids = np.meshgrid(*axes, indexing="ij")
    chans = list(grids)
    if with_r:
        chans.append(np.sqrt(sum(g * g for g in grids)))
    return np.stack(chans).astype(dtype)


class AddCoords(Module):
    """Append normalised coordinate channels (CoordConv, NeurIPS 2018) to (N, C, *S) inputs.

    Channel order: one per spatial axis in axis order (for 2-d: row coordinate then column
    coordinate), each in [-1, 1], then the radius ``sqrt(sum coord^2)`` when ``with_r``.
    The coordinates are fixed (not learned), as in the paper.

    Shape: (N, C, *S) -> (N, C + len(S) [+ 1], *S).
    """

    def __init__(self, dim: int = 2, with_r: bool = False) -> None:
        super().__init__()
        self.dim, self.with_r = dim, with_r

    def forward(self, x):
        spatial = tuple(x.shape[2:])
        if len(spatial) != self.dim:
            raise ValueError(f"AddCoords: expected a ({self.dim + 2})-d input (N, C, "
                             f"{self.dim} spatial dims), got shape {tuple(x.shape)}")
        coords = coordinate_channels(spatial, self.with_r, x.dtype)
        coords = from_numpy(np.broadcast_to(coords, (x.shape[0],) + coords.shape))
        return cat([x, coords], dim=1)

    def output_shape(self, input_shape):
        """``(N, C, *S) -> (N, C + len(S) [+ 1], *S)``."""
        n, c, *sp = (int(v) for v in input_shape)
        return (n, c + self.dim + int(self.with_r), *sp)

    def extra_repr(self) -> str:
        return f"dim={self.dim}, with_r={self.with_r}"


class _CoordConvNd(Module):
    _dim = 2

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 dilation=1, groups: int = 1, bias: bool = True, padding_mode="zeros",
                 with_r: bool = False) -> None:
        super().__init__()
        extra = self._dim + (1 if with_r else 0)
        self.addcoords = AddCoords(self._dim, with_r)
        self.conv = _conv_cls(self._dim)(in_channels + extra, out_channels, kernel_size,
                                         stride=stride, padding=padding, dilation=dilation,
                                         groups=groups, bias=bias, padding_mode=padding_mode)

    def forward(self, x):
        return self.conv(self.addcoords(x))


class CoordConv1d(_CoordConvNd):
    """CoordConv in 1-d: ``Conv1d`` over the input plus a coordinate channel in [-1, 1]."""

    _dim = 1


class CoordConv2d(_CoordConvNd):
    """CoordConv (Liu et al., NeurIPS 2018): a ``Conv2d`` whose input gets two extra channels
    holding the normalised row/column coordinates in [-1, 1] (and a radius channel with
    ``with_r=True``), so the filter can depend on position — e.g. to undo equirectangular
    distortion. Arguments as ``Conv2d`` plus ``with_r``; ``in_channels`` excludes the added ones.

    Shape: (N, C_in, H, W) -> (N, C_out, H', W') as the inner Conv2d.
    """

    _dim = 2


class CoordConv3d(_CoordConvNd):
    """CoordConv in 3-d: ``Conv3d`` over the input plus three coordinate channels."""

    _dim = 3


class EquirectPad2d(Module):
    """Padding for equirectangular (360-degree) images: circular along longitude (W), and at the
    latitude edges (H) either 'replicate', 'reflect', 'zeros', or 'pole' — the row across the
    pole, i.e. the mirrored rows shifted by half a turn in longitude (requires even W).

    Args:
        padding: int or (pad_h, pad_w).
        pole: latitude-edge mode, default 'pole'.

    Shape: (N, C, H, W) -> (N, C, H + 2*pad_h, W + 2*pad_w).
    """

    _POLES = ("pole", "replicate", "reflect", "zeros")

    def __init__(self, padding, pole: str = "pole") -> None:
        super().__init__()
        ph, pw = (padding, padding) if isinstance(padding, int) else tuple(padding)
        if pole not in self._POLES:
            raise ValueError(f"EquirectPad2d: 'pole' must be one of {self._POLES}, got {pole!r}")
        self.padding, self.pole = (ph, pw), pole

    def forward(self, x):
        ph, pw = self.padding
        if x.ndim != 4:
            raise ValueError(f"EquirectPad2d: expected (N, C, H, W), got shape {tuple(x.shape)}")
        if ph and self.pole == "pole":
            h, w = x.shape[-2:]
            if w % 2:
                raise ValueError(f"EquirectPad2d: pole padding needs an even width, got {w}")
            if ph > h:
                raise ValueError(f"EquirectPad2d: pad_h={ph} exceeds the height {h}")
            # crossing a pole mirrors latitude and turns longitude by 180 degrees (W/2 columns)
            top = _roll_w(x[:, :, :ph].flip(2), w // 2)
            bottom = _roll_w(x[:, :, h - ph:].flip(2), w // 2)
            x = cat([top, x, bottom], dim=2)
        elif ph:
            mode = {"replicate": "replicate", "reflect": "reflect", "zeros": "constant"}[self.pole]
            x = pad(x, (0, 0, ph, ph), mode=mode)
        if pw:
            x = pad(x, (pw, pw, 0, 0), mode="circular")
        return x

    def window(self, input_shape=None):
        """A 1-wide window with ``(pad_h, pad_h), (pad_w, pad_w)`` padding."""
        from convnp.nn.modules._geometry import Window

        return Window((1, 1), 1, 1, self.padding)

    def output_shape(self, input_shape):
        """``(N, C, H, W) -> (N, C, H + 2*pad_h, W + 2*pad_w)``."""
        return tuple(input_shape[:-2]) + self.window().output_size(input_shape[-2:])

    def extra_repr(self) -> str:
        return f"padding={self.padding}, pole={self.pole!r}"


def _roll_w(t, shift: int):
    """Roll along the last axis (longitude) by ``shift`` columns, differentiably."""
    return cat([t[..., shift:], t[..., :shift]], dim=3) if shift else t


class EquirectConv2d(Module):
    """Convolution for equirectangular (spherical) images, "Circular CNNs" (IV 2019): the input
    wraps around in longitude, so the left and right edges are padded from each other, and the
    latitude edges use ``pole`` padding (see ``EquirectPad2d``). With ``padding='same'`` the size is
    kept for odd kernels at stride 1. Exactly equivariant to horizontal rolls (rotations of the
    camera about the vertical axis). ``coords=True`` adds CoordConv channels so filters can also
    account for the latitude-dependent distortion.

    Args: as ``Conv2d`` (padding int/tuple or 'same'), plus ``pole`` and ``coords``.

    Shape: (N, C_in, H, W) -> (N, C_out, H', W').
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1,
                 padding="same", dilation=1, groups: int = 1, bias: bool = True,
                 pole: str = "pole", coords: bool = False) -> None:
        super().__init__()
        kh, kw = (kernel_size, kernel_size) if isinstance(kernel_size, int) else kernel_size
        dh, dw = (dilation, dilation) if isinstance(dilation, int) else dilation
        if padding == "same":
            padding = (dh * (kh - 1) // 2, dw * (kw - 1) // 2)
        self.pad = EquirectPad2d(padding, pole)
        self.addcoords = AddCoords(2) if coords else None
        self.conv = _nn().Conv2d(in_channels + (2 if coords else 0), out_channels, kernel_size,
                                 stride=stride, padding=0, dilation=dilation, groups=groups,
                                 bias=bias)

    def forward(self, x):
        if self.addcoords is not None:
            x = self.addcoords(x)
        return self.conv(self.pad(x))
