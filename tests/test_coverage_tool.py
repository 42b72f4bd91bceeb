"""``python -m convnp.tools.coverage``: it runs, its numbers meet issue 14's targets (so a
regression fails here), its exclusions raise Unsupported, and --write-docs replaces only the
text between its markers."""

import sys

import pytest

import convnp

pytest.importorskip("torch")
from convnp.tools import coverage  # noqa: E402

MINE = ("torch", "torch.Tensor", "torch.nn.functional", "torch.nn.init")


@pytest.fixture(scope="module")
def reports():
    return coverage.measure(MINE)


def test_targets_are_met(reports):
    assert coverage.shortfalls(reports) == []
    for fam in ("math", "reduction", "comparison", "indexing", "shape", "creation"):
        assert reports["torch"].count(fam)[0] >= 20  # the families are populated, not empty


def test_the_hit_list_is_covered(reports):
    for name in ("meshgrid", "sinh", "cosh", "normal", "log1p", "isinf", "isnan", "argmax",
                 "channels_last", "contiguous_format", "Size", "rand"):
        assert name in reports["torch"].has, name
    for name in ("addcmul_", "addcdiv_", "sqrt_", "is_xpu", "is_cuda", "is_mps", "ndim",
                 "argmax", "size"):
        assert name in reports["torch.Tensor"].has, name
    assert "one_hot" in reports["torch.nn.functional"].has


def test_every_excluded_name_raises_unsupported(reports):
    checked = 0
    for label, obj in (("torch", convnp), ("torch.Tensor", convnp.ones(1))):
        for name in reports[label].excluded:
            with pytest.raises(convnp.Unsupported, match=f"{name}: convnp does not support"):
                getattr(obj, name)
            checked += 1
    assert checked > 50


def test_internal_names_are_not_counted(reports):
    rep = reports["torch"]
    assert "ScriptModule" in rep.internal and "FloatTensor" in rep.internal
    assert not set(rep.internal) & (set(rep.has) | set(rep.lacks))


def test_write_docs_replaces_only_the_marked_block(reports, tmp_path):
    doc = tmp_path / "porting.md"
    doc.write_text(f"intro\n\n{coverage.MARK_START}\nold table\n{coverage.MARK_END}\n\noutro\n")
    coverage.write_docs(reports, doc)
    text = doc.read_text()
    assert text.startswith("intro\n\n") and text.endswith("\n\noutro\n")
    assert "old table" not in text and "| `torch.nn.functional` | all |" in text
    assert "- **sparse tensors**:" in text


def test_cli_check_exit_status(capsys):
    assert coverage.main(["--check", "torch.nn.init"]) == 0
    assert "torch.nn.init: has 26, lacks 0" in capsys.readouterr().out
    strict = {("torch.nn.init", None): 101.0}  # an unreachable target: --check must fail
    assert coverage.shortfalls(coverage.measure(["torch.nn.init"]), strict) == [
        "torch.nn.init: 100.0% < target 101%"]


def test_without_torch_the_tool_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # what an import of a missing torch sees
    with pytest.raises(SystemExit, match="needs PyTorch .* pip install -e \\\"\\.\\[test\\]\\\""):
        coverage.measure(["torch.nn.init"])
