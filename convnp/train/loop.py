"""The training loop: :class:`Trainer` (epochs, checkpoints, resuming, Ctrl-C) and its
progress bar."""

from __future__ import annotations

import json
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Callable

import numpy as np

import convnp
from convnp import checkpoint as ckpt
from convnp.train.config import (
    TrainConfig,
    apply_overrides,
    build_optimizer,
    build_scheduler,
    default_out,
    fast_forward,
)
from convnp.train.rundir import (
    CHECKPOINT,
    ROW_KEYS,
    _is_our_temp,
    _move_aside,
    _write_run_file,
    check_out_dir,
    plot_confusion,
    plot_curves,
)
from convnp.train.tasks import Task, _classes, build_datasets, build_model, evaluate

__all__ = ["Trainer"]


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
        cfg.out = str(Path(cfg.out or default_out(cfg)).expanduser().absolute())
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
        self.optimizer = build_optimizer(cfg, self.model)
        self.scheduler, self.per_batch = build_scheduler(cfg, self.optimizer,
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
        apply_overrides(cfg, dict(overrides or {}), run_dir)
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
                fast_forward(trainer.scheduler, steps)
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
