"""Every module path a torch script imports exists under convnp with torch's answers on a
CPU-only machine: backends, accelerator, cuda, nn.parallel.DataParallel, utils.data.sampler."""

import importlib

import numpy as np
import pytest

import convnp
from convnp import nn

torch = pytest.importorskip("torch")

PATHS = ["backends", "backends.cudnn", "backends.mps", "backends.mkldnn", "backends.mkl",
         "backends.openmp", "backends.cuda", "backends.cpu", "accelerator", "amp", "cuda",
         "cuda.amp", "hub", "multiprocessing", "nn.parallel", "utils.checkpoint", "utils.data",
         "utils.data.sampler", "utils.data.dataset", "utils.data.dataloader"]


@pytest.mark.parametrize("path", PATHS)
def test_module_path_imports(path):
    importlib.import_module(f"torch.{path}")  # the path is torch's
    importlib.import_module(f"convnp.{path}")


def test_lazy_namespaces_keep_import_light():
    import subprocess
    import sys

    code = ("import sys, convnp; heavy = [m for m in ('convnp.hub', 'convnp.amp', "
            "'convnp.multiprocessing', 'convnp.backends', 'multiprocessing.shared_memory') "
            "if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == "[]"


def test_backends_flags_settable_and_answers():
    for name in ("benchmark", "deterministic", "enabled", "allow_tf32"):
        assert getattr(convnp.backends.cudnn, name) == getattr(torch.backends.cudnn, name)
    convnp.backends.cudnn.benchmark = True
    convnp.backends.cudnn.deterministic = True
    try:
        assert convnp.backends.cudnn.benchmark and convnp.backends.cudnn.deterministic
        with convnp.backends.cudnn.flags(enabled=False, deterministic=False):
            assert not convnp.backends.cudnn.enabled and not convnp.backends.cudnn.deterministic
        assert convnp.backends.cudnn.enabled and convnp.backends.cudnn.deterministic
    finally:
        convnp.backends.cudnn.benchmark = False
        convnp.backends.cudnn.deterministic = False
    assert convnp.backends.cudnn.is_available() is torch.backends.cudnn.is_available() is False
    assert convnp.backends.mps.is_available() is torch.backends.mps.is_available() is False
    assert convnp.backends.mps.is_built() is False
    assert convnp.backends.mkldnn.is_available() is False  # convnp does not call oneDNN
    convnp.backends.cuda.matmul.allow_tf32 = True
    assert convnp.backends.cuda.matmul.allow_tf32
    convnp.backends.cuda.matmul.allow_tf32 = False
    assert convnp.backends.cpu.get_cpu_capability() in ("AVX512", "AVX2", "DEFAULT")


def test_accelerator_and_cuda_as_torch_on_a_cpu_machine():
    A, TA = convnp.accelerator, torch.accelerator
    assert A.is_available() is TA.is_available() is False
    assert A.current_accelerator() is TA.current_accelerator() is None
    assert A.device_count() == TA.device_count() == 0
    with pytest.raises(RuntimeError, match="Cannot access accelerator device when none"):
        A.current_device_index()
    with pytest.raises(RuntimeError):
        TA.current_device_index()
    C = convnp.cuda
    assert C.is_available() is torch.cuda.is_available() is False
    assert C.device_count() == torch.cuda.device_count() == 0
    for fn in (C.manual_seed, C.manual_seed_all):
        assert fn(0) is None
    assert C.synchronize() is None and C.empty_cache() is None
    assert C.memory_allocated() == 0
    with pytest.raises(NotImplementedError, match=r"convnp.cuda.get_device_name\(\): convnp has "
                                                  "no CUDA device"):
        C.get_device_name(0)


def test_data_parallel_as_torch_without_gpus():
    convnp.manual_seed(0)
    inner = nn.Linear(3, 2)
    tinner = torch.nn.Linear(3, 2)
    tinner.load_state_dict({k: torch.tensor(v.array) for k, v in inner.state_dict().items()})
    cm, tm = nn.DataParallel(inner), torch.nn.DataParallel(tinner)
    assert list(cm.state_dict()) == list(tm.state_dict()) == ["module.weight", "module.bias"]
    assert cm.device_ids == tm.device_ids == []
    x = np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32)
    cy, ty = cm(convnp.tensor(x)), tm(torch.tensor(x))
    np.testing.assert_allclose(cy.array, ty.detach().numpy(), rtol=1e-6)
    cy.sum().backward()
    ty.sum().backward()
    np.testing.assert_allclose(inner.weight.grad.array, tinner.weight.grad.numpy(), rtol=1e-6)
    out = nn.parallel.data_parallel(inner, convnp.tensor(x))
    np.testing.assert_allclose(out.array, cy.array)
    with pytest.raises(NotImplementedError, match="DataParallel: device 0 asked for"):
        nn.DataParallel(inner, device_ids=[0])
    cm.module.eval()
    assert not inner.training


def test_weighted_random_sampler():
    from convnp.utils.data.sampler import WeightedRandomSampler

    convnp.manual_seed(0)
    w = [0.0, 1.0, 3.0, 6.0]
    s = WeightedRandomSampler(w, 20000)
    assert len(s) == 20000
    counts = np.bincount(list(s), minlength=4) / 20000
    np.testing.assert_allclose(counts, np.array(w) / 10, atol=0.02)
    idx = list(WeightedRandomSampler(w, 3, replacement=False))
    assert sorted(idx) == [1, 2, 3]
    g = convnp.Generator().manual_seed(5)
    a = list(WeightedRandomSampler(w, 10, generator=g))
    g.manual_seed(5)
    assert list(WeightedRandomSampler(w, 10, generator=g)) == a
    T = torch.utils.data.WeightedRandomSampler
    for args, kw in [((w, 0), {}), ((w, 3), dict(replacement=1)), (([[1.0]], 3), {})]:
        with pytest.raises(ValueError) as ce:
            WeightedRandomSampler(*args, **kw)
        with pytest.raises(ValueError) as te:
            T(*args, **kw)
        assert str(ce.value) == str(te.value)
    with pytest.raises(RuntimeError, match="without replacement"):
        WeightedRandomSampler(w, 4, replacement=False)
    from convnp.utils.data import DataLoader, TensorDataset

    ds = TensorDataset(convnp.arange(4))
    batches = list(DataLoader(ds, batch_size=5, sampler=WeightedRandomSampler([0, 0, 1, 0], 5)))
    assert [int(v) for v in np.asarray(batches[0][0].array)] == [2] * 5
