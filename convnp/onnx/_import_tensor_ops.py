"""ONNX operators run with convnp ops (2/2): reductions, movement (reshape, transpose, slice,
gather, ...), constants, Pad and Resize. Shape-like inputs are read as plain integers."""

from __future__ import annotations

import math

import numpy as np

from convnp.onnx._import_layers import _ints, _op, _scalar, _wrap


# --------------------------------------------------------------------------------- reductions
def _axes(node, ins, ndim):
    if len(ins) > 1 and ins[1] is not None:
        return tuple(a % ndim for a in _ints(ins[1]))
    if "axes" in node.attrs:
        return tuple(int(a) % ndim for a in node.attrs["axes"])
    return None


@_op("ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin")
def _reduce(m, node, ins):
    x = ins[0]
    axes = _axes(node, ins, x.ndim)
    if axes is None:
        if node.attrs.get("noop_with_empty_axes", 0):
            return x
        axes = tuple(range(x.ndim))
    keep = bool(node.attrs.get("keepdims", 1))
    if node.op == "ReduceMean":
        return x.mean(dim=axes, keepdim=keep)
    if node.op == "ReduceSum":
        return x.sum(dim=axes, keepdim=keep)
    return (x.amax if node.op == "ReduceMax" else x.amin)(dim=axes, keepdim=keep)


# ---------------------------------------------------------------------------------- movement
@_op("Flatten")
def _flatten(m, node, ins):
    x = ins[0]
    axis = int(node.attrs.get("axis", 1)) % (x.ndim + 1) if x.ndim else 0
    return x.reshape(math.prod(x.shape[:axis]), math.prod(x.shape[axis:]))


@_op("Reshape")
def _reshape(m, node, ins):
    x = ins[0]
    shape = _ints(ins[1])
    if not node.attrs.get("allowzero", 0):
        shape = [x.shape[i] if v == 0 else v for i, v in enumerate(shape)]
    return x.reshape(*shape)


@_op("Transpose")
def _transpose(m, node, ins):
    x = ins[0]
    perm = node.attrs.get("perm", list(range(x.ndim))[::-1])
    return x.permute(*[int(p) for p in perm])


@_op("Concat")
def _concat(m, node, ins):
    from convnp.ops.movement import cat

    return cat([t for t in ins if t is not None], dim=int(node.attrs["axis"]))


@_op("Squeeze")
def _squeeze(m, node, ins):
    x = ins[0]
    axes = _axes(node, ins, x.ndim)
    if axes is None:
        axes = tuple(i for i, s in enumerate(x.shape) if s == 1)
    return x.reshape(*[s for i, s in enumerate(x.shape) if i not in axes])


@_op("Unsqueeze")
def _unsqueeze(m, node, ins):
    x = ins[0]
    raw = _ints(ins[1]) if len(ins) > 1 and ins[1] is not None else list(node.attrs["axes"])
    n = x.ndim + len(raw)
    axes = sorted(a % n for a in raw)
    shape = list(x.shape)
    for a in axes:
        shape.insert(a, 1)
    return x.reshape(*shape)


@_op("Slice")
def _slice(m, node, ins):
    x = ins[0]
    if len(ins) > 1:
        starts, ends = _ints(ins[1]), _ints(ins[2])
        axes = _ints(ins[3]) if len(ins) > 3 and ins[3] is not None else list(range(len(starts)))
        steps = _ints(ins[4]) if len(ins) > 4 and ins[4] is not None else [1] * len(starts)
    else:  # opset < 10: attributes
        starts, ends = list(node.attrs["starts"]), list(node.attrs["ends"])
        axes = list(node.attrs.get("axes", range(len(starts))))
        steps = [1] * len(starts)
    index = [slice(None)] * x.ndim
    for a, st, en, sp in zip(axes, starts, ends, steps):
        size = x.shape[a]
        # ONNX clamps starts/ends (INT_MAX / INT_MIN mean "to the end"); Python slices do too,
        # except that a negative end below -size must mean "before the first element"
        stop = None if (sp < 0 and en < -size) or (sp > 0 and en >= size) else en
        index[a % x.ndim] = slice(st, stop, sp)
    return x[tuple(index)]


@_op("Shape")
def _shape(m, node, ins):
    shape = np.asarray(ins[0].shape, np.int64)
    start = node.attrs.get("start", 0)
    end = node.attrs.get("end", None)
    return _wrap(shape[start:end])


@_op("Gather")
def _gather(m, node, ins):
    x, idx = ins
    axis = int(node.attrs.get("axis", 0))
    if x.requires_grad:
        index = [slice(None)] * x.ndim
        index[axis % x.ndim] = idx.array
        return x[tuple(index)]
    return _wrap(np.take(x.array, idx.array, axis=axis))


@_op("Constant")
def _constant(m, node, ins):
    a = node.attrs
    for key in ("value", "value_float", "value_floats", "value_int", "value_ints"):
        if key in a:
            v = np.asarray(a[key])
            if key.startswith("value_int"):
                v = v.astype(np.int64)
            elif key.startswith("value_float"):
                v = v.astype(np.float32)
            return _wrap(v)
    raise ValueError(f"Constant with attributes {sorted(a)} is not supported")


@_op("ConstantOfShape")
def _constant_of_shape(m, node, ins):
    value = node.attrs.get("value", np.zeros(1, np.float32))
    return _wrap(np.full(_ints(ins[0]), np.asarray(value).reshape(-1)[0],
                         np.asarray(value).dtype))


@_op("Expand")
def _expand(m, node, ins):
    x = ins[0]
    shape = np.broadcast_shapes(tuple(x.shape), tuple(_ints(ins[1])))
    return x.expand(*shape)


@_op("Range")
def _range(m, node, ins):
    start, limit, delta = (np.asarray(t.array).reshape(()) for t in ins)
    return _wrap(np.arange(start, limit, delta).astype(start.dtype))


@_op("Pad")
def _pad(m, node, ins):
    from convnp.ops.padding import Pad

    x = ins[0]
    if len(ins) > 1 and ins[1] is not None:
        pads = _ints(ins[1])
        value = _scalar(ins[2]) if len(ins) > 2 and ins[2] is not None else 0.0
        axes = _ints(ins[3]) if len(ins) > 3 and ins[3] is not None else list(range(x.ndim))
    else:  # opset < 11: attributes
        pads = list(node.attrs["pads"])
        value = float(node.attrs.get("value", 0.0))
        axes = list(range(x.ndim))
    n = len(axes)
    pairs = [(0, 0)] * x.ndim
    for i, a in enumerate(axes):
        pairs[a % x.ndim] = (int(pads[i]), int(pads[i + n]))
    mode = node.attrs.get("mode", "constant")
    ours = {"constant": "constant", "reflect": "reflect", "edge": "replicate",
            "wrap": "circular"}.get(mode)
    if ours is None:
        raise ValueError(f"Pad mode {mode!r} is not supported")
    # leading axes without padding stay out of the Pad call (reflect needs no size check there)
    first = next((i for i, p in enumerate(pairs) if p != (0, 0)), x.ndim)
    pairs = pairs[first:]
    if not pairs:
        return x
    return Pad.apply(x, pads=tuple(pairs), modes=(ours,) * len(pairs), value=value)


# -------------------------------------------------------------------------------------- Resize
def _resize_table(n_in, n_out, scale, attrs, ft, given_scale):
    ctm = attrs.get("coordinate_transformation_mode", "half_pixel")
    mode = attrs.get("mode", "nearest")
    torch_table = _torch_table(n_in, n_out, attrs, ctm, mode, ft, given_scale)
    if torch_table is not None:
        return torch_table
    o = np.arange(n_out, dtype=np.float64)
    if ctm == "half_pixel":
        x = (o + 0.5) / scale - 0.5
    elif ctm == "pytorch_half_pixel":
        x = (o + 0.5) / scale - 0.5 if n_out > 1 else np.zeros(n_out)
    elif ctm == "align_corners":
        x = o * (n_in - 1) / (n_out - 1) if n_out > 1 else np.zeros(n_out)
    elif ctm == "asymmetric":
        x = o / scale
    elif ctm == "half_pixel_symmetric":
        adj = n_out / (n_in * scale)
        x = n_in / 2 * (1 - adj) + (o + 0.5) / scale - 0.5
    else:
        raise ValueError(f"Resize coordinate_transformation_mode={ctm!r} is not supported")
    if mode == "nearest":
        nm = attrs.get("nearest_mode", "round_prefer_floor")
        r = {"round_prefer_floor": lambda v: np.ceil(v - 0.5),
             "round_prefer_ceil": lambda v: np.floor(v + 0.5),
             "floor": np.floor, "ceil": np.ceil}[nm](x)
        idx = np.clip(r, 0, n_in - 1).astype(np.int64)[:, None]
        return idx, np.ones((n_out, 1), ft)
    if mode == "linear":
        x = np.clip(x, 0, n_in - 1)
        i0 = np.floor(x).astype(np.int64)
        lam = x - i0
        i1 = np.minimum(i0 + 1, n_in - 1)
        return np.stack([i0, i1], 1), np.stack([1 - lam, lam], 1).astype(ft)
    if mode == "cubic":
        a = float(attrs.get("cubic_coeff_a", -0.75))
        i0 = np.floor(x).astype(np.int64)
        t = x - i0
        dist = np.stack([t + 1, t, 1 - t, 2 - t], 1)
        ad = np.abs(dist)
        w = np.where(ad <= 1, ((a + 2) * ad - (a + 3)) * ad * ad + 1,
                     np.where(ad < 2, ((a * ad - 5 * a) * ad + 8 * a) * ad - 4 * a, 0.0))
        idx = i0[:, None] + np.arange(-1, 3)
        if attrs.get("exclude_outside", 0):
            w = np.where((idx >= 0) & (idx < n_in), w, 0.0)
            w = w / w.sum(1, keepdims=True)
        return np.clip(idx, 0, n_in - 1), w.astype(ft)
    raise ValueError(f"Resize mode={mode!r} is not supported")


def _torch_table(n_in, n_out, attrs, ctm, mode, ft, scale):
    """The cases PyTorch's interpolate exports to, computed by convnp's own tables (the same
    arithmetic, so a convnp -> ONNX -> convnp round trip is exact); None for the others."""
    from convnp.ops import upsample as U

    if mode == "nearest":
        nm = attrs.get("nearest_mode", "round_prefer_floor")
        if ctm == "asymmetric" and nm == "floor":
            return U._nearest_table(n_in, n_out, scale, False, ft)
        if ctm == "half_pixel" and nm == "round_prefer_ceil":
            return U._nearest_table(n_in, n_out, scale, True, ft)
        return None
    if ctm == "align_corners" or ctm == "half_pixel" or (ctm == "pytorch_half_pixel"
                                                        and n_out > 1):
        align = ctm == "align_corners"
        if mode == "linear":
            return U._linear_table(n_in, n_out, scale, align, ft)
        if mode == "cubic" and float(attrs.get("cubic_coeff_a", -0.75)) == -0.75 \
                and not attrs.get("exclude_outside", 0):
            return U._cubic_table(n_in, n_out, scale, align, ft)
    return None


@_op("Resize", "Upsample")
def _resize(m, node, ins):
    from convnp.ops.upsample import Interpolate

    x = ins[0]
    if node.op == "Upsample":
        scales = ins[1].array.astype(np.float64) if len(ins) > 1 else \
            np.asarray(node.attrs["scales"], np.float64)
        sizes = None
        attrs = dict(node.attrs, coordinate_transformation_mode="asymmetric",
                     nearest_mode="floor")
    else:
        attrs = node.attrs
        scales = ins[2].array.astype(np.float64) if len(ins) > 2 and ins[2] is not None \
            and ins[2].array.size else None
        sizes = _ints(ins[3]) if len(ins) > 3 and ins[3] is not None else None
        if attrs.get("antialias", 0):
            raise ValueError("Resize with antialias=1 is not supported")
        if attrs.get("axes") is not None:
            full_s = np.ones(x.ndim) if scales is not None else None
            full_z = list(x.shape) if sizes is not None else None
            for i, a in enumerate(attrs["axes"]):
                if full_s is not None:
                    full_s[a] = scales[i]
                if full_z is not None:
                    full_z[a] = sizes[i]
            scales, sizes = full_s, full_z
    if attrs.get("mode", "nearest") == "linear" and "coordinate_transformation_mode" not in attrs:
        attrs = dict(attrs, coordinate_transformation_mode="half_pixel")
    tables = {}
    ft = x.dtype.type
    for a in range(x.ndim):
        n_in = x.shape[a]
        given = None
        if sizes is not None:
            n_out, sc = int(sizes[a]), sizes[a] / n_in
        else:
            # scales travel as float32; the shortest decimal of that float32 is the scale the
            # model was built with (2.5, 1.7), which PyTorch and convnp invert in double
            sc = given = float(str(np.float32(scales[a])))
            n_out = int(math.floor(n_in * sc))
        if n_out == n_in and sc == 1.0:
            continue
        if a < 2 and n_out != n_in:
            raise ValueError(f"resizing the batch or channel axis ({n_in} -> {n_out}) is not "
                             "supported")
        tables[a] = _resize_table(n_in, n_out, sc, attrs, ft, given)
    return Interpolate.apply(x, tables=tables)
