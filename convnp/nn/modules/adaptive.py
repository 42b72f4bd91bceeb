"""``AdaptiveLogSoftmaxWithLoss`` (Grave et al., 2016): a softmax over many classes split into
a frequent-class head and smaller clusters of rarer classes (torch's
``nn.AdaptiveLogSoftmaxWithLoss``)."""

from __future__ import annotations

from collections import namedtuple

import numpy as np

from convnp.nn.modules.container import ModuleList, Sequential
from convnp.nn.modules.linear import Linear
from convnp.nn.modules.module import Module
from convnp.tensor import Tensor

__all__ = ["AdaptiveLogSoftmaxWithLoss"]

_ASMoutput = namedtuple("_ASMoutput", ["output", "loss"])


class AdaptiveLogSoftmaxWithLoss(Module):
    r"""Efficient softmax approximation for large output spaces.

    Classes ``[0, cutoffs[0])`` are scored by the head together with one logit per cluster;
    cluster ``i`` holds classes ``[cutoffs[i], cutoffs[i+1])`` (the last ends at ``n_classes``)
    and is scored by a two-layer projection of size ``in_features // div_value**(i+1)``.

    Args:
        in_features: input size. n_classes: number of classes.
        cutoffs: increasing class boundaries, each in ``(0, n_classes)``.
        div_value: shrink factor of the cluster projections (default 4.0).
        head_bias: a bias on the head (default False).

    Forward: ``forward(input, target)`` returns ``(output, loss)``: ``output`` the
    log-probability of each target, ``loss`` the mean negative log-likelihood. Also
    ``log_prob(input)`` (every class) and ``predict(input)`` (the most likely class).

    Shape: input :math:`(N, in)` or :math:`(in)`; target :math:`(N)` or :math:`()`.
    """

    def __init__(self, in_features: int, n_classes: int, cutoffs, div_value: float = 4.0,
                 head_bias: bool = False, device=None, dtype=None) -> None:
        super().__init__()
        cutoffs = list(cutoffs)
        if len(cutoffs) == 0:
            raise ValueError("cutoffs should be a sequence of length larger than 0")
        if (cutoffs != sorted(cutoffs) or min(cutoffs) <= 0 or max(cutoffs) > (n_classes - 1)
                or len(set(cutoffs)) != len(cutoffs)
                or any(int(c) != c for c in cutoffs)):
            raise ValueError("cutoffs should be a sequence of unique, positive integers sorted "
                             "in an increasing order, where each value is between 1 and "
                             "n_classes-1")
        self.in_features = in_features
        self.n_classes = n_classes
        self.cutoffs = cutoffs + [n_classes]
        self.div_value = div_value
        self.head_bias = head_bias
        self.shortlist_size = self.cutoffs[0]
        self.n_clusters = len(self.cutoffs) - 1
        self.head_size = self.shortlist_size + self.n_clusters
        self.head = Linear(in_features, self.head_size, bias=head_bias, dtype=dtype)
        self.tail = ModuleList()
        for i in range(self.n_clusters):
            hsz = int(in_features // (div_value ** (i + 1)))
            osz = self.cutoffs[i + 1] - self.cutoffs[i]
            self.tail.append(Sequential(Linear(in_features, hsz, bias=False, dtype=dtype),
                                        Linear(hsz, osz, bias=False, dtype=dtype)))

    def reset_parameters(self) -> None:
        self.head.reset_parameters()
        for seq in self.tail:
            for m in seq:
                m.reset_parameters()

    def forward(self, input_, target_):
        import convnp
        from convnp.ops.activation import log_softmax

        t = np.asarray(target_.array if isinstance(target_, Tensor) else target_)
        if t.ndim == 1:
            if input_.ndim != 2:
                raise RuntimeError("1D target tensor expects 2D input tensors, but found inputs "
                                   f"with size {tuple(input_.shape)}")
            if input_.shape[0] != t.shape[0]:
                raise RuntimeError("Input and target should have the same size in the batch "
                                   "dimension.")
        elif t.ndim == 0:
            if input_.ndim != 1:
                raise RuntimeError("0D target tensor expects 1D input tensors, but found inputs "
                                   f"with size {tuple(input_.shape)}")
        else:
            raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
        batched = t.ndim > 0
        x = input_ if batched else input_.unsqueeze(0)
        t = t.reshape(-1).astype(np.int64)
        n = t.shape[0]
        if n and (t.min() < 0 or t.max() >= self.n_classes):
            raise RuntimeError(f"Target values should be in [0, {self.n_classes - 1}], but "
                               f"values in range [{t.min()}, {t.max()}] were found. ")
        gather = t.copy()
        pieces, rows_all = [], []
        bounds = [0] + self.cutoffs
        for i in range(1, len(bounds) - 1):
            rows = np.nonzero((t >= bounds[i]) & (t < bounds[i + 1]))[0]
            if rows.size == 0:
                continue
            gather[rows] = self.shortlist_size + i - 1
            cluster = log_softmax(self.tail[i - 1](x[rows]), 1)
            rel = Tensor._wrap((t[rows] - bounds[i]).reshape(-1, 1))
            pieces.append(cluster.gather(1, rel).reshape(-1))
            rows_all.append(rows)
        head = log_softmax(self.head(x), 1)
        output = head.gather(1, Tensor._wrap(gather.reshape(-1, 1))).reshape(-1)
        if pieces:
            # place the cluster terms at their rows: concatenate, then undo the order
            rows = np.concatenate(rows_all)
            vals = convnp.cat(pieces)
            zero = Tensor._wrap(np.zeros(1, output.dtype))
            slot = np.full(n, rows.size, np.int64)  # rows outside clusters read the zero
            slot[rows] = np.arange(rows.size)
            output = output + convnp.cat([vals, zero])[slot]
        loss = (-output).mean()
        if not batched:
            output = output.squeeze(0)
        return _ASMoutput(output, loss)

    def _full_log_prob(self, x, head):
        import convnp
        from convnp.ops.activation import log_softmax

        parts = [head[:, :self.shortlist_size]]
        for i, tail in enumerate(self.tail):
            cluster = log_softmax(tail(x), 1)
            parts.append(cluster + head[:, self.shortlist_size + i:self.shortlist_size + i + 1])
        return convnp.cat(parts, 1)

    def log_prob(self, input):
        """Log-probabilities of every class: :math:`(N, n\\_classes)` (or
        :math:`(n\\_classes)`)."""
        from convnp.ops.activation import log_softmax

        batched = input.ndim > 1
        x = input if batched else input.unsqueeze(0)
        out = self._full_log_prob(x, log_softmax(self.head(x), 1))
        return out if batched else out.squeeze(0)

    def predict(self, input):
        """The most likely class of each input: :math:`(N)` (or :math:`()`)."""
        return self.log_prob(input).argmax(-1)
