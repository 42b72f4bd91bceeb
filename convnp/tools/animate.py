"""Animations of convolution arithmetic, in the spirit of Dumoulin & Visin's conv_arithmetic
figures: the input grid (with its padding), the kernel window, and the output cell it produces,
one frame per output cell. The highlighted cells come from :func:`convnp.tools.index_map`, i.e.
from the library's own conv matrix and shape functions -- the picture is what the layer computes.

With ``values`` the cells carry numbers (the notes' 4x5 image and 3x3 kernel, or small random
integers): the input, the kernel and each output value as it is computed, with the sum written
out. ``view="scatter"`` draws a transposed convolution the other way round, one frame per
input value spreading ``value x kernel`` onto k x k outputs. Every picture has a legend.

matplotlib (a bare Agg figure, no pyplot) and pillow are imported only when drawing.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

import numpy as np

from convnp.ops import _shape
from convnp.tools.conv_matrix import index_map

__all__ = ["animation_frames", "animate", "frame_values", "KINDS", "VALUES"]

KINDS = ("conv1d", "conv2d", "conv_transpose1d", "conv_transpose2d", "maxpool1d", "maxpool2d",
         "avgpool1d", "avgpool2d")
VALUES = ("notes", "ints")


@dataclass
class Frames:
    """What each frame shows: ``cells[j]`` are the input cells (padded coordinates for conv and
    pooling) feeding output cell ``outputs[j]``."""
    kind: str
    in_shape: tuple
    pads: tuple          # (lo, hi) per axis: the padding drawn around the input
    out_shape: tuple
    outputs: list
    cells: list
    kernel: tuple = ()


def animation_frames(kind: str, in_size, kernel, stride=None, padding=0, dilation=1,
                     output_padding=0, ceil_mode: bool = False) -> Frames:
    """The frames of an animation, without drawing (one per output cell, C order)."""
    if kind not in KINDS:
        raise ValueError(f"animate: kind must be one of {', '.join(KINDS)}, got {kind!r}")
    n = int(kind[-2])
    base = kind[:-2]
    sp = _shape.ntuple(in_size, n, "in_size", "animate", minimum=1)
    k = _shape.ntuple(kernel, n, "kernel", "animate", minimum=1)
    pool = base in ("maxpool", "avgpool")
    if stride is None:
        stride = k if pool else 1
    if pool:
        out_sp, feeds = index_map(sp, k, stride, padding, dilation, kind="pool",
                                  ceil_mode=ceil_mode)
        p = _shape.ntuple(padding, n, "padding", "animate", minimum=0)
        pads = tuple((pp, pp) for pp in p)
    elif base == "conv":
        out_sp, feeds = index_map(sp, k, stride, padding, dilation, kind="conv")
        s = _shape.ntuple(stride, n, "stride", "animate", minimum=1)
        d = _shape.ntuple(dilation, n, "dilation", "animate", minimum=1)
        pads = _shape.conv_padding_pairs(padding, sp, k, s, d, "animate")
    else:
        out_sp, feeds = index_map(sp, k, stride, padding, dilation, kind="conv_transpose",
                                  output_padding=output_padding)
        pads = ((0, 0),) * n
    outputs = [tuple(int(v) for v in np.unravel_index(j, out_sp)) for j in range(len(feeds))]
    return Frames(kind, tuple(sp), tuple(pads), tuple(out_sp), outputs, feeds, tuple(k))


def _grid2(t: tuple) -> tuple:
    return (1,) + tuple(t) if len(t) == 1 else tuple(t)


def _cell2(c) -> tuple:
    c = tuple(int(v) for v in c)
    return (0,) + c if len(c) == 1 else c


@dataclass
class Values:
    """Numbers drawn in the cells: ``x`` (H, W), ``w`` (kh, kw) or None (pooling), ``y`` the
    layer's output (oh, ow) from convnp's own functional op, and per frame the sum written out
    (``terms``) and, for the scatter view, the partial outputs after that frame."""
    x: np.ndarray
    w: np.ndarray | None
    y: np.ndarray
    terms: list
    partial: list | None = None


def _fmt(v: float) -> str:
    return f"{v:.3g}" if v != int(v) else f"{int(v)}"


def _input_values(fr: Frames, values, rng) -> np.ndarray:
    """The input's numbers: the notes' image, random integers or the given array."""
    from convnp.tools.notes import NOTES_IMAGE

    if not isinstance(values, str):
        x = np.asarray(values, dtype=np.float64)
        if x.shape != fr.in_shape:
            raise ValueError(f"animate: values must have the input's shape {fr.in_shape}, got "
                             f"{x.shape}")
        return x
    if values == "notes":
        if fr.in_shape != NOTES_IMAGE.shape:
            raise ValueError(f"animate: --values notes is the notes' 4x5 image; use "
                             f"--in 4x5 with a 2-d layer, got input {fr.in_shape}")
        return NOTES_IMAGE.copy()
    if values == "ints":
        return rng.integers(0, 10, size=fr.in_shape).astype(np.float64)
    raise ValueError(f"animate: values must be one of {', '.join(VALUES)} or an array, "
                     f"got {values!r}")


def _kernel_values(k: tuple, values, kernel_values, rng) -> np.ndarray:
    """The kernel's numbers: the given ones, the notes' 3x3 kernel or random integers."""
    from convnp.tools.notes import NOTES_KERNEL

    if kernel_values is not None:
        return np.asarray(kernel_values, dtype=np.float64).reshape(k)
    if isinstance(values, str) and values == "notes" and k == NOTES_KERNEL.shape:
        return NOTES_KERNEL.copy()
    return rng.integers(1, 4, size=k).astype(np.float64)


def _layer_output(fr: Frames, x, w, stride, padding, dilation, output_padding,
                  ceil_mode) -> np.ndarray:
    """What convnp's own functional op computes on ``x`` (one sample, one channel)."""
    import convnp
    import convnp.nn.functional as F

    n, base = len(fr.in_shape), fr.kind[:-2]
    xt = convnp.tensor(x[None, None])
    if base == "conv":
        y = getattr(F, f"conv{n}d")(xt, convnp.tensor(w[None, None]), stride=stride or 1,
                                    padding=padding, dilation=dilation)
    elif base == "conv_transpose":
        y = getattr(F, f"conv_transpose{n}d")(xt, convnp.tensor(w[None, None]),
                                              stride=stride or 1, padding=padding,
                                              output_padding=output_padding, dilation=dilation)
    elif base == "maxpool":
        y = getattr(F, f"max_pool{n}d")(xt, fr.kernel, stride=stride, padding=padding,
                                        dilation=dilation, ceil_mode=ceil_mode)
    else:
        y = getattr(F, f"avg_pool{n}d")(xt, fr.kernel, stride=stride, padding=padding,
                                        ceil_mode=ceil_mode)
    return np.asarray(y.array[0, 0], dtype=np.float64)


def _transpose_terms(fr: Frames, v: Values, stride, padding, dilation, view: str) -> Values:
    """Each frame's text of a transposed convolution: the sum an output gathers, or (scatter
    view) the outputs an input spreads onto, with the partial outputs after each frame."""
    n, k = len(fr.in_shape), fr.kernel
    s = _shape.ntuple(stride or 1, n, "stride", "animate")
    d = _shape.ntuple(dilation, n, "dilation", "animate")
    s2, d2 = _grid2(s), _grid2(d)
    p2 = _cell2(tuple(lo for lo, _ in _shape.conv_padding_pairs(padding, fr.in_shape, k, s, d,
                                                                "animate")))

    def tap(o, i):  # which kernel tap carries input i to output o (o = i*s - p + a*d)
        return tuple((o[a] - i[a] * s2[a] + p2[a]) // d2[a] for a in range(2))

    x2, w2, y2 = v.x, v.w, v.y
    if view != "scatter":
        for j, cells in enumerate(fr.cells):
            o = _cell2(fr.outputs[j])
            parts = [f"{_fmt(_value_at(x2, c))}*{_fmt(w2[tap(o, _cell2(c))])}" for c in cells]
            v.terms.append(_sum_text(parts, y2[o]))
        return v
    acc = np.zeros_like(y2)
    v.partial = []
    for c in np.ndindex(*x2.shape):
        hits = [_cell2(fr.outputs[j]) for j, cells in enumerate(fr.cells)
                if any(_cell2(cc) == c for cc in cells)]
        for o in hits:
            acc[o] += x2[c] * w2[tap(o, c)]
        v.partial.append(acc.copy())
        v.terms.append(f"x{list(c) if n == 2 else [c[1]]} = {_fmt(x2[c])} spreads "
                       f"{_fmt(x2[c])} x kernel onto {len(hits)} outputs")
    np.testing.assert_allclose(acc, y2)  # the scatter adds up to the layer's output
    return v


def _value_at(x2: np.ndarray, c) -> float:
    """The input value at cell ``c``, 0 in the padding."""
    r, cc = _cell2(c)
    H, W = x2.shape
    return x2[r, cc] if (0 <= r < H and 0 <= cc < W) else 0.0


def _gather_terms(fr: Frames, v: Values) -> Values:
    """Each frame's text of a convolution or pooling: the sum, max or mean it computes."""
    base = fr.kind[:-2]
    for j, cells in enumerate(fr.cells):
        o = _cell2(fr.outputs[j])
        if base == "conv":
            parts = [f"{_fmt(_value_at(v.x, c))}*{_fmt(wv)}" for c, wv in zip(cells, v.w.ravel())]
            v.terms.append(_sum_text(parts, v.y[o]))
            continue
        # max pooling skips the padding (-inf); average pooling counts it as zeros
        shown = [c for c in cells if base == "avgpool" or all(
            0 <= a < b for a, b in zip(_cell2(c), v.x.shape))]
        vals = ", ".join(_fmt(_value_at(v.x, c)) for c in shown)
        fn = "max" if base == "maxpool" else "mean"
        v.terms.append(f"{fn}({vals}) = {_fmt(v.y[o])}")
    return v


def frame_values(fr: Frames, values="ints", kernel_values=None, stride=None, padding=0,
                 dilation=1, output_padding=0, ceil_mode: bool = False, seed: int = 0,
                 view: str = "gather") -> Values:
    """The numbers of an animation: the input, the kernel and the output the layer computes
    (``convnp.nn.functional``), and each frame's sum as text, e.g. ``1*1 + 2*1 + ... = 66``.

    ``values`` is ``"notes"`` (the notes' 4x5 image, and their 3x3 kernel for a 3x3 conv),
    ``"ints"`` (small random integers, ``seed``) or an array of the input's shape.
    """
    n = len(fr.in_shape)
    base = fr.kind[:-2]
    k = _shape.ntuple(_kernel_of(fr), n, "kernel", "animate")
    rng = np.random.default_rng(seed)
    x = _input_values(fr, values, rng)
    w = _kernel_values(k, values, kernel_values, rng) if base in ("conv", "conv_transpose") \
        else None
    y = _layer_output(fr, x, w, stride, padding, dilation, output_padding, ceil_mode)
    v = Values(x.reshape(_grid2(x.shape)), None if w is None else w.reshape(_grid2(w.shape)),
               y.reshape(_grid2(y.shape)), [])
    if base == "conv_transpose":
        return _transpose_terms(fr, v, stride, padding, dilation, view)
    return _gather_terms(fr, v)


def _sum_text(parts: list, total: float) -> str:
    if len(parts) > 9:
        parts = parts[:4] + ["..."] + parts[-2:]
    return (" + ".join(parts) if parts else "0") + f" = {_fmt(total)}"


def _kernel_of(fr: Frames):
    return fr.kernel


_COL = dict(input="#9ecae1", pad="white", window="#08519c", window_pad="#6baed6",
            out="#f0f0f0", out_now="#fd8d3c", out_done="#fdd0a2", kernel="#c7e9c0")


def _legend_handles(fr: Frames, view: str, has_values: bool):
    from matplotlib.patches import Patch

    base = fr.kind[:-2]
    if base == "conv_transpose" and view == "scatter":
        items = [("input", _COL["input"]), ("the input value spreading", _COL["window"]),
                 ("outputs it adds value x kernel to", _COL["out_now"]),
                 ("outputs with partial sums", _COL["out_done"])]
    else:
        feed = "inputs under the kernel" if base != "conv_transpose" else "inputs feeding it"
        items = [("input", _COL["input"]), (feed, _COL["window"])]
        if any(p != (0, 0) for p in fr.pads):
            items.append(("padding (zeros)" if base != "maxpool" else "padding (-inf)",
                          _COL["pad"]))
        items += [("output being computed", _COL["out_now"]), ("outputs done", _COL["out_done"])]
    if has_values and base in ("conv", "conv_transpose"):
        items.append(("kernel weights", _COL["kernel"]))
    return [Patch(facecolor=c, edgecolor="#555555", label=t) for t, c in items]


def _draw(ax, fr: Frames, j: int, title: str, vals: Values | None = None,
          view: str = "gather") -> None:
    from matplotlib.patches import Rectangle

    ax.clear()
    ax.set_aspect("equal")
    ax.axis("off")
    H, W = _grid2(fr.in_shape)
    (plo_h, phi_h), (plo_w, phi_w) = (((0, 0),) + fr.pads) if len(fr.pads) == 1 else fr.pads
    scatter = view == "scatter"
    oh, ow = _grid2(fr.out_shape)
    if scatter:  # frame j = input cell j spreading to the outputs that read it
        src = tuple(int(v) for v in np.unravel_index(j, (H, W)))
        cells = {src}
        targets = {_cell2(fr.outputs[q]) for q, cs in enumerate(fr.cells)
                   if any(_cell2(c) == src for c in cs)}
    else:
        cells = {_cell2(c) for c in fr.cells[j]}
    fs = 8 if vals is not None else 0
    # windows reaching past the drawn padding (ceil_mode) extend the grid
    all_r = [c[0] for c in cells] + [-plo_h, H + phi_h - 1]
    all_c = [c[1] for c in cells] + [-plo_w, W + phi_w - 1]
    r0, r1, c0, c1 = min(all_r), max(all_r), min(all_c), max(all_c)
    for r in range(r0, r1 + 1):
        for c in range(c0, c1 + 1):
            inside = 0 <= r < H and 0 <= c < W
            face = _COL["input"] if inside else _COL["pad"]
            if (r, c) in cells:
                face = _COL["window"] if inside else _COL["window_pad"]
            ax.add_patch(Rectangle((c, -r), 1, 1, facecolor=face, edgecolor="#555555",
                                   linestyle="-" if inside else "--", linewidth=0.8))
            in_pad = -plo_h <= r < H + phi_h and -plo_w <= c < W + phi_w
            if fs and in_pad:  # cells past the padding (ceil_mode) are skipped, not zeros
                v = vals.x[r, c] if inside else (-np.inf if fr.kind.startswith("maxpool") else 0)
                ax.text(c + 0.5, -r + 0.5, "-inf" if v == -np.inf else _fmt(v), ha="center",
                        va="center", fontsize=fs, color="white" if (r, c) in cells and inside
                        else "black")
    ax.text(c0, -r0 + 1.15, "input" + (" (dashed: padding)" if (plo_h, phi_h, plo_w, phi_w)
                                       != (0, 0, 0, 0) else ""), fontsize=7)
    x0 = c1 + 2.5
    if vals is not None and vals.w is not None:  # the kernel, between input and output
        kh, kw = vals.w.shape
        for r in range(kh):
            for c in range(kw):
                ax.add_patch(Rectangle((x0 + c, -r), 1, 1, facecolor=_COL["kernel"],
                                       edgecolor="#555555", linewidth=0.8))
                ax.text(x0 + c + 0.5, -r + 0.5, _fmt(vals.w[r, c]), ha="center", va="center",
                        fontsize=fs)
        ax.text(x0, 1.15, "kernel", fontsize=7)
        x0 += kw + 1.5
    cur = None if scatter else _cell2(fr.outputs[j])
    y_top = -r0 + min(0, r0)
    for r in range(oh):
        for c in range(ow):
            idx = r * ow + c
            if scatter:
                face = _COL["out_now"] if (r, c) in targets else (
                    _COL["out_done"] if vals is None or vals.partial[j][r, c] != 0 or
                    idx < 0 else _COL["out"])
                if vals is None:
                    face = _COL["out_now"] if (r, c) in targets else _COL["out"]
            else:
                face = _COL["out_now"] if (r, c) == cur else (_COL["out_done"] if idx < j
                                                             else _COL["out"])
            ax.add_patch(Rectangle((x0 + c, -r - r0 + min(0, r0)), 1, 1, facecolor=face,
                                   edgecolor="#555555", linewidth=0.8))
            if fs:
                v = vals.partial[j][r, c] if scatter else (vals.y[r, c] if idx <= j else None)
                if v is not None:
                    ax.text(x0 + c + 0.5, -r - r0 + min(0, r0) + 0.5, _fmt(v), ha="center",
                            va="center", fontsize=fs)
    ax.text(x0, y_top + 1.15, "output" + (" (partial sums)" if scatter and fs else ""),
            fontsize=7)
    bottom = -max(r1, oh - 1 + r0 - min(0, r0)) - 0.5
    if vals is not None:
        ax.text(c0, bottom - 0.4, vals.terms[j], fontsize=7, va="top", family="monospace")
        bottom -= 1.2
    ax.set_xlim(c0 - 0.5, x0 + ow + 0.5)
    ax.set_ylim(bottom, -r0 + 2.0)
    ax.set_title(title, fontsize=8)


def _describe(kind: str, fr: Frames, kernel, stride, padding, dilation, view: str) -> str:
    desc = (f"{kind}: in {'x'.join(map(str, fr.in_shape))}, k {kernel}, s {stride}, "
            f"p {padding} -> out {'x'.join(map(str, fr.out_shape))}")
    d = _shape.ntuple(dilation, len(fr.in_shape), "dilation", "animate")
    if any(v != 1 for v in d):
        # torch counts the step between taps, some notes count the gaps: say both
        dd = "x".join(map(str, d))
        gaps = "x".join(str(v - 1) for v in d)
        desc += (f"\ndilation {dd} (torch: taps {dd} apart) = {gaps} gap(s) = notes' "
                 f"'dilation {gaps}'")
    if view == "scatter":
        desc += "\nscatter view: each input value spreads value x kernel onto k x k outputs"
    return desc


def animate(kind: str, in_size, kernel, stride=None, padding=0, dilation=1, output_padding=0,
            ceil_mode: bool = False, out: str | os.PathLike | None = "conv.gif",
            frames_dir: str | os.PathLike | None = None, fps: float = 1.5,
            cell_px: int | None = None, values=None, kernel_values=None,
            view: str = "gather", seed: int = 0) -> Frames:
    """Draw the animation of one layer as a GIF (and/or PNG frames), with a legend.

    Args:
        kind (str): one of ``KINDS`` (conv, conv_transpose, maxpool, avgpool; 1-d or 2-d).
            A dilated convolution is ``conv2d`` with ``dilation > 1`` (torch's convention:
            dilation 2 = taps two pixels apart = one gap, which some notes call "dilation 1").
        in_size, kernel, stride, padding, dilation, output_padding, ceil_mode: the layer.
        out (path or None): the GIF to write.
        frames_dir (path or None): also write ``frame_000.png``... there.
        fps (float): frames per second of the GIF.
        values: None (cells only), ``"notes"`` (the notes' 4x5 image and 3x3 kernel: the first
            output is 66), ``"ints"`` (small random integers) or an array of the input's shape:
            draw the input, the kernel and every output value as it is computed.
        kernel_values: the kernel's numbers (default: the notes' kernel or random integers).
        view (str): ``"gather"`` (one frame per output: the inputs it reads) or, for a
            transposed convolution, ``"scatter"`` (one frame per input: the k x k outputs it
            spreads ``value x kernel`` onto, the outputs holding partial sums).
        seed (int): the random integers' seed.

    Returns:
        the :class:`Frames` drawn (one per output cell; the scatter view draws one per input).

    Example::

        >>> animate("conv2d", (4, 5), 3, values="notes", out="notes.gif")  # doctest: +SKIP
    """
    if view not in ("gather", "scatter"):
        raise ValueError(f"animate: view must be 'gather' or 'scatter', got {view!r}")
    if view == "scatter" and not kind.startswith("conv_transpose"):
        raise ValueError(f"animate: view='scatter' draws a transposed convolution "
                         f"(conv_transpose1d/2d), got {kind!r}")
    fr = animation_frames(kind, in_size, kernel, stride, padding, dilation, output_padding,
                          ceil_mode)
    if stride is None:
        stride = kernel if kind.startswith(("maxpool", "avgpool")) else 1
    vals = None
    if values is not None:
        vals = frame_values(fr, values, kernel_values, stride, padding, dilation,
                            output_padding, ceil_mode, seed, view)
    fig, ax = _figure(fr, vals, view, cell_px)
    desc = _describe(kind, fr, kernel, stride, padding, dilation, view)
    nframes = math.prod(_grid2(fr.in_shape)) if view == "scatter" else len(fr.outputs)
    images = _render(fig, ax, fr, nframes, desc, vals, view, frames_dir)
    if out is not None and images:
        images[0].save(out, save_all=True, append_images=images[1:],
                       duration=int(1000 / fps), loop=0, optimize=True)
    return fr


def _figure(fr: Frames, vals: Values | None, view: str, cell_px: int | None):
    """An Agg figure sized to the grids (input with padding, kernel, output), with the legend."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure  # not pyplot: a notebook's backend stays as it is

    if cell_px is None:
        cell_px = 40 if vals is not None else 30
    H, W = _grid2(fr.in_shape)
    pads = (((0, 0),) + fr.pads) if len(fr.pads) == 1 else fr.pads
    oh, ow = _grid2(fr.out_shape)
    kw_cells = (vals.w.shape[1] + 1.5) if vals is not None and vals.w is not None else 0
    width_cells = W + pads[1][0] + pads[1][1] + ow + 4 + kw_cells
    height_cells = max(H + pads[0][0] + pads[0][1], oh) + 3 + (1.2 if vals is not None else 0)
    fig_w = max(width_cells * cell_px / 100, 6.4)
    fig_h = height_cells * cell_px / 100 + 1.2
    fig = Figure(figsize=(fig_w, fig_h), dpi=100)
    FigureCanvasAgg(fig)
    legend_h = 0.55 / fig_h
    ax = fig.add_axes((0.02, legend_h + 0.02, 0.96, 0.96 - legend_h - 0.1))
    fig.legend(handles=_legend_handles(fr, view, vals is not None), loc="lower center",
               ncol=3, fontsize=7, frameon=False)
    return fig, ax


def _render(fig, ax, fr: Frames, nframes: int, desc: str, vals: Values | None, view: str,
            frames_dir) -> list:
    """Draw every frame; the GIF's palette images (and PNG files in ``frames_dir``)."""
    from PIL import Image

    images = []
    if frames_dir is not None:
        os.makedirs(frames_dir, exist_ok=True)
    try:
        for j in range(nframes):
            _draw(ax, fr, j, desc, vals, view)
            fig.canvas.draw()
            rgba = np.asarray(fig.canvas.buffer_rgba())
            img = Image.fromarray(rgba[..., :3].copy())
            if frames_dir is not None:
                img.save(os.path.join(frames_dir, f"frame_{j:03d}.png"))
            images.append(img.convert("P", palette=Image.ADAPTIVE, colors=64))
    finally:
        fig.clear()
    return images
