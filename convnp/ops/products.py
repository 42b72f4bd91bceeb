"""Products beyond ``matmul``: dot / inner / outer / mv, the ``add*`` fused forms (addmm,
baddbmm, ...), kron, tensordot, einsum, trace, cross and cdist. All but ``Einsum`` compose
``matmul`` and elementwise ops, so their gradients come from those."""

from __future__ import annotations

import numpy as np

from convnp import _autocast
from convnp.autograd.function import Function
from convnp.ops import elementwise as E
from convnp.ops import reduction as R
from convnp.ops.linalg import matmul

__all__ = ["dot", "vdot", "inner", "outer", "ger", "mv", "addmm", "addmv", "addr", "baddbmm",
           "addbmm", "chain_matmul", "kron", "tensordot", "einsum", "trace", "cross", "cdist"]


def _check(cond: bool, msg: str) -> None:
    if not cond:
        raise RuntimeError(msg)


def dot(input, tensor):
    """Inner product of two 1-d tensors of the same length."""
    _check(input.ndim == 1 and tensor.ndim == 1 and input.shape == tensor.shape,
           f"dot: expected two 1-d tensors of the same size, got shapes {tuple(input.shape)} "
           f"and {tuple(tensor.shape)}")
    return matmul(input, tensor)


vdot = dot  # the conjugate is the identity on real tensors


def inner(input, other):
    """Sum of products over the last dims (a scalar times a tensor for 0-d inputs)."""
    if input.ndim == 0 or other.ndim == 0:
        return E.mul(input, other)
    return matmul(input, other.transpose(-1, -2) if other.ndim > 1 else other)


def outer(input, vec2):
    """The matrix ``input[i] * vec2[j]`` of two 1-d tensors."""
    _check(input.ndim == 1 and vec2.ndim == 1,
           f"outer: expected 1-d tensors, got shapes {tuple(input.shape)} and "
           f"{tuple(vec2.shape)}")
    return E.mul(input.unsqueeze(1), vec2.unsqueeze(0))


ger = outer


def mv(input, vec):
    """Matrix (n, m) times vector (m,)."""
    _check(input.ndim == 2 and vec.ndim == 1,
           f"mv: expected a 2-d matrix and a 1-d vector, got shapes {tuple(input.shape)} and "
           f"{tuple(vec.shape)}")
    return matmul(input, vec)


def _addprod(input, prod, beta, alpha):
    out = prod if alpha == 1 else E.mul(prod, alpha)
    if beta == 0:  # torch ignores input (NaN and inf included); its gradient there is zero
        return E.where(np.zeros(out.shape, bool), input, out)
    return E.add(input if beta == 1 else E.mul(input, beta), out)


@_autocast.lower
def addmm(input, mat1, mat2, *, beta=1, alpha=1):
    """``beta * input + alpha * (mat1 @ mat2)``."""
    _check(mat1.ndim == 2 and mat2.ndim == 2, "addmm: mat1 and mat2 must be 2-d")
    return _addprod(input, matmul(mat1, mat2), beta, alpha)


def addmv(input, mat, vec, *, beta=1, alpha=1):
    """``beta * input + alpha * (mat @ vec)``."""
    return _addprod(input, mv(mat, vec), beta, alpha)


def addr(input, vec1, vec2, *, beta=1, alpha=1):
    """``beta * input + alpha * outer(vec1, vec2)``."""
    return _addprod(input, outer(vec1, vec2), beta, alpha)


def baddbmm(input, batch1, batch2, *, beta=1, alpha=1):
    """``beta * input + alpha * (batch1 @ batch2)`` per batch."""
    _check(batch1.ndim == 3 and batch2.ndim == 3, "baddbmm: batch1 and batch2 must be 3-d")
    return _addprod(input, matmul(batch1, batch2), beta, alpha)


def addbmm(input, batch1, batch2, *, beta=1, alpha=1):
    """``beta * input + alpha * sum_b batch1[b] @ batch2[b]``."""
    _check(batch1.ndim == 3 and batch2.ndim == 3, "addbmm: batch1 and batch2 must be 3-d")
    return _addprod(input, R.sum(matmul(batch1, batch2), 0), beta, alpha)


def chain_matmul(*matrices):
    """``matrices[0] @ matrices[1] @ ...`` (left to right)."""
    if len(matrices) == 1 and isinstance(matrices[0], (list, tuple)):
        matrices = tuple(matrices[0])
    out = matrices[0]
    for m in matrices[1:]:
        out = matmul(out, m)
    return out


def kron(input, other):
    """Kronecker product: blocks ``input[i, j] * other``."""
    nd = max(input.ndim, other.ndim)
    a = input.reshape((1,) * (nd - input.ndim) + tuple(input.shape))
    b = other.reshape((1,) * (nd - other.ndim) + tuple(other.shape))
    # (a0, 1, a1, 1, ...) * (1, b0, 1, b1, ...) -> (a0*b0, a1*b1, ...)
    ai = a.reshape(tuple(v for s in a.shape for v in (s, 1)))
    bi = b.reshape(tuple(v for s in b.shape for v in (1, s)))
    return E.mul(ai, bi).reshape(tuple(x * y for x, y in zip(a.shape, b.shape)))


def tensordot(a, b, dims=2):
    """Contract the last ``dims`` dims of ``a`` with the first of ``b`` (or the listed dims)."""
    if isinstance(dims, int):
        da = list(range(a.ndim - dims, a.ndim))
        db = list(range(dims))
    else:
        da, db = ([d] if isinstance(d, int) else list(d) for d in dims)
    da = [d % a.ndim for d in da]
    db = [d % b.ndim for d in db]
    for x, y in zip(da, db):
        _check(a.shape[x] == b.shape[y], f"tensordot: contracted dims differ in size: "
                                         f"{a.shape[x]} (dim {x} of a) vs {b.shape[y]} "
                                         f"(dim {y} of b)")
    fa = [d for d in range(a.ndim) if d not in da]
    fb = [d for d in range(b.ndim) if d not in db]
    k = int(np.prod([a.shape[d] for d in da]))
    am = a.permute(*fa, *da).reshape(-1, k)  # (free_a, k)
    bm = b.permute(*db, *fb).reshape(k, -1)  # (k, free_b)
    return matmul(am, bm).reshape(tuple(a.shape[d] for d in fa) + tuple(b.shape[d] for d in fb))


class Einsum(Function):
    """``numpy.einsum``; each operand's gradient is the einsum of the upstream gradient with
    the other operands, broadcast back over the labels only that operand carries."""

    @staticmethod
    def forward(ctx, *arrays, spec):
        ins, out = spec
        ctx.spec, ctx.save = spec, arrays
        return np.asarray(np.einsum(",".join(ins) + "->" + out, *arrays))

    @staticmethod
    def backward(ctx, g):
        ins, out = ctx.spec
        grads = []
        for i, sub in enumerate(ins):
            if not ctx.needs_input_grad[i]:
                grads.append(None)
                continue
            if len(set(sub)) != len(sub):
                raise NotImplementedError("einsum: gradients of repeated labels within one "
                                          "operand (diagonals) are not supported")
            others = [s for j, s in enumerate(ins) if j != i]
            arrays = [a for j, a in enumerate(ctx.save) if j != i]
            present = set(out).union(*others)
            target = "".join(c for c in sub if c in present)
            gi = np.einsum(",".join([out, *others]) + "->" + target, g, *arrays)
            # labels only this operand carries were summed in forward: broadcast them back
            gi = gi[tuple(slice(None) if c in present else None for c in sub)]
            grads.append(np.ascontiguousarray(np.broadcast_to(gi, ctx.save[i].shape)))
        return tuple(grads)


def einsum(equation: str, *operands):
    """Einstein summation (``'ij,jk->ik'``); implicit output (no ``->``) and ``...`` as
    NumPy/torch read them."""
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    eq = equation.replace(" ", "")
    if "..." in eq:  # explicit labels for the broadcast dims
        eq = _expand_ellipsis(eq, [o.array for o in operands])
    ins, _, out = eq.partition("->")
    ins = ins.split(",")
    if "->" not in eq:
        counts = {}
        for c in "".join(ins):
            counts[c] = counts.get(c, 0) + 1
        out = "".join(sorted(c for c, n in counts.items() if n == 1))
    _check(len(ins) == len(operands), f"einsum: the equation names {len(ins)} operands but "
                                      f"{len(operands)} were given")
    return Einsum.apply(*operands, spec=(ins, out))


def _expand_ellipsis(eq, arrays):
    """Replace ``...`` by unused labels (broadcast dims), as NumPy does."""
    ins, arrow, out = eq.partition("->")
    ins = ins.split(",")
    used = set(eq) - set(".,->")
    free = [c for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ" if c not in used]
    nell = max((a.ndim - len(s.replace("...", "")) for s, a in zip(ins, arrays) if "..." in s),
               default=0)
    ell = "".join(free[:nell])
    new_ins = [s.replace("...", ell[nell - (a.ndim - len(s.replace("...", ""))):])
               for s, a in zip(ins, arrays)]
    if arrow:
        out = out.replace("...", ell)
    else:
        counts = {}
        for c in "".join(new_ins):
            counts[c] = counts.get(c, 0) + 1
        out = ell + "".join(sorted(c for c, n in counts.items() if n == 1 and c not in ell))
    return ",".join(new_ins) + "->" + out


def trace(input):
    """Sum of the main diagonal of a 2-d tensor."""
    from convnp.ops.shape import diagonal

    _check(input.ndim == 2, f"trace: expected a 2-d tensor, got {input.ndim} dims")
    return R.sum(diagonal(input))


def cross(input, other, dim=None):
    """Cross product of 3-vectors along ``dim`` (the first dim of size 3 when None)."""
    if dim is None:
        dim = next((i for i, s in enumerate(input.shape) if s == 3), None)
        _check(dim is not None, "cross: no dimension of size 3 in input")
    a = [input.select(dim, i) for i in range(3)]
    b = [other.select(dim, i) for i in range(3)]
    from convnp.ops.movement import stack

    return stack([E.sub(E.mul(a[1], b[2]), E.mul(a[2], b[1])),
                  E.sub(E.mul(a[2], b[0]), E.mul(a[0], b[2])),
                  E.sub(E.mul(a[0], b[1]), E.mul(a[1], b[0]))], dim % input.ndim)


def cdist(x1, x2, p=2.0, compute_mode="use_mm_for_euclid_dist_if_necessary"):
    """p-norm distances between every row of ``x1`` ``(..., P, M)`` and of ``x2``
    ``(..., R, M)``: ``(..., P, R)``."""
    d = E.sub(x1.unsqueeze(-2), x2.unsqueeze(-3))  # (..., P, R, M)
    return R.norm(d, p, -1)
