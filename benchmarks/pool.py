"""Pooling, resampling, batch-norm and ReLU speed: convnp vs PyTorch side by side in one process.

    python benchmarks/pool.py               # (32, 64, 56, 56) float32, 2 threads
    python benchmarks/pool.py --quick       # fewer repeats
    python benchmarks/pool.py --numpy       # convnp's NumPy reference path instead of Numba

Rows: max_pool2d 2x2 s2 with indices, max_pool2d 3x3 s2 p1, avg_pool2d 3x3 s2 p1,
adaptive_avg_pool2d to 1, bilinear x2 upsampling (first 8 images), batch_norm training, relu;
forward and forward+backward. Columns: convnp ms, torch ms, ratio convnp/torch (lower is better),
and the geometric means. It also times, in fresh subprocesses, the first call of each convnp
kernel (so Numba's on-disk cache is what is measured, not a compile). Timings on a shared machine
are noisy: treat ratios as +-0.1 or worse.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _timing  # noqa: E402  (first: thread environment before numpy/torch load)

FIRST_CALL = r"""
import time, numpy as np
t0 = time.perf_counter()
import convnp, convnp.nn.functional as F
t1 = time.perf_counter()
x = convnp.tensor(np.random.default_rng(0).standard_normal((2, 4, 16, 16), dtype=np.float32),
                  requires_grad=True)
y, i = F.max_pool2d(x, 2, return_indices=True)
(y.sum() + F.avg_pool2d(x, 3, 2, 1).sum()
 + F.interpolate(x, scale_factor=2, mode="bilinear").sum()).backward()
t2 = time.perf_counter()
print(f"{t1 - t0:.3f} {t2 - t1:.3f}")
"""


def first_call_seconds() -> tuple[float, float]:
    """(import time, first pooling/upsampling fwd+bwd time) in a fresh process."""
    out = subprocess.run([sys.executable, "-c", FIRST_CALL], capture_output=True, text=True,
                         check=True).stdout.split()
    return float(out[0]), float(out[1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer repeats")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--numpy", action="store_true", help="convnp's NumPy path (no Numba)")
    ap.add_argument("--shape", type=int, nargs=4, default=(32, 64, 56, 56))
    args = ap.parse_args()
    threads = _timing.pin_threads(args.threads)

    import numpy as np
    import torch

    import convnp
    import convnp.nn.functional as F
    from convnp import backend

    backend.use_numba(not args.numpy)
    repeats = 3 if args.quick else 7
    shape = tuple(args.shape)
    x = np.random.default_rng(0).standard_normal(shape, dtype=np.float32)
    x8 = np.ascontiguousarray(x[:8])
    c = shape[1]

    rows = [
        ("max_pool2d 2x2 s2 +indices", x, lambda f, t: f.max_pool2d(t, 2, 2,
                                                                     return_indices=True)[0]),
        ("max_pool2d 3x3 s2 p1", x, lambda f, t: f.max_pool2d(t, 3, 2, 1)),
        ("avg_pool2d 3x3 s2 p1", x, lambda f, t: f.avg_pool2d(t, 3, 2, 1)),
        ("adaptive_avg_pool2d 1", x, lambda f, t: f.adaptive_avg_pool2d(t, 1)),
        ("bilinear x2 (8 images)", x8, lambda f, t: f.interpolate(t, scale_factor=2,
                                                                  mode="bilinear")),
    ]
    if hasattr(F, "batch_norm"):
        rm, rv = convnp.zeros(c), convnp.ones(c)
        trm, trv = torch.zeros(c), torch.ones(c)
        w, b = np.ones(c, np.float32), np.zeros(c, np.float32)
        cw, cb = convnp.tensor(w, requires_grad=True), convnp.tensor(b, requires_grad=True)
        t_w, t_b = torch.tensor(w, requires_grad=True), torch.tensor(b, requires_grad=True)

        def bn(f, t):
            if isinstance(t, convnp.Tensor):
                return f.batch_norm(t, rm, rv, cw, cb, training=True)
            return f.batch_norm(t, trm, trv, t_w, t_b, training=True)
        rows.append(("batch_norm training", x, bn))
    else:
        print("note: convnp.nn.functional.batch_norm does not exist yet; row skipped")
    if hasattr(F, "relu"):
        rows.append(("relu", x, lambda f, t: f.relu(t)))
    else:
        print("note: convnp.nn.functional.relu does not exist yet; row skipped")

    def make(lib, arr, op, backward):
        if lib == "convnp":
            t = convnp.Tensor._wrap(arr)
            t.requires_grad_(backward)
            f = F
        else:
            t = torch.from_numpy(arr).requires_grad_(backward)
            f = torch.nn.functional
        g = {}

        def run():
            out = op(f, t)
            if backward:
                if "g" not in g:
                    g["g"] = np.random.default_rng(1).standard_normal(
                        tuple(out.shape)).astype(np.float32)
                    g["t"] = (convnp.Tensor._wrap(g["g"]) if lib == "convnp"
                              else torch.from_numpy(g["g"]))
                out.backward(g["t"])
                t.grad = None
        return run

    print(f"shape {shape} float32, convnp path: {'NumPy' if args.numpy else 'Numba'}")
    _timing.header(threads, repeats)
    print(f"{'op':28s} {'pass':9s} {'convnp ms':>10s} {'torch ms':>10s} {'ratio':>7s}")
    ratios = {"fwd": [], "fwd+bwd": []}
    for name, arr, op in rows:
        for mode, backward in (("fwd", False), ("fwd+bwd", True)):
            a, b = make("convnp", arr, op, backward), make("torch", arr, op, backward)
            number = max(1, min(_timing.auto_number(a), _timing.auto_number(b)))
            ta, tb = _timing.compare(a, b, repeats=repeats, number=number, warmup=2)
            ratios[mode].append(ta / tb)
            print(f"{name:28s} {mode:9s} {ta * 1e3:10.2f} {tb * 1e3:10.2f} {ta / tb:7.2f}")
    for mode, r in ratios.items():
        print(f"geomean convnp/torch {mode:8s}: {_timing.geomean(r):.2f} (worst {max(r):.2f})")
    if not args.numpy:
        t0 = time.perf_counter()
        imp, first = first_call_seconds()
        total = time.perf_counter() - t0
        print(f"fresh process (Numba cache warm): import convnp {imp:.2f} s, first pooling + "
              f"upsampling fwd+bwd {first:.2f} s (subprocess total {total:.1f} s)")


if __name__ == "__main__":
    main()
