"""Inference time of convnp.models networks: convnp vs PyTorch vs onnxruntime (the ONNX file
convnp.onnx.export writes), side by side in one process, same thread count.

    python benchmarks/onnx_infer.py                 # batch 32, 2 threads
    python benchmarks/onnx_infer.py --quick --batch 8 --threads 1

Each network is built in convnp (random weights, non-trivial BatchNorm statistics), copied into a
PyTorch twin (same state_dict keys) and exported to ONNX; the three outputs are checked against
each other before timing. Columns: ms per batch for each runtime and the ratios convnp/torch and
convnp/onnxruntime (lower is better). ``rows()`` returns the numbers, for a model-zoo table.
Timings on a shared machine are noisy.
"""

from __future__ import annotations

import argparse
import io
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _timing  # noqa: E402  (first: thread environment before numpy/torch load)

# name -> (convnp registry kwargs, input shape without the batch axis)
MODELS = {
    "lenet5": (dict(num_classes=10, in_channels=1, input_size=28), (1, 28, 28)),
    "vgg-tiny": (dict(num_classes=10, in_channels=1), (1, 28, 28)),
    "resnet20": (dict(num_classes=10, in_channels=3), (3, 32, 32)),
}


def _torch_twin(name: str):
    """PyTorch networks laid out as convnp.models' (their state_dicts load into each other)."""
    import torch
    from torch import nn

    def cbr(i, o, stride=1):
        return [nn.Conv2d(i, o, 3, stride, 1, bias=False), nn.BatchNorm2d(o), nn.ReLU()]

    class Block(nn.Module):
        def __init__(self, i, o, stride):
            super().__init__()
            self.conv1, self.bn1 = nn.Conv2d(i, o, 3, stride, 1, bias=False), nn.BatchNorm2d(o)
            self.relu = nn.ReLU()
            self.conv2, self.bn2 = nn.Conv2d(o, o, 3, 1, 1, bias=False), nn.BatchNorm2d(o)
            self.downsample = None if stride == 1 and i == o else nn.Sequential(
                nn.Conv2d(i, o, 1, stride, bias=False), nn.BatchNorm2d(o))

        def forward(self, x):
            idt = x if self.downsample is None else self.downsample(x)
            return self.relu(self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x))))) + idt)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            if name == "lenet5":
                self.features = nn.Sequential(
                    nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
                    nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(16, 120, 5),
                    nn.ReLU())
                self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(120, 84), nn.ReLU(),
                                                nn.Linear(84, 10))
            elif name == "vgg-tiny":
                layers, c = [], 1
                for w in (16, 32, 64):
                    layers += cbr(c, w) + cbr(w, w) + [nn.MaxPool2d(2)]
                    c = w
                self.features = nn.Sequential(*layers)
                self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(64, 10))
            else:
                self.conv1, self.bn1, self.relu = (nn.Conv2d(3, 16, 3, 1, 1, bias=False),
                                                   nn.BatchNorm2d(16), nn.ReLU())
                stages, c = [], 16
                for w, s in ((16, 1), (32, 2), (64, 2)):
                    stages.append(nn.Sequential(Block(c, w, s), Block(w, w, 1), Block(w, w, 1)))
                    c = w
                self.layer1, self.layer2, self.layer3 = stages
                self.fc = nn.Linear(64, 10)

        def forward(self, x):
            if name == "lenet5":
                return self.classifier(self.features(x))
            if name == "vgg-tiny":
                return self.classifier(self.features(x).mean((2, 3)))
            x = self.relu(self.bn1(self.conv1(x)))
            return self.fc(self.layer3(self.layer2(self.layer1(x))).mean((2, 3)))

    with torch.no_grad():
        return Net().eval()


def rows(names=None, batch: int = 32, repeats: int = 5, threads: int = 2) -> list[dict]:
    """One dict per network: ms per batch in convnp, torch and onnxruntime, and the max output
    differences to convnp."""
    import numpy as np
    import onnxruntime as ort
    import torch

    import convnp
    from convnp.models import get_model
    from convnp.nn.modules.normalization import _BatchNorm

    out = []
    for name in names or MODELS:
        kwargs, shape = MODELS[name]
        convnp.manual_seed(0)
        model = get_model(name, **kwargs)
        rng = np.random.default_rng(0)
        for m in model.modules():
            if isinstance(m, _BatchNorm):
                m.running_mean.array[...] = rng.uniform(-0.2, 0.2, m.running_mean.shape)
                m.running_var.array[...] = rng.uniform(0.5, 1.5, m.running_var.shape)
        model.eval()
        tmodel = _torch_twin(name)
        tmodel.load_state_dict({k: torch.from_numpy(v.array.copy())
                                for k, v in model.state_dict().items()})
        x = rng.standard_normal((batch,) + shape).astype(np.float32)
        buf = io.BytesIO()
        convnp.onnx.export(model, convnp.from_numpy(x), buf,
                           dynamic_axes={"input": [0], "output": [0]})
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        sess = ort.InferenceSession(buf.getvalue(), opts, providers=["CPUExecutionProvider"])
        xc, xt = convnp.from_numpy(x), torch.from_numpy(x)

        def run_convnp(model=model, xc=xc):
            with convnp.no_grad():
                return model(xc).array

        def run_torch(tmodel=tmodel, xt=xt):
            with torch.no_grad():
                return tmodel(xt).numpy()

        def run_ort(sess=sess, x=x):
            return sess.run(None, {"input": x})[0]

        ref = run_convnp()
        d_torch = float(np.abs(run_torch() - ref).max())
        d_ort = float(np.abs(run_ort() - ref).max())
        number = _timing.auto_number(run_convnp)
        t_c, t_t = _timing.compare(run_convnp, run_torch, repeats=repeats, number=number)
        _, t_o = _timing.compare(run_convnp, run_ort, repeats=repeats, number=number)
        out.append(dict(model=name, batch=batch, convnp_ms=1e3 * t_c, torch_ms=1e3 * t_t,
                        onnxruntime_ms=1e3 * t_o, max_diff_torch=d_torch, max_diff_ort=d_ort))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer repeats")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--models", nargs="*", default=list(MODELS), choices=list(MODELS))
    args = ap.parse_args()
    threads = _timing.pin_threads(args.threads)
    repeats = 3 if args.quick else 7
    _timing.header(threads, repeats)
    print(f"{'model':10s} {'batch':>5s} {'convnp ms':>10s} {'torch ms':>9s} {'ort ms':>8s} "
          f"{'c/torch':>8s} {'c/ort':>7s} {'max|diff| torch, ort':>22s}")
    for r in rows(args.models, args.batch, repeats, args.threads):
        print(f"{r['model']:10s} {r['batch']:5d} {r['convnp_ms']:10.2f} {r['torch_ms']:9.2f} "
              f"{r['onnxruntime_ms']:8.2f} {r['convnp_ms'] / r['torch_ms']:8.2f} "
              f"{r['convnp_ms'] / r['onnxruntime_ms']:7.2f} "
              f"{r['max_diff_torch']:10.1e} {r['max_diff_ort']:10.1e}")


if __name__ == "__main__":
    main()
