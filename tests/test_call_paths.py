"""The lean call paths: the convolution's cache of validated arguments, ``Module.__call__``
without hooks, eval-mode batch norm's scale/shift, and ``Function.apply`` without a graph.

Each fast path must give the results and raise the errors of the full one: a cached call is
never served for a changed shape or setting, and bad arguments raise on every call."""

from __future__ import annotations

import numpy as np
import pytest

import convnp
import convnp.nn as nn
import convnp.nn.functional as F
from convnp.ops import conv as conv_ops
from tests.oracle import compare, rand


@pytest.fixture(autouse=True)
def _fresh_cache():
    conv_ops._checked.clear()
    yield
    conv_ops._checked.clear()


def _t(*shape, seed=0):
    return convnp.tensor(rand(*shape, seed=seed).astype(np.float32))


# ---------------------------------------------------------------- conv: validated-argument cache
def test_conv_cache_serves_the_same_call_and_not_a_changed_one():
    w = _t(4, 3, 3, 3, seed=1)
    y1 = F.conv2d(_t(2, 3, 8, 8), w, padding=1)
    assert len(conv_ops._checked) == 1
    F.conv2d(_t(2, 3, 8, 8, seed=2), w, padding=1)  # same shapes and settings: one entry
    assert len(conv_ops._checked) == 1
    # every setting and shape is part of the key: each changed call is validated afresh
    assert F.conv2d(_t(2, 3, 8, 8), w, padding=0).shape == (2, 4, 6, 6)
    assert F.conv2d(_t(2, 3, 8, 8), w, padding=1, stride=2).shape == (2, 4, 4, 4)
    assert F.conv2d(_t(2, 3, 8, 8), w, padding=1, dilation=2).shape == (2, 4, 6, 6)
    assert F.conv2d(_t(1, 3, 5, 7), w, padding=1).shape == (1, 4, 5, 7)
    assert F.conv2d(_t(3, 8, 8), w, padding=1).shape == (4, 8, 8)  # unbatched
    assert F.conv2d(_t(2, 3, 8, 8), w, padding="same").shape == (2, 4, 8, 8)
    assert y1.shape == (2, 4, 8, 8)
    assert len(conv_ops._checked) == 7


def test_conv_cache_result_equals_uncached():
    x, w, b = _t(2, 3, 8, 8), _t(4, 3, 3, 3, seed=1), _t(4, seed=2)
    ref = F.conv2d(x, w, b, padding=(1, 2), stride=(1, 2), padding_mode="reflect")
    again = F.conv2d(x, w, b, padding=(1, 2), stride=(1, 2), padding_mode="reflect")
    np.testing.assert_array_equal(ref.array, again.array)
    # a list setting (not a cache key) gives the same numbers
    listed = F.conv2d(x, w, b, padding=[1, 2], stride=[1, 2], padding_mode="reflect")
    np.testing.assert_array_equal(ref.array, listed.array)


@pytest.mark.parametrize("bad, exc, match", [
    (dict(input=(2, 5, 8, 8)), RuntimeError, "expected input with 3 channels"),
    (dict(stride=2.0), TypeError, "'stride' must be an int"),
    (dict(stride=0), ValueError, "'stride' must be >= 1"),
    (dict(groups=True), ValueError, "groups must be a positive int"),
    (dict(groups=2), ValueError, "groups=2 must divide"),
    (dict(padding=-1), ValueError, "padding must be non-negative"),
    (dict(padding=1.0), TypeError, "padding must be an int"),
    (dict(padding="full"), ValueError, "padding string must be one of"),
    (dict(padding_mode="mirror"), ValueError, "padding_mode must be one of"),
    (dict(padding=8, padding_mode="reflect"), ValueError, "reflect"),
    (dict(input=(2, 3, 2, 2), padding=0), RuntimeError, "kernel size can't be greater"),
    (dict(bias=(5,)), ValueError, "bias must be None or of shape"),
    (dict(dtype=np.float64), TypeError, "same floating dtype"),
], ids=["channels", "float-stride", "zero-stride", "bool-groups", "groups", "neg-pad",
        "float-pad", "pad-string", "mode", "reflect-too-far", "kernel-too-big", "bias", "dtype"])
def test_conv_bad_arguments_raise_on_every_call(bad, exc, match):
    """A good call is cached first; the bad one (a key that equals it as a dict key, for 2.0 and
    True) raises the same error twice."""
    good = dict(stride=2, padding=1, groups=1)
    w = _t(4, 3, 3, 3, seed=1)
    F.conv2d(_t(2, 3, 8, 8), w, _t(4, seed=2), **good)
    kw = {**good, **{k: v for k, v in bad.items() if k not in ("input", "bias", "dtype")}}
    x = _t(*bad.get("input", (2, 3, 8, 8)))
    if "dtype" in bad:
        x = convnp.tensor(x.array.astype(bad["dtype"]))
    b = _t(*bad.get("bias", (4,)), seed=2)
    messages = []
    for _ in range(2):
        with pytest.raises(exc, match=match) as e:
            F.conv2d(x, w, b, **kw)
        messages.append(str(e.value))
    assert messages[0] == messages[1]


def test_conv_transpose_cache_keeps_output_size_apart():
    x, w = _t(1, 4, 5, 5), _t(4, 2, 3, 3, seed=1)
    assert F.conv_transpose2d(x, w, stride=2).shape == (1, 2, 11, 11)
    assert F.conv_transpose2d(x, w, stride=2, output_padding=1).shape == (1, 2, 12, 12)
    assert F.conv_transpose2d(x, w, stride=2, output_size=(12, 12)).shape == (1, 2, 12, 12)
    for _ in range(2):
        with pytest.raises(ValueError, match="requested an output size"):
            F.conv_transpose2d(x, w, stride=2, output_size=(14, 14))
        with pytest.raises(ValueError, match="padding strings other than 'valid'"):
            F.conv_transpose2d(x, w, stride=2, padding="same")


def test_conv_cache_is_bounded(monkeypatch):
    monkeypatch.setattr(conv_ops._checked, "maxsize", 3)
    w = _t(2, 3, 1, 1)
    for n in range(1, 6):
        F.conv2d(_t(1, 3, n, n), w)
        assert len(conv_ops._checked) <= 3


def test_conv_module_uses_cache_and_follows_setting_changes():
    m = nn.Conv2d(3, 4, 3, padding=1)
    x = _t(1, 3, 6, 6)
    assert m(x).shape == (1, 4, 6, 6)
    m.padding = (0, 0)  # a changed attribute is a changed key
    assert m(x).shape == (1, 4, 4, 4)


# ---------------------------------------------------------------- Module.__call__ without hooks
def test_module_hooks_added_and_removed_after_plain_calls():
    m = nn.ReLU()
    x = _t(2, 3)
    m(x)  # no hooks: straight to forward
    seen = []
    h1 = m.register_forward_pre_hook(lambda mod, args: seen.append("pre"))
    h2 = m.register_forward_hook(lambda mod, args, out: out * 2)
    out = m(x)
    assert seen == ["pre"]
    np.testing.assert_allclose(out.array, 2 * np.maximum(x.array, 0))
    h1.remove()
    h2.remove()
    np.testing.assert_allclose(m(x).array, np.maximum(x.array, 0))
    assert seen == ["pre"]


def test_module_backward_hook_only_still_runs():
    m = nn.Linear(3, 2)
    grads = []
    m.register_full_backward_hook(lambda mod, gi, go: grads.append(go[0].shape))
    m(convnp.tensor(rand(4, 3).astype(np.float32), requires_grad=True)).sum().backward()
    assert grads == [(4, 2)]


# ---------------------------------------------------------------- eval batch norm
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("which", ["weight", "bias", "none", "both"])
def test_batch_norm_eval_weight_or_bias_alone(which, dtype):
    import torch
    import torch.nn.functional as TF

    rm, rv = rand(3, seed=4), rand(3, seed=5) + 1.5
    w, b = rand(3, seed=1) + 1, rand(3, seed=2)
    args = {"weight": (w, None), "bias": (None, b), "none": (None, None), "both": (w, b)}[which]
    arrays = [rand(2, 3, 4, 5), *args]  # every array a leaf that requires grad

    def cfn(x, wt, bs):
        return F.batch_norm(x, convnp.tensor(rm.astype(dtype)), convnp.tensor(rv.astype(dtype)),
                            wt, bs, training=False)

    def tfn(x, wt, bs):
        return TF.batch_norm(x, torch.tensor(rm.astype(dtype)), torch.tensor(rv.astype(dtype)),
                             wt, bs, training=False)

    compare(cfn, tfn, *arrays, dtype=dtype)


def test_batch_norm_eval_leaves_running_stats_and_saves_its_own_copy():
    rm, rv = convnp.tensor(rand(3, seed=4)), convnp.tensor(rand(3, seed=5) + 1.5)
    before = rm.array.copy(), rv.array.copy()
    w = convnp.tensor(np.ones(3, np.float32), requires_grad=True)
    x = convnp.tensor(rand(2, 3, 4).astype(np.float32), requires_grad=True)
    y = F.batch_norm(x, rm, rv, w, None, training=False)
    np.testing.assert_array_equal(rm.array, before[0])
    np.testing.assert_array_equal(rv.array, before[1])
    y.sum().backward()
    gw = w.grad.array.copy()
    # the statistics this call used are the ones its backward uses
    w.grad = None
    y2 = F.batch_norm(x, rm, rv, w, None, training=False)
    rm.array[...] += 5  # written behind autograd's back, after the forward
    y2.sum().backward()
    np.testing.assert_array_equal(w.grad.array, gw)


# ---------------------------------------------------------------- Function.apply without a graph
def test_no_grad_outputs_share_version_with_viewed_input():
    x = convnp.tensor(rand(2, 3).astype(np.float32))
    with convnp.no_grad():
        v = x.view(6)
        y = x + 1
    assert v._vc is x._vc and v._vc is not None
    assert y._vc is None or y._vc is not x._vc
    assert not y.requires_grad and y.grad_fn is None and v.grad_fn is None
