"""Test-session settings.

The suite runs as ``pytest -n 2`` on 2 cores: each worker gets ONE BLAS/OpenMP/Numba thread, so
two workers never oversubscribe the machine (OpenBLAS's threaded GEMMs slow down 10-30x when they
compete for cores). These variables must be set before NumPy, Numba or torch are imported.
"""

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
