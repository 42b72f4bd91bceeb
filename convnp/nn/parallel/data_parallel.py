"""``DataParallel``: torch's single-process multi-GPU wrapper, as it behaves without GPUs."""

from __future__ import annotations

from convnp.nn.modules.module import Module


def _check_devices(device_ids, output_device, where: str) -> None:
    for d in list(device_ids or []) + ([output_device] if output_device is not None else []):
        if d in ("cpu", None) or getattr(d, "type", None) == "cpu":
            continue
        raise NotImplementedError(f"{where}: device {d!r} asked for, but convnp has no GPU; it "
                                  "computes on the CPU. Leave device_ids and output_device "
                                  "unset.")


class DataParallel(Module):
    r"""Wraps ``module`` as torch's ``nn.DataParallel`` does on a machine without GPUs: the
    forward calls ``module(*inputs, **kwargs)`` unchanged (no scatter, no replicas), and the
    wrapped module is ``self.module``, so state_dict keys carry the ``module.`` prefix as in
    torch.

    Args:
        module: the module to wrap.
        device_ids: GPU ids; convnp has none, so only None (or an empty list) is accepted.
        output_device: likewise None.
        dim: the batch dimension torch would scatter along (kept as an attribute).

    Example::

        >>> model = nn.DataParallel(nn.Linear(4, 2))
        >>> list(model.state_dict())
        ['module.weight', 'module.bias']
    """

    def __init__(self, module: Module, device_ids=None, output_device=None, dim: int = 0) -> None:
        super().__init__()
        _check_devices(device_ids, output_device, "DataParallel")
        self.module = module
        self.device_ids = []
        self.output_device = None
        self.dim = dim
        self.src_device_obj = None

    def forward(self, *inputs, **kwargs):
        return self.module(*inputs, **kwargs)


def data_parallel(module: Module, inputs, device_ids=None, output_device=None, dim: int = 0,
                  module_kwargs=None):
    """Functional ``DataParallel``: without GPUs, ``module(*inputs, **module_kwargs)``."""
    _check_devices(device_ids, output_device, "data_parallel")
    if not isinstance(inputs, tuple):
        inputs = (inputs,) if inputs is not None else ()
    return module(*inputs, **(module_kwargs or {}))
