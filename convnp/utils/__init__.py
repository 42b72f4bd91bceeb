"""``convnp.utils``: PyTorch's ``torch.utils`` layout (``convnp.utils.data``)."""

from convnp.utils import data  # noqa: F401
