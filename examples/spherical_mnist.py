"""Spherical MNIST: four CNNs of similar size on digits projected onto the sphere.

The digits lie on the northern hemisphere (``convnp.sphere.SphericalMNIST``); each network is
trained on non-rotated digits and tested on non-rotated and on randomly rotated ones:

- ``plain``: Conv2d + max pooling on the 60x120 equirectangular image (zero padding);
- ``equirect``: EquirectConv2d (longitude wraps around, pole-aware padding);
- ``sphere``: SphereConv2d + SpherePool2d (SphereNet's tangent-plane kernels);
- ``mesh``: MeshConv + MeshPool on an icosphere of level 4 (Jiang et al.).

    python examples/spherical_mnist.py --download --nets mesh --epochs 3
    python examples/spherical_mnist.py --data-dir ~/mnist --nets plain equirect sphere mesh
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import convnp
import convnp.nn as nn
from convnp.sphere import (MeshConv, MeshPool, SphereConv2d, SphericalMNIST, SpherePool2d)

NETS = ("plain", "equirect", "sphere", "mesh")


class _GlobalMean(nn.Module):
    def forward(self, x):
        return x.flatten(2).mean(-1)


def build(kind: str, widths=(16, 32, 64), level: int = 4) -> nn.Module:
    """One of the four networks: three conv stages (BN, ReLU), two poolings, global mean, FC."""
    layers, c = [], 1
    for i, w in enumerate(widths):
        if kind == "mesh":
            layers += [MeshConv(c, w, level - i), nn.BatchNorm1d(w), nn.ReLU()]
            if i < len(widths) - 1:
                layers.append(MeshPool(level - i))
        else:
            conv = {"plain": lambda: nn.Conv2d(c, w, 3, padding=1),
                    "equirect": lambda: nn.EquirectConv2d(c, w, 3),
                    "sphere": lambda: SphereConv2d(c, w, 3)}[kind]()
            layers += [conv, nn.BatchNorm2d(w), nn.ReLU()]
            if i < len(widths) - 1:
                layers.append(SpherePool2d(2) if kind == "sphere" else nn.MaxPool2d(2))
        c = w
    return nn.Sequential(*layers, _GlobalMean(), nn.Linear(c, 10))


def evaluate(model, ds, batch: int = 250) -> float:
    model.eval()
    correct = 0
    with convnp.no_grad():
        for i in range(0, len(ds), batch):
            x, y = ds.get_batch(np.arange(i, min(i + batch, len(ds))))
            correct += int((model(convnp.from_numpy(x)).array.argmax(1) == y).sum())
    return correct / len(ds)


def train(kind: str, a) -> dict:
    convnp.manual_seed(a.seed)
    rng = np.random.default_rng(a.seed)
    grid = "mesh" if kind == "mesh" else "equirect"
    common = dict(root=a.data_dir, grid=grid, size=a.size, level=a.level, download=a.download)
    tr = SphericalMNIST(train=True, limit=a.train_size, **common)
    te = SphericalMNIST(train=False, limit=a.test_size, **common)
    te_rot = SphericalMNIST(train=False, limit=a.test_size, rotate=True, seed=1, **common)
    model = build(kind, level=a.level)
    params = sum(p.numel() for p in model.parameters())
    opt = convnp.optim.Adam(model.parameters(), lr=a.lr)
    steps = a.epochs * -(-len(tr) // a.batch_size)
    sched = convnp.optim.lr_scheduler.OneCycleLR(opt, a.lr, total_steps=steps)
    t0 = time.perf_counter()
    for epoch in range(a.epochs):
        model.train()
        order = rng.permutation(len(tr))
        for i in range(0, len(tr), a.batch_size):
            x, y = tr.get_batch(order[i:i + a.batch_size])
            loss = nn.functional.cross_entropy(model(convnp.from_numpy(x)), convnp.from_numpy(y))
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
        print(f"  {kind}: epoch {epoch + 1}/{a.epochs} loss {float(loss):.4f} "
              f"({time.perf_counter() - t0:.0f} s)", flush=True)
    return dict(net=kind, params=params, acc=evaluate(model, te), acc_rot=evaluate(model, te_rot),
                seconds=time.perf_counter() - t0)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="\n".join(__doc__.splitlines()[2:]))
    p.add_argument("--data-dir", default=None, help="folder with the MNIST IDX files "
                   "(default: convnp's cache, filled by --download)")
    p.add_argument("--download", action="store_true", help="fetch MNIST (checksummed) if absent")
    p.add_argument("--nets", nargs="+", default=list(NETS), choices=NETS)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--train-size", type=int, default=60000)
    p.add_argument("--test-size", type=int, default=10000)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=5e-3)
    p.add_argument("--size", type=int, default=60, help="equirectangular height (width 2x)")
    p.add_argument("--level", type=int, default=4, help="icosphere level of the mesh network")
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    rows = []
    for kind in a.nets:
        rows.append(train(kind, a))
    print("\n| network | parameters | test acc. | rotated test acc. | train time |")
    print("|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['net']} | {r['params']:,} | {100 * r['acc']:.2f} % | "
              f"{100 * r['acc_rot']:.2f} % | {r['seconds']:.0f} s |")
    return rows


if __name__ == "__main__":
    main()
