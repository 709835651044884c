"""The import graph of `rag/` flows one way: a package imports only from layers below it (or
from itself), never from a layer above, and packages that share a layer stay apart unless
listed. Every import counts, including those inside functions and under TYPE_CHECKING."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from support.fakes import ROOT

# lowest first; a package may import from any earlier layer
LAYERS = [
    {"config", "errors", "records", "messages"},
    {"text"},
    {"ingest", "models"},
    {"index"},
    {"retrieve"},
    {"answer"},
    {"departments"},
    {"pipeline"},
    {"evaluation"},
    {"app", "bench"},
    {"cli"},
    {"__main__"},
]
SAME_LAYER_ALLOWED = {("config", "errors")}  # (importer, imported)
LAYER = {name: i for i, layer in enumerate(LAYERS) for name in layer}
RAG = ROOT / "rag"


def _unit(path: Path) -> str:
    """The top-level unit of `rag` a file belongs to: its subpackage or its module."""
    rel = path.relative_to(RAG)
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


def _imports(path: Path) -> list[tuple[str, int]]:
    """(imported unit of rag, line) for every import of rag in the file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level:
            raise AssertionError(f"{path}:{node.lineno}: relative import (use absolute rag.… imports)")
        names = []
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module == "rag":
                names = [a.name for a in node.names]
            elif node.module.startswith("rag."):
                names = [node.module.split(".")[1]]
        elif isinstance(node, ast.Import):
            names = [a.name.split(".")[1] for a in node.names if a.name.startswith("rag.")]
        out += [(n, node.lineno) for n in names]
    return out


FILES = sorted(p for p in RAG.rglob("*.py") if "__pycache__" not in p.parts and p.name != "__init__.py" or
               (p.name == "__init__.py" and p.parent != RAG))


def test_every_unit_has_a_layer():
    units = {_unit(p) for p in FILES}
    assert units <= set(LAYER), f"give these a layer in LAYERS: {sorted(units - set(LAYER))}"


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.relative_to(RAG).as_posix())
def test_imports_only_go_down(path):
    me = _unit(path)
    for other, line in _imports(path):
        if other == me or (me, other) in SAME_LAYER_ALLOWED:
            continue
        assert other in LAYER, f"{path.relative_to(ROOT)}:{line} imports unknown rag.{other}"
        assert LAYER[other] < LAYER[me], (
            f"{path.relative_to(ROOT)}:{line}: {me} (layer {LAYER[me]}) imports {other} (layer {LAYER[other]}); "
            "imports must go to lower layers only")


def test_the_check_sees_a_violation(tmp_path):
    """The walker finds imports inside functions and under TYPE_CHECKING (a check that could
    not fail would prove nothing)."""
    bad = tmp_path / "bad.py"
    bad.write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from rag.pipeline import Pipeline\n"
                   "def f():\n    import rag.app.ui\n    from rag import cli\n", encoding="utf-8")
    assert [n for n, _ in _imports(bad)] == ["pipeline", "app", "cli"]


def _module(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts)


def _module_imports(path: Path) -> set[str]:
    """Modules of rag this file imports at run time (TYPE_CHECKING blocks are not run)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip |= {id(n) for n in ast.walk(node)}
    out = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("rag"):
            for a in node.names:  # `from rag.x import y`: y may be a module itself
                out.add(f"{node.module}.{a.name}" if (RAG.parent / f"{node.module}.{a.name}".replace(".", "/")).with_suffix(".py").exists() else node.module)
        elif isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.startswith("rag")}
    return out


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """A cycle of the directed graph as a path (first node repeated at the end), or None."""
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(m: str) -> list[str] | None:
        state[m] = 1
        path.append(m)
        for n in sorted(graph.get(m, ())):
            if n not in graph:
                continue
            if state.get(n) == 1:
                return path[path.index(n):] + [n]
            if n not in state and (found := visit(n)):
                return found
        path.pop()
        state[m] = 2
        return None

    for m in sorted(graph):
        if m not in state and (found := visit(m)):
            return found
    return None


def test_no_import_cycles():
    graph = {_module(p): _module_imports(p) for p in RAG.rglob("*.py") if "__pycache__" not in p.parts}
    assert find_cycle(graph) is None, "import cycle: " + " → ".join(find_cycle(graph))


def test_the_cycle_finder_finds_one():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None
