"""Every code block and every ``convnp`` command in README.md and docs/*.md runs, so the docs
cannot drift from the code.

What runs (one test per Markdown file; a file's blocks run in order in one temporary working
directory and share one Python namespace, as when pasted into a session):

* ```python blocks: executed; a block holding ``>>>`` prompts is run as a doctest (its printed
  results must match, NORMALIZE_WHITESPACE and ELLIPSIS on).
* ```bash / ```sh / ```console / ``` blocks: every line that starts with ``convnp`` (or ``$
  convnp``) is run in-process with ``convnp.cli.main`` and must exit 0. ``a && convnp b`` and
  ``convnp a / convnp b`` run each ``convnp`` part; ``# comments`` are dropped; ``\\`` joins lines.
  Other commands (pip, python scripts) are not run. In a transcript (``$ convnp ...`` followed by
  its output) the printed output must match the documented one line by line (trailing spaces
  ignored).

Small settings, applied to every ``convnp`` command: ``train`` gets ``--epochs 1 --limit-train
256 --limit-test 128 --no-progress``, its ``--download`` is dropped and ``--data-dir`` points at
the test copy of the dataset (MNIST and Fashion-MNIST; a command on any other dataset is
reported as skipped: no offline copy); ``eval`` gets ``--limit-test 128``. ``../shared/data``
anywhere is replaced by the test data folder. ``RUN_DIR`` is the last run trained in the file
(one tiny run is trained if there is none); ``...`` arguments ("and more") are dropped; image
files named on the command line that do not exist are created as a drawn digit 7 (black on
white, 200x200 RGB). Output paths (``--out``, ``--frames``) land in the temporary directory.

Markers: an HTML comment on its own line, before a block (blank lines may separate them):

* ``<!-- docs-test: skip (needs mpirun) -->``: do not run the next block; the reason in
  parentheses is required and is reported.
* ``<!-- docs-test: replace "OLD" "NEW" -->``: run the next block with OLD replaced by NEW (to
  shrink sizes or epochs); several may precede one block.
* ``<!-- docs-test: no-compare -->``: run the next transcript's commands but do not compare their
  output (abbreviated or timing-dependent output).
* ``<!-- docs-test: skip-file (reason) -->`` anywhere: skip the whole file (docs/tutorial.md: it
  is executed as a notebook by tests/test_tutorial.py).
"""

from __future__ import annotations

import contextlib
import doctest
import io
import os
import re
import shlex
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
DOCS = [ROOT / "README.md"] + sorted((ROOT / "docs").glob("*.md"))
OFFLINE = {"mnist": "mnist", "fashion-mnist": "fashion-mnist", "fashionmnist": "fashion-mnist"}

_FENCE = re.compile(r"^```([\w+-]*)[^\n]*\n(.*?)^```[ \t]*$", re.S | re.M)
_MARKER = re.compile(r"<!--\s*docs-test:\s*(.*?)\s*-->")


class Block:
    def __init__(self, lang: str, code: str, line: int, markers: list[str]):
        self.lang, self.code, self.line, self.markers = lang, code, line, markers

    def option(self, name: str) -> list[str]:
        return [m[len(name):].strip() for m in self.markers if m.split(" ", 1)[0] == name]


def parse_blocks(text: str) -> tuple[list[Block], str | None]:
    """The fenced blocks of a Markdown text with the markers just before each, and the
    skip-file reason (None if the file runs)."""
    skip_file = None
    for m in _MARKER.finditer(text):
        if m.group(1).startswith("skip-file"):
            skip_file = m.group(1)[len("skip-file"):].strip(" ()") or "skip-file"
    blocks, pos = [], 0
    for m in _FENCE.finditer(text):
        before = text[pos:m.start()]
        # markers count only when nothing but blank lines separates them from the block
        tail = re.search(r"((?:[ \t]*<!--\s*docs-test:.*?-->[ \t]*\n|[ \t]*\n)*)\Z", before)
        markers = [mm.group(1) for mm in _MARKER.finditer(tail.group(1))] if tail else []
        for mk in markers:
            kind = mk.split(" ", 1)[0]
            if kind not in ("skip", "replace", "no-compare", "skip-file"):
                raise ValueError(f"unknown docs-test marker {mk!r} (line "
                                 f"{text.count(chr(10), 0, m.start()) + 1})")
            if kind == "skip" and not re.search(r"\(.+\)", mk):
                raise ValueError(f"docs-test: skip needs a reason in parentheses, got {mk!r}")
        blocks.append(Block(m.group(1).lower(), m.group(2), text.count("\n", 0, m.start()) + 1,
                            markers))
        pos = m.end()
    return blocks, skip_file


def _replacements(block: Block) -> list[tuple[str, str]]:
    out = []
    for arg in block.option("replace"):
        pair = re.fullmatch(r'"((?:[^"\\]|\\.)*)"\s+"((?:[^"\\]|\\.)*)"', arg)
        if not pair:
            raise ValueError(f'docs-test: replace needs "OLD" "NEW", got {arg!r}')
        out.append((pair.group(1), pair.group(2)))
    return out


def prepared_code(block: Block) -> str:
    code = block.code.replace("../shared/data", str(SHARED))
    for old, new in _replacements(block):
        if old not in code:
            raise AssertionError(f"docs-test: replace {old!r}: not in the block at line "
                                 f"{block.line}")
        code = code.replace(old, new)
    return code


def commands(code: str) -> list[tuple[list[str], list[str] | None]]:
    """``convnp`` commands of a shell block as argv lists (without 'convnp'), each with the
    transcript output that follows it (None when the block is not a transcript)."""
    lines = code.replace("\\\n", " ").splitlines()
    transcript = any(ln.startswith("$ ") for ln in lines)
    out, cur = [], None
    for ln in lines:
        if transcript and not ln.startswith("$ "):
            if cur is not None:
                cur[1].append(ln.rstrip())
            continue
        ln = ln[2:] if ln.startswith("$ ") else ln
        cur = None
        for part in re.split(r"&&|;|\s/\s(?=convnp\b)", ln):
            words = shlex.split(part, comments=True)
            if words[:1] == ["convnp"]:
                cur = (words[1:], [] if transcript else None)
                out.append(cur)
    return [(argv, None if exp is None else _trim(exp)) for argv, exp in out]


def _trim(lines: list[str]) -> list[str]:
    while lines and not lines[-1].strip():
        lines = lines[:-1]
    return lines


def _drawn_seven(path: Path) -> None:
    from PIL import Image, ImageDraw

    im = Image.new("RGB", (200, 200), "white")
    ImageDraw.Draw(im).line([(40, 30), (140, 30), (80, 160)], fill="black", width=14)
    path.parent.mkdir(parents=True, exist_ok=True)
    im.save(path)


class Runner:
    """Runs one file's blocks in ``cwd``; remembers runs and reports skips."""

    def __init__(self, cwd: Path):
        self.cwd, self.last_run, self.skipped, self.ns = cwd, None, [], {"__name__": "__docs__"}
        self.runs = 0

    def small(self, argv: list[str]) -> list[str] | None:
        """argv with the small settings, or None when it cannot run offline."""
        argv = [a.replace("../shared/data", str(SHARED)) for a in argv if a != "..."]
        cmd = argv[0] if argv else ""
        if cmd == "train" and "--resume" not in argv:
            ds = argv[argv.index("--dataset") + 1] if "--dataset" in argv else "mnist"
            if ds.lower() not in OFFLINE:
                self.skipped.append(f"convnp {' '.join(argv)} (no offline copy of {ds})")
                return None
            argv = [a for a in argv if a != "--download"]
            argv = _set(argv, "--data-dir", str(SHARED / OFFLINE[ds.lower()]))
            for opt, val in (("--epochs", "1"), ("--limit-train", "256"),
                             ("--limit-test", "128")):
                argv = _set(argv, opt, val)
            if "--no-progress" not in argv:
                argv.append("--no-progress")
            if "--out" not in argv:
                self.runs += 1  # each documented run gets its own folder
                argv += ["--out", f"runs/docs-{self.runs}-{os.getpid()}"]
            self.last_run = argv[argv.index("--out") + 1]
        elif cmd == "train":  # --resume: one more epoch at most
            argv = _set(argv, "--epochs", "2")
        elif cmd == "eval":
            argv = _set(argv, "--limit-test", "128")
        if "RUN_DIR" in argv:
            if self.last_run is None:
                self.run(["train", "--out", "runs/docs-run"])
            argv = [self.last_run if a == "RUN_DIR" else a for a in argv]
        for i, a in enumerate(argv):
            prev = argv[i - 1] if i else ""
            if prev in ("--out", "--frames"):
                parent = (self.cwd / a).parent if prev == "--out" else self.cwd / a
                parent.mkdir(parents=True, exist_ok=True)
            elif re.search(r"\.(png|jpe?g|bmp)$", a, re.I) and not (self.cwd / a).exists():
                _drawn_seven(self.cwd / a)
        return argv

    def run(self, argv: list[str], expected: list[str] | None = None) -> None:
        from convnp.cli import main

        small = self.small(argv)
        if small is None:
            return
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            rc = main(small)
        assert rc == 0, (f"`convnp {' '.join(argv)}` (run as {small}) exited {rc}:\n"
                         f"{err.getvalue()}{out.getvalue()[-2000:]}")
        if expected is not None:
            got = _trim([ln.rstrip() for ln in out.getvalue().splitlines()])
            assert got == [ln.rstrip() for ln in expected], (
                f"`convnp {' '.join(argv)}` printed something else than documented:\n"
                + "\n".join(got))

    def python(self, code: str, where: str) -> None:
        if re.search(r"^\s*>>> ", code, re.M):
            test = doctest.DocTestParser().get_doctest(code, self.ns, where, where, 0)
            runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE
                                           | doctest.ELLIPSIS)
            report = io.StringIO()
            runner.run(test, out=report.write, clear_globs=False)
            assert runner.failures == 0, report.getvalue()
        else:
            exec(compile(code, where, "exec"), self.ns)


def _set(argv: list[str], opt: str, val: str) -> list[str]:
    if opt in argv:
        i = argv.index(opt)
        return argv[:i + 1] + [val] + argv[i + 2:]
    return argv + [opt, val]


SHELL = {"", "bash", "sh", "shell", "console", "text"}


@pytest.mark.skipif(not (SHARED / "mnist").is_dir(), reason="../shared/data/mnist is absent")
@pytest.mark.parametrize("path", DOCS, ids=[str(p.relative_to(ROOT)) for p in DOCS])
def test_docs_code_runs(path, tmp_path, monkeypatch):
    blocks, skip_file = parse_blocks(path.read_text())
    if skip_file:
        pytest.skip(f"{path.name}: docs-test skip-file ({skip_file})")
    import matplotlib

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CONVNP_DATA", str(SHARED))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    matplotlib.use("Agg")
    runner = Runner(tmp_path)
    for b in blocks:
        where = f"{path.relative_to(ROOT)}:{b.line}"
        if b.option("skip"):
            runner.skipped.append(f"{where} ({b.option('skip')[0].strip(' ()')})")
            continue
        code = prepared_code(b)
        if b.lang in ("python", "py", "pycon"):
            runner.python(code, where)
        elif b.lang in SHELL:
            compare = not b.option("no-compare")
            for argv, expected in commands(code):
                runner.run(argv, expected if compare else None)
    if runner.skipped:
        print(f"{path.name}: skipped " + "; ".join(runner.skipped))


# ------------------------------------------------------------------ the extractor itself

def test_parse_markers_and_commands():
    text = ("intro\n\n<!-- docs-test: skip (needs mpirun) -->\n\n```bash\nmpirun -n 2 convnp "
            "train\n```\n\n<!-- docs-test: replace \"epochs=10\" \"epochs=1\" -->\n```python\n"
            "fit(epochs=10)\n```\n\n```\n$ convnp models\nlenet5  LeNet\n\n$ convnp datasets\n"
            "```\n<!-- docs-test: no-compare -->\n```bash\npip install -e . && convnp train "
            "--download   # go\nconvnp models / convnp datasets\nconvnp train --model x \\\n"
            "    --epochs 3\n```\n")
    blocks, skip_file = parse_blocks(text)
    assert skip_file is None and len(blocks) == 4
    assert blocks[0].option("skip") == ["(needs mpirun)"]
    assert prepared_code(blocks[1]) == "fit(epochs=1)\n"
    assert commands(blocks[2].code) == [(["models"], ["lenet5  LeNet"]), (["datasets"], [])]
    assert blocks[3].option("no-compare") == [""]
    assert commands(blocks[3].code) == [(["train", "--download"], None), (["models"], None),
                                        (["datasets"], None),
                                        (["train", "--model", "x", "--epochs", "3"], None)]
    assert parse_blocks("<!-- docs-test: skip-file (a notebook) -->\n")[1] == "a notebook"
    with pytest.raises(ValueError, match="needs a reason"):
        parse_blocks("<!-- docs-test: skip -->\n```bash\nconvnp x\n```\n")
    with pytest.raises(ValueError, match="unknown docs-test marker"):
        parse_blocks("<!-- docs-test: skipp (x) -->\n```bash\nconvnp x\n```\n")


def test_small_settings(tmp_path):
    r = Runner(tmp_path)
    argv = r.small(["train", "--data-dir", "../shared/data/mnist", "--epochs", "10",
                    "--download", "--out", "runs/a"])
    assert argv[argv.index("--epochs") + 1] == "1" and "--download" not in argv
    assert argv[argv.index("--data-dir") + 1] == str(SHARED / "mnist")
    assert r.last_run == "runs/a" and (tmp_path / "runs").is_dir()
    assert r.small(["train", "--dataset", "cifar10", "--download"]) is None
    assert "no offline copy of cifar10" in r.skipped[0]
    assert r.small(["predict", "RUN_DIR", "img/digit.png", "..."]) == ["predict", "runs/a",
                                                                      "img/digit.png"]
    assert (tmp_path / "img" / "digit.png").is_file()
