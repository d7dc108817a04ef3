"""The card's view of a multi-label run: metric titles, per-label rows, frequent false positives."""

from __future__ import annotations

from typing import Any

from cardgen.results.schema import EvalResults

MULTILABEL_BODY_METRICS = {
    "micro_f1": "Micro F1",
    "micro_precision": "Micro precision",
    "micro_recall": "Micro recall",
    "macro_f1": "Macro F1",
    "weighted_f1": "Weighted F1",
    "samples_f1": "Samples F1",
    "subset_accuracy": "Subset accuracy (exact match)",
    "hamming_loss": "Hamming loss",
    "label_cardinality": "Labels per example (gold)",
    "predicted_label_cardinality": "Labels per example (predicted)",
    "roc_auc": "ROC AUC (macro over labels)",
    "micro_roc_auc": "ROC AUC (micro)",
    "ece": "Expected calibration error (all label probabilities)",
}
"""The metrics table of a multi-label card, in this order."""
AVERAGES = ("micro", "macro", "weighted", "samples")


def multilabel_view(results: EvalResults) -> dict[str, Any] | None:
    """Per-label rows (scores, threshold, 2x2 counts, ROC AUC, ECE), the average rows, the
    thresholds and the frequent false positives; None for a single-label run."""
    section = results.multilabel
    if section is None:
        return None
    rows = [
        {
            "label": row.label,
            "precision": row.precision,
            "recall": row.recall,
            "f1": row.f1,
            "f1_ci": detail.f1_ci,
            "support": row.support,
            "threshold": detail.threshold,
            "tp": detail.tp,
            "fp": detail.fp,
            "fn": detail.fn,
            "tn": detail.tn,
            "roc_auc": detail.roc_auc,
            "ece": detail.ece,
        }
        for row, detail in zip(results.per_class, section.labels, strict=True)
    ]
    metrics = results.metrics
    averages = [
        {
            "label": f"{average} avg",
            **{name: metrics[f"{average}_{name}"].value for name in ("precision", "recall", "f1")},
        }
        for average in AVERAGES
        if all(f"{average}_{name}" in metrics for name in ("precision", "recall", "f1"))
    ]
    thresholds = {detail.threshold for detail in section.labels}
    return {
        "labels": rows,
        "averages": averages,
        "support": sum(row["support"] for row in rows),
        "threshold": thresholds.pop() if len(thresholds) == 1 else None,
        "threshold_source": section.threshold_source,
        "false_positives": [
            {"predicted": pair.predicted, "gold": pair.gold, "count": pair.count}
            for pair in section.false_positives
        ],
    }
