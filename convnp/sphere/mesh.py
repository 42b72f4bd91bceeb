"""Convolution on an icosahedral mesh of the sphere (Jiang et al., "Spherical CNNs on Unstructured
Grids", ICLR 2019).

The sphere is an icosahedron subdivided ``level`` times (:func:`icosphere`: 12 vertices at level
0, ``10 * 4**level + 2`` at ``level``; each level adds the edge midpoints after the existing
vertices, so level ``l - 1``'s vertices are the first ones of level ``l``). A signal lives on the
vertices. Instead of a kernel of weights on a pixel grid, :class:`MeshConv` learns, per pair of
input and output channels, a linear combination of four differential operators estimated from each
vertex's one-ring of neighbours:

- the identity,
- the derivative towards the east and towards the north (the per-face gradient of the linear
  interpolant, averaged over the vertex's faces by area, projected on the local east / north),
- the Laplace-Beltrami operator (cotangent weights, lumped vertex areas).

The operators are sparse ``V x V`` matrices (:attr:`Mesh.operators`, ``scipy.sparse``), written in
units of the mesh's mean edge length so that all four have comparable size at every level. Each
row has at most 7 entries, so they are applied as fixed sampling tables (the same gather as
``grid_sample`` and :class:`~convnp.sphere.SphereConv2d`).
"""

from __future__ import annotations

import functools
import math

import numpy as np

from convnp.nn.modules.module import Module, Parameter

__all__ = ["icosphere", "Mesh", "MeshConv", "MeshPool", "MeshUnpool", "EquirectToMesh",
           "equirect_to_mesh"]

_MAX_LEVEL = 7  # 163,842 vertices: beyond this the tables outgrow what a CPU network uses


def _icosahedron():
    p = (1 + math.sqrt(5)) / 2
    v = np.array([[-1, p, 0], [1, p, 0], [-1, -p, 0], [1, -p, 0], [0, -1, p], [0, 1, p],
                  [0, -1, -p], [0, 1, -p], [p, 0, -1], [p, 0, 1], [-p, 0, -1], [-p, 0, 1]],
                 np.float64)
    f = np.array([[0, 11, 5], [0, 5, 1], [0, 1, 7], [0, 7, 10], [0, 10, 11], [1, 5, 9],
                  [5, 11, 4], [11, 10, 2], [10, 7, 6], [7, 1, 8], [3, 9, 4], [3, 4, 2],
                  [3, 2, 6], [3, 6, 8], [3, 8, 9], [4, 9, 5], [2, 4, 11], [6, 2, 10],
                  [8, 6, 7], [9, 8, 1]], np.int64)
    return v / np.linalg.norm(v, axis=1, keepdims=True), f


def _subdivide(v: np.ndarray, f: np.ndarray):
    """Split every triangle in four; midpoints (on the sphere) appended after the old vertices."""
    edges = np.sort(np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]]), axis=1)
    uniq, inverse = np.unique(edges, axis=0, return_inverse=True)
    mid = v[uniq[:, 0]] + v[uniq[:, 1]]
    mid /= np.linalg.norm(mid, axis=1, keepdims=True)
    m = inverse.reshape(3, -1).T + len(v)                  # (F, 3): midpoints of ab, bc, ca
    a, b, c = f.T
    ab, bc, ca = m.T
    nf = np.concatenate([np.stack([a, ab, ca], 1), np.stack([b, bc, ab], 1),
                         np.stack([c, ca, bc], 1), np.stack([ab, bc, ca], 1)])
    return np.concatenate([v, mid]), nf, uniq


@functools.lru_cache(maxsize=None)
def _levels(level: int):
    v, f = _icosahedron()
    out = [(v, f, None)]
    for _ in range(level):
        v, f, parents = _subdivide(v, f)
        out.append((v, f, parents))
    return out


def icosphere(level: int):
    """Vertices ``(V, 3)`` (unit vectors) and faces ``(F, 3)`` of the icosphere of ``level``:
    ``V = 10 * 4**level + 2``, ``F = 20 * 4**level``. Level ``l - 1``'s vertices come first."""
    if not isinstance(level, (int, np.integer)) or not 0 <= level <= _MAX_LEVEL:
        raise ValueError(f"icosphere: level must be an int in [0, {_MAX_LEVEL}], got {level!r}")
    v, f, _ = _levels(int(level))[-1]
    return v.copy(), f.copy()


def _sparse(rows, cols, vals, n):
    from scipy import sparse

    return sparse.csr_matrix((vals, (rows, cols)), shape=(n, n))


def _table(mat, dtype=np.float64):
    """A sparse matrix as a padded sampling table ``(idx, w)`` of shape ``(rows, max nnz)``."""
    mat = mat.tocsr()
    mat.sort_indices()
    counts = np.diff(mat.indptr)
    t = int(counts.max()) if len(counts) else 1
    rows = np.repeat(np.arange(mat.shape[0]), counts)
    pos = np.arange(mat.nnz) - np.repeat(mat.indptr[:-1], counts)
    idx = np.zeros((mat.shape[0], t), np.int64)
    w = np.zeros((mat.shape[0], t), dtype)
    idx[rows, pos] = mat.indices
    w[rows, pos] = mat.data
    return idx, w


class Mesh:
    """The icosphere of ``level`` with its geometry and differential operators.

    Attributes:
        vertices ``(V, 3)``, faces ``(F, 3)``, lat / lon ``(V,)`` in radians, ``east`` / ``north``
        ``(V, 3)`` unit tangent vectors, ``areas`` ``(V,)`` lumped vertex areas, ``spacing`` (the
        mean edge length in radians), ``operators`` (dict of ``scipy.sparse`` matrices
        ``'identity'``, ``'east'``, ``'north'``, ``'laplacian'``), ``neighbours`` (list of one-ring
        index arrays).

    Use :func:`Mesh.at` to share one instance per level.
    """

    def __init__(self, level: int) -> None:
        self.level = int(level)
        self.vertices, self.faces = icosphere(level)
        x, y, z = self.vertices.T
        self.lat = np.arcsin(np.clip(z, -1, 1))
        self.lon = np.arctan2(y, x)
        self.east = np.stack([-np.sin(self.lon), np.cos(self.lon), np.zeros_like(x)], 1)
        self.north = np.stack([-np.sin(self.lat) * np.cos(self.lon),
                               -np.sin(self.lat) * np.sin(self.lon), np.cos(self.lat)], 1)
        e = self.vertices[self.faces[:, [1, 2, 0]]] - self.vertices[self.faces]
        self.spacing = float(np.linalg.norm(e, axis=2).mean())
        self._ops = None

    @staticmethod
    @functools.lru_cache(maxsize=None)
    def at(level: int) -> "Mesh":
        """The shared :class:`Mesh` of ``level`` (operators are built once per process)."""
        return Mesh(level)

    def __len__(self) -> int:
        return len(self.vertices)

    @property
    def neighbours(self) -> list:
        f = self.faces
        pairs = np.concatenate([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]])
        pairs = np.unique(np.sort(np.concatenate([pairs, pairs[:, ::-1]]), axis=1), axis=0)
        pairs = np.concatenate([pairs, pairs[:, ::-1]])
        order = np.lexsort((pairs[:, 1], pairs[:, 0]))
        pairs = pairs[order]
        return np.split(pairs[:, 1], np.cumsum(np.bincount(pairs[:, 0], minlength=len(self)))[:-1])

    @property
    def operators(self) -> dict:
        if self._ops is None:
            self._ops = self._build_operators()
        return self._ops

    def _build_operators(self) -> dict:
        v, f, n = self.vertices, self.faces, len(self)
        p0, p1, p2 = v[f[:, 0]], v[f[:, 1]], v[f[:, 2]]
        normal = np.cross(p1 - p0, p2 - p0)
        area2 = np.linalg.norm(normal, axis=1)              # twice each face's area
        unit = normal / area2[:, None]
        # gradient of the linear interpolant: grad(phi_i) = n x (opposite edge) / (2 A)
        grads = [np.cross(unit, p2 - p1), np.cross(unit, p0 - p2), np.cross(unit, p1 - p0)]
        grads = [g / area2[:, None] for g in grads]         # each (F, 3)
        face_area = area2 / 2
        vert_area = np.bincount(f.ravel(), np.repeat(face_area, 3), minlength=n)
        self.areas = vert_area / 3
        ops = {"identity": _sparse(np.arange(n), np.arange(n), np.ones(n), n)}
        h = self.spacing
        for name, frame in (("east", self.east), ("north", self.north)):
            rows, cols, vals = [], [], []
            for corner in range(3):          # the face's contribution at each of its corners
                vert = f[:, corner]
                weight = face_area / vert_area[vert]
                for i in range(3):
                    rows.append(vert)
                    cols.append(f[:, i])
                    vals.append(weight * np.einsum("fk,fk->f", grads[i], frame[vert]) * h)
            ops[name] = _sparse(np.concatenate(rows), np.concatenate(cols),
                                np.concatenate(vals), n)
        # cotangent Laplacian: (L f)_i = 1/(2 A_i) sum_j (cot a_ij + cot b_ij) (f_j - f_i)
        rows, cols, vals = [], [], []
        for i, j, k in ((0, 1, 2), (1, 2, 0), (2, 0, 1)):   # the angle at k faces edge (i, j)
            a, b = v[f[:, i]] - v[f[:, k]], v[f[:, j]] - v[f[:, k]]
            cot = np.einsum("fk,fk->f", a, b) / np.linalg.norm(np.cross(a, b), axis=1)
            for s, t in ((i, j), (j, i)):
                rows += [f[:, s], f[:, s]]
                cols += [f[:, t], f[:, s]]
                vals += [cot, -cot]
        lap = _sparse(np.concatenate(rows), np.concatenate(cols), np.concatenate(vals), n)
        ops["laplacian"] = _diag(h * h / (2 * self.areas)) @ lap
        return ops

    @functools.cached_property
    def conv_table(self):
        """The four operators stacked into one sampling table ``(4 V, 7)``."""
        from scipy import sparse

        stacked = sparse.vstack([self.operators[k] for k in ("identity", "east", "north",
                                                             "laplacian")])
        return _table(stacked)

    def __repr__(self) -> str:
        return f"Mesh(level={self.level}, vertices={len(self)}, faces={len(self.faces)})"


def _diag(d):
    from scipy import sparse

    return sparse.diags(d)


def _as_level(level) -> int:
    lvl = level.level if isinstance(level, Mesh) else level
    if not isinstance(lvl, (int, np.integer)) or not 0 <= lvl <= _MAX_LEVEL:
        raise ValueError(f"mesh level must be an int in [0, {_MAX_LEVEL}] (or a Mesh), got "
                         f"{level!r}")
    return int(lvl)


def _check_mesh_input(x, name: str, vertices: int, channels: int | None = None):
    if x.ndim != 3 or x.shape[2] != vertices:
        raise ValueError(f"{name}: expected a mesh signal (N, C, {vertices}), got shape "
                         f"{tuple(x.shape)}; check the layer's level")
    if channels is not None and x.shape[1] != channels:
        raise ValueError(f"{name}: expected {channels} input channels, got {x.shape[1]}")


class MeshConv(Module):
    """Jiang et al.'s mesh convolution: ``out[o] = sum_c sum_k W[o, c, k] (D_k x_c) + b[o]`` with
    the operators ``D = (identity, east, north, laplacian)`` of the icosphere of ``level``.

    Args:
        in_channels, out_channels: as ``Conv2d``.
        level: the icosphere level of the input (and output) signal.
        bias: add a learnable bias.

    Shape:
        ``(N, C_in, V) -> (N, C_out, V)`` with ``V = 10 * 4**level + 2``.

    Example:
        >>> conv = MeshConv(1, 16, level=3)
        >>> conv(convnp.randn(2, 1, 642)).shape
        (2, 16, 642)
    """

    def __init__(self, in_channels: int, out_channels: int, level: int, bias: bool = True,
                 dtype=None) -> None:
        super().__init__()
        import convnp

        self.in_channels, self.out_channels = int(in_channels), int(out_channels)
        self.level = _as_level(level)
        self.weight = Parameter(convnp.empty(out_channels, in_channels, 4, dtype=dtype))
        self.bias = Parameter(convnp.empty(out_channels, dtype=dtype)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        from convnp.nn import init

        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            bound = 1 / math.sqrt(self.in_channels * 4)
            init.uniform_(self.bias, -bound, bound)

    def forward(self, x):
        from convnp.ops.sampling import table_sample

        mesh = Mesh.at(self.level)
        v = len(mesh)
        _check_mesh_input(x, "MeshConv", v, self.in_channels)
        n, c = x.shape[:2]
        idx, w = mesh.conv_table
        feats = table_sample(x, idx, w).reshape(n, c, 4, v)            # D_k x_c
        feats = feats.permute(0, 3, 1, 2).reshape(n, v, c * 4)         # (N, V, C*4)
        out = feats.matmul(self.weight.reshape(self.out_channels, c * 4).t())
        if self.bias is not None:
            out = out + self.bias
        return out.permute(0, 2, 1)

    def output_shape(self, input_shape: tuple) -> tuple:
        """``(N, C_in, V) -> (N, C_out, V)``."""
        return (*tuple(input_shape)[:-2], self.out_channels, int(input_shape[-1]))

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, level={self.level}"
                + ("" if self.bias is not None else ", bias=False"))


@functools.lru_cache(maxsize=None)
def _pool_table(level: int):
    """For each vertex of level-1: itself and its one-ring on ``level`` (padded with itself)."""
    mesh = Mesh.at(level)
    coarse = 10 * 4 ** (level - 1) + 2
    ring = mesh.neighbours[:coarse]
    t = 1 + max(len(r) for r in ring)
    idx = np.array([np.concatenate([[i], r, [i] * (t - 1 - len(r))]) for i, r in
                    enumerate(ring)], np.int64)
    counts = np.array([1 + len(r) for r in ring])
    return idx, counts


class MeshPool(Module):
    """Pool a signal on the icosphere of ``level`` down to ``level - 1``: each coarse vertex takes
    the max (``'max'``) or mean (``'avg'``) over itself and its one-ring of neighbours on the finer
    mesh.

    Shape:
        ``(N, C, V_level) -> (N, C, V_(level-1))``.
    """

    def __init__(self, level: int, mode: str = "max") -> None:
        super().__init__()
        self.level = _as_level(level)
        if self.level < 1:
            raise ValueError("MeshPool: level must be >= 1 (there is no mesh below level 0)")
        if mode not in ("max", "avg"):
            raise ValueError(f"MeshPool: mode must be 'max' or 'avg', got {mode!r}")
        self.mode = mode

    def forward(self, x):
        from convnp.ops.sampling import table_sample

        _check_mesh_input(x, "MeshPool", 10 * 4 ** self.level + 2)
        idx, counts = _pool_table(self.level)
        if self.mode == "max":
            # tap-major order: the max then runs over whole contiguous (N, C, V') slabs
            taps = table_sample(x, idx.T.reshape(-1, 1), np.ones((idx.size, 1)))
            return taps.reshape(x.shape[0], x.shape[1], idx.shape[1], idx.shape[0]).amax(2)
        t = idx.shape[1]
        w = (np.arange(t)[None, :] < counts[:, None]) / counts[:, None]
        return table_sample(x, idx, w)

    def output_shape(self, input_shape: tuple) -> tuple:
        """``(N, C, V_level) -> (N, C, V_(level-1))``."""
        return (*tuple(input_shape)[:-1], 10 * 4 ** (self.level - 1) + 2)

    def extra_repr(self) -> str:
        return f"level={self.level}, mode={self.mode!r}"


class MeshUnpool(Module):
    """Interpolate a signal from the icosphere of ``level - 1`` up to ``level``: old vertices keep
    their values, each new (edge-midpoint) vertex takes the mean of its edge's two ends.

    Shape:
        ``(N, C, V_(level-1)) -> (N, C, V_level)``.
    """

    def __init__(self, level: int) -> None:
        super().__init__()
        self.level = _as_level(level)
        if self.level < 1:
            raise ValueError("MeshUnpool: level must be >= 1 (the level of the output)")

    def forward(self, x):
        from convnp.ops.sampling import table_sample

        coarse = 10 * 4 ** (self.level - 1) + 2
        _check_mesh_input(x, "MeshUnpool", coarse)
        parents = _levels(self.level)[-1][2]
        idx = np.concatenate([np.stack([np.arange(coarse)] * 2, 1), parents])
        return table_sample(x, idx, np.full(idx.shape, 0.5))

    def output_shape(self, input_shape: tuple) -> tuple:
        """``(N, C, V_(level-1)) -> (N, C, V_level)``."""
        return (*tuple(input_shape)[:-1], 10 * 4 ** self.level + 2)

    def extra_repr(self) -> str:
        return f"level={self.level}"


@functools.lru_cache(maxsize=16)
def _equirect_table(level: int, height: int, width: int):
    from convnp.sphere.equirect import angles_to_pixels, bilinear_wrap_table

    mesh = Mesh.at(level)
    row, col = angles_to_pixels(mesh.lat, mesh.lon, height, width)
    return bilinear_wrap_table(row, col, height, width)


def equirect_to_mesh(x, level: int):
    """Sample an equirectangular batch ``(N, C, H, 2H)`` at the vertices of the icosphere of
    ``level`` (bilinear, longitude wrapping): ``(N, C, V)``. Differentiable in ``x``."""
    from convnp.ops.sampling import table_sample

    if x.ndim != 4 or x.shape[3] != 2 * x.shape[2]:
        raise ValueError(f"equirect_to_mesh: expected an equirectangular batch (N, C, H, 2H), "
                         f"got shape {tuple(x.shape)}")
    n, c, h, w = x.shape
    idx, wt = _equirect_table(_as_level(level), h, w)
    return table_sample(x.reshape(n, c, h * w), idx, wt)


class EquirectToMesh(Module):
    """Module form of :func:`equirect_to_mesh`."""

    def __init__(self, level: int) -> None:
        super().__init__()
        self.level = _as_level(level)

    def forward(self, x):
        return equirect_to_mesh(x, self.level)

    def output_shape(self, input_shape: tuple) -> tuple:
        """``(N, C, H, 2H) -> (N, C, V)``."""
        return (*tuple(input_shape)[:-2], 10 * 4 ** self.level + 2)

    def extra_repr(self) -> str:
        return f"level={self.level}"
