"""Creation functions, dtype inference, generators/seeding, conversions and tensor metadata.
Torch is used only in the tests that compare dtypes/values with it."""

import numpy as np
import pytest

import convnp

# (id, data, expected convnp dtype): torch.tensor's inference rules
INFER = [
    ("py-float", 1.5, np.float32),
    ("py-int", 3, np.int64),
    ("py-bool", True, np.bool_),
    ("float-list", [1.0, 2.0], np.float32),
    ("int-list", [[1, 2], [3, 4]], np.int64),
    ("mixed-list", [[1, 2], [3.5, 4]], np.float32),
    ("bool-list", [True, False], np.bool_),
    ("np-float64", np.zeros(3), np.float64),
    ("np-float32", np.zeros(3, np.float32), np.float32),
    ("np-int32", np.zeros(3, np.int32), np.int32),
    ("np-uint8", np.zeros(3, np.uint8), np.uint8),
    ("np-scalar-float64", np.float64(2.0), np.float64),
]


@pytest.mark.parametrize("name,data,dtype", INFER, ids=[c[0] for c in INFER])
def test_tensor_dtype_inference(name, data, dtype):
    t = convnp.tensor(data)
    assert t.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(t.array, np.asarray(data))


@pytest.mark.parametrize("name,data,dtype", INFER, ids=[c[0] for c in INFER])
def test_tensor_dtype_inference_matches_torch(name, data, dtype):
    torch = pytest.importorskip("torch")
    assert str(torch.tensor(data).dtype) == f"torch.{np.dtype(dtype)}"


def test_tensor_copies_and_from_numpy_shares():
    a = np.ones(3)
    t = convnp.tensor(a)
    a[0] = 5
    assert t.array[0] == 1
    s = convnp.from_numpy(a)
    a[1] = 7
    assert s.array[1] == 7 and s.dtype == np.float64
    assert convnp.as_tensor(a).array is a
    with pytest.raises(TypeError, match="from_numpy"):
        convnp.from_numpy([1, 2])


def test_tensor_dtype_and_requires_grad_arguments():
    t = convnp.tensor([1, 2], dtype=convnp.float64, requires_grad=True)
    assert t.dtype == np.float64 and t.requires_grad and t.is_leaf
    assert convnp.tensor([1.7], dtype=convnp.int64).dtype == np.int64
    assert convnp.tensor(np.zeros(2), dtype="float32").dtype == np.float32
    with pytest.raises(TypeError, match="could not convert"):
        convnp.tensor("abc")
    with pytest.raises(TypeError, match="unsupported dtype"):
        convnp.zeros(2, dtype="no-such-dtype")


def test_default_dtype_switch():
    try:
        convnp.set_default_dtype(convnp.float64)
        assert convnp.tensor(1.5).dtype == np.float64 and convnp.zeros(2).dtype == np.float64
        assert convnp.tensor([1, 2]).dtype == np.int64
    finally:
        convnp.set_default_dtype(convnp.float32)
    assert convnp.get_default_dtype() == np.float32
    with pytest.raises(TypeError, match="float32 and float64"):
        convnp.set_default_dtype(convnp.int64)


@pytest.mark.parametrize("fn,args,kw,shape,dtype", [
    (convnp.zeros, (2, 3), {}, (2, 3), np.float32),
    (convnp.zeros, ((2, 3),), {"dtype": convnp.float64}, (2, 3), np.float64),
    (convnp.ones, (4,), {}, (4,), np.float32),
    (convnp.ones, ([2, 1],), {"dtype": convnp.int64}, (2, 1), np.int64),
    (convnp.empty, (2, 2), {}, (2, 2), np.float32),
    (convnp.full, ((2, 2), 1.5), {}, (2, 2), np.float32),
    (convnp.full, ((3,), 7), {}, (3,), np.int64),
    (convnp.full, ((3,), True), {}, (3,), np.bool_),
    (convnp.full, ((2,), 2), {"dtype": convnp.float64}, (2,), np.float64),
    (convnp.eye, (3,), {}, (3, 3), np.float32),
    (convnp.eye, (2, 4), {}, (2, 4), np.float32),
    (convnp.rand, (2, 3), {}, (2, 3), np.float32),
    (convnp.randn, ((4,),), {"dtype": convnp.float64}, (4,), np.float64),
    (convnp.randint, (0, 10, (3, 2)), {}, (3, 2), np.int64),
    (convnp.randint, (5, (4,)), {}, (4,), np.int64),
    (convnp.randperm, (6,), {}, (6,), np.int64),
], ids=["zeros", "zeros-tuple-f64", "ones", "ones-list-int", "empty", "full-float", "full-int",
        "full-bool", "full-dtype", "eye", "eye-rect", "rand", "randn-f64", "randint",
        "randint-high-size", "randperm"])
def test_creation_shapes_and_dtypes(fn, args, kw, shape, dtype):
    t = fn(*args, **kw)
    assert t.shape == shape and t.dtype == np.dtype(dtype) and not t.requires_grad


def test_creation_values_match_torch():
    torch = pytest.importorskip("torch")
    pairs = [
        (convnp.arange(5), torch.arange(5)),
        (convnp.arange(2, 11, 3), torch.arange(2, 11, 3)),
        (convnp.arange(0, 1, 0.25), torch.arange(0, 1, 0.25)),
        (convnp.arange(1.0, 4.0), torch.arange(1.0, 4.0)),
        (convnp.linspace(0, 1, 5), torch.linspace(0, 1, 5)),
        (convnp.linspace(-2, 3, 7, dtype=convnp.float64),
         torch.linspace(-2, 3, 7, dtype=torch.float64)),
        (convnp.eye(2, 3), torch.eye(2, 3)),
        (convnp.full((2,), 0.1), torch.full((2,), 0.1)),
        (convnp.zeros(0), torch.zeros(0)),
    ]
    for c, t in pairs:
        assert str(t.dtype) == f"torch.{c.dtype}", (c, t)
        np.testing.assert_allclose(c.array, t.numpy(), rtol=1e-7)


def test_random_ranges():
    convnp.manual_seed(0)
    u = convnp.rand(1000)
    assert u.array.min() >= 0 and u.array.max() < 1
    n = convnp.randn(5000, dtype=convnp.float64)
    assert abs(n.array.mean()) < 0.1 and abs(n.array.std() - 1) < 0.1
    r = convnp.randint(3, 7, (500,))
    assert set(np.unique(r.array)) == {3, 4, 5, 6}
    assert sorted(convnp.randperm(5).tolist()) == [0, 1, 2, 3, 4]
    with pytest.raises(TypeError, match="randint"):
        convnp.randint(5)
    with pytest.raises(ValueError, match="non-negative"):
        convnp.zeros(-1)


def test_like_functions_keep_shape_and_dtype():
    a = convnp.ones(2, 3, dtype=convnp.float64)
    i = convnp.arange(4)
    for fn in (convnp.zeros_like, convnp.ones_like, convnp.empty_like, convnp.rand_like,
               convnp.randn_like):
        out = fn(a)
        assert out.shape == (2, 3) and out.dtype == np.float64
    assert convnp.zeros_like(i).dtype == np.int64
    assert convnp.full_like(a, 7).array.tolist() == [[7.0] * 3] * 2
    assert convnp.ones_like(i, dtype=convnp.float32).dtype == np.float32
    assert convnp.zeros_like(a, requires_grad=True).requires_grad
    assert a.new_zeros((2,)).dtype == np.float64 and a.new_full((1,), 3).array[0] == 3


def test_manual_seed_reproducibility():
    convnp.manual_seed(123)
    a = (convnp.randn(4), convnp.rand(3), convnp.randint(0, 100, (5,)))
    convnp.manual_seed(123)
    b = (convnp.randn(4), convnp.rand(3), convnp.randint(0, 100, (5,)))
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x.array, y.array)
    convnp.manual_seed(124)
    assert not np.array_equal(convnp.randn(4).array, a[0].array)
    assert convnp.initial_seed() == 124


def test_explicit_generators_are_independent_and_reproducible():
    g1 = convnp.Generator().manual_seed(7)
    convnp.manual_seed(0)
    x = convnp.randn(3, generator=g1)
    y_global = convnp.randn(3)
    g2 = convnp.Generator()
    assert g2.manual_seed(7) is g2
    np.testing.assert_array_equal(convnp.randn(3, generator=g2).array, x.array)
    convnp.manual_seed(0)
    np.testing.assert_array_equal(convnp.randn(3).array, y_global.array)  # untouched by g1
    state = g1.get_state()
    first = convnp.rand(2, generator=g1)
    g1.set_state(state)
    np.testing.assert_array_equal(convnp.rand(2, generator=g1).array, first.array)
    t = convnp.zeros(3)
    with convnp.no_grad():
        t.uniform_(0, 1, generator=convnp.Generator().manual_seed(1))
    assert np.all((t.array >= 0) & (t.array < 1))
    with pytest.raises(TypeError, match="Generator"):
        convnp.rand(2, generator=np.random.default_rng(0))
    with pytest.raises(TypeError, match="must be an int"):
        convnp.manual_seed(1.5)


def test_global_rng_state_round_trip():
    convnp.manual_seed(5)
    state = convnp.get_rng_state()
    a = convnp.rand(3)
    convnp.set_rng_state(state)
    np.testing.assert_array_equal(convnp.rand(3).array, a.array)


# ---------------------------------------------------------------------- conversions and metadata
def test_to_float_double_and_cast_gradient():
    x = convnp.tensor([1.0, 2.0], requires_grad=True)
    d = x.double()
    assert d.dtype == np.float64 and d.requires_grad
    assert d.float().dtype == np.float32 and x.to(convnp.float64).dtype == np.float64
    assert x.to(dtype=convnp.float64).dtype == np.float64 and x.to("cpu") is x
    assert x.to(convnp.float32) is x and x.to(d).dtype == np.float64
    assert x.long().dtype == np.int64 and x.type_as(d).dtype == np.float64
    (d * d).sum().backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_array_equal(x.grad.array, [2, 4])
    with pytest.raises(RuntimeError, match="CPU only"):
        x.to("cuda")


def test_metadata_and_conversions():
    t = convnp.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    assert t.shape == (2, 3) and t.size() == (2, 3) and t.size(1) == 3 and t.size(-1) == 3
    assert t.ndim == 2 and t.dim() == 2 and t.numel() == 6 and len(t) == 2
    assert t.tolist() == [[1, 2, 3], [4, 5, 6]] and isinstance(t.numpy(), np.ndarray)
    assert t[1, 2].item() == 6.0 and float(t[0, 0]) == 1.0 and int(t[1, 0]) == 4
    assert t.is_floating_point() and not convnp.arange(2).is_floating_point()
    assert "tensor(" in repr(t) and "requires_grad=True" in repr(t.clone().requires_grad_())
    assert "dtype=convnp.float64" in repr(t.double())
    with pytest.raises(ValueError, match="cannot be converted"):
        t.item()
    with pytest.raises(RuntimeError, match="ambiguous"):
        bool(t)
    with pytest.raises(TypeError, match="0-d"):
        len(convnp.tensor(1.0))
    with pytest.raises(IndexError, match="out of range"):
        t.size(2)
