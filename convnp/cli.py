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

from convnp.distributed._train import abort_job_on_error

__all__ = ["main", "register_command", "build_parser", "PLUGIN_MODULES"]

PLUGIN_MODULES = ["convnp.tools.cli_tools", "convnp.distributed.launch"]

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
    from convnp.train import RESUMABLE_OPTIONS, add_train_options
    add_train_options(p)  # one option per TrainConfig field; the run's own options follow
    p.add_argument("--overwrite", action="store_true",
                   help="start afresh in an --out that holds a run: the old run directory is "
                        "renamed to <out>.old-<time>")
    p.add_argument("--resume", default=None, metavar="RUN_DIR",
                   help="continue the run in RUN_DIR from its last checkpoint ("
                        + ", ".join("--" + o.replace("_", "-") for o in RESUMABLE_OPTIONS)
                        + ", --threads, --no-progress may change)")
    p.add_argument("--no-progress", action="store_true", help="no live progress bar")
    p.add_argument("--no-plots", action="store_true", help="no curves.png / confusion.png")
    p.add_argument("--threads", type=int, default=None,
                   help="intra-op threads (convnp.set_num_threads; default: every CPU)")
    p.add_argument("--distributed", action="store_true",
                   help="data-parallel over the ranks of `mpirun -n N` (or `convnp launch`): "
                   "--batch-size is per rank, rank 0 writes the run (docs/distributed.md)")


def _os_error(e: OSError, run_dir) -> str:
    import errno
    where = e.filename or run_dir
    if e.errno == errno.ENOSPC:
        return (f"no space left on the device writing {where}; free some space, then continue "
                f"with `convnp train --resume {run_dir}` (the last checkpoint is intact)")
    writing = e.filename is None or str(e.filename).startswith(str(run_dir))
    if e.errno in (errno.EACCES, errno.EPERM, errno.EROFS) and writing:
        return f"cannot write {where} ({e.strerror}); choose a writable --out"
    return f"{e.strerror or e}: {where}" if e.errno is not None else str(e)


def _interrupted(trainer) -> str:
    if trainer is None:
        return "interrupted before training started; nothing was written"
    run = trainer.run_dir
    if trainer.saved is None:
        return (f"interrupted in epoch {trainer.start_epoch} before the first checkpoint: {run} "
                f"holds no checkpoint, so there is nothing to resume; run the same command "
                f"again to start over")
    epoch, step = trainer.saved
    what = (f"the checkpoint of epoch {epoch}" if step is None else
            f"a checkpoint in the middle of epoch {epoch} (after step {step} of "
            f"{len(trainer.train_loader)})")
    return f"interrupted: {what} is in {run}; continue with `convnp train --resume {run}`"


@abort_job_on_error  # distributed: an error on one rank ends the job, not only that rank
def _run_train(args) -> int:
    import dataclasses

    from convnp.train import TrainConfig, Trainer
    dist = _distributed_setup(args)
    console = _console()
    if dist is not None and not dist.is_main:
        console.quiet = True  # rank 0 alone prints
    fields = {f.name for f in dataclasses.fields(TrainConfig)}
    given = {k: v for k, v in vars(args).items() if k in fields}
    if args.threads is not None:
        import convnp

        try:
            convnp.set_num_threads(args.threads)
        except ValueError as e:
            raise ValueError(f"--threads: {e}") from None
    trainer = None
    try:
        if args.resume:
            if args.overwrite:
                raise ValueError("--overwrite starts a new run and --resume continues one: "
                                 "give one of them")
            trainer = Trainer.resume(args.resume, epochs=given.get("epochs"), overrides=given,
                                     progress=not args.no_progress, console=console,
                                     plots=not args.no_plots, distributed=dist is not None)
            at = (f"epoch {trainer.partial['epoch']}, step {trainer.partial['step'] + 1}"
                  if trainer.partial else f"epoch {trainer.start_epoch}")
            console.print(f"resuming {trainer.run_dir} at {at} of {trainer.cfg.epochs}")
        else:
            cfg = TrainConfig(**given)
            trainer = Trainer(cfg, progress=not args.no_progress, console=console,
                              overwrite=args.overwrite, plots=not args.no_plots,
                              distributed=dist is not None)
            kind = "" if trainer.task.kind == "classification" else f" ({trainer.task.kind})"
            console.print(f"training {cfg.model}{kind} on {cfg.dataset} "
                          f"({len(trainer.train_set)} train / {len(trainer.test_set)} test "
                          f"images), {cfg.epochs} epochs -> {trainer.run_dir}")
        if dist is not None:
            console.print(f"data-parallel over {dist.world_size} ranks: batch "
                          f"{trainer.cfg.batch_size} per rank, "
                          f"{trainer.cfg.batch_size * dist.world_size} in all")
        history = trainer.fit()
    except KeyboardInterrupt:
        console.print(f"\n{_interrupted(trainer)}")
        return 130
    except FileNotFoundError:
        raise
    except OSError as e:
        run = trainer.run_dir if trainer is not None else getattr(args, "out", "--out")
        print(f"convnp train: error: {_os_error(e, run)}", file=sys.stderr)
        return 1
    moved = getattr(trainer, "moved_to", None)
    if moved is not None:
        console.print(f"the previous run is in {moved}")
    if history:
        row = history[-1]
        score = (f"test accuracy {100 * row['test_acc']:.2f}%" if row["test_acc"] is not None
                 else f"test PSNR {row['test_psnr']:.2f} dB")
        if "test_miou" in row:
            score = f"test pixel accuracy {100 * row['test_acc']:.2f}%, mIoU {row['test_miou']:.4f}"
        plots = ("" if args.no_plots else ", curves.png" +
                 (", confusion.png" if row["test_acc"] is not None else ""))
        console.print(f"final {score}; run saved in {trainer.run_dir} (metrics.jsonl, "
                      f"checkpoint.safetensors{plots})")
    return 0


def _distributed_setup(args):
    """``--distributed``: join the MPI job (the error says how to launch when not under mpirun)
    and share this node's cores among its ranks unless threads were set."""
    if not args.distributed:
        return None
    import os

    import convnp
    from convnp.distributed._train import DataParallel, threads_per_rank
    dist = DataParallel()
    share = threads_per_rank()
    if args.threads is None and share and not any(
            os.environ.get(v) for v in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS")):
        convnp.set_num_threads(share)
    return dist


# -- eval ----------------------------------------------------------------------------------------
def _add_eval(p):
    p.add_argument("run_dir", help="a run directory written by `convnp train`")
    p.add_argument("--data-dir", default=None, help="override the run's dataset folder")
    p.add_argument("--limit-test", type=int, default=None)


def _run_eval(args) -> int:
    from rich.table import Table

    from convnp.data import DataLoader
    from convnp.train import build_datasets, evaluate, load_run, run_task
    if args.limit_test is not None and args.limit_test < 1:
        raise ValueError(f"--limit-test must be a whole number >= 1, got {args.limit_test}")
    cfg, model, classes, _ = load_run(args.run_dir)
    if args.data_dir:
        cfg.data_dir = args.data_dir
    cfg.limit_test = args.limit_test or cfg.limit_test
    cfg.limit_train = 1
    _, test = build_datasets(cfg)
    task = run_task(cfg, classes)
    k = 0 if task.kind == "reconstruction" else len(classes) or 10
    ev = evaluate(model, DataLoader(test, batch_size=cfg.eval_batch_size), k, task)
    if ev["confusion"] is None:
        _console().print(f"{cfg.model} on {cfg.dataset} test split ({len(test)} images): "
                         f"reconstruction loss (MSE) {ev['loss']:.5f}, PSNR {ev['psnr']:.2f} dB")
        return 0
    cm = ev["confusion"]
    console = _console()
    if "miou" in ev:
        console.print(f"{cfg.model} on {cfg.dataset} test split ({len(test)} images, "
                      f"{int(cm.sum())} pixels): pixel accuracy {100 * ev['acc']:.2f}%, "
                      f"mIoU {ev['miou']:.4f}, loss {ev['loss']:.4f}")
    else:
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
_INPUTS = {"image": "images (N, C, H, W)", "sequence": "sequences (N, C, L)",
           "volume": "volumes (N, C, D, H, W)"}


def _run_models(args) -> int:
    from convnp.models import describe_models, model_task
    print(f"{'model':18s} {'task':15s} {'input':36s} description")
    for name, desc in describe_models().items():
        t = model_task(name)
        shape = _INPUTS.get(t["input"], t["input"])
        if t["multiple"] > 1:
            shape += f", H, W % {t['multiple']} == 0"
        if t["input"] == "volume":
            desc += " (not for `convnp train`: its datasets are images)"
        elif t["input"] == "sequence":
            desc += " (`convnp train`: image rows as the sequence)"
        print(f"{name:18s} {t['task']:15s} {shape:36s} {desc}")
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


# -- export --------------------------------------------------------------------------------------
def _add_export(p):
    p.add_argument("run_dir", help="a run directory written by `convnp train`")
    p.add_argument("--format", choices=["onnx"], default="onnx", help="model format (onnx)")
    p.add_argument("--out", default=None, help="output file (default RUN_DIR/model.onnx)")
    p.add_argument("--opset", type=int, default=None, help="ONNX opset (default 17)")


def _run_export(args) -> int:
    """Rebuild the run's network from its checkpoint and write it as ONNX (batch axis dynamic),
    then, if onnxruntime is installed, check that it gives convnp's logits."""
    import json
    from pathlib import Path

    import numpy as np

    import convnp
    from convnp.train import DATASET_INFO, _dataset_key, load_run

    cfg, model, classes, _ = load_run(args.run_dir)
    info = DATASET_INFO[_dataset_key(cfg.dataset)]
    out = Path(args.out or Path(args.run_dir) / "model.onnx")
    x = convnp.randn(2, info["channels"], info["size"], info["size"])
    try:
        proto = convnp.onnx.export(model, x, str(out), opset_version=args.opset,
                                   input_names=["input"], output_names=["logits"],
                                   dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})
    except ImportError as e:
        raise RuntimeError(str(e)) from None
    meta = {"classes": json.dumps(classes), "model": cfg.model, "dataset": cfg.dataset,
            "input": f"(batch, {info['channels']}, {info['size']}, {info['size']}) normalised "
                     f"with mean {info['mean']} and std {info['std']}"}
    for k, v in meta.items():
        proto.metadata_props.add(key=k, value=str(v))
    out.write_bytes(proto.SerializeToString())
    msg = f"wrote {out} ({cfg.model}, opset {proto.opset_import[0].version}, input (batch, " \
          f"{info['channels']}, {info['size']}, {info['size']}), output logits)"
    try:
        import onnxruntime as ort
    except ImportError:
        print(msg)
        return 0
    sess = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    got = sess.run(None, {"input": x.array})[0]
    with convnp.no_grad():
        diff = float(np.abs(got - model(x).array).max())
    print(f"{msg}; onnxruntime {ort.__version__} matches convnp within {diff:.1e}")
    return 0


register_command("export", "export a run's model (ONNX)", _add_export, _run_export)


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
