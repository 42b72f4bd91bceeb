"""Shift equivariance and invariance, measured.

A map f is shift *equivariant* when shifting the input shifts the output, ``f(T_s x) =
T_{s/r} f(x)`` (r: the downsampling factor between input and output), and shift *invariant* when
``f(T_s x) = f(x)``. Convolution with circular padding is exactly equivariant to circular shifts;
zero padding breaks it at the borders; striding and pooling break it for shifts that are not a
multiple of the total stride; a global pooling head turns equivariance into invariance.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["equivariance", "EquivarianceResult", "PRESETS", "preset"]


@dataclass
class EquivarianceResult:
    """Per-shift errors, relative to ``max|f(x)|``: ``rows`` of dicts with ``shift``,
    ``out_shift`` (the matching output shift, None when not an integer), ``equivariance`` (error of
    ``f(shift(x))`` vs ``shift(f(x))``; for a fractional output shift the better of floor/ceil) and
    ``invariance`` (error of ``f(shift(x))`` vs ``f(x)``)."""
    name: str
    axis: tuple
    ratio: tuple
    rows: list = field(default_factory=list)

    def __str__(self) -> str:
        out = [f"{self.name}: shifts along axis {self.axis}, output/input size ratio "
               f"{'x'.join(f'{r:g}' for r in self.ratio)}",
               f"{'shift':>7} {'out shift':>10} {'equivariance err':>17} {'invariance err':>15}"]
        for r in self.rows:
            os_ = "-" if r["out_shift"] is None else str(r["out_shift"])
            eq = "-" if r["equivariance"] is None else f"{r['equivariance']:.2e}"
            out.append(f"{str(r['shift']):>7} {os_:>10} {eq:>17} {r['invariance']:>15.2e}")
        return "\n".join(out)

    __repr__ = __str__


def _shift(a: np.ndarray, s: tuple, axes: tuple, mode: str) -> np.ndarray:
    if mode == "circular":
        return np.roll(a, s, axes)
    out = np.zeros_like(a)
    src, dst = [slice(None)] * a.ndim, [slice(None)] * a.ndim
    for sh, ax in zip(s, axes):
        n = a.shape[ax]
        if abs(sh) >= n:
            return out
        src[ax] = slice(0, n - sh) if sh >= 0 else slice(-sh, n)
        dst[ax] = slice(sh, n) if sh >= 0 else slice(0, n + sh)
    out[tuple(dst)] = a[tuple(src)]
    return out


def equivariance(f, x, shifts=(0, 1, 2, 3, 4), axis=-1, mode: str = "circular",
                 name: str | None = None) -> EquivarianceResult:
    """Measure how far ``f`` is from shift equivariance and invariance.

    Args:
        f (callable): a module or function taking a Tensor ``(N, C, *spatial)``.
        x (Tensor or ndarray): the probe input.
        shifts (iterable): shifts to try; ints, or tuples with one int per axis in ``axis``.
        axis (int or tuple): the shifted axis (axes).
        mode (str): ``'circular'`` (``np.roll``) or ``'zeros'`` (shift in zeros).
        name (str): label of the report.

    Returns:
        :class:`EquivarianceResult` (``print`` it for a table).

    Example::

        >>> conv = nn.Conv1d(1, 1, 3, padding=1, padding_mode='circular')
        >>> r = equivariance(conv, convnp.randn(1, 1, 16), shifts=[1, 5])
        >>> max(row['equivariance'] for row in r.rows) < 1e-6
        True
    """
    from convnp.autograd import no_grad
    from convnp.tensor import Tensor

    if mode not in ("circular", "zeros"):
        raise ValueError(f"equivariance: mode must be 'circular' or 'zeros', got {mode!r}")
    xa = np.asarray(getattr(x, "array", x))
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    axes = tuple(a % xa.ndim for a in axes)

    def run(a):
        with no_grad():
            y = f(Tensor._wrap(np.ascontiguousarray(a)))
        return np.asarray(getattr(y, "array", y), dtype=np.float64)

    y = run(xa)
    scale = max(float(np.abs(y).max()), 1e-30)
    keeps_axes = y.ndim == xa.ndim
    ratio = tuple(y.shape[a] / xa.shape[a] for a in axes) if keeps_axes else (0.0,) * len(axes)
    res = EquivarianceResult(name or getattr(type(f), "__name__", "f"), axes, ratio)
    for s in shifts:
        st = (s,) * len(axes) if isinstance(s, (int, np.integer)) else tuple(s)
        if len(st) != len(axes):
            raise ValueError(f"equivariance: shift {s!r} needs one value per axis {axes}")
        ys = run(_shift(xa, st, axes, mode))
        inv = float(np.abs(ys - y).max()) / scale if ys.shape == y.shape else float("nan")
        eq, out_shift = None, None
        if keeps_axes:
            exact = [v * r for v, r in zip(st, ratio)]
            if all(float(e).is_integer() for e in exact):
                out_shift = tuple(int(e) for e in exact)
                eq = float(np.abs(ys - _shift(y, out_shift, axes, mode)).max()) / scale
                out_shift = out_shift[0] if len(out_shift) == 1 else out_shift
            else:
                # no integer output shift exists: the nearest ones (floor / ceil) are the best hope
                cands = {tuple(int(np.floor(e)) for e in exact), tuple(int(np.ceil(e))
                                                                      for e in exact)}
                eq = min(float(np.abs(ys - _shift(y, c, axes, mode)).max()) / scale
                         for c in cands)
        res.rows.append({"shift": s, "out_shift": out_shift, "equivariance": eq,
                         "invariance": inv})
    return res


def _presets():
    import convnp.nn as nn

    def seq(*m):
        return nn.Sequential(*m)

    return {
        "conv-circular": (lambda: seq(nn.Conv2d(1, 4, 3, padding=1, padding_mode="circular")),
                          "3x3 conv, circular padding"),
        "conv-zeros": (lambda: seq(nn.Conv2d(1, 4, 3, padding=1)), "3x3 conv, zero padding"),
        "conv-stride2": (lambda: seq(nn.Conv2d(1, 4, 3, stride=2, padding=1,
                                               padding_mode="circular")),
                         "3x3 conv, stride 2, circular padding"),
        "maxpool2": (lambda: seq(nn.MaxPool2d(2)), "2x2 max pooling"),
        "avgpool2": (lambda: seq(nn.AvgPool2d(2)), "2x2 average pooling"),
        "conv-gap": (lambda: seq(nn.Conv2d(1, 4, 3, padding=1, padding_mode="circular"),
                                 nn.ReLU(), nn.AdaptiveAvgPool2d(1)),
                     "circular conv + ReLU + global average pooling"),
    }


PRESETS = ("conv-circular", "conv-zeros", "conv-stride2", "maxpool2", "avgpool2", "conv-gap")


def preset(name: str):
    """A small demonstration layer by name (see ``PRESETS``), float64, seeded weights."""
    import convnp

    table = _presets()
    if name not in table:
        raise ValueError(f"equivariance: unknown preset {name!r}; choose one of "
                         f"{', '.join(PRESETS)}")
    convnp.manual_seed(0)
    return table[name][0]().double(), table[name][1]
