"""The results file: the one contract between ``evaluate`` and ``card`` / ``gate`` / ``push``.

Plain dataclasses with ``to_dict`` / ``from_dict``; this module never imports torch.
"""

from __future__ import annotations

import math
import os
from dataclasses import MISSING, asdict, dataclass, field, fields, is_dataclass
from pathlib import Path, PurePosixPath
from types import UnionType
from typing import Any, Union, get_args, get_origin, get_type_hints

from cardgen.errors import ResultsError
from cardgen.results.types import (
    COMMIT_ID,
    PAIR_TRUNCATION,
    TASKS,
    Calibration,
    CalibrationBin,
    ClassMetrics,
    ConfusedPair,
    ConfusionMatrix,
    DatasetInfo,
    FailureAnalysis,
    FailureExample,
    FalsePositivePair,
    LabelDetail,
    LabelIssues,
    LabelMapping,
    Metric,
    ModelInfo,
    MultiLabelResults,
    ProbeResult,
    ProbeTerm,
    RobustnessExample,
    RobustnessResult,
    SliceGap,
    SliceResult,
    SliceValue,
    TextPair,
    Timing,
)
from cardgen.trust.atomic import write_json
from cardgen.trust.untrusted import MAX_LABELS, parse_json, quote, read_text

__all__ = [
    "Calibration",
    "CalibrationBin",
    "ClassMetrics",
    "ConfusedPair",
    "ConfusionMatrix",
    "DatasetInfo",
    "EvalResults",
    "FailureAnalysis",
    "FailureExample",
    "FalsePositivePair",
    "LabelDetail",
    "LabelIssues",
    "LabelMapping",
    "Metric",
    "ModelInfo",
    "MultiLabelResults",
    "PAIR_TRUNCATION",
    "PREDICTIONS_FILE",
    "ProbeResult",
    "ProbeTerm",
    "RESULTS_FILE",
    "RobustnessExample",
    "RobustnessResult",
    "SCHEMA_VERSION",
    "SliceGap",
    "SliceResult",
    "SliceValue",
    "TASKS",
    "TextPair",
    "Timing",
    "load_results",
]

SCHEMA_VERSION = 1
RESULTS_FILE = "results.json"
PREDICTIONS_FILE = "predictions.jsonl"


@dataclass
class EvalResults:
    """Everything ``cardgen evaluate`` measured: the content of ``results.json``."""

    model: ModelInfo
    dataset: DatasetInfo
    label_mapping: LabelMapping
    labels: list[str]
    metrics: dict[str, Metric]
    per_class: list[ClassMetrics]
    confusion_matrix: ConfusionMatrix
    calibration: Calibration | None
    timing: Timing | None
    environment: dict[str, str]
    seed: int
    created_at: str
    cardgen_version: str
    warnings: list[str] = field(default_factory=list)
    probes: dict[str, ProbeResult] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)
    slices: dict[str, SliceResult] = field(default_factory=dict)
    failures: FailureAnalysis | None = None
    robustness: dict[str, RobustnessResult] = field(default_factory=dict)
    schema_version: int = SCHEMA_VERSION
    task: str = "single_label"
    multilabel: MultiLabelResults | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict, ``schema_version`` first."""
        data = asdict(self)
        return {"schema_version": data.pop("schema_version"), **data}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EvalResults:
        """Build from a parsed results file; raise ResultsError on an unknown schema."""
        version = data.get("schema_version")
        if version != SCHEMA_VERSION:
            raise ResultsError(
                f"results schema version {version!r} is not supported by this cardgen "
                f"(it reads version {SCHEMA_VERSION}); re-run `cardgen evaluate` to regenerate it"
            )
        try:
            return _check_consistent(_build(cls, data))
        except ResultsError as exc:
            raise ResultsError(f"results file is malformed: {exc}") from None

    def save(self, output_dir: str | Path) -> Path:
        """Write ``results.json`` atomically into ``output_dir`` and return its path."""
        path = Path(output_dir) / RESULTS_FILE
        write_json(path, self.to_dict())
        return path


def _build(cls: Any, data: Any, where: str = "") -> Any:
    """Turn a parsed dict into dataclass ``cls``, checking every value against its type hints."""
    if not isinstance(data, dict):
        raise ResultsError(f"{_at(where)} must be an object, got {_kind(data)}")
    hints = get_type_hints(cls)
    values = {}
    for f in fields(cls):
        if f.name in data:
            values[f.name] = _convert(hints[f.name], data[f.name], f"{where}.{f.name}".lstrip("."))
        elif f.default is MISSING and f.default_factory is MISSING:
            raise ResultsError(f"{_at(where)} lacks the key {f.name!r}")
    return cls(**values)


def _convert(kind: Any, value: Any, where: str) -> Any:
    origin, args = get_origin(kind), get_args(kind)
    if origin in (Union, UnionType):
        if value is None and type(None) in args:
            return None
        return _convert(next(a for a in args if a is not type(None)), value, where)
    if is_dataclass(kind):
        return _build(kind, value, where)
    if origin is list or origin is tuple:
        if not isinstance(value, list):
            raise ResultsError(f"{_at(where)} must be a list, got {_kind(value)}")
        if origin is tuple:
            if len(value) != len(args):
                raise ResultsError(f"{_at(where)} must have {len(args)} items, got {len(value)}")
            return tuple(
                _convert(a, v, f"{where}[{i}]")
                for i, (a, v) in enumerate(zip(args, value, strict=True))
            )
        return [_convert(args[0], item, f"{where}[{i}]") for i, item in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise ResultsError(f"{_at(where)} must be an object, got {_kind(value)}")
        return {key: _convert(args[1], item, f"{where}.{key}") for key, item in value.items()}
    if kind is float:
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            raise ResultsError(f"{_at(where)} must be a finite number, got {quote(value)}")
        return value
    if kind is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ResultsError(f"{_at(where)} must be an integer, got {quote(value)}")
        return value
    if kind in (str, bool) and not isinstance(value, kind):
        raise ResultsError(f"{_at(where)} must be a {kind.__name__}, got {quote(value)}")
    return value


def _check_file_name(name: str) -> None:
    """A file a run lists must be a plain relative path inside the run directory."""
    parts = PurePosixPath(name).parts
    if (
        not name
        or len(name) > 255
        or "\x00" in name
        or "\\" in name
        or name.startswith("/")
        or ".." in parts
    ):
        raise ResultsError(
            f"the results list the file {quote(name)}, which is not a plain path inside the run "
            "directory; re-run `cardgen evaluate`"
        )


def _at(where: str) -> str:
    return f"results field {where!r}" if where else "the results file"


def _kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _check_consistent(results: EvalResults) -> EvalResults:
    """The label list, confusion matrix and row count agree with each other and are bounded;
    the dataset's revision, if any, is a commit id."""
    revision = results.dataset.revision
    if revision is not None and not COMMIT_ID.fullmatch(revision):
        raise ResultsError(
            f"dataset.revision must be the 40-character commit id of a Hub dataset, got "
            f"{quote(revision)}; re-run `cardgen evaluate`"
        )
    labels = results.labels
    if len(labels) > MAX_LABELS or len(set(labels)) != len(labels):
        raise ResultsError(
            f"the results list {len(labels):,} labels ({len(set(labels)):,} distinct); at most "
            f"{MAX_LABELS:,} distinct labels are supported"
        )
    if results.task not in TASKS or (results.task == "multi_label") != bool(results.multilabel):
        raise ResultsError(
            f"task {quote(results.task)} must be one of {', '.join(TASKS)}, with a multilabel "
            "section exactly when it is multi_label"
        )
    if results.multilabel is not None:
        _check_multilabel(results, results.multilabel)
        return results
    counts = results.confusion_matrix.counts
    if results.confusion_matrix.labels != labels or any(len(row) != len(labels) for row in counts):
        raise ResultsError("the confusion matrix does not match the results' labels")
    if len(counts) != len(labels) or any(c < 0 for row in counts for c in row):
        raise ResultsError("the confusion matrix must be square with non-negative counts")
    names = [*results.files.values(), *(p.plot for p in results.probes.values() if p.plot)]
    for name in names:
        _check_file_name(name)
    if sum(map(sum, counts)) != results.dataset.num_rows:
        raise ResultsError(
            f"the confusion matrix counts {sum(map(sum, counts)):,} rows but the dataset "
            f"{results.dataset.num_rows:,}; re-run `cardgen evaluate`"
        )
    return results


def _check_multilabel(results: EvalResults, section: MultiLabelResults) -> None:
    """A multi-label run has no confusion matrix, and one 2x2 table per label of its rows."""
    labels = results.labels
    if results.confusion_matrix.labels or results.confusion_matrix.counts:
        raise ResultsError("a multi-label run must have an empty confusion matrix")
    rows = [r.label for r in results.per_class]
    if [d.label for d in section.labels] != labels or rows != labels:
        raise ResultsError("the per-label results do not match the results' labels")
    for d in section.labels:
        cells = (d.tp, d.fp, d.fn, d.tn)
        if min(cells) < 0 or sum(cells) != results.dataset.num_rows:
            raise ResultsError(
                f"the 2x2 table of label {quote(d.label)} does not count the dataset's "
                f"{results.dataset.num_rows:,} rows; re-run `cardgen evaluate`"
            )
    for name in results.files.values():
        _check_file_name(name)


def load_results(path: str | Path) -> EvalResults:
    """Load a results file, or the ``results.json`` inside a run directory; it must be a
    regular file that stays inside its directory (a link out is refused)."""
    target = Path(path)
    if target.is_dir():
        target = target / RESULTS_FILE
    if not os.path.lexists(target):
        raise ResultsError(
            f"no results file at {target}; run `cardgen evaluate --output-dir DIR` first"
        )
    text = read_text(  # utf-8-sig: a byte order mark, which Windows editors add, is dropped
        target, error=ResultsError, what="results file", base=target.parent, encoding="utf-8-sig"
    )
    data = parse_json(text, source=f"results file {target}", error=ResultsError)
    if not isinstance(data, dict):
        raise ResultsError(f"results file {target} does not hold a JSON object")
    return EvalResults.from_dict(data)
