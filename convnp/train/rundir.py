"""The run directory: what it holds, writing its files atomically, refusing an ``--out`` that
holds something else, and the plots written at the end of a run."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

from convnp import checkpoint as ckpt

__all__ = ["CHECKPOINT", "ROW_KEYS", "RUN_FILES", "check_out_dir", "plot_curves",
           "plot_confusion"]

CHECKPOINT = "checkpoint.safetensors"
# what a run directory holds (anything else in --out means it is not one)
# the columns of metrics.jsonl, in order (test_miou: segmentation, test_psnr: reconstruction)
ROW_KEYS = ("epoch", "train_loss", "train_acc", "test_loss", "test_acc", "test_miou", "test_psnr",
            "epoch_seconds", "images_per_second", "lr", "batch_losses")
RUN_FILES = ("config.json", "metrics.jsonl", CHECKPOINT, "curves.png", "confusion.png")


def _write_run_file(path: Path, text: str) -> None:
    ckpt.atomic_write_text(path, text)


def _is_our_temp(p: Path) -> bool:
    # atomic_write_bytes' temporary files: ".<name>.<random>.tmp"
    return p.name.startswith(".") and p.name.endswith(".tmp") and any(
        p.name.startswith(f".{f}.") for f in RUN_FILES)


def check_out_dir(run_dir: Path, overwrite: bool = False) -> bool:
    """Refuse an ``--out`` that cannot hold a fresh run; True when an old run must be moved
    aside first (``overwrite``). A folder holding only ``config.json`` (a run stopped before its
    first checkpoint) and leftover temporary files counts as empty."""
    for parent in [run_dir, *run_dir.parents]:
        if parent.exists():
            if not parent.is_dir():
                raise ValueError(f"--out {run_dir}: {parent} is a file, not a folder; choose "
                                 f"another --out")
            if not os.access(parent, os.W_OK | os.X_OK):
                raise ValueError(f"--out {run_dir}: cannot write in {parent} (permission "
                                 f"denied); choose a writable --out")
            break
    if not run_dir.is_dir():
        return False
    entries = [p for p in run_dir.iterdir() if not _is_our_temp(p)]
    if not [p for p in entries if p.name != "config.json"]:
        return False
    if overwrite:
        if not any(p.name in RUN_FILES for p in entries):
            raise ValueError(f"--out {run_dir} is not empty and not a convnp run directory (no "
                             f"{', '.join(RUN_FILES[:3])}); --overwrite only replaces runs: "
                             f"choose an empty or new --out")
        return True
    names = ", ".join(sorted(p.name for p in entries)[:5])
    raise ValueError(f"--out {run_dir} already holds a run ({names}); continue it with "
                     f"`convnp train --resume {run_dir}`, or start afresh with --overwrite "
                     f"(the old run moves to {run_dir.name}.old-<time>)")


def _move_aside(run_dir: Path) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    dest = run_dir.with_name(f"{run_dir.name}.old-{stamp}")
    i = 1
    while dest.exists():
        i += 1
        dest = run_dir.with_name(f"{run_dir.name}.old-{stamp}-{i}")
    os.replace(run_dir, dest)
    ckpt._fsync_dir(run_dir.parent)
    return dest


def _save_figure(fig, path) -> None:
    import io

    # plain Figures (no pyplot): the caller's backend and open figures stay as they are
    buf = io.BytesIO()
    fig.savefig(buf, dpi=100, format="png")
    ckpt.atomic_write_bytes(path, buf.getvalue())  # a killed run never leaves half a PNG


def plot_curves(history: list[dict], path) -> None:
    """Loss and accuracy per epoch; the loss panel also draws every batch's training loss
    (``batch_losses``) on the same epoch axis, so a one-epoch run shows its learning curve."""
    from matplotlib.figure import Figure  # no pyplot: the caller's backend stays as it is
    ep = [h["epoch"] for h in history]
    fig = Figure(figsize=(10, 4))
    a, b = fig.subplots(1, 2)
    for h in history:
        bl = h.get("batch_losses") or []
        if bl:  # batch i of n ends at epoch - 1 + (i + 1)/n
            t = h["epoch"] - 1 + (np.arange(len(bl)) + 1) / len(bl)
            a.plot(t, bl, "-", color="tab:blue", alpha=0.35, lw=0.8,
                   label="train (each batch)" if h is history[0] else None)
    a.plot(ep, [h["train_loss"] for h in history], "o-", color="tab:blue",
           label="train (epoch mean)")
    a.plot(ep, [h["test_loss"] for h in history], "o-", color="tab:orange", label="test")
    a.set(xlabel="epoch", ylabel="loss", title="loss")
    if history[-1].get("test_acc") is not None:
        b.plot(ep, [100 * h["train_acc"] for h in history], "o-", label="train")
        b.plot(ep, [100 * h["test_acc"] for h in history], "o-", label="test")
        b.set(xlabel="epoch", ylabel="accuracy (%)", title="accuracy (after each epoch)")
    else:
        b.plot(ep, [h.get("test_psnr") for h in history], "o-", label="test")
        b.set(xlabel="epoch", ylabel="PSNR (dB)", title="reconstruction")
    if len(ep) == 1:  # one point: a sensible window around it, not 0.96..1.04
        a.set_xlim(0, 1.05)
        b.set_xlim(0.5, 1.5)
        b.set_xticks([1])
    for ax in (a, b):
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    _save_figure(fig, path)


def plot_confusion(cm: np.ndarray, classes: list[str], path) -> None:
    from matplotlib.figure import Figure
    k = cm.shape[0]
    fig = Figure(figsize=(min(2 + 0.6 * k, 20), min(2 + 0.6 * k, 20)))
    ax = fig.subplots()
    ax.imshow(cm, cmap="Blues")
    labels = classes if len(classes) == k else [str(i) for i in range(k)]
    if k <= 20:
        ax.set_xticks(range(k), labels, rotation=90)
        ax.set_yticks(range(k), labels)
        for i in range(k):
            for j in range(k):
                ax.text(j, i, str(cm[i, j]), ha="center", va="center", fontsize=7,
                        color="white" if cm[i, j] > cm.max() / 2 else "black")
    ax.set(xlabel="predicted", ylabel="true", title="confusion matrix (test)")
    fig.tight_layout()
    _save_figure(fig, path)
