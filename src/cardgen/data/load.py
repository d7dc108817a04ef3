"""Evaluation data: local files, ``save_to_disk`` directories and ``datasets`` hub names.

Every dataset is untrusted: files are read through ``cardgen.trust.untrusted`` (bounded size and
nesting), then one layer checks column names, texts and labels, so a malformed dataset fails
with a DataError that names the line, row or value, never with a traceback. The readers live
in ``_data_files`` (CSV, TSV, JSON, JSONL, Parquet) and ``_data_hf`` (``save_to_disk``
directories, hub names); this module picks the columns and checks texts and labels.
"""

from __future__ import annotations

import errno
import itertools
import json
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cardgen.data.column_options import (
    LABEL_COLUMNS,
    PAIR_COLUMNS,
    TEXT_COLUMNS,
    check_column_options,
    pick_column,
    text_columns,
)
from cardgen.data.columns import MAX_SLICE_VALUES, Columns, check_names, repeated, slice_column
from cardgen.data.files import FILE_FORMATS, read_file
from cardgen.data.fingerprint import rows_fingerprint
from cardgen.data.hub import (
    read_hub_dataset,
    read_hub_snapshot,
    read_saved_dataset,
    snapshot_repo,
)
from cardgen.data.label_sets import LabelSets, is_list_column, label_sets
from cardgen.data.labels import MAX_LABELS
from cardgen.errors import DataError, UsageError
from cardgen.results.schema import DatasetInfo, TextPair
from cardgen.trust.untrusted import quote

__all__ = [
    "FILE_FORMATS",
    "LABEL_COLUMNS",
    "MAX_LABEL_CHARS",
    "MAX_LABELS",
    "MAX_SLICE_VALUES",
    "PAIR_COLUMNS",
    "TEXT_COLUMNS",
    "EvalData",
    "check_column_options",
    "load_data",
    "pick_column",
    "text_columns",
]

MAX_LABEL_CHARS = 200
"""Longest label name, in characters."""
_CLASS_ID = re.compile(r"\s*-?[0-9]+\s*")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


@dataclass
class EvalData:
    """Texts and gold labels (as names) with the dataset's ordered label set.

    ``indexed`` is true when the labels were integers (raw or a ``ClassLabel``), so that label
    ``label_names[i]`` is class id ``i``. ``text_pairs`` holds the second text of each row for
    sentence-pair data. ``columns`` holds the slice columns asked for, each value as a string.
    ``row_ids`` holds each row's row in the source (None: row i is source row i, as without
    ``--sample``).
    """

    texts: list[str]
    labels: list[str]
    label_names: list[str]
    indexed: bool
    info: DatasetInfo
    text_pairs: list[str] | None = None
    columns: dict[str, list[str]] = field(default_factory=dict)
    label_sets: list[tuple[str, ...]] | None = None
    """Multi-label gold: each row's label names (``labels`` is then empty)."""
    multi_hot: bool = False
    """Multi-label gold written as 0/1 vectors, one entry per label in ``label_names``."""
    vector_width: int | None = None
    """Multi-label gold read as class ids that are also 0/1 vectors of this length
    (``LabelSets.vector_width``): ambiguous for a model with as many labels."""
    row_ids: list[int] | None = None


def load_data(
    dataset: str | Path,
    *,
    split: str | None = None,
    config: str | None = None,
    text_column: str | None = None,
    label_column: str | None = None,
    limit: int | None = None,
    sample: bool = False,
    seed: int = 0,
    text_pair_column: str | None = None,
    slice_columns: Sequence[str] = (),
    label_format: str | None = None,
) -> EvalData:
    """Load evaluation rows from a file, a ``save_to_disk`` directory, a hub dataset name or a
    dataset's snapshot in the Hugging Face cache (``.../datasets--OWNER--NAME/snapshots/COMMIT``,
    whose commit is recorded as ``DatasetInfo.revision``).

    ``limit`` keeps the first N rows, or N rows drawn with ``seed`` when ``sample`` is set.
    ``text_pair_column`` makes each row a pair of texts; without any column option, the pairs
    of ``PAIR_COLUMNS`` are found by name (``TextPair.found_by_name``). ``slice_columns`` are
    kept as strings in ``EvalData.columns``; DataError when one is missing or has over
    MAX_SLICE_VALUES values. ``label_format`` says how list labels of 0/1 read
    (``label_sets.LABEL_FORMATS``).
    """
    check_column_options(text_column, text_pair_column, label_column, limit, label_format)
    if not isinstance(dataset, (str, Path)) or not str(dataset).strip():
        raise DataError(
            f"dataset {quote(dataset)} is not usable; pass a data file, a `save_to_disk` "
            "directory or a `datasets` name"
        )
    path = Path(dataset)
    try:
        is_dir, is_file, exists = path.is_dir(), path.is_file(), path.exists()
    except OSError as exc:  # a name too long for a path, or a directory we may not enter
        if exc.errno != errno.ENAMETOOLONG:
            raise DataError(f"cannot look up dataset {path}: {exc.strerror}") from None
        is_dir = is_file = exists = False
    if is_dir and snapshot_repo(path) is not None:
        columns = read_hub_snapshot(path, config, split or "test")
    elif is_dir:
        columns = read_saved_dataset(path, split)
    elif is_file:
        columns = read_file(path)
    elif exists:
        raise DataError(f"dataset {path} is not a regular file or directory")
    elif path.suffix.lower() in FILE_FORMATS or str(dataset).startswith((".", "/", "~")):
        raise DataError(f"dataset file {quote(str(dataset))} does not exist")
    else:
        columns = read_hub_dataset(str(dataset), config, split or "test")
    data = _to_eval_data(
        columns, text_column, text_pair_column, label_column, limit, sample, seed, label_format
    )
    if slice_columns:
        keep = kept_rows(columns.num_rows, limit, sample, seed)
        data.columns = {
            name: slice_column(columns, name, keep) for name in dict.fromkeys(slice_columns)
        }
    return data


def kept_rows(num_rows: int, limit: int | None, sample: bool, seed: int) -> Sequence[int]:
    """The rows ``limit`` / ``sample`` keep, in order: the first N or a seeded draw of N."""
    keep: Sequence[int] = range(num_rows)
    if limit is not None:
        count = min(limit, num_rows)
        keep = sorted(random.Random(seed).sample(keep, count)) if sample else range(count)
    return keep


def _check_texts(texts: list[Any], rows: Sequence[int], source: str, column: str) -> None:
    for i, text in zip(rows, texts, strict=True):
        if not isinstance(text, str):
            value = "null or missing" if text is None else quote(text)
            raise DataError(
                f"row {i} of {source} has a {type(text).__name__} in text column "
                f"{quote(column)} ({value}); every text must be a string"
            )


def _to_eval_data(
    columns: Columns,
    text_column: str | None,
    pair_column: str | None,
    label_column: str | None,
    limit: int | None,
    sample: bool,
    seed: int,
    label_format: str | None = None,
) -> EvalData:
    names = list(columns.rows)
    check_names(names, columns.source)
    if not names or columns.num_rows == 0:
        raise DataError(f"dataset {columns.source} has no rows")
    text_col, pair_col = text_columns(columns, names, text_column, pair_column, label_column)
    label_col = pick_column(names, label_column, LABEL_COLUMNS, "label", columns.source)
    for col in (text_col, pair_col):
        if col == label_col:
            raise DataError(f"column {quote(col)} cannot hold both the texts and the labels")
    texts, whole = list(columns.rows[text_col]), list(columns.rows[label_col])
    raw, pairs = whole, (None if pair_col is None else list(columns.rows[pair_col]))
    keep = kept_rows(len(texts), limit, sample, seed)
    if limit is not None:
        texts, raw = [texts[i] for i in keep], [whole[i] for i in keep]
        pairs = None if pairs is None else [pairs[i] for i in keep]

    _check_texts(texts, keep, columns.source, text_col)
    if pairs is not None and pair_col is not None:
        _check_texts(pairs, keep, columns.source, pair_col)
    sets: LabelSets | None = None
    if is_list_column(raw):
        sets = label_sets(
            raw,
            keep,
            columns,
            label_col,
            check=_label_value,
            label_format=label_format,
            whole=whole,
        )
        labels: list[str] = []
        label_names, indexed = sets.names, sets.indexed
    elif label_format is not None:
        raise UsageError(
            f"--label-format {label_format} says how lists of labels read, but label column "
            f"{quote(label_col)} of {columns.source} holds one label per row (row {keep[0]}: "
            f"{quote(raw[0])}); drop --label-format"
        )
    else:
        labels, label_names, indexed = read_label_names(raw, keep, columns, label_col)
    gold: list[Any] = labels if sets is None else [list(row) for row in sets.sets]
    rows = zip(keep, texts, pairs or itertools.repeat(None), gold, strict=pairs is not None)
    info = DatasetInfo(
        source=columns.source,
        name=columns.name,
        config=columns.config,
        split=columns.split,
        revision=columns.revision,
        num_rows=len(texts),
        fingerprint=rows_fingerprint(rows, source=columns.source),
        text_column=text_col,
        label_column=label_col,
        labels=label_names,
        text_pair=(
            None if pair_col is None else TextPair(pair_col, found_by_name=pair_column is None)
        ),
    )
    return EvalData(
        texts=texts,
        labels=labels,
        label_names=label_names,
        indexed=indexed,
        info=info,
        text_pairs=pairs,
        label_sets=None if sets is None else sets.sets,
        multi_hot=sets is not None and sets.multi_hot,
        vector_width=None if sets is None else sets.vector_width,
        row_ids=None if isinstance(keep, range) else list(keep),
    )


def label_sets_from_json(
    tokens: Sequence[str | None],
    rows: Sequence[int],
    *,
    source: str,
    column: str,
    label_format: str | None,
    whole: Sequence[str | None] | None = None,
) -> LabelSets:
    """A multi-label column of JSON tokens (``["toxic"]``, ``[0, 1]``; None for null) read as
    ``load_data`` reads list labels: the same checks, names and errors. Reading a part of the
    column, pass the ``label_format`` the whole column was read in (``"multi-hot"`` or
    ``"ids"``) so every part reads alike."""
    decode = [None if token is None else json.loads(token) for token in tokens]
    everything = None if whole is None else [None if t is None else json.loads(t) for t in whole]
    return label_sets(
        decode,
        rows,
        Columns({}, None, source),
        column,
        check=_label_value,
        label_format=label_format,
        whole=everything,
    )


def _label_value(value: Any, row: int, source: str, column: str) -> int | str:
    """A label as a class id or a name; DataError for any other value."""
    where = f"row {row} of {source} has label {quote(value)} in column {quote(column)}"
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        hint = " (map true/false to names or to 0/1)" if isinstance(value, bool) else ""
        raise DataError(f"{where}; labels must be integers or strings{hint}")
    if isinstance(value, float):
        if not value.is_integer():
            raise DataError(f"{where}; a numeric label must be a whole class id")
        return int(value)
    if isinstance(value, int):
        return value
    if not value.strip():
        raise DataError(f"{where}; labels must not be empty or blank")
    if len(value) > MAX_LABEL_CHARS:
        raise DataError(
            f"{where}; it has {len(value):,} characters, over cardgen's limit of "
            f"{MAX_LABEL_CHARS} for a label (MAX_LABEL_CHARS): is it the label column?"
        )
    if _CONTROL.search(value):
        raise DataError(f"{where}; labels must not contain control characters")
    return int(value) if _CLASS_ID.fullmatch(value) else value


def _check_class_names(names: list[Any], source: str) -> None:
    """ClassLabel names follow the rules of label names: few, short, non-blank, distinct."""
    if len(names) > MAX_LABELS:
        raise DataError(
            f"{source} has a ClassLabel of {len(names):,} names, over cardgen's limit of "
            f"{MAX_LABELS:,} (MAX_LABELS)"
        )
    for name in names:
        if (
            not isinstance(name, str)
            or not name.strip()
            or len(name) > MAX_LABEL_CHARS
            or _CONTROL.search(name)
        ):
            raise DataError(
                f"{source} has the ClassLabel name {quote(name)}; names must be non-blank "
                f"strings of at most {MAX_LABEL_CHARS} characters without control characters"
            )
    twice = repeated(names)
    if twice is not None:
        raise DataError(f"{source} has the ClassLabel name {quote(twice)} twice")


def read_label_names(
    raw: list[Any], rows: Sequence[int], columns: Columns, column: str
) -> tuple[list[str], list[str], bool]:
    """Labels as names, the ordered label set, and whether labels are class ids."""
    source, class_names = columns.source, columns.class_names
    seen: dict[tuple[type, Any], int | str] = {}
    values: list[int | str] = []
    first: dict[type, int] = {}
    for i, (row, value) in enumerate(zip(rows, raw, strict=True)):
        key = (type(value), value if isinstance(value, (int, float, str)) else id(value))
        if key not in seen:
            seen[key] = _label_value(value, row, source, column)
            first.setdefault(type(seen[key]), i)
        values.append(seen[key])
    if len(first) > 1:
        a, b = raw[first[int]], raw[first[str]]
        raise DataError(
            f"label column {quote(column)} of {source} mixes class ids and names, e.g. "
            f"{quote(a)} (row {rows[first[int]]}) and {quote(b)} (row {rows[first[str]]}); "
            "use names for every row or integer ids for every row"
        )
    if int not in first:
        names = sorted({str(v) for v in values})
        if len(names) > MAX_LABELS:
            raise DataError(
                f"label column {quote(column)} of {source} has {len(names):,} distinct labels, "
                f"over cardgen's limit of {MAX_LABELS:,} (MAX_LABELS): is it the label column?"
            )
        return [str(v) for v in values], names, False
    ids: list[int] = values  # type: ignore[assignment]
    if class_names is not None:
        _check_class_names(class_names, source)
        unknown = sorted({v for v in ids if not 0 <= v < len(class_names)})
        if unknown:
            hint = " (-1 marks unlabelled rows: use a labelled split)" if -1 in unknown else ""
            raise DataError(
                f"labels {quote(unknown)} in {source} are outside its ClassLabel names "
                f"{quote(class_names)}{hint}"
            )
        return [class_names[v] for v in ids], list(class_names), True
    negative = sorted({v for v in ids if v < 0})
    if negative:
        raise DataError(f"{source} has negative label ids {quote(negative)}; ids start at 0")
    top = max(ids)
    if top >= MAX_LABELS:
        raise DataError(
            f"{source} has label id {top:,} (row {rows[ids.index(top)]}) in column "
            f"{quote(column)}, over cardgen's limit of {MAX_LABELS:,} classes (MAX_LABELS); "
            "ids must be 0 .. number of classes - 1"
        )
    return [str(v) for v in ids], [str(i) for i in range(top + 1)], True
