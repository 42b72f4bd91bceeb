"""Convolution kernels: zero-padded N-d cross-correlation, its input and weight gradients.

- ``gemm``: batch-chunked im2col / col2im GEMMs (any geometry), the 1x1 and dense GEMMs;
- ``shift``: one GEMM per kernel tap over a channel-major layout (no patch matrix), any stride;
- ``grid``: stride-1 kernels on the flattened padded grid (GEMM or direct loops), polyphase;
- ``chunked``: chunk-parallel pipelines (patch copy + single-threaded GEMM per thread);
- ``depthwise``: one input channel per group;
- ``winograd``: F(2x2, 3x3) for 3x3 and 3x3x3 stride-1 layers;
- ``dispatch``: ``select(op, geometry, dtype, threads)``, the one place a kernel is chosen,
  and ``conv_fwd`` / ``conv_bwd_data`` / ``conv_bwd_weight``, the entry points of
  ``convnp.ops.conv``. A future CuPy (or other array) backend plugs in there.
"""

from convnp.kernels.conv.dispatch import (  # noqa: F401
                                          KERNELS,
                                          Geometry,
                                          Kernel,
                                          conv_bwd_data,
                                          conv_bwd_weight,
                                          conv_fwd,
                                          force,
                                          register,
                                          select,
)
