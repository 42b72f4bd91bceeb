"""Gradient hooks: ``Tensor.register_hook`` and ``Module.register_full_backward_hook`` /
``register_full_backward_pre_hook``. Hand-computed cases first, then the same scenarios run in
torch with the same weights and a random upstream gradient, comparing what every hook saw and
every resulting gradient."""

import numpy as np
import pytest

import convnp
import convnp.nn as nn
import convnp.nn.functional as F


def t(a, grad=True):
    return convnp.tensor(np.asarray(a, dtype=np.float64), requires_grad=grad)


# ---------------------------------------------------------------- tensor hooks, no torch
def test_leaf_hook_scales_gradient_before_accumulation():
    x = t([1.0, 2.0, 3.0])
    seen = []
    x.register_hook(lambda g: seen.append(g.array.copy()) or g * 2)
    (x * 3).sum().backward()
    np.testing.assert_array_equal(seen[0], [3, 3, 3])
    np.testing.assert_array_equal(x.grad.array, [6, 6, 6])
    # fan-out: the hook sees the total once, not each contribution
    seen.clear()
    x.grad = None
    (x * 3 + x * 4).sum().backward()
    assert len(seen) == 1
    np.testing.assert_array_equal(seen[0], [7, 7, 7])
    np.testing.assert_array_equal(x.grad.array, [14, 14, 14])


def test_non_leaf_hook_changes_what_flows_upstream_and_retained_grad():
    x = t([1.0, -1.0])
    z = x * 2
    z.retain_grad()
    z.register_hook(lambda g: g * 10)
    (z * 5).sum().backward()
    np.testing.assert_array_equal(z.grad.array, [50, 50])  # retain_grad sees the hooked value
    np.testing.assert_array_equal(x.grad.array, [100, 100])


def test_hooks_run_in_order_none_keeps_and_remove_unregisters():
    x = t([1.0])
    order = []
    h1 = x.register_hook(lambda g: order.append("a"))
    x.register_hook(lambda g: order.append("b") or g + 1)
    (x * 2).sum().backward()
    assert order == ["a", "b"] and x.grad.item() == 3
    h1.remove()
    order.clear()
    x.grad = None
    (x * 2).sum().backward()
    assert order == ["b"]


def test_hooks_apply_in_autograd_grad_and_on_a_backward_root():
    x = t([1.0, 2.0])
    x.register_hook(lambda g: g * 2)
    (g,) = convnp.autograd.grad((x * 3).sum(), x)
    np.testing.assert_array_equal(g.array, [6, 6])
    assert x.grad is None
    y = t([1.0])
    y.register_hook(lambda g: g * 5)
    y.backward(convnp.ones(1, dtype=convnp.float64))
    assert y.grad.item() == 5


def test_hook_errors_say_what_is_wrong():
    with pytest.raises(RuntimeError, match="doesn't require gradient"):
        t([1.0], grad=False).register_hook(lambda g: g)
    with pytest.raises(TypeError, match="register_hook: hook must be callable"):
        t([1.0]).register_hook(3)
    x = t([1.0, 2.0])
    z = x * 2

    def bad(g):
        return convnp.zeros(3)

    z.register_hook(bad)
    with pytest.raises(RuntimeError, match=r"hook 'test_hook_errors_say_what_is_wrong.<locals>"
                                           r"\.bad' changed the gradient's shape from \(2,\) "
                                           r"to \(3,\)"):
        z.sum().backward()


# ---------------------------------------------------------------- module hooks, no torch
def test_full_backward_hook_sees_input_and_output_gradients():
    m = nn.Linear(2, 1, bias=False, dtype=convnp.float64)
    with convnp.no_grad():
        m.weight.copy_(convnp.tensor([[2.0, -3.0]], dtype=convnp.float64))
    seen = {}

    def hook(mod, grad_input, grad_output):
        assert mod is m
        seen["in"] = [g.array.copy() for g in grad_input]
        seen["out"] = [g.array.copy() for g in grad_output]

    handle = m.register_full_backward_hook(hook)
    x = t([[1.0, 1.0]])
    m(x).backward(convnp.tensor([[4.0]], dtype=convnp.float64))
    np.testing.assert_array_equal(seen["out"][0], [[4.0]])
    np.testing.assert_array_equal(seen["in"][0], [[8.0, -12.0]])
    handle.remove()
    seen.clear()
    m(x).sum().backward()
    assert seen == {}


def test_full_backward_hooks_replace_gradients_and_fire_without_input_grads():
    relu = nn.ReLU()
    relu.register_full_backward_pre_hook(lambda mod, go: (go[0] * 3,))
    relu.register_full_backward_hook(lambda mod, gi, go: (gi[0] + 1,))
    x = t([1.0, -1.0])
    relu(x).sum().backward()
    np.testing.assert_array_equal(x.grad.array, [4.0, 1.0])  # relu'(x) * 3 + 1
    calls = []
    lin = nn.Linear(2, 2)
    lin.register_full_backward_hook(lambda mod, gi, go: calls.append((gi, go[0].shape)))
    lin(convnp.randn(3, 2)).sum().backward()  # only the weights need gradients
    assert calls == [((None,), (3, 2))]


def test_full_backward_hook_non_tensor_args_and_bad_return():
    class Scale(nn.Module):
        def forward(self, x, factor, y):
            return x * factor + y

    m = Scale()
    seen = []
    m.register_full_backward_hook(lambda mod, gi, go: seen.append(
        [None if g is None else g.array.tolist() for g in gi]))
    x, y = t([1.0]), t([2.0], grad=False)
    m(x, 4.0, y).sum().backward()
    assert seen == [[[4.0], None, None]]
    m2 = nn.ReLU()
    m2.register_full_backward_hook(lambda mod, gi, go: (gi[0], gi[0]))
    with pytest.raises(RuntimeError, match="ReLU returned tuple of length 2; expected None or a "
                                           "tuple of 1 grad_input"):
        m2(t([1.0])).sum().backward()


# ---------------------------------------------------------------- against torch
torch = pytest.importorskip("torch")


def _copy_params(src, dst):
    dst.load_state_dict({k: v.detach().numpy() for k, v in src.state_dict().items()})


def _record(store, key):
    def hook(mod, *grads):
        store[key] = [[None if g is None else np.array(g.detach().numpy() if hasattr(g, "detach")
                                                       and not isinstance(g, convnp.Tensor)
                                                       else g.array) for g in gs] for gs in grads]
    return hook


def test_module_hooks_match_torch_on_a_small_cnn():
    rng = np.random.default_rng(0)

    def build(nn_, dtype):
        return nn_.Sequential(nn_.Conv2d(2, 4, 3, padding=1, dtype=dtype), nn_.BatchNorm2d(
            4, dtype=dtype), nn_.ReLU(), nn_.MaxPool2d(2), nn_.Flatten(),
            nn_.Linear(4 * 3 * 3, 5, dtype=dtype))

    tm = build(torch.nn, torch.float64)
    cm = build(nn, convnp.float64)
    _copy_params(tm, cm)
    seen_t, seen_c = {}, {}
    for i in (0, 2, 5):
        tm[i].register_full_backward_hook(_record(seen_t, f"full{i}"))
        cm[i].register_full_backward_hook(_record(seen_c, f"full{i}"))
        tm[i].register_full_backward_pre_hook(_record(seen_t, f"pre{i}"))
        cm[i].register_full_backward_pre_hook(_record(seen_c, f"pre{i}"))
    # the ReLU's grad_input is doubled on its way to the pooling and the conv
    tm[2].register_full_backward_hook(lambda mod, gi, go: (gi[0] * 2,))
    cm[2].register_full_backward_hook(lambda mod, gi, go: (gi[0] * 2,))
    x = rng.standard_normal((3, 2, 6, 6))
    up = rng.standard_normal((3, 5))
    xt = torch.tensor(x, requires_grad=True)
    xc = convnp.tensor(x, requires_grad=True)
    tm(xt).backward(torch.tensor(up))
    cm(xc).backward(convnp.tensor(up))
    assert sorted(seen_t) == sorted(seen_c)
    for key in seen_t:
        for gt, gc in zip(seen_t[key], seen_c[key]):
            assert len(gt) == len(gc), key
            for a, b in zip(gt, gc):
                assert (a is None) == (b is None), key
                if a is not None:
                    np.testing.assert_allclose(b, a, rtol=1e-9, atol=1e-11, err_msg=key)
    np.testing.assert_allclose(xc.grad.array, xt.grad.numpy(), rtol=1e-9, atol=1e-11)
    for (name, pt), (_, pc) in zip(tm.named_parameters(), cm.named_parameters()):
        np.testing.assert_allclose(pc.grad.array, pt.grad.numpy(), rtol=1e-9, atol=1e-11,
                                   err_msg=name)


def test_tensor_hooks_match_torch_grad_cam_style():
    """Grad-CAM's recipe: keep a feature map's gradient with a tensor hook, rescale it."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 3, 8, 8))
    w = rng.standard_normal((4, 3, 3, 3))
    up = rng.standard_normal((2, 4, 8, 8))
    results = []
    for lib, fn in ((torch, torch.nn.functional), (convnp, F)):
        xs = lib.tensor(x, requires_grad=True)
        ws = lib.tensor(w, requires_grad=True)
        feat = fn.conv2d(xs, ws, padding=1)
        kept = []
        feat.register_hook(lambda g, kept=kept: kept.append(g) or g * 0.5)
        ws.register_hook(lambda g: g - 1)
        out = fn.relu(feat) * feat
        out.backward(lib.tensor(up))
        as_np = [np.asarray(kept[0].detach().numpy() if lib is torch else kept[0].array),
                 np.asarray(xs.grad.numpy() if lib is torch else xs.grad.array),
                 np.asarray(ws.grad.numpy() if lib is torch else ws.grad.array)]
        results.append(as_np)
    for a, b in zip(*results):
        np.testing.assert_allclose(b, a, rtol=1e-9, atol=1e-11)
