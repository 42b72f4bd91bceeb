"""Downloads through a loopback HTTP server serving ../shared/data (never the internet)."""

from __future__ import annotations

import functools
import http.server
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest

from convnp.data import MNIST, ChecksumError, FashionMNIST, _download

pytest.importorskip("pooch")
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
pytestmark = pytest.mark.skipif(not (SHARED / "mnist").is_dir(),
                                reason="../shared/data/mnist (original MNIST files) is absent")


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def server(tmp_path):
    """Serve a copy of ../shared/data plus a 'broken' tree with a truncated file."""
    site = tmp_path / "site"
    shutil.copytree(SHARED / "mnist", site / "mnist")
    shutil.copytree(SHARED / "mnist", site / "broken")
    f = site / "broken" / "t10k-images-idx3-ubyte.gz"
    f.write_bytes(f.read_bytes()[: f.stat().st_size // 2])
    handler = functools.partial(_Quiet, directory=str(site))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    httpd.hits = []
    yield f"http://127.0.0.1:{httpd.server_address[1]}", site
    httpd.shutdown()
    httpd.server_close()


def test_download_verify_and_reuse(server, tmp_path, monkeypatch):
    url, site = server
    monkeypatch.setattr(MNIST, "mirrors", [url + "/missing/", url + "/mnist/"])  # first one 404s
    root = tmp_path / "root"
    ds = MNIST(root, train=False, download=True)
    raw = root / "MNIST" / "raw"
    assert len(ds) == 10000 and sorted(p.name for p in raw.iterdir()) == sorted(
        f for f, _ in MNIST.resources)
    # cache reuse: with the server's files gone, the local copies still load (no download)
    shutil.rmtree(site / "mnist")
    again = MNIST(root, train=False, download=True)
    np.testing.assert_array_equal(again.targets, ds.targets)
    # a failed checksum on a second dataset does not disturb the first
    assert len(MNIST(root, train=True)) == 60000


def test_default_cache_dir_from_env(server, tmp_path, monkeypatch):
    url, _ = server
    monkeypatch.setenv("CONVNP_DATA", str(tmp_path / "cache"))
    monkeypatch.setattr(MNIST, "mirrors", [url + "/mnist/"])
    ds = MNIST(None, train=False, download=True)
    assert len(ds) == 10000
    assert (tmp_path / "cache" / "MNIST" / "raw" / "t10k-images-idx3-ubyte.gz").is_file()


def test_truncated_download_fails_and_leaves_nothing(server, tmp_path, monkeypatch):
    url, _ = server
    monkeypatch.setattr(MNIST, "mirrors", [url + "/broken/"])
    root = tmp_path / "root"
    with pytest.raises(ChecksumError, match=r"t10k-images-idx3-ubyte.gz.*checksum"):
        MNIST(root, train=False, download=True)
    raw = root / "MNIST" / "raw"
    leftovers = [p.name for p in raw.iterdir()] if raw.exists() else []
    assert "t10k-images-idx3-ubyte.gz" not in leftovers
    assert not any("tmp" in n or n.endswith(".part") for n in leftovers)
    # nothing there loads as data: offline, the dataset is reported missing
    with pytest.raises(FileNotFoundError, match="dataset files not found"):
        MNIST(root, train=False)


def test_corrupt_cached_file_is_replaced_on_download(server, tmp_path, monkeypatch):
    url, _ = server
    monkeypatch.setattr(MNIST, "mirrors", [url + "/mnist/"])
    root = tmp_path / "root"
    MNIST(root, train=False, download=True)
    f = root / "MNIST" / "raw" / "t10k-labels-idx1-ubyte.gz"
    f.write_bytes(b"garbage")
    with pytest.raises(ChecksumError, match="expected f7ae60f9"):
        MNIST(root, train=False)
    assert len(MNIST(root, train=False, download=True)) == 10000  # re-fetched


def test_download_helper_unreachable(tmp_path):
    with pytest.raises(RuntimeError, match="could not download x.gz; tried"):
        _download.download(["http://127.0.0.1:9/x.gz"], "x.gz", tmp_path, None)


def test_fashion_mirror_is_overridable(server, tmp_path, monkeypatch):
    url, _ = server
    # the served MNIST bytes do not match Fashion-MNIST's checksums -> refused
    monkeypatch.setattr(FashionMNIST, "mirrors", [url + "/mnist/"])
    with pytest.raises(ChecksumError):
        FashionMNIST(tmp_path, train=False, download=True)
    assert not (tmp_path / "FashionMNIST" / "raw" / "t10k-images-idx3-ubyte.gz").exists()
