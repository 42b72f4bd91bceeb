"""Checkpoints: tensors in safetensors, everything else as JSON, written atomically.

A checkpoint is ONE file, ``<name>.safetensors``: the tensors of any nested state (model
``state_dict``, optimizer state, ...) are stored as safetensors entries, and the rest of the
structure (numbers, strings, RNG states, metrics) as JSON in the safetensors metadata under the
key ``"convnp"``, with ``{"__tensor__": key}`` placeholders where tensors were. One file means one
atomic rename: the file is written to a temporary name in the same directory, flushed and
fsync'ed, then ``os.replace``'d over the old one, so an interruption at any moment leaves either
the previous complete checkpoint or the new complete one, never a mix.

Integrity: the metadata also holds ``"convnp_sha256"``, a SHA-256 over the JSON structure and every
tensor's name, dtype, shape and bytes. :func:`load` recomputes it and refuses a file whose bytes
changed (a flipped bit on disk, a copy cut short), so a damaged checkpoint raises
:class:`CheckpointError` naming the file instead of resuming into NaN. :func:`save` refuses any
state it could not give back unchanged (two tensors that would share one safetensors name, dicts
whose keys collide with the encoding's markers, values JSON cannot hold).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from convnp.tensor import Tensor

__all__ = ["save", "load", "atomic_write_bytes", "atomic_write_text", "CheckpointError"]

# the markers _encode writes; a str-keyed dict using one as a key is stored as "__items__"
_MARKERS = frozenset({"__tensor__", "__scalar__", "__tuple__", "__items__"})
_CHECKSUM = "convnp_sha256"


class CheckpointError(ValueError):
    """A checkpoint file that cannot be read back as written (damaged, truncated, foreign)."""


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary file in the same directory + ``os.replace``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp, 0o644)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        if os.path.exists(tmp):
            os.unlink(tmp)
        if isinstance(e, OSError) and e.filename is None and e.errno is not None:
            # a failed write() (a full disk) names no file: name the one being written
            raise OSError(e.errno, e.strerror, str(path)) from e
        raise
    _fsync_dir(path.parent)


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def _refuse(path: str, what: str) -> TypeError:
    return TypeError(f"checkpoint.save: cannot store {what} at {path or 'the top level'!r} "
                     f"(load() could not give it back unchanged)")


def _encode_key(k: Any, path: str) -> Any:
    # keys come back as dict keys, so they must decode to the same hashable value
    if k is None or isinstance(k, (bool, int, float, str)):
        return k
    if isinstance(k, tuple):
        return {"__tuple__": [_encode_key(v, path) for v in k]}
    raise _refuse(path, f"a dict key of type {type(k).__name__} ({k!r}); use str, int, float, "
                        f"bool, None or tuples of them")


def _encode(obj: Any, tensors: dict[str, np.ndarray], path: str) -> Any:
    if isinstance(obj, Tensor):
        obj = obj.array
    if isinstance(obj, np.ndarray):
        if obj.dtype.kind not in "biuf":
            raise _refuse(path, f"an array of dtype {obj.dtype} (safetensors holds bool, "
                                f"integer and float arrays)")
        key = path or "tensor"
        if key in tensors:
            raise _refuse(path, f"a second tensor named {key!r} (two keys such as 'a.b' and "
                                f"{{'a': {{'b': ...}}}}, or 1 and '1', map to one safetensors "
                                f"name); rename one of them")
        if not obj.dtype.isnative:
            obj = obj.astype(obj.dtype.newbyteorder("="))
        # np.ascontiguousarray would turn a 0-d array (Adam's step) into shape (1,)
        tensors[key] = obj if obj.flags.c_contiguous else obj.copy(order="C")
        return {"__tensor__": key}
    if isinstance(obj, np.generic) and not isinstance(obj, np.str_):
        if obj.dtype.kind not in "biuf":
            raise _refuse(path, f"a NumPy scalar of dtype {obj.dtype}")
        return {"__scalar__": obj.item(), "dtype": str(obj.dtype)}
    if isinstance(obj, dict):
        if all(type(k) is str for k in obj) and not (_MARKERS & obj.keys()):
            return {k: _encode(v, tensors, f"{path}.{k}" if path else k) for k, v in obj.items()}
        return {"__items__": [[_encode_key(k, path), _encode(v, tensors, f"{path}.{k}")]
                              for k, v in obj.items()]}
    if isinstance(obj, tuple):
        return {"__tuple__": [_encode(v, tensors, f"{path}.{i}") for i, v in enumerate(obj)]}
    if isinstance(obj, list):
        return [_encode(v, tensors, f"{path}.{i}") for i, v in enumerate(obj)]
    if obj is None or type(obj) in (bool, int, float, str):
        return obj
    if isinstance(obj, (bool, int, float, str)):  # subclasses (IntEnum, ...) come back as the base
        base = next(t for t in (bool, int, float, str) if isinstance(obj, t)).__name__
        raise _refuse(path, f"a value of type {type(obj).__name__} (a subclass of {base}; "
                            f"convert it with {base}(...) first)")
    raise TypeError(f"checkpoint.save: cannot store a value of type {type(obj).__name__} at "
                    f"{path!r}")


def _decode(obj: Any, tensors: dict[str, np.ndarray], as_tensor: bool) -> Any:
    if isinstance(obj, dict):
        if "__tensor__" in obj:
            a = tensors[obj["__tensor__"]]
            return Tensor._wrap(a) if as_tensor else a
        if "__scalar__" in obj:
            return np.dtype(obj["dtype"]).type(obj["__scalar__"])
        if "__tuple__" in obj:
            return tuple(_decode(v, tensors, as_tensor) for v in obj["__tuple__"])
        if "__items__" in obj:
            return {_decode(k, tensors, as_tensor): _decode(v, tensors, as_tensor)
                    for k, v in obj["__items__"]}
        return {k: _decode(v, tensors, as_tensor) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_decode(v, tensors, as_tensor) for v in obj]
    return obj


def _digest(meta: str, tensors: dict[str, np.ndarray]) -> str:
    """SHA-256 of the JSON structure and of every tensor's name, dtype, shape and bytes."""
    h = hashlib.sha256(meta.encode("utf-8"))
    for k in sorted(tensors):
        a = tensors[k]
        h.update(f"\0{k}\0{a.dtype.name}\0{a.shape}\0".encode("utf-8"))
        h.update(np.ascontiguousarray(a).reshape(-1).view(np.uint8).data)
    return h.hexdigest()


def save(state: dict, path: str | os.PathLike) -> None:
    """Save a nested ``state`` (dicts/lists/tuples of tensors, arrays and JSON values) atomically.

    The file carries a SHA-256 of its content that :func:`load` verifies. Raises TypeError for
    anything ``load`` could not give back unchanged (the message names where it sits).

    Example:
        >>> save({"model": model.state_dict(), "epoch": 3}, "run/checkpoint.safetensors")
    """
    from safetensors.numpy import save as st_save

    tensors: dict[str, np.ndarray] = {}
    try:
        meta = json.dumps(_encode(state, tensors, ""), allow_nan=True)
    except RecursionError:
        raise TypeError("checkpoint.save: the state contains itself (a reference cycle)") from None
    blob = st_save(tensors, metadata={"convnp": meta, _CHECKSUM: _digest(meta, tensors)})
    atomic_write_bytes(path, blob)


def load(path: str | os.PathLike, as_tensor: bool = True, verify: bool = True) -> dict:
    """Load a checkpoint written by :func:`save` (tensors as convnp Tensors, or arrays).

    Args:
        path: the ``.safetensors`` file.
        as_tensor: return tensors as convnp Tensors (default) or NumPy arrays.
        verify: check the file's SHA-256 (default). ``False`` reads files from before checksums
            existed, and damaged ones, at the caller's risk.

    Raises:
        FileNotFoundError: no file at ``path``.
        CheckpointError: the file is truncated, damaged, not a convnp checkpoint, or its content
            does not match its checksum.
    """
    from safetensors import safe_open

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint.load: no checkpoint at {path}")
    fix = "restore it from a copy, or start the run again"
    tensors = {}
    try:
        with safe_open(str(path), framework="numpy") as f:
            meta = f.metadata() or {}
            for k in f.keys():
                tensors[k] = f.get_tensor(k)
    except OSError:
        raise
    except Exception as e:  # SafetensorError (truncated, bad header) is not an OSError
        raise CheckpointError(f"checkpoint.load: {path} is damaged or truncated ({e}); "
                              f"{fix}") from None
    if "convnp" not in meta:
        raise CheckpointError(f"checkpoint.load: {path} is a safetensors file without convnp "
                              f"metadata (not written by convnp.checkpoint.save)")
    if verify:
        if _CHECKSUM not in meta:
            raise CheckpointError(f"checkpoint.load: {path} has no checksum (written by an older "
                                  f"convnp); load it with checkpoint.load(path, verify=False) "
                                  f"if you trust it")
        if _digest(meta["convnp"], tensors) != meta[_CHECKSUM]:
            raise CheckpointError(f"checkpoint.load: {path} is damaged: its content does not "
                                  f"match its SHA-256 checksum; {fix}")
    try:
        return _decode(json.loads(meta["convnp"]), tensors, as_tensor)
    except (ValueError, KeyError, TypeError) as e:
        raise CheckpointError(f"checkpoint.load: {path} holds an unreadable structure ({e}); "
                              f"{fix}") from None
