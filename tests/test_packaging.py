from __future__ import annotations

from pathlib import Path

import pytest
from setuptools import find_packages

from cardgen.cards.templating import DEFAULT_TEMPLATE, default_templates_dir

ROOT = Path(__file__).parents[1]


def test_every_package_and_the_templates_are_listed_for_the_wheel() -> None:
    tomllib = pytest.importorskip("tomllib")
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert set(config["packages"]) == {*find_packages(ROOT / "src"), "cardgen.templates"}
    assert config["package-dir"]["cardgen.templates"] == "templates"
    templates = ROOT / "templates"
    shipped = {
        p
        for pattern in config["package-data"]["cardgen.templates"]
        for p in templates.glob(pattern)
    }
    assert shipped == set(templates.rglob("*.j2"))


def test_the_default_templates_are_found_through_the_package() -> None:
    assert default_templates_dir().resolve() == (ROOT / "templates").resolve()
    assert (default_templates_dir() / DEFAULT_TEMPLATE).is_file()


@pytest.mark.parametrize("folder", ["bench", "scripts"])
def test_what_benchmarks_and_scripts_import_from_cardgen_exists(folder: str) -> None:
    """bench/ and scripts/ are not imported by the suite: a renamed helper would break them
    silently."""
    import ast
    import importlib
    import importlib.util

    missing = []
    for path in sorted((ROOT / folder).glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("cardgen"):
                module = importlib.import_module(str(node.module))
                missing += [
                    f"{path.name}: {node.module}.{alias.name}"
                    for alias in node.names
                    if not hasattr(module, alias.name)
                    and importlib.util.find_spec(f"{node.module}.{alias.name}") is None
                ]
    assert not missing


def test_make_demo_installs_no_spark_and_make_test_does() -> None:
    """The demo needs neither pyspark nor Java; the Spark tests need the spark extra."""
    import shutil
    import subprocess

    if shutil.which("make") is None:
        pytest.skip("make is not installed")

    def planned(target: str) -> str:
        """What ``make TARGET`` would run on a fresh machine (-B: as if nothing were built)."""
        command = ["make", "-n", "-B", "-C", str(ROOT), target]
        return subprocess.run(command, capture_output=True, text=True, check=True).stdout

    demo, test = planned("demo"), planned("test")
    assert "pip install" in demo and "spark" not in demo
    assert "-e '.[dev,spark]'" in test
