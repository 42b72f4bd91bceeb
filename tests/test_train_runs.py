"""``convnp train`` runs that must never lose or silently spoil work: an existing --out, --resume
with more epochs or other options, Ctrl-C, bad options, failing disks, and every listed model."""

from __future__ import annotations

import atexit
import errno
import functools
import json
import math
import os
import shutil
import signal
import tempfile
from pathlib import Path

import numpy as np
import pytest

from convnp import checkpoint as ckpt
from convnp.cli import main
from convnp.train import Task, TrainConfig, Trainer
from tests.test_train_cli import SHARED, strip, tiny

pytestmark = pytest.mark.skipif(not SHARED.is_dir(),
                                reason="../shared/data/mnist (original MNIST files) is absent")


def make_tiny_mnist(dest: Path, n_train: int = 256, n_test: int = 128) -> Path:
    """The first images of the real MNIST files as small uncompressed IDX files (MNIST reads
    those too): a run then starts without decompressing 60,000 images."""
    import gzip
    dest.mkdir(parents=True, exist_ok=True)
    for split, n in (("train", n_train), ("t10k", n_test)):
        for kind, head, item in (("images-idx3", 16, 784), ("labels-idx1", 8, 1)):
            with gzip.open(SHARED / f"{split}-{kind}-ubyte.gz", "rb") as f:
                header, body = bytearray(f.read(head)), f.read(n * item)
            header[4:8] = n.to_bytes(4, "big")  # the item count
            (dest / f"{split}-{kind}-ubyte").write_bytes(bytes(header) + body)
    return dest


@functools.lru_cache(maxsize=None)
def data() -> Path:
    """One tiny MNIST folder per test process, removed at exit."""
    root = Path(tempfile.mkdtemp(prefix="convnp-tiny-mnist-"))
    atexit.register(shutil.rmtree, root, True)
    return make_tiny_mnist(root)


def small(tmp_path, name="run", **kw) -> TrainConfig:
    return tiny(tmp_path, name, **dict(dict(data_dir=str(data())), **kw))


def train_args(out, *extra, epochs=1):
    return ["train", "--data-dir", str(data()), "--limit-train", "64", "--limit-test", "32",
            "--batch-size", "32", "--epochs", str(epochs), "--no-progress", "--no-plots",
            "--seed", "1", "--out", str(out), *extra]


def metrics(run) -> list[dict]:
    return [json.loads(x) for x in (Path(run) / "metrics.jsonl").read_text().splitlines()]


def said(capsys) -> tuple[str, str]:
    """(stdout, stderr) with rich's line wrapping undone."""
    out = capsys.readouterr()
    return " ".join(out.out.split()), " ".join(out.err.split())


def one_line_error(capsys, *words) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    for w in words:
        assert w in err, err
    return err


# -- item 5: an existing run is never overwritten by accident -------------------------------------
def test_existing_run_is_refused_then_overwritten_on_request(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(train_args(run)) == 0
    before = {p.name: p.read_bytes() for p in run.iterdir()}
    assert main(train_args(run, "--lr", "0.01")) == 2
    one_line_error(capsys, "already holds a run", "--resume", "--overwrite")
    assert {p.name: p.read_bytes() for p in run.iterdir()} == before   # untouched
    assert main(train_args(run, "--lr", "0.01", "--overwrite")) == 0
    assert "the previous run is in" in said(capsys)[0]
    old = [p for p in tmp_path.iterdir() if p.name.startswith("run.old-")]
    assert len(old) == 1 and {p.name: p.read_bytes() for p in old[0].iterdir()} == before
    assert [h["epoch"] for h in metrics(run)] == [1]
    assert json.loads((run / "config.json").read_text())["lr"] == 0.01


def test_overwrite_never_moves_a_folder_that_is_not_a_run(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("mine")
    assert main(train_args(tmp_path, "--overwrite")) == 2
    one_line_error(capsys, "not a convnp run directory")
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


def test_folder_with_only_config_json_starts_afresh(tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text("{}")
    (run / ".checkpoint.safetensors.abc.tmp").write_bytes(b"half")  # a killed write
    assert main(train_args(run)) == 0
    assert sorted(p.name for p in run.iterdir()) == ["checkpoint.safetensors", "config.json",
                                                     "metrics.jsonl"]


# -- item 6: more epochs on --resume rebuild the schedule ------------------------------------------
def planned_lrs(cfg: TrainConfig, steps_per_epoch: int) -> list[float]:
    """The lr at the start of each epoch of a run planned for cfg.epochs from the start."""
    import convnp
    from convnp.train import _build_optimizer, _build_scheduler
    model = convnp.nn.Linear(1, 1)
    opt = _build_optimizer(cfg, model)
    sched, per_batch = _build_scheduler(cfg, opt, steps_per_epoch)
    lrs = []
    for _ in range(cfg.epochs):
        lrs.append(opt.param_groups[0]["lr"])
        for _ in range(steps_per_epoch if per_batch else int(sched is not None)):
            sched.step()
    return lrs


@pytest.mark.parametrize("sched", ["none", "step", "cosine", "onecycle"])
def test_resume_with_more_epochs_follows_the_longer_schedule(tmp_path, sched):
    kw = dict(limit_train=32, limit_test=16, batch_size=16, scheduler=sched, step_size=1,
              gamma=0.5, optimizer="sgd")
    Trainer(small(tmp_path, "short", epochs=1, **kw), plots=False).fit()
    extended = Trainer.resume(tmp_path / "short", epochs=3, plots=False).fit()
    assert [h["epoch"] for h in extended] == [1, 2, 3]
    lrs = [h["lr"] for h in extended]
    # after the extension, the lr of a run planned for 3 epochs from the start
    np.testing.assert_allclose(lrs[1:], planned_lrs(small(tmp_path, epochs=3, **kw), 2)[1:],
                               rtol=1e-12)
    assert all(lr > 0 for lr in lrs) and all(math.isfinite(h["train_loss"]) for h in extended)
    expected = {"none": [0.05] * 3, "step": [0.05, 0.025, 0.0125],
                # T_max 1 -> 3: 0.05 (1 + cos(pi t / 3)) / 2, not 0 after the first epoch
                "cosine": [0.05, 0.05 * 0.75, 0.05 * 0.25]}
    if sched in expected:
        np.testing.assert_allclose(lrs, expected[sched], rtol=1e-12)
    state = ckpt.load(tmp_path / "short" / "checkpoint.safetensors")
    assert state["config"]["epochs"] == 3


def test_resume_with_fewer_epochs_than_done_is_refused(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(train_args(run, epochs=2)) == 0
    assert main(["train", "--resume", str(run), "--epochs", "1", "--no-progress"]) == 2
    one_line_error(capsys, "already done 2 epoch(s)")


# -- item 7: Ctrl-C -------------------------------------------------------------------------------
class Interrupt:
    def __init__(self, epoch, step):
        self.at = (epoch, step)

    def __call__(self, trainer, event, info):
        if event == "step" and (info["epoch"], info["step"]) == self.at:
            raise KeyboardInterrupt


def test_interrupt_in_first_epoch_saves_a_mid_epoch_checkpoint(tmp_path):
    # onecycle steps per batch: the mid-epoch checkpoint must carry the scheduler too
    kw = dict(augment=True, scheduler="onecycle", optimizer="adamw")
    straight = Trainer(small(tmp_path, "straight", **kw), plots=False).fit()
    cut = Trainer(small(tmp_path, "cut", **kw), callbacks=[Interrupt(1, 2)], plots=False)
    with pytest.raises(KeyboardInterrupt):
        cut.fit()
    assert cut.saved == (1, 2)
    state = ckpt.load(tmp_path / "cut" / "checkpoint.safetensors")
    assert state["epoch"] == 0 and state["partial"]["step"] == 2
    resumed = Trainer.resume(tmp_path / "cut", plots=False)
    assert resumed.start_epoch == 1 and resumed.partial["step"] == 2
    assert strip(resumed.fit()) == strip(straight)
    assert strip(metrics(tmp_path / "cut")) == strip(straight)


def test_cli_ctrl_c_says_what_exists(tmp_path, capsys, monkeypatch):
    straight = tmp_path / "straight"
    assert main(train_args(straight, epochs=2)) == 0
    run = tmp_path / "run"
    real_emit = Trainer._emit

    def sigint_at_step_1(self, event, info):  # a real SIGINT, delivered to the handler
        real_emit(self, event, info)
        if event == "step" and info["epoch"] == 1 and info["step"] == 1:
            os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(Trainer, "_emit", sigint_at_step_1)
    assert main(train_args(run, epochs=2)) == 130
    out, err = said(capsys)
    assert "stopping after this step" in err
    assert "middle of epoch 1 (after step 1 of 2)" in out and "--resume" in out
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # restored
    monkeypatch.setattr(Trainer, "_emit", real_emit)
    assert main(["train", "--resume", str(run), "--no-progress", "--no-plots"]) == 0
    assert "resuming" in capsys.readouterr().out
    assert strip(metrics(run)) == strip(metrics(straight))


def test_cli_ctrl_c_before_any_checkpoint(tmp_path, capsys, monkeypatch):
    def hard_stop(self, x, y):  # e.g. a second Ctrl-C inside the first step
        raise KeyboardInterrupt

    monkeypatch.setattr(Task, "prepare", hard_stop)
    run = tmp_path / "run"
    assert main(train_args(run)) == 130
    out, _ = said(capsys)
    assert "holds no checkpoint" in out and "nothing to resume" in out
    assert "continue with" not in out
    assert [p.name for p in run.iterdir()] == ["config.json"]
    monkeypatch.undo()
    assert main(train_args(run)) == 0  # the same command starts over


# -- item 8: --resume and the options given with it ------------------------------------------------
def test_resume_from_another_folder_with_relative_paths(tmp_path, monkeypatch, capsys):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    os.symlink(data(), tmp_path / "a" / "data")
    monkeypatch.chdir(tmp_path / "a")
    args = train_args("run", epochs=1)
    args[args.index("--data-dir") + 1] = "data"
    assert main(args) == 0
    config = json.loads((tmp_path / "a" / "run" / "config.json").read_text())
    assert config["data_dir"] == str(tmp_path / "a" / "data")
    assert config["out"] == str(tmp_path / "a" / "run")
    monkeypatch.chdir(tmp_path / "b")
    assert main(["train", "--resume", "../a/run", "--epochs", "2", "--no-progress",
                 "--no-plots"]) == 0
    assert [h["epoch"] for h in metrics(tmp_path / "a" / "run")] == [1, 2]


def test_resume_refuses_changed_recipe_and_takes_new_data_dir(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(train_args(run)) == 0
    before = (run / "checkpoint.safetensors").read_bytes()
    for opt, value in [("--lr", "0.5"), ("--batch-size", "16"), ("--model", "vgg-tiny"),
                       ("--limit-train", "32"), ("--seed", "2"), ("--out", str(tmp_path))]:
        assert main(["train", "--resume", str(run), "--epochs", "2", opt, value]) == 2, opt
        one_line_error(capsys, opt)
    assert (run / "checkpoint.safetensors").read_bytes() == before
    # the same values again are fine; --data-dir may move
    moved = tmp_path / "moved"
    os.symlink(data(), moved)
    assert main(["train", "--resume", str(run), "--epochs", "2", "--batch-size", "32",
                 "--lr", "0.001", "--data-dir", str(moved), "--no-progress", "--no-plots"]) == 0
    assert json.loads((run / "config.json").read_text())["data_dir"] == str(moved)
    assert main(["train", "--resume", str(run), "--overwrite"]) == 2
    one_line_error(capsys, "--overwrite", "--resume")


# -- item 9: every option checked before anything happens ------------------------------------------
@pytest.mark.parametrize("opt,value", [
    ("--limit-test", "-5"), ("--limit-train", "0"), ("--limit-train", "-5"),
    ("--step-size", "0"), ("--lr", "-1"), ("--lr", "nan"), ("--lr", "0"), ("--epochs", "0"),
    ("--epochs", "-2"), ("--batch-size", "0"), ("--batch-size", "-64"), ("--momentum", "-0.5"),
    ("--weight-decay", "-1"), ("--gamma", "0"), ("--label-smoothing", "1.5"), ("--seed", "-1"),
], ids=lambda v: str(v))
def test_bad_option_is_one_line_and_creates_nothing(tmp_path, capsys, opt, value):
    out = tmp_path / "run"
    assert main(train_args(out, opt, value)) == 2
    one_line_error(capsys, opt, value)
    assert not out.exists()


def test_bad_threads_and_eval_limit(tmp_path, capsys):
    assert main(train_args(tmp_path / "run", "--threads", "0")) == 2
    one_line_error(capsys, "--threads")
    assert not (tmp_path / "run").exists()
    assert main(["eval", str(tmp_path), "--limit-test", "-5"]) == 2
    one_line_error(capsys, "--limit-test")


# -- item 10: expected failures are one line naming the file and the fix ---------------------------
def test_out_below_a_file(tmp_path, capsys):
    (tmp_path / "file").write_text("x")
    assert main(train_args(tmp_path / "file" / "run")) == 2
    one_line_error(capsys, "is a file, not a folder")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes through permissions")
def test_unwritable_out(tmp_path, capsys):
    (tmp_path / "ro").mkdir(mode=0o500)
    assert main(train_args(tmp_path / "ro" / "run")) == 2
    one_line_error(capsys, "permission denied", "writable --out")


@pytest.mark.parametrize("damage", ["truncate", "flip"])
def test_damaged_checkpoint_on_resume_and_eval(tmp_path, capsys, damage):
    run = tmp_path / "run"
    assert main(train_args(run)) == 0
    path = run / "checkpoint.safetensors"
    raw = bytearray(path.read_bytes())
    if damage == "truncate":
        raw = raw[:len(raw) // 2]
    else:
        raw[-10] ^= 1
    path.write_bytes(raw)
    capsys.readouterr()
    assert main(["train", "--resume", str(run), "--epochs", "2"]) == 2
    one_line_error(capsys, str(path))
    assert main(["eval", str(run)]) == 2
    one_line_error(capsys, str(path))
    assert bytes(raw) == path.read_bytes() and [h["epoch"] for h in metrics(run)] == [1]


def test_full_disk_is_one_line_and_keeps_the_last_checkpoint(tmp_path, capsys, monkeypatch):
    run = tmp_path / "run"
    real_fsync, real_emit = os.fsync, Trainer._emit
    full = []

    def fsync(fd):
        if full:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_fsync(fd)

    def emit(self, event, info):
        real_emit(self, event, info)
        if event == "epoch":
            full.append(True)  # the disk fills up after the first epoch's checkpoint

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(Trainer, "_emit", emit)
    assert main(train_args(run, epochs=2)) == 1
    err = one_line_error(capsys, "no space left", "checkpoint.safetensors", "--resume")
    assert str(run) in err
    monkeypatch.undo()
    assert sorted(p.name for p in run.iterdir()) == ["checkpoint.safetensors", "config.json",
                                                     "metrics.jsonl"]   # no temporary file
    assert ckpt.load(run / "checkpoint.safetensors")["epoch"] == 1
    assert main(["train", "--resume", str(run), "--no-progress", "--no-plots"]) == 0
    assert [h["epoch"] for h in metrics(run)] == [1, 2]


# -- item 11: every listed model trains or is refused up front -------------------------------------
def test_models_lists_task_and_input(capsys):
    from convnp.models import list_models
    assert main(["models"]) == 0
    lines = {ln.split()[0]: ln for ln in capsys.readouterr().out.splitlines()[1:]}
    assert set(lines) == set(list_models())
    assert "segmentation" in lines["unet"] and "% 16" in lines["unet"]
    assert "reconstruction" in lines["conv-autoencoder"]
    assert "sequences" in lines["cnn1d"] and "volumes" in lines["cnn3d"]
    assert "classification" in lines["lenet5"]


@pytest.mark.parametrize("model,key", [("segnet", "test_miou"), ("deeplab-small", "test_miou"),
                                       ("conv-autoencoder", "test_psnr"), ("cnn1d", "test_acc")])
def test_cli_trains_every_image_model(tmp_path, capsys, model, key):
    run = tmp_path / model
    args = train_args(run, "--model", model, "--limit-train", "16", "--limit-test", "8",
                      "--batch-size", "8")
    assert main(args) == 0
    row = metrics(run)[0]
    assert math.isfinite(row[key]) and math.isfinite(row["train_loss"])
    assert main(["eval", str(run), "--limit-test", "8"]) == 0
    out = capsys.readouterr().out
    assert {"test_miou": "mIoU", "test_psnr": "PSNR", "test_acc": "accuracy"}[key] in out


def test_unet_input_is_padded_to_its_multiple():
    import convnp
    from convnp.train import build_model
    cfg = TrainConfig(model="unet")
    task = Task(cfg, [str(i) for i in range(10)])
    assert task.size == 32 and task.pad == (2, 2) and len(task.classes) == 11
    x = np.zeros((2, 1, 28, 28), np.float32)
    x[:] = (0 - 0.1307) / 0.3081           # black
    x[0, 0, 5, 7] = (1 - 0.1307) / 0.3081  # one ink pixel in a "3"
    xi, t = task.prepare(convnp.Tensor._wrap(x), convnp.tensor([3, 8]))
    assert xi.shape == (2, 1, 32, 32) and t.shape == (2, 32, 32)
    np.testing.assert_allclose(xi.array[:, :, 0, :], (0 - 0.1307) / 0.3081, rtol=1e-6)
    assert t.array.sum() == 4 and t.array[0, 7, 9] == 4     # class 3 + 1, shifted by the pad
    with convnp.no_grad():
        assert build_model(cfg, 11)(xi[:1]).shape == (1, 11, 32, 32)


def test_sequence_task_feeds_rows():
    import convnp
    task = Task(TrainConfig(model="cnn1d"), [])
    x = np.arange(2 * 28 * 28, dtype=np.float32).reshape(2, 1, 28, 28)
    xi, _ = task.prepare(convnp.Tensor._wrap(x), convnp.tensor([0, 1]))
    assert xi.shape == (2, 28, 28) and task.in_channels == 28
    np.testing.assert_array_equal(xi.array[1, :, 4], x[1, 0, 4])  # step 4 = row 4


def test_cnn3d_is_refused_before_anything_is_created(tmp_path, capsys):
    assert main(train_args(tmp_path / "run", "--model", "cnn3d")) == 2
    one_line_error(capsys, "cnn3d", "volumes", "lenet5")
    assert not (tmp_path / "run").exists()
