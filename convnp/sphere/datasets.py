"""Spherical MNIST: digits projected onto the sphere (as in Cohen et al.'s S2CNN and Jiang et al.).

A digit lies on the plane tangent to the sphere at the north pole, spanning [-1, 1] x [-1, 1]
(45 degrees of arc from the pole to the middle of each edge), and is carried onto the northern
hemisphere by the gnomonic projection: a point ``p = (x, y, z)`` with ``z > 0`` shows the digit's
value at ``(x / z, y / z)`` (bilinear), every other point is 0. With ``rotate=True`` each sample's
sphere is turned by its own random rotation (uniform on SO(3), reproducible from ``seed`` and the
index), so the digit can sit anywhere, upside down or sideways.

The sphere is sampled either as an equirectangular image ``(1, H, 2H)`` or at the vertices of an
icosphere ``(1, V)``.
"""

from __future__ import annotations

import numpy as np

from convnp.data.dataset import Dataset

__all__ = ["SphericalMNIST", "project_digits", "random_rotations", "sphere_points"]


def sphere_points(grid: str = "equirect", size: int = 60, level: int = 4) -> np.ndarray:
    """Unit vectors of the sample points: equirectangular pixel centres ``(H * 2H, 3)`` or the
    icosphere's vertices ``(V, 3)``."""
    if grid == "equirect":
        from convnp.sphere.equirect import pixel_angles

        lat, lon = pixel_angles(size, 2 * size)
        lat, lon = lat.ravel(), lon.ravel()
        return np.stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)], 1)
    if grid == "mesh":
        from convnp.sphere.mesh import Mesh

        return Mesh.at(level).vertices
    raise ValueError(f"SphericalMNIST: grid must be 'equirect' or 'mesh', got {grid!r}")


def random_rotations(n: int, seed: int, start: int = 0) -> np.ndarray:
    """``(n, 3, 3)`` rotations, uniform on SO(3), the ``i``-th drawn from ``(seed, start + i)``."""
    out = np.empty((n, 3, 3))
    for i in range(n):
        g = np.random.default_rng([seed, start + i]).standard_normal((3, 3))
        q, r = np.linalg.qr(g)
        q *= np.sign(np.diag(r))                # Haar measure (Mezzadri's correction)
        if np.linalg.det(q) < 0:
            q[:, 0] = -q[:, 0]
        out[i] = q
    return out


def project_digits(images: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Project ``(B, h, w)`` images onto sphere points ``(P, 3)`` or per-image ``(B, P, 3)``:
    returns ``(B, P)`` float32 (the images' range, 0 off the digit)."""
    b, h, w = images.shape
    pts = np.broadcast_to(points, (b,) + points.shape[-2:])
    z = pts[..., 2]
    front = z > 1e-6
    zs = np.where(front, z, 1.0)
    u, v = pts[..., 0] / zs, pts[..., 1] / zs          # on the tangent plane, digit in [-1, 1]^2
    col = (u + 1) / 2 * w - 0.5
    row = (1 - v) / 2 * h - 0.5
    r0, c0 = np.floor(row).astype(np.int64), np.floor(col).astype(np.int64)
    fr, fc = row - r0, col - c0
    flat = images.reshape(b, -1).astype(np.float32)
    out = np.zeros((b, pts.shape[1]), np.float32)
    rows = np.arange(b)[:, None]
    for dr, dc, wt in ((0, 0, (1 - fr) * (1 - fc)), (0, 1, (1 - fr) * fc),
                       (1, 0, fr * (1 - fc)), (1, 1, fr * fc)):
        rr, cc = r0 + dr, c0 + dc
        ok = front & (rr >= 0) & (rr < h) & (cc >= 0) & (cc < w)
        val = flat[rows, np.where(ok, rr * w + cc, 0)]
        out += np.where(ok, wt * val, 0).astype(np.float32)
    return out


class SphericalMNIST(Dataset):
    """MNIST (or Fashion-MNIST) digits on the sphere.

    Args:
        root: folder with the MNIST IDX files (as ``convnp.data.MNIST``), or None for the cache.
        train: the training or the test split.
        grid: ``'equirect'`` (items ``(1, size, 2*size)``) or ``'mesh'`` (items ``(1, V)`` on the
            icosphere of ``level``).
        size: equirectangular height; level: icosphere level.
        rotate: turn each sample's sphere by its own random rotation.
        seed: the rotations' seed (use different seeds for train and test).
        download: fetch MNIST if absent (checksummed).
        fashion: use Fashion-MNIST instead.
        limit: keep only the first ``limit`` samples.

    Items are ``(float32 array in [0, 1], int label)``; the DataLoader batches them through
    :meth:`get_batch` (one vectorised projection per batch).
    """

    def __init__(self, root=None, train: bool = True, grid: str = "equirect", size: int = 60,
                 level: int = 4, rotate: bool = False, seed: int = 0, download: bool = False,
                 fashion: bool = False, limit: int | None = None) -> None:
        from convnp.data import MNIST, FashionMNIST

        self.points = sphere_points(grid, size, level)  # validates grid before any file is read
        base = (FashionMNIST if fashion else MNIST)(root, train=train, download=download)
        self.data, self.targets = base.data, base.targets
        if limit is not None:
            self.data, self.targets = self.data[:limit], self.targets[:limit]
        self.classes = base.classes
        self.grid, self.size, self.level = grid, int(size), int(level)
        self.rotate, self.seed, self.train = bool(rotate), int(seed), train

    def __len__(self) -> int:
        return len(self.data)

    def shape(self) -> tuple:
        """The shape of one item."""
        return (1, self.size, 2 * self.size) if self.grid == "equirect" else (1, len(self.points))

    def get_batch(self, indices, rng=None) -> tuple[np.ndarray, np.ndarray]:
        indices = np.asarray(indices, np.int64)
        pts = self.points
        if self.rotate:
            rots = np.stack([random_rotations(1, self.seed, int(i))[0] for i in indices])
            pts = np.einsum("pk,bkj->bpj", pts, rots)     # p' = R^T p, row-vector form
        x = project_digits(self.data[indices], pts) / np.float32(255)
        return x.reshape((len(indices),) + self.shape()), self.targets[indices].astype(np.int64)

    def __getitem__(self, index: int):
        x, y = self.get_batch(np.array([index]))
        return x[0], int(y[0])

    def __repr__(self) -> str:
        where = (f"equirect {self.size}x{2 * self.size}" if self.grid == "equirect"
                 else f"icosphere level {self.level} ({len(self.points)} vertices)")
        return (f"SphericalMNIST({'train' if self.train else 'test'}, {len(self)} samples, "
                f"{where}, rotate={self.rotate})")
