"""Max-unpooling: parity with torch (output and gradient) on both paths, the remembered pooled
size (switch variables), output_size validation and error paths."""

import numpy as np
import pytest

import convnp
import convnp.nn as nn
import convnp.nn.functional as F
from convnp.autograd import gradcheck
from tests.oracle import compare, distinct

torch = pytest.importorskip("torch")
TF = torch.nn.functional

DTYPES = [pytest.param(np.float32, id="f32"), pytest.param(np.float64, id="f64")]


# id, n, pooled-input shape, pool kwargs, explicit output_size for torch (None: default)
CASES = [
    ("1d-k2", 1, (2, 3, 8), dict(kernel_size=2), None),
    ("1d-k3-s2-p1-odd", 1, (1, 2, 9), dict(kernel_size=3, stride=2, padding=1), (9,)),
    ("2d-k2", 2, (2, 3, 6, 8), dict(kernel_size=2), None),
    ("2d-k2-odd-5x7", 2, (1, 2, 5, 7), dict(kernel_size=2), (5, 7)),
    ("2d-k3-s2-p1", 2, (1, 2, 7, 9), dict(kernel_size=3, stride=2, padding=1), (7, 9)),
    ("2d-overlap-k3-s1", 2, (1, 1, 5, 6), dict(kernel_size=3, stride=1), None),
    ("2d-unbatched", 2, (3, 6, 6), dict(kernel_size=2), None),
    ("3d-k2", 3, (1, 2, 4, 6, 5), dict(kernel_size=2), (4, 6, 5)),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_max_unpool_matches_torch(case, dtype, path):
    _, n, shape, kw, osize = case
    x = distinct(*shape)
    y, idx = getattr(F, f"max_pool{n}d")(convnp.tensor(x.astype(dtype)), return_indices=True,
                                        **kw)
    ukw = {k: v for k, v in kw.items()}
    # convnp restores the remembered size by itself; torch needs output_size to do the same
    out = compare(lambda v, i: getattr(F, f"max_unpool{n}d")(v, idx, **ukw),
                  lambda v, i: getattr(TF, f"max_unpool{n}d")(v, i, output_size=osize, **ukw),
                  y.array.astype(np.float64), idx.array, dtype=dtype)
    assert out.shape[-n:] == shape[-n:]
    # an explicit output_size gives the same result
    again = getattr(F, f"max_unpool{n}d")(y, idx, output_size=shape[-n:], **ukw)
    np.testing.assert_array_equal(again.array, out.array)


def test_plain_indices_use_torch_default_size():
    y = convnp.tensor(distinct(1, 1, 2, 2))
    idx = convnp.tensor(np.array([[[[0, 3], [9, 15]]]]))  # no remembered size
    out = compare(lambda v: F.max_unpool2d(v, idx, 2), lambda v: TF.max_unpool2d(
        v, torch.tensor(idx.array), 2), y.array)
    assert out.shape == (1, 1, 4, 4)


def test_remembered_size_survives_detach_clone_and_cast():
    x = convnp.tensor(distinct(1, 1, 5, 7))
    _, idx = F.max_pool2d(x, 2, return_indices=True)
    y = F.max_pool2d(x, 2)
    for copy in (idx.detach(), idx.clone(), idx.to(convnp.int32).to(convnp.int64)):
        assert copy.array.pooled_input_shape == (5, 7)
        assert F.max_unpool2d(y, copy, 2).shape == (1, 1, 5, 7)
    assert getattr(x.detach().array, "pooled_input_shape", None) is None


def test_remembered_size_lives_on_the_indices_not_on_tensor(monkeypatch):
    """The size is carried by the indices array (PoolIndices), so it survives detach, clone,
    casts and .data without any metadata on Tensor; arithmetic on indices gives plain arrays."""
    from convnp.ops.pooling import PoolIndices

    monkeypatch.setattr(convnp.Tensor, "_CARRIED", (), raising=False)
    x = convnp.tensor(distinct(1, 1, 5, 7))
    y, idx = F.max_pool2d(x, 2, return_indices=True)
    assert isinstance(idx.array, PoolIndices)
    for copy in (idx.detach(), idx.clone(), idx.to(convnp.int32), idx.data, idx.reshape(1, 2, 3)):
        assert copy.array.pooled_input_shape == (5, 7)
    assert F.max_unpool2d(y, idx.to(convnp.int32), 2).shape == (1, 1, 5, 7)
    assert type((idx + 1).array) is np.ndarray and type((idx == 0).array) is np.ndarray
    assert not isinstance(idx.array.max(), PoolIndices)
    _, aidx = F.adaptive_max_pool2d(x, (2, 3), return_indices=True)
    assert aidx.array.pooled_input_shape == (5, 7)


def test_gradcheck_unpool(path):
    x = convnp.tensor(distinct(1, 2, 5, 5), dtype=np.float64)
    y, idx = F.max_pool2d(x, 2, return_indices=True)
    v = convnp.tensor(y.array.copy(), requires_grad=True)
    assert gradcheck(lambda t: F.max_unpool2d(t, idx, 2), [v])


def test_module_and_repr():
    for n in (1, 2, 3):
        m, tm = getattr(nn, f"MaxUnpool{n}d")(2), getattr(torch.nn, f"MaxUnpool{n}d")(2)
        assert repr(m) == repr(tm)
    pool, unpool = nn.MaxPool2d(2, return_indices=True), nn.MaxUnpool2d(2)
    y, i = pool(convnp.tensor(distinct(1, 1, 5, 5)))
    assert unpool(y, i).shape == (1, 1, 5, 5)
    assert unpool.output_shape((1, 1, 2, 2)) == (1, 1, 4, 4)


def test_output_size_errors():
    y, idx = F.max_pool2d(convnp.tensor(distinct(1, 1, 4, 4)), 2, return_indices=True)
    with pytest.raises(ValueError, match=r"dim 0 must be between 2 and 6 \(exclusive\), got 7"):
        F.max_unpool2d(y, idx, 2, output_size=(7, 4))
    with pytest.raises(ValueError):
        TF.max_unpool2d(torch.tensor(y.array), torch.tensor(idx.array), 2, output_size=(7, 4))
    with pytest.raises(ValueError, match="must have 2 elements"):
        F.max_unpool2d(y, idx, 2, output_size=(4, 4, 4))
    with pytest.raises(RuntimeError, match="invalid max index 15"):
        F.max_unpool2d(y, convnp.tensor(np.full((1, 1, 2, 2), 15)), 2, output_size=(3, 3))
    with pytest.raises(TypeError, match="integer tensor"):
        F.max_unpool2d(y, y, 2)
    with pytest.raises(ValueError, match="'indices' shape"):
        F.max_unpool2d(y, convnp.tensor(np.zeros((1, 1, 2, 3), np.int64)), 2)
    with pytest.raises(ValueError, match="expected a 3-d"):
        F.max_unpool2d(convnp.randn(2, 2), convnp.tensor(np.zeros((2, 2), np.int64)), 2)
