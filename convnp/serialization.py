"""``convnp.save`` / ``convnp.load``: PyTorch's file format, read and written without torch.

A file written by ``torch.save(model.state_dict(), "model.pt")`` loads with
``model.load_state_dict(convnp.load("model.pt"))``, and ``convnp.save(model.state_dict(), path)``
writes a file that ``torch.load(path)`` (``weights_only=True`` included) reads back as torch
tensors. Weights move both ways through files, with no torch installed on the convnp side.

The format (torch >= 1.6, ``_use_new_zipfile_serialization``) is an uncompressed zip archive:
``<name>/data.pkl`` is a protocol-2 pickle of the object in which every tensor is
``torch._utils._rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks)`` and every
storage a persistent id ``("storage", torch.<Type>Storage, key, device, numel)`` whose bytes lie
in ``<name>/data/<key>`` (little-endian, 64-byte aligned). convnp writes that pickle opcode by
opcode and reads it with an unpickler that admits only those names (like torch's
``weights_only=True``): a whole pickled ``nn.Module`` or arbitrary Python objects are refused
with a message, never executed.

What can be saved: nested dicts (``OrderedDict`` stays one), lists and tuples of tensors, NumPy
arrays (saved as tensors), ``int``, ``float``, ``bool``, ``str`` and ``None``. Tensors load as
convnp ``Tensor`` (``Parameter`` where torch pickled an ``nn.Parameter``), in their dtype
(bfloat16 as ``convnp.bfloat16``). As in torch, loaded tensors are views of their
storage (tensors saved sharing one share memory; a stride-0 ``expand()``-ed tensor stays a
read-only view), and what a file may make the loader allocate is bounded by its size
(``load(..., max_bytes=)`` to allow more).
"""

from __future__ import annotations

import collections
import functools
import io
import os
import pickle
import struct
import zipfile
import zlib
from typing import Any

import numpy as np

# torch storage type name -> NumPy dtype (bfloat16 is decoded separately)
_STORAGE_DTYPES = {
    "FloatStorage": np.float32, "DoubleStorage": np.float64, "HalfStorage": np.float16,
    "LongStorage": np.int64, "IntStorage": np.int32, "ShortStorage": np.int16,
    "CharStorage": np.int8, "ByteStorage": np.uint8, "BoolStorage": np.bool_,
    "ComplexFloatStorage": np.complex64, "ComplexDoubleStorage": np.complex128,
    "BFloat16Storage": "bfloat16",
}
_DTYPE_STORAGES = {np.dtype(v): k for k, v in _STORAGE_DTYPES.items() if v != "bfloat16"}
# torch dtype objects (used by _rebuild_tensor_v3) -> storage type names
_TORCH_DTYPES = {"float32": "FloatStorage", "float": "FloatStorage", "float64": "DoubleStorage",
                 "double": "DoubleStorage", "float16": "HalfStorage", "half": "HalfStorage",
                 "bfloat16": "BFloat16Storage", "int64": "LongStorage", "long": "LongStorage",
                 "int32": "IntStorage", "int": "IntStorage", "int16": "ShortStorage",
                 "short": "ShortStorage", "int8": "CharStorage", "uint8": "ByteStorage",
                 "bool": "BoolStorage", "complex64": "ComplexFloatStorage",
                 "complex128": "ComplexDoubleStorage"}
_ALIGN = 64


# ---------------------------------------------------------------------------------- writing
class _Writer:
    """Emit a protocol-2 pickle of the supported values, torch's tensor reduction included."""

    def __init__(self) -> None:
        self.out = io.BytesIO()
        self.storages: list[np.ndarray] = []

    def op(self, b: bytes) -> None:
        self.out.write(b)

    def glob(self, module: str, name: str) -> None:
        self.op(b"c" + module.encode() + b"\n" + name.encode() + b"\n")

    def dump(self, obj: Any) -> bytes:
        self.op(b"\x80\x02")
        self.value(obj, "obj")
        self.op(b".")
        return self.out.getvalue()

    def value(self, obj: Any, where: str) -> None:
        from convnp.tensor import Tensor

        if obj is None:
            self.op(b"N")
        elif obj is True or obj is False:
            self.op(b"\x88" if obj else b"\x89")
        elif isinstance(obj, (int, np.integer)):
            self.integer(int(obj))
        elif isinstance(obj, (float, np.floating)):
            self.op(b"G" + struct.pack(">d", float(obj)))
        elif isinstance(obj, str):
            raw = obj.encode("utf-8", "surrogatepass")
            self.op(b"X" + struct.pack("<I", len(raw)) + raw)
        elif isinstance(obj, (Tensor, np.ndarray)):
            self.tensor(obj.array if isinstance(obj, Tensor) else obj, where)
        elif isinstance(obj, dict):
            if isinstance(obj, collections.OrderedDict):
                self.glob("collections", "OrderedDict")
                self.op(b")R")
            else:
                self.op(b"}")
            if obj:
                self.op(b"(")
                for k, v in obj.items():
                    if not isinstance(k, (str, int)):
                        raise TypeError(f"convnp.save: dict keys must be str or int, got "
                                        f"{type(k).__name__} in {where}")
                    self.value(k, where)
                    self.value(v, f"{where}[{k!r}]")
                self.op(b"u")
        elif isinstance(obj, list):
            self.op(b"]")
            if obj:
                self.op(b"(")
                for i, v in enumerate(obj):
                    self.value(v, f"{where}[{i}]")
                self.op(b"e")
        elif isinstance(obj, tuple):
            self.op(b"(")
            for i, v in enumerate(obj):
                self.value(v, f"{where}[{i}]")
            self.op(b"t")
        else:
            raise TypeError(f"convnp.save: cannot save {type(obj).__name__} at {where}; "
                            "supported are tensors, NumPy arrays, dicts, lists, tuples, int, "
                            "float, bool, str and None (save model.state_dict(), not the model)")

    def integer(self, v: int) -> None:
        if 0 <= v < 256:
            self.op(b"K" + bytes([v]))
        elif -(2 ** 31) <= v < 2 ** 31:
            self.op(b"J" + struct.pack("<i", v))
        else:
            raw = pickle.encode_long(v)
            self.op(b"\x8a" + bytes([len(raw)]) + raw)

    def tensor(self, a: np.ndarray, where: str) -> None:
        a = np.asarray(a)
        kind = _DTYPE_STORAGES.get(a.dtype)
        if a.dtype.kind == "V" and a.dtype.name == "bfloat16":  # stored as its 16 bits
            kind, a = "BFloat16Storage", a.view(np.uint16)
        if kind is None:
            raise TypeError(f"convnp.save: {where} has dtype {a.dtype}, which torch has no "
                            f"storage for; supported: {sorted(str(d) for d in _DTYPE_STORAGES)}")
        key = str(len(self.storages))
        self.storages.append(np.ascontiguousarray(a).astype(a.dtype.newbyteorder("<"),
                                                            copy=False))
        self.glob("torch._utils", "_rebuild_tensor_v2")
        self.op(b"((")
        self.value("storage", where)
        self.glob("torch", kind)
        self.value(key, where)
        self.value("cpu", where)
        self.integer(a.size)
        self.op(b"tQ")  # the persistent-id tuple, then BINPERSID
        self.integer(0)  # storage offset
        self.value(tuple(int(s) for s in a.shape), where)
        strides, acc = [], 1
        for s in reversed(a.shape):
            strides.append(acc)
            acc *= int(s)
        self.value(tuple(reversed(strides)), where)
        self.op(b"\x89")  # requires_grad False, as in a state_dict
        self.glob("collections", "OrderedDict")
        self.op(b")R")  # backward hooks: an empty OrderedDict
        self.op(b"tR")


def _aligned_info(zf: zipfile.ZipFile, name: str) -> zipfile.ZipInfo:
    """A stored ZipInfo whose data starts on a 64-byte boundary (torch's mmap loading needs it)."""
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_STORED
    start = zf.fp.tell() + 30 + len(name.encode("utf-8"))
    pad = (-(start + 4)) % _ALIGN
    info.extra = struct.pack("<HH", 0x4246, pad) + b"Z" * pad  # "FB" padding field, as torch
    return info


def _archive_bytes(obj: Any, archive: str) -> bytes:
    w = _Writer()
    pkl = w.dump(obj)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        records = [("data.pkl", pkl), (".format_version", b"1"),
                   (".storage_alignment", str(_ALIGN).encode()), ("byteorder", b"little")]
        records += [(f"data/{i}", s.tobytes()) for i, s in enumerate(w.storages)]
        records += [("version", b"3\n")]
        for name, data in records:
            zf.writestr(_aligned_info(zf, f"{archive}/{name}"), data)
    return buf.getvalue()


def save(obj: Any, f: str | os.PathLike | io.IOBase) -> None:
    """Save ``obj`` in PyTorch's zip format, readable by ``torch.load`` and :func:`load`.

    ``f`` is a path (written atomically: a temporary file renamed into place) or a binary file
    object. See the module docstring for what ``obj`` may contain.

    Example:
        >>> convnp.save(model.state_dict(), "lenet5.pt")   # torch.load("lenet5.pt") reads it
    """
    if isinstance(f, (str, os.PathLike)):
        from convnp.checkpoint import atomic_write_bytes

        archive = os.path.splitext(os.path.basename(os.fspath(f)))[0] or "archive"
        atomic_write_bytes(f, _archive_bytes(obj, archive))
    elif hasattr(f, "write"):
        f.write(_archive_bytes(obj, "archive"))
    else:
        raise TypeError(f"convnp.save: f must be a path or a binary file object, got "
                        f"{type(f).__name__}")


# ---------------------------------------------------------------------------------- reading
class UnpicklingError(pickle.UnpicklingError, ValueError):
    """A file holds something convnp does not load (also a ``ValueError``)."""


class _StorageType:
    def __init__(self, name: str) -> None:
        self.name = name


class _TorchDtype:
    def __init__(self, name: str) -> None:
        self.storage = _TORCH_DTYPES[name]


def _decode_storage(raw: bytearray, kind: str, numel: int) -> np.ndarray:
    """A writable array over the record's bytes (no copy)."""
    if kind == "BFloat16Storage":
        from convnp._dtype import _bfloat16

        return np.frombuffer(raw, "<u2", numel).astype(np.uint16, copy=False).view(_bfloat16())
    dt = np.dtype(_STORAGE_DTYPES[kind])
    return np.frombuffer(raw, dt.newbyteorder("<"), numel).astype(dt, copy=False)


def _overlaps(size: tuple, stride: tuple) -> bool:
    """Whether two elements of a strided view may share one storage element (stride 0, or
    strides that interleave). Sorting the dims by stride, each stride must clear the span of
    the smaller ones; this is torch's (sufficient) test for internal overlap."""
    span = 1
    for st, n in sorted((st, n) for n, st in zip(size, stride) if n > 1):
        if st < span:
            return True
        span += st * (n - 1)
    return False


def _rebuild_tensor(ctx, storage, offset, size, stride, requires_grad=False, hooks=None,
                    metadata=None):
    """A view of ``storage``, as torch loads it: tensors that shared a storage when saved share
    memory again. A view whose elements overlap (an ``expand()``-ed tensor: stride 0) stays a
    view too, read-only, as torch refuses in-place writes to such tensors; it costs no memory
    however large its shape."""
    from convnp.tensor import Tensor

    size, stride = tuple(size), tuple(stride)
    if not all(isinstance(v, int) for v in (offset, *size, *stride)):
        raise ValueError(f"convnp.load: {ctx.where}: a tensor has a non-integer size {size}, "
                         f"stride {stride} or offset {offset} (corrupt file?)")
    if any(s < 0 for s in size):
        raise ValueError(f"convnp.load: {ctx.where}: a tensor has a negative size {size}")
    if len(size) != len(stride):
        raise ValueError(f"convnp.load: {ctx.where}: a tensor has size {size} but stride "
                         f"{stride} (corrupt file?)")
    if 0 in size:
        try:
            a = np.empty(size, storage.dtype)
        except (ValueError, MemoryError):
            raise ValueError(f"convnp.load: {ctx.where}: a tensor has an impossible size "
                             f"{size} (corrupt file?)") from None
    else:
        last = offset + sum((n - 1) * s for n, s in zip(size, stride))
        if offset < 0 or last >= storage.size or any(s < 0 for s in stride):
            raise ValueError(f"convnp.load: a tensor of size {size}, stride {stride} at offset "
                             f"{offset} reaches outside its storage of {storage.size} elements "
                             "(corrupt file?)")
        item = storage.itemsize
        overlapping = _overlaps(size, stride)
        a = np.lib.stride_tricks.as_strided(storage[offset:], size,
                                            tuple(s * item for s in stride),
                                            writeable=not overlapping)
    t = Tensor._wrap(a)
    if requires_grad:
        t.requires_grad_(True)
    return t


def _rebuild_tensor_v3(ctx, storage, offset, size, stride, requires_grad, hooks, dtype,
                       metadata=None):
    return _rebuild_tensor(ctx, storage, offset, size, stride, requires_grad, hooks, metadata)


def _rebuild_parameter(ctx, data, requires_grad, hooks, state=None):
    from convnp.nn import Parameter
    from convnp.tensor import Tensor

    if isinstance(data, Tensor) and not data.array.flags.writeable:
        # a parameter is trained in place: it gets its own memory, counted against the bound
        ctx.charge(data.array.nbytes, "a parameter with overlapping (stride-0) elements")
        data = Tensor._wrap(data.array.copy())
    return Parameter(data, requires_grad=requires_grad)


def _ordered_dict(ctx, *args):
    return collections.OrderedDict(*args)


_ALLOWED = {
    ("collections", "OrderedDict"): _ordered_dict,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
    ("torch._utils", "_rebuild_tensor_v3"): _rebuild_tensor_v3,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
}


class _Unpickler(pickle.Unpickler):
    def __init__(self, data: bytes, read_record, where: str, limit: float) -> None:
        super().__init__(io.BytesIO(data))
        self.read_record = read_record
        self.where = where
        self.limit = limit
        self.allocated = 0
        self.cache: dict[str, np.ndarray] = {}

    def charge(self, nbytes: int, what: str) -> None:
        """Count memory the file makes the loader allocate; refuse past the bound."""
        self.allocated += int(nbytes)
        if self.allocated > self.limit:
            raise ValueError(
                f"convnp.load: {self.where} would make the loader allocate more than "
                f"{_fmt_bytes(self.limit)} ({what}), far more than a file of its size holds "
                f"(a crafted or corrupt file?); if you trust it, pass max_bytes= a larger "
                f"number of bytes (or float('inf'))")

    def find_class(self, module: str, name: str):
        if (module, name) in _ALLOWED:
            return functools.partial(_ALLOWED[(module, name)], self)
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(name)
        if module == "torch" and name in _TORCH_DTYPES:
            return _TorchDtype(name)
        raise UnpicklingError(
            f"convnp.load: {self.where} needs {module}.{name}, which convnp does not rebuild "
            "(only tensors in dicts, lists and tuples load without torch: in torch, save "
            "model.state_dict() rather than the model or other objects)")

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage"):
            raise UnpicklingError(f"convnp.load: {self.where} holds an unknown "
                                  f"persistent record {pid!r}")
        _, kind, key, _location, numel = pid
        if isinstance(kind, _TorchDtype):
            kind = _StorageType(kind.storage)
        if not isinstance(kind, _StorageType):
            raise UnpicklingError(f"convnp.load: {self.where}: unexpected storage type "
                                  f"{kind!r}")
        if key not in self.cache:
            if not isinstance(numel, int) or numel < 0:
                raise ValueError(f"convnp.load: {self.where}: storage {key!r} declares "
                                 f"{numel!r} elements (corrupt file?)")
            raw = self.read_record(f"data/{key}", self)
            itemsize = 2 if kind.name == "BFloat16Storage" else \
                np.dtype(_STORAGE_DTYPES[kind.name]).itemsize
            if len(raw) < numel * itemsize:
                raise ValueError(f"convnp.load: {self.where}: the record data/{key} holds "
                                 f"{len(raw)} bytes, too few for its {numel} elements "
                                 "(truncated or corrupt file)")
            self.cache[key] = _decode_storage(raw, kind.name, numel)
        return self.cache[key]


def _fmt_bytes(n: float) -> str:
    if n == float("inf"):
        return "any amount"
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


def _is_safetensors(path) -> bool:
    """A safetensors file: a little-endian u64 header length, then a JSON header ``{...``."""
    size = os.path.getsize(path)
    with open(path, "rb") as fh:
        head = fh.read(9)
    if len(head) < 9:
        return False
    n = struct.unpack("<Q", head[:8])[0]
    return head[8:9] == b"{" and 8 + n <= size


# what a file may make the loader allocate, unless the caller allows more: records written by
# torch or convnp are stored uncompressed, so their tensors never need more than the file's size
_DEFAULT_RATIO = 4
_DEFAULT_SLACK = 1 << 20


def load(f: str | os.PathLike | io.IOBase, map_location: Any = None,
         weights_only: bool | None = None, *, max_bytes: float | None = None,
         **kwargs: Any) -> Any:
    """Load a file written by ``torch.save`` or :func:`save`; tensors become convnp tensors.

    ``map_location`` and ``weights_only`` are accepted for torch compatibility: everything
    loads on the CPU, and loading is always restricted to tensors and plain containers (what
    torch's ``weights_only=True`` admits, less torch's own classes). A checkpoint written by
    ``convnp.checkpoint.save`` (safetensors) loads too.

    Tensors are views of the file's storages, as in torch: tensors saved sharing a storage
    share memory after loading, and a tensor whose elements overlap (saved from ``expand()``,
    stride 0) is a read-only view that costs no memory whatever its shape (``.clone()`` it to
    write to it; as an ``nn.Parameter`` it gets its own copy).

    Args:
        f: a path or a binary file object.
        map_location, weights_only: accepted and ignored (see above).
        max_bytes: the most memory the file may make the loader allocate (decompressed
            records, copies for overlapping parameters).
            Default ``None``: 4 x the file's size + 1 MiB, more than any file torch or convnp
            writes needs; a file asking for more (a zip bomb, a crafted header) raises
            ValueError naming the file. Pass a larger number, or ``float('inf')``, for a file
            you trust.

    Example:
        >>> model.load_state_dict(convnp.load("resnet18.pth"))   # saved by torch
    """
    where = os.fspath(f) if isinstance(f, (str, os.PathLike)) else "the file object"
    if isinstance(f, (str, os.PathLike)):
        if not os.path.isfile(f):
            raise FileNotFoundError(f"convnp.load: no file at {where}")
        if not zipfile.is_zipfile(f) and _is_safetensors(f):
            from convnp.checkpoint import load as load_checkpoint

            return load_checkpoint(f)
    elif not hasattr(f, "read"):
        raise TypeError(f"convnp.load: f must be a path or a binary file object, got "
                        f"{type(f).__name__}")
    limit = _byte_limit(f, where, max_bytes)
    with zipfile.ZipFile(f) as zf:
        pkl, prefix = _archive_layout(zf, where)
        info = zf.getinfo(pkl)
        if info.file_size > limit:
            raise ValueError(f"convnp.load: {where}: its pickle declares "
                             f"{_fmt_bytes(info.file_size)}, more than the "
                             f"{_fmt_bytes(limit)} allowed for a file of its size (a crafted "
                             "or corrupt file?); if you trust it, pass max_bytes= a larger "
                             "number of bytes")
        return _Unpickler(zf.read(pkl), _record_reader(zf, prefix, where), where, limit).load()


def _byte_limit(f, where: str, max_bytes: float | None) -> float:
    """The allocation bound for loading ``f`` (after checking it is a zip archive); leaves a
    file object at its start."""
    if max_bytes is not None and not (isinstance(max_bytes, (int, float)) and max_bytes >= 0):
        raise ValueError(f"convnp.load: max_bytes must be a non-negative number of bytes "
                         f"(or None for the default bound), got {max_bytes!r}")
    if not zipfile.is_zipfile(f):
        raise ValueError(f"convnp.load: {where} is not a PyTorch zip archive (torch.save since "
                         "1.6) nor a convnp checkpoint; legacy (pre-1.6) torch files are not "
                         "supported: re-save them with a current torch")
    if isinstance(f, (str, os.PathLike)):
        file_size = os.path.getsize(f)
    else:
        f.seek(0, os.SEEK_END)
        file_size = f.tell()
    if hasattr(f, "seek"):
        f.seek(0)
    return max_bytes if max_bytes is not None else _DEFAULT_RATIO * file_size + _DEFAULT_SLACK


def _archive_layout(zf: zipfile.ZipFile, where: str) -> tuple[str, str]:
    """The pickle's record name and the archive's folder prefix, after checking byte order."""
    names = zf.namelist()
    pkl = [n for n in names if n.endswith("/data.pkl") or n == "data.pkl"]
    if not pkl:
        raise ValueError(f"convnp.load: {where} is a zip file without data.pkl, not a "
                         "file written by torch.save")
    prefix = pkl[0][: -len("data.pkl")]
    order = zf.read(prefix + "byteorder").decode() if prefix + "byteorder" in names else \
        "little"
    if order != "little":
        raise ValueError(f"convnp.load: {where} was written on a {order}-endian machine; "
                         "only little-endian files are supported")
    return pkl[0], prefix


def _record_reader(zf: zipfile.ZipFile, prefix: str, where: str):
    """``read_record(name, unpickler)``: a storage record's bytes, charged to the unpickler's
    allocation budget before they are read, with errors naming the record."""

    def read_record(name: str, ctx: _Unpickler) -> bytearray:
        try:
            info = zf.getinfo(prefix + name)
        except KeyError:
            raise ValueError(f"convnp.load: {where} lacks the record {prefix + name} "
                             "(truncated or corrupt file)") from None
        ctx.charge(info.file_size, f"record {prefix + name} declares "
                                   f"{_fmt_bytes(info.file_size)}")
        buf = bytearray(info.file_size)  # writable, so tensors can be views of it
        try:
            with zf.open(info) as fh:
                got = fh.readinto(buf)
                while got < len(buf):
                    n = fh.readinto(memoryview(buf)[got:])
                    if not n:
                        break
                    got += n
        except (zipfile.BadZipFile, OSError, EOFError, zlib.error) as e:
            raise ValueError(f"convnp.load: {where}: the record {prefix + name} is corrupt "
                             f"({type(e).__name__}: {e})") from None
        if got != len(buf):
            raise ValueError(f"convnp.load: {where}: the record {prefix + name} holds "
                             f"{got} bytes, not the {len(buf)} its header declares "
                             "(truncated or corrupt file)")
        return buf

    return read_record
