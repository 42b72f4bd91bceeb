"""convnp.models: output shapes, parameter counts and forward parity against torch twins."""

from __future__ import annotations

import numpy as np
import pytest

import convnp
from convnp.models import (
    AllConvNet,
    CNN1d,
    CNN3d,
    LeNet5,
    ResNet18,
    VGGNet,
    get_model,
    list_models,
    resnet20,
)


def n_params(model) -> int:
    return sum(int(np.prod(p.shape)) for p in model.parameters())


SHAPES = [
    ("lenet5-32", lambda: LeNet5(), (2, 1, 32, 32), (2, 10)),
    ("lenet5-28", lambda: LeNet5(input_size=28), (3, 1, 28, 28), (3, 10)),
    ("lenet5-classic-rgb", lambda: LeNet5(7, in_channels=3, activation="tanh", pooling="avg"),
     (1, 3, 32, 32), (1, 7)),
    ("vgg", lambda: VGGNet(10, 3, channels=(8, 16)), (2, 3, 16, 12), (2, 10)),
    ("resnet20", lambda: resnet20(), (2, 3, 32, 32), (2, 10)),
    ("resnet18-small", lambda: ResNet18(10, small_input=True, width=8), (1, 3, 32, 32), (1, 10)),
    ("resnet18", lambda: ResNet18(5, width=8), (1, 3, 64, 48), (1, 5)),
    ("allconv", lambda: AllConvNet(10, 3, c1=8, c2=16), (2, 3, 32, 32), (2, 10)),
    ("cnn1d", lambda: CNN1d(4, in_channels=2, channels=8), (3, 2, 40), (3, 4)),
    ("cnn3d", lambda: CNN3d(3, channels=4), (2, 1, 8, 12, 8), (2, 3)),
]


@pytest.mark.parametrize("build,inp,out", [s[1:] for s in SHAPES], ids=[s[0] for s in SHAPES])
def test_output_shapes(build, inp, out):
    convnp.manual_seed(0)
    model = build()
    model.eval()
    with convnp.no_grad():
        y = model(convnp.randn(*inp))
    assert tuple(y.shape) == out
    assert np.isfinite(y.numpy()).all()


def test_lenet5_first_layer_is_6x28x28_as_in_the_slides():
    model = LeNet5()
    assert tuple(model.features[0](convnp.randn(1, 1, 32, 32)).shape) == (1, 6, 28, 28)
    model = LeNet5(input_size=28)
    assert tuple(model.features[0](convnp.randn(1, 1, 28, 28)).shape) == (1, 6, 28, 28)
    assert n_params(model) == 61706


def test_registry():
    names = list_models()
    assert {"lenet5", "vgg", "resnet20", "resnet18", "allconv", "cnn1d", "cnn3d"} <= set(names)
    m = get_model("lenet5", num_classes=10, in_channels=1, input_size=28)
    assert isinstance(m, LeNet5)
    m = get_model("resnet18", num_classes=10, in_channels=3, input_size=32)
    assert isinstance(m.maxpool, convnp.nn.Module) and m.conv1.kernel_size in (3, (3, 3))
    with pytest.raises(ValueError, match="unknown model 'nope'; valid models: lenet5"):
        get_model("nope")


def test_bad_arguments():
    with pytest.raises(ValueError, match="LeNet5: activation must be"):
        LeNet5(activation="gelu")
    with pytest.raises(ValueError, match="depth must be 6n"):
        convnp.models.ResNetCIFAR(21)


# --- torch twins --------------------------------------------------------------------------------
torch = pytest.importorskip("torch")
tnn = torch.nn


def torch_lenet5(input_size=32):
    class Net(tnn.Module):
        def __init__(self):
            super().__init__()
            self.features = tnn.Sequential(
                tnn.Conv2d(1, 6, 5, padding=(32 - input_size) // 2), tnn.ReLU(), tnn.MaxPool2d(2),
                tnn.Conv2d(6, 16, 5), tnn.ReLU(), tnn.MaxPool2d(2), tnn.Conv2d(16, 120, 5),
                tnn.ReLU())
            self.classifier = tnn.Sequential(tnn.Flatten(), tnn.Linear(120, 84), tnn.ReLU(),
                                             tnn.Linear(84, 10))

        def forward(self, x):
            return self.classifier(self.features(x))
    return Net()


class TBasicBlock(tnn.Module):
    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = tnn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = tnn.BatchNorm2d(planes)
        self.relu = tnn.ReLU()
        self.conv2 = tnn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = tnn.BatchNorm2d(planes)
        self.downsample = downsample

    def forward(self, x):
        idt = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        return self.relu(self.bn2(self.conv2(out)) + idt)


def _tlayer(inp, planes, blocks, stride):
    ds = None
    if stride != 1 or inp != planes:
        ds = tnn.Sequential(tnn.Conv2d(inp, planes, 1, stride, bias=False),
                            tnn.BatchNorm2d(planes))
    return tnn.Sequential(TBasicBlock(inp, planes, stride, ds),
                          *[TBasicBlock(planes, planes) for _ in range(blocks - 1)])


class TResNet20(tnn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = tnn.Conv2d(3, 16, 3, padding=1, bias=False)
        self.bn1 = tnn.BatchNorm2d(16)
        self.relu = tnn.ReLU()
        self.layer1, self.layer2, self.layer3 = (_tlayer(16, 16, 3, 1), _tlayer(16, 32, 3, 2),
                                                 _tlayer(32, 64, 3, 2))
        self.fc = tnn.Linear(64, 10)

    def forward(self, x):
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(x.mean((2, 3)))


class TResNet18(tnn.Module):
    def __init__(self, num_classes=1000):
        super().__init__()
        self.conv1 = tnn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = tnn.BatchNorm2d(64)
        self.relu = tnn.ReLU()
        self.maxpool = tnn.MaxPool2d(3, 2, 1)
        self.layer1, self.layer2 = _tlayer(64, 64, 2, 1), _tlayer(64, 128, 2, 2)
        self.layer3, self.layer4 = _tlayer(128, 256, 2, 2), _tlayer(256, 512, 2, 2)
        self.fc = tnn.Linear(512, num_classes)


def _copy(tmodel, model):
    model.load_state_dict({k: v.detach().numpy().copy() for k, v in tmodel.state_dict().items()})


def test_state_dict_keys_and_param_counts_match_torch():
    pairs = [(torch_lenet5(), LeNet5()), (TResNet20(), resnet20()), (TResNet18(), ResNet18())]
    for tm, m in pairs:
        assert list(tm.state_dict().keys()) == list(m.state_dict().keys())
        assert sum(p.numel() for p in tm.parameters()) == n_params(m)
    assert n_params(ResNet18()) == 11689512


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_lenet5_forward_and_backward_parity(dtype):
    torch.manual_seed(0)
    tm = torch_lenet5(28)
    m = LeNet5(input_size=28)
    if dtype == "float64":
        tm, m = tm.double(), m.double()
    _copy(tm, m)
    x = np.random.default_rng(0).standard_normal((4, 1, 28, 28)).astype(dtype)
    ty = tm(torch.from_numpy(x))
    y = m(convnp.from_numpy(x))
    tol = dict(rtol=1e-4, atol=1e-5) if dtype == "float32" else dict(rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(y.numpy(), ty.detach().numpy(), **tol)
    g = np.random.default_rng(1).standard_normal(y.shape).astype(dtype)
    ty.backward(torch.from_numpy(g))
    y.backward(convnp.from_numpy(g))
    for (name, p), tp in zip(m.named_parameters(), tm.parameters()):
        np.testing.assert_allclose(p.grad.numpy(), tp.grad.numpy(), err_msg=name,
                                   **(dict(rtol=1e-3, atol=1e-4) if dtype == "float32" else tol))


@pytest.mark.parametrize("train_mode", [False, True], ids=["eval", "train"])
def test_resnet20_forward_parity(train_mode):
    torch.manual_seed(0)
    tm = TResNet20()
    for mod in tm.modules():  # non-trivial running statistics
        if isinstance(mod, tnn.BatchNorm2d):
            mod.running_mean.uniform_(-0.2, 0.2)
            mod.running_var.uniform_(0.5, 1.5)
    m = resnet20()
    _copy(tm, m)
    tm.train(train_mode)
    m.train(train_mode)
    x = np.random.default_rng(0).standard_normal((2, 3, 32, 32)).astype(np.float32)
    ty = tm(torch.from_numpy(x)).detach().numpy()
    y = m(convnp.from_numpy(x)).numpy()
    np.testing.assert_allclose(y, ty, rtol=1e-3, atol=1e-4)
    if train_mode:  # running statistics updated the same way
        np.testing.assert_allclose(m.bn1.running_mean.numpy(), tm.bn1.running_mean.numpy(),
                                   rtol=1e-4, atol=1e-6)
