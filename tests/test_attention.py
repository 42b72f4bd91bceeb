"""nn.MultiheadAttention against torch: outputs, attention weights, input and parameter
gradients for every option (masks, bias_kv, zero_attn, kdim/vdim, batch_first, unbatched)."""

import numpy as np
import pytest

import convnp
from convnp import nn
from convnp.nn import functional as F

torch = pytest.importorskip("torch")

R = np.random.default_rng(0)

CASES = [
    ("default", dict(), {}, (5, 2), 5),
    ("batch-first-no-bias", dict(batch_first=True, bias=False), {}, (2, 4), 6),
    ("bias-kv-zero-attn", dict(add_bias_kv=True, add_zero_attn=True), {}, (3, 2), 4),
    ("kdim-vdim", dict(kdim=3, vdim=5), {}, (4, 2), 6),
    ("bool-masks", dict(), dict(attn_mask="bool", key_padding_mask="bool"), (4, 3), 5),
    ("float-mask-per-head", dict(), dict(attn_mask="float3"), (3, 2), 4),
    ("masks-bias-kv", dict(add_bias_kv=True), dict(attn_mask="bool",
                                                   key_padding_mask="bool"), (4, 2), 3),
    ("no-avg", dict(), dict(average_attn_weights=False), (3, 2), 4),
    ("no-weights", dict(), dict(need_weights=False), (3, 2), 4),
    ("unbatched", dict(), {}, (4, None), 5),
]


def _masks(fkw, n, h, tgt, src, dtype):
    out_c, out_t = {}, {}
    for k, v in fkw.items():
        if v == "bool" and k == "attn_mask":
            m = R.random((tgt, src)) < 0.3
            m[:, 0] = False
        elif v == "bool":
            m = R.random((n, src)) < 0.3
            m[:, 0] = False
        elif v == "float3":
            m = R.standard_normal((n * h, tgt, src)).astype(dtype)
        else:
            out_c[k] = out_t[k] = v
            continue
        out_c[k], out_t[k] = convnp.tensor(m), torch.tensor(m)
    return out_c, out_t


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_multihead_attention_matches_torch(case, dtype):
    _, kw, fkw, (tgt, n), src = case
    e, h = 8, 2
    tdt = torch.float32 if dtype == np.float32 else torch.float64
    tm = torch.nn.MultiheadAttention(e, h, **kw).to(tdt)
    cm = nn.MultiheadAttention(e, h, **kw)
    if dtype == np.float64:
        cm.double()
    assert list(cm.state_dict()) == list(tm.state_dict())
    cm.load_state_dict({k: v.numpy() for k, v in tm.state_dict().items()})
    kd, vd = kw.get("kdim", e), kw.get("vdim", e)
    if n is None:
        shapes = [(tgt, e), (src, kd), (src, vd)]
    elif kw.get("batch_first"):
        shapes = [(n, tgt, e), (n, src, kd), (n, src, vd)]
    else:
        shapes = [(tgt, n, e), (src, n, kd), (src, n, vd)]
    arrays = [R.standard_normal(s).astype(dtype) for s in shapes]
    cin = [convnp.tensor(a, requires_grad=True) for a in arrays]
    tin = [torch.tensor(a, requires_grad=True) for a in arrays]
    cmask, tmask = _masks(fkw, n or 1, h, tgt, src, dtype)
    cy, cw = cm(*cin, **cmask)
    ty, tw = tm(*tin, **tmask)
    tol = dict(rtol=1e-4, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(cy.array, ty.detach().numpy(), **tol)
    if tw is None:
        assert cw is None
    else:
        np.testing.assert_allclose(cw.array, tw.detach().numpy(), **tol)
    g = R.standard_normal(ty.shape).astype(dtype)
    loss_c = (cy * convnp.tensor(g)).sum() + (cw.sum() if cw is not None else 0)
    loss_t = (ty * torch.tensor(g)).sum() + (tw.sum() if tw is not None else 0)
    loss_c.backward()
    loss_t.backward()
    for i, (c, t) in enumerate(zip(cin, tin)):
        np.testing.assert_allclose(c.grad.array, t.grad.numpy(), err_msg=f"input {i}", **tol)
    tp = dict(tm.named_parameters())
    for k, p in cm.named_parameters():
        np.testing.assert_allclose(p.grad.array, tp[k].grad.numpy(), err_msg=k, **tol)


def test_init_and_errors():
    convnp.manual_seed(0)
    m = nn.MultiheadAttention(6, 3, add_bias_kv=True)
    assert np.all(m.in_proj_bias.array == 0) and np.all(m.out_proj.bias.array == 0)
    bound = np.sqrt(6.0 / (6 + 18))  # xavier_uniform on (3E, E)
    assert np.abs(m.in_proj_weight.array).max() <= bound and m.in_proj_weight.array.std() > 0.1
    with pytest.raises(AssertionError, match="embed_dim must be divisible by num_heads"):
        nn.MultiheadAttention(5, 2)
    x = convnp.randn(3, 1, 6)
    with pytest.raises(RuntimeError, match="Need attn_mask if specifying the is_causal hint"):
        m(x, x, x, is_causal=True)


@pytest.mark.parametrize("masks", ["attn", "key_padding", "both"])
def test_functional_bool_masks_mark_what_is_masked_out(masks):
    """F.multi_head_attention_forward reads a bool attn_mask as torch does (True = may NOT attend,
    the opposite of scaled_dot_product_attention's); a causal mask must give torch's numbers."""
    import torch.nn.functional as TF

    rng = np.random.default_rng(0)
    L, N, E, H = 4, 2, 8, 2
    q = rng.standard_normal((L, N, E))
    w, b = rng.standard_normal((3 * E, E)) * 0.3, rng.standard_normal(3 * E) * 0.1
    ow, ob = rng.standard_normal((E, E)) * 0.3, rng.standard_normal(E) * 0.1
    causal = np.triu(np.ones((L, L), bool), 1)
    kpm = np.zeros((N, L), bool)
    kpm[1, -1] = True
    am = causal if masks in ("attn", "both") else None
    km = kpm if masks in ("key_padding", "both") else None

    def run(fn, t):
        out, weights = fn(t(q), t(q), t(q), E, H, t(w), t(b), None, None, False, 0.0, t(ow),
                          t(ob), training=False, attn_mask=None if am is None else t(am),
                          key_padding_mask=None if km is None else t(km))
        return out, weights

    ot, wt = run(TF.multi_head_attention_forward, torch.tensor)
    oc, wc = run(F.multi_head_attention_forward, convnp.tensor)
    np.testing.assert_allclose(oc.array, ot.numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(wc.array, wt.numpy(), rtol=1e-12, atol=1e-12)
