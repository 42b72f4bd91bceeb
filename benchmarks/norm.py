"""Batch norm and ReLU speed: convnp vs PyTorch, side by side in one process, same thread count.

    python benchmarks/norm.py            # (32, 64, 56, 56) float32, both batch-norm paths
    python benchmarks/norm.py --quick    # fewer repeats
    python benchmarks/norm.py --shape 8 64 56 56

Rows: batch_norm training forward and forward+backward (Numba path, NumPy reference path, and
channels-last input), eval-mode batch_norm, relu and relu6 forward and forward+backward (relu
also on channels-last input with a C-order upstream gradient, which is copied once). Columns:
convnp ms, torch ms, ratio convnp/torch (lower is better). Timings on a shared machine are noisy.
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _timing  # noqa: E402  (first: thread environment before numpy/torch load)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer repeats")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--shape", type=int, nargs=4, default=(32, 64, 56, 56))
    args = ap.parse_args()
    threads = _timing.pin_threads(args.threads)

    import numpy as np
    import torch

    import convnp
    import convnp.nn.functional as F
    from convnp import backend

    repeats = 3 if args.quick else 7
    shape = tuple(args.shape)
    c = shape[1]
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape, dtype=np.float32)
    g = rng.standard_normal(shape, dtype=np.float32)
    w = np.ones(c, np.float32)
    b = np.zeros(c, np.float32)
    x_cl = np.ascontiguousarray(x.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
    g_cl = np.ascontiguousarray(g.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)

    def convnp_bn(xa, ga, backward):
        xc = convnp.Tensor._wrap(xa)
        xc.requires_grad_(backward)
        wc, bc = convnp.tensor(w, requires_grad=backward), convnp.tensor(b, requires_grad=backward)
        rm, rv = convnp.zeros(c), convnp.ones(c)
        gt = convnp.Tensor._wrap(ga)

        def run():
            out = F.batch_norm(xc, rm, rv, wc, bc, training=True)
            if backward:
                out.backward(gt)
        return run

    def torch_bn(xa, ga, backward, channels_last=False):
        xt = torch.from_numpy(np.ascontiguousarray(xa))
        if channels_last:
            xt = xt.contiguous(memory_format=torch.channels_last)
        xt.requires_grad_(backward)
        wt = torch.tensor(w, requires_grad=backward)
        bt = torch.tensor(b, requires_grad=backward)
        rm, rv = torch.zeros(c), torch.ones(c)
        gt = torch.from_numpy(np.ascontiguousarray(ga))
        if channels_last:
            gt = gt.contiguous(memory_format=torch.channels_last)

        def run():
            out = torch.nn.functional.batch_norm(xt, rm, rv, wt, bt, training=True)
            if backward:
                out.backward(gt)
        return run

    def convnp_bn_eval(xa):
        xc = convnp.Tensor._wrap(xa)
        wc, bc = convnp.tensor(w), convnp.tensor(b)
        rm, rv = convnp.zeros(c), convnp.ones(c)
        return lambda: F.batch_norm(xc, rm, rv, wc, bc, training=False)

    def torch_bn_eval(xa):
        xt = torch.from_numpy(np.ascontiguousarray(xa))
        wt, bt = torch.tensor(w), torch.tensor(b)
        rm, rv = torch.zeros(c), torch.ones(c)
        return lambda: torch.nn.functional.batch_norm(xt, rm, rv, wt, bt, training=False)

    def convnp_relu(backward, fn=F.relu, xa=x):
        xc = convnp.Tensor._wrap(xa.copy(order="K"))
        xc.requires_grad_(backward)
        gt = convnp.tensor(g)

        def run():
            out = fn(xc)
            if backward:
                out.backward(gt)
        return run

    def torch_relu(backward, fn=torch.relu, channels_last=False):
        xt = torch.tensor(x)
        if channels_last:
            xt = xt.contiguous(memory_format=torch.channels_last)
        xt.requires_grad_(backward)
        gt = torch.tensor(g)

        def run():
            out = fn(xt)
            if backward:
                out.backward(gt)
        return run

    rows = []

    def bench(name, fa, fb, numba):
        with backend.numba_disabled() if not numba else _null():
            number = _timing.auto_number(fa)
            ta, tb = _timing.compare(fa, fb, repeats=repeats, number=number)
        rows.append((name, ta * 1e3, tb * 1e3, ta / tb))
        print(f"{name:<40s} {ta * 1e3:9.2f} {tb * 1e3:9.2f} {ta / tb:7.2f}", flush=True)

    import contextlib

    _null = contextlib.nullcontext
    print(f"shape {shape} float32, threads {threads}")
    print(f"{'case':<40s} {'convnp ms':>9s} {'torch ms':>9s} {'ratio':>7s}")
    for bwd, tag in ((False, "fwd"), (True, "fwd+bwd")):
        bench(f"batch_norm train {tag} (numba)", convnp_bn(x, g, bwd), torch_bn(x, g, bwd), True)
    for bwd, tag in ((False, "fwd"), (True, "fwd+bwd")):
        bench(f"batch_norm train {tag} (numpy)", convnp_bn(x, g, bwd), torch_bn(x, g, bwd), False)
    for bwd, tag in ((False, "fwd"), (True, "fwd+bwd")):
        bench(f"batch_norm train {tag} channels-last", convnp_bn(x_cl, g_cl, bwd),
              torch_bn(x, g, bwd, channels_last=True), True)
    bench("batch_norm eval", convnp_bn_eval(x), torch_bn_eval(x), True)
    for bwd, tag in ((False, "fwd"), (True, "fwd+bwd")):
        bench(f"relu {tag}", convnp_relu(bwd), torch_relu(bwd), True)
    for bwd, tag in ((False, "fwd"), (True, "fwd+bwd")):
        bench(f"relu6 {tag}", convnp_relu(bwd, F.relu6),
              torch_relu(bwd, torch.nn.functional.relu6), True)
    bench("relu fwd+bwd channels-last", convnp_relu(True, xa=x_cl),
          torch_relu(True, channels_last=True), True)
    main_rows = [r for r in rows if "numpy" not in r[0] and "channels-last" not in r[0]]
    print(f"geometric mean ratio (numba bn + relu): "
          f"{_timing.geomean(r[3] for r in main_rows):.2f}")


if __name__ == "__main__":
    main()
