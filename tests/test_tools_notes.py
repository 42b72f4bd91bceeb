"""The notes' worked example in ``explain`` and ``animate`` (numbers, legend, scatter view), and
explain's notes on rounding, SAME and the two dilation conventions."""

from __future__ import annotations

import numpy as np
import pytest

import convnp
import convnp.nn.functional as F
from convnp.cli import main
from convnp.tools.animate import animate, animation_frames, frame_values
from convnp.tools.cli_tools import explain_text
from convnp.tools.notes import NOTES_IMAGE, NOTES_KERNEL, notes_example_text


def test_notes_example_step_by_step(capsys):
    text = notes_example_text()
    assert "= 1*1 + 2*1 + 3*1 + 6*2 + 7*1 + 8*2 + 2*3 + 5*2 + 9*1 = 66" in text
    assert "12  7 16" in text  # the element-wise product the notes print
    assert "  66 77 86\n  84 96 79" in text
    yf = F.conv2d(convnp.tensor(NOTES_IMAGE[None, None]),
                  convnp.tensor(NOTES_KERNEL[None, None]), flip=True).array[0, 0]
    assert " ".join(f"{v:g}" for v in yf[0]) in text and "flip=True" in text
    assert main(["explain", "--example", "notes"]) == 0
    assert capsys.readouterr().out.strip() == text
    assert main(["explain"]) == 2
    assert "--example notes" in capsys.readouterr().err


def test_notes_example_errors():
    with pytest.raises(ValueError, match="notes example: need a 2-d image"):
        notes_example_text(np.ones((2, 2)), np.ones((3, 3)))


def test_explain_says_the_notes_formula_rounds_down_and_why_same_is_ceil():
    t = explain_text("conv2d", 33, 2, stride=2)
    assert "= 16.5" in t and "rounds down: 16.5 -> 16" in t
    assert "rounds down" not in explain_text("conv2d", 32, 2, stride=2)
    t = explain_text("conv2d", 33, 3, stride=2, padding="same")
    assert "SAME gives ceil(x/s) = ceil(33/2) = 17" in t and "floor(x/s) = 16" in t
    t = explain_text("conv2d", 32, 3, dilation=2)
    assert "torch's dilation 2 x 2" in t and "'dilation 1 x 1'" in t
    assert "Dilation:" not in explain_text("conv2d", 32, 3)


@pytest.mark.parametrize("kind,kw", [
    ("conv2d", dict(in_size=(4, 5), kernel=3)),
    ("conv2d", dict(in_size=5, kernel=3, stride=2, padding=1)),
    ("conv2d", dict(in_size=6, kernel=2, dilation=2)),
    ("conv1d", dict(in_size=6, kernel=3, stride=2, padding=1)),
    ("maxpool2d", dict(in_size=5, kernel=2, ceil_mode=True)),
    ("avgpool2d", dict(in_size=4, kernel=2, padding=1)),
    ("conv_transpose2d", dict(in_size=3, kernel=3, stride=2, padding=1)),
    ("conv_transpose1d", dict(in_size=3, kernel=3, stride=2)),
], ids=["notes", "s2-p1", "dilated", "conv1d", "maxpool-ceil", "avgpool-pad", "convT2d", "convT1d"])
def test_frame_sums_are_the_layers_outputs(kind, kw):
    """Every frame's written-out sum evaluates to the output convnp's layer computes."""
    fr = animation_frames(kind, **kw)
    v = frame_values(fr, "notes" if kw["in_size"] == (4, 5) else "ints",
                     stride=kw.get("stride"), padding=kw.get("padding", 0),
                     dilation=kw.get("dilation", 1), ceil_mode=kw.get("ceil_mode", False))
    assert len(v.terms) == len(fr.outputs)
    for j, t in enumerate(v.terms):
        expr, total = t.rsplit(" = ", 1)
        o = (0,) + fr.outputs[j] if len(fr.outputs[j]) == 1 else fr.outputs[j]
        assert float(total) == pytest.approx(v.y[o])
        if kind.startswith("conv"):
            assert eval(expr) == pytest.approx(v.y[o])  # the products add up
        else:  # max(a, b, ...) / mean(a, b, ...)
            fn, args = expr.split("(", 1)
            nums = [float(a) for a in args.rstrip(")").split(",")]
            assert {"max": max, "mean": np.mean}[fn](nums) == pytest.approx(v.y[o])
    if kw["in_size"] == (4, 5):
        assert v.terms[0].endswith("= 66")
        np.testing.assert_array_equal(v.y, [[66, 77, 86], [84, 96, 79]])


def test_scatter_partial_sums_add_up_to_conv_transpose():
    fr = animation_frames("conv_transpose2d", 2, 3, stride=2)
    v = frame_values(fr, "ints", stride=2, view="scatter")
    assert len(v.partial) == 4 and "spreads" in v.terms[0] and "onto 9 outputs" in v.terms[0]
    np.testing.assert_array_equal(v.partial[-1], v.y)
    # the first input alone: its value times the kernel, in the top-left 3x3 block
    np.testing.assert_array_equal(v.partial[0][:3, :3], v.x[0, 0] * v.w)
    assert np.count_nonzero(v.partial[0][3:]) == 0


def test_values_errors():
    fr = animation_frames("conv2d", 5, 3)
    with pytest.raises(ValueError, match="notes' 4x5 image"):
        frame_values(fr, "notes")
    with pytest.raises(ValueError, match="values must be one of"):
        frame_values(fr, "random")
    with pytest.raises(ValueError, match=r"input's shape \(5, 5\)"):
        frame_values(fr, np.ones((4, 4)))
    with pytest.raises(ValueError, match="scatter"):
        animate("conv2d", 5, 3, view="scatter", out=None)


def test_animate_cli_values_and_scatter(tmp_path, capsys):
    from PIL import Image

    gif = tmp_path / "notes.gif"
    assert main(["animate", "conv2d", "--values", "notes", "--out", str(gif), "--frames",
                 str(tmp_path / "f")]) == 0
    assert "6 frames: input (4, 5) -> output (2, 3)" in capsys.readouterr().out
    with Image.open(gif) as im:
        assert im.n_frames == 6
    # the drawn frames differ: each shows one more output value
    a = np.asarray(Image.open(tmp_path / "f" / "frame_000.png"))
    b = np.asarray(Image.open(tmp_path / "f" / "frame_001.png"))
    assert (a != b).any()
    assert main(["animate", "conv_transpose2d", "--in", "2", "--stride", "2", "--view",
                 "scatter", "--values", "ints", "--out", str(tmp_path / "s.gif")]) == 0
    assert "4 frames" in capsys.readouterr().out
    assert main(["animate", "conv2d", "--view", "scatter", "--out", str(tmp_path / "x.gif")]) == 2


# ---------------------------------------------------------------- show: pictures read at a glance

def test_show_picks_strongest_maps_and_draws_1x1_maps_as_bars(tmp_path):
    from convnp import nn
    from convnp.tools.show import show, strongest

    fmap = np.zeros((5, 3, 3))
    fmap[3] = 2.0
    fmap[1] = -1.0
    fmap[4, 0, 0] = 0.5
    np.testing.assert_array_equal(strongest(fmap, 3), [3, 1, 4])
    convnp.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 6, 3), nn.ReLU(), nn.Conv2d(6, 12, 6), nn.Flatten(),
                        nn.Linear(12, 3))
    paths = show(net, np.random.default_rng(0).random((1, 1, 8, 8)), tmp_path, max_maps=4)
    names = [p.rsplit("/", 1)[-1] for p in paths]
    # 12 maps of 1x1 (no picture) and the Linear layer's 3 outputs: bar charts; Flatten: nothing
    assert names == ["filters.png", "00_0.png", "01_1.png", "02_2.png", "03_4.png"]
    from PIL import Image
    with Image.open(tmp_path / "02_2.png") as im:  # a wide bar chart, not a grid of squares
        assert im.width > 1.3 * im.height


def test_drawing_leaves_the_pyplot_backend_alone(tmp_path):
    """animate, show and the training plots draw on bare Figures: a notebook's inline backend
    must survive them (a switch to Agg would hide every later plt.show())."""
    import matplotlib

    from convnp.tools.show import save_bars, save_grid
    from convnp.train import plot_curves

    before = matplotlib.rcParams["backend"]
    matplotlib.rcParams["backend"] = "svg"
    try:
        animate("conv2d", 3, 2, out=tmp_path / "a.gif")
        save_grid(np.ones((2, 3, 3)), tmp_path / "g.png")
        save_bars(np.arange(3.0), tmp_path / "b.png")
        plot_curves([{"epoch": 1, "train_loss": 1.0, "test_loss": 0.9, "train_acc": 0.5,
                      "test_acc": 0.6, "batch_losses": [2.0, 1.0, 0.5]}], tmp_path / "c.png")
        assert matplotlib.rcParams["backend"] == "svg"
    finally:
        matplotlib.rcParams["backend"] = before
    assert all((tmp_path / f).stat().st_size > 0 for f in ("a.gif", "g.png", "b.png", "c.png"))
