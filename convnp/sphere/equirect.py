"""Distortion-aware convolution on equirectangular images (SphereNet, Coors et al., ECCV 2018).

An equirectangular image of ``H x W`` pixels covers latitudes +90..-90 degrees (top to bottom) and
longitudes -180..180 (left to right), one pixel spanning ``dlat = pi / H`` and ``dlon = 2 pi / W``
radians. Near the poles a row of pixels covers a tiny circle, so a plain 3x3 kernel sees a sliver of
sphere there. SphereNet instead lays the kernel's taps on the plane tangent to the sphere at each
output pixel, a regular grid with spacing ``tan(dlon)`` by ``tan(dlat)``, and maps them back to the
sphere with the inverse gnomonic projection: every kernel covers the same solid angle at every
latitude, and longitude wraps around.

The taps depend only on the image size, kernel, stride and dilation, so they are computed once into
a sampling table (bilinear weights of four pixels per tap, :func:`sphere_taps`) and every call is a
gather through that table followed by one GEMM, as a plain convolution's im2col is.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from convnp.nn.modules._geometry import Window
from convnp.nn.modules.module import Module, Parameter

__all__ = ["pixel_angles", "tangent_offsets", "inverse_gnomonic", "angles_to_pixels",
           "bilinear_wrap_table", "sphere_taps", "SphereConv2d", "SpherePool2d"]


def _pair(v) -> tuple[int, int]:
    if np.isscalar(v):
        return int(v), int(v)
    v = tuple(v)
    return (int(v[0]), int(v[-1])) if len(v) in (1, 2) else _bad_pair(v)


def _bad_pair(v):
    raise ValueError(f"expected an int or a pair of ints (height, width), got {v!r}")


def pixel_angles(height: int, width: int, stride=1):
    """Latitude and longitude (radians) of the output pixel centres at ``stride``: two arrays of
    shape ``(H_out, W_out)``, with ``H_out = ceil(H / s)``; output pixel ``i`` sits on input pixel
    ``i * s`` (as a strided convolution with 'same' padding)."""
    sh, sw = _pair(stride)
    rows = np.arange(0, height, sh)
    cols = np.arange(0, width, sw)
    lat = math.pi / 2 - (rows + 0.5) * math.pi / height
    lon = -math.pi + (cols + 0.5) * 2 * math.pi / width
    return np.meshgrid(lat, lon, indexing="ij")


def tangent_offsets(height: int, width: int, kernel_size, dilation=1):
    """Tangent-plane coordinates ``(x, y)`` of the kernel taps, each ``(kh, kw)``: a regular grid
    with the spacing of one pixel at the equator (``tan(dlon)``, ``tan(dlat)``), x east, y north."""
    kh, kw = _pair(kernel_size)
    dh, dw = _pair(dilation)
    j = (np.arange(kw) - (kw - 1) / 2) * dw
    i = (np.arange(kh) - (kh - 1) / 2) * dh
    x = j[None, :] * math.tan(2 * math.pi / width)
    y = -i[:, None] * math.tan(math.pi / height)  # kernel row i grows southwards
    return np.broadcast_to(x, (kh, kw)), np.broadcast_to(y, (kh, kw))


def inverse_gnomonic(x, y, lat0, lon0):
    """The point of the sphere whose gnomonic projection onto the plane tangent at
    ``(lat0, lon0)`` is ``(x, y)`` (x east, y north): returns ``(lat, lon)``, broadcast."""
    rho = np.hypot(x, y)
    nu = np.arctan(rho)
    safe = np.where(rho == 0, 1.0, rho)
    lat = np.arcsin(np.clip(np.cos(nu) * np.sin(lat0) + y * np.sin(nu) * np.cos(lat0) / safe,
                            -1.0, 1.0))
    lon = lon0 + np.arctan2(x * np.sin(nu),
                            rho * np.cos(lat0) * np.cos(nu) - y * np.sin(lat0) * np.sin(nu))
    lat = np.where(rho == 0, lat0, lat)
    lon = np.where(rho == 0, lon0, lon)
    return lat, lon


def angles_to_pixels(lat, lon, height: int, width: int):
    """Fractional pixel coordinates ``(row, col)`` of points on the sphere (col wraps to [0, W))."""
    row = (math.pi / 2 - lat) * height / math.pi - 0.5
    col = np.mod((lon + math.pi) * width / (2 * math.pi) - 0.5, width)
    return row, col


def bilinear_wrap_table(row, col, height: int, width: int):
    """Bilinear sampling table of an equirectangular image at fractional ``(row, col)``: rows are
    clamped to the image (the pole rows are the nearest pixels to a pole), columns wrap around.
    Returns ``idx`` and ``w`` of shape ``(*row.shape, 4)`` (flat pixel indices, weights)."""
    row = np.clip(row, 0, height - 1)
    r0 = np.minimum(np.floor(row), height - 1).astype(np.int64)
    c0 = np.floor(col).astype(np.int64)
    fr, fc = row - r0, col - c0
    r1 = np.minimum(r0 + 1, height - 1)
    c0, c1 = c0 % width, (c0 + 1) % width
    idx = np.stack([r0 * width + c0, r0 * width + c1, r1 * width + c0, r1 * width + c1], -1)
    w = np.stack([(1 - fr) * (1 - fc), (1 - fr) * fc, fr * (1 - fc), fr * fc], -1)
    return idx, w


@functools.lru_cache(maxsize=32)
def sphere_taps(height: int, width: int, kernel_size, stride=1, dilation=1):
    """The SphereNet sampling table for an ``H x W`` input: ``idx``, ``w`` of shape
    ``(H_out * W_out * kh * kw, 4)``, taps ordered (output pixel, kernel row, kernel column).
    Cached: a network asks for the same few tables on every call."""
    lat0, lon0 = pixel_angles(height, width, stride)
    x, y = tangent_offsets(height, width, kernel_size, dilation)
    lat, lon = inverse_gnomonic(x[None, None], y[None, None], lat0[..., None, None],
                                lon0[..., None, None])
    row, col = angles_to_pixels(lat, lon, height, width)
    idx, w = bilinear_wrap_table(row, col, height, width)
    idx, w = idx.reshape(-1, 4), w.reshape(-1, 4)
    idx.setflags(write=False)
    w.setflags(write=False)
    return idx, w


def _same_padding(kernel_size, stride, dilation) -> tuple:
    """The zero padding a plain convolution would need to put its output pixels where these layers
    put theirs (each at the centre of its stride block): ``((k-1)*d - (s-1)) / 2`` per axis. Only
    for the receptive-field arithmetic of ``convnp.tools.summary``; nothing is padded."""
    return tuple(((k - 1) * d - (s - 1)) / 2 for k, s, d in zip(kernel_size, stride, dilation))


def _gather_taps(x, kernel_size, stride, dilation, taps_first: bool = False):
    """Every output pixel's kernel taps: ``(N, C, H, W) -> (N, C, H_out, W_out, kh*kw)``, or
    ``(N, C, kh*kw, H_out, W_out)`` with ``taps_first`` (a reduction over the taps then runs over
    whole contiguous planes)."""
    from convnp.ops.sampling import table_sample

    n, c, h, w = x.shape
    kh, kw = _pair(kernel_size)
    idx, wt = sphere_taps(h, w, _pair(kernel_size), _pair(stride), _pair(dilation))
    ho, wo = len(range(0, h, _pair(stride)[0])), len(range(0, w, _pair(stride)[1]))
    if taps_first:
        idx = idx.reshape(ho * wo, kh * kw, 4).transpose(1, 0, 2).reshape(-1, 4)
        wt = wt.reshape(ho * wo, kh * kw, 4).transpose(1, 0, 2).reshape(-1, 4)
    cols = table_sample(x.reshape(n, c, h * w), idx, wt)    # (N, C, P*K)
    return cols.reshape(n, c, kh * kw, ho, wo) if taps_first else cols.reshape(n, c, ho, wo,
                                                                               kh * kw)


def _check_input(x, name: str, channels: int | None = None):
    if x.ndim != 4:
        raise ValueError(f"{name}: expected an equirectangular batch (N, C, H, W), got shape "
                         f"{tuple(x.shape)}")
    if channels is not None and x.shape[1] != channels:
        raise ValueError(f"{name}: expected {channels} input channels, got {x.shape[1]} (shape "
                         f"{tuple(x.shape)})")
    if x.shape[3] != 2 * x.shape[2]:
        raise ValueError(f"{name}: an equirectangular image spans 360 x 180 degrees, so its width "
                         f"must be twice its height; got H={x.shape[2]}, W={x.shape[3]}")


class SphereConv2d(Module):
    """SphereNet's distortion-aware convolution on equirectangular images.

    Each output pixel's ``kh x kw`` taps are read on the plane tangent to the sphere at that pixel
    (inverse gnomonic projection, bilinear interpolation, longitude wrapping), so a kernel covers
    the same solid angle at the poles as at the equator. The output keeps the input's size at
    stride 1 (``ceil(H / s) x ceil(W / s)`` otherwise).

    Args:
        in_channels, out_channels, kernel_size, stride, dilation, bias: as ``Conv2d``.

    Shape:
        ``(N, C_in, H, 2H) -> (N, C_out, ceil(H / s_h), ceil(2H / s_w))``.

    Example:
        >>> conv = SphereConv2d(1, 8, 3)
        >>> conv(convnp.randn(2, 1, 32, 64)).shape
        (2, 8, 32, 64)
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size=3, stride=1, dilation=1,
                 bias: bool = True, dtype=None) -> None:
        super().__init__()
        import convnp

        self.in_channels, self.out_channels = int(in_channels), int(out_channels)
        self.kernel_size, self.stride, self.dilation = (_pair(kernel_size), _pair(stride),
                                                        _pair(dilation))
        kh, kw = self.kernel_size
        # PyTorch's Conv2d initialisation, so a SphereConv2d trains like the plain layer
        self.weight = Parameter(convnp.empty(out_channels, in_channels, kh, kw, dtype=dtype))
        self.bias = Parameter(convnp.empty(out_channels, dtype=dtype)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        from convnp.nn import init

        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            bound = 1 / math.sqrt(self.in_channels * self.kernel_size[0] * self.kernel_size[1])
            init.uniform_(self.bias, -bound, bound)

    def forward(self, x):
        _check_input(x, "SphereConv2d", self.in_channels)
        taps = _gather_taps(x, self.kernel_size, self.stride, self.dilation)
        n, c, ho, wo, k = taps.shape
        cols = taps.permute(0, 2, 3, 1, 4).reshape(n, ho * wo, c * k)       # (N, P, C*K)
        out = cols.matmul(self.weight.reshape(self.out_channels, c * k).t())  # (N, P, O)
        if self.bias is not None:
            out = out + self.bias
        return out.permute(0, 2, 1).reshape(n, self.out_channels, ho, wo)

    @property
    def padding(self) -> tuple:
        return _same_padding(self.kernel_size, self.stride, self.dilation)

    def output_shape(self, input_shape: tuple) -> tuple:
        h, w = input_shape[-2:]
        return (*input_shape[:-3], self.out_channels, -(-h // self.stride[0]),
                -(-w // self.stride[1]))

    def window(self, input_shape=None) -> Window:
        """The tangent-plane window, placed as a plain conv with ``padding`` would place it."""
        return Window(self.kernel_size, self.stride, self.dilation, self.padding, sphere=True)

    def extra_repr(self) -> str:
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
             f"stride={self.stride}")
        if self.dilation != (1, 1):
            s += f", dilation={self.dilation}"
        return s + ("" if self.bias is not None else ", bias=False")


class SpherePool2d(Module):
    """Max or average pooling over SphereNet's tangent-plane windows (see :class:`SphereConv2d`).

    Args:
        kernel_size: window size; stride: defaults to ``kernel_size``; mode: ``'max'`` or ``'avg'``.

    Shape:
        ``(N, C, H, 2H) -> (N, C, ceil(H / s_h), ceil(2H / s_w))``.
    """

    def __init__(self, kernel_size=2, stride=None, mode: str = "max") -> None:
        super().__init__()
        if mode not in ("max", "avg"):
            raise ValueError(f"SpherePool2d: mode must be 'max' or 'avg', got {mode!r}")
        self.kernel_size = _pair(kernel_size)
        self.stride = _pair(kernel_size if stride is None else stride)
        self.mode = mode

    def forward(self, x):
        _check_input(x, "SpherePool2d")
        taps = _gather_taps(x, self.kernel_size, self.stride, 1, taps_first=True)
        return taps.amax(2) if self.mode == "max" else taps.mean(2)

    @property
    def padding(self) -> tuple:
        return _same_padding(self.kernel_size, self.stride, (1, 1))

    def output_shape(self, input_shape: tuple) -> tuple:
        h, w = input_shape[-2:]
        return (*input_shape[:-2], -(-h // self.stride[0]), -(-w // self.stride[1]))

    def window(self, input_shape=None) -> Window:
        """The tangent-plane window, placed as a plain pooling with ``padding`` would place it."""
        return Window(self.kernel_size, self.stride, 1, self.padding, sphere=True)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, mode={self.mode!r}"
