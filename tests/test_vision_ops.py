"""convnp.vision.ops against torch compositions written from torchvision's definitions and
hand-computed box cases."""

import numpy as np
import pytest
import torch
import torch.nn as tnn

import convnp
import convnp.nn as nn
from convnp.vision import ops

from .oracle import compare_module


def test_conv2d_norm_activation_matches_torch():
    torch.manual_seed(0)
    c = ops.Conv2dNormActivation(3, 8, kernel_size=3, stride=2, activation_layer=nn.ReLU6)
    t = tnn.Sequential(tnn.Conv2d(3, 8, 3, 2, 1, bias=False), tnn.BatchNorm2d(8), tnn.ReLU6())
    assert list(c.state_dict()) == list(t.state_dict()) and c.out_channels == 8
    x = np.random.default_rng(0).normal(size=(2, 3, 9, 8))
    compare_module(c, t, x, dtype=np.float64, train=True)
    # no norm layer: the conv gets a bias; dilation keeps 'same' padding
    c2 = ops.Conv2dNormActivation(4, 4, 3, norm_layer=None, dilation=2)
    assert c2[0].bias is not None and c2[0].padding == (2, 2) and len(c2) == 2
    assert c2(convnp.randn(1, 4, 7, 7)).shape == (1, 4, 7, 7)
    c3 = ops.Conv3dNormActivation(2, 3, kernel_size=(1, 3, 3))
    assert c3[0].padding == (0, 1, 1)


def test_squeeze_excitation_matches_torch():
    torch.manual_seed(0)

    class TSE(tnn.Module):
        def __init__(self):
            super().__init__()
            self.avgpool = tnn.AdaptiveAvgPool2d(1)
            self.fc1 = tnn.Conv2d(6, 2, 1)
            self.fc2 = tnn.Conv2d(2, 6, 1)
            self.activation = tnn.ReLU()
            self.scale_activation = tnn.Sigmoid()

        def forward(self, x):
            s = self.fc2(self.activation(self.fc1(self.avgpool(x))))
            return self.scale_activation(s) * x

    c, t = ops.SqueezeExcitation(6, 2), TSE()
    assert list(c.state_dict()) == list(t.state_dict())
    compare_module(c, t, np.random.default_rng(1).normal(size=(2, 6, 5, 4)), dtype=np.float64)


def test_mlp_matches_torch():
    torch.manual_seed(0)
    c = ops.MLP(5, [7, 3], norm_layer=nn.LayerNorm)
    t = tnn.Sequential(tnn.Linear(5, 7), tnn.LayerNorm(7), tnn.ReLU(), tnn.Dropout(0.0),
                       tnn.Linear(7, 3), tnn.Dropout(0.0))
    assert list(c.state_dict()) == list(t.state_dict())
    compare_module(c, t, np.random.default_rng(2).normal(size=(4, 5)), dtype=np.float64)


def test_stochastic_depth():
    x = convnp.ones(1000, 2, 3, requires_grad=True)
    convnp.manual_seed(0)
    y = ops.stochastic_depth(x, 0.25, "row")
    a = y.numpy()[:, 0, 0]
    assert set(np.unique(a).tolist()) <= {0.0, float(np.float32(1) / np.float32(0.75))}
    assert 0.2 < (a == 0).mean() < 0.3
    assert (y.numpy() == y.numpy()[:, :1, :1]).all()  # whole rows dropped together
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), y.numpy())  # d(x * noise)/dx = noise
    b = ops.stochastic_depth(x, 0.5, "batch").numpy()
    assert len(np.unique(b)) == 1
    assert ops.stochastic_depth(x, 0.9, "row", training=False) is x
    m = ops.StochasticDepth(0.3, "row").eval()
    assert m(x) is x and "p=0.3" in repr(m)
    convnp.manual_seed(1)
    assert (ops.stochastic_depth(x, 1.0, "row").numpy() == 0).all()
    with pytest.raises(ValueError, match="between 0 and 1"):
        ops.stochastic_depth(x, 1.5, "row")
    with pytest.raises(ValueError, match="'batch' or 'row'"):
        ops.stochastic_depth(x, 0.5, "col")


def _boxes(n, seed):
    r = np.random.default_rng(seed)
    xy = r.uniform(0, 10, (n, 2))
    wh = r.uniform(1, 5, (n, 2))
    return np.concatenate([xy, xy + wh], 1)


def test_box_iou_and_area_match_torch_with_gradients():
    b1, b2 = _boxes(4, 0), _boxes(5, 1)
    for dtype in (np.float32, np.float64):
        c1, c2 = (convnp.tensor(b.astype(dtype), requires_grad=True) for b in (b1, b2))
        t1, t2 = (torch.tensor(b.astype(dtype), requires_grad=True) for b in (b1, b2))
        ci = ops.box_iou(c1, c2)
        # torchvision's formula, in torch
        lt = torch.max(t1[:, None, :2], t2[None, :, :2])
        rb = torch.min(t1[:, None, 2:], t2[None, :, 2:])
        wh = (rb - lt).clamp(min=0)
        inter = wh[..., 0] * wh[..., 1]
        a1 = (t1[:, 2] - t1[:, 0]) * (t1[:, 3] - t1[:, 1])
        a2 = (t2[:, 2] - t2[:, 0]) * (t2[:, 3] - t2[:, 1])
        ti = inter / (a1[:, None] + a2[None] - inter)
        tol = dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(ci.numpy(), ti.detach().numpy(), **tol)
        g = np.random.default_rng(3).normal(size=(4, 5)).astype(dtype)
        ci.backward(convnp.tensor(g))
        ti.backward(torch.tensor(g))
        np.testing.assert_allclose(c1.grad.numpy(), t1.grad.numpy(), **tol)
        np.testing.assert_allclose(c2.grad.numpy(), t2.grad.numpy(), **tol)
    # golden: two unit-offset 2x2 squares overlap in 1 of 7
    sq = convnp.tensor([[0.0, 0.0, 2.0, 2.0], [1.0, 1.0, 3.0, 3.0]])
    np.testing.assert_allclose(ops.box_iou(sq, sq).numpy(), [[1, 1 / 7], [1 / 7, 1]], rtol=1e-6)
    np.testing.assert_array_equal(ops.box_area(sq).numpy(), [4, 4])
    with pytest.raises(ValueError, match=r"\(N, 4\)"):
        ops.box_area(convnp.zeros(3, 5))


def _ref_nms(b, s, thr):
    order = list(np.argsort(-s, kind="stable"))
    keep = []
    while order:
        i = order.pop(0)
        keep.append(i)
        order = [j for j in order
                 if not ops._iou_np(b[i], b[j:j + 1])[0] > thr]
    return keep


def test_nms_golden_and_reference():
    boxes = convnp.tensor([[0.0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30], [0, 0, 10, 9]])
    scores = convnp.tensor([0.9, 0.8, 0.7, 0.95])
    keep = ops.nms(boxes, scores, 0.5)
    assert keep.dtype == np.int64 and keep.tolist() == [3, 2]  # 0 and 1 overlap 3 (IoU > 0.5)
    assert ops.nms(boxes, scores, 0.95).tolist() == [3, 0, 1, 2]
    b, s = _boxes(40, 5), np.random.default_rng(6).random(40)
    for thr in (0.1, 0.3, 0.7):
        got = ops.nms(convnp.tensor(b), convnp.tensor(s), thr).tolist()
        assert got == _ref_nms(b, s, thr)
    # batched: categories never suppress each other
    kept = ops.batched_nms(boxes, scores, convnp.tensor([0, 1, 0, 0]), 0.5).tolist()
    assert sorted(kept) == [1, 2, 3]
    with pytest.raises(ValueError, match="scores"):
        ops.nms(boxes, convnp.tensor([1.0, 2.0]), 0.5)


def test_box_convert_clip_and_small():
    xyxy = convnp.tensor([[1.0, 2.0, 5.0, 8.0]])
    np.testing.assert_allclose(ops.box_convert(xyxy, "xyxy", "xywh").numpy(), [[1, 2, 4, 6]])
    np.testing.assert_allclose(ops.box_convert(xyxy, "xyxy", "cxcywh").numpy(), [[3, 5, 4, 6]])
    back = ops.box_convert(ops.box_convert(xyxy, "xyxy", "cxcywh"), "cxcywh", "xywh")
    np.testing.assert_allclose(back.numpy(), [[1, 2, 4, 6]])
    np.testing.assert_allclose(
        ops.clip_boxes_to_image(convnp.tensor([[-1.0, 2.0, 15.0, 30.0]]), (20, 10)).numpy(),
        [[0, 2, 10, 20]])
    assert ops.remove_small_boxes(convnp.tensor([[0.0, 0, 1, 5], [0, 0, 3, 3]]), 2).tolist() == [1]
    with pytest.raises(ValueError, match="format"):
        ops.box_convert(xyxy, "xyxy", "yxyx")


def test_unsupported_torchvision_names_raise_not_implemented():
    from convnp.vision import datasets, transforms

    with pytest.raises(NotImplementedError, match="torchvision.datasets.LSUN.*ImageFolder"):
        _ = datasets.LSUN
    with pytest.raises(NotImplementedError, match="torchvision.models.detection"):
        from convnp.vision.models import detection  # noqa: F401
    with pytest.raises(NotImplementedError, match="roi_align"):
        _ = ops.roi_align
    with pytest.raises(NotImplementedError, match="AutoAugment.*Lambda"):
        _ = transforms.AutoAugment
    with pytest.raises(AttributeError, match="no attribute 'Nonsense'"):
        _ = ops.Nonsense
