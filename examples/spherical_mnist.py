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
from convnp.sphere import MeshConv, MeshPool, SphereConv2d, SpherePool2d, SphericalMNIST

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
            layer = {"plain": nn.Conv2d, "equirect": nn.EquirectConv2d,
                     "sphere": SphereConv2d}[kind]
            conv = layer(c, w, 3, padding=1) if kind == "plain" else layer(c, w, 3)
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
    model = build(kind, widths=tuple(a.widths), level=a.level)
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


def save_figure(path: str, a) -> None:
    """The first test digit: flat, on the equirectangular grid (plain and rotated) and on the
    icosphere seen from above the north pole and from the side."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from convnp.sphere import Mesh

    common = dict(root=a.data_dir, train=False, limit=1, download=a.download)
    flat = SphericalMNIST(size=a.size, **common).data[0]
    eq = SphericalMNIST(size=a.size, **common)[0][0][0]
    rot = SphericalMNIST(size=a.size, rotate=True, seed=1, **common)[0][0][0]
    mesh = SphericalMNIST(grid="mesh", level=a.level, **common)[0][0][0]
    v = Mesh.at(a.level).vertices
    fig = plt.figure(figsize=(17, 4), layout="constrained")
    grid = fig.add_gridspec(1, 5, width_ratios=[1, 2, 2, 1.3, 1.3])
    panels = [(flat, "MNIST digit, 28x28", None),
              (eq, f"on the sphere (equirectangular {a.size}x{2 * a.size})",
               (-180, 180, -90, 90)),
              (rot, "the same, sphere randomly rotated", (-180, 180, -90, 90))]
    for i, (img, title, ext) in enumerate(panels):
        ax = fig.add_subplot(grid[i])
        ax.imshow(img / (255 if ext is None else 1), cmap="magma", extent=ext, vmin=0, vmax=1,
                  aspect="auto" if ext else None)
        ax.set_title(title, fontsize=10)
        if ext:
            ax.set_xlabel("longitude (deg)")
            ax.set_ylabel("latitude (deg)")
    views = ((90, "seen from above the pole"), (15, "seen from the side"))
    for j, (elev, name) in enumerate(views):
        ax = fig.add_subplot(grid[3 + j], projection="3d")
        im = ax.scatter(*v.T, c=mesh, cmap="magma", s=3, vmin=0, vmax=1)
        ax.view_init(elev=elev, azim=-90)
        ax.set_box_aspect((1, 1, 1))
        ax.set_title(f"icosphere level {a.level}, {len(v)} vertices,\n{name}", fontsize=10)
        ax.set_axis_off()
    fig.colorbar(im, ax=fig.axes[-1], shrink=0.7, label="ink (0..1)")
    fig.savefig(path, dpi=110)
    print(f"wrote {path}")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="\n".join(__doc__.splitlines()[2:]))
    p.add_argument("--data-dir", default=None, help="folder with the MNIST IDX files "
                   "(default: convnp's cache, filled by --download)")
    p.add_argument("--download", action="store_true", help="fetch MNIST (checksummed) if absent")
    p.add_argument("--nets", nargs="*", default=list(NETS), choices=NETS,
                   help="the networks to train (none: only --save-figure)")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--train-size", type=int, default=60000)
    p.add_argument("--test-size", type=int, default=10000)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=5e-3)
    p.add_argument("--size", type=int, default=60, help="equirectangular height (width 2x)")
    p.add_argument("--level", type=int, default=4, help="icosphere level of the mesh network")
    p.add_argument("--widths", type=int, nargs=3, default=[16, 32, 64], metavar="C",
                   help="channels of the three conv stages")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--save-figure", metavar="PNG", help="also draw a projected digit to PNG")
    a = p.parse_args(argv)
    if a.save_figure:
        save_figure(a.save_figure, a)
    rows = []
    if not a.nets:
        return rows
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
