"""convnp.distributed, DistributedDataParallel, SyncBatchNorm and DistributedSampler.

The multi-process checks run under ``mpirun -n 2`` (one thread per rank) through a subprocess,
so a failure shows every rank's output; they are skipped with a message when mpi4py or mpirun
is missing (``pip install -e ".[mpi]"``). The autograd hooks DDP relies on and the sampler's
indices (against torch's DistributedSampler) are tested in this process.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import convnp
import convnp.nn as nn
from convnp.autograd import engine
from convnp.data.distributed import torch_randperm
from convnp.utils.data.distributed import DistributedSampler

ROOT = Path(__file__).resolve().parents[1]
WORKER = Path(__file__).with_name("distributed_worker.py")
HAVE_MPI = importlib.util.find_spec("mpi4py") is not None and shutil.which("mpirun") is not None
needs_mpi = pytest.mark.skipif(not HAVE_MPI, reason="mpi4py or mpirun is absent: "
                               "pip install -e \".[mpi]\" to run the multi-process tests")


def mpi_env() -> dict:
    env = dict(os.environ)
    env.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
               OMP_NUM_THREADS="1", NUMBA_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1",
               MKL_NUM_THREADS="1", PYTHONPATH=str(ROOT) + os.pathsep + env.get("PYTHONPATH", ""))
    return env


def mpirun(args: list[str], n: int = 2, timeout: float = 120, check: bool = True):
    cmd = ["mpirun", "-n", str(n), "--oversubscribe", sys.executable] + args
    start = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True, env=mpi_env(), cwd=ROOT,
                       timeout=timeout)
    p.seconds = time.perf_counter() - start
    p.stdout = re.sub(r"\x1b\[[0-9;]*m", "", p.stdout)  # mpirun's pty makes rich colour its text
    if check and p.returncode != 0:
        pytest.fail(f"{' '.join(cmd)} exited with {p.returncode}\n--- stdout\n{p.stdout}\n"
                    f"--- stderr\n{p.stderr}")
    return p


# -- autograd hooks used by DDP (no MPI needed) ----------------------------------------------
def test_post_accumulate_grad_hook_runs_when_the_leaf_is_final_during_backward():
    a = convnp.tensor([1.0, 2.0], requires_grad=True)
    b = convnp.tensor([3.0, 4.0], requires_grad=True)
    order = []
    a.register_post_accumulate_grad_hook(
        lambda t: order.append(("a", t.grad.array.copy(), b.grad is None)))
    b.register_post_accumulate_grad_hook(lambda t: order.append(("b", t.grad.array.copy())))
    h = (b * 2) * 3  # b's gradient is final only after this chain has run backward
    y = (a * h).sum() + (a * a).sum()  # a: three incoming edges (fan-out)
    marks = []
    a_hook = a.register_hook(lambda g: marks.append("a pre"))
    y.backward()
    assert [o[0] for o in order] == ["a", "b"]
    np.testing.assert_array_equal(order[0][1], h.array + 2 * a.array)  # the total, once
    assert order[0][2]  # a's hook ran while b's gradient was still being computed
    np.testing.assert_array_equal(order[1][1], 6 * a.array)
    assert marks == ["a pre"]
    a_hook.remove()
    (a * 3).sum().backward()
    assert order[-1][0] == "a"
    np.testing.assert_array_equal(order[-1][1], h.array + 2 * a.array + 3)  # sees .grad


def test_post_accumulate_grad_hook_errors_and_grad_api():
    x = convnp.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="non-leaf"):
        (x * 2).register_post_accumulate_grad_hook(lambda t: None)
    with pytest.raises(RuntimeError, match="doesn't require gradient"):
        convnp.ones(2).register_post_accumulate_grad_hook(lambda t: None)
    with pytest.raises(TypeError, match="callable"):
        x.register_post_accumulate_grad_hook(3)
    seen = []
    handle = x.register_post_accumulate_grad_hook(seen.append)
    convnp.autograd.grad((x * 2).sum(), x)  # autograd.grad accumulates nothing: no hook
    assert seen == []
    handle.remove()
    (x * 2).sum().backward()
    assert seen == []


def test_queue_callback_runs_after_the_backward():
    x = convnp.ones(3, requires_grad=True)
    w = convnp.ones(3, requires_grad=True)
    log = []

    def hook(t):
        log.append("hook")
        engine.queue_callback(lambda: log.append(("callback", x.grad is not None)))
    w.register_post_accumulate_grad_hook(hook)
    (x * w).sum().backward()
    assert log == ["hook", ("callback", True)]
    with pytest.raises(RuntimeError, match="no backward pass is running"):
        engine.queue_callback(lambda: None)


# -- DistributedSampler: torch's indices -----------------------------------------------------
def test_torch_randperm_matches_torch():
    torch = pytest.importorskip("torch")
    for n, seed in ((1, 0), (2, 3), (10, 0), (257, 42), (5000, 2**33 + 7)):
        g = torch.Generator()
        g.manual_seed(seed)
        assert torch_randperm(n, seed) == torch.randperm(n, generator=g).tolist()


@pytest.mark.parametrize("n", [1, 7, 10, 64])
@pytest.mark.parametrize("shuffle,drop_last", [(True, False), (False, False), (True, True),
                                               (False, True)])
def test_distributed_sampler_matches_torch(n, shuffle, drop_last):
    pytest.importorskip("torch")
    from torch.utils.data.distributed import DistributedSampler as TorchSampler
    data = list(range(n))
    for replicas in (1, 2, 3, 4):
        if drop_last and n < replicas:
            continue
        for rank in range(replicas):
            ours = DistributedSampler(data, replicas, rank, shuffle=shuffle, seed=11,
                                      drop_last=drop_last)
            theirs = TorchSampler(data, replicas, rank, shuffle=shuffle, seed=11,
                                  drop_last=drop_last)
            for epoch in (0, 3):
                ours.set_epoch(epoch)
                theirs.set_epoch(epoch)
                assert list(ours) == list(theirs), (replicas, rank, epoch)
                assert len(ours) == len(theirs)


def test_distributed_sampler_errors():
    with pytest.raises(ValueError, match="Invalid rank 2"):
        DistributedSampler(range(4), num_replicas=2, rank=2)
    with pytest.raises(ValueError, match="num_replicas must be a positive int"):
        DistributedSampler(range(4), num_replicas=0, rank=0)
    with pytest.raises(RuntimeError, match="init_process_group"):
        DistributedSampler(range(4))


# -- single process: errors that say what to do ----------------------------------------------
def test_init_without_launcher_says_how_to_launch(monkeypatch):
    import convnp.distributed as dist
    for var in dist._LAUNCHER_VARS:
        monkeypatch.delenv(var, raising=False)
    with pytest.raises(RuntimeError, match="mpirun -n 2"):
        dist.init_process_group("mpi")
    with pytest.raises(ValueError, match="backend='mpi'"):
        dist.init_process_group("nccl")
    with pytest.raises(ValueError, match="not been initialized"):
        dist.get_rank()
    assert not dist.is_initialized() and dist.is_available()


def test_missing_mpi4py_says_what_to_install(monkeypatch):
    import convnp.distributed as dist
    monkeypatch.setitem(sys.modules, "mpi4py", None)  # import mpi4py -> ImportError
    monkeypatch.setenv("OMPI_COMM_WORLD_SIZE", "2")
    with pytest.raises(RuntimeError, match=r"convnp\[mpi\]"):
        dist.init_process_group("mpi")
    assert not dist.is_initialized()


def test_import_convnp_does_not_import_mpi4py():
    code = ("import sys, convnp, convnp.nn, convnp.distributed, convnp.nn.parallel, convnp.cli; "
            "import convnp.utils.data.distributed, convnp.train, convnp.distributed.launch; "
            "convnp.cli.build_parser(); assert 'mpi4py' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, env=mpi_env())


def test_sync_batchnorm_single_process_is_batchnorm_and_converts():
    convnp.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(2, 3, 3), nn.BatchNorm2d(3), nn.ReLU(),
                          nn.Sequential(nn.BatchNorm2d(3, affine=False)))
    ref = nn.Sequential(nn.Conv2d(2, 3, 3), nn.BatchNorm2d(3), nn.ReLU(),
                        nn.Sequential(nn.BatchNorm2d(3, affine=False)))
    ref.load_state_dict(model.state_dict())
    conv = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    assert isinstance(conv[1], nn.SyncBatchNorm) and isinstance(conv[3][0], nn.SyncBatchNorm)
    assert conv[1].weight is ref[1].weight or conv[1].weight.shape == (3,)
    assert list(conv.state_dict()) == list(ref.state_dict())
    x = convnp.randn(4, 2, 6, 6)
    np.testing.assert_allclose(conv(x).array, ref(x).array, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(conv[1].running_var.array, ref[1].running_var.array, rtol=1e-6)
    with pytest.raises(ValueError, match="at least 2D"):
        nn.SyncBatchNorm(3)(convnp.ones(3))


def test_sync_batchnorm_state_dict_keys_match_torch():
    torch = pytest.importorskip("torch")
    assert list(nn.SyncBatchNorm(4).state_dict()) == list(torch.nn.SyncBatchNorm(4).state_dict())


# -- two ranks under mpirun ------------------------------------------------------------------
CHECK_NAMES = ["all_reduce_ops", "broadcast_gather_scatter", "collective_errors",
               "equivalence_float64", "equivalence_float32", "equivalence_no_sync_float64",
               "equivalence_no_sync_float32", "equivalence_sync_batchnorm_float64",
               "equivalence_sync_batchnorm_no_sync_float32", "allreduce_starts_during_backward",
               "buffers_broadcast_from_rank0", "find_unused_parameters", "ddp_errors",
               "sampler_covers_dataset_once"]


@needs_mpi
def test_two_ranks_collectives_ddp_equivalence_and_sampler(tmp_path):
    """One launch of 2 ranks runs every check of tests/distributed_worker.py (one test, so that
    pytest-xdist does not start the launch twice): collectives against NumPy; DDP with 2 x 32
    equal to 1 x 64 after 20 SGD steps (float64 1e-10, float32 1e-5; plain, with no_sync
    accumulation, with SyncBatchNorm against BatchNorm); allreduces started during backward;
    buffer broadcast; find_unused_parameters; DistributedSampler covering the data once."""
    out = tmp_path / "results.json"
    mpirun([str(WORKER), "checks", str(out)], timeout=240)
    results = json.loads(out.read_text())
    missing = [name for name in CHECK_NAMES if name not in results]
    failed = {name: r["error"] for name, r in results.items() if not r["ok"]}
    assert not missing, f"the worker did not run {missing}"
    assert not failed, "\n\n".join(f"{name}:\n{err}" for name, err in failed.items())
    for name in CHECK_NAMES:
        if name.startswith("equivalence"):
            tol = 1e-10 if "float64" in name else 1e-5
            assert results[name]["value"] < tol, (name, results[name]["value"])


@needs_mpi
def test_killed_rank_ends_the_job_instead_of_hanging():
    p = mpirun([str(WORKER), "kill"], timeout=90, check=False)
    out = p.stdout + p.stderr
    assert p.returncode != 0, out
    assert "killing myself" in out
    assert "signal 9" in out or "Killed" in out, out  # the launcher names the dead rank
    assert p.seconds < 60, p.seconds


@needs_mpi
def test_stuck_rank_times_out_with_a_clear_error():
    p = mpirun([str(WORKER), "stuck"], timeout=90, check=False)
    out = p.stdout + p.stderr
    assert p.returncode != 0, out
    assert "DistributedTimeoutError" in out and "waited" in out and "timeout 2 s" in out, out
    assert "aborting the MPI job" in out, out
    assert p.seconds < 45, p.seconds


# -- convnp train --distributed / convnp launch ----------------------------------------------
MNIST = ROOT.parent / "shared" / "data" / "mnist"
needs_mnist = pytest.mark.skipif(not MNIST.is_dir(),
                                 reason="../shared/data/mnist (original MNIST files) is absent")


def test_launch_builds_the_mpirun_command(capsys):
    from convnp.cli import main
    assert main(["launch", "-n", "3", "--threads", "2", "--dry-run", "--", "train",
                 "--epochs", "1"]) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith("+ mpirun -n 3 --oversubscribe -x OMP_NUM_THREADS=2 ")
    assert line.endswith("-m convnp train --distributed --epochs 1")
    assert main(["launch", "-n", "2", "--hostfile", "hosts", "--dry-run", "--", "eval",
                 "run"]) == 0
    line = capsys.readouterr().out.strip()
    assert "--hostfile hosts" in line and "--oversubscribe" not in line
    assert line.endswith("-m convnp eval run")
    assert main(["launch", "-n", "2", "--dry-run"]) == 2
    assert "after --" in capsys.readouterr().err


def test_train_distributed_without_launcher_says_how_to_launch(monkeypatch, capsys):
    import convnp.distributed as dist
    from convnp.cli import main
    for var in dist._LAUNCHER_VARS:
        monkeypatch.delenv(var, raising=False)
    assert main(["train", "--distributed", "--epochs", "1"]) == 2
    err = capsys.readouterr().err
    assert "convnp train: error:" in err and "mpirun -n 2" in err and len(err.splitlines()) == 1


@needs_mpi
@needs_mnist
def test_train_distributed_one_epoch_then_resumed_on_2_and_on_1_process(tmp_path):
    run = tmp_path / "run"
    common = ["--no-progress"]
    p = mpirun(["-m", "convnp", "train", "--distributed", "--data-dir", str(MNIST),
                "--limit-train", "128", "--limit-test", "100", "--epochs", "1",
                "--batch-size", "32", "--out", str(run), "--seed", "3", "--optimizer", "sgd"]
               + common, timeout=180)
    assert p.stdout.count("epoch 1:") == 1, p.stdout  # rank 0 alone prints
    assert "data-parallel over 2 ranks: batch 32 per rank, 64 in all" in p.stdout
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == [1]
    for f in ("checkpoint.safetensors", "config.json", "curves.png", "confusion.png"):
        assert (run / f).stat().st_size > 0
    assert not list(run.glob("*.tmp*"))
    # the evaluation was split over the ranks and summed: one process evaluating the saved
    # model on the whole test subset gets the same numbers
    from convnp.data import DataLoader
    from convnp.train import build_datasets, evaluate, load_run
    cfg, model, classes, _ = load_run(run)
    ev = evaluate(model, DataLoader(build_datasets(cfg)[1], batch_size=1000), len(classes))
    assert ev["acc"] == rows[0]["test_acc"]
    assert abs(ev["loss"] - rows[0]["test_loss"]) < 1e-6
    # resumed with the same number of ranks, then with a single process
    mpirun(["-m", "convnp", "train", "--distributed", "--resume", str(run), "--epochs", "2"]
           + common, timeout=180)
    from convnp.train import Trainer
    Trainer.resume(run, epochs=3, plots=False).fit()  # a single process continues the run
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == [1, 2, 3]
    assert rows[2]["train_loss"] < rows[0]["train_loss"]
    from convnp import checkpoint as ckpt
    assert int(ckpt.load(run / "checkpoint.safetensors")["epoch"]) == 3


def test_signatures_follow_torch():
    """Positional arguments in torch's order, so calls written for torch bind the same way."""
    import inspect

    torch = pytest.importorskip("torch")
    import torch.distributed as tdist

    import convnp.distributed as dist
    from convnp.nn.parallel import DistributedDataParallel

    def names(fn, skip=("self",)):
        return [n for n, p in inspect.signature(fn).parameters.items()
                if n not in skip and not n.startswith("_")
                and p.kind in (p.POSITIONAL_OR_KEYWORD, p.POSITIONAL_ONLY)]

    for name in ("init_process_group", "all_reduce", "broadcast", "all_gather",
                 "all_gather_into_tensor", "reduce_scatter", "reduce_scatter_tensor", "barrier",
                 "destroy_process_group", "get_rank", "get_world_size",
                 "broadcast_object_list"):
        ours, theirs = names(getattr(dist, name)), names(getattr(tdist, name))
        assert ours == theirs[:len(ours)] and len(ours) >= min(len(theirs), 4), name
    ours = names(DistributedDataParallel.__init__)
    theirs = names(torch.nn.parallel.DistributedDataParallel.__init__)
    assert ours == theirs[:len(ours)], (ours, theirs)
    assert names(DistributedSampler.__init__) == names(
        torch.utils.data.distributed.DistributedSampler.__init__)
    assert {"SUM", "AVG", "PRODUCT", "MIN", "MAX"} <= set(dist.ReduceOp.__members__)
