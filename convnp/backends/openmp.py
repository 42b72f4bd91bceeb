"""``convnp.backends.openmp``: convnp's parallel kernels use Numba's thread pool, not an OpenMP
runtime that convnp controls, so ``is_available()`` is False (see ``convnp.set_num_threads``)."""


def is_available() -> bool:
    return False
