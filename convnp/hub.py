"""``convnp.hub``: download pretrained weights once and load them from a local cache (torch's
``torch.hub.load_state_dict_from_url``, ``get_dir``, ``set_dir``, ``download_url_to_file``).

The cache is ``get_dir()/checkpoints``. ``get_dir()`` is, in order: the folder given to
``set_dir()``; ``$CONVNP_HOME/hub``; ``$XDG_CACHE_HOME/convnp/hub``; ``~/.cache/convnp/hub``.
Files are the ``torch.save`` files the URLs point to (``convnp.load`` reads torch's format), so
the weights published for torchvision's models load into convnp's models of the same
architecture.

Offline: place the file in the cache under the name the URL ends with; the error for a failed
download names that exact path.

Example::

    >>> sd = convnp.hub.load_state_dict_from_url(
    ...     "https://download.pytorch.org/models/resnet18-f37072fd.pth", check_hash=True)
    >>> model.load_state_dict(sd)
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import sys
import tempfile
from typing import Any
from urllib.parse import urlparse
from urllib.request import Request, urlopen

__all__ = ["download_url_to_file", "get_dir", "help", "list", "load", "load_state_dict_from_url",
           "set_dir"]

ENV_CONVNP_HOME = "CONVNP_HOME"
ENV_XDG_CACHE_HOME = "XDG_CACHE_HOME"
DEFAULT_CACHE_DIR = "~/.cache"
# torch's rule: the hex digits between the last '-' and the first '.' of the file name are a
# prefix of the file's SHA-256 (resnet18-f37072fd.pth)
HASH_REGEX = re.compile(r"-([a-f0-9]*)\.")
READ_DATA_CHUNK = 128 * 1024

_hub_dir: str | None = None


def _home() -> str:
    env = os.environ.get(ENV_CONVNP_HOME)
    if env:
        return os.path.expanduser(env)
    cache = os.environ.get(ENV_XDG_CACHE_HOME, DEFAULT_CACHE_DIR)
    return os.path.join(os.path.expanduser(cache), "convnp")


def get_dir() -> str:
    """The hub cache folder (see the module docstring for the order of precedence)."""
    if _hub_dir is not None:
        return _hub_dir
    return os.path.join(_home(), "hub")


def set_dir(d: str | os.PathLike) -> None:
    """Use ``d`` as the hub cache folder from now on."""
    global _hub_dir
    _hub_dir = os.path.expanduser(os.fspath(d))


def download_url_to_file(url: str, dst: str, hash_prefix: str | None = None,
                         progress: bool = True) -> None:
    """Download ``url`` to the file ``dst``; with ``hash_prefix``, the file's SHA-256 must start
    with it. The data goes to a temporary file in the same folder, renamed into place only when
    complete and verified, so an interrupted download never leaves a partial ``dst``."""
    dst = os.path.expanduser(dst)
    req = Request(url, headers={"User-Agent": "convnp.hub"})
    with urlopen(req) as u:  # noqa: S310 (the URL is the caller's)
        size = u.info().get("Content-Length") if hasattr(u, "info") else None
        total = int(size) if size and str(size).isdigit() else None
        folder = os.path.dirname(os.path.abspath(dst))
        os.makedirs(folder, exist_ok=True)
        tmp = tempfile.NamedTemporaryFile(delete=False, dir=folder, suffix=".partial")
        try:
            digest = hashlib.sha256() if hash_prefix is not None else None
            done = 0
            while True:
                block = u.read(READ_DATA_CHUNK)
                if not block:
                    break
                tmp.write(block)
                if digest is not None:
                    digest.update(block)
                done += len(block)
                if progress and total:
                    sys.stderr.write(f"\rDownloading {os.path.basename(dst)}: "
                                     f"{100 * done // total}%")
            if progress and total:
                sys.stderr.write("\n")
            tmp.close()
            if digest is not None:
                got = digest.hexdigest()
                if got[:len(hash_prefix)] != hash_prefix:
                    raise RuntimeError(f'invalid hash value (expected "{hash_prefix}", got '
                                       f'"{got}") for {url}')
            shutil.move(tmp.name, dst)
        finally:
            tmp.close()
            if os.path.exists(tmp.name):
                os.remove(tmp.name)


def _check_cached_hash(path: str, prefix: str) -> None:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    got = h.hexdigest()
    if got[:len(prefix)] != prefix:
        raise RuntimeError(f'load_state_dict_from_url: invalid hash value for the cached file '
                           f'{path} (expected a SHA-256 starting with "{prefix}", got "{got}"). '
                           "Delete it (it is corrupted or a different file) and download again.")


def load_state_dict_from_url(url: str, model_dir: str | None = None, map_location: Any = None,
                             progress: bool = True, check_hash: bool = False,
                             file_name: str | None = None,
                             weights_only: bool = False) -> dict:
    r"""Load the ``torch.save`` file at ``url``, downloading it into the cache first if needed
    (torch's ``torch.hub.load_state_dict_from_url``).

    Args:
        url: where the file is (``https://``, ``http://`` or ``file://``).
        model_dir: the cache folder (default ``get_dir()/checkpoints``).
        map_location: accepted for torch scripts; everything loads on the CPU.
        progress: print the download's progress to stderr.
        check_hash: the file name's ``-<hex>.`` part must be a prefix of the file's SHA-256
            (torch's rule); checked after a download, and also on a file found in the cache.
        file_name: the cached file's name (default: the URL's last path component).
        weights_only: accepted; :func:`convnp.load` always restricts loading to tensors and
            plain containers.

    Returns: the loaded object (usually a state_dict of convnp tensors).

    Raises:
        RuntimeError: the download failed (the message names the path where to place the file
            by hand) or the hash does not match.
    """
    from convnp.serialization import load

    if model_dir is None:
        model_dir = os.path.join(get_dir(), "checkpoints")
    model_dir = os.path.expanduser(os.fspath(model_dir))
    os.makedirs(model_dir, exist_ok=True)
    filename = file_name or os.path.basename(urlparse(url).path)
    if not filename:
        raise ValueError(f"load_state_dict_from_url: cannot derive a file name from {url!r}; "
                         "pass file_name=")
    cached = os.path.join(model_dir, filename)
    prefix = None
    if check_hash:
        m = HASH_REGEX.search(filename)
        if m is None:
            raise ValueError(f"load_state_dict_from_url: check_hash=True needs a file name of the "
                             f"form name-<sha256 prefix>.ext, got {filename!r}")
        prefix = m.group(1)
    if os.path.exists(cached):
        if prefix is not None:
            _check_cached_hash(cached, prefix)
    else:
        if progress:
            sys.stderr.write(f'Downloading: "{url}" to {cached}\n')
        try:
            download_url_to_file(url, cached, prefix, progress=progress)
        except RuntimeError:
            raise
        except (OSError, ValueError) as e:  # URLError is an OSError
            raise RuntimeError(
                f"load_state_dict_from_url: could not download {url} ({e}). Without network "
                f"access, download the file on another machine and place it at {cached} "
                f"(or pass model_dir= / call convnp.hub.set_dir() to use another cache).") from e
    return load(cached, map_location=map_location, weights_only=weights_only)


def _unsupported(name: str):
    raise NotImplementedError(
        f"convnp.hub.{name}: loading a model from a GitHub repository's hubconf.py runs code "
        "written for torch, which convnp does not execute. Build the model with convnp (e.g. "
        "convnp.models) and load its weights with convnp.hub.load_state_dict_from_url(url).")


def load(repo_or_dir: str, model: str, *args: Any, **kwargs: Any):
    """Not supported (raises ``NotImplementedError``): see :func:`load_state_dict_from_url`."""
    _unsupported("load")


def list(github: str, *args: Any, **kwargs: Any):  # noqa: A001 (torch's name)
    """Not supported (raises ``NotImplementedError``)."""
    _unsupported("list")


def help(github: str, model: str, *args: Any, **kwargs: Any):  # noqa: A001 (torch's name)
    """Not supported (raises ``NotImplementedError``)."""
    _unsupported("help")
