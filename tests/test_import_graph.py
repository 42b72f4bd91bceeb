"""Imports among convnp's modules point one way: the module graph has no cycle.

The graph is read from the source with ``ast`` (nothing is imported): every ``import`` and
``from ... import`` of a convnp module, at module level *and* inside functions (an import moved
into a function body to dodge a cycle is still a dependency, and still a cycle). An edge
``A -> B`` says that ``A`` uses code that ``B`` defines.

Packages: a package's ``__init__`` re-exports its submodules' names (``convnp`` exports
``Tensor`` from ``convnp.tensor``, ``convnp.autograd`` exports ``Function``). Those module-level
imports of its own submodules are the package's table of contents, not a dependency, and are
not edges. A name taken from a package is looked up in that table: ``from convnp.autograd
import Function`` is an edge to ``convnp.autograd.function``, ``import convnp`` followed by
``convnp.cat(...)`` an edge to ``convnp.ops.movement`` (attribute uses of an imported package
are followed). A name the table does not list (defined in the ``__init__`` itself, or added to
its namespace by code) is an edge to the package, whose own edges are its other imports:
those inside its functions and those of modules outside it. So ``tensor <-> ops.elementwise``
is a cycle however it is spelled, and a package importing its own submodules is not.

A cycle is a strongly connected component of more than one module; the failure lists each one
with the import lines that close it.

Not modelled: Python runs a package's ``__init__`` before any submodule of it loads. That order
is fixed by ``convnp/__init__.py``, which imports the layers bottom-up (``autograd``, whose
``Function`` builds Tensors, before ``tensor``, which needs only ``autograd``'s graph, engine
and grad mode); the rest of the suite runs in it.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent / "convnp"


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    """Every module of the package: dotted name -> file."""
    return {_module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


class _Package:
    """The modules, their syntax trees and the packages' re-export tables."""

    def __init__(self) -> None:
        self.files = modules()
        self.trees = {m: ast.parse(p.read_text(), str(p)) for m, p in self.files.items()}
        self._exports: dict[str, dict[str, tuple]] = {}

    def is_package(self, name: str) -> bool:
        return self.files[name].name == "__init__.py"

    def base(self, node: ast.ImportFrom, name: str) -> str | None:
        """The module a ``from X import ...`` in module ``name`` reads from (relative resolved)."""
        if not node.level:
            return node.module if node.module in self.files else None
        pkg = name.split(".") if self.is_package(name) else name.split(".")[:-1]
        parts = pkg[:len(pkg) - node.level + 1] + ([node.module] if node.module else [])
        base = ".".join(parts)
        return base if base in self.files else None

    def exports(self, pkg: str) -> dict[str, tuple]:
        """A package's re-export table: name -> (module it comes from, name there)."""
        if pkg not in self._exports:
            self._exports[pkg] = table = {}
            for node in self.trees[pkg].body:
                if isinstance(node, ast.ImportFrom):
                    base = self.base(node, pkg)
                    if base is not None and _inside(base, pkg):
                        for a in node.names:
                            table[a.asname or a.name] = (base, a.name)
                elif isinstance(node, ast.Import):
                    for a in node.names:
                        if a.asname and _inside(a.name, pkg) and a.name in self.files:
                            table[a.asname] = (a.name, None)
        return self._exports[pkg]

    def resolve(self, module: str, attr: str | None, seen=()) -> str:
        """The module that defines ``module.attr`` (``attr`` None: ``module`` itself)."""
        if attr is None:
            return module
        sub = f"{module}.{attr}"
        if sub in self.files:
            return sub
        if self.is_package(module) and (module, attr) not in seen:
            entry = self.exports(module).get(attr)
            if entry is not None:
                return self.resolve(*entry, seen=(*seen, (module, attr)))
        return module

    def follow(self, tree: ast.AST, bound: str, pkg: str) -> set[str]:
        """The modules reached by attribute uses ``bound.a.b...`` of an imported package."""
        found = set()
        for node in ast.walk(tree):
            if not isinstance(node, ast.Attribute):
                continue
            chain = []
            cur = node
            while isinstance(cur, ast.Attribute):
                chain.append(cur.attr)
                cur = cur.value
            if not (isinstance(cur, ast.Name) and cur.id == bound):
                continue
            target = pkg
            for attr in reversed(chain):
                if not self.is_package(target):
                    break
                nxt = self.resolve(target, attr)
                if nxt == target:
                    break
                target = nxt
            found.add(target)
        return found


def _inside(module: str, pkg: str) -> bool:
    return module == pkg or module.startswith(pkg + ".")


def _imports(tree: ast.Module):
    """(statement, at module level) for every import statement of a module."""
    top = set(map(id, tree.body))
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node, id(node) in top


def _bindings(node, name: str, pk: _Package):
    """(name bound in the importing module, module it denotes) for one import statement."""
    if isinstance(node, ast.Import):
        for a in node.names:
            if a.name in pk.files:
                if a.asname:
                    yield a.asname, a.name
                else:  # `import convnp.nn.functional` binds `convnp`; uses spell the full path
                    yield a.name.split(".")[0], a.name.split(".")[0]
        return
    base = pk.base(node, name)
    if base is not None:
        for a in node.names:
            yield a.asname or a.name, pk.resolve(base, a.name)


def graph() -> dict[str, dict[str, int]]:
    """module -> {module it uses: line of the first import}, by the rules above."""
    pk = _Package()
    edges: dict[str, dict[str, int]] = {}
    for name, tree in pk.trees.items():
        out = edges.setdefault(name, {})
        for node, top in _imports(tree):
            for bound, target in _bindings(node, name, pk):
                if top and pk.is_package(name) and _inside(target, name):
                    continue  # the package's own re-export table
                targets = {target}
                if pk.is_package(target):
                    targets = pk.follow(tree, bound, target)
                    if isinstance(node, ast.Import):
                        # `import a.b.c` without `as` binds `a`: the import itself names a.b.c
                        targets |= {a.name for a in node.names
                                    if "." in a.name and not a.asname and a.name in pk.files}
                    targets = targets or {target}
                for t in targets:
                    if t != name and not (pk.is_package(name) and top and _inside(t, name)):
                        out.setdefault(t, node.lineno)
    return edges


def cycles(edges: dict[str, dict[str, int]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        # iterative DFS: the package's import chains are deeper than Python's default recursion
        work = [(v, iter(edges.get(v, ())))]
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        while work:
            node, it = work[-1]
            for w in it:
                if w not in index:
                    index[w] = low[w] = len(index)
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(edges.get(w, ()))))
                    break
                if w in on_stack:
                    low[node] = min(low[node], index[w])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    comp = []
                    while True:
                        w = stack.pop()
                        on_stack.discard(w)
                        comp.append(w)
                        if w == node:
                            break
                    if len(comp) > 1:
                        found.append(sorted(comp))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def _describe(comp: list[str], edges: dict[str, dict[str, int]]) -> str:
    inside = set(comp)
    files = modules()
    lines = [f"cycle among {len(comp)} modules:"]
    for a in comp:
        for b, line in sorted(edges[a].items()):
            if b in inside:
                where = files[a].relative_to(ROOT.parent)
                lines.append(f"  {a} -> {b}  ({where}:{line})")
    return "\n".join(lines)


def test_no_import_cycles():
    edges = graph()
    found = cycles(edges)
    assert not found, "\n".join(_describe(c, edges) for c in found)


def test_graph_follows_functions_re_exports_and_attributes(tmp_path, monkeypatch):
    """The walker finds function-level and relative imports, looks names up in a package's
    re-export table (and attribute uses of an imported package), leaves the table itself out,
    and the cycle check catches a two-module cycle closed that way (it cannot pass vacuously)."""
    pkg = tmp_path / "convnp"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("from convnp.a import A\nfrom convnp import sub\n")
    (pkg / "a.py").write_text("A = 1\n\n\ndef f():\n    from .sub import g\n")
    (pkg / "sub" / "__init__.py").write_text("from .b import g\n")
    (pkg / "sub" / "b.py").write_text("import convnp\n\n\ndef g():\n    return convnp.A\n")
    (pkg / "c.py").write_text("import convnp.sub\n")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", pkg)
    edges = graph()
    assert edges["convnp"] == {} and edges["convnp.sub"] == {}  # re-export tables
    assert edges["convnp.a"] == {"convnp.sub.b": 5}  # inside a function, through sub's table
    assert edges["convnp.sub.b"] == {"convnp.a": 1}  # `convnp.A`, through the root's table
    assert edges["convnp.c"] == {"convnp.sub": 1}
    assert cycles(edges) == [["convnp.a", "convnp.sub.b"]]


def test_real_graph_has_the_one_way_edges():
    edges = graph()
    assert "convnp.tensor" in edges["convnp.ops.elementwise"]
    assert "convnp.tensor" in edges["convnp.autograd.function"]
    assert not any(m.startswith("convnp.ops") for m in edges["convnp.tensor"])
    assert "convnp.tensor" not in edges["convnp.autograd.engine"]
