"""convnp explain / summary / equivariance / animate / show (functions and CLI)."""

import numpy as np
import pytest

import convnp
import convnp.nn as nn
from convnp.cli import main
from convnp.tools.animate import animate, animation_frames
from convnp.tools.cli_tools import explain_text, parse_size
from convnp.tools.conv_matrix import conv_matrix
from convnp.tools.equivariance import equivariance, preset

# ---------------------------------------------------------------- explain


def test_explain_conv2d_numbers(capsys):
    assert main(["explain", "conv2d", "--in", "32", "--kernel", "5", "--channels", "3",
                 "--out-channels", "6"]) == 0
    out = capsys.readouterr().out
    assert "floor((32 + 0 + 0 - 1*(5 - 1) - 1) / 1) + 1 = floor(27/1) + 1 = 28" in out
    assert "(32 - 5 + 2*0)/1 + 1 = 28" in out
    assert "Output: 6 x 28 x 28" in out
    assert "6 * 3 * 25 + 6 = 456" in out and "352,800" in out
    assert "1 + d*(k - 1) = 5 x 5" in out


@pytest.mark.parametrize("args,expect", [
    (("conv1d", 10, 3, 2, "same", 2), ["(lo, hi) = (1, 2)", "Output: 1 x 5", "L 9..10"]),
    (("conv3d", (4, 5, 6), 3, 1, 1), ["Output: 1 x 4 x 5 x 6"]),
    (("conv_transpose2d", 16, 4, 2, 1), ["(16 - 1)*2 - 1 - 1 + 1*(4 - 1) + 0 + 1 = 32",
                                         "jump 1/s = 0.5 x 0.5"]),
    (("maxpool2d", 28, 3, 2, 0, 1, 1, None, 1, 0, True), ["ceil(25/2) + 1 = 14",
                                                           "Parameters: 0"]),
    (("avgpool1d", 9, 2), ["floor(7/2) + 1 = 4", "Output: 1 x 4"]),
], ids=["conv1d-same-dilated", "conv3d", "convT2d", "maxpool-ceil", "avgpool1d"])
def test_explain_variants(args, expect):
    text = explain_text(*args)
    for e in expect:
        assert e in text, (e, text)


def test_explain_groups_and_transpose_params():
    text = explain_text("conv2d", 8, 3, channels=4, out_channels=8, groups=2)
    assert "8 * 2 * 9 + 8 = 152" in text
    assert sum(p.numel() for p in nn.Conv2d(4, 8, 3, groups=2).parameters()) == 152
    text = explain_text("conv_transpose2d", 8, 4, 2, 1, channels=8, out_channels=3)
    assert "= 387" in text
    assert sum(p.numel() for p in nn.ConvTranspose2d(8, 3, 4, 2, 1).parameters()) == 387


def test_explain_errors(capsys):
    with pytest.raises(ValueError, match="unknown layer"):
        explain_text("conv4d", 8, 3)
    with pytest.raises(ValueError, match="--kernel"):
        explain_text("conv2d", 8, (3, 3, 3))
    assert main(["explain", "conv2d", "--in", "3", "--kernel", "5"]) == 2
    assert "too small" in capsys.readouterr().err
    with pytest.raises(ValueError, match="ints separated"):
        parse_size("3xa")
    assert parse_size("1x32x32") == (1, 32, 32)


@pytest.mark.parametrize("module", ["convnp", "convnp.cli"])
def test_python_dash_m_knows_the_plugin_commands(module):
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "-m", module, "explain", "conv2d", "--in", "7",
                        "--kernel", "3"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "5" in r.stdout


def test_summary_cli(capsys):
    assert main(["summary", "lenet5", "--input", "1x32x32"]) == 0
    out = capsys.readouterr().out
    assert "Total params: 61,706" in out and "features.0" in out and "mode: trace" in out


# ---------------------------------------------------------------- equivariance

X = np.random.default_rng(0).random((1, 1, 12, 12))


def test_circular_conv_exactly_equivariant():
    m, _ = preset("conv-circular")
    r = equivariance(m, X, range(0, 12))
    assert all(row["equivariance"] < 1e-12 for row in r.rows)
    assert all(row["invariance"] > 0.1 for row in r.rows[1:])
    r = equivariance(m, X, [(1, 2), (3, -1)], axis=(2, 3))
    assert all(row["equivariance"] < 1e-12 for row in r.rows)


def test_zero_padded_conv_breaks_at_borders_only():
    m, _ = preset("conv-zeros")
    r = equivariance(m, X, [1, 2])
    assert all(row["equivariance"] > 0.05 for row in r.rows)
    # away from the borders it is equivariant: compare the interior columns only
    xs = np.roll(X, 2, -1)
    with convnp.no_grad():
        y = m(convnp.tensor(X)).numpy()
        ys = m(convnp.tensor(xs)).numpy()
    np.testing.assert_allclose(ys[..., 3:-1], np.roll(y, 2, -1)[..., 3:-1], atol=1e-12)


@pytest.mark.parametrize("name", ["conv-stride2", "maxpool2", "avgpool2"])
def test_striding_and_pooling_break_equivariance_off_stride(name):
    m, _ = preset(name)
    r = equivariance(m, X, [0, 1, 2, 3, 4])
    errs = {row["shift"]: row["equivariance"] for row in r.rows}
    assert errs[0] == errs[2] == errs[4] == 0.0
    assert errs[1] > 0.05 and errs[3] > 0.05
    assert r.rows[2]["out_shift"] == 1 and r.rows[1]["out_shift"] is None


def test_global_pooling_gives_invariance_and_table():
    m, _ = preset("conv-gap")
    r = equivariance(m, X, [1, 5], name="gap")
    assert all(row["invariance"] < 1e-12 for row in r.rows)
    text = str(r)
    assert "gap" in text and "invariance err" in text


def test_equivariance_zero_shift_mode_and_errors():
    m, _ = preset("conv-zeros")
    r = equivariance(m, X, [1], mode="zeros")
    assert r.rows[0]["equivariance"] > 0   # the far border sees the shifted-out column
    with pytest.raises(ValueError, match="mode"):
        equivariance(m, X, [1], mode="reflect")
    with pytest.raises(ValueError, match="one value per axis"):
        equivariance(m, X, [(1, 2)], axis=-1)
    with pytest.raises(ValueError, match="unknown preset"):
        preset("conv-fft")


def test_equivariance_cli(capsys):
    assert main(["equivariance", "conv-circular", "maxpool2", "--shifts", "1,2",
                 "--input", "1x8x8"]) == 0
    out = capsys.readouterr().out
    assert "conv-circular" in out and "maxpool2" in out and "0.00e+00" in out


# ---------------------------------------------------------------- animation frames

@pytest.mark.parametrize("kind,kw", [
    ("conv2d", dict(in_size=5, kernel=3, stride=2, padding=1)),
    ("conv2d", dict(in_size=(6, 5), kernel=(3, 2), stride=1, padding=0, dilation=2)),
    ("conv1d", dict(in_size=7, kernel=3, stride=2, padding=2)),
    ("avgpool2d", dict(in_size=5, kernel=2, padding=1)),
    ("conv_transpose1d", dict(in_size=4, kernel=3, stride=2, padding=1)),
    ("conv_transpose2d", dict(in_size=3, kernel=3, stride=2, padding=0)),
], ids=["conv2d-s2-p1", "dilated-2d", "conv1d", "avgpool2d", "convT1d", "convT2d"])
def test_frames_highlight_exactly_the_feeding_inputs(kind, kw):
    fr = animation_frames(kind, **kw)
    n = int(kind[-2])
    sp = fr.in_shape
    assert len(fr.outputs) == int(np.prod(fr.out_shape))
    if kind.startswith("conv_transpose"):
        # output j of the transposed conv receives input i iff the forward conv's M[i, j] != 0
        k = (kw["kernel"],) * n
        m = conv_matrix(np.ones((1, 1) + k), (1,) + fr.out_shape, kw["stride"], kw["padding"])
        for j, cells in enumerate(fr.cells):
            want = np.argwhere(m[:, j].reshape(sp) != 0)
            assert sorted(map(tuple, cells)) == sorted(map(tuple, want))
        return
    # conv / pool: perturb the cells an output cell reads; the real layer's output must move
    # only through those cells: its gradient w.r.t. the input is non-zero exactly there
    if kind.startswith("conv"):
        layer = getattr(nn, f"Conv{n}d")(1, 1, kw["kernel"], kw["stride"], kw["padding"],
                                         kw.get("dilation", 1), bias=False)
        layer.weight.data[...] = 1.0
    else:
        layer = nn.AvgPool2d(kw["kernel"], padding=kw["padding"], count_include_pad=True)
    x = convnp.ones((1, 1) + sp, requires_grad=True)
    y = layer(x)
    assert tuple(y.shape[2:]) == fr.out_shape
    for j, cells in enumerate(fr.cells):
        (g,) = convnp.autograd.grad(y[(0, 0) + fr.outputs[j]], x, retain_graph=True)
        got = {tuple(c) for c in cells if all(0 <= c[i] < sp[i] for i in range(n))}
        assert got == {tuple(c) for c in np.argwhere(g.numpy()[0, 0] != 0)}


def test_animate_writes_gif_and_frames(tmp_path):
    from PIL import Image
    gif, frames = tmp_path / "c.gif", tmp_path / "frames"
    fr = animate("conv1d", 5, 3, 2, 1, out=gif, frames_dir=frames)
    assert len(fr.outputs) == 3
    with Image.open(gif) as im:
        assert im.n_frames == 3
    assert sorted(p.name for p in frames.iterdir()) == [f"frame_00{i}.png" for i in range(3)]
    assert main(["animate", "maxpool1d", "--in", "5", "--kernel", "2", "--ceil-mode", "--out",
                 str(tmp_path / "p.gif")]) == 0
    with Image.open(tmp_path / "p.gif") as im:
        assert im.n_frames == 3
    with pytest.raises(ValueError, match="kind"):
        animation_frames("conv4d", 5, 3)


# ---------------------------------------------------------------- show

def test_show_writes_filters_and_feature_maps(tmp_path):
    from convnp.tools.show import show
    convnp.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                        nn.Linear(36, 2))
    paths = show(net, np.random.default_rng(0).random((1, 1, 8, 8)), tmp_path)
    names = [p.rsplit("/", 1)[-1] for p in paths]
    assert names == ["filters.png", "00_0.png", "01_1.png", "02_2.png", "03_4.png"]
    assert all((tmp_path / n).stat().st_size > 0 for n in names)
    with pytest.raises(ValueError, match="N, C, H, W"):
        show(net, np.zeros((8, 8)), tmp_path)
