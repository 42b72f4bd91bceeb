"""Fast paths behind the ops: compiled (Numba) and BLAS kernels on raw NumPy arrays.

An op in ``convnp.ops`` defines what it computes (a readable reference, its autograd Function,
validation); a kernels package here holds the ways to compute it fast and ONE dispatch function
that picks among them per call (``convnp.kernels.conv.dispatch.select``). A further array backend
plugs in at that dispatch point.
"""
