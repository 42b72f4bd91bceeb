"""Trace a convnp forward and write it as an ONNX graph.

Tracing: while ``export`` runs the model once, ``convnp.autograd.function._tracer`` records every
``Function`` call (class, inputs, keyword arguments, outputs) and the module that made it, so
layers and functional code (``F.relu``, ``x + y``, ``x.view``, ``cat``) are both captured. Each
recorded call is then translated by one converter of ``_CONVERTERS`` (keyed by the Function's
name) into ONNX nodes. Parameters and buffers become initializers under their ``state_dict``
names; any other tensor a call reads that the trace did not produce is a constant.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np

from convnp.autograd import function as _function

_PAD_MODE = {"constant": "constant", "zeros": "constant", "reflect": "reflect",
             "replicate": "edge", "circular": "wrap"}


ADAPTIVE_HINT = "convnp: adaptive_avg_pool"


class UnsupportedOperatorError(NotImplementedError):
    """A traced op (or an ONNX node) has no translation."""


class _Call:
    __slots__ = ("fn", "args", "kwargs", "outs", "module")

    def __init__(self, fn, args, kwargs, outs, module):
        self.fn, self.args, self.kwargs, self.outs, self.module = fn, args, kwargs, outs, module


class _Tracer:
    """Records Function calls and the dotted name of the module running each one."""

    def __init__(self, model) -> None:
        self.calls: list[_Call] = []
        self.stack: list[str] = []
        self.handles = []
        for name, m in model.named_modules():
            label = f"{name or 'model'} ({type(m).__name__})"
            self.handles.append(m.register_forward_pre_hook(
                lambda _m, _a, label=label: self.stack.append(label)))
            self.handles.append(m.register_forward_hook(
                lambda _m, _a, _o: self.stack.pop() and None))

    def __call__(self, fn, args, kwargs, outs) -> None:
        self.calls.append(_Call(fn, args, kwargs, outs, self.stack[-1] if self.stack else "model"))

    def __enter__(self):
        if _function._tracer is not None:
            raise RuntimeError("convnp.onnx.export: already tracing (export is not reentrant)")
        _function._tracer = self
        return self

    def __exit__(self, *exc) -> None:
        _function._tracer = None
        for h in self.handles:
            h.remove()


class _Builder:
    """Accumulates nodes and initializers; maps traced tensors to ONNX value names."""

    def __init__(self, onnx, opset: int, params: dict[int, str]) -> None:
        self.onnx, self.opset = onnx, opset
        self.nodes: list = []
        self.inits: dict[str, np.ndarray] = {}
        self.params = params  # id(Tensor or ndarray) -> state_dict name
        self.by_tensor: dict[int, str] = {}
        self.by_array: dict[int, str] = {}
        self.meta: dict[str, dict] = {}  # value name -> facts a later converter needs
        self.keep: list = []  # objects whose id() is a key above stay alive
        self.counter = 0

    def fresh(self, hint: str) -> str:
        self.counter += 1
        return f"{hint}_{self.counter}"

    def const(self, value, dtype=None, hint: str = "const") -> str:
        arr = np.asarray(value, dtype=dtype)
        name = self.fresh(hint)
        self.inits[name] = arr
        return name

    def ints(self, values) -> str:
        return self.const(np.asarray(list(values), np.int64), hint="shape")

    def node(self, op: str, inputs, n_out: int = 1, hint: str | None = None,
             doc: str | None = None, **attrs) -> list[str]:
        outs = [self.fresh(hint or op.lower()) for _ in range(n_out)]
        attrs = {k: v for k, v in attrs.items() if v is not None}
        self.nodes.append(self.onnx.helper.make_node(op, list(inputs), outs, doc_string=doc,
                                                     name=self.fresh(f"/{op}"), **attrs))
        return outs

    def one(self, op: str, inputs, **attrs) -> str:
        return self.node(op, inputs, **attrs)[0]

    def bind(self, t, name: str) -> None:
        self.keep.append(t)
        self.by_tensor[id(t)] = name
        self.by_array[id(t.array)] = name

    def name_of(self, x, raw: bool = False) -> str:
        """ONNX name of a traced tensor, parameter, buffer or constant input ``x``."""
        from convnp.tensor import Tensor

        if x is None:
            return ""
        arr = x.array if isinstance(x, Tensor) else x
        name = self.by_tensor.get(id(x)) or self.by_array.get(id(arr))
        if name is None:
            pname = self.params.get(id(x)) or self.params.get(id(arr))
            if pname is not None:
                self.inits.setdefault(pname, np.asarray(arr))
                name = pname
            else:
                name = self.const(np.asarray(arr))
            self.keep.append(x)
            self.by_array[id(arr)] = name
        if not raw and self.meta.get(name, {}).get("flat_plane"):
            name = self._plane_indices(name)
        return name

    def _plane_indices(self, name: str) -> str:
        """ONNX MaxPool indices count over the whole (N, C, *S) tensor; convnp's and PyTorch's
        count within each plane, so the remainder modulo the plane size converts them."""
        m = self.meta[name]
        if "plane_name" not in m:
            m["plane_name"] = self.one("Mod", [name, self.const(np.int64(m["flat_plane"]))])
        return m["plane_name"]


class _Ctx:
    """One recorded call as a converter sees it."""

    def __init__(self, b: _Builder, call: _Call) -> None:
        from convnp.tensor import Tensor

        self.b, self.call, self.kw = b, call, call.kwargs
        self.arrays = [a.array if isinstance(a, Tensor) else a for a in call.args]
        self.out_shapes = [o.array.shape for o in call.outs]

    def x(self, i: int = 0, raw: bool = False) -> str:
        return self.b.name_of(self.call.args[i], raw) if i < len(self.call.args) else ""

    def shape(self, i: int = 0) -> tuple:
        return np.shape(self.arrays[i])

    def fail(self, why: str):
        raise UnsupportedOperatorError(
            f"convnp.onnx.export: {self.call.module} calls {self.call.fn.__name__} {why}, which "
            "has no ONNX form")


_CONVERTERS: dict[str, Callable[[_Ctx], Any]] = {}


def _converts(*names):
    def deco(f):
        for n in names:
            _CONVERTERS[n] = f
        return f
    return deco


# ------------------------------------------------------------------------------ convolution
def _pads_attr(pairs) -> list[int]:
    return [int(lo) for lo, _ in pairs] + [int(hi) for _, hi in pairs]


def _pad_per_mode(c: _Ctx, x: str, pairs, modes, lead: int) -> str:
    """A Pad node per distinct padding mode (per-axis modes such as replicate along H, circular
    along W), padding only that mode's axes; ``lead`` axes before the padded ones stay."""
    for mode in dict.fromkeys(modes):
        if mode not in _PAD_MODE:
            c.fail(f"with padding mode {mode!r} (ONNX's Pad has no such mode)")
        sub = [(lo, hi) if m == mode else (0, 0) for (lo, hi), m in zip(pairs, modes)]
        x = _pad_node(c, x, [(0, 0)] * lead + sub, _PAD_MODE[mode], 0.0)
    return x


def _pad_node(c: _Ctx, x: str, pairs, mode: str, value: float) -> str:
    b = c.b
    if mode == "wrap" and b.opset < 19:
        # Pad's 'wrap' mode arrived in opset 19: slices + Concat give the same on older opsets
        for axis, (lo, hi) in enumerate(pairs):
            if lo < 0 or hi < 0:
                c.fail(f"with negative circular padding {pairs} below opset 19")
            parts = []
            if lo:
                parts.append(_slice(b, x, [axis], [-lo], [np.iinfo(np.int64).max]))
            parts.append(x)
            if hi:
                parts.append(_slice(b, x, [axis], [0], [hi]))
            if len(parts) > 1:
                x = b.one("Concat", parts, axis=axis)
        return x
    dtype = c.arrays[0].dtype
    inputs = [x, b.ints(_pads_attr(pairs))]
    if mode == "constant" and value != 0:
        inputs.append(b.const(np.asarray(value, dtype)))
    return b.one("Pad", inputs, mode=mode)


def _slice(b: _Builder, x: str, axes, starts, ends, steps=None) -> str:
    ins = [x, b.ints(starts), b.ints(ends), b.ints(axes)]
    if steps is not None:
        ins.append(b.ints(steps))
    return b.one("Slice", ins)


def _check_batched(c: _Ctx):
    if not c.kw.get("batched", True):
        c.fail("on an unbatched input (ONNX convolutions need (N, C, *spatial)); add a batch axis")


def _weight(c: _Ctx, i: int = 1) -> str:
    w = c.x(i)
    if c.kw.get("flip"):
        nd = c.arrays[i].ndim - 2
        w = _slice(c.b, w, list(range(2, 2 + nd)), [-1] * nd, [-(2 ** 62)] * nd, [-1] * nd)
    return w


@_converts("ConvNd")
def _conv(c: _Ctx):
    _check_batched(c)
    kw, x = c.kw, c.x(0)
    pads, modes = kw["pads"], kw["modes"]
    if any(m != "zeros" for m in modes) and any(lo or hi for lo, hi in pads):
        x = _pad_per_mode(c, x, pads, modes, 2)
        pads = [(0, 0)] * len(pads)
    ins = [x, _weight(c)] + ([c.x(2)] if len(c.arrays) > 2 and c.arrays[2] is not None else [])
    return [c.b.one("Conv", ins, kernel_shape=list(c.shape(1)[2:]), strides=list(kw["stride"]),
                    pads=_pads_attr(pads), dilations=list(kw["dilation"]),
                    group=int(kw["groups"]))]


@_converts("ConvTransposeNd")
def _conv_transpose(c: _Ctx):
    _check_batched(c)
    kw = c.kw
    if any(m != "zeros" for m in kw["modes"]) and any(lo or hi for lo, hi in kw["pads"]):
        c.fail(f"with padding_mode={kw['modes']}")
    k, sp = c.shape(1)[2:], c.shape(0)[2:]
    s, d, pads = kw["stride"], kw["dilation"], kw["pads"]
    op = [o - ((i - 1) * st - lo - hi + dd * (kk - 1) + 1)
          for o, i, st, (lo, hi), dd, kk in zip(kw["out_sp"], sp, s, pads, d, k)]
    ins = [c.x(0), _weight(c)] + ([c.x(2)] if len(c.arrays) > 2 and c.arrays[2] is not None
                                  else [])
    return [c.b.one("ConvTranspose", ins, kernel_shape=list(k), strides=list(s),
                    pads=_pads_attr(pads), dilations=list(d), group=int(kw["groups"]),
                    output_padding=op if any(op) else None)]


# ---------------------------------------------------------------------------------- pooling
@_converts("MaxPoolNd")
def _max_pool(c: _Ctx):
    kw = c.kw
    nd = kw["nd"]
    if len(c.shape(0)) != nd + 2:
        c.fail(f"on a {len(c.shape(0))}-d input (ONNX pooling needs (N, C, *spatial))")
    attrs = dict(kernel_shape=list(kw["k"]), strides=list(kw["s"]), pads=list(kw["p"]) * 2,
                 dilations=list(kw["d"]), ceil_mode=int(kw["ceil_mode"]))
    if not kw["return_indices"]:
        return [c.b.one("MaxPool", [c.x(0)], **attrs)]
    y, idx = c.b.node("MaxPool", [c.x(0)], n_out=2, **attrs)
    c.b.meta[idx] = {"flat_plane": math.prod(c.shape(0)[2:]), "pool": (kw["k"], kw["s"], kw["p"])}
    return [y, idx]


@_converts("AvgPoolNd")
def _avg_pool(c: _Ctx):
    kw = c.kw
    nd = kw["nd"]
    if len(c.shape(0)) != nd + 2:
        c.fail(f"on a {len(c.shape(0))}-d input (ONNX pooling needs (N, C, *spatial))")
    if kw["divisor_override"] is not None:
        c.fail(f"with divisor_override={kw['divisor_override']}")
    return [c.b.one("AveragePool", [c.x(0)], kernel_shape=list(kw["k"]), strides=list(kw["s"]),
                    pads=list(kw["p"]) * 2, ceil_mode=int(kw["ceil_mode"]),
                    count_include_pad=int(kw["count_include_pad"]))]


@_converts("AdaptiveAvgPoolNd")
def _adaptive_avg(c: _Ctx):
    nd, out = c.kw["nd"], tuple(c.kw["out"])
    sp = c.shape(0)[-nd:]
    if len(c.shape(0)) != nd + 2:
        c.fail(f"on a {len(c.shape(0))}-d input (ONNX pooling needs (N, C, *spatial))")
    if all(o == 1 for o in out):
        return [c.b.one("GlobalAveragePool", [c.x(0)])]
    if all(s % o == 0 for s, o in zip(sp, out)):
        k = [s // o for s, o in zip(sp, out)]
        # the hint lets convnp.onnx.load rerun the same kernel (an exact round trip); other
        # runtimes see a plain AveragePool
        return [c.b.one("AveragePool", [c.x(0)], kernel_shape=k, strides=k, doc=ADAPTIVE_HINT)]
    c.fail(f"with output size {out} not dividing the input size {sp}")


@_converts("MaxUnpoolNd")
def _max_unpool(c: _Ctx):
    b = c.b
    idx = c.x(1, raw=True)
    info = b.meta.get(idx, {})
    if "pool" not in info:
        c.fail("with indices that do not come from a traced max pool (ONNX MaxUnpool needs the "
               "pool's kernel)")
    k, s, p = info["pool"]
    out_sp = tuple(c.kw["out_sp"])
    if info["flat_plane"] != math.prod(out_sp):
        # per-plane positions, then counted over the unpooled (N, C, *out_sp) tensor
        plane = b.name_of(c.call.args[1])
        nc = b.one("Shape", [c.x(0)], start=0, end=2)
        offs = b.one("Mul", [b.one("Range", [b.const(np.int64(0)),
                                             b.one("ReduceProd", [nc], keepdims=0),
                                             b.const(np.int64(1))]),
                             b.const(np.int64(math.prod(out_sp)))])
        offs = b.one("Reshape", [offs, b.one("Concat", [nc, b.ints([1] * len(out_sp))], axis=0)])
        idx = b.one("Add", [plane, offs])
    shape = b.one("Concat", [b.one("Shape", [c.x(0)], start=0, end=2), b.ints(out_sp)], axis=0)
    return [b.one("MaxUnpool", [c.x(0), idx, shape], kernel_shape=list(k), strides=list(s),
                  pads=list(p) * 2)]


# ---------------------------------------------------------------------------- normalisation
@_converts("BatchNormEval")
def _batch_norm(c: _Ctx):
    b, ch = c.b, c.shape(0)[1]
    dt = c.arrays[0].dtype
    scale = c.x(1) if c.arrays[1] is not None else b.const(np.ones(ch, dt))
    bias = c.x(2) if len(c.arrays) > 2 and c.arrays[2] is not None else b.const(np.zeros(ch, dt))
    mean, var = b.name_of(c.kw["mean"]), b.name_of(c.kw["var"])
    return [b.one("BatchNormalization", [c.x(0), scale, bias, mean, var],
                  epsilon=float(c.kw.get("eps", 1e-5)))]


@_converts("Standardize")
def _standardize(c: _Ctx):
    """Group / instance norm: InstanceNormalization over the (N, groups, -1) view, then the
    per-channel affine (one form for every opset; GroupNormalization changed meaning at 21).
    Layer norm: LayerNormalization (opset 17)."""
    b, kw = c.b, c.kw
    shape, view, axes = c.shape(0), tuple(kw["view"]), tuple(kw["axes"])
    nd, dt, eps = len(shape), c.arrays[0].dtype, float(kw.get("eps", 1e-5))
    w = c.x(1) if c.arrays[1] is not None else ""
    bias = c.x(2) if len(c.arrays) > 2 and c.arrays[2] is not None else ""
    per_channel = (1, shape[1]) + (1,) * (nd - 2) if nd >= 2 else None
    if nd >= 3 and len(view) == 3 and axes == (2,) and tuple(kw["wshape"]) == per_channel:
        g = view[1]
        x = c.x(0)
        if nd != 3 or g != shape[1]:
            x = b.one("Reshape", [x, b.ints([0, g, -1])])
        y = b.one("InstanceNormalization", [x, b.const(np.ones(g, dt)), b.const(np.zeros(g, dt))],
                  epsilon=eps)
        if nd != 3 or g != shape[1]:
            y = b.one("Reshape", [y, b.one("Shape", [c.x(0)])])
        if w:
            y = b.one("Mul", [y, b.one("Reshape", [w, b.ints(per_channel)])])
        if bias:
            y = b.one("Add", [y, b.one("Reshape", [bias, b.ints(per_channel)])])
        return [y, "", ""]
    lead = len(view) - 1
    if axes == (lead,) and view[:lead] == shape[:lead]:
        if b.opset < 17:
            c.fail(f"(layer norm) below opset 17 (LayerNormalization); got opset {b.opset}")
        ns = shape[lead:]
        scale = w or b.const(np.ones(ns, dt))
        ins = [c.x(0), scale] + ([bias] if bias else [])
        return [b.one("LayerNormalization", ins, axis=lead, epsilon=eps), "", ""]
    c.fail(f"with view={view}, axes={axes}")


@_converts("BatchNormTrain")
def _batch_norm_train(c: _Ctx):
    c.fail("in training mode (call model.eval() before exporting)")


@_converts("MaskAffine")
def _dropout_train(c: _Ctx):
    c.fail("(dropout) in training mode (call model.eval() before exporting)")


# -------------------------------------------------------------------------------- resampling
@_converts("Interpolate")
def _interpolate(c: _Ctx):
    spec, b = c.kw.get("spec"), c.b
    if spec is None:
        c.fail("without the interpolate() arguments it was built from")
    if spec["antialias"]:
        c.fail("with antialias=True")
    mode = spec["mode"]
    attrs: dict[str, Any] = {}
    if mode == "nearest":
        attrs = dict(mode="nearest", coordinate_transformation_mode="asymmetric",
                     nearest_mode="floor")
    elif mode == "nearest-exact":
        attrs = dict(mode="nearest", coordinate_transformation_mode="half_pixel",
                     nearest_mode="round_prefer_ceil")
    else:
        attrs = dict(mode="cubic" if mode == "bicubic" else "linear",
                     coordinate_transformation_mode="align_corners" if spec["align_corners"]
                     else "half_pixel")
        if mode == "bicubic":
            attrs["cubic_coeff_a"] = -0.75
    if spec["scales"] is not None:
        # PyTorch maps coordinates with 1/scale_factor itself, as ONNX does with its scales
        scales = b.const(np.asarray([1.0, 1.0] + list(spec["scales"]), np.float32))
        return [b.one("Resize", [c.x(0), "", scales], **attrs)]
    sizes = b.one("Concat", [b.one("Shape", [c.x(0)], start=0, end=2), b.ints(spec["size"])],
                  axis=0)
    return [b.one("Resize", [c.x(0), "", "", sizes], **attrs)]


@_converts("Pad")
def _pad(c: _Ctx):
    pairs, modes = list(c.kw["pads"]), list(c.kw["modes"])
    lead = len(c.shape(0)) - len(pairs)
    x = c.x(0)
    if len(set(modes)) == 1 and modes[0] == "constant":
        return [_pad_node(c, x, [(0, 0)] * lead + pairs, "constant", c.kw.get("value", 0.0))]
    return [_pad_per_mode(c, x, pairs, modes, lead)]


# ------------------------------------------------------------------------------ elementwise
def _simple(op: str, **attrs):
    def conv(c: _Ctx):
        return [c.b.one(op, [c.x(i) for i in range(len(c.arrays))], **attrs)]
    return conv


for _name, _op in {"Add": "Add", "Sub": "Sub", "Mul": "Mul", "Div": "Div", "Pow": "Pow",
                   "Neg": "Neg", "Exp": "Exp", "Log": "Log", "Sqrt": "Sqrt", "Abs": "Abs",
                   "Sin": "Sin", "Cos": "Cos", "Tanh": "Tanh", "Sigmoid": "Sigmoid",
                   "ReLU": "Relu", "Maximum": "Max", "Minimum": "Min", "MatMul": "MatMul",
                   "Softsign": "Softsign", "Clone": "Identity", "Where": "Where",
                   "Hardswish": "HardSwish"}.items():
    _CONVERTERS[_name] = _simple(_op)


@_converts("Hardsigmoid")
def _hardsigmoid(c):
    return [c.b.one("HardSigmoid", [c.x(0)], alpha=1.0 / 6.0, beta=0.5)]


def _clip(c: _Ctx, lo, hi):
    dt = c.arrays[0].dtype
    ins = [c.x(0), "" if lo is None else c.b.const(np.asarray(lo, dt)),
           "" if hi is None else c.b.const(np.asarray(hi, dt))]
    while ins[-1] == "":
        ins.pop()
    return [c.b.one("Clip", ins)]


@_converts("Hardtanh")
def _hardtanh(c):
    return _clip(c, c.kw.get("min_val", -1.0), c.kw.get("max_val", 1.0))


@_converts("Clamp")
def _clamp(c):
    return _clip(c, c.kw.get("lo"), c.kw.get("hi"))


@_converts("LeakyReLU")
def _leaky(c):
    return [c.b.one("LeakyRelu", [c.x(0)], alpha=float(c.kw.get("slope", 0.01)))]


@_converts("PReLU")
def _prelu(c):
    w = c.x(1)
    n = len(c.shape(0))
    if np.size(c.arrays[1]) > 1 and n > 2:  # (C,) slopes broadcast over axis 1, not the last
        w = c.b.one("Reshape", [w, c.b.ints([-1] + [1] * (n - 2))])
    return [c.b.one("PRelu", [c.x(0), w])]


@_converts("ELU")
def _elu(c):
    alpha = float(c.kw.get("alpha", 1.0))
    scale, iscale = float(c.kw.get("scale", 1.0)), float(c.kw.get("input_scale", 1.0))
    if scale == 1.0 and iscale == 1.0:
        return [c.b.one("Elu", [c.x(0)], alpha=alpha)]
    if iscale == 1.0:
        return [c.b.one("Selu", [c.x(0)], alpha=alpha, gamma=scale)]
    if scale == 1.0 and math.isclose(iscale * alpha, 1.0, rel_tol=1e-12):
        return [c.b.one("Celu", [c.x(0)], alpha=alpha)]
    c.fail(f"with scale={scale}, input_scale={iscale}")


def _cst(c: _Ctx, v) -> str:
    return c.b.const(np.asarray(v, c.arrays[0].dtype))


@_converts("GELU")
def _gelu(c):
    b, x = c.b, c.x(0)
    if c.kw.get("approximate", "none") == "tanh":
        x3 = b.one("Mul", [b.one("Mul", [x, x]), x])
        inner = b.one("Mul", [b.one("Add", [x, b.one("Mul", [x3, _cst(c, 0.044715)])]),
                              _cst(c, math.sqrt(2.0 / math.pi))])
        t = b.one("Add", [b.one("Tanh", [inner]), _cst(c, 1.0)])
    else:
        t = b.one("Add", [b.one("Erf", [b.one("Mul", [x, _cst(c, 1 / math.sqrt(2.0))])]),
                          _cst(c, 1.0)])
    return [b.one("Mul", [b.one("Mul", [x, t]), _cst(c, 0.5)])]


@_converts("SiLU")
def _silu(c):
    return [c.b.one("Mul", [c.x(0), c.b.one("Sigmoid", [c.x(0)])])]


@_converts("Mish")
def _mish(c):
    return [c.b.one("Mul", [c.x(0), c.b.one("Tanh", [c.b.one("Softplus", [c.x(0)])])])]


@_converts("Softplus")
def _softplus(c):
    beta = float(c.kw.get("beta", 1.0))
    thr = float(c.kw.get("threshold", 20.0))
    b, x = c.b, c.x(0)
    bx = x if beta == 1.0 else b.one("Mul", [x, _cst(c, beta)])
    sp = b.one("Softplus", [bx])
    if beta != 1.0:
        sp = b.one("Div", [sp, _cst(c, beta)])
    # PyTorch returns x itself above the threshold (beta * x > threshold)
    return [b.one("Where", [b.one("Greater", [bx, _cst(c, thr)]), x, sp])]


@_converts("Tanhshrink")
def _tanhshrink(c):
    return [c.b.one("Sub", [c.x(0), c.b.one("Tanh", [c.x(0)])])]


@_converts("Shrink")
def _shrink(c):
    lambd = float(c.kw["lambd"])
    return [c.b.one("Shrink", [c.x(0)], lambd=lambd, bias=lambd if c.kw["soft"] else 0.0)]


@_converts("LogSigmoid")
def _logsigmoid(c):
    return [c.b.one("Neg", [c.b.one("Softplus", [c.b.one("Neg", [c.x(0)])])])]


@_converts("Threshold")
def _threshold(c):
    b = c.b
    return [b.one("Where", [b.one("Greater", [c.x(0), _cst(c, c.kw["threshold"])]), c.x(0),
                            _cst(c, c.kw["value"])])]


@_converts("Softmax")
def _softmax(c):
    x = c.x(0)
    if c.kw.get("negate"):
        x = c.b.one("Neg", [x])
    dim = c.kw["dim"] % len(c.shape(0))
    return [c.b.one("LogSoftmax" if c.kw.get("log") else "Softmax", [x], axis=dim)]


@_converts("Linear")
def _linear(c):
    b = c.b
    has_bias = len(c.arrays) > 2 and c.arrays[2] is not None
    if len(c.shape(0)) == 2:
        ins = [c.x(0), c.x(1)] + ([c.x(2)] if has_bias else [])
        return [b.one("Gemm", ins, transB=1)]
    y = b.one("MatMul", [c.x(0), b.one("Transpose", [c.x(1)], perm=[1, 0])])
    return [b.one("Add", [y, c.x(2)]) if has_bias else y]


# ------------------------------------------------------------------------------ movement
@_converts("Reshape")
def _reshape(c):
    src, dst = c.shape(0), c.out_shapes[0]
    if len(dst) == 2 and len(src) >= 2 and dst[0] == src[0]:
        return [c.b.one("Flatten", [c.x(0)], axis=1)]
    target = list(dst)
    if len(src) and len(dst) and dst[0] == src[0]:
        target[0] = 0  # 0 copies the input's size: the batch axis may vary
    return [c.b.one("Reshape", [c.x(0), c.b.ints(target)])]


@_converts("Permute")
def _permute(c):
    return [c.b.one("Transpose", [c.x(0)], perm=[int(d) for d in c.kw["dims"]])]


@_converts("Expand")
def _expand(c):
    return [c.b.one("Expand", [c.x(0), c.b.ints(c.out_shapes[0])])]


@_converts("Flip")
def _flip(c):
    axes = [int(a) % len(c.shape(0)) for a in c.kw["axes"]]
    n = len(axes)
    return [_slice(c.b, c.x(0), axes, [-1] * n, [-(2 ** 62)] * n, [-1] * n)]


@_converts("Cat")
def _cat(c):
    ins = [c.x(i) for i in range(len(c.arrays))]
    return [c.b.one("Concat", ins, axis=int(c.kw.get("axis", 0)) % len(c.out_shapes[0]))]


@_converts("Stack")
def _stack(c):
    axis = int(c.kw.get("axis", 0)) % len(c.out_shapes[0])
    ax = c.b.ints([axis])
    ins = [c.b.one("Unsqueeze", [c.x(i), ax]) for i in range(len(c.arrays))]
    return [c.b.one("Concat", ins, axis=axis)]


@_converts("GetItem")
def _getitem(c):
    index = c.kw["index"]
    items = index if isinstance(index, tuple) else (index,)
    if not all(isinstance(i, (int, np.integer, slice, type(None), type(Ellipsis)))
               for i in items):
        c.fail(f"with advanced index {index!r} (only ints, slices, None and ... export)")
    ndim = len(c.shape(0))
    n_real = sum(1 for i in items if i is not None and i is not Ellipsis)
    full: list = []
    for i in items:
        if i is Ellipsis:
            full += [slice(None)] * (ndim - n_real)
        else:
            full.append(i)
    axes, starts, ends, steps, squeeze, unsq = [], [], [], [], [], []
    axis = out_axis = 0
    for i in full:
        if i is None:
            unsq.append(out_axis)
            out_axis += 1
            continue
        size = c.shape(0)[axis]
        if isinstance(i, slice):
            start, stop, step = i.indices(size)
            if (start, stop, step) != (0, size, 1):
                axes.append(axis)
                starts.append(start)
                ends.append(stop if stop >= 0 else -(2 ** 62))
                steps.append(step)
            out_axis += 1
        else:
            j = int(i) % size
            axes += [axis]
            starts += [j]
            ends += [j + 1]
            steps += [1]
            squeeze.append(axis)
        axis += 1
    b, x = c.b, c.x(0)
    if axes:
        x = _slice(b, x, axes, starts, ends, steps)
    if squeeze:
        x = b.one("Squeeze", [x, b.ints(squeeze)])
    if unsq:
        x = b.one("Unsqueeze", [x, b.ints(unsq)])
    if x == c.x(0):
        x = b.one("Identity", [x])
    return [x]


_ONNX_DTYPE = {np.dtype(np.float32): 1, np.dtype(np.float64): 11, np.dtype(np.float16): 10,
               np.dtype(np.int64): 7, np.dtype(np.int32): 6, np.dtype(np.bool_): 9,
               np.dtype(np.uint8): 2, np.dtype(np.int8): 3}


@_converts("Cast")
def _cast(c):
    dt = c.call.outs[0].array.dtype
    if dt not in _ONNX_DTYPE:
        c.fail(f"to dtype {dt}")
    return [c.b.one("Cast", [c.x(0)], to=_ONNX_DTYPE[dt])]


def _reduce(op: str):
    def conv(c: _Ctx):
        b = c.b
        axes = c.kw.get("axes")
        keep = int(bool(c.kw.get("keepdim", False)))
        nd = len(c.shape(0))
        axes = list(range(nd)) if axes is None else [int(a) % nd for a in np.atleast_1d(axes)]
        # opset 18 moved ReduceMean's axes (ReduceSum's at 13) from an attribute to an input
        if b.opset >= (13 if op == "ReduceSum" else 18):
            return [b.one(op, [c.x(0), b.ints(axes)], keepdims=keep)]
        return [b.one(op, [c.x(0)], axes=axes, keepdims=keep)]
    return conv


_CONVERTERS["Mean"] = _reduce("ReduceMean")
_CONVERTERS["Sum"] = _reduce("ReduceSum")


# ------------------------------------------------------------------------------ the driver
def _ort_max_opset() -> int | None:
    """The newest default-domain opset the installed onnxruntime loads (None: not installed)."""
    try:
        import onnxruntime as ort
    except ImportError:
        return None
    import onnx
    from onnx import TensorProto, helper

    g = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "probe",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])])
    for opset in range(onnx.defs.onnx_opset_version(), 12, -1):
        ops = [helper.make_opsetid("", opset)]
        m = helper.make_model(g, opset_imports=ops)
        m.ir_version = helper.find_min_ir_version_for(ops)
        try:
            ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
            return opset
        except Exception:  # noqa: BLE001 - any refusal means this opset is too new
            continue
    return None


def _value_info(onnx, name, arr, dyn: dict | None):
    dims = list(arr.shape)
    for axis, label in (dyn or {}).items():
        if axis >= len(dims):
            raise ValueError(f"convnp.onnx.export: dynamic_axes names axis {axis} of {name!r}, "
                             f"which has only {len(dims)} axes (shape {tuple(arr.shape)})")
        dims[axis] = label
    if arr.dtype not in _ONNX_DTYPE:
        raise TypeError(f"convnp.onnx.export: {name!r} has dtype {arr.dtype}, which ONNX graphs "
                        "here do not carry (use float32)")
    return onnx.helper.make_tensor_value_info(name, _ONNX_DTYPE[arr.dtype], dims)


def _dyn_axes(spec, name) -> dict:
    if spec is None or name not in spec:
        return {}
    v = spec[name]
    return {int(a): f"{name}_dim{a}" for a in v} if isinstance(v, (list, tuple)) else \
        {int(a): str(lbl) for a, lbl in v.items()}


def build_model(model, args: tuple, opset: int, input_names, output_names, dynamic_axes,
                onnx):
    """Trace ``model(*args)`` and return the ``onnx.ModelProto``."""
    from convnp.autograd.grad_mode import no_grad
    from convnp.tensor import Tensor

    params = {}
    for name, p in model.named_parameters():
        params.setdefault(id(p), name)
        params.setdefault(id(p.array), name)
    for name, buf in model.named_buffers():
        params.setdefault(id(buf), name)
        params.setdefault(id(buf.array), name)
    with no_grad(), _Tracer(model) as tracer:
        out = model(*args)
    outs = out if isinstance(out, (tuple, list)) else (out,)
    if not all(isinstance(o, Tensor) for o in outs):
        raise TypeError("convnp.onnx.export: the model must return a Tensor or a tuple of "
                        f"Tensors, got {type(out).__name__}")
    input_names = list(input_names or (["input"] if len(args) == 1 else
                                       [f"input_{i}" for i in range(len(args))]))
    output_names = list(output_names or (["output"] if len(outs) == 1 else
                                         [f"output_{i}" for i in range(len(outs))]))
    if len(input_names) != len(args):
        raise ValueError(f"convnp.onnx.export: {len(input_names)} input_names for {len(args)} "
                         "inputs")
    if len(output_names) != len(outs):
        raise ValueError(f"convnp.onnx.export: {len(output_names)} output_names for "
                         f"{len(outs)} outputs")
    b = _Builder(onnx, opset, params)
    for t, name in zip(args, input_names):
        b.bind(t, name)
    missing = sorted({c.fn.__name__ for c in tracer.calls} - set(_CONVERTERS))
    if missing:
        where = {}
        for c in tracer.calls:
            if c.fn.__name__ in missing:
                where.setdefault(c.fn.__name__, c.module)
        raise UnsupportedOperatorError(
            "convnp.onnx.export: no ONNX form for " + "; ".join(
                f"{op} (called by {where[op]})" for op in missing)
            + ". Replace those layers, or export the part of the model before them")
    for call in tracer.calls:
        names = _CONVERTERS[call.fn.__name__](_Ctx(b, call))
        for t, name in zip(call.outs, names):
            if name:
                b.bind(t, name)
    graph_outs = []
    for t, name in zip(outs, output_names):
        src = b.name_of(t)
        b.nodes.append(onnx.helper.make_node("Identity", [src], [name], name=f"/out/{name}"))
        graph_outs.append(_value_info(onnx, name, t.array, _dyn_axes(dynamic_axes, name)))
    graph_ins = [_value_info(onnx, n, t.array, _dyn_axes(dynamic_axes, n))
                 for t, n in zip(args, input_names)]
    inits = [onnx.numpy_helper.from_array(np.array(a, order="C"), name)
             for name, a in b.inits.items()]
    graph = onnx.helper.make_graph(b.nodes, type(model).__name__, graph_ins, graph_outs, inits)
    ops = [onnx.helper.make_opsetid("", opset)]
    m = onnx.helper.make_model(graph, opset_imports=ops, producer_name="convnp")
    # the oldest IR version that carries this opset: every runtime that knows the opset loads it
    m.ir_version = onnx.helper.find_min_ir_version_for(ops)
    return m
