"""Arrows point down: no import circle among the library's modules, and the library never imports its front ends."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FRONT_ENDS = ("ui", "eval", "benchmarks", "scripts", "tests", "rag_cli")


def modules(package: Path) -> dict[str, Path]:
    """Dotted module name → file, for every .py file under a package folder."""
    found = {}
    for path in sorted(package.rglob("*.py")):
        parts = list(path.relative_to(package.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def imports(name: str, path: Path) -> set[str]:
    """Every name a file imports, at the top or inside a function, relative imports resolved
    (`from rag import store` gives `rag.store`, `from rag.errors import RagError` gives `rag.errors.RagError`)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                module = ".".join(parts[: len(parts) - node.level + 1] + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            out.update(f"{module}.{alias.name}" for alias in node.names)
    return out


def graph(package: Path) -> dict[str, set[str]]:
    """Module → the package's modules it imports: each name resolves to the longest module it starts with."""
    mods = modules(package)
    edges: dict[str, set[str]] = {}
    for name, path in mods.items():
        edges[name] = set()
        for imported in imports(name, path):
            while imported and imported not in mods:
                imported = imported.rpartition(".")[0]
            if imported and imported != name:
                edges[name].add(imported)
    return edges


def circles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Each import circle as a path that returns to its start (Tarjan's strongly connected components)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def test_no_import_circle_among_the_library_modules() -> None:
    edges = graph(ROOT / "rag")
    assert "rag.providers" in edges and "rag.answering.decide" in edges  # the walk reached the subpackages
    assert circles(edges) == [], "modules under rag/ import each other in a circle; move the shared part down"


def front_end_imports(package: Path) -> list[str]:
    """'module imports name' for every import of a front end (ui, eval, the CLI…) by a module of the package."""
    return sorted(f"{name} imports {imported}" for name, path in modules(package).items()
                  for imported in imports(name, path) if imported.split(".")[0] in FRONT_ENDS)


def test_the_library_imports_none_of_its_front_ends() -> None:
    upward = front_end_imports(ROOT / "rag")
    assert upward == [], "rag/ must not import its front ends: " + "; ".join(upward)


def test_the_checks_see_a_circle_and_an_upward_import(tmp_path: Path) -> None:
    pkg = tmp_path / "toy"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("def f():\n    from toy.sub import b\n")  # a lazy import counts too
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "b.py").write_text("from ..c import x\n")
    (pkg / "c.py").write_text("import toy.a\nfrom eval.run import cmd_eval\n")
    (pkg / "d.py").write_text("from toy import c\n")
    edges = graph(pkg)
    assert circles(edges) == [["toy.a", "toy.c", "toy.sub.b"]]
    assert edges["toy.d"] == {"toy.c"}
    assert front_end_imports(pkg) == ["toy.c imports eval.run.cmd_eval"]
