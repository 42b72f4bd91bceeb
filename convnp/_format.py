"""How tensors print: torch's rules (``torch._tensor_str``) with ``convnp`` in place of ``torch``.

Floats print with 4 decimals, all elements of a tensor padded to one width; a float tensor
whose nonzero finite values are all integers prints them as ``1.``; scientific notation is
chosen when the largest / smallest nonzero magnitude exceeds 1000, the largest exceeds 1e8 or
the smallest is below 1e-4. Tensors of more than 1000 elements are summarised (3 edge items),
lines wrap at 80 characters, and the suffixes follow: ``dtype=`` (unless the dtype is the
default float, int64 or bool), ``grad_fn=<...>`` or ``requires_grad=True``.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass

import numpy as np


@dataclass
class _PrintOptions:
    precision: int = 4
    threshold: float = 1000
    edgeitems: int = 3
    linewidth: int = 80
    sci_mode: bool | None = None


PRINT_OPTS = _PrintOptions()

_PROFILES = {"default": dict(precision=4, threshold=1000, edgeitems=3, linewidth=80),
             "short": dict(precision=2, threshold=1000, edgeitems=2, linewidth=80),
             "full": dict(precision=4, threshold=math.inf, edgeitems=3, linewidth=80)}


def set_printoptions(precision=None, threshold=None, edgeitems=None, linewidth=None,
                     profile=None, sci_mode=None) -> None:
    """Set how tensors print, as ``torch.set_printoptions`` (``profile`` is 'default', 'short'
    or 'full'; ``sci_mode`` True / False forces or forbids scientific notation)."""
    if profile is not None:
        if profile not in _PROFILES:
            raise ValueError(f"set_printoptions: profile must be one of {sorted(_PROFILES)}, "
                             f"got {profile!r}")
        for k, v in _PROFILES[profile].items():
            setattr(PRINT_OPTS, k, v)
    for k, v in dict(precision=precision, threshold=threshold, edgeitems=edgeitems,
                     linewidth=linewidth).items():
        if v is not None:
            setattr(PRINT_OPTS, k, v)
    PRINT_OPTS.sci_mode = sci_mode


def get_printoptions() -> dict:
    """The current print options as a dict."""
    return dict(vars(PRINT_OPTS))


@contextlib.contextmanager
def printoptions(**kwargs):
    """Context manager that sets print options and restores the previous ones on exit."""
    old = get_printoptions()
    set_printoptions(**kwargs)
    try:
        yield
    finally:
        set_printoptions(**old)


class _Formatter:
    """One width and one mode (int-like / fixed / scientific) for every element of a tensor."""

    def __init__(self, a: np.ndarray) -> None:
        self.floating = a.dtype.kind == "f"
        self.int_mode, self.sci_mode, self.width = True, False, 1
        p = PRINT_OPTS.precision
        if not self.floating:
            for v in a.reshape(-1).tolist():
                self.width = max(self.width, len(f"{v}"))
            return
        vals = a.reshape(-1)
        vals = vals[np.isfinite(vals) & (vals != 0)].astype(np.float64)
        if vals.size == 0:
            return
        mags = np.abs(vals)
        lo, hi = float(mags.min()), float(mags.max())
        self.int_mode = bool(np.all(vals == np.ceil(vals)))
        self.sci_mode = (hi / lo > 1000.0 or hi > 1.0e8 or lo < 1.0e-4
                         if PRINT_OPTS.sci_mode is None else PRINT_OPTS.sci_mode)
        for v in vals.tolist():
            if self.sci_mode:
                n = len(f"{v:.{p}e}")
            elif self.int_mode:
                n = len(f"{v:.0f}") + 1
            else:
                n = len(f"{v:.{p}f}")
            self.width = max(self.width, n)

    def format(self, v) -> str:
        p = PRINT_OPTS.precision
        if not self.floating:
            s = f"{v}"
        elif self.sci_mode:
            s = f"{v:{self.width}.{p}e}"
        elif self.int_mode:
            s = f"{v:.0f}" + ("" if math.isinf(v) or math.isnan(v) else ".")
        else:
            s = f"{v:.{p}f}"
        return " " * (self.width - len(s)) + s


def _summarized(a: np.ndarray) -> np.ndarray:
    """Only the edge items of every dim (what a summarised print shows), for the formatter."""
    e = PRINT_OPTS.edgeitems
    for axis in range(a.ndim):
        if a.shape[axis] > 2 * e:
            a = np.concatenate([np.take(a, range(e), axis),
                                np.take(a, range(a.shape[axis] - e, a.shape[axis]), axis)], axis)
    return a


def _vector(a: np.ndarray, indent: int, summarize: bool, fmt: _Formatter) -> str:
    per_line = max(1, math.floor((PRINT_OPTS.linewidth - indent) / (fmt.width + 2)))
    e = PRINT_OPTS.edgeitems
    if summarize and a.shape[0] > 2 * e:
        data = ([fmt.format(v) for v in a[:e].tolist()] + [" ..."] +
                [fmt.format(v) for v in a[-e:].tolist()])
    else:
        data = [fmt.format(v) for v in a.tolist()]
    lines = [", ".join(data[i:i + per_line]) for i in range(0, len(data), per_line)]
    return "[" + (",\n" + " " * (indent + 1)).join(lines) + "]"


def _body(a: np.ndarray, indent: int, summarize: bool, fmt: _Formatter) -> str:
    if a.ndim == 0:
        return fmt.format(a.item())
    if a.ndim == 1:
        return _vector(a, indent, summarize, fmt)
    e = PRINT_OPTS.edgeitems
    n = a.shape[0]
    if summarize and n > 2 * e:
        rows = ([_body(a[i], indent + 1, summarize, fmt) for i in range(e)] + ["..."] +
                [_body(a[i], indent + 1, summarize, fmt) for i in range(n - e, n)])
    else:
        rows = [_body(a[i], indent + 1, summarize, fmt) for i in range(n)]
    return "[" + ("," + "\n" * (a.ndim - 1) + " " * (indent + 1)).join(rows) + "]"


def _with_suffixes(text: str, suffixes: list[str], indent: int) -> str:
    parts = [text]
    last = len(text) - text.rfind("\n") + 1
    for s in suffixes:
        if last + len(s) + 2 > PRINT_OPTS.linewidth:
            parts.append(",\n" + " " * indent + s)
            last = indent + len(s)
        else:
            parts.append(", " + s)
            last += len(s) + 2
    return "".join(parts) + ")"


def dtype_name(dtype) -> str:
    """``convnp.float32`` (as ``str(torch.float32)`` reads ``torch.float32``)."""
    return f"convnp.{np.dtype(dtype).name}"


def tensor_repr(t, prefix: str = "tensor(") -> str:
    """``repr`` of a convnp Tensor, laid out as torch lays out its tensors."""
    from convnp._dtype import get_default_dtype, is_half

    a = t.array
    indent = len(prefix)
    suffixes = []
    if a.size == 0:
        if a.ndim != 1:
            suffixes.append(f"size={tuple(a.shape)}")
        if a.dtype != get_default_dtype():
            suffixes.append(f"dtype={dtype_name(a.dtype)}")
        body = "[]"
    else:
        if a.dtype not in (get_default_dtype(), np.dtype(np.int64), np.dtype(np.bool_)):
            suffixes.append(f"dtype={dtype_name(a.dtype)}")
        summarize = a.size > PRINT_OPTS.threshold
        if is_half(a.dtype):
            a = a.astype(np.float32)
        fmt = _Formatter(_summarized(a) if summarize else a)
        body = _body(a, indent, summarize, fmt)
    if t.grad_fn is not None:
        suffixes.append(f"grad_fn=<{t.grad_fn.name()}>")
    elif t.requires_grad:
        suffixes.append("requires_grad=True")
    return _with_suffixes(prefix + body, suffixes, indent)
