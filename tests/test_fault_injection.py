"""Fault injection on ``convnp train``: the process is killed (SIGKILL, SIGINT, twice SIGINT)
at chosen points — mid-epoch, half-way through writing a file, between a file's fsync and its
rename — and at random moments, and its files are truncated or have bytes flipped. After each
fault the run directory must load (or refuse with a one-line error naming the file), nothing
half-written may ever be read, and ``--resume`` must reproduce an uninterrupted run's numbers.

The killed runs are real ``python`` processes (a few seconds each, most of it start-up); the
resumes run in this process.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from convnp import checkpoint as ckpt
from convnp.cli import main
from convnp.train import CHECKPOINT, RUN_FILES, Trainer
from tests.test_train_cli import SHARED, strip
from tests.test_train_runs import data

ROOT = Path(__file__).resolve().parents[1]
pytestmark = [
    pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/data/mnist is absent"),
    pytest.mark.skipif(sys.platform != "linux", reason="kill points read /proc/self/fd"),
]

EPOCHS, STEPS = 3, 4  # 64 images in batches of 16

# Runs the CLI with one fault armed: "step:E:S:SIG" sends SIG to itself after step S of epoch E;
# "half:NAME:K" cuts the K-th write of NAME to half its bytes and dies (a crash before the data
# reached the disk); "rename:NAME:K" dies after the K-th write of NAME is complete and fsync'ed
# but before its rename.
DRIVER = r"""
import os, signal, sys
from pathlib import Path
spec, argv = sys.argv[1].split(":"), sys.argv[2:]
from convnp import train
from convnp.cli import main
kind = spec[0]
if kind == "step":
    epoch, step, sig = int(spec[1]), int(spec[2]), getattr(signal, spec[3])
    emit = train.Trainer._emit
    def _emit(self, event, info):
        emit(self, event, info)
        if event == "step" and (info["epoch"], info["step"]) == (epoch, step):
            os.kill(os.getpid(), sig)
    train.Trainer._emit = _emit
else:
    name, k, seen = spec[1], int(spec[2]), [0]
    fsync, replace = os.fsync, os.replace
    def _fsync(fd):
        path = os.readlink(f"/proc/self/fd/{fd}")
        if kind == "half" and Path(path).name.startswith("." + name + "."):
            seen[0] += 1
            if seen[0] == k:
                os.ftruncate(fd, os.fstat(fd).st_size // 2)
                os.kill(os.getpid(), signal.SIGKILL)
        return fsync(fd)
    def _replace(src, dst):
        if kind == "rename" and Path(dst).name == name:
            seen[0] += 1
            if seen[0] == k:
                os.kill(os.getpid(), signal.SIGKILL)
        return replace(src, dst)
    os.fsync, os.replace = _fsync, _replace
sys.exit(main(argv))
"""


def args(run, *extra) -> list[str]:
    return ["train", "--data-dir", str(data()), "--limit-train", "64", "--limit-test", "32",
            "--batch-size", "16", "--epochs", str(EPOCHS), "--augment", "--optimizer", "sgd",
            "--scheduler", "onecycle", "--seed", "7", "--threads", "1", "--no-progress",
            "--no-plots", "--out", str(run), *extra]


def env() -> dict:
    e = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1")
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
        e[var] = "1"
    return e


def run_with_fault(spec: str, argv: list[str], tmp_path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", DRIVER, spec, *argv], cwd=tmp_path, env=env(),
                          capture_output=True, text=True, timeout=120)


@pytest.fixture
def one_thread():
    from convnp import backend
    prev = backend.get_num_threads()
    yield
    backend.set_num_threads(prev)


@pytest.fixture
def reference(tmp_path, one_thread):
    """The uninterrupted run's metrics (timing columns dropped)."""
    run = tmp_path / "reference"
    assert main(args(run)) == 0
    return strip(rows(run))


def rows(run) -> list[dict]:
    return [json.loads(line) for line in (Path(run) / "metrics.jsonl").read_text().splitlines()]


def check_consistent(run: Path, reference: list[dict]) -> dict | None:
    """Whatever a fault left must be whole: each file parses, metrics agree with the reference,
    the checkpoint verifies. Returns the checkpoint (None if there is none yet)."""
    for p in run.iterdir():
        assert p.name in RUN_FILES or (p.name.startswith(".") and p.name.endswith(".tmp")), p
    json.loads((run / "config.json").read_text())
    if (run / "metrics.jsonl").exists():
        assert strip(rows(run)) == reference[:len(rows(run))]
    if not (run / CHECKPOINT).exists():
        return None
    state = ckpt.load(run / CHECKPOINT)
    assert strip(state["history"]) == reference[:state["epoch"]]
    return state


def resume(run, *extra) -> int:
    return main(["train", "--resume", str(run), "--threads", "1", "--no-progress", "--no-plots",
                 *extra])


def test_kill_points_in_a_chain_then_resume_reproduces(tmp_path, reference, capsys):
    run = tmp_path / "run"
    # dies half-way through writing the first checkpoint: a torn temporary file, no checkpoint
    p = run_with_fault(f"half:{CHECKPOINT}:1", args(run), tmp_path)
    assert p.returncode == -signal.SIGKILL, p.stderr
    assert check_consistent(run, reference) is None
    assert [q for q in run.iterdir() if q.name.endswith(".tmp")]  # never read
    assert resume(run) == 2
    assert "stopped before its first checkpoint" in " ".join(capsys.readouterr().err.split())
    # the same command starts over, and dies after the epoch-2 checkpoint is written and
    # fsync'ed, before its rename
    p = run_with_fault(f"rename:{CHECKPOINT}:2", args(run), tmp_path)
    assert p.returncode == -signal.SIGKILL, p.stderr
    assert check_consistent(run, reference)["epoch"] == 1
    # Ctrl-C in the middle of epoch 2: a mid-epoch checkpoint, exit status 130
    p = run_with_fault("step:2:3:SIGINT", ["train", "--resume", str(run)], tmp_path)
    assert p.returncode == 130, p.stderr
    assert "middle of epoch 2 (after step 3 of 4)" in " ".join(p.stdout.split())
    state = check_consistent(run, reference)
    assert state["epoch"] == 1 and state["partial"]["step"] == 3
    # resumed from mid-epoch, it dies while writing metrics.jsonl after the epoch-2 checkpoint
    # (write 1 of metrics.jsonl is the rewrite at the start of a resumed run)
    p = run_with_fault("half:metrics.jsonl:2", ["train", "--resume", str(run)], tmp_path)
    assert p.returncode == -signal.SIGKILL, p.stderr
    assert check_consistent(run, reference)["epoch"] == 2
    assert len(rows(run)) == 1  # the old metrics.jsonl, whole
    assert resume(run) == 0
    assert strip(rows(run)) == reference
    assert sorted(q.name for q in run.iterdir()) == ["checkpoint.safetensors", "config.json",
                                                     "metrics.jsonl"]


@pytest.mark.parametrize("sig", ["SIGKILL", "SIGINT"])
def test_kill_at_a_random_moment(tmp_path, reference, capsys, sig):
    seed = int.from_bytes(os.urandom(4), "little")
    rng = random.Random(seed)
    run = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "convnp", *args(run)], cwd=tmp_path,
                            env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # the first epoch carries the process's warm-up (loading compiled kernels) and lasts ~1-3 s
    # after config.json appears; the later epochs take a fraction of a second after the first
    # metrics line: aim at one or the other
    anchor, window = rng.choice([("config.json", 2.5), ("metrics.jsonl", 0.4)])
    deadline = time.monotonic() + 60
    while not (run / anchor).exists() and proc.poll() is None:
        assert time.monotonic() < deadline
        time.sleep(0.005)
    delay = rng.uniform(0.0, window)
    time.sleep(delay)
    if sig == "SIGKILL":
        proc.kill()
    else:
        proc.send_signal(signal.SIGINT)
        if rng.random() < 0.5:  # an impatient second Ctrl-C stops at once
            sig = "SIGINT twice"
            time.sleep(rng.uniform(0.0, 0.05))
            proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    where = (f"seed {seed}, {sig} {delay:.3f} s after {anchor}, exit {proc.returncode}: "
             f"{err[-500:]}")
    assert proc.returncode in (0, 130, -signal.SIGKILL, -signal.SIGINT), where
    if proc.returncode == 130:
        assert "interrupted" in out, where
        assert "Traceback" not in err, where
    state = check_consistent(run, reference)
    if state is None:  # killed before the first checkpoint: the same command starts over
        assert main(args(run)) == 0, where
    else:
        assert resume(run) == 0, where
    assert strip(rows(run)) == reference, where


def flips(raw: bytes, rng: random.Random) -> list[tuple[str, bytes]]:
    header = 8 + int.from_bytes(raw[:8], "little")
    cases = [("empty", b""), ("8 bytes", raw[:8]), ("half", raw[:len(raw) // 2]),
             ("all but one byte", raw[:-1]), ("garbage", bytes(rng.randrange(256)
                                                               for _ in range(len(raw))))]
    for where, lo, hi in (("header", 8, header), ("data", header, len(raw))):
        for _ in range(3):
            pos = rng.randrange(lo, hi)
            b = bytearray(raw)
            b[pos] ^= 1 << rng.randrange(8)
            cases.append((f"{where} byte {pos}", bytes(b)))
    return cases


def test_damaged_files_never_resume(tmp_path, reference, capsys, one_thread, monkeypatch):
    seed = int.from_bytes(os.urandom(4), "little")
    rng = random.Random(seed)
    run = tmp_path / "run"

    def stop_after_epoch_1(self, event, info):
        if event == "epoch":
            raise KeyboardInterrupt

    monkeypatch.setattr(Trainer, "_emit", stop_after_epoch_1)
    assert main(args(run)) == 130
    monkeypatch.undo()
    good = (run / CHECKPOINT).read_bytes()
    capsys.readouterr()
    for name, raw in flips(good, rng):
        (run / CHECKPOINT).write_bytes(raw)
        assert resume(run) == 2, f"seed {seed}: {name}"
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and str(run / CHECKPOINT) in err, (name, err)
        assert (run / CHECKPOINT).read_bytes() == raw and len(rows(run)) == 1  # untouched
        assert main(["eval", str(run)]) == 2
        capsys.readouterr()
    (run / CHECKPOINT).write_bytes(good)
    # the other files are rewritten from the checkpoint, never read back: damage does not count
    (run / "metrics.jsonl").write_text('{"epoch": 1, "train_lo')
    (run / "config.json").write_text("{")
    (run / f".{CHECKPOINT}.x1y2.tmp").write_bytes(good[:100])  # a torn write of a killed run
    assert resume(run) == 0
    assert strip(rows(run)) == reference
    json.loads((run / "config.json").read_text())
    assert not [p for p in run.iterdir() if p.name.endswith(".tmp")]
