"""Equirectangular (360-degree) images: a convolution with circular longitude padding is exactly
equivariant to horizontal rolls (rotating the camera about the vertical axis); a zero-padded one is
not. Prints the max |f(roll(x)) - roll(f(x))| per roll for both.

    python examples/equirect_equivariance.py
"""

import argparse

import numpy as np

import convnp
import convnp.nn as nn
from convnp.nn.modules.blocks import EquirectConv2d


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rolls", default="1,2,5,16,32", help="comma-separated rolls in pixels")
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    convnp.manual_seed(a.seed)
    x = convnp.randn(1, 3, 32, 64, dtype=convnp.float64)
    circ = EquirectConv2d(3, 8, 3).double()
    zero = nn.Conv2d(3, 8, 3, padding=1).double()
    zero.load_state_dict(circ.conv.state_dict())
    print("roll (px) | circular longitude padding | zero padding")
    for s in (int(v) for v in a.rolls.split(",")):
        errs = []
        for f in (circ, zero):
            y = f(convnp.tensor(np.roll(x.array, s, -1))).array
            errs.append(np.abs(y - np.roll(f(x).array, s, -1)).max())
        print(f"{s:9d} | {errs[0]:26.2e} | {errs[1]:.2e}")


if __name__ == "__main__":
    main()
