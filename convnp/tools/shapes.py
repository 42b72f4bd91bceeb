"""Public N-d shape arithmetic: output shapes of convolutions, transposed convolutions and pooling,
'same' padding, and the inverse (which input sizes give a wanted output size).

Every function is a thin N-d loop over the per-axis rules of ``convnp.ops._shape`` -- the very
functions the layers call -- so an answer here can never disagree with what a layer computes.
Shapes are spatial only (no batch or channel axes); an int means a 1-d shape and gives an int back.
"""

from __future__ import annotations

from convnp.ops import _shape

__all__ = ["conv_output_shape", "conv_transpose_output_shape", "pool_output_shape",
           "same_padding", "conv_input_sizes"]


def _spatial(input_shape, fn: str) -> tuple[tuple[int, ...], bool]:
    if _shape._is_int(input_shape):
        return (int(input_shape),), True
    if isinstance(input_shape, (tuple, list)) and input_shape and all(
            _shape._is_int(v) for v in input_shape):
        return tuple(int(v) for v in input_shape), False
    raise TypeError(f"{fn}: 'input_shape' must be an int or a non-empty sequence of ints (the "
                    f"spatial sizes), got {input_shape!r}")


def _check_sizes(sizes, fn: str, name: str = "input_shape") -> None:
    if any(v < 1 for v in sizes):
        raise ValueError(f"{fn}: every entry of '{name}' must be >= 1, got {sizes}")


def _setup(input_shape, kernel_size, stride, dilation, fn: str, name: str = "input_shape"):
    """Spatial sizes (checked), whether they came as an int, and the per-axis kernel, stride
    (``None``: the kernel, pooling's default) and dilation."""
    sp, scalar = _spatial(input_shape, fn)
    _check_sizes(sp, fn, name)
    n = len(sp)
    k = _shape.ntuple(kernel_size, n, "kernel_size", fn, minimum=1)
    s = k if stride is None else _shape.ntuple(stride, n, "stride", fn, minimum=1)
    d = _shape.ntuple(dilation, n, "dilation", fn, minimum=1)
    return sp, scalar, k, s, d


def _result(out: tuple[int, ...], scalar: bool, fn: str, what: str):
    if any(v < 1 for v in out):
        raise ValueError(f"{fn}: the {what} would have a non-positive size {out}: the input is "
                         "too small for this kernel / padding")
    return out[0] if scalar else out


def conv_output_shape(input_shape, kernel_size, stride=1, padding=0, dilation=1):
    """Output spatial shape of a convolution (any number of spatial axes).

    Args:
        input_shape (int or tuple): spatial input sizes, e.g. ``(32, 32)``.
        kernel_size, stride, dilation (int or tuple): as ``Conv{n}d``.
        padding (int, tuple, str): an int, one int per axis, ``(lo, hi)`` pairs per axis,
            ``'valid'``, ``'same'`` or ``'causal'`` (as the conv layers).

    Shape:
        :math:`X_{out} = \\lfloor (X + lo + hi - d(k - 1) - 1)/s \\rfloor + 1` per axis; for a
        symmetric pad p and d = 1 the notes' :math:`(X - k + 2p)/s + 1`.

    Example::

        >>> conv_output_shape((32, 32), 5)
        (28, 28)
        >>> conv_output_shape(7, 3, stride=2, padding='same')
        4
    """
    fn = "conv_output_shape"
    sp, scalar, k, s, d = _setup(input_shape, kernel_size, stride, dilation, fn)
    n = len(sp)
    pads = _shape.conv_padding_pairs(padding, sp, k, s, d, fn)
    out = tuple(_shape.conv_output_size(sp[i], k[i], s[i], pads[i][0], pads[i][1], d[i])
                for i in range(n))
    return _result(out, scalar, fn, "output")


def conv_transpose_output_shape(input_shape, kernel_size, stride=1, padding=0, output_padding=0,
                                dilation=1):
    """Output spatial shape of a transposed convolution.

    Shape:
        :math:`X_{out} = (X - 1)s - lo - hi + d(k - 1) + \\text{output\\_padding} + 1`.

    Example::

        >>> conv_transpose_output_shape((16, 16), 4, stride=2, padding=1)
        (32, 32)
    """
    fn = "conv_transpose_output_shape"
    sp, scalar, k, s, d = _setup(input_shape, kernel_size, stride, dilation, fn)
    n = len(sp)
    op = _shape.ntuple(output_padding, n, "output_padding", fn, minimum=0)
    if isinstance(padding, str) or (isinstance(padding, (tuple, list))
                                    and any(isinstance(p, str) for p in padding)):
        raise ValueError(f"{fn}: padding must be ints or (lo, hi) pairs, got {padding!r}")
    pads = _shape.conv_padding_pairs(padding, sp, k, s, d, fn)
    out = tuple(_shape.conv_transpose_output_size(sp[i], k[i], s[i], pads[i][0], pads[i][1],
                                                  d[i], op[i]) for i in range(n))
    return _result(out, scalar, fn, "output")


def pool_output_shape(input_shape, kernel_size, stride=None, padding=0, dilation=1,
                      ceil_mode: bool = False):
    """Output spatial shape of max/avg pooling (PyTorch's rule, ``stride`` defaults to the kernel).

    Shape:
        :math:`X_{out} = \\lfloor (X + 2p - d(k - 1) - 1)/s \\rfloor + 1` (``ceil`` with
        ``ceil_mode``, dropping a last window that would start in the right padding).

    Example::

        >>> pool_output_shape((28, 28), 2)
        (14, 14)
        >>> pool_output_shape(5, 2, ceil_mode=True)
        3
    """
    fn = "pool_output_shape"
    sp, scalar, k, s, d = _setup(input_shape, kernel_size, stride, dilation, fn)
    n = len(sp)
    p = _shape.ntuple(padding, n, "padding", fn, minimum=0)
    for i in range(n):
        if p[i] > _shape.pool_max_padding(k[i]):
            raise ValueError(f"{fn}: padding should be at most half of the kernel size, got "
                             f"padding={p} for kernel_size={k}")
    out = tuple(_shape.pool_output_size(sp[i], k[i], s[i], p[i], d[i], ceil_mode)
                for i in range(n))
    return _result(out, scalar, fn, "output")


def same_padding(input_shape, kernel_size, stride=1, dilation=1):
    """Padding ``(lo, hi)`` per axis giving ``ceil(X / s)`` outputs (odd element at the end;
    PyTorch's ``padding='same'`` for stride 1).

    Example::

        >>> same_padding(32, 4)
        (1, 2)
        >>> same_padding((7, 8), 3, stride=2)
        ((1, 1), (0, 1))
    """
    fn = "same_padding"
    sp, scalar, k, s, d = _setup(input_shape, kernel_size, stride, dilation, fn)
    n = len(sp)
    pads = tuple(_shape.same_padding(sp[i], k[i], s[i], d[i]) for i in range(n))
    return pads[0] if scalar else pads


def conv_input_sizes(output_shape, kernel_size, stride=1, padding=0, dilation=1):
    """The inverse of :func:`conv_output_shape`: for each axis, the ``range`` of input sizes whose
    convolution has the wanted output size.

    With fixed padding the range is ``(out-1)*s + d(k-1) + 1 - lo - hi`` up to ``s - 1`` more
    (the floor in the output formula discards up to ``s - 1`` trailing inputs). String paddings
    ('same', 'causal', 'valid') are solved through the same forward rule.

    Returns:
        a ``range`` (1-d, int ``output_shape``) or a tuple of ranges; an empty range when no
        input size works.

    Example::

        >>> conv_input_sizes(14, 3, stride=2, padding=1)
        range(27, 29)
        >>> list(conv_input_sizes(4, 3, stride=2, padding='same'))
        [7, 8]
    """
    fn = "conv_input_sizes"
    out_sp, scalar, k, s, d = _setup(output_shape, kernel_size, stride, dilation, fn,
                                     "output_shape")
    n = len(out_sp)
    ranges = []
    for i in range(n):
        # one axis at a time: the padding of the other axes is irrelevant here
        axis_pad = padding[i] if isinstance(padding, (tuple, list)) and len(padding) == n \
            else padding
        if isinstance(padding, (tuple, list)) and len(padding) == 1:
            axis_pad = padding[0]

        def out_of(x, axis_pad=axis_pad, i=i):
            lo, hi = _shape.conv_padding_pairs([axis_pad], (x,), (k[i],), (s[i],), (d[i],), fn)[0]
            return _shape.conv_output_size(x, k[i], s[i], lo, hi, d[i])

        if isinstance(axis_pad, str):
            # 'same'/'causal' depend on the size; the output is monotone in it, so scan the
            # short candidate interval [1, out*s + d(k-1) + 1]
            top = out_sp[i] * s[i] + d[i] * (k[i] - 1) + 1
            xs = [x for x in range(1, top + 1) if out_of(x) == out_sp[i]]
            ranges.append(range(xs[0], xs[-1] + 1) if xs else range(0))
        else:
            lo, hi = _shape.conv_padding_pairs([axis_pad], (1,), (k[i],), (s[i],), (d[i],), fn)[0]
            a, b = _shape.conv_input_size_range(out_sp[i], k[i], s[i], lo, hi, d[i])
            # a clipped minimum may still give a larger output: keep only sizes that match
            xs = [x for x in (a, b) if out_of(x) == out_sp[i]]
            ranges.append(range(min(xs), max(xs) + 1) if xs and a <= b else range(0))
    return ranges[0] if scalar else tuple(ranges)

