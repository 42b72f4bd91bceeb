"""What a user sees of a tensor: Size, repr (torch's layout, 'torch' read as 'convnp'),
__format__, the device/layout predicates, memory formats, and the clear error on torch
features convnp leaves out (convnp.Unsupported)."""

import re

import numpy as np
import pytest

import convnp

torch = pytest.importorskip("torch")

# (id, numpy data or a callable(lib) -> tensor); compared as repr(torch) with torch -> convnp
REPR_CASES = {
    "f32-small": lambda m: m.tensor([[0.5, -1.25], [3.0, 4.0]]),
    "f32-ints": lambda m: m.tensor([1.0, -2.0, 30.0]),
    "f32-sci-big": lambda m: m.tensor([1e9, 2.5, -3.0]),
    "f32-sci-small": lambda m: m.tensor([1e-5, 0.5]),
    "f32-ratio": lambda m: m.tensor([0.01, 20.0]),
    "f32-nan-inf": lambda m: m.tensor([float("nan"), float("inf"), -1.5, 0.0]),
    "f32-int-nan": lambda m: m.tensor([float("nan"), 2.0, -float("inf")]),
    "f32-zeros": lambda m: m.zeros(2, 3),
    "f32-0d": lambda m: m.tensor(3.25),
    "f32-0d-int-valued": lambda m: m.tensor(2.0),
    "f64": lambda m: m.tensor([1.5, 2.25], dtype=m.float64),
    "f16": lambda m: m.tensor([1.5, 2.25], dtype=m.float16),
    "i64": lambda m: m.tensor([[1, -20], [300, 4]]),
    "i32": lambda m: m.tensor([1, 2], dtype=m.int32),
    "u8": lambda m: m.tensor([1, 255], dtype=m.uint8),
    "bool": lambda m: m.tensor([True, False]),
    "empty": lambda m: m.zeros(0),
    "empty-2d": lambda m: m.zeros(0, 3),
    "empty-i64": lambda m: m.zeros(2, 0, dtype=m.int64),
    "3d": lambda m: m.arange(24.0).reshape(2, 3, 4) / 7,
    "wrap": lambda m: m.arange(40.0) / 3,
    "summarised": lambda m: m.arange(2000.0).reshape(40, 50) / 9,
    "summarised-1d": lambda m: m.arange(1500),
    "requires_grad": lambda m: m.tensor([1.5, 2.0], requires_grad=True),
    "requires_grad-f64": lambda m: m.ones(2, dtype=m.float64, requires_grad=True),
    "grad_fn": lambda m: m.tensor([1.5, 2.0], requires_grad=True) * 2,
    "grad_fn-long-row": lambda m: (m.arange(12.0, requires_grad=True) * 1e5 + 0.5),
    "negative-zero": lambda m: m.tensor([-0.0, 1.0]),
}


def _torchless(s: str) -> str:
    s = s.replace("torch.", "convnp.")
    return re.sub(r"grad_fn=<(\w+?)\d*>", r"grad_fn=<\1>", s)  # 'MulBackward0' -> 'MulBackward'


@pytest.mark.parametrize("case", sorted(REPR_CASES))
def test_repr_matches_torchs(case):
    make = REPR_CASES[case]
    assert _torchless(repr(make(convnp))) == _torchless(repr(make(torch)))


def test_print_options_match_torchs():
    try:
        for opts in (dict(precision=2), dict(sci_mode=True), dict(threshold=5, edgeitems=1),
                     dict(linewidth=30), dict(profile="full")):
            convnp.set_printoptions(**opts)
            torch.set_printoptions(**opts)
            for case in ("f32-small", "wrap", "summarised-1d"):
                make = REPR_CASES[case]
                assert _torchless(repr(make(convnp))) == _torchless(repr(make(torch))), opts
    finally:
        convnp.set_printoptions(profile="default")
        torch.set_printoptions(profile="default")
    with convnp.printoptions(precision=1):
        assert repr(convnp.tensor([1.25])) == "tensor([1.2])"
    assert repr(convnp.tensor([1.25])) == "tensor([1.2500])"


def test_size_is_a_tuple_that_prints_like_torchs():
    x = convnp.zeros(2, 3, 4)
    s = x.size()
    assert isinstance(s, tuple) and isinstance(x.shape, convnp.Size)
    assert repr(s) == "convnp.Size([2, 3, 4])" == repr(torch.zeros(2, 3, 4).size()).replace(
        "torch", "convnp")
    assert s == (2, 3, 4) and s[1:] == convnp.Size([3, 4]) and isinstance(s[1:], convnp.Size)
    assert s.numel() == 24 and x.size(-1) == 4 and isinstance(s + (5,), convnp.Size)
    assert convnp.zeros(s).shape == s


def test_format_and_predicates():
    loss = convnp.tensor(0.123456, requires_grad=True) * 1
    assert f"{loss:.3f}" == "0.123" == f"{torch.tensor(0.123456):.3f}"
    assert f"{convnp.tensor(7)}" == "7"
    with pytest.raises(TypeError):
        f"{convnp.ones(2):.3f}"
    x = convnp.ones(2, 3)
    assert not (x.is_cuda or x.is_mps or x.is_xpu or x.is_sparse or x.is_quantized or x.is_meta)
    assert x.is_cpu and not x.is_complex() and x.layout is convnp.strided
    assert x.stride() == (3, 1) and x.get_device() == -1 and x.itemsize == 4 and x.nbytes == 24
    assert x.ndimension() == 2 and x.ndim == 2


def test_memory_formats_are_accepted_and_convnp_stays_nchw():
    x = convnp.randn(2, 3, 4, 5)
    assert repr(convnp.channels_last) == "convnp.channels_last"
    y = x.contiguous(memory_format=convnp.channels_last)
    assert y.shape == x.shape and np.array_equal(y.numpy(), x.numpy())
    assert x.is_contiguous() and not x.is_contiguous(memory_format=convnp.channels_last)
    t = x.permute(0, 2, 3, 1).contiguous().permute(0, 3, 1, 2)
    assert t.is_contiguous(memory_format=convnp.channels_last) and not t.is_contiguous()
    assert t.contiguous().is_contiguous()
    assert x.to(memory_format=convnp.channels_last).shape == x.shape
    assert convnp.empty(2, 3, memory_format=convnp.contiguous_format).shape == (2, 3)
    assert convnp.zeros_like(x, memory_format=convnp.preserve_format).shape == x.shape
    with pytest.raises(TypeError, match="contiguous: memory_format must be one of"):
        x.contiguous(memory_format="NHWC")


def test_unsupported_features_raise_a_clear_not_implemented_error():
    x = convnp.ones(2)
    with pytest.raises(NotImplementedError, match="Tensor.cuda: convnp does not support a CUDA "
                                                  "/ MPS / XPU device .*\\.cpu\\(\\)"):
        x.cuda()
    with pytest.raises(NotImplementedError, match="convnp.sparse_coo_tensor: convnp does not "
                                                  "support sparse tensors"):
        _ = convnp.sparse_coo_tensor
    with pytest.raises(NotImplementedError, match="Tensor.to_sparse: .*sparse tensors"):
        x.to_sparse()
    with pytest.raises(NotImplementedError, match="convnp.view_as_complex: .*complex numbers"):
        convnp.view_as_complex(x)
    with pytest.raises(NotImplementedError, match="convnp.quantize_per_tensor: .*quantized"):
        _ = convnp.quantize_per_tensor
    with pytest.raises(NotImplementedError, match="convnp.svd: .*numpy.linalg"):
        _ = convnp.svd
    with pytest.raises(NotImplementedError, match="Tensor.storage: .*tensor.numpy\\(\\)"):
        x.storage()
    # feature tests in user code keep working: the error is also an AttributeError
    assert not hasattr(x, "cuda") and getattr(convnp, "float8_e4m3fn", None) is None
    assert issubclass(convnp.Unsupported, NotImplementedError)
    with pytest.raises(AttributeError, match="'Tensor' object has no attribute 'nonsense'"):
        _ = x.nonsense
    with pytest.raises(AttributeError, match="module 'convnp' has no attribute 'nonsense'"):
        _ = convnp.nonsense


def test_small_torch_utilities():
    assert convnp.promote_types(convnp.int64, convnp.float32) == np.float32
    assert convnp.result_type(convnp.tensor([1]), 1.5) == np.float32
    assert convnp.can_cast(convnp.float64, convnp.float32)
    assert not convnp.can_cast(convnp.float32, convnp.int64)
    assert convnp.finfo(convnp.float32).eps == torch.finfo(torch.float32).eps
    assert convnp.iinfo(convnp.int32).max == torch.iinfo(torch.int32).max
    assert convnp.typename(convnp.ones(1)) == "convnp.FloatTensor"
    assert convnp.pi == torch.pi and convnp.e == torch.e and convnp.inf == torch.inf
    assert convnp.get_default_device() == "cpu"
    assert convnp.is_nonzero(convnp.tensor([2])) and not convnp.is_complex(convnp.ones(1))


def test_torch_level_functional_aliases_match_torch():
    from tests.oracle import compare, rand

    cases = [
        (lambda m, x, w: m.conv2d(x, w, None, 1, 1), (rand(1, 2, 5, 5), rand(3, 2, 3, 3))),
        (lambda m, x, w: m.conv_transpose1d(x, w, None, 2), (rand(1, 2, 5), rand(2, 3, 3))),
        (lambda m, x: [m.max_pool2d(x, 2), m.avg_pool1d(x[0], 2), m.relu(x), m.selu(x),
                       m.hardshrink(x, 0.3), m.threshold(x, 0.1, -1.0)], (rand(1, 2, 4, 4),)),
        (lambda m, x: m.pixel_shuffle(x, 2), (rand(1, 8, 2, 3),)),
        (lambda m, x, y: [m.cosine_similarity(x, y), m.pairwise_distance(x, y), m.pdist(x)],
         (rand(3, 4), rand(3, 4, seed=1))),
        (lambda m, x, y: [m.rsub(x, y, alpha=2), m.resolve_neg(x)], (rand(3), rand(3, seed=1))),
    ]
    for fn, inputs in cases:
        compare(lambda *t, f=fn: f(convnp, *t), lambda *t, f=fn: f(torch, *t), *inputs,
                dtype=np.float64)


def test_tensor_extras_match_torch():
    for lib in (convnp, torch):
        x = lib.zeros(3, 4)
        x.fill_diagonal_(2.0)
        assert x.tolist() == [[2, 0, 0, 0], [0, 2, 0, 0], [0, 0, 2, 0]]
        assert x.byte().dtype == (lib.uint8) and x.short().dtype == lib.int16
        assert x.char().dtype == lib.int8 and x.to_dense() is x
        b = lib.ones(2, 3, 4).bmm(lib.ones(2, 4, 5))
        assert tuple(b.shape) == (2, 3, 5) and b.sum().item() == 120
    with pytest.raises(RuntimeError, match="fill_diagonal_: all dimensions of input must"):
        convnp.zeros(2, 3, 4).fill_diagonal_(1)


def test_global_switches_are_stored():
    try:
        convnp.use_deterministic_algorithms(True, warn_only=True)
        assert convnp.are_deterministic_algorithms_enabled()
        assert convnp.is_deterministic_algorithms_warn_only_enabled()
        assert convnp.get_deterministic_debug_mode() == 1
        convnp.set_deterministic_debug_mode("error")
        assert convnp.get_deterministic_debug_mode() == 2
        convnp.set_float32_matmul_precision("high")
        assert convnp.get_float32_matmul_precision() == "high"
        with pytest.raises(RuntimeError, match="set_float32_matmul_precision: expected"):
            convnp.set_float32_matmul_precision("low")
    finally:
        convnp.use_deterministic_algorithms(False)
        convnp.set_float32_matmul_precision("highest")
    assert not convnp.is_inference_mode_enabled()
    with convnp.inference_mode():
        assert convnp.is_inference_mode_enabled()
    assert convnp.set_flush_denormal(True) is False
