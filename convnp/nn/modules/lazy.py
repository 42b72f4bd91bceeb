"""Lazy layers: parameters whose shape is inferred from the first input, as torch's
``nn.LazyConv2d``, ``nn.LazyLinear``, ``nn.LazyBatchNorm2d``...

A lazy layer holds ``UninitializedParameter`` objects (and ``UninitializedBuffer`` for running
statistics) until its first forward: there the input gives the missing size (``in_channels``,
``in_features`` or ``num_features``), every uninitialised tensor is *materialised* in place (the
same Python object gets an array and becomes a plain ``Parameter``), the layer's usual
``reset_parameters`` initialises it, and the layer's class becomes the regular one
(``LazyConv2d`` -> ``Conv2d``). An optimizer built before the first forward therefore already
holds the parameters it will update, as in torch::

    model = nn.Sequential(nn.LazyConv2d(8, 3), nn.ReLU(), nn.Flatten(), nn.LazyLinear(10))
    opt = convnp.optim.SGD(model.parameters(), lr=0.1)  # before any forward: fine
    model(convnp.randn(1, 3, 28, 28))                   # shapes inferred here

Until then, anything that needs the data (``shape``, ``numel()``, arithmetic) raises a
``ValueError`` that says to run a forward first. Loading a state_dict into a lazy layer
materialises the parameters with the saved shapes.
"""

from __future__ import annotations

import inspect

import numpy as np

from convnp import _dtype
from convnp.nn.modules.conv import (
    Conv1d,
    Conv2d,
    Conv3d,
    ConvTranspose1d,
    ConvTranspose2d,
    ConvTranspose3d,
)
from convnp.nn.modules.linear import Linear
from convnp.nn.modules.module import Parameter
from convnp.nn.modules.normalization import (
    BatchNorm1d,
    BatchNorm2d,
    BatchNorm3d,
    InstanceNorm1d,
    InstanceNorm2d,
    InstanceNorm3d,
)
from convnp.tensor import Tensor

__all__ = ["UninitializedParameter", "UninitializedBuffer", "LazyModuleMixin",
           "LazyConv1d", "LazyConv2d", "LazyConv3d", "LazyConvTranspose1d",
           "LazyConvTranspose2d", "LazyConvTranspose3d", "LazyLinear", "LazyBatchNorm1d",
           "LazyBatchNorm2d", "LazyBatchNorm3d", "LazyInstanceNorm1d", "LazyInstanceNorm2d",
           "LazyInstanceNorm3d"]


class _UninitializedMixin:
    """Shared behaviour of uninitialised parameters and buffers: no data until
    ``materialize``; reading the data raises a ValueError that says what to do."""

    cls_to_become: type = Tensor
    _is_uninitialized = True

    def _setup(self, requires_grad: bool, device, dtype) -> None:
        from convnp._device import require_cpu

        if device is not None:
            require_cpu(device, type(self).__name__)
        self.__dict__["_pending_dtype"] = np.dtype(_dtype.resolve(dtype)
                                                   or _dtype.get_default_dtype())
        self.grad = None
        self.grad_fn = None
        self._output_nr = 0
        self._retains_grad = False
        self.requires_grad = bool(requires_grad)

    @property
    def array(self):
        raise ValueError(
            f"Attempted to use an uninitialized parameter or buffer ({type(self).__name__}). "
            "This error happens when you are using a lazy layer (LazyConv2d, LazyLinear, ...) "
            "or an UninitializedParameter before its shape is known. Call the model's forward "
            "with a dummy batch first to initialize the parameters, or load a state_dict.")

    @array.setter
    def array(self, value) -> None:
        # only a dtype change is meaningful before materialisation (Module.to / .double())
        self.__dict__["_pending_dtype"] = np.asarray(value).dtype

    @property
    def dtype(self) -> np.dtype:
        return self.__dict__["_pending_dtype"]

    @property
    def shape(self):
        raise ValueError(
            "Can't access the shape of an uninitialized parameter or buffer. This error usually "
            "happens in `load_state_dict` when trying to load an uninitialized parameter into an "
            "initialized one. Call `forward` to initialize the parameters before accessing their "
            "attributes.")

    def detach(self):
        # state_dict() of a lazy layer holds the uninitialised objects themselves, as torch's
        return self

    def materialize(self, shape, device=None, dtype=None) -> None:
        """Give this tensor an (uninitialised) array of ``shape`` and turn it into a
        ``cls_to_become`` (Parameter or Tensor); the object itself is kept, so references held
        elsewhere (an optimizer) see the data."""
        if isinstance(shape, int):
            shape = (shape,)
        dt = np.dtype(_dtype.resolve(dtype) or self.__dict__["_pending_dtype"])
        del self.__dict__["_pending_dtype"]
        self.__class__ = self.cls_to_become
        self.__dict__["array"] = np.empty(tuple(int(s) for s in shape), dt)

    def __repr__(self) -> str:
        return f"<{type(self).__name__}>"

    def __reduce_ex__(self, protocol):
        return (type(self), (self.requires_grad,) if isinstance(self, Parameter) else ())

    def __deepcopy__(self, memo):
        new = type(self)(self.requires_grad, None, self.dtype) if isinstance(self, Parameter) \
            else type(self)(None, self.dtype)
        memo[id(self)] = new
        return new


class UninitializedParameter(_UninitializedMixin, Parameter):
    r"""A parameter whose shape is not known yet (torch's ``nn.UninitializedParameter``).

    Lazy layers create it; ``materialize(shape)`` gives it data and turns it into a regular
    :class:`Parameter` in place. Before that, reading its data or shape raises ``ValueError``.

    Args:
        requires_grad: whether the parameter requires gradient (default True).
        device: must be None or ``'cpu'``.
        dtype: the dtype it will have (default: the default dtype).

    Example::

        >>> p = nn.UninitializedParameter()
        >>> p.materialize((3, 2)); p.shape
        (3, 2)
    """

    cls_to_become = Parameter

    def __init__(self, requires_grad: bool = True, device=None, dtype=None) -> None:
        self._setup(requires_grad, device, dtype)


class UninitializedBuffer(_UninitializedMixin, Tensor):
    """A buffer whose shape is not known yet (torch's ``nn.UninitializedBuffer``); lazy
    normalization layers hold their running statistics in it until the first forward.

    Args:
        requires_grad: default False. device: None or ``'cpu'``. dtype: the future dtype.
    """

    cls_to_become = Tensor

    def __init__(self, requires_grad: bool = False, device=None, dtype=None) -> None:
        self._setup(requires_grad, device, dtype)

    def __deepcopy__(self, memo):
        new = UninitializedBuffer(self.requires_grad, None, self.dtype)
        memo[id(self)] = new
        return new


def _is_uninitialized(t) -> bool:
    return getattr(t, "_is_uninitialized", False)


class LazyModuleMixin:
    """Mixin of the lazy layers (torch's ``nn.modules.lazy.LazyModuleMixin``).

    A lazy layer implements ``initialize_parameters(*inputs)`` (materialise every
    uninitialised parameter/buffer from the input's shape, then ``reset_parameters()``) and sets
    ``cls_to_become``. A forward pre-hook calls it on the first forward, then removes itself
    and turns the layer into ``cls_to_become``.
    """

    cls_to_become: type | None = None

    def _lazy_setup(self) -> None:
        self._initialize_hook = self.register_forward_pre_hook(self._infer_parameters,
                                                               with_kwargs=True)

    def has_uninitialized_params(self) -> bool:
        """True while a parameter or buffer of this layer is still uninitialised."""
        return any(_is_uninitialized(t) for store in (self._parameters, self._buffers)
                   for t in store.values())

    def initialize_parameters(self, *args, **kwargs) -> None:
        raise NotImplementedError(f"{type(self).__name__} must implement "
                                  "initialize_parameters(input)")

    @staticmethod
    def _infer_parameters(module, args, kwargs=None):
        module.initialize_parameters(*args, **(kwargs or {}))
        if module.has_uninitialized_params():
            raise RuntimeError(f"{type(module).__name__}: module has not been fully initialized "
                               "by initialize_parameters")
        module._initialize_hook.remove()
        del module.__dict__["_initialize_hook"]
        if module.cls_to_become is not None:
            module.__class__ = module.cls_to_become
        return None

    def _materialize_from(self, state_dict, prefix: str) -> None:
        """Give uninitialised tensors the shapes saved in ``state_dict`` (``Module.
        load_state_dict`` calls this on every lazy layer before copying the values); the layer
        keeps its lazy class until its first forward, as in torch."""
        for store in (self._parameters, self._buffers):
            for name, t in store.items():
                key = prefix + name
                if _is_uninitialized(t) and key in state_dict:
                    value = state_dict[key]
                    if not _is_uninitialized(value):
                        t.materialize(tuple(value.shape))
        if hasattr(self, "_after_materialize_from_state"):
            self._after_materialize_from_state()


class _LazyLayer(LazyModuleMixin):
    """What the lazy convolution, linear and normalization layers share: the regular layer is
    built around placeholder sizes with its initialisation held back (no random numbers drawn,
    so a seed gives the same weights as the regular layer built at once), and the first input
    is checked before the missing size is read from it (``_infer_from``)."""

    def _build(self, *args, **kwargs) -> None:
        self.__dict__["_lazy_constructing"] = True
        try:
            self.cls_to_become.__init__(self, *args, **kwargs)
        finally:
            del self.__dict__["_lazy_constructing"]

    def reset_parameters(self) -> None:
        if self.__dict__.get("_lazy_constructing") or self.has_uninitialized_params():
            return
        self.cls_to_become.reset_parameters(self)

    def initialize_parameters(self, input, *args, **kwargs) -> None:
        if not self.has_uninitialized_params():
            return
        if not isinstance(input, Tensor):
            raise TypeError(f"{type(self).__name__}: expected a convnp Tensor input, got "
                            f"{type(input).__name__}")
        self._infer_from(input)
        self.reset_parameters()

    def _infer_from(self, input: Tensor) -> None:
        raise NotImplementedError


_LAZY_DOC = (
    "A :class:`{base}` whose ``{size}`` is inferred from the first input's ``shape[1]`` "
    "(torch's ``nn.Lazy{base}``); the same arguments as {base} without ``{size}``. {state} "
    "until the first forward, which materialises them, runs {base}'s initialisation and turns "
    "the layer into a {base}.\n\n    Example::\n\n        >>> m = nn.Lazy{base}({args})\n"
    "        >>> opt = convnp.optim.SGD(m.parameters(), lr=0.1)\n"
    "        >>> m(x); type(m).__name__\n        '{base}'\n    ")


def _lazy_classes(mixin: type, bases: tuple, **doc) -> tuple:
    """``Lazy<base>`` for each regular layer in ``bases``: the lazy ``mixin`` over the layer,
    which it becomes on its first forward."""
    return tuple(type(f"Lazy{base.__name__}", (mixin, base), {
        "__doc__": _LAZY_DOC.format(base=base.__name__, **doc), "cls_to_become": base,
        "__module__": __name__, "__qualname__": f"Lazy{base.__name__}",
        "__signature__": _without(mixin, base, doc["size"])}) for base in bases)


def _without(mixin: type, base: type, size: str) -> inspect.Signature | None:
    """For a mixin whose ``__init__`` forwards ``*args`` to ``base``: ``base``'s signature
    without the inferred ``size`` argument (what ``inspect.signature`` shows, as for torch's
    lazy class); None (inspect ``__init__``) for a mixin that spells out its own."""
    own = inspect.signature(mixin.__init__).parameters.values()
    if not any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in own):
        return None
    params = [p for p in inspect.signature(base.__init__).parameters.values()
              if p.name not in ("self", size)]
    return inspect.Signature(params, return_annotation=None)


# --------------------------------------------------------------------------- convolutions
class _LazyConvMixin(_LazyLayer):
    """``in_channels`` inferred from ``input.shape[1]`` (``[0]`` for an unbatched input)."""

    def __init__(self, out_channels: int, kernel_size, *args, **kwargs) -> None:
        bound = inspect.signature(self.cls_to_become.__init__).bind(
            self, 1, out_channels, kernel_size, *args, **kwargs)
        bound.apply_defaults()
        groups = bound.arguments.get("groups", 1)
        bound.arguments["in_channels"] = groups if isinstance(groups, int) and groups > 0 else 1
        self._build(*bound.args[1:], **bound.kwargs)
        dt = self.weight.dtype
        self.in_channels = 0
        self.weight = UninitializedParameter(dtype=dt)
        if self.bias is not None:
            self.bias = UninitializedParameter(dtype=dt)
        self._lazy_setup()

    def _infer_from(self, input: Tensor) -> None:
        name, n = type(self).__name__, self._n
        if input.ndim not in (n + 1, n + 2):
            raise RuntimeError(f"Expected {n + 1}D (unbatched) or {n + 2}D (batched) input to "
                               f"{name}, but got input of size: {tuple(input.shape)}")
        self._set_in_channels(int(input.shape[1] if input.ndim == n + 2 else input.shape[0]))

    def _set_in_channels(self, in_channels: int) -> None:
        name = type(self).__name__
        if in_channels % self.groups:
            raise ValueError(f"{name}: in_channels must be divisible by groups (the input has "
                             f"{in_channels} channels, groups={self.groups})")
        self.in_channels = in_channels
        if self._transposed:
            shape = (in_channels, self.out_channels // self.groups) + self.kernel_size
        else:
            shape = (self.out_channels, in_channels // self.groups) + self.kernel_size
        self.weight.materialize(shape)
        if self.bias is not None:
            self.bias.materialize((self.out_channels,))

    def _after_materialize_from_state(self) -> None:
        if not _is_uninitialized(self.weight) and self.in_channels == 0:
            w = self.weight.shape
            self.in_channels = w[0] if self._transposed else w[1] * self.groups


(LazyConv1d, LazyConv2d, LazyConv3d, LazyConvTranspose1d, LazyConvTranspose2d,
 LazyConvTranspose3d) = _lazy_classes(
    _LazyConvMixin, (Conv1d, Conv2d, Conv3d, ConvTranspose1d, ConvTranspose2d, ConvTranspose3d),
    size="in_channels", args="8, 3",
    state="``weight`` and ``bias`` are :class:`UninitializedParameter`")


# --------------------------------------------------------------------------- linear
class LazyLinear(_LazyLayer, Linear):
    r"""A :class:`Linear` whose ``in_features`` is inferred from the first input's last
    dimension (torch's ``nn.LazyLinear``).

    Args:
        out_features: size of each output sample.
        bias: learn an additive bias (default True).

    ``weight`` (and ``bias``) are :class:`UninitializedParameter` until the first forward,
    which materialises them with shape ``(out_features, input.shape[-1])``, initialises them as
    Linear does and turns the layer into a Linear.

    Example::

        >>> m = nn.LazyLinear(10)
        >>> m(convnp.randn(4, 7)).shape
        (4, 10)
    """

    cls_to_become = Linear

    def __init__(self, out_features: int, bias: bool = True, device=None, dtype=None) -> None:
        self._build(0, 0, False, device, dtype)
        dt = self.weight.dtype
        self.out_features = int(out_features)
        self.weight = UninitializedParameter(dtype=dt)
        if bias:
            self.bias = UninitializedParameter(dtype=dt)
        self._lazy_setup()

    def _infer_from(self, input: Tensor) -> None:
        if input.ndim == 0:
            raise RuntimeError("LazyLinear: the input must have at least one dimension "
                               "(its last one gives in_features)")
        self.in_features = int(input.shape[-1])
        self.weight.materialize((self.out_features, self.in_features))
        if self.bias is not None:
            self.bias.materialize((self.out_features,))

    def _after_materialize_from_state(self) -> None:
        if not _is_uninitialized(self.weight):
            self.in_features = self.weight.shape[1]


# --------------------------------------------------------------------------- normalization
_NORM_STATE = ("weight", "bias", "running_mean", "running_var")


class _LazyNormMixin(_LazyLayer):
    """``num_features`` inferred from ``input.shape[1]``, as torch's ``_LazyNormBase``. torch's
    lazy instance norms default to ``affine=True, track_running_stats=True`` (unlike
    InstanceNorm's False, False): this signature gives every lazy norm those defaults."""

    def __init__(self, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,
                 track_running_stats: bool = True, device=None, dtype=None, *,
                 bias: bool = True) -> None:
        # affine and running stats off: nothing is created that would be replaced at once
        self._build(1, eps, momentum, False, False, device, dtype, bias=False)
        dt = np.dtype(_dtype.resolve(dtype) or _dtype.get_default_dtype())
        self.num_features = 0
        self.affine = affine
        self.track_running_stats = track_running_stats
        if affine:
            self.weight = UninitializedParameter(dtype=dt)
            if bias:
                self.bias = UninitializedParameter(dtype=dt)
        if track_running_stats:
            self.running_mean = UninitializedBuffer(dtype=dt)
            self.running_var = UninitializedBuffer(dtype=dt)
            self.num_batches_tracked = Tensor(np.array(0, np.int64))
        self._lazy_setup()

    def _infer_from(self, input: Tensor) -> None:
        if input.ndim < 2:
            raise ValueError(f"{type(self).__name__}: expected an input with a channel "
                             f"dimension at dim 1, got shape {tuple(input.shape)}")
        self.num_features = int(input.shape[1])
        for name in _NORM_STATE:
            t = getattr(self, name, None)
            if _is_uninitialized(t):
                t.materialize((self.num_features,))

    def _after_materialize_from_state(self) -> None:
        for name in _NORM_STATE:
            t = getattr(self, name, None)
            if t is not None and not _is_uninitialized(t):
                self.num_features = t.shape[0]


(LazyBatchNorm1d, LazyBatchNorm2d, LazyBatchNorm3d, LazyInstanceNorm1d, LazyInstanceNorm2d,
 LazyInstanceNorm3d) = _lazy_classes(
    _LazyNormMixin, (BatchNorm1d, BatchNorm2d, BatchNorm3d, InstanceNorm1d, InstanceNorm2d,
                     InstanceNorm3d),
    size="num_features", args="", state="``weight``/``bias`` are :class:`UninitializedParameter` "
    "and ``running_mean``/``running_var`` :class:`UninitializedBuffer`")
