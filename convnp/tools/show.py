"""Look inside a network: first-layer filters and every layer's feature maps as PNG grids.

``show(model, x, out_dir)`` works on any model and input batch; ``show_run(run_dir, image,
out_dir)`` loads a run written by ``convnp train`` (its checkpoint and preprocessing).
matplotlib is imported only here (bare Figures: the pyplot backend is left alone).
"""

from __future__ import annotations

import math
import os
import re

import numpy as np

__all__ = ["show", "show_run", "save_grid", "save_bars", "strongest"]


def _figure(figsize):
    # a bare Figure, not pyplot: drawing here never switches a notebook's backend
    from matplotlib.figure import Figure

    return Figure(figsize=figsize)


def save_grid(maps: np.ndarray, path, title: str = "", cmap: str = "viridis",
              max_maps: int = 16, labels=None, symmetric: bool = False,
              colorbar_label: str = "value") -> str:
    """Save ``maps`` (K, H, W) or (K, H, W, 3) as a grid of images on one shared colour scale
    with a colour bar (so a bright map is a strong one), each labelled (``labels[i]``, default
    ``#i``). ``symmetric`` centres the scale on 0 (weights: a diverging map). 1x1 maps carry
    no picture: they are drawn as a bar chart of their values instead. Returns the path."""
    maps = np.asarray(maps, dtype=np.float64)
    labels = [f"#{i}" for i in range(len(maps))] if labels is None else list(labels)
    if maps.ndim == 3 and maps.shape[1:] == (1, 1):
        return save_bars(maps[:, 0, 0], path, title, labels, colorbar_label)
    maps, labels = maps[:max_maps], labels[:max_maps]
    k = len(maps)
    cols = min(8, k)
    rows = math.ceil(k / cols)
    fig = _figure((1.35 * cols + 0.9, 1.45 * rows + 0.45))
    axes = fig.subplots(rows, cols, squeeze=False)
    rgb = maps.ndim == 4
    if symmetric:
        m = float(np.abs(maps).max()) or 1.0
        lo, hi = -m, m
    else:
        lo, hi = float(maps.min()), float(maps.max())
        hi = hi if hi > lo else lo + 1.0
    im = None
    for i, ax in enumerate(axes.ravel()):
        ax.set_xticks([])
        ax.set_yticks([])
        if i >= k:
            ax.axis("off")
            continue
        if rgb:  # colour filters: each shown in its own range, there is no single scale
            m = maps[i]
            a, b = float(m.min()), float(m.max())
            ax.imshow((m - a) / (b - a) if b > a else np.zeros_like(m), interpolation="nearest")
        else:
            im = ax.imshow(maps[i], cmap=cmap, vmin=lo, vmax=hi, interpolation="nearest")
        ax.set_title(labels[i], fontsize=7, pad=2)
    if im is not None:
        cb = fig.colorbar(im, ax=axes.ravel().tolist(), shrink=0.9, pad=0.02)
        cb.set_label(colorbar_label, fontsize=7)
        cb.ax.tick_params(labelsize=6)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.savefig(path, dpi=80)
    return str(path)


def save_bars(values: np.ndarray, path, title: str = "", labels=None,
              ylabel: str = "value") -> str:
    """Save one value per channel/unit (a 1x1 feature map, a Linear layer's output) as a bar
    chart, the strongest few labelled. Returns the path."""
    v = np.asarray(values, dtype=np.float64).ravel()
    labels = [f"#{i}" for i in range(len(v))] if labels is None else list(labels)
    fig = _figure((min(max(4.0, 0.08 * len(v) + 2), 12), 2.8))
    ax = fig.subplots()
    colors = np.where(v >= 0, "#3182bd", "#de2d26")
    ax.bar(np.arange(len(v)), v, color=colors, width=0.85)
    ax.axhline(0, color="#555555", lw=0.6)
    for i in np.argsort(-np.abs(v))[:min(5, len(v))]:
        ax.annotate(labels[i], (i, v[i]), fontsize=6, ha="center",
                    va="bottom" if v[i] >= 0 else "top")
    ax.set(xlabel="channel" if len(v) > 12 else "", ylabel=ylabel)
    if len(v) <= 12:
        ax.set_xticks(np.arange(len(v)), labels, fontsize=7)
    ax.set_title(title, fontsize=9)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    return str(path)


def strongest(fmap: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` channels of ``fmap`` (C, ...) with the largest mean |activation|,
    strongest first."""
    strength = np.abs(fmap.reshape(len(fmap), -1)).mean(1)
    return np.argsort(-strength, kind="stable")[:k]


def _first_conv_weight(model):
    """The first 2-d kernel: a ``(C_out, C_in, kh, kw)`` weight of a layer that slides a window
    (its class implements ``window()``)."""
    from convnp.nn.modules.module import Module

    for m in model.modules():
        w = m._parameters.get("weight")
        if w is not None and w.ndim == 4 and type(m).window is not Module.window:
            return np.asarray(w.array), type(m).__name__
    return None, None


def show(model, x, out_dir, max_maps: int = 16) -> list[str]:
    """Write ``filters.png`` (first convolution's kernels, on a diverging scale centred on 0) and
    ``NN_<layer>.png`` (the first sample's output of each leaf layer) into ``out_dir``. Feature
    maps share a colour scale with a colour bar; the ``max_maps`` strongest channels (mean
    |activation|) are drawn, labelled ``ch <index> (<strength>)``. Outputs with one number per
    channel (1x1 maps, Linear layers) are drawn as bar charts.

    Args:
        model (Module): the network (run in eval mode, no gradients).
        x (Tensor or ndarray): an input batch ``(N, C, H, W)``.
        out_dir (path): created if needed.
        max_maps (int): channels drawn per layer (the strongest ones).

    Returns:
        the written paths, filters first.
    """
    import convnp
    from convnp.tensor import Tensor

    os.makedirs(out_dir, exist_ok=True)
    xa = np.asarray(getattr(x, "array", x), dtype=np.float32)
    if xa.ndim != 4:
        raise ValueError(f"show: expected an input batch of shape (N, C, H, W), got {xa.shape}")
    written = []
    w, wname = _first_conv_weight(model)
    if w is not None:
        maps = np.moveaxis(w, 1, -1) if w.shape[1] == 3 else w.mean(axis=1)
        avg = "" if w.shape[1] in (1, 3) else f", mean over {w.shape[1]} input channels"
        written.append(save_grid(maps, os.path.join(out_dir, "filters.png"),
                                 f"first {wname} filters {w.shape[-2]}x{w.shape[-1]} "
                                 f"({w.shape[0]} of them{avg})", cmap="RdBu_r",
                                 max_maps=max_maps, symmetric=True,
                                 labels=[f"filter {i}" for i in range(len(maps))],
                                 colorbar_label="weight"))
    records = []
    names = {id(m): n for n, m in model.named_modules()}
    leaves = [m for m in model.modules() if not any(True for _ in m.children())]

    def hook(m, args, out):
        y = out[0] if isinstance(out, (tuple, list)) else out
        # 4-d: feature maps; 2-d only from layers with weights (Linear: units, logits)
        if isinstance(y, Tensor) and (y.ndim == 4 or (y.ndim == 2 and hasattr(m, "weight"))):
            records.append((names.get(id(m), type(m).__name__), type(m).__name__,
                            np.asarray(y.array[0])))

    handles = [m.register_forward_hook(hook) for m in leaves]
    was_training = getattr(model, "training", False)
    try:
        model.eval()
        with convnp.no_grad():
            model(Tensor._wrap(xa))
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    for i, (name, typ, fmap) in enumerate(records):
        safe = re.sub(r"[^A-Za-z0-9_.-]", "_", name or typ)
        path = os.path.join(out_dir, f"{i:02d}_{safe}.png")
        if fmap.ndim == 1 or fmap.shape[1:] == (1, 1):  # one number per channel: bars
            written.append(save_bars(fmap.ravel(), path, f"{name} ({typ}): {fmap.shape[0]} "
                                     f"values" + (" (1x1 maps)" if fmap.ndim == 3 else ""),
                                     ylabel="activation"))
            continue
        top = strongest(fmap, max_maps)
        shown = (f"the {len(top)} strongest of {fmap.shape[0]} maps" if len(top) < len(fmap)
                 else f"{fmap.shape[0]} maps")
        written.append(save_grid(fmap[top], path,
                                 f"{name} ({typ}): {shown} {fmap.shape[1]}x{fmap.shape[2]}",
                                 max_maps=max_maps, colorbar_label="activation",
                                 labels=[f"ch {c} ({np.abs(fmap[c]).mean():.2g})" for c in top]))
    return written


def show_run(run_dir, image, out_dir=None, max_maps: int = 16, prepare: bool = True) -> list[str]:
    """:func:`show` for a run directory of ``convnp train`` and an image file (prepared as
    ``convnp predict`` does, see :func:`convnp.train.load_image`). ``out_dir`` defaults to
    ``<run_dir>/show``."""
    from convnp import train

    cfg, model, _, _ = train.load_run(run_dir)
    arr, _ = train.load_image(cfg, image, prepare)
    x = train._transforms(cfg, False).apply_batch(arr[None], None)
    return show(model, x, out_dir or os.path.join(run_dir, "show"), max_maps)
