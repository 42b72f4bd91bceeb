"""Checkpoints: tensors in safetensors, everything else as JSON, written atomically.

A checkpoint is ONE file, ``<name>.safetensors``: the tensors of any nested state (model
``state_dict``, optimizer state, ...) are stored as safetensors entries, and the rest of the
structure (numbers, strings, RNG states, metrics) as JSON in the safetensors metadata under the
key ``"convnp"``, with ``{"__tensor__": key}`` placeholders where tensors were. One file means one
atomic rename: the file is written to a temporary name in the same directory, flushed and
fsync'ed, then ``os.replace``'d over the old one, so an interruption at any moment leaves either
the previous complete checkpoint or the new complete one, never a mix.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from convnp.tensor import Tensor

__all__ = ["save", "load", "atomic_write_bytes", "atomic_write_text"]


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
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def _encode(obj: Any, tensors: dict[str, np.ndarray], path: str) -> Any:
    if isinstance(obj, Tensor):
        obj = obj.array
    if isinstance(obj, np.ndarray):
        key = path or "tensor"
        # np.ascontiguousarray would turn a 0-d array (Adam's step) into shape (1,)
        tensors[key] = obj if obj.flags.c_contiguous else obj.copy(order="C")
        return {"__tensor__": key}
    if isinstance(obj, np.generic):
        return {"__scalar__": obj.item(), "dtype": str(obj.dtype)}
    if isinstance(obj, dict):
        if all(isinstance(k, str) for k in obj) and "__tensor__" not in obj:
            return {k: _encode(v, tensors, f"{path}.{k}" if path else k) for k, v in obj.items()}
        return {"__items__": [[_encode(k, tensors, f"{path}.k{i}"),
                               _encode(v, tensors, f"{path}.{k}")]
                              for i, (k, v) in enumerate(obj.items())]}
    if isinstance(obj, tuple):
        return {"__tuple__": [_encode(v, tensors, f"{path}.{i}") for i, v in enumerate(obj)]}
    if isinstance(obj, list):
        return [_encode(v, tensors, f"{path}.{i}") for i, v in enumerate(obj)]
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
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


def save(state: dict, path: str | os.PathLike) -> None:
    """Save a nested ``state`` (dicts/lists/tuples of tensors, arrays and JSON values) atomically.

    Example:
        >>> save({"model": model.state_dict(), "epoch": 3}, "run/checkpoint.safetensors")
    """
    from safetensors.numpy import save as st_save

    tensors: dict[str, np.ndarray] = {}
    meta = _encode(state, tensors, "")
    blob = st_save(tensors, metadata={"convnp": json.dumps(meta)})
    atomic_write_bytes(path, blob)


def load(path: str | os.PathLike, as_tensor: bool = True) -> dict:
    """Load a checkpoint written by :func:`save` (tensors as convnp Tensors, or arrays)."""
    from safetensors import safe_open

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint.load: no checkpoint at {path}")
    tensors = {}
    with safe_open(str(path), framework="numpy") as f:
        meta = f.metadata() or {}
        for k in f.keys():
            tensors[k] = f.get_tensor(k)
    if "convnp" not in meta:
        raise ValueError(f"checkpoint.load: {path} is a safetensors file without convnp "
                         f"metadata (not written by convnp.checkpoint.save)")
    return _decode(json.loads(meta["convnp"]), tensors, as_tensor)
