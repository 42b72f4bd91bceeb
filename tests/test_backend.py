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
    monkeypatch.setattr(backend, "_threads", 2)
    picked = []
    real = _double.variant
    monkeypatch.setattr(_double, "variant", lambda par: picked.append(par) or real(par))
    x = np.arange(float(n))
    out = np.empty_like(x)
    _double(x, out)
    np.testing.assert_array_equal(out, 2 * x)
    assert picked == [expect_parallel]


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
