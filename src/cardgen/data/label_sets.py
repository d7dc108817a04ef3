"""Multi-label gold labels: per row a list of label names or class ids, or a multi-hot vector.

A row with no label is an empty list (``[]``) or an all-zero vector. Every row of the column must
be a list: a column that mixes lists with single labels is refused, as is a multi-hot vector
whose length differs from the others. Whether lists of 0/1 are vectors or class ids is decided
from the whole column, or said with ``--label-format`` where only the model could tell.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from cardgen.data.columns import Columns
from cardgen.errors import DataError
from cardgen.trust.untrusted import MAX_LABELS, quote

LabelCheck = Callable[[Any, int, str, str], "int | str"]
LABEL_FORMATS = ("ids", "multi-hot")
"""How list labels of 0/1 read (``--label-format``): lists of class ids (or label names), or
multi-hot vectors with one 0/1 entry per label."""


@dataclass
class LabelSets:
    """Gold label sets as names, the ordered label set, and how the column wrote them.

    ``indexed``: the names stand for class ids (label ``names[i]`` is id ``i``); ``multi_hot``:
    rows were 0/1 vectors, whose length is ``len(names)``. ``vector_width``: rows read as class
    ids that are also 0/1 vectors of this length (``[0, 1]``, ``[1, 0]``), which a model with
    that many labels makes ambiguous (``check_vector_width``).
    """

    sets: list[tuple[str, ...]]
    names: list[str]
    indexed: bool
    multi_hot: bool
    vector_width: int | None = None


def is_list_column(raw: Sequence[Any]) -> bool:
    """Whether any row of a label column holds a list (the column is then multi-label)."""
    return any(isinstance(value, list | tuple) for value in raw)


def label_sets(
    raw: Sequence[Any],
    rows: Sequence[int],
    columns: Columns,
    column: str,
    *,
    check: LabelCheck,
    label_format: str | None = None,
    whole: Sequence[Any] | None = None,
) -> LabelSets:
    """Read a multi-label column; ``check`` validates one label (name or id) as single labels
    are validated. DataError names the row of the first bad value.

    ``label_format`` (``LABEL_FORMATS``) says how lists of 0/1 read; without it they are
    vectors when a row repeats a value or holds a boolean anywhere in the ``whole`` column
    (default ``raw``; the column ``raw`` was sampled from), else class ids.
    """
    source = columns.source
    scalar = next((i for i, v in enumerate(raw) if not isinstance(v, list | tuple)), None)
    if scalar is not None:
        listed = next(i for i, v in enumerate(raw) if isinstance(v, list | tuple))
        found = (
            "no label (null)" if raw[scalar] is None else f"the single label {quote(raw[scalar])}"
        )
        raise DataError(
            f"label column {quote(column)} of {source} holds lists of labels (e.g. row "
            f"{rows[listed]}: {quote(raw[listed])}) but row {rows[scalar]} has {found}; give "
            'every row a list, e.g. ["toxic"], and [] for a row with no label'
        )
    lists = [row for row in (raw if whole is None else whole) if isinstance(row, list | tuple)]
    if label_format == "multi-hot" or (label_format is None and _multi_hot(lists)):
        return _from_vectors(raw, rows, source, column)
    checked = [[check(v, rows[i], source, column) for v in row] for i, row in enumerate(raw)]
    _check_repeated_ids(checked, raw, rows, source, column)
    values = [tuple(dict.fromkeys(row)) for row in checked]
    kinds = {type(v) for row in values for v in row}
    if len(kinds) > 1:
        raise DataError(
            f"label column {quote(column)} of {source} mixes class ids and names inside its "
            "lists; use names for every label or integer ids for every label"
        )
    if kinds != {int}:
        names = sorted({str(v) for row in values for v in row})
        _check_count(len(names), column, source)
        return LabelSets([tuple(map(str, row)) for row in values], names, False, False)
    sets = _from_ids(values, rows, columns, column)
    if label_format is None and columns.class_names is None:
        sets.vector_width = _vector_width(lists)
    return sets


def check_vector_width(
    width: int | None, model_labels: Sequence[str], column: str, model: str
) -> None:
    """DataError when list labels read as class ids are also 0/1 vectors with one entry per
    model label (``[1, 0]`` of a two-label model): which they are, only the user can say."""
    if width is None or width != len(model_labels):
        return
    example = json.dumps([1] + [0] * (width - 1))
    raise DataError(
        f"label column {quote(column)} holds lists of 0/1 such as {example}, which read both "
        f"as multi-hot vectors over the {width} labels of model {quote(model)} "
        f"({quote(', '.join(model_labels))}) and as lists of class ids ({example}: "
        f"{'the label of id 1' if width == 1 else 'ids 1 and 0, both labels'}); say which "
        "(use --label-format multi-hot, or --label-format ids)"
    )


def _multi_hot(lists: Sequence[Any]) -> bool:
    """Rows of 0/1 values (or booleans) in which a value repeats: vectors, not sets of ids."""
    flat = [v for row in lists for v in row]
    if not flat or not all(_bit(v) for v in flat):
        return False
    return any(isinstance(v, bool) for v in flat) or any(len(set(row)) < len(row) for row in lists)


def _check_repeated_ids(
    checked: Sequence[Sequence[int | str]],
    raw: Sequence[Any],
    rows: Sequence[int],
    source: str,
    column: str,
) -> None:
    """DataError on a list of class ids that repeats an id: the column is multi-hot vectors
    with an entry other than 0/1 (``[0, 2, 1, 0]``, ``[0, "1", 1]``), or was read as ids by
    ``--label-format ids``; dropping the repeat would score a different label set."""
    repeat = next(
        (i for i, row in enumerate(checked) if len(set(row)) < len(row) and _all_ids(row)), None
    )
    if repeat is None:
        return
    odd = next((i for i, row in enumerate(raw) if not all(_bit(v) for v in row)), None)
    why = (
        "--label-format ids"
        if odd is None
        else f"row {rows[odd]} is {quote(raw[odd])}, with an entry that is not 0 or 1"
    )
    raise DataError(
        f"label column {quote(column)} of {source} reads as lists of class ids ({why}), but "
        f"row {rows[repeat]} repeats a class id: {quote(raw[repeat])}; give multi-hot vectors "
        "only 0/1 entries (and --label-format multi-hot), or list each class id once"
    )


def _all_ids(row: Sequence[int | str]) -> bool:
    return all(isinstance(v, int) for v in row)


def _vector_width(lists: Sequence[Any]) -> int | None:
    """The length shared by rows that hold only 0 and 1 (no repeat, so at most 2), or None."""
    widths = {len(row) for row in lists}
    if len(widths) != 1 or not all(_bit(v) for row in lists for v in row):
        return None
    return widths.pop() or None


def _bit(value: Any) -> bool:
    return isinstance(value, bool | int | float) and value in (0, 1)


def _from_vectors(raw: Sequence[Any], rows: Sequence[int], source: str, column: str) -> LabelSets:
    width = len(raw[0])
    for i, row in enumerate(raw):
        bad = [v for v in row if not _bit(v)]
        if bad:
            raise DataError(
                f"label column {quote(column)} of {source} is read as multi-hot vectors, but "
                f"row {rows[i]} has the entry {quote(bad[0])}; every entry of a multi-hot vector "
                "must be 0 or 1 (drop --label-format multi-hot for lists of labels)"
            )
        if len(row) != width:
            raise DataError(
                f"label column {quote(column)} of {source} holds multi-hot vectors, but row "
                f"{rows[i]} has {len(row)} entries and row {rows[0]} has {width}; every vector "
                "needs one 0/1 entry per label"
            )
    _check_count(width, column, source)
    names = [str(i) for i in range(width)]
    sets = [tuple(names[j] for j, bit in enumerate(row) if bit) for row in raw]
    return LabelSets(sets, names, True, True)


def _from_ids(
    values: list[tuple[Any, ...]], rows: Sequence[int], columns: Columns, column: str
) -> LabelSets:
    ids = {v for row in values for v in row}
    class_names = columns.class_names
    if class_names is not None:
        unknown = sorted(v for v in ids if not 0 <= v < len(class_names))
        if unknown:
            raise DataError(
                f"label ids {quote(unknown)} in {columns.source} are outside its ClassLabel "
                f"names {quote(class_names)}"
            )
        names = [str(name) for name in class_names]
    else:
        negative = sorted(v for v in ids if v < 0)
        if negative:
            raise DataError(
                f"{columns.source} has negative label ids {quote(negative)} in column "
                f"{quote(column)}; ids start at 0"
            )
        top = max(ids, default=0)
        _check_count(top + 1, column, columns.source)
        names = [str(i) for i in range(top + 1)]
    return LabelSets([tuple(names[v] for v in row) for row in values], names, True, False)


def _check_count(count: int, column: str, source: str) -> None:
    if count > MAX_LABELS:
        raise DataError(
            f"label column {quote(column)} of {source} has {count:,} labels, over cardgen's "
            f"limit of {MAX_LABELS:,} (MAX_LABELS): is it the label column?"
        )
