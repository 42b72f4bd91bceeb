"""``ctc_loss``: Connectionist Temporal Classification (Graves et al., 2006), torch's numbers.

The forward (alpha) and backward (beta) recursions run in log space over the extended label
sequence ``blank, l1, blank, l2, ..., blank``, vectorised over the batch and the label
positions, one step per time frame (the recursion is sequential in time).

The gradient is torch's: with respect to ``log_probs`` it is
``exp(log_probs) - exp(log(sum alpha beta) + nll - log_probs)`` for frames inside each input
length (zero after), which equals the exact gradient once it flows back through the
``log_softmax`` that produces ``log_probs``.
"""

from __future__ import annotations

import numpy as np

from convnp.autograd.function import Function
from convnp.tensor import Tensor

__all__ = ["ctc_loss"]

_NEG = -np.inf


def _lse(*xs):
    out = xs[0]
    for x in xs[1:]:
        out = np.logaddexp(out, x)
    return out


class CTC(Function):
    @staticmethod
    def forward(ctx, lp, targets, in_lens, tgt_lens, blank, zero_infinity):
        # lp: (T, N, C) log-probabilities; targets: (N, S_max) padded label indices
        t_max, n, _ = lp.shape
        s_max = targets.shape[1]
        width = 2 * s_max + 1
        ext = np.full((n, width), blank, np.int64)  # extended labels l'
        ext[:, 1::2] = targets
        pos = np.arange(width)
        valid = pos[None, :] < (2 * tgt_lens[:, None] + 1)  # (N, W)
        # a skip from s-2 is allowed onto a label that differs from the label two back
        skip = np.zeros((n, width), bool)
        skip[:, 2:] = (ext[:, 2:] != blank) & (ext[:, 2:] != ext[:, :-2])
        rows = np.arange(n)[:, None]
        emit = lp.transpose(1, 0, 2)[rows, :, ext].transpose(0, 2, 1)  # (N, T, W): lp[t, l'_s]
        emit = np.where(valid[:, None, :], emit, _NEG)
        with np.errstate(invalid="ignore"):
            alpha = np.full((t_max, n, width), _NEG, lp.dtype)
            alpha[0, :, 0] = emit[:, 0, 0]
            alpha[0, :, 1] = np.where(tgt_lens > 0, emit[:, 0, 1], _NEG)
            for t in range(1, t_max):
                prev = alpha[t - 1]
                s1 = np.concatenate([np.full((n, 1), _NEG, lp.dtype), prev[:, :-1]], 1)
                s2 = np.concatenate([np.full((n, 2), _NEG, lp.dtype), prev[:, :-2]], 1)
                alpha[t] = _lse(prev, s1, np.where(skip, s2, _NEG)) + emit[:, t]
            last = in_lens - 1
            end = 2 * tgt_lens
            a_last = alpha[last, np.arange(n)]  # (N, W)
            ll = _lse(a_last[np.arange(n), end],
                      np.where(tgt_lens > 0, a_last[np.arange(n), np.maximum(end - 1, 0)], _NEG))
            nll = -ll
            beta = np.full((t_max, n, width), _NEG, lp.dtype)
            for t in range(t_max - 1, -1, -1):
                init = np.full((n, width), _NEG, lp.dtype)
                init[np.arange(n), end] = emit[np.arange(n), t, end]
                init[np.arange(n), np.maximum(end - 1, 0)] = np.where(
                    tgt_lens > 0, emit[np.arange(n), t, np.maximum(end - 1, 0)],
                    init[np.arange(n), np.maximum(end - 1, 0)])
                if t == t_max - 1:
                    rec = np.full((n, width), _NEG, lp.dtype)
                else:
                    nxt = beta[t + 1]
                    s1 = np.concatenate([nxt[:, 1:], np.full((n, 1), _NEG, lp.dtype)], 1)
                    s2 = np.concatenate([nxt[:, 2:], np.full((n, 2), _NEG, lp.dtype)], 1)
                    skip_next = np.concatenate([skip[:, 2:], np.zeros((n, 2), bool)], 1)
                    rec = _lse(nxt, s1, np.where(skip_next, s2, _NEG)) + emit[:, t]
                here = (t == last)[:, None]
                before = (t < last)[:, None]
                beta[t] = np.where(here, init, np.where(before, rec, _NEG))
        ctx.save_for_backward(lp, alpha, beta, ext, valid)
        ctx.args = (in_lens, nll, zero_infinity)
        loss = nll.copy()
        if zero_infinity:
            loss = np.where(np.isinf(loss), 0, loss).astype(lp.dtype)
        return loss.astype(lp.dtype)

    @staticmethod
    def backward(ctx, g):
        lp, alpha, beta, ext, valid = ctx.saved_tensors
        in_lens, nll, zero_infinity = ctx.args
        t_max, n, c = lp.shape
        # log of sum over positions s with l'_s == c of alpha_t(s) beta_t(s): (T, N, C)
        ab = alpha + beta
        lcab = np.full((t_max, n, c), _NEG, lp.dtype)
        ab_valid = np.where(valid[None], ab, _NEG)
        for s in range(ext.shape[1]):  # positions of the extended label sequence
            cur = lcab[:, np.arange(n), ext[:, s]]
            lcab[:, np.arange(n), ext[:, s]] = np.logaddexp(cur, ab_valid[:, :, s])
        with np.errstate(over="ignore", invalid="ignore"):
            grad = np.exp(lp) - np.exp(lcab + nll[None, :, None] - lp)
        inside = (np.arange(t_max)[:, None] < in_lens[None, :])[:, :, None]
        grad = np.where(inside, grad, 0)
        if zero_infinity:
            grad = np.where(np.isinf(nll)[None, :, None], 0, grad)
        grad = grad * g[None, :, None]
        return grad.astype(lp.dtype), None, None, None, None, None


def _ints(x, name: str) -> np.ndarray:
    a = np.asarray(x.array if isinstance(x, Tensor) else x)
    if a.dtype.kind not in "iu":
        raise TypeError(f"ctc_loss: {name} must hold integers, got dtype {a.dtype}")
    return a.astype(np.int64).reshape(-1)


def ctc_loss(log_probs: Tensor, targets, input_lengths, target_lengths, blank: int = 0,
             reduction: str = "mean", zero_infinity: bool = False) -> Tensor:
    r"""The CTC loss between an unsegmented sequence of log-probabilities and a target sequence
    (torch's ``F.ctc_loss``).

    Args:
        log_probs: :math:`(T, N, C)` or :math:`(T, C)` log-probabilities (``log_softmax``
            output).
        targets: :math:`(N, S)` padded label indices, or all targets concatenated in 1-D.
        input_lengths: :math:`(N)` frames used per sample (each <= T).
        target_lengths: :math:`(N)` labels per sample.
        blank: the blank label (default 0).
        reduction: ``'mean'`` (each loss divided by its target length, then the batch mean),
            ``'sum'`` or ``'none'``.
        zero_infinity: replace infinite losses (impossible alignments) and their gradients by
            zero.

    Returns: a scalar, or :math:`(N)` with ``'none'``.
    """
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(f"{reduction} is not a valid value for reduction")
    unbatched = log_probs.ndim == 2
    lp = log_probs.unsqueeze(1) if unbatched else log_probs
    if lp.ndim != 3:
        raise ValueError(f"ctc_loss: log_probs must be (T, N, C) or (T, C), got shape "
                         f"{tuple(log_probs.shape)}")
    t_max, n, c = lp.shape
    in_lens = _ints(input_lengths, "input_lengths")
    tgt_lens = _ints(target_lengths, "target_lengths")
    if in_lens.shape[0] != n or tgt_lens.shape[0] != n:
        raise RuntimeError(f"ctc_loss: input_lengths and target_lengths must have {n} entries "
                           f"(the batch size), got {in_lens.shape[0]} and {tgt_lens.shape[0]}")
    if (in_lens > t_max).any() or (in_lens < 1).any():
        raise RuntimeError(f"ctc_loss: input_lengths must be in [1, {t_max}], got "
                           f"{in_lens.tolist()}")
    tg = np.asarray(targets.array if isinstance(targets, Tensor) else targets).astype(np.int64)
    if unbatched and tg.ndim == 1 and tgt_lens.shape[0] == 1 and tg.shape[0] >= tgt_lens[0]:
        tg = tg[None, :]
    if tg.ndim == 1:  # concatenated targets
        if tg.shape[0] != tgt_lens.sum():
            raise RuntimeError(f"ctc_loss: 1-D targets must hold sum(target_lengths) = "
                               f"{int(tgt_lens.sum())} labels, got {tg.shape[0]}")
        padded = np.zeros((n, max(int(tgt_lens.max(initial=0)), 1)), np.int64)
        offsets = np.concatenate([[0], np.cumsum(tgt_lens)[:-1]])
        for i in range(n):
            padded[i, :tgt_lens[i]] = tg[offsets[i]:offsets[i] + tgt_lens[i]]
        tg = padded
    elif tg.shape[0] != n or (tgt_lens > tg.shape[1]).any():
        raise RuntimeError(f"ctc_loss: targets of shape {tg.shape} do not fit target_lengths "
                           f"{tgt_lens.tolist()}")
    if tg.shape[1] == 0:
        tg = np.zeros((n, 1), np.int64)
    mask = np.arange(tg.shape[1])[None, :] < tgt_lens[:, None]
    if ((tg < 0) | (tg >= c))[mask].any() or (tg == blank)[mask].any():
        raise RuntimeError(f"ctc_loss: target labels must be in [0, {c}) and differ from the "
                           f"blank ({blank})")
    tg = np.where(mask, tg, blank)
    losses = CTC.apply(lp, tg, in_lens, tgt_lens, blank, zero_infinity)
    if reduction == "none":
        return losses.squeeze(0) if unbatched else losses
    if reduction == "sum":
        return losses.sum()
    denom = Tensor._wrap(np.maximum(tgt_lens, 1).astype(losses.dtype))
    return (losses / denom).mean()
