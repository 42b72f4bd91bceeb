"""What convnp leaves out of torch's API on purpose, and the error a script meets there.

One table, read by two users: ``convnp.__getattr__`` / ``Tensor.__getattr__`` answer a listed
torch name with ``Unsupported`` (naming the feature and what to use instead) instead of a bare
``AttributeError``; and ``python -m convnp.tools.coverage`` reports the same names as
"excluded" rather than "missing".

``Unsupported`` is both a ``NotImplementedError`` (what the issue promises) and an
``AttributeError`` (so ``hasattr(convnp, "sparse_coo_tensor")`` and ``getattr(x, "cuda",
None)`` keep working as feature tests in user code).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field


class Unsupported(NotImplementedError, AttributeError):
    """A torch feature convnp leaves out on purpose (see ``convnp._unsupported.EXCLUSIONS``)."""


@dataclass(frozen=True)
class Exclusion:
    """A torch feature convnp does not have: why, what to use instead, and the torch names it
    covers per namespace (full-match regular expressions)."""

    feature: str
    reason: str
    instead: str
    names: dict = field(default_factory=dict)  # namespace -> regex

    def matches(self, namespace: str, name: str) -> bool:
        pattern = self.names.get(namespace)
        return bool(pattern) and re.fullmatch(pattern, name) is not None


_LINALG = (r"cholesky\w*|qr|svd|svd_lowrank|pca_lowrank|lobpcg|lu|lu_solve|lu_unpack|geqrf|"
           r"orgqr|ormqr|triangular_solve|inverse|pinverse|det|logdet|slogdet|matrix_exp|"
           r"matrix_power|eig|symeig|lstsq|solve|matrix_rank|nuclear_norm|frobenius_norm|"
           r"cholesky_inverse|cholesky_solve")

EXCLUSIONS = [
    Exclusion(
        "a CUDA / MPS / XPU device",
        "convnp computes on the CPU with NumPy",
        "keep tensors on the CPU: .cpu() / .to('cpu'); convnp.cuda.is_available() is False",
        {"Tensor": r"cuda|xpu|ipu|hpu|mtia|mps|record_stream|pin_memory|to_mkldnn",
         "convnp": r"cudnn_\w+|miopen_\w+|mkldnn_\w+|is_vulkan_available|fbgemm_\w+|"
                   r"empty_quantized|Stream|Event|StreamObjType|cuda_\w+"}),
    Exclusion(
        "sparse tensors",
        "convnp stores every tensor as a dense NumPy array",
        "use dense tensors (scipy.sparse on .numpy() for sparse linear algebra)",
        {"convnp": r"sparse_\w+|smm|hspmm|sspaddmm|dsmm|saddmm|spmm|resize_as_sparse_|"
                   r"\w+_indices_copy|indices_copy|values_copy",
         "Tensor": r"to_sparse\w*|sparse_\w+|coalesce|is_coalesced|indices|values|"
                   r"crow_indices|col_indices|ccol_indices|row_indices|dense_dim|"
                   r"smm|sspaddmm|resize_as_sparse_"}),
    Exclusion(
        "quantized tensors",
        "convnp computes in float32 / float64",
        "keep float tensors (convert to NumPy for post-training quantisation tools)",
        {"convnp": r"quantize_\w+|quantized_\w+|dequantize|fake_quantize_\w+|"
                   r"fused_moving_avg_obs_fake_quant|choose_qparams_optimized|qint\d+|quint\w+|"
                   r"per_tensor_\w+|per_channel_\w+|q\w*Storage|q_\w+|int_repr|qscheme",
         "Tensor": r"q_\w+|int_repr|qscheme|dequantize|quantize\w*"}),
    Exclusion(
        "complex numbers",
        "convnp's ops and their gradients are defined for real tensors",
        "keep real and imaginary parts as two real tensors",
        {"convnp": r"complex|complex32|complex64|complex128|cfloat|cdouble|chalf|polar|"
                   r"view_as_real\w*|view_as_complex\w*|conj|conj_physical_?|resolve_conj|"
                   r"angle|real|imag|Complex\w+Storage",
         "Tensor": r"conj|conj_physical_?|resolve_conj|angle|real|imag|cfloat|cdouble|chalf|"
                   r"view_as_complex|view_as_real"}),
    Exclusion(
        "dtypes NumPy does not have",
        "convnp's dtypes are NumPy's",
        "use float16, bfloat16, float32 or float64",
        {"convnp": r"float8_\w+|float4_\w+|bits\w+|bit|int[1-7]|uint[1-7]|"
                   r"BFloat16\w*"}),
    Exclusion(
        "linear algebra beyond what CNNs need",
        "convnp implements the products CNNs use (matmul, mm, bmm and their relatives)",
        "call numpy.linalg / scipy.linalg on tensor.numpy()",
        {"convnp": _LINALG, "Tensor": _LINALG}),
    Exclusion(
        "spectral ops and signal windows",
        "outside convnp's scope (convolutional networks)",
        "use numpy.fft / scipy.signal on tensor.numpy()",
        {"convnp": r"stft|istft|\w+_window",
         "Tensor": r"stft|istft"}),
    Exclusion(
        "untyped storage objects",
        "a convnp tensor is its NumPy array",
        "use tensor.numpy() (shares memory) or tensor.array",
        {"Tensor": r"storage|untyped_storage|storage_type|storage_offset|data_ptr|const_data_ptr|"
                   r"mutable_data_ptr|set_|"
                   r"is_set_to|resize_|resize_as_",
         "convnp": r"\w*Storage|StorageBase|from_file"}),
    Exclusion(
        "named tensors",
        "dims are positional in convnp",
        "index dims by position",
        {"Tensor": r"names|refine_names|rename_?|align_to|align_as",
         "convnp": r"align_tensors"}),
    Exclusion(
        "fused GPU matrix kernels",
        "FP8 / grouped GEMM kernels exist for GPUs",
        "use F.linear / convnp.matmul",
        {"nn.functional": r"scaled_mm|scaled_grouped_mm|grouped_mm"}),
]


def find(namespace: str, name: str) -> Exclusion | None:
    """The exclusion covering torch's ``namespace.name``, if any."""
    for ex in EXCLUSIONS:
        if ex.matches(namespace, name):
            return ex
    return None


def check(namespace: str, name: str) -> None:
    """Raise ``Unsupported`` when ``name`` is an excluded torch name of ``namespace``."""
    ex = find(namespace, name)
    if ex is not None:
        where = {"convnp": "convnp", "Tensor": "Tensor"}.get(namespace, f"convnp.{namespace}")
        raise Unsupported(f"{where}.{name}: convnp does not support {ex.feature} "
                          f"({ex.reason}); {ex.instead}")
