"""``prepare_digit`` and ``convnp predict`` on a drawn digit (a black-on-white RGB "7").

One LeNet-5 is trained per session on 3,200 MNIST digits (one epoch, 50 steps); a drawing is
then classified with and without the MNIST-style preparation.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from convnp.cli import main
from convnp.data import read_idx
from convnp.data.transforms import prepare_digit
from convnp.train import TrainConfig, Trainer, predict_images

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist"
needs_mnist = pytest.mark.skipif(not SHARED.is_dir(),
                                 reason="../shared/data/mnist (original MNIST files) is absent")


def drawn_seven(size=200, rgb=True) -> Image.Image:
    """A 7 as someone draws it with a thick black pen on white paper, off-centre."""
    im = Image.new("RGB" if rgb else "L", (size, size), "white")
    d = ImageDraw.Draw(im)
    s = size / 200
    d.line([(40 * s, 30 * s), (140 * s, 30 * s), (80 * s, 160 * s)], fill="black",
           width=round(14 * s), joint="curve")
    return im


def _mass_centre(a):
    a = a.astype(np.float64)
    ys, xs = np.mgrid[:a.shape[0], :a.shape[1]]
    return (a * ys).sum() / a.sum(), (a * xs).sum() / a.sum()


def test_prepare_matches_mnist_statistics():
    p = prepare_digit(drawn_seven())
    a = p.image
    assert a.shape == (28, 28) and a.dtype == np.uint8
    assert a.max() == 255 and a[0].max() == 0 and a[:, 0].max() == 0  # white ink on black
    cy, cx = _mass_centre(a)
    assert abs(cy - 14) < 0.6 and abs(cx - 14) < 0.6  # MNIST: mean 14.0, std 0.29
    rows = np.flatnonzero(a.any(1))
    cols = np.flatnonzero(a.any(0))
    assert max(rows[-1] - rows[0], cols[-1] - cols[0]) + 1 in (20, 21)  # fitted in 20x20
    assert "inverted" in p.describe() and "cropped" in p.describe()


def test_prepare_keeps_dark_background_and_aspect():
    im = Image.fromarray(255 - np.asarray(drawn_seven(rgb=False)))  # white on black already
    p = prepare_digit(im)
    assert "inverted" not in p.describe()
    np.testing.assert_array_equal(p.image, prepare_digit(drawn_seven()).image)
    tall = np.zeros((100, 30), np.uint8)
    tall[10:90, 10:20] = 255  # a "1": 10 wide, 80 tall -> 3 wide (rounded), 20 tall
    q = prepare_digit(tall)
    cols = np.flatnonzero(q.image.max(0) > 64)
    assert len(cols) <= 4 and np.flatnonzero(q.image.max(1) > 64).size >= 19


def test_prepare_errors():
    with pytest.raises(ValueError, match="prepare_digit: the image is blank"):
        prepare_digit(np.full((10, 10), 255, np.uint8))
    with pytest.raises(ValueError, match=r"prepare_digit: expected an image .*\(2, 3, 4, 5\)"):
        prepare_digit(np.zeros((2, 3, 4, 5)))
    with pytest.raises(ValueError, match="center must be 'mass' or 'box'"):
        prepare_digit(np.eye(5) * 255, center="middle")


@pytest.fixture(scope="module")
def lenet_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("lenet") / "run"
    cfg = TrainConfig(data_dir=str(SHARED), limit_train=3200, limit_test=200, epochs=1,
                      batch_size=64, out=str(out), seed=0, scheduler="none", eval_batch_size=200)
    Trainer(cfg, plots=False).fit()
    return out


@needs_mnist
def test_prepared_images_look_like_mnist():
    """The preparation turns MNIST's own test digits (drawn back onto a light 200x200 page)
    into images close to the originals."""
    x = read_idx(SHARED / "t10k-images-idx3-ubyte.gz")[:20]
    diffs = []
    for a in x:
        page = Image.fromarray(255 - a).resize((200, 200), Image.BILINEAR).convert("RGB")
        b = prepare_digit(page).image.astype(np.float64)
        diffs.append(np.abs(b - a).mean() / 255)
    assert np.median(diffs) < 0.08


@needs_mnist
def test_predict_drawn_seven(lenet_run, tmp_path, capsys):
    path = tmp_path / "seven.png"
    drawn_seven().save(path)
    (top, how), = predict_images(lenet_run, [path], topk=3, describe=True)
    assert top[0][0].startswith("7") and top[0][1] > 0.5, top
    assert len(top) == 3 and "inverted" in how
    assert main(["predict", str(lenet_run), str(path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{path}: 7") and out.count("%") == 3 and "prepared like mnist" in out
    assert main(["predict", str(lenet_run), str(path), "--no-prepare"]) == 0
    assert "not prepared" in capsys.readouterr().out
    row = json.loads((lenet_run / "metrics.jsonl").read_text().splitlines()[0])
    assert len(row["batch_losses"]) == 50  # 3200 / 64 batches, each recorded
    assert np.mean(row["batch_losses"][-10:]) < 0.5 * np.mean(row["batch_losses"][:10])
