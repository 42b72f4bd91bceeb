"""The ``convnp`` command line: ``convnp train | eval | predict | models | datasets | ...``.

Subcommands live in a registry so other modules can add theirs without editing this file::

    # convnp/tools/cli_tools.py
    from convnp.cli import register_command

    def _add(p):                      # p: the subcommand's argparse parser
        p.add_argument("model")
    def _run(args) -> int:            # returns the exit status
        ...
    register_command("summary", "print a layer table", _add, _run)

Modules listed in ``PLUGIN_MODULES`` are imported (if present) before the parser is built.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Callable

__all__ = ["main", "register_command", "build_parser", "PLUGIN_MODULES"]

PLUGIN_MODULES = ["convnp.tools.cli_tools"]

_COMMANDS: dict[str, tuple[str, Callable, Callable]] = {}


def register_command(name: str, help: str, add_arguments: Callable[[argparse.ArgumentParser],
                     None], handler: Callable[[argparse.Namespace], int | None]) -> None:
    """Register ``convnp <name>``: ``add_arguments(parser)`` declares its options and
    ``handler(args)`` runs it (returning an exit status, None meaning 0)."""
    _COMMANDS[name] = (help, add_arguments, handler)


def _console():
    from rich.console import Console
    return Console()


# -- train ---------------------------------------------------------------------------------------
def _add_train(p: argparse.ArgumentParser) -> None:
    from convnp.train import TrainConfig
    d = TrainConfig()
    p.add_argument("--model", default=d.model, help="network (see `convnp models`), default "
                   "%(default)s")
    p.add_argument("--dataset", default=d.dataset, help="dataset (see `convnp datasets`), "
                   "default %(default)s")
    p.add_argument("--epochs", type=int, default=None, help=f"default {d.epochs}")
    p.add_argument("--batch-size", type=int, default=d.batch_size, help="default %(default)s")
    p.add_argument("--lr", type=float, default=None,
                   help="learning rate (default: sgd 0.05, adam/adamw 1e-3)")
    p.add_argument("--optimizer", choices=["sgd", "adam", "adamw"], default=d.optimizer)
    p.add_argument("--momentum", type=float, default=d.momentum, help="SGD momentum")
    p.add_argument("--weight-decay", type=float, default=d.weight_decay)
    p.add_argument("--scheduler", choices=["none", "step", "cosine", "onecycle"],
                   default=d.scheduler, help="learning-rate schedule, default %(default)s")
    p.add_argument("--step-size", type=int, default=d.step_size, help="StepLR period (epochs)")
    p.add_argument("--gamma", type=float, default=d.gamma, help="StepLR factor")
    p.add_argument("--label-smoothing", type=float, default=d.label_smoothing)
    p.add_argument("--augment", action="store_true",
                   help="random crops (and flips where they make sense)")
    p.add_argument("--data-dir", default=None,
                   help="folder with the dataset files (default: $CONVNP_DATA or ~/.cache/convnp)")
    p.add_argument("--download", action="store_true",
                   help="download missing dataset files (checksum-verified)")
    p.add_argument("--out", default=None, help="run directory (default runs/<model>-<dataset>-"
                   "<time>)")
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--limit-train", type=int, default=None, help="use the first N training images")
    p.add_argument("--limit-test", type=int, default=None, help="use the first N test images")
    p.add_argument("--resume", default=None, metavar="RUN_DIR",
                   help="continue the run in RUN_DIR from its last checkpoint")
    p.add_argument("--no-progress", action="store_true", help="no live progress bar")
    p.add_argument("--threads", type=int, default=None,
                   help="intra-op threads (convnp.set_num_threads; default: every CPU)")


def _run_train(args) -> int:
    from convnp.train import TrainConfig, Trainer
    console = _console()
    if args.threads is not None:
        import convnp

        try:
            convnp.set_num_threads(args.threads)
        except ValueError as e:
            raise SystemExit(f"convnp train: --threads: {e}") from None
    if args.resume:
        trainer = Trainer.resume(args.resume, epochs=args.epochs,
                                 progress=not args.no_progress, console=console)
        console.print(f"resuming {args.resume} at epoch {trainer.start_epoch}")
    else:
        cfg = TrainConfig(model=args.model, dataset=args.dataset, batch_size=args.batch_size,
                          lr=args.lr, optimizer=args.optimizer, momentum=args.momentum,
                          weight_decay=args.weight_decay, scheduler=args.scheduler,
                          step_size=args.step_size, gamma=args.gamma,
                          label_smoothing=args.label_smoothing, augment=args.augment,
                          data_dir=args.data_dir, download=args.download, out=args.out,
                          seed=args.seed, limit_train=args.limit_train,
                          limit_test=args.limit_test)
        if args.epochs is not None:
            cfg.epochs = args.epochs
        trainer = Trainer(cfg, progress=not args.no_progress, console=console)
        console.print(f"training {cfg.model} on {cfg.dataset} ({len(trainer.train_set)} train / "
                      f"{len(trainer.test_set)} test images), {cfg.epochs} epochs -> "
                      f"{trainer.run_dir}")
    try:
        history = trainer.fit()
    except KeyboardInterrupt:
        done = trainer.history[-1]["epoch"] if trainer.history else 0
        console.print(f"\ninterrupted: the last complete checkpoint (epoch {done}) is in "
                      f"{trainer.run_dir}; continue with `convnp train --resume "
                      f"{trainer.run_dir}`")
        return 130
    if history:
        console.print(f"final test accuracy {100 * history[-1]['test_acc']:.2f}%; run saved in "
                      f"{trainer.run_dir} (metrics.jsonl, checkpoint.safetensors, curves.png, "
                      f"confusion.png)")
    return 0


# -- eval ----------------------------------------------------------------------------------------
def _add_eval(p):
    p.add_argument("run_dir", help="a run directory written by `convnp train`")
    p.add_argument("--data-dir", default=None, help="override the run's dataset folder")
    p.add_argument("--limit-test", type=int, default=None)


def _run_eval(args) -> int:
    from rich.table import Table

    from convnp.data import DataLoader
    from convnp.train import build_datasets, evaluate, load_run
    cfg, model, classes, _ = load_run(args.run_dir)
    if args.data_dir:
        cfg.data_dir = args.data_dir
    cfg.limit_test = args.limit_test or cfg.limit_test
    cfg.limit_train = 1
    _, test = build_datasets(cfg)
    k = len(classes) or 10
    ev = evaluate(model, DataLoader(test, batch_size=cfg.eval_batch_size), k)
    cm = ev["confusion"]
    console = _console()
    console.print(f"{cfg.model} on {cfg.dataset} test split ({int(cm.sum())} images): "
                  f"accuracy {100 * ev['acc']:.2f}%, loss {ev['loss']:.4f}")
    names = classes if len(classes) == k else [str(i) for i in range(k)]
    per = Table(title="per-class accuracy")
    per.add_column("class")
    per.add_column("accuracy", justify="right")
    per.add_column("images", justify="right")
    for i, name in enumerate(names):
        n = int(cm[i].sum())
        per.add_row(name, f"{100 * cm[i, i] / n:.2f}%" if n else "-", str(n))
    console.print(per)
    if k <= 20:
        t = Table(title="confusion matrix (rows: true, columns: predicted)")
        t.add_column("")
        for j in range(k):
            t.add_column(str(j), justify="right")
        for i in range(k):
            t.add_row(f"{i} {names[i][:12]}", *[
                (f"[bold green]{cm[i, j]}[/]" if i == j else
                 (f"[red]{cm[i, j]}[/]" if cm[i, j] else "."))
                for j in range(k)])
        console.print(t)
    return 0


# -- predict -------------------------------------------------------------------------------------
def _add_predict(p):
    p.add_argument("run_dir")
    p.add_argument("images", nargs="+", help="image files (png, jpg, ...)")
    p.add_argument("--topk", type=int, default=3)
    p.add_argument("--no-prepare", action="store_true",
                   help="only resize; by default a grey-scale dataset's image is made to look "
                        "like its samples (white on black, cropped to the ink, centred)")


def _run_predict(args) -> int:
    from convnp.train import predict_images
    results = predict_images(args.run_dir, args.images, args.topk, prepare=not args.no_prepare,
                             describe=True)
    for path, (top, how) in zip(args.images, results):
        print(f"{path}: " + ", ".join(f"{name} {100 * p:.1f}%" for name, p in top))
        print(f"  ({how})")
    return 0


# -- listings ------------------------------------------------------------------------------------
def _run_models(args) -> int:
    from convnp.models import describe_models
    for name, desc in describe_models().items():
        print(f"{name:18s} {desc}")
    return 0


def _plain(text: str) -> str:
    """A docstring's first sentence for a terminal: reST links `Name <url>`_ become
    'Name (url)', roles and literals lose their markup."""
    import re

    text = re.sub(r"`([^`<]+?)\s*<([^>]+)>`_+", r"\1 (\2)", " ".join(text.split()))
    text = re.sub(r":\w+:`([^`]+)`", r"\1", text).replace("``", "")
    return re.split(r"(?<=\.)\s", text, maxsplit=1)[0]  # the first sentence


def _run_datasets(args) -> int:
    from convnp.data import DATASETS, default_root
    for name, cls in DATASETS.items():
        print(f"{name:14s} {_plain(cls.__doc__.strip().split(chr(10) + chr(10))[0])}")
    print(f"cache: {default_root()}  (set $CONVNP_DATA to move it)")
    return 0


register_command("train", "train a model (default: LeNet-5 on MNIST)", _add_train, _run_train)
register_command("eval", "evaluate a run's checkpoint on the test split", _add_eval, _run_eval)
register_command("predict", "classify image files with a run's checkpoint", _add_predict,
                 _run_predict)
register_command("models", "list the available models", lambda p: None, _run_models)
register_command("datasets", "list the available datasets", lambda p: None, _run_datasets)


def build_parser() -> argparse.ArgumentParser:
    for mod in PLUGIN_MODULES:
        try:
            importlib.import_module(mod)
        except ModuleNotFoundError as e:
            if e.name is None or not mod.startswith(e.name):
                raise
    parser = argparse.ArgumentParser(prog="convnp", description="convnp: CNNs on NumPy with "
                                     "PyTorch's API")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (help_, add, _) in _COMMANDS.items():
        add(sub.add_parser(name, help=help_, description=help_))
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return 2
    handler = _COMMANDS[args.command][2]
    try:
        return int(handler(args) or 0)
    except (ValueError, FileNotFoundError, RuntimeError) as e:
        print(f"convnp {args.command}: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    # ``python -m convnp.cli``: run the imported module's main, whose command registry is the
    # one the plugins (``convnp.tools.cli_tools``) register into, not this __main__ copy's
    from convnp.cli import main as _main

    sys.exit(_main())
