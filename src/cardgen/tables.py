"""Rich tables of results for the terminal; the CLI prints these and formats nothing itself."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich import box
from rich.table import Table
from rich.text import Text

from .results import EvalResults, Metric

if TYPE_CHECKING:
    from .gate import GateReport

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


_VERDICT_STYLES = {"pass": "green", "warn": "yellow", "fail": "bold red"}


def gate_table(report: GateReport) -> Table:
    """One row per rule: verdict, value, baseline, delta, 95% CI and p-value.

    Compact enough for 80 columns; only the rule column wraps.
    """
    from .gate import COLUMNS

    table = Table(
        title=f"gate rules: {report.comparison}",
        box=box.SIMPLE_HEAD,
        padding=(0, 0),
        show_edge=False,
    )
    for name in COLUMNS:
        left = name in ("rule", "verdict")
        table.add_column(
            name, justify="left" if left else "right", no_wrap=name != "rule", overflow="fold"
        )
    for outcome in report.outcomes:
        verdict, *cells = outcome.cells()
        table.add_row(
            Text(verdict, style=_VERDICT_STYLES[outcome.verdict]), *(Text(cell) for cell in cells)
        )
    return table
