"""ONNX export and import (``convnp.onnx``), checked against onnxruntime and torch.

- every network of ``convnp.models`` and every block of ``convnp.nn.modules.blocks`` exported and
  run in onnxruntime (outputs within 1e-5 of convnp's), then loaded back (exactly convnp's);
- an op table (each converter, each argument) through onnxruntime and back;
- torch networks (ResNet-18, a UNet, a DCGAN generator, an op zoo) exported by
  ``torch.onnx.export`` and run by convnp within 1e-5 of torch; fine-tuning gradients vs torch;
- bad models and inputs give one clear error.
"""

from __future__ import annotations

import io
import sys
import warnings

import numpy as np
import pytest

import convnp
import convnp.nn as nn
import convnp.nn.functional as F

onnx = pytest.importorskip("onnx", reason="the 'onnx' extra is not installed "
                                          "(pip install 'convnp[onnx]')")
ort = pytest.importorskip("onnxruntime", reason="the 'onnx' extra is not installed "
                                                "(pip install 'convnp[onnx]')")

TOL = 1e-5


def _export(model, x, **kw) -> bytes:
    buf = io.BytesIO()
    convnp.onnx.export(model, x, buf, **kw)
    return buf.getvalue()


def _ort_run(data: bytes, *xs):
    sess = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    names = [i.name for i in sess.get_inputs()]
    return sess.run(None, {n: x.array if isinstance(x, convnp.Tensor) else x
                           for n, x in zip(names, xs)})


def _outs(y):
    return [t.array for t in (y if isinstance(y, tuple) else (y,))]


def check_model(model, *xs, roundtrip: bool = True, tol: float = TOL, **kw):
    """Export, run in onnxruntime (within ``tol`` of convnp), load back (exactly convnp)."""
    model.eval()
    want = _outs(model(*xs))
    data = _export(model, xs if len(xs) > 1 else xs[0], **kw)
    got = _ort_run(data, *xs)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g.shape == w.shape
        np.testing.assert_allclose(g, w, rtol=0, atol=tol * max(1.0, float(np.abs(w).max())))
    if roundtrip:
        back = convnp.onnx.load(data)
        back.eval()
        for g, w in zip(_outs(back(*xs)), want):
            np.testing.assert_array_equal(g, w)
    return data


def _randomize_bn(model, seed=0):
    """Non-trivial running statistics, so BatchNormalization is really checked."""
    rng = np.random.default_rng(seed)
    from convnp.nn.modules.normalization import _BatchNorm

    for m in model.modules():
        if isinstance(m, _BatchNorm):
            c = m.running_mean.shape[0]
            m.running_mean.array[...] = rng.uniform(-0.5, 0.5, c)
            m.running_var.array[...] = rng.uniform(0.5, 1.5, c)
            if m.weight is not None:
                m.weight.array[...] = rng.uniform(0.5, 1.5, c)
                m.bias.array[...] = rng.uniform(-0.5, 0.5, c)
    return model


# ------------------------------------------------------------------------- convnp.models
_MODEL_CASES = {
    "lenet5": (dict(), (2, 1, 32, 32)),
    "lenet5-classic": (dict(input_size=28), (2, 1, 28, 28)),
    "vgg": (dict(channels=(4, 8)), (2, 1, 16, 16)),
    "vgg-small": (dict(), (1, 1, 8, 8)),
    "vgg-tiny": (dict(), (2, 1, 8, 8)),
    "resnet20": (dict(), (2, 1, 8, 8)),
    "resnet18": (dict(width=4, input_size=32), (2, 1, 16, 16)),
    "allconv": (dict(c1=4, c2=8), (2, 1, 16, 16)),
    "cnn1d": (dict(channels=4), (2, 1, 32)),
    "cnn3d": (dict(channels=2), (2, 1, 8, 8, 8)),
    "unet": (dict(base_channels=4, depth=2), (2, 1, 16, 16)),
    "segnet": (dict(widths=(4, 8)), (2, 1, 16, 16)),
    "deeplab-small": (dict(width=4), (2, 1, 16, 16)),
    "inception": (dict(), (2, 1, 8, 8)),
    "conv-autoencoder": (dict(width=4, input_size=12), (2, 1, 12, 12)),
}


def test_model_cases_cover_the_registry():
    from convnp.models import list_models

    assert sorted(_MODEL_CASES) == sorted(list_models())


@pytest.mark.parametrize("name", sorted(_MODEL_CASES))
def test_every_model_exports(name):
    from convnp.models import get_model

    convnp.manual_seed(0)
    extra, shape = _MODEL_CASES[name]
    model = _randomize_bn(get_model(name, num_classes=3, in_channels=1, **extra))
    data = check_model(model, convnp.randn(*shape),
                       dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}})
    x = convnp.randn(3, *shape[1:])  # another batch size
    np.testing.assert_allclose(_ort_run(data, x)[0], model(x).array, rtol=0, atol=TOL)


def test_dynamic_batch_axis():
    from convnp.models import get_model

    convnp.manual_seed(0)
    model = get_model("unet", num_classes=2, in_channels=1, base_channels=4, depth=2).eval()
    data = _export(model, convnp.randn(1, 1, 16, 16),
                   dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}})
    x = convnp.randn(3, 1, 16, 16)
    np.testing.assert_allclose(_ort_run(data, x)[0], model(x).array, atol=TOL)
    assert convnp.onnx.load(data)(x).shape == (3, 2, 16, 16)


# ------------------------------------------------------------------------------- blocks
def _blocks():
    from convnp.nn.modules import blocks as B

    return {
        "ConvNormAct": (lambda: B.ConvNormAct(2, 4, 3, stride=2, activation="silu"), (2, 2, 9, 9)),
        "ConvNormAct-gelu": (lambda: B.ConvNormAct(2, 4, 3, activation="gelu"), (1, 2, 6, 6)),
        "DoubleConv": (lambda: B.DoubleConv(2, 4), (2, 2, 8, 8)),
        "DoubleConv-group": (lambda: B.DoubleConv(2, 4, norm="group"), (2, 2, 6, 6)),
        "DoubleConv-instance": (lambda: B.DoubleConv(2, 4, norm="instance"), (2, 2, 6, 6)),
        "ConvNormAct-layer": (lambda: B.ConvNormAct(2, 4, 3, norm="layer"), (2, 2, 6, 6)),
        "UpBlock-bilinear": (lambda: B.UpBlock(4, 2, skip_channels=2), [(1, 4, 4, 4),
                                                                        (1, 2, 8, 8)]),
        "UpBlock-transpose": (lambda: B.UpBlock(4, 2, skip_channels=2, mode="transpose"),
                              [(1, 4, 4, 4), (1, 2, 9, 9)]),
        "UpBlock-nearest": (lambda: B.UpBlock(4, 2, mode="nearest"), (1, 4, 3, 5)),
        "InceptionBlock": (lambda: B.InceptionBlock(4, 2, 2, 3, 1, 2, 2), (1, 4, 6, 6)),
        "ASPP": (lambda: B.ASPP(4, 4, (1, 2)), (2, 4, 8, 8)),
        "BasicBlock": (lambda: B.BasicBlock(4, 8, 2, nn.Sequential(
            nn.Conv2d(4, 8, 1, stride=2, bias=False), nn.BatchNorm2d(8))), (2, 4, 8, 8)),
        "Bottleneck": (lambda: B.Bottleneck(8, 2), (1, 8, 5, 5)),
        "AddCoords": (lambda: B.AddCoords(2, with_r=True), (2, 1, 4, 5)),
        "CoordConv1d": (lambda: B.CoordConv1d(2, 3, 3), (2, 2, 7)),
        "CoordConv2d": (lambda: B.CoordConv2d(2, 3, 3, padding=1), (2, 2, 6, 6)),
        "CoordConv3d": (lambda: B.CoordConv3d(1, 2, 3), (1, 1, 4, 4, 4)),
        "EquirectPad2d": (lambda: B.EquirectPad2d((1, 2)), (1, 2, 4, 6)),
        "EquirectPad2d-reflect": (lambda: B.EquirectPad2d(1, pole="reflect"), (1, 2, 4, 6)),
        "EquirectConv2d": (lambda: B.EquirectConv2d(2, 3, 3, coords=True), (1, 2, 6, 8)),
    }


def test_block_cases_cover_the_module():
    from convnp.nn.modules import blocks as B

    classes = {n for n in B.__all__ if isinstance(getattr(B, n), type)}
    covered = {k.split("-")[0] for k in _blocks()}
    assert classes <= covered, classes - covered


@pytest.mark.parametrize("name", sorted(_blocks()))
def test_every_block_exports(name):
    convnp.manual_seed(1)
    make, shape = _blocks()[name]
    shapes = shape if isinstance(shape, list) else [shape]
    block = _randomize_bn(make())
    check_model(block, *[convnp.randn(*s) for s in shapes])


# ---------------------------------------------------------------------------- op table
class _Fn(nn.Module):
    def __init__(self, fn, *mods):
        super().__init__()
        self.mods = nn.ModuleList(list(mods))
        self.fn = fn

    def forward(self, *xs):
        return self.fn(self, *xs)


def _m(fn, *mods):
    return _Fn(fn, *mods)


def _layer(layer):
    return _m(lambda s, x: s.mods[0](x), layer)


_OPS = {
    "conv2d-s2-p1-d1": (lambda: _layer(nn.Conv2d(3, 4, 3, stride=2, padding=1)), (2, 3, 9, 8)),
    "conv2d-g2-d2-asym": (lambda: _layer(nn.Conv2d(4, 6, (3, 2), stride=(1, 2), padding=(2, 1),
                                                   dilation=(2, 1), groups=2)), (1, 4, 9, 7)),
    "conv2d-same": (lambda: _layer(nn.Conv2d(2, 3, 4, padding="same", bias=False)), (1, 2, 7, 6)),
    "conv2d-depthwise": (lambda: _layer(nn.Conv2d(3, 3, 3, groups=3, padding=1)), (1, 3, 5, 5)),
    "conv2d-reflect": (lambda: _layer(nn.Conv2d(2, 3, 3, padding=1, padding_mode="reflect")),
                       (1, 2, 5, 6)),
    "conv2d-replicate": (lambda: _layer(nn.Conv2d(2, 3, 3, padding=2,
                                                  padding_mode="replicate")), (1, 2, 5, 6)),
    "conv2d-circular": (lambda: _layer(nn.Conv2d(2, 3, 3, padding=1, padding_mode="circular")),
                        (1, 2, 5, 6)),
    "conv2d-per-axis-modes": (lambda: _m(lambda s, x: F.conv2d(
        x, s.mods[0].weight, padding=1, padding_mode=("replicate", "circular")),
        nn.Conv2d(2, 3, 3)), (1, 2, 5, 6)),
    "conv1d-causal": (lambda: _m(lambda s, x: F.conv1d(x, s.mods[0].weight, s.mods[0].bias,
                                                       padding="causal", dilation=2),
                                 nn.Conv1d(2, 3, 3)), (2, 2, 9)),
    "conv3d": (lambda: _layer(nn.Conv3d(1, 2, 3, stride=(1, 2, 1), padding=1)), (1, 1, 4, 5, 4)),
    "conv_transpose2d-op": (lambda: _layer(nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1,
                                                              output_padding=1)), (1, 3, 4, 5)),
    "conv_transpose2d-g-d": (lambda: _layer(nn.ConvTranspose2d(4, 4, 3, stride=(2, 1), groups=2,
                                                               dilation=2)), (1, 4, 3, 4)),
    "conv_transpose-output_size": (lambda: _m(lambda s, x: s.mods[0](x, output_size=(8, 9)),
                                              nn.ConvTranspose2d(2, 2, 3, stride=2, padding=1)),
                                   (1, 2, 4, 5)),
    "conv_transpose1d": (lambda: _layer(nn.ConvTranspose1d(2, 3, 4, stride=3)), (2, 2, 5)),
    "pad-constant": (lambda: _m(lambda s, x: F.pad(x, (1, 2, 0, 1), value=0.5)), (1, 2, 3, 4)),
    "pad-crop": (lambda: _m(lambda s, x: F.pad(x, (-1, 2))), (1, 2, 3, 4)),
    "pad-reflect": (lambda: _m(lambda s, x: F.pad(x, (2, 1, 1, 2), mode="reflect")),
                    (1, 2, 4, 5)),
    "pad-replicate": (lambda: _m(lambda s, x: F.pad(x, (2, 1, 1, 2), mode="replicate")),
                      (1, 2, 4, 5)),
    "pad-circular": (lambda: _m(lambda s, x: F.pad(x, (2, 1, 1, 2), mode="circular")),
                     (1, 2, 4, 5)),
    "maxpool2d-s1-p1-d2-ceil": (lambda: _layer(nn.MaxPool2d(3, 2, 1, dilation=2,
                                                            ceil_mode=True)), (1, 2, 9, 8)),
    "maxpool1d": (lambda: _layer(nn.MaxPool1d(2)), (2, 2, 7)),
    "maxpool3d": (lambda: _layer(nn.MaxPool3d(2, 1)), (1, 1, 3, 4, 3)),
    "maxpool-indices-out": (lambda: _layer(nn.MaxPool2d(2, return_indices=True)), (2, 3, 4, 6)),
    "maxunpool-output_size": (lambda: _m(lambda s, x: s.mods[1](*s.mods[0](x),
                                                                  output_size=(5, 7)),
                                         nn.MaxPool2d(2, return_indices=True),
                                         nn.MaxUnpool2d(2)), (2, 3, 5, 7)),
    "avgpool-ceil-pad-include": (lambda: _layer(nn.AvgPool2d(3, 2, 1, ceil_mode=True)),
                                 (1, 2, 6, 7)),
    "avgpool-exclude-pad": (lambda: _layer(nn.AvgPool2d(3, 2, 1, count_include_pad=False)),
                            (1, 2, 6, 7)),
    "avgpool1d": (lambda: _layer(nn.AvgPool1d(3, 2)), (2, 2, 9)),
    "adaptive-avg-global": (lambda: _layer(nn.AdaptiveAvgPool2d(1)), (2, 3, 5, 4)),
    "adaptive-avg-2": (lambda: _layer(nn.AdaptiveAvgPool2d((2, 3))), (2, 3, 4, 6)),
    "mean-keepdim": (lambda: _m(lambda s, x: x.mean(dim=(2, 3), keepdim=True)), (2, 3, 4, 5)),
    "mean-axis1": (lambda: _m(lambda s, x: x.mean(1)), (2, 3, 4)),
    "sum": (lambda: _m(lambda s, x: x.sum(dim=-1)), (2, 3, 4)),
    "batchnorm1d-2d": (lambda: _layer(nn.BatchNorm1d(3)), (4, 3)),
    "batchnorm-noaffine": (lambda: _layer(nn.BatchNorm2d(3, affine=False)), (2, 3, 2, 2)),
    "groupnorm": (lambda: _layer(nn.GroupNorm(2, 4)), (2, 4, 3, 5)),
    "groupnorm-1d-noaffine": (lambda: _layer(nn.GroupNorm(3, 6, affine=False)), (2, 6, 5)),
    "instancenorm2d-affine": (lambda: _layer(nn.InstanceNorm2d(3, affine=True)), (2, 3, 4, 5)),
    "instancenorm1d": (lambda: _layer(nn.InstanceNorm1d(3)), (2, 3, 7)),
    "layernorm": (lambda: _layer(nn.LayerNorm((4, 5))), (2, 3, 4, 5)),
    "layernorm-noaffine": (lambda: _layer(nn.LayerNorm(5, elementwise_affine=False)), (2, 5)),
    "dropout-eval": (lambda: _m(lambda s, x: s.mods[1](s.mods[0](x)), nn.Dropout(0.5),
                                nn.Dropout2d(0.3)), (2, 3, 4, 4)),
    "linear-2d": (lambda: _layer(nn.Linear(5, 3)), (4, 5)),
    "linear-3d": (lambda: _layer(nn.Linear(5, 3)), (2, 4, 5)),
    "linear-nobias": (lambda: _layer(nn.Linear(5, 3, bias=False)), (4, 5)),
    "matmul": (lambda: _m(lambda s, x: x @ x.transpose(-1, -2)), (2, 3, 4)),
    "flatten-reshape": (lambda: _m(lambda s, x: x.flatten(1).reshape(2, 3, -1).view(6, -1)),
                        (2, 3, 2, 2)),
    "unflatten-permute": (lambda: _m(lambda s, x: x.unflatten(1, (2, 3)).permute(0, 3, 1, 2)),
                          (2, 6, 4)),
    "cat-stack": (lambda: _m(lambda s, x: convnp.stack([convnp.cat([x, x * 2], 1),
                                                        convnp.cat([x + x, x], 1)], 0)),
                  (2, 3, 4)),
    "arith": (lambda: _m(lambda s, x: ((x + 1) * 2 - x / 3) / (x.abs() + 1) ** 2 - (-x)),
              (2, 3, 4)),
    "getitem": (lambda: _m(lambda s, x: x[:, 1:, ::2][..., None, -1] + x[1, :2, 1:3, None, 2]),
                (2, 3, 4, 5)),
    "flip": (lambda: _m(lambda s, x: x.flip((2, 3))), (1, 2, 3, 4)),
    "expand": (lambda: _m(lambda s, x: x[:, :1].expand(2, 3, 4)), (2, 1, 4)),
    "softmax": (lambda: _m(lambda s, x: F.softmax(x, dim=1) + F.log_softmax(x, dim=-1)),
                (2, 3, 4)),
    "softmin": (lambda: _m(lambda s, x: F.softmin(x, dim=1)), (2, 3)),
    "clamp": (lambda: _m(lambda s, x: x.clamp(-0.5, 0.7) + x.clamp(min=0.1)), (2, 3)),
    "cast": (lambda: _m(lambda s, x: x.double().float()), (2, 3)),
}

_ACTIVATIONS = ["ReLU", "ReLU6", "LeakyReLU", "PReLU", "ELU", "SELU", "CELU", "GELU", "SiLU",
                "Mish", "Hardswish", "Hardsigmoid", "Hardtanh", "Softplus", "Softsign",
                "Tanhshrink", "Hardshrink", "Softshrink", "LogSigmoid", "Sigmoid", "Tanh"]
for _a in _ACTIVATIONS:
    _OPS[f"act-{_a}"] = ((lambda a=_a: _layer(getattr(nn, a)())), (2, 3, 4, 4))
_OPS["act-PReLU-channels"] = (lambda: _layer(nn.PReLU(3, init=0.1)), (2, 3, 4))
_OPS["act-GELU-tanh"] = (lambda: _layer(nn.GELU(approximate="tanh")), (2, 3))
_OPS["act-ELU-alpha"] = (lambda: _layer(nn.ELU(0.5)), (2, 3))
_OPS["act-CELU-alpha"] = (lambda: _layer(nn.CELU(2.0)), (2, 3))
_OPS["act-Softplus-beta"] = (lambda: _layer(nn.Softplus(beta=2.0, threshold=1.0)), (2, 8))
_OPS["act-Threshold"] = (lambda: _layer(nn.Threshold(0.1, -2.0)), (2, 8))

_RESIZE = [("nearest", None, dict(scale_factor=2)), ("nearest", None, dict(size=(5, 7))),
           ("nearest", None, dict(scale_factor=(1.5, 0.5))),
           ("nearest-exact", None, dict(size=(7, 3))),
           ("nearest-exact", None, dict(scale_factor=3)),
           ("bilinear", False, dict(scale_factor=2)), ("bilinear", True, dict(scale_factor=2)),
           ("bilinear", False, dict(size=(3, 9))), ("bilinear", True, dict(size=(7, 1))),
           ("bilinear", False, dict(scale_factor=(0.5, 1.7))),
           ("bicubic", False, dict(scale_factor=2)), ("bicubic", True, dict(size=(6, 5)))]
for _mode, _align, _kw in _RESIZE:
    _OPS[f"resize-{_mode}-{_align}-{list(_kw.values())[0]}"] = (
        (lambda md=_mode, al=_align, kw=_kw: _m(lambda s, x: F.interpolate(
            x, mode=md, align_corners=al, **kw))), (2, 2, 4, 6))
_OPS["resize-linear-1d"] = (lambda: _m(lambda s, x: F.interpolate(x, scale_factor=2.5,
                                                                  mode="linear")), (1, 2, 5))
_OPS["resize-trilinear"] = (lambda: _m(lambda s, x: F.interpolate(
    x, size=(3, 4, 5), mode="trilinear", align_corners=True)), (1, 1, 2, 3, 4))
_OPS["upsample-module"] = (lambda: _layer(nn.Upsample(scale_factor=2, mode="bilinear")),
                           (1, 2, 3, 3))


@pytest.mark.parametrize("name", sorted(_OPS))
def test_op_table(name):
    convnp.manual_seed(2)
    make, shape = _OPS[name]
    check_model(make(), convnp.randn(*shape))


@pytest.mark.parametrize("opset", [13, 18, 19])
def test_opsets(opset):
    """ReduceMean's axes moved to an input at 18; Pad's wrap mode exists from 19."""
    convnp.manual_seed(3)
    model = _m(lambda s, x: F.pad(x, (1, 1), mode="circular").mean(-1),)
    data = check_model(model, convnp.randn(2, 3, 4), opset_version=opset)
    proto = onnx.load_from_string(data)
    assert proto.opset_import[0].version == opset
    ops = {n.op_type for n in proto.graph.node}
    assert ("Pad" in ops) == (opset >= 19)


def test_initializers_keep_state_dict_names():
    convnp.manual_seed(0)
    from convnp.models import get_model

    model = get_model("lenet5")
    proto = onnx.load_from_string(_export(model.eval(), convnp.randn(1, 1, 32, 32)))
    inits = {t.name for t in proto.graph.initializer}
    assert set(model.state_dict()) <= inits
    back = convnp.onnx.load(proto)
    assert set(back.state_dict()) == set(model.state_dict())
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(back.state_dict()[k].array, v.array)


def test_export_restores_training_mode(tmp_path):
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.Dropout(0.5))
    model.train()
    path = tmp_path / "m.onnx"
    convnp.onnx.export(model, convnp.randn(1, 1, 5, 5), str(path))
    assert all(m.training for m in model.modules())
    assert path.stat().st_size > 0
    convnp.onnx.load(str(path))


# ----------------------------------------------------------------------- fine-tuning
def test_imported_model_fine_tunes_like_the_original():
    """The loaded model's weights are Parameters: gradients equal the original model's, and an
    SGD step changes its outputs exactly as it changes the original's."""
    convnp.manual_seed(4)
    from convnp.models import get_model

    model = _randomize_bn(get_model("resnet20", num_classes=3, in_channels=1)).eval()
    x, target = convnp.randn(2, 1, 8, 8), convnp.tensor([0, 2])
    back = convnp.onnx.load(_export(model, x)).eval()
    params = dict(back.named_parameters())
    assert set(params) == {k for k, _ in model.named_parameters()}
    before = back(x).array.copy()
    for net in (model, back):
        loss = F.cross_entropy(net(x), target)
        loss.backward()
    for k, p in model.named_parameters():
        np.testing.assert_allclose(params[k].grad.array, p.grad.array, rtol=1e-5, atol=1e-7)
    opt = convnp.optim.SGD(back.parameters(), lr=0.1)
    opt.step()
    convnp.optim.SGD(model.parameters(), lr=0.1).step()
    after = back(x).array
    assert not np.allclose(after, before)
    np.testing.assert_allclose(after, model(x).array, rtol=1e-5, atol=1e-6)


# ------------------------------------------------------------------------- from torch
def _torch():
    torch = pytest.importorskip("torch")
    return torch


def _torch_export(model, *xs, **kw) -> bytes:
    torch = _torch()
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, tuple(xs), buf, dynamo=False, **kw)
    return buf.getvalue()


def _torch_randomize(model):
    torch = _torch()
    g = torch.Generator().manual_seed(0)
    for m in model.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            c = m.num_features
            m.running_mean.copy_(torch.rand(c, generator=g) - 0.5)
            m.running_var.copy_(torch.rand(c, generator=g) + 0.5)
            if m.affine:
                m.weight.data.copy_(torch.rand(c, generator=g) + 0.5)
                m.bias.data.copy_(torch.rand(c, generator=g) - 0.5)
    return model.eval()


def _check_torch(model, *xs, tol=TOL, **kw):
    torch = _torch()
    model = _torch_randomize(model)
    data = _torch_export(model, *xs, **kw)
    net = convnp.onnx.load(data).eval()
    with torch.no_grad():
        want = model(*xs)
    want = [w.numpy() for w in (want if isinstance(want, tuple) else (want,))]
    got = _outs(net(*[convnp.tensor(x.numpy()) for x in xs]))
    for g, w in zip(got, want):
        assert g.shape == w.shape
        np.testing.assert_allclose(g, w, rtol=0, atol=tol * max(1.0, float(np.abs(w).max())))
    return net


def _torch_nets():
    tnn = _torch().nn
    torch = _torch()

    class Block(tnn.Module):
        def __init__(self, i, o, stride):
            super().__init__()
            self.conv1 = tnn.Conv2d(i, o, 3, stride, 1, bias=False)
            self.bn1 = tnn.BatchNorm2d(o)
            self.conv2 = tnn.Conv2d(o, o, 3, 1, 1, bias=False)
            self.bn2 = tnn.BatchNorm2d(o)
            self.relu = tnn.ReLU()
            self.downsample = None if stride == 1 and i == o else tnn.Sequential(
                tnn.Conv2d(i, o, 1, stride, bias=False), tnn.BatchNorm2d(o))

        def forward(self, x):
            idt = x if self.downsample is None else self.downsample(x)
            return self.relu(self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x))))) + idt)

    class ResNet18(tnn.Module):
        """torchvision's ResNet-18 layout (7x7 stem, max pool, 4 stages of 2 blocks)."""

        def __init__(self, width=16, num_classes=10):
            super().__init__()
            w = width
            self.conv1 = tnn.Conv2d(3, w, 7, 2, 3, bias=False)
            self.bn1, self.relu = tnn.BatchNorm2d(w), tnn.ReLU()
            self.maxpool = tnn.MaxPool2d(3, 2, 1)
            c, stages = w, []
            for i, s in enumerate([1, 2, 2, 2]):
                o = w * 2 ** i
                stages.append(tnn.Sequential(Block(c, o, s), Block(o, o, 1)))
                c = o
            self.layer1, self.layer2, self.layer3, self.layer4 = stages
            self.avgpool, self.fc = tnn.AdaptiveAvgPool2d(1), tnn.Linear(c, num_classes)

        def forward(self, x):
            x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
            x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
            return self.fc(torch.flatten(self.avgpool(x), 1))

    def double(i, o):
        return tnn.Sequential(tnn.Conv2d(i, o, 3, padding=1), tnn.BatchNorm2d(o), tnn.ReLU(),
                              tnn.Conv2d(o, o, 3, padding=1), tnn.BatchNorm2d(o), tnn.ReLU())

    class UNet(tnn.Module):
        """Two-level UNet: a transposed-conv and a bilinear decoder step, skip concatenation."""

        def __init__(self, c=4):
            super().__init__()
            self.e0, self.e1, self.e2 = double(1, c), double(c, 2 * c), double(2 * c, 4 * c)
            self.pool = tnn.MaxPool2d(2)
            self.up2 = tnn.ConvTranspose2d(4 * c, 2 * c, 2, stride=2)
            self.d1 = double(4 * c, 2 * c)
            self.up1 = tnn.Upsample(scale_factor=2, mode="bilinear", align_corners=False)
            self.d0 = double(3 * c, c)
            self.head = tnn.Conv2d(c, 2, 1)

        def forward(self, x):
            s0 = self.e0(x)
            s1 = self.e1(self.pool(s0))
            y = self.e2(self.pool(s1))
            y = self.d1(torch.cat([s1, self.up2(y)], 1))
            y = self.d0(torch.cat([s0, self.up1(y)], 1))
            return self.head(y)

    def dcgan_generator(nz=8, ngf=4):
        return tnn.Sequential(
            tnn.ConvTranspose2d(nz, ngf * 4, 4, 1, 0, bias=False), tnn.BatchNorm2d(ngf * 4),
            tnn.ReLU(True),
            tnn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False), tnn.BatchNorm2d(ngf * 2),
            tnn.ReLU(True),
            tnn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False), tnn.BatchNorm2d(ngf),
            tnn.ReLU(True),
            tnn.ConvTranspose2d(ngf, 3, 4, 2, 1, bias=False), tnn.Tanh())

    return ResNet18, UNet, dcgan_generator


def test_torch_resnet18():
    torch = _torch()
    torch.manual_seed(0)
    ResNet18, _, _ = _torch_nets()
    _check_torch(ResNet18(), torch.randn(2, 3, 32, 32))


def test_torch_unet():
    torch = _torch()
    torch.manual_seed(0)
    _, UNet, _ = _torch_nets()
    _check_torch(UNet(), torch.randn(2, 1, 16, 12))


def test_torch_dcgan_generator():
    torch = _torch()
    torch.manual_seed(0)
    _, _, gen = _torch_nets()
    net = _check_torch(gen(), torch.randn(2, 8, 1, 1))
    assert net(convnp.randn(2, 8, 1, 1)).shape == (2, 3, 32, 32)


def _torch_ops():
    torch = _torch()
    tnn, tF = torch.nn, torch.nn.functional

    class Zoo(tnn.Module):
        """One of each layer torch exports to the operators convnp.onnx.load runs."""

        def __init__(self):
            super().__init__()
            self.c1 = tnn.Conv2d(2, 4, 3, padding=1, padding_mode="reflect")
            self.c2 = tnn.Conv2d(4, 4, 3, padding=1, padding_mode="replicate", groups=2)
            self.c3 = tnn.Conv2d(4, 4, 3, padding=1, padding_mode="circular", dilation=1)
            self.c4 = tnn.Conv2d(4, 4, 3, stride=2, dilation=2, padding=2)
            self.ct = tnn.ConvTranspose2d(4, 4, 3, stride=2, padding=1, output_padding=1)
            self.prelu = tnn.PReLU(4)
            self.bn = tnn.BatchNorm2d(4)
            self.fc = tnn.Linear(4 * 3 * 3, 5)

        def forward(self, x):
            y = tF.leaky_relu(self.c1(x), 0.1)
            y = tF.elu(self.c2(y)) + tF.selu(y) + tF.gelu(y) + tF.silu(y)
            y = tF.hardswish(self.c3(y)) + tF.hardsigmoid(y) + tF.relu6(y) + tF.softplus(y)
            y = self.prelu(self.bn(self.c4(y)))
            y = tF.avg_pool2d(y, 3, 2, 1, ceil_mode=True, count_include_pad=False)
            y = tF.interpolate(y, scale_factor=2, mode="nearest") + tF.interpolate(
                y, scale_factor=2, mode="bilinear", align_corners=True)
            y = self.ct(y)
            y = tF.interpolate(y, size=(6, 6), mode="bicubic", align_corners=False)
            y = tF.max_pool2d(y, 2)
            y = tF.dropout(y, 0.5, training=False) * torch.sigmoid(y) - torch.tanh(y)
            z = self.fc(y.flatten(1))
            return torch.log_softmax(z, 1), torch.softmax(z, 1), tF.pad(y, (1, 2, 0, 1))

    return Zoo


def test_torch_op_zoo():
    torch = _torch()
    torch.manual_seed(0)
    _check_torch(_torch_ops()(), torch.randn(2, 2, 11, 11))


def test_torch_max_pool_indices():
    """PyTorch turns ONNX's whole-tensor MaxPool indices into per-plane ones with a second
    MaxPool, Slice and Sub: convnp's MaxPool must give ONNX's convention for that to work."""
    torch = _torch()
    torch.manual_seed(0)
    x = torch.randn(2, 3, 5, 6)
    model = torch.nn.MaxPool2d(2, stride=(2, 1), padding=1, return_indices=True)
    net = convnp.onnx.load(_torch_export(model, x))
    y, idx = net(convnp.tensor(x.numpy()))
    ty, tidx = model(x)
    np.testing.assert_array_equal(y.array, ty.numpy())
    np.testing.assert_array_equal(idx.array, tidx.numpy())


@pytest.mark.parametrize("opset", [13, 17])
def test_torch_opsets_and_dynamic_batch(opset):
    torch = _torch()
    torch.manual_seed(0)
    model = _torch_randomize(torch.nn.Sequential(
        torch.nn.Conv2d(1, 3, 3), torch.nn.BatchNorm2d(3), torch.nn.ReLU(),
        torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(3, 2),
        torch.nn.Softmax(1)))
    data = _torch_export(model, torch.randn(1, 1, 6, 6), opset_version=opset,
                         input_names=["x"], output_names=["y"],
                         dynamic_axes={"x": {0: "n"}, "y": {0: "n"}})
    x = torch.randn(4, 1, 6, 6)
    got = convnp.onnx.load(data)(convnp.tensor(x.numpy())).array
    np.testing.assert_allclose(got, model(x).detach().numpy(), atol=TOL)


def test_torch_gradients_match_after_import():
    """A torch network imported into convnp trains like torch: same gradients, same SGD step."""
    torch = _torch()
    torch.manual_seed(0)
    tnn = torch.nn
    model = tnn.Sequential(tnn.Conv2d(1, 3, 3, padding=1), tnn.ReLU(), tnn.MaxPool2d(2),
                           tnn.Flatten(), tnn.Linear(3 * 3 * 3, 4)).eval()
    x = torch.randn(2, 1, 6, 6)
    target = torch.tensor([1, 3])
    net = convnp.onnx.load(_torch_export(model, x))
    assert set(net.state_dict()) == set(model.state_dict())
    tf = torch.nn.functional
    tf.cross_entropy(model(x), target).backward()
    xc = convnp.tensor(x.numpy())
    F.cross_entropy(net(xc), convnp.tensor(target.numpy())).backward()
    tp = dict(model.named_parameters())
    for k, p in net.named_parameters():
        np.testing.assert_allclose(p.grad.array, tp[k].grad.numpy(), rtol=1e-5, atol=1e-6)
    torch.optim.SGD(model.parameters(), lr=0.5).step()
    before = net(xc).array.copy()
    convnp.optim.SGD(net.parameters(), lr=0.5).step()
    after = net(xc).array
    assert not np.allclose(after, before)
    np.testing.assert_allclose(after, model(x).detach().numpy(), rtol=1e-5, atol=1e-5)


# ----------------------------------------------------------------------------- errors
def test_unsupported_layer_named():
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.LocalResponseNorm(2))
    with pytest.raises(convnp.onnx.UnsupportedOperatorError,
                       match=r"LocalResponseNorm.*called by 1 \(LocalResponseNorm\)"):
        _export(model, convnp.randn(1, 1, 5, 5))


def test_layer_norm_needs_opset_17():
    with pytest.raises(convnp.onnx.UnsupportedOperatorError,
                       match=r"model \(LayerNorm\) calls Standardize \(layer norm\) below "
                             r"opset 17"):
        _export(nn.LayerNorm(3), convnp.randn(2, 3), opset_version=16)


def test_export_argument_errors():
    model = nn.Conv2d(1, 1, 1)
    with pytest.raises(TypeError, match="example input 0 must be a convnp Tensor"):
        _export(model, np.zeros((1, 1, 2, 2), np.float32))
    with pytest.raises(ValueError, match="opset_version must be between 13"):
        _export(model, convnp.randn(1, 1, 2, 2), opset_version=7)


def test_opset_newer_than_onnxruntime(monkeypatch):
    import onnxruntime

    from convnp.onnx import _export

    assert _export._ort_max_opset() >= 17  # the probe finds what the installed runtime loads
    monkeypatch.setattr(_export, "_ort_max_opset", lambda: 15)
    with pytest.raises(ValueError, match=rf"opset_version=17 is newer than the installed "
                                         rf"onnxruntime {onnxruntime.__version__} accepts \(up to "
                                         rf"15\); pass opset_version<=15"):
        _export_file(nn.ReLU(), convnp.randn(2))


def _export_file(model, x, **kw):
    return _export(model, x, opset_version=17, **kw)


def test_truncated_file(tmp_path):
    data = _export(nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU()).eval(), convnp.randn(1, 1, 5, 5))
    path = tmp_path / "cut.onnx"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=r"convnp.onnx.load: .*cut.onnx.*truncated"):
        convnp.onnx.load(str(path))
    with pytest.raises(ValueError, match="truncated"):
        convnp.onnx.load(b"not an onnx file at all")


def test_unknown_operators_all_listed():
    from onnx import TensorProto, helper

    nodes = [helper.make_node("Relu", ["x"], ["a"]),
             helper.make_node("Einsum", ["a", "a"], ["b"], equation="ij,ij->ij"),
             helper.make_node("TopK", ["b", "k"], ["c", "i"]),
             helper.make_node("MyOp", ["c"], ["y"], domain="my.domain")]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT,
                                                                     [2, 2])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 1])],
                          [helper.make_tensor("k", TensorProto.INT64, [1], [1])])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17),
                                            helper.make_opsetid("my.domain", 1)])
    with pytest.raises(convnp.onnx.UnsupportedOperatorError,
                       match=r"Einsum, TopK, my\.domain\.MyOp"):
        convnp.onnx.load(m.SerializeToString())


def test_wrong_input_shape_and_count():
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten(), nn.Linear(18, 2)).eval()
    net = convnp.onnx.load(_export(model, convnp.randn(1, 1, 5, 5),
                                   dynamic_axes={"input": [0]}))
    assert net(convnp.randn(3, 1, 5, 5)).shape == (3, 2)
    with pytest.raises(ValueError, match=r"input 'input' must have shape \(\?, 1, 5, 5\), got "
                                         r"\(3, 1, 6, 5\)"):
        net(convnp.randn(3, 1, 6, 5))
    with pytest.raises(ValueError, match="takes 1 inputs"):
        net(convnp.randn(1, 1, 5, 5), convnp.randn(1, 1, 5, 5))


def test_node_errors_name_the_node():
    from onnx import TensorProto, helper

    g = helper.make_graph([helper.make_node("Reshape", ["x", "s"], ["y"], name="bad_reshape")],
                          "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [5, 5])],
                          [helper.make_tensor("s", TensorProto.INT64, [2], [5, 5])])
    net = convnp.onnx.load(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]))
    with pytest.raises(RuntimeError,
                       match=r"ONNX Reshape node 'bad_reshape': reshape: shape \[5, 5\]"):
        net(convnp.randn(2, 3))


# ---------------------------------------------------------------------------------- CLI
def _fake_run(tmp_path, model_name="lenet5"):
    """A run directory as `convnp train` leaves it (config + checkpoint), without training."""
    from convnp import checkpoint as ckpt
    from convnp.train import TrainConfig, build_model

    cfg = TrainConfig(model=model_name, dataset="mnist")
    convnp.manual_seed(5)
    model = build_model(cfg, 10)
    run = tmp_path / "run"
    run.mkdir()
    ckpt.save({"config": cfg.to_json(), "model": model.state_dict(),
               "classes": [str(i) for i in range(10)]}, run / "checkpoint.safetensors")
    return run, model.eval()


def test_cli_export(tmp_path, capsys):
    from convnp.cli import main

    run, model = _fake_run(tmp_path)
    assert main(["export", str(run), "--format", "onnx"]) == 0
    out = capsys.readouterr().out
    assert "model.onnx" in out and "onnxruntime" in out and "matches convnp" in out
    x = convnp.randn(5, 1, 28, 28)
    got = _ort_run((run / "model.onnx").read_bytes(), x)[0]
    np.testing.assert_allclose(got, model(x).array, atol=TOL)
    meta = {p.key: p.value for p in onnx.load(str(run / "model.onnx")).metadata_props}
    assert meta["model"] == "lenet5" and "classes" in meta


def test_cli_export_errors(tmp_path, capsys):
    from convnp.cli import main

    assert main(["export", str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("convnp export: error: no checkpoint in") and err.count("\n") == 1
    run, _ = _fake_run(tmp_path)
    assert main(["export", str(run), "--opset", "5"]) == 2
    assert "opset_version must be between 13" in capsys.readouterr().err


# ------------------------------------------------------------------------------- docs
def test_docs_round_trip_example_runs(tmp_path, monkeypatch, capsys):
    import re
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[1] / "docs" / "onnx.md").read_text()
    section = doc[doc.index("## Train, export, run in onnxruntime, load back"):]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "docs/onnx.md (round trip)", "exec"), {})
    diff_ort, diff_back = (float(v) for v in capsys.readouterr().out.split())
    assert diff_ort < TOL and diff_back == 0.0
    assert (tmp_path / "lenet5.onnx").stat().st_size > 0


# --------------------------------------------------- import: single ONNX nodes vs onnxruntime
def _node_model(op, x_shape, inits=(), attrs=None, opset=19, n_in=None, extra_inputs=()):
    """A one-node graph ``y = op(x, *inits)``; ``inits``: (name, array) or "" for an omitted
    optional input."""
    from onnx import TensorProto, helper, numpy_helper

    names = ["x"] + [i if isinstance(i, str) else i[0] for i in inits]
    node = helper.make_node(op, names, ["y"], **(attrs or {}))
    tensors = [numpy_helper.from_array(a, n) for i in inits if not isinstance(i, str)
               for n, a in [i]]
    g = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT,
                                                                      list(x_shape))],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], tensors)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = helper.find_min_ir_version_for(list(m.opset_import))
    return m.SerializeToString()


def _w(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def _i64(*v):
    return np.asarray(v, np.int64)


def _f32(*v):
    return np.asarray(v, np.float32)


_NODES = {
    "conv-same_upper": ("Conv", (1, 2, 7, 6), [("w", _w(3, 2, 4, 3))],
                        dict(auto_pad="SAME_UPPER", strides=[2, 1])),
    "conv-same_lower": ("Conv", (1, 2, 7, 6), [("w", _w(3, 2, 4, 3))],
                        dict(auto_pad="SAME_LOWER", strides=[2, 2])),
    "conv-valid-bias": ("Conv", (1, 2, 7, 6), [("w", _w(3, 2, 3, 3)), ("b", _w(3))],
                        dict(auto_pad="VALID")),
    "conv-asym-pads-group": ("Conv", (1, 4, 6, 6), [("w", _w(4, 2, 3, 3))],
                             dict(pads=[0, 1, 2, 0], group=2)),
    "convT-output_shape": ("ConvTranspose", (1, 2, 4, 5), [("w", _w(2, 3, 3, 3))],
                           dict(strides=[2, 2], output_shape=[9, 10])),
    "convT-same_upper": ("ConvTranspose", (1, 2, 4, 5), [("w", _w(2, 3, 3, 3))],
                         dict(strides=[2, 2], auto_pad="SAME_UPPER")),
    "convT-pads-op": ("ConvTranspose", (1, 2, 4, 5), [("w", _w(2, 2, 3, 3))],
                      dict(strides=[3, 2], pads=[1, 0, 1, 1], output_padding=[2, 1])),
    "maxpool-asym": ("MaxPool", (1, 2, 6, 7), [], dict(kernel_shape=[3, 2], pads=[1, 0, 0, 1],
                                                       strides=[2, 2])),
    "maxpool-same": ("MaxPool", (1, 2, 6, 7), [], dict(kernel_shape=[3, 3], auto_pad="SAME_UPPER",
                                                       strides=[2, 2])),
    "avgpool-asym-exclude": ("AveragePool", (1, 2, 6, 7), [],
                             dict(kernel_shape=[3, 3], pads=[1, 0, 2, 1], count_include_pad=0)),
    "avgpool-asym-include": ("AveragePool", (1, 2, 6, 7), [],
                             dict(kernel_shape=[3, 3], pads=[1, 0, 2, 1], count_include_pad=1)),
    "avgpool-ceil": ("AveragePool", (1, 2, 6, 7), [],
                     dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1],
                          ceil_mode=1)),
    "globalmaxpool": ("GlobalMaxPool", (2, 3, 4, 5), [], {}),
    "pad-edge-axes": ("Pad", (1, 2, 4, 5), [("p", _i64(1, 2, 0, 3)), "", ("a", _i64(2, 3))],
                      dict(mode="edge")),
    "pad-reflect": ("Pad", (1, 2, 4, 5), [("p", _i64(0, 0, 1, 2, 0, 0, 2, 1))],
                    dict(mode="reflect")),
    "pad-wrap": ("Pad", (1, 2, 4, 5), [("p", _i64(0, 0, 1, 2, 0, 0, 2, 1))],
                 dict(mode="wrap")),
    "pad-constant-value": ("Pad", (1, 2, 4, 5), [("p", _i64(0, 1, 1, 2, 0, 0, 2, 1)),
                                                 ("v", _f32(1.5))], {}),
    "softmax-axis1": ("Softmax", (2, 3, 4), [], dict(axis=1)),
    "gemm-alpha-beta-transA": ("Gemm", (4, 3), [("b", _w(4, 5)), ("c", _w(3, 5))],
                               dict(alpha=0.5, beta=2.0, transA=1)),
    "prelu": ("PRelu", (2, 3, 4), [("s", _w(3, 1))], {}),
    "hardsigmoid-default": ("HardSigmoid", (2, 3), [], {}),
    "selu": ("Selu", (2, 3), [], {}),
    "shrink": ("Shrink", (2, 5), [], dict(lambd=0.3, bias=0.3)),
    "clip": ("Clip", (2, 5), [("lo", _f32(-0.2)), ("hi", _f32(0.4))], {}),
    "instance-norm": ("InstanceNormalization", (2, 3, 4, 5), [("g", _w(3)), ("b", _w(3))],
                      dict(epsilon=1e-3)),
    "gelu-tanh-opset20": ("Gelu", (2, 5), [], dict(approximate="tanh", _opset=20)),
    "reducemax-keepdims0": ("ReduceMax", (2, 3, 4), [("a", _i64(1))], dict(keepdims=0,
                                                                          _opset=18)),
    "flatten-axis2": ("Flatten", (2, 3, 4, 5), [], dict(axis=2)),
    "dropout-inference": ("Dropout", (2, 5), [("r", np.float32(0.3) * np.ones((), np.float32))],
                          {}),
}
for _ctm in ["half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric",
             "half_pixel_symmetric"]:
    _NODES[f"resize-linear-{_ctm}"] = ("Resize", (1, 2, 4, 5), ["", ("s", _f32(1, 1, 1.5, 0.6))],
                                       dict(mode="linear", coordinate_transformation_mode=_ctm))
    _NODES[f"resize-cubic-{_ctm}"] = ("Resize", (1, 2, 4, 5), ["", "", ("z", _i64(1, 2, 7, 3))],
                                      dict(mode="cubic", coordinate_transformation_mode=_ctm,
                                           cubic_coeff_a=-0.5))
for _nm in ["round_prefer_floor", "round_prefer_ceil", "floor", "ceil"]:
    _NODES[f"resize-nearest-{_nm}"] = ("Resize", (1, 2, 4, 5), ["", ("s", _f32(1, 1, 2.5, 1.4))],
                                       dict(mode="nearest", nearest_mode=_nm))
_NODES["resize-cubic-exclude"] = ("Resize", (1, 2, 4, 5), ["", ("s", _f32(1, 1, 2, 0.5))],
                                  dict(mode="cubic", exclude_outside=1))


@pytest.mark.parametrize("name", sorted(_NODES))
def test_import_node_matches_onnxruntime(name):
    op, shape, inits, attrs = _NODES[name]
    attrs = dict(attrs)
    data = _node_model(op, shape, inits, attrs, opset=attrs.pop("_opset", 19))
    x = _w(*shape, seed=1)
    want = _ort_run(data, x)[0]
    got = convnp.onnx.load(data)(convnp.from_numpy(x)).array
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=0, atol=TOL * max(1.0, float(np.abs(want).max())))


def test_imported_model_train_mode_matches_convnp():
    """train(): BatchNormalization uses batch statistics and updates the running buffers as
    convnp's BatchNorm does."""
    convnp.manual_seed(6)
    model = _randomize_bn(nn.Sequential(nn.Conv2d(1, 3, 3), nn.BatchNorm2d(3), nn.ReLU()))
    x = convnp.randn(4, 1, 6, 6)
    back = convnp.onnx.load(_export(model.eval(), x))
    model.train()
    back.train()
    np.testing.assert_allclose(back(x).array, model(x).array, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(back.state_dict()["1.running_mean"].array,
                               model[1].running_mean.array, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(back.state_dict()["1.running_var"].array,
                               model[1].running_var.array, rtol=1e-6, atol=1e-7)


def test_missing_extra_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)
    with pytest.raises(ImportError, match=r"convnp.onnx.export needs the 'onnx' package: pip "
                                          r"install 'convnp\[onnx\]'"):
        convnp.onnx.export(nn.ReLU(), convnp.randn(2), io.BytesIO())
    with pytest.raises(ImportError, match=r"convnp.onnx.load needs the 'onnx' package"):
        convnp.onnx.load(b"")
