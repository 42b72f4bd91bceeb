"""ONNX converters of the tensor ops: elementwise math and activations, linear, movement
(reshape, permute, cat, indexing), casts and reductions."""

from __future__ import annotations

import math

import numpy as np

from convnp.onnx._trace import _CONVERTERS, _ONNX_DTYPE, _converts, _Ctx, _slice


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
