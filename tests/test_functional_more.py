"""The torch.nn.functional ops added for coverage (convnp/ops/composite.py, distance.py,
embedding.py, loss_composite.py, sampling.py, attention.py): each against torch, values and
input gradients, float32 and float64; nn.init's deprecated names; error paths."""

import warnings

import numpy as np
import pytest

import convnp
import convnp.nn.functional as F
from tests.oracle import compare, distinct, rand

torch = pytest.importorskip("torch")
TF = torch.nn.functional
I = np.array

SIGNS = np.array([1, -1, 1, -1, 1])
CASES = {
    "glu": (lambda f, x: f.glu(x, 1), (rand(2, 6, 3),)),
    "rrelu-eval": (lambda f, x: f.rrelu(x, 0.1, 0.3), (rand(3, 4),)),
    "celu_-selu_": (lambda f, x: f.celu_(x * 1, 0.7) + f.selu_(x * 1), (rand(3, 4),)),
    "rms_norm": (lambda f, x, w: f.rms_norm(x, (4,), w), (rand(2, 3, 4), rand(4))),
    "rms_norm-eps": (lambda f, x: f.rms_norm(x, [3, 4], eps=0.1), (rand(2, 3, 4),)),
    "channel_shuffle": (lambda f, x: f.channel_shuffle(x, 2), (rand(2, 6, 3, 2),)),
    "conv_tbc": (lambda f, x, w, b: f.conv_tbc(x, w, b, 1), (rand(7, 2, 3), rand(3, 3, 4),
                                                             rand(4))),
    "max_pool2d_with_indices": (lambda f, x: f.max_pool2d_with_indices(x, 2), (distinct(1, 2, 4,
                                                                                         4),)),
    "adaptive_max_pool1d_with_indices": (lambda f, x: f.adaptive_max_pool1d_with_indices(x, 3),
                                         (distinct(2, 2, 7),)),
    "cosine_similarity": (lambda f, x, y: f.cosine_similarity(x, y, 1), (rand(3, 5),
                                                                           rand(1, 5))),
    "cosine_similarity-eps": (lambda f, x, y: f.cosine_similarity(x * 1e-9, y, 0, eps=1e-3),
                              (rand(4, 2), rand(4, 2))),
    # norms below eps: torch clamps them without stopping their gradient
    "cosine_similarity-eps-clamped": (lambda f, x, y: f.cosine_similarity(x * 0.1, y, 0,
                                                                          eps=0.5),
                                      (rand(3, 4), rand(3, 4))),
    "pairwise_distance": (lambda f, x, y: f.pairwise_distance(x, y, 3, keepdim=True),
                          (rand(3, 5), rand(3, 5))),
    "pdist": (lambda f, x: f.pdist(x, 1.5), (rand(4, 3),)),
    "embedding": (lambda f, w, i: f.embedding(i, w, padding_idx=1), (rand(5, 3),
                                                                     I([[0, 1], [4, 4]]))),
    "embedding-freq": (lambda f, w, i: f.embedding(i, w, scale_grad_by_freq=True),
                       (rand(5, 3), I([0, 4, 4, 2]))),
    "embedding_bag-mean": (lambda f, w, i, o: f.embedding_bag(i, w, o, padding_idx=2),
                           (rand(5, 3), I([0, 2, 4, 4, 1]), I([0, 2, 2]))),
    "embedding_bag-sum-2d": (lambda f, w, i, p: f.embedding_bag(i, w, mode="sum",
                                                                per_sample_weights=p),
                             (rand(5, 3), I([[0, 2], [4, 4]]), rand(2, 2))),
    "embedding_bag-max": (lambda f, w, i, o: f.embedding_bag(i, w, o, mode="max",
                                                             include_last_offset=True),
                          (distinct(5, 3), I([0, 2, 4, 1]), I([0, 2, 4]))),
    "cosine_embedding_loss": (lambda f, x, y, t: f.cosine_embedding_loss(x, y, t, 0.1),
                              (rand(5, 4), rand(5, 4), SIGNS)),
    "hinge_embedding_loss": (lambda f, x, t: f.hinge_embedding_loss(x, t, 0.5, reduction="sum"),
                             (rand(5), SIGNS)),
    "margin_ranking_loss": (lambda f, x, y, t: f.margin_ranking_loss(x, y, t.to(x.dtype), 0.2),
                            (rand(5), rand(5), SIGNS)),
    "soft_margin_loss": (lambda f, x, t: f.soft_margin_loss(x, t.to(x.dtype), reduction="none"),
                         (rand(5), SIGNS)),
    "multilabel_soft_margin_loss": (lambda f, x, t, w: f.multilabel_soft_margin_loss(x, t, w),
                                    (rand(3, 4), rand(3, 4, low=0, high=1), rand(4))),
    "multi_margin_loss": (lambda f, x, t: f.multi_margin_loss(x, t, 2, 0.8), (rand(3, 4),
                                                                               I([0, 3, 1]))),
    "multi_margin_loss-w": (lambda f, x, t, w: f.multi_margin_loss(x, t, weight=w,
                                                                   reduction="none"),
                            (rand(3, 4), I([0, 3, 1]), rand(4, low=0.1))),
    "multilabel_margin_loss": (lambda f, x, t: f.multilabel_margin_loss(x, t),
                               (rand(3, 4), I([[3, 0, -1, 1], [1, 2, 3, 0], [-1, 0, 0, 0]]))),
    "gaussian_nll_loss": (lambda f, x, y, v: f.gaussian_nll_loss(x, y, v, full=True),
                          (rand(3, 4), rand(3, 4), rand(3, 4, low=0.1, high=2))),
    "gaussian_nll_loss-clamped": (lambda f, x, y, v: f.gaussian_nll_loss(x, y, v, eps=0.3),
                                  (rand(3, 4), rand(3, 4), rand(3, low=0.01, high=0.6))),
    "poisson_nll_loss": (lambda f, x, y: f.poisson_nll_loss(x, y, full=True),
                         (rand(3, 4), rand(3, 4, low=0, high=3))),
    "poisson_nll_loss-rate": (lambda f, x, y: f.poisson_nll_loss(x, y, False, reduction="sum"),
                              (rand(3, 4, low=0.1, high=2), rand(3, 4, low=0, high=3))),
    "triplet_margin_loss": (lambda f, a, p, n: f.triplet_margin_loss(a, p, n, swap=True),
                            (rand(4, 3), rand(4, 3), rand(4, 3))),
    "triplet_margin_with_distance_loss": (
        lambda f, a, p, n: f.triplet_margin_with_distance_loss(
            a, p, n, distance_function=lambda x, y: 1 - f.cosine_similarity(x, y), margin=0.5),
        (rand(4, 3), rand(4, 3), rand(4, 3))),
    "linear_cross_entropy": (lambda f, x, w, t, b: f.linear_cross_entropy(
        x, w, t, linear_bias=b, label_smoothing=0.1), (rand(4, 3), rand(5, 3), I([0, 4, 2, 1]),
                                                       rand(5))),
    "affine_grid-2d": (lambda f, th: f.affine_grid(th, (2, 1, 3, 4), align_corners=False),
                       (rand(2, 2, 3),)),
    "affine_grid-3d": (lambda f, th: f.affine_grid(th, (1, 1, 2, 3, 2), align_corners=True),
                       (rand(1, 3, 4),)),
    "scaled_dot_product_attention": (lambda f, q, k, v: f.scaled_dot_product_attention(
        q, k, v, is_causal=True), (rand(2, 3, 4, 5), rand(2, 3, 4, 5), rand(2, 3, 4, 2))),
    "sdpa-mask": (lambda f, q, k, v, m: f.scaled_dot_product_attention(
        q, k, v, attn_mask=m, scale=0.3), (rand(2, 4, 5), rand(2, 3, 5), rand(2, 3, 2),
                                           rand(4, 3))),
    "sdpa-gqa": (lambda f, q, k, v: f.scaled_dot_product_attention(q, k, v, enable_gqa=True),
                 (rand(1, 4, 3, 2), rand(1, 2, 3, 2), rand(1, 2, 3, 2))),
}
for _mode in ("bilinear", "nearest"):
    for _pad in ("zeros", "border", "reflection"):
        for _ac in (False, True):
            CASES[f"grid_sample-{_mode}-{_pad}-{'ac' if _ac else 'noac'}"] = (
                lambda f, x, g, m=_mode, p=_pad, a=_ac: f.grid_sample(x, g, m, p, a),
                (rand(2, 2, 4, 5), rand(2, 3, 2, 2, low=-1.3, high=1.3, seed=3)))
CASES["fractional_max_pool2d"] = (
    lambda f, x, s: f.fractional_max_pool2d(x, (2, 3), (4, 3), return_indices=True,
                                            _random_samples=s),
    (distinct(2, 3, 9, 8), rand(2, 3, 2, low=0, high=1)))
CASES["fractional_max_pool3d-ratio"] = (
    lambda f, x, s: f.fractional_max_pool3d_with_indices(x, 2, output_ratio=0.5,
                                                         _random_samples=s),
    (distinct(1, 2, 6, 7, 5), rand(1, 2, 3, low=0, high=1)))
CASES["fractional_max_pool2d-unbatched"] = (
    lambda f, x, s: f.fractional_max_pool2d(x, 3, 3, _random_samples=s),
    (distinct(3, 7, 7), rand(1, 3, 2, low=0, high=1)))
CASES["ctc_loss"] = (
    lambda f, x, t, il, tl: f.ctc_loss(x.log_softmax(2), t, il, tl),
    (rand(6, 3, 5, low=-2, high=2), I([[1, 2, 2], [3, 1, 0], [4, 4, 4]]), I([6, 5, 6]),
     I([3, 2, 3])))
CASES["ctc_loss-concat-none-blank"] = (
    lambda f, x, t, il, tl: f.ctc_loss(x.log_softmax(2), t, il, tl, blank=4, reduction="none"),
    (rand(5, 2, 5, low=-2, high=2), I([1, 1, 0, 2]), I([5, 4]), I([2, 2])))
CASES["ctc_loss-unbatched-sum"] = (
    lambda f, x, t, il, tl: f.ctc_loss(x.log_softmax(1), t, il, tl, reduction="sum"),
    (rand(4, 3), I([1, 2]), I([4]), I([2])))
CASES["grid_sample-3d"] = (lambda f, x, g: f.grid_sample(x, g, align_corners=False),
                           (rand(1, 2, 3, 4, 5), rand(1, 2, 2, 3, 3, low=-1.2, high=1.2)))


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_functional_matches_torch(case, dtype):
    fn, inputs = CASES[case]
    tol = {"rtol": 2e-4, "atol": 2e-5} if dtype == np.float32 else {}
    if case == "celu_-selu_" and dtype == np.float64:
        tol = {"rtol": 1e-7}  # torch's celu gradient for alpha != 1 is off by ~1e-8 relative
    # no gradient for multi_margin_loss's weight or fractional pooling's random samples
    grad = [True, False] if case == "multi_margin_loss-w" or "fractional" in case else None
    compare(lambda *t: fn(F, *t), lambda *t: fn(TF, *t), *inputs, dtype=dtype, grad=grad,
            **tol)


def test_multi_head_attention_forward_matches_torch():
    e, h, L, S, n = 6, 2, 3, 4, 2
    q, k, v = rand(L, n, e, seed=1), rand(S, n, e, seed=2), rand(S, n, e, seed=3)
    w_in, b_in = rand(3 * e, e, seed=4), rand(3 * e, seed=5)
    w_out, b_out = rand(e, e, seed=6), rand(e, seed=7)
    bk, bv = rand(1, 1, e, seed=8), rand(1, 1, e, seed=9)
    mask = np.array([[False, False, True, False]] * n)
    for extra in ({}, {"average_attn_weights": False}):
        def run(f, lib, q, k, v, w_in, b_in, w_out, b_out, bk, bv, extra=extra):
            return f.multi_head_attention_forward(
                q, k, v, e, h, w_in, b_in, bk, bv, True, 0.0, w_out, b_out,
                key_padding_mask=lib.tensor(mask), **extra)
        compare(lambda *t: run(F, convnp, *t), lambda *t: run(TF, torch, *t), q, k, v, w_in,
                b_in, w_out, b_out, bk, bv, dtype=np.float64)


def test_gumbel_softmax_and_rrelu_training_are_random_but_well_formed():
    convnp.manual_seed(0)
    logits = convnp.tensor(rand(4, 5), requires_grad=True)
    y = F.gumbel_softmax(logits, tau=0.5)
    np.testing.assert_allclose(y.sum(-1).numpy(), 1, rtol=1e-6)
    hard = F.gumbel_softmax(logits, hard=True)
    assert set(np.unique(hard.numpy())) == {0.0, 1.0} and (hard.sum(-1).numpy() == 1).all()
    hard.sum().backward()  # straight-through: the soft sample's gradient reaches the logits
    assert logits.grad is not None
    x = convnp.tensor(-np.ones(1000))
    slopes = -F.rrelu(x, 0.1, 0.3, training=True).numpy()
    assert 0.1 <= slopes.min() and slopes.max() <= 0.3 and slopes.std() > 0.03


def test_one_hot_and_embedding_details():
    assert F.one_hot(convnp.tensor([0, 2])).tolist() == [[1, 0, 0], [0, 0, 1]]
    w = convnp.tensor([[3.0, 4.0], [0.3, 0.4]])
    F.embedding(convnp.tensor([0]), w, max_norm=1.0)  # renormalises row 0 in place, as torch
    tw = torch.tensor([[3.0, 4.0], [0.3, 0.4]])
    TF.embedding(torch.tensor([0]), tw, max_norm=1.0)
    np.testing.assert_allclose(w.numpy(), tw.numpy(), rtol=1e-6)


def test_init_deprecated_names_warn_and_work():
    w = convnp.empty(3, 4)
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        convnp.nn.init.constant(w, 0.5)
    assert (w.numpy() == 0.5).all()
    assert "`nn.init.constant` is now deprecated in favor of `nn.init.constant_`" in str(
        rec[0].message)


def test_ctc_impossible_alignment_is_inf_or_zero():
    x = rand(2, 1, 3)  # two frames cannot hold the three labels "1 1 1" (blanks between repeats)
    for zero in (False, True):
        c = convnp.tensor(x, requires_grad=True)
        t = torch.tensor(x, requires_grad=True)
        args = dict(reduction="sum", zero_infinity=zero)
        a = F.ctc_loss(c.log_softmax(2), convnp.tensor([[1, 1, 1]]), [2], [3], **args)
        b = TF.ctc_loss(t.log_softmax(2), torch.tensor([[1, 1, 1]]), [2], [3], **args)
        assert a.item() == b.item() == (0.0 if zero else float("inf"))
        if zero:
            a.backward()
            b.backward()
            np.testing.assert_allclose(c.grad.numpy(), t.grad.numpy())


def test_functional_errors():
    with pytest.raises(RuntimeError, match="glu: Halving dimension must be even"):
        F.glu(convnp.ones(2, 3))
    with pytest.raises(IndexError, match="embedding: index out of range"):
        F.embedding(convnp.tensor([5]), convnp.ones(5, 2))
    with pytest.raises(RuntimeError, match="one_hot: class values must be in \\[0, 2\\]"):
        F.one_hot(convnp.tensor([3]), 3)
    with pytest.raises(ValueError, match="affine_grid: for size .* theta must have shape"):
        F.affine_grid(convnp.ones(1, 3, 3), (1, 1, 4, 4))
    with pytest.raises(RuntimeError, match="channel_shuffle: Number of channels must be divisible"):
        F.channel_shuffle(convnp.ones(1, 3, 2, 2), 2)
    with pytest.raises(ValueError, match="gaussian_nll_loss: var of shape"):
        F.gaussian_nll_loss(convnp.ones(3, 4), convnp.ones(3, 4), convnp.ones(2))
    with pytest.raises(ValueError, match="fractional_max_pool2d requires specifying either"):
        F.fractional_max_pool2d(convnp.ones(1, 1, 4, 4), 2)
    # RuntimeError, as torch's "pool height 2 too large relative to input height 4"
    with pytest.raises(RuntimeError, match="fractional_max_pool2d\\(\\): pool size 2 and output "
                                           "size 4 are too large"):
        F.fractional_max_pool2d(convnp.ones(1, 1, 4, 4), 2, 4)
    with pytest.raises(convnp.Unsupported, match="scaled_mm.*fused GPU matrix kernels"):
        convnp._unsupported.check("nn.functional", "scaled_mm")
