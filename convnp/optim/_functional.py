"""The arithmetic that torch's update rules share, written once: torch's ``lerp_``, the running
average of squares, the bias correction, and the gradient after ``maximize`` and weight decay.
Those whose name ends in ``_`` work in place on NumPy arrays, in the order of operations of
torch's kernels (torch's vectorised CPU kernels may still round a last bit differently)."""

from __future__ import annotations

import numpy as np


def lerp_(start: np.ndarray, end, weight: float) -> None:
    """torch's ``start.lerp_(end, weight)`` in place, with its two formulas (the second is
    exact at weight 1): the running averages of the Adam family and of RMSprop, Adafactor, Muon."""
    if abs(weight) < 0.5:
        start += weight * (end - start)
    else:
        start[...] = end - (end - start) * (1 - weight)


def average_square_(avg: np.ndarray, g: np.ndarray, beta: float) -> None:
    """``avg = beta * avg + (1 - beta) * g * g`` in place, in the order of torch's
    ``avg.mul_(beta).addcmul_(g, g, value=1 - beta)``."""
    avg *= beta
    avg += (1 - beta) * g * g


def adam_moments_(state: dict, g: np.ndarray, betas: tuple) -> tuple[np.ndarray, np.ndarray]:
    """Adam's running averages of the gradient (``exp_avg``, by ``lerp_``) and of its square
    (``exp_avg_sq``), updated in place in ``state``; returns their arrays."""
    m, v = state["exp_avg"].array, state["exp_avg_sq"].array
    lerp_(m, g, 1 - betas[0])
    average_square_(v, g, betas[1])
    return m, v


def bias_correction(beta: float, step: float) -> float:
    """``1 - beta ** step``: the factor that unbiases a zero-started running average."""
    return 1 - beta ** step


def decayed_grad(p, grad, maximize: bool, weight_decay: float, lr: float = 0.0,
                 decoupled: bool = False):
    """The gradient an update uses: negated for ``maximize``, plus ``weight_decay * p`` (L2
    penalty); with ``decoupled`` the parameter is shrunk by ``lr * weight_decay`` in place instead
    and the gradient is left alone (AdamW's rule)."""
    g = -grad if maximize else grad
    if weight_decay != 0:
        if decoupled:
            p.array *= 1 - lr * weight_decay
        else:
            g = g + weight_decay * p.array
    return g
