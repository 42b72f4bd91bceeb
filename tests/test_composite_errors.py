"""The layers over the composite ops (GLU, ChannelShuffle, RMSNorm, the margin / embedding /
likelihood / triplet losses, the distances) and their functional forms raise torch's error
type for the same bad input, with a message naming the function."""

import numpy as np
import pytest

import convnp
import convnp.nn.functional as F
from convnp import nn

torch = pytest.importorskip("torch")
TF = torch.nn.functional


def _ints(lib, rows):
    return lib.tensor(np.asarray(rows, np.int64))


# id, call(lib, functional, ones), torch's error type, convnp's message pattern
CASES = [
    ("glu-odd", lambda lib, f, o: f.glu(o(3, 5)), RuntimeError, "glu: Halving dimension"),
    ("shuffle-2d", lambda lib, f, o: f.channel_shuffle(o(3, 4), 2), RuntimeError,
     "channel_shuffle: expected an input of at least 3 dims"),
    ("shuffle-g0", lambda lib, f, o: f.channel_shuffle(o(1, 4, 2), 0), RuntimeError,
     "channel_shuffle: the number of groups .* must be positive"),
    ("shuffle-div", lambda lib, f, o: f.channel_shuffle(o(1, 6, 2, 2), 4), RuntimeError,
     "channel_shuffle: Number of channels must be divisible by groups"),
    ("rms-shape", lambda lib, f, o: f.rms_norm(o(2, 5), [4]), RuntimeError, "rms_norm:"),
    ("mm-range", lambda lib, f, o: f.multi_margin_loss(o(2, 3), _ints(lib, [0, 3])),
     RuntimeError, "multi_margin_loss: target out of range"),
    ("mm-3d", lambda lib, f, o: f.multi_margin_loss(o(2, 3, 2), _ints(lib, [0, 1])),
     RuntimeError, r"multi_margin_loss: expected a \(C,\) or \(N, C\) input"),
    ("mm-float-target", lambda lib, f, o: f.multi_margin_loss(o(2, 3), o(2)), RuntimeError,
     "multi_margin_loss: expected target of integer class indices"),
    ("mlm-range", lambda lib, f, o: f.multilabel_margin_loss(o(2, 3), _ints(lib, [[0, 5, -1],
                                                                                [1, -1, 0]])),
     RuntimeError, "multilabel_margin_loss: argument 'target' is out of range"),
    ("gnll-size", lambda lib, f, o: f.gaussian_nll_loss(o(4, 3), o(4, 3), o(2)), ValueError,
     "gaussian_nll_loss: var of shape .* var is of incorrect size"),
    ("poisson-reduction", lambda lib, f, o: f.poisson_nll_loss(o(3), o(3), reduction="avg"),
     ValueError, "poisson_nll_loss: 'avg' is not a valid value for reduction"),
    ("ranking-dims", lambda lib, f, o: f.margin_ranking_loss(o(3), o(3), o(3, 1)),
     RuntimeError, "margin_ranking_loss: All input tensors should have same dimension"),
    ("cosemb-3d", lambda lib, f, o: f.cosine_embedding_loss(o(2, 3, 4), o(2, 3, 4), o(2)),
     RuntimeError, "cosine_embedding_loss: 1D target tensor expects 2D input"),
    ("cosemb-mismatch", lambda lib, f, o: f.cosine_embedding_loss(o(2, 3), o(2, 3, 4), o(2)),
     RuntimeError, "cosine_embedding_loss: 1D target tensor expects 2D input"),
    ("triplet-dims", lambda lib, f, o: f.triplet_margin_loss(o(2, 3), o(2, 3), o(3)),
     RuntimeError, "triplet_margin_loss: The anchor, positive, and negative tensors"),
    ("pairwise-ndarray", lambda lib, f, o: f.pairwise_distance(np.ones(3), o(3)), TypeError,
     "pairwise_distance: argument 'x1' must be a Tensor, got ndarray"),
    ("cosine-ndarray", lambda lib, f, o: f.cosine_similarity(o(2, 3), np.ones((2, 3))),
     TypeError, "cosine_similarity: argument 'x2' must be a Tensor, got ndarray"),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_functional_error_type_matches_torch(case):
    _, call, err, pattern = case
    with pytest.raises(err):
        call(torch, TF, torch.ones)
    with pytest.raises(err, match=pattern):
        call(convnp, F, convnp.ones)


# the same bad inputs through the layers: they call the functional ops, so the errors agree
LAYER_CASES = [
    ("GLU", {}, lambda o: (o(3, 5),), RuntimeError),
    ("ChannelShuffle", dict(groups=4), lambda o: (o(1, 6, 2, 2),), RuntimeError),
    ("RMSNorm", dict(normalized_shape=[4]), lambda o: (o(2, 5),), RuntimeError),
    ("MultiMarginLoss", {}, lambda o: (o(2, 3, 2), o(2).long()), RuntimeError),
    ("MarginRankingLoss", {}, lambda o: (o(3), o(3), o(3, 1)), RuntimeError),
    ("CosineEmbeddingLoss", {}, lambda o: (o(2, 3, 4), o(2, 3, 4), o(2)), RuntimeError),
    ("TripletMarginLoss", {}, lambda o: (o(2, 3), o(2, 3), o(3)), RuntimeError),
    ("GaussianNLLLoss", {}, lambda o: (o(4, 3), o(4, 3), o(2)), ValueError),
    ("SoftMarginLoss", dict(reduction="avg"), lambda o: (o(3), o(3)), ValueError),
]


@pytest.mark.parametrize("case", LAYER_CASES, ids=[c[0] for c in LAYER_CASES])
def test_layer_error_type_matches_torch(case):
    name, kw, inputs, err = case
    with pytest.raises(err):
        getattr(torch.nn, name)(**kw)(*inputs(torch.ones))
    with pytest.raises(err):
        getattr(nn, name)(**kw)(*inputs(convnp.ones))


def test_rrelu_zero_takes_the_slope_as_torch():
    # torch's rrelu scales x <= 0, so the gradient at exactly 0 is the slope, not 1
    x = convnp.tensor([0.0, -1.0, 2.0], requires_grad=True)
    t = torch.tensor([0.0, -1.0, 2.0], requires_grad=True)
    nn.RReLU(0.1, 0.3).eval()(x).sum().backward()
    torch.nn.RReLU(0.1, 0.3).eval()(t).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy())
