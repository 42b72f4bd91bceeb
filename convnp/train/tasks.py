"""What a run learns and how it is scored: the datasets of a recipe, the :class:`Task` (targets,
loss, predictions of classification, segmentation and reconstruction networks), evaluation, and
inference with a stored run (``convnp eval`` / ``convnp predict``)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

import convnp
from convnp import checkpoint as ckpt
from convnp.train.config import DATASET_INFO, TrainConfig, _dataset_key
from convnp.train.rundir import CHECKPOINT

__all__ = ["Task", "build_datasets", "build_model", "evaluate", "confusion_matrix", "mean_iou",
           "load_run", "run_task", "load_image", "predict_images"]


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
