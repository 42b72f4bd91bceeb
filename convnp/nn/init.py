"""``convnp.nn.init``: weight initialisers with PyTorch's formulas (``torch.nn.init``).

Every initialiser fills its tensor in place (without recording a graph) and returns it. Random
initialisers take ``generator=`` (a ``convnp.Generator``); without it they draw from convnp's
default generator (``convnp.manual_seed``). The fan arithmetic is PyTorch's: for a weight of shape
``(out, in, *kernel)``, ``fan_in = in * prod(kernel)`` and ``fan_out = out * prod(kernel)``.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from convnp.random import rng
from convnp.tensor import Tensor

__all__ = ["calculate_gain", "uniform_", "normal_", "trunc_normal_", "constant_", "ones_",
           "zeros_", "eye_", "dirac_", "xavier_uniform_", "xavier_normal_", "kaiming_uniform_",
           "kaiming_normal_", "orthogonal_", "sparse_"]

_LINEAR_FNS = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
               "conv_transpose3d")


# the dimensions an initialiser accepts, as its error message says them
_NDIMS = {"2": lambda n: n == 2, "2 or more": lambda n: n >= 2,
          "3, 4, or 5": lambda n: n in (3, 4, 5)}


def _array(tensor: Any, fn: str, ndims: str | None = None) -> np.ndarray:
    """The ndarray an initialiser writes into (Tensors and Parameters share theirs), checked to
    have the number of dimensions ``ndims`` names (a key of ``_NDIMS``)."""
    if isinstance(tensor, Tensor):
        arr = tensor.array
    elif isinstance(tensor, np.ndarray):
        arr = tensor
    else:
        raise TypeError(f"{fn}: expected a convnp Tensor or Parameter to fill, got "
                        f"{type(tensor).__name__}")
    if ndims is not None and not _NDIMS[ndims](arr.ndim):
        raise ValueError(f"{fn}: only tensors with {ndims} dimensions are supported, got shape "
                         f"{tuple(arr.shape)}")
    return arr


def _fill(tensor: Any, values: np.ndarray | float, fn: str) -> Any:
    """Write ``values`` into ``tensor`` in place (no graph: initialisation is not a graph op)."""
    _array(tensor, fn)[...] = values
    if hasattr(tensor, "_bump_version"):  # an in-place change, as torch's init counts it
        tensor._bump_version()
    return tensor


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    r"""The recommended gain for a nonlinearity (PyTorch's table).

    ================= ====================================================
    nonlinearity      gain
    ================= ====================================================
    Linear / Identity :math:`1`
    Conv{1,2,3}D      :math:`1`
    Sigmoid           :math:`1`
    Tanh              :math:`\frac{5}{3}`
    ReLU              :math:`\sqrt{2}`
    Leaky Relu        :math:`\sqrt{\frac{2}{1 + \text{negative\_slope}^2}}`
    SELU              :math:`\frac{3}{4}`
    ================= ====================================================

    Args:
        nonlinearity: the name of the nonlinear function (``nn.functional`` name).
        param: optional parameter, the negative slope for ``'leaky_relu'`` (default 0.01).

    Example::

        >>> nn.init.calculate_gain('leaky_relu', 0.2)  # leaky_relu with negative_slope=0.2
        1.3867504905630728
    """
    if nonlinearity in _LINEAR_FNS or nonlinearity == "sigmoid":
        return 1
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            negative_slope = 0.01
        elif not isinstance(param, bool) and isinstance(param, (int, float)):
            negative_slope = param
        else:
            raise ValueError(f"calculate_gain: negative_slope {param} is not a valid number")
        return math.sqrt(2.0 / (1 + negative_slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"calculate_gain: unsupported nonlinearity {nonlinearity!r}; expected one of "
                     f"{', '.join(_LINEAR_FNS)}, sigmoid, tanh, relu, leaky_relu, selu")


def _calculate_fan_in_and_fan_out(tensor: Any) -> tuple[int, int]:
    """``(fan_in, fan_out)`` of a weight of shape ``(out, in, *kernel)`` (PyTorch's rule)."""
    shape = _array(tensor, "_calculate_fan_in_and_fan_out").shape
    if len(shape) < 2:
        raise ValueError("Fan in and fan out can not be computed for tensor with fewer than 2 "
                         f"dimensions (got shape {tuple(shape)})")
    receptive_field_size = int(np.prod(shape[2:])) if len(shape) > 2 else 1
    return shape[1] * receptive_field_size, shape[0] * receptive_field_size


def _calculate_correct_fan(tensor: Any, mode: str) -> int:
    mode = mode.lower()
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"Mode {mode} not supported, please use one of fan_in, fan_out")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0, generator=None) -> Tensor:
    r"""Fill ``tensor`` with values drawn from :math:`\mathcal{U}(a, b)`.

    Args:
        tensor: an n-dimensional Tensor.
        a: the lower bound.
        b: the upper bound.
        generator: the ``convnp.Generator`` to sample from (default: the global one).

    Example::

        >>> w = convnp.empty(3, 5)
        >>> nn.init.uniform_(w)
    """
    arr = _array(tensor, "uniform_")
    return _fill(tensor, rng(generator).uniform(a, b, arr.shape), "uniform_")


def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0, generator=None) -> Tensor:
    r"""Fill ``tensor`` with values drawn from :math:`\mathcal{N}(\text{mean}, \text{std}^2)`.

    Args:
        tensor: an n-dimensional Tensor.
        mean: the mean of the normal distribution.
        std: the standard deviation of the normal distribution.
        generator: the ``convnp.Generator`` to sample from (default: the global one).

    Example::

        >>> w = convnp.empty(3, 5)
        >>> nn.init.normal_(w)
    """
    arr = _array(tensor, "normal_")
    return _fill(tensor, rng(generator).normal(mean, std, arr.shape), "normal_")


def _norm_cdf(x: float) -> float:
    return (1.0 + math.erf(x / math.sqrt(2.0))) / 2.0


def trunc_normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0, a: float = -2.0,
                  b: float = 2.0, generator=None) -> Tensor:
    r"""Fill ``tensor`` from :math:`\mathcal{N}(\text{mean}, \text{std}^2)` truncated to ``[a, b]``.

    Values outside ``[a, b]`` are redrawn (exact truncated normal; PyTorch uses the inverse-CDF
    method, which gives the same distribution but a different random stream).

    Args:
        tensor: an n-dimensional Tensor.
        mean: the mean of the normal distribution.
        std: the standard deviation of the normal distribution.
        a: the minimum cutoff value.
        b: the maximum cutoff value.
        generator: the ``convnp.Generator`` to sample from (default: the global one).

    Example::

        >>> w = convnp.empty(3, 5)
        >>> nn.init.trunc_normal_(w)
    """
    arr = _array(tensor, "trunc_normal_")
    if not a < b:
        raise ValueError(f"trunc_normal_: expected a < b, got a={a}, b={b}")
    if mean < a - 2 * std or mean > b + 2 * std:
        warnings.warn("mean is more than 2 std from [a, b] in nn.init.trunc_normal_. "
                      "The distribution of values may be incorrect.", stacklevel=2)
    r = rng(generator)
    n = arr.size
    out = np.empty(n, np.float64)
    accept = _norm_cdf((b - mean) / std) - _norm_cdf((a - mean) / std)
    # a normal proposal wastes draws when [a, b] holds little mass; then propose uniformly on
    # [a, b] and accept with the normal density relative to its maximum on the interval
    uniform_proposal = accept < 0.25 and math.isfinite(a) and math.isfinite(b)
    peak = min(max(mean, a), b)
    todo = np.arange(n)
    for _ in range(1000):  # rounds of redraws, each vectorised over all pending entries
        if todo.size == 0:
            break
        if uniform_proposal:
            x = r.uniform(a, b, todo.size)
            ok = r.uniform(0, 1, todo.size) <= np.exp(
                ((peak - mean) ** 2 - (x - mean) ** 2) / (2 * std**2))
        else:
            x = r.normal(mean, std, todo.size)
            ok = (x >= a) & (x <= b)
        out[todo[ok]] = x[ok]
        todo = todo[~ok]
    out[todo] = np.clip(mean, a, b)  # unreachable in practice; keeps the bounds guarantee
    return _fill(tensor, out.reshape(arr.shape), "trunc_normal_")


def constant_(tensor: Tensor, val: float) -> Tensor:
    r"""Fill ``tensor`` with the value ``val``.

    Example::

        >>> w = convnp.empty(3, 5)
        >>> nn.init.constant_(w, 0.3)
    """
    return _fill(tensor, val, "constant_")


def ones_(tensor: Tensor) -> Tensor:
    r"""Fill ``tensor`` with the scalar value 1.

    Example::

        >>> nn.init.ones_(convnp.empty(3, 5))
    """
    return _fill(tensor, 1, "ones_")


def zeros_(tensor: Tensor) -> Tensor:
    r"""Fill ``tensor`` with the scalar value 0.

    Example::

        >>> nn.init.zeros_(convnp.empty(3, 5))
    """
    return _fill(tensor, 0, "zeros_")


def eye_(tensor: Tensor) -> Tensor:
    r"""Fill the 2-dimensional ``tensor`` with the identity matrix (Linear layers keep inputs).

    Example::

        >>> nn.init.eye_(convnp.empty(3, 5))
    """
    arr = _array(tensor, "eye_", "2")
    return _fill(tensor, np.eye(*arr.shape), "eye_")


def dirac_(tensor: Tensor, groups: int = 1) -> Tensor:
    r"""Fill the {3, 4, 5}-dimensional ``tensor`` with the Dirac delta function.

    Convolutional layers so initialised preserve the identity of their inputs, as many channels
    as possible; with ``groups > 1`` each group of output channels does so.

    Args:
        tensor: a {3, 4, 5}-dimensional Tensor of shape ``(out, in, *kernel)``.
        groups: number of groups in the conv layer (default 1).

    Example::

        >>> w = convnp.empty(3, 16, 5, 5)
        >>> nn.init.dirac_(w)
    """
    arr = _array(tensor, "dirac_", "3, 4, or 5")
    if arr.shape[0] % groups != 0:
        raise ValueError(f"dirac_: dim 0 must be divisible by groups (got {arr.shape[0]} "
                         f"output channels and groups={groups})")
    per_group = arr.shape[0] // groups
    min_dim = min(per_group, arr.shape[1])
    out = np.zeros(arr.shape, arr.dtype)
    d = np.arange(min_dim)
    centre = tuple(k // 2 for k in arr.shape[2:])
    for g in range(groups):
        out[(g * per_group + d, d) + centre] = 1
    return _fill(tensor, out, "dirac_")


def _zero_mean_(tensor: Tensor, std: float | None, distribution: str, generator) -> Tensor:
    """Fill ``tensor`` from the zero-mean ``'uniform'`` (on +-sqrt(3) std) or ``'normal'``
    distribution of standard deviation ``std``: the last step of every fan-scaled initialiser
    (``std`` None: a zero-element tensor, left as it is)."""
    if std is None:
        return tensor
    if distribution == "uniform":
        bound = math.sqrt(3.0) * std
        return uniform_(tensor, -bound, bound, generator)
    return normal_(tensor, 0.0, std, generator)


def _xavier_std(tensor: Any, gain: float) -> float:
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return gain * math.sqrt(2.0 / float(fan_in + fan_out))


def xavier_uniform_(tensor: Tensor, gain: float = 1.0, generator=None) -> Tensor:
    r"""Fill ``tensor`` from :math:`\mathcal{U}(-a, a)` (Glorot & Bengio, 2010), where

    .. math::
        a = \text{gain} \times \sqrt{\frac{6}{\text{fan\_in} + \text{fan\_out}}}

    Args:
        tensor: an n-dimensional Tensor (n >= 2).
        gain: an optional scaling factor.
        generator: the ``convnp.Generator`` to sample from (default: the global one).

    Example::

        >>> w = convnp.empty(3, 5)
        >>> nn.init.xavier_uniform_(w, gain=nn.init.calculate_gain('relu'))
    """
    return _zero_mean_(tensor, _xavier_std(tensor, gain), "uniform", generator)


def xavier_normal_(tensor: Tensor, gain: float = 1.0, generator=None) -> Tensor:
    r"""Fill ``tensor`` from :math:`\mathcal{N}(0, \text{std}^2)` (Glorot & Bengio, 2010), where

    .. math::
        \text{std} = \text{gain} \times \sqrt{\frac{2}{\text{fan\_in} + \text{fan\_out}}}

    Args:
        tensor: an n-dimensional Tensor (n >= 2).
        gain: an optional scaling factor.
        generator: the ``convnp.Generator`` to sample from (default: the global one).

    Example::

        >>> w = convnp.empty(3, 5)
        >>> nn.init.xavier_normal_(w)
    """
    return _zero_mean_(tensor, _xavier_std(tensor, gain), "normal", generator)


def _kaiming_std(tensor: Any, a: float, mode: str, nonlinearity: str, fn: str) -> float | None:
    if 0 in _array(tensor, fn).shape:
        warnings.warn(f"Initializing zero-element tensors is a no-op ({fn})", stacklevel=3)
        return None
    fan = _calculate_correct_fan(tensor, mode)
    return calculate_gain(nonlinearity, a) / math.sqrt(fan)


def kaiming_uniform_(tensor: Tensor, a: float = 0, mode: str = "fan_in",
                     nonlinearity: str = "leaky_relu", generator=None) -> Tensor:
    r"""Fill ``tensor`` from :math:`\mathcal{U}(-\text{bound}, \text{bound})` (He et al., 2015):

    .. math::
        \text{bound} = \text{gain} \times \sqrt{\frac{3}{\text{fan\_mode}}}

    Args:
        tensor: an n-dimensional Tensor (n >= 2).
        a: the negative slope of the rectifier used after this layer (only with
            ``'leaky_relu'``).
        mode: ``'fan_in'`` (default) preserves the variance of the weights in the forward pass,
            ``'fan_out'`` in the backward pass.
        nonlinearity: the non-linear function (``nn.functional`` name), recommended only with
            ``'relu'`` or ``'leaky_relu'`` (default).
        generator: the ``convnp.Generator`` to sample from (default: the global one).

    Example::

        >>> w = convnp.empty(3, 5)
        >>> nn.init.kaiming_uniform_(w, mode='fan_in', nonlinearity='relu')
    """
    std = _kaiming_std(tensor, a, mode, nonlinearity, "kaiming_uniform_")
    return _zero_mean_(tensor, std, "uniform", generator)


def kaiming_normal_(tensor: Tensor, a: float = 0, mode: str = "fan_in",
                    nonlinearity: str = "leaky_relu", generator=None) -> Tensor:
    r"""Fill ``tensor`` from :math:`\mathcal{N}(0, \text{std}^2)` (He et al., 2015), where

    .. math::
        \text{std} = \frac{\text{gain}}{\sqrt{\text{fan\_mode}}}

    Args:
        tensor: an n-dimensional Tensor (n >= 2).
        a: the negative slope of the rectifier used after this layer (only with
            ``'leaky_relu'``).
        mode: ``'fan_in'`` (default) or ``'fan_out'``.
        nonlinearity: the non-linear function (``nn.functional`` name), recommended only with
            ``'relu'`` or ``'leaky_relu'`` (default).
        generator: the ``convnp.Generator`` to sample from (default: the global one).

    Example::

        >>> w = convnp.empty(3, 5)
        >>> nn.init.kaiming_normal_(w, mode='fan_out', nonlinearity='relu')
    """
    std = _kaiming_std(tensor, a, mode, nonlinearity, "kaiming_normal_")
    return _zero_mean_(tensor, std, "normal", generator)


def orthogonal_(tensor: Tensor, gain: float = 1, generator=None) -> Tensor:
    r"""Fill ``tensor`` with a (semi) orthogonal matrix (Saxe et al., 2013).

    The tensor needs at least 2 dimensions; trailing dimensions are flattened, so a weight of
    shape ``(out, in, *kernel)`` becomes an ``out x (in * prod(kernel))`` matrix with orthonormal
    rows (or columns, whichever are fewer).

    Args:
        tensor: an n-dimensional Tensor (n >= 2).
        gain: optional scaling factor.
        generator: the ``convnp.Generator`` to sample from (default: the global one).

    Example::

        >>> w = convnp.empty(3, 5)
        >>> nn.init.orthogonal_(w)
    """
    arr = _array(tensor, "orthogonal_", "2 or more")
    if arr.size == 0:
        return tensor
    rows = arr.shape[0]
    cols = arr.size // rows
    flat = rng(generator).normal(0.0, 1.0, (rows, cols))
    if rows < cols:
        flat = flat.T
    q, r = np.linalg.qr(flat)
    # make Q uniform over the orthogonal group (sign convention of the QR factorisation)
    q = q * np.sign(np.diag(r))
    if rows < cols:
        q = q.T
    return _fill(tensor, gain * q.reshape(arr.shape), "orthogonal_")


def sparse_(tensor: Tensor, sparsity: float, std: float = 0.01, generator=None) -> Tensor:
    r"""Fill the 2-d ``tensor`` as a sparse matrix from :math:`\mathcal{N}(0, \text{std}^2)`
    (Martens, 2010): in every column a fraction ``sparsity`` of the entries is zero.

    Args:
        tensor: a 2-dimensional Tensor.
        sparsity: the fraction of elements in each column to set to zero.
        std: the standard deviation of the non-zero values.
        generator: the ``convnp.Generator`` to sample from (default: the global one).

    Example::

        >>> w = convnp.empty(3, 5)
        >>> nn.init.sparse_(w, sparsity=0.1)
    """
    arr = _array(tensor, "sparse_", "2")
    rows, cols = arr.shape
    num_zeros = int(math.ceil(sparsity * rows))
    r = rng(generator)
    out = r.normal(0.0, std, (rows, cols))
    # an independent random permutation of the rows per column: argsort of uniform noise
    zero_rows = np.argsort(r.uniform(size=(rows, cols)), axis=0)[:num_zeros]
    out[zero_rows, np.arange(cols)[None, :]] = 0
    return _fill(tensor, out, "sparse_")


# ----------------------------------------------------------------------------- deprecated names
# torch keeps the initialisers' old names (without the trailing underscore) as deprecated
# aliases that warn and call the new ones; so does convnp.
def _deprecated(new):
    import functools
    import warnings

    old = new.__name__.rstrip("_")

    @functools.wraps(new)
    def alias(*args, **kwargs):
        warnings.warn(f"`nn.init.{old}` is now deprecated in favor of `nn.init.{new.__name__}`.",
                      FutureWarning, stacklevel=2)
        return new(*args, **kwargs)

    alias.__name__ = alias.__qualname__ = old
    return alias


uniform = _deprecated(uniform_)
normal = _deprecated(normal_)
constant = _deprecated(constant_)
eye = _deprecated(eye_)
dirac = _deprecated(dirac_)
xavier_uniform = _deprecated(xavier_uniform_)
xavier_normal = _deprecated(xavier_normal_)
kaiming_uniform = _deprecated(kaiming_uniform_)
kaiming_normal = _deprecated(kaiming_normal_)
orthogonal = _deprecated(orthogonal_)
sparse = _deprecated(sparse_)
