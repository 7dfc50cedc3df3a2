"""The house rules of docs/architecture.md, checked on the source: no import circles between the project's
modules (Celery's app <-> tasks pair aside), rooms that import only what their `__init__` allows, and no module
over 450 lines."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("aging_model", "preprocessing", "curation", "service", "worker", "faceage_cli")
MAX_LINES = 450
# Celery's usual pair: the app names its tasks module to load, the tasks module registers on the app.
ALLOWED_CYCLES = [{"worker.celery_app", "worker.tasks"}]
ROOMS = ("prototypes", "caae", "estimator", "evaluation", "explore", "media")
# What a room may not import (its `__init__` says why): the renderers never reach measurement or the explorer.
FORBIDDEN = {
    "aging_model.prototypes": (
        "aging_model.caae",
        "aging_model.evaluation",
        "aging_model.explore",
        "aging_model.media",
        "aging_model.pipeline",
    ),
    "aging_model.caae": (
        "aging_model.prototypes",
        "aging_model.evaluation",
        "aging_model.explore",
        "aging_model.pipeline",
    ),
    "aging_model.estimator": (
        "aging_model.prototypes",
        "aging_model.caae",
        "aging_model.evaluation",
        "aging_model.explore",
        "aging_model.pipeline",
    ),
    "aging_model.explore": ("aging_model.evaluation", "aging_model.pipeline"),
    "aging_model.media": ("aging_model.evaluation", "aging_model.explore"),
    "aging_model": ("service", "worker", "faceage_cli", "flask", "celery", "sqlalchemy"),
    # The picture a user sees is made without measurement or the explorer.
    **{
        f"aging_model.{top}": ("aging_model.evaluation", "aging_model.explore")
        for top in ("pipeline", "outputs", "renderers", "hair", "neck", "photo_regions", "api")
    },
    # The basics every room shares lean on no room.
    **{
        f"aging_model.{basic}": (*(f"aging_model.{room}" for room in ROOMS), "aging_model.pipeline")
        for basic in ("age_groups", "data", "weights_io", "devices", "shipped")
    },
    "preprocessing": ("aging_model", "service", "worker", "faceage_cli", "flask", "celery", "sqlalchemy"),
    "curation": ("service", "worker", "faceage_cli", "flask", "celery", "sqlalchemy"),
}


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


def _imports(path: Path, name: str, modules: dict[str, Path]) -> set[str]:
    """Every project module `path` imports, at the top or inside a function (a lazy import is still a circle
    waiting for its call); imports only for type checkers are left out."""
    tree = ast.parse(path.read_text())
    skip = {
        id(child)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        for child in ast.walk(node)
    }
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(
                    package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else [])
                )
            targets.add(base)
            targets.update(f"{base}.{alias.name}" for alias in node.names)
    return {_owner(t, modules) for t in targets if _owner(t, modules)} - {name}


def _owner(target: str, modules: dict[str, Path]) -> str | None:
    """The project module an import name lands in (its longest prefix that is a module), or None."""
    parts = target.split(".")
    for end in range(len(parts), 0, -1):
        candidate = ".".join(parts[:end])
        if candidate in modules:
            return candidate
    return None


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(path, name, modules) for name, path in modules.items()}


def _cycles(graph: dict[str, set[str]]) -> list[set[str]]:
    """Strongly connected components of more than one module (Tarjan's algorithm, iteratively)."""
    index, low, on_stack, stack, found, counter = {}, {}, set(), [], [], [0]

    def visit(start: str) -> None:
        work = [(start, iter(sorted(graph.get(start, ()))))]
        index[start] = low[start] = counter[0]
        counter[0] += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = set()
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.add(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(component)
            elif child not in index:
                index[child] = low[child] = counter[0]
                counter[0] += 1
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(sorted(graph.get(child, ())))))
            elif child in on_stack:
                low[node] = min(low[node], index[child])

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_circles(graph):
    circles = [sorted(c) for c in _cycles(graph) if c not in ALLOWED_CYCLES]
    assert not circles, f"import circles: {circles}"


def test_the_circle_finder_finds_a_circle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [{"a", "b", "c"}]


@pytest.mark.parametrize("room", sorted(FORBIDDEN))
def test_rooms_import_only_what_they_may(room):
    breaches = [
        f"{name} imports {target}"
        for name, path in _modules().items()
        if name == room or name.startswith(room + ".")
        for target in sorted(_all_import_names(path))
        for banned in FORBIDDEN[room]
        if _within(target, banned) and not _within(target, room)
    ]
    assert not breaches, "\n".join(breaches)


def _within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def _all_import_names(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def test_no_module_over_450_lines():
    tests = list((ROOT / "tests").rglob("*.py"))  # the tests are read as much as the code
    long = {
        str(path.relative_to(ROOT)): n
        for path in [*_modules().values(), *tests]
        if (n := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert not long, f"modules over {MAX_LINES} lines: {long}"
