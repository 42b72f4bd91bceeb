"""Look inside a network: first-layer filters and every layer's feature maps as PNG grids.

``show(model, x, out_dir)`` works on any model and input batch; ``show_run(run_dir, image,
out_dir)`` loads a run written by ``convnp train`` (its checkpoint and preprocessing).
matplotlib (Agg) is imported only here.
"""

from __future__ import annotations

import math
import os
import re

import numpy as np

__all__ = ["show", "show_run", "save_grid"]


def save_grid(maps: np.ndarray, path, title: str = "", cmap: str = "viridis",
              max_maps: int = 16) -> str:
    """Save ``maps`` (K, H, W) or (K, H, W, 3) as a grid of images, each scaled to its own
    range. Returns the path."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    maps = np.asarray(maps, dtype=np.float64)[:max_maps]
    k = len(maps)
    cols = min(8, k)
    rows = math.ceil(k / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(1.3 * cols, 1.3 * rows + 0.35), squeeze=False)
    for i, ax in enumerate(axes.ravel()):
        ax.axis("off")
        if i >= k:
            continue
        m = maps[i]
        lo, hi = float(m.min()), float(m.max())
        m = (m - lo) / (hi - lo) if hi > lo else np.zeros_like(m)
        ax.imshow(m, cmap=None if m.ndim == 3 else cmap, interpolation="nearest")
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return str(path)


def _first_conv_weight(model):
    for m in model.modules():
        w = getattr(m, "weight", None)
        if w is not None and getattr(w, "ndim", 0) >= 4 and hasattr(m, "in_channels"):
            return np.asarray(w.array), type(m).__name__
    return None, None


def show(model, x, out_dir, max_maps: int = 16) -> list[str]:
    """Write ``filters.png`` (first convolution's kernels) and ``NN_<layer>.png`` (the feature
    maps of the first sample after each leaf layer with a 2-d spatial output) into ``out_dir``.

    Args:
        model (Module): the network (run in eval mode, no gradients).
        x (Tensor or ndarray): an input batch ``(N, C, H, W)``.
        out_dir (path): created if needed.
        max_maps (int): channels drawn per layer.

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
        written.append(save_grid(maps, os.path.join(out_dir, "filters.png"),
                                 f"first {wname} filters {w.shape[-2]}x{w.shape[-1]} "
                                 f"({w.shape[0]} of them)", cmap="gray", max_maps=max_maps))
    records = []
    names = {id(m): n for n, m in model.named_modules()}
    leaves = [m for m in model.modules() if not any(True for _ in m.children())]

    def hook(m, args, out):
        y = out[0] if isinstance(out, (tuple, list)) else out
        if isinstance(y, Tensor) and y.ndim == 4:
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
        written.append(save_grid(fmap, os.path.join(out_dir, f"{i:02d}_{safe}.png"),
                                 f"{name} ({typ}): {fmap.shape[0]} maps "
                                 f"{fmap.shape[1]}x{fmap.shape[2]}", max_maps=max_maps))
    return written


def show_run(run_dir, image, out_dir=None, max_maps: int = 16, prepare: bool = True) -> list[str]:
    """:func:`show` for a run directory of ``convnp train`` and an image file (preprocessed as
    ``convnp predict`` does). ``out_dir`` defaults to ``<run_dir>/show``."""
    from convnp import train

    cfg, model, _, _ = train.load_run(run_dir)
    arr, _ = train.load_image(cfg, image, prepare)
    x = train._transforms(cfg, False).apply_batch(arr[None], None)
    return show(model, x, out_dir or os.path.join(run_dir, "show"), max_maps)
