"""Rich tables of results for the terminal; the CLI prints these and formats nothing itself."""

from __future__ import annotations

from rich.table import Table

from .results import EvalResults, Metric

HEADLINE = (
    "accuracy",
    "balanced_accuracy",
    "macro_f1",
    "weighted_f1",
    "roc_auc",
    "log_loss",
    "ece",
)


def format_metric(metric: Metric) -> str:
    """``0.912 [0.893, 0.930]``, or the bare value when there is no interval."""
    if metric.ci_low is None or metric.ci_high is None:
        return f"{metric.value:.4f}"
    return f"{metric.value:.4f} [{metric.ci_low:.4f}, {metric.ci_high:.4f}]"


def metrics_table(results: EvalResults) -> Table:
    table = Table(title=f"{results.model.id} on {results.dataset.name or results.dataset.source}")
    table.add_column("metric")
    table.add_column("value [95% CI]", justify="right")
    for name in HEADLINE:
        if name in results.metrics:
            table.add_row(name, format_metric(results.metrics[name]))
    return table


def per_class_table(results: EvalResults) -> Table:
    table = Table(title="per class")
    for name in ("label", "precision", "recall", "f1", "support"):
        table.add_column(name, justify="left" if name == "label" else "right")
    for row in results.per_class:
        table.add_row(
            row.label,
            f"{row.precision:.4f}",
            f"{row.recall:.4f}",
            f"{row.f1:.4f}",
            str(row.support),
        )
    return table


def confusion_table(results: EvalResults) -> Table:
    cm = results.confusion_matrix
    table = Table(title="confusion matrix (rows: gold, columns: predicted)")
    table.add_column("")
    for label in cm.labels:
        table.add_column(label, justify="right")
    for label, row in zip(cm.labels, cm.counts, strict=True):
        table.add_row(label, *(str(c) for c in row))
    return table
