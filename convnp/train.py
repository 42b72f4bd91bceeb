"""Training runs: the loop behind ``convnp train``, ``convnp eval`` and ``convnp predict``.

A run directory holds ``config.json`` (the recipe), ``metrics.jsonl`` (one JSON line per epoch:
epoch, train_loss, train_acc, test_loss, test_acc, epoch_seconds, images_per_second, lr,
batch_losses: each batch's training loss),
``checkpoint.safetensors`` (model + optimizer + scheduler + RNG states + metrics history,
written atomically after every epoch), and at the end ``curves.png`` and ``confusion.png``.

Reproducibility: the seed fixes weight initialisation (convnp's default generator), shuffling and
augmentation (a separate loader generator). Both generators' states are in the checkpoint, so
``resume`` continues exactly where the run stopped and reproduces an uninterrupted run's metrics.
"""

from __future__ import annotations

import dataclasses
import json
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
        """Reject unknown names early, before any data is read."""
        from convnp.models import list_models
        if self.model.lower() not in list_models():
            raise ValueError(f"unknown model {self.model!r}; valid models: "
                             f"{', '.join(list_models())}")
        _dataset_key(self.dataset)
        if self.optimizer.lower() not in self.DEFAULT_LR:
            raise ValueError(f"unknown optimizer {self.optimizer!r}; valid optimizers: "
                             f"{', '.join(self.DEFAULT_LR)}")
        if self.scheduler.lower() not in ("none", "step", "cosine", "onecycle"):
            raise ValueError(f"unknown scheduler {self.scheduler!r}; valid schedulers: none, "
                             f"step, cosine, onecycle")
        if self.epochs < 1 or self.batch_size < 1:
            raise ValueError(f"epochs and batch_size must be >= 1, got {self.epochs} and "
                             f"{self.batch_size}")

    def resolved_lr(self) -> float:
        return self.lr if self.lr is not None else self.DEFAULT_LR[self.optimizer]

    def to_json(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, d: dict) -> "TrainConfig":
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


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
    if cfg.limit_train:
        train = Subset(train, range(min(cfg.limit_train, len(train))))
    if cfg.limit_test:
        test = Subset(test, range(min(cfg.limit_test, len(test))))
    return train, test


def _classes(ds) -> list[str]:
    return list(getattr(ds, "classes", []) or getattr(getattr(ds, "dataset", None), "classes", []))


def build_model(cfg: TrainConfig, num_classes: int):
    from convnp.models import get_model
    info = DATASET_INFO[_dataset_key(cfg.dataset)]
    return get_model(cfg.model, num_classes=num_classes, in_channels=info["channels"],
                     input_size=info["size"])


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
    """(scheduler, per_batch) for the recipe's schedule."""
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
    raise ValueError(f"unknown scheduler {cfg.scheduler!r}; valid schedulers: none, step, "
                     f"cosine, onecycle")


def evaluate(model, loader, num_classes: int) -> dict:
    """Loss, accuracy and confusion matrix (rows: true class, columns: predicted)."""
    import convnp.nn.functional as F
    model.eval()
    loss_sum, n = 0.0, 0
    cm = np.zeros((num_classes, num_classes), np.int64)
    with convnp.no_grad():
        for x, y in loader:
            logits = model(x)
            loss_sum += float(F.cross_entropy(logits, y, reduction="sum").item())
            pred = logits.array.argmax(1)
            cm += confusion_matrix(y.array, pred, num_classes)
            n += len(y.array)
    correct = int(np.trace(cm))
    return {"loss": loss_sum / max(n, 1), "acc": correct / max(n, 1), "confusion": cm}


def confusion_matrix(y_true, y_pred, num_classes: int) -> np.ndarray:
    idx = np.asarray(y_true, np.int64) * num_classes + np.asarray(y_pred, np.int64)
    return np.bincount(idx, minlength=num_classes ** 2).reshape(num_classes, num_classes)


class Trainer:
    """Runs a recipe: ``Trainer(cfg).fit()``; ``Trainer.resume(run_dir).fit()`` continues a run.

    Args:
        cfg: the recipe.
        progress: show a live rich progress bar (default True when run from the CLI).
        plots: write curves.png and confusion.png at the end (default True).
        callbacks: functions ``cb(trainer, event, info)`` called on 'step' and 'epoch' events
            (raising KeyboardInterrupt from one simulates Ctrl-C).
    """

    def __init__(self, cfg: TrainConfig, progress: bool = False,
                 callbacks: list[Callable] | None = None, console=None,
                 plots: bool = True) -> None:
        self.cfg = cfg
        self.plots = plots
        self.progress = progress
        self.callbacks = list(callbacks or [])
        self.console = console
        self.run_dir = Path(cfg.out or _default_out(cfg))
        self.history: list[dict] = []
        self.start_epoch = 1
        self._setup()

    def _setup(self) -> None:
        from convnp.data import DataLoader
        cfg = self.cfg
        cfg.validate()
        convnp.manual_seed(cfg.seed)
        self.loader_gen = convnp.Generator().manual_seed(cfg.seed + 1)
        self.train_set, self.test_set = build_datasets(cfg)
        self.classes = _classes(self.train_set)
        self.num_classes = len(self.classes) or int(np.max(self.train_set.dataset.targets) + 1)
        self.model = build_model(cfg, self.num_classes)
        self.train_loader = DataLoader(self.train_set, batch_size=cfg.batch_size, shuffle=True,
                                       generator=self.loader_gen, prefetch=cfg.prefetch)
        self.test_loader = DataLoader(self.test_set, batch_size=cfg.eval_batch_size,
                                      prefetch=cfg.prefetch)
        self.optimizer = _build_optimizer(cfg, self.model)
        self.scheduler, self.per_batch = _build_scheduler(cfg, self.optimizer,
                                                          len(self.train_loader))
        self.loss_fn = convnp.nn.CrossEntropyLoss(label_smoothing=cfg.label_smoothing)

    # -- checkpoints --------------------------------------------------------------------------
    def state(self, epoch: int) -> dict:
        return {"epoch": epoch, "model": self.model.state_dict(),
                "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict() if self.scheduler else None,
                "rng": convnp.get_rng_state(), "loader_rng": self.loader_gen.get_state(),
                "history": self.history, "config": self.cfg.to_json(), "classes": self.classes}

    def save_checkpoint(self, epoch: int) -> None:
        ckpt.save(self.state(epoch), self.run_dir / CHECKPOINT)

    @classmethod
    def resume(cls, run_dir, epochs: int | None = None, **kwargs) -> "Trainer":
        """Continue the run in ``run_dir`` from its last complete checkpoint."""
        run_dir = Path(run_dir)
        path = run_dir / CHECKPOINT
        if not path.is_file():
            raise FileNotFoundError(f"resume: no checkpoint in {run_dir} (expected {path}); "
                                    f"is this a run directory written by `convnp train`?")
        state = ckpt.load(path)
        cfg = TrainConfig.from_json(state["config"])
        cfg.out = str(run_dir)
        if epochs is not None:
            cfg.epochs = epochs
        trainer = cls(cfg, **kwargs)
        trainer.model.load_state_dict(state["model"])
        trainer.optimizer.load_state_dict(state["optimizer"])
        if trainer.scheduler is not None and state["scheduler"] is not None:
            trainer.scheduler.load_state_dict(state["scheduler"])
        convnp.set_rng_state(state["rng"])
        trainer.loader_gen.set_state(state["loader_rng"])
        trainer.history = list(state["history"])
        trainer.start_epoch = int(state["epoch"]) + 1
        # metrics.jsonl may hold a line written after the last checkpoint: rewrite it
        ckpt.atomic_write_text(run_dir / "metrics.jsonl",
                               "".join(json.dumps(h) + "\n" for h in trainer.history))
        return trainer

    # -- the loop -----------------------------------------------------------------------------
    def _emit(self, event: str, info: dict) -> None:
        for cb in self.callbacks:
            cb(self, event, info)

    def train_epoch(self, epoch: int, bar=None) -> dict:
        model, opt = self.model, self.optimizer
        model.train()
        loss_sum, correct, seen = 0.0, 0, 0
        batch_losses = []  # per-batch loss: curves.png draws the epoch's inside
        start = time.perf_counter()
        for step, (x, y) in enumerate(self.train_loader, 1):
            opt.zero_grad()
            logits = model(x)
            loss = self.loss_fn(logits, y)
            loss.backward()
            opt.step()
            if self.per_batch:
                self.scheduler.step()
            n = len(y.array)
            loss_sum += float(loss.item()) * n
            batch_losses.append(float(loss.item()))
            correct += int((logits.array.argmax(1) == y.array).sum())
            seen += n
            if bar is not None:
                elapsed = time.perf_counter() - start
                bar(step, loss_sum / seen, correct / seen, seen / max(elapsed, 1e-9))
            self._emit("step", {"epoch": epoch, "step": step, "loss": float(loss.item())})
        seconds = time.perf_counter() - start
        return {"train_loss": loss_sum / max(seen, 1), "train_acc": correct / max(seen, 1),
                "epoch_seconds": seconds, "images_per_second": seen / max(seconds, 1e-9),
                "batch_losses": batch_losses}

    def fit(self) -> list[dict]:
        """Train until ``cfg.epochs``; returns the metrics history. On KeyboardInterrupt the
        last complete checkpoint stays intact and the interrupt propagates."""
        cfg = self.cfg
        self.run_dir.mkdir(parents=True, exist_ok=True)
        ckpt.atomic_write_text(self.run_dir / "config.json",
                               json.dumps(dict(cfg.to_json(), classes=self.classes), indent=2))
        with _ProgressBar(self.progress, len(self.train_loader), cfg.epochs,
                          self.console) as progress:
            for epoch in range(self.start_epoch, cfg.epochs + 1):
                lr = float(self.optimizer.param_groups[0]["lr"])
                bar = progress.epoch(epoch)
                row = {"epoch": epoch}
                row.update(self.train_epoch(epoch, bar))
                if self.scheduler is not None and not self.per_batch:
                    self.scheduler.step()
                ev = evaluate(self.model, self.test_loader, self.num_classes)
                row.update(test_loss=ev["loss"], test_acc=ev["acc"], lr=lr)
                row = {k: row[k] for k in ("epoch", "train_loss", "train_acc", "test_loss",
                                           "test_acc", "epoch_seconds", "images_per_second",
                                           "lr", "batch_losses")}
                self.history.append(row)
                with open(self.run_dir / "metrics.jsonl", "a") as f:
                    f.write(json.dumps(row) + "\n")
                self.save_checkpoint(epoch)
                self.last_confusion = ev["confusion"]
                progress.report(row)
                self._emit("epoch", row)
        if self.history and self.plots:
            if not hasattr(self, "last_confusion"):
                self.last_confusion = evaluate(self.model, self.test_loader,
                                               self.num_classes)["confusion"]
            plot_curves(self.history, self.run_dir / "curves.png")
            plot_confusion(self.last_confusion, self.classes, self.run_dir / "confusion.png")
        return self.history


def _default_out(cfg: TrainConfig) -> str:
    return str(Path("runs") / f"{cfg.model}-{cfg.dataset}-{time.strftime('%Y%m%d-%H%M%S')}")


class _ProgressBar:
    """A rich progress bar (epoch, step, loss, accuracy, images/s, ETA), or nothing."""

    def __init__(self, enabled: bool, steps: int, epochs: int, console=None) -> None:
        self.enabled, self.steps, self.epochs, self.console = enabled, steps, epochs, console
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
                self._progress.update(task, completed=step,
                                      stats=f"loss {loss:.4f} acc {100 * acc:.2f}% "
                                            f"{ips:,.0f} img/s")
        return update

    def report(self, row: dict) -> None:
        line = (f"epoch {row['epoch']}: train loss {row['train_loss']:.4f} acc "
                f"{100 * row['train_acc']:.2f}% | test loss {row['test_loss']:.4f} acc "
                f"{100 * row['test_acc']:.2f}% | {row['epoch_seconds']:.1f} s, "
                f"{row['images_per_second']:,.0f} img/s, lr {row['lr']:.3g}")
        if self._progress is not None:
            self._progress.update(self._task, stats=f"test acc {100 * row['test_acc']:.2f}%")
            self._progress.console.print(line)
        elif self.console is not None:  # --no-progress: still one line per epoch
            self.console.print(line)


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
    a.set(xlabel="epoch", ylabel="cross-entropy loss", title="loss")
    b.plot(ep, [100 * h["train_acc"] for h in history], "o-", label="train")
    b.plot(ep, [100 * h["test_acc"] for h in history], "o-", label="test")
    b.set(xlabel="epoch", ylabel="accuracy (%)", title="accuracy (after each epoch)")
    if len(ep) == 1:  # one point: a sensible window around it, not 0.96..1.04
        a.set_xlim(0, 1.05)
        b.set_xlim(0.5, 1.5)
        b.set_xticks([1])
    for ax in (a, b):
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)


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
    fig.savefig(path, dpi=100)


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
    loaded = [load_image(cfg, p, prepare) for p in paths]
    x = _transforms(cfg, False).apply_batch(np.stack([a for a, _ in loaded]), None)
    with convnp.no_grad():
        logits = model(convnp.from_numpy(x)).array.astype(np.float64)
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    out = []
    for row, (_, how) in zip(p, loaded):
        order = np.argsort(-row)[:topk]
        top = [(classes[i] if i < len(classes) else str(i), float(row[i])) for i in order]
        out.append((top, how) if describe else top)
    return out
