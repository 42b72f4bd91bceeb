"""Data-parallel throughput: images/s of DistributedDataParallel on 1 and 2 MPI ranks (1 thread
each) against one process with 2 threads, on LeNet-5 (MNIST-sized) and ResNet-20 (CIFAR-sized),
with the time each rank spends on communication per step.

    python benchmarks/distributed.py                    # full run (a few minutes)
    python benchmarks/distributed.py --quick            # a short check that everything runs
    python benchmarks/distributed.py --models resnet20 --steps 30 --batch 32

Weak scaling, as DDP is used: every rank keeps the per-rank batch (``--batch``), so N ranks
process N x batch images per step. Each configuration runs in fresh processes (``mpirun -n N``
for the ranks, a plain process for the threaded baseline) on synthetic data; the step time is
the median over ``--steps`` timed steps after ``--warmup`` steps. Communication per step:

- ``wait``: time blocked at the end of backward waiting for the gradient allreduces (what
  overlap did not hide; it includes waiting for a slower rank),
- ``hooks``: time in the gradient hooks (copying gradients into buckets, starting allreduces),
- ``allreduce``: a blocking allreduce of all the gradients (the bytes per step), timed alone.

Requires ``pip install -e ".[mpi]"``. Numbers depend on the machine being otherwise idle.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODELS = {"lenet5": (1, 28), "resnet20": (3, 32)}


# -- one configuration, inside its process(es) ----------------------------------------------
def worker(args) -> None:
    import numpy as np

    import convnp
    import convnp.nn.functional as F
    from convnp.models import get_model

    convnp.set_num_threads(args.threads)
    distributed = args.ddp
    rank, world = 0, 1
    if distributed:
        import convnp.distributed as dist
        from convnp.nn.parallel import DistributedDataParallel
        dist.init_process_group("mpi")
        rank, world = dist.get_rank(), dist.get_world_size()
    channels, size = MODELS[args.model]
    convnp.manual_seed(0)
    model = get_model(args.model, num_classes=10, in_channels=channels, input_size=size)
    net = DistributedDataParallel(model) if distributed else model
    opt = convnp.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    g = np.random.default_rng(rank)
    x = convnp.tensor(g.standard_normal((args.batch, channels, size, size)).astype(np.float32))
    y = convnp.tensor(g.integers(0, 10, args.batch))
    times, waits, hooks = [], [], []
    for step in range(args.warmup + args.steps):
        if distributed:
            dist.barrier()  # every rank starts the step together
            w0, h0 = net.comm_wait_seconds, net.comm_hook_seconds
        t0 = time.perf_counter()
        opt.zero_grad()
        F.cross_entropy(net(x), y).backward()
        opt.step()
        if step >= args.warmup:
            times.append(time.perf_counter() - t0)
            if distributed:
                waits.append(net.comm_wait_seconds - w0)
                hooks.append(net.comm_hook_seconds - h0)
    grad_bytes = sum(p.array.nbytes for p in model.parameters())
    allreduce = 0.0
    if distributed:
        buf = np.ones(grad_bytes // 4, np.float32)
        reps = []
        for _ in range(10):
            dist.barrier()
            t0 = time.perf_counter()
            dist.all_reduce(buf)
            reps.append(time.perf_counter() - t0)
        allreduce = float(np.median(reps))
        # the slowest rank sets the pace: report the maximum of the per-rank medians
        stats = np.array([np.median(times), np.median(waits), np.median(hooks)])
        dist.all_reduce(stats, op=dist.ReduceOp.MAX)
        step_s, wait_s, hook_s = (float(v) for v in stats)
    else:
        step_s, wait_s, hook_s = float(np.median(times)), 0.0, 0.0
    if rank == 0:
        print("RESULT " + json.dumps({
            "model": args.model, "ranks": world, "threads": args.threads, "batch": args.batch,
            "step_s": step_s, "images_per_s": args.batch * world / step_s, "wait_s": wait_s,
            "hook_s": hook_s, "allreduce_s": allreduce, "grad_bytes": grad_bytes}), flush=True)
    if distributed:
        dist.destroy_process_group()


# -- the driver -----------------------------------------------------------------------------
def run_config(model: str, ranks: int, threads: int, batch: int, steps: int, warmup: int,
               ddp: bool) -> dict:
    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "NUMBA_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                "MKL_NUM_THREADS"):
        env[var] = str(threads)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", "--model", model,
           "--threads", str(threads), "--batch", str(batch), "--steps", str(steps),
           "--warmup", str(warmup)]
    if ddp:
        if os.geteuid() == 0:
            env.setdefault("OMPI_ALLOW_RUN_AS_ROOT", "1")
            env.setdefault("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
        cmd = ["mpirun", "-n", str(ranks), "--oversubscribe", "--bind-to", "core"] + cmd + \
            ["--ddp"]
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT)
    for line in out.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    raise RuntimeError(f"{' '.join(cmd)} failed ({out.returncode}):\n{out.stdout}\n{out.stderr}")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    p.add_argument("--batch", type=int, default=None,
                   help="per-rank batch (default: 64 for lenet5, 32 for resnet20)")
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--quick", action="store_true", help="3 steps after 2 warm-up steps")
    p.add_argument("--json", default=None, help="also write the results to this file")
    # worker mode (run by the driver)
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--model", default="lenet5", help=argparse.SUPPRESS)
    p.add_argument("--threads", type=int, default=1, help=argparse.SUPPRESS)
    p.add_argument("--ddp", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        worker(args)
        return 0
    if shutil.which("mpirun") is None:
        print("mpirun not found: pip install -e \".[mpi]\"", file=sys.stderr)
        return 1
    if args.quick:
        args.steps, args.warmup = 3, 2
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start")
    rows = []
    header = (f"{'model':9s} {'configuration':22s} {'batch/step':>10s} {'step ms':>8s} "
              f"{'images/s':>9s} {'speed-up':>8s} {'wait ms':>8s} {'hooks ms':>8s} "
              f"{'allreduce ms':>12s} {'grad MB':>8s}")
    print(header)
    for model in args.models:
        batch = args.batch or (64 if model == "lenet5" else 32)
        configs = [("1 rank x 1 thread", 1, 1, batch, True),
                   ("2 ranks x 1 thread", 2, 1, batch, True),
                   ("1 process x 2 threads", 1, 2, 2 * batch, False)]
        base = None
        for name, ranks, threads, b, ddp in configs:
            r = run_config(model, ranks, threads, b, args.steps, args.warmup, ddp)
            r["configuration"] = name
            base = base or r["images_per_s"]
            r["speedup"] = r["images_per_s"] / base
            rows.append(r)
            print(f"{model:9s} {name:22s} {r['batch'] * r['ranks']:10d} "
                  f"{1e3 * r['step_s']:8.1f} {r['images_per_s']:9.1f} {r['speedup']:7.2f}x "
                  f"{1e3 * r['wait_s']:8.2f} {1e3 * r['hook_s']:8.2f} "
                  f"{1e3 * r['allreduce_s']:12.2f} {r['grad_bytes'] / 2**20:8.2f}", flush=True)
    print(f"load average {os.getloadavg()[0]:.1f} at the end")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
