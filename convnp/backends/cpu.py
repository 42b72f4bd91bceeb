"""``convnp.backends.cpu``: the CPU capability string torch reports."""


def get_cpu_capability() -> str:
    """The SIMD level of the NumPy build convnp runs on (``'AVX512'``, ``'AVX2'`` or
    ``'DEFAULT'``), read from NumPy's CPU feature detection."""
    try:
        from numpy._core._multiarray_umath import __cpu_features__ as feats
    except ImportError:  # older NumPy layout
        try:
            from numpy.core._multiarray_umath import __cpu_features__ as feats
        except ImportError:
            return "DEFAULT"
    if feats.get("AVX512F") and feats.get("AVX512BW"):
        return "AVX512"
    if feats.get("AVX2"):
        return "AVX2"
    return "DEFAULT"
