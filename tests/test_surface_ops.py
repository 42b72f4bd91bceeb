"""The indexing, shape, reduction, comparison and creation functions added for torch parity
(convnp/ops/indexing.py, shape.py, reduction.py's second half, comparison.py, creation.py):
one table per family, each case run in convnp and torch (values and input gradients, float32
and float64), then error paths."""

import numpy as np
import pytest

import convnp
from tests.oracle import compare, distinct, rand

torch = pytest.importorskip("torch")

I = np.array  # integer index arrays pass through compare as int64 tensors

# id -> (fn(lib, *tensors), inputs); float arrays become leaves that require grad
CASES = {
    # indexing
    "gather": (lambda m, x, i: m.gather(x, 1, i), (rand(3, 4), I([[0, 3], [1, 1], [2, 0]]))),
    "take": (lambda m, x, i: m.take(x, i), (rand(3, 4), I([[0, 11], [5, 5]]))),
    "take_along_dim": (lambda m, x, i: m.take_along_dim(x, i, 1), (rand(3, 4), I([[0], [3],
                                                                                  [1]]))),
    "take_along_dim-flat": (lambda m, x, i: m.take_along_dim(x, i), (rand(3, 4), I([2, 7]))),
    "index_select": (lambda m, x, i: m.index_select(x, 1, i), (rand(3, 4), I([3, 0, 3]))),
    "masked_select": (lambda m, x: m.masked_select(x, x > 0), (rand(3, 4),)),
    "narrow": (lambda m, x: m.narrow(x, 1, 1, 2), (rand(3, 4),)),
    "select": (lambda m, x: m.select(x, 0, -1), (rand(3, 4),)),
    "scatter": (lambda m, x, s, i: m.scatter(x, 1, i, s), (rand(3, 4), rand(3, 2),
                                                           I([[0, 3], [1, 2], [2, 0]]))),
    "scatter-value": (lambda m, x, i: x.scatter(0, i, 2.5), (rand(3, 4), I([[1, 2, 0, 1]]))),
    "scatter_add": (lambda m, x, s, i: m.scatter_add(x, 1, i, s), (rand(3, 4), rand(3, 3),
                                                                   I([[0, 0, 3], [1, 2, 1],
                                                                      [2, 0, 2]]))),
    "scatter_reduce-mean": (lambda m, x, s, i: m.scatter_reduce(x, 1, i, s, "mean"),
                            (rand(3, 4), rand(3, 3), I([[0, 0, 3], [1, 2, 1], [2, 0, 2]]))),
    "scatter_reduce-amax-noself": (
        lambda m, x, s, i: m.scatter_reduce(x, 1, i, s, "amax", include_self=False),
        (distinct(3, 4), distinct(3, 3, seed=1), I([[0, 0, 3], [1, 2, 1], [2, 0, 2]]))),
    "scatter_reduce-amin": (lambda m, x, s, i: m.scatter_reduce(x, 0, i, s, "amin"),
                            (distinct(3, 4), distinct(2, 4, seed=1), I([[0, 1, 2, 0],
                                                                       [2, 1, 0, 0]]))),
    "scatter_reduce-prod": (lambda m, x, s, i: m.scatter_reduce(x, 1, i, s, "prod"),
                            (rand(3, 4, low=0.5), rand(3, 2, low=0.5), I([[0, 0], [1, 2],
                                                                          [3, 3]]))),
    "index_add": (lambda m, x, s, i: m.index_add(x, 0, i, s, alpha=2), (rand(3, 4), rand(2, 4),
                                                                        I([2, 2]))),
    "index_copy": (lambda m, x, s, i: m.index_copy(x, 1, i, s), (rand(3, 4), rand(3, 2),
                                                                 I([3, 0]))),
    "index_fill": (lambda m, x, i: x.index_fill(1, i, -1.5), (rand(3, 4), I([1, 2]))),
    "index_reduce": (lambda m, x, s, i: x.index_reduce(0, i, s, "amax"),
                     (distinct(3, 4), distinct(2, 4, seed=1), I([0, 2]))),
    "index_put-acc": (lambda m, x, v, i: x.index_put((i, i), v, accumulate=True),
                      (rand(3, 4), rand(3), I([0, 2, 0]))),
    "masked_scatter": (lambda m, x, s: x.masked_scatter(x > 0, s), (rand(3, 4), rand(12))),
    "masked_fill": (lambda m, x: m.masked_fill(x, x < 0, 0.5), (rand(3, 4),)),
    "put": (lambda m, x, s, i: x.put(i, s, accumulate=True), (rand(3, 4), rand(3), I([1, 1,
                                                                                       11]))),
    "select_scatter": (lambda m, x, s: m.select_scatter(x, s, 1, 2), (rand(3, 4), rand(3))),
    "slice_scatter": (lambda m, x, s: m.slice_scatter(x, s, 1, 0, 4, 2), (rand(3, 4),
                                                                          rand(3, 2))),
    "diagonal_scatter": (lambda m, x, s: m.diagonal_scatter(x, s, 1), (rand(3, 4), rand(3))),
    "diagonal_scatter-3d": (lambda m, x, s: m.diagonal_scatter(x, s, -1, 0, 2),
                            (rand(3, 2, 4), rand(2, 2))),
    # shape
    "movedim": (lambda m, x: m.movedim(x, (0, 2), (2, 0)), (rand(2, 3, 4),)),
    "moveaxis": (lambda m, x: m.moveaxis(x, 0, -1), (rand(2, 3, 4),)),
    "swapaxes": (lambda m, x: m.swapaxes(x, 0, 2), (rand(2, 3, 4),)),
    "adjoint": (lambda m, x: m.adjoint(x), (rand(2, 3, 4),)),
    "tile": (lambda m, x: m.tile(x, (2, 1, 2)), (rand(3, 2),)),
    "unbind": (lambda m, x: m.unbind(x, 1), (rand(2, 3),)),
    "tensor_split-n": (lambda m, x: m.tensor_split(x, 3, 1), (rand(2, 7),)),
    "tensor_split-idx": (lambda m, x: m.tensor_split(x, [1, 5, 9], 1), (rand(2, 7),)),
    "hsplit": (lambda m, x: m.hsplit(x, 2), (rand(2, 4),)),
    "vsplit": (lambda m, x: m.vsplit(x, [1]), (rand(3, 4),)),
    "dsplit": (lambda m, x: m.dsplit(x, 2), (rand(2, 2, 4),)),
    "hstack": (lambda m, x, y: m.hstack([x, y]), (rand(2, 3), rand(2, 1))),
    "vstack": (lambda m, x, y: m.vstack([x, y]), (rand(3), rand(2, 3))),
    "dstack": (lambda m, x, y: m.dstack([x, y]), (rand(3), rand(1, 3))),
    "column_stack": (lambda m, x, y: m.column_stack([x, y]), (rand(3), rand(3, 2))),
    "atleast_3d": (lambda m, x, y: m.atleast_3d(x, y), (rand(3), rand(2, 3))),
    "broadcast_to": (lambda m, x: m.broadcast_to(x, (2, 3, 4)), (rand(3, 1),)),
    "broadcast_tensors": (lambda m, x, y: m.broadcast_tensors(x, y), (rand(3, 1), rand(4))),
    "ravel": (lambda m, x: m.ravel(x.t()), (rand(3, 4),)),
    "fliplr-flipud": (lambda m, x: m.fliplr(x) + m.flipud(x), (rand(3, 3),)),
    "roll": (lambda m, x: m.roll(x, (1, -2), (0, 1)), (rand(3, 4),)),
    "roll-flat": (lambda m, x: m.roll(x, 5), (rand(3, 4),)),
    "rot90": (lambda m, x: [m.rot90(x, k, (1, 2)) for k in range(-1, 4)], (rand(2, 3, 4),)),
    "repeat_interleave": (lambda m, x: m.repeat_interleave(x, 2, 1), (rand(2, 3),)),
    "repeat_interleave-flat": (lambda m, x, r: m.repeat_interleave(x, r), (rand(3), I([1, 0,
                                                                                       3]))),
    "diagonal": (lambda m, x: m.diagonal(x, -1, 2, 0), (rand(3, 2, 4),)),
    "diag-1d": (lambda m, x: m.diag(x, 1), (rand(3),)),
    "diag-2d": (lambda m, x: m.diag(x, -1), (rand(3, 4),)),
    "diag_embed": (lambda m, x: m.diag_embed(x, 1, 0, 2), (rand(2, 3),)),
    "diagflat": (lambda m, x: m.diagflat(x), (rand(2, 2),)),
    "tril-triu": (lambda m, x: m.tril(x, 1) + m.triu(x, -1), (rand(2, 3, 4),)),
    "meshgrid-ij": (lambda m, x, y: m.meshgrid(x, y, indexing="ij"), (rand(3), rand(2))),
    "meshgrid-xy": (lambda m, x, y, z: m.meshgrid(x, y, z, indexing="xy"), (rand(3), rand(2),
                                                                             rand(4))),
    "cartesian_prod": (lambda m, x, y: m.cartesian_prod(x, y), (rand(3), rand(2))),
    "unfold": (lambda m, x: x.unfold(1, 3, 2), (rand(2, 7, 3),)),
    "as_strided": (lambda m, x: m.as_strided(x, (3, 3), (2, 1), 1), (rand(12),)),
    # reductions
    "nansum": (lambda m, x: m.nansum(m.where(x > 0.5, float("nan"), x), 1), (rand(3, 4),)),
    "nanmean": (lambda m, x: m.nanmean(m.where(x > 0.5, float("nan"), x), 0), (rand(3, 4),)),
    "var_mean": (lambda m, x: m.var_mean(x, 1, keepdim=True), (rand(3, 4),)),
    "std_mean": (lambda m, x: m.std_mean(x, correction=0), (rand(3, 4),)),
    "aminmax": (lambda m, x: m.aminmax(x, dim=0), (distinct(3, 4),)),
    "norm-p3": (lambda m, x: m.norm(x, 3, 1), (rand(3, 4),)),
    "norm-inf": (lambda m, x: m.norm(x, float("inf")), (distinct(3, 4),)),
    "dist": (lambda m, x, y: m.dist(x, y, 1.5), (rand(3, 4), rand(4))),
    "median": (lambda m, x: m.median(x), (distinct(3, 4),)),
    "median-dim": (lambda m, x: m.median(x, 1, keepdim=True), (distinct(3, 4),)),
    "nanmedian": (lambda m, x: m.nanmedian(m.where(x > 0.02, float("nan"), x), 1),
                  (distinct(3, 5),)),
    "kthvalue": (lambda m, x: m.kthvalue(x, 2, 0), (distinct(3, 4),)),
    "quantile": (lambda m, x: m.quantile(x, 0.3, 1, keepdim=True), (distinct(3, 5),)),
    "quantile-q-tensor": (lambda m, x: m.quantile(x, m.tensor([0.1, 0.5, 1.0], dtype=x.dtype),
                                                  interpolation="midpoint"), (distinct(3, 5),)),
    "quantile-modes": (lambda m, x: [m.quantile(x, 0.55, 0, interpolation=i) for i in
                                     ("lower", "higher", "nearest")], (distinct(4, 3),)),
    "nanquantile": (lambda m, x: m.nanquantile(m.where(x > 0.03, float("nan"), x), 0.4, 1),
                    (distinct(3, 5),)),
    "cumsum": (lambda m, x: m.cumsum(x, 1), (rand(3, 4),)),
    "cumprod": (lambda m, x: m.cumprod(x, 0), (rand(3, 4),)),
    "cummax-cummin": (lambda m, x: [*m.cummax(x, 1), *m.cummin(x, 0)], (distinct(3, 4),)),
    "logcumsumexp": (lambda m, x: m.logcumsumexp(x, 1), (rand(3, 4),)),
    "msort": (lambda m, x: m.msort(x), (distinct(3, 4),)),
    # products and numeric helpers
    "dot-inner-outer": (lambda m, x, y: [m.dot(x, y), m.inner(x, y), m.outer(x, y)],
                        (rand(3), rand(3, seed=1))),
    "mv-addmv": (lambda m, a, v, b: [m.mv(a, v), m.addmv(b, a, v, beta=0.5, alpha=2)],
                 (rand(2, 3), rand(3), rand(2))),
    "addmm-addr": (lambda m, a, b, c: [m.addmm(c, a, b.t(), alpha=0.3), m.addr(c, a[:, 0],
                                                                                b[:, 1])],
                   (rand(2, 3), rand(2, 3, seed=1), rand(2, 2, seed=2))),
    "baddbmm-addbmm": (lambda m, a, b, c: [m.baddbmm(c, a, b, beta=2), m.addbmm(c[0], a, b)],
                       (rand(2, 2, 3), rand(2, 3, 2, seed=1), rand(2, 2, 2, seed=2))),
    "addmm-beta0": (lambda m, a, b, c: m.addmm(c, a, b.t(), beta=0), (rand(2, 3), rand(2, 3),
                                                                      rand(2, 2))),
    "chain_matmul-kron": (lambda m, a, b: [m.chain_matmul(a, b.t(), a), m.kron(a, b)],
                          (rand(2, 3), rand(2, 3, seed=1))),
    "tensordot": (lambda m, a, b, c: [m.tensordot(a, b, 1), m.tensordot(a, c, ([0, 1], [1, 0]))],
                  (rand(2, 3, 4), rand(4, 2, 5, seed=1), rand(3, 2, 5, seed=2))),
    "einsum": (lambda m, a, b, c: [m.einsum("ij,jk->ik", a, b), m.einsum("bij,bjk", c, c),
                                   m.einsum("ij->", a), m.einsum("i,j->ij", a[0], b[0]),
                                   m.einsum("...j,jk->...k", c, b), m.einsum("ij,kj->ik", a, a)],
               (rand(2, 3), rand(3, 4, seed=1), rand(2, 3, 3, seed=2))),
    "einsum-summed-label": (lambda m, a, b: m.einsum("ijk,j->i", a, b), (rand(2, 3, 4),
                                                                        rand(3, seed=1))),
    "trace-cross": (lambda m, a, b: [m.trace(a), m.cross(a, b, 1), m.cross(a, b)],
                    (rand(3, 3), rand(3, 3, seed=1))),
    "cdist": (lambda m, a, b: [m.cdist(a, b), m.cdist(a, b, 1.0)], (rand(2, 4, 3),
                                                                   rand(2, 5, 3, seed=1))),
    "diff": (lambda m, a, b: [m.diff(a), m.diff(a, 2, 0, prepend=b, append=b)],
             (rand(3, 4), rand(1, 4, seed=1))),
    "cov-corrcoef": (lambda m, a: [m.cov(a), m.cov(a, correction=0), m.corrcoef(a)],
                     (rand(3, 6),)),
    "block_diag": (lambda m, a, b, c: m.block_diag(a, b, c), (rand(2, 3), rand(3),
                                                              rand(1, 1))),
    "combinations": (lambda m, a: [m.combinations(a), m.combinations(a, 3, True)], (rand(4),)),
    "renorm": (lambda m, a: m.renorm(a, 2, 0, 0.8), (rand(3, 4),)),
    "trapezoid": (lambda m, y, x: [m.trapezoid(y), m.trapezoid(y, dx=0.5, dim=0),
                                   m.trapezoid(y, x.cumsum(0)), m.trapz(y),
                                   m.cumulative_trapezoid(y, dim=0)],
                  (rand(3, 4), rand(4, low=0.1, seed=1))),
    # numpy-style keyword aliases torch accepts
    "sum-axis-keepdims": (lambda m, x: x.sum(axis=1, keepdims=True), (rand(3, 4),)),
    "mean-axis": (lambda m, x: m.mean(x, axis=(0, 1)), (rand(3, 4),)),
    "max-axis": (lambda m, x: x.max(axis=0), (distinct(3, 4),)),
    "std-axis": (lambda m, x: x.std(axis=1), (rand(3, 4),)),
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_case_matches_torch(case, dtype):
    fn, inputs = CASES[case]

    def flat(out):
        if isinstance(out, (list, tuple)):
            return [o for x in out for o in flat(x)]
        return [out]

    tol = {"rtol": 1e-4, "atol": 2e-5} if dtype == np.float32 else {}
    compare(lambda *t: flat(fn(convnp, *t)), lambda *t: flat(fn(torch, *t)), *inputs,
            dtype=dtype, **tol)


def test_vander_values_and_gradcheck():
    from convnp.autograd import gradcheck

    # torch's own vander backward fails ("modified by an inplace operation"): values only
    x = rand(3)
    for kw in ({}, {"N": 2, "increasing": True}):
        np.testing.assert_allclose(convnp.vander(convnp.tensor(x), **kw).numpy(),
                                   torch.vander(torch.tensor(x), **kw).numpy())
    assert gradcheck(convnp.vander, [convnp.tensor(x, requires_grad=True)])


# values only (integer or bool results, no gradient)
VALUE_CASES = {
    "nonzero": lambda m, x: m.nonzero(x > 0),
    "nonzero-tuple": lambda m, x: m.nonzero(x > 0, as_tuple=True),
    "argwhere": lambda m, x: m.argwhere(x),
    "count_nonzero": lambda m, x: m.count_nonzero(x, 1),
    "all-any": lambda m, x: [m.all(x > -2, 1), m.any(x > 1, 0), x.all(), (x > 0).any(axis=1)],
    "unique": lambda m, x: m.unique(x.round(), return_inverse=True, return_counts=True),
    "unique-dim": lambda m, x: m.unique((x > 0).long(), dim=0, return_inverse=True),
    "unique_consecutive": lambda m, x: m.unique_consecutive(
        m.tensor([1, 1, 2, 2, 3, 1, 1]), return_inverse=True, return_counts=True),
    "mode": lambda m, x: m.mode(m.tensor([[1, 2, 2, 3, 3], [4, 4, 1, 1, 0]]), 1),
    "comparisons": lambda m, x: [m.greater(x, 0), m.less_equal(x, 0.5), m.not_equal(x, x),
                                 m.isclose(x, x + 1e-9), m.isin(m.tensor([1, 2, 3]),
                                                                m.tensor([2, 9])),
                                 m.isreal(x), m.greater_equal(x, x.t().t())],
    "unravel_index": lambda m, x: m.unravel_index(m.tensor([0, 5, 11]), (3, 4)),
    "argmax-axis": lambda m, x: [x.argmax(axis=1), m.argmin(x, axis=0, keepdims=True)],
    "bernoulli-ones": lambda m, x: m.bernoulli(m.ones(2, 3)),
    "range-logspace": lambda m, x: [m.range(0, 2, 0.5), m.logspace(0, 2, 3, base=2)],
    "scalar_tensor": lambda m, x: m.scalar_tensor(3),
    "broadcast_shapes": lambda m, x: m.tensor(m.broadcast_shapes((3, 1), (4,), 1)),
    "repeat_interleave-counts": lambda m, x: m.repeat_interleave(m.tensor([2, 0, 1])),
    "one_hot": lambda m, x: m.nn.functional.one_hot(m.tensor([[0, 2], [1, 1]]), 4),
    "tri_indices": lambda m, x: [m.tril_indices(3, 4, 1), m.triu_indices(4, 3, -1)],
    "bincount": lambda m, x: [m.bincount(m.tensor([0, 3, 3, 1]), minlength=6),
                              m.bincount(m.tensor([0, 3, 3]), x[0, :3])],
    "histc-histogram": lambda m, x: [m.histc(x, 5), m.histc(x, 4, -1, 1),
                                     *m.histogram(x, 3)],
    "searchsorted": lambda m, x: [m.searchsorted(m.tensor([[1, 3, 5], [2, 4, 6]]),
                                                 m.tensor([[3, 0], [6, 7]]), right=True),
                                  m.bucketize(x, m.tensor([-1.0, 0.0, 1.0])),
                                  m.searchsorted(m.tensor([1, 3, 5]), m.tensor([3, 4]))],
}


@pytest.mark.parametrize("case", sorted(VALUE_CASES))
def test_value_case_matches_torch(case):
    x = distinct(3, 4, spacing=0.37).astype(np.float32)
    fn = VALUE_CASES[case]

    def flat(out):
        if isinstance(out, (list, tuple)):
            return [o for v in out for o in flat(v)]
        return [out]

    c = flat(fn(convnp, convnp.tensor(x)))
    t = flat(fn(torch, torch.tensor(x)))
    assert len(c) == len(t)
    for a, b in zip(c, t):
        b = b.numpy()
        assert a.shape == b.shape
        assert a.dtype == b.dtype, (a.dtype, b.dtype)
        np.testing.assert_allclose(a.numpy(), b, rtol=1e-6)


def test_random_creation_functions_shapes_dtypes_and_statistics():
    convnp.manual_seed(0)
    x = convnp.normal(2.0, 0.5, size=(2000,))
    assert x.shape == (2000,) and x.dtype == np.float32 and abs(x.mean().item() - 2) < 0.05
    m = convnp.normal(convnp.zeros(3, dtype=convnp.float64), convnp.ones(3, dtype=convnp.float64))
    assert m.dtype == np.float64 and m.shape == (3,)
    b = convnp.bernoulli(convnp.full((1000,), 0.25))
    assert set(np.unique(b.numpy())) <= {0.0, 1.0} and 0.18 < b.mean().item() < 0.32
    s = convnp.multinomial(convnp.tensor([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]]), 2, replacement=True)
    assert s.tolist() == [[1, 1], [0, 0]] and s.dtype == np.int64
    s = convnp.multinomial(convnp.tensor([1.0, 2.0, 3.0]), 3)
    assert sorted(s.tolist()) == [0, 1, 2]
    p = convnp.poisson(convnp.full((500,), 3.0))
    assert p.dtype == np.float32 and abs(p.mean().item() - 3) < 0.3
    r = convnp.randint_like(convnp.zeros(2, 3), 5)
    assert r.shape == (2, 3) and r.dtype == np.float32 and r.max().item() < 5
    assert convnp.rand(size=(2, 3)).shape == (2, 3) and convnp.zeros(size=[4]).shape == (4,)
    assert convnp.empty_strided((2, 3), (3, 1)).shape == (2, 3)
    t = convnp.empty(3).exponential_()
    assert (t.numpy() > 0).all()
    assert convnp.zeros(4).random_(3, 5).numpy().min() >= 3
    buf = np.arange(4, dtype=np.float32).tobytes()
    assert convnp.frombuffer(buf, dtype=convnp.float32).tolist() == [0, 1, 2, 3]
    assert convnp.from_dlpack(np.arange(3.0)).tolist() == [0, 1, 2]
    a = np.ones(3)
    assert convnp.asarray(a).numpy() is a or np.shares_memory(convnp.asarray(a).numpy(), a)
    assert not np.shares_memory(convnp.asarray(a, copy=True).numpy(), a)


def test_errors_name_the_function_and_the_fix():
    x = convnp.ones(3, 4)
    with pytest.raises(TypeError, match="gather: 'index' must be an integer"):
        convnp.gather(x, 1, convnp.ones(3, 1))
    with pytest.raises(IndexError, match="gather: index out of range for dim 1 of size 4"):
        convnp.gather(x, 1, convnp.tensor([[4]]))
    with pytest.raises(RuntimeError, match="scatter: index has 1 dims but input has 2"):
        convnp.scatter(x, 1, convnp.tensor([0]), convnp.ones(1))
    with pytest.raises(ValueError, match="scatter_reduce: reduce must be"):
        convnp.scatter_reduce(x, 1, convnp.tensor([[0]]), convnp.ones(1, 1), "median")
    with pytest.raises(IndexError, match="narrow: start \\(3\\) \\+ length \\(2\\) exceeds"):
        convnp.narrow(x, 1, 3, 2)
    with pytest.raises(RuntimeError, match="movedim: repeated dim"):
        convnp.movedim(x, (0, 0), (1, 0))
    with pytest.raises(RuntimeError, match="hsplit: dim 1 of size 4 is not divisible by 3"):
        convnp.hsplit(x, 3)
    with pytest.raises(RuntimeError, match="kthvalue: k \\(5\\) must be in \\[1, 4\\]"):
        convnp.kthvalue(x, 5)
    with pytest.raises(RuntimeError, match="quantile: q must be a scalar or 1-d tensor"):
        convnp.quantile(x, 1.5)
    with pytest.raises(TypeError, match="sum: got both 'dim' and its alias 'axis'"):
        x.sum(dim=0, axis=1)
    with pytest.raises(RuntimeError, match="multinomial: cannot sample 4 > 3 categories"):
        convnp.multinomial(convnp.ones(3), 4)
    with pytest.raises(RuntimeError, match="as_strided: size \\(3, 3\\), stride \\(5, 1\\)"):
        convnp.as_strided(x, (3, 3), (5, 1))
    with pytest.raises(ValueError, match="meshgrid: indexing must be 'ij' or 'xy'"):
        convnp.meshgrid(convnp.ones(2), indexing="ji")
    with pytest.raises(NotImplementedError, match="norm\\(p='nuc'\\)"):
        convnp.norm(x, "nuc")


GRADCHECK = {  # the new Functions (Put, ScatterReduce, Roll, Diagonal, Embedding, ...)
    "put": lambda x, s: x.index_put((convnp.tensor([0, 2]),), s[:1].expand(2, 4)),
    "scatter_reduce-sum": lambda x, s: x.scatter_reduce(
        1, convnp.tensor([[0, 0, 3], [1, 2, 1], [2, 0, 2]]), s[:, :3], "sum"),
    "scatter_reduce-mean": lambda x, s: x.scatter_reduce(
        1, convnp.tensor([[0, 0, 3], [1, 2, 1], [2, 0, 2]]), s[:, :3], "mean",
        include_self=False),
    "scatter_reduce-amax": lambda x, s: x.scatter_reduce(
        1, convnp.tensor([[0, 0, 3], [1, 2, 1], [2, 0, 2]]), s[:, :3], "amax"),
    "scatter_reduce-prod": lambda x, s: (x.abs() + 0.5).scatter_reduce(
        1, convnp.tensor([[0, 0], [1, 2], [3, 3]]), s[:, :2].abs() + 0.5, "prod"),
    "roll": lambda x, s: convnp.roll(x * s, (1, 2), (0, 1)),
    "diagonal": lambda x, s: convnp.diagonal(x * s, 1),
    "cumsum": lambda x, s: convnp.cumsum(x * s, 1),
    "einsum": lambda x, s: convnp.einsum("ij,kj->ik", x, s) + convnp.einsum("ij,j->i", x,
                                                                               s[0]).sum(),
    "embedding": lambda x, s: convnp.nn.functional.embedding(convnp.tensor([[0, 2], [2, 2]]),
                                                             x * s, padding_idx=1),
    "grid_sample": lambda x, s: convnp.nn.functional.grid_sample(
        x.reshape(1, 1, 3, 4), s.reshape(1, 3, 2, 2) * 0.9, padding_mode="reflection"),
}


@pytest.mark.parametrize("case", sorted(GRADCHECK))
def test_gradcheck_new_functions(case):
    from convnp.autograd import gradcheck

    x = convnp.tensor(distinct(3, 4, spacing=0.13), dtype=convnp.float64, requires_grad=True)
    s = convnp.tensor(distinct(3, 4, seed=2, spacing=0.11), dtype=convnp.float64,
                      requires_grad=True)
    assert gradcheck(GRADCHECK[case], [x, s])
