"""Pointwise math by table: every unary and binary function is one row holding its forward and
its derivative, side by side (minitorch's ``log`` / ``log_back`` idea, as a table).

A row becomes a ``Function`` subclass named after torch's op (so ``grad_fn`` reads
``<SinhBackward...>``) and a functional form ``convnp.sinh(x)``; ``convnp/_tensor_api.py`` turns the
same rows into ``Tensor`` methods and their in-place ``*_`` variants. The hand-written ops of
``elementwise.py`` (add, mul, exp, ...) stay where they are; this module adds the rest of torch's
pointwise list.

Integer and bool inputs of float-valued functions compute in the default float dtype, as torch
promotes them; rounding-style functions (floor, sign, ...) keep integer dtypes.
"""

from __future__ import annotations

import math
from collections import namedtuple

import numpy as np

from convnp._dtype import is_floating
from convnp.autograd.function import Function
from convnp.ops.elementwise import as_operand, binary

_Frexp = namedtuple("frexp", ["mantissa", "exponent"])



class _LazySpecial:
    """``scipy.special``, imported on first use (``import convnp`` stays light)."""

    def __getattr__(self, name):
        from scipy import special as sp

        return getattr(sp, name)


special = _LazySpecial()
_LN2, _LN10 = math.log(2.0), math.log(10.0)
_SQRT_PI = math.sqrt(math.pi)


def _floatify(a: np.ndarray) -> np.ndarray:
    """Integer/bool input of a float-valued function: compute in the default float dtype."""
    if a.dtype.kind in "biu":
        from convnp._dtype import get_default_dtype

        return a.astype(get_default_dtype())
    return a


def _sinc_grad(a, y):
    pa = np.pi * a
    with np.errstate(divide="ignore", invalid="ignore"):
        d = (np.cos(pa) * pa - np.sin(pa)) / (pa * a)
    return np.where(a == 0, 0, d)


def _zero(a, y):
    return np.zeros_like(a)


# name -> (forward(a), derivative(a, out) or None when the op has no gradient (bool output)).
# Derivatives are d out / d a, elementwise; ``_zero`` marks step functions (torch's gradient is 0).
UNARY_FLOAT = {  # float-valued: integer inputs are promoted to the default float dtype
    "sinh": (np.sinh, lambda a, y: np.cosh(a)),
    "cosh": (np.cosh, lambda a, y: np.sinh(a)),
    "tan": (np.tan, lambda a, y: 1 + y * y),
    "asin": (np.arcsin, lambda a, y: 1 / np.sqrt(1 - a * a)),
    "acos": (np.arccos, lambda a, y: -1 / np.sqrt(1 - a * a)),
    "atan": (np.arctan, lambda a, y: 1 / (1 + a * a)),
    "asinh": (np.arcsinh, lambda a, y: 1 / np.sqrt(a * a + 1)),
    "acosh": (np.arccosh, lambda a, y: 1 / np.sqrt(a * a - 1)),
    "atanh": (np.arctanh, lambda a, y: 1 / (1 - a * a)),
    "exp2": (np.exp2, lambda a, y: y * _LN2),
    "expm1": (np.expm1, lambda a, y: y + 1),
    "log2": (np.log2, lambda a, y: 1 / (a * _LN2)),
    "log10": (np.log10, lambda a, y: 1 / (a * _LN10)),
    "log1p": (np.log1p, lambda a, y: 1 / (1 + a)),
    "rsqrt": (lambda a: 1 / np.sqrt(a), lambda a, y: -0.5 * y * y * y),
    "reciprocal": (lambda a: 1 / a, lambda a, y: -y * y),
    "erf": (lambda a: special.erf(a), lambda a, y: 2 / _SQRT_PI * np.exp(-a * a)),
    "erfc": (lambda a: special.erfc(a), lambda a, y: -2 / _SQRT_PI * np.exp(-a * a)),
    "erfinv": (lambda a: special.erfinv(a), lambda a, y: _SQRT_PI / 2 * np.exp(y * y)),
    "lgamma": (lambda a: special.gammaln(a), lambda a, y: special.digamma(a)),
    "digamma": (lambda a: special.digamma(a), lambda a, y: special.polygamma(1, a)),
    "i0": (lambda a: special.i0(a), lambda a, y: special.i1(a)),
    "sinc": (np.sinc, _sinc_grad),
    "deg2rad": (np.deg2rad, lambda a, y: np.full_like(a, np.pi / 180)),
    "rad2deg": (np.rad2deg, lambda a, y: np.full_like(a, 180 / np.pi)),
}
UNARY_KEEP = {  # keep the input's dtype (integers stay integers)
    "square": (np.square, lambda a, y: 2 * a),
    "floor": (np.floor, _zero),
    "ceil": (np.ceil, _zero),
    "trunc": (np.trunc, _zero),
    "frac": (lambda a: a - np.trunc(a), lambda a, y: np.ones_like(a)),
    "sign": (np.sign, _zero),
    "positive": (lambda a: a, lambda a, y: np.ones_like(a)),
}
UNARY_BOOL = {  # bool results: no gradient
    "signbit": np.signbit,
    "isinf": np.isinf,
    "isposinf": np.isposinf,
    "isneginf": np.isneginf,
    "isnan": np.isnan,
    "isfinite": np.isfinite,
    "logical_not": np.logical_not,
}
# torch's other names for the same functions
UNARY_ALIASES = {"arcsin": "asin", "arccos": "acos", "arctan": "atan", "arcsinh": "asinh",
                 "arccosh": "acosh", "arctanh": "atanh", "fix": "trunc", "sgn": "sign"}


def _make_unary(name: str, fwd, deriv, promote: bool) -> type[Function]:
    def forward(ctx, a):
        a = _floatify(a) if promote else a
        y = np.asarray(fwd(a))
        if y.dtype != a.dtype and is_floating(a.dtype):
            y = y.astype(a.dtype)
        ctx.save_for_backward(a, y)
        return y

    def backward(ctx, g):
        a, y = ctx.saved_tensors
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            return (g * deriv(a, y)).astype(g.dtype, copy=False)

    cls_name = "".join(p.capitalize() for p in name.split("_"))
    return type(cls_name, (Function,), {"forward": staticmethod(forward),
                                        "backward": staticmethod(backward),
                                        "__doc__": f"torch.{name} (table row in pointwise.py)"})


FUNCTIONS: dict[str, type[Function]] = {}
for _name, (_f, _d) in UNARY_FLOAT.items():
    FUNCTIONS[_name] = _make_unary(_name, _f, _d, promote=True)
for _name, (_f, _d) in UNARY_KEEP.items():
    FUNCTIONS[_name] = _make_unary(_name, _f, _d, promote=False)


def _unary_fn(name: str):
    cls = FUNCTIONS[name]

    def fn(input):
        _check_tensor(input, name)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            return cls.apply(input)

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = (f"``torch.{name}`` elementwise: forward and derivative are one row of "
                  "``convnp.ops.pointwise``'s tables.")
    return fn


def _bool_fn(name: str, f):
    def fn(input):
        from convnp.tensor import Tensor

        _check_tensor(input, name)
        return Tensor._wrap(np.asarray(f(input.array)))

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"``torch.{name}`` elementwise; a bool tensor, no gradient."
    return fn


def _check_tensor(input, name: str) -> None:
    from convnp.tensor import Tensor

    if not isinstance(input, Tensor):
        raise TypeError(f"{name}(): argument 'input' must be a Tensor, got "
                        f"{type(input).__name__}; wrap numbers with convnp.tensor(...)")


# ----------------------------------------------------------------------------- binary
def _xlogy_fwd(a, b):
    with np.errstate(divide="ignore", invalid="ignore"):
        out = a * np.log(b)
    return np.where((a == 0) & ~np.isnan(b), 0, out)


def _fmax_sel(a, b):
    """1 where fmax picks ``a`` (a NaN in ``b`` picks ``a``)."""
    return (a >= b) | np.isnan(b)


def _fmin_sel(a, b):
    return (a <= b) | np.isnan(b)


# name -> (forward(a, b), d/da(a, b, out), d/db(a, b, out)); None: no gradient wanted / defined
BINARY_FLOAT = {
    "atan2": (np.arctan2, lambda a, b, y: b / (a * a + b * b),
              lambda a, b, y: -a / (a * a + b * b)),
    "hypot": (np.hypot, lambda a, b, y: a / y, lambda a, b, y: b / y),
    "logaddexp": (np.logaddexp, lambda a, b, y: np.exp(a - y), lambda a, b, y: np.exp(b - y)),
    "logaddexp2": (np.logaddexp2, lambda a, b, y: np.exp2(a - y), lambda a, b, y: np.exp2(b - y)),
    "xlogy": (_xlogy_fwd, lambda a, b, y: np.where((a == 0) & ~np.isnan(b), 0, np.log(b)),
              lambda a, b, y: a / b),
    "copysign": (np.copysign,
                 lambda a, b, y: np.where(a == 0, 0, np.sign(a) * np.where(np.signbit(b), -1, 1)),
                 lambda a, b, y: np.zeros_like(y)),
    "ldexp": (lambda a, b: a * np.exp2(b), lambda a, b, y: np.exp2(b),
              lambda a, b, y: y * _LN2),
}
BINARY_KEEP = {
    "fmod": (np.fmod, lambda a, b, y: np.ones_like(y), lambda a, b, y: -np.trunc(a / b)),
    "remainder": (lambda a, b: a - np.floor_divide(a, b) * b if is_floating(a.dtype)
                  else np.mod(a, b),
                  lambda a, b, y: np.ones_like(y), lambda a, b, y: -np.floor(a / b)),
    "fmax": (np.fmax, lambda a, b, y: _fmax_sel(a, b).astype(y.dtype),
             lambda a, b, y: (~_fmax_sel(a, b)).astype(y.dtype)),
    "fmin": (np.fmin, lambda a, b, y: _fmin_sel(a, b).astype(y.dtype),
             lambda a, b, y: (~_fmin_sel(a, b)).astype(y.dtype)),
    "floor_divide": (np.floor_divide, None, None),
    "nextafter": (np.nextafter, None, None),
    "heaviside": (lambda a, b: np.where(a == 0, b, (a > 0).astype(a.dtype)).astype(a.dtype),
                  None, None),
}
BINARY_INT = {  # integer/bool operands only
    "bitwise_and": np.bitwise_and, "bitwise_or": np.bitwise_or, "bitwise_xor": np.bitwise_xor,
    "bitwise_left_shift": np.left_shift, "bitwise_right_shift": np.right_shift,
    "gcd": np.gcd, "lcm": np.lcm,
}
BINARY_BOOL = {"logical_and": np.logical_and, "logical_or": np.logical_or,
               "logical_xor": np.logical_xor}
BINARY_ALIASES = {"arctan2": "atan2"}


def _make_binary(name: str, fwd, da, db, promote: bool) -> type[Function]:
    def forward(ctx, a, b):
        if promote:
            a, b = _floatify(a), _floatify(b)
        y = np.asarray(fwd(a, b))
        rt = np.result_type(a, b)
        if y.dtype != rt and is_floating(rt):
            y = y.astype(rt)
        ctx.save_for_backward(a, b, y)
        if da is None:
            ctx.mark_non_differentiable(0)
        return y

    def backward(ctx, g):
        a, b, y = ctx.saved_tensors
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            ga = (g * da(a, b, y)).astype(g.dtype) if ctx.needs_input_grad[0] else None
            gb = (g * db(a, b, y)).astype(g.dtype) if ctx.needs_input_grad[1] else None
        return ga, gb

    cls_name = "".join(p.capitalize() for p in name.split("_"))
    return type(cls_name, (Function,), {"forward": staticmethod(forward),
                                        "backward": staticmethod(backward),
                                        "__doc__": f"torch.{name} (table row in pointwise.py)"})


for _name, (_f, _da, _db) in BINARY_FLOAT.items():
    FUNCTIONS[_name] = _make_binary(_name, _f, _da, _db, promote=True)
for _name, (_f, _da, _db) in BINARY_KEEP.items():
    FUNCTIONS[_name] = _make_binary(_name, _f, _da, _db, promote=False)


def _binary_fn(name: str):
    cls = FUNCTIONS[name]

    def fn(input, other):
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            return binary(cls, input, other)

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = (f"``torch.{name}(input, other)`` elementwise with broadcasting; one row of "
                  "``convnp.ops.pointwise``'s tables.")
    return fn


def _int_fn(name: str, f):
    def fn(input, other):
        from convnp.tensor import Tensor

        ref = input if isinstance(input, Tensor) else other
        a = as_operand(input, ref.array)
        b = as_operand(other, ref.array)
        a, b = (x.array if isinstance(x, Tensor) else x for x in (a, b))
        if a.dtype.kind not in "biu" or b.dtype.kind not in "biu":
            raise TypeError(f"{name}: expected integer or bool tensors, got dtypes {a.dtype} "
                            f"and {b.dtype}")
        return Tensor._wrap(np.asarray(f(a, b)))

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"``torch.{name}`` on integer or bool tensors (no gradient)."
    return fn


def _logical_fn(name: str, f):
    def fn(input, other):
        from convnp.tensor import Tensor

        a = input.array if isinstance(input, Tensor) else np.asarray(input)
        b = other.array if isinstance(other, Tensor) else np.asarray(other)
        return Tensor._wrap(np.asarray(f(a, b)))

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = f"``torch.{name}``: a bool tensor, no gradient."
    return fn


def bitwise_not(input):
    """``~input`` for integer and bool tensors."""
    from convnp.tensor import Tensor

    if input.dtype.kind not in "biu":
        raise TypeError(f"bitwise_not: expected an integer or bool tensor, got {input.dtype}")
    return Tensor._wrap(np.asarray(~input.array))


# ----------------------------------------------------------------------------- composites
# Functions with extra arguments, built from differentiable ops (autograd comes for free).
def _E():
    from convnp.ops import elementwise

    return elementwise


def addcmul(input, tensor1, tensor2, *, value=1):
    """``input + value * tensor1 * tensor2`` (broadcast)."""
    E = _E()
    return E.add(input, E.mul(E.mul(tensor1, tensor2), value))


def addcdiv(input, tensor1, tensor2, *, value=1):
    """``input + value * tensor1 / tensor2`` (broadcast)."""
    E = _E()
    return E.add(input, E.mul(E.div(tensor1, tensor2), value))


def lerp(input, end, weight):
    """``input + weight * (end - input)``."""
    E = _E()
    return E.add(input, E.mul(weight, E.sub(end, input)))


def logit(input, eps=None):
    """``log(p / (1 - p))``, ``p`` clamped to ``[eps, 1 - eps]`` when ``eps`` is given."""
    E = _E()
    p = input if eps is None else E.clamp(input, eps, 1 - eps)
    with np.errstate(divide="ignore", invalid="ignore"):
        return E.log(E.div(p, E.sub(1, p)))


class NanToNum(Function):
    @staticmethod
    def forward(ctx, a, nan=0.0, posinf=None, neginf=None):
        ctx.save_for_backward(np.isfinite(a))
        return np.nan_to_num(a, nan=nan, posinf=posinf, neginf=neginf)

    @staticmethod
    def backward(ctx, g):
        (finite,) = ctx.saved_tensors
        return g * finite


def nan_to_num(input, nan=0.0, posinf=None, neginf=None):
    """Replace NaN with ``nan`` and infinities with ``posinf`` / ``neginf`` (default: the
    dtype's largest / smallest finite value). The gradient flows through finite entries."""
    return NanToNum.apply(input, nan=nan, posinf=posinf, neginf=neginf)


def float_power(input, exponent):
    """``input ** exponent`` computed in float64, as torch does."""
    from convnp.tensor import Tensor

    E = _E()
    a = input.double() if isinstance(input, Tensor) else np.float64(input)
    b = exponent.double() if isinstance(exponent, Tensor) else np.float64(exponent)
    return E.pow(a, b)


def round(input, *, decimals=0):  # noqa: A001 (torch's name)
    """Round half to even (to ``decimals`` places); the gradient is zero, as torch's."""
    if decimals == 0:
        return _Round.apply(input, decimals=0)
    return _Round.apply(input, decimals=decimals)


class _Round(Function):
    @staticmethod
    def forward(ctx, a, decimals):
        return np.round(a, decimals)

    @staticmethod
    def backward(ctx, g):
        return np.zeros_like(g)


_Round.__name__ = "Round"


def clamp_min(input, min):  # noqa: A002
    return _E().clamp(input, min=min)


def clamp_max(input, max):  # noqa: A002
    return _E().clamp(input, max=max)


def divide(input, other, *, rounding_mode=None):
    """``input / other``; ``rounding_mode`` 'trunc' or 'floor' rounds the quotient."""
    E = _E()
    if rounding_mode is None:
        return E.div(input, other)
    if rounding_mode not in ("trunc", "floor"):
        raise ValueError(f"div: rounding_mode must be None, 'trunc' or 'floor', got "
                         f"{rounding_mode!r}")
    if rounding_mode == "floor":
        return PUBLIC["floor_divide"](input, other)
    q = E.div(input, other)
    out = PUBLIC["trunc"](q)
    from convnp.tensor import Tensor

    ref = input if isinstance(input, Tensor) else other
    return out.to(ref.dtype) if ref.dtype.kind in "iu" else out


class Polygamma(Function):
    @staticmethod
    def forward(ctx, a, n):
        a = _floatify(a)
        ctx.n = n
        ctx.save_for_backward(a)
        return special.polygamma(n, a).astype(a.dtype)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        return (g * special.polygamma(ctx.n + 1, a)).astype(g.dtype)


def polygamma(n, input):
    """The ``n``-th derivative of the digamma function."""
    if not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"polygamma: 'n' must be a non-negative int, got {n!r}")
    return Polygamma.apply(input, n=int(n))


def mvlgamma(input, p):
    """Multivariate log-gamma of dimension ``p``: ``sum_i lgamma(x - i/2) + c``."""
    if not isinstance(p, (int, np.integer)) or p < 1:
        raise ValueError(f"mvlgamma: 'p' must be a positive int, got {p!r}")
    E = _E()
    out = p * (p - 1) / 4 * math.log(math.pi)
    for i in range(p):
        out = E.add(PUBLIC["lgamma"](E.sub(input, i / 2)), out)
    return out


class _IGamma(Function):
    @staticmethod
    def forward(ctx, a, x, upper):
        a, x = _floatify(a), _floatify(x)
        ctx.upper = upper
        ctx.save_for_backward(a, x)
        return (special.gammaincc if upper else special.gammainc)(a, x).astype(
            np.result_type(a, x))

    @staticmethod
    def backward(ctx, g):
        a, x = ctx.saved_tensors
        if ctx.needs_input_grad[0]:
            raise NotImplementedError("igamma/igammac: the derivative with respect to 'input' "
                                      "is not implemented (torch has none either); detach it")
        d = np.exp((a - 1) * np.log(x) - x - special.gammaln(a))
        return None, (-g * d if ctx.upper else g * d).astype(g.dtype)


_IGamma.__name__ = "Igamma"


def igamma(input, other):
    """Regularized lower incomplete gamma function P(input, other)."""
    return binary(_IGammaLower, input, other)


def igammac(input, other):
    """Regularized upper incomplete gamma function Q(input, other)."""
    return binary(_IGammaUpper, input, other)


class _IGammaLower(Function):
    forward = staticmethod(lambda ctx, a, x: _IGamma.forward(ctx, a, x, False))
    backward = staticmethod(_IGamma.backward)


class _IGammaUpper(Function):
    forward = staticmethod(lambda ctx, a, x: _IGamma.forward(ctx, a, x, True))
    backward = staticmethod(_IGamma.backward)


_IGammaLower.__name__, _IGammaUpper.__name__ = "Igamma", "Igammac"


def frexp(input):
    """``(mantissa, exponent)`` with ``input = mantissa * 2 ** exponent`` (no gradient)."""
    from convnp.tensor import Tensor

    m, e = np.frexp(input.array)
    return _Frexp(Tensor._wrap(m), Tensor._wrap(e.astype(np.int32)))


def gradient(input, *, spacing=1, dim=None, edge_order=1):
    """Central differences inside, one-sided at the edges (``edge_order=1``), per dim;
    a tuple of tensors, differentiable (built from slices)."""
    from convnp.ops.movement import cat
    from convnp.ops.reduction import normalize_dims

    if edge_order != 1:
        raise NotImplementedError("gradient: only edge_order=1 is supported by convnp")
    E = _E()
    dims = normalize_dims(dim, input.ndim, "gradient") if dim is not None else \
        tuple(range(input.ndim))
    spacings = spacing if isinstance(spacing, (list, tuple)) else [spacing] * len(dims)
    if len(spacings) != len(dims):
        raise RuntimeError(f"gradient: expected {len(dims)} spacings, got {len(spacings)}")
    outs = []
    for d, h in zip(dims, spacings):
        n = input.shape[d]
        if n < 2:
            raise RuntimeError(f"gradient: each dimension needs at least 2 samples "
                               f"(edge_order + 1); dim {d} has {n}")

        def sl(a, b, d=d):
            return input[(slice(None),) * d + (slice(a, b),)]
        first = E.sub(sl(1, 2), sl(0, 1))
        last = E.sub(sl(n - 1, n), sl(n - 2, n - 1))
        parts = [first]
        if n > 2:
            parts.append(E.div(E.sub(sl(2, n), sl(0, n - 2)), 2))
        parts.append(last)
        outs.append(E.div(cat(parts, d), h))
    return tuple(outs)


# ----------------------------------------------------------------------------- the namespace
PUBLIC: dict = {}
for _name in list(UNARY_FLOAT) + list(UNARY_KEEP):
    PUBLIC[_name] = _unary_fn(_name)
for _name, _f in UNARY_BOOL.items():
    PUBLIC[_name] = _bool_fn(_name, _f)
for _name in list(BINARY_FLOAT) + list(BINARY_KEEP):
    PUBLIC[_name] = _binary_fn(_name)
for _name, _f in BINARY_INT.items():
    PUBLIC[_name] = _int_fn(_name, _f)
for _name, _f in BINARY_BOOL.items():
    PUBLIC[_name] = _logical_fn(_name, _f)
PUBLIC["bitwise_not"] = bitwise_not
for _f in (addcmul, addcdiv, lerp, logit, nan_to_num, float_power, round, clamp_min, clamp_max,
           divide, polygamma, mvlgamma, igamma, igammac, frexp, gradient):
    PUBLIC[_f.__name__] = _f
for _alias, _target in {**UNARY_ALIASES, **BINARY_ALIASES}.items():
    if _target in PUBLIC:
        PUBLIC[_alias] = PUBLIC[_target]
globals().update(PUBLIC)

# the differentiable rows, for the tests and for Tensor's in-place variants
DIFFERENTIABLE_UNARY = [*UNARY_FLOAT, *UNARY_KEEP]
DIFFERENTIABLE_BINARY = [n for n, row in {**BINARY_FLOAT, **BINARY_KEEP}.items()
                         if row[1] is not None]
__all__ = sorted(PUBLIC)
