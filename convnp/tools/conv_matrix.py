"""Convolution as a matrix, and the index map "which input cells feed which output cell".

``conv_matrix`` builds M with ``conv(x).ravel() == M @ x.ravel()`` for one sample: Toeplitz in
1-d, doubly block Toeplitz in 2-d (block circulant with circular padding), and ``M.T`` applies the
transposed convolution. It is built by index arithmetic over (output position, kernel offset)
grids -- the same ``o*s - p_lo + k*d`` rule as the convolution engine -- never by looping pixels.
"""

from __future__ import annotations

import math

import numpy as np

from convnp.ops import _shape, _window
from convnp.ops import padding as _padding

__all__ = ["conv_matrix", "index_map"]

_DENSE_LIMIT = 4_000_000  # entries of a dense matrix before sparse=None switches to scipy.sparse


def _map_mode(p: np.ndarray, size: int, mode: str) -> tuple[np.ndarray, np.ndarray]:
    """Padded coordinate -> (input coordinate, valid mask): the padding mode's index map."""
    valid = (p >= 0) & (p < size) if mode == "zeros" else np.ones(p.shape, bool)
    return _padding.index_map(mode, p, size), valid


def _arr(t):
    return np.asarray(getattr(t, "array", t))


def _entries(w, sp, pads, s, d, modes, groups, out_sp):
    """(rows, cols, values) of the conv matrix's nonzero entries (repeats summed by the caller):
    one per (output channel, input channel, output position, kernel tap) that reads an input."""
    cout, cg = w.shape[:2]
    k = w.shape[2:]
    n = len(k)
    pos = _window.positions(k, s, d, [p[0] for p in pads], out_sp)
    idx, valid = [], np.ones(pos[0].shape, bool)
    for i in range(n):
        q, ok = _map_mode(pos[i], sp[i], modes[i])
        idx.append(q)
        valid &= ok
    flat_in = np.ravel_multi_index(idx, sp)                      # (*out, *k)
    flat_out = np.arange(math.prod(out_sp)).reshape(out_sp + (1,) * n)
    P_in, P_out = math.prod(sp), math.prod(out_sp)
    og = cout // groups
    co = np.arange(cout).reshape(-1, 1, 1)                       # (Cout, 1, 1)
    cl = np.arange(cg).reshape(1, -1, 1)                         # (1, Cin/g, 1)
    ci = (co // og) * cg + cl                                    # (Cout, Cin/g, 1)
    rows = co * P_out + np.broadcast_to(flat_out, pos[0].shape).reshape(1, 1, -1)
    cols = ci * P_in + flat_in.reshape(1, 1, -1)                 # (Cout, Cin/g, out*k)
    # weight values aligned with (Cout, Cin/g, out*k): tile the kernel over output positions
    vals = np.broadcast_to(w.reshape(cout, cg, 1, -1),
                           (cout, cg, P_out, math.prod(k))).reshape(cout, cg, -1)
    keep = np.broadcast_to(valid.reshape(1, 1, -1), vals.shape)
    rows = np.broadcast_to(rows, vals.shape)[keep]
    cols = np.broadcast_to(cols, vals.shape)[keep]
    vals = vals[keep]
    return rows, cols, vals


def conv_matrix(weight, input_shape, stride=1, padding=0, dilation=1, groups: int = 1,
                padding_mode="zeros", sparse: bool | None = None):
    """The matrix of a convolution: ``conv(x)[0].ravel() == M @ x[0].ravel()``.

    Args:
        weight (Tensor or ndarray): ``(C_out, C_in/groups, *kernel)`` (the conv layer's weight).
        input_shape (tuple): one sample's shape ``(C_in, *spatial)`` (or just the spatial sizes).
        stride, padding, dilation, groups, padding_mode: as ``conv{1,2,3}d`` (padding may be
            'same'/'valid'/'causal' or (lo, hi) pairs; padding_mode one of the convolutions'
            modes, ``convnp.ops.padding.CONV_PADDING_MODES``, or one per axis).
        sparse (bool or None): return a ``scipy.sparse.csr_matrix``; None chooses sparse when
            the dense matrix would exceed 4 million entries.

    Returns:
        M of shape ``(C_out*prod(out), C_in*prod(in))``; ``M.T @ g.ravel()`` is the transposed
        convolution (the input gradient) of ``g``.

    Shape:
        In 1-d with one channel M is Toeplitz: ``M[o, o*s - p + j*d] = w[j]``; in 2-d it is
        doubly block Toeplitz; with ``padding_mode='circular'`` and stride 1, (block) circulant.

    Example::

        >>> conv_matrix(np.array([[[1., 2., 3.]]]), (1, 5))
        array([[1., 2., 3., 0., 0.],
               [0., 1., 2., 3., 0.],
               [0., 0., 1., 2., 3.]])
    """
    fn = "conv_matrix"
    w = _arr(weight)
    if w.ndim < 3:
        raise ValueError(f"{fn}: weight must have shape (C_out, C_in/groups, *kernel) with 1-3 "
                         f"spatial axes, got shape {w.shape}")
    n = w.ndim - 2
    if not isinstance(input_shape, (tuple, list)) or not all(
            _shape._is_int(v) and v > 0 for v in input_shape):
        raise ValueError(f"{fn}: input_shape must be a sequence of positive ints, got "
                         f"{input_shape!r}")
    shape = tuple(int(v) for v in input_shape)
    if len(shape) == n:
        shape = (w.shape[1] * groups,) + shape
    if len(shape) != n + 1:
        raise ValueError(f"{fn}: input_shape must be (C_in, *spatial) with {n} spatial axes for "
                         f"a weight of shape {w.shape}, got {shape}")
    cin, sp = shape[0], shape[1:]
    cout = w.shape[0]
    if not _shape._is_int(groups) or groups < 1 or cin % groups or cout % groups \
            or cin // groups != w.shape[1]:
        raise ValueError(f"{fn}: input channels {cin} and groups={groups} do not match weight "
                         f"{w.shape} (expected C_in/groups == {w.shape[1]})")
    k = w.shape[2:]
    s = _shape.ntuple(stride, n, "stride", fn, minimum=1)
    d = _shape.ntuple(dilation, n, "dilation", fn, minimum=1)
    pads = _shape.conv_padding_pairs(padding, sp, k, s, d, fn)
    modes = (padding_mode,) * n if isinstance(padding_mode, str) else tuple(padding_mode)
    if len(modes) != n or any(m not in _padding.CONV_PADDING_MODES for m in modes):
        raise ValueError(f"{fn}: padding_mode must be one of {_padding.CONV_PADDING_MODES} or "
                         f"one per axis, got {padding_mode!r}")
    _padding.check_pads(sp, pads, ["constant" if m == "zeros" else m for m in modes], fn)
    out_sp = tuple(_shape.conv_output_size(sp[i], k[i], s[i], pads[i][0], pads[i][1], d[i])
                   for i in range(n))
    if any(o < 1 for o in out_sp):
        raise ValueError(f"{fn}: the input {sp} is too small for kernel {tuple(k)} with padding "
                         f"{pads} (output size {out_sp})")
    rows, cols, vals = _entries(w, sp, pads, s, d, modes, groups, out_sp)
    shape_m = (cout * math.prod(out_sp), cin * math.prod(sp))
    if sparse is None:
        sparse = shape_m[0] * shape_m[1] > _DENSE_LIMIT
    if sparse:
        import scipy.sparse

        return scipy.sparse.coo_matrix((vals, (rows, cols)), shape=shape_m).tocsr()
    m = np.zeros(shape_m, dtype=w.dtype)
    np.add.at(m, (rows, cols), vals)  # add.at: reflect/replicate map several taps to one cell
    return m


def index_map(input_shape, kernel_size, stride=1, padding=0, dilation=1, kind: str = "conv",
              output_padding=0, ceil_mode: bool = False):
    """For each output cell, the input cells that feed it (what the animations highlight).

    Args:
        input_shape (int or tuple): spatial sizes of the input.
        kernel_size, stride, padding, dilation: the layer's settings (ints or per axis).
        kind (str): ``'conv'``, ``'pool'`` (stride defaults to the kernel, ``ceil_mode``) or
            ``'conv_transpose'`` (``output_padding``).

    Returns:
        ``(output_shape, feeds)`` where ``feeds[j]`` is an int array ``(m, n)`` of the input
        coordinates feeding output cell ``j`` (C order). For 'conv'/'pool' they are in padded
        coordinates relative to the unpadded input (negative or >= size: a padding cell); for
        'conv_transpose' only real input cells. Derived from :func:`conv_matrix` of an all-ones
        kernel on the padded grid (transposed: the columns of the forward conv's matrix).
    """
    fn = "index_map"
    sp = (int(input_shape),) if _shape._is_int(input_shape) else tuple(input_shape)
    n = len(sp)
    k = _shape.ntuple(kernel_size, n, "kernel_size", fn, minimum=1)
    if kind == "pool" and stride is None:
        stride = k
    s = _shape.ntuple(stride, n, "stride", fn, minimum=1)
    d = _shape.ntuple(dilation, n, "dilation", fn, minimum=1)
    ones = np.ones((1, 1) + k)
    if kind == "conv_transpose":
        pads = _shape.conv_padding_pairs(padding, sp, k, s, d, fn)
        op = _shape.ntuple(output_padding, n, "output_padding", fn, minimum=0)
        out_sp = tuple(_shape.conv_transpose_output_size(sp[i], k[i], s[i], pads[i][0],
                                                         pads[i][1], d[i], op[i])
                       for i in range(n))
        # the forward conv maps out_sp -> sp (its extra trailing rows come from output_padding)
        m = conv_matrix(ones, (1,) + out_sp, s, pads, d, sparse=False)
        feeds = [np.argwhere(m[:, j].reshape(sp) != 0) for j in range(m.shape[1])]
        return out_sp, feeds
    if kind == "pool":
        p = _shape.ntuple(padding, n, "padding", fn, minimum=0)
        pads = tuple((pp, pp) for pp in p)
        out_sp = tuple(_shape.pool_output_size(sp[i], k[i], s[i], p[i], d[i], ceil_mode)
                       for i in range(n))
    elif kind == "conv":
        pads = _shape.conv_padding_pairs(padding, sp, k, s, d, fn)
        out_sp = tuple(_shape.conv_output_size(sp[i], k[i], s[i], pads[i][0], pads[i][1], d[i])
                       for i in range(n))
    else:
        raise ValueError(f"{fn}: kind must be 'conv', 'pool' or 'conv_transpose', got {kind!r}")
    # the padded grid, large enough for every window (ceil_mode may reach past the right pad)
    padded = tuple(max(sp[i] + pads[i][0] + pads[i][1],
                       (out_sp[i] - 1) * s[i] + d[i] * (k[i] - 1) + 1) for i in range(n))
    m = conv_matrix(ones, (1,) + padded, s, 0, d, sparse=False)
    full = tuple(_shape.conv_output_size(padded[i], k[i], s[i], 0, 0, d[i]) for i in range(n))
    m = m.reshape(full + padded)[tuple(slice(0, o) for o in out_sp)].reshape((-1,) + padded)
    lo = np.array([p[0] for p in pads])
    feeds = [np.argwhere(m[j] != 0) - lo for j in range(m.shape[0])]
    return out_sp, feeds
