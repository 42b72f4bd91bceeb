"""Test-session settings.

The suite runs as ``pytest -n 2`` on 2 cores: each worker gets ONE BLAS/OpenMP/Numba thread, so
two workers never oversubscribe the machine (OpenBLAS's threaded GEMMs slow down 10-30x when they
compete for cores). These variables must be set before NumPy, Numba or torch are imported.
"""

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "1")


import pytest  # noqa: E402


@pytest.fixture(params=["numba", "numba-parallel", "numpy"])
def path(request):
    """Run a test on each kernel path: the compiled kernels as dispatched (small test arrays run
    the serial twins; one convnp thread), the compiled kernels forced parallel with work split
    for three threads, and the NumPy reference path.
    The value is True when compiled kernels are on."""
    from convnp import backend

    prev, prev_min, prev_shared, prev_threads = (
        backend.use_numba(), backend.PARALLEL_MIN_ELEMENTS, backend.PARALLEL_MIN_ELEMENTS_SHARED,
        backend.get_num_threads())
    backend.use_numba(request.param != "numpy")
    if request.param == "numba-parallel":
        # parallel kernels, work split for 3 threads (chunk and block boundaries), run on the
        # worker's single Numba thread
        backend.PARALLEL_MIN_ELEMENTS = backend.PARALLEL_MIN_ELEMENTS_SHARED = 0
        backend.set_num_threads(3)
    yield request.param != "numpy"
    backend.use_numba(prev)
    backend.PARALLEL_MIN_ELEMENTS = prev_min
    backend.PARALLEL_MIN_ELEMENTS_SHARED = prev_shared
    backend.set_num_threads(prev_threads)
