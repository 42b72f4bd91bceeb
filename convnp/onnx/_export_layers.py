"""ONNX converters of the layer ops: convolution, pooling, normalisation, resampling, padding."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from convnp.onnx._trace import ADAPTIVE_HINT, _converts, _Ctx, _slice

_PAD_MODE = {"constant": "constant", "zeros": "constant", "reflect": "reflect",
             "replicate": "edge", "circular": "wrap"}


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
def _pool_attrs(c: _Ctx, nd: int) -> dict:
    """The window attributes MaxPool and AveragePool share, after checking the input is batched."""
    if len(c.shape(0)) != nd + 2:
        c.fail(f"on a {len(c.shape(0))}-d input (ONNX pooling needs (N, C, *spatial))")
    kw = c.kw
    return dict(kernel_shape=list(kw["k"]), strides=list(kw["s"]), pads=list(kw["p"]) * 2,
                ceil_mode=int(kw["ceil_mode"]))


@_converts("MaxPoolNd")
def _max_pool(c: _Ctx):
    kw = c.kw
    attrs = dict(_pool_attrs(c, kw["nd"]), dilations=list(kw["d"]))
    if not kw["return_indices"]:
        return [c.b.one("MaxPool", [c.x(0)], **attrs)]
    y, idx = c.b.node("MaxPool", [c.x(0)], n_out=2, **attrs)
    c.b.meta[idx] = {"flat_plane": math.prod(c.shape(0)[2:]), "pool": (kw["k"], kw["s"], kw["p"])}
    return [y, idx]


@_converts("AvgPoolNd")
def _avg_pool(c: _Ctx):
    kw = c.kw
    attrs = _pool_attrs(c, kw["nd"])
    if kw["divisor_override"] is not None:
        c.fail(f"with divisor_override={kw['divisor_override']}")
    return [c.b.one("AveragePool", [c.x(0)], count_include_pad=int(kw["count_include_pad"]),
                    **attrs)]


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
