"""The results file: the one contract between ``evaluate`` and ``card`` / ``gate`` / ``push``.

Plain dataclasses with ``to_dict`` / ``from_dict``; this module never imports torch.
"""

from __future__ import annotations

import math
from dataclasses import MISSING, asdict, dataclass, field, fields, is_dataclass
from pathlib import Path, PurePosixPath
from types import UnionType
from typing import Any, Union, get_args, get_origin, get_type_hints

from ._io import write_json
from ._untrusted import MAX_LABELS, parse_json, quote, read_text
from .errors import ResultsError

SCHEMA_VERSION = 1
RESULTS_FILE = "results.json"
PREDICTIONS_FILE = "predictions.jsonl"
PAIR_TRUNCATION = "longest_first"
"""How a too-long sentence pair is cut: tokens come off the longer text first."""


@dataclass
class Metric:
    """A metric value with its 95% bootstrap confidence interval (when one was computed)."""

    value: float
    ci_low: float | None = None
    ci_high: float | None = None


@dataclass
class ClassMetrics:
    """One row of the per-class table."""

    label: str
    precision: float
    recall: float
    f1: float
    support: int


@dataclass
class ConfusionMatrix:
    """Counts with rows = gold label and columns = predicted label, in ``labels`` order."""

    labels: list[str]
    counts: list[list[int]]

    def normalized(self) -> list[list[float]]:
        """Row-normalised matrix (recall on the diagonal); empty rows stay zero."""
        rows = []
        for row in self.counts:
            total = sum(row)
            rows.append([c / total if total else 0.0 for c in row])
        return rows


@dataclass
class CalibrationBin:
    lower: float
    upper: float
    count: int
    confidence: float
    accuracy: float


@dataclass
class Calibration:
    """Reliability of the top-class probability: expected calibration error and its bins."""

    ece: float
    n_bins: int
    bins: list[CalibrationBin]


@dataclass
class ModelInfo:
    """What was evaluated, precisely enough to find it again."""

    id: str
    framework: str
    labels: list[str]
    revision: str | None = None
    weights_hash: str | None = None
    architecture: str | None = None
    num_parameters: int | None = None
    max_length: int | None = None
    base_model: str | None = None


@dataclass
class TextPair:
    """The second text of a sentence-pair dataset: its column and the truncation strategy of
    the tokenizer call (``tokenizer(text, text_pair, truncation=...)``) for too-long pairs."""

    column: str
    truncation: str = PAIR_TRUNCATION


@dataclass
class DatasetInfo:
    """Where the evaluation rows came from, and a fingerprint of texts and labels.

    ``hub_id`` is the Hub dataset the rows are (``--dataset-id``), when the user said so.
    ``text_pair`` is set when each row is a pair of texts (``text_column``, then its column).
    """

    source: str
    split: str | None
    num_rows: int
    fingerprint: str
    text_column: str
    label_column: str
    labels: list[str]
    name: str | None = None
    config: str | None = None
    hub_id: str | None = None
    text_pair: TextPair | None = None


@dataclass
class LabelMapping:
    """How model labels were mapped onto dataset labels (``strategy``: name, index or file)."""

    strategy: str
    model_to_dataset: dict[str, str]


@dataclass
class Timing:
    device: str
    dtype: str
    batch_size: int
    wall_seconds: float
    examples_per_second: float
    tokens_per_second: float | None = None
    padding_ratio: float | None = None
    truncated: int = 0
    max_length: int | None = None
    hardware: str | None = None


@dataclass
class ProbeTerm:
    """One lexicon term: label probabilities averaged over templates, and their spread.

    ``target_std`` and ``target_by_template`` are the target label's probability per template
    (in ``ProbeResult.templates`` order) and its standard deviation across them.
    """

    term: str
    group: str | None
    probabilities: dict[str, float]
    target_std: float
    target_by_template: list[float]


@dataclass
class ProbeResult:
    """A template x lexicon bias probe, summarised for cards and the gate.

    All numbers are about the probability of ``target_label`` (a model label), averaged per
    term over templates. ``range`` is max - min over terms, with a bootstrap CI over templates;
    ``std`` is across terms. ``flip_rate`` is the share of fills whose predicted label differs
    from the most common prediction of their template; ``templates_flipped`` counts templates
    where the prediction changes with the term at all. ``lowest`` / ``highest`` hold the
    extreme terms, most extreme first. ``group_gap`` is the largest difference between group
    means, between the groups ``group_gap_between`` (lowest, highest). ``failure_rate`` is the
    share of fills not predicted as ``expected_label``. ``term_kind`` says what a term is
    ("country name"); ``plot`` is the plot's file name in the run directory.
    """

    name: str
    target_label: str
    templates: list[str]
    terms: list[ProbeTerm]
    range: Metric
    std: float
    flip_rate: float
    lowest: list[tuple[str, float]]
    highest: list[tuple[str, float]]
    group_means: dict[str, float] = field(default_factory=dict)
    group_gap: float | None = None
    expected_label: str | None = None
    failure_rate: float | None = None
    plot: str | None = None
    templates_flipped: int = 0
    group_gap_between: tuple[str, str] | None = None
    term_kind: str | None = None
    lexicon_source: str | None = None


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
    schema_version: int = SCHEMA_VERSION

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
    """The label list, confusion matrix and row count agree with each other and are bounded."""
    labels = results.labels
    if len(labels) > MAX_LABELS or len(set(labels)) != len(labels):
        raise ResultsError(
            f"the results list {len(labels):,} labels ({len(set(labels)):,} distinct); at most "
            f"{MAX_LABELS:,} distinct labels are supported"
        )
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


def load_results(path: str | Path) -> EvalResults:
    """Load a results file, or the ``results.json`` inside a run directory."""
    target = Path(path)
    if target.is_dir():
        target = target / RESULTS_FILE
    if not target.is_file():
        raise ResultsError(
            f"no results file at {target}; run `cardgen evaluate --output-dir DIR` first"
        )
    text = read_text(target, error=ResultsError, what="results file")
    data = parse_json(text, source=f"results file {target}", error=ResultsError)
    if not isinstance(data, dict):
        raise ResultsError(f"results file {target} does not hold a JSON object")
    return EvalResults.from_dict(data)
