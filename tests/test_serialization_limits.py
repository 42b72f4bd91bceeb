"""convnp.load on hostile or unusual files: stride-0 and overlapping tensors stay views of their
storage (as in torch), tensors sharing a storage share memory, and a file cannot make the loader
allocate far more than its own size unless the caller allows it."""

from __future__ import annotations

import io
import pickle
import struct
import tracemalloc
import zipfile

import numpy as np
import pytest

import convnp
import convnp.nn as nn


def _int(v: int) -> bytes:
    if -(2**31) <= v < 2**31:
        return b"J" + struct.pack("<i", v)
    raw = pickle.encode_long(v)
    return b"\x8a" + bytes([len(raw)]) + raw


def _tuple(vals) -> bytes:
    return b"(" + b"".join(_int(v) for v in vals) + b"t"


def _tensor_pkl(size, stride, numel, offset=0, parameter=False) -> bytes:
    """data.pkl of ``{"w": tensor}``, the tensor rebuilt from storage "0" as torch writes it."""
    t = (b"ctorch._utils\n_rebuild_tensor_v2\n(" +
         b"(X\x07\x00\x00\x00storagectorch\nFloatStorage\nX\x01\x00\x00\x000"
         b"X\x03\x00\x00\x00cpu" + _int(numel) + b"tQ" +
         _int(offset) + _tuple(size) + _tuple(stride) +
         b"\x89ccollections\nOrderedDict\n)RtR")
    if parameter:
        t = b"ctorch._utils\n_rebuild_parameter\n(" + t + b"\x88ccollections\nOrderedDict\n)RtR"
    return b"\x80\x02}(X\x01\x00\x00\x00w" + t + b"u."


def _zip(pkl: bytes, records=(), compression=zipfile.ZIP_STORED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as zf:
        zf.writestr("a/data.pkl", pkl)
        zf.writestr("a/byteorder", b"little")
        for name, data in records:
            zf.writestr(f"a/{name}", data)
    return buf.getvalue()


def _stride0_file(tmp_path, value=2.5):
    raw = _zip(_tensor_pkl((20000, 20000), (0, 0), 1),
               [("data/0", np.array([value], "<f4").tobytes())])
    path = tmp_path / "expanded.pt"
    path.write_bytes(raw)
    return path


def test_stride0_tensor_loads_as_a_view_without_allocating(tmp_path):
    path = _stride0_file(tmp_path)
    assert path.stat().st_size < 700  # the 612-byte file, give or take the zip names
    buf = io.BytesIO()
    convnp.save({"w": convnp.ones(3)}, buf)
    convnp.load(buf)  # first use imports what loading needs: not counted below
    tracemalloc.start()
    try:
        t = convnp.load(path)["w"]
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20, f"loading allocated {peak / 2**20:.0f} MiB"  # was 1.6 GB
    assert tuple(t.shape) == (20000, 20000) and t.dtype == np.float32
    assert t.array.strides == (0, 0) and not t.array.flags.writeable
    assert float(t[12345, 19999].item()) == 2.5
    np.testing.assert_array_equal((t[:2, :3] + 1).numpy(), np.full((2, 3), 3.5, np.float32))
    with pytest.raises(ValueError, match="read-only"):
        t.array[0, 0] = 1.0  # torch also refuses writes to overlapping elements


def test_overlapping_strides_are_detected():
    from convnp.serialization import _overlaps

    assert not _overlaps((3, 4), (4, 1)) and not _overlaps((4, 3), (1, 4))  # contiguous, .t()
    assert not _overlaps((2, 2), (8, 1)) and not _overlaps((1, 5), (0, 1))  # sliced, size-1 dim
    assert _overlaps((3, 4), (0, 1)) and _overlaps((3, 4), (2, 1))  # expand, unfold-like
    assert _overlaps((2, 3), (1, 1)) and not _overlaps((), ())


def test_stride0_parameter_gets_its_own_memory_within_the_bound(tmp_path):
    raw = _zip(_tensor_pkl((30, 40), (0, 1), 40, parameter=True),
               [("data/0", np.arange(40, dtype="<f4").tobytes())])
    p = convnp.load(io.BytesIO(raw))["w"]
    assert isinstance(p, nn.Parameter) and p.requires_grad and p.array.flags.writeable
    np.testing.assert_array_equal(p.numpy(), np.broadcast_to(np.arange(40, dtype=np.float32),
                                                             (30, 40)))
    # a huge one is refused by the bound rather than materialised
    raw = _zip(_tensor_pkl((20000, 20000), (0, 0), 1, parameter=True),
               [("data/0", np.ones(1, "<f4").tobytes())])
    with pytest.raises(ValueError, match=r"the file object would make the loader allocate more "
                                         r"than .*overlapping.*max_bytes="):
        convnp.load(io.BytesIO(raw))


def test_a_zip_bomb_record_is_refused_unless_allowed(tmp_path):
    n = 4 << 20  # 16 MiB of float32 zeros, deflated to a few KiB
    raw = _zip(_tensor_pkl((n,), (1,), n), [("data/0", bytes(4 * n))], zipfile.ZIP_DEFLATED)
    path = tmp_path / "bomb.pt"
    path.write_bytes(raw)
    assert len(raw) < 100_000
    with pytest.raises(ValueError, match=r"bomb.pt would make the loader allocate more than "
                                         r".*MiB \(record a/data/0 declares 16.0 MiB\).*pass "
                                         r"max_bytes="):
        convnp.load(path)
    t = convnp.load(path, max_bytes=float("inf"))["w"]
    assert t.shape == (n,) and float(t[n - 1].item()) == 0.0
    assert convnp.load(path, max_bytes=32 << 20)["w"].shape == (n,)
    with pytest.raises(ValueError, match="max_bytes must be a non-negative number"):
        convnp.load(path, max_bytes=-1)


def test_a_huge_declared_storage_with_a_short_record_allocates_nothing():
    raw = _zip(_tensor_pkl((10**12,), (1,), 10**12), [("data/0", np.ones(1, "<f4").tobytes())])
    with pytest.raises(ValueError, match="record data/0 holds 4 bytes, too few for its "
                                         "1000000000000 elements"):
        convnp.load(io.BytesIO(raw))
    raw = _zip(_tensor_pkl((0, 2**40), (1, 1), 1), [("data/0", np.ones(1, "<f4").tobytes())])
    t = convnp.load(io.BytesIO(raw))["w"]  # zero elements: nothing to allocate
    assert t.shape == (0, 2**40) and t.numel() == 0
    raw = _zip(_tensor_pkl((0, 2**62), (1, 1), 1), [("data/0", np.ones(1, "<f4").tobytes())])
    with pytest.raises(ValueError, match=r"a tensor has an impossible size \(0, 461"):
        convnp.load(io.BytesIO(raw))  # NumPy cannot describe it, even empty


def test_files_written_by_convnp_stay_within_the_default_bound(tmp_path):
    sd = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.Linear(8, 4)).state_dict()
    convnp.save(sd, tmp_path / "m.pt")
    back = convnp.load(tmp_path / "m.pt", max_bytes=(tmp_path / "m.pt").stat().st_size)
    for k, v in sd.items():
        np.testing.assert_array_equal(back[k].numpy(), v.numpy(), err_msg=k)
        assert back[k].array.flags.writeable, k


# ---------------------------------------------------------------- against torch
torch = pytest.importorskip("torch")


def test_torch_expanded_and_shared_tensors_load_as_torch_does(tmp_path):
    x = torch.arange(12.0).reshape(3, 4)
    torch.save({"x": x, "row": x[1], "t": x.t(), "e": torch.arange(3.0).expand(1000, 3)},
               tmp_path / "t.pt")
    back = convnp.load(tmp_path / "t.pt")
    ref = torch.load(tmp_path / "t.pt")
    for k in ref:
        np.testing.assert_array_equal(back[k].numpy(), ref[k].numpy(), err_msg=k)
        assert back[k].array.strides == tuple(s * 4 for s in ref[k].stride()), k
    # as in torch, tensors that shared a storage when saved share memory after loading
    back["x"].array[1, 2] = 100.0
    ref["x"][1, 2] = 100.0
    assert float(back["row"][2].item()) == float(ref["row"][2]) == 100.0
    assert float(back["t"][2, 1].item()) == 100.0
    assert not back["e"].array.flags.writeable and back["e"].array.strides == (0, 4)
    with pytest.raises(RuntimeError, match="more than one element of the written-to tensor"):
        ref["e"].add_(1)  # what torch does with the same tensor
