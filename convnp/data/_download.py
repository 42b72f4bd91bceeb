"""Locating, verifying and downloading dataset files (pooch does the network part).

Downloads go through :func:`pooch.retrieve`, which writes to a temporary file in the target
directory and renames it only after the checksum holds, so an interrupted or corrupted download
never leaves a file that later loads as data.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

__all__ = ["DatasetNotFoundError", "ChecksumError", "default_root", "file_hash", "verify",
           "download", "find_dir"]


class DatasetNotFoundError(FileNotFoundError):
    """The dataset's files are not on disk and ``download=False``."""


class ChecksumError(RuntimeError):
    """A dataset file on disk (or a fresh download) does not match its published checksum."""


def default_root() -> Path:
    """Where datasets are cached: ``$CONVNP_DATA`` or ``~/.cache/convnp``."""
    env = os.environ.get("CONVNP_DATA")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "convnp"


def file_hash(path: str | os.PathLike, algorithm: str) -> str:
    """Hex digest of a file, read in 1 MiB blocks."""
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def verify(path: str | os.PathLike, known_hash: str | None) -> None:
    """Check ``path`` against ``known_hash`` ('sha256:...' or 'md5:...'); raise ChecksumError."""
    if not known_hash:
        return
    algorithm, _, expected = known_hash.partition(":")
    actual = file_hash(path, algorithm)
    if actual != expected.lower():
        raise ChecksumError(
            f"{path}: {algorithm} checksum mismatch (expected {expected}, got {actual}). "
            f"The file is "
            f"corrupted or incomplete: delete it and download it again (download=True, or "
            f"`convnp train --download`), or copy an intact original there.")


def find_dir(candidates: list[Path], filenames: list[str]) -> Path | None:
    """The first candidate directory holding every one of ``filenames`` (or None)."""
    for d in candidates:
        if all((d / f).is_file() for f in filenames):
            return d
    return None


def download(urls: list[str], filename: str, directory: Path, known_hash: str | None) -> Path:
    """Fetch ``filename`` from the first working URL into ``directory``; verify its checksum.

    A file already present with the right checksum is reused. A failed checksum raises
    ChecksumError and leaves no file behind.
    """
    import pooch  # imported lazily: only downloads need it

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / filename
    if target.is_file():
        try:
            verify(target, known_hash)
            return target
        except ChecksumError:
            target.unlink()  # a stale or partial copy: fetch it again
    errors = []
    for url in urls:
        try:
            path = pooch.retrieve(url, known_hash=known_hash, fname=filename, path=directory,
                                  progressbar=False)
            return Path(path)
        except ValueError as e:  # pooch reports a hash mismatch as ValueError
            if target.exists():
                target.unlink()
            if "hash" in str(e).lower():
                raise ChecksumError(
                    f"download of {filename} from {url} failed its checksum ({known_hash}): {e} "
                    f"No file was kept; try again later or place a verified copy in {directory}."
                ) from None
            errors.append(f"{url}: {e}")
        except Exception as e:  # network errors: try the next mirror
            errors.append(f"{url}: {type(e).__name__}: {e}")
    raise RuntimeError(f"could not download {filename}; tried:\n  " + "\n  ".join(errors))
