"""``convnp.vision.transforms``: torchvision's per-sample image transforms.

    import convnp.vision.transforms as transforms
    t = transforms.Compose([transforms.RandomCrop(32, padding=4), transforms.ToTensor(),
                            transforms.Normalize((0.5,), (0.5,))])

Each transform takes one PIL Image or one convnp Tensor ``(..., C, H, W)`` and returns the same
kind, with torchvision's numbers (see :mod:`convnp.vision.transforms.functional`). Random
transforms draw their parameters from convnp's generator (``convnp.manual_seed`` makes a run
repeat; inside a ``DataLoader`` each batch gets its own seeded stream), in torchvision's order.

``convnp.data.transforms`` holds the batch-vectorised transforms on NumPy arrays that
``convnp train`` uses; these are the drop-in ones for torchvision scripts.
"""

from __future__ import annotations

import math
import numbers
from typing import Callable, Sequence

import numpy as np

from convnp.data.transforms import _current_rng
from convnp.tensor import Tensor
from convnp.vision.transforms import functional as F
from convnp.vision.transforms.functional import InterpolationMode

__all__ = ["Compose", "ToTensor", "PILToTensor", "ToPILImage", "ConvertImageDtype", "Normalize",
           "Resize", "CenterCrop", "RandomCrop", "RandomResizedCrop", "RandomHorizontalFlip",
           "RandomVerticalFlip", "RandomRotation", "RandomAffine", "Pad", "Grayscale",
           "RandomGrayscale", "ColorJitter", "Lambda", "RandomApply", "RandomChoice",
           "RandomOrder", "RandomErasing", "GaussianBlur", "InterpolationMode", "functional"]


def _rng() -> np.random.Generator:
    return _current_rng()


def _uniform(lo: float, hi: float) -> float:
    return float(_rng().uniform(lo, hi))


def _randint(lo: int, hi: int) -> int:
    """An int in [lo, hi) (``torch.randint``'s range)."""
    return int(_rng().integers(lo, hi))


def _rand() -> float:
    return float(_rng().random())


def _size_pair(size, name: str) -> tuple[int, int]:
    if isinstance(size, numbers.Number):
        return int(size), int(size)
    if isinstance(size, Sequence) and len(size) == 1:
        return int(size[0]), int(size[0])
    if isinstance(size, Sequence) and len(size) == 2:
        return int(size[0]), int(size[1])
    raise ValueError(f"{name}: please provide only two dimensions (h, w) for size, got {size!r}")


def _random_box(area: int, scale, ratio) -> tuple[int, int]:
    """One draw of torchvision's random box (RandomResizedCrop, RandomErasing): an area share
    uniform in ``scale``, an aspect ratio log-uniform in ``ratio``; returns the rounded
    ``(sqrt(area * aspect), sqrt(area / aspect))``."""
    target = area * _uniform(scale[0], scale[1])
    aspect = math.exp(_uniform(math.log(ratio[0]), math.log(ratio[1])))
    return int(round(math.sqrt(target * aspect))), int(round(math.sqrt(target / aspect)))


class _Transform:
    """Base: ``t(img)`` calls ``forward`` (torchvision transforms are callables / modules)."""

    def __call__(self, img):
        return self.forward(img)

    def forward(self, img):
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.extra_repr()})"

    # the attributes repr shows, in order; "name:tuple" shows the value as a tuple, and an
    # InterpolationMode shows its value (torchvision's repr)
    _repr_fields: tuple[str, ...] = ()

    def extra_repr(self) -> str:
        parts = []
        for field in self._repr_fields:
            name, _, as_type = field.partition(":")
            v = getattr(self, name)
            v = v.value if isinstance(v, InterpolationMode) else tuple(v) if as_type else v
            parts.append(f"{name}={v}")
        return ", ".join(parts)


class Compose(_Transform):
    """Apply ``transforms`` in order."""

    def __init__(self, transforms: Sequence[Callable]) -> None:
        self.transforms = list(transforms)

    def __call__(self, img):
        for t in self.transforms:
            img = t(img)
        return img

    forward = __call__

    def __repr__(self) -> str:
        return "Compose(" + "".join(f"\n    {t}" for t in self.transforms) + "\n)"


class ToTensor(_Transform):
    """PIL Image or ndarray ``(H, W, C)`` uint8 -> float Tensor ``(C, H, W)`` in [0, 1]."""

    def __call__(self, pic):
        return F.to_tensor(pic)

    forward = __call__


class PILToTensor(_Transform):
    """PIL Image -> Tensor ``(C, H, W)`` of the same dtype (no scaling)."""

    def __call__(self, pic):
        return F.pil_to_tensor(pic)

    forward = __call__


class ToPILImage(_Transform):
    """Tensor ``(C, H, W)`` or ndarray ``(H, W, C)`` -> PIL Image (``mode`` as PIL's)."""

    def __init__(self, mode: str | None = None) -> None:
        self.mode = mode

    def __call__(self, pic):
        return F.to_pil_image(pic, self.mode)

    forward = __call__

    def extra_repr(self) -> str:
        return f"mode={self.mode}" if self.mode is not None else ""


class ConvertImageDtype(_Transform):
    """Convert a tensor image to ``dtype``, rescaling the values."""

    def __init__(self, dtype) -> None:
        self.dtype = dtype

    def forward(self, image):
        return F.convert_image_dtype(image, self.dtype)


class Normalize(_Transform):
    """``(x - mean[c]) / std[c]`` per channel of a float tensor image."""

    _repr_fields = ("mean", "std")

    def __init__(self, mean: Sequence[float], std: Sequence[float], inplace: bool = False):
        self.mean, self.std, self.inplace = mean, std, inplace

    def forward(self, tensor):
        return F.normalize(tensor, self.mean, self.std, self.inplace)


class Resize(_Transform):
    """Resize to ``size`` ((h, w), or an int for the shorter side); see :func:`F.resize`."""

    _repr_fields = ("size", "interpolation", "max_size", "antialias")

    def __init__(self, size, interpolation=InterpolationMode.BILINEAR,
                 max_size: int | None = None, antialias: bool | None = True) -> None:
        F._check_size(size, "Resize")
        self.size, self.max_size, self.antialias = size, max_size, antialias
        self.interpolation = F._interp(interpolation, "Resize")

    def forward(self, img):
        return F.resize(img, self.size, self.interpolation, self.max_size, self.antialias)


class CenterCrop(_Transform):
    """Crop the centre ``size`` box (zero-padded if the image is smaller)."""

    _repr_fields = ("size",)

    def __init__(self, size) -> None:
        self.size = _size_pair(size, "CenterCrop")

    def forward(self, img):
        return F.center_crop(img, self.size)


class Pad(_Transform):
    """Pad the borders; see :func:`F.pad` for ``padding``, ``fill`` and ``padding_mode``."""

    _repr_fields = ("padding", "fill", "padding_mode")

    def __init__(self, padding, fill=0, padding_mode: str = "constant") -> None:
        F._parse_padding(padding, "Pad")
        if padding_mode not in F._PAD_MODES:
            raise ValueError(f"Pad: padding_mode should be one of {', '.join(F._PAD_MODES)}, "
                             f"got {padding_mode!r}")
        self.padding, self.fill, self.padding_mode = padding, fill, padding_mode

    def forward(self, img):
        return F.pad(img, self.padding, self.fill, self.padding_mode)


class Lambda(_Transform):
    """Apply a user function."""

    def __init__(self, lambd: Callable) -> None:
        if not callable(lambd):
            raise TypeError(f"Lambda: argument should be callable, got {type(lambd).__name__}")
        self.lambd = lambd

    def __call__(self, img):
        return self.lambd(img)

    forward = __call__


class RandomApply(_Transform):
    """Apply the list of ``transforms`` with probability ``p``."""

    def __init__(self, transforms: Sequence[Callable], p: float = 0.5) -> None:
        self.transforms, self.p = list(transforms), p

    def forward(self, img):
        if self.p < _rand():
            return img
        for t in self.transforms:
            img = t(img)
        return img


class RandomChoice(_Transform):
    """Apply one transform picked at random (weights ``p``)."""

    def __init__(self, transforms: Sequence[Callable], p: Sequence[float] | None = None) -> None:
        if p is not None and len(p) != len(transforms):
            raise ValueError(f"RandomChoice: length of p doesn't match the number of transforms: "
                             f"{len(p)} != {len(transforms)}")
        self.transforms, self.p = list(transforms), p

    def __call__(self, *args):
        p = None if self.p is None else np.asarray(self.p, float) / sum(self.p)
        return self.transforms[int(_rng().choice(len(self.transforms), p=p))](*args)


class RandomOrder(_Transform):
    """Apply ``transforms`` in a random order."""

    def __init__(self, transforms: Sequence[Callable]) -> None:
        self.transforms = list(transforms)

    def __call__(self, img):
        for i in _rng().permutation(len(self.transforms)):
            img = self.transforms[int(i)](img)
        return img


class RandomCrop(_Transform):
    """Crop a random ``size`` box, after optional ``padding`` (and ``pad_if_needed`` padding
    of a too-small image); see :func:`F.pad` for ``fill`` and ``padding_mode``."""

    _repr_fields = ("size", "padding")

    def __init__(self, size, padding=None, pad_if_needed: bool = False, fill=0,
                 padding_mode: str = "constant") -> None:
        self.size = _size_pair(size, "RandomCrop")
        if padding is not None:
            F._parse_padding(padding, "RandomCrop")
        self.padding, self.pad_if_needed = padding, pad_if_needed
        self.fill, self.padding_mode = fill, padding_mode

    @staticmethod
    def get_params(img, output_size) -> tuple[int, int, int, int]:
        """Random (top, left, height, width) of a crop of ``output_size``."""
        _, h, w = F.get_dimensions(img)
        th, tw = output_size
        if h < th or w < tw:
            raise ValueError(f"RandomCrop: required crop size {(th, tw)} is larger than the input "
                             f"image size {(h, w)} (pass pad_if_needed=True or padding=)")
        if w == tw and h == th:
            return 0, 0, h, w
        return _randint(0, h - th + 1), _randint(0, w - tw + 1), th, tw

    def forward(self, img):
        if self.padding is not None:
            img = F.pad(img, self.padding, self.fill, self.padding_mode)
        _, h, w = F.get_dimensions(img)
        if self.pad_if_needed and w < self.size[1]:
            img = F.pad(img, [self.size[1] - w, 0], self.fill, self.padding_mode)
        if self.pad_if_needed and h < self.size[0]:
            img = F.pad(img, [0, self.size[0] - h], self.fill, self.padding_mode)
        i, j, h, w = self.get_params(img, self.size)
        return F.crop(img, i, j, h, w)


class RandomResizedCrop(_Transform):
    """Crop a random box (area fraction in ``scale``, aspect ratio in ``ratio``, log-uniform)
    and resize it to ``size`` (Inception-style augmentation)."""

    _repr_fields = ("size", "scale:tuple", "ratio:tuple", "interpolation", "antialias")

    def __init__(self, size, scale=(0.08, 1.0), ratio=(3.0 / 4.0, 4.0 / 3.0),
                 interpolation=InterpolationMode.BILINEAR, antialias: bool | None = True):
        self.size = _size_pair(size, "RandomResizedCrop")
        if not isinstance(scale, Sequence) or not isinstance(ratio, Sequence):
            raise TypeError("RandomResizedCrop: scale and ratio should be sequences of 2 numbers")
        self.scale, self.ratio, self.antialias = scale, ratio, antialias
        self.interpolation = F._interp(interpolation, "RandomResizedCrop")

    @staticmethod
    def get_params(img, scale, ratio) -> tuple[int, int, int, int]:
        _, height, width = F.get_dimensions(img)
        area = height * width
        for _ in range(10):
            w, h = _random_box(area, scale, ratio)
            if 0 < w <= width and 0 < h <= height:
                return _randint(0, height - h + 1), _randint(0, width - w + 1), h, w
        # fallback: the central crop closest to the allowed ratios
        in_ratio = float(width) / float(height)
        if in_ratio < min(ratio):
            w, h = width, int(round(width / min(ratio)))
        elif in_ratio > max(ratio):
            h, w = height, int(round(height * max(ratio)))
        else:
            w, h = width, height
        return (height - h) // 2, (width - w) // 2, h, w

    def forward(self, img):
        i, j, h, w = self.get_params(img, self.scale, self.ratio)
        return F.resized_crop(img, i, j, h, w, self.size, self.interpolation,
                              antialias=self.antialias)


class RandomHorizontalFlip(_Transform):
    """Flip left-right with probability ``p``."""

    _repr_fields = ("p",)

    def __init__(self, p: float = 0.5) -> None:
        self.p = p

    def forward(self, img):
        return F.hflip(img) if _rand() < self.p else img


class RandomVerticalFlip(RandomHorizontalFlip):
    """Flip top-bottom with probability ``p``."""

    def forward(self, img):
        return F.vflip(img) if _rand() < self.p else img


def _range(value, name: str, center: float = 0.0, bound=(0.0, float("inf"))):
    """A number v -> (center - v, center + v) (clipped at 0 when ``center`` is 1); a pair as is."""
    if isinstance(value, numbers.Number):
        if value < 0:
            raise ValueError(f"If {name} is a single number, it must be non negative, got {value}")
        value = [center - float(value), center + float(value)]
        if center == 1.0:
            value[0] = max(value[0], 0.0)
    elif isinstance(value, (tuple, list)) and len(value) == 2:
        value = [float(value[0]), float(value[1])]
        if not bound[0] <= value[0] <= value[1] <= bound[1]:
            raise ValueError(f"{name} values should be between {bound}, got {value}")
    else:
        raise TypeError(f"{name} should be a single number or a list/tuple with length 2, "
                        f"got {value!r}")
    return value


def _tensor_fill(img, fill):
    """torchvision gives tensor images a per-channel float fill (ones-mask path)."""
    if isinstance(img, Tensor):
        c = F.get_dimensions(img)[0]
        return [float(fill)] * c if isinstance(fill, (int, float)) else [float(f) for f in fill]
    return fill


class RandomRotation(_Transform):
    """Rotate by an angle drawn uniformly from ``degrees`` (a number d means (-d, d))."""

    _repr_fields = ("degrees", "interpolation", "expand", "fill")

    def __init__(self, degrees, interpolation=InterpolationMode.NEAREST, expand: bool = False,
                 center=None, fill=0) -> None:
        self.degrees = _range(degrees, "degrees", bound=(-float("inf"), float("inf")))
        self.interpolation = F._interp(interpolation, "RandomRotation")
        if center is not None and (not isinstance(center, Sequence) or len(center) != 2):
            raise ValueError(f"RandomRotation: center should be a sequence of length 2, got "
                             f"{center!r}")
        if fill is None:
            fill = 0
        self.expand, self.center, self.fill = expand, center, fill

    @staticmethod
    def get_params(degrees) -> float:
        return _uniform(float(degrees[0]), float(degrees[1]))

    def forward(self, img):
        fill = _tensor_fill(img, self.fill)
        angle = self.get_params(self.degrees)
        return F.rotate(img, angle, self.interpolation, self.expand, self.center, fill)


class RandomAffine(_Transform):
    """Random rotation (``degrees``), translation (fractions of width/height), scale and shear
    (``shear``: a number s -> x-shear in (-s, s); 2 values an x range; 4 values x and y ranges).
    """

    _repr_fields = ("degrees", "translate", "scale", "shear")

    def __init__(self, degrees, translate=None, scale=None, shear=None,
                 interpolation=InterpolationMode.NEAREST, fill=0, center=None) -> None:
        self.degrees = _range(degrees, "degrees", bound=(-float("inf"), float("inf")))
        if translate is not None:
            if len(translate) != 2 or not all(0.0 <= t <= 1.0 for t in translate):
                raise ValueError(f"RandomAffine: translate should be a sequence of 2 values "
                                 f"between 0 and 1, got {translate!r}")
        if scale is not None:
            if len(scale) != 2 or any(s <= 0 for s in scale):
                raise ValueError(f"RandomAffine: scale should be a sequence of 2 positive values, "
                                 f"got {scale!r}")
        if shear is not None:
            if isinstance(shear, numbers.Number):
                shear = _range(shear, "shear", bound=(-float("inf"), float("inf")))
            elif isinstance(shear, Sequence) and len(shear) in (2, 4):
                shear = [float(s) for s in shear]
            else:
                raise ValueError(f"RandomAffine: shear should be a number or a sequence of 2 or 4 "
                                 f"numbers, got {shear!r}")
        self.translate, self.scale, self.shear = translate, scale, shear
        self.interpolation = F._interp(interpolation, "RandomAffine")
        self.fill, self.center = (0 if fill is None else fill), center

    @staticmethod
    def get_params(degrees, translate, scale_ranges, shears, img_size):
        """(angle, (tx, ty), scale, (shear_x, shear_y)), drawn in torchvision's order."""
        angle = _uniform(float(degrees[0]), float(degrees[1]))
        if translate is not None:
            max_dx, max_dy = float(translate[0] * img_size[0]), float(translate[1] * img_size[1])
            tx = int(round(_uniform(-max_dx, max_dx)))
            ty = int(round(_uniform(-max_dy, max_dy)))
            translations = (tx, ty)
        else:
            translations = (0, 0)
        scale = _uniform(scale_ranges[0], scale_ranges[1]) if scale_ranges is not None else 1.0
        shear_x = shear_y = 0.0
        if shears is not None:
            shear_x = _uniform(shears[0], shears[1])
            if len(shears) == 4:
                shear_y = _uniform(shears[2], shears[3])
        return angle, translations, scale, (shear_x, shear_y)

    def forward(self, img):
        fill = _tensor_fill(img, self.fill)
        _, h, w = F.get_dimensions(img)
        ret = self.get_params(self.degrees, self.translate, self.scale, self.shear, [w, h])
        return F.affine(img, *ret, interpolation=self.interpolation, fill=fill,
                        center=self.center)


class Grayscale(_Transform):
    """RGB -> grey with 1 or 3 output channels."""

    _repr_fields = ("num_output_channels",)

    def __init__(self, num_output_channels: int = 1) -> None:
        self.num_output_channels = num_output_channels

    def forward(self, img):
        return F.rgb_to_grayscale(img, self.num_output_channels)


class RandomGrayscale(_Transform):
    """Grey (keeping the channel count) with probability ``p``."""

    def __init__(self, p: float = 0.1) -> None:
        self.p = p

    def forward(self, img):
        c = F.get_dimensions(img)[0]
        return F.rgb_to_grayscale(img, c) if _rand() < self.p else img


class ColorJitter(_Transform):
    """Random brightness, contrast, saturation and hue changes, applied in a random order.

    Each of ``brightness``/``contrast``/``saturation`` is a number v (factor in
    [max(0, 1 - v), 1 + v]) or a (min, max) pair; ``hue`` is h (shift in [-h, h], h <= 0.5) or a
    pair in [-0.5, 0.5].
    """

    _repr_fields = ("brightness", "contrast", "saturation", "hue")

    def __init__(self, brightness=0, contrast=0, saturation=0, hue=0) -> None:
        self.brightness = self._check(brightness, "brightness")
        self.contrast = self._check(contrast, "contrast")
        self.saturation = self._check(saturation, "saturation")
        self.hue = self._check(hue, "hue", center=0.0, bound=(-0.5, 0.5))

    @staticmethod
    def _check(value, name, center=1.0, bound=(0.0, float("inf"))):
        v = _range(value, name, center, bound)
        if name == "hue" and isinstance(value, numbers.Number) and value > 0.5:
            raise ValueError(f"ColorJitter: hue values should be between (-0.5, 0.5), got {v}")
        return None if v[0] == v[1] == center else tuple(v)

    @staticmethod
    def get_params(brightness, contrast, saturation, hue):
        """(order, brightness, contrast, saturation, hue factors), drawn in torchvision's order."""
        order = _rng().permutation(4)
        b = None if brightness is None else _uniform(brightness[0], brightness[1])
        c = None if contrast is None else _uniform(contrast[0], contrast[1])
        s = None if saturation is None else _uniform(saturation[0], saturation[1])
        h = None if hue is None else _uniform(hue[0], hue[1])
        return order, b, c, s, h

    def forward(self, img):
        order, b, c, s, h = self.get_params(self.brightness, self.contrast, self.saturation,
                                            self.hue)
        for fn_id in order:
            if fn_id == 0 and b is not None:
                img = F.adjust_brightness(img, b)
            elif fn_id == 1 and c is not None:
                img = F.adjust_contrast(img, c)
            elif fn_id == 2 and s is not None:
                img = F.adjust_saturation(img, s)
            elif fn_id == 3 and h is not None:
                img = F.adjust_hue(img, h)
        return img


class RandomErasing(_Transform):
    """Erase a random box of a tensor image with probability ``p`` (area fraction in ``scale``,
    aspect ratio in ``ratio``); ``value`` a number, per-channel values, or 'random' (normal
    noise)."""

    def __init__(self, p: float = 0.5, scale=(0.02, 0.33), ratio=(0.3, 3.3), value=0,
                 inplace: bool = False) -> None:
        if not isinstance(value, (numbers.Number, str, tuple, list)):
            raise TypeError("RandomErasing: argument value should be either a number or str or "
                            "a sequence")
        if isinstance(value, str) and value != "random":
            raise ValueError(f"RandomErasing: if value is a str, it should be 'random', got "
                             f"{value!r}")
        if scale[0] > scale[1] or ratio[0] > ratio[1]:
            raise ValueError("RandomErasing: scale and ratio should be of kind (min, max)")
        if scale[0] < 0 or scale[1] > 1:
            raise ValueError("RandomErasing: scale should be between 0 and 1")
        if not 0 <= p <= 1:
            raise ValueError("RandomErasing: random erasing probability should be between 0 "
                             "and 1")
        self.p, self.scale, self.ratio, self.value, self.inplace = p, scale, ratio, value, inplace

    @staticmethod
    def get_params(img, scale, ratio, value=None):
        c, ih, iw = img.shape[-3], img.shape[-2], img.shape[-1]
        area = ih * iw
        for _ in range(10):
            h, w = _random_box(area, scale, ratio)
            if not (h < ih and w < iw):
                continue
            if value is None:
                v = _rng().standard_normal((c, h, w)).astype(np.float32)
            else:
                v = np.asarray(value, np.float32)[:, None, None]
            return _randint(0, ih - h + 1), _randint(0, iw - w + 1), h, w, v
        return 0, 0, ih, iw, img

    def forward(self, img):
        if not isinstance(img, Tensor):
            raise TypeError(f"RandomErasing: img should be a convnp Tensor (apply ToTensor() "
                            f"first), got {type(img).__name__}")
        if _rand() < self.p:
            if isinstance(self.value, numbers.Number):
                value = [float(self.value)]
            elif isinstance(self.value, str):
                value = None
            else:
                value = list(self.value)
            if value is not None and len(value) not in (1, img.shape[-3]):
                raise ValueError(f"RandomErasing: if value is a sequence, it should have either "
                                 f"a single value or {img.shape[-3]} (number of input channels)")
            x, y, h, w, v = self.get_params(img, self.scale, self.ratio, value)
            return F.erase(img, x, y, h, w, v, self.inplace)
        return img


class GaussianBlur(_Transform):
    """Gaussian blur with a std drawn uniformly from ``sigma`` ((min, max) or a number)."""

    _repr_fields = ("kernel_size", "sigma")

    def __init__(self, kernel_size, sigma=(0.1, 2.0)) -> None:
        ks = (kernel_size, kernel_size) if isinstance(kernel_size, int) else tuple(kernel_size)
        if len(ks) != 2 or any(k <= 0 or k % 2 == 0 for k in ks):
            raise ValueError(f"GaussianBlur: kernel size value should be an odd and positive "
                             f"number, got {kernel_size!r}")
        if isinstance(sigma, numbers.Number):
            if sigma <= 0:
                raise ValueError("GaussianBlur: if sigma is a single number, it must be positive")
            sigma = (float(sigma), float(sigma))
        elif not (isinstance(sigma, Sequence) and len(sigma) == 2 and 0 < sigma[0] <= sigma[1]):
            raise ValueError("GaussianBlur: sigma values should be positive and of the form "
                             "(min, max)")
        self.kernel_size, self.sigma = ks, tuple(sigma)

    @staticmethod
    def get_params(sigma_min: float, sigma_max: float) -> float:
        return _uniform(sigma_min, sigma_max)

    def forward(self, img):
        s = self.get_params(self.sigma[0], self.sigma[1])
        return F.gaussian_blur(img, list(self.kernel_size), [s, s])


def __getattr__(name: str):
    from convnp.vision import _unsupported

    _unsupported.check("transforms", name, _unsupported.TRANSFORMS)
