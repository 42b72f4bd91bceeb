"""``convnp.sphere``: CNNs on spherical images, the notes' list beyond circular padding.

- :class:`SphereConv2d`, :class:`SpherePool2d`: SphereNet's distortion-aware kernels on
  equirectangular images (taps on the tangent plane of each pixel).
- :func:`icosphere`, :class:`Mesh`, :class:`MeshConv`, :class:`MeshPool`, :class:`MeshUnpool`:
  Jiang et al.'s convolution on an icosahedral mesh, a learned combination of differential
  operators (identity, east and north derivatives, Laplacian).
- :class:`SphericalMNIST`: MNIST digits projected onto the sphere, as equirectangular images or
  mesh signals, optionally rotated.

``EquirectConv2d`` (circular padding) and ``CoordConv2d`` live in ``convnp.nn``.
"""

from convnp.sphere.equirect import (
    SphereConv2d,
    SpherePool2d,
    inverse_gnomonic,
    pixel_angles,
    sphere_taps,
    tangent_offsets,
)
from convnp.sphere.mesh import Mesh, MeshConv, MeshPool, MeshUnpool, equirect_to_mesh, icosphere

__all__ = ["SphereConv2d", "SpherePool2d", "sphere_taps", "pixel_angles", "tangent_offsets",
           "inverse_gnomonic", "icosphere", "Mesh", "MeshConv", "MeshPool", "MeshUnpool",
           "equirect_to_mesh", "SphericalMNIST"]


def __getattr__(name):
    if name == "SphericalMNIST":  # needs convnp.data: imported on first use
        from convnp.sphere.datasets import SphericalMNIST

        return SphericalMNIST
    raise AttributeError(f"module 'convnp.sphere' has no attribute {name!r}")
