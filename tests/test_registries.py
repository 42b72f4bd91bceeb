"""Registries are data: the model registry (explicit signatures, complete exports, clear keyword
errors), the optimizer table, the train command's options built from TrainConfig's fields."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

import convnp
import convnp.models as models
from convnp.cli import build_parser, main
from convnp.models import get_model, list_models, model_keywords, model_task
from convnp.train import OPTIMIZERS, SCHEDULERS, TrainConfig, add_train_options
from convnp.train.config import build_optimizer

# small settings per registered network (the defaults are sized for real data)
SMALL = {
    "lenet5": dict(input_size=28),
    "lenet5-classic": dict(input_size=28),
    "vgg": dict(channels=(4, 8)),
    "vgg-small": dict(),
    "vgg-tiny": dict(),
    "resnet20": dict(),
    "resnet18": dict(width=4, input_size=16),
    "allconv": dict(c1=4, c2=8),
    "cnn1d": dict(channels=4),
    "cnn3d": dict(channels=2),
    "unet": dict(base_channels=4, depth=2),
    "segnet": dict(widths=(4, 8)),
    "deeplab-small": dict(width=4),
    "inception": dict(),
    "conv-autoencoder": dict(width=4, input_size=12),
}


def _input_shape(name: str, kw: dict) -> tuple[int, ...]:
    t = model_task(name)
    side = kw.get("input_size", 16)
    side += -side % max(t["multiple"], 4 if name == "unet" else 1)
    return {"image": (2, 1, side, side), "sequence": (2, 1, 24),
            "volume": (2, 1, 8, 8, 8)}[t["input"]]


def test_small_table_covers_the_registry():
    assert sorted(SMALL) == sorted(list_models())


@pytest.mark.parametrize("name", sorted(SMALL))
def test_every_model_builds_and_runs_its_task(name):
    convnp.manual_seed(0)
    kw = dict(SMALL[name], num_classes=3, in_channels=1)
    model = get_model(name, **kw).eval()
    shape = _input_shape(name, kw)
    with convnp.no_grad():
        y = model(convnp.randn(*shape))
    task = model_task(name)["task"]
    expected = {"classification": (shape[0], 3), "segmentation": (shape[0], 3, *shape[2:]),
                "reconstruction": shape}[task]
    assert tuple(y.shape) == expected
    assert np.isfinite(y.numpy()).all()


@pytest.mark.parametrize("name", sorted(SMALL))
def test_registered_networks_are_exported(name):
    model = get_model(name, **dict(SMALL[name], num_classes=3, in_channels=1))
    cls = type(model)
    assert getattr(models, cls.__name__) is cls and cls.__name__ in models.__all__
    factory = models._REGISTRY[name].build()
    func = getattr(factory, "func", factory)  # a partial's network class
    assert getattr(models, func.__name__) is func and func.__name__ in models.__all__


def test_every_name_in_all_exists():
    for name in models.__all__:
        assert hasattr(models, name), name
    assert convnp.models.UNet is convnp.models.encoder_decoder.UNet


def test_keywords_come_from_the_signature():
    assert model_keywords("vgg-tiny") == ["num_classes", "in_channels", "channels", "dropout"]
    assert "input_size" in model_keywords("resnet18")
    # a partial keeps its preset as the default and lets it be overridden
    m = get_model("vgg-tiny", num_classes=4, in_channels=1, channels=(2, 4))
    assert m.classifier[1].in_features == 4 and m.classifier[0].p == 0.2


def test_data_keywords_are_offered_to_every_network():
    # input_size describes the data: networks that do not depend on it do not take it
    m = get_model("vgg-small", num_classes=5, in_channels=2, input_size=28)
    assert m.classifier[-1].out_features == 5
    m = get_model("conv-autoencoder", num_classes=5, in_channels=1, input_size=8, width=2)
    assert tuple(m(convnp.randn(1, 1, 8, 8)).shape) == (1, 1, 8, 8)


def test_unknown_keyword_names_model_keyword_and_accepted_ones():
    with pytest.raises(TypeError, match=r"get_model\('vgg-tiny'\): unexpected keyword argument "
                                        r"'depth'; vgg-tiny accepts num_classes, in_channels, "
                                        r"channels, dropout"):
        get_model("vgg-tiny", depth=3)
    with pytest.raises(TypeError, match=r"'widht'.*resnet18 accepts num_classes, in_channels, "
                                        r"input_size, width"):
        get_model("resnet18", widht=8)
    with pytest.raises(ValueError, match="unknown model 'nope'; valid models: lenet5"):
        get_model("nope", num_classes=3)


def test_register_model_lazy_and_task(monkeypatch):
    monkeypatch.setitem(models._REGISTRY, "x", None)  # restored afterwards
    models.register_model("x", "convnp.models.classic:CNN1d", "a test entry", input="sequence")
    assert model_task("x") == dict(task="classification", input="sequence", multiple=1)
    assert isinstance(get_model("x", channels=2, input_size=9), models.CNN1d)
    with pytest.raises(TypeError, match="x accepts num_classes, in_channels, channels"):
        get_model("x", width=2)


def test_resnet18_factory_picks_the_stem_from_the_input_size():
    assert get_model("resnet18", width=2, input_size=32).conv1.kernel_size == (3, 3)
    assert get_model("resnet18", width=2).conv1.kernel_size == (7, 7)
    assert inspect.signature(models.resnet18).parameters["num_classes"].default == 1000


def test_cnn1d_cnn3d_share_one_body_with_their_own_kernels():
    k1 = [m.kernel_size for m in models.CNN1d(channels=2).modules()
          if isinstance(m, convnp.nn.Conv1d)]
    k3 = [m.kernel_size for m in models.CNN3d(channels=2).modules()
          if isinstance(m, convnp.nn.Conv3d)]
    assert k1 == [(5,), (5,), (3,)] and k3 == [(3, 3, 3)] * 3
    assert list(models.CNN1d(channels=2).state_dict()) == [
        k for k in models.CNN3d(channels=2).state_dict()]



# -- the optimizer table ---------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_optimizer_table_builds_each_optimizer(name):
    spec = OPTIMIZERS[name]
    opt = build_optimizer(TrainConfig(optimizer=name.upper(), weight_decay=0.25, momentum=0.5),
                          convnp.nn.Linear(2, 1))
    assert type(opt) is getattr(convnp.optim, spec.cls)
    group = opt.param_groups[0]
    assert group["lr"] == spec.lr == TrainConfig(optimizer=name).resolved_lr()
    for option in spec.options:
        assert group[option] == getattr(TrainConfig(weight_decay=0.25, momentum=0.5), option)
    assert build_optimizer(TrainConfig(optimizer=name, lr=0.5), convnp.nn.Linear(2, 1)
                           ).param_groups[0]["lr"] == 0.5


def test_zero_weight_decay_keeps_adamw_default_and_is_zero_elsewhere():
    def wd(name):
        return build_optimizer(TrainConfig(optimizer=name), convnp.nn.Linear(2, 1)
                               ).param_groups[0]["weight_decay"]
    assert wd("adamw") == 0.01 and wd("adam") == 0 and wd("sgd") == 0


def test_cli_choices_help_and_errors_read_the_tables():
    sub = build_parser()._subparsers._group_actions[0].choices["train"]
    actions = {a.dest: a for a in sub._actions}
    assert actions["optimizer"].choices == list(OPTIMIZERS)
    assert actions["scheduler"].choices == list(SCHEDULERS)
    for name, spec in OPTIMIZERS.items():
        assert f"{name} {spec.lr:g}" in actions["lr"].help
    with pytest.raises(ValueError, match="unknown optimizer 'rmsprop'; valid optimizers: "
                                         + ", ".join(OPTIMIZERS)):
        TrainConfig(optimizer="rmsprop").validate()


def test_cli_rejects_an_unknown_optimizer_in_one_line(capsys):
    with pytest.raises(SystemExit) as e:
        main(["train", "--optimizer", "rmsprop"])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert "invalid choice: 'rmsprop'" in err and "'sgd', 'adam', 'adamw'" in err


# -- train options from TrainConfig's fields ---------------------------------------------------
def _train_parser():
    import argparse
    p = argparse.ArgumentParser()
    add_train_options(p)
    return p


def test_every_field_but_extra_is_an_option_with_its_type():
    import argparse
    import dataclasses
    p = _train_parser()
    actions = {a.dest: a for a in p._actions if a.dest != "help"}
    fields = {f.name: f for f in dataclasses.fields(TrainConfig)}
    assert set(actions) == set(fields) - {"extra"}
    for name, a in actions.items():
        assert a.option_strings == ["--" + name.replace("_", "-")]
        assert a.default is argparse.SUPPRESS and a.help
        default = fields[name].default
        if isinstance(default, bool):
            assert a.nargs == 0 and a.const is True  # a flag
        elif isinstance(default, (int, float)) and default is not None:
            assert a.type is type(default), name
        if default not in (None, False):
            assert str(default) in a.help, name


def test_parsed_options_become_the_recipe():
    args = _train_parser().parse_args(["--batch-size", "8", "--lr", "0.1", "--augment",
                                       "--limit-test", "5", "--eval-batch-size", "7"])
    cfg = TrainConfig(**vars(args))
    assert (cfg.batch_size, cfg.lr, cfg.augment, cfg.limit_test, cfg.eval_batch_size) == \
        (8, 0.1, True, 5, 7)
    assert cfg.epochs == TrainConfig().epochs  # left out: the dataclass default
    assert vars(_train_parser().parse_args([])) == {}  # nothing given, nothing set


@pytest.mark.parametrize("argv,message", [
    (["--batch-size", "0"], "--batch-size must be a whole number >= 1, got 0"),
    (["--lr", "-1"], "--lr must be a number > 0, got -1.0"),
    (["--label-smoothing", "2"], "--label-smoothing must be a number in [0, 1], got 2.0"),
    (["--limit-train", "0"], "--limit-train must be a whole number >= 1 (leave it out to use "
                             "every training image), got 0"),
    (["--prefetch", "-1"], "--prefetch must be a whole number >= 0, got -1"),
    (["--model", "nope"], "unknown model 'nope'; valid models: lenet5"),
], ids=["batch-size", "lr", "label-smoothing", "limit-train", "prefetch", "model"])
def test_field_checks_give_one_line_errors(argv, message, capsys, tmp_path):
    assert main(["train", "--out", str(tmp_path / "r"), *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("convnp train: error: ") and message in err and "\n" not in err
    assert not (tmp_path / "r").exists()


def test_bad_option_type_is_argparse_error(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--epochs", "two"])
    assert "argument --epochs: invalid int value: 'two'" in capsys.readouterr().err


# -- torchvision builders: one helper, torchvision's names and signatures --------------------------
def _vision_builders():
    from convnp.vision import models as vm
    return {name: vm.get_model_builder(name) for name in vm.list_models()}


def test_vision_builders_keep_torchvision_names_and_signatures():
    from convnp.vision import models as vm
    builders = _vision_builders()
    assert {"resnet18", "resnet152", "resnext50_32x4d", "wide_resnet101_2", "vgg11", "vgg19_bn",
            "alexnet", "mobilenet_v2"} <= set(builders)
    for name, fn in builders.items():
        assert fn.__name__ == name and getattr(vm, name) is fn
        params = inspect.signature(fn).parameters
        assert list(params) == ["weights", "progress", "kwargs"], name
        assert params["weights"].kind is inspect.Parameter.KEYWORD_ONLY
        assert params["weights"].default is None and params["progress"].default is True
        assert fn.__doc__ and fn.__module__.startswith("convnp.vision.models.")


@pytest.mark.parametrize("name,enum,default", [
    ("resnet18", "ResNet18_Weights", "IMAGENET1K_V1"),
    ("resnet50", "ResNet50_Weights", "IMAGENET1K_V2"),
    ("vgg16_bn", "VGG16_BN_Weights", "IMAGENET1K_V1"),
    ("alexnet", "AlexNet_Weights", "IMAGENET1K_V1"),
    ("mobilenet_v2", "MobileNet_V2_Weights", "IMAGENET1K_V2"),
])
def test_weights_enums_from_the_table(name, enum, default):
    from convnp.vision import models as vm
    cls = getattr(vm, enum)
    assert vm.get_model_weights(name) is cls and cls.__name__ == enum
    assert cls.DEFAULT is cls[default] and repr(cls.DEFAULT) == f"{enum}.{default}"
    assert cls.DEFAULT.meta["num_classes"] == 1000 and cls.DEFAULT.url.endswith(".pth")
    with pytest.raises(ValueError, match="num_classes"):  # before any download
        getattr(vm, name)(weights=cls.DEFAULT, num_classes=10)


def test_builders_pass_their_table_row_to_the_network(monkeypatch):
    from convnp.vision.models import resnet, vgg
    seen = {}
    monkeypatch.setattr(resnet, "ResNet", lambda block, layers, **kw: seen.update(
        block=block, layers=layers, **kw) or convnp.nn.Identity())
    resnet.wide_resnet50_2(num_classes=7)
    assert seen == dict(block=resnet.Bottleneck, layers=[3, 4, 6, 3], num_classes=7,
                        width_per_group=128)
    seen.clear()
    resnet.resnext101_32x8d()
    assert (seen["groups"], seen["width_per_group"], seen["layers"]) == (32, 8, [3, 4, 23, 3])
    with pytest.raises(ValueError, match="'groups' expected value 32 but got 4"):
        resnet.resnext50_32x4d(groups=4)
    with pytest.raises(ValueError, match="wide_resnet50_2: convnp knows no pretrained weights"):
        resnet.wide_resnet50_2(weights="DEFAULT")
    monkeypatch.setattr(vgg, "VGG", lambda features, **kw: seen.update(
        n=len(features), **kw) or convnp.nn.Identity())
    seen.clear()
    vgg.vgg11_bn(num_classes=3)
    assert seen == dict(n=len(vgg.make_layers(vgg.cfgs["A"], True)), num_classes=3)


def test_legacy_pretrained_false_still_warns_and_builds_nothing_pretrained(monkeypatch):
    from convnp.vision.models import mobilenetv2
    monkeypatch.setattr(mobilenetv2, "MobileNetV2", lambda **kw: kw)
    with pytest.warns(UserWarning, match="'pretrained' is deprecated"):
        assert mobilenetv2.mobilenet_v2(pretrained=False, num_classes=4) == {"num_classes": 4}


def test_help_and_choices_follow_a_table_extended_at_run_time(monkeypatch):
    from convnp.train.config import OptimizerSpec
    monkeypatch.setitem(OPTIMIZERS, "rmsprop", OptimizerSpec("RMSprop", 0.01, ("momentum",)))
    actions = {a.dest: a for a in _train_parser()._actions}
    assert "rmsprop" in actions["optimizer"].choices and "rmsprop 0.01" in actions["lr"].help
    assert "sgd/rmsprop" in actions["momentum"].help
    opt = build_optimizer(TrainConfig(optimizer="rmsprop", momentum=0.3), convnp.nn.Linear(2, 1))
    assert type(opt) is convnp.optim.RMSprop and opt.param_groups[0]["momentum"] == 0.3
    TrainConfig(optimizer="rmsprop").validate()
