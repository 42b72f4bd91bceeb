"""Write docs/tutorial.ipynb from docs/tutorial.md: each ```python block becomes a code cell, the
text between them a markdown cell; no outputs (the notebook in git is the unexecuted tour).

    python docs/make_tutorial_notebook.py           # rewrite docs/tutorial.ipynb
    python docs/make_tutorial_notebook.py --check   # exit 1 if the notebook is out of date
    python docs/make_tutorial_notebook.py --images  # also execute it (nbclient) and save each
                                                    # code cell's figures as docs/img/tutorial_*.png

The Markdown shows those saved figures (``![...](img/tutorial_...)`` lines); the notebook leaves
those lines out, since it draws the figures itself.

tests/test_tutorial.py checks that the committed notebook is what this script writes and
executes it, so the markdown and the notebook cannot drift apart.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
_BLOCK = re.compile(r"^```python\n(.*?)^```\n?", re.S | re.M)
_SAVED = re.compile(r"^!\[[^\]]*\]\(img/tutorial_[^)]*\)\n?", re.M)


def cells_from_markdown(text: str) -> list[dict]:
    """Markdown and code cells, in order (nbformat 4 dictionaries without outputs)."""
    cells, pos = [], 0

    def md(chunk):
        chunk = _SAVED.sub("", chunk).strip("\n")
        if chunk.strip():
            cells.append({"cell_type": "markdown", "metadata": {},
                          "source": chunk.splitlines(keepends=True)})

    for m in _BLOCK.finditer(text):
        md(text[pos:m.start()])
        cells.append({"cell_type": "code", "execution_count": None, "metadata": {},
                      "outputs": [], "source": m.group(1).rstrip("\n").splitlines(keepends=True)})
        pos = m.end()
    md(text[pos:])
    return cells


def notebook_json(md_path: Path = HERE / "tutorial.md") -> str:
    nb = {"cells": cells_from_markdown(md_path.read_text()),
          "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python",
                                      "name": "python3"},
                       "language_info": {"name": "python"}},
          "nbformat": 4, "nbformat_minor": 5}
    for i, cell in enumerate(nb["cells"]):  # stable ids: diffs stay small
        cell["id"] = f"cell-{i:02d}"
    return json.dumps(nb, indent=1, ensure_ascii=False) + "\n"


def save_figures(nb_text: str, img_dir: Path = HERE / "img") -> list[Path]:
    """Execute the notebook and write code cell i's figures to ``tutorial_<i>[_<j>].png``."""
    import base64
    import os

    import nbclient
    import nbformat

    nb = nbformat.reads(nb_text, as_version=4)
    nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": os.getcwd()}}).execute()
    written = []
    code = [c for c in nb.cells if c.cell_type == "code"]
    for i, cell in enumerate(code):
        pngs = [o["data"]["image/png"] for o in cell.outputs if "image/png" in o.get("data", {})]
        for j, png in enumerate(pngs):
            path = img_dir / f"tutorial_{i:02d}{'' if len(pngs) == 1 else f'_{j}'}.png"
            path.write_bytes(base64.b64decode(png))
            written.append(path)
    return written


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--check", action="store_true", help="only check that the notebook is current")
    p.add_argument("--images", action="store_true",
                   help="also execute it and save its figures in docs/img/tutorial_*.png")
    a = p.parse_args(argv)
    out = HERE / "tutorial.ipynb"
    text = notebook_json()
    if a.check:
        if not out.is_file() or out.read_text() != text:
            print(f"{out} is out of date: run python docs/make_tutorial_notebook.py",
                  file=sys.stderr)
            return 1
        return 0
    out.write_text(text)
    print(f"wrote {out}")
    if a.images:
        for path in save_figures(text):
            print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
