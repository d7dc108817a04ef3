"""The ``[tool.cardgen.gate]`` table of cardgen.toml or pyproject.toml."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cardgen.errors import UsageError
from cardgen.gate.rules import Rule, check_options, rules_from_table
from cardgen.trust.untrusted import parse_toml, quote, read_text

CONFIG_FILES = ("cardgen.toml", "pyproject.toml")
CONFIG_OPTIONS = ("baseline", "alpha", "strict")
MAX_CONFIG_BYTES = 4 * 2**20
MAX_PATH_LENGTH = 4096


@dataclass
class GateConfig:
    """Rules and options from a ``[tool.cardgen.gate]`` table (empty when there is none)."""

    rules: list[Rule] = field(default_factory=list)
    baseline: str | None = None
    alpha: float | None = None
    strict: bool = False
    source: Path | None = None


def load_gate_config(path: str | Path | None = None, *, directory: str | Path = ".") -> GateConfig:
    """Read ``[tool.cardgen.gate]`` from ``path``, or from cardgen.toml / pyproject.toml.

    Without ``path`` the first of those files in ``directory`` that has the table is used, and
    none is fine. ``cardgen.toml`` may also spell the table ``[gate]``. A relative ``baseline``
    is relative to the config file.
    """
    if path is not None:
        config = _read_config(Path(path))
        if config is None:
            raise UsageError(f"{path} has no [tool.cardgen.gate] table; add one or drop --config")
        return config
    for name in CONFIG_FILES:
        candidate = Path(directory) / name
        if candidate.is_file() and (config := _read_config(candidate)) is not None:
            return config
    return GateConfig()


def _read_config(path: Path) -> GateConfig | None:
    text = read_text(path, error=UsageError, what="config file", max_bytes=MAX_CONFIG_BYTES)
    try:
        data = parse_toml(text, source="the file", error=UsageError)
    except UsageError as exc:
        raise UsageError(f"cannot read config file {path}: {exc}") from None
    table = _table(data, ("tool", "cardgen", "gate"), path)
    if table is None and path.name == "cardgen.toml":
        table = _table(data, ("gate",), path)
    if table is None:
        return None
    where = f"{path} [tool.cardgen.gate]"
    baseline = table.get("baseline")
    if baseline is not None and (
        not isinstance(baseline, str)
        or not baseline.strip()
        or "\x00" in baseline
        or len(baseline) > MAX_PATH_LENGTH
    ):
        raise UsageError(
            f"{where}: baseline must be a path to a run or card, got {quote(baseline)}"
        )
    alpha = table.get("alpha")
    if alpha is not None:
        try:
            alpha = check_options(alpha, 1, 0)
        except UsageError:
            raise UsageError(
                f"{where}: alpha must be a number between 0 and 1 (e.g. 0.05), got {quote(alpha)}"
            ) from None
    strict = table.get("strict", False)
    if not isinstance(strict, bool):
        raise UsageError(f"{where}: strict must be true or false, got {quote(strict)}")
    return GateConfig(
        rules=rules_from_table(table, where=where, other_keys=CONFIG_OPTIONS),
        baseline=str(path.parent / baseline) if baseline else None,
        alpha=alpha,
        strict=strict,
        source=path,
    )


def _table(data: dict[str, Any], keys: tuple[str, ...], path: Path) -> dict[str, Any] | None:
    """``data[keys[0]][keys[1]]...`` when every level is a table; None when a level is missing;
    UsageError naming the key when a level is something else (a string, an array, ...)."""
    node: Any = data
    for depth, key in enumerate(keys):
        node = node.get(key)
        if node is None:
            return None
        if not isinstance(node, dict):
            dotted = ".".join(keys[: depth + 1])
            raise UsageError(
                f"`{dotted}` in {path} must be a table ([{dotted}]), got "
                f"{type(node).__name__} {quote(node)}; fix or remove that key"
            )
    return dict(node)
