"""The notes' worked example: a 4x5 image and a 3x3 kernel whose first output is 66.

``notes_example_text()`` prints the cross-correlation step by step (every window, its
element-wise product and sum) and checks each number against
:func:`convnp.nn.functional.conv2d`, then shows what ``flip=True`` (true convolution) gives.
``convnp explain --example notes`` prints it; ``convnp animate conv2d --values notes`` draws it.
"""

from __future__ import annotations

import numpy as np

__all__ = ["NOTES_IMAGE", "NOTES_KERNEL", "notes_example_text"]

NOTES_IMAGE = np.array([[1, 2, 3, 4, 5],
                        [6, 7, 8, 2, 3],
                        [2, 5, 9, 9, 5],
                        [4, 8, 8, 2, 1]], dtype=np.float64)
NOTES_KERNEL = np.array([[1, 1, 1],
                         [2, 1, 2],
                         [3, 2, 1]], dtype=np.float64)


def _mat(a: np.ndarray, indent: str = "  ") -> list[str]:
    w = max(len(f"{v:g}") for v in a.ravel())
    return [indent + " ".join(f"{v:>{w}g}" for v in row) for row in a]


def notes_example_text(image=None, kernel=None) -> str:
    """The notes' 66 example (or any small 2-d ``image`` and ``kernel``), step by step.

    Each output cell is printed as its window, the element-wise product with the kernel and
    the sum; the sums are the output of ``F.conv2d`` (checked). The end shows ``flip=True``.

    Example::

        >>> print(notes_example_text().splitlines()[-1])  # doctest: +SKIP
    """
    import convnp
    import convnp.nn.functional as F

    x = np.asarray(NOTES_IMAGE if image is None else image, dtype=np.float64)
    w = np.asarray(NOTES_KERNEL if kernel is None else kernel, dtype=np.float64)
    if x.ndim != 2 or w.ndim != 2 or w.shape[0] > x.shape[0] or w.shape[1] > x.shape[1]:
        raise ValueError(f"notes example: need a 2-d image at least as large as a 2-d kernel, "
                         f"got image {x.shape} and kernel {w.shape}")
    kh, kw = w.shape
    oh, ow = x.shape[0] - kh + 1, x.shape[1] - kw + 1
    y = F.conv2d(convnp.tensor(x[None, None]), convnp.tensor(w[None, None])).array[0, 0]
    lines = [f"Cross-correlation (what F.conv2d and every deep-learning 'conv' compute) of a "
             f"{x.shape[0]}x{x.shape[1]} image", *_mat(x),
             f"with the {kh}x{kw} kernel", *_mat(w), "",
             f"Output size (x - k)/s + 1 per axis: ({x.shape[0]} - {kh})/1 + 1 = {oh} rows, "
             f"({x.shape[1]} - {kw})/1 + 1 = {ow} columns.",
             "Each output = sum(window * kernel), the window's top-left corner at the output's "
             "position:", ""]
    for i in range(oh):
        for j in range(ow):
            win = x[i:i + kh, j:j + kw]
            prod = win * w
            terms = " + ".join(f"{a:g}*{b:g}" for a, b in zip(win.ravel(), w.ravel()))
            lines.append(f"out[{i},{j}]: window rows {i}..{i + kh - 1}, columns {j}..{j + kw - 1}")
            pw = _mat(prod, "")
            for r, (wr, prow) in enumerate(zip(_mat(win, ""), pw)):
                mid = " (.) kernel = " if r == kh // 2 else " " * 14
                lines.append(f"    {wr}{mid}{prow}")
            total = prod.sum()
            lines.append(f"    = {terms} = {total:g}")
            assert total == y[i, j]  # the picture and the layer agree
    lines += ["", "Output (F.conv2d gives the same):", *_mat(y), ""]
    yf = F.conv2d(convnp.tensor(x[None, None]), convnp.tensor(w[None, None]),
                  flip=True).array[0, 0]
    wf = w[::-1, ::-1]
    lines += ["True convolution (the maths/signal-processing definition) flips the kernel "
              "first:", *_mat(wf),
              f"F.conv2d(x, w, flip=True) = F.conv2d(x, w.flip(-1, -2)); its first value is "
              f"sum(window * flipped) = {(x[:kh, :kw] * wf).sum():g}:", *_mat(yf),
              "A learned kernel absorbs the flip, so CNNs use cross-correlation and call it "
              "convolution."]
    return "\n".join(lines)
