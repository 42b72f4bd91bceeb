"""The ``torch.*`` functions convnp adds from its op families, gathered into one table that
``convnp/__init__.py`` exports: pointwise math, indexing, shape, reductions, comparisons,
creation, the layout objects, print options, torch's module-level in-place functions
(``torch.relu_(x)``) and its small utilities (``finfo``, ``promote_types``, constants)."""

from __future__ import annotations

import math

import numpy as np

import convnp.nn.functional as F
from convnp import _format, _layout
from convnp import creation as C
from convnp._device import CPU, require_cpu
from convnp._dtype import is_floating
from convnp.autograd.grad_mode import is_grad_enabled
from convnp.ops import comparison, indexing, numeric, pointwise, products, reduction, shape
from convnp.ops import elementwise as E
from convnp.ops.elementwise import as_operand
from convnp.tensor import Tensor


def _method_call(name: str, doc: str):
    """``torch.name(input, ...)``: a function that calls ``input.name(...)``."""

    def fn(input, *args, **kwargs):
        return getattr(input, name)(*args, **kwargs)

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = doc.format(name=name)
    return fn


def promote_types(type1, type2):
    """The dtype both promote to, by torch's rule: a float with an integer or bool is the
    float (NumPy would widen int64 + float32 to float64); otherwise NumPy's promotion, which
    agrees with torch's for the dtypes convnp has."""
    a, b = np.dtype(type1), np.dtype(type2)
    if is_floating(a) and b.kind in "biu":
        return a
    if is_floating(b) and a.kind in "biu":
        return b
    return np.promote_types(a, b)


def result_type(tensor1, tensor2):
    """The dtype an arithmetic op on the two operands returns (scalars adapt to tensors)."""
    a = tensor1.array if isinstance(tensor1, Tensor) else None
    b = tensor2.array if isinstance(tensor2, Tensor) else None
    if a is None and b is None:
        return np.result_type(as_operand(tensor1), as_operand(tensor2))
    a = a if a is not None else as_operand(tensor1, b)
    b = b if b is not None else as_operand(tensor2, a)
    if is_floating(a.dtype) and b.dtype.kind in "biu":
        return a.dtype
    if is_floating(b.dtype) and a.dtype.kind in "biu":
        return b.dtype
    return np.result_type(a, b)


def can_cast(from_, to) -> bool:
    """Whether torch's type promotion allows casting ``from_`` to ``to`` (same kind)."""
    return bool(np.can_cast(from_, to, "same_kind"))


def typename(obj) -> str:
    """``'convnp.FloatTensor'``-style name of a tensor's type (torch.typename)."""
    if isinstance(obj, Tensor):
        names = {"float32": "FloatTensor", "float64": "DoubleTensor", "float16": "HalfTensor",
                 "int64": "LongTensor", "int32": "IntTensor", "int16": "ShortTensor",
                 "int8": "CharTensor", "uint8": "ByteTensor", "bool": "BoolTensor"}
        return f"convnp.{names.get(obj.dtype.name, 'Tensor')}"
    return f"{type(obj).__module__}.{type(obj).__qualname__}"


def is_storage(obj) -> bool:
    """False: convnp has no separate storage objects."""
    return False


def get_default_device():
    """``device('cpu')``: convnp computes on the CPU."""
    return CPU


def set_default_device(device) -> None:
    """Only the CPU (or None) is accepted."""
    if device is not None:
        require_cpu(device, "set_default_device")


# torch.* names of functional ops whose positional signature is F's
_FUNCTIONAL_ALIASES = ("conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
                       "conv_transpose3d", "conv_tbc", "avg_pool1d", "max_pool1d", "max_pool2d",
                       "max_pool3d", "max_pool1d_with_indices", "adaptive_avg_pool1d",
                       "pixel_shuffle", "pixel_unshuffle", "prelu", "relu", "selu", "celu",
                       "selu_", "celu_", "rrelu", "rrelu_", "hardshrink", "threshold",
                       "threshold_", "bilinear", "cosine_similarity", "pairwise_distance",
                       "pdist", "channel_shuffle", "dropout", "alpha_dropout")


def rsub(input, other, *, alpha=1):
    """``other - alpha * input``."""
    return E.sub(other, E.mul(input, alpha) if alpha != 1 else input)


def resolve_neg(input):
    """``input`` itself: convnp has no lazy negation bit."""
    return input


class _Settings:
    """torch's global switches that describe what convnp always does; they are stored and
    read back so scripts that set and query them run (convnp's CPU ops are deterministic and
    compute float32 matmuls in full float32 whatever the setting)."""

    deterministic = False
    deterministic_warn_only = False
    matmul_precision = "highest"
    interop_threads = 1
    warn_always = False


def use_deterministic_algorithms(mode: bool, *, warn_only: bool = False) -> None:
    """Accepted; convnp's ops are deterministic already."""
    _Settings.deterministic, _Settings.deterministic_warn_only = bool(mode), bool(warn_only)


def are_deterministic_algorithms_enabled() -> bool:
    return _Settings.deterministic


def is_deterministic_algorithms_warn_only_enabled() -> bool:
    return _Settings.deterministic_warn_only


def set_deterministic_debug_mode(debug_mode) -> None:
    modes = {"default": 0, "warn": 1, "error": 2}
    mode = modes.get(debug_mode, debug_mode)
    if mode not in (0, 1, 2):
        raise RuntimeError(f"set_deterministic_debug_mode: invalid mode {debug_mode!r}; expected "
                           "'default', 'warn', 'error' or 0, 1, 2")
    use_deterministic_algorithms(mode > 0, warn_only=mode == 1)


def get_deterministic_debug_mode() -> int:
    if not _Settings.deterministic:
        return 0
    return 1 if _Settings.deterministic_warn_only else 2


def set_float32_matmul_precision(precision: str) -> None:
    """Accepted ('highest', 'high', 'medium'); convnp's float32 matmuls are always full
    float32 (NumPy's BLAS)."""
    if precision not in ("highest", "high", "medium"):
        raise RuntimeError(f"set_float32_matmul_precision: expected 'highest', 'high' or "
                           f"'medium', got {precision!r}")
    _Settings.matmul_precision = precision


def get_float32_matmul_precision() -> str:
    return _Settings.matmul_precision


def set_num_interop_threads(n: int) -> None:
    """Accepted and stored; convnp runs one op at a time (``set_num_threads`` sets its pool)."""
    if n < 1:
        raise RuntimeError(f"set_num_interop_threads: expected a positive number, got {n}")
    _Settings.interop_threads = int(n)


def get_num_interop_threads() -> int:
    return _Settings.interop_threads


def set_warn_always(b: bool) -> None:
    _Settings.warn_always = bool(b)


def is_warn_always_enabled() -> bool:
    return _Settings.warn_always


def set_flush_denormal(mode: bool) -> bool:
    """False: NumPy offers no switch for denormal flushing (torch's answer where unsupported)."""
    return False


def is_inference_mode_enabled() -> bool:
    """Whether gradients are off (convnp's ``inference_mode`` is ``no_grad``)."""
    return not is_grad_enabled()


def op_functions() -> dict:
    """name -> function for the op families' public functions (pointwise math, indexing, shape,
    products, numeric, comparisons, reductions) and torch's aliases of elementwise ones; most are
    Tensor methods too (``convnp/_tensor_api.py``)."""
    out = dict(pointwise.PUBLIC)
    for mod, names in ((indexing, indexing.__all__), (shape, shape.__all__),
                       (products, products.__all__), (numeric, numeric.__all__),
                       (comparison, comparison.__all__), (reduction, reduction.REDUCTIONS)):
        out.update({n: getattr(mod, n) for n in names})
    out.update(absolute=E.abs, negative=E.neg, multiply=E.mul, subtract=E.sub,
               true_divide=E.div)
    return out


def exports() -> dict:
    """name -> object, for ``convnp``'s namespace."""
    out = op_functions()
    out.update({n: getattr(C, n) for n in C.CREATION})
    for n in ("Size", "memory_format", "contiguous_format", "channels_last", "channels_last_3d",
              "preserve_format", "layout", "strided"):
        out[n] = getattr(_layout, n)
    for n in ("set_printoptions", "get_printoptions", "printoptions"):
        out[n] = getattr(_format, n)
    # torch's module-level in-place functions (torch.relu_(x), torch.sigmoid_(x), ...)
    for n in ("abs", "acos", "acosh", "asin", "asinh", "atan", "atanh", "arccos", "arccosh",
              "arcsin", "arcsinh", "arctan", "arctanh", "ceil", "clamp", "clamp_max",
              "clamp_min", "clip", "cos", "cosh", "deg2rad", "erf", "erfc", "exp", "exp2",
              "expm1", "fix", "floor", "frac", "gcd", "i0", "lcm", "ldexp", "log", "log10",
              "log1p", "log2", "logit", "nan_to_num", "neg", "negative", "rad2deg",
              "reciprocal", "relu", "round", "rsqrt", "sigmoid", "sin", "sinc", "sinh", "sqrt",
              "square", "tan", "tanh", "trunc", "xlogy", "fill", "zero", "as_strided",
              "index_put"):
        out[n + "_"] = _method_call(
            n + "_", "``input.{name}(...)``: torch's function form of the in-place method.")
    for n in _FUNCTIONAL_ALIASES:
        out.setdefault(n, getattr(F, n))
    out.update(rsub=rsub, resolve_neg=resolve_neg)
    for f in (use_deterministic_algorithms, are_deterministic_algorithms_enabled,
              is_deterministic_algorithms_warn_only_enabled, set_deterministic_debug_mode,
              get_deterministic_debug_mode, set_float32_matmul_precision,
              get_float32_matmul_precision, set_num_interop_threads, get_num_interop_threads,
              set_warn_always, is_warn_always_enabled, set_flush_denormal,
              is_inference_mode_enabled):
        out[f.__name__] = f
    for n in ("clone", "detach", "is_nonzero", "is_same_size", "is_signed", "is_complex",
              "is_conj", "is_neg", "is_inference"):
        out.setdefault(n, _method_call(n, "``input.{name}(...)`` as a function (torch.{name})."))
    out.update(promote_types=promote_types, result_type=result_type, can_cast=can_cast,
               typename=typename, is_storage=is_storage, get_default_device=get_default_device,
               set_default_device=set_default_device, finfo=np.finfo, iinfo=np.iinfo,
               dtype=np.dtype, e=math.e, pi=math.pi, inf=math.inf, nan=math.nan, newaxis=None,
               uint16=np.dtype(np.uint16), uint32=np.dtype(np.uint32),
               uint64=np.dtype(np.uint64))
    return out
