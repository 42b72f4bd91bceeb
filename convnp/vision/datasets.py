"""``convnp.vision.datasets``: torchvision's dataset classes.

    from convnp.vision import datasets, transforms
    train = datasets.MNIST("data", train=True, download=True, transform=transforms.ToTensor())
    img, label = train[0]          # Tensor (1, 28, 28) float32 in [0, 1], int

As in torchvision, an item is ``(PIL Image, int)`` before ``transform`` (so PIL-based transforms
work) and whatever ``transform`` returns after it; MNIST-family ``.data`` / ``.targets`` are
uint8 / int64 Tensors, CIFAR's ``.data`` is a uint8 ndarray ``(N, 32, 32, 3)`` and ``.targets`` a
list. Files are found, downloaded and checksummed by :mod:`convnp.data.datasets` (the same
layouts as torchvision: ``root/MNIST/raw/...``, ``root/cifar-10-batches-py/...``).

When ``transform`` is made only of ``ToTensor`` and ``Normalize`` (the usual MNIST pipeline), the
``DataLoader`` gathers whole batches with array operations instead of one PIL image at a time;
the numbers are the same.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable

import numpy as np

from convnp.data import datasets as _ds
from convnp.data.dataset import Dataset
from convnp.tensor import Tensor

__all__ = ["VisionDataset", "MNIST", "FashionMNIST", "KMNIST", "EMNIST", "CIFAR10", "CIFAR100",
           "DatasetFolder", "ImageFolder", "FakeData", "IMG_EXTENSIONS", "default_loader",
           "pil_loader"]


def _np(x) -> np.ndarray:
    return x.array if isinstance(x, Tensor) else np.asarray(x)


def _batchable(transform) -> bool:
    """True when ``transform`` is ToTensor/Normalize only, so batches can skip PIL."""
    from convnp.vision import transforms as T

    steps = transform.transforms if isinstance(transform, T.Compose) else [transform]
    if not steps or not isinstance(steps[0], T.ToTensor):
        return False
    return all(isinstance(t, T.Normalize) for t in steps[1:])


def _batch_transform(transform, images: np.ndarray) -> np.ndarray:
    """ToTensor then Normalize on a uint8 batch ``(N, H, W[, C])``; the per-sample numbers."""
    from convnp.vision import transforms as T
    from convnp.vision.transforms import functional as F

    steps = transform.transforms if isinstance(transform, T.Compose) else [transform]
    x = images[:, None] if images.ndim == 3 else images.transpose(0, 3, 1, 2)  # -> (N, C, H, W)
    out = F._scaled(np.ascontiguousarray(x))
    for t in steps[1:]:
        out = F.normalize(out, t.mean, t.std, inplace=True)
    return out.array


class VisionDataset(Dataset):
    """Base of torchvision-style datasets: ``root``, ``transform``, ``target_transform``,
    ``transforms`` (a joint callable on (image, target))."""

    _repr_indent = 4

    def __init__(self, root=None, transforms: Callable | None = None,
                 transform: Callable | None = None,
                 target_transform: Callable | None = None) -> None:
        self.root = Path(os.path.expanduser(root)) if root is not None else _ds.default_root()
        has_separate = transform is not None or target_transform is not None
        if transforms is not None and has_separate:
            raise ValueError("Only transforms or transform/target_transform can be passed as "
                             "argument")
        self.transform, self.target_transform = transform, target_transform
        self.transforms = transforms

    def _apply(self, img, target):
        if self.transforms is not None:
            return self.transforms(img, target)
        if self.transform is not None:
            img = self.transform(img)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target

    def __repr__(self) -> str:
        lines = [f"Dataset {type(self).__name__}", f"    Number of datapoints: {len(self)}",
                 f"    Root location: {self.root}"]
        extra = self.extra_repr()
        if extra:
            lines += ["    " + e for e in extra.splitlines()]
        if self.transform is not None:
            lines.append(f"    StandardTransform\n    Transform: {self.transform!r}")
        return "\n".join(lines)

    def extra_repr(self) -> str:
        return ""


class _ArrayImages:
    """Shared item logic of the array-backed datasets (MNIST family, CIFAR)."""

    _pil_mode = "L"

    def __getitem__(self, index: int):
        from PIL import Image

        img, target = _np(self.data)[index], int(_np(self.targets)[index])
        img = Image.fromarray(np.ascontiguousarray(img))
        return VisionDataset._apply(self, img, target)

    def __len__(self) -> int:
        return len(self.data)

    @property
    def get_batch(self):
        """The DataLoader's batch path, offered only when it gives the per-sample numbers
        (absent otherwise, so ``hasattr``/``getattr`` in Subset and ConcatDataset see no batch
        path either)."""
        if getattr(self, "transforms", None) is not None or self.transform is None or \
                not _batchable(self.transform):
            raise AttributeError("get_batch: this transform runs per item (PIL), as torchvision")
        return self._get_batch

    def _get_batch(self, indices: np.ndarray, rng=None):
        imgs = _batch_transform(self.transform, _np(self.data)[indices])
        targets = np.asarray(_np(self.targets))[indices].astype(np.int64)
        if self.target_transform is not None:
            return imgs, np.asarray([self.target_transform(int(t)) for t in targets])
        return imgs, targets

    def extra_repr(self) -> str:
        return f"Split: {'Train' if self.train else 'Test'}"

    __repr__ = VisionDataset.__repr__


class MNIST(_ArrayImages, _ds.MNIST):
    """`MNIST <http://yann.lecun.com/exdb/mnist/>`_ with torchvision's behaviour.

    Args:
        root: directory with ``MNIST/raw/*.gz`` (or the files directly); created on download.
        train: the 60,000-image training split, else the 10,000-image test split.
        transform: applied to the PIL Image (mode ``L``), e.g. ``transforms.ToTensor()``.
        target_transform: applied to the int label.
        download: fetch the files (checksum-verified) if they are not in ``root``.

    Attributes:
        data: uint8 Tensor ``(N, 28, 28)``; targets: int64 Tensor ``(N,)``; classes: names.

    Example:
        >>> ds = MNIST("data", download=True, transform=transforms.ToTensor())
        >>> x, y = ds[0]            # Tensor (1, 28, 28), int
    """

    def __init__(self, root=None, train: bool = True, transform: Callable | None = None,
                 target_transform: Callable | None = None, download: bool = False) -> None:
        super().__init__(root, train, transform, target_transform, download)
        self.transforms = None
        self.data = Tensor._wrap(self.data)
        self.targets = Tensor._wrap(self.targets)

    # torchvision's older names for the two tensors
    train_labels = test_labels = property(lambda self: self.targets)
    train_data = test_data = property(lambda self: self.data)


class FashionMNIST(MNIST, _ds.FashionMNIST):
    """`Fashion-MNIST <https://github.com/zalandoresearch/fashion-mnist>`_: same interface as
    :class:`MNIST` (files under ``root/FashionMNIST/raw``)."""


class KMNIST(MNIST, _ds.KMNIST):
    """`Kuzushiji-MNIST <https://github.com/rois-codh/kmnist>`_: same interface as
    :class:`MNIST` (files under ``root/KMNIST/raw``)."""


class EMNIST(MNIST, _ds.EMNIST):
    """`EMNIST <https://www.nist.gov/itl/products-and-services/emnist-dataset>`_:
    ``EMNIST(root, split, train=True, transform=None, target_transform=None, download=False)``
    with ``split`` one of byclass, bymerge, balanced, letters, digits, mnist."""

    def __init__(self, root=None, split: str = "balanced", train: bool = True,
                 transform=None, target_transform=None, download: bool = False) -> None:
        _ds.EMNIST.__init__(self, root, split, train, transform, target_transform, download)
        self.transforms = None
        self.data = Tensor._wrap(self.data)
        self.targets = Tensor._wrap(self.targets)


class CIFAR10(_ArrayImages, _ds.CIFAR10):
    """`CIFAR-10 <https://www.cs.toronto.edu/~kriz/cifar.html>`_ with torchvision's behaviour.

    Args:
        root: directory holding ``cifar-10-batches-py/`` (or the ``.tar.gz``).
        train, transform, target_transform, download: as :class:`MNIST`; images are RGB PIL.

    Attributes:
        data: uint8 ndarray ``(N, 32, 32, 3)``; targets: list of ints; classes: names.
    """

    def __init__(self, root=None, train: bool = True, transform: Callable | None = None,
                 target_transform: Callable | None = None, download: bool = False) -> None:
        super().__init__(root, train, transform, target_transform, download)
        self.transforms = None
        self.targets = [int(t) for t in self.targets]


class CIFAR100(CIFAR10, _ds.CIFAR100):
    """`CIFAR-100 <https://www.cs.toronto.edu/~kriz/cifar.html>`_: as :class:`CIFAR10` with 100
    fine classes."""


# --------------------------------------------------------------------------- folders
IMG_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")


def pil_loader(path: str):
    """Open an image file as an RGB PIL Image."""
    from PIL import Image

    with open(path, "rb") as f:
        img = Image.open(f)
        return img.convert("RGB")


default_loader = pil_loader


def has_file_allowed_extension(filename: str, extensions) -> bool:
    ext = extensions if isinstance(extensions, str) else tuple(extensions)
    return filename.lower().endswith(ext)


def find_classes(directory) -> tuple[list[str], dict[str, int]]:
    """Class names = the sorted sub-folder names of ``directory``."""
    classes = sorted(e.name for e in os.scandir(directory) if e.is_dir())
    if not classes:
        raise FileNotFoundError(f"Couldn't find any class folder in {directory}.")
    return classes, {c: i for i, c in enumerate(classes)}


def make_dataset(directory, class_to_idx, extensions=None, is_valid_file=None,
                 allow_empty: bool = False) -> list[tuple[str, int]]:
    """(path, class index) for every valid file under each class folder, sorted."""
    directory = os.path.expanduser(directory)
    if (extensions is None) == (is_valid_file is None):
        raise ValueError("Both extensions and is_valid_file cannot be None or not None at the "
                         "same time")
    if is_valid_file is None:
        def is_valid_file(x: str) -> bool:
            return has_file_allowed_extension(x, extensions)
    instances, found = [], set()
    for target_class in sorted(class_to_idx):
        target_dir = os.path.join(directory, target_class)
        if not os.path.isdir(target_dir):
            continue
        for root, _, fnames in sorted(os.walk(target_dir, followlinks=True)):
            for fname in sorted(fnames):
                path = os.path.join(root, fname)
                if is_valid_file(path):
                    instances.append((path, class_to_idx[target_class]))
                    found.add(target_class)
    empty = set(class_to_idx) - found
    if empty and not allow_empty:
        msg = f"Found no valid file for the classes {', '.join(sorted(empty))}. "
        if extensions is not None:
            exts = extensions if isinstance(extensions, str) else ', '.join(extensions)
            msg += f"Supported extensions are: {exts}"
        raise FileNotFoundError(msg)
    return instances


class DatasetFolder(VisionDataset):
    """Samples in ``root/<class>/**/<file>`` loaded by ``loader``; classes are the sorted
    folder names. Attributes: ``classes``, ``class_to_idx``, ``samples`` (path, index),
    ``targets``."""

    def __init__(self, root, loader: Callable, extensions=None, transform=None,
                 target_transform=None, is_valid_file=None, allow_empty: bool = False) -> None:
        super().__init__(root, transform=transform, target_transform=target_transform)
        self.classes, self.class_to_idx = self.find_classes(self.root)
        self.samples = make_dataset(self.root, self.class_to_idx, extensions, is_valid_file,
                                    allow_empty)
        self.loader, self.extensions = loader, extensions
        self.targets = [s[1] for s in self.samples]

    @staticmethod
    def find_classes(directory):
        return find_classes(directory)

    def __getitem__(self, index: int):
        path, target = self.samples[index]
        return self._apply(self.loader(path), target)

    def __len__(self) -> int:
        return len(self.samples)


class ImageFolder(DatasetFolder):
    """Images in ``root/<class>/<file>`` (``.jpg``, ``.png``, ...), loaded as RGB PIL images.

    Example:
        >>> ds = ImageFolder("pets/train", transform=transforms.ToTensor())
        >>> ds.classes           # ['cat', 'dog']
    """

    def __init__(self, root, transform=None, target_transform=None,
                 loader: Callable = default_loader, is_valid_file=None,
                 allow_empty: bool = False) -> None:
        super().__init__(root, loader, IMG_EXTENSIONS if is_valid_file is None else None,
                         transform, target_transform, is_valid_file, allow_empty)
        self.imgs = self.samples


class FakeData(VisionDataset):
    """Random images: item ``i`` is a PIL image of normal noise drawn from a generator seeded
    with ``i + random_offset`` (the same image every time) and a random label.

    Args:
        size: number of images; image_size: (C, H, W); num_classes: label range.
    """

    def __init__(self, size: int = 1000, image_size=(3, 224, 224), num_classes: int = 10,
                 transform=None, target_transform=None, random_offset: int = 0) -> None:
        super().__init__(None, transform=transform, target_transform=target_transform)
        self.size, self.num_classes = size, num_classes
        self.image_size, self.random_offset = tuple(image_size), random_offset

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        from convnp.vision.transforms import functional as F

        if not 0 <= index < len(self):
            raise IndexError(f"FakeData: index {index} out of range for {len(self)} images")
        g = np.random.default_rng(index + self.random_offset)
        img = g.standard_normal(self.image_size).astype(np.float32)
        target = int(g.integers(0, self.num_classes))
        return self._apply(F.to_pil_image(Tensor._wrap(img)), target)

    def __len__(self) -> int:
        return self.size


def __getattr__(name: str):
    from convnp.vision import _unsupported

    _unsupported.check("datasets", name, _unsupported.DATASETS)
