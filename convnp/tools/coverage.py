"""How much of PyTorch's public API convnp has: ``python -m convnp.tools.coverage``.

Walks torch's public namespaces (``torch``, ``torch.Tensor``, ``torch.nn``,
``torch.nn.functional``, ``torch.nn.init``, ``torch.optim``, ``torch.optim.lr_scheduler``,
``torch.utils.data``, and ``torchvision.transforms`` when installed), looks each name up in the
matching convnp namespace (``torch`` -> ``convnp``, ``torchvision`` -> ``convnp.vision``) and
sorts it into *has*, *lacks* or *excluded* (left out on purpose: the reasoned list in
``convnp/_unsupported.py``, the same table that makes those names raise ``Unsupported``).
Names that are torch internals rather than API (TorchScript types, dispatch helpers, legacy
``*Tensor`` / ``*Storage`` classes) are counted apart and not held against convnp.

``torch`` functions and ``Tensor`` methods are grouped into families (math, reduction,
comparison, indexing, shape, creation, other) after the sections of torch's own reference
(``docs/source/torch.md``: "Pointwise Ops", "Reduction Ops", "Comparison Ops", "Creation Ops"
with "Random sampling", "Indexing, Slicing, Joining, Mutating Ops", of which the reshaping
and joining ops form the shape family); ``torch.nn`` layers into torch's layer families.

    python -m convnp.tools.coverage                 # the table and the missing names
    python -m convnp.tools.coverage --write-docs    # regenerate the table in docs/porting.md
    python -m convnp.tools.coverage --check         # exit 1 when a target is missed

Needs torch (the test extra: ``pip install -e ".[test]"``); convnp itself never imports it.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import re
import sys
import types
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

# ----------------------------------------------------------------------------- the families
# torch's reference sections, name by name (the shape family is carved out of "Indexing,
# Slicing, Joining, Mutating Ops" and "Other Operations")
_MATH = """abs absolute acos arccos acosh arccosh add addcdiv addcmul angle asin arcsin asinh
arcsinh atan arctan atanh arctanh atan2 arctan2 bitwise_not bitwise_and bitwise_or bitwise_xor
bitwise_left_shift bitwise_right_shift ceil clamp clip conj_physical copysign cos cosh deg2rad
div divide digamma erf erfc erfinv exp exp2 expm1 fake_quantize_per_channel_affine
fake_quantize_per_tensor_affine fix float_power floor floor_divide fmod frac frexp gradient imag
ldexp lerp lgamma log log10 log1p log2 logaddexp logaddexp2 logical_and logical_not logical_or
logical_xor logit hypot i0 igamma igammac mul multiply mvlgamma nan_to_num neg negative
nextafter polygamma positive pow quantized_batch_norm quantized_max_pool1d quantized_max_pool2d
rad2deg real reciprocal remainder round rsqrt sigmoid sign sgn signbit sin sinc sinh softmax
sqrt square sub subtract tan tanh true_divide trunc xlogy"""
_REDUCTION = """argmax argmin amax amin aminmax all any max min dist logsumexp mean nanmean median
nanmedian mode norm nansum prod quantile nanquantile std std_mean sum unique unique_consecutive
var var_mean count_nonzero"""
_COMPARISON = """allclose argsort eq equal ge greater_equal gt greater isclose isfinite isin isinf
isposinf isneginf isnan isreal kthvalue le less_equal lt less maximum minimum fmax fmin ne
not_equal sort topk msort"""
_CREATION = """tensor sparse_coo_tensor sparse_csr_tensor sparse_csc_tensor sparse_bsr_tensor
sparse_bsc_tensor asarray as_tensor as_strided from_file from_numpy from_dlpack frombuffer zeros
zeros_like ones ones_like arange range linspace logspace eye empty empty_like empty_strided full
full_like quantize_per_tensor quantize_per_channel dequantize complex polar heaviside bernoulli
multinomial normal poisson rand rand_like randint randint_like randn randn_like randperm"""
_INDEXING = """argwhere gather index_add index_copy index_reduce index_select masked_select narrow
narrow_copy nonzero select scatter diagonal_scatter select_scatter slice_scatter scatter_add
scatter_reduce take take_along_dim unravel_index where index_fill index_put masked_fill
masked_scatter put conj"""
_SHAPE = """adjoint cat concat concatenate chunk dsplit column_stack dstack hsplit hstack movedim
moveaxis permute reshape row_stack split squeeze stack swapaxes swapdims t tensor_split tile
transpose unbind unsqueeze vsplit vstack atleast_1d atleast_2d atleast_3d broadcast_tensors
broadcast_to broadcast_shapes flatten unflatten flip fliplr flipud ravel roll rot90
repeat_interleave meshgrid view_as_real view_as_complex"""
# Tensor-only methods and their family (the rest follow the torch function of the same name)
_TENSOR_ONLY = {
    "shape": "view view_as expand expand_as repeat reshape_as contiguous unfold T mT H mH "
             "split_with_sizes unsafe_split unsafe_chunk resize_ resize_as_",
    "creation": "new_tensor new_zeros new_ones new_full new_empty new_empty_strided cauchy_ "
                "exponential_ geometric_ log_normal_ random_ uniform_ normal_ bernoulli_ fill_ "
                "zero_ clone",
    "indexing": "index_put index_fill masked_fill masked_scatter put",
}

FAMILIES = {"math": _MATH, "reduction": _REDUCTION, "comparison": _COMPARISON,
            "creation": _CREATION, "indexing": _INDEXING, "shape": _SHAPE}
FAMILY_OF = {n: fam for fam, names in FAMILIES.items() for n in names.split()}
TENSOR_FAMILY_OF = {**FAMILY_OF, **{n: fam for fam, names in _TENSOR_ONLY.items()
                                    for n in names.split()}}

# torch.nn's layer families: the layers a CNN library is expected to have
NN_FAMILIES = {
    "conv": r"(Lazy)?Conv(Transpose)?[123]d|Fold|Unfold",
    "pooling": r"\w*Pool[123]d|LPPool[123]d|\w*Unpool[123]d",
    "padding": r"\w*Pad[123]d",
    "normalization": r"(Lazy)?(BatchNorm|InstanceNorm)[123]d|GroupNorm|LayerNorm|"
                     r"LocalResponseNorm|RMSNorm|CrossMapLRN2d|SyncBatchNorm",
    "activation": r"ELU|Hardshrink|Hardsigmoid|Hardtanh|Hardswish|LeakyReLU|LogSigmoid|PReLU|"
                  r"ReLU|ReLU6|RReLU|SELU|CELU|GELU|Sigmoid|SiLU|Mish|Softplus|Softshrink|"
                  r"Softsign|Tanh|Tanhshrink|Threshold|GLU|Softmin|Softmax|Softmax2d|LogSoftmax",
    "loss": r"\w+Loss",
    "dropout": r"\w*Dropout\w*",
    "linear": r"Identity|(Lazy)?Linear|Bilinear",
    "container": r"Sequential|ModuleList|ModuleDict|ParameterList|ParameterDict|Module|"
                 r"Container",
    "upsampling": r"Upsample\w*|PixelShuffle|PixelUnshuffle|ChannelShuffle",
}

# not API: TorchScript / IR classes, dispatch helpers, legacy typed classes, typing aliases
INTERNAL = {
    "torch": r"\w+Type|Script\w+|Graph\w*|Block|Node|Value|Use|Code|Argument\w*|"
             r"CompilationUnit|ConcreteModuleType\w*|DeepCopyMemoTable|\w*StorageContext|"
             r"ErrorReport|ExecutionPlan|FileCheck|FunctionSchema|Future|GraphExecutorState|"
             r"IODescriptor|InferredType|JITException|LiteScriptModule|LockingLogger|LoggerBase|"
             r"NoopLogger|OperatorInfo|PyTorchFile\w+|StaticModule|ThroughputBenchmark|"
             r"TracingState|AliasDb|AggregationType|BenchmarkConfig|BenchmarkExecutionStats|"
             r"Capsule|CallStack|DispatchKey\w*|ExcludeDispatchKeyGuard|DisableTorchFunction\w*|"
             r"\w+Tensor|\w*Storage\w*|Sym\w+|sym_\w+|PRIVATE_OPS|TYPE_CHECKING|USE_\w+|AVG|SUM|"
             r"Tag|classproperty|merge_type_from_type_comment|parse_\w+|import_ir_module\w*|"
             r"unify_type_list|fork|wait|(get|set|is)_autocast_\w+|autocast_\w+_nesting|"
             r"clear_autocast_cache|set_autocast_cache_enabled|is_autocast_cache_enabled|"
             r"profiler_\w+|has_\w+|compiled_with_cxx11_abi|get_file_path|hash_tensor|"
             r"prepare_multiprocessing_environment|init_num_threads|thread_safe_generator|"
             r"BufferDict|GradScaler|ModuleDict|ParameterDict|AcceleratorError|FatalError|"
             r"OutOfMemoryError|\w+_copy|unsafe_\w+|native_\w+|batch_norm_\w+|"
             r"\w+_backward\w*|segment_reduce|slice_inverse|while_loop|cond|vmap|"
             r"sym_constrain_range\w*|Gradient|jagged",
    "torch.Tensor": r"\w+_copy|is_set_to|map2_|apply_|register_\w+hook|retains_grad|"
                    r"output_nr|grad_fn|module_load|dim_order|nonzero_static|"
                    r"new_empty_strided|sum_to_size|smm|to_padded_tensor",
    # DataPipes: deprecated in torch.utils.data (moved to the torchdata project)
    "torch.utils.data": r"\w*DataPipe|DataChunk|functional_datapipe|argument_validation|"
                        r"runtime_validation\w*|guaranteed_datapipes_determinism|"
                        r"non_deterministic",
    "torch.nn.functional": r"BroadcastingList\d|ScalingType|SwizzleType|Tensor|"
                           r"assert_int_or_pair|boolean_dispatch|handle_torch_function|"
                           r"has_torch_function\w*|native_channel_shuffle",
}

# the coverage each namespace (and family) must keep: namespace (and family) -> minimal percentage
TARGETS = {("torch.nn.functional", None): 95.0, ("torch.nn.init", None): 95.0,
           **{(ns, fam): 90.0 for ns in ("torch", "torch.Tensor")
              for fam in ("math", "reduction", "comparison", "indexing", "shape", "creation")}}
# targets owned elsewhere (layers, optimizers): reported, not enforced by --check's default
REPORTED_TARGETS = {**{("torch.nn", fam): 100.0 for fam in NN_FAMILIES},
                    ("torch.optim", None): 100.0, ("torch.optim.lr_scheduler", None): 100.0}

NAMESPACES = [  # label, torch module, convnp module (object paths)
    ("torch", "torch", "convnp"),
    ("torch.Tensor", "torch:Tensor", "convnp:Tensor"),
    ("torch.nn", "torch.nn", "convnp.nn"),
    ("torch.nn.functional", "torch.nn.functional", "convnp.nn.functional"),
    ("torch.nn.init", "torch.nn.init", "convnp.nn.init"),
    ("torch.optim", "torch.optim", "convnp.optim"),
    ("torch.optim.lr_scheduler", "torch.optim.lr_scheduler", "convnp.optim.lr_scheduler"),
    ("torch.utils.data", "torch.utils.data", "convnp.utils.data"),
    ("torchvision.transforms", "torchvision.transforms", "convnp.vision.transforms"),
]

# the namespace keys of convnp/_unsupported.py
_UNSUPPORTED_KEY = {"torch": "convnp", "torch.Tensor": "Tensor",
                    "torch.nn.functional": "nn.functional", "torch.nn": "nn"}


@dataclass
class Report:
    """One namespace's result: names by status, and families."""

    label: str
    has: list = field(default_factory=list)
    lacks: list = field(default_factory=list)
    excluded: dict = field(default_factory=dict)  # name -> feature
    internal: list = field(default_factory=list)
    family: dict = field(default_factory=dict)  # name -> family
    available: bool = True

    def percent(self, fam: str | None = None) -> float:
        has = [n for n in self.has if fam is None or self.family.get(n) == fam]
        lacks = [n for n in self.lacks if fam is None or self.family.get(n) == fam]
        total = len(has) + len(lacks)
        return 100.0 * len(has) / total if total else 100.0

    def count(self, fam: str | None = None) -> tuple[int, int, int]:
        def k(names):
            return sum(1 for n in names if fam is None or self.family.get(n) == fam)
        return k(self.has), k(self.lacks), k(self.excluded)

    def families(self) -> list[str]:
        order = [*FAMILIES, *NN_FAMILIES, "other"]
        present = set(self.family.values())
        return [f for f in order if f in present]


def _import_torch():
    try:
        import torch  # noqa: F401
    except ImportError:
        raise SystemExit("convnp.tools.coverage: needs PyTorch to list torch's API; install "
                         "the test extra: pip install -e \".[test]\"") from None


def _resolve(path: str):
    """``'torch.nn'`` or ``'torch:Tensor'`` -> the object (None when it cannot be imported)."""
    mod, _, attr = path.partition(":")
    try:
        obj = importlib.import_module(mod)
    except ImportError:
        return None
    return getattr(obj, attr) if attr else obj


def _public_names(label: str, obj) -> list[str]:
    """torch's public names of ``obj``: no underscores, no submodules, no typing imports."""
    import torch

    names = []
    if isinstance(obj, type):  # torch.Tensor: its methods and attributes
        return sorted(n for n in dir(obj) if not n.startswith("_"))
    for n in dir(obj):
        if n.startswith("_"):
            continue
        v = getattr(obj, n, None)
        if isinstance(v, types.ModuleType):
            continue
        if label == "torch" and isinstance(v, (torch.dtype, torch.memory_format, torch.layout,
                                                float, torch.qscheme)):
            names.append(n)
            continue
        mod = getattr(v, "__module__", None) or ""
        if not (mod.startswith("torch") or type(v).__module__.startswith("torch")):
            continue  # typing helpers, math, warnings ... imported by torch's modules
        if label != "torch" and (not callable(v) or (isinstance(v, type) and
                                                      not mod.startswith(label))):
            continue  # re-exports from elsewhere (Tensor in lr_scheduler, inf, ...)
        names.append(n)
    return sorted(set(names))


def _family(label: str, name: str) -> str:
    if label == "torch":
        return FAMILY_OF.get(name) or FAMILY_OF.get(name.rstrip("_")) or "other"
    if label == "torch.Tensor":
        return (TENSOR_FAMILY_OF.get(name) or TENSOR_FAMILY_OF.get(name.rstrip("_"))
                or "other")
    if label == "torch.nn":
        for fam, pattern in NN_FAMILIES.items():
            if re.fullmatch(pattern, name):
                return fam
        return "other"
    return "other"


def _has(cobj, name: str, static: bool = False) -> bool:
    from convnp._unsupported import Unsupported

    if static:  # a Tensor instance: look names up without running properties (x.H raises on
        try:    # a 1-d tensor)
            inspect.getattr_static(cobj, name)
            return True
        except AttributeError:
            return False
    try:
        getattr(cobj, name)
    except (AttributeError, Unsupported):
        return False
    return True


def measure(labels=None) -> dict[str, Report]:
    """Coverage of every namespace (or of ``labels``): label -> Report."""
    _import_torch()
    from convnp import _unsupported

    out = {}
    for label, tpath, cpath in NAMESPACES:
        if labels and label not in labels:
            continue
        tobj = _resolve(tpath)
        rep = Report(label)
        if tobj is None:
            rep.available = False
            out[label] = rep
            continue
        cobj = _resolve(cpath)
        if label == "torch.Tensor" and cobj is not None:
            cobj = cobj._wrap(np.zeros(1, np.float32))  # an instance: attributes set in __init__
        internal = INTERNAL.get(label)
        key = _UNSUPPORTED_KEY.get(label)
        for name in _public_names(label, tobj):
            if internal and re.fullmatch(internal, name):
                rep.internal.append(name)
                continue
            rep.family[name] = _family(label, name)
            ex = _unsupported.find(key, name) if key else None
            if ex is not None:
                rep.excluded[name] = ex.feature
            elif cobj is not None and _has(cobj, name, static=label == "torch.Tensor"):
                rep.has.append(name)
            else:
                rep.lacks.append(name)
        out[label] = rep
    return out


def shortfalls(reports: dict[str, Report], targets=None) -> list[str]:
    """The targets missed, one line each (empty when all are met)."""
    targets = TARGETS if targets is None else targets
    missed = []
    for (label, fam), want in targets.items():
        rep = reports.get(label)
        if rep is None or not rep.available:
            continue
        got = rep.percent(fam)
        if got < want:
            what = label + (f" [{fam}]" if fam else "")
            missed.append(f"{what}: {got:.1f}% < target {want:.0f}%")
    return missed


# ----------------------------------------------------------------------------- output
def table_markdown(reports: dict[str, Report]) -> str:
    """The coverage table as Markdown (what ``--write-docs`` puts into docs/porting.md)."""
    import torch

    lines = [f"Measured against torch {torch.__version__} by `python -m convnp.tools.coverage "
             "--write-docs`; has / (has + lacks), excluded names not counted.", "",
             "| namespace | family | has | lacks | excluded | coverage | target |",
             "|---|---|---:|---:|---:|---:|---:|"]
    all_targets = {**REPORTED_TARGETS, **TARGETS}
    for label, rep in reports.items():
        if not rep.available:
            lines.append(f"| `{label}` | | | | | not installed | |")
            continue
        h, lk, ex = rep.count()
        tgt = all_targets.get((label, None))
        lines.append(f"| `{label}` | all | {h} | {lk} | {ex} | {rep.percent():.1f}% | "
                     f"{f'{tgt:.0f}%' if tgt else ''} |")
        if label in ("torch", "torch.Tensor", "torch.nn"):
            for fam in rep.families():
                h, lk, ex = rep.count(fam)
                tgt = all_targets.get((label, fam))
                lines.append(f"| | {fam} | {h} | {lk} | {ex} | {rep.percent(fam):.1f}% | "
                             f"{f'{tgt:.0f}%' if tgt else ''} |")
    lines += ["", "Missing names in the measured families (the \"other\" family and the rest "
              "are listed by `python -m convnp.tools.coverage`):", ""]
    for label, rep in reports.items():
        fams = rep.families() if label in ("torch", "torch.Tensor", "torch.nn") else [None]
        for fam in fams:
            if fam == "other":
                continue
            miss = [n for n in rep.lacks if fam is None or rep.family.get(n) == fam]
            if miss and rep.available:
                where = f"`{label}`" + (f" {fam}" if fam else "")
                lines.append(f"- {where}: " + ", ".join(f"`{n}`" for n in sorted(miss)))
    from convnp._unsupported import EXCLUSIONS

    lines += ["", "Excluded on purpose (these names raise `convnp.Unsupported`, a "
              "`NotImplementedError`, naming the feature and what to use instead):", ""]
    for ex in EXCLUSIONS:
        lines.append(f"- **{ex.feature}**: {ex.reason}; {ex.instead}.")
    return "\n".join(lines) + "\n"


def print_report(reports: dict[str, Report], verbose: bool = False) -> None:
    for label, rep in reports.items():
        if not rep.available:
            print(f"{label}: not installed, skipped")
            continue
        h, lk, ex = rep.count()
        print(f"{label}: has {h}, lacks {lk}, excluded {ex}, internal {len(rep.internal)} "
              f"-> {rep.percent():.1f}%")
        if label in ("torch", "torch.Tensor", "torch.nn"):
            for fam in rep.families():
                h, lk, ex = rep.count(fam)
                print(f"    {fam:<13} has {h:4d}  lacks {lk:4d}  excluded {ex:3d}  "
                      f"{rep.percent(fam):5.1f}%")
        if rep.lacks:
            fams = rep.families() if label in ("torch", "torch.Tensor", "torch.nn") else [None]
            for fam in fams:
                miss = [n for n in rep.lacks if fam is None or rep.family.get(n) == fam]
                if miss and (verbose or fam != "other"):
                    print(f"    lacks{f' ({fam})' if fam else ''}: {' '.join(sorted(miss))}")
                elif miss:
                    print(f"    lacks (other): {len(miss)} names (--verbose lists them)")


MARK_START = "<!-- coverage:start (generated by python -m convnp.tools.coverage --write-docs) -->"
MARK_END = "<!-- coverage:end -->"


def write_docs(reports: dict[str, Report], path: Path) -> None:
    """Replace the text between the coverage markers of ``path`` with the fresh table."""
    text = path.read_text() if path.exists() else ""
    block = f"{MARK_START}\n{table_markdown(reports)}{MARK_END}"
    if MARK_START in text and MARK_END in text:
        head, rest = text.split(MARK_START, 1)
        tail = rest.split(MARK_END, 1)[1]
        text = head + block + tail
    else:
        text = text.rstrip("\n") + ("\n\n" if text else "") + block + "\n"
    path.write_text(text)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m convnp.tools.coverage",
                                description="How much of PyTorch's API convnp covers.")
    p.add_argument("--write-docs", action="store_true",
                   help="regenerate the coverage table in docs/porting.md")
    p.add_argument("--docs", default=str(Path(__file__).resolve().parents[2] / "docs" /
                                         "porting.md"), help="the file --write-docs updates")
    p.add_argument("--check", action="store_true",
                   help="exit with status 1 when a target is missed")
    p.add_argument("--verbose", "-v", action="store_true",
                   help="also list the missing names of the 'other' family")
    p.add_argument("namespace", nargs="*", help="only these namespaces (e.g. torch.Tensor)")
    args = p.parse_args(argv)
    reports = measure(args.namespace or None)
    print_report(reports, args.verbose)
    if args.write_docs:
        write_docs(reports, Path(args.docs))
        print(f"wrote the coverage table into {args.docs}")
    missed = shortfalls(reports)
    for line in missed:
        print(f"target missed: {line}", file=sys.stderr)
    return 1 if (args.check and missed) else 0


if __name__ == "__main__":
    sys.exit(main())
