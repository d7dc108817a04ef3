"""The column table that every dataset reader returns, the checks on its column names, and
slice columns (``--slice-by``)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cardgen.errors import DataError
from cardgen.trust.untrusted import quote

MAX_SLICE_VALUES = 100
"""Most distinct values a slice column may hold (``--slice-by``): more is an identifier, not a
group, and would give slices too small to measure."""
MISSING_VALUE = "(missing)"
"""The slice value of a row whose slice column is null or absent. A string value of that form,
``(missing)``, ``((missing))``, ..., gets one more pair of parentheses, so that no value ever
merges with the null rows."""
_MISSING_FORM = re.compile(r"(\(+)missing(\)+)")

_JSON_KINDS = {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}


class ArrowColumns(Mapping[str, list[Any]]):
    """The columns of an Arrow table, turned into Python values only when one is read.

    The table stays in Arrow's compact (for ``save_to_disk`` data, memory-mapped) buffers, so
    columns the evaluation does not use never cost Python objects.
    """

    def __init__(self, table: Any, source: str) -> None:
        self.table = table
        self.source = source

    def __getitem__(self, name: str) -> list[Any]:
        if name not in self.table.column_names:
            raise KeyError(name)
        try:
            return list(self.table.column(name).to_pylist())
        except Exception as exc:  # a corrupt arrow buffer fails only when read
            raise DataError(
                f"cannot read column {quote(name)} of {self.source}: {quote(str(exc))}"
            ) from None

    def __iter__(self) -> Iterator[str]:
        return iter(self.table.column_names)

    def __len__(self) -> int:
        return int(self.table.num_columns)


@dataclass
class Columns:
    """A dataset's rows as column name -> values, its ClassLabel names and where it came from
    (``revision``: the commit of a Hub dataset, when known)."""

    rows: Mapping[str, list[Any]]
    class_names: list[str] | None
    source: str
    name: str | None = None
    config: str | None = None
    split: str | None = None
    revision: str | None = None

    @property
    def num_rows(self) -> int:
        if isinstance(self.rows, ArrowColumns):
            return int(self.rows.table.num_rows)
        return max((len(values) for values in self.rows.values()), default=0)


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


def text_like(columns: Columns, name: str, sample: int = 20) -> bool:
    """Whether column ``name`` holds strings: its Arrow type, or its first ``sample`` values."""
    if isinstance(columns.rows, ArrowColumns):
        import pyarrow as pa

        kind = columns.rows.table.schema.field(name).type
        return bool(pa.types.is_string(kind) or pa.types.is_large_string(kind))
    values = [v for v in columns.rows[name][:sample] if v is not None]
    return bool(values) and all(isinstance(v, str) for v in values)


def slice_column(columns: Columns, name: str, keep: Sequence[int]) -> list[str]:
    """The values of slice column ``name`` in the kept rows, as strings (null: MISSING_VALUE)."""
    if not isinstance(name, str) or name not in columns.rows:
        raise DataError(
            f"slice column {quote(name)} not found in {columns.source}; columns are: "
            f"{column_list(list(columns.rows))} (use --slice-by with one of them)"
        )
    raw = columns.rows[name]
    values = [_slice_value(raw[i]) if i < len(raw) else MISSING_VALUE for i in keep]
    distinct = len(set(values))
    if distinct > MAX_SLICE_VALUES:
        raise DataError(
            f"slice column {quote(name)} of {columns.source} has {distinct:,} distinct values, "
            f"over cardgen's limit of {MAX_SLICE_VALUES} (MAX_SLICE_VALUES): it looks like an "
            "identifier or free text; slice by a column of groups (a source, a language), or "
            "bucket its values first"
        )
    return values


def _slice_value(value: Any) -> str:
    if value is None:
        return MISSING_VALUE
    if isinstance(value, str):
        found = _MISSING_FORM.fullmatch(value)
        return f"({value})" if found and len(found[1]) == len(found[2]) else value
    if isinstance(value, bool | int | float):
        return json.dumps(value)
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
