"""Make a photo or drawing look like a dataset sample (re-exported by ``convnp.data.transforms``).

A network trained on MNIST has only seen white digits on black, 28x28, the digit's bounding box
fitted in 20x20 and its centre of mass at the centre. A black-on-white 200x200 drawing is a
different input entirely; :func:`prepare_digit` applies MNIST's own recipe to it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["prepare_digit", "PreparedImage"]


@dataclass
class PreparedImage:
    """The prepared ``image`` (uint8, ``(size, size)``) and the ``steps`` taken, in words."""
    image: np.ndarray
    steps: list = field(default_factory=list)

    def describe(self) -> str:
        return "; ".join(self.steps)


def _to_grey(image) -> np.ndarray:
    """PIL image, (H, W) or (H, W, 3|4) array -> float (H, W) in [0, 255] (ITU-R 601 luma)."""
    if hasattr(image, "convert") and hasattr(image, "size"):  # a PIL image
        return np.asarray(image.convert("L"), dtype=np.float64)
    a = np.asarray(image)
    if a.dtype.kind == "f" and a.size and a.max() <= 1.0:
        a = a * 255.0
    a = a.astype(np.float64)
    if a.ndim == 3 and a.shape[-1] in (3, 4):
        a = a[..., :3] @ np.array([0.299, 0.587, 0.114])
    elif a.ndim == 3 and a.shape[-1] == 1:
        a = a[..., 0]
    if a.ndim != 2:
        raise ValueError(f"prepare_digit: expected an image (H, W), (H, W, 3) or (H, W, 4), or a "
                         f"PIL image, got an array of shape {a.shape}")
    return a


def prepare_digit(image, size: int = 28, box: int = 20, center: str = "mass",
                  invert: bool | None = None, threshold: float = 0.25) -> PreparedImage:
    r"""Prepare an image the way MNIST's digits were made: grey, white ink on black, cropped to
    the ink, scaled to fit in ``box x box`` keeping the aspect ratio (anti-aliased), then placed
    in a ``size x size`` field with its centre of mass at the centre.

    Args:
        image: a PIL image or an array ``(H, W)``, ``(H, W, 3)``, ``(H, W, 4)`` (uint8, or float
            in [0, 1]).
        size (int): the output side (MNIST: 28).
        box (int): the side of the square the ink is fitted in (MNIST: 20; use ``box=size`` and
            ``center="box"`` for Fashion-MNIST, whose items fill the frame).
        center (str): ``"mass"`` (MNIST: centre of mass at pixel ``size/2``) or ``"box"``
            (the bounding box in the middle).
        invert (bool or None): None inverts when the border is light (dark ink on a light
            background), as a drawing or a photo of paper usually is.
        threshold (float): pixels brighter than ``threshold`` x the brightest ink (after
            removing the background level) count as ink for the crop.

    Returns:
        :class:`PreparedImage` with ``image`` (uint8 ``(size, size)``, ink 255 on 0) and
        ``steps`` (what was done, for printing).

    Example::

        >>> from PIL import Image, ImageDraw
        >>> im = Image.new("RGB", (200, 200), "white")
        >>> ImageDraw.Draw(im).line([(50, 40), (150, 40), (90, 170)], fill="black", width=14)
        >>> p = prepare_digit(im)
        >>> p.image.shape, p.image.dtype
        ((28, 28), dtype('uint8'))
    """
    from PIL import Image

    if center not in ("mass", "box"):
        raise ValueError(f"prepare_digit: center must be 'mass' or 'box', got {center!r}")
    if not (0 < box <= size):
        raise ValueError(f"prepare_digit: need 0 < box <= size, got box={box}, size={size}")
    g = _to_grey(image)
    steps = [f"grey {g.shape[1]}x{g.shape[0]}"]
    border = np.concatenate([g[0], g[-1], g[:, 0], g[:, -1]])
    bg = float(np.median(border))
    if invert is None:
        invert = bg > 127.5
    if invert:
        g = 255.0 - g
        bg = 255.0 - bg
        steps.append(f"inverted (light background, level {255 - bg:.0f}): MNIST is white on black")
    # ink = what stands out from the background level; stretch it to 0..255 as MNIST's digits
    g = np.clip(g - bg, 0, None)
    peak = float(g.max())
    if peak <= 0:
        raise ValueError("prepare_digit: the image is blank (no pixel differs from the "
                         "background); draw a digit darker or lighter than the paper")
    g = g / peak * 255.0
    rows = np.flatnonzero((g > threshold * 255).any(1))
    cols = np.flatnonzero((g > threshold * 255).any(0))
    r0, r1, c0, c1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    g = g[r0:r1, c0:c1]
    steps.append(f"cropped to the ink: {c1 - c0}x{r1 - r0} at ({c0}, {r0})")
    h, w = g.shape
    scale = box / max(h, w)
    nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
    small = np.asarray(Image.fromarray(g.astype(np.float32), mode="F")
                       .resize((nw, nh), Image.LANCZOS), dtype=np.float64)
    small = np.clip(small, 0, 255)
    steps.append(f"scaled to {nw}x{nh} (fits in {box}x{box}, aspect kept)")
    out = np.zeros((size, size))
    if center == "mass" and small.sum() > 0:
        ys, xs = np.mgrid[:nh, :nw]
        cy, cx = (small * ys).sum() / small.sum(), (small * xs).sum() / small.sum()
        top, left = round(size / 2 - cy), round(size / 2 - cx)
        how = "centre of mass"
    else:
        top, left = (size - nh) // 2, (size - nw) // 2
        how = "bounding box"
    top, left = min(max(top, 0), size - nh), min(max(left, 0), size - nw)
    out[top:top + nh, left:left + nw] = small
    steps.append(f"placed in {size}x{size} with its {how} at the centre")
    return PreparedImage(np.rint(out).astype(np.uint8), steps)
