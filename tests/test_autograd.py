"""Autograd engine, grad mode, gradcheck and golden hand-computed gradients. Needs no torch."""

import subprocess
import sys

import numpy as np
import pytest

import convnp
from convnp.autograd import Function, GradcheckError, gradcheck
from convnp.autograd.engine import unbroadcast


def f64(data, requires_grad=True):
    return convnp.tensor(np.asarray(data, dtype=np.float64), requires_grad=requires_grad)


# ---------------------------------------------------------------------- golden (hand-computed)
def test_golden_polynomial():
    x = f64(2.0)
    y = x ** 2 + 3 * x + 1  # dy/dx = 2x + 3 = 7
    y.backward()
    assert y.item() == 11.0 and x.grad.item() == 7.0


def test_golden_micrograd_expression():
    """micrograd's README example: g = 24.7041, dg/da = 138.8338, dg/db = 645.5773."""
    a, b = f64(-4.0), f64(2.0)
    c = a + b
    d = a * b + b ** 3
    c = c + c + 1
    c = c + 1 + c + (-a)
    d = d + d * 2 + (b + a).relu()
    d = d + 3 * d + (b - a).relu()
    e = c - d
    f = e ** 2
    g = f / 2.0
    g = g + 10.0 / f
    g.backward()
    assert g.item() == pytest.approx(24.7041, abs=1e-4)
    assert a.grad.item() == pytest.approx(138.8338, abs=1e-4)
    assert b.grad.item() == pytest.approx(645.5773, abs=1e-4)


def test_golden_matmul_sum_mean():
    w = f64([[1.0, 2.0], [3.0, 4.0]])
    x = f64([1.0, -1.0])
    y = (w @ x).sum()  # = (1-2) + (3-4) = -2; dy/dw = [[1,-1],[1,-1]]; dy/dx = [4, 6]
    y.backward()
    assert y.item() == -2.0
    np.testing.assert_array_equal(w.grad.array, [[1, -1], [1, -1]])
    np.testing.assert_array_equal(x.grad.array, [4, 6])
    z = f64([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    z.mean(dim=1).sum().backward()
    np.testing.assert_allclose(z.grad.array, np.full((2, 3), 1 / 3))


def test_golden_max_indices_and_var():
    x = f64([[1.0, 5.0, 2.0], [7.0, 0.0, 3.0]])
    v, i = x.max(dim=1)
    np.testing.assert_array_equal(i.array, [1, 0])
    assert i.dtype == np.int64 and not i.requires_grad
    v.sum().backward()
    np.testing.assert_array_equal(x.grad.array, [[0, 1, 0], [1, 0, 0]])
    y = f64([1.0, 2.0, 3.0, 4.0])
    assert y.var().item() == pytest.approx(5 / 3) and y.var(unbiased=False).item() == 1.25
    y.var().backward()  # d var / dy_i = 2 (y_i - mean) / (n - 1)
    np.testing.assert_allclose(y.grad.array, 2 * (y.array - 2.5) / 3)


def test_golden_indexing_with_repeated_indices_accumulates():
    x = f64([10.0, 20.0, 30.0])
    x[convnp.tensor([0, 2, 0, 0])].sum().backward()
    np.testing.assert_array_equal(x.grad.array, [3, 0, 1])


def test_golden_cat_split_and_where():
    a, b = f64([1.0, 2.0]), f64([3.0])
    c = convnp.cat([a, b])
    p, q = c.split([1, 2])
    (p * 2 + q.sum() * 3).sum().backward()
    np.testing.assert_array_equal(a.grad.array, [2, 3])
    np.testing.assert_array_equal(b.grad.array, [3])
    x = f64([-1.0, 2.0, -3.0])
    convnp.where(x > 0, x, x * x).sum().backward()  # grad 1 where x>0 else 2x
    np.testing.assert_array_equal(x.grad.array, [-2, 1, -6])


# ---------------------------------------------------------------------- engine behaviour
@pytest.mark.parametrize("n", [3000, 10000])
def test_deep_chain_does_not_hit_recursion_limit(n):
    x = f64(1.0)
    y = x
    for _ in range(n):
        y = y * 1.0001
    y.backward()
    assert x.grad.item() == pytest.approx(1.0001 ** n, rel=1e-9)


def test_fan_out_accumulates():
    x = f64([1.0, 2.0])
    y = x * x + x * 3 + x  # x used four times: dy/dx = 2x + 4
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.array, [6, 8])
    z = f64(3.0)
    h = z * 2
    (h * h * h).backward()  # an intermediate used 3 times: d/dz (2z)^3 = 24 z^2
    assert z.grad.item() == 216.0


def test_engine_unbroadcasts_gradients():
    class NoUnbroadcastAdd(Function):
        """Returns the output-shaped gradient for both inputs: the engine must reduce it."""

        @staticmethod
        def forward(ctx, a, b):
            return a + b

        @staticmethod
        def backward(ctx, g):
            return g, g

    a, b = f64(np.ones((2, 1, 3))), f64(np.ones((4, 1)))
    NoUnbroadcastAdd.apply(a, b).sum().backward()
    assert a.grad.shape == (2, 1, 3) and np.all(a.grad.array == 4)
    assert b.grad.shape == (4, 1) and np.all(b.grad.array == 6)
    g = unbroadcast(np.ones((5, 2, 3)), (2, 1))
    assert g.shape == (2, 1) and np.all(g == 15)
    with pytest.raises(RuntimeError, match="shape"):
        unbroadcast(np.ones((2, 3)), (4, 3))


def test_engine_casts_gradient_to_input_dtype():
    x = convnp.tensor([1.0, 2.0], requires_grad=True)  # float32
    (x.double() * 2).sum().backward()
    assert x.grad.dtype == np.float32


def test_leaf_grad_accumulates_across_backward_calls():
    x = f64([1.0, 2.0])
    (x * 3).sum().backward()
    (x * x).sum().backward()
    np.testing.assert_array_equal(x.grad.array, [3 + 2, 3 + 4])


def test_retain_graph():
    x = f64(2.0)
    y = x * x
    y.backward(retain_graph=True)
    y.backward()
    assert x.grad.item() == 8.0
    assert isinstance(x.grad.array, np.ndarray), "a 0-d gradient must stay an ndarray"
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        y.backward()


def test_backward_non_scalar_needs_gradient():
    x = f64([1.0, 2.0, 3.0])
    y = x * 2
    with pytest.raises(RuntimeError, match="only for scalar outputs"):
        y.backward()
    with pytest.raises(RuntimeError, match="'gradient' has shape"):
        y.backward(convnp.ones(2))
    y.backward(convnp.tensor([1.0, 0.0, -1.0]))
    np.testing.assert_array_equal(x.grad.array, [2, 0, -2])


def test_backward_errors():
    with pytest.raises(RuntimeError, match="does not require grad"):
        convnp.ones(2).sum().backward()
    x = f64(1.0)
    with pytest.raises(NotImplementedError, match="create_graph"):
        (x * 2).backward(create_graph=True)


def test_backward_inputs_restricts_accumulation():
    a, b = f64(1.0), f64(2.0)
    (a * b).backward(inputs=[a])
    assert a.grad.item() == 2.0 and b.grad is None


def test_requires_grad_propagation_and_is_leaf():
    a, b = f64([1.0]), f64([2.0], requires_grad=False)
    c = a * b
    assert c.requires_grad and not c.is_leaf and a.is_leaf and c.grad_fn is not None
    assert "MulBackward" in repr(c.grad_fn)
    d = b * 2
    assert not d.requires_grad and d.grad_fn is None


def test_requires_grad_on_integer_tensor_raises():
    with pytest.raises(RuntimeError, match="floating point"):
        convnp.tensor([1, 2, 3], requires_grad=True)
    with pytest.raises(RuntimeError, match="floating point"):
        convnp.arange(3).requires_grad_()


def test_detach():
    x = f64([1.0, 2.0])
    y = (x * 2).detach()
    assert not y.requires_grad and y.grad_fn is None and y.is_leaf
    z = x.detach()
    assert np.shares_memory(z.array, x.array)


def test_retain_grad():
    x = f64([1.0, 2.0])
    h = x * 3
    h.retain_grad()
    (h * h).sum().backward()
    np.testing.assert_array_equal(h.grad.array, 2 * h.array)
    np.testing.assert_array_equal(x.grad.array, 6 * h.array)


def test_autograd_grad_does_not_touch_dot_grad():
    x, w = f64([1.0, 2.0]), f64([3.0, 4.0])
    y = (x * w).sum()
    (gx,) = convnp.autograd.grad(y, x, retain_graph=True)
    np.testing.assert_array_equal(gx.array, [3, 4])
    assert x.grad is None and w.grad is None
    gx, gw = convnp.autograd.grad([y], [x, w])
    np.testing.assert_array_equal(gw.array, [1, 2])
    unused = f64(1.0)
    with pytest.raises(RuntimeError, match="allow_unused"):
        convnp.autograd.grad((x * 2).sum(), [x, unused])
    gx, gu = convnp.autograd.grad((x * 2).sum(), [x, unused], allow_unused=True)
    assert gu is None
    z = x * 2
    (g,) = convnp.autograd.grad(z, x, grad_outputs=convnp.tensor([1.0, -1.0]))
    np.testing.assert_array_equal(g.array, [2, -2])


def test_inplace_on_leaf_requiring_grad():
    x = f64([1.0, 2.0])
    with pytest.raises(RuntimeError, match="in-place"):
        x.add_(1)
    with convnp.no_grad():
        x.add_(1)
        x *= 2
    np.testing.assert_array_equal(x.array, [4, 6])
    assert x.requires_grad and x.is_leaf


# ---------------------------------------------------------------------- grad mode
def test_no_grad_context_and_decorator():
    x = f64([1.0])
    with convnp.no_grad():
        assert not convnp.is_grad_enabled()
        y = x * 2
        with convnp.enable_grad():
            z = x * 2
    assert convnp.is_grad_enabled()
    assert not y.requires_grad and z.requires_grad

    @convnp.no_grad()
    def f(t):
        return t * 2

    @convnp.enable_grad()
    def g(t):
        return t * 2

    assert not f(x).requires_grad and convnp.is_grad_enabled()
    with convnp.no_grad():
        assert g(x).requires_grad
        assert not convnp.is_grad_enabled()


def test_set_grad_enabled_forms():
    x = f64([1.0])
    with convnp.set_grad_enabled(False):
        assert not (x * 2).requires_grad
    assert convnp.is_grad_enabled()
    convnp.set_grad_enabled(False)
    try:
        assert not convnp.is_grad_enabled()
    finally:
        convnp.set_grad_enabled(True)

    @convnp.set_grad_enabled(False)
    def f(t):
        return t * 2

    assert convnp.is_grad_enabled()
    assert not f(x).requires_grad and convnp.is_grad_enabled()


def test_no_grad_restores_mode_after_exception():
    with pytest.raises(ValueError):
        with convnp.no_grad():
            raise ValueError("boom")
    assert convnp.is_grad_enabled()


# ---------------------------------------------------------------------- Function, gradcheck
class _Square(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return a * a

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        return 2 * a * g


class _WrongSquare(_Square):
    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        return 2.1 * a * g  # deliberately wrong


class _WrongShapeRule(Function):
    """Correct on the diagonal only: swaps the two gradients of a product."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a * b

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        return g * a, g * b


def test_gradcheck_passes_on_correct_backward():
    assert gradcheck(_Square.apply, [f64(np.linspace(-1, 1, 5))])


def test_gradcheck_catches_wrong_backward():
    with pytest.raises(GradcheckError, match="gradient of input 0"):
        gradcheck(_WrongSquare.apply, [f64(np.linspace(-1, 1, 5))])
    with pytest.raises(GradcheckError):
        gradcheck(_WrongShapeRule.apply, [f64([1.0, 2.0]), f64([3.0, -1.0])])
    assert gradcheck(_WrongSquare.apply, [f64([0.5, 1.0])], raise_exception=False) is False


def test_gradcheck_requires_float64():
    with pytest.raises(TypeError, match="float64"):
        gradcheck(_Square.apply, [convnp.ones(3, requires_grad=True)])


def test_function_contract_needs_input_grad_and_non_differentiable():
    seen = {}

    class Probe(Function):
        @staticmethod
        def forward(ctx, a, b, scale=1.0):
            seen["needs"] = ctx.needs_input_grad
            ctx.mark_non_differentiable(1)
            return a * b * scale, np.argmax(a).reshape(())

        @staticmethod
        def backward(ctx, g, g_idx):
            seen["g_idx"] = g_idx
            return g, None

    a, b = f64([1.0, 3.0]), f64([2.0, 2.0], requires_grad=False)
    out, idx = Probe.apply(a, b, scale=2.0)
    assert seen["needs"] == (True, False)
    assert out.requires_grad and not idx.requires_grad
    out.sum().backward()
    assert seen["g_idx"] is None
    with pytest.raises(RuntimeError, match="expected 2"):
        class Bad(Function):
            @staticmethod
            def forward(ctx, a, b):
                return a + b

            @staticmethod
            def backward(ctx, g):
                return g

        Bad.apply(a, a).sum().backward()


# ---------------------------------------------------------------------- import hygiene
def test_import_convnp_is_light():
    """`import convnp` must not load torch (never) nor numba/scipy/matplotlib (lazy)."""
    code = ("import sys, convnp; print([m for m in ('torch', 'numba', 'scipy', 'matplotlib') "
            "if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", f"`import convnp` imported {out.stdout.strip()}"


def test_import_convnp_nn_and_optim_never_import_torch():
    """torch never; numba only when a compiled kernel first runs (not at import)."""
    code = ("import sys, convnp, convnp.nn, convnp.optim, convnp.nn.functional; "
            "print('torch' in sys.modules, 'numba' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False False"


# ---------------------------------------------------------------------- op error paths
_A, _B = convnp.ones(2, 3), convnp.ones(4, 5)


@pytest.mark.parametrize("call,exc,match", [
    (lambda: _A @ _B, RuntimeError, r"matmul: shapes \(2, 3\) and \(4, 5\) cannot be multiplied"),
    (lambda: convnp.matmul(convnp.tensor(1.0), _A), RuntimeError, "at least 1 dimension"),
    (lambda: convnp.mm(convnp.ones(2), _A), RuntimeError, "mm: expected 2-d"),
    (lambda: convnp.bmm(_A, _A), RuntimeError, "bmm: expected 3-d"),
    (lambda: _A * _B, RuntimeError, r"mul: shapes \(2, 3\) and \(4, 5\) cannot be broadcast"),
    (lambda: _A + convnp.ones(3, 3), RuntimeError, "add: shapes"),
    (lambda: _A.reshape(4, 4), RuntimeError, r"reshape: shape \[4, 4\] is invalid"),
    (lambda: convnp.cat([_A, _B]), RuntimeError, "cat: sizes of tensors must match"),
    (lambda: convnp.cat([]), ValueError, "cat: expected a non-empty"),
    (lambda: convnp.stack([_A, _B]), RuntimeError, "stack: expects each tensor to be equal"),
    (lambda: _A[5], IndexError, r"invalid for a tensor of shape \(2, 3\)"),
    (lambda: _A[convnp.tensor([0, 3])], IndexError, "invalid for a tensor of shape"),
    (lambda: _A.sum(3), IndexError, "sum: dimension out of range"),
    (lambda: _A.mean(dim="x"), TypeError, "mean: 'dim' must be an int"),
    (lambda: convnp.arange(3).mean(), TypeError, "mean: expected a floating-point input"),
    (lambda: _A.permute(0, 0), RuntimeError, "permute: dims"),
    (lambda: _A.expand(3, 3), RuntimeError, "expand: the expanded size"),
    (lambda: _A.transpose(0, 5), IndexError, "transpose: dimension out of range"),
    (lambda: _A.unsqueeze(4), IndexError, "unsqueeze: dimension out of range"),
    (lambda: _A.split([1, 1], 1), RuntimeError, "split: split sizes"),
    (lambda: _A.chunk(0), ValueError, "chunk: 'chunks' must be positive"),
    (lambda: convnp.clamp(_A), ValueError, "clamp: at least one"),
    (lambda: convnp.where(_A, _A, _A), TypeError, "where: 'condition' must be a bool"),
    (lambda: convnp.ones(2, 2, 2).t(), RuntimeError, "t\\(\\)"),
    (lambda: _A + "x", TypeError, "unsupported operand"),
], ids=["matmul", "matmul-0d", "mm", "bmm", "broadcast-mul", "broadcast-add", "reshape", "cat",
        "cat-empty", "stack", "index-int", "index-array", "sum-dim", "mean-dim-type", "mean-int",
        "permute", "expand", "transpose", "unsqueeze", "split", "chunk", "clamp", "where-cond",
        "t-3d", "bad-operand"])
def test_op_errors(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


# --- gradients the engine hands to .grad without a copy (an op's fresh result) -----------------

def _shares(a, b):
    return np.shares_memory(np.asarray(a), np.asarray(b))


def test_fresh_leaf_gradient_becomes_grad_without_copy_and_stays_correct():
    from convnp.autograd import engine

    calls = []
    real = engine._owned
    engine_owned = lambda counts: calls.append(real(counts)) or calls[-1]  # noqa: E731
    engine._owned = engine_owned
    try:
        x = convnp.tensor(np.array([-1.0, 2.0, 3.0]), requires_grad=True)
        g = np.array([5.0, 6.0, 7.0])
        convnp.relu(x).backward(convnp.tensor(g))
    finally:
        engine._owned = real
    assert calls == [True]  # relu's backward made a new array: nothing else holds it
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 6.0, 7.0])
    assert not _shares(x.grad.numpy(), g)
    convnp.relu(x).backward(convnp.tensor(g))  # a second backward adds to it
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 12.0, 14.0])


def test_upstream_gradient_passed_through_is_copied_not_aliased():
    # a view op hands the user's gradient on unchanged: .grad must not be the user's array
    x = convnp.tensor(np.zeros((2, 3)), requires_grad=True)
    g = np.arange(6.0)
    x.reshape(6).backward(convnp.tensor(g))
    assert not _shares(x.grad.numpy(), g)
    g[:] = -1
    np.testing.assert_array_equal(x.grad.numpy().ravel(), np.arange(6.0))


def test_gradient_sent_to_two_leaves_is_not_shared_between_their_grads():
    a = convnp.tensor(np.ones(4), requires_grad=True)
    b = convnp.tensor(np.ones(4), requires_grad=True)
    convnp.relu(a + b).sum().backward()  # Add's backward returns one array for both inputs
    assert not _shares(a.grad.numpy(), b.grad.numpy())
    a.grad.numpy()[:] = 9
    np.testing.assert_array_equal(b.grad.numpy(), np.ones(4))


def test_leaf_hook_that_keeps_its_gradient_does_not_alias_grad():
    x = convnp.tensor(np.array([1.0, -2.0]), requires_grad=True)
    seen = []
    x.register_hook(lambda g: seen.append(g))
    convnp.relu(x).backward(convnp.tensor(np.array([3.0, 4.0])))
    assert not _shares(seen[0].numpy() if hasattr(seen[0], "numpy") else seen[0],
                       x.grad.numpy())


def test_fan_out_sums_into_a_fresh_gradient_in_place_correctly():
    x = convnp.tensor(np.array([1.0, -2.0, 0.5]), requires_grad=True)
    y = convnp.relu(x)
    y.retain_grad()
    (y * 2 + convnp.relu(x) * 3 + y).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [6.0, 0.0, 6.0])
    np.testing.assert_allclose(y.grad.numpy(), [3.0, 3.0, 3.0])
    assert not _shares(x.grad.numpy(), y.grad.numpy())


def test_owned_test_sees_other_holders():
    from convnp.autograd.engine import _counts, _owned

    keep = []

    def measure(make, hold):
        a = make()  # the one local variable, as in the engine
        if hold:
            keep.append(a if a.base is None else a.base)
        return _owned(_counts(a))

    assert measure(lambda: np.empty(3), False)
    assert measure(lambda: np.empty(6).reshape(2, 3), False)
    assert not measure(lambda: np.empty(3), True)
    assert not measure(lambda: np.empty(6).reshape(2, 3), True)
    assert not measure(lambda: np.frombuffer(bytearray(24)), False)  # memory not an array's
