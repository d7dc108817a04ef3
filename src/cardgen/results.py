"""The results file: the one contract between ``evaluate`` and ``card`` / ``gate`` / ``push``.

Plain dataclasses with ``to_dict`` / ``from_dict``; this module never imports torch.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields, is_dataclass
from pathlib import Path
from types import UnionType
from typing import Any, Union, get_args, get_origin, get_type_hints

from ._io import write_json
from .errors import ResultsError

SCHEMA_VERSION = 1
RESULTS_FILE = "results.json"
PREDICTIONS_FILE = "predictions.jsonl"


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
class DatasetInfo:
    """Where the evaluation rows came from, and a fingerprint of texts and labels."""

    source: str
    split: str | None
    num_rows: int
    fingerprint: str
    text_column: str
    label_column: str
    labels: list[str]
    name: str | None = None
    config: str | None = None


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
            return _build(cls, data)
        except (KeyError, TypeError, ValueError) as exc:
            raise ResultsError(f"results file is malformed: {exc}") from exc

    def save(self, output_dir: str | Path) -> Path:
        """Write ``results.json`` atomically into ``output_dir`` and return its path."""
        path = Path(output_dir) / RESULTS_FILE
        write_json(path, self.to_dict())
        return path


def _build(cls: Any, data: dict[str, Any]) -> Any:
    """Turn a parsed dict into dataclass ``cls``, following its type hints into nested fields."""
    hints = get_type_hints(cls)
    return cls(
        **{f.name: _convert(hints[f.name], data[f.name]) for f in fields(cls) if f.name in data}
    )


def _convert(kind: Any, value: Any) -> Any:
    if value is None:
        return None
    origin, args = get_origin(kind), get_args(kind)
    if origin in (Union, UnionType):
        return _convert(next(a for a in args if a is not type(None)), value)
    if is_dataclass(kind):
        return _build(kind, value)
    if origin is list:
        return [_convert(args[0], item) for item in value]
    if origin is dict:
        return {key: _convert(args[1], item) for key, item in value.items()}
    if origin is tuple:
        return tuple(_convert(a, item) for a, item in zip(args, value, strict=True))
    return value


def load_results(path: str | Path) -> EvalResults:
    """Load a results file, or the ``results.json`` inside a run directory."""
    target = Path(path)
    if target.is_dir():
        target = target / RESULTS_FILE
    if not target.is_file():
        raise ResultsError(
            f"no results file at {target}; run `cardgen evaluate --output-dir DIR` first"
        )
    try:
        data = json.loads(target.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ResultsError(f"cannot read results file {target}: {exc}") from exc
    if not isinstance(data, dict):
        raise ResultsError(f"results file {target} does not hold a JSON object")
    return EvalResults.from_dict(data)


def load_predictions(run_dir: str | Path) -> list[dict[str, Any]]:
    """Per-example predictions of a run: index, gold, predicted and probabilities per class."""
    path = Path(run_dir) / PREDICTIONS_FILE
    if not path.is_file():
        raise ResultsError(f"no predictions file at {path}")
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]
