"""Lazy layers (LazyConv*, LazyConvTranspose*, LazyLinear, LazyBatchNorm*, LazyInstanceNorm*)
and UninitializedParameter/Buffer: shapes inferred on the first forward, the same Parameter
objects materialised (an optimizer built before holds them), the regular layer's initialisation,
torch's outputs, gradients and state_dict keys."""

import copy

import numpy as np
import pytest

import convnp
from convnp import nn

torch = pytest.importorskip("torch")

# (lazy class, regular class, constructor args, regular-layer extra first arg, input shape)
CASES = [
    ("LazyConv1d", "Conv1d", (4, 3), dict(stride=2, padding=1), (2, 3, 9)),
    ("LazyConv2d", "Conv2d", (6, 3), dict(padding=1, groups=2, bias=False), (2, 4, 7, 6)),
    ("LazyConv2d", "Conv2d", (5, (2, 3)), dict(dilation=2), (3, 7, 6)),  # unbatched
    ("LazyConv3d", "Conv3d", (2, 2), dict(), (1, 3, 4, 5, 4)),
    ("LazyConvTranspose1d", "ConvTranspose1d", (4, 3), dict(stride=2, output_padding=1),
     (2, 3, 5)),
    ("LazyConvTranspose2d", "ConvTranspose2d", (4, 3), dict(stride=2, groups=2), (2, 4, 4, 3)),
    ("LazyConvTranspose3d", "ConvTranspose3d", (2, 2), dict(bias=False), (1, 3, 3, 4, 3)),
    ("LazyLinear", "Linear", (5,), dict(), (4, 7)),
    ("LazyLinear", "Linear", (3,), dict(bias=False), (2, 3, 6)),
    ("LazyBatchNorm1d", "BatchNorm1d", (), dict(), (6, 4)),
    ("LazyBatchNorm1d", "BatchNorm1d", (), dict(momentum=None), (6, 3, 5)),
    ("LazyBatchNorm2d", "BatchNorm2d", (), dict(affine=False), (3, 4, 5, 5)),
    ("LazyBatchNorm3d", "BatchNorm3d", (), dict(track_running_stats=False), (2, 3, 2, 3, 3)),
    ("LazyInstanceNorm1d", "InstanceNorm1d", (), dict(), (2, 3, 8)),
    ("LazyInstanceNorm2d", "InstanceNorm2d", (), dict(affine=False), (2, 3, 5, 4)),
    ("LazyInstanceNorm3d", "InstanceNorm3d", (), dict(track_running_stats=False),
     (2, 2, 3, 4, 3)),
]


def _id(case):
    return f"{case[0]}-" + "-".join(f"{k}={v}" for k, v in case[3].items()) + \
        f"-{len(case[4])}d"


def _in_size(case):
    lazy, _, _, _, shape = case
    if lazy == "LazyLinear":
        return shape[-1]
    if "Norm" in lazy:
        return shape[1]
    n = {"1d": 1, "2d": 2, "3d": 3}[lazy[-2:]]
    return shape[1] if len(shape) == n + 2 else shape[0]


@pytest.mark.parametrize("case", CASES, ids=[_id(c) for c in CASES])
def test_lazy_layer_matches_torch(case):
    lazy, regular, args, kw, shape = case
    r = np.random.default_rng(0)
    x = r.standard_normal(shape)
    tm = getattr(torch.nn, lazy)(*args, **kw).double()
    cm = getattr(nn, lazy)(*args, **kw).double()
    assert sorted(cm.state_dict()) == sorted(tm.state_dict())
    assert cm.has_uninitialized_params() and tm.has_uninitialized_params()
    held = list(cm.parameters())
    # an optimizer built now holds the uninitialised parameters
    copt = convnp.optim.SGD(held, lr=0.1) if held else None
    tx = torch.tensor(x, requires_grad=True)
    tm(tx)  # torch materialises; copy its values (weights, running stats) into convnp
    # loading a state_dict materialises convnp's uninitialised tensors with the saved shapes
    cm.load_state_dict({k: v.detach().numpy() for k, v in tm.state_dict().items()})
    assert type(cm).__name__ == lazy  # the class changes on the first forward, as torch
    cx = convnp.tensor(x, requires_grad=True)
    tx = torch.tensor(x, requires_grad=True)
    cy, ty = cm(cx), tm(tx)
    assert type(cm).__name__ == regular == type(tm).__name__
    assert [p is q for p, q in zip(held, cm.parameters())] == [True] * len(held)
    np.testing.assert_allclose(cy.array, ty.detach().numpy(), rtol=1e-10, atol=1e-12)
    g = r.standard_normal(ty.shape)
    cy.backward(convnp.tensor(g))
    ty.backward(torch.tensor(g))
    np.testing.assert_allclose(cx.grad.array, tx.grad.numpy(), rtol=1e-10, atol=1e-12)
    csd, tsd = cm.state_dict(), tm.state_dict()
    assert list(csd) == list(tsd)
    for k in tsd:
        np.testing.assert_allclose(csd[k].array, tsd[k].numpy(), rtol=1e-10, atol=1e-12,
                                   err_msg=k)
    tparams = dict(tm.named_parameters())
    for name, p in cm.named_parameters():
        np.testing.assert_allclose(p.grad.array, tparams[name].grad.numpy(), rtol=1e-10,
                                   atol=1e-12, err_msg=name)
    before = [p.array.copy() for p in held]
    if copt is not None:
        copt.step()  # the optimizer built before the first forward updates the materialised tensors
    for b, p in zip(before, held):
        np.testing.assert_allclose(p.array, b - 0.1 * p.grad.array)
    # the size attributes torch sets
    for attr in ("in_channels", "in_features", "num_features"):
        if hasattr(tm, attr):
            assert getattr(cm, attr) == getattr(tm, attr) == _in_size(case)


@pytest.mark.parametrize("case", CASES, ids=[_id(c) for c in CASES])
def test_first_forward_initialises_as_the_regular_layer(case):
    lazy, regular, args, kw, shape = case
    x = convnp.tensor(np.random.default_rng(1).standard_normal(shape).astype(np.float32))
    c_in = _in_size(case)
    # torch's lazy instance norms default to affine=True, track_running_stats=True
    ref_kw = {"affine": True, "track_running_stats": True, **kw} if "Instance" in lazy else kw
    convnp.manual_seed(3)
    ref = getattr(nn, regular)(c_in, *args, **ref_kw)
    convnp.manual_seed(3)
    m = getattr(nn, lazy)(*args, **kw)
    m(x)
    assert type(m) is type(ref)
    assert m.extra_repr() == ref.extra_repr()
    for (k, v), (k2, v2) in zip(m.state_dict().items(), ref.state_dict().items()):
        assert k == k2 and v.dtype == v2.dtype == (np.int64 if "num_batches" in k
                                                   else np.float32)
        if "running" not in k and "num_batches" not in k:
            np.testing.assert_array_equal(v.array, v2.array, err_msg=k)


def test_lazy_model_trains_with_an_optimizer_built_first():
    convnp.manual_seed(0)
    model = nn.Sequential(nn.LazyConv2d(4, 3), nn.LazyBatchNorm2d(), nn.ReLU(), nn.Flatten(),
                          nn.LazyLinear(3))
    opt = convnp.optim.Adam(model.parameters(), lr=0.01)
    x = convnp.randn(8, 2, 6, 6)
    y = convnp.tensor(np.arange(8) % 3)
    losses = []
    for _ in range(5):
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        losses.append(float(loss))
    assert losses[-1] < losses[0]
    assert [type(m).__name__ for m in model] == ["Conv2d", "BatchNorm2d", "ReLU", "Flatten",
                                                 "Linear"]
    assert model[4].in_features == 4 * 4 * 4 and model[0].in_channels == 2


def test_sequential_of_lazy_layers_loads_a_torch_state_dict():
    tm = torch.nn.Sequential(torch.nn.LazyConv2d(3, 3), torch.nn.Flatten(),
                             torch.nn.LazyLinear(2)).double()
    x = np.random.default_rng(2).standard_normal((2, 1, 5, 5))
    ty = tm(torch.tensor(x))
    cm = nn.Sequential(nn.LazyConv2d(3, 3), nn.Flatten(), nn.LazyLinear(2)).double()
    cm.load_state_dict(tm.state_dict())
    np.testing.assert_allclose(cm(convnp.tensor(x)).array, ty.detach().numpy(), rtol=1e-12)


def test_uninitialized_parameter():
    p = nn.UninitializedParameter()
    assert isinstance(p, nn.Parameter) and p.requires_grad and p.dtype == np.float32
    with pytest.raises(ValueError, match="Can't access the shape of an uninitialized"):
        _ = p.shape
    with pytest.raises(ValueError, match="uninitialized parameter"):
        p.numel()
    with pytest.raises(ValueError, match="forward"):
        p + 1
    assert repr(p) == "<UninitializedParameter>"
    q = copy.deepcopy(p)
    assert isinstance(q, nn.UninitializedParameter) and q is not p
    p.materialize((3, 2))
    assert type(p) is nn.Parameter and p.shape == (3, 2) and p.dtype == np.float32
    b = nn.UninitializedBuffer(dtype=convnp.float64)
    assert not b.requires_grad
    b.materialize(4)
    assert type(b) is convnp.Tensor and b.shape == (4,) and b.dtype == np.float64
    # the same holds in torch
    tp = torch.nn.UninitializedParameter()
    tp.materialize((3, 2))
    assert type(tp) is torch.nn.Parameter


def test_lazy_module_dtype_and_errors():
    m = nn.LazyConv2d(4, 3).double()
    m(convnp.randn(1, 2, 5, 5, dtype=convnp.float64))
    assert m.weight.dtype == np.float64
    with pytest.raises(RuntimeError, match=r"Expected 3D \(unbatched\) or 4D \(batched\) input "
                                           "to LazyConv2d"):
        nn.LazyConv2d(4, 3)(convnp.randn(2, 3))
    with pytest.raises(ValueError, match="in_channels must be divisible by groups"):
        nn.LazyConv2d(4, 3, groups=2)(convnp.randn(1, 3, 5, 5))
    m = nn.Sequential(nn.LazyLinear(3))
    with pytest.raises(ValueError, match="uninitialized"):
        sum(p.numel() for p in m.parameters())
    assert "<UninitializedParameter>" in repr(dict(m.named_parameters()))
