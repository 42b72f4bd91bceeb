"""Small CIFAR-format files for tests, byte-for-byte in the original files' format.

The official ``cifar-10-batches-py`` files were written by Python 2's cPickle with protocol 2:
every string and the raw array bytes are Python 2 ``str`` (pickle opcodes BINSTRING /
SHORT_BINSTRING), and the arrays are rebuilt by ``numpy.core.multiarray._reconstruct``,
``numpy.ndarray`` and ``numpy.dtype``. Python 3's pickle cannot write that directly (it pickles
``bytes`` through ``_codecs.encode`` below protocol 3), so a small pure-Python pickler subclass
does it here.
"""

from __future__ import annotations

import hashlib
import io
import pickle
import struct
import tarfile
from pathlib import Path

import numpy as np


class _Py2Pickler(pickle._Pickler):
    dispatch = pickle._Pickler.dispatch.copy()

    def save_py2_str(self, obj: bytes) -> None:
        n = len(obj)
        if n < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([n]) + obj)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", n) + obj)

    dispatch[bytes] = save_py2_str

    def save_str(self, obj: str) -> None:
        self.save_py2_str(obj.encode("latin1"))

    dispatch[str] = save_str

    def save_global(self, obj, name=None):
        # NumPy 2 names its reconstructor numpy._core.multiarray; the files say numpy.core
        if getattr(obj, "__name__", None) == "_reconstruct":
            self.write(pickle.GLOBAL + b"numpy.core.multiarray\n_reconstruct\n")
            self.memoize(obj)
            return
        super().save_global(obj, name)

    dispatch[type(np.empty(0).__reduce__()[0])] = save_global


def py2_pickle(obj) -> bytes:
    buf = io.BytesIO()
    _Py2Pickler(buf, protocol=2).dump(obj)
    return buf.getvalue()


def md5(path: Path) -> str:
    return "md5:" + hashlib.md5(Path(path).read_bytes()).hexdigest()


def make_cifar(root: Path, cls, n: int = 3, seed: int = 0, num_classes: int = 10) -> dict:
    """Write ``cls``'s batch files (n images each) under ``root/<base_folder>``; return
    ``{filename: md5}`` for them and the images/labels written."""
    d = Path(root) / cls.base_folder
    d.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    written = {}
    for f in cls.train_list + cls.test_list:
        entry = {"batch_label": f"batch {f}",
                 "data": rng.integers(0, 256, (n, 3072)).astype(np.uint8),
                 cls.label_key: [int(v) for v in rng.integers(0, num_classes, n)],
                 "filenames": [f"img_{i}.png" for i in range(n)]}
        if cls.label_key == "fine_labels":
            entry["coarse_labels"] = [0] * n
        (d / f).write_bytes(py2_pickle(entry))
        written[f] = entry
    meta = {cls.meta[1]: [f"class{i}" for i in range(num_classes)], "num_cases_per_batch": n,
            "num_vis": 3072}
    (d / cls.meta[0]).write_bytes(py2_pickle(meta))
    written[cls.meta[0]] = meta
    hashes = {f: md5(d / f) for f in written}
    return {"dir": d, "hashes": hashes, "entries": written}


def make_archive(src_root: Path, cls, archive: Path) -> Path:
    """``cls.filename``-style .tar.gz of ``src_root/<base_folder>``."""
    archive.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive, "w:gz") as tf:
        tf.add(Path(src_root) / cls.base_folder, arcname=cls.base_folder)
    return archive
