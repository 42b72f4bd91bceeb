"""Rotations and affine maps of PIL images and tensor images (torchvision's affine grid sampled
as ``grid_sample`` for tensors, PIL's own transform for PIL images)."""

from __future__ import annotations

import math
import numbers
from typing import Sequence

import numpy as np

from convnp.vision.transforms._functional_core import (
    InterpolationMode,
    _as_batch,
    _cast_out,
    _check_img,
    _check_tensor_image,
    _from_batch,
    _interp,
    _is_pil,
    _new,
    _parse_fill,
    _pil,
    _pil_filter,
    get_dimensions,
)


# --------------------------------------------------------------------------- affine maps
def _inverse_affine_matrix(center, angle, translate, scale, shear) -> list[float]:
    """The output->input pixel map of rotate/scale/shear about ``center`` then translate, as a
    2x3 row-major list (torchvision's ``_get_inverse_affine_matrix``).

    The forward map is ``M = T * C * R * S * SH * C^-1``; sampling needs
    ``M^-1 = C * (R S SH)^-1 * C^-1 * T^-1``. The shear-rotation block has determinant 1, so its
    inverse is the adjugate.
    """
    rot = math.radians(angle)
    sx, sy = math.radians(shear[0]), math.radians(shear[1])
    cx, cy = center
    tx, ty = translate
    a = math.cos(rot - sy) / math.cos(sy)
    b = -math.cos(rot - sy) * math.tan(sx) / math.cos(sy) - math.sin(rot)
    c = math.sin(rot - sy) / math.cos(sy)
    d = -math.sin(rot - sy) * math.tan(sx) / math.cos(sy) + math.cos(rot)
    m = [d / scale, -b / scale, 0.0, -c / scale, a / scale, 0.0]
    m[2] += m[0] * (-cx - tx) + m[1] * (-cy - ty) + cx
    m[5] += m[3] * (-cx - tx) + m[4] * (-cy - ty) + cy
    return m


def _affine_grid(theta: np.ndarray, w: int, h: int, ow: int, oh: int) -> np.ndarray:
    """Sampling grid ``(oh, ow, 2)`` in [-1, 1] units for ``grid_sample(align_corners=False)``
    from a pixel-unit matrix ``theta`` (2, 3) whose origin is the image centre."""
    dt = theta.dtype
    xs = np.linspace(-ow * 0.5 + 0.5, ow * 0.5 - 0.5, ow, dtype=dt)
    ys = np.linspace(-oh * 0.5 + 0.5, oh * 0.5 - 0.5, oh, dtype=dt)
    base = np.empty((oh, ow, 3), dt)
    base[..., 0] = xs
    base[..., 1] = ys[:, None]
    base[..., 2] = 1
    rescaled = theta.T / np.asarray([0.5 * w, 0.5 * h], dt)  # (3, 2)
    return (base.reshape(-1, 3) @ rescaled).reshape(oh, ow, 2)


def _grid_sample(x: np.ndarray, grid: np.ndarray, mode: str) -> np.ndarray:
    """``grid_sample(x, grid, mode, padding_mode='zeros', align_corners=False)`` for one grid
    ``(oh, ow, 2)`` shared by the batch ``x`` (N, C, H, W)."""
    n, c, h, w = x.shape
    ft = x.dtype.type
    ix = ((grid[..., 0] + ft(1)) * ft(w) - ft(1)) / ft(2)  # (oh, ow) pixel coordinates
    iy = ((grid[..., 1] + ft(1)) * ft(h) - ft(1)) / ft(2)
    if mode == "nearest":
        xn, yn = np.rint(ix).astype(np.int64), np.rint(iy).astype(np.int64)
        ok = (xn >= 0) & (xn < w) & (yn >= 0) & (yn < h)
        out = x[:, :, np.clip(yn, 0, h - 1), np.clip(xn, 0, w - 1)]
        return out * ok.astype(x.dtype)
    x0, y0 = np.floor(ix), np.floor(iy)
    out = np.zeros((n, c) + ix.shape, x.dtype)
    for dy in (0, 1):
        for dx in (0, 1):
            xi, yi = x0 + dx, y0 + dy
            wgt = (ix - x0 if dx else x0 + 1 - ix) * (iy - y0 if dy else y0 + 1 - iy)
            ok = (xi >= 0) & (xi < w) & (yi >= 0) & (yi < h)
            xs = np.clip(xi, 0, w - 1).astype(np.int64)
            ys = np.clip(yi, 0, h - 1).astype(np.int64)
            out += x[:, :, ys, xs] * (wgt * ok).astype(x.dtype)
    return out


def _apply_grid(a: np.ndarray, theta: list[float], ow: int, oh: int, mode: str,
                fill) -> np.ndarray:
    """torchvision's tensor path of rotate/affine: sample ``a`` (..., C, H, W) through the
    affine grid; with ``fill`` a ones-channel marks valid pixels and the rest gets ``fill``."""
    if mode not in ("nearest", "bilinear"):
        raise ValueError(f"interpolation {mode!r} is not supported for tensor rotations and "
                         f"affine maps; use InterpolationMode.NEAREST or BILINEAR")
    was_2d = a.ndim == 2
    batch, lead = _as_batch(a)
    dtype = batch.dtype
    work = dtype if dtype.kind == "f" else np.dtype(np.float32)
    x = batch.astype(work, copy=False)
    h, w = x.shape[-2:]
    grid = _affine_grid(np.asarray(theta, work).reshape(2, 3), w, h, ow, oh)
    if fill is not None:
        x = np.concatenate([x, np.ones_like(x[:, :1])], axis=1)
    y = _grid_sample(x, grid, mode)
    if fill is not None:
        y, mask = y[:, :-1], y[:, -1:]
        fills = np.asarray(fill if isinstance(fill, (tuple, list)) else [float(fill)], work)
        fill_img = np.broadcast_to(fills.reshape(1, -1, 1, 1), y.shape)
        if mode == "nearest":
            y = np.where(mask < 0.5, fill_img, y)
        else:
            y = y * mask + (work.type(1) - mask) * fill_img
    y = _cast_out(y, dtype)
    return _from_batch(y, lead, was_2d)


def _affine_output_size(m: list[float], w: int, h: int) -> tuple[int, int]:
    """Bounding box of the image corners under the forward map (rotate with expand=True)."""
    pts = np.array([[-0.5 * w, -0.5 * h, 1.0], [-0.5 * w, 0.5 * h, 1.0], [0.5 * w, 0.5 * h, 1.0],
                    [0.5 * w, -0.5 * h, 1.0]], np.float32)
    new = pts @ np.asarray(m, np.float32).reshape(2, 3).T
    lo = new.min(0) + np.array([w * 0.5, h * 0.5], np.float32)
    hi = new.max(0) + np.array([w * 0.5, h * 0.5], np.float32)
    tol = np.float32(1e-4)  # keeps a 1e-15 excess from ceil-ing to a whole extra pixel
    size = np.ceil(np.trunc(hi / tol) * tol) - np.floor(np.trunc(lo / tol) * tol)
    return int(size[0]), int(size[1])


def rotate(img, angle: float, interpolation=InterpolationMode.NEAREST, expand: bool = False,
           center: Sequence[int] | None = None, fill=None):
    """Rotate by ``angle`` degrees counter-clockwise about ``center`` (default: the image
    centre); ``expand`` grows the output to hold the whole rotated image."""
    _check_img(img, "rotate")
    if not isinstance(angle, numbers.Number):
        raise TypeError(f"rotate: argument angle should be int or float, got {angle!r}")
    if center is not None and (not isinstance(center, (list, tuple)) or len(center) != 2):
        raise TypeError(f"rotate: center should be a sequence of length 2, got {center!r}")
    mode = _interp(interpolation, "rotate")
    if _is_pil(img):
        return img.rotate(angle, _pil_filter(mode), expand, center,
                          fillcolor=_parse_fill(fill, img, "rotate"))
    _check_tensor_image(img, "rotate")
    h, w = img.shape[-2:]
    cf = [0.0, 0.0] if center is None else [c - s * 0.5 for c, s in zip(center, (w, h))]
    m = _inverse_affine_matrix(cf, -angle, [0.0, 0.0], 1.0, [0.0, 0.0])
    ow, oh = _affine_output_size(m, w, h) if expand else (w, h)
    return _new(_apply_grid(img.array, m, ow, oh, mode.value, fill))


def affine(img, angle: float, translate: Sequence[int], scale: float, shear,
           interpolation=InterpolationMode.NEAREST, fill=None, center=None):
    """Rotate by ``angle``, scale, shear (degrees; a number shears along x) about ``center``,
    then translate by ``translate`` pixels, keeping the image size."""
    _check_img(img, "affine")
    if not isinstance(angle, numbers.Number):
        raise TypeError(f"affine: argument angle should be int or float, got {angle!r}")
    if not isinstance(translate, (list, tuple)) or len(translate) != 2:
        raise ValueError(f"affine: argument translate should be a sequence of length 2, got "
                         f"{translate!r}")
    if scale <= 0.0:
        raise ValueError(f"affine: argument scale should be positive, got {scale}")
    if isinstance(shear, numbers.Number):
        shear = [shear, 0.0]
    elif isinstance(shear, (list, tuple)) and len(shear) == 1:
        shear = [shear[0], shear[0]]
    elif not isinstance(shear, (list, tuple)) or len(shear) != 2:
        raise ValueError(f"affine: shear should be a number or a sequence of 1 or 2 numbers, "
                         f"got {shear!r}")
    mode = _interp(interpolation, "affine")
    c, h, w = get_dimensions(img)
    if _is_pil(img):
        ctr = [w * 0.5, h * 0.5] if center is None else center
        m = _inverse_affine_matrix(ctr, angle, translate, scale, shear)
        return img.transform((w, h), _pil().Transform.AFFINE, m, _pil_filter(mode),
                             fillcolor=_parse_fill(fill, img, "affine"))
    cf = [0.0, 0.0] if center is None else [cc - s * 0.5 for cc, s in zip(center, (w, h))]
    m = _inverse_affine_matrix(cf, angle, [float(t) for t in translate], scale, shear)
    return _new(_apply_grid(img.array, m, w, h, mode.value, fill))
