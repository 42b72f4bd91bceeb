"""convnp.multiprocessing: share_memory() puts parameters in shared memory so several processes
train one model (the Hogwild pattern); pickled shared tensors re-attach to the same memory."""

import pickle

import numpy as np
import pytest

import convnp
import convnp.multiprocessing as mp
from convnp import nn


def _data(rank):
    r = np.random.default_rng(rank)
    x = r.standard_normal((32, 4)).astype(np.float32)
    y = x @ np.array([[1.0], [-2.0], [0.5], [3.0]], np.float32) + 0.25
    return convnp.tensor(x), convnp.tensor(y)


def _train(model, params, rank, steps):
    opt = convnp.optim.SGD(params, lr=0.05, momentum=0.5)
    x, y = _data(rank)
    for _ in range(steps):
        opt.zero_grad()
        nn.functional.mse_loss(model(x), y).backward()
        opt.step()


def _train_part(model, rank, steps):
    part = model[rank]
    _train(part, part.parameters(), rank, steps)


_HOGWILD = """
import sys
import numpy as np
import convnp
import convnp.multiprocessing as mp
from convnp import nn
from tests.test_multiprocessing import _data, _train

convnp.manual_seed(0)
model = nn.Linear(4, 1)
model.share_memory()
assert all(p.is_shared() for p in model.parameters())
x, y = _data(5)
before = float(nn.functional.mse_loss(model(x), y))
procs = [mp.Process(target=_train, args=(model, list(model.parameters()), rank, 60))
         for rank in range(2)]
for p in procs:
    p.start()
for p in procs:
    p.join(60)
after = float(nn.functional.mse_loss(model(x), y))
print([p.exitcode for p in procs], after < 0.05 * before)
"""


def test_hogwild_two_forked_processes_update_shared_parameters():
    # a fresh interpreter: fork is refused once an earlier test started the OpenMP pool here
    import os
    import subprocess
    import sys

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, PYTHONPATH=root + os.pathsep + os.environ.get("PYTHONPATH", ""))
    out = subprocess.run([sys.executable, "-c", _HOGWILD], capture_output=True, text=True,
                         cwd=root, env=env, timeout=300)
    assert out.returncode == 0, out.stderr
    # both children exited cleanly and the parent's parameters were trained by them
    assert out.stdout.strip().splitlines()[-1] == "[0, 0] True", out.stdout + out.stderr


def test_each_process_updates_land_in_the_parent_exactly():
    # spawn: the model reaches the children pickled, its shared tensors re-attached by name
    ctx = mp.get_context("spawn")
    # two independent parts trained by two processes at once: the parent sees exactly what an
    # in-process run computes, so both processes' writes reached the shared arrays
    convnp.manual_seed(1)
    model = nn.ModuleList([nn.Linear(4, 1), nn.Linear(4, 1)])
    ref = nn.ModuleList([nn.Linear(4, 1), nn.Linear(4, 1)])
    ref.load_state_dict(model.state_dict())
    model.share_memory()
    procs = [ctx.Process(target=_train_part, args=(model, rank, 25)) for rank in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0, 0]
    for rank in range(2):
        _train_part(ref, rank, 25)
    for (k, a), (_, b) in zip(model.state_dict().items(), ref.state_dict().items()):
        np.testing.assert_array_equal(a.array, b.array, err_msg=k)
    # gradients stayed private to the children
    assert all(p.grad is None for p in model.parameters())


def test_pickled_shared_tensor_reattaches_to_the_same_memory():
    t = convnp.arange(12, dtype=convnp.float32).reshape(3, 4)
    assert not t.is_shared()
    assert t.share_memory_() is t and t.is_shared()
    u = pickle.loads(pickle.dumps(t))
    u.array[1, 2] = -5.0
    assert t.array[1, 2] == -5.0 and u.is_shared()
    # arithmetic results are ordinary private arrays
    s = t * 2
    assert not s.is_shared() and type(s.array) is np.ndarray
    v = pickle.loads(pickle.dumps(np.empty_like(t.array)))  # inherited class, own memory
    assert not mp.is_shared_array(v)


def test_namespace_as_torch_multiprocessing():
    for name in ("Process", "Queue", "Pool", "get_context", "set_start_method", "cpu_count",
                 "spawn", "get_all_sharing_strategies", "set_sharing_strategy"):
        assert hasattr(mp, name), name
    mp.set_sharing_strategy("file_system")
    with pytest.raises(ValueError, match="unknown strategy"):
        mp.set_sharing_strategy("bogus")


def test_fork_after_openmp_kernels_is_refused_with_a_clear_error():
    numba = pytest.importorskip("numba")
    from numba.np.ufunc import parallel

    threads = convnp.get_num_threads()
    convnp.set_num_threads(2)
    try:
        nn.Conv2d(1, 4, 3)(convnp.randn(64, 1, 28, 28)).sum().backward()
    finally:
        convnp.set_num_threads(threads)
    if not parallel._is_initialized or numba.threading_layer() != "omp":
        pytest.skip("Numba's thread pool here is not GNU OpenMP: fork is safe")
    p = mp.Process(target=print)
    with pytest.raises(RuntimeError, match="cannot fork after convnp's parallel kernels"):
        p.start()
