"""Shared pieces of the convolution kernels: reused workspaces, batch chunking, padded buffers."""

from __future__ import annotations

import math
import threading

import numpy as np

# bytes of packed patch data per batch chunk: 1-8 MB stays in L2/L3
_BUDGET = 4 << 20

# reused flat buffers (fresh large allocations page-fault on every call), one set per thread:
# two threads running convolutions at once never share a scratch buffer
_WS = threading.local()


def _workspace(name: str, size: int, dtype) -> np.ndarray:
    """A flat reused buffer of at least ``size`` elements (contents undefined), per thread."""
    bufs = getattr(_WS, "bufs", None)
    if bufs is None:
        bufs = _WS.bufs = {}
    key = (name, np.dtype(dtype).str)
    buf = bufs.get(key)
    if buf is None or buf.size < size:
        buf = np.empty(max(size, 1), dtype)
        bufs[key] = buf
    return buf[:size]


def _chunk_size(n: int, per_item_bytes: int, budget: int | None = None) -> int:
    budget = _BUDGET if budget is None else budget
    return max(1, min(n, budget // max(per_item_bytes, 1)))


def _interior_sl(sp, pads) -> tuple:
    """Index of the unpadded interior inside a padded (B, C, *Sp) array."""
    return (slice(None), slice(None)) + tuple(slice(lo, lo + n) for (lo, _), n in zip(pads, sp))


def _padded_buffer(name, b, C, sp, pads, dtype) -> np.ndarray:
    """Zeroed reused (b, C, *Sp) buffer; its border stays zero while chunks fill the interior."""
    Sp = padded_shape(sp, pads)
    buf = _workspace(name, b * C * math.prod(Sp), dtype).reshape(b, C, *Sp)
    buf.fill(0)
    return buf


def _gy_chunk(gy, n0, b, groups, name) -> np.ndarray:
    """gy[n0:n0+b] (b, O, *out) as a (g, Og, b*P) matrix (a copy through a workspace if b > 1)."""
    O = gy.shape[1]
    P = math.prod(gy.shape[2:])
    og = O // groups
    g4 = gy[n0:n0 + b].reshape(b, groups, og, P)
    if b == 1:
        return g4[0]
    buf = _workspace(name, groups * og * b * P, gy.dtype).reshape(groups, og, b, P)
    np.copyto(buf, g4.transpose(1, 2, 0, 3))
    return buf.reshape(groups, og, b * P)


def _no_pad(pads) -> bool:
    return not any(lo or hi for lo, hi in pads)


def padded_shape(sp, pads) -> tuple:
    return tuple(n + lo + hi for n, (lo, hi) in zip(sp, pads))


def flat_strides(Sp) -> tuple:
    """Element strides of a C-contiguous grid of shape ``Sp``."""
    return tuple(math.prod(Sp[i + 1:]) for i in range(len(Sp)))


def _image_chunks(N, per_image, per_row, rows, budget) -> tuple[int, int]:
    """(images per chunk, output rows per chunk) keeping a chunk's patch matrix within
    ``budget`` bytes: whole images while one fits, else one image's blocks of rows."""
    if per_image <= budget:
        return _chunk_size(N, per_image, budget), rows
    return 1, max(1, budget // per_row)


def _dual_weight(w, groups) -> np.ndarray:
    """Weight of the convolution that computes a stride-1 conv's input gradient:
    channels swapped within each group, kernel flipped. (O, Cg, *k) -> (C, Og, *k)."""
    O, cg = w.shape[:2]
    k = w.shape[2:]
    og = O // groups
    wt = w.reshape(groups, og, cg, *k).swapaxes(1, 2).reshape(groups * cg, og, *k)
    return np.ascontiguousarray(_flip(wt))


def _flip(w: np.ndarray) -> np.ndarray:
    """The kernel reversed along every spatial axis."""
    return w[(slice(None), slice(None)) + (slice(None, None, -1),) * (w.ndim - 2)]


def _pad_zero(x, pads) -> np.ndarray:
    """A zero-padded copy of ``x`` (``x`` itself without padding)."""
    if _no_pad(pads):
        return x
    xp = np.zeros(x.shape[:2] + padded_shape(x.shape[2:], pads), x.dtype)
    xp[_interior_sl(x.shape[2:], pads)] = x
    return xp
