"""The layout's rules, read from the source with `ast` (README, "Layout"): one direction
between domain packages, `app/` never importing `workers/`, Procrastinate's tables named only
by `app/queue/`, and modules and functions small enough to read."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60


@dataclass(frozen=True, slots=True)
class Import:
    source: str  # the importing module, dotted
    target: str  # the imported module, dotted (a name imported from a package counts as it)
    at_import_time: bool  # module level, outside `if TYPE_CHECKING:`


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def python_files(*packages: str) -> list[Path]:
    return sorted(p for package in packages for p in (ROOT / package).rglob("*.py"))


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _walk(node: ast.AST, at_import_time: bool) -> Iterator[tuple[ast.AST, bool]]:
    for child in ast.iter_child_nodes(node):
        yield child, at_import_time
        nested = at_import_time and not isinstance(
            child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda
        )
        if isinstance(child, ast.If) and _is_type_checking(child):
            nested = False
        yield from _walk(child, nested)


def imports_of(path: Path, known: set[str]) -> Iterator[Import]:
    source = module_name(path)
    for node, at_import_time in _walk(ast.parse(path.read_text()), True):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(source, alias.name, at_import_time)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                submodule = f"{node.module}.{alias.name}"
                target = submodule if submodule in known else node.module
                yield Import(source, target, at_import_time)


def all_imports() -> list[Import]:
    files = python_files("app", "workers")
    known = {module_name(p) for p in files}
    return [i for p in files for i in imports_of(p, known)]


def domain_of(module: str) -> str | None:
    """`app.runs.execution.probe` → `runs`; None outside the domain packages."""
    parts = module.split(".")
    if len(parts) < 2 or parts[0] != "app" or not (ROOT / "app" / parts[1]).is_dir():
        return None
    return None if parts[1] == "graphql" else parts[1]


def is_graphql_edge(module: str) -> bool:
    """A domain's GraphQL modules: its types refer to other domains' types (a Run has
    transcripts, a transcript its run), lazily; they are the edge, not part of the DAG."""
    return "graphql" in module.split(".")


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    done: set[str] = set()
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        if node in path:
            return [*path[path.index(node) :], node]
        if node in done:
            return None
        path.append(node)
        for target in sorted(edges.get(node, ())):
            cycle = visit(target)
            if cycle:
                return cycle
        path.pop()
        done.add(node)
        return None

    for node in sorted(edges):
        cycle = visit(node)
        if cycle:
            return cycle
    return None


def test_domain_packages_import_one_way() -> None:
    edges: dict[str, set[str]] = {}
    for imp in all_imports():
        source, target = domain_of(imp.source), domain_of(imp.target)
        if source and target and source != target and not is_graphql_edge(imp.source):
            edges.setdefault(source, set()).add(target)
    assert find_cycle(edges) is None, f"domain packages import each other: {find_cycle(edges)}"
    assert edges, "no domain imports found: the scan is broken"


def test_no_module_imports_itself_back_at_import_time() -> None:
    edges: dict[str, set[str]] = {}
    for imp in all_imports():
        if imp.at_import_time and imp.target.startswith(("app", "workers")):
            edges.setdefault(imp.source, set()).add(imp.target)
    cycle = find_cycle(edges)
    assert cycle is None, f"import cycle: {' → '.join(cycle or [])}"


def test_app_never_imports_workers() -> None:
    offenders = {
        i.source
        for i in all_imports()
        if i.source.split(".")[0] == "app" and i.target.split(".")[0] == "workers"
    }
    assert offenders == set()


def test_only_the_queue_package_names_procrastinate_objects() -> None:
    naming = {
        str(p.relative_to(ROOT))
        for p in python_files("app", "workers")
        if "procrastinate_" in p.read_text()
    }
    assert naming, "the queue package should name them: the scan is broken"
    assert {p for p in naming if not p.startswith("app/queue/")} == set()


@pytest.mark.parametrize(
    "path", python_files("app", "workers"), ids=lambda p: str(p.relative_to(ROOT))
)
def test_modules_and_functions_stay_small(path: Path) -> None:
    text = path.read_text()
    assert len(text.splitlines()) <= MAX_MODULE_LINES, "a module this long becomes a package"
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            assert node.end_lineno is not None
            length = node.end_lineno - node.lineno + 1
            assert length <= MAX_FUNCTION_LINES, f"{node.name} is {length} lines"
