"""torch's implementation-choice keywords (``foreach``, ``fused``, ``capturable``,
``differentiable``), accepted by every optimizer that has them in torch.

On the CPU with NumPy there is one implementation of each update rule, so:

* ``foreach`` (None/False/True) is a no-op: torch's multi-tensor kernels batch launches on a GPU;
  convnp updates each parameter with vectorised NumPy either way, with the same numbers.
* ``fused`` (None/False/True, where torch has it: SGD, Adam, AdamW, Adagrad) is a no-op for the
  same reason; ``fused=True`` together with ``foreach=True`` or ``differentiable=True`` raises as
  in torch.
* ``capturable=True`` is for CUDA-graph capture; torch refuses it for CPU parameters at ``step()``
  and so does convnp.
* ``differentiable=True`` (backpropagating through the optimizer step) is not supported: ``step()``
  raises ``NotImplementedError``.

The values are stored in each parameter group under torch's names, so ``state_dict()`` has
torch's layout.
"""

from __future__ import annotations


def flag_defaults(*, foreach=..., fused=..., capturable=..., differentiable=...) -> dict:
    """The group entries for the keywords an optimizer has in torch (a keyword left at ``...``
    is one the optimizer does not have, and gets no entry)."""
    flags = {}
    if foreach is not ...:
        flags["foreach"] = foreach
    if capturable is not ...:
        flags["capturable"] = bool(capturable)
    if differentiable is not ...:
        flags["differentiable"] = bool(differentiable)
    if fused is not ...:
        flags["fused"] = fused
        if fused:
            if differentiable:
                raise RuntimeError("`fused` does not support `differentiable`")
            if foreach:
                raise RuntimeError("`fused` and `foreach` cannot be `True` together.")
    return flags


def check_flags(name: str, group: dict) -> None:
    """Refuse at ``step()`` what torch refuses for CPU parameters, and what convnp lacks."""
    if group.get("capturable", False):
        raise RuntimeError(
            f"{name}: capturable=True needs parameters on a CUDA-graph capable device; convnp "
            "computes on the CPU (torch refuses it for CPU parameters too). Use capturable=False.")
    if group.get("differentiable", False):
        raise NotImplementedError(
            f"{name}: differentiable=True (backpropagating through the optimizer step) is not "
            "supported by convnp. Use differentiable=False, or write the update with tensor "
            "operations outside the optimizer.")
