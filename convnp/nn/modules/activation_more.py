"""The rest of torch.nn's activation layers: ``GLU``, ``RReLU``, ``Softmax2d``,
``ChannelShuffle`` (thin modules over :mod:`convnp.nn.modules._composite`)."""

from __future__ import annotations

from convnp.nn.modules import _composite as C
from convnp.nn.modules.module import Module

__all__ = ["ChannelShuffle", "GLU", "RReLU", "Softmax2d"]


class GLU(Module):
    r"""Gated linear unit :math:`a \otimes \sigma(b)`, ``a`` and ``b`` the two halves of the
    input along ``dim``.

    Args:
        dim: the dimension split in half (default -1).

    Shape: input :math:`(*, 2N, *)`, output :math:`(*, N, *)`.

    Example::

        >>> nn.GLU()(convnp.randn(4, 2)).shape
        (4, 1)
    """

    def __init__(self, dim: int = -1) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, input):
        return C.glu(input, self.dim)

    def output_shape(self, input_shape):
        """``input_shape`` with ``dim`` halved."""
        shape = list(int(v) for v in input_shape)
        shape[self.dim] //= 2
        return tuple(shape)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class RReLU(Module):
    r"""Randomized leaky ReLU: negative inputs times a slope drawn from
    :math:`U(\text{lower}, \text{upper})` per element in training, the fixed
    :math:`(\text{lower} + \text{upper}) / 2` in eval (slopes in training come from convnp's
    generator, so they differ from torch's draws).

    Args:
        lower: default 1/8. upper: default 1/3. inplace: write into the input.
    """

    def __init__(self, lower: float = 1.0 / 8, upper: float = 1.0 / 3,
                 inplace: bool = False) -> None:
        super().__init__()
        self.lower, self.upper, self.inplace = lower, upper, inplace

    def forward(self, input):
        return C.rrelu(input, self.lower, self.upper, self.training, self.inplace)

    def extra_repr(self) -> str:
        return f"lower={self.lower}, upper={self.upper}" + (", inplace=True" if self.inplace
                                                           else "")


class Softmax2d(Module):
    r"""Softmax over the channels at every spatial location.

    Shape: input :math:`(N, C, H, W)` or :math:`(C, H, W)`, output the same.
    """

    def forward(self, input):
        from convnp.ops.activation import softmax

        if input.ndim not in (3, 4):
            raise ValueError(f"Softmax2d: expected input to be 3D or 4D, got {input.ndim}D "
                             "instead")
        return softmax(input, -3)


class ChannelShuffle(Module):
    r"""Split the channels into ``groups`` and interleave them (ShuffleNet).

    Args:
        groups: number of groups (must divide the channels).

    Shape: input :math:`(N, C, *)`, output the same.
    """

    def __init__(self, groups: int) -> None:
        super().__init__()
        self.groups = groups

    def forward(self, input):
        return C.channel_shuffle(input, self.groups)

    def extra_repr(self) -> str:
        return f"groups={self.groups}"
