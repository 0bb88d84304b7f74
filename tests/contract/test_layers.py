"""The rule of the tree (docs/architecture.md), checked on the source with ``ast``: which layer may import which,
no import cycle at all (module-level and function-level imports; type-only imports under ``TYPE_CHECKING`` do not
count), and every deferred import of our own code says why (import cost)."""

from __future__ import annotations

import ast
import functools
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "pytest_vbs"
CONTRACTS = {f"pytest_vbs.{name}" for name in ("errors", "journal", "hookspecs", "faults", "patterns", "schemas")}
PACKAGES = ("service", "api", "wsgi", "live")
#: What each layer may import (besides itself).
ALLOWED = {
    "contract": {"contract"},
    "service": {"contract"},
    "api": {"contract", "service"},
    "wsgi": {"contract", "service", "api"},
    "live": {"contract", "service", "api", "wsgi"},  # the recording proxy is transport, beside wsgi/
    "face": {"contract", "service", "api", "wsgi", "live", "face"},
}


def module_name(path: Path) -> str:
    parts = ["pytest_vbs", *path.relative_to(PACKAGE).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in PACKAGE.rglob("*.py")}


def layer(module: str) -> str:
    if module in CONTRACTS:
        return "contract"
    parts = module.split(".")
    if len(parts) > 1 and parts[1] in PACKAGES:
        return parts[1]
    return "face"  # the package itself (lazy names only) and every top-level module a user imports


def _type_checking(node: ast.If) -> bool:
    return isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"


def _imports(tree: ast.AST, *, top: bool = True) -> Iterator[tuple[ast.Import | ast.ImportFrom, bool]]:
    """Every import that runs (not under ``if TYPE_CHECKING``), and whether it is at module level."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and _type_checking(node):
            yield from (pair for child in node.orelse for pair in _imports(ast.Module([child], []), top=top))
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node, top
        nested = isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
        yield from _imports(node, top=top and not nested)


def targets(node: ast.Import | ast.ImportFrom) -> set[str]:
    """The modules of ours an import statement loads (a ``from package import submodule`` counts the submodule)."""
    if isinstance(node, ast.Import):
        return {alias.name for alias in node.names if alias.name in MODULES}
    if node.module is None or not node.module.startswith("pytest_vbs"):
        return set()
    found = {f"{node.module}.{alias.name}" for alias in node.names} & MODULES.keys()
    named_only = any(f"{node.module}.{alias.name}" not in MODULES for alias in node.names)
    return found | ({node.module} if named_only else set())


@functools.cache
def graph() -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {}
    for module, path in MODULES.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        edges[module] = {t for node, _ in _imports(tree) for t in targets(node)} - {module}
    return edges


def test_every_module_has_a_layer_and_the_graph_sees_imports() -> None:
    assert {layer(m) for m in MODULES} == set(ALLOWED)
    assert set(PACKAGES) <= {m.split(".")[1] for m in MODULES if "." in m}
    edges = graph()
    assert {"pytest_vbs.api", "pytest_vbs.faults", "pytest_vbs.wsgi.validation"} <= edges["pytest_vbs.wsgi.app"]
    assert "pytest_vbs.api.native" in edges["pytest_vbs.api"]  # from pytest_vbs.api import native
    assert "pytest_vbs.strategies" in edges["pytest_vbs.hypothesis_setup"]  # a function-level import counts
    assert "pytest_vbs.fake" not in edges["pytest_vbs.clients"]  # a TYPE_CHECKING import does not


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_follow_the_allowed_directions(module: str) -> None:
    own = layer(module)
    wrong = sorted(t for t in graph()[module] if layer(t) != own and layer(t) not in ALLOWED[own])
    assert not wrong, f"{module} ({own}) imports {wrong}: {own} may use only {sorted(ALLOWED[own])}"


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in sorted(edges.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def test_there_is_no_import_cycle() -> None:
    assert cycles(graph()) == []


def test_the_cycle_check_finds_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


@pytest.mark.parametrize("module", sorted(MODULES))
def test_deferred_imports_of_our_code_say_why(module: str) -> None:
    source = MODULES[module].read_text(encoding="utf-8")
    lines = source.splitlines()
    unexplained = [
        lines[node.lineno - 1].strip()
        for node, top in _imports(ast.parse(source))
        if not top and targets(node) and "import cost" not in lines[node.lineno - 1]
    ]
    assert not unexplained, f"{module}: function-level imports without an 'import cost' reason: {unexplained}"
