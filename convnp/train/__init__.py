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

The package splits by concern: :mod:`~convnp.train.config` (the recipe, the optimizer and
scheduler tables, the ``convnp train`` options), :mod:`~convnp.train.tasks` (datasets, targets,
evaluation, prediction), :mod:`~convnp.train.rundir` (the run directory and its plots) and
:mod:`~convnp.train.loop` (:class:`Trainer`).
"""

from convnp.train.config import (
    DATASET_INFO,
    OPTIMIZERS,
    RESUMABLE_OPTIONS,
    SCHEDULERS,
    OptimizerSpec,
    TrainConfig,
    _dataset_key,
    add_train_options,
    build_optimizer,
    build_scheduler,
)
from convnp.train.loop import Trainer
from convnp.train.rundir import (
    CHECKPOINT,
    ROW_KEYS,
    RUN_FILES,
    check_out_dir,
    plot_confusion,
    plot_curves,
)
from convnp.train.tasks import (
    Task,
    _transforms,
    build_datasets,
    build_model,
    confusion_matrix,
    evaluate,
    load_image,
    load_run,
    mean_iou,
    predict_images,
    run_task,
)

# the names these functions had when convnp.train was one module
_build_optimizer, _build_scheduler = build_optimizer, build_scheduler

__all__ = ["TrainConfig", "Trainer", "DATASET_INFO", "build_datasets", "build_model",
           "load_run", "evaluate", "confusion_matrix", "predict_images", "load_image",
           "OPTIMIZERS", "SCHEDULERS", "Task", "add_train_options"]
