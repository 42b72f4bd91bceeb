"""Padding: constant / reflect / replicate / circular / symmetric on any number of trailing axes.

Two layers:

- ``pad_nd`` / ``pad_nd_backward``: the raw-array core used by ``pad`` AND by the convolution
  engine (padding_mode). One preallocated output, the interior copied once, then the borders of
  each axis filled with slice copies from the already-written interior (no ``np.pad``). Every
  mode is a separable per-axis index map, so the axis order does not matter and modes may differ
  per axis (e.g. circular longitude + replicate latitude for equirectangular images).
- ``pad``: torch.nn.functional.pad's signature, pad-list convention and errors, as an autograd
  Function whose backward is the exact adjoint ``pad_nd_backward``.

Negative pads crop (PyTorch allows this for every mode); convnp crops first, then pads, which is
what PyTorch does (for circular this matters: the wrap reads the cropped data).
"""

from __future__ import annotations

import math
from typing import Callable, NamedTuple, Sequence

import numpy as np

from convnp.autograd.function import Function

__all__ = ["pad"]


# Every mode is a per-axis index map: padded coordinate p (relative to the first input value,
# so -lo..n+hi-1) -> the input coordinate it copies, in [0, n). ``pad_nd`` has slice-copy fast
# paths for some modes and applies the map itself for the others; ``pad_nd_backward`` is the
# map's adjoint (sums into the sources); the convolutions, their modules and
# ``convnp.tools.conv_matrix`` all read this table.
class PadMode(NamedTuple):
    index: Callable[[np.ndarray, int], np.ndarray] | None  # None: a constant fill
    max_pad: Callable[[int], float]  # the largest pad on one side of an axis of n values
    limit: str  # the rule ``max_pad`` states, for errors
    pad_then_crop: bool  # with negative pads: pad the uncropped axis, then crop (PyTorch)


def _reflect(p, n):  # mirror at the edge value, not repeating it: 2 1 | 0 1 2 3 | 2 1
    q = np.abs(p)
    return np.where(q > n - 1, 2 * (n - 1) - q, q)


def _symmetric(p, n):  # mirror including the edge value (NumPy's 'symmetric'): 1 0 | 0 1 2 | 2 1
    q = np.where(p < 0, -1 - p, p)
    return np.where(q > n - 1, 2 * n - 1 - q, q)


MODES: dict[str, PadMode] = {
    "constant": PadMode(None, lambda n: math.inf, "", False),
    "reflect": PadMode(_reflect, lambda n: n - 1, "must be smaller than its size {n}", True),
    "replicate": PadMode(lambda p, n: np.clip(p, 0, n - 1), lambda n: math.inf, "", True),
    "circular": PadMode(lambda p, n: p % n, lambda n: n,
                        "must not exceed its size {n} (it would wrap around more than once)",
                        False),
    "symmetric": PadMode(_symmetric, lambda n: n,
                         "must not exceed its size {n} (it would mirror more than once)", True),
}
PAD_MODES = tuple(MODES)
# the convolutions' padding_mode names: 'zeros' for constant-0, then every other mode
CONV_PADDING_MODES = ("zeros",) + tuple(m for m in PAD_MODES if m != "constant")
# PyTorch pads reflect/replicate axes first and crops afterwards (the border may read values the
# crop removes); constant and circular axes are cropped first (the wrap reads the cropped data)
_PAD_THEN_CROP = tuple(m for m, spec in MODES.items() if spec.pad_then_crop)


def _index_fn(mode: str) -> Callable[[np.ndarray, int], np.ndarray]:
    spec = MODES.get(mode)
    if spec is None or spec.index is None:
        raise ValueError(f"pad: padding mode must be one of {PAD_MODES}, got {mode!r}")
    return spec.index


def index_map(mode: str, p: np.ndarray, n: int) -> np.ndarray:
    """Input coordinate that padded coordinate ``p`` copies under ``mode`` ('zeros' and
    'constant' clip: the caller masks the positions outside [0, n))."""
    spec = MODES["constant" if mode == "zeros" else mode]
    return np.clip(p, 0, n - 1) if spec.index is None else spec.index(p, n)


def _crop(x: np.ndarray, pads: Sequence[tuple[int, int]]) -> np.ndarray:
    """View of ``x`` with the negative parts of ``pads`` cropped away."""
    first = x.ndim - len(pads)
    idx = [slice(None)] * x.ndim
    for i, (lo, hi) in enumerate(pads):
        if lo < 0 or hi < 0:
            n = x.shape[first + i]
            idx[first + i] = slice(-min(lo, 0), n + min(hi, 0))
    return x[tuple(idx)]


def conv_modes(padding_mode, n: int, fn: str = "conv") -> tuple[str, ...]:
    """A convolution's ``padding_mode`` (one of ``CONV_CONV_PADDING_MODES`` or one per spatial axis)
    as one mode name per axis."""
    if isinstance(padding_mode, str):
        modes = (padding_mode,) * n
    elif isinstance(padding_mode, (tuple, list)) and all(isinstance(m, str) for m in padding_mode):
        if len(padding_mode) != n:
            raise ValueError(f"{fn}: padding_mode needs one mode or {n} (one per spatial axis), "
                             f"got {tuple(padding_mode)!r}")
        modes = tuple(padding_mode)
    else:
        raise TypeError(f"{fn}: padding_mode must be a string or a tuple of {n} strings, got "
                        f"{padding_mode!r}")
    for m in modes:
        if m not in CONV_PADDING_MODES:
            raise ValueError(f"{fn}: padding_mode must be one of {CONV_PADDING_MODES}, got {m!r}")
    return modes


def check_pads(shape: Sequence[int], pads: Sequence[tuple[int, int]], modes: Sequence[str],
               fn: str = "pad") -> None:
    """Raise a clear error when ``pads``/``modes`` cannot be applied to the trailing axes of
    ``shape`` (reflect needs pad < size, circular pad <= size, replicate a non-empty axis)."""
    if len(pads) != len(modes):
        raise ValueError(f"{fn}: got {len(pads)} (lo, hi) pairs but {len(modes)} modes")
    if len(pads) > len(shape):
        raise ValueError(f"{fn}: cannot pad {len(pads)} trailing axes of an input with "
                         f"{len(shape)} dimensions (shape {tuple(shape)})")
    first = len(shape) - len(pads)
    for i, ((lo, hi), mode) in enumerate(zip(pads, modes)):
        ax = first + i
        n = shape[ax] + min(lo, 0) + min(hi, 0)
        if n < 0:
            raise ValueError(f"{fn}: negative padding ({lo}, {hi}) crops more than the size "
                             f"{shape[ax]} of dimension {ax} of input {tuple(shape)}")
        plo, phi = max(lo, 0), max(hi, 0)
        if mode in ("constant", "zeros"):
            continue
        if mode in _PAD_THEN_CROP:  # PyTorch pads the uncropped axis, then crops
            n = shape[ax]
        if mode not in PAD_MODES:
            raise ValueError(f"{fn}: padding mode must be one of {PAD_MODES}, got {mode!r}")
        if (plo or phi) and n == 0:
            raise ValueError(f"{fn}: {mode} padding of dimension {ax} needs a non-empty axis, "
                             f"got input {tuple(shape)}")
        limit = MODES[mode].max_pad(n)
        if plo > limit or phi > limit:
            raise ValueError(f"{fn}: {mode} padding ({lo}, {hi}) of dimension {ax} "
                             f"{MODES[mode].limit.format(n=n)} (input {tuple(shape)})")


def pad_nd(x: np.ndarray, pads: Sequence[tuple[int, int]], modes: Sequence[str] | str,
           value: float = 0.0) -> np.ndarray:
    """Pad the last ``len(pads)`` axes of ``x``; ``pads[i] = (lo, hi)`` for the i-th of them and
    ``modes[i]`` one of ``PAD_MODES``. Negative lo/hi crop.

    Raw arrays, no validation beyond what indexing needs (call ``check_pads`` first when the
    values come from a user).
    """
    pads = [(int(lo), int(hi)) for lo, hi in pads]
    if isinstance(modes, str):
        modes = (modes,) * len(pads)
    post = None
    if any(lo < 0 or hi < 0 for lo, hi in pads):
        pre = [(0, 0) if m in _PAD_THEN_CROP else p for p, m in zip(pads, modes)]
        post = [p if m in _PAD_THEN_CROP else (0, 0) for p, m in zip(pads, modes)]
        x = _crop(x, pre)
        pads = [(max(lo, 0), max(hi, 0)) for lo, hi in pads]
        if any(lo < 0 or hi < 0 for lo, hi in post):
            return np.ascontiguousarray(_crop(_pad_pos(x, pads, modes, value), post))
    return _pad_pos(x, pads, modes, value)


def _pad_pos(x: np.ndarray, pads: list[tuple[int, int]], modes: Sequence[str],
             value: float) -> np.ndarray:
    """pad_nd for non-negative pads."""
    if not any(lo or hi for lo, hi in pads):
        return x.copy()
    first = x.ndim - len(pads)
    out_shape = list(x.shape)
    for i, (lo, hi) in enumerate(pads):
        out_shape[first + i] += lo + hi
    # zero fill comes free with calloc'd memory; constant-0 borders then need no writes
    zero = value == 0 and any(m in ("constant", "zeros") for m in modes)
    out = np.zeros(out_shape, dtype=x.dtype) if zero else np.empty(out_shape, dtype=x.dtype)
    # interior: one copy
    inner = [slice(None)] * x.ndim
    for i, (lo, _hi) in enumerate(pads):
        inner[first + i] = slice(lo, lo + x.shape[first + i])
    out[tuple(inner)] = x
    # borders, axis by axis: along axis `ax` read/write the full extent of axes already padded and
    # the interior of axes not yet padded (they are filled later, from these rows)
    region = list(inner)
    for i, ((lo, hi), mode) in enumerate(zip(pads, modes)):
        ax = first + i
        n = x.shape[ax]
        region[ax] = slice(None)

        def sl(s: slice, _ax=ax) -> tuple:
            r = list(region)
            r[_ax] = s
            return tuple(r)

        if lo or hi:
            if mode == "constant" or mode == "zeros":
                if zero:
                    continue
                if lo:
                    out[sl(slice(0, lo))] = value
                if hi:
                    out[sl(slice(lo + n, lo + n + hi))] = value
            elif mode == "replicate":
                if lo:
                    out[sl(slice(0, lo))] = out[sl(slice(lo, lo + 1))]
                if hi:
                    out[sl(slice(lo + n, lo + n + hi))] = out[sl(slice(lo + n - 1, lo + n))]
            elif mode == "reflect":
                if lo:  # out[lo - k] = out[lo + k], k = 1..lo
                    out[sl(slice(0, lo))] = out[sl(slice(2 * lo, lo, -1))]
                if hi:  # out[lo + n - 1 + k] = out[lo + n - 1 - k], k = 1..hi
                    stop = lo + n - 2 - hi
                    out[sl(slice(lo + n, lo + n + hi))] = out[
                        sl(slice(lo + n - 2, stop if stop >= 0 else None, -1))]
            elif mode == "circular":
                if lo:
                    out[sl(slice(0, lo))] = out[sl(slice(n, lo + n))]
                if hi:
                    out[sl(slice(lo + n, lo + n + hi))] = out[sl(slice(lo, lo + hi))]
            else:  # any other mode: one gather through its index map per border
                index = _index_fn(mode)
                if lo:
                    out[sl(slice(0, lo))] = out[sl(lo + index(np.arange(-lo, 0), n))]
                if hi:
                    out[sl(slice(lo + n, lo + n + hi))] = out[sl(lo + index(np.arange(n, n + hi),
                                                                            n))]
    return out


def pad_nd_backward(g: np.ndarray, pads: Sequence[tuple[int, int]], modes: Sequence[str] | str,
                    input_shape: Sequence[int]) -> np.ndarray:
    """The exact adjoint of ``pad_nd``: the gradient of the padded output ``g`` folded back to an
    array of ``input_shape`` (reflected / replicated / wrapped contributions summed)."""
    pads = [(int(lo), int(hi)) for lo, hi in pads]
    if isinstance(modes, str):
        modes = (modes,) * len(pads)
    first = g.ndim - len(pads)
    pos = [(max(lo, 0), max(hi, 0)) for lo, hi in pads]
    out = g
    post = [p if m in _PAD_THEN_CROP else (0, 0) for p, m in zip(pads, modes)]
    if any(lo < 0 or hi < 0 for lo, hi in post):
        # undo the final crop of reflect/replicate axes: embed g in the uncropped padded shape
        shp = list(g.shape)
        for i, (lo, hi) in enumerate(post):
            shp[first + i] -= min(lo, 0) + min(hi, 0)
        out = _embed(g, post, shp)
    pre = [(0, 0) if m in _PAD_THEN_CROP else p for p, m in zip(pads, modes)]
    # fold each padded axis back onto its interior with in-place slice adds on ONE working copy
    # (borders only; reflect/replicate/circular sources never overlap their interior targets),
    # then narrow the view; a single contiguous copy at the end
    folds = any((lo or hi) and m not in ("constant", "zeros") for (lo, hi), m in zip(pos, modes))
    view = out.copy() if folds and out is g else out
    for i, ((lo, hi), mode) in enumerate(zip(pos, modes)):
        if not (lo or hi):
            continue
        ax = first + i
        n = view.shape[ax] - lo - hi

        def at(s, _ax=ax) -> tuple:
            idx = [slice(None)] * g.ndim
            idx[_ax] = s
            return tuple(idx)

        if mode == "replicate":
            if lo:
                view[at(slice(lo, lo + 1))] += view[at(slice(0, lo))].sum(axis=ax, keepdims=True)
            if hi:
                view[at(slice(lo + n - 1, lo + n))] += view[at(slice(lo + n, None))].sum(
                    axis=ax, keepdims=True)
        elif mode == "reflect":
            if lo:  # interior lo + k received out[lo - k], k = 1..lo
                view[at(slice(lo + 1, 2 * lo + 1))] += view[at(slice(lo - 1, None, -1))]
            if hi:  # interior lo + n - 1 - k received out[lo + n - 1 + k], k = 1..hi
                stop = lo + n - 1
                view[at(slice(stop - hi, stop))] += view[at(slice(lo + n + hi - 1,
                                                                  lo + n - 1, -1))]
        elif mode == "circular":
            if lo:
                view[at(slice(n, lo + n))] += view[at(slice(0, lo))]
            if hi:
                view[at(slice(lo, lo + hi))] += view[at(slice(lo + n, None))]
        elif mode not in ("constant", "zeros"):  # the adjoint of the index map: scatter-add
            index = _index_fn(mode)
            if lo:
                np.add.at(view, at(lo + index(np.arange(-lo, 0), n)), view[at(slice(0, lo))])
            if hi:
                np.add.at(view, at(lo + index(np.arange(n, n + hi), n)),
                          view[at(slice(lo + n, None))])
        view = view[at(slice(lo, lo + n))]
    out = np.ascontiguousarray(view)
    if any(lo < 0 or hi < 0 for lo, hi in pre):
        return _embed(out, pre, input_shape)
    return out


def _embed(a: np.ndarray, pads: Sequence[tuple[int, int]], shape: Sequence[int]) -> np.ndarray:
    """Adjoint of ``_crop``: zeros of ``shape`` with ``a`` written where the crop kept data."""
    full = np.zeros(tuple(shape), dtype=a.dtype)
    first = full.ndim - len(pads)
    idx = [slice(None)] * full.ndim
    for i, (lo, hi) in enumerate(pads):
        n = shape[first + i]
        idx[first + i] = slice(-min(lo, 0), n + min(hi, 0))
    full[tuple(idx)] = a
    return full


class Pad(Function):
    """Autograd node of ``pad``: forward ``pad_nd``, backward its adjoint."""

    @staticmethod
    def forward(ctx, x, pads=(), modes=(), value=0.0):
        ctx.pads, ctx.modes, ctx.shape = pads, modes, x.shape
        return pad_nd(x, pads, modes, value)

    @staticmethod
    def backward(ctx, g):
        return pad_nd_backward(g, ctx.pads, ctx.modes, ctx.shape)


def torch_pad_to_pairs(pad: Sequence[int], fn: str = "pad") -> list[tuple[int, int]]:
    """Convert torch's flat pad list (last axis first: left, right, top, bottom, ...) to (lo, hi)
    pairs in axis order (first padded axis first)."""
    if not isinstance(pad, (tuple, list)) or not all(
            isinstance(p, (int, np.integer)) and not isinstance(p, bool) for p in pad):
        raise TypeError(f"{fn}: 'pad' must be a tuple of ints (left, right, top, bottom, ...), "
                        f"got {pad!r}")
    if len(pad) % 2:
        raise ValueError(f"{fn}: padding length must be divisible by 2, got {len(pad)} values "
                         f"{tuple(pad)}")
    pairs = [(int(pad[2 * k]), int(pad[2 * k + 1])) for k in range(len(pad) // 2)]
    return pairs[::-1]


def pad(input, pad: Sequence[int], mode: str = "constant", value: float | None = None):
    """Pads a tensor (``torch.nn.functional.pad``).

    ``pad`` lists the padding of the last dimensions, starting from the LAST one:
    ``(left, right)`` pads the last dimension, ``(left, right, top, bottom)`` the last two,
    ``(left, right, top, bottom, front, back)`` the last three. Negative values crop.

    Args:
        input (Tensor): N-dimensional tensor.
        pad (tuple): even-length tuple of ints, last dimension first.
        mode (str): ``'constant'`` | ``'reflect'`` (mirror without repeating the edge) |
            ``'replicate'`` (repeat the edge) | ``'circular'`` (wrap around) | ``'symmetric'``
            (mirror repeating the edge, NumPy's; a convnp extension). Default: constant.
        value (float, optional): fill value of ``'constant'`` padding. Default: 0. Other modes
            refuse a value (as PyTorch does).

    Unlike PyTorch, every mode works on any number of trailing dimensions with any number of
    leading (batch / channel) dimensions. Reflect padding must be smaller than the padded size;
    circular padding may not exceed it.

    Shape:
        - Input: :math:`(*, D_1, ..., D_k)` with ``k = len(pad) // 2``.
        - Output: :math:`(*, D_1 + lo_1 + hi_1, ..., D_k + lo_k + hi_k)`.

    Example::

        >>> x = convnp.arange(4.).reshape(1, 1, 4)
        >>> F.pad(x, (2, 1), mode="reflect")
        tensor([[[2., 1., 0., 1., 2., 3., 2.]]])
    """
    from convnp.tensor import Tensor

    if not isinstance(input, Tensor):
        raise TypeError(f"pad: 'input' must be a Tensor, got {type(input).__name__}")
    pairs = torch_pad_to_pairs(pad)
    if len(pairs) > input.ndim:
        raise ValueError(f"pad: padding length should be less than or equal to two times the "
                         f"input dimension, but got padding length {2 * len(pairs)} and input "
                         f"of dimension {input.ndim}")
    if not isinstance(mode, str) or mode not in PAD_MODES:
        raise ValueError(f"pad: 'mode' must be one of {PAD_MODES}, got {mode!r}")
    if mode != "constant" and value is not None:
        raise ValueError(f'pad: padding mode "{mode}" doesn\'t take in value argument '
                         f"(got value={value!r})")
    modes = (mode,) * len(pairs)
    check_pads(input.shape, pairs, modes, "pad")
    return Pad.apply(input, pads=tuple(pairs), modes=modes,
                     value=0.0 if value is None else value)
