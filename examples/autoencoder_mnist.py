"""MNIST convolutional autoencoder / denoiser with an upsampling decoder; reports test PSNR.

    python examples/autoencoder_mnist.py --epochs 2 [--noise 0.3] [--up-mode transpose]
"""

import numpy as np
from _common import Timer, batches, mnist_arrays, parser, save_grid

import convnp
import convnp.nn.functional as F
from convnp.models import ConvAutoencoder


def main():
    p = parser(__doc__)
    p.add_argument("--noise", type=float, default=0.0, help="denoising: Gaussian noise std")
    p.add_argument("--embedding", type=int, default=32)
    p.add_argument("--up-mode", default="bilinear", choices=["bilinear", "transpose"])
    p.add_argument("--save", help="write a PNG of test inputs and reconstructions")
    a = p.parse_args()
    convnp.manual_seed(a.seed)
    rng = np.random.default_rng(a.seed)
    xtr, _ = mnist_arrays(a.data_dir, True, a.train_size, a.download)
    xte, _ = mnist_arrays(a.data_dir, False, a.test_size, a.download)
    model = ConvAutoencoder(1, a.embedding, width=16, up_mode=a.up_mode)
    opt = convnp.optim.Adam(model.parameters(), lr=a.lr)

    def noisy(x):
        return np.clip(x + a.noise * rng.standard_normal(x.shape).astype(np.float32), 0, 1) \
            if a.noise else x

    for epoch in range(a.epochs):
        model.train()
        with Timer() as t:
            for idx in batches(len(xtr), a.batch_size, rng):
                x = xtr[idx]
                loss = F.mse_loss(model(convnp.tensor(noisy(x))), convnp.tensor(x))
                opt.zero_grad()
                loss.backward()
                opt.step()
        model.eval()
        with convnp.no_grad():
            mse = np.mean([F.mse_loss(model(convnp.tensor(noisy(xte[i]))),
                                      convnp.tensor(xte[i])).item()
                           for i in batches(len(xte), 500)])
        print(f"epoch {epoch + 1}: test MSE {mse:.5f}  PSNR {10 * np.log10(1 / mse):.2f} dB  "
              f"({t.seconds:.1f} s)")
    with convnp.no_grad():
        emb = model.encode(convnp.tensor(xte[:8]))
        if a.save:
            x = noisy(xte[:10])
            save_grid(a.save, [x, model(convnp.tensor(x)).array],
                      ["input" + (" + noise" if a.noise else ""), "output"])
    print(f"embedding of 8 test digits: shape {tuple(emb.shape)}")


if __name__ == "__main__":
    main()
