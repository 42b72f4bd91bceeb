"""Every layer class of ``convnp.nn`` on a batch of 0: forward and backward as torch does (empty
results and zero parameter gradients), never a reshape or ZeroDivision error."""

from __future__ import annotations

import inspect
import warnings

import numpy as np
import pytest

import convnp
import convnp.nn as nn

torch = pytest.importorskip("torch")

D1, D2, D3 = (0, 2, 6), (0, 2, 6, 6), (0, 2, 4, 4, 4)
LOSS_IN = (0, 3)

# name -> (constructor args, input shapes, extra keyword arguments of the constructor); the torch
# layer of the same name gets the same arguments
TORCH_LAYERS = {
    "AdaptiveAvgPool1d": ((2,), [D1]), "AdaptiveAvgPool2d": ((2,), [D2]),
    "AdaptiveAvgPool3d": ((2,), [D3]), "AdaptiveMaxPool1d": ((2,), [D1]),
    "AdaptiveMaxPool2d": ((2,), [D2]), "AdaptiveMaxPool3d": ((2,), [D3]),
    "AlphaDropout": ((0.5,), [D2]), "AvgPool1d": ((2,), [D1]), "AvgPool2d": ((2,), [D2]),
    "AvgPool3d": ((2,), [D3]), "BatchNorm1d": ((2,), [D1]), "BatchNorm2d": ((2,), [D2]),
    "BatchNorm3d": ((2,), [D3]), "Bilinear": ((3, 4, 5), [(0, 3), (0, 4)]), "CELU": ((), [D2]),
    "CircularPad1d": ((1,), [D1]), "CircularPad2d": ((1,), [D2]), "CircularPad3d": ((1,), [D3]),
    "ConstantPad1d": ((1, 0.5), [D1]), "ConstantPad2d": ((1, 0.5), [D2]),
    "ConstantPad3d": ((1, 0.5), [D3]), "Conv1d": ((2, 3, 3), [D1]), "Conv2d": ((2, 3, 3), [D2]),
    "Conv3d": ((2, 3, 3), [D3]), "ConvTranspose1d": ((2, 3, 3), [D1]),
    "ConvTranspose2d": ((2, 3, 3), [D2]), "ConvTranspose3d": ((2, 3, 3), [D3]),
    "Dropout": ((0.5,), [D2]), "Dropout1d": ((0.5,), [D1]), "Dropout2d": ((0.5,), [D2]),
    "Dropout3d": ((0.5,), [D3]), "ELU": ((), [D2]), "FeatureAlphaDropout": ((0.5,), [D2]),
    "Flatten": ((), [D2]), "Fold": (((4, 4), 2), [(0, 8, 9)]), "GELU": ((), [D2]),
    "GroupNorm": ((2, 2), [D2]), "Hardshrink": ((), [D2]), "Hardsigmoid": ((), [D2]),
    "Hardswish": ((), [D2]), "Hardtanh": ((), [D2]), "Identity": ((), [D2]),
    "InstanceNorm1d": ((2,), [D1]), "InstanceNorm2d": ((2,), [D2]),
    "InstanceNorm3d": ((2,), [D3]), "LPPool1d": ((2, 2), [D1]), "LPPool2d": ((2, 2), [D2]),
    "LPPool3d": ((2, 2), [D3]), "LayerNorm": ((6,), [D2]), "LeakyReLU": ((), [D2]),
    "Linear": ((3, 4), [(0, 3)]), "LocalResponseNorm": ((2,), [D2]), "LogSigmoid": ((), [D2]),
    "LogSoftmax": ((1,), [D2]), "MaxPool1d": ((2,), [D1]), "MaxPool2d": ((2,), [D2]),
    "MaxPool3d": ((2,), [D3]), "Mish": ((), [D2]), "PReLU": ((), [D2]),
    "PixelShuffle": ((2,), [(0, 8, 3, 3)]), "PixelUnshuffle": ((2,), [(0, 2, 4, 4)]),
    "ReLU": ((), [D2]), "ReLU6": ((), [D2]), "ReflectionPad1d": ((1,), [D1]),
    "ReflectionPad2d": ((1,), [D2]), "ReflectionPad3d": ((1,), [D3]),
    "ReplicationPad1d": ((1,), [D1]), "ReplicationPad2d": ((1,), [D2]),
    "ReplicationPad3d": ((1,), [D3]), "SELU": ((), [D2]), "SiLU": ((), [D2]),
    "Sigmoid": ((), [D2]), "Softmax": ((1,), [D2]), "Softmin": ((1,), [D2]),
    "Softplus": ((), [D2]), "Softshrink": ((), [D2]), "Softsign": ((), [D2]),
    "Tanh": ((), [D2]), "Tanhshrink": ((), [D2]), "Threshold": ((0.1, 0.0), [D2]),
    "Unflatten": ((1, (2, 1)), [D2]), "Unfold": ((2,), [D2]),
    "Upsample": ((None, 2), [D2]), "UpsamplingBilinear2d": ((None, 2), [D2]),
    "UpsamplingNearest2d": ((None, 2), [D2]), "ZeroPad1d": ((1,), [D1]),
    "ZeroPad2d": ((1,), [D2]), "ZeroPad3d": ((1,), [D3]),
    # losses: (input, target); class losses take int64 targets
    "BCELoss": ((), [LOSS_IN, LOSS_IN]), "BCEWithLogitsLoss": ((), [LOSS_IN, LOSS_IN]),
    "CrossEntropyLoss": ((), [LOSS_IN, (0,)]), "HuberLoss": ((), [LOSS_IN, LOSS_IN]),
    "KLDivLoss": ((), [LOSS_IN, LOSS_IN]), "L1Loss": ((), [LOSS_IN, LOSS_IN]),
    "MSELoss": ((), [LOSS_IN, LOSS_IN]), "NLLLoss": ((), [LOSS_IN, (0,)]),
    "SmoothL1Loss": ((), [LOSS_IN, LOSS_IN]),
    "ChannelShuffle": ((2,), [(0, 4, 3, 3)]), "CosineSimilarity": ((), [D2, D2]),
    "PairwiseDistance": ((), [(0, 3), (0, 3)]), "CrossMapLRN2d": ((3,), [D2]),
    "FractionalMaxPool2d": ((2, 3), [D2]), "FractionalMaxPool3d": ((2, 2), [D3]),
    "GLU": ((), [D2]), "RMSNorm": ((6,), [D2]), "RReLU": ((), [D2]), "Softmax2d": ((), [D2]),
    "CosineEmbeddingLoss": ((), [LOSS_IN, LOSS_IN, (0,)]),
    "GaussianNLLLoss": ((), [LOSS_IN, LOSS_IN, LOSS_IN]),
    "HingeEmbeddingLoss": ((), [LOSS_IN, LOSS_IN]), "MarginRankingLoss": ((), [(0,)] * 3),
    "MultiLabelMarginLoss": ((), [LOSS_IN, LOSS_IN]),
    "MultiLabelSoftMarginLoss": ((), [LOSS_IN, LOSS_IN]), "MultiMarginLoss": ((), [LOSS_IN, (0,)]),
    "NLLLoss2d": ((), [(0, 3, 4, 4), (0, 4, 4)]), "PoissonNLLLoss": ((), [LOSS_IN, LOSS_IN]),
    "SoftMarginLoss": ((), [LOSS_IN, LOSS_IN]), "TripletMarginLoss": ((), [LOSS_IN] * 3),
    "TripletMarginWithDistanceLoss": ((), [LOSS_IN] * 3),
}
# torch's mean over an empty batch returns uninitialised memory here (-5.6e20 seen); convnp gives
# NaN, as torch's other mean-reduced losses do
TORCH_UNDEFINED_MEAN = {"MultiMarginLoss", "MultiLabelMarginLoss"}
# targets torch refuses to differentiate: given without requires_grad to both
CONSTANT_TARGET = {"SoftMarginLoss"}
CLASS_TARGET = {"CrossEntropyLoss", "NLLLoss", "NLLLoss2d", "MultiMarginLoss",
                "MultiLabelMarginLoss"}
# torch returns an empty input unchanged here (pixel_unshuffle gives (0, 2, 4, 4) for a
# (0, 2, 4, 4) input, and pixel_shuffle's backward fails: "PixelShuffleBackward0 returned an
# invalid gradient ... got [0, 2, 6, 6] but expected shape compatible with [0, 8, 3, 3]"): the
# reference is torch's output for a batch of one, with the batch emptied
TORCH_EMPTY_BUGS = {"PixelShuffle", "PixelUnshuffle"}

# convnp's own blocks (no torch class): the empty batch must give an empty output of the shape
# a batch of one gives, and backward must give empty / zero gradients
OWN_BLOCKS = {
    "ASPP": (lambda: nn.ASPP(2, 4, atrous_rates=(1, 2)), D2),
    "AddCoords": (lambda: nn.AddCoords(2), D2),
    "BasicBlock": (lambda: nn.BasicBlock(2, 2), D2),
    "Bottleneck": (lambda: nn.Bottleneck(2, 1, downsample=nn.Conv2d(2, 4, 1)), D2),
    "ConvNormAct": (lambda: nn.ConvNormAct(2, 3), D2),
    "CoordConv1d": (lambda: nn.CoordConv1d(2, 3, 3), D1),
    "CoordConv2d": (lambda: nn.CoordConv2d(2, 3, 3), D2),
    "CoordConv3d": (lambda: nn.CoordConv3d(2, 3, 3), D3),
    "DoubleConv": (lambda: nn.DoubleConv(2, 3), D2),
    "EquirectConv2d": (lambda: nn.EquirectConv2d(2, 3, 3), D2),
    "EquirectPad2d": (lambda: nn.EquirectPad2d(1), D2),
    "GatedConv1d": (lambda: nn.GatedConv1d(2, 3, 3), D1),
    "GatedConv2d": (lambda: nn.GatedConv2d(2, 3, 3), D2),
    "GatedConv3d": (lambda: nn.GatedConv3d(2, 3, 3), D3),
    "GlobalAvgPool1d": (lambda: nn.GlobalAvgPool1d(), D1),
    "GlobalAvgPool2d": (lambda: nn.GlobalAvgPool2d(), D2),
    "GlobalAvgPool3d": (lambda: nn.GlobalAvgPool3d(), D3),
    "GlobalMaxPool1d": (lambda: nn.GlobalMaxPool1d(), D1),
    "GlobalMaxPool2d": (lambda: nn.GlobalMaxPool2d(), D2),
    "GlobalMaxPool3d": (lambda: nn.GlobalMaxPool3d(), D3),
    "InceptionBlock": (lambda: nn.InceptionBlock(2, 1, 1, 2, 1, 2, 1), D2),
    "UpBlock": (lambda: nn.UpBlock(2, 3), D2),
    "Sequential": (lambda: nn.Sequential(nn.Conv2d(2, 3, 3), nn.BatchNorm2d(3), nn.ReLU()), D2),
}
MAX_UNPOOL = {"MaxUnpool1d": D1, "MaxUnpool2d": D2, "MaxUnpool3d": D3}
# containers that are not layers: they have no forward of their own
NOT_CALLABLE = {"Module", "ModuleDict", "ModuleList", "ParameterDict", "ParameterList",
                "Container",  # torch's deprecated base class
                "DataParallel",  # wraps another module: it is that module on an empty batch
                # needs an MPI process group (tests/test_distributed.py runs it under mpirun)
                "SyncBatchNorm",
                # several inputs of their own kinds or tuple outputs: empty batches tested below
                "AdaptiveLogSoftmaxWithLoss", "CTCLoss", "MultiheadAttention",
                "LinearCrossEntropyLoss"}
# lazy layers: the first (empty) batch still tells them their input size
LAZY = {"LazyConv1d": ((4, 3), D1), "LazyConv2d": ((4, 3), D2), "LazyConv3d": ((4, 3), D3),
        "LazyConvTranspose1d": ((4, 3), D1), "LazyConvTranspose2d": ((4, 3), D2),
        "LazyConvTranspose3d": ((4, 3), D3), "LazyBatchNorm1d": ((), D1),
        "LazyBatchNorm2d": ((), D2), "LazyBatchNorm3d": ((), D3), "LazyInstanceNorm1d": ((), D1),
        "LazyInstanceNorm2d": ((), D2), "LazyInstanceNorm3d": ((), D3),
        "LazyLinear": ((4,), (0, 3))}


def test_the_table_covers_every_layer_class():
    classes = {n for n, c in vars(nn).items() if inspect.isclass(c) and issubclass(c, nn.Module)}
    covered = set(TORCH_LAYERS) | set(OWN_BLOCKS) | set(MAX_UNPOOL) | NOT_CALLABLE | set(LAZY)
    assert classes - covered == set(), "add the new layer classes to this table"


def _inputs(lib, name, shapes):
    out = []
    for i, s in enumerate(shapes):
        if i == 1 and name in CLASS_TARGET:
            out.append(lib.zeros(s, dtype=lib.int64))
        elif i == 1 and name in CONSTANT_TARGET:
            out.append(lib.zeros(s))
        else:
            out.append(lib.zeros(s, requires_grad=True))
    return out


def _run(lib, m, xs, backward=True):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch warns about the mean of an empty loss
        out = m(*xs)
        if backward:
            out.backward(lib.ones_like(out))
    return out


def _np(t):
    return t.detach().numpy() if hasattr(t, "detach") and not isinstance(t, convnp.Tensor) \
        else t.array


@pytest.mark.parametrize("name", sorted(TORCH_LAYERS))
def test_empty_batch_matches_torch(name):
    args, shapes = TORCH_LAYERS[name]
    convnp.manual_seed(0)
    m = getattr(nn, name)(*args)
    tm = getattr(torch.nn, name)(*args)
    sd = {k: torch.tensor(np.array(v.array)) for k, v in m.state_dict().items()}
    tm.load_state_dict(sd)
    xs, txs = _inputs(convnp, name, shapes), _inputs(torch, name, shapes)
    t_err = c_err = None
    try:
        if name in TORCH_EMPTY_BUGS:
            t_out = tm(torch.zeros((1,) + shapes[0][1:]))[:0]
        else:
            t_out = _run(torch, tm, txs)
    except (RuntimeError, ValueError, IndexError) as e:
        t_err = e
    try:
        out = _run(convnp, m, xs)
    except (RuntimeError, ValueError, IndexError) as e:
        c_err = e
    if t_err is not None:
        assert c_err is not None, f"torch raises {t_err!r}; convnp does not"
        return
    assert c_err is None, f"torch computes it; convnp raises {c_err!r}"
    assert tuple(out.shape) == tuple(t_out.shape)
    if name in TORCH_UNDEFINED_MEAN:
        assert np.isnan(_np(out)).all()
    else:
        np.testing.assert_allclose(_np(out), _np(t_out))  # NaN where torch's mean of nothing is NaN
    for x, tx in zip(xs, txs):
        if tx.grad is not None or name in TORCH_EMPTY_BUGS:
            assert tuple(x.grad.shape) == tuple(tx.shape)
    for (k, p), (tk, tp) in zip(m.named_parameters(), tm.named_parameters()):
        assert k == tk
        if tp.grad is None:
            assert p.grad is None or not p.grad.array.any()
        else:
            np.testing.assert_allclose(p.grad.array, tp.grad.numpy(), err_msg=k)
    for (k, b), (_, tb) in zip(m.named_buffers(), tm.named_buffers()):
        np.testing.assert_allclose(np.asarray(b.array, np.float64), tb.double().numpy(),
                                   err_msg=k)


@pytest.mark.parametrize("name", sorted(LAZY))
def test_empty_batch_lazy_layers_match_torch(name):
    args, shape = LAZY[name]
    outs = []
    for lib in (convnp, torch):
        m = getattr(lib.nn, name)(*args)
        x = lib.zeros(shape, requires_grad=True)
        try:
            y = m(x)
            y.sum().backward()
        except (RuntimeError, ValueError, IndexError) as e:
            # torch's lazy instance norm cannot infer from an empty batch; convnp must not
            # silently differ
            outs.append(type(e).__name__ if lib is torch else "raises")
            continue
        outs.append((tuple(y.shape), tuple(x.grad.shape),
                     [tuple(p.shape) for p in m.parameters()]))
    if name.startswith("LazyInstanceNorm"):
        # torch's lazy instance norms fail on an empty batch (IndexError in select()); convnp
        # infers the channels and returns what the plain InstanceNorm returns
        assert outs[1] == "IndexError"
        assert outs[0][:2] == (shape, shape)
    else:
        assert outs[0] == outs[1]


def test_empty_batch_layers_of_other_signatures_match_torch():
    for lib in (convnp, torch):
        mha = lib.nn.MultiheadAttention(4, 2, batch_first=True)
        q = lib.zeros((0, 3, 4), requires_grad=True)
        out, weights = mha(q, q, q)
        assert tuple(out.shape) == (0, 3, 4) and tuple(weights.shape) == (0, 3, 3)
        out.sum().backward()
        assert tuple(q.grad.shape) == (0, 3, 4)
        asm = lib.nn.AdaptiveLogSoftmaxWithLoss(4, 6, cutoffs=[2])
        res = asm(lib.zeros((0, 4)), lib.zeros((0,), dtype=lib.int64))
        assert tuple(res.output.shape) == (0,)


@pytest.mark.parametrize("name", sorted(MAX_UNPOOL))
def test_empty_batch_max_unpool_matches_torch(name):
    nd = int(name[-2])
    shape = MAX_UNPOOL[name]
    outs = []
    for lib in (convnp, torch):
        pool = getattr(lib.nn, f"MaxPool{nd}d")(2, return_indices=True)
        x = lib.zeros(shape, requires_grad=True)
        y = getattr(lib.nn, name)(2)(*pool(x))
        y.sum().backward()
        outs.append((tuple(y.shape), tuple(x.grad.shape)))
    assert outs[0] == outs[1]


@pytest.mark.parametrize("name", sorted(OWN_BLOCKS))
def test_empty_batch_own_blocks(name):
    make, shape = OWN_BLOCKS[name]
    convnp.manual_seed(0)
    m = make()
    m.eval()
    one = m(convnp.zeros((1,) + shape[1:]))
    m.train()
    x = convnp.zeros(shape, requires_grad=True)
    out = m(x)
    assert tuple(out.shape) == (0,) + tuple(one.shape[1:])
    out.sum().backward()
    assert tuple(x.grad.shape) == shape
    for k, p in m.named_parameters():
        assert p.grad is None or not p.grad.array.any(), k


@pytest.mark.parametrize("name", ["BatchNorm2d", "InstanceNorm2d"])
def test_empty_batch_in_eval_mode_matches_torch(name):
    shapes = []
    for lib in (convnp, torch):
        m = getattr(lib.nn, name)(2, track_running_stats=True).eval()
        x = lib.zeros(D2, requires_grad=True)
        y = m(x)
        y.sum().backward()
        shapes.append((tuple(y.shape), tuple(x.grad.shape)))
    assert shapes[0] == shapes[1] == (D2, D2)


def test_empty_batch_keeps_instance_norm_running_stats():
    # torch fails here (IndexError from select()); convnp follows batch norm: nothing to average
    m = nn.InstanceNorm2d(2, track_running_stats=True)
    m(convnp.zeros(D2, requires_grad=True)).sum().backward()
    assert np.array_equal(m.running_mean.array, [0, 0])
    assert np.array_equal(m.running_var.array, [1, 1])
