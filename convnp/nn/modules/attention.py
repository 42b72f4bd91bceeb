"""``MultiheadAttention`` (torch's ``nn.MultiheadAttention``, listed among torch's activation
layers): scaled dot-product attention over ``num_heads`` heads, composed of convnp's
differentiable operations."""

from __future__ import annotations

import math

import numpy as np

from convnp import _dtype
from convnp._dtype import is_floating
from convnp.nn import init
from convnp.nn.modules.linear import Linear
from convnp.nn.modules.module import Module, Parameter
from convnp.tensor import Tensor

__all__ = ["MultiheadAttention"]


def _float_mask(mask, name: str, dtype) -> Tensor | None:
    """torch's canonical mask: a bool mask becomes -inf where True and 0 elsewhere; a float
    mask is added as it is."""
    if mask is None:
        return None
    a = mask.array if isinstance(mask, Tensor) else np.asarray(mask)
    if a.dtype == np.bool_:
        return Tensor._wrap(np.where(a, -np.inf, 0).astype(dtype))
    if not is_floating(a.dtype):
        raise AssertionError(f"only bool and floating types of {name} are supported")
    return mask if isinstance(mask, Tensor) else Tensor._wrap(a.astype(dtype))


class MultiheadAttention(Module):
    r"""Multi-head attention
    :math:`\text{MultiHead}(Q, K, V) = \text{Concat}(h_1, \dots, h_H) W^O` with
    :math:`h_i = \text{softmax}(Q W_i^Q (K W_i^K)^T / \sqrt{d}) V W_i^V`.

    Args:
        embed_dim: model dimension E. num_heads: H (must divide E).
        dropout: dropout on the attention weights in training (default 0).
        bias: biases on the input and output projections.
        add_bias_kv: learnable ``bias_k``/``bias_v`` appended to the keys and values.
        add_zero_attn: append a zero key/value (after the biases).
        kdim, vdim: key and value dimensions (default E; different ones give separate
            ``q_proj_weight``/``k_proj_weight``/``v_proj_weight`` instead of
            ``in_proj_weight``).
        batch_first: inputs are ``(N, L, E)`` instead of ``(L, N, E)``.

    Forward: ``forward(query, key, value, key_padding_mask=None, need_weights=True,
    attn_mask=None, average_attn_weights=True, is_causal=False)`` returns ``(attn_output,
    attn_weights)`` (weights ``(N, L, S)`` averaged over heads, ``(N, H, L, S)`` otherwise, or
    None when ``need_weights=False``). Boolean masks are True where attention is not allowed;
    float masks are added to the scores.

    Shape: query :math:`(L, N, E)` (or :math:`(L, E)` unbatched), key :math:`(S, N, k)`,
    value :math:`(S, N, v)`; output :math:`(L, N, E)`.

    Example::

        >>> mha = nn.MultiheadAttention(8, 2, batch_first=True)
        >>> out, w = mha(x, x, x)
    """

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True,
                 add_bias_kv: bool = False, add_zero_attn: bool = False, kdim=None, vdim=None,
                 batch_first: bool = False, device=None, dtype=None) -> None:
        super().__init__()
        if embed_dim <= 0 or num_heads <= 0:
            raise ValueError(f"embed_dim and num_heads must be greater than 0, got "
                             f"embed_dim={embed_dim} and num_heads={num_heads} instead")
        self.embed_dim = embed_dim
        self.kdim = kdim if kdim is not None else embed_dim
        self.vdim = vdim if vdim is not None else embed_dim
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        self.num_heads = num_heads
        self.dropout = dropout
        self.batch_first = batch_first
        self.head_dim = embed_dim // num_heads
        if self.head_dim * num_heads != embed_dim:
            raise AssertionError("embed_dim must be divisible by num_heads")
        dt = _dtype.resolve(dtype) or _dtype.get_default_dtype()
        e = embed_dim
        if not self._qkv_same_embed_dim:
            self.q_proj_weight = Parameter(np.empty((e, e), dt))
            self.k_proj_weight = Parameter(np.empty((e, self.kdim), dt))
            self.v_proj_weight = Parameter(np.empty((e, self.vdim), dt))
            self.register_parameter("in_proj_weight", None)
        else:
            self.in_proj_weight = Parameter(np.empty((3 * e, e), dt))
            self.register_parameter("q_proj_weight", None)
            self.register_parameter("k_proj_weight", None)
            self.register_parameter("v_proj_weight", None)
        if bias:
            self.in_proj_bias = Parameter(np.empty(3 * e, dt))
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = Linear(e, e, bias=bias, dtype=dt)
        if add_bias_kv:
            self.bias_k = Parameter(np.empty((1, 1, e), dt))
            self.bias_v = Parameter(np.empty((1, 1, e), dt))
        else:
            self.bias_k = self.bias_v = None
        self.add_zero_attn = add_zero_attn
        self._reset_parameters()

    def _reset_parameters(self) -> None:
        """torch's: xavier-uniform projections, zero projection biases, xavier-normal
        ``bias_k``/``bias_v`` (the output projection keeps Linear's initialisation)."""
        if self._qkv_same_embed_dim:
            init.xavier_uniform_(self.in_proj_weight)
        else:
            init.xavier_uniform_(self.q_proj_weight)
            init.xavier_uniform_(self.k_proj_weight)
            init.xavier_uniform_(self.v_proj_weight)
        if self.in_proj_bias is not None:
            init.constant_(self.in_proj_bias, 0.0)
            init.constant_(self.out_proj.bias, 0.0)
        if self.bias_k is not None:
            init.xavier_normal_(self.bias_k)
        if self.bias_v is not None:
            init.xavier_normal_(self.bias_v)

    def _project(self, query, key, value):
        from convnp.ops.linear import linear

        e = self.embed_dim
        b = self.in_proj_bias
        bq, bk, bv = (None, None, None) if b is None else (b[:e], b[e:2 * e], b[2 * e:])
        if self._qkv_same_embed_dim:
            w = self.in_proj_weight
            wq, wk, wv = w[:e], w[e:2 * e], w[2 * e:]
        else:
            wq, wk, wv = self.q_proj_weight, self.k_proj_weight, self.v_proj_weight
        return linear(query, wq, bq), linear(key, wk, bk), linear(value, wv, bv)

    def forward(self, query, key, value, key_padding_mask=None, need_weights: bool = True,
                attn_mask=None, average_attn_weights: bool = True, is_causal: bool = False):
        import convnp
        from convnp.ops.activation import softmax
        from convnp.ops.dropout import dropout

        name = "MultiheadAttention"
        batched = query.ndim == 3
        if query.ndim not in (2, 3):
            raise AssertionError(f"query should be unbatched 2D or batched 3D tensor but "
                                 f"received {query.ndim}-D query tensor")
        if is_causal and attn_mask is None:
            raise RuntimeError("Need attn_mask if specifying the is_causal hint. You may use the "
                               "Transformer module method `generate_square_subsequent_mask` to "
                               "create this mask.")
        if self.batch_first and batched:
            query, key, value = (t.transpose(0, 1) for t in (query, key, value))
        if not batched:
            query, key, value = query.unsqueeze(1), key.unsqueeze(1), value.unsqueeze(1)
            if key_padding_mask is not None:
                key_padding_mask = key_padding_mask.unsqueeze(0)
        tgt_len, bsz, e = query.shape
        if e != self.embed_dim:
            raise AssertionError(f"{name}: was expecting embedding dimension of "
                                 f"{self.embed_dim}, but got {e}")
        h, hd = self.num_heads, self.head_dim
        q, k, v = self._project(query, key, value)  # (L, N, E), (S, N, E), (S, N, E)
        mask = _float_mask(attn_mask, "attn_mask", q.dtype)
        if mask is not None and mask.ndim == 2:
            mask = mask.unsqueeze(0)  # (1, L, S)
        kpm = _float_mask(key_padding_mask, "key_padding_mask", q.dtype)
        if self.bias_k is not None:
            k = convnp.cat([k, self.bias_k.expand(1, bsz, e)])
            v = convnp.cat([v, self.bias_v.expand(1, bsz, e)])
            if mask is not None:
                mask = _pad_last(mask)
            if kpm is not None:
                kpm = _pad_last(kpm)
        # (N*H, L, hd) and (N*H, S, hd)
        q = q.reshape(tgt_len, bsz * h, hd).transpose(0, 1)
        k = k.reshape(k.shape[0], bsz * h, hd).transpose(0, 1)
        v = v.reshape(v.shape[0], bsz * h, hd).transpose(0, 1)
        if self.add_zero_attn:
            zeros = Tensor._wrap(np.zeros((bsz * h, 1, hd), q.dtype))
            k = convnp.cat([k, zeros], 1)
            v = convnp.cat([v, zeros], 1)
            if mask is not None:
                mask = _pad_last(mask)
            if kpm is not None:
                kpm = _pad_last(kpm)
        src_len = k.shape[1]
        if kpm is not None:
            if tuple(kpm.shape) != (bsz, src_len):
                raise AssertionError(f"expecting key_padding_mask shape of {(bsz, src_len)}, but "
                                     f"got {tuple(kpm.shape)}")
            # (N, S) -> (N*H, 1, S)
            kpm = kpm.reshape(bsz, 1, 1, src_len).expand(bsz, h, 1, src_len).reshape(
                bsz * h, 1, src_len)
            mask = kpm if mask is None else mask + kpm
        scores = (q * math.sqrt(1.0 / hd)).matmul(k.transpose(1, 2))  # (N*H, L, S)
        if mask is not None:
            scores = scores + mask
        weights = softmax(scores, -1)
        if self.dropout > 0.0 and self.training:
            weights = dropout(weights, self.dropout, True)
        out = weights.matmul(v)  # (N*H, L, hd)
        out = out.transpose(0, 1).reshape(tgt_len * bsz, e)
        out = self.out_proj(out).reshape(tgt_len, bsz, e)
        if self.batch_first and batched:
            out = out.transpose(0, 1)
        if not batched:
            out = out.squeeze(1)
        if not need_weights:
            return out, None
        weights = weights.reshape(bsz, h, tgt_len, src_len)
        if average_attn_weights:
            weights = weights.mean(1)
        if not batched:
            weights = weights.squeeze(0)
        return out, weights


def _pad_last(mask: Tensor) -> Tensor:
    """Append a zero (attend-allowed) column to a float mask."""
    import convnp

    zero = Tensor._wrap(np.zeros(mask.shape[:-1] + (1,), mask.dtype))
    return convnp.cat([mask, zero], -1)
