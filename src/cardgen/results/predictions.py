"""Per-example predictions of a run (``predictions.jsonl``, or ``predictions.parquet`` from the
Spark engine), read back as rows or, for the gate's paired tests, streamed into compact
label-code arrays. Parquet is read with pyarrow, a batch at a time."""

from __future__ import annotations

import os
from array import array
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from cardgen.errors import ResultsError
from cardgen.results.schema import PREDICTIONS_FILE
from cardgen.trust.untrusted import contained, open_regular, parse_json, quote, read_lines

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
PARQUET_PREDICTIONS_FILE = "predictions.parquet"
"""The Spark engine's predictions: a Parquet directory (or file) of rows index (int64), gold and
predicted (strings) and probabilities (map of label -> float64)."""
_PARQUET_BATCH = 65_536


def load_predictions(run_dir: str | Path) -> list[dict[str, Any]]:
    """Per-example predictions of a run: index, gold, predicted and probabilities per class."""
    path = _predictions_path(run_dir)
    if path.name == PARQUET_PREDICTIONS_FILE:
        return [row for _, row in _parquet_rows(path, full=True)]
    return [row for _, row in _prediction_lines(path)]


def has_predictions(run_dir: str | Path) -> bool:
    """Whether a run directory keeps per-example predictions (JSON Lines or Parquet)."""
    try:
        _predictions_path(run_dir)
    except ResultsError:
        return False
    return True


@dataclass(eq=False)
class PredictionCodes:
    """A run's per-example predictions in index order: gold and predicted labels as codes,
    positions in ``labels`` (shape (n,)), or for label sets as (n, len(labels)) booleans,
    column j set when the row's set holds ``labels[j]``."""

    labels: list[str]
    index: NDArray[np.int64]
    gold: NDArray[Any]
    predicted: NDArray[Any]


def read_prediction_codes(
    run_dir: str | Path, labels: list[str], *, label_sets: bool = False
) -> PredictionCodes:
    """The predictions of a run as codes into ``labels``, in one streaming pass over its
    predictions file; ResultsError naming the first bad line (see ``prediction_codes``)."""
    path = _predictions_path(run_dir)
    if path.name == PARQUET_PREDICTIONS_FILE:
        rows = _parquet_rows(path, full=False)
        return prediction_codes(rows, labels, source=str(path), label_sets=label_sets)
    return prediction_codes(
        _prediction_lines(path), labels, source=str(path), unit="line", label_sets=label_sets
    )


def prediction_codes(
    rows: Iterable[tuple[int, Any]],
    labels: list[str],
    *,
    source: str,
    unit: str = "row",
    label_sets: bool = False,
) -> PredictionCodes:
    """Numbered prediction rows as codes into ``labels``, sorted by index.

    Every row must be an object with a unique 64-bit integer ``index`` and a ``gold`` and
    ``predicted`` label from ``labels`` (with ``label_sets``, a list of them, each at most
    once); ResultsError names the first row (``unit`` and number of ``source``) that is not.
    """

    def bad(problem: str, number: int) -> ResultsError:
        return ResultsError(
            f"a predictions file is malformed ({problem} in {unit} {number} of {source}); "
            "re-run `cardgen evaluate`"
        )

    code = {label: i for i, label in enumerate(labels)}
    index, numbers = array("q"), array("q")
    columns = {"gold": array("i"), "predicted": array("i")}
    members: dict[str, array[int]] = {"gold": array("q"), "predicted": array("q")}
    for number, row in rows:
        if not isinstance(row, dict):
            raise bad(f"{quote(row, 60)} is not an object", number)
        for key in ("index", "gold", "predicted"):
            if key not in row:
                raise bad(f"no {key!r}", number)
        value = row["index"]
        if isinstance(value, bool) or not isinstance(value, int):
            raise bad(f"'index' is {quote(value, 60)}, not an integer", number)
        if not _INT64_MIN <= value <= _INT64_MAX:
            raise bad(f"'index' {quote(value, 60)} is out of the 64-bit range", number)
        for key, column in columns.items():
            found, problem = _labels_of(row[key], key, code, label_sets)
            if problem is not None:
                raise bad(problem, number)
            if label_sets:  # (position, label) pairs: one per label in the row's set
                for label in found:
                    members[key].extend((len(index), label))
            else:
                column.extend(found)
        index.append(value)
        numbers.append(number)
    indices = np.frombuffer(index, dtype=np.int64)
    order = np.argsort(indices, kind="stable")
    ranked = indices[order]
    repeated = order[1:][ranked[1:] == ranked[:-1]]
    if repeated.size:
        first = int(repeated.min())  # the earliest row that repeats an index seen before it
        raise bad(f"'index' {indices[first]} appears twice", numbers[first])
    gold: NDArray[Any]
    predicted: NDArray[Any]
    if label_sets:
        gold, predicted = (
            _multi_hot(members[key], len(index), len(labels))[order] for key in members
        )
    else:
        gold, predicted = (np.frombuffer(columns[key], dtype=np.int32)[order] for key in columns)
    return PredictionCodes(list(labels), ranked, gold, predicted)


def _labels_of(
    given: Any, key: str, code: dict[str, int], label_sets: bool
) -> tuple[list[int], str | None]:
    """The codes of a row's ``key`` (one label, or with ``label_sets`` a list of distinct
    labels), or why it is not that."""
    if label_sets and not isinstance(given, list):
        return [], f"{key!r} is {quote(given, 60)}, not a list of labels"
    found = []
    for label in given if label_sets else [given]:
        if not isinstance(label, str):
            return [], f"{key!r} is {quote(label, 60)}, not a label"
        if label not in code:
            known = quote(", ".join(code))
            return [], f"{key!r} is {quote(label, 60)}, not one of the run's labels {known}"
        found.append(code[label])
    if len(set(found)) < len(found):
        return [], f"{key!r} lists a label twice: {quote(given, 60)}"
    return found, None


def _multi_hot(pairs: array[int], rows: int, k: int) -> NDArray[np.bool_]:
    """(rows, k) booleans from flat (row, label code) pairs."""
    flat = np.frombuffer(pairs, dtype=np.int64).reshape(-1, 2)
    out = np.zeros((rows, k), dtype=bool)
    out[flat[:, 0], flat[:, 1]] = True
    return out


def _predictions_path(run_dir: str | Path) -> Path:
    """The run's predictions: any entry of the name but a plain directory, so that an entry
    cardgen must not read (a link out, a FIFO) is refused when read rather than skipped."""
    path = Path(run_dir) / PREDICTIONS_FILE
    if os.path.lexists(path) and (path.is_symlink() or not path.is_dir()):
        return path
    if os.path.lexists(Path(run_dir) / PARQUET_PREDICTIONS_FILE):
        return Path(run_dir) / PARQUET_PREDICTIONS_FILE
    raise ResultsError(f"no predictions file at {path} (or {PARQUET_PREDICTIONS_FILE} beside it)")


def _parquet_rows(path: Path, *, full: bool) -> Iterator[tuple[int, dict[str, Any]]]:
    """The rows of a Parquet predictions file or directory (its ``*.parquet`` parts in name
    order) as (row number, row), a batch at a time; without ``full``, only index, gold and
    predicted. ResultsError for a file pyarrow cannot read or without those columns."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    run_dir = path.parent
    real = contained(path, run_dir, error=ResultsError, what="predictions")
    parts = sorted(path.glob("*.parquet")) if real.is_dir() else [path]
    columns = ["index", "gold", "predicted", *(["probabilities"] if full else [])]
    number = 0
    for part in parts:
        source = open_regular(part, error=ResultsError, what="predictions file", base=run_dir)
        try:
            with source, pq.ParquetFile(source) as parquet:
                missing = [c for c in columns if c not in parquet.schema_arrow.names]
                if missing:
                    raise ResultsError(f"it has no column {quote(missing[0])}")
                for batch in parquet.iter_batches(batch_size=_PARQUET_BATCH, columns=columns):
                    for row in batch.to_pylist():
                        number += 1
                        if full and isinstance(row["probabilities"], list):
                            row["probabilities"] = dict(row["probabilities"])
                        yield number, row
        except (ResultsError, pa.ArrowException, OSError, ValueError, TypeError) as exc:
            raise ResultsError(
                f"cannot read predictions file {part}: {quote(str(exc))}; re-run "
                "`cardgen evaluate` to rewrite it"
            ) from None


def _prediction_lines(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """The non-blank lines of a predictions file as (line number, row), streamed; ResultsError
    naming the line that is too long, not UTF-8, not JSON or not a row with probabilities."""
    lines = read_lines(path, error=ResultsError, what="predictions file", base=path.parent)
    try:
        for number, line in lines:
            if not line.strip():
                continue
            row = parse_json(line, source=f"line {number}", error=ResultsError)
            if not isinstance(row, dict) or not isinstance(row.get("probabilities"), dict):
                raise ResultsError(f"line {number} is not a prediction with probabilities")
            yield number, row
    except ResultsError as exc:
        raise ResultsError(
            f"cannot read predictions file {path}: {exc}; re-run `cardgen evaluate` to rewrite it"
        ) from None
