"""``convnp.tools``: explain the arithmetic of convolutional networks.

Shape functions (``conv_output_shape`` ...), ``summary`` (per-layer shapes, parameters, MACs,
receptive fields), ``receptive_field``, ``conv_matrix`` (convolution as a matrix),
``equivariance``, and the ``explain`` / ``animate`` / ``show`` commands. Everything is computed
with ``convnp.ops._shape``, the arithmetic the layers themselves use. matplotlib is imported only
inside the drawing functions.
"""

from __future__ import annotations

from convnp.tools.animate import animate, animation_frames  # noqa: F401
from convnp.tools.conv_matrix import conv_matrix, index_map  # noqa: F401
from convnp.tools.equivariance import equivariance  # noqa: F401

# the functions shadow their submodules' names on purpose (convnp.tools.summary is the function)
from convnp.tools.shapes import (  # noqa: F401
    conv_input_sizes,
    conv_output_shape,
    conv_transpose_output_shape,
    pool_output_shape,
    same_padding,
)
from convnp.tools.show import show, show_run  # noqa: F401
from convnp.tools.summary import Summary, SummaryRow, receptive_field, summary  # noqa: F401

__all__ = ["conv_output_shape", "conv_transpose_output_shape", "pool_output_shape",
           "same_padding", "conv_input_sizes", "summary", "Summary", "SummaryRow",
           "receptive_field", "conv_matrix", "index_map", "equivariance", "animate",
           "animation_frames", "show", "show_run"]
