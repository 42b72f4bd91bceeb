"""Attention: ``scaled_dot_product_attention`` and ``multi_head_attention_forward`` (what
``nn.MultiheadAttention`` calls), composed from matmul, softmax, dropout and masks."""

from __future__ import annotations

import math

import numpy as np

from convnp._dtype import is_floating
from convnp.ops import elementwise as E

__all__ = ["scaled_dot_product_attention", "multi_head_attention_forward"]


def _t():
    from convnp.tensor import Tensor

    return Tensor


def _mask_to_float(mask, dtype):
    """A bool mask (True = attend) or float mask (added) -> an additive float array."""
    a = mask.array if isinstance(mask, _t()) else np.asarray(mask)
    if a.dtype == bool:
        return np.where(a, 0.0, -np.inf).astype(dtype)
    return a


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p: float = 0.0,
                                 is_causal: bool = False, scale=None, enable_gqa: bool = False):
    r""":math:`\mathrm{softmax}(Q K^T \cdot s + M) V` with :math:`s = 1/\sqrt{E}` unless
    ``scale`` is given. ``attn_mask``: bool (True = may attend) or float (added);
    ``is_causal``: attend to earlier positions only; ``enable_gqa``: key/value heads are
    repeated to the query's head count.

    Shape: query ``(..., L, E)``, key ``(..., S, E)``, value ``(..., S, Ev)`` -> ``(..., L, Ev)``.
    """
    from convnp.ops.activation import softmax
    from convnp.ops.dropout import dropout
    from convnp.ops.shape import repeat_interleave

    if is_causal and attn_mask is not None:
        raise RuntimeError("scaled_dot_product_attention: pass either attn_mask or is_causal, "
                           "not both")
    L, S = query.shape[-2], key.shape[-2]
    s = 1.0 / math.sqrt(query.shape[-1]) if scale is None else scale
    if enable_gqa and key.ndim >= 3 and key.shape[-3] != query.shape[-3]:
        rep = query.shape[-3] // key.shape[-3]
        key = repeat_interleave(key, rep, -3)
        value = repeat_interleave(value, rep, -3)
    scores = E.mul(query.matmul(key.transpose(-2, -1)), s)
    if is_causal:
        scores = E.add(scores, np.where(np.tril(np.ones((L, S), bool)), 0.0, -np.inf).astype(
            scores.dtype))
    if attn_mask is not None:  # a float mask is added as it is (differentiable, as torch's)
        float_mask = isinstance(attn_mask, _t()) and attn_mask.dtype != bool
        scores = E.add(scores, attn_mask if float_mask else _mask_to_float(attn_mask,
                                                                            scores.dtype))
    weights = softmax(scores, -1)
    if dropout_p > 0:
        weights = dropout(weights, dropout_p, True)
    return weights.matmul(value)


def multi_head_attention_forward(query, key, value, embed_dim_to_check, num_heads,
                                 in_proj_weight, in_proj_bias, bias_k, bias_v, add_zero_attn,
                                 dropout_p, out_proj_weight, out_proj_bias, training=True,
                                 key_padding_mask=None, need_weights=True, attn_mask=None,
                                 use_separate_proj_weight=False, q_proj_weight=None,
                                 k_proj_weight=None, v_proj_weight=None, static_k=None,
                                 static_v=None, average_attn_weights=True, is_causal=False):
    r"""Multi-head attention as ``nn.MultiheadAttention`` computes it (sequence-first).

    Shape: query ``(L, N, E)`` (or unbatched ``(L, E)``), key/value ``(S, N, E)``; returns
    ``(attn_output (L, N, E), attn_weights (N, L, S))`` (weights averaged over heads unless
    ``average_attn_weights=False``: ``(N, heads, L, S)``; None unless ``need_weights``)."""
    from convnp.ops.linear import linear
    from convnp.ops.movement import cat

    batched = query.ndim == 3
    if not batched:
        query, key, value = (x.unsqueeze(1) for x in (query, key, value))
        if key_padding_mask is not None:
            key_padding_mask = key_padding_mask.unsqueeze(0)
    tgt_len, bsz, embed_dim = query.shape
    _check_heads(embed_dim, embed_dim_to_check, num_heads, is_causal, attn_mask)
    head_dim = embed_dim // num_heads
    if use_separate_proj_weight:
        w_q, w_k, w_v = q_proj_weight, k_proj_weight, v_proj_weight
    else:
        w_q, w_k, w_v = in_proj_weight.chunk(3, 0)
    b_q, b_k, b_v = in_proj_bias.chunk(3, 0) if in_proj_bias is not None else (None,) * 3
    q, k, v = linear(query, w_q, b_q), linear(key, w_k, b_k), linear(value, w_v, b_v)
    mask, kpm = _masks(attn_mask, key_padding_mask, q.dtype)
    if bias_k is not None and bias_v is not None:
        k = cat([k, bias_k.reshape(1, 1, embed_dim).expand(1, bsz, embed_dim)], 0)
        v = cat([v, bias_v.reshape(1, 1, embed_dim).expand(1, bsz, embed_dim)], 0)
        mask, kpm = _one_more_key(mask, kpm)
    # (L, N, E) -> (N * heads, L, head_dim)
    q = q.reshape(tgt_len, bsz * num_heads, head_dim).transpose(0, 1)
    k = (static_k if static_k is not None else
         k.reshape(k.shape[0], bsz * num_heads, head_dim).transpose(0, 1))
    v = (static_v if static_v is not None else
         v.reshape(v.shape[0], bsz * num_heads, head_dim).transpose(0, 1))
    if add_zero_attn:
        z = _t()._wrap(np.zeros((bsz * num_heads, 1, head_dim), q.dtype))
        k, v = cat([k, z], 1), cat([v, z], 1)
        mask, kpm = _one_more_key(mask, kpm)
    add = np.zeros((1, 1, 1), q.dtype)
    if mask is not None:
        add = add + mask  # (1 or N*heads, L, S)
    if kpm is not None:
        add = (add + np.repeat(kpm[:, None, :], num_heads, 0)).astype(q.dtype)
    out, weights = _attend(q, k, v, add.astype(q.dtype), dropout_p if training else 0.0)
    out = linear(out.transpose(0, 1).reshape(tgt_len, bsz, embed_dim), out_proj_weight,
                 out_proj_bias)
    w = None
    if need_weights:
        w = weights.reshape(bsz, num_heads, tgt_len, k.shape[1])
        if average_attn_weights:
            w = w.mean(1)
    if not batched:
        out = out.squeeze(1)
        if w is not None:
            w = w.squeeze(0)
    return out, w


def _check_heads(embed_dim, embed_dim_to_check, num_heads, is_causal, attn_mask) -> None:
    if embed_dim != embed_dim_to_check:
        raise RuntimeError(f"multi_head_attention_forward: was expecting embedding dimension of "
                           f"{embed_dim_to_check}, but got {embed_dim}")
    if embed_dim % num_heads:
        raise RuntimeError(f"multi_head_attention_forward: embed_dim {embed_dim} not divisible "
                           f"by num_heads {num_heads}")
    if is_causal and attn_mask is None:
        raise RuntimeError("multi_head_attention_forward: is_causal needs attn_mask as a hint "
                           "(as torch); pass the causal mask")


def _masks(attn_mask, key_padding_mask, dtype):
    """The additive float masks: attention ``(1 or N*heads, L, S)`` and key padding ``(N, S)``.
    Unlike scaled_dot_product_attention's, both boolean masks here mark what may NOT be attended
    (torch's convention for nn.MultiheadAttention)."""
    mask = None if attn_mask is None else _ignore_mask(attn_mask, "attn_mask", dtype)
    if mask is not None and mask.ndim == 2:
        mask = mask[None]
    kpm = None
    if key_padding_mask is not None:
        kpm = _ignore_mask(key_padding_mask, "key_padding_mask", dtype)
    return mask, kpm


def _ignore_mask(m, name: str, dtype):
    """A bool "ignore" mask (True = masked out) or a float mask, as an additive float array;
    other dtypes are refused with torch's message."""
    a = m.array if isinstance(m, _t()) else np.asarray(m)
    if a.dtype == bool:
        return np.where(a, -np.inf, 0.0).astype(dtype)
    if not is_floating(a.dtype):
        raise AssertionError(f"only bool and floating types of {name} are supported")
    return a


def _one_more_key(mask, kpm):
    """The masks widened by one key (bias_k / zero attention), which every query may see."""
    if mask is not None:
        mask = np.pad(mask, [(0, 0), (0, 0), (0, 1)])
    if kpm is not None:
        kpm = np.pad(kpm, [(0, 0), (0, 1)])
    return mask, kpm


def _attend(q, k, v, add, dropout_p):
    """softmax(q k^T / sqrt(d) + add) v over ``(N*heads, L, d)``; returns (out, weights)."""
    from convnp.ops.activation import softmax
    from convnp.ops.dropout import dropout

    scores = E.add(E.mul(q, 1.0 / math.sqrt(q.shape[-1])).matmul(k.transpose(1, 2)), add)
    weights = softmax(scores, -1)
    if dropout_p > 0:
        weights = dropout(weights, dropout_p, True)
    return weights.matmul(v), weights
