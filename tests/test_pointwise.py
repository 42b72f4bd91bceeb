"""The pointwise tables (convnp/ops/pointwise.py): every row against torch, values and input
gradients, float32 and float64; the bool rows and integer rules; the composites; the in-place
``*_`` variants; golden values without torch."""

import math

import numpy as np
import pytest

import convnp
from convnp.ops import pointwise as P
from tests.oracle import compare, rand

torch = pytest.importorskip("torch")

# input domain per function (default: (-0.9, 0.9), inside every function's domain of definition)
DOMAIN = {"acosh": (1.1, 3.0), "log2": (0.1, 2.0), "log10": (0.1, 2.0), "rsqrt": (0.1, 2.0),
          "reciprocal": (0.2, 2.0), "lgamma": (0.1, 3.0), "digamma": (0.1, 3.0),
          "deg2rad": (-90, 90), "rad2deg": (-2, 2), "exp2": (-3, 3), "sinh": (-3, 3),
          "cosh": (-3, 3), "i0": (-3, 3), "sinc": (-2, 2), "floor": (-3, 3), "ceil": (-3, 3),
          "trunc": (-3, 3), "frac": (-3, 3), "sign": (-3, 3), "square": (-3, 3)}
UNARY = sorted(P.DIFFERENTIABLE_UNARY) + sorted(P.UNARY_ALIASES)
DTYPES = [np.float32, np.float64]


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("name", UNARY)
def test_unary_row_matches_torch(name, dtype):
    target = P.UNARY_ALIASES.get(name, name)
    x = rand(3, 4, low=DOMAIN.get(target, (-0.9, 0.9))[0], high=DOMAIN.get(target, (0, 0.9))[1],
             seed=len(name))
    tol = {"rtol": 1e-4, "atol": 2e-5} if dtype == np.float32 else {}
    check_grad = name != "sgn"  # torch's sgn gradient is a ZeroTensor numpy cannot read
    compare(getattr(convnp, name), getattr(torch, name), x, dtype=dtype, check_grad=check_grad,
            **tol)
    # the method and the functional form are the same function
    compare(lambda t: getattr(t, name)(), lambda t: getattr(t, name)(), x, dtype=dtype,
            check_grad=check_grad, **tol)


BINARY_DOMAIN = {"xlogy": ((-1, 1), (0.1, 2)), "fmod": ((-3, 3), (0.5, 2)),
                 "remainder": ((-3, 3), (0.5, 2)), "ldexp": ((-2, 2), (-2, 2)),
                 "hypot": ((0.1, 2), (-2, -0.1))}


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("name", sorted(P.DIFFERENTIABLE_BINARY) + ["arctan2"])
def test_binary_row_matches_torch_with_broadcasting(name, dtype):
    (alo, ahi), (blo, bhi) = BINARY_DOMAIN.get(name, ((-2, 2), (-2, 2)))
    a, b = rand(3, 4, low=alo, high=ahi, seed=1), rand(4, low=blo, high=bhi, seed=2)
    tol = {"rtol": 1e-4, "atol": 2e-5} if dtype == np.float32 else {}
    compare(getattr(convnp, name), getattr(torch, name), a, b, dtype=dtype, **tol)
    compare(lambda x, y: getattr(x, name)(y), lambda x, y: getattr(x, name)(y), a, b,
            dtype=dtype, **tol)


@pytest.mark.parametrize("name", ["floor_divide", "nextafter", "heaviside", "copysign"])
def test_value_only_binaries(name):
    a = np.array([-2.5, -1.0, 0.0, 0.0, 1.5, 3.0])
    b = np.array([2.0, -1.5, 0.5, -2.0, 0.5, 2.0])
    for dt in DTYPES:
        c = getattr(convnp, name)(convnp.tensor(a.astype(dt)), convnp.tensor(b.astype(dt)))
        t = getattr(torch, name)(torch.tensor(a.astype(dt)), torch.tensor(b.astype(dt)))
        assert c.dtype == t.numpy().dtype
        np.testing.assert_array_equal(c.numpy(), t.numpy())


def test_bool_rows_bitwise_and_logical_ops():
    x = np.array([-np.inf, -1.5, -0.0, 0.0, 2.0, np.inf, np.nan], np.float32)
    for name in P.UNARY_BOOL:
        np.testing.assert_array_equal(getattr(convnp, name)(convnp.tensor(x)).numpy(),
                                      getattr(torch, name)(torch.tensor(x)).numpy(), name)
    a, b = np.array([0, 3, 5, 12]), np.array([1, 6, 4, 8])
    for name in P.BINARY_INT:
        c = getattr(convnp, name)(convnp.tensor(a), convnp.tensor(b))
        np.testing.assert_array_equal(c.numpy(), getattr(torch, name)(torch.tensor(a),
                                                                       torch.tensor(b)).numpy())
    assert convnp.bitwise_not(convnp.tensor(a)).tolist() == (~torch.tensor(a)).tolist()
    for name in P.BINARY_BOOL:
        c = getattr(convnp, name)(convnp.tensor(a > 2), convnp.tensor(b > 4))
        assert c.tolist() == getattr(torch, name)(torch.tensor(a > 2), torch.tensor(b > 4)).tolist()
    with pytest.raises(TypeError, match="bitwise_and: expected integer or bool tensors"):
        convnp.bitwise_and(convnp.tensor([1.0]), convnp.tensor([2.0]))


def test_integer_inputs_promote_like_torch():
    i = np.array([1, 2, 4])
    for name in ("sinh", "log2", "erf", "rsqrt", "atan2"):
        args = (i, i) if name == "atan2" else (i,)
        c = getattr(convnp, name)(*[convnp.tensor(a) for a in args])
        t = getattr(torch, name)(*[torch.tensor(a) for a in args])
        assert c.dtype == np.float32 and str(t.dtype) == "torch.float32"
        np.testing.assert_allclose(c.numpy(), t.numpy(), rtol=1e-6)
    for name in ("floor", "sign", "square"):
        assert getattr(convnp, name)(convnp.tensor(i)).dtype == np.int64


def test_golden_values_without_torch():
    x = convnp.tensor([0.0, 1.0], dtype=convnp.float64, requires_grad=True)
    y = convnp.sinh(x) + convnp.cosh(x) + convnp.log1p(x) + convnp.erf(x)
    y.sum().backward()
    # d/dx at 0: cosh 0 + sinh 0 + 1/(1+0) + 2/sqrt(pi); at 1: cosh 1 + sinh 1 + 1/2 + 2/(e sqrt pi)
    np.testing.assert_allclose(x.grad.numpy(), [1 + 1 + 2 / math.sqrt(math.pi),
                                                math.e + 0.5 + 2 / (math.e * math.sqrt(math.pi))])
    assert convnp.sinh(x).grad_fn.name().startswith("Sinh")


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("case", [
    ("addcmul", lambda m, a, b, c: m.addcmul(a, b, c, value=0.5)),
    ("addcdiv", lambda m, a, b, c: m.addcdiv(a, b, c.exp(), value=-2)),
    ("lerp", lambda m, a, b, c: m.lerp(a, b, c)),
    ("logit", lambda m, a, b, c: m.logit(m.sigmoid(a), eps=0.2)),
    ("nan_to_num", lambda m, a, b, c: m.nan_to_num(
        m.where(a > 0.5, float("nan"), m.where(a < -0.5, float("inf"), a)), nan=0.5,
        posinf=2.0)),
    ("float_power", lambda m, a, b, c: m.float_power(a.abs() + 0.1, b)),
    ("round", lambda m, a, b, c: m.round(a * 10, decimals=1) * a),
    ("clamp_min", lambda m, a, b, c: m.clamp_min(a, 0.1) + m.clamp_max(b, -0.2)),
    ("divide", lambda m, a, b, c: m.divide(a, b + 3) + m.divide(a * 9, b + 3,
                                                                  rounding_mode="floor")),
    ("divide-trunc", lambda m, a, b, c: m.divide(a * 9, b + 3, rounding_mode="trunc")),
    ("polygamma", lambda m, a, b, c: m.polygamma(1, a.abs() + 0.5)),
    ("mvlgamma", lambda m, a, b, c: m.mvlgamma(a.abs() + 2, 3)),
    ("igamma", lambda m, a, b, c: m.igamma(a.abs().detach() + 1, b.abs() + 0.2)),
    ("igammac", lambda m, a, b, c: m.igammac(a.abs().detach() + 1, b.abs() + 0.2)),
    ("gradient", lambda m, a, b, c: m.gradient(a, spacing=0.5, dim=1)[0]),
    ("gradient-all", lambda m, a, b, c: m.gradient(a)[0] + m.gradient(a)[1]),
], ids=lambda c: c[0] if isinstance(c, tuple) else None)
def test_composites_match_torch(case, dtype):
    _, fn = case
    a, b, c = rand(3, 4, seed=3), rand(3, 4, seed=4), rand(3, 4, seed=5)
    tol = {"rtol": 1e-4, "atol": 2e-5} if dtype == np.float32 else {}
    compare(lambda *t: fn(convnp, *t), lambda *t: fn(torch, *t), a, b, c, dtype=dtype, **tol)


def test_frexp_and_errors():
    x = np.array([0.0, 1.5, -3.0, 1e-3], np.float32)
    m, e = convnp.frexp(convnp.tensor(x))
    tm, te = torch.frexp(torch.tensor(x))
    np.testing.assert_array_equal(m.numpy(), tm.numpy())
    np.testing.assert_array_equal(e.numpy(), te.numpy())
    assert e.dtype == np.int32
    with pytest.raises(TypeError, match="sinh\\(\\): argument 'input' must be a Tensor"):
        convnp.sinh(1.0)
    with pytest.raises(ValueError, match="polygamma: 'n' must be a non-negative int"):
        convnp.polygamma(-1, convnp.ones(2))
    with pytest.raises(ValueError, match="div: rounding_mode must be None, 'trunc' or 'floor'"):
        convnp.divide(convnp.ones(2), 2, rounding_mode="up")
    with pytest.raises(NotImplementedError, match="igamma/igammac: the derivative with respect "
                                                  "to 'input'"):
        convnp.igamma(convnp.ones(2, requires_grad=True), convnp.ones(2)).sum().backward()


INPLACE = [("sqrt_", ()), ("addcmul_", ("a", "b")), ("addcdiv_", ("a", "b")), ("sinh_", ()),
           ("log1p_", ()), ("clamp_min_", (0.3,)), ("lerp_", ("a", 0.25)), ("atan2_", ("a",)),
           ("square_", ()), ("exp_", ()), ("abs_", ()), ("neg_", ()), ("sigmoid_", ()),
           ("tanh_", ()), ("reciprocal_", ()), ("rsqrt_", ()), ("floor_", ()), ("round_", ()),
           ("pow_", (2,)), ("fmod_", (0.3,)), ("xlogy_", ("b",)), ("hypot_", ("a",)),
           ("nan_to_num_", ()), ("logit_", ()), ("multiply_", ("a",)), ("true_divide_", ("b",)),
           ("gt_", ("a",)), ("eq_", ("a",)), ("tril_", ()), ("triu_", (1,)), ("cumsum_", (1,))]


@pytest.mark.parametrize("name,args", INPLACE, ids=[n for n, _ in INPLACE])
def test_inplace_variants_write_back_like_torch(name, args):
    x = rand(3, 4, low=0.1, high=0.9, seed=7).astype(np.float32)
    a, b = rand(3, 4, seed=8).astype(np.float32), rand(4, low=0.2, high=1, seed=9).astype(
        np.float32)

    def run(lib):
        t = lib.tensor(x.copy())
        argv = [lib.tensor(a) if v == "a" else lib.tensor(b) if v == "b" else v for v in args]
        out = getattr(t, name)(*argv)
        assert out is t  # in place: returns the tensor itself
        return t.numpy()

    np.testing.assert_allclose(run(convnp), run(torch), rtol=1e-5, atol=1e-6)


def test_inplace_errors_are_torchs():
    with pytest.raises(RuntimeError, match="sinh_: result type float32 can't be cast to the "
                                           "desired output type int64"):
        convnp.tensor([4, 9]).sinh_()
    with pytest.raises(RuntimeError, match="add.*doesn't match the broadcast shape|addcmul_: "
                                           "output with shape"):
        convnp.ones(3).addcmul_(convnp.ones(2, 3), convnp.ones(3))
    with pytest.raises(RuntimeError, match="sinh_: a leaf Variable that requires grad"):
        convnp.ones(2, requires_grad=True).sinh_()
    # torch's module-level in-place functions
    x = convnp.tensor([-1.0, 2.0])
    assert convnp.relu_(x) is x and x.tolist() == [0.0, 2.0]
    x2 = convnp.tensor([[1.0, 2.0, 3.0]])
    assert x2.t_() is x2 and x2.shape == (3, 1) and x2.squeeze_().shape == (3,)


# numerical gradient checks (float64, no torch) for every differentiable table row
@pytest.mark.parametrize("name", sorted(P.DIFFERENTIABLE_UNARY) + sorted(
    P.DIFFERENTIABLE_BINARY))
def test_gradcheck_table_rows(name):
    from convnp.autograd import gradcheck

    if name in ("floor", "ceil", "trunc", "sign"):
        pytest.skip("step function: the gradient is zero where finite differences see jumps")
    binary = name in P.DIFFERENTIABLE_BINARY
    lo, hi = (DOMAIN.get(name, (-0.9, 0.9)) if not binary else
              BINARY_DOMAIN.get(name, ((-2, 2), (-2, 2)))[0])
    x = convnp.tensor(rand(2, 3, low=lo, high=hi, seed=11), dtype=convnp.float64,
                      requires_grad=True)
    if binary:
        blo, bhi = BINARY_DOMAIN.get(name, ((-2, 2), (-2, 2)))[1]
        y = convnp.tensor(rand(3, low=blo, high=bhi, seed=12), dtype=convnp.float64,
                          requires_grad=name not in ("copysign",))
        assert gradcheck(getattr(convnp, name), [x, y])
    else:
        assert gradcheck(getattr(convnp, name), [x])


def test_gradcheck_catches_a_wrong_table_derivative(monkeypatch):
    from convnp.autograd import gradcheck
    from convnp.autograd.gradcheck import GradcheckError

    wrong = P._make_unary("sinh", np.sinh, lambda a, y: np.sinh(a), promote=True)  # not cosh
    x = convnp.tensor(rand(4, seed=1), dtype=convnp.float64, requires_grad=True)
    with pytest.raises(GradcheckError):
        gradcheck(lambda t: wrong.apply(t), [x])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_large_add_matches_numpy_and_torch(dtype):
    """Adding two large same-shape float arrays (a residual connection) runs the parallel kernel:
    NumPy's sums bit for bit (inf and NaN included), gradients to both sides as torch."""
    import torch

    rng = np.random.default_rng(0)
    a = rng.standard_normal((4, 16, 48, 48)).astype(dtype)
    b = rng.standard_normal((4, 16, 48, 48)).astype(dtype)
    a.reshape(-1)[::1001] = np.inf
    b.reshape(-1)[::997] = np.nan
    ca = convnp.tensor(a, requires_grad=True)
    cb = convnp.tensor(b, requires_grad=True)
    out = ca + cb
    np.testing.assert_array_equal(out.array, a + b)
    g = rng.standard_normal(a.shape).astype(dtype)
    out.backward(convnp.tensor(g))
    ta, tb = (torch.tensor(v, requires_grad=True) for v in (a, b))
    (ta + tb).backward(torch.tensor(g))
    np.testing.assert_array_equal(ca.grad.array, ta.grad.numpy())
    np.testing.assert_array_equal(cb.grad.array, tb.grad.numpy())
    # a transposed operand or a broadcast goes through NumPy, same numbers
    np.testing.assert_array_equal((ca + cb.transpose(2, 3)).array, a + b.transpose(0, 1, 3, 2))
    np.testing.assert_array_equal((ca + cb[:1]).array, a + b[:1])
