"""The compiled-kernel backend: lazy compilation, serial twin below the size threshold."""

import os

import numpy as np
import pytest

from convnp import backend

numba = pytest.importorskip("numba")


@backend.jit(parallel=True)
def _double(x, out):  # pragma: no cover - compiled
    for i in numba.prange(x.size):
        out[i] = 2 * x[i]


@pytest.mark.parametrize("n, expect_parallel", [(10, False), (100, True)])
def test_parallel_kernel_runs_serial_twin_below_threshold(monkeypatch, n, expect_parallel):
    monkeypatch.setattr(backend, "PARALLEL_MIN_ELEMENTS", 50)
    monkeypatch.setattr(backend, "_second_pool", False)
    monkeypatch.setattr(backend, "_threads", 2)
    picked = []
    real = _double.variant
    monkeypatch.setattr(_double, "variant", lambda par: picked.append(par) or real(par))
    x = np.arange(float(n))
    out = np.empty_like(x)
    _double(x, out)
    np.testing.assert_array_equal(out, 2 * x)
    assert picked == [expect_parallel]


def test_threshold_rises_when_blas_cannot_run_single_threaded(monkeypatch):
    """Without a per-call single-threaded BLAS (old OpenBLAS, MKL), parallel kernels start only
    at PARALLEL_MIN_ELEMENTS_SHARED, away from BLAS's spinning workers."""
    from convnp import _blas

    monkeypatch.setattr(backend, "_threads", 2)
    monkeypatch.setattr(backend, "_second_pool", not _blas._get_lib())
    assert backend.parallel_min_elements() == (backend.PARALLEL_MIN_ELEMENTS_SHARED
                                               if not _blas._get_lib()
                                               else backend.PARALLEL_MIN_ELEMENTS)
    monkeypatch.setattr(_blas, "_lib", False)
    assert not _blas.available()
    backend.set_second_pool(True)  # what convnp._blas declares without a usable OpenBLAS
    assert backend.parallel_min_elements() == backend.PARALLEL_MIN_ELEMENTS_SHARED
    picked = []
    real = _double.variant
    monkeypatch.setattr(_double, "variant", lambda par: picked.append(par) or real(par))
    x = np.arange(float(backend.PARALLEL_MIN_ELEMENTS))
    _double(x, np.empty_like(x))
    assert picked == [False]
    backend.set_second_pool(False)
    _double(x, np.empty_like(x))
    assert picked == [False, True]


def test_twins_are_distinct_compiled_kernels():
    serial, parallel = _double.variant(False), _double.variant(True)
    assert serial is not parallel
    assert serial.py_func.__qualname__.endswith("_serial")  # its own cache entry
    assert parallel.targetoptions.get("parallel") and not serial.targetoptions.get("parallel")


def test_work_is_the_largest_array_argument():
    assert backend._work((np.zeros(49), 3, None)) == 49
    assert backend._work((np.zeros((8, 8)), np.zeros(3), 2.0)) == 64


def test_glibc_keeps_freed_memory_unless_opted_out():
    import platform
    import subprocess
    import sys

    import convnp

    code = "import convnp; print(convnp._memory.applied)"
    off = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, "CONVNP_KEEP_FREED_MEMORY": "0"}, check=True)
    assert off.stdout.strip() == "False"
    glibc = platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"
    assert convnp._memory.applied is glibc


@backend.helper
def _triple(v):  # pragma: no cover - compiled
    return 3 * v


@backend.jit()
def _apply_triple(x, out):  # pragma: no cover - compiled
    for i in range(x.size):
        out[i] = _triple(x[i])


@backend.jit()
def _apply_triple_plus_one(x, out):  # pragma: no cover - compiled
    for i in range(x.size):
        out[i] = _triple(x[i]) + 1


def test_helpers_compile_once_for_every_kernel_of_their_module():
    x, out = np.arange(4.0), np.empty(4)
    _apply_triple(x, out)
    assert out.tolist() == [0, 3, 6, 9]
    compiled = backend._helpers[(__name__, "_triple")]
    assert compiled.py_func.__code__ is _triple.__code__
    _apply_triple_plus_one(x, out)  # a second kernel: the helper is not compiled twice
    assert out.tolist() == [1, 4, 7, 10]
    assert backend._helpers[(__name__, "_triple")] is compiled
    assert not hasattr(globals()["_triple"], "py_func")  # the module itself is left as it is


_late_abs = backend.late("numpy", "abs")


@backend.jit()
def _apply_late(x, out):  # pragma: no cover - compiled
    for i in range(x.size):
        out[i] = _late_abs(x[i])


def test_late_names_resolve_when_the_kernel_compiles():
    out = np.empty(3)
    _apply_late(np.array([-1.0, 2.0, -3.0]), out)
    assert out.tolist() == [1.0, 2.0, 3.0]
    assert isinstance(globals()["_late_abs"], backend.late)  # still late in the module
    assert _late_abs(-2.0) == 2.0  # and callable from plain Python


_range_alias = range


@backend.jit(parallel=True)
def _serial_by_mistake(x):  # pragma: no cover - compiled
    for i in _range_alias(x.size):
        x[i] = 0


def test_a_range_alias_in_a_kernel_module_is_an_error():
    """A kernel looping over a module-level ``prange = range`` would silently run serially."""
    with pytest.raises(RuntimeError, match="import prange from convnp.backend"):
        _serial_by_mistake.variant(True)


def test_run_split_goes_parallel_by_parts_not_array_size(monkeypatch):
    """A kernel whose work was cut into several items runs its parallel variant even on small
    arrays (a batch-1 convolution), the serial one for one item or one thread."""
    seen = []

    class Kernel:
        @staticmethod
        def variant(par):
            seen.append(par)
            return lambda *a: a

    monkeypatch.setattr(backend, "team", lambda: 2)
    assert backend.run_split(Kernel, 2, 1, 2) == (1, 2)
    backend.run_split(Kernel, 1)
    monkeypatch.setattr(backend, "team", lambda: 1)
    backend.run_split(Kernel, 4)
    assert seen == [True, False, False]
    assert backend.run_split(lambda *a: sum(a), 3, 1, 2) == 3  # a plain callable: called as is
