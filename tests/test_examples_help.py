"""Every example answers ``--help`` with its usage (and does not run), and ``convnp datasets``
prints plain text (no reST link markup)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from convnp.cli import main

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted(p.name for p in (ROOT / "examples").glob("*.py") if not p.name.startswith("_"))


@pytest.mark.parametrize("script", EXAMPLES)
def test_example_help(script):
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1", NUMBA_NUM_THREADS="1")
    r = subprocess.run([sys.executable, script, "--help"], cwd=ROOT / "examples", env=env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(f"usage: {script}") and "--help" in r.stdout


def test_datasets_listing_is_plain_text(capsys):
    assert main(["datasets"]) == 0
    out = capsys.readouterr().out
    assert "`" not in out and ">`_" not in out and ":class:" not in out
    assert "MNIST (http://yann.lecun.com/exdb/mnist/): 28x28 grey handwritten digits" in out
    assert all(len(line) < 300 for line in out.splitlines())
