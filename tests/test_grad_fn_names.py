"""``grad_fn`` as torch shows it: node names (``MulBackward0``), ``name()``, ``next_functions``
with ``AccumulateGrad`` leaves, and the ``grad_fn=<...>`` of a tensor's repr."""

from __future__ import annotations

import numpy as np
import pytest

import convnp

torch = pytest.importorskip("torch")

R = np.random.default_rng(0)
V = (R.random(4) + 0.5).astype(np.float32)
M = R.standard_normal((3, 4)).astype(np.float32)
IMG = R.standard_normal((2, 3, 8, 8)).astype(np.float32)
K = R.standard_normal((4, 3, 3, 3)).astype(np.float32)

CASES = [
    ("add", lambda L, F, v, m: v + v), ("sub", lambda L, F, v, m: v - 1),
    ("mul", lambda L, F, v, m: v * 2), ("div", lambda L, F, v, m: v / v),
    ("pow-scalar", lambda L, F, v, m: v ** 2), ("pow-tensor", lambda L, F, v, m: v ** v),
    ("rpow", lambda L, F, v, m: 2 ** v), ("neg", lambda L, F, v, m: -v),
    ("exp", lambda L, F, v, m: v.exp()), ("log", lambda L, F, v, m: v.log()),
    ("sqrt", lambda L, F, v, m: v.sqrt()), ("abs", lambda L, F, v, m: v.abs()),
    ("tanh", lambda L, F, v, m: v.tanh()), ("sigmoid", lambda L, F, v, m: v.sigmoid()),
    ("clamp", lambda L, F, v, m: v.clamp(0, 1)),
    ("maximum", lambda L, F, v, m: L.maximum(v, v)),
    ("sum", lambda L, F, v, m: v.sum()), ("sum-dim", lambda L, F, v, m: m.sum(0)),
    ("mean", lambda L, F, v, m: v.mean()), ("mean-dim", lambda L, F, v, m: m.mean(1)),
    ("max", lambda L, F, v, m: v.max()), ("max-dim", lambda L, F, v, m: m.max(0)[0]),
    ("min-dim", lambda L, F, v, m: m.min(1)[0]), ("amax", lambda L, F, v, m: m.amax(0)),
    ("var", lambda L, F, v, m: v.var()), ("std", lambda L, F, v, m: v.std()),
    ("norm", lambda L, F, v, m: v.norm()), ("logsumexp", lambda L, F, v, m: m.logsumexp(1)),
    ("view", lambda L, F, v, m: m.view(-1)), ("permute", lambda L, F, v, m: m.permute(1, 0)),
    ("flip", lambda L, F, v, m: v.flip(0)), ("gather", lambda L, F, v, m: m.gather(
        1, L.tensor([[0], [1], [2]]))),
    ("expand", lambda L, F, v, m: v.expand(2, 4)),
    ("select", lambda L, F, v, m: m[0]), ("slice", lambda L, F, v, m: m[1:]),
    ("index", lambda L, F, v, m: m[[0, 2]]),
    ("cat", lambda L, F, v, m: L.cat([v, v])), ("stack", lambda L, F, v, m: L.stack([v, v])),
    ("mm", lambda L, F, v, m: m @ m.t().detach()), ("dot", lambda L, F, v, m: v @ v),
    ("mv", lambda L, F, v, m: m @ v),
    ("linear-bias", lambda L, F, v, m: F.linear(m, m.detach(), v[:3].detach())),
    ("linear-nobias", lambda L, F, v, m: F.linear(m, m.detach())),
    ("relu", lambda L, F, v, m: F.relu(v)), ("leaky-relu", lambda L, F, v, m: F.leaky_relu(v)),
    ("gelu", lambda L, F, v, m: F.gelu(v)), ("elu", lambda L, F, v, m: F.elu(v)),
    ("hardtanh", lambda L, F, v, m: F.hardtanh(v)), ("silu", lambda L, F, v, m: F.silu(v)),
    ("softmax", lambda L, F, v, m: F.softmax(m, 1)),
    ("log-softmax", lambda L, F, v, m: F.log_softmax(m, 1)),
    ("cross-entropy", lambda L, F, v, m: F.cross_entropy(m, L.tensor([0, 1, 2]))),
    ("mse", lambda L, F, v, m: F.mse_loss(v, v.detach() * 0)),
    ("bce-logits", lambda L, F, v, m: F.binary_cross_entropy_with_logits(v, v.detach() * 0)),
    ("clone", lambda L, F, v, m: v.clone()), ("to-double", lambda L, F, v, m: v.double()),
]
IMG_CASES = [
    ("conv2d", lambda L, F, x, w: F.conv2d(x, w)),
    ("conv-transpose2d", lambda L, F, x, w: F.conv_transpose2d(x, w.transpose(0, 1))),
    ("max-pool2d", lambda L, F, x, w: F.max_pool2d(x, 2)),
    ("avg-pool2d", lambda L, F, x, w: F.avg_pool2d(x, 2)),
    ("adaptive-avg-pool2d", lambda L, F, x, w: F.adaptive_avg_pool2d(x, 3)),
    ("adaptive-max-pool2d", lambda L, F, x, w: F.adaptive_max_pool2d(x, 3)),
    ("batch-norm", lambda L, F, x, w: F.batch_norm(x, None, None, training=True)),
    ("layer-norm", lambda L, F, x, w: F.layer_norm(x, (8,))),
    ("group-norm", lambda L, F, x, w: F.group_norm(x, 3)),
    ("constant-pad", lambda L, F, x, w: F.pad(x, (1, 1))),
    ("reflection-pad", lambda L, F, x, w: F.pad(x, (1, 1, 1, 1), mode="reflect")),
    ("flatten", lambda L, F, x, w: x.flatten(1)),
    ("unfold", lambda L, F, x, w: F.unfold(x, 2)),
    ("nearest", lambda L, F, x, w: F.interpolate(x, scale_factor=2)),
    ("nearest-exact", lambda L, F, x, w: F.interpolate(x, size=5, mode="nearest-exact")),
    ("bilinear", lambda L, F, x, w: F.interpolate(x, size=5, mode="bilinear")),
    ("bicubic", lambda L, F, x, w: F.interpolate(x, size=5, mode="bicubic")),
    ("bilinear-antialias", lambda L, F, x, w: F.interpolate(x, size=5, mode="bilinear",
                                                            antialias=True)),
    ("linear1d", lambda L, F, x, w: F.interpolate(x[:, :, 0], size=5, mode="linear")),
    ("trilinear", lambda L, F, x, w: F.interpolate(x[:, :, None], size=(2, 4, 4),
                                                   mode="trilinear")),
]


def _grad_fn(lib, fn, arrays):
    ins = [lib.tensor(a, requires_grad=True) for a in arrays]
    return fn(lib, lib.nn.functional, *ins).grad_fn


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_node_names_match_torch(case):
    _, fn = case
    c, t = _grad_fn(convnp, fn, [V, M]), _grad_fn(torch, fn, [V, M])
    assert c.name() == t.name()


@pytest.mark.parametrize("case", IMG_CASES, ids=[c[0] for c in IMG_CASES])
def test_layer_node_names_match_torch(case):
    _, fn = case
    assert _grad_fn(convnp, fn, [IMG, K]).name() == _grad_fn(torch, fn, [IMG, K]).name()


def _walk(node):
    """The graph below ``node`` as nested (name, children) tuples."""
    if node is None:
        return None
    name = node.name().replace("torch::autograd::", "")  # torch's C++ name of AccumulateGrad
    return (name, tuple((_walk(n), nr) for n, nr in node.next_functions))


def test_next_functions_match_torch_for_a_small_network():
    # conv, bias add, relu, pool, reshape, a reduction and a loss: the whole graph as torch's
    def build(lib):
        F = lib.nn.functional
        x = lib.tensor(IMG)
        w = lib.tensor(K, requires_grad=True)
        b = lib.tensor(np.zeros(4, np.float32), requires_grad=True)
        h = F.max_pool2d(F.relu(F.conv2d(x, w, b)), 2).flatten(1)
        return F.mse_loss(h.mean(1) * 2, lib.zeros(2)), w

    (c_loss, c_w), (t_loss, _) = build(convnp), build(torch)
    assert _walk(c_loss.grad_fn) == _walk(t_loss.grad_fn)
    # walking down to the leaf: its AccumulateGrad holds the parameter
    node = c_loss.grad_fn
    while node.name() != "AccumulateGrad":
        node = next(n for n, _ in node.next_functions if n is not None)
    assert node.variable is c_w


LINEAR_CASES = [  # (input shape, with bias, input requires grad)
    ((4, 3), True, True), ((4, 3), True, False), ((4, 3), False, True), ((4, 3), False, False),
    ((2, 2, 3), True, True), ((2, 2, 3), True, False), ((2, 2, 3), False, True),
    ((3,), True, True), ((3,), False, True),
]


@pytest.mark.parametrize("shape,bias,x_grad", LINEAR_CASES)
def test_linear_graph_matches_torch(shape, bias, x_grad):
    # torch records addmm(bias, input, weight.t()) (with views around it for other ranks): a
    # walk down next_functions[0][0] from a Linear must meet what it meets in torch
    x = R.standard_normal(shape).astype(np.float32)
    w, b = M[:2, :3], V[:2]

    def graph(lib):
        xt = lib.tensor(x, requires_grad=x_grad)
        wt, bt = lib.tensor(w, requires_grad=True), lib.tensor(b, requires_grad=True)
        return lib.nn.functional.linear(xt.relu() if x_grad else xt, wt, bt if bias else None)

    c, t = graph(convnp).grad_fn, graph(torch).grad_fn
    assert _walk(c) == _walk(t)
    assert c.next_functions[0][0] is c.next_functions[0][0]  # the same nodes on every call


def test_linear_module_next_functions_reach_weight_and_bias():
    lin = convnp.nn.Linear(3, 2)
    bias_node, x_node, t_node = lin(convnp.ones(4, 3, requires_grad=True)).grad_fn.next_functions
    assert bias_node[0].variable is lin.bias and x_node[0].variable is not lin.weight
    assert t_node[0].name() == "TBackward0"
    assert t_node[0].next_functions[0][0].variable is lin.weight


def test_next_functions_of_inputs_without_grad_are_none():
    w = convnp.ones(3, requires_grad=True)
    nf = (w * 2).grad_fn.next_functions
    assert nf[0][0].name() == "AccumulateGrad" and nf[0][0].variable is w and nf[1] == (None, 0)
    assert (w * 3).grad_fn.next_functions[0][0] is nf[0][0]
    assert nf[0][0].next_functions == ()


def test_repr_shows_torch_names():
    w = convnp.ones(2, requires_grad=True)
    y = (w * 2).sum()
    assert repr(y).endswith("grad_fn=<SumBackward0>)")
    assert repr(y.grad_fn).startswith("<SumBackward0 object at 0x")
