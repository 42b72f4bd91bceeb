"""docs/tutorial.ipynb is generated from docs/tutorial.md (docs/make_tutorial_notebook.py) and
runs end to end in a Jupyter kernel (nbclient), on the MNIST files of ../shared/data."""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"


def _maker():
    spec = importlib.util.spec_from_file_location("make_tutorial_notebook",
                                                  ROOT / "docs" / "make_tutorial_notebook.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_notebook_is_generated_from_the_markdown():
    mk = _maker()
    committed = (ROOT / "docs" / "tutorial.ipynb").read_text()
    assert committed == mk.notebook_json(), \
        "docs/tutorial.ipynb is stale: run python docs/make_tutorial_notebook.py"
    nb = json.loads(committed)
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert len(code) >= 12 and all(c["outputs"] == [] and c["execution_count"] is None
                                   for c in code)  # outputs stripped in git
    md = (ROOT / "docs" / "tutorial.md").read_text()
    assert md.count("```python") == len(code)


def test_cells_from_markdown_splits_text_and_code():
    cells = _maker().cells_from_markdown("# T\n\ntext\n\n```python\nx = 1\nprint(x)\n```\n\n"
                                         "after\n```bash\nconvnp models\n```\n")
    assert [c["cell_type"] for c in cells] == ["markdown", "code", "markdown"]
    assert "".join(cells[1]["source"]) == "x = 1\nprint(x)"
    assert "convnp models" in "".join(cells[2]["source"])  # only python blocks become code


@pytest.mark.skipif(not (SHARED / "mnist").is_dir(), reason="../shared/data/mnist is absent")
def test_notebook_executes(tmp_path, monkeypatch):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    nb = nbformat.reads((ROOT / "docs" / "tutorial.ipynb").read_text(), as_version=4)
    # the kernel inherits the environment: this checkout's convnp, the shared MNIST files
    monkeypatch.setenv("CONVNP_DATA", str(SHARED))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH",
                                                                               "")]))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    client = nbclient.NotebookClient(nb, timeout=300, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.execution_count for c in code)
    images = sum(1 for c in code for o in c.outputs if "image/png" in o.get("data", {}))
    assert images >= 12  # a picture at every step
    text = "".join(o.get("text", "") for c in code for o in c.outputs)
    assert "66." in text and "EquirectConv2d: max error 0.00e+00" in text
    assert "prepared [('7" in text  # the drawn 7 is read as a 7 once prepared
