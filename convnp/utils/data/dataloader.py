"""``convnp.utils.data.dataloader``: torch's module path for the DataLoader and collation."""

from convnp.data.dataloader import DataLoader, default_collate  # noqa: F401

__all__ = ["DataLoader", "default_collate"]
