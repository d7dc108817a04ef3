"""Which columns hold the texts, the second texts of sentence pairs and the labels: the column
options checked, and the columns found by name without them."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

from cardgen.data.columns import Columns, column_list, text_like
from cardgen.data.label_sets import LABEL_FORMATS
from cardgen.errors import DataError, UsageError
from cardgen.trust.untrusted import quote

TEXT_COLUMNS = ("text", "sentence", "review", "content", "document")
LABEL_COLUMNS = ("label", "labels")
PAIR_COLUMNS = (
    ("sentence1", "sentence2"),
    ("premise", "hypothesis"),
    ("question1", "question2"),
    ("question", "sentence"),
)
"""Text pair columns found without flags, as in GLUE / SuperGLUE style hub datasets. A pair found
this way is evaluated only for a model that says it was fine-tuned on pairs
(``cardgen.models.pairs``)."""


def check_column_options(
    text_column: str | None,
    text_pair_column: str | None,
    label_column: str | None,
    limit: int | None,
    label_format: str | None = None,
) -> None:
    """DataError for a blank or repeated column option or a ``limit`` below 1; UsageError for
    a ``label_format`` other than ``ids`` or ``multi-hot``."""
    options = (
        ("--text-column", text_column),
        ("--text-pair-column", text_pair_column),
        ("--label-column", label_column),
    )
    for option, value in options:
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise DataError(f"{option} must be a column name, got {quote(value)}")
    for (first, a), (second, b) in itertools.combinations(options, 2):
        if a is not None and a == b:
            raise DataError(
                f"{first} and {second} are both {quote(a)}; each must name a different column"
            )
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise DataError(f"--limit must be at least 1, got {quote(limit)}")
    if label_format is not None and label_format not in LABEL_FORMATS:
        raise UsageError(
            f"--label-format must be {' or '.join(LABEL_FORMATS)}, got {quote(label_format)}"
        )


def pick_column(
    columns: Sequence[str], wanted: str | None, defaults: Sequence[str], role: str, source: str
) -> str:
    """Column ``wanted``, else the first of ``defaults`` present; DataError listing the columns."""
    if wanted is not None and wanted in columns:
        return wanted
    if wanted is None:
        found = next((c for c in defaults if c in columns), None)
        if found is not None:
            return found
    missing = wanted or defaults[0]
    hint = next((f"; {quote(c)} has spaces around it" for c in columns if c.strip() == missing), "")
    if len(columns) == 1 and ("," in columns[0] or "\t" in columns[0]):
        hint = "; is the separator right? .csv splits on commas, .tsv on tabs"
    raise DataError(
        f"column {quote(missing)} not found in {source}; columns are: {column_list(columns)}"
        f"{hint} (use --{role}-column)"
    )


def text_columns(
    columns: Columns,
    names: list[str],
    text_column: str | None,
    pair_column: str | None,
    label_column: str | None,
) -> tuple[str, str | None]:
    """The text column and, for sentence pairs, the text pair column.

    Without either option, a pair of ``PAIR_COLUMNS`` is found by name; DataError when two
    are, or when the pair column is the text column found by name.
    """
    source = columns.source
    if text_column is None and pair_column is None:
        pairs = [(a, b) for a, b in PAIR_COLUMNS if a in names and b in names]
        if len(pairs) > 1:
            listed = ", ".join(f"{a}/{b}" for a, b in pairs)
            raise DataError(
                f"{source} holds {len(pairs)} pairs of text columns: {listed}; say which to "
                f"evaluate, e.g. --text-column {quote(pairs[0][0])} --text-pair-column "
                f"{quote(pairs[0][1])}, or name a single text with --text-column"
            )
        if pairs:
            return pairs[0]
        labels = [label_column] if label_column else LABEL_COLUMNS
        label = next((c for c in labels if c in names), None)
        if label is not None and not any(c in names for c in TEXT_COLUMNS):
            found = [n for n in names if n != label and text_like(columns, n)]
            if len(found) >= 2:
                raise DataError(
                    f"no text column found by name in {source}, but {len(found)} columns hold "
                    f"text: {column_list(found)}; name the text with --text-column, and for "
                    "sentence pairs the second text with --text-pair-column, e.g. "
                    f"--text-column {quote(found[0])} --text-pair-column {quote(found[1])}"
                )
    if pair_column is None:
        return pick_column(names, text_column, TEXT_COLUMNS, "text", source), None
    pair_col = pick_column(names, pair_column, (), "text-pair", source)
    partner = next((a for a, b in PAIR_COLUMNS if b == pair_col and a in names), None)
    text_col = pick_column(names, text_column or partner, TEXT_COLUMNS, "text", source)
    if text_col == pair_col:  # the same column named twice is refused by check_column_options
        raise DataError(
            f"--text-pair-column {quote(pair_col)} is also the text column found by name; "
            "name the first text of each pair with --text-column"
        )
    return text_col, pair_col
