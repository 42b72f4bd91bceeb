"""Shared helpers of the example scripts: MNIST as float arrays, batching, timing."""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np


def parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--data-dir", default=os.environ.get("CONVNP_MNIST"),
                   help="folder holding the MNIST IDX .gz files (default: convnp's cache, "
                        "$CONVNP_DATA or ~/.cache/convnp)")
    p.add_argument("--download", action="store_true",
                   help="fetch MNIST (checksummed) into --data-dir or the cache if absent")
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--train-size", type=int, default=20000)
    p.add_argument("--test-size", type=int, default=2000)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--seed", type=int, default=0)
    return p


def mnist_arrays(data_dir: str | None, train: bool, limit: int | None = None,
                 download: bool = False):
    """Images as float32 (N, 1, 28, 28) in [0, 1] and int64 labels, via convnp.data.MNIST."""
    from convnp.data import MNIST

    ds = MNIST(data_dir, train=train, download=download)
    x = np.asarray(ds.data[:limit], dtype=np.float32)[:, None] / 255.0
    y = np.asarray(ds.targets[:limit], dtype=np.int64)
    return x, y


def batches(n: int, batch_size: int, rng: np.random.Generator | None = None):
    order = rng.permutation(n) if rng is not None else np.arange(n)
    for i in range(0, n, batch_size):
        yield order[i:i + batch_size]


class Timer:
    def __enter__(self):
        self.t = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.t


def save_grid(path: str, rows: list, titles: list[str], styles: list | None = None,
              outlines: list | None = None, legend: list | None = None) -> None:
    """Save rows of (N, 1, H, W) grey or (N, 3, H, W) RGB images as one PNG grid (one row per
    array). ``styles`` gives each row's imshow options (default: grey in [0, 1]); label maps can
    use a colour map instead. ``outlines[r]`` (N, 1, H, W) masks are outlined in red on row r;
    ``legend`` is a list of (label, colour) drawn under the grid."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    n = rows[0].shape[0]
    extra = 0.45 if legend else 0.0
    fig, axes = plt.subplots(len(rows), n, figsize=(n * 0.9, len(rows) * 1.0 + extra))
    for r, (imgs, title) in enumerate(zip(rows, titles)):
        for i in range(n):
            ax = axes[r, i]
            style = (styles[r] if styles else None) or dict(cmap="gray", vmin=0, vmax=1)
            img = np.asarray(imgs[i])
            if img.shape[0] == 3:
                ax.imshow(np.clip(np.moveaxis(img, 0, -1), 0, 1), interpolation="nearest")
            else:
                ax.imshow(img[0], **style)
            if outlines and outlines[r] is not None:
                ax.contour(np.asarray(outlines[r][i, 0]), levels=[0.5], colors="red",
                           linewidths=0.8)
            ax.set_xticks([])
            ax.set_yticks([])
        axes[r, 0].set_ylabel(title, fontsize=7)
    fig.tight_layout(pad=0.2, rect=(0, extra / (len(rows) * 1.0 + extra), 1, 1))
    if legend:
        fig.legend(handles=[Patch(facecolor=c, edgecolor="#555555", label=t) for t, c in legend],
                   loc="lower center", ncol=min(len(legend), 11), fontsize=6, frameon=False,
                   handlelength=1.0, columnspacing=0.8)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80)
    plt.close(fig)
    print(f"saved {path}")


def holes_in_colour(x: np.ndarray, m: np.ndarray, colour=(1.0, 0.55, 0.0)) -> np.ndarray:
    """(N, 1, H, W) grey images with the mask's pixels (m = 1: missing) painted ``colour``:
    (N, 3, H, W) RGB, so a hole never looks like black background."""
    rgb = np.repeat(x * (1 - m), 3, axis=1)
    return rgb + m * np.asarray(colour, dtype=rgb.dtype)[None, :, None, None]
