"""Convolution speed: convnp vs PyTorch, side by side in one process, same thread count.

    python benchmarks/conv.py                 # all layers L1..L10, forward and forward+backward
    python benchmarks/conv.py --quick         # fewer repeats
    python benchmarks/conv.py --layers L2 L6  # a subset

Prints per layer: convnp and torch milliseconds, the ratio convnp/torch, convnp GFLOP/s, and the
geometric mean of the ratios (target <= 1.5 for forward and for forward+backward, no layer > 3).
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _timing  # noqa: E402  (first: thread environment before numpy/torch load)

# id: (description, kind, x shape, out channels, kernel, kwargs)
LAYERS = {
    "L1": ("(32,3,32,32)->64 k3 p1", "conv", (32, 3, 32, 32), 64, 3, dict(padding=1)),
    "L2": ("(32,64,56,56)->64 k3 p1", "conv", (32, 64, 56, 56), 64, 3, dict(padding=1)),
    "L3": ("(32,128,28,28)->128 k3 p1", "conv", (32, 128, 28, 28), 128, 3, dict(padding=1)),
    "L4": ("(64,1,28,28)->32 k5 p2", "conv", (64, 1, 28, 28), 32, 5, dict(padding=2)),
    "L5": ("(32,64,56,56)->128 k3 s2 p1", "conv", (32, 64, 56, 56), 128, 3,
           dict(stride=2, padding=1)),
    "L6": ("depthwise (32,128,28,28) k3 p1", "conv", (32, 128, 28, 28), 128, 3,
           dict(padding=1, groups=128)),
    "L7": ("dilated (16,64,64,64)->64 k3 d2 p2", "conv", (16, 64, 64, 64), 64, 3,
           dict(padding=2, dilation=2)),
    "L8": ("1x1 (32,256,14,14)->64", "conv", (32, 256, 14, 14), 64, 1, {}),
    "L9": ("conv3d (4,16,16,32,32)->32 k3 p1", "conv", (4, 16, 16, 32, 32), 32, 3,
           dict(padding=1)),
    "L10": ("convT2d (32,64,28,28)->32 k4 s2 p1", "convT", (32, 64, 28, 28), 32, 4,
            dict(stride=2, padding=1)),
}


def _flops(kind, xs, cout, k, kw, out_shape) -> float:
    """Multiply-adds x2 of the forward pass."""
    import math

    n = len(xs) - 2
    g = kw.get("groups", 1)
    cin = xs[1]
    if kind == "conv":
        return 2.0 * out_shape[0] * cout * math.prod(out_shape[2:]) * (cin // g) * k ** n
    return 2.0 * xs[0] * cin * math.prod(xs[2:]) * (cout // g) * k ** n


def _bench_layer(name, rng, repeats, np, torch, convnp, F) -> list:
    """Time one layer (fwd, fwd+bwd) in convnp and torch; print rows, return ratios."""
    results = []
    desc, kind, xs, cout, k, kw = LAYERS[name]
    n = len(xs) - 2
    g = kw.get("groups", 1)
    if kind == "conv":
        ws = (cout, xs[1] // g) + (k,) * n
        cf = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}[n]
        tf = {1: torch.nn.functional.conv1d, 2: torch.nn.functional.conv2d,
              3: torch.nn.functional.conv3d}[n]
    else:
        ws = (xs[1], cout // g) + (k,) * n
        cf = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}[n]
        tf = {1: torch.nn.functional.conv_transpose1d,
              2: torch.nn.functional.conv_transpose2d,
              3: torch.nn.functional.conv_transpose3d}[n]
    x = rng.standard_normal(xs, dtype=np.float32)
    w = (rng.standard_normal(ws, dtype=np.float32) * 0.1).astype(np.float32)
    b = rng.standard_normal(cout, dtype=np.float32)
    cx, cw, cb = (convnp.tensor(a, requires_grad=True) for a in (x, w, b))
    tx, tw, tb = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    with convnp.no_grad():
        out = cf(cx, cw, cb, **kw)
    ref = tf(tx, tw, tb, **kw).detach().numpy()
    err = np.abs(out.array - ref).max() / (np.abs(ref).max() + 1e-30)
    gy = rng.standard_normal(out.shape, dtype=np.float32)
    cgy, tgy = convnp.tensor(gy), torch.tensor(gy)
    flops = _flops(kind, xs, cout, k, kw, out.shape)

    def c_fwd():
        with convnp.no_grad():
            cf(cx, cw, cb, **kw)

    def t_fwd():
        with torch.no_grad():
            tf(tx, tw, tb, **kw)

    def c_fb():
        cx.grad = cw.grad = cb.grad = None
        cf(cx, cw, cb, **kw).backward(cgy)

    def t_fb():
        tx.grad = tw.grad = tb.grad = None
        tf(tx, tw, tb, **kw).backward(tgy)

    for label, fa, fb, mult in (("fwd", c_fwd, t_fwd, 1), ("fwd+bwd", c_fb, t_fb, 3)):
        number = max(1, min(_timing.auto_number(fa), _timing.auto_number(fb)))
        ta, tb_ = _timing.compare(fa, fb, repeats=repeats, number=number)
        r = ta / tb_
        results.append((label, r))
        print(f"{name:5} {desc:36} {label:8} {ta * 1e3:10.2f} {tb_ * 1e3:9.2f} {r:6.2f} "
              f"{mult * flops / ta / 1e9:8.1f} {mult * flops / tb_ / 1e9:7.1f}", flush=True)
    if err > 1e-4:
        print(f"      WARNING: forward relative error {err:.2e}")
    return results


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer repeats (a smoke run)")
    ap.add_argument("--layers", nargs="+", default=list(LAYERS), metavar="L",
                    help=f"subset of {' '.join(LAYERS)}")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=None)
    args = ap.parse_args(argv)
    threads = _timing.pin_threads(args.threads)  # before numpy/torch initialise their pools

    import numpy as np
    import torch

    import convnp
    import convnp.nn.functional as F

    repeats = args.repeats or (2 if args.quick else 7)
    _timing.header(threads, repeats)
    print(f"{'layer':5} {'shape':36} {'pass':8} {'convnp ms':>10} {'torch ms':>9} {'ratio':>6} "
          f"{'GFLOP/s':>8} {'torch':>7}")
    ratios = {"fwd": [], "fwd+bwd": []}
    rng = np.random.default_rng(0)
    for name in args.layers:
        for label, r in _bench_layer(name, rng, repeats, np, torch, convnp, F):
            ratios[label].append(r)
    for label, rs in ratios.items():
        worst = max(rs)
        print(f"geomean ratio {label:8}: {_timing.geomean(rs):.2f}   worst {worst:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
