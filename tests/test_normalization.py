"""Normalization: golden cases, torch parity (forward, input/weight/bias gradients, running
stats), both batch-norm paths (Numba and NumPy) incl. channels-last inputs, modules, errors."""

from __future__ import annotations

import numpy as np
import pytest

import convnp
import convnp.nn as nn
import convnp.nn.functional as F
from convnp.autograd import gradcheck
from tests.oracle import rand


def channels_last(x: np.ndarray) -> np.ndarray:
    """Same logical (N, C, *) array, channels fastest in memory."""
    perm = (0,) + tuple(range(2, x.ndim)) + (1,)
    return np.ascontiguousarray(x.transpose(perm)).transpose(np.argsort(perm))


# ------------------------------------------------------------------------- golden (no torch)
def test_batch_norm_golden(path):
    # channel 0: [1, 3] -> mean 2, biased var 1; channel 1: [0, 4] -> mean 2, var 4
    x = convnp.tensor([[1.0, 0.0], [3.0, 4.0]], dtype=convnp.float64)
    rm, rv = convnp.zeros(2, dtype=convnp.float64), convnp.ones(2, dtype=convnp.float64)
    y = F.batch_norm(x, rm, rv, training=True, eps=0.0)
    np.testing.assert_allclose(y.array, [[-1, -1], [1, 1]], atol=1e-12)
    np.testing.assert_allclose(rm.array, [0.2, 0.2])
    # unbiased variances 2 and 8: 0.9 * 1 + 0.1 * v
    np.testing.assert_allclose(rv.array, [1.1, 1.7])
    ye = F.batch_norm(x, rm, rv, training=False, eps=0.0)
    np.testing.assert_allclose(ye.array, (x.array - 0.2) / np.sqrt([1.1, 1.7]))


def test_layer_group_golden():
    x = convnp.tensor([[1.0, 3.0, 5.0, 7.0]])
    np.testing.assert_allclose(F.layer_norm(x, (4,), eps=0.0).array,
                               [[-3, -1, 1, 3] / np.sqrt(5)], rtol=1e-6)
    g = F.group_norm(x.reshape(1, 4, 1), 2, eps=0.0).array.ravel()
    np.testing.assert_allclose(g, [-1, 1, -1, 1], rtol=1e-6)
    np.testing.assert_allclose(F.normalize(convnp.tensor([[3.0, 4.0]])).array, [[0.6, 0.8]],
                               rtol=1e-6)


def test_batchnorm_module_golden_cumulative_average():
    bn = nn.BatchNorm1d(1, momentum=None)
    for v in ([0.0, 2.0], [4.0, 6.0]):
        bn(convnp.tensor(v).reshape(2, 1))
    assert int(bn.num_batches_tracked.item()) == 2
    assert bn.num_batches_tracked.dtype == np.int64
    np.testing.assert_allclose(bn.running_mean.array, [3.0])  # average of batch means 1 and 5
    np.testing.assert_allclose(bn.running_var.array, [2.0])   # average of unbiased vars 2 and 2


GRADCHECK = [
    ("batch_norm-train", lambda x, w, b: F.batch_norm(x, None, None, w, b, True), (3, 2, 4)),
    ("batch_norm-eval", lambda x, w, b: F.batch_norm(
        x, convnp.tensor([0.1, -0.2], dtype=convnp.float64),
        convnp.tensor([0.5, 2.0], dtype=convnp.float64), w, b, False), (3, 2, 4)),
    ("group_norm", lambda x, w, b: F.group_norm(x, 2, w, b), (2, 4, 3)),
    ("instance_norm", lambda x, w, b: F.instance_norm(x, weight=w, bias=b), (2, 2, 5)),
]


@pytest.mark.parametrize("name,fn,shape", GRADCHECK, ids=[c[0] for c in GRADCHECK])
def test_gradcheck(name, fn, shape, path):
    c = shape[1]
    x = convnp.tensor(rand(*shape), requires_grad=True)
    w = convnp.tensor(rand(c, seed=1) + 1.5, requires_grad=True)
    b = convnp.tensor(rand(c, seed=2), requires_grad=True)
    assert gradcheck(fn, [x, w, b])


def test_gradcheck_layer_lrn_normalize():
    x = convnp.tensor(rand(2, 3, 4), requires_grad=True)
    w = convnp.tensor(rand(3, 4, seed=1) + 1.5, requires_grad=True)
    b = convnp.tensor(rand(3, 4, seed=2), requires_grad=True)
    assert gradcheck(lambda a, w, b: F.layer_norm(a, (3, 4), w, b), [x, w, b])
    x5 = convnp.tensor(rand(2, 5, 3), requires_grad=True)
    assert gradcheck(lambda a: F.local_response_norm(a, 3, alpha=0.5, beta=0.6, k=1.5), [x5])
    for p in (2.0, 1.0, 3.0):
        assert gradcheck(lambda a, p=p: F.normalize(a, p=p, dim=1), [x])


# ------------------------------------------------------------------------- errors
def test_errors():
    x = convnp.randn(1, 3)
    with pytest.raises(ValueError, match="Expected more than 1 value per channel when training"):
        F.batch_norm(x, None, None, training=True)
    with pytest.raises(ValueError, match=r"expected 4D input \(got 3D input\)"):
        nn.BatchNorm2d(3)(convnp.randn(2, 3, 4))
    with pytest.raises(ValueError, match=r"expected 2D or 3D input \(got 4D input\)"):
        nn.BatchNorm1d(3)(convnp.randn(2, 3, 4, 4))
    with pytest.raises(ValueError, match=r"expected 5D input"):
        nn.BatchNorm3d(3)(convnp.randn(2, 3, 4, 4))
    with pytest.raises(ValueError, match=r"expected 3D or 4D input \(got 2D input\)"):
        nn.InstanceNorm2d(3)(convnp.randn(2, 3))
    with pytest.raises(RuntimeError, match="running_mean.*3 elements"):
        F.batch_norm(convnp.randn(2, 3), convnp.zeros(4), convnp.ones(3))
    with pytest.raises(ValueError, match="divisible by num_groups"):
        nn.GroupNorm(3, 4)
    with pytest.raises(RuntimeError, match="divisible by num_groups"):
        F.group_norm(convnp.randn(2, 4, 3), 3)
    with pytest.raises(RuntimeError, match="normalized_shape"):
        F.layer_norm(convnp.randn(2, 4), (3,))
    with pytest.raises(ValueError, match="more than 1 spatial element"):
        F.instance_norm(convnp.randn(2, 3, 1))
    with pytest.raises(ValueError, match="3D or higher"):
        F.local_response_norm(convnp.randn(2, 3), 2)
    with pytest.raises(ValueError, match="num_features"):
        nn.InstanceNorm1d(3, affine=True)(convnp.randn(2, 4, 5))
    with pytest.raises(ValueError, match="expected 3 channels"):
        nn.BatchNorm2d(3)(convnp.randn(2, 4, 3, 3))


# ------------------------------------------------------------------------- torch parity
try:
    import torch
except ImportError:  # golden tests above still run without torch
    torch = None

if torch is not None:
    TF = torch.nn.functional
    from tests.oracle import compare

    BN_SHAPES = [((4, 3), "2d-N4"), ((1, 3, 7), "3d-N1"), ((3, 3, 5), "3d"), ((2, 3, 4, 5), "4d"),
                 ((1, 3, 4, 6), "4d-N1"), ((2, 3, 2, 3, 4), "5d")]


    @pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
    @pytest.mark.parametrize("layout", ["contig", "channels_last"])
    @pytest.mark.parametrize("shape", [s for s, _ in BN_SHAPES], ids=[i for _, i in BN_SHAPES])
    def test_batch_norm_train_parity(shape, layout, dtype, path):
        x = rand(*shape) * 3 + 1
        if layout == "channels_last":
            if len(shape) == 2:
                pytest.skip("no spatial axes")
            x = channels_last(x)
        w, b = rand(3, seed=1) + 1.2, rand(3, seed=2)
        rm = [convnp.tensor(np.zeros(3, dtype)), convnp.tensor(np.ones(3, dtype))]
        trm = [torch.zeros(3, dtype=torch.from_numpy(np.zeros(0, dtype)).dtype),
               torch.ones(3, dtype=torch.from_numpy(np.zeros(0, dtype)).dtype)]

        def cfn(x, w, b):
            xc = convnp.Tensor._wrap(channels_last(x.array)) if layout == "channels_last" else x
            if xc is not x:  # keep the leaf: route the layout change through an identity op
                xc = x * 1.0
                xc.array = channels_last(xc.array)
            return F.batch_norm(xc, rm[0], rm[1], w, b, training=True, momentum=0.3, eps=1e-3)

        out = compare(cfn, lambda x, w, b: TF.batch_norm(x, trm[0], trm[1], w, b, True, 0.3, 1e-3),
                      x, w, b, dtype=dtype)
        tol = dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-12)
        np.testing.assert_allclose(rm[0].array, trm[0].numpy(), **tol)
        np.testing.assert_allclose(rm[1].array, trm[1].numpy(), **tol)
        assert rm[0].dtype == dtype
        if layout == "channels_last":
            assert out.array.strides[1] == out.array.itemsize  # output keeps channels-last layout


    @pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
    @pytest.mark.parametrize("affine", [True, False], ids=["affine", "no-affine"])
    def test_batch_norm_eval_parity(affine, dtype):
        x = rand(2, 3, 4, 5)
        rm, rv = rand(3, seed=4), rand(3, seed=5) + 1.5
        args = (rand(3, seed=1) + 1, rand(3, seed=2)) if affine else ()

        def cfn(x, *wb):
            return F.batch_norm(x, convnp.tensor(rm.astype(dtype)), convnp.tensor(rv.astype(dtype)),
                                *wb, training=False)

        def tfn(x, *wb):
            return TF.batch_norm(x, torch.tensor(rm.astype(dtype)), torch.tensor(rv.astype(dtype)),
                                 *wb, training=False)

        compare(cfn, tfn, x, *args, dtype=dtype)


    def test_batch_norm_float32_large_batch(path):
        x = (rand(8, 16, 20, 20) * 2 + 5).astype(np.float32)
        compare(lambda x: F.batch_norm(x, None, None, training=True),
                lambda x: TF.batch_norm(x, None, None, training=True), x, dtype=np.float32,
                rtol=1e-4, atol=1e-4)


    @pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
    @pytest.mark.parametrize("shape,groups,affine", [
        ((2, 4, 5), 2, True), ((1, 6, 3, 4), 3, True), ((3, 4, 2, 2, 3), 1, False),
        ((2, 4), 4, True)], ids=["3d-g2", "4d-g3-N1", "5d-g1-noaffine", "2d-g4"])
    def test_group_norm_parity(shape, groups, affine, dtype):
        c = shape[1]
        args = (rand(c, seed=1) + 1, rand(c, seed=2)) if affine else ()
        compare(lambda x, *wb: F.group_norm(x, groups, *wb, eps=1e-4),
                lambda x, *wb: TF.group_norm(x, groups, *wb, eps=1e-4), rand(*shape), *args,
                dtype=dtype)


    @pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
    @pytest.mark.parametrize("shape,ns,affine", [
        ((2, 5), (5,), True), ((2, 3, 4), (3, 4), True), ((3, 4, 6), (6,), False)],
        ids=["last1", "last2", "no-affine"])
    def test_layer_norm_parity(shape, ns, affine, dtype):
        args = (rand(*ns, seed=1) + 1, rand(*ns, seed=2)) if affine else ()
        compare(lambda x, *wb: F.layer_norm(x, ns, *wb),
                lambda x, *wb: TF.layer_norm(x, ns, *wb), rand(*shape), *args, dtype=dtype)


    @pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
    @pytest.mark.parametrize("shape", [(2, 3, 5), (1, 3, 4, 4), (2, 3, 2, 2, 3)],
                             ids=["1d", "2d-N1", "3d"])
    def test_instance_norm_parity(shape, dtype):
        w, b = rand(3, seed=1) + 1, rand(3, seed=2)
        crm = [convnp.tensor(np.zeros(3, dtype)), convnp.tensor(np.ones(3, dtype))]
        trm = [torch.tensor(np.zeros(3, dtype)), torch.tensor(np.ones(3, dtype))]
        compare(lambda x, w, b: F.instance_norm(x, crm[0], crm[1], w, b, momentum=0.2),
                lambda x, w, b: TF.instance_norm(x, trm[0], trm[1], w, b, momentum=0.2),
                rand(*shape), w, b, dtype=dtype)
        tol = dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-12)
        np.testing.assert_allclose(crm[0].array, trm[0].numpy(), **tol)
        np.testing.assert_allclose(crm[1].array, trm[1].numpy(), **tol)
        compare(lambda x: F.instance_norm(x, crm[0], crm[1], use_input_stats=False),
                lambda x: TF.instance_norm(x, trm[0], trm[1], use_input_stats=False),
                rand(*shape), dtype=dtype)


    @pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
    @pytest.mark.parametrize("shape,size,alpha,beta,k", [
        ((2, 6, 5), 3, 1e-4, 0.75, 1.0), ((1, 5, 3, 4), 2, 0.5, 0.6, 2.0),
        ((2, 4, 2, 2, 3), 5, 0.3, 1.0, 1.0)], ids=["1d-s3", "2d-s2-even", "3d-s5"])
    def test_lrn_parity(shape, size, alpha, beta, k, dtype):
        compare(lambda x: F.local_response_norm(x, size, alpha, beta, k),
                lambda x: TF.local_response_norm(x, size, alpha, beta, k), rand(*shape) * 2,
                dtype=dtype)


    @pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
    @pytest.mark.parametrize("p,dim", [(2.0, 1), (1.0, -1), (3.0, 0), (float("inf"), 1)],
                             ids=["p2", "p1-last", "p3-dim0", "pinf"])
    def test_normalize_parity(p, dim, dtype):
        compare(lambda x: F.normalize(x, p, dim), lambda x: TF.normalize(x, p, dim),
                rand(3, 4, 2), dtype=dtype)


    # ------------------------------------------------------------------------- modules
    def _copy_params(cm, tm):
        for name, tp in tm.named_parameters():
            tp.data.uniform_(0.5, 1.5)
            getattr(cm, name).array[...] = tp.detach().numpy()


    BN_MODULES = [
        ("bn1d", "BatchNorm1d", (3,), {}, (4, 3, 5)),
        ("bn2d", "BatchNorm2d", (3,), dict(momentum=0.2, eps=1e-3), (2, 3, 4, 4)),
        ("bn3d", "BatchNorm3d", (3,), {}, (2, 3, 2, 3, 2)),
        ("bn2d-mom-None", "BatchNorm2d", (3,), dict(momentum=None), (2, 3, 3, 4)),
        ("bn2d-no-track", "BatchNorm2d", (3,), dict(track_running_stats=False), (2, 3, 3, 3)),
        ("bn1d-no-affine", "BatchNorm1d", (3,), dict(affine=False), (5, 3)),
        ("bn2d-no-bias", "BatchNorm2d", (3,), dict(bias=False), (2, 3, 3, 3)),
        ("in1d", "InstanceNorm1d", (3,), {}, (2, 3, 6)),
        ("in2d-affine-track", "InstanceNorm2d", (3,), dict(affine=True, track_running_stats=True),
         (2, 3, 4, 4)),
        ("in2d-unbatched", "InstanceNorm2d", (3,), dict(affine=True), (3, 4, 4)),
        ("in3d", "InstanceNorm3d", (3,), dict(track_running_stats=True), (2, 3, 2, 2, 3)),
        ("gn", "GroupNorm", (2, 4), {}, (2, 4, 3, 3)),
        ("gn-no-affine", "GroupNorm", (2, 4), dict(affine=False), (2, 4, 5)),
        ("ln", "LayerNorm", ((3, 4),), {}, (2, 5, 3, 4)),
        ("ln-no-bias", "LayerNorm", (4,), dict(bias=False), (2, 4)),
        ("ln-no-affine", "LayerNorm", (4,), dict(elementwise_affine=False), (2, 4)),
        ("lrn", "LocalResponseNorm", (3,), dict(alpha=0.1), (2, 5, 4)),
    ]


    @pytest.mark.parametrize("mid,cls,args,kw,shape", BN_MODULES, ids=[c[0] for c in BN_MODULES])
    def test_module_parity(mid, cls, args, kw, shape):
        cm = getattr(nn, cls)(*args, **kw).double()
        tm = getattr(torch.nn, cls)(*args, **kw).double()
        assert repr(cm) == repr(tm)
        assert list(cm.state_dict()) == list(tm.state_dict())
        _copy_params(cm, tm)
        for step in range(3):  # several training steps: running stats follow torch's
            x = rand(*shape, seed=step) * (step + 1) + step
            compare(cm, tm, x, dtype=np.float64)
            for name, tp in tm.named_parameters():
                np.testing.assert_allclose(getattr(cm, name).grad.array, tp.grad.numpy(), rtol=1e-9,
                                           atol=1e-11, err_msg=f"{name}.grad")
        for k, v in tm.state_dict().items():
            np.testing.assert_allclose(cm.state_dict()[k].array, v.numpy(), rtol=1e-12, err_msg=k)
        cm.eval()
        tm.eval()
        compare(cm, tm, rand(*shape, seed=9), dtype=np.float64)
        # a torch state_dict loads into the convnp module
        cm2 = getattr(nn, cls)(*args, **kw).double()
        cm2.load_state_dict(tm.state_dict())
        cm2.eval()
        np.testing.assert_allclose(cm2(convnp.tensor(rand(*shape, seed=9))).array,
                                   tm(torch.tensor(rand(*shape, seed=9))).detach().numpy(),
                                   rtol=1e-10, atol=1e-12)
