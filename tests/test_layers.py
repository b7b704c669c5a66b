"""The house arrangement: every import goes one way, from a later stage to an earlier one.

Walks the ``import`` statements of ``archive/``, ``indexers/``, ``cli/`` and ``web/`` with
:mod:`ast` (imports inside functions and under ``TYPE_CHECKING`` count: a circle through a
type hint is still a circle) and fails on any import circle, any import from a later stage
into an earlier one, and any import between the two doors (``cli`` and ``web``).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TOP = ("archive", "indexers", "cli", "web")

# The stages, earliest first. A module may import its own stage and the stages before it.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("archive.core",),
    ("archive.access",),
    ("indexers",),
    ("archive.records",),
    ("archive.intake",),
    ("archive.assess",),
    ("archive.paperwork",),
    ("archive.packet",),
    ("archive.check",),
    ("archive.ops",),
    ("cli", "web"),
)


def layer_of(module: str) -> tuple[int, str]:
    """The layer index and the stage name of a module (``archive.intake.watcher`` → 3, …)."""
    for index, names in enumerate(LAYERS):
        for name in names:
            if module == name or module.startswith(name + "."):
                return index, name
    raise AssertionError(f"{module}: belongs to no stage; add it to a stage package")


def module_files() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for top in TOP:
        for path in sorted((ROOT / top).rglob("*.py")):
            rel = path.relative_to(ROOT).with_suffix("")
            parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
            found[".".join(parts)] = path
    return found


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """The project modules ``name`` imports (deepest module each statement names)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            for alias in node.names:
                full = f"{module}.{alias.name}"
                targets.add(full if full in known else module)
    out = set()
    for target in targets:
        while target and target not in known:
            target = target.rpartition(".")[0]
        if target and target != name:
            out.add(target)
    return out


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    files = module_files()
    known = set(files)
    return {name: imports_of(name, path, known) for name, path in files.items()}


def test_every_module_belongs_to_a_stage(graph: dict[str, set[str]]) -> None:
    loose = [
        m
        for m in graph
        if m.count(".") == 1
        and m.startswith("archive.")
        and not any(m == n for names in LAYERS for n in names)
    ]
    assert not loose, f"modules at the top of archive/, outside every stage: {loose}"
    for module in graph:
        if module != "archive":
            layer_of(module)


def test_stage_packages_say_what_they_own(graph: dict[str, set[str]]) -> None:
    for names in LAYERS:
        for name in names:
            init = ROOT / Path(*name.split(".")) / "__init__.py"
            if not init.exists():
                continue  # web/ before it exists
            doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8"))) or ""
            assert "May import" in doc, f"{init}: the docstring must say what it may import"


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    upward = []
    for module, targets in graph.items():
        if module == "archive":
            continue
        here, stage = layer_of(module)
        for target in targets:
            if target == "archive":
                continue
            there, other = layer_of(target)
            if there > here or (there == here and stage != other):
                upward.append(f"{module} → {target} ({stage} may not import {other})")
    return sorted(upward)


def test_imports_go_one_way(graph: dict[str, set[str]]) -> None:
    upward = upward_imports(graph)
    assert not upward, "imports against the data flow:\n" + "\n".join(upward)


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return cycles


def test_no_import_circles(graph: dict[str, set[str]]) -> None:
    cycles = find_cycles(graph)
    assert not cycles, "modules that import each other:\n" + "\n".join(
        " ↔ ".join(c) for c in cycles
    )


def test_the_checker_sees_a_circle_and_an_upward_import() -> None:
    """The checks themselves work: a planted circle and a planted upward import are found."""
    planted = {
        "archive.records.store": {"archive.records.catalog"},
        "archive.records.catalog": {"archive.records.store", "archive.assess.audit"},
        "archive.assess.audit": set(),
    }
    assert find_cycles(planted) == [["archive.records.catalog", "archive.records.store"]]
    assert upward_imports(planted) == [
        "archive.records.catalog → archive.assess.audit "
        "(archive.records may not import archive.assess)"
    ]
    assert upward_imports({"cli.main": {"web.app"}}) == [
        "cli.main → web.app (cli may not import web)"
    ]
