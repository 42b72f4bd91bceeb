"""Inference fusion (convnp/nn/_fusion.py): conv + batch norm [+ activation] in a Sequential run
as one folded convolution under no_grad / inference_mode in eval mode. Checked against the
unfused path (fusion off) and torch, for the cache's invalidation, and for the cases that must
not fuse."""

import numpy as np
import pytest

import convnp
import convnp.nn as nn
from convnp.autograd import function as _function
from convnp.nn import _fusion
from convnp.ops import normalization as N

torch = pytest.importorskip("torch")

TOL = {np.float32: dict(rtol=1e-4, atol=1e-5), np.float64: dict(rtol=1e-10, atol=1e-10)}


def _randomise_bn(model, seed=0):
    rng = np.random.default_rng(seed)
    for m in model.modules():
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)):
            c = m.num_features
            m.running_mean.array[...] = rng.uniform(-0.5, 0.5, c)
            m.running_var.array[...] = rng.uniform(0.3, 2.0, c)
            if m.weight is not None:
                m.weight.array[...] = rng.uniform(-2, 2, c)
                m.bias.array[...] = rng.uniform(-1, 1, c)
    return model


def _both(model, x):
    """(fused, unfused) outputs of an eval-mode forward under inference_mode."""
    with convnp.inference_mode():
        fused = model(x).array.copy()
        prev = _fusion.set_enabled(False)
        try:
            plain = model(x).array.copy()
        finally:
            _fusion.set_enabled(prev)
    return fused, plain


class _CountBN:
    """Counts eval-mode batch-norm calls (a fused pair makes none)."""

    def __enter__(self):
        self.n = 0
        self._orig = N.BatchNormEval.forward

        def counted(ctx, *a, **k):
            self.n += 1
            return self._orig(ctx, *a, **k)

        N.BatchNormEval.forward = staticmethod(counted)
        return self

    def __exit__(self, *exc):
        N.BatchNormEval.forward = staticmethod(self._orig)


def _net(kind, act, bias, affine, dtype):
    acts = {"none": [], "relu": [nn.ReLU()], "relu6": [nn.ReLU6()],
            "hardtanh": [nn.Hardtanh(-0.3, 0.4)], "leaky": [nn.LeakyReLU(0.2)]}[act]
    if kind == "conv1d":
        layers = [nn.Conv1d(3, 6, 3, padding=1, bias=bias), nn.BatchNorm1d(6, affine=affine)]
        shape = (2, 3, 11)
    elif kind == "conv2d":
        layers = [nn.Conv2d(3, 6, 3, padding=1, bias=bias), nn.BatchNorm2d(6, affine=affine)]
        shape = (2, 3, 7, 6)
    elif kind == "conv2d-groups-stride":
        layers = [nn.Conv2d(4, 6, 3, stride=2, groups=2, bias=bias),
                  nn.BatchNorm2d(6, affine=affine)]
        shape = (2, 4, 9, 8)
    elif kind == "depthwise-reflect":
        layers = [nn.Conv2d(4, 4, 3, padding=1, groups=4, bias=bias, padding_mode="reflect"),
                  nn.BatchNorm2d(4, affine=affine)]
        shape = (2, 4, 6, 6)
    elif kind == "conv3d":
        layers = [nn.Conv3d(2, 4, 3, padding=1, bias=bias), nn.BatchNorm3d(4, affine=affine)]
        shape = (2, 2, 4, 5, 3)
    elif kind == "convT2d":
        layers = [nn.ConvTranspose2d(4, 6, 4, stride=2, padding=1, groups=2, bias=bias),
                  nn.BatchNorm2d(6, affine=affine)]
        shape = (2, 4, 5, 4)
    else:
        raise ValueError(kind)
    model = nn.Sequential(*layers, *acts, nn.Identity())  # a layer after the fused run
    model = _randomise_bn(model).to(dtype)
    x = convnp.tensor(np.random.default_rng(1).standard_normal(shape).astype(dtype))
    return model.eval(), x


KINDS = ["conv1d", "conv2d", "conv2d-groups-stride", "depthwise-reflect", "conv3d", "convT2d"]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("act", ["none", "relu", "relu6", "hardtanh", "leaky"])
@pytest.mark.parametrize("kind", KINDS)
def test_fused_equals_unfused(kind, act, dtype):
    model, x = _net(kind, act, bias=kind != "conv2d", affine=kind != "conv3d", dtype=dtype)
    with _CountBN() as count:
        fused, plain = _both(model, x)
    assert count.n == 1  # the fused call made no batch-norm call, the unfused one did
    np.testing.assert_allclose(fused, plain, **TOL[dtype])
    assert fused.dtype == dtype


def test_matches_torch():
    torch.manual_seed(0)
    tmodel = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.BatchNorm2d(8),
                                 torch.nn.ReLU6(), torch.nn.Conv2d(8, 4, 3, bias=False),
                                 torch.nn.BatchNorm2d(4), torch.nn.ReLU()).double()
    with torch.no_grad():
        for m in (tmodel[1], tmodel[4]):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.3, 2.0)
            m.weight.uniform_(-2, 2)
            m.bias.uniform_(-1, 1)
    cmodel = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU6(),
                           nn.Conv2d(8, 4, 3, bias=False), nn.BatchNorm2d(4), nn.ReLU()).double()
    cmodel.load_state_dict({k: v.numpy() for k, v in tmodel.state_dict().items()})
    tmodel.eval()
    cmodel.eval()
    x = np.random.default_rng(0).standard_normal((3, 3, 9, 7))
    with torch.no_grad():
        want = tmodel(torch.from_numpy(x)).numpy()
    with convnp.no_grad():
        got = cmodel(convnp.tensor(x)).array
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-10)
    assert len([k for k in _fusion._cache.keys() if k in (cmodel[1], cmodel[4])]) == 2


def _changes():
    """Ways a parameter or buffer can change between two inference calls."""
    def optimizer_step(model):
        opt = convnp.optim.SGD(model.parameters(), lr=0.1)
        model.train()
        model(convnp.randn(2, 3, 7, 6)).sum().backward()
        opt.step()
        model.eval()

    def load_state(model):
        sd = {k: np.asarray(v.array * 1.5) for k, v in model.state_dict().items()}
        model.load_state_dict(sd)

    def inplace_weight(model):
        with convnp.no_grad():
            model[0].weight.mul_(-2)

    def inplace_bn_weight(model):
        with convnp.no_grad():
            model[1].weight.add_(1)

    def reset_running_stats(model):
        model[1].reset_running_stats()  # writes the arrays directly

    def data_alias(model):
        model[0].weight.data.normal_()  # hidden from version counters; the sample sees it

    def replace_param(model):
        model[0].weight = nn.Parameter(convnp.randn(*model[0].weight.shape))

    def eps(model):
        model[1].eps = 0.5

    return [optimizer_step, load_state, inplace_weight, inplace_bn_weight, reset_running_stats,
            data_alias, replace_param, eps]


@pytest.mark.parametrize("change", _changes(), ids=lambda f: f.__name__)
def test_cache_follows_changes(change):
    model, x = _net("conv2d", "relu", bias=True, affine=True, dtype=np.float32)
    before, _ = _both(model, x)
    change(model)
    fused, plain = _both(model, x)
    np.testing.assert_allclose(fused, plain, **TOL[np.float32])
    assert not np.allclose(fused, before)  # the change mattered


def test_cache_reused_when_nothing_changes():
    model, x = _net("conv2d", "relu", bias=True, affine=True, dtype=np.float32)
    with convnp.no_grad():
        model(x)
        first = _fusion._cache[model[1]]
        model(x)
        assert _fusion._cache[model[1]] is first


def _not_fused_cases():
    def training(model):
        model.train()
        return convnp.no_grad()

    def grad_enabled(model):
        import contextlib
        return contextlib.nullcontext()

    def hook(model):
        model[1].register_forward_hook(lambda m, a, o: None)
        return convnp.no_grad()

    def no_running_stats(model):
        model[1].running_mean = None
        model[1].running_var = None
        return convnp.no_grad()

    def tracing(model):
        import contextlib

        @contextlib.contextmanager
        def ctx():
            prev = _function._tracer
            _function._tracer = lambda *a: None
            with convnp.no_grad():
                try:
                    yield
                finally:
                    _function._tracer = prev
        return ctx()

    def subclass(model):
        class MyBN(nn.BatchNorm2d):
            def forward(self, x):
                return super().forward(x)
        bn = MyBN(6)
        bn.load_state_dict(model[1].state_dict())
        model[1] = bn.eval()
        return convnp.no_grad()

    return [training, grad_enabled, hook, no_running_stats, tracing, subclass]


@pytest.mark.parametrize("case", _not_fused_cases(), ids=lambda f: f.__name__)
def test_not_fused(case):
    model, x = _net("conv2d", "relu", bias=True, affine=True, dtype=np.float32)
    ctx = case(model)
    with _CountBN() as count, ctx:
        model(x)
    train = model[1].training or model[1].running_mean is None
    assert count.n == (0 if train else 1)  # the batch norm ran as a layer of its own
    assert model[1] not in _fusion._cache


def test_unbatched_input_errors_as_unfused():
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4)).eval()
    with convnp.no_grad(), pytest.raises(ValueError, match="BatchNorm2d"):
        model(convnp.randn(3, 8, 8))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("build", ["basic", "bottleneck", "resnet20", "cna-relu", "cna-silu",
                                   "cna-groupnorm"])
def test_blocks_fuse_their_conv_norm_runs(build, dtype):
    """ResNet's blocks and stem call their layers in their own forward: conv_norm_act folds those
    runs in inference (fewer batch-norm calls) with the unfused numbers; training is unchanged."""
    from convnp.models import resnet20
    from convnp.nn.modules.blocks import BasicBlock, Bottleneck, ConvNormAct

    convnp.manual_seed(0)
    ds = nn.Sequential(nn.Conv2d(8, 16, 1, stride=2, bias=False), nn.BatchNorm2d(16))
    model = {"basic": lambda: BasicBlock(8, 16, 2, ds),
             "bottleneck": lambda: Bottleneck(8, 4, 2, ds),
             "resnet20": lambda: resnet20(),
             "cna-relu": lambda: ConvNormAct(8, 6, 3),
             "cna-silu": lambda: ConvNormAct(8, 6, 3, activation="silu"),
             "cna-groupnorm": lambda: ConvNormAct(8, 6, 3, norm="group")}[build]()
    model = _randomise_bn(model).to(dtype).eval()
    x = convnp.randn(2, 3 if build == "resnet20" else 8, 12, 12, dtype=dtype)
    calls = []
    real = N.batch_norm
    try:
        N.batch_norm = lambda *a, **k: calls.append(1) or real(*a, **k)
        fused, plain = _both(model, x)
    finally:
        N.batch_norm = real
    np.testing.assert_allclose(fused, plain, **TOL[dtype])
    n_bn = sum(isinstance(m, nn.BatchNorm2d) for m in model.modules())
    assert len(calls) == n_bn  # the fused pass calls none, the unfused one every one
    if not n_bn:
        return
    # a hook on a batch norm turns its run back into module calls
    bn = next(m for m in model.modules() if isinstance(m, nn.BatchNorm2d))
    seen = []
    handle = bn.register_forward_hook(lambda *a: seen.append(1))
    with convnp.inference_mode():
        model(x)
    handle.remove()
    assert seen == [1]
    # with gradients on the blocks run their layers as written: gradients flow
    model.train()
    model(x.requires_grad_()).sum().backward()
    assert x.grad is not None and np.isfinite(x.grad.array).all()
