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
Ill-defined ratios are 0, as scikit-learn's ``zero_division`` default gives.
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
from cardgen.tasks.metrics import _ratio

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


def _patterns(
    gold: NDArray[np.bool_], pred: NDArray[np.bool_]
) -> tuple[NDArray[np.bool_], NDArray[np.bool_], NDArray[np.int64]]:
    """The distinct (gold row, predicted row) pairs and how many examples have each."""
    if not len(gold):
        return gold, pred, np.zeros(0, dtype=np.int64)
    packed = np.packbits(np.concatenate([gold, pred], axis=1), axis=1)
    rows = np.ascontiguousarray(packed).view(np.dtype((np.void, packed.shape[1]))).ravel()
    _, first, counts = np.unique(rows, return_index=True, return_counts=True)
    return gold[first], pred[first], counts


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
) -> tuple[dict[str, NDArray[np.float64]], NDArray[np.float64]]:
    """Per-resample sums (``_EXAMPLE`` and ``_OVER_LABELS`` columns, each of shape (draws,))
    over patterns ``gold`` / ``pred`` seen ``counts`` times, and the 2.5 and 97.5 percentiles
    of each label's F1 over the resamples, shape (K, 2).

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
        s = label_scores(tp, fp, fn)
        support = s["support"]
        parts = (s["precision"], s["recall"], s["f1"])
        over += np.stack(
            [*(x.sum(axis=1) for x in parts), *((x * support).sum(axis=1) for x in parts),
             support.sum(axis=1)],
            axis=1,
        )  # fmt: skip
        f1_bounds[labels] = np.percentile(s["f1"], [2.5, 97.5], axis=0).T
    sums = {name: examples[:, i] for i, name in enumerate(_EXAMPLE)}
    sums.update({name: over[:, i] for i, name in enumerate(_OVER_LABELS)})
    return sums, f1_bounds


def _aggregate(sums: dict[str, NDArray[np.float64]], k: int) -> dict[str, NDArray[np.float64]]:
    """Every name in MULTILABEL_METRICS from the weighted sums of ``_weighted_sums``."""
    n = sums["weight"]
    micro = label_scores(sums["tp"], sums["fp"], sums["fn"])
    out = {
        "micro_precision": micro["precision"],
        "micro_recall": micro["recall"],
        "micro_f1": micro["f1"],
        "samples_precision": _ratio(sums["sp"], n),
        "samples_recall": _ratio(sums["sr"], n),
        "samples_f1": _ratio(sums["sf"], n),
        "subset_accuracy": _ratio(sums["exact"], n),
        "hamming_loss": _ratio(sums["hamming"], n),
        "label_cardinality": _ratio(sums["gold"], n),
        "predicted_label_cardinality": _ratio(sums["predicted"], n),
    }
    for short, name in (("p", "precision"), ("r", "recall"), ("f", "f1")):
        out[f"macro_{name}"] = sums[short] / max(k, 1)
        out[f"weighted_{name}"] = _ratio(sums[f"{short}s"], sums["s"])
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
    from sklearn.metrics import roc_auc_score

    n = len(gold)
    return [
        float(roc_auc_score(gold[:, j], proba[:, j])) if 0 < gold[:, j].sum() < n else None
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
    point_sums, _ = _weighted_sums(*patterns, draws=1, seed=None)
    point = _aggregate(point_sums, k)
    metrics: dict[str, Metric] = {
        name: Metric(float(point[name][0])) for name in MULTILABEL_METRICS
    }
    f1_ci: NDArray[np.float64] | None = None
    if n_bootstrap > 0 and len(gold):
        sums, f1_ci = _weighted_sums(*patterns, draws=n_bootstrap, seed=seed)
        replicates = _aggregate(sums, k)
        for name in MULTILABEL_METRICS:
            low, high = np.percentile(replicates[name], [2.5, 97.5])
            metrics[name] = Metric(metrics[name].value, float(low), float(high))

    aucs = _roc_aucs(gold, proba)
    defined = [a for a in aucs if a is not None]
    if defined:
        metrics["roc_auc"] = Metric(float(np.mean(defined)))
    if 0 < gold.sum() < gold.size:
        from sklearn.metrics import roc_auc_score

        metrics["micro_roc_auc"] = Metric(float(roc_auc_score(gold.ravel(), proba.ravel())))
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
            f1_ci=None if f1_ci is None else (float(f1_ci[j, 0]), float(f1_ci[j, 1])),
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
