"""``convnp.utils.data.distributed``: torch's module path of :class:`DistributedSampler`."""

from convnp.data.distributed import DistributedSampler  # noqa: F401

__all__ = ["DistributedSampler"]
