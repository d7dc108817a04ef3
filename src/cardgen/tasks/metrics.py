"""Classification metrics, computed once from confusion matrices, with bootstrap CIs.

Every confusion-matrix metric is a vectorised function of a stack of matrices, so the point
estimate and all bootstrap resamples go through the same code, and matrices from shards can be
merged by adding them. A bootstrap resample of n examples has multinomial cell counts with the
observed cell frequencies, so resampling matrices is exactly the percentile bootstrap over
examples, at a fraction of the cost.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from cardgen.results.schema import (
    Calibration,
    CalibrationBin,
    ClassMetrics,
    ConfusionMatrix,
    Metric,
)

CONFUSION_METRICS = (
    "accuracy",
    "balanced_accuracy",
    "macro_precision",
    "macro_recall",
    "macro_f1",
    "weighted_precision",
    "weighted_recall",
    "weighted_f1",
    "micro_precision",
    "micro_recall",
    "micro_f1",
)


@dataclass
class MetricsReport:
    """What ``compute_metrics`` returns: the metric table and the pieces cards are made of."""

    metrics: dict[str, Metric]
    per_class: list[ClassMetrics]
    confusion_matrix: ConfusionMatrix
    calibration: Calibration | None


def confusion_counts(
    y_true: NDArray[np.int_], y_pred: NDArray[np.int_], n_labels: int
) -> NDArray[np.int64]:
    """Confusion matrix, rows = gold, columns = predicted."""
    codes = np.asarray(y_true) * n_labels + np.asarray(y_pred)
    return np.bincount(codes, minlength=n_labels * n_labels).reshape(n_labels, n_labels)


def _ratio(num: NDArray[Any], den: NDArray[Any], zero_division: float = 0.0) -> NDArray[np.float64]:
    """num / den, with ``zero_division`` where den is 0 (scikit-learn's default is 0)."""
    out = np.full(np.broadcast(num, den).shape, zero_division, dtype=np.float64)
    np.divide(num, den, out=out, where=den > 0)
    return out


def per_class_scores(
    cms: NDArray[np.int64], *, zero_division: float = 0.0
) -> dict[str, NDArray[np.float64]]:
    """Precision, recall, F1 and support per class for a stack of matrices (..., K, K).

    A 0/0 ratio (recall of a class without gold rows, precision of one never predicted, F1 of
    one with neither) is ``zero_division``: 0 as scikit-learn's default for reported values,
    NaN in bootstrap resamples, where it is undefined and must not count as a 0.
    """
    cms = cms.astype(np.float64)
    tp = np.diagonal(cms, axis1=-2, axis2=-1)
    support = cms.sum(axis=-1)
    predicted = cms.sum(axis=-2)
    return {
        "precision": _ratio(tp, predicted, zero_division),
        "recall": _ratio(tp, support, zero_division),
        "f1": _ratio(2 * tp, support + predicted, zero_division),
        "support": support,
        "predicted": predicted,
    }


def percentile_intervals(
    replicates: NDArray[np.float64],
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.int64]]:
    """The 2.5th and 97.5th percentiles of each row of ``replicates`` (..., B) over its defined
    resamples, and how many of each row's resamples were undefined (NaN: a 0/0 ratio) and left
    out; both bounds are NaN for a row without a defined resample."""
    replicates = np.asarray(replicates, dtype=np.float64)
    undefined = np.isnan(replicates).sum(axis=-1)
    if not undefined.any():
        low, high = np.percentile(replicates, [2.5, 97.5], axis=-1)
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # a row with no defined resample
            low, high = np.nanpercentile(replicates, [2.5, 97.5], axis=-1)
    return low, high, undefined.astype(np.int64)


def bootstrap_metrics(
    values: Sequence[float], replicates: NDArray[np.float64] | None
) -> list[Metric]:
    """A Metric per value with the 95% percentile CI of its row of ``replicates``
    (len(values), B) over the defined resamples (``percentile_intervals``); no CI for a value
    whose every resample was undefined, nor without replicates."""
    if replicates is None:
        return [Metric(float(v)) for v in values]
    low, high, undefined = percentile_intervals(np.asarray(replicates).reshape(len(values), -1))
    return [
        Metric(float(v), None, None, int(u))
        if np.isnan(a)
        else Metric(float(v), float(a), float(b), int(u))
        for v, a, b, u in zip(values, low, high, undefined, strict=True)
    ]


def confusion_metrics(cms: NDArray[np.int64]) -> dict[str, NDArray[np.float64]]:
    """Every name in CONFUSION_METRICS for a stack of matrices (..., K, K).

    Macro averages run over the labels that occur in gold or predictions, and balanced accuracy
    over the labels that occur in gold, as scikit-learn does without an explicit ``labels=``.
    """
    scores = per_class_scores(cms)
    support, predicted = scores["support"], scores["predicted"]
    n = support.sum(axis=-1)
    present = (support + predicted) > 0
    in_gold = support > 0
    accuracy = _ratio(np.trace(cms, axis1=-2, axis2=-1).astype(np.float64), n)
    out = {
        "accuracy": accuracy,
        "balanced_accuracy": _ratio((scores["recall"] * in_gold).sum(-1), in_gold.sum(-1)),
        "micro_precision": accuracy,
        "micro_recall": accuracy,
        "micro_f1": accuracy,
    }
    for name in ("precision", "recall", "f1"):
        out[f"macro_{name}"] = _ratio((scores[name] * present).sum(-1), present.sum(-1))
        out[f"weighted_{name}"] = _ratio((scores[name] * support).sum(-1), n)
    return out


def bootstrap_confusion(
    cm: NDArray[np.int64], n_resamples: int, *, seed: int = 0
) -> NDArray[np.int64]:
    """``n_resamples`` bootstrap replicates of a confusion matrix (multinomial over its cells)."""
    n = int(cm.sum())
    rng = np.random.default_rng(seed)
    draws = rng.multinomial(n, cm.ravel() / n, size=n_resamples)
    return draws.reshape(n_resamples, *cm.shape)


def expected_calibration_error(
    y_true: NDArray[np.int_], proba: NDArray[np.float64], *, n_bins: int = 15
) -> Calibration:
    """Top-label ECE over ``n_bins`` equal-width confidence bins (first bin closed at 0)."""
    return calibration_from_sums(*calibration_sums(y_true, proba, n_bins=n_bins))


def calibration_edges(n_bins: int) -> NDArray[np.float64]:
    """The bin edges of ``expected_calibration_error``: bin b holds edges[b] < confidence <=
    edges[b + 1], and confidence 0 falls in bin 0."""
    return np.linspace(0.0, 1.0, n_bins + 1)


def calibration_sums(
    y_true: NDArray[np.int_], proba: NDArray[np.float64], *, n_bins: int = 15
) -> tuple[NDArray[np.int64], NDArray[np.float64], NDArray[np.float64]]:
    """Per confidence bin: rows, sum of top-label confidence, and rows predicted correctly.

    Sums of shards add up to the sums of their union (``calibration_from_sums`` finishes them).
    """
    confidence = proba.max(axis=1)
    correct = proba.argmax(axis=1) == y_true
    edges = calibration_edges(n_bins)
    which = np.clip(np.searchsorted(edges, confidence, side="left") - 1, 0, n_bins - 1)
    masks = [which == b for b in range(n_bins)]
    return (
        np.array([int(mask.sum()) for mask in masks], dtype=np.int64),
        np.array([confidence[mask].sum() for mask in masks], dtype=np.float64),
        np.array([correct[mask].sum() for mask in masks], dtype=np.float64),
    )


def calibration_from_sums(
    counts: NDArray[np.int64], confidence: NDArray[np.float64], correct: NDArray[np.float64]
) -> Calibration:
    """The Calibration (per-bin means and ECE) of the per-bin sums of ``calibration_sums``."""
    n_bins, n = len(counts), int(counts.sum())
    edges = calibration_edges(n_bins)
    bins = []
    ece = 0.0
    for b in range(n_bins):
        count = int(counts[b])
        conf = float(confidence[b] / count) if count else 0.0
        acc = float(correct[b] / count) if count else 0.0
        ece += count / n * abs(acc - conf)
        bins.append(CalibrationBin(float(edges[b]), float(edges[b + 1]), count, conf, acc))
    return Calibration(ece=float(ece), n_bins=n_bins, bins=bins)


def log_loss_sum(y_true: NDArray[np.int_], proba: NDArray[np.float64]) -> float:
    """The summed negative log-likelihood of the gold labels (probabilities renormalised per
    row, clipped to [eps, 1 - eps]); divided by the rows, the log loss. Shards' sums add."""
    eps = np.finfo(proba.dtype).eps
    clipped = np.clip(proba / proba.sum(axis=1, keepdims=True), eps, 1 - eps)
    return float((-np.log(clipped[np.arange(len(y_true)), y_true])).sum())


def binary_roc_auc(positive: NDArray[np.bool_], scores: NDArray[np.float64]) -> float:
    """ROC-AUC of ``scores`` for the ``positive`` rows (both classes present): the Mann-Whitney
    statistic with tied scores counted as half, which is scikit-learn's ``roc_auc_score``."""
    positive = np.asarray(positive, dtype=bool)
    _, inverse, counts = np.unique(scores, return_inverse=True, return_counts=True)
    ends = np.cumsum(counts)
    ranks = (ends - (counts - 1) / 2.0)[inverse.reshape(-1)]  # average 1-based rank of ties
    n_pos = int(positive.sum())
    n_neg = len(positive) - n_pos
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def _roc_auc(y_true: NDArray[np.int_], scores: NDArray[np.float64]) -> float | None:
    """Binary AUC, or one-vs-rest macro AUC over the classes with both outcomes present."""
    k = scores.shape[1]
    classes = [1] if k == 2 else range(k)
    aucs = [
        binary_roc_auc(y_true == c, scores[:, c])
        for c in classes
        if 0 < (y_true == c).sum() < len(y_true)
    ]
    return float(np.mean(aucs)) if aucs else None


def compute_metrics(
    y_true: NDArray[np.int_],
    y_pred: NDArray[np.int_],
    labels: list[str],
    *,
    scores: NDArray[np.float64] | None = None,
    probabilistic: bool = True,
    n_bootstrap: int = 1000,
    seed: int = 0,
    n_calibration_bins: int = 15,
) -> MetricsReport:
    """All metrics for integer gold/predicted labels indexing ``labels``.

    ``scores`` (n, K) are class probabilities when ``probabilistic`` (log loss, calibration and
    ROC-AUC are computed), or monotone scores otherwise (ROC-AUC only). ``n_bootstrap=0`` skips
    the confidence intervals.
    """
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    cm = confusion_counts(y_true, y_pred, len(labels))
    auc = log_loss = calibration = None
    if scores is not None:
        auc = _roc_auc(y_true, scores)
        if probabilistic:
            log_loss = log_loss_sum(y_true, scores) / len(y_true)
            calibration = expected_calibration_error(y_true, scores, n_bins=n_calibration_bins)
    return finish_metrics(
        cm,
        labels,
        roc_auc=auc,
        log_loss=log_loss,
        calibration=calibration,
        n_bootstrap=n_bootstrap,
        seed=seed,
    )


def finish_metrics(
    cm: NDArray[np.int64],
    labels: list[str],
    *,
    roc_auc: float | None = None,
    log_loss: float | None = None,
    calibration: Calibration | None = None,
    n_bootstrap: int = 1000,
    seed: int = 0,
) -> MetricsReport:
    """The MetricsReport of a confusion matrix (rows gold, columns predicted) and the score
    metrics computed beside it; CIs bootstrap the matrix, so merged shards get the same ones."""
    point = confusion_metrics(cm)
    stack = None
    if n_bootstrap > 0:
        replicates = confusion_metrics(bootstrap_confusion(cm, n_bootstrap, seed=seed))
        stack = np.stack([replicates[name] for name in CONFUSION_METRICS])
    values = [float(point[name]) for name in CONFUSION_METRICS]
    metrics = dict(zip(CONFUSION_METRICS, bootstrap_metrics(values, stack), strict=True))
    if roc_auc is not None:
        metrics["roc_auc"] = Metric(roc_auc)
    if log_loss is not None:
        metrics["log_loss"] = Metric(log_loss)
    if calibration is not None:
        metrics["ece"] = Metric(calibration.ece)

    table = per_class_scores(cm)
    per_class = [
        ClassMetrics(
            label=label,
            precision=float(table["precision"][i]),
            recall=float(table["recall"][i]),
            f1=float(table["f1"][i]),
            support=int(table["support"][i]),
        )
        for i, label in enumerate(labels)
    ]
    return MetricsReport(
        metrics=metrics,
        per_class=per_class,
        confusion_matrix=ConfusionMatrix(labels=list(labels), counts=cm.tolist()),
        calibration=calibration,
    )
