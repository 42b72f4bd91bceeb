"""``convnp.onnx``: export convnp models to ONNX and run ONNX CNNs in convnp.

    convnp.onnx.export(model, convnp.randn(1, 1, 28, 28), "lenet.onnx")   # trace + write
    net = convnp.onnx.load("lenet.onnx")                                 # an nn.Module

Needs the ``onnx`` extra (``pip install "convnp[onnx]"``: onnx and onnxruntime); both are imported
only when these functions run. See docs/onnx.md for the operator table.
"""

from __future__ import annotations

from typing import Any

from convnp.onnx._trace import UnsupportedOperatorError

__all__ = ["export", "load", "UnsupportedOperatorError", "DEFAULT_OPSET", "MIN_OPSET"]

DEFAULT_OPSET = 17
MIN_OPSET = 13


def _require_onnx(fn: str):
    try:
        import onnx
        import onnx.numpy_helper  # noqa: F401
    except ImportError:
        raise ImportError(f"convnp.onnx.{fn} needs the 'onnx' package: pip install "
                          "'convnp[onnx]' (installs onnx and onnxruntime)") from None
    return onnx


def export(model, args, f, export_params: bool = True, verbose: bool = False,
           input_names=None, output_names=None, opset_version: int | None = None,
           dynamic_axes: dict | None = None, do_constant_folding: bool = True) -> Any:
    """Trace ``model(*args)`` and write it as an ONNX model (like ``torch.onnx.export``).

    The forward runs once in eval mode (the model's training flags are restored afterwards)
    while every op it applies is recorded — layers and functional code alike — and translated to
    ONNX operators: Conv (strides, pads, dilations, group; reflect / replicate / circular padding
    modes as a Pad per mode before it), ConvTranspose (output_padding), Pad, MaxPool (with indices
    for MaxUnpool), AveragePool, GlobalAveragePool, MaxUnpool, BatchNormalization, Gemm / MatMul,
    Flatten / Reshape, Concat, the elementwise ops, Resize, Softmax / LogSoftmax and the
    activations. Parameters and buffers are stored under their ``state_dict`` names.

    Args:
        model: a ``convnp.nn.Module`` (or any callable running convnp ops).
        args: an example input Tensor, or a tuple of them (the graph's inputs).
        f: a path or a writable binary file object.
        export_params: must be True (weights are always stored in the file).
        verbose: print the graph.
        input_names, output_names: graph value names (default ``input`` / ``output``, or
            ``input_0``... for several).
        opset_version: ONNX opset (default 17, at least 13); newer than the installed onnxruntime
            accepts is an error.
        dynamic_axes: ``{name: [axis, ...]}`` or ``{name: {axis: label}}``: axes whose size may
            change (usually the batch axis 0).
        do_constant_folding: accepted for PyTorch compatibility (the trace has no foldable
            subgraphs: BatchNormalization stays a separate node).

    Returns:
        the ``onnx.ModelProto`` written.

    Raises:
        UnsupportedOperatorError: naming each op with no ONNX form and the layer that called it.

    Example:
        >>> model = convnp.models.get_model("lenet5", input_size=28)
        >>> convnp.onnx.export(model, convnp.randn(1, 1, 28, 28), "lenet.onnx",
        ...                    dynamic_axes={"input": [0], "output": [0]})
    """
    from convnp.onnx import _export
    from convnp.tensor import Tensor

    onnx = _require_onnx("export")
    if not export_params:
        raise ValueError("convnp.onnx.export: export_params=False is not supported (the weights "
                         "are always written into the graph)")
    inputs = args if isinstance(args, (tuple, list)) else (args,)
    for i, t in enumerate(inputs):
        if not isinstance(t, Tensor):
            raise TypeError(f"convnp.onnx.export: example input {i} must be a convnp Tensor, got "
                            f"{type(t).__name__} (pass a Tensor or a tuple of Tensors)")
    opset = _export.check_opset(DEFAULT_OPSET if opset_version is None else int(opset_version),
                                MIN_OPSET, onnx)
    modes = [(m, m.training) for m in model.modules()] if hasattr(model, "modules") else []
    for m, _ in modes:
        m.training = False
    try:
        proto = _export.build_model(model, tuple(inputs), opset, input_names, output_names,
                                    dynamic_axes, onnx)
    finally:
        for m, flag in modes:
            m.training = flag
    onnx.checker.check_model(proto)
    if verbose:
        print(onnx.helper.printable_graph(proto.graph))
    _export.write(proto, f)
    return proto


def load(f, dtype=None):
    """Build a ``convnp.nn.Module`` that runs an ONNX model's graph with convnp ops.

    Weights (the float initializers feeding convolutions, Gemm/MatMul, normalisation scales and
    biases, PReLU slopes) become ``Parameter``s — named after the initializers, nested at the
    dots, so a PyTorch-exported model's ``state_dict`` keys survive — and BatchNormalization
    statistics become buffers; the model can be fine-tuned like any other. It is returned in
    eval mode (an ONNX file is an inference graph); ``model.train()`` switches BatchNormalization
    to batch statistics and Dropout on, as usual.

    Args:
        f: a path, a binary file object, bytes, or an ``onnx.ModelProto``.
        dtype: cast the floating-point weights (e.g. ``convnp.float64``); default as stored.

    Raises:
        UnsupportedOperatorError: listing every operator of the file convnp does not run.
        ValueError: unreadable / truncated files and opsets outside 7..the installed onnx's.

    Example:
        >>> net = convnp.onnx.load("resnet18.onnx")
        >>> net(convnp.randn(1, 3, 224, 224)).shape
        (1, 1000)
    """
    from convnp.onnx._import import OnnxModule, read_model

    onnx = _require_onnx("load")
    # an ONNX file is an inference graph: start in eval mode (train() to fine-tune)
    return OnnxModule(read_model(f, onnx), dtype=dtype).eval()
