"""convnp.utils.checkpoint: recomputation in backward gives torch's values and gradients (inputs
and parameters), for both use_reentrant variants; dropout masks replay; errors and warnings."""

import warnings

import numpy as np
import pytest

import convnp
from convnp import nn
from convnp.utils.checkpoint import checkpoint, checkpoint_sequential

torch = pytest.importorskip("torch")


def _pair(dtype):
    convnp.manual_seed(0)
    cm = nn.Sequential(nn.Conv2d(2, 3, 3, padding=1), nn.Tanh(), nn.Conv2d(3, 2, 3))
    tm = torch.nn.Sequential(torch.nn.Conv2d(2, 3, 3, padding=1), torch.nn.Tanh(),
                             torch.nn.Conv2d(3, 2, 3))
    tm.load_state_dict({k: torch.tensor(v.array) for k, v in cm.state_dict().items()})
    if dtype == np.float64:
        cm.double()
        tm.double()
    return cm, tm


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("reentrant,x_grad", [(True, True), (False, True), (False, False)],
                         ids=["reentrant", "non-reentrant", "non-reentrant-x-no-grad"])
def test_checkpoint_matches_torch(dtype, reentrant, x_grad):
    cm, tm = _pair(dtype)
    x = np.random.default_rng(1).standard_normal((2, 2, 6, 5)).astype(dtype)
    g = np.random.default_rng(2).standard_normal((2, 2, 4, 3)).astype(dtype)
    cx = convnp.tensor(x, requires_grad=x_grad)
    tx = torch.tensor(x, requires_grad=x_grad)
    calls = []

    def cfn(a):
        calls.append(1)
        return cm(a) * 2

    cy = checkpoint(cfn, cx, use_reentrant=reentrant)
    ty = torch.utils.checkpoint.checkpoint(lambda a: tm(a) * 2, tx, use_reentrant=reentrant)
    assert len(calls) == 1
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(cy.array, ty.detach().numpy(), **tol)
    cy.backward(convnp.tensor(g))
    ty.backward(torch.tensor(g))
    assert len(calls) == 2  # recomputed in backward
    if x_grad:
        np.testing.assert_allclose(cx.grad.array, tx.grad.numpy(), **tol)
    tp = dict(tm.named_parameters())
    for name, p in cm.named_parameters():
        assert p.grad.dtype == dtype
        np.testing.assert_allclose(p.grad.array, tp[name].grad.numpy(), err_msg=name, **tol)


def test_same_gradients_as_without_checkpoint_with_dropout_and_kwargs():
    convnp.manual_seed(0)
    lin = nn.Linear(5, 5).double()
    drop = nn.Dropout(0.5)

    def block(a, scale=1.0):
        return drop(lin(a)).tanh() * scale

    x = np.random.default_rng(0).standard_normal((4, 5))
    grads = []
    for use_ckpt in (False, True):
        lin.zero_grad()
        cx = convnp.tensor(x, requires_grad=True)
        convnp.manual_seed(7)
        y = checkpoint(block, cx, use_reentrant=False, scale=3.0) if use_ckpt \
            else block(cx, scale=3.0)
        y.sum().backward()
        grads.append((y.array.copy(), cx.grad.array.copy(), lin.weight.grad.array.copy()))
    for a, b in zip(*grads):
        np.testing.assert_array_equal(a, b)


def test_tuple_outputs_and_checkpoint_sequential():
    convnp.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 4), nn.Tanh(), nn.Linear(4, 2))
    x = convnp.randn(5, 3, requires_grad=True)
    ref = model(x).sum()
    ref.backward()
    gx, gw = x.grad.array.copy(), model[0].weight.grad.array.copy()
    x.grad = None
    model.zero_grad()
    y = checkpoint_sequential(model, 2, x, use_reentrant=False)
    np.testing.assert_allclose(y.sum().array, ref.array, rtol=1e-6)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.array, gx, rtol=1e-6)
    np.testing.assert_allclose(model[0].weight.grad.array, gw, rtol=1e-6)

    a = convnp.randn(3, requires_grad=True)
    s, p = checkpoint(lambda t: (t.sin(), t * t), a, use_reentrant=True)
    (s.sum() + p.sum()).backward()
    np.testing.assert_allclose(a.grad.array, np.cos(a.array) + 2 * a.array, rtol=1e-6)


def test_warnings_and_errors():
    lin = nn.Linear(2, 2)
    x = convnp.randn(1, 2)
    with pytest.warns(UserWarning, match="use_reentrant parameter should be passed"):
        checkpoint(lin, convnp.randn(1, 2, requires_grad=True))
    with pytest.warns(UserWarning, match="None of the inputs have requires_grad=True"):
        y = checkpoint(lin, x, use_reentrant=True)
    assert not y.requires_grad  # as torch's reentrant variant
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y = checkpoint(lin, x, use_reentrant=False)
    assert y.requires_grad
    with pytest.raises(ValueError, match="Unexpected keyword arguments: scale"):
        checkpoint(lambda a, scale: a, x, use_reentrant=True, scale=2)
    with pytest.raises(TypeError, match="must return a Tensor"):
        checkpoint(lambda a: 3, convnp.randn(2, requires_grad=True), use_reentrant=False)
    with convnp.no_grad():
        assert not checkpoint(lin, x, use_reentrant=False).requires_grad
