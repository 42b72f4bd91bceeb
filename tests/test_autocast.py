"""CPU autocast against torch's: which ops run in bfloat16 / float16, which in float32, the
values, and the gradients flowing back through the casts."""

from __future__ import annotations

import numpy as np
import pytest

import convnp
import convnp.nn as nn

torch = pytest.importorskip("torch")


def _nets():
    # average pooling: a max over 16-bit values has ties that the two libraries may break apart
    convnp.manual_seed(0)
    c = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.AvgPool2d(2), nn.Flatten(),
                      nn.Linear(4 * 13 * 13, 10))
    t = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.ReLU(), torch.nn.AvgPool2d(2),
                            torch.nn.Flatten(), torch.nn.Linear(4 * 13 * 13, 10))
    t.load_state_dict({k: torch.tensor(v.numpy()) for k, v in c.state_dict().items()})
    return c, t


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
def test_autocast_network_matches_torch(dtype):
    c, t = _nets()
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 1, 28, 28)).astype(np.float32)
    y = np.array([1, 2, 3])
    cx, tx = convnp.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    with convnp.autocast("cpu", dtype=getattr(convnp, dtype)):
        cout = c(cx)
        closs = nn.functional.cross_entropy(cout, convnp.tensor(y))
    with torch.autocast("cpu", dtype=getattr(torch, dtype)):
        tout = t(tx)
        tloss = torch.nn.functional.cross_entropy(tout, torch.tensor(y))
    assert str(cout.dtype) == dtype and str(tout.dtype) == f"torch.{dtype}"
    assert str(closs.dtype) == "float32" and tloss.dtype == torch.float32
    # both round to the 16-bit dtype at the same places; sums may differ in the last bit
    tol = 3e-2 if dtype == "bfloat16" else 3e-3
    np.testing.assert_allclose(np.asarray(cout.numpy(), np.float32),
                               tout.detach().float().numpy(), rtol=tol, atol=tol)
    closs.backward()
    tloss.backward()
    for (k, p), tp in zip(c.named_parameters(), t.parameters()):
        assert str(p.grad.dtype) == "float32", k
        np.testing.assert_allclose(p.grad.numpy(), tp.grad.numpy(), rtol=5 * tol, atol=5 * tol,
                                   err_msg=k)
    assert str(cx.grad.dtype) == "float32"


def test_autocast_keeps_float64_and_other_ops():
    a = convnp.randn(3, 3, dtype=convnp.float64)
    b = convnp.randn(3, 3)
    with convnp.autocast("cpu"):
        assert str((a @ a).dtype) == "float64"            # float64 is not eligible, as torch
        assert str((b @ b).dtype) == "bfloat16"
        assert str((b + b).dtype) == "float32"            # not on the lower-precision list
        assert str(convnp.relu(b).dtype) == "float32"
    assert str((b @ b).dtype) == "float32"                # outside the region


def test_disabled_and_non_cpu_regions_do_nothing():
    b = convnp.randn(2, 2)
    with convnp.autocast("cpu", enabled=False):
        assert str((b @ b).dtype) == "float32"
    with pytest.warns(UserWarning, match="cuda"):
        with convnp.autocast("cuda"):
            assert str((b @ b).dtype) == "float32"
