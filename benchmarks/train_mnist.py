"""One epoch of LeNet-5 on MNIST in convnp and in PyTorch, same recipe, side by side.

    python benchmarks/train_mnist.py [--data-dir DIR | --download] [--limit-train N]
                                     [--threads 2] [--repeat 3]

Recipe (both): LeNet-5 (ReLU, max pooling, 28x28 input padded by conv1), Adam lr 1e-3, batch 64,
cross-entropy, the same shuffled order and the same normalised float32 batches (sliced from one
preloaded array, so the data pipeline costs the same and the engines are what is compared).
Both use the same number of threads (``--threads``, default 2). Epochs alternate convnp / torch
``--repeat`` times (each from the same freshly seeded model), so that drift on a shared machine
hits both. Prints the best and median epoch time, images/s, the final test accuracy and the
ratio convnp/torch of the best epochs (target <= 1.3).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _data  # noqa: E402
import _timing  # noqa: E402  (before numpy/torch load: it sets the thread environment)


def load(data_dir, limit, download=False):
    import numpy as np

    from convnp.data import MNIST
    tr = MNIST(data_dir, train=True, download=download)
    te = MNIST(data_dir, train=False, download=download)
    norm = lambda a: ((a.astype(np.float32) / 255 - 0.1307) / 0.3081)[:, None]  # noqa: E731
    return (norm(tr.data[:limit]), tr.targets[:limit].astype(np.int64), norm(te.data),
            te.targets.astype(np.int64))


def run_convnp(xtr, ytr, xte, yte, order, bs):
    import numpy as np

    import convnp
    import convnp.nn as nn
    from convnp.models import LeNet5
    convnp.manual_seed(0)
    model = LeNet5(input_size=28)
    opt = convnp.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    # warm-up step (lazy compilation, first allocations), not timed
    loss_fn(model(convnp.from_numpy(xtr[:bs])), convnp.from_numpy(ytr[:bs])).backward()
    opt.zero_grad()
    model.train()
    t = time.perf_counter()
    for s in range(0, len(order), bs):
        idx = order[s:s + bs]
        x, y = convnp.from_numpy(xtr[idx]), convnp.from_numpy(ytr[idx])
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
    seconds = time.perf_counter() - t
    model.eval()
    with convnp.no_grad():
        pred = np.concatenate([model(convnp.from_numpy(xte[i:i + 1000])).numpy().argmax(1)
                               for i in range(0, len(xte), 1000)])
    return seconds, float(loss.item()), float((pred == yte).mean())


def run_torch(xtr, ytr, xte, yte, order, bs):
    import torch
    import torch.nn as nn
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(6, 16, 5), nn.ReLU(),
        nn.MaxPool2d(2), nn.Conv2d(16, 120, 5), nn.ReLU(), nn.Flatten(), nn.Linear(120, 84),
        nn.ReLU(), nn.Linear(84, 10))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    Xtr, Ytr = torch.from_numpy(xtr), torch.from_numpy(ytr)
    loss_fn(model(Xtr[:bs]), Ytr[:bs]).backward()
    opt.zero_grad()
    model.train()
    t = time.perf_counter()
    for s in range(0, len(order), bs):
        idx = torch.from_numpy(order[s:s + bs])
        x, y = Xtr[idx], Ytr[idx]
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
    seconds = time.perf_counter() - t
    model.eval()
    with torch.no_grad():
        pred = model(torch.from_numpy(xte)).argmax(1).numpy()
    return seconds, float(loss.item()), float((pred == yte).mean())


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", default=_data.default_data_dir("mnist"),
                   help="folder with the MNIST IDX files (default: convnp's cache)")
    p.add_argument("--download", action="store_true", help="fetch MNIST if absent")
    p.add_argument("--limit-train", type=int, default=None)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--only", choices=["convnp", "torch"], default=None)
    p.add_argument("--repeat", type=int, default=3,
                   help="epochs per framework, alternating convnp / torch (each from the same "
                        "fresh model); the minimum is reported (default 3)")
    a = p.parse_args()
    threads = _timing.pin_threads(a.threads)  # before numpy, convnp and torch start their pools
    import numpy as np

    xtr, ytr, xte, yte = load(a.data_dir, a.limit_train, a.download)
    order = np.random.default_rng(0).permutation(len(xtr))
    runners = {"convnp": run_convnp, "torch": run_torch}
    names = [k for k in runners if a.only in (None, k)]
    rows: dict[str, list] = {k: [] for k in names}
    for _ in range(max(1, a.repeat)):  # A B A B ...: machine drift hits both
        for name in names:
            rows[name].append(runners[name](xtr, ytr, xte, yte, order, a.batch_size))
    n = len(order)
    print(f"LeNet-5, MNIST, {n} training images, batch {a.batch_size}, Adam 1e-3, "
          f"{a.threads} threads, {a.repeat} epoch(s) each, alternating")
    _timing.header(threads, a.repeat)
    print(f"{'framework':10s} {'best s':>8s} {'median s':>9s} {'images/s':>10s} "
          f"{'last loss':>10s} {'test acc':>9s}   all epochs (s)")
    best = {}
    for name, runs in rows.items():
        secs = [r[0] for r in runs]
        best[name] = min(secs)
        _, loss, acc = runs[-1]
        print(f"{name:10s} {best[name]:8.2f} {float(np.median(secs)):9.2f} "
              f"{n / best[name]:10.0f} {loss:10.4f} {100 * acc:8.2f}%   "
              + " ".join(f"{v:.2f}" for v in secs))
    if len(rows) == 2:
        med = {k: float(np.median([r[0] for r in v])) for k, v in rows.items()}
        print(f"ratio convnp/torch epoch time: {best['convnp'] / best['torch']:.2f}x best, "
              f"{med['convnp'] / med['torch']:.2f}x median (target <= 1.3x)")


if __name__ == "__main__":
    main()
