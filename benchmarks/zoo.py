"""Model zoo: training step and inference of whole networks, convnp vs PyTorch side by side.

    python benchmarks/zoo.py                      # every network, 2 threads, with peak memory
    python benchmarks/zoo.py --quick              # a smoke run of a few minutes: smaller batches
    python benchmarks/zoo.py --only resnet20 unet --train --threads 1
    python benchmarks/zoo.py --markdown           # the table for docs/performance.md

Each network is described ONCE, as a function ``build(nn)`` of the layer namespace (``torch.nn``
or ``convnp.nn``, which mirrors it). Where ``convnp.models`` already has the network, the convnp
side is that model and the description reproduces its layout; its ``state_dict`` keys and shapes
must equal the torch twin's or the run stops. The torch weights (and non-trivial BatchNorm running
statistics) are copied into convnp, both get the same batches, and the outputs of an eval-mode
forward and every parameter gradient of one training step are compared (max abs diff printed)
before anything is timed.

Timing: alternating blocks convnp, torch, convnp, ... (``_timing.compare_all``), best and median
milliseconds per call for each side; the ratio is best/best. A training step is ``zero_grad``,
forward, loss, backward, SGD(momentum 0.9) step in train mode; inference is an eval-mode forward
under ``inference_mode``. When onnxruntime and ``convnp.onnx`` import, inference rows get an
onnxruntime column (the convnp model exported by ``convnp.onnx.export``), "-" where the export
fails.

Peak memory: each network runs once more per library in a child process that imports only that
library (the parent's imports and caches do not count), with glibc's mmap threshold fixed at
128 KiB and convnp's keep-freed-memory ``mallopt`` off (``CONVNP_KEEP_FREED_MEMORY=0``) so that
freed arrays go back to the system in both libraries. The child runs inference on one sample and
a training step on two (JIT compilation, kernel loading, optimizer state), records its resident
memory, then per call (inference at increasing batch, then training): runs it once, resets the
kernel's high-water mark (``/proc/self/clear_refs``), runs it again and reports VmHWM minus the
recorded figure: the memory a steady-state call needs beyond weights, optimizer state and code,
including what the library keeps between calls (convnp's reusable workspaces). Linux only;
elsewhere "-".
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import json
import os
import statistics
import subprocess
import sys
from collections import OrderedDict
from typing import Callable

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _timing  # noqa: E402  (first: thread environment before numpy/torch load)


def _lib(nn):
    """The framework (``torch`` or ``convnp``) whose ``nn`` namespace this is."""
    return importlib.import_module(nn.__name__.split(".")[0])


# ---------------------------------------------------------------- network descriptions


def lenet5(nn):
    """LeNet-5 on 28x28 digits (C1 pads by 2): convnp.models.LeNet5(input_size=28)'s layout."""
    return nn.Sequential(OrderedDict(
        features=nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
                               nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
                               nn.Conv2d(16, 120, 5), nn.ReLU()),
        classifier=nn.Sequential(nn.Flatten(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))))


def mnist_net(nn):
    """The PyTorch MNIST example's Net (examples/mnist): conv 32, conv 64, max pool, dropout,
    fc 9216-128, dropout, fc 128-10, log-softmax (trained with cross_entropy like the other
    classifiers: of log-softmax outputs it is the example's nll_loss)."""
    F = nn.functional

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(1, 32, 3, 1)
            self.conv2 = nn.Conv2d(32, 64, 3, 1)
            self.dropout1 = nn.Dropout(0.25)
            self.dropout2 = nn.Dropout(0.5)
            self.fc1 = nn.Linear(9216, 128)
            self.fc2 = nn.Linear(128, 10)

        def forward(self, x):
            x = F.relu(self.conv1(x))
            x = F.max_pool2d(F.relu(self.conv2(x)), 2)
            x = self.dropout1(x).flatten(1)
            x = self.dropout2(F.relu(self.fc1(x)))
            return F.log_softmax(self.fc2(x), dim=1)

    return Net()


def _basic_block(nn):
    class BasicBlock(nn.Module):
        def __init__(self, cin, cout, stride=1):
            super().__init__()
            self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(cout)
            self.relu = nn.ReLU()
            self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(cout)
            self.downsample = None
            if stride != 1 or cin != cout:
                self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False),
                                                nn.BatchNorm2d(cout))

        def forward(self, x):
            identity = x if self.downsample is None else self.downsample(x)
            out = self.relu(self.bn1(self.conv1(x)))
            return self.relu(self.bn2(self.conv2(out)) + identity)

    return BasicBlock


def _resnet(nn, widths, blocks, imagenet_stem, num_classes):
    block = _basic_block(nn)

    class ResNet(nn.Module):
        def __init__(self):
            super().__init__()
            if imagenet_stem:
                self.conv1 = nn.Conv2d(3, widths[0], 7, 2, 3, bias=False)
                self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
            else:
                self.conv1 = nn.Conv2d(3, widths[0], 3, 1, 1, bias=False)
                self.maxpool = nn.Identity()
            self.bn1 = nn.BatchNorm2d(widths[0])
            self.relu = nn.ReLU()
            c = widths[0]
            for i, (w, n) in enumerate(zip(widths, blocks)):
                stride = 1 if i == 0 else 2
                setattr(self, f"layer{i + 1}", nn.Sequential(
                    block(c, w, stride), *[block(w, w) for _ in range(n - 1)]))
                c = w
            self.fc = nn.Linear(c, num_classes)
            self.stages = len(widths)

        def forward(self, x):
            x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
            for i in range(self.stages):
                x = getattr(self, f"layer{i + 1}")(x)
            return self.fc(x.mean((2, 3)))

    return ResNet()


def resnet20(nn):
    """ResNet-20 for 32x32 images, 1x1-conv shortcuts: convnp.models.resnet20's layout."""
    return _resnet(nn, (16, 32, 64), (3, 3, 3), False, 10)


def resnet18(nn):
    """ResNet-18, torchvision's layout, 1000 classes: convnp.models.ResNet18's."""
    return _resnet(nn, (64, 128, 256, 512), (2, 2, 2, 2), True, 1000)


def vgg11(nn):
    """VGG-11 with batch norm (configuration A) on 32x32 images, a linear classifier."""
    layers, c = [], 3
    for v in (64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"):
        if v == "M":
            layers.append(nn.MaxPool2d(2))
        else:
            layers += [nn.Conv2d(c, v, 3, padding=1, bias=False), nn.BatchNorm2d(v), nn.ReLU()]
            c = v
    return nn.Sequential(OrderedDict(
        features=nn.Sequential(*layers),
        classifier=nn.Sequential(nn.Flatten(), nn.Linear(512, 10))))


def mobilenetv2(nn):
    """MobileNetV2 for 32x32 images (stride-1 stem and second stage, as CIFAR variants do):
    inverted residuals 1x1 expand - BN - ReLU6 - depthwise 3x3 - BN - ReLU6 - 1x1 project - BN."""

    class InvertedResidual(nn.Module):
        def __init__(self, cin, cout, stride, expand):
            super().__init__()
            hidden = cin * expand
            layers = []
            if expand != 1:
                layers += [nn.Conv2d(cin, hidden, 1, bias=False), nn.BatchNorm2d(hidden),
                           nn.ReLU6()]
            layers += [nn.Conv2d(hidden, hidden, 3, stride, 1, groups=hidden, bias=False),
                       nn.BatchNorm2d(hidden), nn.ReLU6(),
                       nn.Conv2d(hidden, cout, 1, bias=False), nn.BatchNorm2d(cout)]
            self.conv = nn.Sequential(*layers)
            self.residual = stride == 1 and cin == cout

        def forward(self, x):
            return x + self.conv(x) if self.residual else self.conv(x)

    layers, c = [nn.Conv2d(3, 32, 3, 1, 1, bias=False), nn.BatchNorm2d(32), nn.ReLU6()], 32
    for t, w, n, s in ((1, 16, 1, 1), (6, 24, 2, 1), (6, 32, 3, 2), (6, 64, 4, 2),
                       (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)):
        for i in range(n):
            layers.append(InvertedResidual(c, w, s if i == 0 else 1, t))
            c = w
    layers += [nn.Conv2d(c, 1280, 1, bias=False), nn.BatchNorm2d(1280), nn.ReLU6(),
               nn.AdaptiveAvgPool2d(1), nn.Flatten()]
    return nn.Sequential(OrderedDict(features=nn.Sequential(*layers),
                                     classifier=nn.Linear(1280, 10)))


def unet(nn):
    """UNet, base 16, depth 3, bilinear upsampling, 3 channels in, 2 classes per pixel:
    convnp.models.UNet(3, 2, 16, 3)'s layout (DoubleConv = two conv - BN - ReLU)."""
    cat = _lib(nn).cat

    class ConvNormAct(nn.Module):
        def __init__(self, cin, cout):
            super().__init__()
            self.conv = nn.Conv2d(cin, cout, 3, padding=1, bias=False)
            self.norm = nn.BatchNorm2d(cout)
            self.act = nn.ReLU()

        def forward(self, x):
            return self.act(self.norm(self.conv(x)))

    class DoubleConv(nn.Module):
        def __init__(self, cin, cout):
            super().__init__()
            self.conv1, self.conv2 = ConvNormAct(cin, cout), ConvNormAct(cout, cout)

        def forward(self, x):
            return self.conv2(self.conv1(x))

    class Up(nn.Module):
        def __init__(self, cin, cout):
            super().__init__()
            self.up = nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False)
            self.conv = DoubleConv(cin + cout, cout)

        def forward(self, x, skip):
            return self.conv(cat([skip, self.up(x)], dim=1))

    class UNet(nn.Module):
        def __init__(self, base=16, depth=3):
            super().__init__()
            ch = [base * 2 ** i for i in range(depth + 1)]
            self.enc = nn.ModuleList([DoubleConv(3, ch[0])] + [
                nn.Sequential(nn.MaxPool2d(2), DoubleConv(ch[i - 1], ch[i]))
                for i in range(1, depth + 1)])
            self.dec = nn.ModuleList([Up(ch[i], ch[i - 1]) for i in range(depth, 0, -1)])
            self.head = nn.Conv2d(ch[0], 2, 1)

        def forward(self, x):
            skips = []
            for stage in self.enc:
                x = stage(x)
                skips.append(x)
            x = skips.pop()
            for up in self.dec:
                x = up(x, skips.pop())
            return self.head(x)

    return UNet()


def dcgan_g(nn):
    """DCGAN generator (Radford et al.): z (100, 1, 1) -> 3 x 64 x 64, ConvTranspose2d + BN."""
    layers, c = [nn.ConvTranspose2d(100, 512, 4, 1, 0, bias=False), nn.BatchNorm2d(512),
                 nn.ReLU()], 512
    for w in (256, 128, 64):
        layers += [nn.ConvTranspose2d(c, w, 4, 2, 1, bias=False), nn.BatchNorm2d(w), nn.ReLU()]
        c = w
    layers += [nn.ConvTranspose2d(c, 3, 4, 2, 1, bias=False), nn.Tanh()]
    return nn.Sequential(*layers)


def dcgan_d(nn):
    """DCGAN discriminator: 3 x 64 x 64 -> one logit, strided convs + BN + LeakyReLU(0.2)."""
    layers, c = [nn.Conv2d(3, 64, 4, 2, 1, bias=False), nn.LeakyReLU(0.2)], 64
    for w in (128, 256, 512):
        layers += [nn.Conv2d(c, w, 4, 2, 1, bias=False), nn.BatchNorm2d(w), nn.LeakyReLU(0.2)]
        c = w
    layers += [nn.Conv2d(c, 1, 4, 1, 0, bias=False), nn.Flatten()]
    return nn.Sequential(*layers)


def cnn1d(nn):
    """1-d CNN on sequences, channels 32/64/128: convnp.models.CNN1d's layout."""
    return _cnn_nd(nn, 1, 32, (5, 5, 3))


def cnn3d(nn):
    """3-d CNN on volumes, channels 16/32/64: convnp.models.CNN3d's layout."""
    return _cnn_nd(nn, 3, 16, (3, 3, 3))


def _cnn_nd(nn, dim, c, kernels):
    conv, bn, pool = (getattr(nn, f"{k}{dim}d") for k in ("Conv", "BatchNorm", "MaxPool"))

    def cbr(i, o, k):
        return [conv(i, o, k, padding=k // 2, bias=False), bn(o), nn.ReLU()]

    class CNN(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = nn.Sequential(*cbr(1, c, kernels[0]), pool(2),
                                          *cbr(c, 2 * c, kernels[1]), pool(2),
                                          *cbr(2 * c, 4 * c, kernels[2]))
            self.fc = nn.Linear(4 * c, 10)

        def forward(self, x):
            return self.fc(self.features(x).mean(tuple(range(2, 2 + dim))))

    return CNN()


def _models(name: str, **kwargs) -> Callable:
    def make():
        from convnp import models

        return getattr(models, name)(**kwargs)

    return make


def _unet_model():
    from convnp.models.encoder_decoder import UNet

    return UNet(in_channels=3, num_classes=2, base_channels=16, depth=3)


@dataclasses.dataclass
class Net:
    build: Callable          # build(nn) -> module, for torch.nn and convnp.nn
    shape: tuple             # one input without the batch axis
    task: str                # classify | segment | generate | discriminate
    train: int               # training batch
    infer: tuple             # inference batches
    quick_train: int
    quick_infer: tuple
    tiny_shape: tuple | None = None   # smallest input the test uses (None: shape)
    model: Callable | None = None     # convnp.models factory when convnp has the network


ZOO = {
    "resnet20": Net(resnet20, (3, 32, 32), "classify", 128, (1, 32), 32, (1, 8),
                    (3, 8, 8), _models("resnet20", num_classes=10, in_channels=3)),
    "resnet18": Net(resnet18, (3, 224, 224), "classify", 16, (1, 32), 2, (1, 4),
                    (3, 64, 64), _models("ResNet18", num_classes=1000, in_channels=3)),
    "vgg11": Net(vgg11, (3, 32, 32), "classify", 64, (1, 32), 8, (1, 8)),
    "mobilenetv2": Net(mobilenetv2, (3, 32, 32), "classify", 64, (1, 32), 8, (1, 8)),
    "unet": Net(unet, (3, 64, 64), "segment", 16, (1, 32), 4, (1, 8), (3, 16, 16),
                _unet_model),
    "dcgan-g": Net(dcgan_g, (100, 1, 1), "generate", 16, (1, 32), 4, (1, 8)),
    "dcgan-d": Net(dcgan_d, (3, 64, 64), "discriminate", 32, (1, 32), 8, (1, 8)),
    "cnn1d": Net(cnn1d, (1, 1024), "classify", 64, (1, 32), 16, (1, 8), (1, 32),
                 _models("CNN1d", num_classes=10, in_channels=1, channels=32)),
    "cnn3d": Net(cnn3d, (1, 16, 32, 32), "classify", 16, (1, 32), 4, (1, 8), (1, 8, 8, 8),
                 _models("CNN3d", num_classes=10, in_channels=1, channels=16)),
    "mnist-net": Net(mnist_net, (1, 28, 28), "classify", 64, (1, 32), 64, (1, 8)),
    "lenet5": Net(lenet5, (1, 28, 28), "classify", 64, (1, 32), 64, (1, 32), None,
                  _models("LeNet5", num_classes=10, in_channels=1, input_size=28)),
}

LOSS = {"classify": "cross_entropy", "segment": "cross_entropy", "generate": "mse_loss",
        "discriminate": "binary_cross_entropy_with_logits"}


def build_pair(name: str, seed: int = 0):
    """(convnp model, torch model) of zoo network ``name`` with the same weights and BatchNorm
    running statistics (copied from torch). Raises when the state_dict layouts differ."""
    import numpy as np
    import torch

    import convnp

    entry = ZOO[name]
    torch.manual_seed(seed)
    tmodel = entry.build(torch.nn)
    cmodel = entry.model() if entry.model is not None else entry.build(convnp.nn)
    tstate, cstate = tmodel.state_dict(), cmodel.state_dict()
    tshapes = {k: tuple(v.shape) for k, v in tstate.items()}
    cshapes = {k: tuple(v.shape) for k, v in cstate.items()}
    if tshapes != cshapes:
        only_t = sorted(set(tshapes) - set(cshapes))[:5]
        only_c = sorted(set(cshapes) - set(tshapes))[:5]
        bad = [k for k in tshapes if k in cshapes and tshapes[k] != cshapes[k]][:5]
        raise RuntimeError(f"zoo {name}: convnp and torch state_dicts differ: only torch "
                           f"{only_t}, only convnp {only_c}, shapes differ {bad}")
    rng = np.random.default_rng(seed)
    with torch.no_grad():
        for m in tmodel.modules():
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                m.running_mean.copy_(torch.from_numpy(rng.uniform(-0.2, 0.2, m.num_features)))
                m.running_var.copy_(torch.from_numpy(rng.uniform(0.5, 1.5, m.num_features)))
    cmodel.load_state_dict({k: convnp.from_numpy(v.detach().numpy().copy())
                            for k, v in tmodel.state_dict().items()})
    return cmodel, tmodel


def make_batch(name: str, batch: int, shape=None, seed: int = 0):
    """(input, target) NumPy arrays for one step of zoo network ``name``."""
    import numpy as np

    entry = ZOO[name]
    shape = shape or entry.shape
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch,) + tuple(shape)).astype(np.float32)
    if entry.task == "classify":
        y = rng.integers(0, 1000 if name == "resnet18" else 10, batch)
    elif entry.task == "segment":
        y = rng.integers(0, 2, (batch,) + tuple(shape[1:]))
    elif entry.task == "generate":
        y = rng.uniform(-1, 1, (batch, 3, 64, 64)).astype(np.float32)
    else:
        y = (rng.random((batch, 1)) < 0.5).astype(np.float32)
    return x, y


def _sides(cmodel, tmodel, x, y, task):
    """Per framework: (model, input, target, functional namespace, optimizer, inference ctx)."""
    import torch

    import convnp
    import convnp.nn.functional as cF
    import convnp.optim

    return {
        "convnp": (cmodel, convnp.from_numpy(x), convnp.from_numpy(y), cF,
                   convnp.optim.SGD(cmodel.parameters(), lr=0.01, momentum=0.9),
                   convnp.inference_mode),
        "torch": (tmodel, torch.from_numpy(x), torch.from_numpy(y), torch.nn.functional,
                  torch.optim.SGD(tmodel.parameters(), lr=0.01, momentum=0.9),
                  torch.inference_mode),
    }


def _fn(side, mode, loss_name):
    model, x, y, F, opt, ctx = side
    loss_fn = getattr(F, loss_name)
    if mode == "infer":
        def run():
            with ctx():
                return model(x)
        return run

    def step():
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        return loss
    return step


def _to_np(t):
    return t.detach().numpy() if hasattr(t, "numpy") and not hasattr(t, "array") else t.array


def check(cmodel, tmodel, x, y, task, with_grads: bool = True) -> tuple[float, float, float]:
    """Max abs differences of eval-mode outputs and of every parameter gradient of one
    train-mode forward/backward (weights unchanged; dropout off, as each library draws its own
    masks), and the gradient difference relative to the largest torch gradient."""
    import numpy as np

    sides = _sides(cmodel, tmodel, x, y, task)
    outs, grads = {}, {}
    for key, (model, xs, ys, F, _, ctx) in sides.items():
        model.eval()
        with ctx():
            outs[key] = _to_np(model(xs))
        if not with_grads:
            continue
        model.train()
        for m in model.modules():  # each library draws its own dropout masks: compare without
            if type(m).__name__.startswith("Dropout"):
                m.eval()
        for p in model.parameters():
            p.grad = None
        getattr(F, LOSS[task])(model(xs), ys).backward()
        grads[key] = {k: _to_np(p.grad) for k, p in model.named_parameters()}
    d_out = float(np.abs(outs["convnp"] - outs["torch"]).max())
    if not with_grads:
        return d_out, float("nan"), float("nan")
    d_grad = max(float(np.abs(grads["convnp"][k] - g).max()) for k, g in grads["torch"].items())
    # relative to the network's largest gradient: a parameter whose exact gradient is zero
    # (a bias before batch norm) has only rounding noise in both
    rel = d_grad / max(float(np.abs(g).max()) for g in grads["torch"].values())
    return d_out, d_grad, rel


def _ort_runner(cmodel, x, threads):
    """An onnxruntime callable for the exported eval-mode convnp model, or None."""
    try:
        import io

        import onnxruntime as ort

        import convnp
        import convnp.onnx
    except ImportError:
        return None
    try:
        buf = io.BytesIO()
        convnp.onnx.export(cmodel, convnp.from_numpy(x), buf)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        sess = ort.InferenceSession(buf.getvalue(), opts, providers=["CPUExecutionProvider"])
        name = sess.get_inputs()[0].name
    except Exception as exc:  # an op convnp.onnx cannot export: the column shows "-"
        print(f"      (onnxruntime skipped: {type(exc).__name__}: {str(exc)[:100]})")
        return None
    return lambda: sess.run(None, {name: x})[0]


def rows_for(name, quick, modes, repeats, threads, onnx=True):
    """Time one zoo network; yields one dict per (mode, batch)."""
    entry = ZOO[name]
    plan = []
    if "infer" in modes:
        plan += [("infer", b) for b in (entry.quick_infer if quick else entry.infer)]
    if "train" in modes:
        plan.append(("train", entry.quick_train if quick else entry.train))
    for mode, batch in plan:
        cmodel, tmodel = build_pair(name)
        x, y = make_batch(name, batch)
        d_out, d_grad, _ = check(cmodel, tmodel, x, y, entry.task, with_grads=mode == "train")
        sides = _sides(cmodel, tmodel, x, y, entry.task)
        for model, *_ in sides.values():
            model.train(mode == "train")
        fc = _fn(sides["convnp"], mode, LOSS[entry.task])
        ft = _fn(sides["torch"], mode, LOSS[entry.task])
        # blocks of about 50 ms so the fast rows are not timer noise; --quick: single calls
        number = 1 if quick else max(1, min(_timing.auto_number(fc), _timing.auto_number(ft)))
        tc, tt = _timing.compare_all(fc, ft, repeats=repeats, number=number)
        row = dict(net=name, mode=mode, batch=batch, convnp_best=min(tc),
                   convnp_median=statistics.median(tc), torch_best=min(tt),
                   torch_median=statistics.median(tt), diff_out=d_out,
                   diff_grad=d_grad if mode == "train" else None, ort_best=None)
        if mode == "infer" and onnx:
            fo = _ort_runner(cmodel, x, threads)
            if fo is not None:
                _, to = _timing.compare_all(fc, fo, repeats=repeats, number=number)
                row["ort_best"] = min(to)
        yield row


# ---------------------------------------------------------------- peak memory (child process)


def _status_kb(key: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key):
                return int(line.split()[1])
    raise KeyError(key)


def _memory_child(name, side, quick, modes) -> dict:
    """In a fresh process: peak resident MiB of each (mode, batch) call of one library above
    the resident memory after warm-up calls on tiny batches (calls in order: inference at
    increasing batch, then training, so each number includes what earlier calls left held)."""
    import numpy as np

    entry = ZOO[name]
    if side == "torch":
        import torch

        model = entry.build(torch.nn)
        F, ctx, wrap = torch.nn.functional, torch.inference_mode, torch.from_numpy
        opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    else:
        import convnp
        import convnp.nn.functional as cF
        import convnp.optim

        model = entry.model() if entry.model is not None else entry.build(convnp.nn)
        F, ctx, wrap = cF, convnp.inference_mode, convnp.from_numpy
        opt = convnp.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    result = {}
    plan = []
    if "infer" in modes:
        plan += [("infer", b) for b in (entry.quick_infer if quick else entry.infer)]
    if "train" in modes:
        plan.append(("train", entry.quick_train if quick else entry.train))
    def call(mode, x, y):
        model.train(mode == "train")
        x, y = wrap(x), wrap(np.ascontiguousarray(y))
        return _fn((model, x, y, F, opt, ctx), mode, LOSS[entry.task])

    batches = {(mode, batch): make_batch(name, batch) for mode, batch in plan}
    # compile and load every kernel on tiny batches first (Numba's code is memory of the
    # process, not of the network), allocate the optimizer state, then take the baseline
    for mode in modes:
        call(mode, *make_batch(name, 1 if mode == "infer" else 2))()
    base = _status_kb("VmRSS:")
    for mode, batch in plan:
        fn = call(mode, *batches[mode, batch])
        fn()
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        out = fn()  # noqa: F841  (held, as a caller would hold the output)
        result[f"{mode}{batch}"] = (_status_kb("VmHWM:") - base) / 1024
        del out
    return result


def memory(name, quick, modes, threads) -> dict:
    """{side: {"infer32": MiB, "train128": MiB, ...}} from one child process per library."""
    if not os.path.exists("/proc/self/clear_refs"):
        return {}
    # one malloc policy for both: convnp's import would otherwise raise the thresholds to keep
    # freed memory, which hides a call's temporaries from an RSS high-water mark
    env = dict(os.environ, MALLOC_MMAP_THRESHOLD_="131072", CONVNP_KEEP_FREED_MEMORY="0")
    for v in _timing._THREAD_VARS:
        env[v] = str(threads)
    res = {}
    for side in ("convnp", "torch"):
        cmd = [sys.executable, os.path.abspath(__file__), "--_memory-child", name, side,
               ",".join(modes)] + (["--quick"] if quick else [])
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if proc.returncode:
            print(f"      (memory child {name} {side} failed: "
                  f"{proc.stderr.strip().splitlines()[-1:]})")
            continue
        res[side] = json.loads(proc.stdout.strip().splitlines()[-1])
    return res


# ---------------------------------------------------------------- report


def _ms(t):
    return "-" if t is None else f"{t * 1e3:.1f}"


def _mib(mem, side, key):
    v = mem.get(side, {}).get(key)
    return "-" if v is None else f"{v:.0f}"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true",
                    help="2 repeats of single calls, smaller batches (a smoke run)")
    ap.add_argument("--only", nargs="+", metavar="NAME", choices=list(ZOO),
                    help=f"subset of: {' '.join(ZOO)}")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=None)
    ap.add_argument("--train", action="store_true", help="training steps only")
    ap.add_argument("--inference", action="store_true", help="inference only")
    ap.add_argument("--no-memory", action="store_true", help="skip the peak-memory children")
    ap.add_argument("--no-onnx", action="store_true", help="skip the onnxruntime column")
    ap.add_argument("--markdown", action="store_true", help="also print a markdown table")
    ap.add_argument("--_memory-child", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    modes = ["infer", "train"]
    if args.train != args.inference:
        modes = ["train"] if args.train else ["infer"]

    if args._memory_child:
        name, side, child_modes = args._memory_child
        n = int(os.environ.get("OMP_NUM_THREADS", "1"))
        if side == "torch":  # the torch child never imports convnp, and vice versa
            import torch

            torch.set_num_threads(n)
        else:
            import convnp

            convnp.set_num_threads(n)
        print(json.dumps(_memory_child(name, side, args.quick, child_modes.split(","))))
        return 0

    threads = _timing.pin_threads(args.threads)  # before numpy/torch initialise their pools
    import torch

    repeats = args.repeats or (2 if args.quick else 7)
    _timing.header(threads, repeats)
    print(f"torch {torch.__version__}; batches: {'--quick' if args.quick else 'full'}; "
          "ms = best/median per call; ratio = convnp best / torch best; "
          "peak extra MiB = a call's peak RSS above the warmed-up process (child processes)")
    print(f"{'network':12} {'pass':6} {'batch':>5} {'convnp ms':>17} {'torch ms':>17} "
          f"{'ratio':>6} {'ort ms':>7}   {'max|diff| out, grad':>20}")
    table, ratios = [], {"infer": [], "train": []}
    for name in args.only or list(ZOO):
        rows = []
        for r in rows_for(name, args.quick, modes, repeats, args.threads,
                          onnx=not args.no_onnx):
            ratio = r["convnp_best"] / r["torch_best"]
            ratios[r["mode"]].append(ratio)
            grad = "" if r["diff_grad"] is None else f", {r['diff_grad']:.1e}"
            print(f"{name:12} {r['mode']:6} {r['batch']:5d} "
                  f"{_ms(r['convnp_best']):>8}/{_ms(r['convnp_median']):>8} "
                  f"{_ms(r['torch_best']):>8}/{_ms(r['torch_median']):>8} {ratio:6.2f} "
                  f"{_ms(r['ort_best']):>7}   {r['diff_out']:9.1e}{grad}", flush=True)
            rows.append(r)
        mem = {} if args.no_memory else memory(name, args.quick, modes, args.threads)
        for r in rows:
            key = f"{r['mode']}{r['batch']}"
            r["mem_convnp"] = mem.get("convnp", {}).get(key)
            r["mem_torch"] = mem.get("torch", {}).get(key)
        if mem:
            print(f"{'':12} peak extra MiB convnp / torch: " + ", ".join(
                f"{r['mode']} {r['batch']}: {_mib(mem, 'convnp', k)} / {_mib(mem, 'torch', k)}"
                for r in rows for k in [f"{r['mode']}{r['batch']}"]), flush=True)
        table += rows
    for mode, rs in ratios.items():
        if rs:
            print(f"geomean ratio {mode:5}: {_timing.geomean(rs):.2f}   worst {max(rs):.2f}")
    if args.markdown:
        print("\n| network | pass | batch | convnp ms best / median | torch ms best / median "
              "| convnp / torch | onnxruntime ms | peak MiB convnp / torch | max abs diff |")
        print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
        for r in table:
            mc = "-" if r["mem_convnp"] is None else f"{r['mem_convnp']:.0f}"
            mt = "-" if r["mem_torch"] is None else f"{r['mem_torch']:.0f}"
            diff = f"{r['diff_out']:.1e}" + ("" if r["diff_grad"] is None
                                            else f" / {r['diff_grad']:.1e}")
            print(f"| {r['net']} | {r['mode']} | {r['batch']} | {_ms(r['convnp_best'])} / "
                  f"{_ms(r['convnp_median'])} | {_ms(r['torch_best'])} / "
                  f"{_ms(r['torch_median'])} | {r['convnp_best'] / r['torch_best']:.2f} | "
                  f"{_ms(r['ort_best'])} | {mc} / {mt} | {diff} |")
        for mode, rs in ratios.items():
            if rs:
                print(f"\nGeometric mean convnp / torch, {mode}: {_timing.geomean(rs):.2f} "
                      f"(worst {max(rs):.2f}).")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
