"""The rest of torch.nn's activation layers: ``GLU``, ``RReLU``, ``Softmax2d``,
``ChannelShuffle`` (thin modules over :mod:`convnp.ops.composite`)."""

from __future__ import annotations

from convnp.nn.modules._declared import REQUIRED, _DeclaredLayer
from convnp.ops import composite as C

__all__ = ["ChannelShuffle", "GLU", "RReLU", "Softmax2d"]


class GLU(_DeclaredLayer):
    r"""Gated linear unit :math:`a \otimes \sigma(b)`, ``a`` and ``b`` the two halves of the
    input along ``dim``.

    Args:
        dim: the dimension split in half (default -1).

    Shape: input :math:`(*, 2N, *)`, output :math:`(*, N, *)`.

    Example::

        >>> nn.GLU()(convnp.randn(4, 2)).shape
        (4, 1)
    """

    _params = (("dim", -1),)
    _fn = C.glu

    def output_shape(self, input_shape):
        """``input_shape`` with ``dim`` halved."""
        shape = list(int(v) for v in input_shape)
        shape[self.dim] //= 2
        return tuple(shape)


class RReLU(_DeclaredLayer):
    r"""Randomized leaky ReLU: negative inputs times a slope drawn from
    :math:`U(\text{lower}, \text{upper})` per element in training, the fixed
    :math:`(\text{lower} + \text{upper}) / 2` in eval (slopes in training come from convnp's
    generator, so they differ from torch's draws).

    Args:
        lower: default 1/8. upper: default 1/3. inplace: write into the input.
    """

    _params = (("lower", 1.0 / 8), ("upper", 1.0 / 3), ("inplace", False))
    _fn = C.rrelu

    def _fn_kwargs(self) -> dict:
        return {"lower": self.lower, "upper": self.upper, "training": self.training}


class Softmax2d(_DeclaredLayer):
    r"""Softmax over the channels at every spatial location.

    Shape: input :math:`(N, C, H, W)` or :math:`(C, H, W)`, output the same.
    """

    def forward(self, input):
        from convnp.ops.activation import softmax

        if input.ndim not in (3, 4):
            raise ValueError(f"Softmax2d: expected input to be 3D or 4D, got {input.ndim}D "
                             "instead")
        return softmax(input, -3)


class ChannelShuffle(_DeclaredLayer):
    r"""Split the channels into ``groups`` and interleave them (ShuffleNet).

    Args:
        groups: number of groups (must divide the channels).

    Shape: input :math:`(N, C, *)`, output the same.
    """

    _params = (("groups", REQUIRED),)
    _fn = C.channel_shuffle
