"""Per-example predictions of a run (``predictions.jsonl``), read back as rows or, for the
gate's paired tests, streamed into compact label-code arrays."""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ._untrusted import parse_json, quote, read_lines
from .errors import ResultsError
from .results import PREDICTIONS_FILE

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


def load_predictions(run_dir: str | Path) -> list[dict[str, Any]]:
    """Per-example predictions of a run: index, gold, predicted and probabilities per class."""
    return [row for _, row in _prediction_lines(_predictions_path(run_dir))]


@dataclass(eq=False)
class PredictionCodes:
    """A run's per-example predictions in index order: gold and predicted labels as codes,
    positions in ``labels``."""

    labels: list[str]
    index: NDArray[np.int64]
    gold: NDArray[np.int32]
    predicted: NDArray[np.int32]


def read_prediction_codes(run_dir: str | Path, labels: list[str]) -> PredictionCodes:
    """The predictions of a run as codes into ``labels``, in one streaming pass over its
    predictions file; ResultsError naming the first bad line (see ``prediction_codes``)."""
    path = _predictions_path(run_dir)
    return prediction_codes(_prediction_lines(path), labels, source=str(path), unit="line")


def prediction_codes(
    rows: Iterable[tuple[int, Any]], labels: list[str], *, source: str, unit: str = "row"
) -> PredictionCodes:
    """Numbered prediction rows as codes into ``labels``, sorted by index.

    Every row must be an object with a unique 64-bit integer ``index`` and a ``gold`` and
    ``predicted`` label from ``labels``; ResultsError names the first row (``unit`` and number
    of ``source``) that is not.
    """

    def bad(problem: str, number: int) -> ResultsError:
        return ResultsError(
            f"a predictions file is malformed ({problem} in {unit} {number} of {source}); "
            "re-run `cardgen evaluate`"
        )

    code = {label: i for i, label in enumerate(labels)}
    index, numbers = array("q"), array("q")
    columns = {"gold": array("i"), "predicted": array("i")}
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
            label = row[key]
            if not isinstance(label, str):
                raise bad(f"{key!r} is {quote(label, 60)}, not a label", number)
            if label not in code:
                known = quote(", ".join(labels))
                problem = f"{key!r} is {quote(label, 60)}, not one of the run's labels {known}"
                raise bad(problem, number)
            column.append(code[label])
        index.append(value)
        numbers.append(number)
    indices = np.frombuffer(index, dtype=np.int64)
    order = np.argsort(indices, kind="stable")
    ranked = indices[order]
    repeated = order[1:][ranked[1:] == ranked[:-1]]
    if repeated.size:
        first = int(repeated.min())  # the earliest row that repeats an index seen before it
        raise bad(f"'index' {indices[first]} appears twice", numbers[first])
    gold, predicted = (np.frombuffer(columns[key], dtype=np.int32)[order] for key in columns)
    return PredictionCodes(list(labels), ranked, gold, predicted)


def _predictions_path(run_dir: str | Path) -> Path:
    path = Path(run_dir) / PREDICTIONS_FILE
    if not path.is_file():
        raise ResultsError(f"no predictions file at {path}")
    return path


def _prediction_lines(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """The non-blank lines of a predictions file as (line number, row), streamed; ResultsError
    naming the line that is too long, not UTF-8, not JSON or not a row with probabilities."""
    try:
        for number, line in read_lines(path, error=ResultsError, what="predictions file"):
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
