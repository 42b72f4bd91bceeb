"""``load_state_dict_from_url`` where older torchvision model files import it from."""

from __future__ import annotations

__all__ = ["load_state_dict_from_url"]


def load_state_dict_from_url(url: str, model_dir=None, map_location=None, progress: bool = True,
                             check_hash: bool = False, file_name: str | None = None,
                             weights_only: bool = False) -> dict:
    """Download a checkpoint into the hub cache (or read the cached copy) and load it.

    Delegates to ``convnp.hub.load_state_dict_from_url``; without it, the error names the file
    to download and where to load it from.
    """
    try:
        from convnp.hub import load_state_dict_from_url as _load
    except ImportError:
        name = file_name or url.rsplit("/", 1)[-1]
        raise RuntimeError(f"load_state_dict_from_url: this convnp has no download support; "
                           f"fetch {url} yourself and load it with "
                           f"model.load_state_dict(convnp.load('{name}'))") from None
    return _load(url, model_dir=model_dir, map_location=map_location, progress=progress,
                 check_hash=check_hash, file_name=file_name, weights_only=weights_only)
