"""Run by tests/test_distributed.py under ``mpirun -n 2``: ``distributed_worker.py MODE [OUT]``.

``checks`` runs every check of the distributed package in one MPI launch (start-up costs about a
second) and rank 0 writes ``{check: "ok" | failure text}`` (failures of every rank) to OUT as JSON.
``kill`` and ``stuck`` make rank 1 die or hang inside a loop of collectives.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
import traceback
from datetime import timedelta

import numpy as np

import convnp
import convnp.distributed as dist
import convnp.nn as nn
import convnp.nn.functional as F
from convnp.nn.parallel import DistributedDataParallel as DDP
from convnp.utils.data.distributed import DistributedSampler

CHECKS = {}


def check(fn):
    CHECKS[fn.__name__] = fn
    return fn


def rank_data(r: int, shape, dtype, kind="float"):
    g = np.random.default_rng(100 + r)
    if kind == "int":
        return g.integers(-5, 6, shape).astype(dtype)
    return (g.standard_normal(shape) + (2 if kind == "positive" else 0)).astype(dtype)


# -- collectives against NumPy ---------------------------------------------------------------
@check
def all_reduce_ops():
    r, n = dist.get_rank(), dist.get_world_size()
    cases = [(dist.ReduceOp.SUM, np.sum), (dist.ReduceOp.AVG, np.mean),
             (dist.ReduceOp.MAX, np.max), (dist.ReduceOp.MIN, np.min),
             (dist.ReduceOp.PRODUCT, np.prod)]
    for dtype in (np.float32, np.float64, np.int64):
        for op, ref in cases:
            if op is dist.ReduceOp.AVG and dtype == np.int64:
                continue
            kind = "int" if dtype == np.int64 else "float"
            t = convnp.tensor(rank_data(r, (3, 4), dtype, kind))
            dist.all_reduce(t, op=op)
            want = ref(np.stack([rank_data(i, (3, 4), dtype, kind) for i in range(n)]), axis=0)
            np.testing.assert_allclose(t.array, want, rtol=1e-6, err_msg=f"{op} {dtype}")
            assert t.dtype == dtype
    # non-contiguous tensor, async
    a = rank_data(r, (4, 6), np.float64)
    view = a.T[::2]
    work = dist.all_reduce(view, async_op=True)
    work.wait()
    assert work.is_completed()
    want = sum(rank_data(i, (4, 6), np.float64) for i in range(n)).T[::2]
    np.testing.assert_allclose(view, want, rtol=1e-12)


@check
def broadcast_gather_scatter():
    r, n = dist.get_rank(), dist.get_world_size()
    t = convnp.tensor(rank_data(r, (2, 5), np.float32))
    dist.broadcast(t, src=n - 1)
    np.testing.assert_array_equal(t.array, rank_data(n - 1, (2, 5), np.float32))
    out = [convnp.zeros(3, dtype=convnp.float64) for _ in range(n)]
    dist.all_gather(out, convnp.tensor(rank_data(r, (3,), np.float64)))
    for i in range(n):
        np.testing.assert_array_equal(out[i].array, rank_data(i, (3,), np.float64))
    big = convnp.zeros(n * 3, dtype=convnp.float64)
    dist.all_gather_into_tensor(big, convnp.tensor(rank_data(r, (3,), np.float64)))
    np.testing.assert_array_equal(big.array.reshape(n, 3),
                                  np.stack([rank_data(i, (3,), np.float64) for i in range(n)]))
    # reduce_scatter: rank j gets the sum over ranks i of input_list[j] on rank i
    inputs = [convnp.tensor(rank_data(10 * r + j, (4,), np.float64)) for j in range(n)]
    o = convnp.zeros(4, dtype=convnp.float64)
    w = dist.reduce_scatter(o, inputs, async_op=True)
    w.wait()
    np.testing.assert_allclose(o.array, sum(rank_data(10 * i + r, (4,), np.float64)
                                            for i in range(n)), rtol=1e-12)
    o2 = convnp.zeros(4, dtype=convnp.float64)
    dist.reduce_scatter(o2, inputs, op=dist.ReduceOp.MAX)
    np.testing.assert_array_equal(o2.array, np.max([rank_data(10 * i + r, (4,), np.float64)
                                                    for i in range(n)], axis=0))
    objs = [r, "from rank %d" % r]
    dist.broadcast_object_list(objs, src=1)
    assert objs == [1, "from rank 1"], objs
    dist.barrier()


@check
def collective_errors():
    r = dist.get_rank()
    for call, text in [
        (lambda: dist.all_reduce(convnp.ones(2), op="sum"), "ReduceOp"),
        (lambda: dist.all_reduce(convnp.ones(2, dtype=convnp.int64), op=dist.ReduceOp.AVG),
         "floating"),
        (lambda: dist.broadcast(convnp.ones(2), src=7), "src must be a rank"),
        (lambda: dist.all_gather([convnp.ones(2)], convnp.ones(2)), "world_size"),
        (lambda: dist.all_reduce([1, 2]), "Tensor or a NumPy array"),
        (lambda: dist.init_process_group("mpi"), "twice"),
        (lambda: dist.all_reduce(convnp.ones(2), group="other"), "default group"),
    ]:
        try:
            call()
        except (ValueError, TypeError, RuntimeError, NotImplementedError) as e:
            assert text in str(e), (text, str(e))
        else:
            raise AssertionError(f"no error for {text!r} on rank {r}")


# -- DistributedDataParallel: equivalence with one process of the global batch -----------------
def make_model(dtype, bn: bool):
    convnp.manual_seed(0)
    layers = [nn.Conv2d(2, 4, 3, padding=1)]
    if bn:
        layers.append(nn.BatchNorm2d(4))
    layers += [nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(4, 6, 3), nn.ReLU(), nn.Flatten(),
               nn.Linear(6 * 2 * 2, 5)]
    m = nn.Sequential(*layers)
    return m.double() if dtype == np.float64 else m


def batches(dtype, steps=20, n=64):
    g = np.random.default_rng(7)
    for _ in range(steps):
        yield (g.standard_normal((n, 2, 8, 8)).astype(dtype), g.integers(0, 5, n))


def sgd(model):
    return convnp.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-3)


def equivalence(dtype, tol, accumulate: bool, bn: bool):
    r, n = dist.get_rank(), dist.get_world_size()
    per = 64 // n
    ref = make_model(dtype, bn)
    local = make_model(dtype, bn)
    if r:  # rank 0's initial weights must win, whatever the others start from
        convnp.manual_seed(123)
        for p in local.parameters():
            p.array[...] = np.random.default_rng(r).standard_normal(p.shape)
    if bn:
        local = nn.SyncBatchNorm.convert_sync_batchnorm(local)
    ddp = DDP(local, bucket_cap_mb=0.0005)  # several buckets: allreduces overlap the backward
    opt_ref, opt = sgd(ref), sgd(ddp)
    for x, y in batches(dtype):
        X, Y = convnp.tensor(x), convnp.tensor(y)
        mine = slice(r * per, (r + 1) * per)
        opt_ref.zero_grad()
        opt.zero_grad()
        if accumulate:  # two micro-batches: the first under no_sync
            half = per // 2
            for k in range(2):
                # reference micro-batch k: the union of every rank's k-th half-shard
                idx = np.concatenate([np.arange(i * per + k * half, i * per + (k + 1) * half)
                                      for i in range(n)])
                F.cross_entropy(ref(X[idx]), Y[idx]).backward()
                part = slice(r * per + k * half, r * per + (k + 1) * half)
                if k == 0:
                    with ddp.no_sync():
                        F.cross_entropy(ddp(X[part]), Y[part]).backward()
                else:
                    F.cross_entropy(ddp(X[part]), Y[part]).backward()
        else:
            F.cross_entropy(ref(X), Y).backward()
            F.cross_entropy(ddp(X[mine]), Y[mine]).backward()
        opt_ref.step()
        opt.step()
    worst = 0.0
    for (name, a), b in zip(ref.state_dict().items(), local.state_dict().values()):
        a, b = np.asarray(a.array, np.float64), np.asarray(b.array, np.float64)
        worst = max(worst, float(np.max(np.abs(a - b))) if a.size else 0.0)
        assert np.allclose(a, b, rtol=0, atol=tol), (name, float(np.max(np.abs(a - b))))
    assert len(ddp._buckets) > 1
    return worst


@check
def equivalence_float64():
    return equivalence(np.float64, 1e-10, accumulate=False, bn=False)


@check
def equivalence_float32():
    return equivalence(np.float32, 1e-5, accumulate=False, bn=False)


@check
def equivalence_no_sync_float64():
    return equivalence(np.float64, 1e-10, accumulate=True, bn=False)


@check
def equivalence_no_sync_float32():
    return equivalence(np.float32, 1e-5, accumulate=True, bn=False)


@check
def equivalence_sync_batchnorm_float64():
    return equivalence(np.float64, 1e-10, accumulate=False, bn=True)


@check
def equivalence_sync_batchnorm_no_sync_float32():
    return equivalence(np.float32, 1e-5, accumulate=True, bn=True)


@check
def allreduce_starts_during_backward():
    model = make_model(np.float64, bn=False)
    ddp = DDP(model, bucket_cap_mb=0.0005)
    first = model[0].weight  # registered first: its gradient is among the last to be final
    started = []
    first.register_post_accumulate_grad_hook(
        lambda p: started.append([b.work is not None for b in ddp._buckets]))
    x, y = next(batches(np.float64, 1, 8))
    F.cross_entropy(ddp(convnp.tensor(x)), convnp.tensor(y)).backward()
    assert started and started[0][0], started  # bucket 0 was in flight before backward ended
    assert not all(started[0]), started  # ... and the first parameter's bucket was not full


@check
def buffers_broadcast_from_rank0():
    r = dist.get_rank()
    convnp.manual_seed(r)  # different buffers and weights per rank before DDP
    m = nn.Sequential(nn.Conv2d(1, 3, 3), nn.BatchNorm2d(3), nn.Flatten(), nn.Linear(3 * 16, 2))
    m[1].running_mean.array[...] = r + 5
    ddp = DDP(m)
    seen = []
    m[1].register_forward_pre_hook(lambda mod, args: seen.append(mod.running_mean.array.copy()))
    for step in range(3):
        x = convnp.tensor(rank_data(10 * step + r, (4, 1, 6, 6), np.float32))
        ddp(x).sum().backward()
    for s in seen:  # at each forward every rank holds rank 0's statistics
        got = [np.zeros(3, np.float32) for _ in range(dist.get_world_size())]
        dist.all_gather(got, s)
        for g in got:
            np.testing.assert_array_equal(g, got[0])
    assert seen[0][0] == 5  # construction broadcast rank 0's value
    # the local update after the broadcast differs per rank (rank-dependent data)
    final = [np.zeros(3, np.float32) for _ in range(dist.get_world_size())]
    dist.all_gather(final, m[1].running_mean.array.copy())
    assert not np.array_equal(final[0], final[1])


class TwoHeads(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Linear(3, 2)
        self.b = nn.Linear(3, 2)
        self.use_b = True

    def forward(self, x):
        return self.a(x) + (self.b(x) if self.use_b else 0)


@check
def find_unused_parameters():
    r = dist.get_rank()
    x = convnp.tensor(rank_data(r, (4, 3), np.float64))
    # without find_unused_parameters, an unused parameter makes the next forward raise
    m = TwoHeads().double()
    m.use_b = False
    ddp = DDP(m)
    ddp(x).sum().backward()
    try:
        ddp(x)
    except RuntimeError as e:
        assert "find_unused_parameters=True" in str(e) and "b.weight" in str(e), str(e)
    else:
        raise AssertionError("no error for an unused parameter")
    # with it: globally unused keeps .grad None; locally unused counts as zero in the average
    m = TwoHeads().double()
    ddp = DDP(m, find_unused_parameters=True)
    m.use_b = False
    ddp(x).sum().backward()
    assert m.b.weight.grad is None and m.a.weight.grad is not None
    grads = [np.zeros((2, 3)) for _ in range(dist.get_world_size())]
    dist.all_gather(grads, m.a.weight.grad.array.copy())
    np.testing.assert_array_equal(grads[0], grads[1])
    m.zero_grad()
    m.use_b = r == 0  # used on rank 0 only
    ddp(x).sum().backward()
    local_b = rank_data(0, (4, 3), np.float64).sum(0) * np.ones((2, 1))  # rank 0's gradient
    want = local_b / dist.get_world_size()
    np.testing.assert_allclose(m.b.weight.grad.array, want, rtol=1e-12)


@check
def ddp_errors():
    for call, text in [
        (lambda: DDP("model"), "must be a convnp.nn.Module"),
        (lambda: DDP(nn.Linear(2, 2), device_ids=[0]), "CPU"),
        (lambda: DDP(nn.ReLU()), "doesn't have any parameter"),
        (lambda: DDP(nn.Linear(2, 2), bucket_cap_mb=0), "bucket_cap_mb"),
    ]:
        try:
            call()
        except (TypeError, ValueError, RuntimeError) as e:
            assert text in str(e), (text, str(e))
        else:
            raise AssertionError(f"no error for {text!r}")


@check
def sampler_covers_dataset_once():
    n = dist.get_world_size()
    for size, drop_last in ((10, False), (11, False), (11, True), (64, True)):
        data = list(range(size))
        s = DistributedSampler(data, shuffle=True, seed=5, drop_last=drop_last)
        for epoch in range(2):
            s.set_epoch(epoch)
            mine = np.array(list(s), np.int64)
            assert len(mine) == len(s)
            everyone = [np.zeros(len(s), np.int64) for _ in range(n)]
            dist.all_gather(everyone, mine)
            allidx = np.concatenate(everyone)
            counts = np.bincount(allidx, minlength=size)
            if drop_last:
                assert counts.max() == 1 and counts.sum() == size - size % n
            else:
                assert counts.min() >= 1 and counts.sum() == size + (-size) % n
                assert counts.max() == (1 if size % n == 0 else 2)


def run_checks(out_path: str) -> int:
    dist.init_process_group("mpi")
    results = {}
    for name, fn in CHECKS.items():
        start = time.perf_counter()
        try:
            value = fn()
            results[name] = {"ok": True, "value": value,
                             "seconds": round(time.perf_counter() - start, 2)}
        except Exception:
            results[name] = {"ok": False, "error": f"rank {dist.get_rank()}: "
                             + traceback.format_exc()}
    # every rank's results to rank 0 (one object per rank, through broadcasts)
    merged = {}
    for src in range(dist.get_world_size()):
        gathered = [results]
        dist.broadcast_object_list(gathered, src=src)
        for name, res in gathered[0].items():
            prev = merged.get(name)
            if prev is None or (prev["ok"] and not res["ok"]):
                merged[name] = res
    if dist.get_rank() == 0:
        with open(out_path, "w") as f:
            json.dump(merged, f)
    dist.destroy_process_group()
    return 0


def run_kill() -> int:
    dist.init_process_group("mpi", timeout=timedelta(seconds=20))
    t = convnp.ones(100)
    for step in range(1000):
        if dist.get_rank() == 1 and step == 3:
            print("rank 1: killing myself", flush=True)
            os.kill(os.getpid(), signal.SIGKILL)
        dist.all_reduce(t)
    return 0


def run_stuck() -> int:
    dist.init_process_group("mpi", timeout=timedelta(seconds=2))
    t = convnp.ones(100)
    for step in range(1000):
        if dist.get_rank() == 1 and step == 3:
            print("rank 1: stuck", flush=True)
            time.sleep(60)
        dist.all_reduce(t)
    return 0


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "checks":
        sys.exit(run_checks(sys.argv[2]))
    sys.exit({"kill": run_kill, "stuck": run_stuck}[mode]())
