"""convnp: convolutional neural networks from scratch on NumPy, with PyTorch's API and numbers.

    import convnp as torch            # the tensor API
    import convnp.nn as nn            # layers, losses, init
    import convnp.nn.functional as F  # the functional ops
"""

from __future__ import annotations

import importlib

from convnp import _memory
from convnp._device import device
from convnp._dtype import (
    bool,
    double,
    float,
    float16,
    float32,
    float64,
    get_default_dtype,
    half,
    int,
    int8,
    int16,
    int32,
    int64,
    long,
    set_default_dtype,
    short,
    uint8,
)
from convnp.autograd import (
    enable_grad,
    inference_mode,
    is_grad_enabled,
    no_grad,
    set_grad_enabled,
)
from convnp.backend import get_num_threads, set_num_threads
from convnp.creation import (
    arange,
    as_tensor,
    empty,
    empty_like,
    eye,
    from_numpy,
    full,
    full_like,
    linspace,
    ones,
    ones_like,
    rand,
    rand_like,
    randint,
    randn,
    randn_like,
    randperm,
    tensor,
    zeros,
    zeros_like,
)
from convnp.ops.elementwise import (
    abs,
    add,
    clamp,
    clip,
    cos,
    div,
    exp,
    log,
    maximum,
    minimum,
    mul,
    neg,
    pow,
    sigmoid,
    sin,
    sqrt,
    sub,
    tanh,
    where,
)
from convnp.ops.linalg import bmm, matmul, mm
from convnp.ops.movement import (
    cat,
    chunk,
    concat,
    concatenate,
    expand,
    flatten,
    flip,
    permute,
    reshape,
    split,
    squeeze,
    stack,
    transpose,
    unflatten,
    unsqueeze,
)
from convnp.ops.reduction import (
    amax,
    amin,
    argmax,
    argmin,
    logsumexp,
    max,
    mean,
    min,
    prod,
    std,
    sum,
    var,
)
from convnp.random import (
    Generator,
    default_generator,
    get_rng_state,
    initial_seed,
    manual_seed,
    seed,
    set_rng_state,
)
from convnp.tensor import Tensor, is_tensor

__version__ = "0.1.0"

_memory.keep_freed_memory()  # glibc keeps freed pages for reuse (see convnp/_memory.py)

# heavier subpackages load on first use, so `import convnp` stays light
_LAZY = {"nn", "optim", "data", "models", "tools", "utils", "autograd", "cli", "cuda",
         "distributed"}
_LAZY.add("onnx")  # convnp.onnx: ONNX export / import (needs the 'onnx' extra when used)
_LAZY.add("sphere")  # convnp.sphere: spherical CNNs (SphereNet, icosahedral mesh convolution)


# explain/summary tools, re-exported at the top level and imported on first use
_TOOLS = {"conv_output_shape", "conv_transpose_output_shape", "pool_output_shape", "same_padding",
          "conv_input_sizes", "summary", "receptive_field", "conv_matrix"}


# torch's file format (torch.save / torch.load), read and written without torch
_SERIALIZATION = {"save", "load"}


# torch's sub-namespaces for porting scripts (backends, accelerator, amp, hub, multiprocessing),
# loaded on first use; `convnp.autocast` is torch.autocast
_LAZY |= {"backends", "accelerator", "amp", "hub", "multiprocessing"}


def autocast(device_type: str = "cpu", dtype=None, enabled: bool = True, cache_enabled=None):
    """``torch.autocast``: see :class:`convnp.amp.autocast` (on the CPU, as torch: bfloat16
    matrix products, linear layers and convolutions, float32 losses)."""
    from convnp.amp import autocast as _autocast

    return _autocast(device_type, dtype=dtype, enabled=enabled, cache_enabled=cache_enabled)


def __getattr__(name: str):
    if name == "bfloat16":  # ml_dtypes loads on first use (convnp/_dtype.py)
        return importlib.import_module("convnp._dtype")._bfloat16()
    if name in _LAZY:
        return importlib.import_module(f"convnp.{name}")
    if name in _SERIALIZATION:
        return getattr(importlib.import_module("convnp.serialization"), name)
    if name in _TOOLS:
        return getattr(importlib.import_module("convnp.tools"), name)
    # torch names left out on purpose get a clear error (convnp/_unsupported.py)
    importlib.import_module("convnp._unsupported").check("convnp", name)
    raise AttributeError(f"module 'convnp' has no attribute {name!r}")


def softmax(input, dim=None, dtype=None):
    from convnp.ops.activation import softmax

    return softmax(input, dim, dtype=dtype)


def log_softmax(input, dim=None, dtype=None):
    from convnp.ops.activation import log_softmax

    return log_softmax(input, dim, dtype=dtype)


def sort(input, dim=-1, descending=False, stable=False):
    return input.sort(dim, descending, stable)


def topk(input, k, dim=-1, largest=True, sorted=True):
    return input.topk(k, dim, largest, sorted)


def argsort(input, dim=-1, descending=False, stable=False):
    return input.argsort(dim, descending)


def allclose(a, b, rtol: float = 1e-5, atol: float = 1e-8) -> bool:
    return a.allclose(b, rtol, atol)


def equal(a, b) -> bool:
    return a.equal(b)


def numel(t) -> int:
    return t.numel()


def is_floating_point(t) -> bool:
    return t.is_floating_point()


# ----------------------------------------------------------------------------- torch's surface
# the rest of torch's functions (pointwise math, indexing, shape, reductions, comparisons,
# creation, Size, memory formats, print options): tables in convnp/_namespace.py; the Tensor
# methods they back are registered by convnp/_tensor_api.py
from convnp import _namespace, _tensor_api, _unsupported  # noqa: E402
from convnp._unsupported import Unsupported  # noqa: E402

_tensor_api.register(Tensor)
globals().update(_namespace.exports())
