"""benchmarks/zoo.py builds the same network in convnp and torch: every zoo entry, at a tiny input,
gives the same eval-mode outputs and training gradients in both, so the benchmark cannot time two
different networks."""

import os
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "benchmarks"))
import zoo  # noqa: E402

import convnp  # noqa: E402


@pytest.mark.parametrize("name", list(zoo.ZOO))
def test_zoo_network_matches_torch(name):
    entry = zoo.ZOO[name]
    cmodel, tmodel = zoo.build_pair(name)
    x, y = zoo.make_batch(name, 2, entry.tiny_shape)
    # float32 eval-mode outputs, as the benchmark runs them
    tmodel.eval()
    cmodel.eval()
    with torch.no_grad():
        ref = tmodel(torch.from_numpy(x)).numpy()
    with convnp.no_grad():
        out = cmodel(convnp.from_numpy(x)).array
    np.testing.assert_allclose(out, ref, rtol=1e-4, atol=1e-5 * np.abs(ref).max())
    # float64 outputs and gradients: train-mode batch norm on tiny batches amplifies float32
    # rounding in deep nets, float64 shows whether the networks are the same
    y64 = y.astype(np.float64) if y.dtype == np.float32 else y
    d_out, _, rel_grad = zoo.check(cmodel.double(), tmodel.double(), x.astype(np.float64), y64,
                                   entry.task)
    assert d_out <= 1e-10 * max(np.abs(ref).max(), 1.0), (name, d_out)
    assert rel_grad <= 1e-9, (name, rel_grad)


@pytest.mark.parametrize("name", [n for n, e in zoo.ZOO.items() if e.model is not None])
def test_zoo_description_reproduces_convnp_models(name):
    # the one description, built with convnp.nn, has convnp.models' layout
    entry = zoo.ZOO[name]
    built = {k: v.shape for k, v in entry.build(convnp.nn).state_dict().items()}
    model = {k: v.shape for k, v in entry.model().state_dict().items()}
    assert built == model


def test_zoo_build_pair_rejects_different_layouts(monkeypatch):
    entry = zoo.ZOO["lenet5"]
    monkeypatch.setitem(zoo.ZOO, "lenet5", zoo.Net(
        entry.build, entry.shape, entry.task, 2, (1,), 2, (1,),
        model=lambda: zoo.ZOO["cnn1d"].build(convnp.nn)))
    with pytest.raises(RuntimeError, match="lenet5: convnp and torch state_dicts differ"):
        zoo.build_pair("lenet5")


@pytest.mark.skipif(not os.path.exists("/proc/self/clear_refs"), reason="Linux peak-RSS reset")
@pytest.mark.parametrize("side", ["convnp", "torch"])
def test_zoo_memory_child_reports_peaks(side):
    mem = zoo._memory_child("lenet5", side, True, ["infer", "train"])
    assert set(mem) == {"infer1", "infer32", "train64"}
    assert all(v >= 0 for v in mem.values())


def test_zoo_main_quick_markdown(capsys):
    assert zoo.main(["--only", "lenet5", "--quick", "--repeats", "1", "--threads", "1",
                     "--no-memory", "--no-onnx", "--train", "--markdown"]) == 0
    out = capsys.readouterr().out
    assert "| lenet5 | train | 64 |" in out
    assert "geomean ratio train" in out
    row = out.split("| lenet5 | train | 64 |")[1].split("\n")[0]
    assert "nan" not in row  # the gradient check ran
