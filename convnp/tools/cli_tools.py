"""Subcommands ``convnp explain | summary | equivariance | animate | show`` (registered in
``convnp.cli``'s command registry when the CLI imports this module).

``explain_text`` prints the arithmetic of one layer with the numbers filled in, from the same
``convnp.ops._shape`` functions the layers call.
"""

from __future__ import annotations

import argparse
import math

from convnp.tools import shapes

__all__ = ["explain_text", "parse_size"]

_DIMS = {1: ("L",), 2: ("H", "W"), 3: ("D", "H", "W")}
_OPS = [f"{base}{n}d" for base in ("conv", "conv_transpose", "maxpool", "avgpool")
        for n in (1, 2, 3)]


def parse_size(text: str, what: str = "size") -> tuple[int, ...]:
    """'32' -> (32,), '3x32x32' -> (3, 32, 32), '5,6' -> (5, 6)."""
    try:
        vals = tuple(int(v) for v in str(text).lower().replace(",", "x").split("x") if v)
    except ValueError:
        raise ValueError(f"{what} must be ints separated by 'x', e.g. 32 or 3x32x32, got "
                         f"{text!r}") from None
    if not vals or any(v < 0 for v in vals):
        raise ValueError(f"{what} must be non-negative ints, e.g. 32 or 3x32x32, got {text!r}")
    return vals


def _per_axis(v, n: int, what: str) -> tuple:
    if isinstance(v, str) and v in ("same", "valid", "causal"):
        return (v,) * n
    vals = parse_size(v, what) if isinstance(v, str) else ((v,) if isinstance(v, int) else v)
    if len(vals) == 1:
        vals = vals * n
    if len(vals) != n:
        raise ValueError(f"{what} needs 1 or {n} values, got {v!r}")
    return tuple(vals)


def _x(vals) -> str:
    return " x ".join(str(v) for v in vals)


def _notes_formula_lines(x: int, k: int, s: int, p: int, out: int) -> list[str]:
    """The notes' (x - k + 2p)/s + 1 beside the real size, saying why they can differ."""
    val = (x - k + 2 * p) / s + 1
    line = [f"      the notes' (x - k + 2p)/s + 1 = ({x} - {k} + 2*{p})/{s} + 1 = {val:g}"]
    if val != out:
        line.append(f"      it rounds down: {val:g} -> {out} (the division is floor division: "
                    f"a last window that would hang past the padded input is dropped)")
    return line


def _dilation_line(d) -> str:
    return (f"Dilation: torch's dilation {_x(d)} = taps {_x(d)} pixels apart = "
            f"{_x(dd - 1 for dd in d)} gap(s) between taps; notes that count the gaps call this "
            f"'dilation {_x(dd - 1 for dd in d)}' (torch's dilation 1 = no gaps = a plain conv)")


def _layer(kind: str, n: int, sp, k, s, padding, d, channels: int, cout: int, groups: int,
           output_padding, ceil_mode: bool, bias: bool):
    """The convnp layer that ``explain`` describes: its window() and output_shape() give every
    number below, so the text cannot drift from what the layer computes."""
    import convnp.nn as nn

    if kind == "conv":
        return getattr(nn, f"Conv{n}d")(channels, cout, k, s, padding, d, groups, bias)
    if kind == "conv_transpose":
        op = _per_axis(output_padding, n, "--output-padding")
        return getattr(nn, f"ConvTranspose{n}d")(channels, cout, k, s, padding, op, groups, bias,
                                                 d)
    p = _per_axis(padding, n, "--padding")
    if kind == "maxpool":
        return getattr(nn, f"MaxPool{n}d")(k, s, p, d, ceil_mode=ceil_mode)
    if any(dd != 1 for dd in d):
        raise ValueError(f"explain: average pooling has no dilation, got --dilation {_x(d)}")
    return getattr(nn, f"AvgPool{n}d")(k, s, p, ceil_mode)


def _conv_size_lines(win, sp, out, names, padding) -> list[str]:
    k, s, d = win.kernel, win.stride, win.dilation
    lines = ["Output size per axis: floor((x + p_lo + p_hi - d*(k - 1) - 1) / s) + 1"]
    for i, (lo, hi) in enumerate(win.pads):
        num = sp[i] + lo + hi - d[i] * (k[i] - 1) - 1
        lines.append(f"  {names[i]}: floor(({sp[i]} + {lo} + {hi} - {d[i]}*({k[i]} - 1) - 1)"
                     f" / {s[i]}) + 1 = floor({num}/{s[i]}) + 1 = {out[i]}")
        if lo == hi and d[i] == 1:
            lines += _notes_formula_lines(sp[i], k[i], s[i], lo, out[i])
        if isinstance(padding, str) and padding != "valid":
            lines.append(f"      padding '{padding}' resolves to (lo, hi) = ({lo}, {hi})")
        if padding == "same":
            lines.append(f"      SAME gives ceil(x/s) = ceil({sp[i]}/{s[i]}) = "
                         f"{-(-sp[i] // s[i])}: it pads just enough that every input pixel "
                         f"is covered (TensorFlow's rule); a note's floor(x/s) = "
                         f"{sp[i] // s[i]} agrees only when s divides x")
    if any(dd != 1 for dd in d):
        lines.append(_dilation_line(d))
    return lines


def _transpose_size_lines(win, sp, out, names, padding) -> list[str]:
    k, s, d, op = win.kernel, win.stride, win.dilation, win.output_padding
    lines = ["Output size per axis: (x - 1)*s - p_lo - p_hi + d*(k - 1) + output_padding + 1"]
    for i, (lo, hi) in enumerate(win.pads):
        lines.append(f"  {names[i]}: ({sp[i]} - 1)*{s[i]} - {lo} - {hi} + {d[i]}*({k[i]} - 1)"
                     f" + {op[i]} + 1 = {out[i]}")
    return lines


def _pool_size_lines(win, sp, out, names, padding) -> list[str]:
    k, s, d = win.kernel, win.stride, win.dilation
    rnd = "ceil" if win.ceil_mode else "floor"
    lines = [f"Output size per axis: {rnd}((x + 2p - d*(k - 1) - 1) / s) + 1"]
    for i, (p, _) in enumerate(win.pads):
        num = sp[i] + 2 * p - d[i] * (k[i] - 1) - 1
        lines.append(f"  {names[i]}: {rnd}(({sp[i]} + 2*{p} - {d[i]}*({k[i]} - 1) - 1) / "
                     f"{s[i]}) + 1 = {rnd}({num}/{s[i]}) + 1 = {out[i]}")
    return lines


def _weight_lines(out_shape, roles, values, positions, kernel, bias_c: int,
                  params: int) -> list[str]:
    """Output, parameter and MAC lines of a layer with weights ``(a, b/groups, *kernel)``:
    ``roles`` names ``a``, ``b`` and where the MACs happen, ``values`` gives ``a``, ``b/groups``."""
    (a, b, where), (av, bv), kk = roles, values, math.prod(kernel)
    macs = av * math.prod(positions) * bv * kk
    return ["", f"Output: {_x(out_shape)}",
            f"Parameters: {a} * {b}/groups * prod(k) + bias = {av} * {bv} * "
            f"{kk}{f' + {bias_c}' if bias_c else ''} = {params:,}",
            f"MACs: {a} * prod({where}) * {b}/groups * prod(k) = {av} * "
            f"{math.prod(positions)} * {bv} * {kk} = {macs:,}"]


def _cost_lines(layer, win, sp, out, channels: int, cout: int, groups: int, names,
                padding) -> list[str]:
    params = sum(int(p.numel()) for p in layer.parameters())
    bias_c = cout if getattr(layer, "bias", None) is not None else 0
    if not params:
        return ["", f"Output: {_x((cout,) + tuple(out))}",
                "Parameters: 0 (pooling has no weights)",
                f"Comparisons/additions: {cout * math.prod(out) * math.prod(win.kernel):,} "
                f"(C * prod(out) * prod(k))"]
    if win.transposed:
        return _weight_lines((cout,) + tuple(out), ("C_in", "C_out", "in"),
                             (channels, cout // groups), sp, win.kernel, bias_c, params) + [
            "It is the transpose of the conv that maps the output back to the input "
            "(conv_matrix(...).T)."]
    lines = _weight_lines((cout,) + tuple(out), ("C_out", "C_in", "out"),
                          (cout, channels // groups), out, win.kernel, bias_c, params)
    inv = shapes.conv_input_sizes(out, win.kernel, win.stride,
                                  padding if isinstance(padding, (int, str)) else tuple(padding),
                                  win.dilation)
    return lines + ["Input sizes giving this output: " + ", ".join(
        f"{names[i]} {r.start}..{r.stop - 1}" for i, r in enumerate(inv))]


def _rf_lines(win) -> list[str]:
    k, s, d = win.kernel, win.stride, win.dilation
    if win.transposed:
        rf = tuple(1 + (kk - 1) * dd / ss for kk, dd, ss in zip(k, d, s))
        return ["Receptive field: each output sees about 1 + d*(k - 1)/s = "
                + _x(f"{v:g}" for v in rf) + " input positions (jump 1/s = "
                + _x(f"{1 / ss:g}" for ss in s) + ")"]
    return [f"Receptive field: 1 + d*(k - 1) = {_x(win.extent())} inputs per output; jump "
            f"(stride between neighbouring outputs' windows) {_x(s)}"]


def explain_text(op: str, in_size, kernel, stride=None, padding=0, dilation=1, channels: int = 1,
                 out_channels: int | None = None, groups: int = 1, output_padding=0,
                 ceil_mode: bool = False, bias: bool = True) -> str:
    """The arithmetic of one layer as text: output-size formula with the numbers filled in,
    output shape, parameters, MACs and receptive field.

    The layer is built (``Conv2d``, ``MaxPool1d``, ...) and every number comes from its
    ``window()`` and ``output_shape()``.

    Args:
        op (str): ``conv{1,2,3}d``, ``conv_transpose{1,2,3}d``, ``maxpool{1,2,3}d`` or
            ``avgpool{1,2,3}d``.
        in_size, kernel, stride, padding, dilation, output_padding: ints, per-axis tuples or
            'AxB' strings; padding may be 'same'/'valid'/'causal' for convolutions.
        channels, out_channels, groups, bias: channel settings (pooling keeps the channels).

    Example::

        >>> print(explain_text("conv2d", 32, 5, channels=3, out_channels=6))  # doctest: +SKIP
    """
    if op not in _OPS:
        raise ValueError(f"explain: unknown layer {op!r}; choose one of {', '.join(_OPS)}")
    n, kind = int(op[-2]), op[:-2]
    sp = _per_axis(in_size, n, "--in")
    k = _per_axis(kernel, n, "--kernel")
    pool = kind in ("maxpool", "avgpool")
    s = None if (stride is None and pool) else _per_axis(1 if stride is None else stride, n,
                                                         "--stride")
    d = _per_axis(dilation, n, "--dilation")
    cout = channels if pool else (out_channels or channels)
    layer = _layer(kind, n, sp, k, s, padding, d, channels, cout, groups, output_padding,
                   ceil_mode, bias)
    in_shape = (1, channels) + sp
    win = layer.window(in_shape)
    out = shapes._result(layer.output_shape(in_shape)[2:], False, "explain", "output")
    head = (f"{op}: input {_x((channels,) + sp)}, kernel {_x(k)}, stride {_x(win.stride)}, "
            f"padding {padding}, dilation {_x(d)}")
    if not pool:
        head += f", groups {groups}, {cout} output channels"
    size_lines = (_transpose_size_lines if win.transposed else _pool_size_lines if pool
                  else _conv_size_lines)
    lines = [head, ""] + size_lines(win, sp, out, _DIMS[n], padding)
    lines += _cost_lines(layer, win, sp, out, channels, cout, groups, _DIMS[n], padding)
    return "\n".join(lines + _rf_lines(win))


# ------------------------------------------------------------------------------------------
# argparse wiring
# ------------------------------------------------------------------------------------------

def _padding_arg(text: str):
    if text in ("same", "valid", "causal"):
        return text
    vals = parse_size(text, "--padding")
    return vals[0] if len(vals) == 1 else vals


_SPHERE_OPS = ["sphereconv", "meshconv"]


def _add_explain(p: argparse.ArgumentParser) -> None:
    p.add_argument("layer", nargs="?", choices=_OPS + _SPHERE_OPS, help="the layer to explain")
    # the notes' worked example (4x5 image, 3x3 kernel, first output 66), step by step
    p.add_argument("--example", choices=("notes",), default=None,
                   help="print a worked example with every number instead of a layer")
    p.add_argument("--in", dest="in_size", default="32", help="input size, e.g. 32 or 28x32")
    p.add_argument("--kernel", default="3", help="kernel size, e.g. 5 or 3x5")
    p.add_argument("--stride", default=None, help="stride (pooling: default the kernel)")
    p.add_argument("--padding", default="0", type=_padding_arg,
                   help="int, AxB, or same/valid/causal")
    p.add_argument("--dilation", default="1")
    p.add_argument("--channels", type=int, default=1, help="input channels")
    p.add_argument("--out-channels", type=int, default=None)
    p.add_argument("--groups", type=int, default=1)
    p.add_argument("--output-padding", default="0", help="transposed conv only")
    p.add_argument("--ceil-mode", action="store_true", help="pooling only")
    p.add_argument("--no-bias", action="store_true")
    p.add_argument("--latitude", type=float, default=60.0,
                   help="sphereconv: the latitude (degrees) to compare with the equator")
    p.add_argument("--level", type=int, default=4, help="meshconv: the icosphere level")


def _run_explain(args) -> int:
    if args.example == "notes":
        from convnp.tools.notes import notes_example_text

        print(notes_example_text())
        return 0
    if args.layer is None:
        raise ValueError("give a layer (e.g. `convnp explain conv2d --in 32 --kernel 5`) or "
                         "--example notes")
    if args.layer == "sphereconv":
        from convnp.sphere.explain import explain_sphere_conv

        in_size = "32x64" if args.in_size == "32" else args.in_size
        print(explain_sphere_conv(parse_size(in_size, "--in"), parse_size(args.kernel, "--kernel"),
                                  parse_size(args.stride or "1", "--stride"),
                                  parse_size(args.dilation, "--dilation"), args.channels,
                                  args.out_channels, args.latitude))
        return 0
    if args.layer == "meshconv":
        from convnp.sphere.explain import explain_mesh_conv

        print(explain_mesh_conv(args.level, args.channels, args.out_channels))
        return 0
    print(explain_text(args.layer, args.in_size, args.kernel, args.stride, args.padding,
                       args.dilation, args.channels, args.out_channels, args.groups,
                       args.output_padding, args.ceil_mode, not args.no_bias))
    return 0


def _add_summary(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", help="a model name (see `convnp models`)")
    p.add_argument("--input", default="1x32x32", help="one sample's shape, e.g. 1x32x32")
    p.add_argument("--num-classes", type=int, default=10)
    p.add_argument("--mode", choices=("auto", "shape", "trace"), default="auto")


def _run_summary(args) -> int:
    from convnp.models import get_model
    from convnp.tools.summary import summary

    shape = parse_size(args.input, "--input")
    kw = {"num_classes": args.num_classes, "in_channels": shape[0]}
    if len(shape) >= 2:
        kw["input_size"] = shape[-1]
    s = summary(get_model(args.model, **kw), shape, mode=args.mode)
    print(s)
    return 1 if s.error else 0


def _add_equivariance(p: argparse.ArgumentParser) -> None:
    from convnp.tools.equivariance import PRESETS

    p.add_argument("target", nargs="*", default=list(PRESETS),
                   help=f"presets ({', '.join(PRESETS)}) or model names (see `convnp models`); "
                        "default: every preset")
    p.add_argument("--input", default=None, help="one sample's shape (default 1x16x16, models: "
                   "1x32x32)")
    p.add_argument("--shifts", default="0,1,2,3,4", help="comma-separated shifts")
    p.add_argument("--axis", type=int, default=-1, help="the shifted axis")
    p.add_argument("--mode", choices=("circular", "zeros"), default="circular",
                   help="how the input is shifted")
    p.add_argument("--seed", type=int, default=0)


def _run_equivariance(args) -> int:
    import numpy as np

    from convnp.tools.equivariance import PRESETS, equivariance, preset

    shifts = [int(v) for v in args.shifts.split(",") if v.strip()]
    for target in args.target:
        if target in PRESETS:
            model, desc = preset(target)
            shape = parse_size(args.input or "1x16x16", "--input")
        else:
            from convnp.models import get_model
            shape = parse_size(args.input or "1x32x32", "--input")
            model = get_model(target, in_channels=shape[0], input_size=shape[-1]).double().eval()
            desc = "model"
        x = np.random.default_rng(args.seed).random((1,) + shape)
        print(equivariance(model, x, shifts, args.axis, args.mode, name=f"{target} ({desc})"))
        print()
    return 0


def _add_animate(p: argparse.ArgumentParser) -> None:
    from convnp.tools.animate import KINDS

    p.add_argument("layer", choices=KINDS)
    p.add_argument("--in", dest="in_size", default="5", help="input size, e.g. 5 or 5x6")
    p.add_argument("--kernel", default="3")
    p.add_argument("--stride", default=None, help="default 1 (pooling: the kernel)")
    p.add_argument("--padding", default="0", type=_padding_arg)
    p.add_argument("--dilation", default="1")
    p.add_argument("--output-padding", default="0")
    p.add_argument("--ceil-mode", action="store_true")
    p.add_argument("--out", default="conv.gif", help="the GIF to write")
    p.add_argument("--frames", default=None, metavar="DIR", help="also write PNG frames here")
    p.add_argument("--fps", type=float, default=1.5)
    p.add_argument("--values", default=None, choices=("notes", "ints"),
                   help="draw numbers: the notes' 4x5 image and 3x3 kernel (66), or small random "
                        "integers; each output value appears as it is computed")
    p.add_argument("--view", default="gather", choices=("gather", "scatter"),
                   help="transposed conv: 'scatter' draws each input value spreading onto k x k "
                        "outputs")


def _ints(text, what):
    if text is None:
        return None
    v = parse_size(text, what)
    return v[0] if len(v) == 1 else v


def _run_animate(args) -> int:
    from convnp.tools.animate import animate

    in_size = args.in_size
    if args.values == "notes" and in_size == "5":  # the default size: take the notes' 4x5
        in_size = "4x5"
    fr = animate(args.layer, _ints(in_size, "--in"), _ints(args.kernel, "--kernel"),
                 _ints(args.stride, "--stride"), args.padding, _ints(args.dilation, "--dilation"),
                 _ints(args.output_padding, "--output-padding"), args.ceil_mode, args.out,
                 args.frames, args.fps, values=args.values, view=args.view)
    nfr = (math.prod(fr.in_shape) if args.view == "scatter" else len(fr.outputs))
    print(f"wrote {args.out} ({nfr} frames: input {fr.in_shape} -> output "
          f"{fr.out_shape})" + (f" and PNG frames in {args.frames}" if args.frames else ""))
    return 0


def _add_show(p: argparse.ArgumentParser) -> None:
    p.add_argument("run_dir", help="a run directory written by `convnp train`")
    p.add_argument("image", help="an image file")
    p.add_argument("--out", default=None, help="output folder (default RUN_DIR/show)")
    p.add_argument("--max-maps", type=int, default=16, help="maps drawn per layer (the "
                   "strongest)")
    p.add_argument("--no-prepare", action="store_true", help="only resize the image (see "
                   "`convnp predict --help`)")


def _run_show(args) -> int:
    from convnp.tools.show import show_run

    paths = show_run(args.run_dir, args.image, args.out, args.max_maps,
                     prepare=not args.no_prepare)
    print("\n".join(paths))
    return 0


def _register() -> None:
    from convnp.cli import register_command

    register_command("explain", "explain a layer's arithmetic (output size, params, MACs, RF)",
                     _add_explain, _run_explain)
    register_command("summary", "per-layer shapes, params, MACs and receptive fields",
                     _add_summary, _run_summary)
    register_command("equivariance", "measure shift equivariance / invariance of layers or "
                     "models", _add_equivariance, _run_equivariance)
    register_command("animate", "draw a GIF of a conv / transposed conv / pooling layer",
                     _add_animate, _run_animate)
    register_command("show", "save first-layer filters and feature maps of a trained run",
                     _add_show, _run_show)


_register()
