"""``convnp.backends.cuda``: torch's CUDA switches (``matmul.allow_tf32``, ...). convnp has no CUDA
backend: ``is_built()`` is False and the switches are settable attributes it does not read."""


class _Matmul:
    """``cuda.matmul``: settable flags with torch's defaults."""

    def __init__(self) -> None:
        self.allow_tf32 = False
        self.allow_fp16_reduced_precision_reduction = True
        self.allow_bf16_reduced_precision_reduction = True
        self.fp32_precision = "none"


matmul = _Matmul()


def is_built() -> bool:
    """False: convnp has no CUDA backend."""
    return False


def flash_sdp_enabled() -> bool:
    return False


def mem_efficient_sdp_enabled() -> bool:
    return False


def math_sdp_enabled() -> bool:
    return True


def enable_flash_sdp(enabled: bool) -> None:
    """Accepted for torch scripts: convnp has no fused attention kernels."""


def enable_mem_efficient_sdp(enabled: bool) -> None:
    """Accepted for torch scripts: convnp has no fused attention kernels."""


def enable_math_sdp(enabled: bool) -> None:
    """Accepted for torch scripts."""
