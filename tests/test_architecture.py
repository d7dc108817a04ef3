"""The package layout holds: packages by role, no import circles, small modules, layers that
only import downwards."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).parents[1] / "src"
MODULES = {
    ".".join(p.relative_to(SRC).with_suffix("").parts).removesuffix(".__init__"): p
    for p in (SRC / "cardgen").rglob("*.py")
}
# Each package and what it may import from cardgen (besides itself and ``errors``).
LAYERS = {
    "trust": set(),
    "results": {"trust"},
    "data": {"results", "trust"},
    "display": {"results", "trust", "gate"},
}


def _imports(module: str) -> set[str]:
    """The cardgen modules ``module`` imports, at any depth of its code, but for
    ``if TYPE_CHECKING:`` blocks."""
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    typing_only = {
        id(sub)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        for sub in ast.walk(node)
    }
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in typing_only or not isinstance(node, (ast.Import, ast.ImportFrom)):
            continue
        assert not getattr(node, "level", 0), f"{module}: relative import"
        names = (
            [a.name for a in node.names]
            if isinstance(node, ast.Import)
            else [f"{node.module}.{a.name}" for a in node.names]
        )
        for name in names:
            while name and name not in MODULES:
                name = name.rpartition(".")[0]
            if name and name != module and not module.startswith(name + "."):
                found.add(name)
    return found


GRAPH = {module: _imports(module) for module in MODULES}


def test_no_import_circles() -> None:
    def reaches(start: str, target: str) -> bool:
        seen, todo = set(), [start]
        while todo:
            current = todo.pop()
            if current == target:
                return True
            if current not in seen:
                seen.add(current)
                todo.extend(GRAPH[current])
        return False

    circles = sorted(
        (module, other)
        for module, imported in GRAPH.items()
        for other in imported
        if reaches(other, module)
    )
    assert not circles


def test_only_the_api_the_errors_and_the_entry_live_at_the_top() -> None:
    top = {p.name for p in (SRC / "cardgen").glob("*.py")}
    assert top == {"__init__.py", "__main__.py", "errors.py"}  # __main__: python -m cardgen


@pytest.mark.parametrize("module", sorted(MODULES))
def test_modules_stay_small(module: str) -> None:
    lines = MODULES[module].read_text(encoding="utf-8").count("\n")
    assert lines <= 420, f"{module} has {lines} lines"


@pytest.mark.parametrize("package", sorted(LAYERS))
def test_lower_packages_never_import_higher_ones(package: str) -> None:
    allowed = {f"cardgen.{p}" for p in (*LAYERS[package], package)} | {"cardgen.errors"}
    upward = sorted(
        f"{module} -> {other}"
        for module, imported in GRAPH.items()
        if module.startswith(f"cardgen.{package}")
        for other in imported
        if ".".join(other.split(".")[:2]) not in allowed and other != "cardgen"
    )
    assert not upward


def test_only_the_spark_engine_imports_pyspark() -> None:
    outside = sorted(
        module
        for module, path in MODULES.items()
        if not module.startswith("cardgen.engines.spark")
        and any(
            (isinstance(node, ast.ImportFrom) and (node.module or "").startswith("pyspark"))
            or (isinstance(node, ast.Import) and any(a.name.startswith("pyspark") for a in node.names))
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        )
    )
    assert not outside
