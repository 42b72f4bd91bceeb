"""``convnp.backends``: torch's ``torch.backends`` switches, so scripts that set them run
unchanged.

convnp computes with NumPy (and Numba kernels) on the CPU; it has none of the vendor libraries
these modules configure. Their flags are plain settable attributes that convnp's computation
does not read, and their ``is_available()`` functions say False (``cudnn``, ``mps``, ``mkldnn``,
``mkl``, ``openmp``) because convnp does not call those libraries. Submodules: ``cudnn``,
``cuda``, ``mps``, ``mkldnn``, ``mkl``, ``openmp``, ``cpu``, ``opt_einsum``.

Example::

    >>> import convnp
    >>> convnp.backends.cudnn.benchmark = True      # accepted, no effect on the CPU
    >>> convnp.backends.mps.is_available()
    False
"""

from convnp.backends import cpu, cuda, cudnn, mkl, mkldnn, mps, openmp, opt_einsum  # noqa: F401

__all__ = ["cpu", "cuda", "cudnn", "mkl", "mkldnn", "mps", "openmp", "opt_einsum"]
