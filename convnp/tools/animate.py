"""Animations of convolution arithmetic, in the spirit of Dumoulin & Visin's conv_arithmetic
figures: the input grid (with its padding), the kernel window, and the output cell it produces,
one frame per output cell. The highlighted cells come from :func:`convnp.tools.index_map`, i.e.
from the library's own conv matrix and shape functions -- the picture is what the layer computes.

matplotlib (Agg) and pillow are imported only when drawing.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from convnp.ops import _shape
from convnp.tools.conv_matrix import index_map

__all__ = ["animation_frames", "animate", "KINDS"]

KINDS = ("conv1d", "conv2d", "conv_transpose1d", "conv_transpose2d", "maxpool1d", "maxpool2d",
         "avgpool1d", "avgpool2d")


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
    return Frames(kind, tuple(sp), tuple(pads), tuple(out_sp), outputs, feeds)


def _grid2(t: tuple) -> tuple:
    return (1,) + tuple(t) if len(t) == 1 else tuple(t)


def _cell2(c) -> tuple:
    c = tuple(int(v) for v in c)
    return (0,) + c if len(c) == 1 else c


def _draw(ax, fr: Frames, j: int, title: str) -> None:
    from matplotlib.patches import Rectangle

    ax.clear()
    ax.set_aspect("equal")
    ax.axis("off")
    H, W = _grid2(fr.in_shape)
    (plo_h, phi_h), (plo_w, phi_w) = (((0, 0),) + fr.pads) if len(fr.pads) == 1 else fr.pads
    cells = {_cell2(c) for c in fr.cells[j]}
    # windows reaching past the drawn padding (ceil_mode) extend the grid
    all_r = [c[0] for c in cells] + [-plo_h, H + phi_h - 1]
    all_c = [c[1] for c in cells] + [-plo_w, W + phi_w - 1]
    r0, r1, c0, c1 = min(all_r), max(all_r), min(all_c), max(all_c)
    for r in range(r0, r1 + 1):
        for c in range(c0, c1 + 1):
            inside = 0 <= r < H and 0 <= c < W
            face = "#9ecae1" if inside else "white"
            if (r, c) in cells:
                face = "#08519c" if inside else "#6baed6"
            ax.add_patch(Rectangle((c, -r), 1, 1, facecolor=face, edgecolor="#555555",
                                   linestyle="-" if inside else "--", linewidth=0.8))
    # the output grid, to the right
    oh, ow = _grid2(fr.out_shape)
    x0 = c1 + 2.5
    cur = _cell2(fr.outputs[j])
    for r in range(oh):
        for c in range(ow):
            idx = r * ow + c
            face = "#fd8d3c" if (r, c) == cur else ("#fdd0a2" if idx < j else "#f0f0f0")
            ax.add_patch(Rectangle((x0 + c, -r - r0 + min(0, r0)), 1, 1, facecolor=face,
                                   edgecolor="#555555", linewidth=0.8))
    ax.set_xlim(c0 - 0.5, x0 + ow + 0.5)
    ax.set_ylim(-max(r1, oh - 1) - 0.5, -r0 + 1.5)
    ax.set_title(title, fontsize=9)


def animate(kind: str, in_size, kernel, stride=None, padding=0, dilation=1, output_padding=0,
            ceil_mode: bool = False, out: str | os.PathLike | None = "conv.gif",
            frames_dir: str | os.PathLike | None = None, fps: float = 1.5,
            cell_px: int = 28) -> Frames:
    """Draw the animation of one layer as a GIF (and/or PNG frames).

    Args:
        kind (str): one of ``KINDS`` (conv, conv_transpose, maxpool, avgpool; 1-d or 2-d).
            A dilated convolution is ``conv2d`` with ``dilation > 1``.
        in_size, kernel, stride, padding, dilation, output_padding, ceil_mode: the layer.
        out (path or None): the GIF to write.
        frames_dir (path or None): also write ``frame_000.png``... there.
        fps (float): frames per second of the GIF.

    Returns:
        the :class:`Frames` drawn (one per output cell).

    Example::

        >>> animate("conv2d", 5, 3, stride=2, padding=1, out="conv.gif")  # doctest: +SKIP
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    from PIL import Image

    fr = animation_frames(kind, in_size, kernel, stride, padding, dilation, output_padding,
                          ceil_mode)
    H, W = _grid2(fr.in_shape)
    pads = (((0, 0),) + fr.pads) if len(fr.pads) == 1 else fr.pads
    oh, ow = _grid2(fr.out_shape)
    width_cells = W + pads[1][0] + pads[1][1] + ow + 4
    height_cells = max(H + pads[0][0] + pads[0][1], oh) + 2
    fig = plt.figure(figsize=(width_cells * cell_px / 100, height_cells * cell_px / 100 + 0.3),
                     dpi=100)
    ax = fig.add_axes((0, 0, 1, 0.9))
    if stride is None:
        stride = kernel if kind.startswith(("maxpool", "avgpool")) else 1
    desc = (f"{kind}: in {'x'.join(map(str, fr.in_shape))}, k {kernel}, s {stride}, "
            f"p {padding}" + (f", d {dilation}" if dilation != 1 else "")
            + f" -> out {'x'.join(map(str, fr.out_shape))}")
    images = []
    if frames_dir is not None:
        os.makedirs(frames_dir, exist_ok=True)
    try:
        for j in range(len(fr.outputs)):
            _draw(ax, fr, j, desc)
            fig.canvas.draw()
            rgba = np.asarray(fig.canvas.buffer_rgba())
            img = Image.fromarray(rgba[..., :3].copy())
            if frames_dir is not None:
                img.save(os.path.join(frames_dir, f"frame_{j:03d}.png"))
            images.append(img.convert("P", palette=Image.ADAPTIVE, colors=32))
    finally:
        plt.close(fig)
    if out is not None and images:
        images[0].save(out, save_all=True, append_images=images[1:],
                       duration=int(1000 / fps), loop=0, optimize=True)
    return fr
