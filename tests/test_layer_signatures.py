"""The thin layers (activations, dropouts, losses, distances, normalizations, linear, lazy
layers) have torch's constructor signatures (names, order, defaults, keyword-only markers, as
``inspect.signature`` shows them) and torch's reprs, whether their constructor is written out
or declared as data on the shared layer base."""

import inspect
import warnings

import pytest

from convnp import nn
from convnp.nn.modules import (
    activation,
    activation_more,
    distance,
    dropout,
    lazy,
    linear,
    loss,
    loss_more,
    normalization,
    normalization_more,
    sync_batchnorm,
)

torch = pytest.importorskip("torch")

_MODULES = (activation, activation_more, distance, dropout, lazy, linear, loss, loss_more,
            normalization, normalization_more, sync_batchnorm)
# torch's own signature is not the documented one here: (*args, **kwargs) of Module (layers
# without settings, NLLLoss2d), deprecated extras (Hardtanh's min_value/max_value), options
# convnp keeps as **kwargs, and UninitializedBuffer's persistent flag
_SIGNATURE_EXCEPTIONS = {"Hardtanh", "LinearCrossEntropyOptions", "LogSigmoid", "NLLLoss2d",
                         "Sigmoid", "Softmax2d", "Softsign", "Tanh", "Tanhshrink",
                         "UninitializedBuffer"}
NAMES = sorted({n for m in _MODULES for n in m.__all__
                if isinstance(getattr(nn, n, None), type) and hasattr(torch.nn, n)})

# required constructor arguments for the repr check
_ARGS = {"Threshold": (0.1, 20), "ChannelShuffle": (2,), "Linear": (3, 4), "Bilinear": (2, 3, 4),
         "GroupNorm": (2, 4), "LayerNorm": ([4],), "RMSNorm": ([4],), "LocalResponseNorm": (2,),
         "CrossMapLRN2d": (3,), "LazyLinear": (3,), "LinearCrossEntropyLoss": (3, 4)}
for _n in NAMES:
    if _n.startswith(("BatchNorm", "InstanceNorm", "SyncBatchNorm")):
        _ARGS[_n] = (3,)
    elif _n.startswith("LazyConv"):
        _ARGS[_n] = (3, 2)


def _params(cls):
    return [(p.name, p.default, p.kind) for p in inspect.signature(cls).parameters.values()]


@pytest.mark.parametrize("name", [n for n in NAMES if n not in _SIGNATURE_EXCEPTIONS])
def test_signature_matches_torch(name):
    assert _params(getattr(nn, name)) == _params(getattr(torch.nn, name))


@pytest.mark.parametrize("name", [n for n in NAMES if not n.startswith("Uninitialized")
                                  and n != "LinearCrossEntropyOptions"])
def test_repr_matches_torch(name):
    args = _ARGS.get(name, ())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # deprecated layers (NLLLoss2d) warn when built
        assert repr(getattr(nn, name)(*args)) == repr(getattr(torch.nn, name)(*args))


@pytest.mark.parametrize("name, kwargs", [
    ("ELU", dict(alpha=0.5, inplace=True)), ("Hardswish", dict(inplace=True)),
    ("Dropout2d", dict(p=0.3, inplace=True)), ("RReLU", dict(lower=0.2, inplace=True)),
    ("GELU", dict(approximate="tanh")), ("Hardshrink", dict(lambd=0.3)),
    ("Softmax", dict(dim=-1)), ("LeakyReLU", dict(negative_slope=0.2, inplace=True)),
    ("PairwiseDistance", dict(p=1.0, keepdim=True)), ("CrossEntropyLoss", dict(reduce=False)),
    ("TripletMarginWithDistanceLoss", dict(margin=2.0)),
])
def test_repr_with_settings_matches_torch(name, kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the deprecated reduce= warns in torch
        assert repr(getattr(nn, name)(**kwargs)) == repr(getattr(torch.nn, name)(**kwargs))


def test_declared_layers_store_torch_attributes():
    # the settings land under torch's attribute names, legacy flags folded into reduction
    m, t = nn.PairwiseDistance(p=1.0), torch.nn.PairwiseDistance(p=1.0)
    assert (m.norm, m.eps, m.keepdim) == (t.norm, t.eps, t.keepdim)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert nn.L1Loss(size_average=False).reduction == torch.nn.L1Loss(
            size_average=False).reduction == "sum"
    assert nn.ReLU6().min_val == 0.0 and nn.ReLU6().max_val == 6.0


def test_declared_constructor_errors_name_the_layer():
    with pytest.raises(TypeError, match=r"ELU\(\): .*signature is ELU\(alpha"):
        nn.ELU(1.0, False, 3)
    with pytest.raises(TypeError, match="Threshold"):
        nn.Threshold(0.1)
    with pytest.raises(ValueError, match="Hardtanh: max_val"):
        nn.Hardtanh(1.0, 0.0)
