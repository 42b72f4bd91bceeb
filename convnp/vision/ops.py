"""``convnp.vision.ops``: torchvision's CNN building blocks and box operations.

Blocks (modules under torchvision's attribute names, so weights load): ``Conv2dNormActivation``,
``Conv3dNormActivation``, ``SqueezeExcitation``, ``StochasticDepth`` / ``stochastic_depth``,
``MLP``, ``Permute``. Boxes (``(x1, y1, x2, y2)`` rows): ``box_area``, ``box_iou`` (both
differentiable), ``nms``, ``batched_nms``, ``box_convert``, ``clip_boxes_to_image``,
``remove_small_boxes``.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

import convnp
import convnp.nn as nn
from convnp.tensor import Tensor

__all__ = ["Conv2dNormActivation", "Conv3dNormActivation", "SqueezeExcitation",
           "StochasticDepth", "stochastic_depth", "MLP", "Permute", "box_area", "box_iou", "nms",
           "batched_nms", "box_convert", "clip_boxes_to_image", "remove_small_boxes"]


# --------------------------------------------------------------------------- blocks
class ConvNormActivation(nn.Sequential):
    def __init__(self, in_channels: int, out_channels: int, kernel_size=3, stride=1,
                 padding=None, groups: int = 1,
                 norm_layer: Callable[..., nn.Module] | None = nn.BatchNorm2d,
                 activation_layer: Callable[..., nn.Module] | None = nn.ReLU, dilation=1,
                 inplace: bool | None = True, bias: bool | None = None,
                 conv_layer: Callable[..., nn.Module] = nn.Conv2d) -> None:
        if padding is None:  # 'same' for odd kernels at stride 1
            if isinstance(kernel_size, int) and isinstance(dilation, int):
                padding = (kernel_size - 1) // 2 * dilation
            else:
                n = len(kernel_size) if isinstance(kernel_size, Sequence) else len(dilation)
                ks = kernel_size if isinstance(kernel_size, Sequence) else (kernel_size,) * n
                dl = dilation if isinstance(dilation, Sequence) else (dilation,) * n
                padding = tuple((k - 1) // 2 * d for k, d in zip(ks, dl))
        if bias is None:
            bias = norm_layer is None
        layers = [conv_layer(in_channels, out_channels, kernel_size, stride, padding,
                             dilation=dilation, groups=groups, bias=bias)]
        if norm_layer is not None:
            layers.append(norm_layer(out_channels))
        if activation_layer is not None:
            params = {} if inplace is None else {"inplace": inplace}
            layers.append(activation_layer(**params))
        super().__init__(*layers)
        self.out_channels = out_channels


def _fixed_dims_init(conv_layer, default_norm):
    """The ``__init__`` of a ConvNormActivation with its convolution fixed to ``conv_layer`` and
    torchvision's signature (``norm_layer`` defaulting to ``default_norm``; None: no norm)."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size=3, stride=1,
                 padding=None, groups: int = 1, norm_layer=default_norm,
                 activation_layer=nn.ReLU, dilation=1, inplace: bool | None = True,
                 bias: bool | None = None) -> None:
        ConvNormActivation.__init__(self, in_channels, out_channels, kernel_size, stride, padding,
                                    groups, norm_layer, activation_layer, dilation, inplace, bias,
                                    conv_layer)

    return __init__


class Conv2dNormActivation(ConvNormActivation):
    """``Conv2d -> norm_layer -> activation_layer`` as one Sequential (keys ``0.weight``,
    ``1.running_mean``, ...). ``padding=None`` keeps the size at stride 1; the conv has a bias
    only when there is no norm layer (``bias=None``).

    Shape: ``(N, in_channels, H, W) -> (N, out_channels, H_out, W_out)``.
    """

    __init__ = _fixed_dims_init(nn.Conv2d, nn.BatchNorm2d)


class Conv3dNormActivation(ConvNormActivation):
    """The 3-d twin of :class:`Conv2dNormActivation`."""

    __init__ = _fixed_dims_init(nn.Conv3d, nn.BatchNorm3d)


class SqueezeExcitation(nn.Module):
    """Squeeze-and-Excitation (Hu et al.): global average pool -> 1x1 conv ``fc1`` ->
    ``activation`` -> 1x1 conv ``fc2`` -> ``scale_activation``, multiplied onto the input.

    Shape: ``(N, C, H, W) -> (N, C, H, W)``.
    """

    def __init__(self, input_channels: int, squeeze_channels: int,
                 activation: Callable[..., nn.Module] = nn.ReLU,
                 scale_activation: Callable[..., nn.Module] = nn.Sigmoid) -> None:
        super().__init__()
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(input_channels, squeeze_channels, 1)
        self.fc2 = nn.Conv2d(squeeze_channels, input_channels, 1)
        self.activation = activation()
        self.scale_activation = scale_activation()

    def _scale(self, input):
        s = self.activation(self.fc1(self.avgpool(input)))
        return self.scale_activation(self.fc2(s))

    def forward(self, input):
        return self._scale(input) * input


def stochastic_depth(input, p: float, mode: str, training: bool = True):
    """Drop whole residual branches (Huang et al., "Deep Networks with Stochastic Depth"):
    ``mode='row'`` zeroes each sample's branch with probability ``p``, ``'batch'`` the whole
    batch's; survivors are scaled by ``1 / (1 - p)``. Identity when not ``training``."""
    if p < 0.0 or p > 1.0:
        raise ValueError(f"stochastic_depth: drop probability has to be between 0 and 1, but got "
                         f"{p}")
    if mode not in ("batch", "row"):
        raise ValueError(f"stochastic_depth: mode has to be either 'batch' or 'row', but got "
                         f"{mode}")
    if not training or p == 0.0:
        return input
    survival = 1.0 - p
    size = [input.shape[0]] + [1] * (input.ndim - 1) if mode == "row" else [1] * input.ndim
    from convnp.random import default_generator

    noise = (default_generator.np.random(size) < survival).astype(input.dtype)
    if survival > 0.0:
        noise /= input.dtype.type(survival)
    return input * Tensor._wrap(noise)


class StochasticDepth(nn.Module):
    """Module form of :func:`stochastic_depth` (active in training mode)."""

    def __init__(self, p: float, mode: str) -> None:
        super().__init__()
        self.p, self.mode = p, mode

    def forward(self, input):
        return stochastic_depth(input, self.p, self.mode, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}, mode={self.mode}"


class MLP(nn.Sequential):
    """Linear layers of ``hidden_channels`` widths, each but the last followed by
    ``norm_layer``, ``activation_layer`` and dropout; the last by dropout only."""

    def __init__(self, in_channels: int, hidden_channels: list[int], norm_layer=None,
                 activation_layer=nn.ReLU, inplace: bool | None = None, bias: bool = True,
                 dropout: float = 0.0) -> None:
        params = {} if inplace is None else {"inplace": inplace}
        layers: list[nn.Module] = []
        in_dim = in_channels
        for hidden in hidden_channels[:-1]:
            layers.append(nn.Linear(in_dim, hidden, bias=bias))
            if norm_layer is not None:
                layers.append(norm_layer(hidden))
            layers += [activation_layer(**params), nn.Dropout(dropout, **params)]
            in_dim = hidden
        layers += [nn.Linear(in_dim, hidden_channels[-1], bias=bias),
                   nn.Dropout(dropout, **params)]
        super().__init__(*layers)


class Permute(nn.Module):
    """``x.permute(*dims)`` as a module."""

    def __init__(self, dims: list[int]) -> None:
        super().__init__()
        self.dims = list(dims)

    def forward(self, x):
        return x.permute(*self.dims)


# --------------------------------------------------------------------------- boxes
def _check_boxes(boxes, fn: str, name: str = "boxes") -> None:
    if not isinstance(boxes, Tensor):
        raise TypeError(f"{fn}: {name} must be a convnp Tensor, got {type(boxes).__name__}")
    if boxes.ndim != 2 or boxes.shape[-1] != 4:
        raise ValueError(f"{fn}: {name} must have shape (N, 4) as (x1, y1, x2, y2) rows, got "
                         f"{tuple(boxes.shape)}")


def box_area(boxes: Tensor) -> Tensor:
    """Areas ``(x2 - x1) * (y2 - y1)`` of boxes ``(N, 4)`` -> ``(N,)``."""
    _check_boxes(boxes, "box_area")
    return (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])


def box_iou(boxes1: Tensor, boxes2: Tensor) -> Tensor:
    """Intersection over union of every pair: ``(N, 4), (M, 4) -> (N, M)``."""
    _check_boxes(boxes1, "box_iou", "boxes1")
    _check_boxes(boxes2, "box_iou", "boxes2")
    a1, a2 = box_area(boxes1), box_area(boxes2)
    lt = convnp.maximum(boxes1[:, None, :2], boxes2[None, :, :2])  # (N, M, 2)
    rb = convnp.minimum(boxes1[:, None, 2:], boxes2[None, :, 2:])
    wh = (rb - lt).clamp(min=0)
    inter = wh[:, :, 0] * wh[:, :, 1]
    return inter / (a1[:, None] + a2[None, :] - inter)


def _iou_np(box: np.ndarray, others: np.ndarray) -> np.ndarray:
    lt = np.maximum(box[:2], others[:, :2])
    rb = np.minimum(box[2:], others[:, 2:])
    wh = np.clip(rb - lt, 0, None)
    inter = wh[:, 0] * wh[:, 1]
    a = (box[2] - box[0]) * (box[3] - box[1])
    b = (others[:, 2] - others[:, 0]) * (others[:, 3] - others[:, 1])
    return inter / (a + b - inter)


def nms(boxes: Tensor, scores: Tensor, iou_threshold: float) -> Tensor:
    """Non-maximum suppression: keep the highest-scoring box, drop the boxes whose IoU with it
    exceeds ``iou_threshold``, repeat. Returns int64 indices of the kept boxes, by decreasing
    score."""
    _check_boxes(boxes, "nms")
    b = boxes.array
    s = scores.array if isinstance(scores, Tensor) else np.asarray(scores)
    if s.shape != (b.shape[0],):
        raise ValueError(f"nms: scores must have shape ({b.shape[0]},) to match boxes, got "
                         f"{s.shape}")
    order = np.argsort(-s, kind="stable")
    keep = []
    while order.size:
        i = order[0]
        keep.append(i)
        rest = order[1:]
        order = rest[~(_iou_np(b[i], b[rest]) > iou_threshold)]
    return Tensor._wrap(np.asarray(keep, np.int64))


def batched_nms(boxes: Tensor, scores: Tensor, idxs: Tensor, iou_threshold: float) -> Tensor:
    """NMS within each category ``idxs`` (boxes of different categories never suppress each
    other)."""
    _check_boxes(boxes, "batched_nms")
    b = boxes.array
    if b.shape[0] == 0:
        return Tensor._wrap(np.zeros(0, np.int64))
    cat = (idxs.array if isinstance(idxs, Tensor) else np.asarray(idxs)).astype(b.dtype)
    offsets = cat * (b.max() + 1)  # move each category's boxes to a disjoint region
    return nms(Tensor._wrap(b + offsets[:, None]), scores, iou_threshold)


def box_convert(boxes: Tensor, in_fmt: str, out_fmt: str) -> Tensor:
    """Convert between 'xyxy', 'xywh' (corner + size) and 'cxcywh' (centre + size)."""
    fmts = ("xyxy", "xywh", "cxcywh")
    if in_fmt not in fmts or out_fmt not in fmts:
        raise ValueError(f"box_convert: unsupported format; in_fmt and out_fmt must be one of "
                         f"{fmts}, got {in_fmt!r}, {out_fmt!r}")
    _check_boxes(boxes, "box_convert")
    if in_fmt == out_fmt:
        return boxes.clone()
    a, b, c, d = (boxes[:, i] for i in range(4))
    if in_fmt == "xywh":
        a, b, c, d = a, b, a + c, b + d
    elif in_fmt == "cxcywh":
        a, b, c, d = a - 0.5 * c, b - 0.5 * d, a + 0.5 * c, b + 0.5 * d
    if out_fmt == "xywh":
        a, b, c, d = a, b, c - a, d - b
    elif out_fmt == "cxcywh":
        a, b, c, d = (a + c) / 2, (b + d) / 2, c - a, d - b
    return convnp.stack([a, b, c, d], dim=-1)


def clip_boxes_to_image(boxes: Tensor, size: tuple[int, int]) -> Tensor:
    """Clip boxes to an image of ``size`` (height, width)."""
    _check_boxes(boxes, "clip_boxes_to_image")
    h, w = size
    x = boxes[:, 0::2].clamp(min=0, max=w)
    y = boxes[:, 1::2].clamp(min=0, max=h)
    return convnp.stack([x[:, 0], y[:, 0], x[:, 1], y[:, 1]], dim=-1)


def remove_small_boxes(boxes: Tensor, min_size: float) -> Tensor:
    """Indices of the boxes whose sides are both at least ``min_size``."""
    _check_boxes(boxes, "remove_small_boxes")
    b = boxes.array
    keep = ((b[:, 2] - b[:, 0]) >= min_size) & ((b[:, 3] - b[:, 1]) >= min_size)
    return Tensor._wrap(np.nonzero(keep)[0].astype(np.int64))


def __getattr__(name: str):
    from convnp.vision import _unsupported

    _unsupported.check("ops", name, _unsupported.OPS)
