"""convnp.save / convnp.load: torch's zip format without torch. Hand-checked cases first (the
archive layout, round trips, refusals), then files exchanged with torch in both directions."""

import collections
import io
import pickletools
import struct
import zipfile

import numpy as np
import pytest

import convnp
import convnp.nn as nn


def _arr(t):
    if isinstance(t, convnp.Tensor):
        return t.data
    return t if isinstance(t, np.ndarray) else t.detach().numpy()


DTYPES = [np.float32, np.float64, np.float16, np.int64, np.int32, np.int16, np.int8, np.uint8,
          np.bool_, np.complex64]


def _sample():
    rng = np.random.default_rng(0)
    base = rng.standard_normal((4, 5)).astype(np.float32)
    return collections.OrderedDict(
        weight=convnp.tensor(base),
        transposed=convnp.tensor(base).t(),            # non-contiguous
        scalar=convnp.tensor(np.float64(2.5)),         # 0-d
        empty=convnp.zeros(0, 3),
        array=np.arange(6, dtype=np.int64).reshape(2, 3),  # NumPy arrays save as tensors
        **{f"d_{np.dtype(d).name}": convnp.tensor((rng.standard_normal(3) * 3).astype(d))
           for d in DTYPES},
    )


# ---------------------------------------------------------------- without torch
def test_round_trip_keeps_values_dtypes_and_containers(tmp_path):
    sd = _sample()
    obj = {"model": sd, "epoch": 7, "big": 2 ** 40, "neg": -3, "lr": 1e-3, "name": "lenet5 é",
           "flags": [True, False, None], "shape": (1, 32, 32), "plain": {"a": 1}}
    path = tmp_path / "ckpt.pt"
    convnp.save(obj, path)
    back = convnp.load(path)
    assert type(back["model"]) is collections.OrderedDict and type(back["plain"]) is dict
    assert list(back["model"]) == list(sd)
    for k, v in sd.items():
        got = back["model"][k]
        assert isinstance(got, convnp.Tensor), k
        np.testing.assert_array_equal(got.data, np.asarray(_arr(v)), err_msg=k)
        assert got.dtype == np.asarray(_arr(v)).dtype, k
    assert (back["epoch"], back["big"], back["neg"], back["lr"], back["name"]) == \
        (7, 2 ** 40, -3, 1e-3, "lenet5 é")
    assert back["flags"] == [True, False, None] and back["shape"] == (1, 32, 32)


def test_archive_layout_is_torchs(tmp_path):
    path = tmp_path / "weights.pt"
    convnp.save({"w": convnp.ones(2, 3)}, path)
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
        assert {"weights/data.pkl", "weights/byteorder", "weights/data/0",
                "weights/version"} <= set(names)
        assert zf.read("weights/byteorder") == b"little"
        info = zf.getinfo("weights/data/0")
        assert info.compress_type == zipfile.ZIP_STORED
        with open(path, "rb") as fh:  # data of every record starts on a 64-byte boundary
            fh.seek(info.header_offset + 26)
            n_name, n_extra = struct.unpack("<HH", fh.read(4))
        assert (info.header_offset + 30 + n_name + n_extra) % 64 == 0
        assert np.array_equal(np.frombuffer(zf.read("weights/data/0"), "<f4"), np.ones(6))
        text = io.StringIO()
        pickletools.dis(zf.read("weights/data.pkl"), out=text)
    assert "GLOBAL     'torch._utils _rebuild_tensor_v2'" in text.getvalue()
    assert "GLOBAL     'torch FloatStorage'" in text.getvalue()


def test_file_objects_and_safetensors_checkpoints(tmp_path):
    buf = io.BytesIO()
    convnp.save([convnp.arange(3)], buf)
    buf.seek(0)
    np.testing.assert_array_equal(convnp.load(buf)[0].data, [0, 1, 2])
    from convnp import checkpoint

    checkpoint.save({"w": convnp.ones(2)}, tmp_path / "c.safetensors")
    np.testing.assert_array_equal(convnp.load(tmp_path / "c.safetensors")["w"].data, [1, 1])


def test_safetensors_detected_by_its_header_not_its_first_byte(tmp_path):
    # a header of 128 bytes makes the first byte 0x80, the same as a pickle's PROTO opcode
    header = b'{"__metadata__":{"a":"b"}}'
    header += b" " * (128 - len(header))
    path = tmp_path / "foreign.safetensors"
    path.write_bytes(struct.pack("<Q", len(header)) + header)
    with pytest.raises(ValueError, match="safetensors file without convnp metadata"):
        convnp.load(path)


def test_model_state_dict_round_trip_restores_outputs(tmp_path):
    convnp.manual_seed(0)
    a = convnp.models.get_model("lenet5")
    convnp.manual_seed(1)
    b = convnp.models.get_model("lenet5")
    convnp.save(a.state_dict(), tmp_path / "lenet.pt")
    b.load_state_dict(convnp.load(tmp_path / "lenet.pt"))
    x = convnp.randn(2, 1, 32, 32)
    a.eval(), b.eval()
    np.testing.assert_array_equal(a(x).data, b(x).data)


def test_save_refuses_unsupported_values_and_keeps_the_old_file(tmp_path):
    path = tmp_path / "m.pt"
    convnp.save({"w": convnp.ones(1)}, path)
    before = path.read_bytes()
    with pytest.raises(TypeError, match=r"convnp.save: cannot save Linear at obj\['m'\]; "
                                        r"supported are tensors"):
        convnp.save({"m": nn.Linear(2, 2)}, path)
    with pytest.raises(TypeError, match=r"obj\['x'\] has dtype uint16"):
        convnp.save({"x": np.zeros(2, np.uint16)}, path)
    with pytest.raises(TypeError, match="f must be a path or a binary file object, got int"):
        convnp.save({}, 3)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.pt"]  # no temporary files left


def _archive(pkl: bytes, records=()) -> io.BytesIO:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("a/data.pkl", pkl)
        zf.writestr("a/byteorder", b"little")
        for name, data in records:
            zf.writestr(f"a/{name}", data)
    buf.seek(0)
    return buf


def test_load_never_runs_arbitrary_pickles_and_names_what_is_wrong(tmp_path):
    evil = b"\x80\x02cos\nsystem\nX\x04\x00\x00\x00echo\x85R."
    with pytest.raises(ValueError, match="needs os.system, which convnp does not rebuild"):
        convnp.load(_archive(evil))
    # a tensor whose storage record is missing: a truncated archive
    buf = io.BytesIO()
    convnp.save({"w": convnp.ones(3)}, buf)
    with zipfile.ZipFile(io.BytesIO(buf.getvalue())) as src:
        pkl = src.read("archive/data.pkl")
    with pytest.raises(ValueError, match="lacks the record a/data/0"):
        convnp.load(_archive(pkl))
    # a storage record shorter than the storage it declares
    with pytest.raises(ValueError, match="record data/0 holds 8 bytes, too few for its 3 "
                                         "elements"):
        convnp.load(_archive(pkl, [("data/0", np.ones(2, "<f4").tobytes())]))
    # a storage too small for the tensor that claims it
    assert pkl.count(b"K\x03tQ") == 1
    small = pkl.replace(b"K\x03tQ", b"K\x02tQ")  # the storage declares 2 elements
    with pytest.raises(ValueError, match="reaches outside its storage of 2 elements"):
        convnp.load(_archive(small, [("data/0", np.ones(2, "<f4").tobytes())]))
    with pytest.raises(FileNotFoundError, match="convnp.load: no file at"):
        convnp.load(tmp_path / "missing.pt")
    legacy = tmp_path / "legacy.pt"
    legacy.write_bytes(b"\x80\x02\x8a\x0al\xfc\x9cF\xf9 j\xa8P\x19.")
    with pytest.raises(ValueError, match="not a PyTorch zip archive"):
        convnp.load(legacy)
    with pytest.raises(TypeError, match="f must be a path or a binary file object"):
        convnp.load(3.0)


# ---------------------------------------------------------------- with torch
torch = pytest.importorskip("torch")


def test_torch_saved_files_load_in_convnp(tmp_path):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(6, 4, generator=g)
    obj = {"dtypes": {str(d): (torch.randn(5, generator=g) * 5).to(d) for d in (
               torch.float32, torch.float64, torch.float16, torch.int64, torch.int32, torch.int16,
               torch.int8, torch.uint8, torch.bool, torch.complex64)},
           "bf16": torch.randn(7, generator=g).to(torch.bfloat16),
           "view": x[1:5:2, 1:], "shared": x, "t": x.t(), "param": torch.nn.Parameter(x[0]),
           "meta": [1, 2.5, "s", None, (3, 4)]}
    torch.save(obj, tmp_path / "t.pt")
    back = convnp.load(tmp_path / "t.pt")
    for k, v in obj["dtypes"].items():
        np.testing.assert_array_equal(back["dtypes"][k].data, v.numpy(), err_msg=k)
        assert back["dtypes"][k].dtype == v.numpy().dtype
    assert back["bf16"].dtype == convnp.bfloat16
    np.testing.assert_array_equal(back["bf16"].float().array, obj["bf16"].float().numpy())
    for k in ("view", "shared", "t"):
        np.testing.assert_array_equal(back[k].data, obj[k].numpy(), err_msg=k)
    assert isinstance(back["param"], nn.Parameter) and back["param"].requires_grad
    np.testing.assert_array_equal(back["param"].data, x[0].detach().numpy())
    assert back["meta"] == [1, 2.5, "s", None, (3, 4)]


def test_convnp_saved_files_load_in_torch(tmp_path):
    sd = _sample()
    convnp.save(sd, tmp_path / "c.pt")
    for kw in (dict(weights_only=True), dict(weights_only=True, mmap=True)):
        back = torch.load(tmp_path / "c.pt", **kw)
        assert list(back) == list(sd)
        for k, v in sd.items():
            np.testing.assert_array_equal(back[k].numpy(), np.asarray(_arr(v)), err_msg=k)


def test_weights_move_both_ways_through_files(tmp_path):
    def build(n, **kw):
        return n.Sequential(n.Conv2d(1, 4, 3, padding=1, **kw), n.BatchNorm2d(4, **kw), n.ReLU(),
                            n.MaxPool2d(2), n.Flatten(), n.Linear(4 * 4 * 4, 3, **kw))

    tm = build(torch.nn)
    with torch.no_grad():
        tm(torch.randn(8, 1, 8, 8))  # move the running statistics off their defaults
    tm.eval()
    torch.save(tm.state_dict(), tmp_path / "from_torch.pt")
    cm = build(nn)
    cm.load_state_dict(convnp.load(tmp_path / "from_torch.pt"))
    cm.eval()
    x = np.random.default_rng(0).standard_normal((2, 1, 8, 8)).astype(np.float32)
    np.testing.assert_allclose(cm(convnp.tensor(x)).data, tm(torch.tensor(x)).detach().numpy(),
                               rtol=1e-5, atol=1e-6)
    convnp.save(cm.state_dict(), tmp_path / "from_convnp.pt")
    tm2 = build(torch.nn)
    tm2.load_state_dict(torch.load(tmp_path / "from_convnp.pt"))
    tm2.eval()
    for (k, a), b in zip(tm.state_dict().items(), tm2.state_dict().values()):
        assert torch.equal(a, b), k


def test_bfloat16_round_trips_with_torch(tmp_path):
    t = torch.randn(3, 5, generator=torch.Generator().manual_seed(1)).to(torch.bfloat16)
    convnp.save({"w": convnp.tensor(t.float().numpy()).bfloat16()}, tmp_path / "c.pt")
    back = torch.load(tmp_path / "c.pt")["w"]
    assert back.dtype == torch.bfloat16 and torch.equal(back, t)
    torch.save({"w": t}, tmp_path / "t.pt")
    again = convnp.load(tmp_path / "t.pt")["w"]
    assert again.dtype == convnp.bfloat16
    np.testing.assert_array_equal(again.array.view(np.uint16), t.view(torch.int16).numpy()
                                  .view(np.uint16))
