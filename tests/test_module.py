"""Module / Parameter / containers / nn.utils: traversal and dotted names, state_dict round trips
and errors, modes, dtype conversion, hooks, reprs; then the same checks against torch's twins."""

from __future__ import annotations

import copy
import math
from collections import OrderedDict

import numpy as np
import pytest

import convnp
import convnp.nn as nn
import convnp.nn.functional as F


def build(nn, lib):
    """The same nested model in convnp (``nn=convnp.nn``) or torch (``nn=torch.nn``)."""

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 3)
            self.register_buffer("running", lib.zeros(3))
            self.register_buffer("scratch", lib.ones(2), persistent=False)
            self.scale = nn.Parameter(lib.ones(1))

        def forward(self, x):
            return self.fc(x) * self.scale + self.running

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.Sequential(Block(), nn.Flatten(), nn.Linear(3, 3))
            self.heads = nn.ModuleDict({"a": nn.Linear(3, 2), "b": nn.Identity()})
            self.blocks = nn.ModuleList([Block(), Block()])
            self.plist = nn.ParameterList([nn.Parameter(lib.ones(2)),
                                           nn.Parameter(lib.ones(2, 2))])
            self.pdict = nn.ParameterDict({"x": nn.Parameter(lib.ones(3))})
            self.tied = self.body[2]  # the same module under a second name

        def forward(self, x):
            h = self.body(x)
            for b in self.blocks:
                h = h + b(x)
            return self.heads["a"](h)

    return Net()


STATE_KEYS = ["body.0.scale", "body.0.running", "body.0.fc.weight", "body.0.fc.bias",
              "body.2.weight", "body.2.bias", "heads.a.weight", "heads.a.bias",
              "blocks.0.scale", "blocks.0.running", "blocks.0.fc.weight", "blocks.0.fc.bias",
              "blocks.1.scale", "blocks.1.running", "blocks.1.fc.weight", "blocks.1.fc.bias",
              "plist.0", "plist.1", "pdict.x", "tied.weight", "tied.bias"]


# ---------------------------------------------------------------------------- traversal
def test_dotted_names_and_shared_parameters_once():
    m = build(nn, convnp)
    assert list(m.state_dict()) == STATE_KEYS  # shared module appears under both names
    names = [n for n, _ in m.named_parameters()]
    assert "tied.weight" not in names and "body.2.weight" in names  # counted once
    assert len(list(m.parameters())) == len(names) == 16
    assert [n for n, _ in m.named_buffers()] == [
        "body.0.running", "body.0.scratch", "blocks.0.running", "blocks.0.scratch",
        "blocks.1.running", "blocks.1.scratch"]
    assert [n for n, _ in m.named_children()] == ["body", "heads", "blocks", "plist", "pdict",
                                                  "tied"]
    assert len(list(m.children())) == 6
    mods = [n for n, _ in m.named_modules()]
    assert mods[:4] == ["", "body", "body.0", "body.0.fc"] and "tied" not in mods
    assert [n for n, _ in m.body.named_parameters(prefix="x", recurse=False)] == []
    assert [n for n, _ in m.body[0].named_parameters(recurse=False)] == ["scale"]
    assert m.get_submodule("body.0.fc") is m.body[0].fc


def test_setattr_rules():
    m = nn.Linear(2, 2)
    with pytest.raises(TypeError, match="cannot assign Tensor as parameter 'weight'"):
        m.weight = convnp.zeros(2, 2)
    m.bias = None
    assert [n for n, _ in m.named_parameters()] == ["weight"]
    with pytest.raises(TypeError, match="cannot assign Linear as parameter 'bias'"):
        m.bias = nn.Linear(1, 1)
    m.act = nn.Identity()
    with pytest.raises(TypeError, match="cannot assign int as child module 'act'"):
        m.act = 3
    m.act = None
    m.register_buffer("buf", convnp.zeros(1))
    m.buf = nn.Parameter(convnp.ones(1))  # a Parameter moves the name from the buffers
    assert "buf" not in dict(m.named_buffers()) and "buf" in dict(m.named_parameters())
    with pytest.raises(AttributeError, match="'Linear' object has no attribute 'nope'"):
        _ = m.nope
    m.extra = nn.Identity()
    assert "extra" in dict(m.named_children())
    del m.extra
    assert "extra" not in dict(m.named_children())

    class Early(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(convnp.ones(1))

    with pytest.raises(AttributeError, match="call super\\(\\).__init__\\(\\) first"):
        Early()


def test_parameter():
    p = nn.Parameter(convnp.ones(2, 3))
    assert p.requires_grad and isinstance(p, convnp.Tensor) and p.is_leaf
    assert not nn.Parameter(convnp.ones(2), requires_grad=False).requires_grad
    assert repr(p).startswith("Parameter containing:\n")


# ---------------------------------------------------------------------------- state_dict
def test_state_dict_round_trip_and_sources():
    convnp.manual_seed(0)
    a, b = build(nn, convnp), build(nn, convnp)
    sd = a.state_dict()
    res = b.load_state_dict(sd)
    assert res.missing_keys == [] and res.unexpected_keys == []
    assert repr(res) == "<All keys matched successfully>"
    x = convnp.randn(5, 4)
    np.testing.assert_array_equal(a(x).array, b(x).array)
    # state_dict tensors share memory with the parameters and carry no graph
    assert sd["body.0.fc.weight"].array is a.body[0].fc.weight.array
    assert not sd["body.0.fc.weight"].requires_grad
    assert a.state_dict(keep_vars=True)["body.0.fc.weight"] is a.body[0].fc.weight
    # NumPy arrays load too, cast to the parameter's dtype, in place
    w = b.heads.a.weight
    b.load_state_dict({k: v.array.astype(np.float64) * 0 for k, v in sd.items()})
    assert b.heads.a.weight is w and w.dtype == np.float32 and not np.any(w.array)


def test_load_state_dict_errors_list_keys():
    m = nn.Sequential(nn.Linear(3, 2))
    sd = {"0.weight": np.zeros((2, 3)), "0.extra": np.zeros(1), "1.bias": np.zeros(1)}
    with pytest.raises(RuntimeError, match=r'Error\(s\) in loading state_dict for Sequential:\n\t'
                       r'Missing key\(s\) in state_dict: "0.bias".\n\tUnexpected key\(s\) in '
                       r'state_dict: "0.extra", "1.bias".'):
        m.load_state_dict(sd)
    res = m.load_state_dict(sd, strict=False)
    assert res.missing_keys == ["0.bias"] and res.unexpected_keys == ["0.extra", "1.bias"]
    with pytest.raises(RuntimeError, match=r"size mismatch for 0.weight: copying a param with "
                       r"shape \(3, 3\) from checkpoint, the shape in current model is \(2, 3\)"):
        m.load_state_dict({"0.weight": np.zeros((3, 3)), "0.bias": np.zeros(2)})
    with pytest.raises(TypeError, match=r"load_state_dict\['0.bias'\]: expected a convnp Tensor"):
        m.load_state_dict({"0.weight": np.zeros((2, 3)), "0.bias": [0.0, 0.0]})


# ---------------------------------------------------------------------------- modes, grads, dtypes
def test_train_eval_propagate():
    m = build(nn, convnp)
    assert all(x.training for x in m.modules())
    assert m.eval() is m
    assert not any(x.training for x in m.modules())
    m.train()
    assert all(x.training for x in m.modules())
    m.blocks.train(False)
    assert not m.blocks[1].fc.training and m.body.training
    with pytest.raises(ValueError, match="mode"):
        m.train("yes")


def test_zero_grad_and_requires_grad():
    m = nn.Linear(3, 2)
    m(convnp.randn(4, 3)).sum().backward()
    assert m.weight.grad is not None
    m.zero_grad(set_to_none=False)
    assert m.weight.grad is not None and not np.any(m.weight.grad.array)
    m.zero_grad()
    assert m.weight.grad is None and m.bias.grad is None
    m.requires_grad_(False)
    assert not any(p.requires_grad for p in m.parameters())


def test_apply_and_conversions():
    m = build(nn, convnp)
    seen = []
    assert m.apply(lambda mod: seen.append(type(mod).__name__)) is m
    # children first; a module registered twice is visited twice, like torch
    assert seen[-1] == "Net" and seen.count("Linear") == 6
    m.apply(lambda mod: nn.init.zeros_(mod.weight) if isinstance(mod, nn.Linear) else None)
    assert not np.any(m.heads.a.weight.array)
    m.register_buffer("steps", convnp.tensor(3))
    p = m.heads.a.weight
    assert m.double() is m
    assert all(t.dtype == np.float64 for t in m.parameters())
    assert m.body[0].running.dtype == np.float64 and m.steps.dtype == np.int64
    assert m.heads.a.weight is p  # parameters keep their identity
    m.float()
    assert all(t.dtype == np.float32 for t in m.parameters())
    m.to(convnp.float64)
    assert p.dtype == np.float64
    m.to("cpu", dtype=convnp.float32)
    assert p.dtype == np.float32
    with pytest.raises(RuntimeError, match="CPU only"):
        m.to("cuda")
    x = convnp.randn(2, 4).double()
    assert m.double()(x).dtype == np.float64


def test_deepcopy():
    m = nn.Sequential(nn.Linear(3, 2))
    c = copy.deepcopy(m)
    assert c[0].weight is not m[0].weight
    np.testing.assert_array_equal(c[0].weight.array, m[0].weight.array)


def test_hooks():
    m = nn.Linear(2, 2)
    calls = []
    h1 = m.register_forward_pre_hook(lambda mod, args: (args[0] * 0,))
    h2 = m.register_forward_hook(lambda mod, args, out: calls.append(out.shape) or out + 1)
    out = m(convnp.randn(3, 2))
    np.testing.assert_allclose(out.array, np.broadcast_to(m.bias.array + 1, (3, 2)), rtol=1e-6)
    assert calls == [(3, 2)]
    h1.remove()
    h2.remove()
    x = convnp.randn(3, 2)
    np.testing.assert_array_equal(m(x).array, F.linear(x, m.weight, m.bias).array)
    with m.register_forward_hook(lambda mod, args, out: out * 0):
        assert not np.any(m(x).array)
    assert np.any(m(x).array)


def test_hooks_prepend_and_kwargs():
    class Scale(nn.Module):
        def forward(self, x, factor=1.0):
            return x * factor

    m, order = Scale(), []
    m.register_forward_hook(lambda mod, a, out: order.append("second"))
    m.register_forward_hook(lambda mod, a, out: order.append("first"), prepend=True)
    m.register_forward_pre_hook(lambda mod, a, kw: (a, {"factor": 3.0}), with_kwargs=True)
    seen = []
    m.register_forward_hook(lambda mod, a, kw, out: seen.append(kw["factor"]), with_kwargs=True)
    out = m(convnp.ones(2), factor=2.0)
    assert order == ["first", "second"] and seen == [3.0]
    np.testing.assert_array_equal(out.array, [3.0, 3.0])


# ---------------------------------------------------------------------------- containers
def test_sequential_api():
    a, b, c = nn.Linear(2, 3), nn.Identity(), nn.Linear(3, 1)
    s = nn.Sequential(a, b, c)
    assert len(s) == 3 and s[0] is a and s[-1] is c and list(s) == [a, b, c]
    sl = s[1:]
    assert isinstance(sl, nn.Sequential) and list(sl._modules) == ["1", "2"]
    s.append(nn.Identity())
    s.insert(1, nn.Flatten())
    assert list(s._modules) == ["0", "1", "2", "3", "4"] and isinstance(s[1], nn.Flatten)
    del s[1]
    assert list(s._modules) == ["0", "1", "2", "3"] and s[1] is b
    assert s.pop(-1) is not None and len(s) == 3
    s.extend([nn.Identity()])
    s[3] = nn.Flatten()
    assert isinstance(s[3], nn.Flatten)
    assert len(s + nn.Sequential(nn.Identity())) == 5
    named = nn.Sequential(OrderedDict([("conv", nn.Linear(2, 2)), ("act", nn.Identity())]))
    assert list(named.state_dict()) == ["conv.weight", "conv.bias"] and named[0] is named.conv
    with pytest.raises(IndexError, match="index 5 is out of range for Sequential of length 4"):
        s[5]
    with pytest.raises(TypeError, match="Sequential indices must be integers or slices"):
        s["a"]
    x = convnp.randn(4, 2)
    np.testing.assert_array_equal(s(x).array, c(a(x)).array)


def test_modulelist_moduledict():
    ml = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
    assert len(ml) == 3 and len(list(ml.parameters())) == 6
    ml.append(nn.Identity())
    ml.extend([nn.Flatten()])
    ml.insert(0, nn.Identity())
    assert [type(m).__name__ for m in ml] == ["Identity", "Linear", "Linear", "Linear",
                                              "Identity", "Flatten"]
    assert isinstance(ml[1:3], nn.ModuleList) and len(ml[1:3]) == 2
    del ml[0]
    assert list(ml._modules) == [str(i) for i in range(5)] and isinstance(ml[0], nn.Linear)
    assert isinstance(ml[-1], nn.Flatten)
    assert repr(nn.ModuleList()) == "ModuleList()"
    with pytest.raises(NotImplementedError, match="ModuleList has no forward"):
        ml(convnp.ones(1))
    md = nn.ModuleDict({"a": nn.Linear(2, 2)})
    md["b"] = nn.Identity()
    md.update([("c", nn.Flatten())])
    assert list(md) == ["a", "b", "c"] and "b" in md and len(md) == 3
    assert list(md.keys()) == ["a", "b", "c"] and md["a"] is list(md.values())[0]
    assert md.pop("b") is not None and "b" not in md
    assert list(md.state_dict()) == ["a.weight", "a.bias"]
    with pytest.raises(ValueError, match="should be a \\(key, module\\) pair"):
        md.update([nn.Identity()])


def test_parameterlist_parameterdict():
    pl = nn.ParameterList([convnp.ones(2), nn.Parameter(convnp.zeros(3))])
    assert all(isinstance(p, nn.Parameter) for p in pl)  # tensors wrapped, like torch
    pl.append(convnp.ones(1))
    assert len(pl) == 3 and [n for n, _ in pl.named_parameters()] == ["0", "1", "2"]
    assert pl[-1].shape == (1,)
    pd = nn.ParameterDict({"w": convnp.ones(2)})
    pd["b"] = nn.Parameter(convnp.zeros(1))
    assert list(pd) == ["w", "b"] and isinstance(pd["w"], nn.Parameter)
    assert [n for n, _ in pd.named_parameters()] == ["w", "b"]
    del pd["w"]
    assert list(pd.keys()) == ["b"] and list(pd.state_dict()) == ["b"]


# ---------------------------------------------------------------------------- nn.utils
def _grads_model():
    m = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2))
    for i, p in enumerate(m.parameters()):
        p.grad = convnp.tensor(np.random.default_rng(i).standard_normal(p.shape).astype("f"))
    return m


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, math.inf], ids=["l2", "l1", "l3", "inf"])
def test_clip_grad_norm(norm_type):
    m = _grads_model()
    g = np.concatenate([p.grad.array.ravel() for p in m.parameters()]).astype(np.float64)
    expected = np.abs(g).max() if norm_type == math.inf else (np.abs(g) ** norm_type).sum() ** (
        1 / norm_type)
    total = nn.utils.clip_grad_norm_(m.parameters(), 0.5, norm_type=norm_type)
    assert isinstance(total, convnp.Tensor) and total.shape == ()
    np.testing.assert_allclose(total.item(), expected, rtol=1e-5)
    g2 = np.concatenate([p.grad.array.ravel() for p in m.parameters()])
    np.testing.assert_allclose(g2, g * 0.5 / (expected + 1e-6), rtol=1e-5)
    # below the limit: untouched
    before = g2.copy()
    nn.utils.clip_grad_norm_(m.parameters(), 1e6, norm_type=norm_type)
    np.testing.assert_array_equal(np.concatenate([p.grad.array.ravel() for p in m.parameters()]),
                                  before)


def test_clip_grad_value_nonfinite_and_vectors():
    m = _grads_model()
    nn.utils.clip_grad_value_(m.parameters(), 0.1)
    assert all(np.abs(p.grad.array).max() <= np.float32(0.1) for p in m.parameters())
    m[0].weight.grad.array[0, 0] = np.nan
    with pytest.raises(RuntimeError, match="clip_grad_norm_: the total norm of order 2.0"):
        nn.utils.clip_grad_norm_(m.parameters(), 1.0, error_if_nonfinite=True)
    assert nn.utils.clip_grad_norm_(nn.Linear(2, 2).parameters(), 1.0).item() == 0.0
    v = nn.utils.parameters_to_vector(m.parameters())
    assert v.shape == (3 * 4 + 4 + 4 * 2 + 2,)
    m2 = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2))
    nn.utils.vector_to_parameters(v, m2.parameters())
    for p, q in zip(m.parameters(), m2.parameters()):
        np.testing.assert_array_equal(p.array, q.array)
    with pytest.raises(ValueError, match="'vec' has 3 elements but the parameters hold 26"):
        nn.utils.vector_to_parameters(convnp.zeros(3), m2.parameters())


# ---------------------------------------------------------------------------- against torch
def test_names_and_repr_equal_torch():
    torch = pytest.importorskip("torch")
    c, t = build(nn, convnp), build(torch.nn, torch)
    assert list(c.state_dict()) == list(t.state_dict()) == STATE_KEYS
    for fn in ("named_parameters", "named_buffers", "named_modules", "named_children"):
        assert [n for n, _ in getattr(c, fn)()] == [n for n, _ in getattr(t, fn)()], fn
    # reprs equal except the dtype spelling inside ParameterList/Dict lines
    c_lines = [ln for ln in repr(c).split("\n") if "Parameter" not in ln and "containing" not in ln]
    t_lines = [ln for ln in repr(t).split("\n") if "Parameter" not in ln and "containing" not in ln]
    assert c_lines == t_lines


def test_small_sequential_repr_equals_torch():
    torch = pytest.importorskip("torch")
    for lib in (nn, torch.nn):
        lib.seq = lib.Sequential(lib.Flatten(), lib.Linear(784, 128, bias=False),
                                 lib.Sequential(lib.Linear(128, 10), lib.Identity()),
                                 lib.Unflatten(1, (2, 5)))
    assert repr(nn.seq) == repr(torch.nn.seq)
    ml_c = nn.ModuleList([nn.Linear(2, 2), nn.Linear(2, 2), nn.Flatten()])
    ml_t = torch.nn.ModuleList([torch.nn.Linear(2, 2), torch.nn.Linear(2, 2), torch.nn.Flatten()])
    assert repr(ml_c) == repr(ml_t)
    del nn.seq, torch.nn.seq


def test_load_torch_state_dict_and_back():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    c, t = build(nn, convnp), build(torch.nn, torch)
    with torch.no_grad():
        for b in t.buffers():
            b.uniform_()
    c.load_state_dict(t.state_dict())  # torch tensors accepted directly
    x = np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32)
    np.testing.assert_allclose(c(convnp.tensor(x)).array, t(torch.tensor(x)).detach().numpy(),
                               rtol=1e-5, atol=1e-6)
    t2 = build(torch.nn, torch)
    t2.load_state_dict({k: torch.tensor(v.numpy()) for k, v in c.state_dict().items()})
    np.testing.assert_allclose(t2(torch.tensor(x)).detach().numpy(),
                               t(torch.tensor(x)).detach().numpy(), rtol=1e-6)


def test_sequential_edits_match_torch():
    torch = pytest.importorskip("torch")
    seqs = []
    for lib in (nn, torch.nn):
        s = lib.Sequential(*(lib.Linear(2, 2) for _ in range(4)))
        keys = [list(s[1:3].state_dict())]
        del s[1]
        keys.append(list(s.state_dict()))
        s.insert(0, lib.Identity())
        s.append(lib.Linear(2, 2))
        keys.append(list(s.state_dict()))
        seqs.append(keys)
    assert seqs[0] == seqs[1]


@pytest.mark.parametrize("norm_type", [2.0, 1.0, math.inf], ids=["l2", "l1", "inf"])
def test_clip_grad_norm_equals_torch(norm_type):
    torch = pytest.importorskip("torch")
    c = _grads_model()
    t = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Linear(4, 2))
    for pc, pt in zip(c.parameters(), t.parameters()):
        pt.grad = torch.tensor(pc.grad.array.copy())
    tc = nn.utils.clip_grad_norm_(c.parameters(), 0.7, norm_type)
    tt = torch.nn.utils.clip_grad_norm_(t.parameters(), 0.7, norm_type)
    np.testing.assert_allclose(tc.item(), tt.item(), rtol=1e-6)
    for pc, pt in zip(c.parameters(), t.parameters()):
        np.testing.assert_allclose(pc.grad.array, pt.grad.numpy(), rtol=1e-6)
