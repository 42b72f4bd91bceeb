"""Sliding windows: which input positions kernel tap ``t`` meets, written once.

Every windowed op (convolution, fold / unfold, pooling, the conv-matrix tool) reads a padded
input at ``o*stride + t*dilation`` for output position ``o`` and kernel tap ``t`` (``- pad_lo``
in unpadded coordinates). The helpers give that rule in the three forms the ops need:

- ``tap_slice`` / ``tap_index``: the strided slice of one axis / all spatial axes that one tap
  reads for every output (loops over kernel offsets, vectorised over outputs);
- ``patches``: a strided view with one axis per tap and per output (im2col without a copy);
- ``positions``: the coordinates as integer arrays (index maps, sparse matrices).
"""

from __future__ import annotations

from typing import Iterator, Sequence

import numpy as np
from numpy.lib.stride_tricks import as_strided


def tap_slice(t: int, d: int, s: int, out: int) -> slice:
    """The positions of a padded axis that kernel tap ``t`` reads for outputs ``0..out-1``."""
    return slice(t * d, t * d + (out - 1) * s + 1, s)


def tap_index(t: Sequence[int], s: Sequence[int], d: Sequence[int], out_sp: Sequence[int],
              lead: int = 2) -> tuple:
    """Index of the padded input values tap ``t`` meets, after ``lead`` full axes (N, C)."""
    return (slice(None),) * lead + tuple(tap_slice(t[i], d[i], s[i], out_sp[i])
                                         for i in range(len(t)))


def taps(k: Sequence[int], s: Sequence[int], d: Sequence[int], out_sp: Sequence[int],
         lead: int = 2) -> Iterator[tuple[int, tuple[int, ...], tuple]]:
    """(flat tap number, tap, ``tap_index``) for every kernel offset, in C order."""
    for j, t in enumerate(np.ndindex(*k)):
        yield j, t, tap_index(t, s, d, out_sp, lead)


def patches(xp: np.ndarray, k, s, d, out_sp, groups: int = 1,
            writeable: bool = False) -> np.ndarray:
    """Strided view (g, Cg, *k, B, *out) of the windows of ``xp`` (B, C, *Sp), any strides."""
    B, C = xp.shape[:2]
    st = xp.strides
    cg = C // groups
    nd = len(k)
    shape = (groups, cg, *k, B, *out_sp)
    strides = (cg * st[1], st[1], *(d[i] * st[2 + i] for i in range(nd)), st[0],
               *(s[i] * st[2 + i] for i in range(nd)))
    return as_strided(xp, shape, strides, writeable=writeable)


def positions(k, s, d, p_lo, out_sp) -> list[np.ndarray]:
    """Per-axis input coordinates ``o*s - p_lo + t*d`` broadcast to shape (*out, *k)."""
    n = len(k)
    pos = []
    for i in range(n):
        o = np.arange(out_sp[i]).reshape([-1 if j == i else 1 for j in range(n)] + [1] * n)
        t = np.arange(k[i]).reshape([1] * n + [-1 if j == i else 1 for j in range(n)])
        pos.append(o * s[i] - p_lo[i] + t * d[i])
    return [np.broadcast_to(p, tuple(out_sp) + tuple(k)) for p in pos]
