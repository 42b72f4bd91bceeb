"""convnp.data: datasets, DataLoader, transforms (no torch, no network)."""

from __future__ import annotations

import gzip
import shutil
import struct
from pathlib import Path

import numpy as np
import pytest

import convnp
from convnp.data import (
    CIFAR10,
    EMNIST,
    MNIST,
    ChecksumError,
    ConcatDataset,
    DataLoader,
    DatasetNotFoundError,
    FashionMNIST,
    Subset,
    TensorDataset,
    get_dataset,
    random_split,
    read_idx,
)
from convnp.data import transforms as T

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
needs_mnist = pytest.mark.skipif(not (SHARED / "mnist").is_dir(),
                                 reason="../shared/data/mnist (original MNIST files) is absent")


def write_idx(path: Path, arr: np.ndarray) -> None:
    code = {np.uint8: 0x08}[arr.dtype.type]
    header = bytes([0, 0, code, arr.ndim]) + struct.pack(">" + "i" * arr.ndim, *arr.shape)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wb") as f:
        f.write(header + arr.tobytes())


# --- datasets of arrays -------------------------------------------------------------------------
def test_tensor_dataset_and_subset_and_concat():
    x = np.arange(20, dtype=np.float32).reshape(10, 2)
    y = np.arange(10)
    ds = TensorDataset(convnp.tensor(x), y)
    assert len(ds) == 10
    a, b = ds[3]
    np.testing.assert_array_equal(a.numpy(), x[3]) and int(b.item()) == 3
    sub = Subset(ds, [7, 2])
    assert len(sub) == 2 and int(sub[0][1].item()) == 7
    xb, yb = sub.get_batch(np.array([1, 0]))
    np.testing.assert_array_equal(yb, [2, 7])
    cat = ConcatDataset([ds, sub])
    assert len(cat) == 12 and int(cat[11][1].item()) == 2 and int(cat[-1][1].item()) == 2
    _, yc = cat.get_batch(np.array([11, 0, 10, 5]))
    np.testing.assert_array_equal(yc, [2, 0, 7, 5])


def test_tensor_dataset_size_mismatch():
    with pytest.raises(ValueError, match="TensorDataset: size mismatch"):
        TensorDataset(np.zeros((3, 2)), np.zeros(4))


def test_random_split_lengths_fractions_and_seed():
    ds = TensorDataset(np.arange(10))
    a, b = random_split(ds, [7, 3], generator=convnp.Generator().manual_seed(1))
    assert len(a) == 7 and len(b) == 3
    assert sorted(np.concatenate([a.indices, b.indices]).tolist()) == list(range(10))
    a2, _ = random_split(ds, [7, 3], generator=convnp.Generator().manual_seed(1))
    np.testing.assert_array_equal(a.indices, a2.indices)
    parts = random_split(ds, [0.5, 0.3, 0.2])
    assert [len(p) for p in parts] == [5, 3, 2]
    with pytest.raises(ValueError, match="does not equal the length"):
        random_split(ds, [3, 3])


# --- DataLoader ---------------------------------------------------------------------------------
def _loader_values(loader):
    return [tuple(t.numpy().copy() for t in batch) for batch in loader]


@pytest.mark.parametrize("drop_last,expected", [(False, [4, 4, 2]), (True, [4, 4])],
                         ids=["keep-last", "drop-last"])
def test_loader_batches(drop_last, expected):
    ds = TensorDataset(np.arange(10, dtype=np.float32)[:, None], np.arange(10))
    dl = DataLoader(ds, batch_size=4, drop_last=drop_last)
    batches = _loader_values(dl)
    assert [len(b[0]) for b in batches] == expected and len(dl) == len(expected)
    assert batches[0][0].dtype == np.float32 and batches[0][1].dtype == np.int64
    np.testing.assert_array_equal(batches[0][1], [0, 1, 2, 3])


def test_loader_shuffle_is_seeded_and_prefetch_matches():
    ds = TensorDataset(np.arange(50))
    runs = []
    for prefetch in (0, 3):
        g = convnp.Generator().manual_seed(5)
        dl = DataLoader(ds, batch_size=8, shuffle=True, generator=g, prefetch=prefetch)
        runs.append(np.concatenate([b[0].numpy() for b in dl]))
    np.testing.assert_array_equal(runs[0], runs[1])
    assert sorted(runs[0].tolist()) == list(range(50)) and runs[0].tolist() != list(range(50))
    # a second epoch gives a different order
    epoch2 = np.concatenate([b[0].numpy() for b in dl])
    assert epoch2.tolist() != runs[1].tolist()


def test_loader_custom_collate_and_per_item_path():
    class Squares(convnp.data.Dataset):
        def __len__(self):
            return 5

        def __getitem__(self, i):
            return np.array([i * i], np.float32), i

    dl = DataLoader(Squares(), batch_size=2)
    x, y = next(iter(dl))
    np.testing.assert_array_equal(x.numpy(), [[0], [1]]) and y.dtype == np.int64
    dl = DataLoader(Squares(), batch_size=2, collate_fn=lambda b: [s[1] for s in b])
    assert list(dl) == [[0, 1], [2, 3], [4]]
    assert len(list(DataLoader(Squares(), batch_size=None))) == 5


def test_loader_errors_and_worker_exception():
    ds = TensorDataset(np.arange(4))
    with pytest.raises(ValueError, match="sampler option is mutually exclusive with shuffle"):
        DataLoader(ds, shuffle=True, sampler=[0, 1])
    with pytest.raises(ValueError, match="batch_size should be a positive integer"):
        DataLoader(ds, batch_size=0)

    class Bad(convnp.data.Dataset):
        def __len__(self):
            return 4

        def __getitem__(self, i):
            raise KeyError("boom")

    with pytest.raises(KeyError, match="boom"):
        list(DataLoader(Bad(), batch_size=2, prefetch=2))


# --- transforms ---------------------------------------------------------------------------------
def test_to_tensor_and_normalize_golden():
    img = np.array([[0, 255], [51, 102]], np.uint8)
    t = T.ToTensor()(img)
    assert t.shape == (1, 2, 2) and t.dtype == np.float32
    np.testing.assert_allclose(t[0], [[0, 1], [0.2, 0.4]], rtol=1e-6)
    rgb = np.zeros((4, 5, 3), np.uint8)
    rgb[..., 2] = 255
    t = T.ToTensor()(rgb)
    assert t.shape == (3, 4, 5) and t[2].min() == 1 and t[:2].max() == 0
    n = T.Normalize((0.5,), (0.25,))(np.full((1, 2, 2), 1.0, np.float32))
    np.testing.assert_allclose(n, 2.0)
    with pytest.raises(TypeError, match="Normalize: expected a float array"):
        T.Normalize((0.5,), (0.5,))(img)
    with pytest.raises(ValueError, match="Normalize: mean/std have 2/2 values"):
        T.Normalize((0.5, 0.5), (1, 1))(np.zeros((3, 2, 2), np.float32))
    with pytest.raises(ValueError, match="ToTensor: expected an image"):
        T.ToTensor()(np.zeros(3, np.uint8))


@pytest.mark.parametrize("layout", ["uint8-HW", "uint8-HWC", "float-CHW"])
def test_random_crop_windows_and_pad(layout):
    rng = np.random.default_rng(0)
    base = rng.integers(1, 255, (6, 5, 7)).astype(np.uint8)  # N, H, W
    if layout == "uint8-HW":
        xb, hw = base, lambda a: a
    elif layout == "uint8-HWC":
        xb, hw = np.stack([base, base], -1), lambda a: a[..., 0]
    else:
        xb, hw = base[:, None].astype(np.float32), lambda a: a[:, 0]
    padded = T.Pad(2).apply_batch(xb)
    assert hw(padded).shape == (6, 9, 11) and hw(padded)[:, :2].max() == 0
    out = T.RandomCrop((5, 7), padding=2).apply_batch(xb, np.random.default_rng(1))
    assert out.shape == xb.shape and out.dtype == xb.dtype
    p = hw(padded)
    for i in range(6):  # every crop is some 5x7 window of the padded image
        found = any(np.array_equal(hw(out)[i], p[i, r:r + 5, c:c + 7])
                    for r in range(5) for c in range(5))
        assert found
    offsets = {hw(out)[i].tobytes() for i in range(6)}
    assert len(offsets) > 1  # independent offsets per sample
    assert hw(T.CenterCrop(3).apply_batch(xb)).shape == (6, 3, 3)


def test_flips_and_rotation():
    xb = np.arange(2 * 3 * 4, dtype=np.float32).reshape(2, 1, 3, 4)
    out = T.RandomHorizontalFlip(p=1.0).apply_batch(xb, np.random.default_rng(0))
    np.testing.assert_array_equal(out, xb[..., ::-1])
    out = T.RandomVerticalFlip(p=1.0).apply_batch(xb, np.random.default_rng(0))
    np.testing.assert_array_equal(out, xb[..., ::-1, :])
    assert np.array_equal(T.RandomHorizontalFlip(p=0.0).apply_batch(xb, np.random.default_rng(0)),
                          xb)
    np.testing.assert_array_equal(T.RandomRotation(0).apply_batch(xb, np.random.default_rng(0)),
                                  xb)
    sq = np.arange(9, dtype=np.float32).reshape(1, 1, 3, 3)
    rot = T.RandomRotation((90, 90)).apply_batch(sq, np.random.default_rng(0))
    np.testing.assert_array_equal(rot[0, 0], np.rot90(sq[0, 0]))  # counter-clockwise
    with pytest.raises(ValueError, match="must be positive"):
        T.RandomRotation(-3)


def test_compose_batch_equals_per_sample_for_deterministic_transforms():
    imgs = np.random.default_rng(0).integers(0, 256, (4, 6, 6)).astype(np.uint8)
    tf = T.Compose([T.Pad(1), T.ToTensor(), T.Normalize((0.1,), (0.3,)),
                    T.Lambda(lambda a: a * 2)])
    batched = T.apply_to_batch(tf, imgs)
    single = np.stack([tf(i) for i in imgs])
    np.testing.assert_allclose(batched, single, rtol=1e-6)
    assert batched.shape == (4, 1, 8, 8)


# --- file formats -------------------------------------------------------------------------------
def test_read_idx_and_truncation(tmp_path):
    arr = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    write_idx(tmp_path / "a.gz", arr)
    np.testing.assert_array_equal(read_idx(tmp_path / "a.gz"), arr)
    raw = gzip.decompress((tmp_path / "a.gz").read_bytes())
    (tmp_path / "b").write_bytes(raw[:-3])
    with pytest.raises(ValueError, match="truncated or corrupt"):
        read_idx(tmp_path / "b")
    (tmp_path / "c").write_bytes(b"\x01\x02\x03\x04")
    with pytest.raises(ValueError, match="bad magic"):
        read_idx(tmp_path / "c")


@pytest.mark.parametrize("cut,match", [
    (6, r"truncated: its header declares 3 dimensions \(16 header bytes\) but the file holds 6"),
    (2, r"bad magic number"),
    (30, r"truncated or corrupt: header promises 24 bytes .* holds 14"),
], ids=["header-6-bytes", "2-bytes", "body"])
def test_read_idx_names_the_file_and_the_fix(tmp_path, cut, match):
    arr = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    write_idx(tmp_path / "a", arr)
    f = tmp_path / "cut-idx3-ubyte"
    f.write_bytes((tmp_path / "a").read_bytes()[:cut])
    with pytest.raises(ValueError, match=rf"read_idx: .*cut-idx3-ubyte .*{match}.*"
                                         r"replace it with an intact copy"):
        read_idx(f)


def test_read_idx_cut_gzip_names_the_file(tmp_path):
    write_idx(tmp_path / "a.gz", np.zeros((50, 28, 28), np.uint8))
    f = tmp_path / "cut.gz"
    f.write_bytes((tmp_path / "a.gz").read_bytes()[:40])
    with pytest.raises(ValueError, match=r"read_idx: .*cut.gz is not a readable gzip file "
                                         r"\(EOFError.*replace it"):
        read_idx(f)


def _mnist_files(d, images, labels):
    """Plain (decompressed) IDX copies: MNIST reads them without the .gz checksums."""
    d.mkdir(parents=True, exist_ok=True)
    write_idx(d / "t10k-images-idx3-ubyte", images)
    write_idx(d / "t10k-labels-idx1-ubyte", labels)


@pytest.mark.parametrize("images,labels,match", [
    (np.zeros((3, 28, 28), np.uint8), np.array([0, 9, 10], np.uint8),
     r"t10k-labels-idx1-ubyte holds label 10, outside the dataset's 10 classes \(0..9\)"),
    (np.zeros((3, 32, 32), np.uint8), np.array([0, 1, 2], np.uint8),
     r"t10k-images-idx3-ubyte holds images of shape \(32, 32\), expected \(28, 28\)"),
    (np.zeros((3, 28, 28), np.uint8), np.array([0, 1], np.uint8),
     r"holds 3 images but .*t10k-labels-idx1-ubyte holds 2 labels"),
    (np.zeros((3, 28, 28), np.uint8), np.zeros((3, 2), np.uint8),
     r"t10k-labels-idx1-ubyte holds labels of shape \(3, 2\), expected one label per image"),
], ids=["label-range", "image-size", "counts", "label-rank"])
def test_mnist_checks_its_files_when_opened(tmp_path, images, labels, match):
    _mnist_files(tmp_path / "MNIST" / "raw", images, labels)
    with pytest.raises(ValueError, match=rf"MNIST: .*{match}.*put the original MNIST files in"):
        MNIST(tmp_path, train=False)


def test_emnist_letters_labels_fit_its_classes(tmp_path):
    raw = tmp_path / "EMNIST" / "raw"
    raw.mkdir(parents=True)
    write_idx(raw / "emnist-letters-test-images-idx3-ubyte.gz", np.zeros((2, 28, 28), np.uint8))
    write_idx(raw / "emnist-letters-test-labels-idx1-ubyte.gz", np.array([1, 26], np.uint8))
    assert len(EMNIST(tmp_path, split="letters", train=False)) == 2  # 27 classes, N/A first
    write_idx(raw / "emnist-letters-test-labels-idx1-ubyte.gz", np.array([1, 27], np.uint8))
    with pytest.raises(ValueError, match="label 27, outside the dataset's 27 classes"):
        EMNIST(tmp_path, split="letters", train=False)


def test_missing_dataset_message(tmp_path):
    with pytest.raises(DatasetNotFoundError, match=r"(?s)train-images-idx3-ubyte.gz.*MNIST/raw"
                       r".*download=True"):
        MNIST(tmp_path)
    with pytest.raises(DatasetNotFoundError, match="cifar-10-python.tar.gz"):
        CIFAR10(tmp_path)
    with pytest.raises(ValueError, match="unknown dataset 'svhn'; valid datasets: mnist"):
        get_dataset("svhn", tmp_path)
    with pytest.raises(ValueError, match="EMNIST: unknown split"):
        EMNIST(tmp_path, split="nope")


def test_emnist_from_files(tmp_path):
    raw = tmp_path / "EMNIST" / "raw"
    raw.mkdir(parents=True)
    imgs = np.arange(2 * 28 * 28, dtype=np.uint8).reshape(2, 28, 28) % 251
    write_idx(raw / "emnist-balanced-test-images-idx3-ubyte.gz", imgs)
    write_idx(raw / "emnist-balanced-test-labels-idx1-ubyte.gz", np.array([3, 46], np.uint8))
    ds = EMNIST(tmp_path, split="balanced", train=False)
    assert len(ds) == 2 and len(ds.classes) == 47 and ds.classes[46] == "t"
    np.testing.assert_array_equal(ds.data[0], imgs[0].T)


# --- the real MNIST files -----------------------------------------------------------------------
@needs_mnist
def test_mnist_layouts_and_fast_path(tmp_path):
    ds = MNIST(SHARED / "mnist", train=False)
    assert ds.data.shape == (10000, 28, 28) and ds.data.dtype == np.uint8
    assert ds.targets[:5].tolist() == [7, 2, 1, 0, 4]
    # root/MNIST/raw layout and root/mnist layout
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for f in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        shutil.copy(SHARED / "mnist" / f, raw / f)
    assert len(MNIST(tmp_path, train=False)) == 10000
    assert len(MNIST(SHARED, train=False)) == 10000
    assert FashionMNIST(SHARED, train=False).classes[9] == "Ankle boot"
    # batched path == per-item path
    tf = T.Compose([T.ToTensor(), T.Normalize((0.1307,), (0.3081,))])
    ds = MNIST(SHARED / "mnist", train=False, transform=tf)
    xb, yb = next(iter(DataLoader(ds, batch_size=5)))
    per_item = np.stack([ds[i][0] for i in range(5)])
    np.testing.assert_allclose(xb.numpy(), per_item, rtol=1e-6)
    assert xb.shape == (5, 1, 28, 28) and yb.dtype == np.int64


@needs_mnist
def test_corrupted_local_file_is_named(tmp_path):
    for f in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        shutil.copy(SHARED / "mnist" / f, tmp_path / f)
    data = (tmp_path / "t10k-labels-idx1-ubyte.gz").read_bytes()
    (tmp_path / "t10k-labels-idx1-ubyte.gz").write_bytes(data[:-10])
    with pytest.raises(ChecksumError, match=r"t10k-labels-idx1-ubyte.gz: sha256 checksum mismatch "
                       r"\(expected f7ae60f9.*got [0-9a-f]{64}\).*delete it"):
        MNIST(tmp_path, train=False)


@needs_mnist
def test_augmented_loader_is_deterministic():
    tf = T.Compose([T.RandomCrop(28, padding=2), T.RandomRotation(10), T.ToTensor()])
    ds = Subset(MNIST(SHARED / "mnist", train=False, transform=tf), range(200))
    outs = []
    for prefetch in (0, 2):
        dl = DataLoader(ds, batch_size=50, shuffle=True,
                        generator=convnp.Generator().manual_seed(3), prefetch=prefetch)
        outs.append(np.concatenate([b[0].numpy() for b in dl]))
    np.testing.assert_array_equal(outs[0], outs[1])


def test_utils_data_alias():
    from convnp.utils.data import DataLoader as DL
    from convnp.utils.data import TensorDataset as TD
    assert DL is DataLoader and TD is TensorDataset
