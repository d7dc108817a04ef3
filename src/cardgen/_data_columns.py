"""The column table that every dataset reader returns, and the checks on its column names."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ._untrusted import quote
from .errors import DataError

_JSON_KINDS = {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}


@dataclass
class Columns:
    """A dataset's rows as column name -> values, its ClassLabel names and where it came from."""

    rows: dict[str, list[Any]]
    class_names: list[str] | None
    source: str
    name: str | None = None
    config: str | None = None
    split: str | None = None


def check_names(names: Sequence[Any], source: str) -> None:
    """Column names must be non-blank strings, each used once."""
    for number, name in enumerate(names, 1):
        if not isinstance(name, str) or not name.strip():
            raise DataError(
                f"column {number} of {source} has the name {quote(name)}; every column needs "
                "a non-empty name"
            )
    twice = repeated(names)
    if twice is not None:
        raise DataError(
            f"{source} has two columns named {quote(twice)}; rename one so it is clear which to use"
        )


def repeated(items: Sequence[Any]) -> Any:
    """The first item that occurs a second time, or None."""
    seen = set()
    for item in items:
        if item in seen:
            return item
        seen.add(item)
    return None


def column_list(names: Sequence[Any]) -> str:
    """Up to 20 names for a message, each unusual one quoted and clipped."""
    shown = [
        n if isinstance(n, str) and n.isprintable() and len(n) <= 40 else quote(n, 40)
        for n in names[:20]
    ]
    return ", ".join(shown) + (f" and {len(names) - 20:,} more" if len(names) > 20 else "")


def json_kind(value: Any) -> str:
    """What a parsed JSON value is, in JSON's words ("object", "array", "number", ...)."""
    return _JSON_KINDS.get(type(value), "number")
