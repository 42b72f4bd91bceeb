"""The one place that picks a convolution kernel for a call.

``select(op, geometry, dtype, threads)`` returns the ``Kernel`` that runs ``op`` ('fwd',
'bwd_data' or 'bwd_weight') for a zero-padded convolution of that geometry; ``conv_fwd``,
``conv_bwd_data`` and ``conv_bwd_weight`` build the geometry, select and run. Every kernel is
listed in ``KERNELS`` with the geometries it can compute (``accepts``); ``select`` adds the
measured preferences (which one is fastest where several can). ``force`` pins a kernel for the
tests, which run every kernel that accepts a case against the reference.

A further backend (CuPy arrays, say) plugs in here: a ``Kernel`` table of its own and a branch
at the top of ``select`` on the array type; nothing above this module changes.
"""

from __future__ import annotations

import contextlib
import functools
import math
from typing import Callable, NamedTuple

import numpy as np

from convnp import _blas, backend
from convnp.kernels.conv import _common, chunked, depthwise, gemm, grid, shift, winograd
from convnp.kernels.conv._common import _dual_weight, _no_pad
from convnp.ops import _shape

__all__ = ["Geometry", "Kernel", "KERNELS", "select", "force", "register", "conv_fwd",
           "conv_bwd_data", "conv_bwd_weight"]

# Few-channel stride-1 layers run the direct grid loops instead of thin GEMMs up to this work:
_GRID_DIRECT_FWD_MAX = 256   # O * Cg * K at most: forward (LeNet C1: 6 * 25 = 150)
_GRID_DIRECT_BWDW_MAX = 64   # Cg * K at most: weight gradient (LeNet C1 25, an RGB 3x3 stem 27)
# ... against the chunk-parallel kernels the direct weight-gradient loop only wins when the
# outputs are few too: then the forward's O * Cg * K limit applies.
# Stride-1 layers with patches of this many rows (C * taps) whose padded grid has this many
# products per output take the gathered patches instead of the grid (VGG's 4x4 and 2x2 maps)
_GATHER_MIN_ROWS = 1024
_GATHER_MIN_WASTE = 1.15
_IM2COL_MAX_OUTPUTS = 32  # ... and forwards with this few outputs per channel in all, one GEMM
# ... or, with fewer images than threads, this few outputs and a weight of this many values at
# least (alternated, 2 threads, batch 1: 512 -> 512 channels on 7x7 2.2 against the gathered
# patches' 3.8 ms, 256 -> 512 stride 2 to 7x7 1.0 against 1.9; 256 -> 256 on 8x8, 0.6M
# values, stays with the patches: 0.72 against 0.55 ms; on one thread the patches win all three)
_IM2COL_MAX_OUTPUTS_BIG_WEIGHT = 64
_IM2COL_BIG_WEIGHT = 1 << 20
# Winograd F(2x2, 3x3) for 3x3 stride-1 layers from this many input and output channels, output
# maps from 12x12 (3-d: slices from 8x8) and this many tile columns in all (measured in
# docs/performance.md: on 8x8 and 7x7 maps the direct 2-d kernels stay faster)
_WINOGRAD_MIN_CHANNELS = 8
_WINOGRAD_MIN_SIDE_ND = {2: 12, 3: 8}  # planes of a 3x3x3: transforms cost a third
_WINOGRAD_MIN_COLUMNS = 256
# Shifted GEMMs (no patch matrix) where the products their grid adds cost less than the patch
# copies they save: each extra grid position costs a GEMM column of O products, each saved copy
# one value per tap and channel, so they pay while O * (waste - 1) stays under this (alternated
# kernel timings, 2 threads: 64 channels on 8x8 at batch 128, waste 1.27, forward 8.1 -> 5.5 ms,
# and LeNet's C3, 16 outputs at waste 1.96, weight gradient 1.29 -> 0.80 ms, win; 256 channels
# on 14x14 at batch 1, waste 1.15, 1.4 -> 2.4 ms, and 256 outputs of a 4x4 stride-2 layer on 8x8,
# 1.27, 16.5 -> 19.8 ms, lose). With fewer images than threads each GEMM has one image's grid
# as columns: at least this many per input channel, or the one deep patch GEMM of the chunk
# kernels wins.
_SHIFT_MAX_EXTRA = 24
_SHIFT_MIN_COLUMNS_PER_CHANNEL = 2
# (input channels, output channels) at least, per op: a forward with one input channel is an
# outer product per tap, slower than the patches (LeNet C1: the direct loops)
_SHIFT_MIN_CHANNELS = {"fwd": (3, 4), "bwd_data": (1, 4), "bwd_weight": (1, 1)}
# ... and in place of Winograd's 2-d forward from 16 up to 32 channels, where its transforms cost
# as much as its 16 GEMMs (ResNet-20's 16- and 32-channel stages: 8-35 % faster)
_SHIFT_OVER_WINOGRAD_CHANNELS = 32
_SHIFT_OVER_WINOGRAD_MIN_CHANNELS = 16


class Geometry(NamedTuple):
    """A zero-padded convolution x (N, C, *sp) * w (O, C/groups, *k) -> y (N, O, *out_sp)."""

    N: int
    C: int
    O: int
    sp: tuple
    k: tuple
    out_sp: tuple
    pads: tuple
    s: tuple
    d: tuple
    groups: int

    @property
    def K(self) -> int:
        return math.prod(self.k)

    @property
    def stride1(self) -> bool:
        return all(v == 1 for v in self.s)

    @property
    def unpadded(self) -> bool:
        return _no_pad(self.pads)

    @property
    def dense(self) -> bool:
        """One window covering the whole unpadded input, one group: a fully connected layer."""
        return (self.groups == 1 and self.unpadded and tuple(self.k) == tuple(self.sp)
                and all(v == 1 for v in self.d))

    @property
    def depthwise(self) -> bool:
        return self.groups == self.C and self.groups > 1

    def sizes(self) -> dict:
        """Element counts of the three operands."""
        return {"x": self.N * self.C * math.prod(self.sp),
                "w": self.O * (self.C // self.groups) * self.K,
                "y": self.N * self.O * math.prod(self.out_sp)}

    def dual(self) -> "Geometry":
        """The stride-1 full correlation of gy with the dual weight that is this (stride-1)
        convolution's input gradient."""
        dp = grid.dual_pads(self.sp, self.k, self.d, self.pads, self.out_sp)
        return Geometry(self.N, self.O, self.C, self.out_sp, self.k, self.sp, dp, self.s,
                        self.d, self.groups)


# operands of each op: which arrays the chunk kernels need non-empty
_OPERANDS = {"fwd": ("x", "w"), "bwd_data": ("y", "w"), "bwd_weight": ("x", "y")}
_FLOATS = (np.float32, np.float64)


def _chunked_ok(op, g: Geometry, dtype) -> bool:
    """Can the chunk-parallel kernels run (on any thread count)? groups = 1, non-empty
    float32/64 operands, Numba on and NumPy's OpenBLAS drivable single-threaded."""
    n = g.sizes()
    return (g.groups == 1 and all(n[a] > 0 for a in _OPERANDS[op]) and dtype in _FLOATS
            and _blas.available())


def _direct_ok(g: Geometry, dtype) -> bool:
    """Can the compiled direct grid loops run? stride 1, groups = 1, Numba, float32/64."""
    return g.stride1 and g.groups == 1 and backend.use_numba() and dtype in _FLOATS


def _direct_pays(g: Geometry, dtype) -> bool:
    """Few channels: the direct grid loops' forward beats a thin GEMM (LeNet's C1)."""
    return _direct_ok(g, dtype) and g.O * g.C * g.K <= _GRID_DIRECT_FWD_MAX


def _winograd_ok(g: Geometry, dtype) -> bool:
    """Can F(2x2, 3x3) run? 3x3 or 3x3x3, stride 1, dilation 1, groups 1, pads >= 0, and what
    the chunk kernels need (it runs the same way: per-thread runs of tiles calling BLAS)."""
    return (winograd.accepts(g.k, g.s, g.d, g.groups, g.pads)
            and _chunked_ok("fwd", g, dtype) and g.sizes()["y"] > 0)


def _winograd_pays(g: Geometry, dtype) -> bool:
    """Few channels: the transforms dominate; small maps or few tiles in all: the padding
    column of every tile row and the 16 GEMMs' fixed costs do."""
    if len(g.out_sp) not in (2, 3) or min(g.out_sp[-2:]) < _WINOGRAD_MIN_SIDE_ND[len(g.k)]:
        return False
    columns = (g.N * math.prod(g.out_sp[:-2]) * -(-g.out_sp[-2] // 2)
               * (-(-g.out_sp[-1] // 2) + 1))
    return (columns >= _WINOGRAD_MIN_COLUMNS and g.C >= _WINOGRAD_MIN_CHANNELS
            and g.O >= _WINOGRAD_MIN_CHANNELS and _winograd_ok(g, dtype))


def _shift_ok(op, g: Geometry, dtype) -> bool:
    """Can the shifted GEMMs run? groups 1, pads >= 0, what the chunk kernels need."""
    return all(lo >= 0 and hi >= 0 for lo, hi in g.pads) and _chunked_ok(op, g, dtype)


def _shift_pays(op, g: Geometry, dtype, threads) -> bool:
    """A kernel with several taps, enough channels, a grid whose extra products cost less than
    the copies saved; the gradients also want an image per thread (their items are whole
    images), the batch-1 forward enough columns per input channel."""
    if g.N < threads and (op != "fwd" or shift.grid_size(g.sp, g.pads, g.k, g.s, g.d)
                          < _SHIFT_MIN_COLUMNS_PER_CHANNEL * g.C):
        return False
    min_c, min_o = _SHIFT_MIN_CHANNELS[op]
    return (g.K > 1 and g.C >= min_c and g.O >= min_o
            and g.O * (shift.waste(g.sp, g.pads, g.k, g.d, g.s) - 1) <= _SHIFT_MAX_EXTRA
            and _shift_ok(op, g, dtype))


def _numba(g, dtype) -> bool:
    """Are the compiled kernels on?"""
    return backend.use_numba()


def col2im_cheaper(C, O, sp, out_sp, dpads) -> bool:
    """Stride-1 input gradient: is GEMM + col2im cheaper than the dual conv on the padded grid?

    Per kernel tap, the dual conv copies O rows of the padded gy grid (about prod(sp + pads)
    long) and col2im adds C rows of prod(out) values (a strided read-add-write, ~3x a copy).
    When the output is much smaller than the input (a 5x5 kernel on a 5x5 map, LeNet's C5;
    valid convs on small maps) col2im moves far less data and its GEMM is not C rows thin."""
    grid_size = math.prod(n + lo + hi for n, (lo, hi) in zip(out_sp, dpads))
    return 3 * C * math.prod(out_sp) < O * grid_size


# ---------------------------------------------------------------------------------------------
# the kernels, with one calling convention per op:
#   fwd(x, w, g, bias) -> y (bias added)   bwd_data(gy, w, g) -> gx   bwd_weight(x, gy, g) -> gw
# ---------------------------------------------------------------------------------------------
class Kernel(NamedTuple):
    """One way to compute ``op``: ``accepts(geometry, dtype)`` says whether it can (``select``
    knows where it is fastest), ``run`` computes it."""

    name: str
    op: str
    accepts: Callable[[Geometry, np.dtype], bool]
    run: Callable


def _with_bias(fn):
    def run(x, w, g, bias):
        y = fn(x, w, g)
        if bias is not None:
            y += bias.reshape((1, -1) + (1,) * (y.ndim - 2))
        return y
    return run


def _any_ok(g, dtype) -> bool:
    return True


def _table() -> dict[str, dict[str, Kernel]]:
    t = {"fwd": [
        Kernel("im2col", "fwd", _any_ok, _with_bias(
            lambda x, w, g: gemm.im2col_fwd(x, w, g.pads, g.s, g.d, g.groups, g.out_sp))),
        Kernel("dense", "fwd", lambda g, dt: g.dense, _with_bias(
            lambda x, w, g: gemm.dense_fwd(x, w))),
        Kernel("1x1", "fwd", lambda g, dt: g.K == 1 and g.unpadded, _with_bias(
            lambda x, w, g: gemm.conv1x1_fwd(x, w, g.s, g.groups, g.out_sp))),
        Kernel("depthwise", "fwd", lambda g, dt: g.depthwise and _numba(g, dt), _with_bias(
            lambda x, w, g: depthwise.dw_fwd_nb(x, w, g.pads, g.s, g.d, g.out_sp))),
        Kernel("depthwise-numpy", "fwd", lambda g, dt: g.depthwise, _with_bias(
            lambda x, w, g: depthwise.dw_fwd_np(x, w, g.pads, g.s, g.d, g.out_sp))),
        Kernel("grid-gemm", "fwd", lambda g, dt: g.stride1, lambda x, w, g, b: grid.grid_fwd(
            x, w, g.pads, g.d, g.groups, g.out_sp, b)),
        Kernel("grid-direct", "fwd", _direct_ok, lambda x, w, g, b: grid.grid_fwd(
            x, w, g.pads, g.d, g.groups, g.out_sp, b, direct=True)),
        Kernel("grid-chunked", "fwd", lambda g, dt: g.stride1 and _chunked_ok("fwd", g, dt),
               lambda x, w, g, b: chunked.grid_fwd_chunked(x, w, g.pads, g.d, g.out_sp, b,
                                                           backend.team())),
        Kernel("gather-chunked", "fwd", lambda g, dt: _chunked_ok("fwd", g, dt),
               lambda x, w, g, b: chunked.gather_fwd_chunked(x, w, g.pads, g.s, g.d, g.out_sp,
                                                             b, backend.team())),
        Kernel("shift", "fwd", lambda g, dt: _shift_ok("fwd", g, dt),
               lambda x, w, g, b: shift.shift_fwd(x, w, g.pads, g.s, g.d, b, backend.team())),
        Kernel("winograd", "fwd", _winograd_ok, lambda x, w, g, b: (
            winograd.wino_fwd if len(g.k) == 2 else winograd.wino3_fwd)(
                x, w, g.pads, g.out_sp, b, backend.team())),
    ], "bwd_data": [
        Kernel("col2im", "bwd_data", _any_ok, lambda gy, w, g: gemm.col2im_bwd_data(
            gy, w, (g.N, g.C, *g.sp), g.pads, g.s, g.d, g.groups)),
        Kernel("dense", "bwd_data", lambda g, dt: g.dense,
               lambda gy, w, g: gemm.dense_bwd_data(gy, w, (g.N, g.C, *g.sp))),
        Kernel("1x1", "bwd_data", lambda g, dt: (g.K == 1 and g.unpadded and g.stride1
                                                 and tuple(g.out_sp) == tuple(g.sp)),
               lambda gy, w, g: gemm.conv1x1_bwd_data(gy, w, (g.N, g.C, *g.sp), g.groups)),
        Kernel("depthwise", "bwd_data", lambda g, dt: g.depthwise and _numba(g, dt),
               lambda gy, w, g: depthwise.dw_bwd_data_nb(gy, w, (g.N, g.C, *g.sp), g.pads,
                                                         g.s, g.d)),
        Kernel("depthwise-numpy", "bwd_data", lambda g, dt: g.depthwise,
               lambda gy, w, g: depthwise.dw_bwd_data_np(gy, w, (g.N, g.C, *g.sp), g.pads,
                                                         g.s, g.d)),
        Kernel("dual-grid", "bwd_data", lambda g, dt: g.stride1 and all(
            lo >= 0 and hi >= 0 for lo, hi in g.dual().pads),
            lambda gy, w, g: _stride1_fwd(gy, _dual_weight(w, g.groups), g.dual().pads, g.d,
                                         g.groups, g.sp)),
        Kernel("polyphase", "bwd_data", lambda g, dt: all(v == 1 for v in g.d),
               lambda gy, w, g: grid.polyphase_bwd_data(
                   gy, w, (g.N, g.C, *g.sp), g.pads, g.s, g.groups, _stride1_fwd)),
        Kernel("shift", "bwd_data", lambda g, dt: _shift_ok("bwd_data", g, dt),
               lambda gy, w, g: shift.shift_bwd_data(gy, w, (g.N, g.C, *g.sp), g.pads, g.s,
                                                     g.d, backend.team())),
        Kernel("col2im-chunked", "bwd_data", lambda g, dt: _chunked_ok("bwd_data", g, dt),
               lambda gy, w, g: chunked.col2im_bwd_data_chunked(
                   gy, w, (g.N, g.C, *g.sp), g.pads, g.s, g.d, backend.team())),
    ], "bwd_weight": [
        Kernel("im2col", "bwd_weight", _any_ok, lambda x, gy, g: gemm.im2col_bwd_weight(
            x, gy, g.k, g.pads, g.s, g.d, g.groups)),
        Kernel("dense", "bwd_weight", lambda g, dt: g.dense,
               lambda x, gy, g: gemm.dense_bwd_weight(x, gy)),
        Kernel("1x1", "bwd_weight", lambda g, dt: (g.K == 1 and g.unpadded and g.stride1
                                                   and g.sizes()["x"] > 0 and g.sizes()["y"] > 0),
               lambda x, gy, g: gemm.conv1x1_bwd_weight(x, gy, g.groups)),
        Kernel("depthwise", "bwd_weight", lambda g, dt: g.depthwise and _numba(g, dt),
               lambda x, gy, g: depthwise.dw_bwd_weight_nb(x, gy, g.k, g.pads, g.s, g.d)),
        Kernel("depthwise-numpy", "bwd_weight", lambda g, dt: g.depthwise,
               lambda x, gy, g: depthwise.dw_bwd_weight_np(x, gy, g.k, g.pads, g.s, g.d)),
        Kernel("grid-gemm", "bwd_weight", lambda g, dt: g.stride1,
               lambda x, gy, g: grid.grid_bwd_weight(x, gy, g.k, g.pads, g.d, g.groups)),
        Kernel("grid-direct", "bwd_weight", _direct_ok, lambda x, gy, g: grid.grid_bwd_weight(
            x, gy, g.k, g.pads, g.d, g.groups, direct=True)),
        Kernel("grid-chunked", "bwd_weight",
               lambda g, dt: g.stride1 and _chunked_ok("bwd_weight", g, dt),
               lambda x, gy, g: chunked.grid_bwd_weight_chunked(x, gy, g.k, g.pads, g.d,
                                                                backend.team())),
        Kernel("gather-chunked", "bwd_weight", lambda g, dt: _chunked_ok("bwd_weight", g, dt),
               lambda x, gy, g: chunked.gather_bwd_weight_chunked(x, gy, g.k, g.pads, g.s, g.d,
                                                                  backend.team())),
        Kernel("shift", "bwd_weight", lambda g, dt: _shift_ok("bwd_weight", g, dt),
               lambda x, gy, g: shift.shift_bwd_weight(x, gy, g.k, g.pads, g.s, g.d,
                                                       backend.team())),
        Kernel("winograd", "bwd_weight", _winograd_ok, lambda x, gy, g: (
            winograd.wino_bwd_weight if len(g.k) == 2 else winograd.wino3_bwd_weight)(
                x, gy, g.pads, backend.team())),
    ]}
    return {op: {k.name: k for k in ks} for op, ks in t.items()}


KERNELS = _table()
_FORCED: dict[str, str] = {}


def register(kernel: Kernel) -> None:
    """Add (or replace) a kernel in the table (``convnp.ops.conv`` registers its reference)."""
    KERNELS[kernel.op][kernel.name] = kernel
    _CHOSEN.clear()


@contextlib.contextmanager
def force(op: str, name: str):
    """Run every ``op`` through kernel ``name`` inside the block (tests); inner stride-1
    problems (dual grid, polyphase phases) still choose their own grid kernel."""
    if name not in KERNELS[op]:
        raise ValueError(f"force: no {op} kernel {name!r}; kernels: {sorted(KERNELS[op])}")
    prev = _FORCED.get(op)
    _FORCED[op] = name
    try:
        yield
    finally:
        if prev is None:
            _FORCED.pop(op, None)
        else:
            _FORCED[op] = prev


_CHOSEN: dict = {}  # (op, geometry, dtype, threads, numba on) -> kernel name


def select(op: str, g: Geometry, dtype, threads: int) -> Kernel:
    """The kernel that runs ``op`` for geometry ``g`` with ``dtype`` on ``threads`` threads."""
    dtype = np.dtype(dtype).type
    forced = _FORCED.get(op)
    if forced is not None:
        kern = KERNELS[op][forced]
        if not kern.accepts(g, dtype):
            raise ValueError(f"select: the forced {op} kernel {forced!r} cannot run {g}")
        return kern
    # a training loop asks the same few questions every step: remember the answers
    key = (op, g, dtype, threads, backend.use_numba())
    name = _CHOSEN.get(key)
    if name is None:
        if len(_CHOSEN) > 4096:
            _CHOSEN.clear()
        name = _CHOSEN[key] = _choose(op, g, dtype, threads)
    return KERNELS[op][name]


def _choose(op: str, g: Geometry, dtype, threads: int) -> str:
    """The name of the kernel ``select`` returns (the measured preferences)."""
    if g.depthwise:  # one input channel per group: tap loops per channel plane, every op
        return "depthwise" if backend.use_numba() else "depthwise-numpy"
    if g.dense and g.K > 1:  # the window covers the input: a fully connected layer, one GEMM
        return "dense"
    if op != "bwd_weight" and KERNELS[op]["1x1"].accepts(g, dtype):  # a plain GEMM
        return "1x1"
    pick = {"fwd": _pick_fwd, "bwd_data": _pick_bwd_data, "bwd_weight": _pick_bwd_weight}[op]
    return pick(g, dtype, threads)


def _grid_waste(g: Geometry) -> float:
    """How many products the padded-grid kernels compute per real output: they run over the
    flat padded grid from the first output to the last, the padding columns between rows
    included (1.06 on a padded 32x32 map, 1.22 on 8x8, 1.5 on 2x2)."""
    fst = _common.flat_strides(_common.padded_shape(g.sp, g.pads))
    run = sum((n - 1) * d * st for n, d, st in zip(g.out_sp, (1,) * len(fst), fst)) + 1
    return run / max(1, math.prod(g.out_sp))


def _gather_beats_grid(g: Geometry, dtype, op: str) -> bool:
    """Small maps, many channels: the gathered patches (exactly one column per output) beat the
    padded grid's contiguous copies once the GEMM, not the copy, is the work."""
    return (g.C * g.K >= _GATHER_MIN_ROWS and _grid_waste(g) >= _GATHER_MIN_WASTE
            and _chunked_ok(op, g, dtype))


def _pick_fwd(g: Geometry, dtype, threads) -> str:
    P = g.N * math.prod(g.out_sp)
    if g.groups == 1 and g.C * g.K >= _GATHER_MIN_ROWS and _blas.available() and (
            P <= _IM2COL_MAX_OUTPUTS
            or (threads > 1 and g.N < threads and P <= _IM2COL_MAX_OUTPUTS_BIG_WEIGHT
                and g.O * g.C * g.K >= _IM2COL_BIG_WEIGHT)):
        # a few outputs from a large weight (batch-1 inference, VGG's 4x4 and 2x2 maps,
        # ResNet-18's 7x7 stage): one GEMM whose threads split the output channels, so each
        # reads its share of the weight; the chunk kernels would give one image to one thread
        return "im2col"
    if (threads == 1 and len(g.k) == 1 and g.N == 1 and g.groups == 1 and g.K > 1
            and _blas.available() and not _direct_pays(g, dtype)):
        # one sequence on one thread: its compiled patch pass and one deep GEMM beat the shifted
        # GEMMs, whose depth is the channels alone (32 -> 64 channels, 5 taps, length 512:
        # 126 against 148 us, alternated); on two threads the shifted GEMMs' split of the output
        # channels wins (88 against 144 us)
        return "im2col"
    if g.stride1:
        name = _grid_name(g, dtype, threads)
        if name == "grid-chunked" and _gather_beats_grid(g, dtype, "fwd"):
            return "gather-chunked"
        return name
    if _shift_pays("fwd", g, dtype, threads):  # strided: one layout per phase, no patches
        return "shift"
    return "gather-chunked" if _chunked_ok("fwd", g, dtype) else "im2col"


def _pick_bwd_data(g: Geometry, dtype, threads) -> str:
    if g.stride1:
        # the input gradient is a full correlation of gy with the dual weight (duals reuse
        # each other); valid when the padding does not exceed the kernel extent
        dual = g.dual()
        dp = dual.pads
        if all(lo >= 0 and hi >= 0 for lo, hi in dp) and (
                _winograd_pays(dual, dtype)  # the dual runs Winograd: fewer products
                or not (col2im_cheaper(g.C, g.O, g.sp, g.out_sp, dp)
                        or _gather_beats_grid(dual, dtype, "fwd"))):
            return "dual-grid"
    if _shift_pays("bwd_data", g, dtype, threads):
        # the adjoint GEMMs into the (per-phase) grids, read back once: no col2im scatter-add
        return "shift"
    if (not g.stride1 and all(v == 1 for v in g.d) and g.K > 1
            and not _chunked_ok("bwd_data", g, dtype)):
        # strided: with the chunk kernels, one parallel GEMM + scatter beats the s^n phases
        return "polyphase"
    return "col2im-chunked" if _chunked_ok("bwd_data", g, dtype) else "col2im"


def _pick_bwd_weight(g: Geometry, dtype, threads) -> str:
    chunked_ok = _chunked_ok("bwd_weight", g, dtype)
    if _winograd_pays(g, dtype):
        return "winograd"
    if g.K > 1 and _shift_pays("bwd_weight", g, dtype, threads):
        return "shift"
    if g.K > 1 and g.stride1:
        # few channels: the direct loops, unless the chunk kernels run and the outputs are many
        direct = _direct_ok(g, dtype) and (
            g.O * g.C * g.K <= _GRID_DIRECT_FWD_MAX if chunked_ok
            else g.C * g.K <= _GRID_DIRECT_BWDW_MAX)
        if direct:
            return "grid-direct"
        if _gather_beats_grid(g, dtype, "bwd_weight"):
            return "gather-chunked"
        return "grid-chunked" if chunked_ok else "grid-gemm"
    if (g.K > 1 or not g.stride1) and chunked_ok:
        return "gather-chunked"
    if KERNELS["bwd_weight"]["1x1"].accepts(g, dtype) and _blas.available() and threads > 1:
        return "1x1"  # per-image GEMMs on every thread
    return "im2col"


def _grid_name(g, dtype, threads) -> str:
    """Stride-1 forward on the padded grid: direct loops for few channels, Winograd or the
    shifted GEMMs where they pay, else the chunk-parallel kernels where they run, else a GEMM
    per chunk."""
    if _direct_pays(g, dtype):
        return "grid-direct"
    thin = (len(g.k) == 2 and _SHIFT_OVER_WINOGRAD_MIN_CHANNELS <= min(g.C, g.O)
            and max(g.C, g.O) <= _SHIFT_OVER_WINOGRAD_CHANNELS)  # 3x3x3: transforms cost a third
    if _winograd_pays(g, dtype) and not (thin and _shift_pays("fwd", g, dtype, threads)):
        return "winograd"
    if _shift_pays("fwd", g, dtype, threads):
        return "shift"
    return "grid-chunked" if _chunked_ok("fwd", g, dtype) else "grid-gemm"


def _stride1_fwd(x, w, pads, d, groups, out_sp):
    """A stride-1 zero-padded forward on the grid (the polyphase phases and the dual conv)."""
    g = geometry(x.shape, w, pads, (1,) * len(pads), d, groups, out_sp)
    dtype = np.dtype(x.dtype).type
    threads = backend.get_num_threads()
    key = ("grid", g, dtype, threads, backend.use_numba())
    name = _CHOSEN.get(key)
    if name is None:
        name = _CHOSEN[key] = _grid_name(g, dtype, threads)
    return KERNELS["fwd"][name].run(x, w, g, None)


def geometry(x_shape, w, pads, s, d, groups, out_sp=None) -> Geometry:
    """The ``Geometry`` of a forward call (``out_sp`` computed when not given)."""
    try:
        return _geometry_cached(tuple(x_shape), w.shape, pads, s, d, groups, out_sp)
    except TypeError:  # unhashable arguments (lists): build it
        return _geometry(x_shape, w.shape, pads, s, d, groups, out_sp)


def _geometry(x_shape, w_shape, pads, s, d, groups, out_sp) -> Geometry:
    sp, k = tuple(x_shape[2:]), tuple(w_shape[2:])
    if out_sp is None:
        out_sp = tuple(_shape.conv_output_size(sp[i], k[i], s[i], pads[i][0], pads[i][1], d[i])
                       for i in range(len(k)))
    return Geometry(x_shape[0], x_shape[1], w_shape[0], sp, k, tuple(out_sp),
                    tuple(tuple(p) for p in pads), tuple(s), tuple(d), groups)


_geometry_cached = functools.lru_cache(maxsize=1024)(_geometry)


def conv_fwd(x, w, pads, s, d, groups, out_sp=None, bias=None) -> np.ndarray:
    """Zero-padded cross-correlation (+ bias). x (N, C, *sp), w (O, C/g, *k) -> (N, O, *out)."""
    g = geometry(x.shape, w, pads, s, d, groups, out_sp)
    return select("fwd", g, x.dtype, backend.get_num_threads()).run(x, w, g, bias)


def conv_bwd_data(gy, w, x_shape, pads, s, d, groups) -> np.ndarray:
    """Adjoint of ``conv_fwd`` w.r.t. x: gy (N, O, *out) -> gx of ``x_shape`` (N, C, *sp)."""
    g = geometry(x_shape, w, pads, s, d, groups, gy.shape[2:])
    return select("bwd_data", g, gy.dtype, backend.get_num_threads()).run(gy, w, g)


def conv_bwd_weight(x, gy, k, pads, s, d, groups) -> np.ndarray:
    """Gradient w.r.t. the weight: x (N, C, *sp), gy (N, O, *out) -> (O, C/g, *k)."""
    g = Geometry(x.shape[0], x.shape[1], gy.shape[1], tuple(x.shape[2:]), tuple(k),
                 tuple(gy.shape[2:]), tuple(tuple(p) for p in pads), tuple(s), tuple(d), groups)
    return select("bwd_weight", g, x.dtype, backend.get_num_threads()).run(x, gy, g)
