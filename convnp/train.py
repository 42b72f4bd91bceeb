"""Training runs: the loop behind ``convnp train``, ``convnp eval`` and ``convnp predict``.

A run directory holds ``config.json`` (the recipe, with absolute paths), ``metrics.jsonl`` (one
JSON line per epoch: epoch, train_loss, train_acc, test_loss, test_acc, [test_miou | test_psnr],
epoch_seconds, images_per_second, lr, batch_losses: each batch's training loss),
``checkpoint.safetensors`` (model + optimizer + scheduler + RNG states + metrics history,
SHA-256-verified, written atomically after every epoch and, on Ctrl-C, in the middle of one), and
at the end ``curves.png`` and ``confusion.png``. Every file is
written to a temporary name and renamed, so a killed run never leaves a torn file.

Reproducibility: the seed fixes weight initialisation (convnp's default generator), shuffling and
augmentation (a separate loader generator). Both generators' states are in the checkpoint, so
``resume`` continues exactly where the run stopped and reproduces an uninterrupted run's metrics.

Tasks: classification networks learn the labels; segmentation networks a label per pixel
(the digit's class + 1 on its ink, 0 elsewhere); the autoencoder its input (see :class:`Task`).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import signal
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

import convnp
from convnp import checkpoint as ckpt

__all__ = ["TrainConfig", "Trainer", "DATASET_INFO", "build_datasets", "build_model",
           "load_run", "evaluate", "confusion_matrix", "predict_images", "load_image"]

# channels, size, normalisation (mean, std) per dataset; augmentation recipes
DATASET_INFO: dict[str, dict[str, Any]] = {
    "mnist": dict(channels=1, size=28, mean=(0.1307,), std=(0.3081,), flip=False),
    "fashion-mnist": dict(channels=1, size=28, mean=(0.2860,), std=(0.3530,), flip=True),
    "kmnist": dict(channels=1, size=28, mean=(0.1918,), std=(0.3483,), flip=False),
    "emnist": dict(channels=1, size=28, mean=(0.1751,), std=(0.3332,), flip=False),
    "cifar10": dict(channels=3, size=32, mean=(0.4914, 0.4822, 0.4465),
                    std=(0.2470, 0.2435, 0.2616), flip=True),
    "cifar100": dict(channels=3, size=32, mean=(0.5071, 0.4865, 0.4409),
                     std=(0.2673, 0.2564, 0.2762), flip=True),
}

CHECKPOINT = "checkpoint.safetensors"
SCHEDULERS = ("none", "step", "cosine", "onecycle")
# what a run directory holds (anything else in --out means it is not one)
# the columns of metrics.jsonl, in order (test_miou: segmentation, test_psnr: reconstruction)
ROW_KEYS = ("epoch", "train_loss", "train_acc", "test_loss", "test_acc", "test_miou", "test_psnr",
            "epoch_seconds", "images_per_second", "lr", "batch_losses")
RUN_FILES = ("config.json", "metrics.jsonl", CHECKPOINT, "curves.png", "confusion.png")


@dataclass
class TrainConfig:
    """A training recipe (every field is a ``convnp train`` option)."""

    model: str = "lenet5"
    dataset: str = "mnist"
    epochs: int = 10
    batch_size: int = 64
    lr: float | None = None  # None: the optimizer's default below
    optimizer: str = "adam"
    momentum: float = 0.9
    weight_decay: float = 0.0
    scheduler: str = "cosine"
    step_size: int = 3
    gamma: float = 0.1
    label_smoothing: float = 0.0
    augment: bool = False
    data_dir: str | None = None
    download: bool = False
    out: str | None = None
    seed: int = 0
    limit_train: int | None = None
    limit_test: int | None = None
    eval_batch_size: int = 1000
    prefetch: int = 2
    extra: dict = field(default_factory=dict)

    DEFAULT_LR = {"sgd": 0.05, "adam": 1e-3, "adamw": 1e-3}

    def validate(self) -> None:
        """Reject every bad value early, before any data is read or any file written. Messages
        name the ``convnp train`` option."""
        from convnp.models import list_models, model_task
        if self.model.lower() not in list_models():
            raise ValueError(f"unknown model {self.model!r}; valid models: "
                             f"{', '.join(list_models())}")
        _dataset_key(self.dataset)
        if self.optimizer.lower() not in self.DEFAULT_LR:
            raise ValueError(f"unknown optimizer {self.optimizer!r}; valid optimizers: "
                             f"{', '.join(self.DEFAULT_LR)}")
        if self.scheduler.lower() not in SCHEDULERS:
            raise ValueError(f"unknown scheduler {self.scheduler!r}; valid schedulers: "
                             f"{', '.join(SCHEDULERS)}")

        def need(ok: bool, option: str, value, what: str) -> None:
            if not ok:
                raise ValueError(f"--{option} must be {what}, got {value!r}")

        def count(name: str, optional: bool = False, hint: str = "") -> None:
            v = getattr(self, name)
            if optional and v is None:
                return
            need(isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= 1,
                 name.replace("_", "-"), v, "a whole number >= 1" + hint)

        def real(name: str, ok, what: str, optional: bool = False) -> None:
            v = getattr(self, name)
            if optional and v is None:
                return
            need(isinstance(v, (int, float, np.number)) and not isinstance(v, bool)
                 and math.isfinite(v) and ok(v), name.replace("_", "-"), v, what)

        count("epochs")
        count("batch_size")
        count("eval_batch_size")
        count("step_size")
        count("limit_train", True, " (leave it out to use every training image)")
        count("limit_test", True, " (leave it out to use every test image)")
        real("lr", lambda v: v > 0, "a number > 0", optional=True)
        real("momentum", lambda v: v >= 0, "a number >= 0")
        real("weight_decay", lambda v: v >= 0, "a number >= 0")
        real("gamma", lambda v: v > 0, "a number > 0")
        real("label_smoothing", lambda v: 0 <= v <= 1, "a number in [0, 1]")
        need(isinstance(self.seed, (int, np.integer)) and not isinstance(self.seed, bool)
             and self.seed >= 0, "seed", self.seed, "a whole number >= 0")
        need(isinstance(self.prefetch, (int, np.integer)) and self.prefetch >= 0, "prefetch",
             self.prefetch, "a whole number >= 0")
        info = model_task(self.model)
        if info["input"] == "volume":
            raise ValueError(f"--model {self.model}: a 3-d CNN takes volumes (N, C, D, H, W) and "
                             f"the datasets of `convnp train` are 2-d images; train it from Python "
                             f"on volumetric data, or pick an image model such as lenet5 or "
                             f"vgg-small (`convnp models` lists each model's input)")

    def resolved_lr(self) -> float:
        return self.lr if self.lr is not None else self.DEFAULT_LR[self.optimizer]

    def to_json(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, d: dict) -> "TrainConfig":
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


# the recipe fields a resumed run may change; every other one must match the stored run
RESUMABLE_OPTIONS = ("epochs", "data_dir", "download", "prefetch", "eval_batch_size")


def _dataset_key(name: str) -> str:
    from convnp.data.datasets import _ALIASES, DATASETS
    key = _ALIASES.get(name.lower(), name.lower())
    if key not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; valid datasets: {', '.join(DATASETS)}")
    return key


def _transforms(cfg: TrainConfig, train: bool):
    from convnp.data import transforms as T
    info = DATASET_INFO[_dataset_key(cfg.dataset)]
    tf = []
    if train and cfg.augment:
        tf.append(T.RandomCrop(info["size"], padding=4 if info["size"] >= 32 else 2))
        if info["flip"]:
            tf.append(T.RandomHorizontalFlip())
    tf += [T.ToTensor(), T.Normalize(info["mean"], info["std"])]
    return T.Compose(tf)


def build_datasets(cfg: TrainConfig):
    """(train, test) datasets of the recipe, limited to the first N samples if asked."""
    from convnp.data import Subset, get_dataset
    key = _dataset_key(cfg.dataset)
    train = get_dataset(key, cfg.data_dir, train=True, transform=_transforms(cfg, True),
                        download=cfg.download)
    test = get_dataset(key, cfg.data_dir, train=False, transform=_transforms(cfg, False),
                       download=cfg.download)
    if cfg.limit_train is not None:
        train = Subset(train, range(min(cfg.limit_train, len(train))))
    if cfg.limit_test is not None:
        test = Subset(test, range(min(cfg.limit_test, len(test))))
    return train, test


def _classes(ds) -> list[str]:
    return list(getattr(ds, "classes", []) or getattr(getattr(ds, "dataset", None), "classes", []))


class Task:
    """What a model learns from a labelled image dataset (``convnp.models.model_task``):

    * classification: the image's label (cross-entropy, accuracy);
    * segmentation: a label per pixel, the digit's class + 1 where the pixel is ink (brighter
      than 0.5 before normalisation), 0 for background, as in ``examples/unet_mnist.py``
      (cross-entropy per pixel, pixel accuracy and mean IoU over the classes present);
    * reconstruction: the image itself in [0, 1] (mean squared error, PSNR);

    for image inputs padded (with the background value) to a multiple of what the network
    needs, or, for sequence models, the image rows as a sequence (length H, C x W features).

    Args:
        cfg: the recipe.
        classes: the dataset's class names.
    """

    def __init__(self, cfg: TrainConfig, classes: list[str]) -> None:
        from convnp.models import model_task
        info = model_task(cfg.model)
        ds = DATASET_INFO[_dataset_key(cfg.dataset)]
        self.kind, self.input = info["task"], info["input"]
        c = ds["channels"]
        self.mean = np.asarray(ds["mean"], np.float32).reshape(1, c, 1, 1)
        self.std = np.asarray(ds["std"], np.float32).reshape(1, c, 1, 1)
        pad = -ds["size"] % info["multiple"]
        self.pad = (pad // 2, pad - pad // 2)
        self.size = ds["size"] + pad
        self.in_channels = c * ds["size"] if self.input == "sequence" else c
        if self.kind == "segmentation":
            self.classes = ["background"] + [f"{name}" for name in classes]
        elif self.kind == "reconstruction":
            self.classes = []
        else:
            self.classes = list(classes)

    @property
    def metric(self) -> str:
        return {"segmentation": "pixel accuracy", "reconstruction": "PSNR"}.get(self.kind,
                                                                              "accuracy")

    def prepare(self, x, y):
        """(model input, target) for a loader batch (x normalised (N, C, H, W), y labels)."""
        a = x.array
        if self.kind == "segmentation":
            ink = (a * self.std + self.mean).mean(1) > 0.5                 # (N, H, W)
            t = np.where(ink, y.array[:, None, None] + 1, 0).astype(np.int64)
        elif self.kind == "reconstruction":
            t = np.clip(a * self.std + self.mean, 0, 1).astype(np.float32)
        else:
            t = y.array
        if self.pad != (0, 0):
            p = ((0, 0), (0, 0), self.pad, self.pad)
            bg = -self.mean / self.std                       # normalised black, per channel
            a = (np.pad(a - bg, p) + bg).astype(a.dtype)
            if t.ndim == 3:
                t = np.pad(t, p[1:])
            elif t.ndim == 4:
                t = np.pad(t, p)
        if self.input == "sequence":
            n, c, h, w = a.shape
            a = np.ascontiguousarray(a.transpose(0, 1, 3, 2)).reshape(n, c * w, h)  # (N, CW, H)
        return convnp.Tensor._wrap(a), convnp.Tensor._wrap(t)

    def loss(self, out, target, label_smoothing: float = 0.0, reduction: str = "mean"):
        import convnp.nn.functional as F
        if self.kind == "reconstruction":
            return F.mse_loss(out, target, reduction=reduction)
        return F.cross_entropy(out, target, label_smoothing=label_smoothing, reduction=reduction)

    def predict(self, out) -> np.ndarray | None:
        """Predicted labels (per image or per pixel); None for reconstruction."""
        return None if self.kind == "reconstruction" else out.array.argmax(1)


def build_model(cfg: TrainConfig, num_classes: int):
    from convnp.models import get_model
    task = Task(cfg, [])
    return get_model(cfg.model, num_classes=num_classes, in_channels=task.in_channels,
                     input_size=task.size)


def _build_optimizer(cfg: TrainConfig, model):
    from convnp import optim
    lr, name = cfg.resolved_lr(), cfg.optimizer.lower()
    if name == "sgd":
        return optim.SGD(model.parameters(), lr=lr, momentum=cfg.momentum,
                         weight_decay=cfg.weight_decay)
    if name == "adam":
        return optim.Adam(model.parameters(), lr=lr, weight_decay=cfg.weight_decay)
    if name == "adamw":
        return optim.AdamW(model.parameters(), lr=lr,
                           weight_decay=cfg.weight_decay if cfg.weight_decay else 0.01)
    raise ValueError(f"unknown optimizer {cfg.optimizer!r}; valid optimizers: sgd, adam, adamw")


def _build_scheduler(cfg: TrainConfig, opt, steps_per_epoch: int):
    """(scheduler, per_batch) for the recipe's schedule, planned for ``cfg.epochs`` epochs."""
    from convnp.optim import lr_scheduler as S
    name = cfg.scheduler.lower()
    if name == "none":
        return None, False
    if name == "step":
        return S.StepLR(opt, step_size=cfg.step_size, gamma=cfg.gamma), False
    if name == "cosine":
        return S.CosineAnnealingLR(opt, T_max=cfg.epochs), False
    if name == "onecycle":
        return S.OneCycleLR(opt, max_lr=cfg.resolved_lr(),
                            total_steps=cfg.epochs * steps_per_epoch), True
    raise ValueError(f"unknown scheduler {cfg.scheduler!r}; valid schedulers: "
                     f"{', '.join(SCHEDULERS)}")


def _fast_forward(scheduler, steps: int) -> None:
    """Put a freshly built scheduler where it would be after ``steps`` steps (closed form)."""
    scheduler.last_epoch = steps
    closed = getattr(scheduler, "_get_closed_form_lr", None) or scheduler.get_lr
    lrs = closed()
    for group, lr in zip(scheduler.optimizer.param_groups, lrs):
        group["lr"] = lr
    scheduler._last_lr = list(lrs)
    scheduler._step_count = steps + 1


def evaluate(model, loader, num_classes: int, task: Task | None = None, dist=None) -> dict:
    """Loss and metrics of ``model`` on ``loader``: ``loss``, ``acc`` (per image, or per pixel
    for segmentation; None for reconstruction), ``confusion`` (rows: true class, columns:
    predicted; None for reconstruction), and ``miou`` (segmentation) or ``psnr``
    (reconstruction). With a distributed ``dist``, each rank's loader holds its shard and the
    sums are reduced over the ranks."""
    import convnp.nn.functional as F
    if dist is not None:
        dist.sync_buffers(model)  # every rank evaluates rank 0's model (BatchNorm statistics)
    model.eval()
    loss_sum, n = 0.0, 0
    cm = np.zeros((num_classes, num_classes), np.int64)
    with convnp.no_grad():
        for x, y in loader:
            if task is not None:
                x, y = task.prepare(x, y)
            out = model(x)
            if task is None:
                loss_sum += float(F.cross_entropy(out, y, reduction="sum").item())
            else:
                loss_sum += float(task.loss(out, y, reduction="sum").item())
            n += y.array.size
            pred = out.array.argmax(1) if task is None else task.predict(out)
            if pred is not None:
                cm += confusion_matrix(y.array.ravel(), pred.ravel(), num_classes)
    if dist is not None:
        loss_sum, n, cm = dist.sum([loss_sum, n, cm])
    loss = loss_sum / max(n, 1)
    if task is not None and task.kind == "reconstruction":
        return {"loss": loss, "acc": None, "confusion": None,
                "psnr": 10 * math.log10(1 / loss) if loss > 0 else math.inf}
    ev = {"loss": loss, "acc": int(np.trace(cm)) / max(n, 1), "confusion": cm}
    if task is not None and task.kind == "segmentation":
        ev["miou"] = mean_iou(cm)
    return ev


def confusion_matrix(y_true, y_pred, num_classes: int) -> np.ndarray:
    idx = np.asarray(y_true, np.int64) * num_classes + np.asarray(y_pred, np.int64)
    return np.bincount(idx, minlength=num_classes ** 2).reshape(num_classes, num_classes)


def mean_iou(cm: np.ndarray) -> float:
    """Mean intersection-over-union over the classes that occur (truth or prediction)."""
    inter = np.diag(cm).astype(np.float64)
    union = cm.sum(0) + cm.sum(1) - inter
    present = union > 0
    return float(np.mean(inter[present] / union[present])) if present.any() else 0.0


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


class Trainer:
    """Runs a recipe: ``Trainer(cfg).fit()``; ``Trainer.resume(run_dir).fit()`` continues a run.

    Args:
        cfg: the recipe.
        progress: show a live rich progress bar (default True when run from the CLI).
        plots: write curves.png and confusion.png at the end (default True).
        callbacks: functions ``cb(trainer, event, info)`` called on 'step' and 'epoch' events.
            A KeyboardInterrupt raised from a 'step' callback acts as Ctrl-C (below).
        overwrite: start afresh in an ``cfg.out`` that holds a run: the old run directory is
            renamed to ``<out>.old-<time>`` when ``fit()`` starts. Without it such an ``out``
            raises ValueError.
        distributed: one rank of ``mpirun -n N``: data-parallel training (see
            convnp/distributed/_train.py); ``cfg.batch_size`` is per rank, rank 0 alone writes.
        handle_sigint: when ``fit()`` runs in the main thread, the first Ctrl-C (SIGINT) lets
            the current step finish, writes a mid-epoch checkpoint and stops with
            KeyboardInterrupt; a second Ctrl-C stops at once. Default True.

    After an interruption ``saved`` says what the run directory holds: None (no checkpoint),
    ``(epoch, None)`` (the checkpoint of a complete epoch) or ``(epoch, step)`` (mid-epoch).
    """

    def __init__(self, cfg: TrainConfig, progress: bool = False,
                 callbacks: list[Callable] | None = None, console=None,
                 plots: bool = True, overwrite: bool = False, handle_sigint: bool = True,
                 distributed: bool = False, _resuming: bool = False) -> None:
        from convnp.distributed._train import data_parallel
        self.dist = data_parallel(distributed)
        self.cfg = cfg
        self.plots = plots
        self.progress = progress and self.dist.is_main
        self.callbacks = list(callbacks or [])
        self.console = console
        self.handle_sigint = handle_sigint
        cfg.validate()
        # absolute paths: the run resumes from any working directory
        cfg.out = str(Path(cfg.out or _default_out(cfg)).expanduser().absolute())
        if cfg.data_dir is not None:
            cfg.data_dir = str(Path(cfg.data_dir).expanduser().absolute())
        self.run_dir = Path(cfg.out)
        self._move_old = (False if _resuming or not self.dist.is_main
                          else check_out_dir(self.run_dir, overwrite))
        self.history: list[dict] = []
        self.start_epoch = 1
        self.partial: dict | None = None
        self.saved: tuple[int, int | None] | None = None
        self._stop = False
        self._epoch_lr = float("nan")
        self._setup()

    def _setup(self) -> None:
        from convnp.data import DataLoader
        cfg = self.cfg
        convnp.manual_seed(cfg.seed)
        self.loader_gen = convnp.Generator().manual_seed(cfg.seed + 1)
        with self.dist.main_first():  # distributed: rank 0 downloads, the others read its files
            self.train_set, self.test_set = build_datasets(cfg)
        self.task = Task(cfg, _classes(self.train_set))
        self.classes = self.task.classes
        if self.task.kind == "reconstruction":
            self.num_classes = 0
        elif self.task.kind == "segmentation":
            self.num_classes = len(self.classes)
        else:
            self.num_classes = len(self.classes) or int(
                np.max(self.train_set.dataset.targets) + 1)
        self.model = build_model(cfg, self.num_classes)
        self.net = self.dist.wrap(self.model)  # what the loop calls (DDP when distributed)
        sampler = self.dist.train_sampler(self.train_set, cfg.seed)
        self.train_loader = DataLoader(self.train_set, batch_size=cfg.batch_size,
                                       shuffle=sampler is None, sampler=sampler,
                                       generator=self.loader_gen, prefetch=cfg.prefetch)
        self.test_loader = DataLoader(self.dist.test_shard(self.test_set),
                                      batch_size=cfg.eval_batch_size, prefetch=cfg.prefetch)
        self.optimizer = _build_optimizer(cfg, self.model)
        self.scheduler, self.per_batch = _build_scheduler(cfg, self.optimizer,
                                                          len(self.train_loader))

    # -- checkpoints --------------------------------------------------------------------------
    def state(self, epoch: int, partial: dict | None = None) -> dict:
        """The checkpoint after ``epoch`` complete epochs (and ``partial``: a part of the next)."""
        return {"epoch": epoch, "model": self.model.state_dict(),
                "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict() if self.scheduler else None,
                "rng": convnp.get_rng_state(), "loader_rng": self.loader_gen.get_state(),
                "history": self.history, "config": self.cfg.to_json(), "classes": self.classes,
                "partial": partial}

    def save_checkpoint(self, epoch: int, partial: dict | None = None) -> None:
        if self.dist.is_main:
            ckpt.save(self.state(epoch, partial), self.run_dir / CHECKPOINT)
        self.saved = (epoch, None) if partial is None else (partial["epoch"], partial["step"])

    @classmethod
    def resume(cls, run_dir, epochs: int | None = None, overrides: dict | None = None,
               **kwargs) -> "Trainer":
        """Continue the run in ``run_dir`` from its last checkpoint.

        Args:
            run_dir: a run directory written by :class:`Trainer` / ``convnp train``.
            epochs: train until this epoch (more than the run had: each learning-rate schedule
                is rebuilt as if the run had been started with ``epochs``; see docs/training.md).
            overrides: recipe fields the caller gave again. Those in ``RESUMABLE_OPTIONS``
                (``data_dir``, ``download``, ...) replace the stored values; any other must equal
                the stored value, else ValueError (a resumed run keeps its recipe).
        """
        run_dir = Path(run_dir).expanduser().absolute()
        path = run_dir / CHECKPOINT
        if not path.is_file():
            hint = (" (it holds only config.json: the run stopped before its first checkpoint; "
                    "start it again with the same options)"
                    if (run_dir / "config.json").is_file() else
                    "; is this a run directory written by `convnp train`?")
            raise FileNotFoundError(f"resume: no checkpoint in {run_dir} (expected {path})"
                                    f"{hint}")
        state = ckpt.load(path)
        cfg = TrainConfig.from_json(state["config"])
        cfg.out = str(run_dir)
        _apply_overrides(cfg, dict(overrides or {}), run_dir)
        done = int(state["epoch"])
        partial = state.get("partial")
        planned = cfg.epochs
        if epochs is not None:
            if epochs < (partial["epoch"] if partial else done):
                raise ValueError(f"--epochs {epochs}: the run in {run_dir} has already done "
                                 f"{done} epoch(s){' and part of the next' if partial else ''}; "
                                 f"give more epochs to extend it")
            cfg.epochs = epochs
        trainer = cls(cfg, _resuming=True, **kwargs)
        trainer.model.load_state_dict(state["model"])
        trainer.optimizer.load_state_dict(state["optimizer"])
        if trainer.scheduler is not None:
            if cfg.epochs == planned:
                trainer.scheduler.load_state_dict(state["scheduler"])
            else:  # the schedule of a run planned for cfg.epochs, at the step this one reached
                steps = done * len(trainer.train_loader) if trainer.per_batch else done
                if partial and trainer.per_batch:
                    steps += int(partial["step"])
                _fast_forward(trainer.scheduler, steps)
        convnp.set_rng_state(state["rng"])
        trainer.loader_gen.set_state(state["loader_rng"])
        trainer.history = list(state["history"])
        trainer.start_epoch = done + 1
        trainer.partial = partial
        trainer.saved = (done, None) if partial is None else (partial["epoch"], partial["step"])
        return trainer

    # -- the loop -----------------------------------------------------------------------------
    def _emit(self, event: str, info: dict) -> None:
        for cb in self.callbacks:
            cb(self, event, info)

    def _on_sigint(self, signum, frame) -> None:
        self._stop = True
        print("\nCtrl-C: stopping after this step to save a checkpoint (Ctrl-C again stops at "
              "once)", file=sys.stderr, flush=True)
        # a second Ctrl-C interrupts at once (the last checkpoint stays intact)
        signal.signal(signal.SIGINT, signal.default_int_handler)

    def train_epoch(self, epoch: int, bar=None) -> dict:
        model, opt, cfg = self.net, self.optimizer, self.cfg
        model.train()
        self.dist.start_epoch(self, epoch)
        # the epoch's shuffle and augmentation seeds are drawn from here when iteration starts:
        # a mid-epoch checkpoint stores this state and the step, and resuming replays the order
        resume, self.partial = self.partial, None
        if resume is not None:
            self.loader_gen.set_state(resume["loader_rng"])
        epoch_rng = self.loader_gen.get_state()
        acc = dict(loss_sum=0.0, correct=0, count=0, images=0, seconds=0.0,
                   batch_losses=[])  # per-batch loss: curves.png draws the epoch's inside
        skip = 0
        if resume is not None:
            acc.update({k: resume.get(k, acc[k]) for k in acc})
            skip = int(resume["step"])
        start = time.perf_counter() - acc["seconds"]
        for step, (x, y) in enumerate(self.train_loader, 1):
            if step <= skip:
                continue
            x, t = self.task.prepare(x, y)
            opt.zero_grad()
            out = model(x)
            loss = self.task.loss(out, t, cfg.label_smoothing)
            loss.backward()
            opt.step()
            if self.per_batch:
                self.scheduler.step()
            n = len(y.array)
            acc["loss_sum"] += float(loss.item()) * n
            acc["images"] += n
            acc["batch_losses"].append(float(loss.item()))
            pred = self.task.predict(out)
            if pred is not None:
                acc["correct"] += int((pred == t.array).sum())
                acc["count"] += t.array.size
            acc["seconds"] = time.perf_counter() - start
            if bar is not None:
                bar(step, acc["loss_sum"] / acc["images"],
                    acc["correct"] / acc["count"] if acc["count"] else None,
                    acc["images"] / max(acc["seconds"], 1e-9))
            try:
                self._emit("step", {"epoch": epoch, "step": step, "loss": float(loss.item())})
            except KeyboardInterrupt:
                self._stop = True
            if self._stop and step < len(self.train_loader):
                # the step is complete: model, optimizer, scheduler and RNGs agree
                self.save_checkpoint(epoch - 1, dict(acc, epoch=epoch, step=step,
                                                     loader_rng=epoch_rng, lr=self._epoch_lr))
                raise KeyboardInterrupt
        for k, v in zip(("loss_sum", "correct", "count", "images"), self.dist.sum(
                [acc["loss_sum"], acc["correct"], acc["count"], acc["images"]])):
            acc[k] = v
        seconds = time.perf_counter() - start
        return {"train_loss": acc["loss_sum"] / max(acc["images"], 1),
                "train_acc": acc["correct"] / acc["count"] if acc["count"] else None,
                "epoch_seconds": seconds, "images_per_second": acc["images"] / max(seconds, 1e-9),
                "batch_losses": list(acc["batch_losses"])}

    def fit(self) -> list[dict]:
        """Train until ``cfg.epochs``; returns the metrics history. On KeyboardInterrupt the
        last checkpoint stays intact (see ``handle_sigint``) and the interrupt propagates."""
        cfg = self.cfg
        if self.dist.is_main:  # distributed: rank 0 alone writes the run
            if self._move_old:
                self.moved_to = _move_aside(self.run_dir)
                self._move_old = False
            self.run_dir.mkdir(parents=True, exist_ok=True)
            for p in self.run_dir.iterdir():  # temporary files of a run killed while writing
                if _is_our_temp(p):
                    p.unlink(missing_ok=True)
            _write_run_file(self.run_dir / "config.json",
                            json.dumps(dict(cfg.to_json(), classes=self.classes), indent=2))
            if self.history:  # metrics.jsonl may hold a line written after the last checkpoint
                _write_run_file(self.run_dir / "metrics.jsonl",
                                "".join(json.dumps(h) + "\n" for h in self.history))
        old_handler = None
        if self.handle_sigint and threading.current_thread() is threading.main_thread():
            old_handler = signal.signal(signal.SIGINT, self._on_sigint)
        try:
            self._loop()
        finally:
            if old_handler is not None:
                signal.signal(signal.SIGINT, old_handler)
        if self.history and self.plots:
            if not hasattr(self, "last_eval"):
                self.last_eval = evaluate(self.model, self.test_loader, self.num_classes,
                                          self.task, self.dist)
            if not self.dist.is_main:
                return self.history
            plot_curves(self.history, self.run_dir / "curves.png")
            if self.last_eval["confusion"] is not None:
                plot_confusion(self.last_eval["confusion"], self.classes,
                               self.run_dir / "confusion.png")
        return self.history

    def _loop(self) -> None:
        cfg = self.cfg
        with _ProgressBar(self.progress, len(self.train_loader), cfg.epochs,
                          self.console if self.dist.is_main else None, self.task) as progress:
            for epoch in range(self.start_epoch, cfg.epochs + 1):
                lr = float(self.optimizer.param_groups[0]["lr"])
                if self.partial is not None:
                    lr = float(self.partial.get("lr", lr))
                bar = progress.epoch(epoch)
                row = {"epoch": epoch}
                self._epoch_lr = lr
                row.update(self.train_epoch(epoch, bar))
                if self.scheduler is not None and not self.per_batch:
                    self.scheduler.step()
                ev = evaluate(self.model, self.test_loader, self.num_classes, self.task,
                              self.dist)
                row.update(test_loss=ev["loss"], test_acc=ev["acc"], lr=lr)
                row.update({f"test_{k}": ev[k] for k in ("miou", "psnr") if k in ev})
                row = {k: row[k] for k in ROW_KEYS if k in row}
                self.history.append(row)
                self.save_checkpoint(epoch)
                if self.dist.is_main:
                    _write_run_file(self.run_dir / "metrics.jsonl",
                                    "".join(json.dumps(h) + "\n" for h in self.history))
                self.last_eval = ev
                progress.report(row)
                self._emit("epoch", row)
                if self._stop and epoch < cfg.epochs:
                    raise KeyboardInterrupt


def _apply_overrides(cfg: TrainConfig, given: dict, run_dir: Path) -> None:
    """Options given again with --resume: the resumable ones replace the stored values, the
    others must equal them (the recipe of a run does not change half-way)."""
    out = given.pop("out", None)
    if out is not None and Path(out).expanduser().absolute() != run_dir:
        raise ValueError(f"--out {out} differs from --resume {run_dir}: a resumed run stays in "
                         f"its folder (leave --out out)")
    given.pop("epochs", None)  # handled by resume(epochs=)
    refused = []
    for name, value in given.items():
        if name in RESUMABLE_OPTIONS:
            setattr(cfg, name, value)
            continue
        stored = getattr(cfg, name)
        if name == "lr":
            stored = cfg.resolved_lr()
        if isinstance(stored, str) and isinstance(value, str):
            same = stored.lower() == value.lower()
        else:
            same = stored == value
        if not same:
            refused.append(f"--{name.replace('_', '-')} {value} (the run has {stored})")
    if refused:
        allowed = ", ".join("--" + n.replace("_", "-") for n in RESUMABLE_OPTIONS)
        raise ValueError(f"--resume {run_dir}: a resumed run keeps its recipe, but "
                         f"{'; '.join(refused)}; only {allowed}, --threads and --no-progress "
                         f"may change (start a new run with another --out to change the rest)")


def _default_out(cfg: TrainConfig) -> str:
    return str(Path("runs") / f"{cfg.model}-{cfg.dataset}-{time.strftime('%Y%m%d-%H%M%S')}")


class _ProgressBar:
    """A rich progress bar (epoch, step, loss, accuracy, images/s, ETA), or nothing."""

    def __init__(self, enabled: bool, steps: int, epochs: int, console=None,
                 task: Task | None = None) -> None:
        self.enabled, self.steps, self.epochs, self.console = enabled, steps, epochs, console
        self.task = task
        self._progress = None

    def __enter__(self):
        if self.enabled:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )
            self._progress = Progress(
                TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                TextColumn("{task.fields[stats]}"), TimeElapsedColumn(), TextColumn("ETA"),
                TimeRemainingColumn(), console=self.console, transient=False)
            self._progress.__enter__()
        return self

    def __exit__(self, *exc):
        if self._progress is not None:
            self._progress.__exit__(*exc)

    def epoch(self, epoch: int):
        if self._progress is None:
            return None
        task = self._progress.add_task(f"epoch {epoch}/{self.epochs}", total=self.steps,
                                       stats="")
        self._task = task

        def update(step, loss, acc, ips):
            if step % 5 == 0 or step == self.steps:
                acc = "" if acc is None else f"acc {100 * acc:.2f}% "
                self._progress.update(task, completed=step,
                                      stats=f"loss {loss:.4f} {acc}{ips:,.0f} img/s")
        return update

    @staticmethod
    def _score(row: dict, split: str) -> str:
        out = "" if row[f"{split}_acc"] is None else f" acc {100 * row[f'{split}_acc']:.2f}%"
        if split == "test" and "test_miou" in row:
            out += f" mIoU {row['test_miou']:.4f}"
        if split == "test" and "test_psnr" in row:
            out += f" PSNR {row['test_psnr']:.2f} dB"
        return out

    def report(self, row: dict) -> None:
        test = self._score(row, "test")
        line = (f"epoch {row['epoch']}: train loss {row['train_loss']:.4f}"
                f"{self._score(row, 'train')} | test loss {row['test_loss']:.4f}{test} | "
                f"{row['epoch_seconds']:.1f} s, {row['images_per_second']:,.0f} img/s, "
                f"lr {row['lr']:.3g}")
        if self._progress is not None:
            self._progress.update(self._task, stats=f"test{test}")
            self._progress.console.print(line)
        elif self.console is not None:  # --no-progress: still one line per epoch
            self.console.print(line)


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


def load_run(run_dir) -> tuple[TrainConfig, Any, list[str], dict]:
    """(config, model with the checkpoint's weights in eval mode, class names, checkpoint)."""
    run_dir = Path(run_dir)
    path = run_dir / CHECKPOINT
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint in {run_dir} (expected {path}); train first: "
                                f"`convnp train --out {run_dir}`")
    state = ckpt.load(path)
    cfg = TrainConfig.from_json(state["config"])
    classes = list(state.get("classes") or [])
    model = build_model(cfg, len(classes) or 10)
    model.load_state_dict(state["model"])
    model.eval()
    return cfg, model, classes, state


def run_task(cfg: TrainConfig, classes: list[str]) -> Task:
    """The :class:`Task` of a stored run (its ``classes`` already include the background)."""
    task = Task(cfg, [])
    task.classes = list(classes)
    return task


def load_image(cfg: TrainConfig, path, prepare: bool = True) -> tuple[np.ndarray, str]:
    """One image file as a uint8 sample of ``cfg``'s dataset, and what was done to it. With
    ``prepare`` a grey-scale dataset's image is made to look like its samples
    (:func:`convnp.data.transforms.prepare_digit`: white on black, cropped, fitted, centred);
    otherwise, and for colour datasets, it is only converted and resized."""
    from PIL import Image

    from convnp.data.transforms import prepare_digit
    key = _dataset_key(cfg.dataset)
    info = DATASET_INFO[key]
    img = Image.open(path)
    size = info["size"]
    if prepare and info["channels"] == 1:
        # Fashion-MNIST's items fill the frame; the digit sets fit the ink in 20x20 by mass
        fill = key == "fashion-mnist"
        p = prepare_digit(img, size=size, box=size if fill else round(size * 20 / 28),
                          center="box" if fill else "mass")
        return p.image, f"prepared like {cfg.dataset}: " + p.describe()
    img = img.convert("L" if info["channels"] == 1 else "RGB")
    how = f"resized {img.size[0]}x{img.size[1]} -> {size}x{size}"
    return np.asarray(img.resize((size, size)), np.uint8), how + " (not prepared)"


def predict_images(run_dir, paths: list[str], topk: int = 3, prepare: bool = True,
                   describe: bool = False) -> list:
    """Top-k (class, probability) for each image file (any format pillow reads). ``prepare``:
    see :func:`load_image`. With ``describe`` each item is ``(top_k, what_was_done)``."""
    cfg, model, classes, _ = load_run(run_dir)
    task = run_task(cfg, classes)
    if task.kind != "classification":
        raise ValueError(f"predict: {run_dir} holds a {task.kind} model ({cfg.model}), and "
                         f"predict names the class of an image; use `convnp eval {run_dir}` for "
                         f"its test-set {task.metric}")
    loaded = [load_image(cfg, p, prepare) for p in paths]
    x = _transforms(cfg, False).apply_batch(np.stack([a for a, _ in loaded]), None)
    x, _ = task.prepare(convnp.from_numpy(x), convnp.zeros(len(x), dtype=convnp.int64))
    with convnp.no_grad():
        logits = model(x).array.astype(np.float64)
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    out = []
    for row, (_, how) in zip(p, loaded):
        order = np.argsort(-row)[:topk]
        top = [(classes[i] if i < len(classes) else str(i), float(row[i])) for i in order]
        out.append((top, how) if describe else top)
    return out
