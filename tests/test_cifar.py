"""CIFAR-10/100 on small generated files in the original format: opening, checksums, the
restricted unpickler, and download=True end to end through a loopback HTTP server."""

from __future__ import annotations

import functools
import http.server
import os
import pickle
import threading

import numpy as np
import pytest

from convnp.data import CIFAR10, CIFAR100, ChecksumError, DataLoader, get_dataset
from convnp.data import transforms as T
from tests.cifar_files import make_archive, make_cifar, md5, py2_pickle


def _trust(monkeypatch, cls, made, archive=None):
    """Make ``cls`` accept the generated files as if they were the published ones."""
    monkeypatch.setattr(cls, "file_hashes", made["hashes"])
    if archive is not None:
        monkeypatch.setattr(cls, "tgz_hash", md5(archive))


@pytest.mark.parametrize("cls", [CIFAR10, CIFAR100], ids=["cifar10", "cifar100"])
def test_genuine_format_batches_load(tmp_path, monkeypatch, cls):
    made = make_cifar(tmp_path, cls, n=3)
    _trust(monkeypatch, cls, made)
    ds = cls(tmp_path, train=True, transform=T.ToTensor())
    n_files = len(cls.train_list)
    assert len(ds) == 3 * n_files and ds.data.shape[1:] == (32, 32, 3)
    first = made["entries"][cls.train_list[0]]
    np.testing.assert_array_equal(ds.data[0][..., 0].ravel(), first["data"][0][:1024])  # red
    np.testing.assert_array_equal(ds.data[0][..., 2].ravel(), first["data"][0][2048:])  # blue
    labels = np.concatenate([made["entries"][f][cls.label_key] for f in cls.train_list])
    np.testing.assert_array_equal(ds.targets, labels)
    assert ds.targets.dtype == np.int64 and ds.classes == [f"class{i}" for i in range(10)]
    x, y = ds[1]
    assert tuple(x.shape) == (3, 32, 32) and int(y) == labels[1]
    xb, yb = next(iter(DataLoader(ds, batch_size=3)))
    assert tuple(xb.shape) == (3, 3, 32, 32) and yb.tolist() == labels[:3].tolist()
    test = cls(tmp_path, train=False)
    assert len(test) == 3


def test_batches_are_checked_against_their_published_md5(tmp_path):
    make_cifar(tmp_path, CIFAR10)
    # generated files are not the official ones: refused by checksum, naming the file
    with pytest.raises(ChecksumError, match=r"test_batch: md5 checksum mismatch \(expected "
                                            r"40351d587109b95175f43aff81a1287e"):
        CIFAR10(tmp_path, train=False)


def test_a_crafted_batch_cannot_run_code(tmp_path, monkeypatch):
    """A data_batch whose pickle calls os.system (or any other global) is refused, unrun."""
    made = make_cifar(tmp_path, CIFAR10)
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return os.system, (f"touch {marker}",)

    bad = made["dir"] / "test_batch"
    bad.write_bytes(pickle.dumps({"data": Evil(), "labels": [0]}, protocol=2))
    made["hashes"]["test_batch"] = md5(bad)  # even a file that passes its checksum
    _trust(monkeypatch, CIFAR10, made)
    with pytest.raises(ValueError, match=r"test_batch asks to load posix.system.*refused.*"
                                         r"extract the official archive again"):
        CIFAR10(tmp_path, train=False)
    assert not marker.exists()
    # the reconstructor admitted for arrays does not build ndarray subclasses either
    bad.write_bytes(py2_pickle({"data": np.ma.masked_array(np.zeros((1, 3072), np.uint8)),
                                "labels": [0]}))
    made["hashes"]["test_batch"] = md5(bad)
    with pytest.raises(ValueError, match="(refused|not a plain ndarray)"):
        CIFAR10(tmp_path, train=False)
    # nor allocates what the file asks for: NumPy always reconstructs from shape (0,)
    huge = py2_pickle({"data": np.zeros((1, 3072), np.uint8), "labels": [0]})
    assert huge.count(b"K\x00\x85") == 1  # the (0,) argument of _reconstruct
    bad.write_bytes(huge.replace(b"K\x00\x85", b"J\x00\xe4\x0bT\x85"))  # (1,410,065,408,)
    made["hashes"]["test_batch"] = md5(bad)
    with pytest.raises(ValueError, match=r"reconstructed with shape \(1410065408,\)"):
        CIFAR10(tmp_path, train=False)


@pytest.mark.parametrize("entry,match", [
    ({"data": np.zeros((2, 100), np.uint8), "labels": [0, 1]}, r"uint8 array \(N, 3072\)"),
    ({"data": np.zeros((2, 3072), np.float32), "labels": [0, 1]}, r"float32 array"),
    ({"data": np.zeros((2, 3072), np.uint8), "labels": [0]}, r"2 images but .* 1 labels"),
    ({"data": np.zeros((2, 3072), np.uint8), "labels": [0, 10]}, r"label 10, outside .* 10 "
                                                                   r"classes"),
    ({"data": np.zeros((2, 3072), np.uint8), "labels": ["a", "b"]}, r"list of int labels"),
], ids=["width", "dtype", "counts", "label-range", "label-type"])
def test_malformed_batches_are_refused_when_opened(tmp_path, monkeypatch, entry, match):
    made = make_cifar(tmp_path, CIFAR10)
    f = made["dir"] / "test_batch"
    f.write_bytes(py2_pickle(entry))
    made["hashes"]["test_batch"] = md5(f)
    _trust(monkeypatch, CIFAR10, made)
    with pytest.raises(ValueError, match=rf"CIFAR10: .*test_batch.*{match}.*extract"):
        CIFAR10(tmp_path, train=False)


def test_archive_is_verified_then_extracted(tmp_path, monkeypatch):
    made = make_cifar(tmp_path / "src", CIFAR10, n=2)
    root = tmp_path / "root"
    archive = make_archive(tmp_path / "src", CIFAR10, root / CIFAR10.filename)
    with pytest.raises(ChecksumError, match="cifar-10-python.tar.gz: md5 checksum mismatch"):
        CIFAR10(root, train=False)  # not the official archive
    assert not (root / CIFAR10.base_folder).exists()  # nothing extracted from it
    _trust(monkeypatch, CIFAR10, made, archive)
    ds = CIFAR10(root, train=False)
    assert len(ds) == 2 and ds.classes[:2] == ["class0", "class1"]
    assert (root / "cifar-10-batches-py" / "test_batch").is_file()


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def cifar_site(tmp_path, monkeypatch):
    """A loopback HTTP server holding a small CIFAR-10 archive at CIFAR10.url's file name."""
    pytest.importorskip("pooch")
    made = make_cifar(tmp_path / "src", CIFAR10, n=2)
    site = tmp_path / "site"
    archive = make_archive(tmp_path / "src", CIFAR10, site / CIFAR10.filename)
    (site / "broken").mkdir()
    (site / "broken" / CIFAR10.filename).write_bytes(archive.read_bytes()[:-100])
    httpd = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(_Quiet, directory=str(site)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    _trust(monkeypatch, CIFAR10, made, archive)
    yield f"http://127.0.0.1:{httpd.server_address[1]}", made
    httpd.shutdown()
    httpd.server_close()


def test_download_true_fetches_verifies_extracts_and_reuses(cifar_site, tmp_path, monkeypatch):
    url, made = cifar_site
    monkeypatch.setattr(CIFAR10, "url", f"{url}/{CIFAR10.filename}")
    root = tmp_path / "root"
    ds = CIFAR10(root, train=True, download=True)  # crashed: 'bool' object is not callable
    assert len(ds) == 2 * 5 and (root / CIFAR10.filename).is_file()
    entry = made["entries"]["data_batch_1"]
    np.testing.assert_array_equal(ds.targets[:2], entry["labels"])
    # the CLI's path: get_dataset(..., download=True); a second open reuses the files
    monkeypatch.setattr(CIFAR10, "url", f"{url}/missing/{CIFAR10.filename}")
    assert len(get_dataset("cifar10", root, train=False, download=True)) == 2
    # a damaged extracted batch is re-extracted from the verified archive under download=True
    (root / CIFAR10.base_folder / "test_batch").write_bytes(b"garbage")
    with pytest.raises(ChecksumError, match="test_batch: md5 checksum mismatch"):
        CIFAR10(root, train=False)
    assert len(CIFAR10(root, train=False, download=True)) == 2


def test_download_with_a_bad_checksum_keeps_nothing(cifar_site, tmp_path, monkeypatch):
    url, _ = cifar_site
    monkeypatch.setattr(CIFAR10, "url", f"{url}/broken/{CIFAR10.filename}")
    root = tmp_path / "root"
    with pytest.raises(ChecksumError, match="cifar-10-python.tar.gz"):
        CIFAR10(root, train=False, download=True)
    assert not (root / CIFAR10.filename).exists()
    assert not (root / CIFAR10.base_folder).exists()


def test_train_recipe_downloads_cifar(cifar_site, tmp_path, monkeypatch):
    """`convnp train --dataset cifar10 --download` builds its datasets (it crashed before)."""
    url, _ = cifar_site
    monkeypatch.setattr(CIFAR10, "url", f"{url}/{CIFAR10.filename}")
    from convnp.train import TrainConfig, build_datasets

    root = tmp_path / "root"
    train, test = build_datasets(TrainConfig(dataset="cifar10", data_dir=str(root),
                                             download=True))
    assert (len(train), len(test)) == (10, 2)
    x, _ = train[0]
    assert tuple(x.shape) == (3, 32, 32)


def test_train_cli_with_download_trains_on_cifar(cifar_site, tmp_path, monkeypatch):
    """The issue's command: `convnp train --dataset cifar10 --download` (crashed with
    "TypeError: 'bool' object is not callable")."""
    url, _ = cifar_site
    monkeypatch.setattr(CIFAR10, "url", f"{url}/{CIFAR10.filename}")
    from convnp.cli import main

    root = tmp_path / "data"
    rc = main(["train", "--dataset", "cifar10", "--download", "--data-dir", str(root),
               "--epochs", "1", "--batch-size", "4", "--out", str(tmp_path / "run"),
               "--no-progress"])
    assert rc == 0 and (root / CIFAR10.filename).is_file()
