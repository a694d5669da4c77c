"""The package's import graph, read from the source with ``ast`` (every import counts: top-level, inside
functions and under ``if TYPE_CHECKING:``)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

from support.docs import ROOT

#: Where each source folder lands in the installed ``tocsin`` package.
FOLDERS = {
    "core": "tocsin",
    "plugins": "tocsin.plugins",
    "targets": "tocsin.targets",
    "conditions": "tocsin.conditions",
}


def module_files() -> dict[str, Path]:
    """Every module of the package by its dotted name (a package by the name of its ``__init__``)."""
    found = {}
    for folder, package in FOLDERS.items():
        for path in sorted((ROOT / folder).rglob("*.py")):
            parts = list(path.relative_to(ROOT / folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join([package, *parts])] = path
    return found


def imported_names(name: str, path: Path) -> Iterator[tuple[str, int]]:
    """Each dotted name *path* imports, with its line: ``import a.b`` gives ``a.b``; ``from a import b`` gives
    ``a.b`` (callers decide whether that is a module or a name in ``a``)."""
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = name.split(".")
                anchor = anchor[: len(anchor) - node.level + (1 if is_package else 0)]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                yield (f"{base}.{alias.name}" if alias.name != "*" else base), node.lineno


def import_graph() -> dict[str, set[str]]:
    """Module -> the package modules it imports, the way grimp counts them: ``from a import b`` is an edge to
    ``a.b`` when that is a module, else to ``a``."""
    files = module_files()
    graph: dict[str, set[str]] = {name: set() for name in files}
    for name, path in files.items():
        for imported, _ in imported_names(name, path):
            target = imported if imported in files else imported.rpartition(".")[0]
            if target in files and target != name:
                graph[name].add(target)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (each one is at least one import cycle)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(start: str) -> None:
        # Iterative Tarjan, so a deep chain cannot hit the recursion limit.
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, edges = work[-1]
            for nxt in edges:
                if nxt not in index:
                    index[nxt] = low[nxt] = len(index)
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(sorted(graph[nxt]))))
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found
