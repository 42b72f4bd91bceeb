"""float16 through every conv / pool / norm / upsample / unpool family, against torch's CPU.

Compiled kernels have no float16 arithmetic: convnp computes float16 calls in float32 and rounds
once at the end, as torch's CPU kernels do. The reference is torch in float64 on the same
(float16-representable) inputs; convnp's float16 result must be as close to it as torch's own
float16 result is (or within float16 rounding where torch's is closer).
"""

from __future__ import annotations

import numpy as np
import pytest

import convnp
import convnp.nn.functional as F

torch = pytest.importorskip("torch")
TF = torch.nn.functional

R = np.random.default_rng(0)
X1 = R.standard_normal((2, 4, 9)).astype(np.float16)
X2 = R.standard_normal((2, 4, 8, 7)).astype(np.float16)
X3 = R.standard_normal((1, 4, 4, 5, 4)).astype(np.float16)
W2 = (R.standard_normal((6, 4, 3, 3)) * 0.3).astype(np.float16)
WD = (R.standard_normal((4, 1, 3, 3)) * 0.3).astype(np.float16)
WT = (R.standard_normal((4, 6, 3, 3)) * 0.3).astype(np.float16)
B6 = R.standard_normal(6).astype(np.float16)
C4 = (R.standard_normal(4) * 0.5 + 1).astype(np.float16)
WL = (R.standard_normal((5, 7)) * 0.3).astype(np.float16)
GRID = (R.uniform(-1, 1, (2, 5, 4, 2))).astype(np.float16)


def _unpool(nd):
    def fn(L, F, x):
        y, i = getattr(F, f"max_pool{nd}d")(x, 2, return_indices=True)
        return getattr(F, f"max_unpool{nd}d")(y, i, 2)
    return fn


CASES = [
    ("conv1d", lambda L, F, x, w: F.conv1d(x, w[:, :, 0], padding=1), [X1, W2]),
    ("conv2d-bias", lambda L, F, x, w, b: F.conv2d(x, w, b, padding=1), [X2, W2, B6]),
    ("conv2d-s2-d2", lambda L, F, x, w: F.conv2d(x, w, stride=2, dilation=2), [X2, W2]),
    ("conv2d-depthwise", lambda L, F, x, w: F.conv2d(x, w, padding=1, groups=4), [X2, WD]),
    ("conv3d", lambda L, F, x, w: F.conv3d(x, w[:, :, None, :2, :2]), [X3, W2]),
    ("conv-transpose2d", lambda L, F, x, w: F.conv_transpose2d(x, w, stride=2), [X2, WT]),
    ("max-pool1d", lambda L, F, x: F.max_pool1d(x, 3, 2), [X1]),
    ("max-pool2d", lambda L, F, x: F.max_pool2d(x, 2), [X2]),
    ("max-pool3d", lambda L, F, x: F.max_pool3d(x, 2), [X3]),
    ("avg-pool1d", lambda L, F, x: F.avg_pool1d(x, 3, 2, 1), [X1]),
    ("avg-pool2d", lambda L, F, x: F.avg_pool2d(x, 3, 2, 1), [X2]),
    ("avg-pool3d", lambda L, F, x: F.avg_pool3d(x, 2), [X3]),  # torch: not for Half
    ("adaptive-avg2d", lambda L, F, x: F.adaptive_avg_pool2d(x, (3, 2)), [X2]),
    ("adaptive-avg2d-global", lambda L, F, x: F.adaptive_avg_pool2d(x, 1), [X2]),
    ("adaptive-max2d", lambda L, F, x: F.adaptive_max_pool2d(x, 3), [X2]),
    ("adaptive-max1d", lambda L, F, x: F.adaptive_max_pool1d(x, 4), [X1]),
    ("lp-pool2d", lambda L, F, x: F.lp_pool2d(x, 2, 2), [X2]),
    ("batch-norm-train", lambda L, F, x, w, b: F.batch_norm(x, None, None, w, b, True),
     [X2, C4, C4]),
    ("batch-norm-eval", lambda L, F, x, w: F.batch_norm(
        x, x.new_tensor(C4 * 0.1), x.new_tensor(C4), w, None, False), [X2, C4]),
    ("group-norm", lambda L, F, x: F.group_norm(x, 2), [X2]),
    ("layer-norm", lambda L, F, x: F.layer_norm(x, (7,)), [X2]),
    ("instance-norm", lambda L, F, x: F.instance_norm(x), [X2]),
    ("local-response-norm", lambda L, F, x: F.local_response_norm(x, 2), [X2]),  # torch: no
    ("normalize", lambda L, F, x: F.normalize(x, dim=1), [X2]),
    ("nearest2d", lambda L, F, x: F.interpolate(x, scale_factor=2), [X2]),
    ("nearest-exact2d", lambda L, F, x: F.interpolate(x, size=(5, 9), mode="nearest-exact"),
     [X2]),
    ("bilinear", lambda L, F, x: F.interpolate(x, size=(11, 5), mode="bilinear"), [X2]),
    ("bilinear-align", lambda L, F, x: F.interpolate(x, scale_factor=2, mode="bilinear",
                                                     align_corners=True), [X2]),
    ("bicubic", lambda L, F, x: F.interpolate(x, scale_factor=2, mode="bicubic"), [X2]),
    ("linear1d", lambda L, F, x: F.interpolate(x, scale_factor=2, mode="linear"), [X1]),
    ("trilinear", lambda L, F, x: F.interpolate(x, scale_factor=2, mode="trilinear"), [X3]),
    ("area", lambda L, F, x: F.interpolate(x, size=3, mode="area"), [X2]),
    ("max-unpool1d", _unpool(1), [X1[..., :8]]),
    ("max-unpool2d", _unpool(2), [X2[..., :6]]),
    ("max-unpool3d", _unpool(3), [X3[..., :4, :]]),
    ("pixel-shuffle", lambda L, F, x: F.pixel_shuffle(x, 2), [X2]),
    ("reflect-pad", lambda L, F, x: F.pad(x, (1, 2, 2, 1), mode="reflect"), [X2]),
    ("linear", lambda L, F, x, w: F.linear(x, w), [X2, WL]),
    ("hardswish", lambda L, F, x: F.hardswish(x * 3), [X2]),
    ("clamp", lambda L, F, x: x.clamp(-0.5, 0.7), [X2]),
    ("grid-sample", lambda L, F, x, g: F.grid_sample(x, g, align_corners=False), [X2, GRID]),
    ("cross-entropy", lambda L, F, x: F.cross_entropy(x[:, :, 0, 0], L.tensor([1, 3])), [X2]),
    ("gelu-softmax", lambda L, F, x: F.softmax(F.gelu(x), dim=-1), [X2]),
]


def _run(lib, Fm, fn, arrays, dtype):
    if lib is torch:
        def tin(a):
            if dtype == "bfloat16":  # torch cannot take an ml_dtypes array: widen exactly
                return torch.tensor(a.astype(np.float32)).bfloat16()
            return torch.tensor(a.astype(dtype))
        ins = [tin(a).requires_grad_() for a in arrays]
    else:
        ins = [convnp.tensor(a.astype(convnp.bfloat16 if dtype == "bfloat16" else dtype),
                             requires_grad=True) for a in arrays]
    y = fn(lib, Fm, *ins)
    g = np.linspace(-1, 1, y.numel()).reshape(tuple(y.shape)).astype(np.float16)
    if lib is torch:
        y.backward(torch.tensor(g.astype(np.float32)).to(y.dtype))
    else:
        y.backward(convnp.tensor(g.astype(y.dtype)))

    def arr(t):
        if isinstance(t, convnp.Tensor):
            return t.array
        t = t.detach()
        return (t.float() if t.dtype == torch.bfloat16 else t).numpy()
    return y.dtype, [arr(y)] + [arr(i.grad) for i in ins]


HALF = ["float16", "bfloat16"]
# bfloat16 keeps 8 significant bits (float16: 11): its rounding bar is 8 times wider
_ROUNDING = {"float16": 2e-3, "bfloat16": 1.6e-2}


@pytest.mark.parametrize("half", HALF)
@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_half_matches_torch(case, half):
    _, fn, arrays = case
    if half == "bfloat16":  # inputs representable in both 16-bit formats
        arrays = [a.astype(convnp.bfloat16).astype(np.float16) for a in arrays]
    want = convnp.float16 if half == "float16" else convnp.bfloat16
    dtype, got = _run(convnp, F, fn, arrays, half)
    assert dtype == want and all(g.dtype == want for g in got)
    _, ref = _run(torch, TF, fn, arrays, np.float64)
    try:
        _, t16 = _run(torch, TF, fn, arrays, half)
    except (NotImplementedError, RuntimeError):
        t16 = None  # torch's CPU has no kernel here for this dtype: rounding is the bar
    for k, (c, r) in enumerate(zip(got, ref)):
        scale = max(np.abs(r).max(), 1e-3)
        err = np.abs(c.astype(np.float64) - r).max()
        bar = _ROUNDING[half] * scale  # a few 16-bit roundings
        if t16 is not None:
            bar = max(bar, 1.5 * np.abs(t16[k].astype(np.float64) - r).max())
        assert err <= bar, f"output/grad {k}: error {err:.3g} > {bar:.3g} (scale {scale:.3g})"


def test_float16_kernel_arguments_come_back_unchanged():
    # the float32 round trip writes inputs back: they must be bit-identical afterwards
    x = convnp.tensor(X2.copy())
    before = x.array.copy()
    F.max_pool2d(x, 2)
    F.interpolate(x, scale_factor=2, mode="bilinear")
    assert np.array_equal(x.array.view(np.uint16), before.view(np.uint16))


def test_float16_nn_modules_train_step():
    convnp.manual_seed(0)
    net = convnp.nn.Sequential(convnp.nn.Conv2d(4, 4, 3, padding=1, groups=4),
                               convnp.nn.BatchNorm2d(4), convnp.nn.ReLU(),
                               convnp.nn.MaxPool2d(2), convnp.nn.Upsample(scale_factor=2),
                               convnp.nn.AdaptiveAvgPool2d(1)).half()
    x = convnp.tensor(X2)
    y = net(x)
    y.sum().backward()
    assert y.dtype == np.float16
    assert all(p.grad.dtype == np.float16 and np.isfinite(p.grad.array).all()
               for p in net.parameters())


def test_bfloat16_nn_modules_train_step():
    convnp.manual_seed(0)
    net = convnp.nn.Sequential(convnp.nn.Conv2d(4, 4, 3, padding=1),
                               convnp.nn.BatchNorm2d(4), convnp.nn.ReLU(),
                               convnp.nn.MaxPool2d(2), convnp.nn.Upsample(scale_factor=2),
                               convnp.nn.AdaptiveAvgPool2d(1), convnp.nn.Flatten(),
                               convnp.nn.Linear(4, 3)).bfloat16()
    opt = convnp.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    x = convnp.tensor(X2).bfloat16()
    loss = F.cross_entropy(net(x), convnp.tensor([0, 2]))
    loss.backward()
    opt.step()
    assert loss.dtype == convnp.bfloat16
    assert all(p.dtype == convnp.bfloat16 and p.grad.dtype == convnp.bfloat16
               and np.isfinite(p.grad.array.astype(np.float32)).all() for p in net.parameters())


def test_bfloat16_kernel_arguments_come_back_unchanged():
    x = convnp.tensor(X2).bfloat16()
    before = x.array.copy()
    F.max_pool2d(x, 2)
    F.interpolate(x, scale_factor=2, mode="bilinear")
    assert np.array_equal(x.array.view(np.uint16), before.view(np.uint16))


def test_bfloat16_creation_cast_repr():
    bf = convnp.bfloat16
    assert bf == np.dtype("bfloat16") and str(bf) == "bfloat16"
    t = convnp.tensor([1.0, 2.5, 1 / 3], dtype=bf)
    assert t.dtype == bf and t.is_floating_point()
    # rounding to 8 significant bits, as torch's
    want = torch.tensor([1.0, 2.5, 1 / 3], dtype=torch.bfloat16).float().numpy()
    np.testing.assert_array_equal(t.float().array, want)
    assert repr(t) == "tensor([1.0000, 2.5000, 0.3340], dtype=convnp.bfloat16)"
    assert repr(t) == repr(torch.tensor([1.0, 2.5, 1 / 3], dtype=torch.bfloat16)).replace(
        "torch", "convnp")
    for make in (convnp.zeros, convnp.ones, convnp.empty, convnp.randn):
        assert make(2, 3, dtype=bf).dtype == bf
    assert convnp.full((2,), 1.5, dtype="bfloat16").dtype == bf
    x = convnp.randn(3, requires_grad=True)
    y = x.to(bf)
    assert y.dtype == bf and x.bfloat16().dtype == bf and x.to(dtype=bf).dtype == bf
    (y.float() * 2).sum().backward()
    assert x.grad.dtype == np.float32 and np.array_equal(x.grad.array, np.full(3, 2, np.float32))
    # a Python scalar takes the tensor's dtype; an integer tensor promotes to bfloat16
    assert (y * 0.5).dtype == bf and (y + 1).dtype == bf and (y ** 2).dtype == bf
    assert (convnp.arange(3) * convnp.ones(3, dtype=bf)).dtype == bf
    # as torch: bfloat16 with float16 or float32 promotes to float32
    assert (y + convnp.ones(3, dtype=convnp.float16)).dtype == np.float32
    assert convnp.promote_types(bf, convnp.float16) == np.float32 == (y + x).dtype
    assert convnp.ones(2, dtype=bf, requires_grad=True).requires_grad


def test_bfloat16_loads_without_importing_ml_dtypes():
    import subprocess
    import sys

    code = ("import sys, convnp; assert 'ml_dtypes' not in sys.modules; "
            "convnp.bfloat16; assert 'ml_dtypes' in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)
