"""UNet segmentation of MNIST digits: per-pixel label = digit class + 1 where the pixel is ink
(> 0.5), else 0 (background); 11 classes. Reports the mean IoU on the test set.

    python examples/unet_mnist.py --epochs 2
"""

import numpy as np
from _common import Timer, batches, mnist_arrays, parser, save_grid

import convnp
import convnp.nn.functional as F
from convnp.models import UNet


def labels(x, y):
    return np.where(x[:, 0] > 0.5, y[:, None, None] + 1, 0).astype(np.int64)


def mean_iou(pred, target, k=11):
    ious = []
    for c in range(k):
        inter = np.sum((pred == c) & (target == c))
        union = np.sum((pred == c) | (target == c))
        if union:
            ious.append(inter / union)
    return float(np.mean(ious))


def main():
    p = parser(__doc__)
    p.add_argument("--base", type=int, default=8)
    p.add_argument("--up-mode", default="bilinear", choices=["bilinear", "transpose"])
    p.add_argument("--save", help="write a PNG of test digits, true and predicted label maps")
    a = p.parse_args()
    convnp.manual_seed(a.seed)
    rng = np.random.default_rng(a.seed)
    xtr, ytr = mnist_arrays(a.data_dir, True, a.train_size, a.download)
    xte, yte = mnist_arrays(a.data_dir, False, a.test_size, a.download)
    model = UNet(1, 11, base_channels=a.base, depth=2, up_mode=a.up_mode)
    opt = convnp.optim.Adam(model.parameters(), lr=a.lr)
    for epoch in range(a.epochs):
        model.train()
        with Timer() as t:
            for idx in batches(len(xtr), a.batch_size, rng):
                loss = F.cross_entropy(model(convnp.tensor(xtr[idx])),
                                       convnp.tensor(labels(xtr[idx], ytr[idx])))
                opt.zero_grad()
                loss.backward()
                opt.step()
        model.eval()
        with convnp.no_grad():
            pred = np.concatenate([model(convnp.tensor(xte[i])).array.argmax(1)
                                   for i in batches(len(xte), 500)])
        print(f"epoch {epoch + 1}: test mIoU {mean_iou(pred, labels(xte, yte)):.4f} "
              f"({t.seconds:.1f} s)")
    if a.save:
        import matplotlib

        seg = dict(cmap="tab20", vmin=0, vmax=19, interpolation="nearest")  # 0 = background
        colour = matplotlib.colormaps["tab20"]
        legend = [("background", colour(0))] + [(f"digit {d}", colour(d + 1)) for d in range(10)]
        save_grid(a.save, [xte[:10], labels(xte[:10], yte[:10])[:, None], pred[:10, None]],
                  ["digit", "truth", "UNet"], [None, seg, seg], legend=legend)


if __name__ == "__main__":
    main()
