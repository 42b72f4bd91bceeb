"""Shared timing helper for the side-by-side benchmarks (convnp vs torch).

Usage (import this module BEFORE numpy/torch so the thread environment takes effect)::

    from benchmarks import _timing          # or: import _timing
    _timing.pin_threads(2)
    ta, tb = _timing.compare(fn_a, fn_b, repeats=5, number=3)

Rules: warm up both; time blocks of ``number`` calls alternating A B A B ... ``repeats`` times so
drift on the machine hits both; report the minimum per call; the same
thread count for every library; never interleave the two libraries inside one timed block.
"""

from __future__ import annotations

import os
import time
from typing import Callable

_THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                "NUMBA_NUM_THREADS", "VECLIB_MAXIMUM_THREADS")


def pin_threads(n: int) -> dict:
    """Use ``n`` threads in NumPy/SciPy BLAS, torch and Numba; returns what was set.

    Environment variables only act before the libraries load, so this also uses threadpoolctl
    when installed and the libraries' own setters.
    """
    for v in _THREAD_VARS:
        os.environ[v] = str(n)
    report = {"env": n}
    try:
        import threadpoolctl

        threadpoolctl.threadpool_limits(n)
        report["threadpoolctl"] = n
    except ImportError:
        report["threadpoolctl"] = None
    try:
        import torch

        torch.set_num_threads(n)
        report["torch"] = torch.get_num_threads()
    except ImportError:
        pass
    try:
        import numba

        numba.set_num_threads(min(n, numba.config.NUMBA_NUM_THREADS))
        report["numba"] = numba.get_num_threads()
    except ImportError:
        pass
    import convnp  # after the environment: NumPy loads here

    convnp.set_num_threads(n)
    report["convnp"] = convnp.get_num_threads()
    return report


def blas_core() -> str:
    """The kernel family NumPy's OpenBLAS runs (e.g. ``Haswell`` = AVX2, ``SkylakeX`` =
    AVX-512), or ``unknown``. ``OPENBLAS_CORETYPE`` in the environment forces it; some machines
    set it for safety with old OpenBLAS builds, which halves SGEMM speed on AVX-512 CPUs."""
    import ctypes
    import glob

    import numpy as np

    libs = os.path.join(os.path.dirname(np.__file__), os.pardir, "numpy.libs")
    for path in glob.glob(os.path.join(libs, "*openblas*")):
        lib = ctypes.CDLL(path)
        for name in ("scipy_openblas_get_corename64_", "scipy_openblas_get_corename",
                     "openblas_get_corename64_", "openblas_get_corename"):
            fn = getattr(lib, name, None)
            if fn is not None:
                fn.restype = ctypes.c_char_p
                return fn().decode()
    return "unknown"


def header(threads: dict, repeats: int) -> None:
    """Print the conditions of a run: threads, repeats, Numba, BLAS kernels, load average."""
    import convnp

    forced = os.environ.get("OPENBLAS_CORETYPE")
    print(f"threads: {threads}   repeats: {repeats}   numba: {convnp.backend.use_numba()}   "
          f"OpenBLAS kernels: {blas_core()}"
          f"{f' (forced by OPENBLAS_CORETYPE={forced})' if forced else ''}   "
          f"load average: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    if os.getloadavg()[0] > (os.cpu_count() or 1):
        print("WARNING: the machine is oversubscribed; multi-threaded BLAS timings are unreliable")


def _block(fn: Callable[[], object], number: int) -> float:
    t0 = time.perf_counter()
    for _ in range(number):
        fn()
    return (time.perf_counter() - t0) / number


def compare(fn_a: Callable[[], object], fn_b: Callable[[], object], repeats: int = 5,
            number: int = 1, warmup: int = 1) -> tuple[float, float]:
    """Seconds per call (min over ``repeats`` alternating blocks of ``number`` calls) of A and B."""
    ta, tb = compare_all(fn_a, fn_b, repeats, number, warmup)
    return min(ta), min(tb)


def compare_all(fn_a: Callable[[], object], fn_b: Callable[[], object], repeats: int = 5,
                number: int = 1, warmup: int = 1) -> tuple[list[float], list[float]]:
    """Seconds per call of every one of the ``repeats`` alternating blocks, for A and for B (for
    a best and a median)."""
    for _ in range(warmup):
        fn_a()
        fn_b()
    ta, tb = [], []
    for _ in range(repeats):
        ta.append(_block(fn_a, number))
        tb.append(_block(fn_b, number))
    return ta, tb


def auto_number(fn: Callable[[], object], target_s: float = 0.05) -> int:
    """Calls per block so one block lasts about ``target_s`` (at least 1)."""
    t = _block(fn, 1)
    return max(1, int(target_s / max(t, 1e-6)))


def geomean(values) -> float:
    import math

    values = list(values)
    return math.exp(sum(math.log(v) for v in values) / len(values)) if values else float("nan")
