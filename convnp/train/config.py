"""The recipe of a run: :class:`TrainConfig`, the optimizer and scheduler tables, and the
``convnp train`` options built from the recipe's fields.

Each field of :class:`TrainConfig` is written once: its type annotation, default, help text and
value check (in the field's metadata) give the dataclass, the command-line option
(:func:`add_train_options`) and the validation (:meth:`TrainConfig.validate`).
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import time
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

__all__ = ["TrainConfig", "DATASET_INFO", "OPTIMIZERS", "OptimizerSpec", "SCHEDULERS",
           "RESUMABLE_OPTIONS", "build_optimizer", "build_scheduler", "add_train_options"]

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


# -- optimizers ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class OptimizerSpec:
    """One optimizer ``convnp train`` offers.

    Args:
        cls: the class name in :mod:`convnp.optim`.
        lr: the learning rate when ``--lr`` is left out.
        options: the recipe fields passed on as the optimizer's keywords of the same name.
        zero_is_default: those of ``options`` whose value 0 (the recipe's default) means "the
            optimizer's own default" and is not passed.
    """

    cls: str
    lr: float
    options: tuple[str, ...] = ()
    zero_is_default: tuple[str, ...] = ()

    def kwargs(self, cfg: TrainConfig) -> dict:
        """The optimizer's keyword arguments for the recipe ``cfg`` (``lr`` included)."""
        kw = {name: getattr(cfg, name) for name in self.options
              if not (name in self.zero_is_default and not getattr(cfg, name))}
        return dict(lr=cfg.lr if cfg.lr is not None else self.lr, **kw)


OPTIMIZERS: dict[str, OptimizerSpec] = {
    "sgd": OptimizerSpec("SGD", 0.05, ("momentum", "weight_decay")),
    "adam": OptimizerSpec("Adam", 1e-3, ("weight_decay",)),
    # AdamW's decoupled decay is its point: --weight-decay 0 keeps its default (0.01)
    "adamw": OptimizerSpec("AdamW", 1e-3, ("weight_decay",), zero_is_default=("weight_decay",)),
}


def build_optimizer(cfg: TrainConfig, model):
    """The recipe's optimizer over ``model``'s parameters (see :data:`OPTIMIZERS`)."""
    from convnp import optim
    spec = OPTIMIZERS[_known("optimizer", cfg.optimizer, OPTIMIZERS)]
    return getattr(optim, spec.cls)(model.parameters(), **spec.kwargs(cfg))


# -- learning-rate schedules ---------------------------------------------------------------------
# name -> (cfg, optimizer, steps per epoch) -> (scheduler or None, stepped per batch)
def _step(cfg, opt, steps):
    from convnp.optim import lr_scheduler as S
    return S.StepLR(opt, step_size=cfg.step_size, gamma=cfg.gamma), False


def _cosine(cfg, opt, steps):
    from convnp.optim import lr_scheduler as S
    return S.CosineAnnealingLR(opt, T_max=cfg.epochs), False


def _onecycle(cfg, opt, steps):
    from convnp.optim import lr_scheduler as S
    return S.OneCycleLR(opt, max_lr=cfg.resolved_lr(), total_steps=cfg.epochs * steps), True


SCHEDULERS: dict[str, Callable] = {"none": lambda cfg, opt, steps: (None, False), "step": _step,
                                   "cosine": _cosine, "onecycle": _onecycle}


def build_scheduler(cfg: TrainConfig, opt, steps_per_epoch: int):
    """(scheduler, per_batch) for the recipe's schedule, planned for ``cfg.epochs`` epochs."""
    return SCHEDULERS[_known("scheduler", cfg.scheduler, SCHEDULERS)](cfg, opt, steps_per_epoch)


def fast_forward(scheduler, steps: int) -> None:
    """Put a freshly built scheduler where it would be after ``steps`` steps (closed form)."""
    scheduler.last_epoch = steps
    closed = getattr(scheduler, "_get_closed_form_lr", None) or scheduler.get_lr
    lrs = closed()
    for group, lr in zip(scheduler.optimizer.param_groups, lrs):
        group["lr"] = lr
    scheduler._last_lr = list(lrs)
    scheduler._step_count = steps + 1


def _known(what: str, name: str, table) -> str:
    key = name.lower()
    if key not in table:
        raise ValueError(f"unknown {what} {name!r}; valid {what}s: {', '.join(table)}")
    return key


# -- the recipe ----------------------------------------------------------------------------------
def _whole(minimum: int, hint: str = ""):
    """A check: a whole number >= ``minimum`` (``hint`` ends the message)."""
    return (lambda v: isinstance(v, (int, np.integer)) and not isinstance(v, bool)
            and v >= minimum, f"a whole number >= {minimum}{hint}")


def _real(ok: Callable, what: str):
    """A check: a finite number satisfying ``ok``."""
    return (lambda v: isinstance(v, (int, float, np.number)) and not isinstance(v, bool)
            and math.isfinite(v) and ok(v), what)


def _option(default=None, help: str = "", check=None, choices=None, **kw):
    """A recipe field and its ``convnp train`` option: ``help`` (a string, or a function of
    none returning one) ends with ", default X" unless it says ``{default}`` itself; ``check`` =
    (predicate, what is expected); ``choices``: a function returning the valid names. Functions
    are called when the parser is built, so they read the tables as they are then."""
    return field(default=default, metadata=dict(help=help, check=check, choices=choices), **kw)


def _lr_help() -> str:
    return "learning rate (default: " + ", ".join(
        f"{name} {spec.lr:g}" for name, spec in OPTIMIZERS.items()) + ")"


def _used_by(option: str) -> str:
    """Which optimizers take ``option`` (and those for which 0 means their own default)."""
    users = "/".join(name for name, spec in OPTIMIZERS.items() if option in spec.options)
    own = "/".join(name for name, spec in OPTIMIZERS.items() if option in spec.zero_is_default)
    return users + (f"; 0 keeps {own}'s own default" if own else "")


@dataclass
class TrainConfig:
    """A training recipe (every field but ``extra`` is a ``convnp train`` option)."""

    model: str = _option("lenet5", "network (see `convnp models`)")
    dataset: str = _option("mnist", "dataset (see `convnp datasets`)")
    epochs: int = _option(10, "default {default}; with --resume: train until this epoch (the "
                              "schedule is rebuilt for it)", _whole(1))
    batch_size: int = _option(64, "images per step", _whole(1))
    lr: float | None = _option(None, _lr_help, _real(lambda v: v > 0, "a number > 0"))
    optimizer: str = _option("adam", "", choices=lambda: list(OPTIMIZERS))
    momentum: float = _option(0.9, lambda: f"momentum ({_used_by('momentum')})",
                              _real(lambda v: v >= 0, "a number >= 0"))
    weight_decay: float = _option(0.0, lambda: f"weight decay ({_used_by('weight_decay')})",
                                  _real(lambda v: v >= 0, "a number >= 0"))
    scheduler: str = _option("cosine", "learning-rate schedule", choices=lambda: list(SCHEDULERS))
    step_size: int = _option(3, "StepLR period (epochs)", _whole(1))
    gamma: float = _option(0.1, "StepLR factor", _real(lambda v: v > 0, "a number > 0"))
    label_smoothing: float = _option(0.0, "", _real(lambda v: 0 <= v <= 1, "a number in [0, 1]"))
    augment: bool = _option(False, "random crops (and flips where they make sense)")
    data_dir: str | None = _option(None, "folder with the dataset files (default: $CONVNP_DATA "
                                         "or ~/.cache/convnp)")
    download: bool = _option(False, "download missing dataset files (checksum-verified)")
    out: str | None = _option(None, "run directory (default runs/<model>-<dataset>-<time>); "
                                    "must be new or empty unless --overwrite")
    seed: int = _option(0, "", _whole(0))
    limit_train: int | None = _option(None, "use the first N training images", _whole(
        1, " (leave it out to use every training image)"))
    limit_test: int | None = _option(None, "use the first N test images", _whole(
        1, " (leave it out to use every test image)"))
    eval_batch_size: int = _option(1000, "images per evaluation batch", _whole(1))
    prefetch: int = _option(2, "batches prepared ahead in a background thread", _whole(0))
    extra: dict = field(default_factory=dict)

    def validate(self) -> None:
        """Reject every bad value early, before any data is read or any file written. Messages
        name the ``convnp train`` option."""
        from convnp.models import list_models, model_task
        _known("model", self.model, list_models())
        _dataset_key(self.dataset)
        _known("optimizer", self.optimizer, OPTIMIZERS)
        _known("scheduler", self.scheduler, SCHEDULERS)
        for f in dataclasses.fields(self):
            check, value = f.metadata.get("check"), getattr(self, f.name)
            if check is None or (value is None and f.default is None):
                continue
            ok, what = check
            if not ok(value):
                raise ValueError(f"--{_dash(f.name)} must be {what}, got {value!r}")
        if model_task(self.model)["input"] == "volume":
            raise ValueError(f"--model {self.model}: a 3-d CNN takes volumes (N, C, D, H, W) and "
                             f"the datasets of `convnp train` are 2-d images; train it from Python "
                             f"on volumetric data, or pick an image model such as lenet5 or "
                             f"vgg-small (`convnp models` lists each model's input)")

    def resolved_lr(self) -> float:
        return OPTIMIZERS[self.optimizer.lower()].kwargs(self)["lr"]

    def to_json(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, d: dict) -> "TrainConfig":
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


def _dash(name: str) -> str:
    return name.replace("_", "-")


def add_train_options(p: argparse.ArgumentParser) -> None:
    """Add an option per :class:`TrainConfig` field (``--batch-size`` for ``batch_size``; a
    ``bool`` field is a flag). Options default to "not given" (``argparse.SUPPRESS``), so that
    ``--resume`` can tell the options a user repeats from those left out; a fresh run takes
    TrainConfig's defaults for the missing ones."""
    hints = typing.get_type_hints(TrainConfig)
    for f in dataclasses.fields(TrainConfig):
        if "help" not in f.metadata:
            continue
        meta, kind = f.metadata, hints[f.name]
        kind = next((t for t in typing.get_args(kind) if t is not type(None)), kind)
        text = meta["help"]() if callable(meta["help"]) else meta["help"]
        if "{default}" in text:
            text = text.format(default=f.default)
        elif f.default is not None and kind is not bool:
            text = f"{text}, default {f.default}" if text else f"default {f.default}"
        kw = dict(default=argparse.SUPPRESS, help=text)
        if kind is bool:
            kw["action"] = "store_true"
        elif kind in (int, float):
            kw["type"] = kind
        if meta["choices"] is not None:
            kw["choices"] = meta["choices"]()
        p.add_argument("--" + _dash(f.name), **kw)


# -- resuming ------------------------------------------------------------------------------------
# the recipe fields a resumed run may change; every other one must match the stored run
RESUMABLE_OPTIONS = ("epochs", "data_dir", "download", "prefetch", "eval_batch_size")


def _dataset_key(name: str) -> str:
    from convnp.data.datasets import _ALIASES, DATASETS
    key = _ALIASES.get(name.lower(), name.lower())
    if key not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; valid datasets: {', '.join(DATASETS)}")
    return key


def apply_overrides(cfg: TrainConfig, given: dict, run_dir: Path) -> None:
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
            refused.append(f"--{_dash(name)} {value} (the run has {stored})")
    if refused:
        allowed = ", ".join("--" + _dash(n) for n in RESUMABLE_OPTIONS)
        raise ValueError(f"--resume {run_dir}: a resumed run keeps its recipe, but "
                         f"{'; '.join(refused)}; only {allowed}, --threads and --no-progress "
                         f"may change (start a new run with another --out to change the rest)")


def default_out(cfg: TrainConfig) -> str:
    return str(Path("runs") / f"{cfg.model}-{cfg.dataset}-{time.strftime('%Y%m%d-%H%M%S')}")
