"""Convolution layers: ``Conv1d/2d/3d``, ``ConvTranspose1d/2d/3d``, ``GatedConv1d/2d/3d``,
``Unfold`` / ``Fold``.

Thin modules: they hold PyTorch's attributes (``in_channels``, ``kernel_size`` tuples, ``weight``,
``bias``...), PyTorch's default initialisation and state_dict keys (a torch state_dict loads
unchanged), and call the functional ops of ``convnp.ops.conv`` / ``convnp.ops.fold``.

Beyond PyTorch (all forwarded to the functional engine):
- ``padding='same'`` with any stride (``ceil(size/stride)`` outputs, SAME_UPPER), ``'causal'``,
  per-side ``((lo, hi), ...)`` pairs, or a per-axis mix such as ``('causal', 1)``;
- ``padding_mode`` per spatial axis, e.g. ``('replicate', 'circular')`` for 360-degree images;
- transposed convolutions with reflect / replicate / circular padding (the exact adjoint of the
  padded convolution; PyTorch refuses them).

``output_shape(input_shape)`` and ``window()`` describe a layer's geometry from
``convnp.ops._shape`` alone (no data), for the summary / explain tools.
"""

from __future__ import annotations

import math
from typing import Callable, Sequence

import numpy as np

from convnp import _dtype
from convnp import random as _random
from convnp.nn.modules._geometry import Window, spatial_split
from convnp.nn.modules.module import Module, Parameter
from convnp.ops import _shape
from convnp.ops import fold as _fold_ops
from convnp.ops.elementwise import sigmoid
from convnp.ops.fold import fold, unfold
from convnp.ops.padding import CONV_PADDING_MODES

__all__ = ["Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d",
           "GatedConv1d", "GatedConv2d", "GatedConv3d", "Unfold", "Fold"]

_PADDING_MODES = CONV_PADDING_MODES  # one list, convnp.ops.padding's
_PADDING_STRINGS = ("valid", "same", "causal")


def _ops():
    # late import: the convolution engine lives in convnp.ops.conv
    from convnp.ops import conv

    return conv


_FUNCTIONS: dict = {}


def _functional(transposed: bool, n: int) -> Callable:
    """``conv{n}d`` or ``conv_transpose{n}d`` of ``convnp.ops.conv`` (looked up once)."""
    fn = _FUNCTIONS.get((transposed, n))
    if fn is None:
        name = f"conv_transpose{n}d" if transposed else f"conv{n}d"
        fn = _FUNCTIONS[transposed, n] = getattr(_ops(), name)
    return fn


def _is_int(v) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool)


def _init_uniform(t: Parameter, bound: float) -> None:
    """Fill ``t`` in place with U(-bound, bound) from convnp's default generator."""
    t.array[...] = _random.rng().uniform(-bound, bound, t.shape).astype(t.dtype)


def _fan_in(weight: Parameter) -> int:
    """PyTorch's fan_in of a conv weight: ``weight.size(1) * prod(kernel)``."""
    return int(weight.shape[1] * math.prod(weight.shape[2:]))


class _ConvNd(Module):
    _n = 2
    _transposed = False

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 dilation=1, groups: int = 1, bias: bool = True, padding_mode="zeros",
                 output_padding=0, device=None, dtype=None) -> None:
        super().__init__()
        name, n = type(self).__name__, self._n
        for arg, v in (("in_channels", in_channels), ("out_channels", out_channels)):
            if not _is_int(v) or v < 1:
                raise ValueError(f"{name}: {arg} must be a positive int, got {v!r}")
        if not _is_int(groups) or groups <= 0:
            raise ValueError(f"{name}: groups must be a positive integer, got {groups!r}")
        if in_channels % groups:
            raise ValueError(f"{name}: in_channels must be divisible by groups (got "
                             f"in_channels={in_channels}, groups={groups})")
        if out_channels % groups:
            raise ValueError(f"{name}: out_channels must be divisible by groups (got "
                             f"out_channels={out_channels}, groups={groups})")
        kernel_size = _shape.ntuple(kernel_size, n, "kernel_size", name, minimum=1)
        stride = _shape.ntuple(stride, n, "stride", name, minimum=1)
        dilation = _shape.ntuple(dilation, n, "dilation", name, minimum=1)
        padding = self._check_padding(padding, stride, name)
        self._check_padding_mode(padding_mode, name)
        if device not in (None, "cpu"):
            raise ValueError(f"{name}: convnp runs on the CPU only, got device={device!r}")
        self.in_channels = int(in_channels)
        self.out_channels = int(out_channels)
        self.kernel_size = kernel_size
        self.stride = stride
        self.padding = padding
        self.dilation = dilation
        self.transposed = self._transposed
        self.output_padding = _shape.ntuple(output_padding, n, "output_padding", name, minimum=0)
        self.groups = int(groups)
        self.padding_mode = padding_mode if isinstance(padding_mode, str) else tuple(padding_mode)
        dt = _dtype.resolve(dtype) or _dtype.get_default_dtype()
        if self._transposed:
            shape = (in_channels, out_channels // groups) + kernel_size
        else:
            shape = (out_channels, in_channels // groups) + kernel_size
        self.weight = Parameter(np.empty(shape, dtype=dt))
        if bias:
            self.bias = Parameter(np.empty((out_channels,), dtype=dt))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    # ------------------------------------------------------------------ validation
    def _check_padding(self, padding, stride, name):
        n = self._n
        if isinstance(padding, str):
            if padding not in _PADDING_STRINGS:
                raise ValueError(f"{name}: invalid padding string {padding!r}, should be one of "
                                 f"{set(_PADDING_STRINGS)}")
            if self._transposed and padding != "valid":
                raise ValueError(f"{name}: padding={padding!r} is not supported for transposed "
                                 f"convolution; pass ints or (lo, hi) pairs, or output_size= "
                                 f"to forward")
            return padding
        if _is_int(padding):
            if padding < 0:
                raise ValueError(f"{name}: padding must be non-negative, got {padding}")
            return (int(padding),) * n
        if isinstance(padding, (tuple, list)):
            entries = list(padding)
            if len(entries) not in (1, n):
                raise ValueError(f"{name}: padding needs 1 or {n} entries (one per spatial axis), "
                                 f"got {padding!r}")
            out = []
            for p in entries:
                if _is_int(p) and p >= 0:
                    out.append(int(p))
                elif isinstance(p, str) and p in _PADDING_STRINGS and not self._transposed:
                    out.append(p)
                elif (isinstance(p, (tuple, list)) and len(p) == 2
                      and all(_is_int(v) and v >= 0 for v in p)):
                    out.append((int(p[0]), int(p[1])))
                else:
                    raise ValueError(f"{name}: each padding entry must be a non-negative int, "
                                     f"a (lo, hi) pair{'' if self._transposed else ' or one of '}"
                                     f"{'' if self._transposed else set(_PADDING_STRINGS)}, "
                                     f"got {p!r} in {padding!r}")
            if len(out) == 1:
                out = out * n
            return tuple(out)
        raise TypeError(f"{name}: padding must be an int, a string or a tuple, got {padding!r} "
                        f"({type(padding).__name__})")

    def _check_padding_mode(self, padding_mode, name):
        modes = (padding_mode,) if isinstance(padding_mode, str) else padding_mode
        if not isinstance(modes, (tuple, list)) or (not isinstance(padding_mode, str)
                                                     and len(modes) != self._n):
            raise ValueError(f"{name}: padding_mode must be one of {set(_PADDING_MODES)} or a "
                             f"tuple of {self._n} of them (one per spatial axis), but got "
                             f"padding_mode={padding_mode!r}")
        for m in modes:
            if m not in _PADDING_MODES:
                raise ValueError(f"{name}: padding_mode must be one of {set(_PADDING_MODES)}, but "
                                 f"got padding_mode={m!r}")

    # ------------------------------------------------------------------ parameters
    def reset_parameters(self) -> None:
        """PyTorch's default: ``kaiming_uniform_(weight, a=sqrt(5))`` (i.e. U(-1/sqrt(fan_in),
        1/sqrt(fan_in))) and bias ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)), fan_in = weight.size(1) *
        prod(kernel_size)."""
        from convnp.nn import init

        fan_in = _fan_in(self.weight)
        if hasattr(init, "kaiming_uniform_"):
            init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        else:  # gain sqrt(2/(1+a^2)) = sqrt(1/3); bound = gain*sqrt(3/fan_in) = 1/sqrt(fan_in)
            _init_uniform(self.weight, 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0)
        if self.bias is not None:
            _init_uniform(self.bias, 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0)

    # ------------------------------------------------------------------ geometry
    def _split_input_shape(self, input_shape: Sequence[int]) -> tuple[tuple, tuple]:
        name, n = type(self).__name__, self._n
        lead, sp = spatial_split(input_shape, n + 1, name, ranks=(n + 1, n + 2))
        # a lazy layer (in_channels 0 until its first forward) takes any channel count
        if self.in_channels and sp[0] != self.in_channels:
            raise ValueError(f"{name}: expected {self.in_channels} input channels, got input "
                             f"shape {tuple(input_shape)}")
        return lead, sp[1:]

    def window(self, input_shape: Sequence[int] | None = None,
               output_size: Sequence[int] | None = None) -> Window:
        """The convolution's window (kernel, stride, dilation, ``(lo, hi)`` pads per axis,
        ``output_padding`` of a transposed conv, or the one that reaches ``output_size``).

        ``padding='same'`` with a stride > 1 depends on the input size: pass ``input_shape``.
        """
        name, n = type(self).__name__, self._n
        if input_shape is not None:
            sp = self._split_input_shape(input_shape)[1]
        else:
            per_axis = (self.padding,) * n if isinstance(self.padding, str) else self.padding
            if any(p == "same" and s > 1 for p, s in zip(per_axis, self.stride)):
                raise ValueError(f"{name}.window: padding='same' with stride {self.stride} "
                                 f"depends on the input size; pass input_shape")
            sp = (1,) * n  # the pads below do not depend on it
        pads = _shape.conv_padding_pairs(self.padding, sp, self.kernel_size, self.stride,
                                         self.dilation, name)
        op = self.output_padding
        if output_size is not None:
            if not self._transposed:
                raise TypeError(f"{name}: output_size is an argument of transposed "
                                f"convolutions only")
            op = _shape.conv_transpose_output_padding(tuple(output_size)[-n:], sp,
                                                      self.kernel_size, self.stride, pads,
                                                      self.dilation, name)
        return Window(self.kernel_size, self.stride, self.dilation, pads, self._transposed,
                      output_padding=op)

    def output_shape(self, input_shape: Sequence[int],
                     output_size: Sequence[int] | None = None) -> tuple[int, ...]:
        """Output shape for an input of ``input_shape`` ((N, C, *spatial) or (C, *spatial)) and,
        for a transposed conv, an optional ``output_size``, from the shape arithmetic alone."""
        lead, sp = self._split_input_shape(input_shape)
        win = self.window(input_shape, output_size)
        return lead + (self.out_channels,) + win.output_size(sp)

    def extra_repr(self) -> str:
        n = self._n
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
             f"stride={self.stride}")
        if self.padding != (0,) * n:
            s += f", padding={self.padding}"
        if self.dilation != (1,) * n:
            s += f", dilation={self.dilation}"
        if self.output_padding != (0,) * n:
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s


class _Conv(_ConvNd):
    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 dilation=1, groups: int = 1, bias: bool = True, padding_mode="zeros",
                 device=None, dtype=None) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups, bias, padding_mode, 0, device, dtype)

    def forward(self, input):
        return _functional(False, self._n)(input, self.weight, self.bias, self.stride,
                                           self.padding, self.dilation, self.groups,
                                           padding_mode=self.padding_mode)


class _ConvTranspose(_ConvNd):
    _transposed = True

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 output_padding=0, groups: int = 1, bias: bool = True, dilation=1,
                 padding_mode="zeros", device=None, dtype=None) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups, bias, padding_mode, output_padding, device, dtype)
        name = type(self).__name__
        for i in range(self._n):
            op, s, d = self.output_padding[i], self.stride[i], self.dilation[i]
            if op >= s and op >= d:
                raise ValueError(f"{name}: output_padding must be smaller than either stride or "
                                 f"dilation, got output_padding={self.output_padding}, "
                                 f"stride={self.stride}, dilation={self.dilation}")

    def forward(self, input, output_size: Sequence[int] | None = None):
        return _functional(True, self._n)(input, self.weight, self.bias, self.stride,
                                          self.padding, self.output_padding, self.groups,
                                          self.dilation, output_size=output_size,
                                          padding_mode=self.padding_mode)


_CONV_DOC = """Applies a {n}-d convolution (cross-correlation, as PyTorch) over an input of
    shape {inp}.

    Args:
        in_channels (int): channels of the input.
        out_channels (int): channels produced.
        kernel_size (int or tuple): size of the kernel.
        stride (int or tuple): step of the kernel. Default: 1
        padding (int, tuple or str): int, one int per axis, one ``(lo, hi)`` pair per axis,
            ``'valid'``, ``'same'`` (any stride: ``ceil(size/stride)`` outputs, odd element at the
            end) or ``'causal'`` (all padding before), or a per-axis mix. Default: 0
        dilation (int or tuple): spacing between kernel elements. Default: 1
        groups (int): blocked connections from input to output channels. Default: 1
        bias (bool): add a learnable bias. Default: True
        padding_mode (str or tuple): ``'zeros'`` or a mode of ``F.pad`` (``'reflect'``,
            ``'replicate'``, ``'circular'``, ...), or one of them per spatial axis.
            Default: ``'zeros'``
        device, dtype: ``None`` / ``'cpu'``; parameter dtype (default float32).

    Attributes:
        weight: ``(out_channels, in_channels/groups, *kernel_size)``, initialised
            U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with fan_in = in_channels/groups * prod(kernel).
        bias: ``(out_channels,)``, same distribution.

    Shape:
        - Input: {inp} or unbatched without N.
        - Output: {out} with
          :math:`X_{{out}} = \\lfloor (X_{{in}} + lo + hi - d(k - 1) - 1)/s \\rfloor + 1` per axis.

    Example::

        >>> m = nn.Conv{n}d(3, 8, 3, padding=1)
        >>> m(convnp.randn(2, 3{ex})).shape
        (2, 8{ex})
"""

_CONVT_DOC = """Applies a {n}-d transposed convolution (the gradient of Conv{n}d with respect
    to its input) over an input of shape {inp}.

    Args:
        in_channels, out_channels, kernel_size, stride, dilation, groups, bias: as Conv{n}d.
        padding (int or tuple): ``dilation*(kernel_size-1) - padding`` implicit zero padding;
            ints or ``(lo, hi)`` pairs per axis (removed from the output). Default: 0
        output_padding (int or tuple): extra size on the high side of each output axis
            (< stride or < dilation). Default: 0
        padding_mode (str or tuple): as Conv{n}d; convnp also allows modes other than
            ``'zeros'`` (PyTorch refuses), defined as the exact adjoint of the padded conv.

    Attributes:
        weight: ``(in_channels, out_channels/groups, *kernel_size)`` (PyTorch's layout),
            U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with fan_in = out_channels/groups * prod(kernel).
        bias: ``(out_channels,)``.

    Shape:
        - Input: {inp} or unbatched without N.
        - Output: {out} with
          :math:`X_{{out}} = (X_{{in}} - 1)s - lo - hi + d(k - 1) + \\text{{output\\_padding}} + 1`.
          ``forward(input, output_size=...)`` picks ``output_padding`` to reach ``output_size``.

    Example::

        >>> m = nn.ConvTranspose{n}d(8, 3, 4, stride=2, padding=1)
        >>> m(convnp.randn(2, 8{ex})).shape
        (2, 3{ex2})
"""

_DIMS = {1: ("L",), 2: ("H", "W"), 3: ("D", "H", "W")}


def _fmt(doc: str, n: int) -> str:
    d = _DIMS[n]
    return doc.format(n=n, inp="(N, C_in, " + ", ".join(d) + ")",
                      out="(N, C_out, " + ", ".join(x + "_out" for x in d) + ")",
                      ex=", 8" * n, ex2=", 16" * n)


def _layer(name: str, base: type, n: int, doc: str) -> type:
    """One N-d class of a family: ``base`` with ``_n = n`` and the family's docstring."""
    return type(name, (base,), {"__doc__": _fmt(doc, n), "_n": n, "__module__": __name__})


Conv1d = _layer("Conv1d", _Conv, 1, _CONV_DOC)
Conv2d = _layer("Conv2d", _Conv, 2, _CONV_DOC)
Conv3d = _layer("Conv3d", _Conv, 3, _CONV_DOC)
ConvTranspose1d = _layer("ConvTranspose1d", _ConvTranspose, 1, _CONVT_DOC)
ConvTranspose2d = _layer("ConvTranspose2d", _ConvTranspose, 2, _CONVT_DOC)
ConvTranspose3d = _layer("ConvTranspose3d", _ConvTranspose, 3, _CONVT_DOC)


# ---------------------------------------------------------------------------------------------
# Gated convolution
# ---------------------------------------------------------------------------------------------
class _GatedConvNd(Module):
    _n = 2
    _conv: type = Conv2d

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 dilation=1, groups: int = 1, bias: bool = True, padding_mode="zeros",
                 activation: str | Callable | Module | None = "elu", device=None,
                 dtype=None) -> None:
        super().__init__()
        name = type(self).__name__
        if _is_int(groups) and groups > 0 and _is_int(out_channels) and out_channels % groups:
            raise ValueError(f"{name}: out_channels must be divisible by groups (got "
                             f"out_channels={out_channels}, groups={groups})")
        self.in_channels = in_channels
        self.out_channels = out_channels
        # one conv computes features and gates together: per group, out/groups feature channels
        # followed by out/groups gate channels (for groups=1: rows [:out] features, [out:] gates)
        self.conv = self._conv(in_channels, 2 * out_channels, kernel_size, stride, padding,
                               dilation, groups, bias, padding_mode, device, dtype)
        if isinstance(activation, str):
            if activation != "elu":
                raise ValueError(f"{name}: activation must be 'elu', None, a callable or a "
                                 f"Module, got {activation!r}")
        elif activation is not None and not callable(activation):
            raise TypeError(f"{name}: activation must be 'elu', None, a callable or a Module, "
                            f"got {type(activation).__name__}")
        self.activation = activation

    def _phi(self, x):
        act = self.activation
        if act is None:
            return x
        if isinstance(act, str):  # 'elu', the paper's default
            from convnp.ops.activation import elu

            return elu(x)
        return act(x)

    def forward(self, input):
        y = self.conv(input)  # (*, 2*out, *spatial)
        n, g, out = self._n, self.conv.groups, self.out_channels
        lead = tuple(y.shape[:y.ndim - n - 1])
        sp = tuple(y.shape[y.ndim - n:])
        y = y.reshape(*lead, g, 2, out // g, *sp)  # (*, groups, feature|gate, out/groups, *sp)
        pre = (slice(None),) * (len(lead) + 1)
        feat = y[pre + (0,)].reshape(*lead, out, *sp)
        gate = y[pre + (1,)].reshape(*lead, out, *sp)
        return self._phi(feat) * sigmoid(gate)

    def output_shape(self, input_shape: Sequence[int]) -> tuple[int, ...]:
        """Output shape for ``input_shape`` (the conv's, with ``out_channels`` channels)."""
        shape = self.conv.output_shape(input_shape)
        return shape[:-self._n - 1] + (self.out_channels,) + shape[-self._n:]

    def window(self, input_shape: Sequence[int] | None = None) -> Window:
        """The window of the one convolution computing features and gates."""
        return self.conv.window(input_shape)

    def extra_repr(self) -> str:
        act = self.activation
        if isinstance(act, Module):
            return f"out_channels={self.out_channels}"
        desc = act if isinstance(act, (str, type(None))) else getattr(act, "__name__", repr(act))
        return f"out_channels={self.out_channels}, activation={desc}"


_GATED_DOC = """Gated convolution (Yu et al., "Free-Form Image Inpainting with Gated
    Convolution", ICCV 2019): ``O = phi(conv_f(I)) * sigmoid(conv_g(I))``, {n}-d.

    A learned soft mask (the gate) per output channel and position, so the layer can learn to
    ignore invalid pixels (holes) instead of treating them as data.

    Implementation: ONE ``Conv{n}d`` (attribute ``conv``) produces ``2*out_channels`` channels;
    within each group the first ``out_channels/groups`` are features, the next ones gates. For
    ``groups=1``: ``conv.weight[:out]`` / ``conv.bias[:out]`` are ``conv_f``'s, the rest
    ``conv_g``'s. state_dict keys: ``conv.weight``, ``conv.bias``.

    Args:
        in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
            padding_mode, device, dtype: as Conv{n}d (every extension included).
        activation: ``'elu'`` (default, as the paper), ``None`` (identity), any callable on
            tensors or a Module.

    Shape:
        As Conv{n}d with ``out_channels`` output channels.

    Example::

        >>> m = nn.GatedConv{n}d(4, 8, 3, padding=1)
        >>> m(convnp.randn(2, 4{ex})).shape
        (2, 8{ex})
"""


class GatedConv1d(_GatedConvNd):
    __doc__ = _GATED_DOC.format(n=1, ex=", 8")
    _n = 1
    _conv = Conv1d


class GatedConv2d(_GatedConvNd):
    __doc__ = _GATED_DOC.format(n=2, ex=", 8, 8")
    _n = 2
    _conv = Conv2d


class GatedConv3d(_GatedConvNd):
    __doc__ = _GATED_DOC.format(n=3, ex=", 8, 8, 8")
    _n = 3
    _conv = Conv3d


# ---------------------------------------------------------------------------------------------
# Unfold / Fold
# ---------------------------------------------------------------------------------------------
class _Blocks(Module):
    """What Unfold and Fold share: the sliding blocks' settings and window."""

    _transposed = False

    def __init__(self, kernel_size, dilation=1, padding=0, stride=1) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.dilation = dilation
        self.padding = padding
        self.stride = stride

    def _settings(self, *more) -> tuple[int, tuple, tuple, tuple, tuple]:
        name = type(self).__name__
        n = _fold_ops._ndim_of(*more, self.kernel_size, self.dilation, self.padding, self.stride)
        return (n,) + _fold_ops._settings(name, n, self.kernel_size, self.dilation, self.padding,
                                          self.stride)

    def window(self, input_shape: Sequence[int] | None = None) -> Window:
        """The blocks' window (on the output image for ``Fold``, which is its adjoint)."""
        _, k, d, p, s = self._settings(*self._extra_dims())
        return Window(k, s, d, p, transposed=self._transposed)

    def _extra_dims(self) -> tuple:
        return ()


class Unfold(_Blocks):
    """Extracts sliding local blocks from a batched input (``torch.nn.Unfold``; 1-d and 3-d too:
    the dimensionality is the length of the first tuple argument, 2 when all are ints).

    Args:
        kernel_size, dilation=1, padding=0, stride=1: see :func:`convnp.nn.functional.unfold`.

    Shape:
        - Input: :math:`(N, C, *)`
        - Output: :math:`(N, C \\times \\prod(\\text{kernel\\_size}), L)`

    Example::

        >>> nn.Unfold(kernel_size=(2, 3))(convnp.randn(2, 5, 3, 4)).shape
        (2, 30, 4)
    """

    def forward(self, input):
        return unfold(input, self.kernel_size, self.dilation, self.padding, self.stride)

    def output_shape(self, input_shape: Sequence[int]) -> tuple[int, ...]:
        """``(N, C, *spatial) -> (N, C * prod(kernel_size), L)`` (L: the number of blocks)."""
        n = self._settings()[0]
        lead, sp = spatial_split(input_shape, n + 1, type(self).__name__, ranks=(n + 1, n + 2))
        win = self.window()
        return lead + (sp[0] * math.prod(win.kernel), math.prod(win.output_size(sp[1:])))

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, dilation={self.dilation}, "
                f"padding={self.padding}, stride={self.stride}")


class Fold(_Blocks):
    """Combines an array of sliding local blocks into a tensor, summing overlaps
    (``torch.nn.Fold``; 1-d and 3-d too).

    Args:
        output_size, kernel_size, dilation=1, padding=0, stride=1: see
            :func:`convnp.nn.functional.fold`.

    Shape:
        - Input: :math:`(N, C \\times \\prod(\\text{kernel\\_size}), L)`
        - Output: :math:`(N, C, *\\text{output\\_size})`

    Example::

        >>> nn.Fold(output_size=(4, 5), kernel_size=(2, 2))(convnp.randn(1, 12, 12)).shape
        (1, 3, 4, 5)
    """

    _transposed = True

    def __init__(self, output_size, kernel_size, dilation=1, padding=0, stride=1) -> None:
        super().__init__(kernel_size, dilation, padding, stride)
        self.output_size = output_size

    def forward(self, input):
        return fold(input, self.output_size, self.kernel_size, self.dilation, self.padding,
                    self.stride)

    def _extra_dims(self) -> tuple:
        return (self.output_size,)

    def output_shape(self, input_shape: Sequence[int]) -> tuple[int, ...]:
        """``(N, C * prod(kernel_size), L) -> (N, C, *output_size)``."""
        n = self._settings(self.output_size)[0]
        lead, (ck, _) = spatial_split(input_shape, 2, type(self).__name__, ranks=(2, 3))
        size = _shape.ntuple(self.output_size, n, "output_size", type(self).__name__, minimum=1)
        return lead + (ck // math.prod(self.window().kernel),) + size

    def extra_repr(self) -> str:
        return (f"output_size={self.output_size}, kernel_size={self.kernel_size}, "
                f"dilation={self.dilation}, padding={self.padding}, stride={self.stride}")

