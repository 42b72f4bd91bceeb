"""convnp.vision.datasets: torchvision's item types, attributes and the DataLoader batch path,
on small files written here (no network, no real datasets needed)."""

import struct

import numpy as np
import pytest
from PIL import Image

import convnp
from convnp import Tensor
from convnp.data import DataLoader
from convnp.vision import datasets, transforms


def write_idx(path, arr):
    header = bytes([0, 0, 0x08, arr.ndim]) + struct.pack(">" + "i" * arr.ndim, *arr.shape)
    path.write_bytes(header + arr.tobytes())


@pytest.fixture
def mnist_root(tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    imgs = rng.integers(0, 256, (6, 28, 28), dtype=np.uint8)
    labels = np.array([3, 1, 4, 1, 5, 9], np.uint8)
    for split in ("train", "t10k"):  # plain IDX files (torchvision keeps both forms)
        write_idx(raw / f"{split}-images-idx3-ubyte", imgs)
        write_idx(raw / f"{split}-labels-idx1-ubyte", labels)
    return tmp_path, imgs, labels


def test_mnist_items_and_attributes(mnist_root):
    root, imgs, labels = mnist_root
    ds = datasets.MNIST(root, train=True, download=False)
    img, y = ds[2]
    assert isinstance(img, Image.Image) and img.mode == "L" and img.size == (28, 28)
    np.testing.assert_array_equal(np.asarray(img), imgs[2])
    assert y == 4 and type(y) is int
    assert isinstance(ds.data, Tensor) and ds.data.dtype == np.uint8 and ds.data.shape == (6, 28,
                                                                                             28)
    assert isinstance(ds.targets, Tensor) and ds.targets.dtype == np.int64
    assert ds.targets.tolist() == labels.tolist() and len(ds) == 6
    assert ds.classes[0] == "0 - zero" and ds.class_to_idx["9 - nine"] == 9
    assert "Split: Train" in repr(ds)
    t = datasets.MNIST(root, train=False, transform=transforms.ToTensor(),
                       target_transform=lambda v: v * 10)
    x, y = t[0]
    assert isinstance(x, Tensor) and x.shape == (1, 28, 28) and x.dtype == np.float32
    np.testing.assert_array_equal(x.numpy()[0], imgs[0] / np.float32(255))
    assert y == 30


def test_mnist_subset_by_assigning_data(mnist_root):
    # scripts shrink a dataset by assigning .data / .targets, as they do with torchvision
    root, imgs, _ = mnist_root
    ds = datasets.FashionMNIST(root / "MNIST" / "raw", transform=transforms.ToTensor())
    ds.data, ds.targets = ds.data[:2], ds.targets[:2]
    assert len(ds) == 2 and ds[1][1] == 1
    assert ds.classes[9] == "Ankle boot"


@pytest.mark.parametrize("tf", [
    transforms.ToTensor(),
    transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))]),
], ids=["to_tensor", "normalize"])
def test_dataloader_batch_path_equals_items(mnist_root, tf):
    root, _, labels = mnist_root
    ds = datasets.MNIST(root, transform=tf)
    assert ds.get_batch is not None
    xb, yb = next(iter(DataLoader(ds, batch_size=4)))
    items = [ds[i] for i in range(4)]
    np.testing.assert_array_equal(xb.numpy(), np.stack([x.numpy() for x, _ in items]))
    assert yb.tolist() == labels[:4].tolist() and yb.dtype == np.int64


def test_dataloader_per_item_path_with_pil_transforms(mnist_root):
    root, imgs, _ = mnist_root
    tf = transforms.Compose([transforms.RandomCrop(28, padding=2), transforms.ToTensor()])
    ds = datasets.MNIST(root, transform=tf)
    assert getattr(ds, "get_batch", None) is None  # PIL transforms run per item, as torchvision
    convnp.manual_seed(0)
    a = [x.numpy() for x, _ in DataLoader(ds, batch_size=3, shuffle=True)]
    convnp.manual_seed(0)
    b = [x.numpy() for x, _ in DataLoader(ds, batch_size=3, shuffle=True)]
    assert a[0].shape == (3, 1, 28, 28)
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)
    # wrapped datasets take the per-item path too
    from convnp.data import ConcatDataset, random_split

    part, _ = random_split(ds, [4, 2])
    assert next(iter(DataLoader(part, batch_size=4)))[0].shape == (4, 1, 28, 28)
    fast = datasets.MNIST(root, transform=transforms.ToTensor())
    both = ConcatDataset([fast, ds])
    assert next(iter(DataLoader(both, batch_size=8)))[0].shape == (8, 1, 28, 28)
    sub, _ = random_split(fast, [3, 3])
    np.testing.assert_array_equal(next(iter(DataLoader(sub, batch_size=3)))[0].numpy(),
                                  np.stack([sub[i][0].numpy() for i in range(3)]))
    raw = datasets.MNIST(root)
    with pytest.raises(TypeError, match="PIL Image: add transforms.ToTensor"):
        next(iter(DataLoader(raw, batch_size=2)))


def test_cifar10_items(tmp_path, monkeypatch):
    from convnp.data.datasets import CIFAR10
    from tests.cifar_files import make_cifar

    made = make_cifar(tmp_path, CIFAR10, n=2)  # original-format batches (Python 2 pickles)
    monkeypatch.setattr(CIFAR10, "file_hashes", made["hashes"])  # trust the generated files
    ds = datasets.CIFAR10(tmp_path, train=False)
    img, y = ds[0]
    first = made["entries"]["test_batch"]
    assert isinstance(img, Image.Image) and img.mode == "RGB" and img.size == (32, 32)
    assert y == first["labels"][0]
    assert isinstance(ds.data, np.ndarray) and ds.data.shape == (2, 32, 32, 3)
    assert ds.targets == first["labels"] and isinstance(ds.targets, list)
    np.testing.assert_array_equal(np.asarray(img)[..., 0].ravel(), first["data"][0][:1024])  # red
    norm = transforms.Compose([transforms.ToTensor(),
                               transforms.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))])
    tr = datasets.CIFAR10(tmp_path, train=True, transform=norm)
    xb, yb = next(iter(DataLoader(tr, batch_size=10)))
    labels = [v for f in CIFAR10.train_list for v in made["entries"][f]["labels"]]
    assert xb.shape == (10, 3, 32, 32) and yb.tolist() == labels
    np.testing.assert_allclose(xb.numpy()[3], tr[3][0].numpy(), rtol=0, atol=0)


def test_image_folder(tmp_path):
    rng = np.random.default_rng(0)
    for cls, n in (("dog", 2), ("cat", 3)):
        (tmp_path / cls).mkdir()
        for i in range(n):
            Image.fromarray(rng.integers(0, 256, (5, 4, 3), dtype=np.uint8)).save(
                tmp_path / cls / f"{i}.png")
    (tmp_path / "cat" / "notes.txt").write_text("not an image")
    ds = datasets.ImageFolder(tmp_path, transform=transforms.ToTensor())
    assert ds.classes == ["cat", "dog"] and ds.class_to_idx == {"cat": 0, "dog": 1}
    assert len(ds) == 5 and ds.targets == [0, 0, 0, 1, 1]
    x, y = ds[4]
    assert x.shape == (3, 5, 4) and y == 1
    assert ds.imgs[0][0].endswith("0.png")
    (tmp_path / "bird").mkdir()
    with pytest.raises(FileNotFoundError, match="bird"):
        datasets.ImageFolder(tmp_path)
    assert len(datasets.ImageFolder(tmp_path, allow_empty=True)) == 5


def test_fake_data():
    ds = datasets.FakeData(size=4, image_size=(3, 8, 6), num_classes=3,
                           transform=transforms.ToTensor())
    x, y = ds[1]
    assert x.shape == (3, 8, 6) and 0 <= y < 3 and len(ds) == 4
    np.testing.assert_array_equal(ds[1][0].numpy(), x.numpy())  # same image every time
    with pytest.raises(IndexError):
        ds[4]


def test_emnist_items(tmp_path):
    import gzip

    raw = tmp_path / "EMNIST" / "raw"
    raw.mkdir(parents=True)
    imgs = (np.arange(2 * 28 * 28) % 251).astype(np.uint8).reshape(2, 28, 28)
    for name, arr in (("images-idx3", imgs), ("labels-idx1", np.array([3, 46], np.uint8))):
        header = bytes([0, 0, 0x08, arr.ndim]) + struct.pack(">" + "i" * arr.ndim, *arr.shape)
        with gzip.open(raw / f"emnist-balanced-test-{name}-ubyte.gz", "wb") as f:
            f.write(header + arr.tobytes())
    ds = datasets.EMNIST(tmp_path, split="balanced", train=False)
    img, y = ds[0]
    assert isinstance(img, Image.Image) and y == 3 and ds.classes[46] == "t"
    np.testing.assert_array_equal(np.asarray(img), imgs[0].T)  # stored transposed, as torchvision
    assert isinstance(ds.data, Tensor) and ds.targets.tolist() == [3, 46]
