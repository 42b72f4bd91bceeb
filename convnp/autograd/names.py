"""torch's names for the graph nodes convnp records (``grad_fn.name()`` is ``'MulBackward0'``),
and which inputs torch's node saves where convnp's saves something derived instead.

One table maps a convnp ``Function`` class to the name torch gives the node of the same op; a
few names depend on the call (``sum()`` is ``SumBackward0``, ``sum(dim)`` ``SumBackward1``), so
an entry may be a function of the node. A Function missing from the table is named
``<ClassName>Backward0``; a Function may also set a class attribute ``torch_name``.
"""

from __future__ import annotations

import weakref
from typing import Any, Callable


def _nd(node) -> int:
    """Spatial dimensions of a pooling/upsampling node, from its first output's rank."""
    kw = node.kwargs or {}
    if "nd" in kw:
        return int(kw["nd"])
    return max(len(node.out_meta[0][0]) - 2, 1)


def _is_max(node) -> bool:
    return (node.kwargs or {}).get("is_max", True)


def _getitem(node) -> str:
    import numpy as np

    index = (node.kwargs or {}).get("index")
    parts = index if isinstance(index, tuple) else (index,)
    if any(isinstance(p, (list, np.ndarray)) for p in parts):
        return "IndexBackward0"
    if all(isinstance(p, (int, np.integer)) for p in parts):
        return "SelectBackward0"
    return "SliceBackward0"


def _matmul(node) -> str:
    ranks = [len(e[2]) for e in node.edges if e is not None]
    shapes = node.out_meta[0][0]
    if len(shapes) == 0:
        return "DotBackward0"
    if ranks and max(ranks) > 2:
        return "UnsafeViewBackward0"
    return "MvBackward0" if len(shapes) == 1 else "MmBackward0"


def _linear(node) -> str:
    with_bias = getattr(node.ctx, "has_bias", False)
    rank = len(node.out_meta[0][0])
    if rank == 2:
        return "AddmmBackward0" if with_bias else "MmBackward0"
    if with_bias:
        return "ViewBackward0"  # torch flattens the leading dims around addmm
    # without a bias torch runs matmul: mm of an unsqueezed vector, or a folded batch
    return "SqueezeBackward4" if rank == 1 else "UnsafeViewBackward0"


def _pad(node) -> str:
    modes = (node.kwargs or {}).get("modes") or ()
    mode = next((m for m in modes if m != "constant"), "constant")
    if mode == "constant":
        return "ConstantPadNdBackward0"
    nd = sum(1 for m in modes if m == mode) or 1
    name = {"reflect": "Reflection", "replicate": "Replication"}.get(mode)
    return f"{name}Pad{nd}DBackward0" if name else "CopySlices"


def _pow(node) -> str:
    a, b = node.edges[0], node.edges[1] if len(node.edges) > 1 else None
    if a is not None and b is not None:
        return "PowBackward1"
    return "PowBackward2" if a is None else "PowBackward0"


_MODES = {"nearest": "Nearest", "nearest-exact": "NearestExact", "linear": "Linear",
          "bilinear": "Bilinear", "bicubic": "Bicubic", "trilinear": "Trilinear"}


def _interpolate(node) -> str:
    kw = (node.kwargs or {}).get("spec") or {}
    mode = _MODES.get(kw.get("mode"), "")
    aa = "Aa" if kw.get("antialias") else ""
    return f"Upsample{mode}{_nd(node)}D{aa}Backward0"


def _standardize(node) -> str:
    """Layer norm, or group norm: (N, groups, rest) view, per-channel weight."""
    kw = node.kwargs or {}
    view, wshape = kw.get("view", ()), kw.get("wshape", ())
    per_channel = len(wshape) > 1 and all(s == 1 for s in wshape[2:])
    if len(view) == 3 and per_channel:
        return "NativeGroupNormBackward0"
    return "NativeLayerNormBackward0"


_TABLE: dict[str, str | Callable[[Any], str]] = {
    # elementwise
    "Pow": _pow,
    "Clamp": "ClampBackward1",
    "Where": "WhereBackward0",
    # reductions
    "Sum": lambda n: "SumBackward0" if (n.kwargs or {}).get("axes") is None else "SumBackward1",
    "Mean": lambda n: "MeanBackward0" if (n.kwargs or {}).get("axes") is None else "MeanBackward1",
    "Prod": lambda n: "ProdBackward0" if (n.kwargs or {}).get("axis") is None else "ProdBackward1",
    "MaxMinAll": lambda n: "MaxBackward1" if _is_max(n) else "MinBackward1",
    "MaxMinDim": lambda n: "MaxBackward0" if _is_max(n) else "MinBackward0",
    "AMaxMin": lambda n: "AmaxBackward0" if _is_max(n) else "AminBackward0",
    "LogSumExp": "LogsumexpBackward0",
    "Norm": "LinalgVectorNormBackward0",
    # movement
    "Reshape": "ViewBackward0",
    # torch names transpose() TransposeBackward0 and t() TBackward0: convnp records one Permute
    "Permute": "PermuteBackward0",
    "GetItem": _getitem,
    # linear algebra, layers
    "MatMul": _matmul,
    "Linear": _linear,
    "Bilinear": "ViewBackward0",
    "ConvNd": "ConvolutionBackward0",
    "ConvTransposeNd": "ConvolutionBackward0",
    "MaxPoolNd": lambda n: (f"MaxPool{_nd(n)}DWithIndicesBackward0" if _nd(n) > 1
                            else "SqueezeBackward1"),
    "AvgPoolNd": lambda n: f"AvgPool{_nd(n)}DBackward0" if _nd(n) > 1 else "SqueezeBackward1",
    "AdaptiveAvgPoolNd": lambda n: (f"AdaptiveAvgPool{_nd(n)}DBackward0" if _nd(n) > 1
                                    else "SqueezeBackward1"),
    "AdaptiveMaxPoolNd": lambda n: (f"AdaptiveMaxPool{_nd(n)}DBackward0" if _nd(n) > 1
                                    else "SqueezeBackward1"),
    "MaxUnpoolNd": lambda n: f"MaxUnpool{_nd(n)}DBackward0",
    "Interpolate": _interpolate,
    "Unfold": "Im2ColBackward0",
    "Fold": "Col2ImBackward0",
    "Pad": _pad,
    "BatchNormTrain": "NativeBatchNormBackward0",
    "BatchNormEval": "NativeBatchNormBackward0",
    "Standardize": _standardize,
    "LocalResponseNorm": "DivBackward0",
    "Normalize": "DivBackward0",
    "MaskAffine": "MulBackward0",
    # activations
    "ReLU": "ReluBackward0",
    "LeakyReLU": "LeakyReluBackward0",
    "PReLU": "PreluKernelBackward0",
    "ELU": "EluBackward0",
    "GELU": "GeluBackward0",
    "SiLU": "SiluBackward0",
    "Softsign": "DivBackward0",
    "Tanhshrink": "SubBackward0",
    "Shrink": lambda n: ("SoftshrinkBackward0" if (n.kwargs or {}).get("soft")
                         else "HardshrinkBackward0"),
    "LogSigmoid": "LogSigmoidBackward0",
    "Softmax": lambda n: ("LogSoftmaxBackward0" if (n.kwargs or {}).get("log")
                          else "SoftmaxBackward0"),
    # losses
    "MSELoss": "MseLossBackward0",
    "L1Loss": "MeanBackward0",
    "_ClassLoss": "NllLossBackward0",
    "BCELoss": "BinaryCrossEntropyBackward0",
    "BCEWithLogitsLoss": "BinaryCrossEntropyWithLogitsBackward0",
    "KLDivLoss": "MeanBackward0",
    # tensor methods
    "Cast": "ToCopyBackward0",
}


def torch_name(node) -> str:
    """The name torch prints for the node of the same op (``MulBackward0``)."""
    fn = node.fn
    name = getattr(fn, "torch_name", None)
    if name:
        return name
    entry = _TABLE.get(fn.__name__)
    if entry is None:
        return fn.__name__ + "Backward0"
    return entry if isinstance(entry, str) else entry(node)


# Inputs (by position) that torch's node saves for backward where convnp's backward needs only
# something derived (a mask, argmax codes, a centred copy): their versions are recorded too, so
# that changing them in place before backward raises exactly where torch raises.
_TORCH_SAVES: dict[str, tuple | Callable[[dict], tuple]] = {
    "MaxPoolNd": (0,),
    "AvgPoolNd": (0,),
    "AdaptiveAvgPoolNd": (0,),
    "AdaptiveMaxPoolNd": (0,),
    "Standardize": (0, 1),
    "Softplus": (0,),
    "Threshold": (0,),
    "Shrink": (0,),
    "MSELoss": (0, 1),
    "SmoothL1Loss": (0, 1),
    "HuberLoss": (0, 1),
    "Pad": lambda kw: (0,) if any(m != "constant" for m in kw.get("modes") or ()) else (),
}
_SAVES_BY_CLASS: dict = {}


def torch_saved_inputs(fn: type, kwargs: dict) -> tuple:
    """Positions of the inputs torch saves for ``fn`` beyond what convnp's ctx saves."""
    entry = _SAVES_BY_CLASS.get(fn)
    if entry is None:
        entry = _SAVES_BY_CLASS[fn] = _TORCH_SAVES.get(fn.__name__, ())
    return entry(kwargs) if callable(entry) else entry


class GraphView:
    """A node of torch's graph that convnp's one fused op stands for (the ``TBackward0`` of the
    weight under ``AddmmBackward0``, ...): shown by ``next_functions`` so that walking the graph
    finds what torch's walk finds; the gradient flows through the fused op, not through it."""

    __slots__ = ("_name", "next_functions", "__weakref__")

    def __init__(self, name: str, next_functions: tuple) -> None:
        self._name = name
        self.next_functions = next_functions

    def name(self) -> str:
        return self._name

    def __repr__(self) -> str:
        return f"<{self._name} object at {hex(id(self))}>"


def _wrap(name: str, edge: tuple) -> tuple:
    """``edge`` seen through a one-input node ``name`` (``(None, 0)`` stays: no gradient)."""
    return (None, 0) if edge[0] is None else (GraphView(name, (edge,)), 0)


def _linear_next(node, nf: tuple) -> tuple:
    # torch: addmm(bias, input, weight.t()) for 2-d input; view -> addmm -> view around it for
    # other ranks; matmul (mm of an unsqueezed vector, or a folded batch) without a bias
    x, w = nf[0], _wrap("TBackward0", nf[1])
    bias = nf[2] if len(nf) > 2 else None
    rank = len(node.out_meta[0][0])
    if rank == 2:
        return (bias, x, w) if bias is not None else (x, w)
    if bias is not None:
        return ((GraphView("AddmmBackward0", (bias, _wrap("ViewBackward0", x), w)), 0),)
    inner = _wrap("UnsqueezeBackward0" if rank == 1 else "ViewBackward0", x)
    return ((GraphView("MmBackward0", (inner, w)), 0),)


_NEXT: dict[str, Callable[[Any, tuple], tuple]] = {"Linear": _linear_next}
_NEXT_CACHE: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def torch_next_functions(node, nf: tuple) -> tuple:
    """``node.next_functions`` as torch's graph has them; ``nf`` is one edge per input of
    convnp's op. The same objects on every call, as torch returns."""
    rewrite = _NEXT.get(node.fn.__name__)
    if rewrite is None:
        return nf
    cached = _NEXT_CACHE.get(node)
    if cached is None:
        cached = _NEXT_CACHE[node] = rewrite(node, nf)
    return cached
