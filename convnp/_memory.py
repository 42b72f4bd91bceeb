"""Keep freed memory in the process (glibc ``mallopt``), so a training step's large temporaries
reuse warm pages instead of faulting fresh ones in.

glibc serves allocations above a dynamic threshold (128 KiB at start) with ``mmap`` and gives
them back to the kernel on ``free``; the next step's array of the same size then takes a page
fault on every 4 KiB page it touches. convnp's ops allocate their outputs and gradients fresh
(NumPy style), so on a VM, where page faults are expensive, a small network's training step can
spend a large part of its time faulting pages in. Raising the mmap threshold to 32 MiB and the
trim threshold to 1 GiB keeps those pages with the process (figures: docs/performance.md).

The setting is process-wide: freed memory (up to the trim threshold) stays with the process for
reuse instead of returning to the system at once. ``CONVNP_KEEP_FREED_MEMORY=0`` before importing
convnp leaves glibc's defaults alone. Nothing happens on other C libraries (macOS, Windows,
musl).
"""

from __future__ import annotations

import os

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 << 20  # glibc's upper limit for this setting on 64-bit
TRIM_THRESHOLD = 1 << 30

applied = False


def keep_freed_memory(environ=os.environ) -> bool:
    """Apply the thresholds once; True when glibc accepted them."""
    global applied
    if applied or environ.get("CONVNP_KEEP_FREED_MEMORY", "1") == "0":
        return applied
    import ctypes
    import platform

    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
        ok = (libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1
              and libc.mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1)
    except (OSError, AttributeError):
        return False
    applied = ok
    return ok
