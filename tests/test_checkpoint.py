"""convnp.checkpoint: checksums verified on load, and save refusing what it cannot give back."""

from __future__ import annotations

import enum
import json

import numpy as np
import pytest

from convnp import checkpoint as ckpt
from convnp.checkpoint import CheckpointError


def _state():
    rng = np.random.default_rng(0)
    return {"epoch": 3, "model": {"w": rng.standard_normal((16, 8)).astype(np.float32),
                                  "b": np.zeros(8, np.float32)},
            "opt": {"state": {0: {"step": np.asarray(5.0, np.float32)}}}, "lr": 0.1}


def _data_start(raw: bytes) -> int:
    return 8 + int.from_bytes(raw[:8], "little")


def test_flipped_tensor_byte_is_refused_naming_the_file(tmp_path):
    path = tmp_path / "c.safetensors"
    ckpt.save(_state(), path)
    raw = bytearray(path.read_bytes())
    start = _data_start(raw)
    for pos in (start, start + 200, len(raw) - 1):  # first, middle and last byte of the data
        bad = bytearray(raw)
        bad[pos] ^= 0x40
        path.write_bytes(bad)
        with pytest.raises(CheckpointError, match=r"c\.safetensors is damaged.*SHA-256"):
            ckpt.load(path)
        # the damaged file still parses: only the checksum stands between it and a resume
        assert ckpt.load(path, verify=False)["epoch"] == 3
    path.write_bytes(raw)
    back = ckpt.load(path, as_tensor=False)
    assert np.array_equal(back["model"]["w"], _state()["model"]["w"])


def test_changed_metadata_number_is_refused(tmp_path):
    path = tmp_path / "c.safetensors"
    ckpt.save(_state(), path)
    raw = path.read_bytes()
    # same length, valid JSON, different value: only the checksum can notice
    bad = raw.replace(b'\\"epoch\\": 3', b'\\"epoch\\": 8')
    assert bad != raw and len(bad) == len(raw)
    path.write_bytes(bad)
    with pytest.raises(CheckpointError, match="does not match its SHA-256"):
        ckpt.load(path)


@pytest.mark.parametrize("cut", [0, 5, 40, -1, -100], ids=lambda c: f"cut{c}")
def test_truncated_file_is_a_checkpoint_error(tmp_path, cut):
    path = tmp_path / "c.safetensors"
    ckpt.save(_state(), path)
    raw = path.read_bytes()
    path.write_bytes(raw[:cut] if cut >= 0 else raw[:len(raw) + cut])
    with pytest.raises(CheckpointError, match=r"c\.safetensors is damaged or truncated"):
        ckpt.load(path)


def test_file_without_checksum_needs_verify_false(tmp_path):
    from safetensors.numpy import save_file
    path = tmp_path / "old.safetensors"
    save_file({"w": np.ones(2)}, str(path), metadata={"convnp": json.dumps(
        {"w": {"__tensor__": "w"}, "epoch": 1})})
    with pytest.raises(CheckpointError, match="no checksum.*verify=False"):
        ckpt.load(path)
    assert ckpt.load(path, verify=False)["epoch"] == 1


def test_foreign_safetensors_file(tmp_path):
    from safetensors.numpy import save_file
    path = tmp_path / "x.safetensors"
    save_file({"w": np.ones(2)}, str(path))
    with pytest.raises(CheckpointError, match="without convnp metadata"):
        ckpt.load(path)


@pytest.mark.parametrize("state,where", [
    ({"a.b": np.ones(2), "a": {"b": np.zeros(2)}}, "a.b"),
    ({"m": {1: np.ones(2), "1": np.zeros(2)}}, "m.1"),
    ({"x": [np.ones(1)], "x.0": np.zeros(1)}, "x.0"),
], ids=["dotted-vs-nested", "int-vs-str-key", "list-index-vs-key"])
def test_colliding_tensor_names_are_refused(tmp_path, state, where):
    with pytest.raises(TypeError, match=f"second tensor named '{where}'"):
        ckpt.save(state, tmp_path / "c.safetensors")
    assert not list(tmp_path.iterdir())  # nothing written


class Color(enum.IntEnum):
    RED = 1


@pytest.mark.parametrize("state,match", [
    ({"k": {frozenset({1}): 2}}, "dict key of type frozenset"),
    ({"k": np.array(["a"])}, "dtype <U1"),
    ({"k": np.complex64(1j)}, "NumPy scalar of dtype complex64"),
    ({"k": Color.RED}, "subclass of int"),
    ({"k": {1, 2}}, "type set"),
], ids=["frozenset-key", "str-array", "complex-scalar", "int-enum", "set"])
def test_values_that_cannot_round_trip_are_refused(tmp_path, state, match):
    with pytest.raises(TypeError, match=match):
        ckpt.save(state, tmp_path / "c.safetensors")


def test_cycle_is_refused(tmp_path):
    a: list = []
    a.append(a)
    with pytest.raises(TypeError, match="reference cycle"):
        ckpt.save({"a": a}, tmp_path / "c.safetensors")


def test_marker_keys_round_trip(tmp_path):
    state = {"d": {"__tuple__": [1, 2]}, "e": {"__items__": 1, "x": np.arange(3)},
             "f": {"__scalar__": 1.5, "dtype": "float32"}, "g": {"__tensor__": "w"},
             "t": (1, (2, "3")), "k": {(1, 2): "pair", None: 0, 2.5: [1]},
             "mixed": {1: "int", "2": "str"}, "big": np.arange(3, dtype=">i4")}
    ckpt.save(state, tmp_path / "c.safetensors")
    back = ckpt.load(tmp_path / "c.safetensors", as_tensor=False)
    assert back["d"] == {"__tuple__": [1, 2]} and isinstance(back["d"], dict)
    assert back["e"]["__items__"] == 1 and back["e"]["x"].tolist() == [0, 1, 2]
    assert back["f"] == {"__scalar__": 1.5, "dtype": "float32"}
    assert back["g"] == {"__tensor__": "w"}
    assert back["t"] == (1, (2, "3"))
    assert back["k"] == {(1, 2): "pair", None: 0, 2.5: [1]}
    assert back["mixed"] == {1: "int", "2": "str"}
    assert back["big"].tolist() == [0, 1, 2] and back["big"].dtype == np.int32

