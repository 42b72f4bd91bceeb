"""Tensor core ops vs torch: forward and every gradient (random upstream) in float32 and float64,
plus a float64 gradcheck per case. One case table covers arithmetic (broadcasting, reflected
forms, matmul in every rank), math, comparisons, reductions, movement and indexing."""

import numpy as np
import pytest

import convnp
from convnp.autograd import gradcheck
from tests.oracle import compare, distinct, rand

torch = pytest.importorskip("torch")


def pos(*shape, seed=0):
    """Positive data away from 0 (for log, sqrt, div, pow bases)."""
    return rand(*shape, seed=seed, low=0.5, high=2.0)


def away(*shape, seed=0):
    """Tie-free data away from 0 and from +-0.5 (for abs, clamp, max, comparisons)."""
    d = distinct(*shape, seed=seed, spacing=0.07)
    return d + np.sign(d) * 0.013


MASK = np.array([[True, False, True, True], [False, False, True, False], [True, True, False, True]])

# (id, fn(lib, *tensors), inputs, options); fn is written once for convnp and torch
CASES = [
    # ---- broadcasting arithmetic and reflected forms
    ("add-bcast", lambda m, a, b: a + b, [rand(3, 1, 4), rand(5, 4, seed=1)], {}),
    ("sub-bcast", lambda m, a, b: a - b, [rand(2, 3), rand(3, seed=1)], {}),
    ("mul-bcast", lambda m, a, b: a * b, [rand(4, 1), rand(1, 5, seed=1)], {}),
    ("div-bcast", lambda m, a, b: a / b, [rand(2, 3, 4), pos(4, seed=1)], {}),
    ("pow-tensor", lambda m, a, b: a ** b, [pos(3, 4), rand(3, 4, seed=1)], {}),
    ("pow-scalar", lambda m, a: a ** 3, [rand(3, 4)], {}),
    ("pow-float-exp", lambda m, a: a ** 1.5, [pos(5)], {}),
    ("rpow-scalar", lambda m, a: 2.0 ** a, [rand(3, 4)], {}),
    ("neg", lambda m, a: -a, [rand(2, 3)], {}),
    ("add-scalar", lambda m, a: a + 1, [rand(2, 3)], {}),
    ("radd-scalar", lambda m, a: 2.5 + a, [rand(2, 3)], {}),
    ("rsub-scalar", lambda m, a: 2 - a, [rand(2, 3)], {}),
    ("rmul-scalar", lambda m, a: 0.5 * a, [rand(2, 3)], {}),
    ("rdiv-scalar", lambda m, a: 1.5 / a, [pos(2, 3)], {}),
    ("div-scalar", lambda m, a: a / 4, [rand(2, 3)], {}),
    ("fanout-expr", lambda m, a, b: (a * b + a) / (b * b + 1) - a, [rand(3, 4), rand(3, 4, seed=1)],
     {}),
    ("add-alpha", lambda m, a, b: m.add(a, b, alpha=2), [rand(3), rand(3, seed=1)], {}),
    # ---- matmul in every rank combination
    ("matmul-1d-1d", lambda m, a, b: a @ b, [rand(4), rand(4, seed=1)], {}),
    ("matmul-1d-2d", lambda m, a, b: a @ b, [rand(4), rand(4, 3, seed=1)], {}),
    ("matmul-2d-1d", lambda m, a, b: a @ b, [rand(3, 4), rand(4, seed=1)], {}),
    ("matmul-2d-2d", lambda m, a, b: a @ b, [rand(3, 4), rand(4, 5, seed=1)], {}),
    ("matmul-3d-2d", lambda m, a, b: a @ b, [rand(2, 3, 4), rand(4, 5, seed=1)], {}),
    ("matmul-bcast-4d-3d", lambda m, a, b: m.matmul(a, b), [rand(2, 1, 3, 4), rand(3, 4, 2)], {}),
    ("matmul-3d-1d", lambda m, a, b: a @ b, [rand(2, 3, 4), rand(4, seed=1)], {}),
    ("matmul-1d-3d", lambda m, a, b: a @ b, [rand(3), rand(2, 3, 4, seed=1)], {}),
    ("mm", lambda m, a, b: m.mm(a, b), [rand(2, 3), rand(3, 4, seed=1)], {}),
    ("bmm", lambda m, a, b: m.bmm(a, b), [rand(2, 2, 3), rand(2, 3, 4, seed=1)], {}),
    # ---- math
    ("exp", lambda m, a: a.exp(), [rand(3, 4)], {}),
    ("log", lambda m, a: m.log(a), [pos(3, 4)], {}),
    ("sqrt", lambda m, a: m.sqrt(a), [pos(3, 4)], {}),
    ("abs", lambda m, a: a.abs(), [away(3, 4)], {}),
    ("clamp-both", lambda m, a: a.clamp(-0.3, 0.4), [away(3, 4)], {}),
    ("clamp-min", lambda m, a: m.clamp(a, min=0.1), [away(3, 4)], {}),
    ("clamp-max", lambda m, a: a.clamp(max=-0.1), [away(3, 4)], {}),
    ("maximum-bcast", lambda m, a, b: m.maximum(a, b), [away(3, 4), away(4, seed=1)], {}),
    ("minimum", lambda m, a, b: m.minimum(a, b), [away(3, 4), away(3, 4, seed=1)], {}),
    ("where", lambda m, c, a, b: m.where(c, a, b), [MASK, rand(3, 4), rand(3, 4, seed=1)], {}),
    ("where-bcast", lambda m, c, a, b: m.where(c, a, b), [MASK, rand(4), rand(3, 1, seed=1)], {}),
    ("sigmoid-tanh", lambda m, a: a.sigmoid() * a.tanh(), [rand(2, 5)], {}),
    ("sin-cos", lambda m, a: a.sin() + a.cos(), [rand(2, 5)], {}),
    # ---- reductions
    ("sum-all", lambda m, a: a.sum(), [rand(2, 3, 4)], {}),
    ("sum-dim", lambda m, a: a.sum(1), [rand(2, 3, 4)], {}),
    ("sum-tuple-keepdim", lambda m, a: a.sum((0, 2), keepdim=True), [rand(2, 3, 4)], {}),
    ("sum-neg-dim", lambda m, a: m.sum(a, dim=-1), [rand(2, 3, 4)], {}),
    ("mean-all", lambda m, a: a.mean(), [rand(2, 3, 4)], {}),
    ("mean-dim", lambda m, a: a.mean(-1), [rand(2, 3, 4)], {}),
    ("mean-tuple-keepdim", lambda m, a: a.mean((0, 1), keepdim=True), [rand(2, 3, 4)], {}),
    ("max-all", lambda m, a: a.max(), [away(3, 4)], {}),
    ("min-all", lambda m, a: m.min(a), [away(3, 4)], {}),
    ("max-dim", lambda m, a: a.max(1), [away(2, 3, 4)], {}),
    ("min-dim-keepdim", lambda m, a: a.min(dim=0, keepdim=True), [away(2, 3, 4)], {}),
    ("amax-tuple", lambda m, a: m.amax(a, dim=(0, 2)), [away(2, 3, 4)], {}),
    ("var-all", lambda m, a: a.var(), [rand(3, 4)], {}),
    ("var-dim", lambda m, a: a.var(1), [rand(3, 4)], {}),
    ("var-biased-tuple-keepdim", lambda m, a: a.var((0, 2), unbiased=False, keepdim=True),
     [rand(2, 3, 4)], {}),
    ("var-correction2", lambda m, a: a.var(1, correction=2), [rand(3, 5)], {}),
    ("std-dim", lambda m, a: a.std(0), [rand(3, 4)], {}),
    ("std-biased", lambda m, a: m.std(a, unbiased=False), [rand(3, 4)], {}),
    ("logsumexp", lambda m, a: a.logsumexp(1), [rand(3, 4)], {}),
    ("prod-dim", lambda m, a: a.prod(1), [rand(3, 4)], {}),
    # ---- movement
    ("reshape", lambda m, a: a.reshape(4, -1), [rand(2, 3, 4)], {}),
    ("view", lambda m, a: a.view(6, 4), [rand(2, 3, 4)], {}),
    ("transpose", lambda m, a: a.transpose(0, 2), [rand(2, 3, 4)], {}),
    ("permute", lambda m, a: a.permute(2, 0, 1), [rand(2, 3, 4)], {}),
    ("t", lambda m, a: a.t(), [rand(2, 3)], {}),
    ("flatten-all", lambda m, a: a.flatten(), [rand(2, 3, 4)], {}),
    ("flatten-start", lambda m, a: m.flatten(a, 1), [rand(2, 3, 4)], {}),
    ("flatten-mid", lambda m, a: a.flatten(0, 1), [rand(2, 3, 4)], {}),
    ("squeeze-all", lambda m, a: a.squeeze(), [rand(2, 1, 3, 1)], {}),
    ("squeeze-dim", lambda m, a: a.squeeze(1), [rand(2, 1, 3, 1)], {}),
    ("unsqueeze", lambda m, a: a.unsqueeze(-1), [rand(2, 3)], {}),
    ("expand", lambda m, a: a.expand(3, 4, 5), [rand(1, 4, 1)], {}),
    ("expand-new-dims", lambda m, a: a.expand(2, -1, -1), [rand(3, 4)], {}),
    ("flip", lambda m, a: a.flip(0, 2) if m is torch else a.flip((0, 2)), [rand(2, 3, 4)], {}),
    ("repeat", lambda m, a: a.repeat(2, 1, 3), [rand(2, 3)], {}),
    ("index-int", lambda m, a: a[1], [rand(3, 4)], {}),
    ("index-neg-int", lambda m, a: a[-1, 2], [rand(3, 4)], {}),
    ("index-slices", lambda m, a: a[:, 1:3], [rand(3, 4)], {}),
    ("index-step", lambda m, a: a[..., ::2], [rand(2, 3, 5)], {}),
    ("index-none", lambda m, a: a[None, 0], [rand(3, 4)], {}),
    ("index-ellipsis-none", lambda m, a: a[1, ..., None], [rand(2, 3, 4)], {}),
    ("index-bool-mask", lambda m, a: a[a > 0], [away(3, 4)], {}),
    ("index-bool-rows", lambda m, a: a[m.tensor([True, False, True])], [rand(3, 4)], {}),
    ("index-int-array-repeats", lambda m, a: a[m.tensor([0, 2, 0, 0])], [rand(3, 4)], {}),
    ("index-list-repeats", lambda m, a: a[:, [1, 1, 3]], [rand(3, 4)], {}),
    ("index-two-arrays", lambda m, a: a[m.tensor([0, 2, 2]), m.tensor([1, 1, 3])], [rand(3, 4)],
     {}),
    ("index-mask-cols", lambda m, a: a[:, m.tensor([True, False, True, True])], [rand(3, 4)], {}),
    ("index-mask-2d", lambda m, a: a[m.tensor(MASK)], [rand(3, 4)], {}),
    ("index-list-of-lists", lambda m, a: a[[0, 1, 1], [1, 2, 2]], [rand(3, 4)], {}),
    ("index-int-and-array", lambda m, a: a[1, [0, 0, 2]], [rand(3, 4)], {}),
    ("index-slice-and-array", lambda m, a: a[1:, m.tensor([0, 0, 2])], [rand(3, 4, 2)], {}),
    ("index-ellipsis-array", lambda m, a: a[..., m.tensor([1, 1])], [rand(3, 4, 2)], {}),
    ("index-neg-array", lambda m, a: a[m.tensor([-1, 0, -1])], [rand(3, 4)], {}),
    ("squeeze-tuple", lambda m, a: a.squeeze((0, 2)), [rand(1, 3, 1, 2)], {}),
    ("unflatten", lambda m, a: a.unflatten(1, (2, 2)), [rand(3, 4)], {}),
    ("mT", lambda m, a: a.mT, [rand(2, 3, 4)], {}),
    ("gather", lambda m, a: a.gather(1, m.tensor([[0, 0], [1, 0], [3, 2]])), [rand(3, 4)], {}),
    ("topk", lambda m, a: a.topk(2)[0], [away(3, 5)], {}),
    ("masked-fill", lambda m, a: a.masked_fill(a > 0, 0.5), [away(3, 4)], {}),
    ("where-scalar", lambda m, a: m.where(a > 0, a, 0.0), [away(3, 4)], {}),
    ("matmul-1d-4d", lambda m, a, b: a @ b, [rand(3), rand(2, 2, 3, 4, seed=1)], {}),
    ("matmul-4d-1d", lambda m, a, b: a @ b, [rand(2, 2, 3, 4), rand(4, seed=1)], {}),
    ("logsumexp-tuple", lambda m, a: a.logsumexp((0, 1)), [rand(2, 3, 4)], {}),
    ("amin", lambda m, a: a.amin(1), [away(2, 3, 4)], {}),
    ("sum-0d", lambda m, a: a.sum(), [rand()], {}),
    ("pow-zero", lambda m, a: a ** 0, [rand(3)], {}),
    ("cat", lambda m, a, b: m.cat([a, b], 1), [rand(2, 3), rand(2, 4, seed=1)], {}),
    ("cat-neg-dim", lambda m, a, b: m.cat([a, b, a], dim=-1), [rand(2, 3), rand(2, 1, seed=1)], {}),
    ("stack", lambda m, a, b: m.stack([a, b]), [rand(2, 3), rand(2, 3, seed=1)], {}),
    ("stack-last", lambda m, a, b: m.stack([a, b], dim=-1), [rand(2, 3), rand(2, 3, seed=1)], {}),
    ("chunk", lambda m, a: a.chunk(3, 1), [rand(2, 7)], {}),
    ("chunk-fn", lambda m, a: m.chunk(a, 2), [rand(4, 3)], {}),
    ("split-size", lambda m, a: a.split(2, dim=1), [rand(2, 5)], {}),
    ("split-sections", lambda m, a: m.split(a, [1, 3, 1], 1), [rand(2, 5)], {}),
    ("double", lambda m, a: a.double() * 2, [rand(2, 3)], {}),
    ("to-float", lambda m, a: (a.to(m.float64) * 3).float(), [rand(2, 3)], {}),
    ("clone", lambda m, a: a.clone() * a, [rand(2, 3)], {}),
]


def _ids(cases):
    return [c[0] for c in cases]


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("name,fn,inputs,opts", CASES, ids=_ids(CASES))
def test_parity_with_torch(name, fn, inputs, opts, dtype):
    out = compare(lambda *a: fn(convnp, *a), lambda *a: fn(torch, *a), *inputs, dtype=dtype,
                  **opts)
    first = out[0] if isinstance(out, (list, tuple)) else out
    if name not in ("double", "to-float"):
        assert first.dtype == np.dtype(dtype), "dtype must be preserved"


@pytest.mark.parametrize("name,fn,inputs,opts", CASES, ids=_ids(CASES))
def test_gradcheck(name, fn, inputs, opts):
    ts = [convnp.tensor(x, requires_grad=x.dtype.kind == "f") if x.dtype.kind == "f"
          else convnp.tensor(x) for x in inputs]
    if name in ("double", "to-float"):
        pytest.skip("casts: float32 intermediates make finite differences meaningless")
    assert gradcheck(lambda *a: fn(convnp, *a), ts)


# ---------------------------------------------------------------------- no-grad ops vs torch
@pytest.mark.parametrize("op", ["__eq__", "__ne__", "__lt__", "__le__", "__gt__", "__ge__"])
def test_comparisons_match_torch_and_carry_no_grad(op):
    a, b = np.round(rand(3, 4), 1), np.round(rand(4, seed=1), 1)
    c = getattr(convnp.tensor(a, requires_grad=True), op)(convnp.tensor(b))
    t = getattr(torch.tensor(a), op)(torch.tensor(b))
    assert c.dtype == np.bool_ and not c.requires_grad and c.grad_fn is None
    np.testing.assert_array_equal(c.data, t.numpy())
    s = getattr(convnp.tensor(a), op)(0.1)
    np.testing.assert_array_equal(s.data, getattr(torch.tensor(a), op)(0.1).numpy())


@pytest.mark.parametrize("dim,keepdim", [(None, False), (0, False), (1, True), (-1, False)])
def test_argmax_argmin_match_torch(dim, keepdim):
    a = away(3, 4, 5)
    for fn in ("argmax", "argmin"):
        c = getattr(convnp.tensor(a), fn)(dim=dim, keepdim=keepdim)
        t = getattr(torch.tensor(a), fn)(dim=dim, keepdim=keepdim)
        assert c.dtype == np.int64
        np.testing.assert_array_equal(c.data, t.numpy())


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_scalar_operands_keep_tensor_dtype_like_torch(dtype):
    a = rand(2, 3).astype(dtype)
    for expr in (lambda x: x + 1, lambda x: 2 * x, lambda x: x / 3, lambda x: x ** 2,
                 lambda x: 1 - x, lambda x: x * 0.1):
        assert expr(convnp.tensor(a)).dtype == np.dtype(dtype)
        assert str(expr(torch.tensor(a)).dtype) == f"torch.{np.dtype(dtype)}"


@pytest.mark.parametrize("expr", [
    lambda m, i, f: i + 1, lambda m, i, f: i * 0.5, lambda m, i, f: 0.5 * i, lambda m, i, f: i / 2,
    lambda m, i, f: i / i, lambda m, i, f: 2 / i, lambda m, i, f: i ** 2, lambda m, i, f: i * f,
    lambda m, i, f: f - i, lambda m, i, f: f.double() * i, lambda m, i, f: i * m.tensor(0.5),
    lambda m, i, f: f + f.double()], ids=lambda e: "")
def test_mixed_integer_float_promotion_like_torch(expr):
    c = expr(convnp, convnp.tensor([1, 2, 3]), convnp.tensor([0.5, 1.5, 2.5]))
    t = expr(torch, torch.tensor([1, 2, 3]), torch.tensor([0.5, 1.5, 2.5]))
    assert str(t.dtype) == f"torch.{c.dtype}"
    np.testing.assert_allclose(c.data, t.numpy())


def test_reflected_numpy_array_operands():
    a = rand(2, 3)
    x = convnp.tensor(a, requires_grad=True)
    arr = rand(2, 3, seed=1)
    for y, want in [(arr + x, arr + a), (arr - x, arr - a), (arr * x, arr * a),
                    (arr / (x + 3), arr / (a + 3)), (arr[0] @ x.t(), arr[0] @ a.T)]:
        assert isinstance(y, convnp.Tensor) and y.requires_grad
        np.testing.assert_allclose(y.data, want.astype(np.float32), rtol=1e-6)
    (arr * x).sum().backward()
    np.testing.assert_allclose(x.grad.data, arr.astype(np.float32))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("dims,keepdim", [((2,), False), ((-1,), True), ((0, 2), False),
                                          ((1, 2), True), (None, False)])
def test_mean_equals_numpy_mean_bitwise(dtype, dims, keepdim):
    """Mean over some axes calls the sum and the division np.mean calls, without its wrapper:
    the same numbers, bit for bit (a long axis too, where the summation order shows)."""
    a = np.random.default_rng(3).standard_normal((3, 5, 1000)).astype(dtype)
    got = convnp.tensor(a).mean(dims, keepdim=keepdim).array
    want = np.mean(a, axis=dims, keepdims=keepdim)
    assert got.dtype == want.dtype and got.shape == want.shape
    np.testing.assert_array_equal(got, want)
