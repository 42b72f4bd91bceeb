"""MNIST inpainting of random rectangular holes: gated convolutions vs the same network with
plain convolutions, trained on the squared error over the holes; reports the masked L1 error
(mean |output - truth| over hole pixels) on the test set.

    python examples/inpainting_mnist.py --epochs 2

The learning rate defaults to 5e-4 (Adam). At 2e-3 the plain network collapses: MNIST holes are
mostly background, Adam's first steps drive its last layer's logits far negative, the sigmoid
output saturates at 0 within five steps and never recovers (masked L1 stays at the "fill with
black" level), while the gated network trains (its sigmoid gates bound every layer's output).
"""

import numpy as np
from _common import Timer, batches, holes_in_colour, mnist_arrays, parser, save_grid

import convnp
from convnp.models import GatedInpaintNet


def holes(n, rng, size=28):
    """One random rectangle (6..14 px a side) per image; 1 = missing."""
    m = np.zeros((n, 1, size, size), np.float32)
    h, w = rng.integers(6, 15, n), rng.integers(6, 15, n)
    top, left = rng.integers(0, size - h + 1), rng.integers(0, size - w + 1)
    rows, cols = np.arange(size)[None, :, None], np.arange(size)[None, None, :]
    inside = ((rows >= top[:, None, None]) & (rows < (top + h)[:, None, None]) &
              (cols >= left[:, None, None]) & (cols < (left + w)[:, None, None]))
    m[:, 0] = inside
    return m


def masked_l1(out, x, m):
    return float(np.abs((out - x) * m).sum() / m.sum())


def run(gated, a, xtr, xte, mte):
    convnp.manual_seed(a.seed)
    rng = np.random.default_rng(a.seed)
    model = GatedInpaintNet(1, width=16, gated=gated)
    opt = convnp.optim.Adam(model.parameters(), lr=a.lr)
    for epoch in range(a.epochs):
        model.train()
        with Timer() as t:
            for idx in batches(len(xtr), a.batch_size, rng):
                x = convnp.tensor(np.pad(xtr[idx], ((0, 0), (0, 0), (2, 2), (2, 2))))
                m = convnp.tensor(holes(len(idx), rng, 32))
                # squared error over the holes: an L1 loss collapses to "all black" (the
                # median of mostly-background hole pixels) before it learns strokes
                loss = (((model(x, m) - x) * m) ** 2).sum() / (m.sum() + 1)
                opt.zero_grad()
                loss.backward()
                opt.step()
        model.eval()
        with convnp.no_grad():
            xp = np.pad(xte, ((0, 0), (0, 0), (2, 2), (2, 2)))
            out = np.concatenate([model(convnp.tensor(xp[i]), convnp.tensor(mte[i])).array
                                  for i in batches(len(xte), 500)])
        err = masked_l1(out, xp, mte)
        print(f"{'gated' if gated else 'plain'} epoch {epoch + 1}: test masked L1 {err:.4f} "
              f"({t.seconds:.1f} s)")
    return err, out


def main():
    p = parser(__doc__)
    p.add_argument("--save", help="write a PNG of holes and both networks' fillings")
    p.set_defaults(lr=5e-4)
    a = p.parse_args()
    xtr, _ = mnist_arrays(a.data_dir, True, a.train_size, a.download)
    xte, _ = mnist_arrays(a.data_dir, False, a.test_size, a.download)
    mte = holes(len(xte), np.random.default_rng(1234), 32)
    (g, gout), (pl, pout) = run(True, a, xtr, xte, mte), run(False, a, xtr, xte, mte)
    print(f"masked L1 on the test holes: gated {g:.4f}, plain {pl:.4f}")
    if a.save:
        xp = np.pad(xte[:10], ((0, 0), (0, 0), (2, 2), (2, 2)))
        m = mte[:10]
        # the hole in orange on the input, outlined in red on the fillings
        save_grid(a.save, [xp, holes_in_colour(xp, m), gout[:10], pout[:10]],
                  ["truth", "hole (orange)", "gated", "plain"], outlines=[None, None, m, m])


if __name__ == "__main__":
    main()
