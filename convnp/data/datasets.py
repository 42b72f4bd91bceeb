"""Image datasets with torchvision's constructors: MNIST, FashionMNIST, KMNIST, EMNIST, CIFAR10,
CIFAR100.

``root`` may hold the original files directly (``root/train-images-idx3-ubyte.gz``) or in
torchvision's layout (``root/MNIST/raw/...``, ``root/cifar-10-batches-py/...``); lower-case folder
names such as ``root/mnist`` and ``root/fashion-mnist`` work too. ``root=None`` means the cache,
``$CONVNP_DATA`` or ``~/.cache/convnp``. ``download=True`` fetches the official files into
``root/<Name>/raw`` (CIFAR: ``root``) with checksum verification. MNIST-family ``.gz`` files and
CIFAR's batch files are checked against their published checksums every time they are loaded (a
few ms; CIFAR's 180 MB, a fraction of a second). Opening a dataset also checks what it read
(image sizes, image/label counts, labels within the classes), so a wrong or damaged file is
reported by name then, not mid-training.

Images are held as one uint8 array (``.array``: ``(N, H, W)`` or ``(N, H, W, C)``) and labels as
int64 (``.targets``), so the DataLoader gathers a batch with one fancy-index.
"""

from __future__ import annotations

import gzip
import os
import pickle
import tarfile
import zipfile
import zlib
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
    """Read an IDX file (``.gz`` or plain), the MNIST format: a magic number, dims, raw data.

    Every way a file can be damaged (cut short, bad gzip stream, a header whose dimensions do
    not match the data) raises ValueError naming the file and the fix.
    """
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    fix = "replace it with an intact copy (or delete it and pass download=True)"
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError, zlib.error) as e:  # a cut or scrambled gzip stream
        raise ValueError(f"read_idx: {path} is not a readable "
                         f"{'gzip' if opener is gzip.open else ''} file "
                         f"({type(e).__name__}: {e}); {fix}") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise ValueError(f"read_idx: {path} is not an IDX file (bad magic number); {fix}")
    dtypes = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
    if raw[2] not in dtypes:
        raise ValueError(f"read_idx: {path} has unknown IDX type code {raw[2]:#x}; {fix}")
    ndim = raw[3]
    if len(raw) < 4 + 4 * ndim:
        raise ValueError(f"read_idx: {path} is truncated: its header declares {ndim} dimensions "
                         f"({4 + 4 * ndim} header bytes) but the file holds {len(raw)} bytes; "
                         f"{fix}")
    dims = np.frombuffer(raw, ">i4", ndim, 4).astype(np.int64)
    dt = np.dtype(dtypes[raw[2]])
    if (dims < 0).any():
        raise ValueError(f"read_idx: {path} declares a negative size {tuple(dims.tolist())}; "
                         f"{fix}")
    expected = int(np.prod(dims, dtype=object)) * dt.itemsize
    body = raw[4 + 4 * ndim:]
    if len(body) != expected:
        raise ValueError(f"read_idx: {path} is truncated or corrupt: header promises {expected} "
                         f"bytes of data for shape {tuple(dims.tolist())}, file holds "
                         f"{len(body)}; {fix}")
    return np.frombuffer(body, dt).reshape(tuple(dims)).astype(dt.newbyteorder("="))


def _check_opened(name: str, images: np.ndarray, labels: np.ndarray, image_shape: tuple,
                  num_classes: int, label_min: int, files: tuple, fix: str) -> None:
    """Refuse, when a dataset is opened, what would otherwise fail (or silently mislearn)
    mid-training: wrong image sizes, image/label counts that differ, labels outside the classes."""
    img_file, lbl_file = files
    if images.shape[1:] != image_shape:
        raise ValueError(f"{name}: {img_file} holds images of shape {images.shape[1:]}, expected "
                         f"{image_shape}: not this dataset's images file; {fix}")
    if labels.ndim != 1:
        raise ValueError(f"{name}: {lbl_file} holds labels of shape {labels.shape}, expected one "
                         f"label per image (N,); {fix}")
    if len(images) != len(labels):
        raise ValueError(f"{name}: {img_file} holds {len(images)} images but {lbl_file} holds "
                         f"{len(labels)} labels; {fix}")
    if len(labels):
        lo, hi = int(labels.min()), int(labels.max())
        if lo < label_min or hi >= num_classes:
            bad = lo if lo < label_min else hi
            raise ValueError(f"{name}: {lbl_file} holds label {bad}, outside the dataset's "
                             f"{num_classes} classes ({label_min}..{num_classes - 1}): not this "
                             f"dataset's labels file, or a corrupt one; {fix}")


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
        >>> ds = MNIST("~/data", transform=ToTensor(), download=True)  # or a folder with the files
        >>> img, label = ds[0]          # img (1, 28, 28) float32 in [0, 1]
    """

    folders: tuple[str, ...] = ("MNIST", "mnist")
    image_shape = (28, 28)
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
        _check_opened(type(self).__name__, self.data, self.targets, self.image_shape,
                      len(self.classes), 0, (images, labels),
                      f"put the original {type(self).__name__} files in {images.parent} "
                      f"(or pass download=True)")

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


class _CIFARUnpickler(pickle.Unpickler):
    """Reads CIFAR's python batches without running code: the original files (Python 2 cPickle,
    protocol 2) name exactly three globals, NumPy's array reconstructor, ``ndarray`` and ``dtype``;
    every other global is refused. Everything else in them is dicts, lists, strings and ints."""

    def __init__(self, f, path: Path) -> None:
        super().__init__(f, encoding="latin1")  # Python 2 str -> str, as the batches need
        self.path = path

    def find_class(self, module: str, name: str):
        if module in ("numpy.core.multiarray", "numpy._core.multiarray") and \
                name == "_reconstruct":
            return _reconstruct_ndarray
        if module == "numpy" and name == "ndarray":
            return np.ndarray
        if module == "numpy" and name == "dtype":
            return np.dtype
        raise pickle.UnpicklingError(
            f"CIFAR: {self.path} asks to load {module}.{name}, which a CIFAR batch never holds; "
            f"refused (a crafted or foreign file, not the original data): delete the folder and "
            f"extract the official archive again (download=True)")


def _reconstruct_ndarray(subtype, shape, dtype):
    """NumPy's pickle reconstructor, restricted to what NumPy itself pickles: an empty plain
    array that the pickle's state then fills (no subclasses, no allocation the file asks for)."""
    if subtype is not np.ndarray:
        raise pickle.UnpicklingError(f"an array of type {subtype!r} is not a plain ndarray")
    if tuple(shape) != (0,):
        raise pickle.UnpicklingError(f"an array reconstructed with shape {shape!r} rather than "
                                     f"NumPy's (0,)")
    return np.ndarray((0,), dtype)


class CIFAR10(VisionDataset):
    """`CIFAR-10 <https://www.cs.toronto.edu/~kriz/cifar.html>`_: 32x32 colour images in 10
    classes, 50k/10k, from the python-pickle batches (``cifar-10-batches-py/`` in ``root``, or
    the ``cifar-10-python.tar.gz`` archive, md5-verified and extracted on first use).

    Each batch file is checked against its published md5 when the dataset is opened (as
    torchvision does) and read with an unpickler that admits only the NumPy arrays, lists,
    dicts, strings and numbers CIFAR holds, so a crafted file in the data folder cannot run code.

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
    # published md5 of every file the archive holds
    file_hashes = {
        "data_batch_1": "md5:c99cafc152244af753f735de768cd75f",
        "data_batch_2": "md5:d4bba439e000b95fd0a9bffe97cbabec",
        "data_batch_3": "md5:54ebc095f3ab1f0389bbae665268c751",
        "data_batch_4": "md5:634d18415352ddfa80567beed471001a",
        "data_batch_5": "md5:482c414d41f54cd18b22e5b47cb7c3cb",
        "test_batch": "md5:40351d587109b95175f43aff81a1287e",
        "batches.meta": "md5:5ff9c542aee3614f3951f8cda6e48888",
    }

    def __init__(self, root=None, train: bool = True, transform=None, target_transform=None,
                 download: bool = False) -> None:
        super().__init__(root, transform, target_transform)
        self.train = train
        d = self._locate(download)
        meta = self._unpickle(d / self.meta[0])
        classes = meta.get(self.meta[1]) if isinstance(meta, dict) else None
        if not isinstance(classes, list) or not all(isinstance(c, str) for c in classes):
            raise ValueError(f"{type(self).__name__}: {d / self.meta[0]} has no list of class "
                             f"names under {self.meta[1]!r}; {self._fix(d)}")
        self.classes = classes
        data, targets = [], []
        for name in (self.train_list if train else self.test_list):
            images, labels = self._read_batch(d / name)
            data.append(images)
            targets.append(labels)
        # (N, 3072) -> (N, 3, 32, 32) -> (N, 32, 32, 3)
        chw = np.concatenate(data).reshape(-1, 3, 32, 32)
        self.data = np.ascontiguousarray(chw.transpose(0, 2, 3, 1))
        self.targets = np.concatenate(targets)

    def _fix(self, d: Path) -> str:
        return (f"delete {d} and extract {self.filename} again (or pass download=True)")

    def _read_batch(self, path: Path) -> tuple[np.ndarray, np.ndarray]:
        """One batch's images (N, 3072) uint8 and labels (N,) int64, checked when opened."""
        entry = self._unpickle(path)
        name, fix = type(self).__name__, self._fix(path.parent)
        images = entry.get("data") if isinstance(entry, dict) else None
        labels = entry.get(self.label_key) if isinstance(entry, dict) else None
        if not isinstance(images, np.ndarray) or images.dtype != np.uint8 or images.ndim != 2 \
                or images.shape[1] != 3 * 32 * 32:
            got = (f"{images.dtype} array of shape {images.shape}"
                   if isinstance(images, np.ndarray) else type(images).__name__)
            raise ValueError(f"{name}: {path} should hold 'data', a uint8 array (N, 3072) of "
                             f"32x32 RGB images; it holds {got}; {fix}")
        if not isinstance(labels, list) or not all(type(v) is int for v in labels):
            raise ValueError(f"{name}: {path} should hold {self.label_key!r}, a list of int "
                             f"labels; {fix}")
        targets = np.asarray(labels, np.int64)
        _check_opened(name, images, targets, (3072,), len(self.classes), 0, (path, path), fix)
        return images, targets

    def _unpickle(self, path: Path):
        try:
            with open(path, "rb") as f:
                return _CIFARUnpickler(f, path).load()
        except pickle.UnpicklingError as e:
            if str(e).startswith("CIFAR:"):
                raise ValueError(str(e)) from None
            err = e
        except Exception as e:  # noqa: BLE001 - any damage to the file is reported the same way
            err = e
        raise ValueError(f"CIFAR: could not read {path} ({type(err).__name__}: {err}); the file "
                         f"is corrupt: {self._fix(path.parent)}") from None

    def _verify_folder(self, d: Path) -> None:
        """Every file this split reads matches its published md5 (ChecksumError if not)."""
        for name in (self.train_list if self.train else self.test_list) + [self.meta[0]]:
            verify(d / name, self.file_hashes.get(name))

    def _locate(self, fetch: bool) -> Path:
        needed = self.train_list + self.test_list + [self.meta[0]]
        roots = [self.root] + [self.root / f for f in self.folders]
        d = find_dir([r / self.base_folder for r in roots] + roots, needed)
        if d is not None:
            try:
                self._verify_folder(d)
                return d
            except ChecksumError:
                if not fetch:
                    raise
        archive = find_dir(roots + [r / "raw" for r in roots], [self.filename])
        if archive is not None:
            path = archive / self.filename
            try:
                verify(path, self.tgz_hash)
            except ChecksumError:
                if not fetch:
                    raise
                path = download([self.url], self.filename, archive, self.tgz_hash)
        elif fetch:
            path = download([self.url], self.filename, self.root, self.tgz_hash)
        else:
            raise _not_found(type(self).__name__, self.root,
                             [self.filename + f" (or its {self.base_folder}/ folder)"],
                             str(self.root), [self.url])
        self._extract(path)
        d = path.parent / self.base_folder
        self._verify_folder(d)
        return d

    def _extract(self, path: Path) -> None:
        """Extract the batch files (only those, as regular files) from the verified archive."""
        wanted = {f"{self.base_folder}/{n}" for n in
                  self.train_list + self.test_list + [self.meta[0]]}
        with tarfile.open(path, "r:gz") as tf:
            members = [m for m in tf.getmembers() if m.name in wanted and m.isfile()]
            tf.extractall(path.parent, members=members, filter="data")


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
    file_hashes = {"train": "md5:16019d7e3df5f24257cddd939b257f8d",
                   "test": "md5:f0ef6b0ae62326f3e7ffdfab6717acfc",
                   "meta": "md5:7973b15100ade9c7d40fb424638fde48"}


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
