"""convnp.hub: load_state_dict_from_url downloads into the documented cache, checks torch's
SHA-256 file-name prefix, loads torch's files as torch does, and fails offline with the path to
fill; get_dir/set_dir."""

import hashlib
import os

import numpy as np
import pytest

import convnp
from convnp import hub

torch = pytest.importorskip("torch")


def _published(tmp_path, name="weights"):
    """A torch.save state_dict named like torch's hub files: <name>-<sha256 prefix>.pth."""
    src = tmp_path / "server"
    src.mkdir()
    sd = {"conv.weight": torch.randn(4, 3, 3, 3, dtype=torch.float64), "fc.bias": torch.ones(2)}
    raw = src / "raw.pth"
    torch.save(sd, raw)
    digest = hashlib.sha256(raw.read_bytes()).hexdigest()
    path = src / f"{name}-{digest[:8]}.pth"
    raw.rename(path)
    return sd, path, digest


def test_download_cache_and_values_as_torch(tmp_path, monkeypatch):
    sd, path, digest = _published(tmp_path)
    url = path.as_uri()
    cache = tmp_path / "cache"
    got = hub.load_state_dict_from_url(url, model_dir=str(cache), check_hash=True,
                                       progress=False)
    ref = torch.hub.load_state_dict_from_url(url, model_dir=str(tmp_path / "tcache"),
                                             check_hash=True, progress=False)
    assert list(got) == list(ref)
    for k in ref:
        assert isinstance(got[k], convnp.Tensor) and got[k].dtype == ref[k].numpy().dtype
        np.testing.assert_array_equal(got[k].array, ref[k].numpy())
    cached = cache / path.name
    assert cached.is_file()
    # the second call reads the cache: the source can be gone
    path.unlink()
    again = hub.load_state_dict_from_url(url, model_dir=str(cache), progress=False)
    np.testing.assert_array_equal(again["conv.weight"].array, sd["conv.weight"].numpy())
    # default location: get_dir()/checkpoints, get_dir() from $CONVNP_HOME
    monkeypatch.setenv("CONVNP_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(hub, "_hub_dir", None)
    assert hub.get_dir() == str(tmp_path / "home" / "hub")
    hub.set_dir(tmp_path / "elsewhere")
    assert hub.get_dir() == str(tmp_path / "elsewhere")
    monkeypatch.setattr(hub, "_hub_dir", None)


def test_wrong_hash_is_refused_and_leaves_no_file(tmp_path):
    _, path, digest = _published(tmp_path)
    bad = path.with_name("weights-" + ("0" * 8) + ".pth")
    path.rename(bad)
    cache = tmp_path / "cache"
    with pytest.raises(RuntimeError, match='invalid hash value \\(expected "00000000"'):
        hub.load_state_dict_from_url(bad.as_uri(), model_dir=str(cache), check_hash=True,
                                     progress=False)
    assert os.listdir(cache) == []  # no partial or wrong file stays in the cache
    # a wrong file placed in the cache by hand is refused too when check_hash=True
    (cache / bad.name).write_bytes(bad.read_bytes())
    with pytest.raises(RuntimeError, match="invalid hash value for the cached file"):
        hub.load_state_dict_from_url(bad.as_uri(), model_dir=str(cache), check_hash=True)
    # without check_hash it loads (torch's default)
    assert "fc.bias" in hub.load_state_dict_from_url(bad.as_uri(), model_dir=str(cache))


def test_offline_error_names_the_file_to_place(tmp_path):
    cache = tmp_path / "cache"
    url = "http://127.0.0.1:9/models/resnet18-f37072fd.pth"  # nothing listens on port 9
    with pytest.raises(RuntimeError) as e:
        hub.load_state_dict_from_url(url, model_dir=str(cache), progress=False)
    assert str(cache / "resnet18-f37072fd.pth") in str(e.value)
    assert "place it at" in str(e.value)
    with pytest.raises(NotImplementedError, match="hubconf.py"):
        hub.load("pytorch/vision", "resnet18")
