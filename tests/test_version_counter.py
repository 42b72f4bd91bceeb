"""Version counters: a tensor changed in place after autograd saved it makes backward raise,
exactly where torch raises (and nowhere else), with torch's message."""

from __future__ import annotations

import re

import numpy as np
import pytest

import convnp

torch = pytest.importorskip("torch")

R = np.random.default_rng(0)
X = R.standard_normal((2, 3)).astype(np.float32)
W = R.standard_normal((4, 3)).astype(np.float32)
V = R.standard_normal(3).astype(np.float32)
IMG = R.standard_normal((1, 2, 5, 5)).astype(np.float32)
K = R.standard_normal((2, 2, 3, 3)).astype(np.float32)


def t(lib, a, grad=False):
    return lib.tensor(a.copy(), requires_grad=grad)


# each case: (lib) -> runs forward, an in-place change, then backward; returns the leaves
def mul_input_changed(lib):  # the issue's example: torch raises
    w, x = lib.ones(3, requires_grad=True), lib.tensor([1., 2., 3.])
    y = (w * x).sum()
    x.add_(10)
    y.backward()
    return [w]


def mul_unsaved_operand_changed(lib):  # x needs no grad, so w is not saved
    w, x = t(lib, V, True), t(lib, V)
    y = (w * x).sum()
    with lib.no_grad():
        w.add_(1)
    y.backward()
    return [w]


def add_changed(lib):  # add saves nothing
    w, x = t(lib, V, True), t(lib, V)
    y = (x + w).sum()
    x.add_(10)
    y.backward()
    return [w]


def exp_output_changed(lib):  # exp saves its result: "output 0 of Exp"
    w = t(lib, V, True)
    e = w.exp()
    y = (e * 2).sum()
    with lib.no_grad():
        e.mul_(2)
    y.backward()
    return [w]


def output_changed_not_saved(lib):  # exp saves its own result, not its input
    w = t(lib, V, True)
    e = w * 3
    y = e.exp().sum()
    with lib.no_grad():
        e.add_(1)
    y.backward()
    return [w]


def detach_alias_changed(lib):  # detach() shares the version counter
    w = t(lib, V, True)
    e = w * 3
    y = (e * e).sum()
    e.detach().add_(1)
    y.backward()
    return [w]


def data_alias_changed(lib):  # .data does not: the change is hidden from autograd
    w = t(lib, V, True)
    e = w * 3
    y = (e * e).sum()
    e.data.add_(1)
    y.backward()
    return [w]


def view_setitem(lib):  # a change through a view bumps the base's counter
    w, x = t(lib, X, True), t(lib, X)
    y = (w * x).sum()
    x.view(-1)[0] = 5
    y.backward()
    return [w]


def base_changed_under_saved_view(lib):
    w, x = t(lib, V, True), t(lib, X)
    y = (w * x[0]).sum()
    x.mul_(2)
    y.backward()
    return [w]


def fill_zero_copy(lib):
    w, x = t(lib, V, True), t(lib, V)
    y = (w * x).sum()
    x.zero_()
    x.copy_(t(lib, V))
    x.fill_(1.0)
    y.backward()
    return [w]


def matmul_input_changed(lib):
    w, x = t(lib, W.T.copy(), True), t(lib, X)
    y = (x @ w).sum()
    x.sub_(1)
    y.backward()
    return [w]


def linear_weight_changed_input_no_grad(lib):  # addmm saves weight only for x's gradient
    lin = lib.nn.Linear(3, 4)
    y = lin(t(lib, X)).sum()
    with lib.no_grad():
        lin.weight.add_(1)
    y.backward()
    return [lin.bias]


def linear_input_changed(lib):
    lin = lib.nn.Linear(3, 4)
    x = t(lib, X)
    y = lin(x).sum()
    x.clamp_(-0.5, 0.5)
    y.backward()
    return [lin.bias]


def relu_output_changed(lib):
    w = t(lib, X, True)
    r = lib.nn.functional.relu(w * 1)
    y = (r * 2).sum()
    with lib.no_grad():
        r.div_(2)
    y.backward()
    return [w]


def retained_graph_sgd_step(lib):  # the GAN pattern: update D, then backward again
    lib.manual_seed(0)
    g, d = lib.nn.Linear(3, 3), lib.nn.Linear(3, 1)
    opt = lib.optim.SGD(d.parameters(), lr=0.1)
    out = d(g(t(lib, X))).mean()
    out.backward(retain_graph=True)
    opt.step()
    out.backward()
    return list(g.parameters())


def retained_graph_manual_update(lib):
    w, x = t(lib, V, True), t(lib, V, True)
    y = (w * x).sum()
    y.backward(retain_graph=True)
    with lib.no_grad():
        w -= 0.1 * w.grad
    y.backward()
    return [w, x]


def retained_graph_adam_unsaved(lib):  # adam updates a bias no node saved: fine
    lin = lib.nn.Linear(3, 4)
    opt = lib.optim.Adam([lin.bias], lr=0.1)
    y = lin(t(lib, X)).sum()
    y.backward(retain_graph=True)
    opt.step()
    y.backward()
    return [lin.bias]


def conv_input_changed(lib):
    w, x = t(lib, K, True), t(lib, IMG)
    y = lib.nn.functional.conv2d(x, w).sum()
    x.add_(1)
    y.backward()
    return [w]


def div_numerator_changed(lib):  # div saves the numerator only for the denominator
    a, b = t(lib, V, True), t(lib, V + 5)
    y = (a / b).sum()
    with lib.no_grad():
        a.mul_(3)
    y.backward()
    return [a]


def div_denominator_changed(lib):
    a, b = t(lib, V, True), t(lib, V + 5)
    y = (a / b).sum()
    b.add_(1)
    y.backward()
    return [a]


def pow_result_changed(lib):  # x ** 2 saves x, not the result
    w = t(lib, V, True)
    p = w ** 2
    y = (p * 1).sum()
    with lib.no_grad():
        p.add_(1)
    y.backward()
    return [w]


def sigmoid_output_changed(lib):
    w = t(lib, V, True)
    s = w.sigmoid()
    y = s.sum() + (s * 1).sum()
    with lib.no_grad():
        s.uniform_()
    y.backward()
    return [w]


CASES = [mul_input_changed, mul_unsaved_operand_changed, add_changed, exp_output_changed,
         output_changed_not_saved, detach_alias_changed, data_alias_changed, view_setitem,
         base_changed_under_saved_view, fill_zero_copy, matmul_input_changed,
         linear_weight_changed_input_no_grad, linear_input_changed, relu_output_changed,
         retained_graph_sgd_step, retained_graph_manual_update, retained_graph_adam_unsaved,
         conv_input_changed, div_numerator_changed, div_denominator_changed,
         pow_result_changed, sigmoid_output_changed]


def _run(case, lib):
    try:
        return case(lib), None
    except RuntimeError as e:
        return None, str(e)


def _head(message: str) -> str:
    """The message up to its hint (torch's hint names torch's anomaly mode)."""
    return message[:message.index(" instead.")]


# message details that depend on which view torch saved (weight.t() shows as AsStrided)
_SAME_MESSAGE_EXCEPT = {"retained_graph_sgd_step"}


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.__name__)
def test_raises_exactly_where_torch_raises(case):
    leaves, err = _run(case, convnp)
    t_leaves, t_err = _run(case, torch)
    assert (err is None) == (t_err is None), f"convnp: {err!r}\ntorch: {t_err!r}"
    if t_err is not None:
        assert err.startswith("one of the variables needed for gradient computation has been "
                              "modified by an inplace operation: [convnp.")
        if case.__name__ not in _SAME_MESSAGE_EXCEPT:
            assert _head(err) == _head(t_err).replace("torch.", "convnp.")
        return
    for c, tt in zip(leaves, t_leaves):  # no error: the same gradients as torch
        if tt.grad is None:
            assert c.grad is None
        elif case.__name__ not in ("retained_graph_adam_unsaved",
                                   "linear_weight_changed_input_no_grad"):
            np.testing.assert_allclose(c.grad.array, tt.grad.numpy(), rtol=1e-5, atol=1e-6)


def test_wrong_gradient_of_the_issue_is_refused():
    w, x = convnp.ones(3, requires_grad=True), convnp.tensor([1., 2., 3.])
    y = (w * x).sum()
    x.add_(10)
    with pytest.raises(RuntimeError, match=re.escape(
            "[convnp.FloatTensor [3]] is at version 1; expected version 0 instead")):
        y.backward()
    assert w.grad is None


def test_message_names_the_op_that_produced_the_tensor():
    w = convnp.ones(2, 2, requires_grad=True, dtype=convnp.float64)
    e = w.exp()
    y = (e + 1).sum()
    z = (e * e).sum()
    e.detach().add_(1)
    with pytest.raises(RuntimeError, match=re.escape(
            "[convnp.DoubleTensor [2, 2]], which is output 0 of Exp, is at version 1; "
            "expected version 0 instead")):
        z.backward()
    with pytest.raises(RuntimeError, match="output 0 of Exp"):
        y.backward()  # through exp, which saved e too


@pytest.mark.parametrize("op", ["add_", "sub_", "mul_", "div_", "clamp_", "copy_", "zero_",
                                "fill_", "uniform_", "normal_", "setitem"])
def test_every_inplace_op_bumps_the_version_like_torch(op):
    args = {"add_": (1.0,), "sub_": (1.0,), "mul_": (2.0,), "div_": (2.0,), "clamp_": (0, 1),
            "fill_": (3.0,), "uniform_": (), "normal_": (), "zero_": ()}
    versions = []
    for lib in (convnp, torch):
        x = lib.ones(3)
        alias = x.detach()
        if op == "setitem":
            x[0] = 2.0
        elif op == "copy_":
            x.copy_(lib.zeros(3))
        else:
            getattr(x, op)(*args[op])
        versions.append((x._version, alias._version, x.data._version))
    assert versions[0] == versions[1]


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad"])
def test_optimizer_steps_bump_parameter_versions(name):
    p = convnp.nn.Parameter(convnp.ones(3))
    p.grad = convnp.ones(3)
    opt = getattr(convnp.optim, name)([p], lr=0.1)
    view = p.view(3)
    opt.step()
    assert p._version >= 1 and view._version == p._version


def test_parameter_shares_its_source_counter_like_torch():
    for lib in (convnp, torch):
        src = lib.ones(3)
        p = lib.nn.Parameter(src)
        src.add_(1)
        assert p._version == src._version == 1


def test_views_share_the_counter():
    x = convnp.zeros(2, 3)
    v = x[0]
    r = x.reshape(6)
    tr = x.t()
    v.add_(1)
    assert x._version == r._version == tr._version == v._version == 1
    assert x.clone()._version == 0


def test_no_error_without_a_change_and_after_retained_backwards():
    w = convnp.randn(3, requires_grad=True)
    y = (w * w).exp().sum()
    y.backward(retain_graph=True)
    g = w.grad.array.copy()
    y.backward()
    np.testing.assert_allclose(w.grad.array, 2 * g, rtol=1e-6)


def test_init_and_load_state_dict_bump_like_torch():
    for lib in (convnp, torch):
        lin = lib.nn.Linear(3, 2)
        v = lin.weight._version
        lib.nn.init.uniform_(lin.weight)
        assert lin.weight._version == v + 1
        lin.load_state_dict({k: t.detach().clone() for k, t in lin.state_dict().items()})
        assert lin.weight._version == v + 2
        bn = lib.nn.BatchNorm1d(2)
        v = bn.running_mean._version
        bn(lib.ones(4, 2))
        assert bn.running_mean._version == v  # torch's kernel updates the stats unseen


IMG8 = R.standard_normal((2, 3, 8, 8)).astype(np.float32)
K3 = R.standard_normal((4, 3, 3, 3)).astype(np.float32)
LAYER_OPS = {
    "conv2d": lambda L, F, x, w: F.conv2d(x, w, padding=1),
    "conv-transpose2d": lambda L, F, x, w: F.conv_transpose2d(x, w.transpose(0, 1), padding=1),
    "max-pool2d": lambda L, F, x, w: F.max_pool2d(x, 2),
    "avg-pool2d": lambda L, F, x, w: F.avg_pool2d(x, 2),
    "adaptive-avg-pool2d": lambda L, F, x, w: F.adaptive_avg_pool2d(x, 3),
    "adaptive-max-pool2d": lambda L, F, x, w: F.adaptive_max_pool2d(x, 3),
    "batch-norm": lambda L, F, x, w: F.batch_norm(x, None, None, training=True),
    "layer-norm": lambda L, F, x, w: F.layer_norm(x, (8,)),
    "group-norm": lambda L, F, x, w: F.group_norm(x, 3),
    "softplus": lambda L, F, x, w: F.softplus(x),
    "threshold": lambda L, F, x, w: F.threshold(x, 0.1, 0.0),
    "hardshrink": lambda L, F, x, w: F.hardshrink(x),
    "reflect-pad": lambda L, F, x, w: F.pad(x, (1, 1, 1, 1), mode="reflect"),
    "constant-pad": lambda L, F, x, w: F.pad(x, (1, 1)),
    "bilinear": lambda L, F, x, w: F.interpolate(x, scale_factor=2, mode="bilinear"),
    "elu": lambda L, F, x, w: F.elu(x),
    "gelu": lambda L, F, x, w: F.gelu(x),
    "softmax": lambda L, F, x, w: F.softmax(x, 1),
    "log-softmax": lambda L, F, x, w: F.log_softmax(x, 1),
    "mse": lambda L, F, x, w: F.mse_loss(x, L.zeros_like(x)),
    "dropout": lambda L, F, x, w: F.dropout(x, 0.5),
    "hardswish": lambda L, F, x, w: F.hardswish(x),
}


def _layer_case(lib, op, which):
    x, w = t(lib, IMG8, True), t(lib, K3, True)
    y = LAYER_OPS[op](lib, lib.nn.functional, x, w)
    (x if which == "input" else w).detach().add_(1)
    try:
        (y * 1).sum().backward()
    except RuntimeError:
        return True
    return False


@pytest.mark.parametrize("which", ["input", "weight"])
@pytest.mark.parametrize("op", sorted(LAYER_OPS))
def test_layer_inputs_count_as_saved_where_torch_saves_them(op, which):
    assert _layer_case(convnp, op, which) == _layer_case(torch, op, which)
