"""``summary(model, input_shape)``: per-layer output shapes, parameters, MACs and receptive fields.

Two modes, named in the result (``Summary.mode``):

- ``'shape'`` (pure, no data): when the model is a chain of ``Sequential`` containers; every leaf
  states its ``output_shape(input_shape)`` (``Module``'s default is shape-preserving) and a module
  with children must override it. Nothing is computed.
- ``'trace'``: when some module has its own ``forward`` (LeNet5, UNet, residual blocks...), the
  model runs once on a zeros batch of one sample with forward hooks on its leaves; shapes come
  from the hooks and the receptive fields follow the autograd graph, so branches that meet again
  (Inception's concatenation, UNet's skips, residual sums) take the largest receptive field.

Receptive-field bookkeeping per spatial axis (``rf`` size, ``jump`` = distance in input pixels
between neighbouring units, ``start`` = centre of unit 0 in input coordinates), from the layer's
``window()`` (a :class:`convnp.nn.Window`) or, without one, from its input and output shapes:

- conv / pooling:  ``rf += (k-1)*d*jump``, ``start += ((k-1)*d/2 - p_lo)*jump``, ``jump *= s``
- transposed conv: ``jump /= s`` (fractional), ``rf += (k-1)*d*jump_new``,
  ``start += (p_lo - (k-1)*d/2)*jump_new``
- global pooling, Flatten (the whole remaining extent is seen), upsampling by f: ``jump /= f``,
  adaptive pooling: windows of the largest bin at a step of ``in/out``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from convnp.nn.modules._geometry import Window, window_of
from convnp.nn.modules.module import has_own_output_shape
from convnp.ops import _shape

__all__ = ["summary", "Summary", "SummaryRow", "receptive_field"]

@dataclass
class SummaryRow:
    """One layer of a :class:`Summary` (output shape without the batch axis)."""
    name: str
    type: str
    output_shape: tuple
    params: int
    macs: int
    rf: object
    jump: object
    start: object


@dataclass
class Summary:
    """Result of :func:`summary`: ``rows``, totals, the ``mode`` used and an ``error`` (the first
    incompatible layer and why) or None. ``str(summary)`` is the printed table."""
    input_shape: tuple
    rows: list = field(default_factory=list)
    mode: str = "shape"
    total_params: int = 0
    trainable_params: int = 0
    error: str | None = None
    itemsize: int = 4

    @property
    def total_macs(self) -> int:
        return sum(r.macs for r in self.rows)

    @property
    def activation_bytes(self) -> int:
        """Memory of every layer's output for one sample."""
        return sum(math.prod(r.output_shape) for r in self.rows) * self.itemsize

    @property
    def output_shape(self):
        return self.rows[-1].output_shape if self.rows else self.input_shape

    def __str__(self) -> str:
        head = ("Layer", "Type", "Output shape", "Params", "MACs", "RF", "Jump", "Start")
        body = [(r.name, r.type, "x".join(map(str, r.output_shape)), f"{r.params:,}",
                 f"{r.macs:,}", _fmt(r.rf), _fmt(r.jump), _fmt(r.start)) for r in self.rows]
        widths = [max([len(h)] + [len(b[i]) for b in body]) for i, h in enumerate(head)]
        right = {3, 4}

        def line(cells):
            return "  ".join(c.rjust(w) if i in right else c.ljust(w)
                             for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

        sep = "-" * len(line(head))
        out = [f"convnp summary: input {'x'.join(map(str, self.input_shape))} "
               f"(mode: {self.mode})", sep, line(head), sep]
        out += [line(b) for b in body]
        out.append(sep)
        out.append(f"Total params: {self.total_params:,} (trainable {self.trainable_params:,})")
        out.append(f"Total MACs: {self.total_macs:,} per sample")
        out.append(f"Activation memory: {_bytes(self.activation_bytes)} per sample; params "
                   f"{_bytes(self.total_params * self.itemsize)}")
        if self.error:
            out.append(f"ERROR: {self.error}")
        return "\n".join(out)

    __repr__ = __str__


def _fmt(v) -> str:
    if v is None:
        return "-"
    vals = tuple(v) if isinstance(v, tuple) else (v,)
    vals = tuple(int(x) if float(x).is_integer() else round(float(x), 3) for x in vals)
    if len(set(vals)) == 1:
        return str(vals[0])
    return "x".join(map(str, vals))


def _bytes(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.2f} {unit}"
        n /= 1024
    return str(n)  # pragma: no cover


def _squash(t: tuple):
    """int (or float) when every axis agrees, else the tuple."""
    vals = tuple(int(x) if float(x).is_integer() else float(x) for x in t)
    if not vals:
        return None
    return vals[0] if len(set(vals)) == 1 else vals


# ------------------------------------------------------------------------------------------
# receptive-field state and per-layer rules
# ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _RF:
    rf: tuple
    jump: tuple
    start: tuple

    @staticmethod
    def identity(n: int) -> "_RF":
        return _RF((1.0,) * n, (1.0,) * n, (0.0,) * n)

    def apply(self, w: Window) -> "_RF":
        """The state after a layer sliding window ``w`` (or its transpose) over these axes."""
        k, s, d, p_lo = w.kernel, w.stride, w.dilation, w.pad_lo
        if w.transposed:
            jump = tuple(j / ss for j, ss in zip(self.jump, s))
            sign = -1
        else:
            jump, sign = self.jump, 1
        rf = tuple(r + (kk - 1) * dd * j for r, kk, dd, j in zip(self.rf, k, d, jump))
        st = tuple(a + sign * ((kk - 1) * dd / 2 - p) * j
                   for a, kk, dd, p, j in zip(self.start, k, d, p_lo, jump))
        if not w.transposed:
            jump = tuple(j * ss for j, ss in zip(self.jump, s))
        return _RF(rf, jump, st)

    def merge(self, other: "_RF") -> "_RF":
        """Branches meeting again: the larger receptive field wins, axis by axis."""
        pick = [a >= b for a, b in zip(self.rf, other.rf)]
        return _RF(*(tuple(x if c else y for x, y, c in zip(u, v, pick))
                     for u, v in ((self.rf, other.rf), (self.jump, other.jump),
                                  (self.start, other.start))))


def _nt(v, n):
    return tuple(v) if isinstance(v, (tuple, list)) else (v,) * n


def _spatial(shape, nsp):
    """The trailing spatial sizes of a batched shape when it still has the input's spatial rank."""
    return tuple(shape[2:]) if len(shape) == nsp + 2 else None


def _window(m, in_shape: tuple | None, n: int) -> Window | None:
    """``m.window(in_shape)`` over ``n`` spatial axes (identity on leading axes it leaves alone),
    or None: no window, one over more axes than the input has, or one that needs a size we do
    not know."""
    w = window_of(m, in_shape)
    if w is None or w.ndim > n:
        return None
    extra = n - w.ndim
    return Window((1,) * extra + w.kernel, (1,) * extra + w.stride, (1,) * extra + w.dilation,
                  ((0, 0),) * extra + w.pads, w.transposed, w.ceil_mode,
                  (0,) * extra + w.output_padding, w.sphere)


def _rf_step(m, st: _RF, in_shape: tuple, out_shape: tuple) -> _RF:
    """Receptive-field state after module ``m`` (batched shapes)."""
    n = len(st.rf)
    sp_in, sp_out = _spatial(in_shape, n), _spatial(out_shape, n)
    if sp_in is None:                                   # no spatial axes left: already global
        return st
    if sp_out is None:                                  # Flatten / global reduction
        return st.apply(Window(sp_in, sp_in, 1, 0))
    win = _window(m, in_shape, n)
    if win is not None:
        return st.apply(win)
    if m._modules:
        # a composite with its own output_shape (shape mode only): chain its windowed leaves in
        # order -- exact for sequential blocks, an upper bound for parallel branches
        for sub in m.modules():
            w = None if sub._modules else _window(sub, None, n)
            if w is not None:
                st = st.apply(w)
        return st
    if sp_in == sp_out:
        return st
    return _rescale(st, sp_in, sp_out)


def _rescale(st: _RF, sp_in: tuple, sp_out: tuple) -> _RF:
    """Adaptive pooling, resampling, anything else without a window: bins of ratio in/out."""
    k, s = [], []
    for a, b in zip(sp_in, sp_out):
        if b <= a:
            starts, ends = _shape.adaptive_bins(a, b)
            k.append(int((ends - starts).max()))
        else:
            k.append(1)
        s.append(a / b)
    if all(b <= a for a, b in zip(sp_in, sp_out)):
        return st.apply(Window(tuple(k), tuple(s), 1, 0))
    # upsampling by f: output j sits at input coordinate (j + 1/2)/f - 1/2
    jump = tuple(j * ss for j, ss in zip(st.jump, s))
    start = tuple(a + (ss / 2 - 0.5) * j for a, ss, j in zip(st.start, s, st.jump))
    return _RF(st.rf, jump, start)


def _weight(m):
    """``m``'s own weight matrix or kernel (2-d or more), or None."""
    w = m._parameters.get("weight") if hasattr(m, "_parameters") else None
    return w if w is not None and getattr(w, "ndim", 0) >= 2 else None


def _macs(m, in_shape: tuple, out_shape: tuple) -> int:
    """Multiply-accumulates of one sample through ``m`` (conv-like and linear layers)."""
    w = _weight(m)
    if w is not None:
        win = _window(m, in_shape, max(len(in_shape) - 2, 0))
        fan = int(np.prod(w.shape[1:]))
        if w.ndim >= 3 and (win is not None or hasattr(m, "in_channels")):
            # a kernel: every output position (every input one when transposed) meets `fan`
            # weights
            return math.prod((in_shape if win is not None and win.transposed
                              else out_shape)[1:]) * fan
        if (getattr(m, "in_features", None), getattr(m, "out_features", None)) == w.shape[::-1]:
            return math.prod(out_shape[1:]) * int(w.shape[-1])
        return 0
    total = 0
    # a composite answering output_shape itself (e.g. GatedConv): its direct children with
    # weights, each with its own output shape when it can tell
    for c in m.children():
        if _weight(c) is None:
            continue
        try:
            c_out = tuple(c.output_shape(in_shape))
        except Exception:
            c_out = out_shape
        total += _macs(c, in_shape, c_out)
    return total


# ------------------------------------------------------------------------------------------
# the two walks
# ------------------------------------------------------------------------------------------

class _NeedTrace(Exception):
    pass


def _is_chain(m) -> bool:
    """A container whose forward is Sequential's (children applied in order)."""
    from convnp.nn.modules.container import Sequential

    for klass in type(m).__mro__:
        if "forward" in vars(klass):
            return vars(klass)["forward"] is Sequential.forward
    return False


class _Walker:
    def __init__(self, model, input_shape: tuple, itemsize: int):
        self.seen: set[int] = set()
        self.res = Summary(tuple(input_shape), itemsize=itemsize)
        self.nsp = len(input_shape) - 1
        self.model = model

    def new_params(self, m) -> int:
        total = 0
        for p in m.parameters():
            if id(p) not in self.seen:
                self.seen.add(id(p))
                total += int(p.numel())
        return total

    def add_row(self, name, m, in_shape, out_shape, st: _RF) -> _RF:
        st2 = _rf_step(m, st, in_shape, out_shape)
        self.res.rows.append(SummaryRow(name or type(m).__name__, type(m).__name__,
                                        tuple(out_shape[1:]), self.new_params(m),
                                        _macs(m, in_shape, out_shape), _squash(st2.rf),
                                        _squash(st2.jump), _squash(st2.start)))
        return st2

    # pure shape pass ------------------------------------------------------------------
    def shape_walk(self, m, shape: tuple, st: _RF, prefix: str):
        if _is_chain(m):
            # _modules, not named_children: a module used twice runs twice (torch's Sequential)
            for name, child in getattr(m, "_modules", dict(m.named_children())).items():
                if child is None:
                    continue
                shape, st = self.shape_walk(child, shape, st, f"{prefix}.{name}" if prefix
                                            else name)
            return shape, st
        if not has_own_output_shape(m):
            raise _NeedTrace(type(m).__name__)
        try:
            out = tuple(m.output_shape(shape))
        except Exception as e:  # the first incompatible layer stops the walk
            self.res.error = (f"layer '{prefix or type(m).__name__}' ({type(m).__name__}) "
                              f"cannot take input shape {'x'.join(map(str, shape[1:]))}: {e}")
            raise _Stop from e
        return out, self.add_row(prefix, m, shape, out, st)

    # trace pass -----------------------------------------------------------------------
    def trace(self, input_shape: tuple):
        import convnp
        from convnp.autograd import no_grad  # noqa: F401  (graph needed: grad stays on)
        from convnp.tensor import Tensor

        model = self.model
        names = {id(m): n for n, m in model.named_modules()}
        # trace mode records the leaves (modules without children), in call order
        units = [m for m in model.modules() if not any(True for _ in m.children())]
        states: dict = {}
        keep = []
        stack = []
        nsp = self.nsp

        def key(t):
            return (id(t.grad_fn), t._output_nr) if t.grad_fn is not None else ("leaf", id(t))

        def state_of(t) -> _RF:
            # walk the autograd graph back to the nearest recorded tensors; merge branches
            found, visited = None, set()
            todo = [("leaf", t) if t.grad_fn is None else (t.grad_fn, t._output_nr)]
            while todo:
                a, b = todo.pop()
                leaf = isinstance(a, str)
                k = ("leaf", id(b)) if leaf else (id(a), b)
                if k in visited:
                    continue
                visited.add(k)
                if k in states:
                    found = states[k] if found is None else found.merge(states[k])
                    continue
                if leaf:
                    continue
                for e in a.edges:
                    if e is not None:
                        todo.append(e[1] if e[0] == "node" else ("leaf", e[1]))
            return found if found is not None else _RF.identity(nsp)

        def first_tensor(o):
            if isinstance(o, Tensor):
                return o
            if isinstance(o, (tuple, list)):
                for v in o:
                    if isinstance(v, Tensor):
                        return v
            return None

        def pre(m, args):
            stack.append(m)

        def post(m, args, out):
            stack.pop()
            xin, y = first_tensor(args), first_tensor(out)
            if xin is None or y is None:
                return None
            st = state_of(xin)
            st2 = self.add_row(names.get(id(m), ""), m, tuple(xin.shape), tuple(y.shape), st)
            keep.append(y)
            states[key(y)] = st2
            return None

        handles = []
        for m in units:
            handles.append(m.register_forward_pre_hook(pre))
            handles.append(m.register_forward_hook(post))
        x = convnp.zeros((1,) + tuple(input_shape), requires_grad=True)
        states[key(x)] = _RF.identity(nsp)
        was_training = getattr(model, "training", False)
        try:
            model.eval()
            model(x)
        except Exception as e:
            bad = stack[-1] if stack else model
            self.res.error = (f"layer '{names.get(id(bad), '') or type(bad).__name__}' "
                              f"({type(bad).__name__}) failed: {e}")
        finally:
            for h in handles:
                h.remove()
            model.train(was_training)


class _Stop(Exception):
    pass


def summary(model, input_shape: Sequence[int], dtype=None, mode: str = "auto") -> Summary:
    """Per-layer output shapes, parameters, MACs and receptive fields of ``model``.

    Args:
        model (Module): the network.
        input_shape (tuple): one sample's shape without the batch axis, e.g. ``(1, 32, 32)``.
        dtype: element type for the memory figures (default float32).
        mode (str): ``'shape'`` (pure shape pass), ``'trace'`` (one forward pass with hooks,
            one row per leaf layer) or ``'auto'`` (default): ``'shape'`` when the model is a
            ``Sequential`` chain, else ``'trace'``; a chain member that cannot answer its shape
            without running also switches to ``'trace'``.

    Returns:
        :class:`Summary` with ``rows`` (``name``, ``type``, ``output_shape``, ``params`` --
        shared parameters counted once --, ``macs``, ``rf``, ``jump``, ``start``), totals,
        ``mode`` ('shape': no data computed; 'trace': one forward of a zeros sample with hooks,
        for models with a custom forward) and ``error`` (the first incompatible layer and why;
        the rows before it are kept). ``print(summary(...))`` shows the table.

    Example::

        >>> s = summary(nn.Sequential(nn.Conv2d(1, 6, 5), nn.MaxPool2d(2)), (1, 32, 32))
        >>> s.rows[-1].output_shape, s.rows[-1].rf
        ((6, 14, 14), 6)
    """
    if not isinstance(input_shape, (tuple, list)) or not all(
            _shape._is_int(v) and v > 0 for v in input_shape) or len(input_shape) < 1:
        raise ValueError(f"summary: 'input_shape' must be a sequence of positive ints without the "
                         f"batch axis, e.g. (1, 32, 32), got {input_shape!r}")
    if mode not in ("auto", "shape", "trace"):
        raise ValueError(f"summary: mode must be 'auto', 'shape' or 'trace', got {mode!r}")
    itemsize = np.dtype(dtype or np.float32).itemsize
    w = _Walker(model, tuple(input_shape), itemsize)
    if mode == "auto":
        mode = "shape" if _is_chain(model) or not any(True for _ in model.children()) \
            else "trace"
    try:
        if mode == "trace":
            raise _NeedTrace(type(model).__name__)
        w.shape_walk(model, (1,) + tuple(input_shape), _RF.identity(len(input_shape) - 1), "")
    except _Stop:
        pass
    except _NeedTrace:
        # a member that cannot answer its shape without running: trace the whole model
        w = _Walker(model, tuple(input_shape), itemsize)
        w.res.mode = "trace"
        w.trace(tuple(input_shape))
    params = {id(p): p for p in model.parameters()}
    w.res.total_params = sum(int(p.numel()) for p in params.values())
    w.res.trainable_params = sum(int(p.numel()) for p in params.values() if p.requires_grad)
    return w.res


def receptive_field(model, input_shape: Sequence[int], unit: Sequence[int] | int = 0):
    """The input region that one output unit of ``model`` sees.

    Args:
        model (Module): the network (see :func:`summary` for the rules).
        input_shape (tuple): one sample's shape without batch axis, ``(C, *spatial)``.
        unit (int or tuple): index of the output unit along each spatial axis.

    Returns:
        a tuple of ``slice`` objects, one per spatial axis, clipped to the input: the unit's
        centre is ``start + unit*jump`` and it sees ``rf`` inputs around it.

    Example::

        >>> net = nn.Sequential(nn.Conv2d(1, 1, 3), nn.Conv2d(1, 1, 3))
        >>> receptive_field(net, (1, 8, 8), (0, 0))
        (slice(0, 5, None), slice(0, 5, None))
    """
    s = summary(model, input_shape)
    if s.error:
        raise ValueError(f"receptive_field: {s.error}")
    sizes = tuple(input_shape[1:])
    n = len(sizes)
    last = s.rows[-1] if s.rows else None
    if last is None:
        return tuple(slice(u, u + 1) for u in _nt(unit, n))
    rf, jump, start = (_nt(v, n) for v in (last.rf, last.jump, last.start))
    u = _nt(unit, n)
    out_sp = last.output_shape[1:] if len(last.output_shape) == n + 1 else None
    if out_sp is not None:
        for i in range(n):
            if not 0 <= u[i] < out_sp[i]:
                raise ValueError(f"receptive_field: unit {tuple(u)} is outside the output of "
                                 f"spatial shape {tuple(out_sp)}")
    res = []
    for i in range(n):
        c = start[i] + u[i] * jump[i]
        lo = math.ceil(c - (rf[i] - 1) / 2 - 1e-9)
        hi = math.floor(c + (rf[i] - 1) / 2 + 1e-9) + 1
        res.append(slice(max(lo, 0), min(hi, sizes[i])))
    return tuple(res)
