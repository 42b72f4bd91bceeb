"""Image datasets with torchvision's constructors: MNIST, FashionMNIST, KMNIST, EMNIST, CIFAR10,
CIFAR100.

``root`` may hold the original files directly (``root/train-images-idx3-ubyte.gz``) or in
torchvision's layout (``root/MNIST/raw/...``, ``root/cifar-10-batches-py/...``); lower-case folder
names such as ``root/mnist`` and ``root/fashion-mnist`` work too. ``root=None`` means the cache,
``$CONVNP_DATA`` or ``~/.cache/convnp``. ``download=True`` fetches the official files into
``root/<Name>/raw`` (CIFAR: ``root``) with checksum verification. MNIST-family ``.gz`` files are
checked against their published checksums every time they are loaded (a few ms).

Images are held as one uint8 array (``.array``: ``(N, H, W)`` or ``(N, H, W, C)``) and labels as
int64 (``.targets``), so the DataLoader gathers a batch with one fancy-index.
"""

from __future__ import annotations

import gzip
import os
import pickle
import tarfile
import zipfile
from pathlib import Path
from typing import Callable

import numpy as np

from convnp.data._download import (
    ChecksumError,
    DatasetNotFoundError,
    default_root,
    download,
    find_dir,
    verify,
)
from convnp.data.dataset import Dataset
from convnp.data.transforms import apply_to_batch
from convnp.tensor import Tensor

__all__ = ["VisionDataset", "MNIST", "FashionMNIST", "KMNIST", "EMNIST", "CIFAR10", "CIFAR100",
           "read_idx", "DATASETS", "get_dataset", "list_datasets"]


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (``.gz`` or plain), the MNIST format: a magic number, dims, raw data."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        raw = f.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise ValueError(f"read_idx: {path} is not an IDX file (bad magic number)")
    dtypes = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
    if raw[2] not in dtypes:
        raise ValueError(f"read_idx: {path} has unknown IDX type code {raw[2]:#x}")
    ndim = raw[3]
    dims = np.frombuffer(raw, ">i4", ndim, 4).astype(np.int64)
    dt = np.dtype(dtypes[raw[2]])
    expected = int(np.prod(dims)) * dt.itemsize
    body = raw[4 + 4 * ndim:]
    if len(body) != expected:
        raise ValueError(f"read_idx: {path} is truncated or corrupt: header promises {expected} "
                         f"bytes of data for shape {tuple(dims)}, file holds {len(body)}")
    return np.frombuffer(body, dt).reshape(tuple(dims)).astype(dt.newbyteorder("="))


class VisionDataset(Dataset):
    """An array-backed image classification dataset (``data`` uint8, ``targets`` int64)."""

    classes: list[str] = []
    data: np.ndarray
    targets: np.ndarray

    def __init__(self, root=None, transform: Callable | None = None,
                 target_transform: Callable | None = None) -> None:
        self.root = Path(root).expanduser() if root is not None else default_root()
        self.transform, self.target_transform = transform, target_transform

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, index: int):
        img, target = self.data[index], int(self.targets[index])
        if self.transform is not None:
            img = self.transform(img)
            if isinstance(img, np.ndarray):  # transformed items are Tensors, as in torch
                img = Tensor._wrap(img)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target

    def get_batch(self, indices: np.ndarray, rng=None) -> tuple[np.ndarray, np.ndarray]:
        """A whole batch at once: images transformed per batch, labels as int64."""
        imgs = apply_to_batch(self.transform, self.data[indices], rng)
        targets = self.targets[indices]
        if self.target_transform is not None:
            targets = np.asarray([self.target_transform(int(t)) for t in targets])
        return imgs, targets

    @property
    def class_to_idx(self) -> dict[str, int]:
        return {c: i for i, c in enumerate(self.classes)}

    def __repr__(self) -> str:
        split = "Train" if getattr(self, "train", True) else "Test"
        return (f"Dataset {type(self).__name__}\n    Number of datapoints: {len(self)}\n"
                f"    Root location: {self.root}\n    Split: {split}")


def _candidates(root: Path, names: tuple[str, ...]) -> list[Path]:
    out = [root]
    for n in names:
        out += [root / n / "raw", root / n]
    return out


def _not_found(cls_name: str, root: Path, files: list[str], where: str, urls: list[str]):
    return DatasetNotFoundError(
        f"{cls_name}: dataset files not found under {root}.\n"
        f"  Needed: {', '.join(files)}\n"
        f"  Put them in {where} (or directly in {root}), or pass download=True "
        f"(CLI: `convnp train --download`) to fetch them from {urls[0]} into the cache "
        f"($CONVNP_DATA or ~/.cache/convnp) or --data-dir.")


class MNIST(VisionDataset):
    """`MNIST <http://yann.lecun.com/exdb/mnist/>`_: 28x28 grey handwritten digits, 60k/10k.

    Args:
        root: directory with the IDX ``.gz`` files (see module docs); None = the cache.
        train: the 60,000-image training split (else the 10,000-image test split).
        transform: applied to each uint8 image ``(28, 28)`` (per batch when it can be).
        target_transform: applied to each int label.
        download: fetch the files from the official mirrors (checksum-verified) if missing.

    Example:
        >>> ds = MNIST("../shared/data", transform=ToTensor())
        >>> img, label = ds[0]          # img (1, 28, 28) float32 in [0, 1]
    """

    folders: tuple[str, ...] = ("MNIST", "mnist")
    mirrors = ["https://ossci-datasets.s3.amazonaws.com/mnist/",
               "http://yann.lecun.com/exdb/mnist/"]
    resources = [
        ("train-images-idx3-ubyte.gz",
         "sha256:440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609"),
        ("train-labels-idx1-ubyte.gz",
         "sha256:3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c"),
        ("t10k-images-idx3-ubyte.gz",
         "sha256:8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6"),
        ("t10k-labels-idx1-ubyte.gz",
         "sha256:f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"),
    ]
    classes = ["0 - zero", "1 - one", "2 - two", "3 - three", "4 - four", "5 - five", "6 - six",
               "7 - seven", "8 - eight", "9 - nine"]

    def __init__(self, root=None, train: bool = True, transform=None, target_transform=None,
                 download: bool = False) -> None:
        super().__init__(root, transform, target_transform)
        self.train = train
        self._download_flag = download
        images, labels = self._files()
        self.data = self._postprocess(read_idx(images))
        self.targets = read_idx(labels).astype(np.int64)
        if len(self.data) != len(self.targets):
            raise ValueError(f"{type(self).__name__}: {images} holds {len(self.data)} images but "
                             f"{labels} holds {len(self.targets)} labels")

    @property
    def raw_folder(self) -> Path:
        return self.root / type(self).__name__ / "raw"

    def _split_files(self) -> list[tuple[str, str]]:
        prefix = "train" if self.train else "t10k"
        return [r for r in self.resources if r[0].startswith(prefix)]

    def _files(self) -> tuple[Path, Path]:
        needed = self._split_files()
        names = [f for f, _ in needed]
        cands = _candidates(self.root, self.folders)
        d = find_dir(cands, names)
        if d is None:  # already-decompressed copies (torchvision keeps both)
            plain = [n[:-3] for n in names]
            d = find_dir(cands, plain)
            if d is not None:
                return d / plain[0], d / plain[1]
            if not self._download_flag:
                raise _not_found(type(self).__name__, self.root, names, str(self.raw_folder),
                                 self.mirrors)
            for f, h in self.resources:
                download([m + f for m in self.mirrors], f, self.raw_folder, h)
            d = self.raw_folder
        for f, h in needed:
            try:
                verify(d / f, h)
            except ChecksumError:
                if not self._download_flag:
                    raise
                download([m + f for m in self.mirrors], f, d, h)  # replaces the bad copy
        return d / names[0], d / names[1]

    def _postprocess(self, images: np.ndarray) -> np.ndarray:
        return images


class FashionMNIST(MNIST):
    """`Fashion-MNIST <https://github.com/zalandoresearch/fashion-mnist>`_: 28x28 grey clothing
    images in 10 classes, 60k/10k. Same constructor as :class:`MNIST`."""

    folders = ("FashionMNIST", "fashion-mnist", "fashion_mnist", "fashionmnist")
    mirrors = ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"]
    resources = [
        ("train-images-idx3-ubyte.gz",
         "sha256:3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84"),
        ("train-labels-idx1-ubyte.gz",
         "sha256:a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845"),
        ("t10k-images-idx3-ubyte.gz",
         "sha256:346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073"),
        ("t10k-labels-idx1-ubyte.gz",
         "sha256:67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5"),
    ]
    classes = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
               "Sneaker", "Bag", "Ankle boot"]


class KMNIST(MNIST):
    """`Kuzushiji-MNIST <https://github.com/rois-codh/kmnist>`_: 28x28 cursive Japanese
    characters in 10 classes, 60k/10k. Same constructor as :class:`MNIST`."""

    folders = ("KMNIST", "kmnist")
    mirrors = ["http://codh.rois.ac.jp/kmnist/dataset/kmnist/"]
    resources = [
        ("train-images-idx3-ubyte.gz", "md5:bdb82020997e1d708af4cf47b453dcf7"),
        ("train-labels-idx1-ubyte.gz", "md5:e144d726b3acfaa3e44228e80efcd344"),
        ("t10k-images-idx3-ubyte.gz", "md5:5c965bf0a639b31b8f53240b1b52f4d7"),
        ("t10k-labels-idx1-ubyte.gz", "md5:7320c461ea6c1c855c0b718fb2a4b134"),
    ]
    classes = ["o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo"]


_DIGITS = [str(i) for i in range(10)]
_UPPER = [chr(c) for c in range(ord("A"), ord("Z") + 1)]
_LOWER = [chr(c) for c in range(ord("a"), ord("z") + 1)]


class EMNIST(MNIST):
    """`EMNIST <https://www.nist.gov/itl/products-and-services/emnist-dataset>`_: 28x28
    handwritten characters. ``split`` is one of byclass, bymerge, balanced (default, 47 classes),
    letters, digits, mnist. Files:
    ``emnist-<split>-<train|test>-<images-idx3|labels-idx1>-ubyte.gz``
    in ``root``, ``root/EMNIST/raw`` or ``root/EMNIST/raw/gzip``; download fetches NIST's
    ``gzip.zip`` (md5-verified) and extracts the split's files. Images are stored transposed in
    the original files; they are transposed back here, as in torchvision.
    """

    folders = ("EMNIST", "emnist")
    mirrors = ["https://biometrics.nist.gov/cs_links/EMNIST/"]
    archive = ("gzip.zip", "md5:58c8d27c78d21e728a6bc7b3cc06412e")
    splits = ("byclass", "bymerge", "balanced", "letters", "digits", "mnist")
    _merged = _DIGITS + _UPPER + list("abdefghnqrt")
    split_classes = {"byclass": _DIGITS + _UPPER + _LOWER, "bymerge": _merged,
                     "balanced": _merged, "letters": ["N/A"] + _LOWER, "digits": _DIGITS,
                     "mnist": _DIGITS}

    def __init__(self, root=None, split: str = "balanced", train: bool = True, transform=None,
                 target_transform=None, download: bool = False) -> None:
        if split not in self.splits:
            raise ValueError(f"EMNIST: unknown split {split!r}; valid splits: "
                             f"{', '.join(self.splits)}")
        self.split = split
        self.classes = self.split_classes[split]
        super().__init__(root, train, transform, target_transform, download)

    def _split_files(self):
        kind = "train" if self.train else "test"
        return [(f"emnist-{self.split}-{kind}-images-idx3-ubyte.gz", None),
                (f"emnist-{self.split}-{kind}-labels-idx1-ubyte.gz", None)]

    def _files(self):
        names = [f for f, _ in self._split_files()]
        cands = _candidates(self.root, self.folders)
        cands += [c / "gzip" for c in cands]
        d = find_dir(cands, names)
        if d is None:
            if not self._download_flag:
                raise _not_found("EMNIST", self.root, names + ["(or gzip.zip)"],
                                 str(self.raw_folder), [self.mirrors[0] + self.archive[0]])
            z = download([m + self.archive[0] for m in self.mirrors], self.archive[0],
                         self.raw_folder, self.archive[1])
            with zipfile.ZipFile(z) as zf:
                for member in zf.namelist():
                    if Path(member).name in names:
                        target = self.raw_folder / Path(member).name
                        tmp = target.with_suffix(".part")
                        tmp.write_bytes(zf.read(member))
                        os.replace(tmp, target)
            d = self.raw_folder
        return d / names[0], d / names[1]

    def _postprocess(self, images):
        return np.ascontiguousarray(images.transpose(0, 2, 1))


class CIFAR10(VisionDataset):
    """`CIFAR-10 <https://www.cs.toronto.edu/~kriz/cifar.html>`_: 32x32 colour images in 10
    classes, 50k/10k, from the python-pickle batches (``cifar-10-batches-py/`` in ``root``, or
    the ``cifar-10-python.tar.gz`` archive, md5-verified and extracted on first use).

    ``data`` is uint8 ``(N, 32, 32, 3)`` (HWC, like torchvision); ``ToTensor`` makes it
    ``(3, 32, 32)``.
    """

    base_folder = "cifar-10-batches-py"
    url = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
    filename = "cifar-10-python.tar.gz"
    tgz_hash = "md5:c58f30108f718f92721af3b95e74349a"
    train_list = [f"data_batch_{i}" for i in range(1, 6)]
    test_list = ["test_batch"]
    meta = ("batches.meta", "label_names")
    label_key = "labels"
    folders = ("CIFAR10", "cifar10", "cifar-10")

    def __init__(self, root=None, train: bool = True, transform=None, target_transform=None,
                 download: bool = False) -> None:
        super().__init__(root, transform, target_transform)
        self.train = train
        d = self._locate(download)
        data, targets = [], []
        for name in (self.train_list if train else self.test_list):
            entry = self._unpickle(d / name)
            data.append(np.asarray(entry["data"], np.uint8))
            targets.extend(entry[self.label_key])
        # (N, 3072) -> (N, 3, 32, 32) -> (N, 32, 32, 3)
        chw = np.vstack(data).reshape(-1, 3, 32, 32)
        self.data = np.ascontiguousarray(chw.transpose(0, 2, 3, 1))
        self.targets = np.asarray(targets, np.int64)
        meta = self._unpickle(d / self.meta[0])
        self.classes = list(meta[self.meta[1]])

    @staticmethod
    def _unpickle(path: Path) -> dict:
        try:
            with open(path, "rb") as f:
                return pickle.load(f, encoding="latin1")
        except Exception as e:
            raise ValueError(f"CIFAR: could not read {path} ({type(e).__name__}: {e}); the file "
                             f"is corrupt: delete the folder and extract/download it again"
                             ) from None

    def _locate(self, download: bool) -> Path:
        needed = self.train_list + self.test_list + [self.meta[0]]
        roots = [self.root] + [self.root / f for f in self.folders]
        d = find_dir([r / self.base_folder for r in roots] + roots, needed)
        if d is not None:
            return d
        archive = find_dir(roots + [r / "raw" for r in roots], [self.filename])
        if archive is None:
            if not download:
                raise _not_found(type(self).__name__, self.root,
                                 [self.filename + f" (or its {self.base_folder}/ folder)"],
                                 str(self.root), [self.url])
            path = download([self.url], self.filename, self.root, self.tgz_hash)
        else:
            path = archive / self.filename
            verify(path, self.tgz_hash)
        with tarfile.open(path, "r:gz") as tf:
            tf.extractall(path.parent, filter="data")
        return path.parent / self.base_folder


class CIFAR100(CIFAR10):
    """`CIFAR-100 <https://www.cs.toronto.edu/~kriz/cifar.html>`_: 32x32 colour images in 100
    fine classes, 50k/10k (python pickles ``cifar-100-python/{train,test,meta}``)."""

    base_folder = "cifar-100-python"
    url = "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz"
    filename = "cifar-100-python.tar.gz"
    tgz_hash = "md5:eb9058c3a382ffc7106e4002c42a8d85"
    train_list = ["train"]
    test_list = ["test"]
    meta = ("meta", "fine_label_names")
    label_key = "fine_labels"
    folders = ("CIFAR100", "cifar100", "cifar-100")


DATASETS: dict[str, type] = {"mnist": MNIST, "fashion-mnist": FashionMNIST, "kmnist": KMNIST,
                             "emnist": EMNIST, "cifar10": CIFAR10, "cifar100": CIFAR100}
_ALIASES = {"fashionmnist": "fashion-mnist", "fashion_mnist": "fashion-mnist",
            "cifar-10": "cifar10", "cifar-100": "cifar100"}


def list_datasets() -> list[str]:
    """Names accepted by :func:`get_dataset` and ``convnp train --dataset``."""
    return list(DATASETS)


def get_dataset(name: str, root=None, train: bool = True, **kwargs):
    """Build a dataset by name (``mnist``, ``fashion-mnist``, ``kmnist``, ``emnist``, ``cifar10``,
    ``cifar100``); unknown names raise ValueError listing the valid ones."""
    key = _ALIASES.get(name.lower(), name.lower())
    if key not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; valid datasets: {', '.join(DATASETS)}")
    return DATASETS[key](root, train=train, **kwargs)
