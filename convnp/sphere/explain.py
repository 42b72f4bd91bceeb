"""How much of the sphere a spherical layer or network sees, in degrees of arc.

On an equirectangular image one pixel spans ``180 / H`` degrees of latitude, and ``360 / W``
degrees of longitude, which is ``360 / W * cos(latitude)`` degrees of arc east-west. A plain
convolution therefore sees less and less of the sphere towards the poles; SphereNet's kernels see
the same arc everywhere (and so span ``1 / cos(latitude)`` times more columns). On an icosphere
each MeshConv reaches one ring of neighbours, about one mean edge length.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from convnp.nn.modules._geometry import window_of

__all__ = ["ArcField", "receptive_field_degrees", "explain_sphere_conv", "explain_mesh_conv"]


@dataclass(frozen=True)
class ArcField:
    """A receptive field in degrees of arc: ``north_south`` and ``east_west`` at ``latitude``."""
    north_south: float
    east_west: float
    latitude: float

    def __str__(self) -> str:
        return (f"{self.north_south:.1f} deg north-south x {self.east_west:.1f} deg east-west "
                f"at latitude {self.latitude:g}")


def _mesh_arc(model) -> float | None:
    """Diameter (degrees) seen by one output of a network of mesh layers, or None if it has none."""
    from convnp.sphere.mesh import Mesh, MeshConv, MeshPool

    radius, found = 0.0, False
    for m in model.modules():
        if isinstance(m, (MeshConv, MeshPool)):
            radius += Mesh.at(m.level).spacing  # one ring, about one edge length, on m's level
            found = True
    return math.degrees(2 * radius) if found else None


def receptive_field_degrees(model, input_shape, latitude: float = 0.0) -> ArcField:
    """The arc one output unit of ``model`` sees, at ``latitude`` (degrees).

    Args:
        model: a network of equirectangular layers (``SphereConv2d``, ``SpherePool2d``,
            ``EquirectConv2d``, ``Conv2d``, pooling, ...) or of mesh layers (``MeshConv``,
            ``MeshPool``).
        input_shape: one sample's shape, ``(C, H, 2H)`` or ``(C, V)``.
        latitude: where the unit sits, in degrees (0 is the equator).

    Returns:
        :class:`ArcField`. For equirectangular networks the receptive field in pixels comes from
        :func:`convnp.tools.summary`; when every windowed layer's ``window()`` lies on the
        sphere (``Window.sphere``: SphereNet's layers) the east-west arc is the same at every
        latitude, otherwise it shrinks by ``cos(latitude)``.
    """
    if not -90 <= latitude <= 90:
        raise ValueError(f"receptive_field_degrees: latitude must be in [-90, 90], got {latitude}")
    mesh = _mesh_arc(model)
    if mesh is not None:
        return ArcField(mesh, mesh, latitude)
    if len(input_shape) != 3 or input_shape[2] != 2 * input_shape[1]:
        raise ValueError(f"receptive_field_degrees: expected an equirectangular sample shape "
                         f"(C, H, 2H), got {tuple(input_shape)}")
    from convnp.tools.summary import summary

    s = summary(model, tuple(input_shape))
    if s.error:
        raise ValueError(f"receptive_field_degrees: {s.error}")
    spatial = [r for r in s.rows if len(r.output_shape) == 3]
    rf = spatial[-1].rf if spatial else 1
    rf_h, rf_w = rf if isinstance(rf, tuple) else (rf, rf)
    h, w = input_shape[1:]
    # 1-wide windows (1x1 convs, padding) see a point: no arc of their own to keep or shrink
    windows = [w for w in map(window_of, model.modules())
               if w is not None and any(k > 1 for k in w.kernel)]
    aware = all(w.sphere for w in windows)
    shrink = 1.0 if aware else math.cos(math.radians(latitude))
    return ArcField(rf_h * 180 / h, rf_w * 360 / w * shrink, latitude)


def explain_sphere_conv(in_size, kernel=3, stride=1, dilation=1, channels: int = 1,
                        out_channels: int | None = None, latitude: float = 60.0) -> str:
    """The arithmetic of a ``SphereConv2d`` as text: output size, parameters, where its taps land
    at the equator and at ``latitude``, against a plain ``Conv2d``."""
    from convnp.sphere.equirect import _pair, inverse_gnomonic, tangent_offsets

    h, w = _pair(in_size)
    if w != 2 * h:
        raise ValueError(f"explain sphereconv: an equirectangular input has W = 2H, got {h}x{w}")
    (kh, kw), (sh, sw), (dh, dw) = _pair(kernel), _pair(stride), _pair(dilation)
    cout = out_channels or channels
    dlat, dlon = 180 / h, 360 / w
    ho, wo = -(-h // sh), -(-w // sw)
    x, y = tangent_offsets(h, w, (kh, kw), (dh, dw))
    lines = [f"sphereconv: input {channels}x{h}x{w} (one pixel = {dlat:g} deg of latitude, "
             f"{dlon:g} deg of longitude), kernel {kh}x{kw}, stride {sh}x{sw}, dilation {dh}x{dw}",
             "",
             f"Output: {cout}x{ho}x{wo} (ceil(H/s) x ceil(W/s); each output pixel at the centre "
             f"of its stride block)",
             f"Parameters: C_out * C_in * kh * kw + bias = {cout} * {channels} * {kh * kw} + "
             f"{cout} = {cout * channels * kh * kw + cout:,}",
             f"Taps: on the plane tangent at each output pixel, a {kh}x{kw} grid spaced "
             f"tan({dlon:g} deg) x tan({dlat:g} deg), mapped back by the inverse gnomonic "
             f"projection; each tap reads 4 pixels (bilinear), longitude wraps."]
    for lat in sorted({0.0, float(latitude)}):
        la, lo = inverse_gnomonic(x, y, math.radians(lat), 0.0)
        cols = np.degrees(lo).max() - np.degrees(lo).min()
        rows = np.degrees(la).max() - np.degrees(la).min()
        plain = (kw - 1) * dw * dlon * math.cos(math.radians(lat))
        lines.append(f"  at latitude {lat:g}: the kernel spans {rows:.2f} deg of latitude and "
                     f"{cols:.2f} deg of longitude = {cols / dlon:.2f} columns; a plain Conv2d "
                     f"spans {(kw - 1) * dw} columns = {plain:.2f} deg of arc east-west")
    lines.append("The sphere kernel covers the same solid angle at every latitude; the plain "
                 "kernel's east-west arc shrinks by cos(latitude).")
    return "\n".join(lines)


def explain_mesh_conv(level: int, channels: int = 1, out_channels: int | None = None) -> str:
    """The arithmetic of a ``MeshConv`` on the icosphere of ``level`` as text."""
    from convnp.sphere.mesh import Mesh

    m = Mesh.at(level)
    cout = out_channels or channels
    v = len(m)
    nnz = {k: op.nnz for k, op in m.operators.items()}
    return "\n".join([
        f"meshconv: icosphere level {level}: V = 10 * 4^{level} + 2 = {v:,} vertices, "
        f"F = 20 * 4^{level} = {len(m.faces):,} faces, mean edge {math.degrees(m.spacing):.2f} deg",
        "",
        f"Output: {cout}x{v} (the same vertices)",
        f"Parameters: C_out * C_in * 4 operators + bias = {cout} * {channels} * 4 + {cout} = "
        f"{cout * channels * 4 + cout:,}",
        "Operators (sparse V x V, one ring of neighbours): identity, d/d(east), d/d(north), "
        "Laplacian; non-zeros " + ", ".join(f"{k} {n:,}" for k, n in nnz.items()),
        f"MACs: C_out * C_in * 4 * V + C_in * (sum of non-zeros) = "
        f"{cout * channels * 4 * v + channels * sum(nnz.values()):,}",
        f"Receptive field: one ring, about {math.degrees(2 * m.spacing):.2f} deg across; "
        f"MeshPool to level {level - 1} doubles the spacing.",
    ])
