"""Multi-label metrics from gold and predicted label matrices, with bootstrap CIs over examples.

Every metric is a ratio of weighted sums over examples: per-label true positives, false
positives and false negatives, and per-example values (exact match, Hamming distance, the
samples-averaged precision / recall / F1, label counts). Examples with the same gold and
predicted label sets contribute the same values, so they are grouped into distinct patterns with
counts. The point estimate weighs each pattern by its count; a bootstrap resample weighs each
example by a Poisson(1) draw (the Poisson bootstrap: an example, not a cell, is the unit), so a
pattern seen c times gets a Poisson(c) weight. Resamples are drawn in chunks
(seeded per chunk, so label chunks see the same resamples) and multiplied into the sums, which
keeps memory bounded by a fixed budget however many rows, labels and resamples there are.
Ill-defined ratios are 0, as scikit-learn's ``zero_division`` default gives, in reported values
and in the per-label scores that macro averages add up; a CI leaves out the resamples where its
own ratio is 0/0 (a label's F1 in a resample where it is neither gold nor predicted), and says
how many it left out.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from cardgen.results.schema import (
    Calibration,
    CalibrationBin,
    ClassMetrics,
    FalsePositivePair,
    LabelDetail,
    Metric,
)
from cardgen.tasks.metrics import _ratio, binary_roc_auc, bootstrap_metrics, percentile_intervals

MULTILABEL_METRICS = (
    "micro_precision",
    "micro_recall",
    "micro_f1",
    "macro_precision",
    "macro_recall",
    "macro_f1",
    "weighted_precision",
    "weighted_recall",
    "weighted_f1",
    "samples_precision",
    "samples_recall",
    "samples_f1",
    "subset_accuracy",
    "hamming_loss",
    "label_cardinality",
    "predicted_label_cardinality",
)
"""The bootstrapped metrics of a multi-label run (all but ``roc_auc``, ``micro_roc_auc`` and
``ece``); cardinalities are mean labels per example, the others fractions."""
BUDGET = 1 << 22
"""Most floats in one weight block or one block of per-label sums (32 MB each)."""
TOP_FALSE_POSITIVES = 10

# Columns of the per-example table, summed with the example weights.
_EXAMPLE = ("weight", "tp", "fp", "fn", "exact", "hamming", "sp", "sr", "sf", "gold", "predicted")
# Per-resample sums over labels: precision, recall and F1, the same weighted by support, support.
_OVER_LABELS = ("p", "r", "f", "ps", "rs", "fs", "s")


@dataclass
class MultiLabelReport:
    """What ``compute_multilabel_metrics`` returns."""

    metrics: dict[str, Metric]
    per_class: list[ClassMetrics]
    details: list[LabelDetail]
    false_positives: list[FalsePositivePair]
    calibration: Calibration


def label_scores(
    tp: NDArray[Any], fp: NDArray[Any], fn: NDArray[Any]
) -> dict[str, NDArray[np.float64]]:
    """Precision, recall, F1 and support per label from (weighted) counts."""
    return {
        "precision": _ratio(tp, tp + fp),
        "recall": _ratio(tp, tp + fn),
        "f1": _ratio(2 * tp, 2 * tp + fp + fn),
        "support": np.asarray(tp + fn, dtype=np.float64),
    }


def _example_table(gold: NDArray[np.bool_], pred: NDArray[np.bool_]) -> NDArray[np.float64]:
    """One row per example, the columns of ``_EXAMPLE``."""
    tp = (gold & pred).sum(axis=1).astype(np.float64)
    fp = (~gold & pred).sum(axis=1).astype(np.float64)
    fn = (gold & ~pred).sum(axis=1).astype(np.float64)
    n_gold, n_pred = tp + fn, tp + fp
    k = max(gold.shape[1], 1)
    columns = (
        np.ones_like(tp),
        tp,
        fp,
        fn,
        (fp + fn == 0).astype(np.float64),
        (fp + fn) / k,
        _ratio(tp, n_pred),
        _ratio(tp, n_gold),
        _ratio(2 * tp, n_gold + n_pred),
        n_gold,
        n_pred,
    )
    return np.stack(columns, axis=1)


def _patterns(*matrices: NDArray[np.bool_]) -> tuple[NDArray[Any], ...]:
    """The distinct rows of ``matrices`` side by side (gold and predicted, say): each
    matrix's rows of them, then how many examples have each."""
    if not len(matrices[0]):
        return (*matrices, np.zeros(0, dtype=np.int64))
    packed = np.packbits(np.concatenate(matrices, axis=1), axis=1)
    rows = np.ascontiguousarray(packed).view(np.dtype((np.void, packed.shape[1]))).ravel()
    _, first, counts = np.unique(rows, return_index=True, return_counts=True)
    return (*(m[first] for m in matrices), counts)


def _weights(start: int, stop: int, counts: NDArray[np.int64], seed: int | None) -> NDArray[Any]:
    """Pattern weights of resamples ``start:stop``: the counts themselves (``seed=None``), or
    Poisson draws with the counts as means (the sum of an example weight per example)."""
    if seed is None:
        return counts[None, :].astype(np.float64)
    rng = np.random.default_rng([seed, start])
    return rng.poisson(counts, size=(stop - start, len(counts))).astype(np.float64)


def _chunks(total: int, size: int) -> Iterator[slice]:
    for start in range(0, max(total, 1), size):
        yield slice(start, min(start + size, total))


def _weighted_sums(
    gold: NDArray[np.bool_],
    pred: NDArray[np.bool_],
    counts: NDArray[np.int64],
    *,
    draws: int,
    seed: int | None,
) -> tuple[dict[str, NDArray[np.float64]], NDArray[np.float64], NDArray[np.int64]]:
    """Per-resample sums (``_EXAMPLE`` and ``_OVER_LABELS`` columns, each of shape (draws,))
    over patterns ``gold`` / ``pred`` seen ``counts`` times, the 2.5 and 97.5 percentiles of
    each label's F1 over the resamples where it is defined, shape (K, 2; NaN where it never
    is), and how many resamples each label's F1 was 0/0 in, shape (K,).

    ``seed=None`` weighs every pattern by its count (the point estimate, one "resample").
    """
    patterns, k = gold.shape
    draws = 1 if seed is None else draws
    draw_size = max(1, BUDGET // max(patterns, 1))
    label_size = max(1, BUDGET // (3 * draws))
    table = _example_table(gold, pred)
    examples = np.zeros((draws, len(_EXAMPLE)))
    over = np.zeros((draws, len(_OVER_LABELS)))
    f1_bounds = np.zeros((k, 2))
    f1_undefined = np.zeros(k, dtype=np.int64)
    for labels in _chunks(k, label_size):
        g, p = gold[:, labels], pred[:, labels]
        cells = [(a & b).astype(np.float64) for a, b in ((g, p), (~g, p), (g, ~p))]
        tp, fp, fn = (np.zeros((draws, g.shape[1])) for _ in range(3))
        for chunk in _chunks(draws, draw_size):
            w = _weights(chunk.start, chunk.stop, counts, seed)
            for total, cell in zip((tp, fp, fn), cells, strict=True):
                total[chunk] = w @ cell
            if labels.start == 0:
                examples[chunk] = w @ table
        over += _over_labels(tp, fp, fn)
        f1 = _ratio(2 * tp, 2 * tp + fp + fn, np.nan)  # undefined: neither gold nor predicted
        low, high, f1_undefined[labels] = percentile_intervals(f1.T)
        f1_bounds[labels] = np.stack([low, high], axis=1)
    sums = {name: examples[:, i] for i, name in enumerate(_EXAMPLE)}
    sums.update({name: over[:, i] for i, name in enumerate(_OVER_LABELS)})
    return sums, f1_bounds, f1_undefined


def _over_labels(tp: NDArray[Any], fp: NDArray[Any], fn: NDArray[Any]) -> NDArray[np.float64]:
    """The ``_OVER_LABELS`` sums of each resample, shape (draws, 7), from its per-label counts
    (each (draws, labels))."""
    s = label_scores(tp, fp, fn)
    support = s["support"]
    parts = (s["precision"], s["recall"], s["f1"])
    return np.stack(
        [*(x.sum(axis=1) for x in parts), *((x * support).sum(axis=1) for x in parts),
         support.sum(axis=1)],
        axis=1,
    )  # fmt: skip


def _aggregate(
    sums: dict[str, NDArray[np.float64]], k: int, zero_division: float = 0.0
) -> dict[str, NDArray[np.float64]]:
    """Every name in MULTILABEL_METRICS from the weighted sums of ``_weighted_sums``; a metric
    whose own ratio is 0/0 (micro precision of a resample with no predicted label) is
    ``zero_division``: NaN for resamples."""
    n, zero = sums["weight"], zero_division
    tp, fp, fn = sums["tp"], sums["fp"], sums["fn"]
    out = {
        "micro_precision": _ratio(tp, tp + fp, zero),
        "micro_recall": _ratio(tp, tp + fn, zero),
        "micro_f1": _ratio(2 * tp, 2 * tp + fp + fn, zero),
        "samples_precision": _ratio(sums["sp"], n, zero),
        "samples_recall": _ratio(sums["sr"], n, zero),
        "samples_f1": _ratio(sums["sf"], n, zero),
        "subset_accuracy": _ratio(sums["exact"], n, zero),
        "hamming_loss": _ratio(sums["hamming"], n, zero),
        "label_cardinality": _ratio(sums["gold"], n, zero),
        "predicted_label_cardinality": _ratio(sums["predicted"], n, zero),
    }
    for short, name in (("p", "precision"), ("r", "recall"), ("f", "f1")):
        out[f"macro_{name}"] = sums[short] / max(k, 1)
        out[f"weighted_{name}"] = _ratio(sums[f"{short}s"], sums["s"], zero)
    return out


def binary_calibration(
    gold: NDArray[np.bool_], proba: NDArray[np.float64], *, n_bins: int = 15
) -> Calibration:
    """Reliability of probabilities of a yes/no outcome: per equal-width probability bin, the
    mean probability (``confidence``) and the share of yes (``accuracy``); ECE weighs their gaps
    by the bin's share of the values. Bins are closed on the left, the first at 0 too."""
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    which = np.clip(np.searchsorted(edges, proba, side="left") - 1, 0, n_bins - 1)
    count = np.bincount(which, minlength=n_bins)
    conf = _ratio(np.bincount(which, weights=proba, minlength=n_bins), count)
    freq = _ratio(np.bincount(which, weights=gold.astype(np.float64), minlength=n_bins), count)
    ece = float((count * np.abs(freq - conf)).sum() / max(len(proba), 1))
    bins = [
        CalibrationBin(float(edges[b]), float(edges[b + 1]), int(count[b]), float(conf[b]),
                       float(freq[b]))
        for b in range(n_bins)
    ]  # fmt: skip
    return Calibration(ece=ece, n_bins=n_bins, bins=bins)


def _label_ece(
    gold: NDArray[np.bool_], proba: NDArray[np.float64], n_bins: int
) -> NDArray[np.float64]:
    """``binary_calibration(...).ece`` of every label column at once."""
    n, k = gold.shape
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    which = np.clip(np.searchsorted(edges, proba.ravel(), side="left") - 1, 0, n_bins - 1)
    code = (np.arange(k) * n_bins)[None, :].repeat(n, axis=0).ravel() + which
    size = k * n_bins
    conf = np.bincount(code, weights=proba.ravel(), minlength=size).reshape(k, n_bins)
    hits = np.bincount(code, weights=gold.ravel().astype(np.float64), minlength=size)
    gaps = np.abs(hits.reshape(k, n_bins) - conf)  # |sum(y) - sum(p)| = count * |freq - conf|
    return gaps.sum(axis=1) / max(n, 1)


def _roc_aucs(gold: NDArray[np.bool_], proba: NDArray[np.float64]) -> list[float | None]:
    """ROC-AUC per label; None for a label that is always or never gold."""
    n = len(gold)
    return [
        binary_roc_auc(gold[:, j], proba[:, j]) if 0 < gold[:, j].sum() < n else None
        for j in range(gold.shape[1])
    ]


def false_positive_pairs(
    gold: NDArray[np.bool_], pred: NDArray[np.bool_], labels: list[str], *, top: int
) -> list[FalsePositivePair]:
    """The ``top`` most frequent (false positive label, gold label of the same example) pairs;
    a false positive on an example without gold labels pairs with None."""
    false_pos = (pred & ~gold).astype(np.int64)
    counts = false_pos.T @ gold.astype(np.int64)  # [predicted, gold]
    alone = false_pos[gold.sum(axis=1) == 0].sum(axis=0)
    table = np.concatenate([counts, alone[:, None]], axis=1)
    order = np.argsort(-table, axis=None, kind="stable")[:top]
    pairs = []
    for flat in order:
        p, g = divmod(int(flat), table.shape[1])
        if table[p, g] == 0:
            break
        gold_label = labels[g] if g < len(labels) else None
        pairs.append(FalsePositivePair(labels[p], gold_label, int(table[p, g])))
    return pairs


def compute_multilabel_metrics(
    gold: NDArray[np.bool_],
    proba: NDArray[np.float64],
    thresholds: NDArray[np.float64],
    labels: list[str],
    *,
    n_bootstrap: int = 1000,
    seed: int = 0,
    n_calibration_bins: int = 15,
) -> MultiLabelReport:
    """All multi-label metrics for gold (n, K) booleans and probabilities (n, K) in ``labels``
    order; a label is predicted when its probability is at least its threshold.

    ``roc_auc`` is the macro average over labels that are sometimes but not always gold (the
    others have no AUC), ``micro_roc_auc`` pools every cell, ``ece`` pools every cell's
    probability (per-label ECE is in the details). ``n_bootstrap=0`` skips the CIs.
    """
    gold = np.asarray(gold, dtype=bool)
    pred = proba >= np.asarray(thresholds)[None, :]
    k = len(labels)
    patterns = _patterns(gold, pred)
    point_sums, _, _ = _weighted_sums(*patterns, draws=1, seed=None)
    point = _aggregate(point_sums, k)
    values = [float(point[name][0]) for name in MULTILABEL_METRICS]
    stack = f1_ci = f1_undefined = None
    if n_bootstrap > 0 and len(gold):
        sums, f1_ci, f1_undefined = _weighted_sums(*patterns, draws=n_bootstrap, seed=seed)
        replicates = _aggregate(sums, k, np.nan)
        stack = np.stack([replicates[name] for name in MULTILABEL_METRICS])
    metrics = dict(zip(MULTILABEL_METRICS, bootstrap_metrics(values, stack), strict=True))

    aucs = _roc_aucs(gold, proba)
    defined = [a for a in aucs if a is not None]
    if defined:
        metrics["roc_auc"] = Metric(float(np.mean(defined)))
    if 0 < gold.sum() < gold.size:
        metrics["micro_roc_auc"] = Metric(binary_roc_auc(gold.ravel(), proba.ravel()))
    calibration = binary_calibration(gold.ravel(), proba.ravel(), n_bins=n_calibration_bins)
    metrics["ece"] = Metric(calibration.ece)
    eces = _label_ece(gold, proba, n_calibration_bins)

    tp = (gold & pred).sum(axis=0)
    fp = (~gold & pred).sum(axis=0)
    fn = (gold & ~pred).sum(axis=0)
    tn = len(gold) - tp - fp - fn
    scores = label_scores(tp, fp, fn)
    per_class = [
        ClassMetrics(
            label=label,
            precision=float(scores["precision"][j]),
            recall=float(scores["recall"][j]),
            f1=float(scores["f1"][j]),
            support=int(tp[j] + fn[j]),
        )
        for j, label in enumerate(labels)
    ]
    details = [
        LabelDetail(
            label=label,
            threshold=float(thresholds[j]),
            tp=int(tp[j]),
            fp=int(fp[j]),
            fn=int(fn[j]),
            tn=int(tn[j]),
            roc_auc=aucs[j],
            ece=float(eces[j]),
            f1_ci=(
                None
                if f1_ci is None or np.isnan(f1_ci[j, 0])
                else (float(f1_ci[j, 0]), float(f1_ci[j, 1]))
            ),
            f1_undefined_resamples=0 if f1_undefined is None else int(f1_undefined[j]),
        )
        for j, label in enumerate(labels)
    ]
    return MultiLabelReport(
        metrics=metrics,
        per_class=per_class,
        details=details,
        false_positives=false_positive_pairs(gold, pred, labels, top=TOP_FALSE_POSITIVES),
        calibration=calibration,
    )


def label_set_metrics(
    gold: NDArray[np.bool_], pred: NDArray[np.bool_], *, n_bootstrap: int, seed: int
) -> tuple[dict[str, float], dict[str, NDArray[np.float64]] | None]:
    """Every name in MULTILABEL_METRICS for gold and predicted (n, K) label matrices: the
    values, and with ``n_bootstrap`` their replicates over resampled examples (NaN where a
    ratio is 0/0 in a resample). For the metrics of a slice of a run."""
    k = gold.shape[1]
    patterns = _patterns(np.asarray(gold, dtype=bool), np.asarray(pred, dtype=bool))
    point = _aggregate(_weighted_sums(*patterns, draws=1, seed=None)[0], k)
    values = {name: float(point[name][0]) for name in MULTILABEL_METRICS}
    if n_bootstrap <= 0 or not len(gold):
        return values, None
    sums = _weighted_sums(*patterns, draws=n_bootstrap, seed=seed)[0]
    return values, _aggregate(sums, k, np.nan)
