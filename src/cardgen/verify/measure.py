"""A claimed metric recomputed from a run, the way its id and arguments define it.

Metric ids are those of the Hub and ``evaluate`` (scikit-learn's definitions): ``accuracy``,
``balanced_accuracy``, ``f1`` / ``precision`` / ``recall`` with ``average`` (``macro``,
``weighted``, ``micro``, ``binary`` with ``pos_label``, and ``samples`` for multi-label runs),
``roc_auc`` (binary, or ``multi_class: ovr`` with the macro average), and for multi-label runs
``subset_accuracy`` and ``hamming_loss``; cardgen's own results keys (``macro_f1``) too.
Nothing is guessed: an id or argument cardgen does not know makes the claim not checkable, and
an id whose meaning depends on a missing argument (``f1`` on more than two classes, ``accuracy``
of a multi-label run) is ambiguous, with the value of each reading.

Values come from the run's results with their 95% bootstrap CIs; the scores of one class of a
binary model (``average: binary``) are bootstrapped here from the run's confusion matrix, as
``cardgen.tasks.metrics`` bootstraps the others.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from cardgen.cards.conventions import metric_key
from cardgen.results.schema import EvalResults, Metric
from cardgen.tasks.metrics import bootstrap_confusion, per_class_scores, percentile_intervals
from cardgen.trust.untrusted import quote

CLASSIFICATION_TASKS = frozenset(
    {
        "text-classification",
        "sentiment-analysis",
        "sentiment-classification",
        "natural-language-inference",
        "multi-class-classification",
        "multi-label-classification",
    }
)
SCORES = ("f1", "precision", "recall")
AVERAGES = ("macro", "weighted", "micro", "samples", "binary")
PLAIN = ("accuracy", "balanced_accuracy", "subset_accuracy", "hamming_loss")
KNOWN_IDS = frozenset({*SCORES, *PLAIN, "roc_auc"})
_ALLOWED_ARGS = {"average", "pos_label", "multi_class", "normalize", "zero_division"}
_DEFAULT_ARGS: dict[str, tuple[Any, ...]] = {"normalize": (True,), "zero_division": (0, "warn")}
"""Arguments whose other values define another number (a count of right rows, ill-defined
ratios taken as 1): cardgen computes only these."""
_MULTILABEL_ONLY = ("subset_accuracy", "hamming_loss")


@dataclass(frozen=True)
class Measured:
    """The recomputed value of a claim (``key`` names it, as results keys do)."""

    key: str
    metric: Metric


@dataclass(frozen=True)
class Unchecked:
    """Why a claim cannot be compared with one value: ``ambiguous`` (with the value of each
    reading in ``readings``) or ``not_checkable``."""

    verdict: str
    reason: str
    readings: dict[str, Metric] = field(default_factory=dict)


def precheck(task: str | None, metric: str, args: Mapping[str, Any], value: float) -> str | None:
    """Why a claim cannot be checked whatever the run gives (another task, an unknown metric
    id or argument, a value that is no fraction), or None."""
    if task is not None and task not in CLASSIFICATION_TASKS:
        return (
            f"task mismatch: the claim is for task {quote(task)}; cardgen verifies text "
            "classification"
        )
    legacy = metric_key(metric, args)
    if metric not in KNOWN_IDS and not _results_key(legacy):
        return f"unknown metric id {quote(metric)}: cardgen does not know how it is defined"
    unknown = sorted(set(args) - _ALLOWED_ARGS)
    if unknown:
        return f"metric argument(s) {', '.join(map(quote, unknown))} that cardgen does not compute"
    for name, default in _DEFAULT_ARGS.items():
        if name in args and args[name] not in default:
            return (
                f"metric argument {name}: {quote(args[name])}, and cardgen computes only "
                f"{name}: {default[0]} (scikit-learn's default)"
            )
    average = args.get("average")
    if metric in SCORES and average is not None and average not in AVERAGES:
        return f"unknown average {quote(average)} for {metric}"
    if not 0.0 <= value <= 1.0:
        return (
            f"the value {value:g} is not a fraction in [0, 1] (a percentage?); cardgen does not "
            "guess its scale: write it as a fraction"
        )
    return None


def _results_key(key: str) -> bool:
    """Whether ``key`` is a results key cardgen writes as a metric type (``macro_f1``)."""
    average, _, score = key.partition("_")
    return average in AVERAGES and score in SCORES


def measure(
    metric: str, args: Mapping[str, Any], results: EvalResults, *, n_bootstrap: int, seed: int
) -> Measured | Unchecked:
    """The value of ``metric`` with ``args`` on the run ``results`` (see the module)."""
    multi = results.task == "multi_label"
    key = metric_key(metric, args)
    if _results_key(key):
        return _lookup(key, results, multi)
    if metric in PLAIN:
        if metric == "accuracy" and multi:
            return Unchecked(
                "ambiguous",
                "accuracy of a multi-label run is either subset accuracy (every label of a row "
                "right) or label accuracy (1 - Hamming loss); write the metric as one of those",
                _readings(results, {"subset": "subset_accuracy", "label": "hamming_loss"}),
            )
        if metric in _MULTILABEL_ONLY and not multi:
            return Unchecked("not_checkable", f"task mismatch: {metric} is a multi-label metric")
        return _lookup(metric, results, multi)
    if metric == "roc_auc":
        return _roc_auc(args, results, multi)
    return _score(metric, args, results, multi, n_bootstrap=n_bootstrap, seed=seed)


def _lookup(key: str, results: EvalResults, multi: bool) -> Measured | Unchecked:
    if key.startswith("samples_") and not multi:
        return Unchecked(
            "not_checkable", "task mismatch: the samples average is for multi-label runs"
        )
    found = results.metrics.get(key)
    if found is None:
        return Unchecked("not_checkable", f"the run has no {key} to compare with")
    return Measured(key, found)


def _score(
    metric: str,
    args: Mapping[str, Any],
    results: EvalResults,
    multi: bool,
    *,
    n_bootstrap: int,
    seed: int,
) -> Measured | Unchecked:
    """An f1 / precision / recall claim with no average, or ``average: binary``."""
    two = len(results.labels) == 2
    if args.get("average") is None and (multi or not two):
        averages = ("micro", "macro", "weighted", "samples") if multi else AVERAGES[:3]
        kind = "multi-label" if multi else f"{len(results.labels)}-class"
        return Unchecked(
            "ambiguous",
            f"{metric} without an average on a {kind} run has no single meaning; add "
            "args: {average: ...} to the claim",
            _readings(results, {a: f"{a}_{metric}" for a in averages}),
        )
    if multi or not two:
        return Unchecked(
            "not_checkable",
            f"task mismatch: average binary needs two classes; this run has {len(results.labels)}"
            + (" labels (multi-label)" if multi else ""),
        )
    positive = _positive(args.get("pos_label", 1), results)
    if isinstance(positive, Unchecked):
        return positive
    return Measured(
        f"{metric}[{positive}]", _class_score(results, metric, positive, n_bootstrap, seed)
    )


def _positive(pos_label: Any, results: EvalResults) -> str | Unchecked:
    """The label that ``pos_label`` names: a label name, or a class id whose label the model
    and the dataset agree on."""
    labels = results.labels
    if isinstance(pos_label, str) and not pos_label.lstrip("-").isdigit():
        if pos_label in labels:
            return pos_label
        return Unchecked(
            "not_checkable",
            f"label set mismatch: pos_label {quote(pos_label)} is not one of the run's labels "
            f"({', '.join(labels)})",
        )
    if isinstance(pos_label, bool) or not isinstance(pos_label, int | str):
        return Unchecked("not_checkable", f"pos_label {quote(pos_label)} is no label or class id")
    index = int(pos_label)
    if not 0 <= index < len(labels):
        return Unchecked(
            "not_checkable", f"label set mismatch: class id {index} is not one of the run's 2"
        )
    model = results.model.labels
    mapped = results.label_mapping.model_to_dataset
    if index < len(model) and mapped.get(model[index]) == labels[index]:
        return labels[index]
    return Unchecked(
        "ambiguous",
        f"pos_label {index} is a class id, and the model's class {index} and the dataset's do "
        "not name the same label here; write pos_label as a label name",
        {label: Metric(row.f1) for label, row in zip(labels, results.per_class, strict=True)},
    )


def _class_score(
    results: EvalResults, metric: str, label: str, n_bootstrap: int, seed: int
) -> Metric:
    """One class's precision, recall or F1 with a percentile CI over ``n_bootstrap`` resamples
    of the run's confusion matrix."""
    index = results.labels.index(label)
    value = float(getattr(results.per_class[index], metric))
    if n_bootstrap <= 0:
        return Metric(value)
    cm = np.asarray(results.confusion_matrix.counts, dtype=np.int64)
    resamples = bootstrap_confusion(cm, n_bootstrap, seed=seed)
    replicates = per_class_scores(resamples, zero_division=np.nan)
    low, high, undefined = percentile_intervals(replicates[metric][:, index])
    if np.isnan(low):
        return Metric(value, None, None, int(undefined))
    return Metric(value, float(low), float(high), int(undefined))


def _roc_auc(args: Mapping[str, Any], results: EvalResults, multi: bool) -> Measured | Unchecked:
    """ROC AUC as cardgen computes it: of either class for two classes (each class's AUC,
    ranked by its own probability, is the same), one-vs-rest macro for more, macro over labels
    for multi-label runs."""
    average, scheme = args.get("average"), args.get("multi_class")
    if average not in (None, "macro"):
        return Unchecked("not_checkable", f"cardgen computes only the macro ROC AUC, not {average}")
    if not multi and len(results.labels) > 2:
        if scheme is None:
            return Unchecked(
                "ambiguous",
                f"roc_auc of a {len(results.labels)}-class run needs multi_class (ovr or ovo); "
                "cardgen computes one-vs-rest",
                _readings(results, {"ovr": "roc_auc"}),
            )
        if scheme != "ovr":
            return Unchecked("not_checkable", f"cardgen computes ROC AUC one-vs-rest, not {scheme}")
    return _lookup("roc_auc", results, multi)  # of two classes: the same whichever is positive


def _readings(results: EvalResults, keys: Mapping[str, str]) -> dict[str, Metric]:
    """The value of each reading of an ambiguous claim that the run has; label accuracy is
    1 - Hamming loss."""
    found = {}
    for reading, key in keys.items():
        metric = results.metrics.get(key)
        if metric is None:
            continue
        if key == "hamming_loss":
            low, high = metric.ci_low, metric.ci_high
            metric = Metric(
                1 - metric.value,
                None if high is None else 1 - high,
                None if low is None else 1 - low,
            )
        found[reading] = metric
    return found
