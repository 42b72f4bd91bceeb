"""The small pieces of torch's top-level API that scripts use around the model: ``device`` and
``cuda`` probing, ``inference_mode``, ``sort`` / ``topk`` / ``argsort`` / ``softmax`` as
functions. Hand-checked first, then against torch."""

import numpy as np
import pytest

import convnp
import convnp.nn as nn


def test_the_usual_device_line_runs_and_everything_stays_on_the_cpu():
    dev = convnp.device("cuda" if convnp.cuda.is_available() else "cpu")
    assert dev == convnp.device("cpu") == "cpu" and str(dev) == "cpu"
    assert repr(convnp.device("cuda", 1)) == "device(type='cuda', index=1)"
    assert convnp.device("cuda:1") == convnp.device("cuda", 1) != "cpu"
    assert len({convnp.device("cpu"), convnp.device("cpu")}) == 1
    model = nn.Linear(2, 2).to(dev)
    x = convnp.ones(1, 2).to(dev, non_blocking=True)
    assert model(x).device == dev and not x.is_cuda
    assert convnp.cuda.device_count() == 0
    convnp.cuda.manual_seed_all(0)
    with pytest.raises(RuntimeError, match="Tensor.to: convnp computes on the CPU only; got "
                                           "device 'cuda:0'"):
        x.to(device="cuda:0")
    with pytest.raises(RuntimeError, match="Linear.to: convnp computes on the CPU only"):
        model.to(convnp.device("cuda"))
    with pytest.raises(ValueError, match="device: unknown device type 'gpu'"):
        convnp.device("gpu")
    with pytest.raises(ValueError, match="index in 'cuda:x' must be a non-negative integer"):
        convnp.device("cuda:x")
    with pytest.raises(TypeError, match="device: expected a string"):
        convnp.device(3)


def test_creation_functions_take_a_device():
    assert convnp.zeros(2, device="cpu").shape == (2,)
    assert convnp.randn(2, 3, device=convnp.device("cpu")).shape == (2, 3)
    assert convnp.arange(3, device="cpu").tolist() == [0, 1, 2]
    with pytest.raises(RuntimeError, match="ones: convnp computes on the CPU only; got device "
                                           "'cuda'"):
        convnp.ones(2, device="cuda")
    with pytest.raises(ValueError, match="tensor: device: unknown device type 'gpu'"):
        convnp.tensor([1.0], device="gpu")


def test_inference_mode_is_no_grad_and_decorates():
    w = convnp.ones(2, requires_grad=True)
    with convnp.inference_mode():
        assert not (w * 2).requires_grad
    with convnp.inference_mode(False):
        assert (w * 2).requires_grad

    @convnp.inference_mode()
    def f(t):
        return t * 2

    assert not f(w).requires_grad and (w * 2).requires_grad


def test_sort_golden_ties_and_nan():
    x = convnp.tensor([[2.0, 1.0, 2.0, float("nan"), 0.0]])
    v, i = convnp.sort(x, dim=1)
    np.testing.assert_array_equal(i.data, [[4, 1, 0, 2, 3]])  # ties keep order, NaN last
    v, i = x.sort(descending=True)
    np.testing.assert_array_equal(i.data, [[3, 0, 2, 1, 4]])  # NaN first when descending
    assert np.isnan(v.data[0, 0])
    np.testing.assert_array_equal(convnp.argsort(x[:, :3]).data, [[1, 0, 2]])


torch = pytest.importorskip("torch")
from tests.oracle import compare  # noqa: E402


@pytest.mark.parametrize("dim,descending", [(-1, False), (0, True), (1, True)])
def test_sort_matches_torch_with_gradients(dim, descending):
    x = np.random.default_rng(0).permutation(24).reshape(2, 3, 4).astype(np.float64)
    compare(lambda t: convnp.sort(t, dim=dim, descending=descending),
            lambda t: torch.sort(t, dim=dim, descending=descending), x, dtype=np.float64)


def test_top_level_topk_softmax_log_softmax_match_torch():
    x = np.random.default_rng(1).standard_normal((3, 5))
    compare(lambda t: convnp.topk(t, 2, dim=1), lambda t: torch.topk(t, 2, dim=1), x,
            dtype=np.float64)
    compare(lambda t: convnp.softmax(t, 1), lambda t: torch.softmax(t, 1), x, dtype=np.float64)
    compare(lambda t: convnp.log_softmax(t, 0), lambda t: torch.log_softmax(t, 0), x,
            dtype=np.float64)
