"""Training loop and the ``convnp`` CLI on small subsets of the real MNIST files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from convnp import checkpoint as ckpt
from convnp.cli import main
from convnp.train import TrainConfig, Trainer

# ../shared/data next to the checkout, or shared/data inside it (a link in a worktree)
SHARED = next((p for p in (Path(__file__).resolve().parents[i] / "shared" / "data" / "mnist"
                           for i in (2, 1)) if p.is_dir()),
              Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist")
pytestmark = pytest.mark.skipif(not SHARED.is_dir(),
                                reason="../shared/data/mnist (original MNIST files) is absent")
TIMING = ("epoch_seconds", "images_per_second")


def tiny(tmp_path, name="run", **kw) -> TrainConfig:
    base = dict(data_dir=str(SHARED), limit_train=256, limit_test=128, epochs=2, batch_size=64,
                out=str(tmp_path / name), seed=3, eval_batch_size=128)
    base.update(kw)
    return TrainConfig(**base)


def strip(history):
    return [{k: v for k, v in h.items() if k not in TIMING} for h in history]


@pytest.mark.slow  # ~10 s on a quiet 2-core machine (200 LeNet-5 steps)
def test_smoke_loss_falls_and_accuracy_rises(tmp_path):
    losses = []
    cfg = tiny(tmp_path, limit_train=6400, limit_test=1000, epochs=2, scheduler="none")
    history = Trainer(cfg, callbacks=[lambda t, ev, info: ev == "step" and
                                      losses.append(info["loss"])]).fit()
    assert len(losses) == 200  # a few hundred steps of batch 64
    assert np.mean(losses[-20:]) < 0.5 * np.mean(losses[:20])
    assert history[-1]["test_acc"] > 0.85
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    lines = (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
    row = json.loads(lines[-1])
    assert set(row) >= {"epoch", "train_loss", "train_acc", "test_loss", "test_acc",
                        "epoch_seconds", "images_per_second", "lr"}
    assert 0 <= row["test_acc"] <= 1 and 0 <= row["train_acc"] <= 1
    for f in ("curves.png", "confusion.png", "checkpoint.safetensors", "config.json"):
        assert (tmp_path / "run" / f).stat().st_size > 0


def test_same_seed_same_metrics(tmp_path):
    a = Trainer(tiny(tmp_path, "a", augment=True), plots=False).fit()
    b = Trainer(tiny(tmp_path, "b", augment=True), plots=False).fit()
    assert strip(a) == strip(b)
    assert a[0]["train_loss"] != a[1]["train_loss"]


class Interrupt:
    def __init__(self, epoch, step):
        self.at = (epoch, step)

    def __call__(self, trainer, event, info):
        if event == "step" and (info["epoch"], info["step"]) == self.at:
            raise KeyboardInterrupt


@pytest.mark.parametrize("opt,sched", [("sgd", "cosine"), ("adamw", "onecycle")],
                         ids=["sgd-cosine", "adamw-onecycle"])
def test_interrupt_then_resume_reproduces_uninterrupted_run(tmp_path, opt, sched):
    straight = Trainer(tiny(tmp_path, "straight", optimizer=opt, scheduler=sched,
                            augment=True, step_size=1), plots=False).fit()
    cfg = tiny(tmp_path, "cut", optimizer=opt, scheduler=sched, augment=True, step_size=1)
    with pytest.raises(KeyboardInterrupt):
        Trainer(cfg, callbacks=[Interrupt(2, 2)], plots=False).fit()
    run = tmp_path / "cut"
    state = ckpt.load(run / "checkpoint.safetensors")  # epoch 1 complete, epoch 2 at step 2
    assert state["epoch"] == 1 and state["partial"]["step"] == 2
    assert not [p for p in run.iterdir() if p.name.endswith(".tmp")]
    resumed = Trainer.resume(run, plots=False).fit()
    assert strip(resumed) == strip(straight)
    lines = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert strip(lines) == strip(straight)


def test_cli_train_eval_predict(tmp_path, capsys):
    from PIL import Image

    from convnp.data import MNIST
    run = tmp_path / "cli"
    rc = main(["train", "--data-dir", str(SHARED), "--epochs", "1", "--limit-train", "512",
               "--limit-test", "200", "--out", str(run), "--no-progress", "--seed", "1"])
    assert rc == 0
    out = capsys.readouterr().out
    assert "final test accuracy" in out
    assert main(["eval", str(run)]) == 0
    out = capsys.readouterr().out
    assert "accuracy" in out and "per-class accuracy" in out and "confusion matrix" in out
    img = MNIST(SHARED, train=False).data[0]  # a 7
    Image.fromarray(img).save(tmp_path / "seven.png")
    assert main(["predict", str(run), str(tmp_path / "seven.png"), "--topk", "2"]) == 0
    out = capsys.readouterr().out
    assert "seven.png:" in out and out.count("%") == 2
    # --resume with more epochs extends the run
    assert main(["train", "--resume", str(run), "--epochs", "2", "--no-progress"]) == 0
    assert len((run / "metrics.jsonl").read_text().splitlines()) == 2


def test_cli_errors(tmp_path, capsys):
    assert main(["train", "--model", "nope", "--no-progress"]) == 2
    assert "valid models: lenet5" in capsys.readouterr().err
    assert main(["train", "--dataset", "svhn", "--no-progress"]) == 2
    assert "valid datasets: mnist" in capsys.readouterr().err
    assert main(["train", "--data-dir", str(tmp_path), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "train-images-idx3-ubyte.gz" in err and "--download" in err
    assert main(["eval", str(tmp_path)]) == 2
    assert "no checkpoint" in capsys.readouterr().err


def test_checkpoint_round_trip_keeps_shapes_and_types(tmp_path):
    state = {"step": np.asarray(5.0, np.float32), "m": {0: (1, 2.5)}, "s": np.float64(0.25),
             "n": None, "l": [np.arange(3)]}
    ckpt.save(state, tmp_path / "x.safetensors")
    back = ckpt.load(tmp_path / "x.safetensors", as_tensor=False)
    assert back["step"].shape == () and back["step"].dtype == np.float32
    assert back["m"] == {0: (1, 2.5)} and back["s"] == 0.25 and back["n"] is None
    assert back["l"][0].tolist() == [0, 1, 2]


def test_atomic_write_keeps_old_file_on_failure(tmp_path, monkeypatch):
    path = tmp_path / "c.safetensors"
    ckpt.save({"epoch": 1, "w": np.ones(3)}, path)

    def boom(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr("os.replace", boom)
    with pytest.raises(KeyboardInterrupt):
        ckpt.save({"epoch": 2, "w": np.zeros(3)}, path)
    monkeypatch.undo()
    assert ckpt.load(path)["epoch"] == 1
    assert ckpt.load(path, as_tensor=False)["w"].tolist() == [1, 1, 1]
    assert [p.name for p in tmp_path.iterdir()] == ["c.safetensors"]


def test_cli_lists(capsys):
    assert main(["models"]) == 0 and "resnet20" in capsys.readouterr().out
    assert main(["datasets"]) == 0 and "cifar10" in capsys.readouterr().out
