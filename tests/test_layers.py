"""The package's tiers point down, and no module imports another in a cycle.

The tiers are the package's folders, stated in ``docs/explanation.md`` ("How the code is
layered"); this test is their executable form. Every import counts, including those inside
functions (lazy imports keep start-up light, but they are still arrows).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parent.parent / "pytest_chatstore"

LAYERS: list[set[str]] = [
    {"spec"},
    {"engine", "adapters", "servers"},
    {"harness"},
    {"suite", "report"},
    {"run"},
    {"plugin", "__main__", "__init__", "contract", "repro"},
]
"""The tiers, lowest first: each a folder of the package (``adapters`` and ``servers`` keep their public paths
beside ``engine``; the top-level modules are the entry points and two public paths). A module may import modules
of lower tiers and of its own tier; no import cycle either way (``test_no_import_cycles``)."""


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" and len(parts) > 1 else parts)
        found[name] = path
    return found


MODULES = _modules()


def _unit(module: str) -> str:
    """The tier of a module: its top-level name under the package (``harness.ttl.scenarios`` -> ``harness``)."""
    return module.split(".", 1)[0]


def _imports(path: Path) -> Iterator[str]:
    """Every module of the package that ``path`` imports, at any depth of its code."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        else:
            continue
        for name in names:
            if name.startswith("pytest_chatstore."):
                inner = name.removeprefix("pytest_chatstore.")
                if inner in MODULES:
                    yield inner


def _layer(unit: str) -> int:
    return next(i for i, layer in enumerate(LAYERS) if unit in layer)


def test_every_module_has_a_layer() -> None:
    units = {_unit(m) for m in MODULES}
    placed = set().union(*LAYERS)
    assert units <= placed, f"modules without a layer: {sorted(units - placed)}; add them to LAYERS and the docs"
    assert placed <= units, f"layers name modules that do not exist: {sorted(placed - units)}"


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_point_down(module: str) -> None:
    up = [dep for dep in _imports(MODULES[module]) if _layer(_unit(dep)) > _layer(_unit(module))]
    assert not up, f"{module} (tier {_layer(_unit(module))}) imports {up}, of higher tiers"


def test_no_import_cycles() -> None:
    graph = {m: set(_imports(p)) - {m} for m, p in MODULES.items()}
    state: dict[str, str] = {}

    def visit(module: str, path: list[str]) -> None:
        state[module] = "open"
        for dep in sorted(graph[module]):
            if state.get(dep) == "open":
                cycle = [*path[path.index(dep) :], dep]
                pytest.fail(f"import cycle: {' -> '.join(cycle)}")
            if dep not in state:
                visit(dep, [*path, dep])
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])


def test_the_layers_are_the_documented_ones() -> None:
    text = (PACKAGE.parent / "docs" / "explanation.md").read_text(encoding="utf-8")
    section = text.split("## How the code is layered", 1)[1]
    items = re.split(r"\n(?=\d+\. )", section)  # one numbered item, continuation lines included
    for i, layer in enumerate(LAYERS):
        item = next((it for it in items if it.startswith(f"{i}. ")), "")
        named = set(re.findall(r"`([a-z_]+)`", item)) & set().union(*LAYERS)
        assert named == layer, f"docs/explanation.md's layer {i} names {sorted(named)}, the code {sorted(layer)}"
