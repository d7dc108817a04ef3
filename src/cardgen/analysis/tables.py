"""Terminal tables of the slices and the failure analysis (values from data go in as plain
``Text``, never as Rich markup)."""

from __future__ import annotations

from rich.table import Table

from cardgen.display.tables import FittedTable, add_columns, plain
from cardgen.results.schema import FailureAnalysis, Metric, SliceResult


def slice_table(result: SliceResult) -> Table:
    """One row per value: rows, accuracy and macro-F1 with CIs, the lowest class recall; the
    caption gives the largest gap or why there is none."""
    table = FittedTable(title=plain(f"slices by {result.column}"))
    columns = ("value", "rows", "accuracy [95% CI]", "macro-F1 [95% CI]", "lowest recall")
    add_columns(table, columns, text={"value", "lowest recall"})
    for value in result.values:
        label = value.value if value.description is None else f"{value.value} ({value.description})"
        lowest = min(value.recall.items(), key=lambda item: item[1].value, default=None)
        table.add_row(
            plain(label),
            f"{value.rows:,}{' small' if value.small else ''}",
            _short(value.accuracy),
            _short(value.macro_f1),
            plain(f"{lowest[0]} {lowest[1].value:.3f}") if lowest else "-",
        )
    gap = result.gaps.get("accuracy")
    if gap is not None:
        table.caption = plain(f"largest accuracy gap {_short(gap.gap)}: {gap.worst} vs {gap.best}")
    elif result.values:
        table.caption = plain(f"no gap: fewer than two slices of at least {result.min_size} rows")
    return table


def _short(metric: Metric) -> str:
    """``0.953 [0.930, 0.974]``: three decimals keep the slice tables narrow."""
    if metric.ci_low is None or metric.ci_high is None:
        return f"{metric.value:.3f}"
    return f"{metric.value:.3f} [{metric.ci_low:.3f}, {metric.ci_high:.3f}]"


def failure_table(failures: FailureAnalysis) -> Table:
    """The most confused pairs: count, share of the gold class, most confident mistake."""
    table = FittedTable(title=f"most confused pairs ({failures.errors:,} errors)")
    columns = ("gold", "predicted", "count", "share of gold", "top mistake")
    add_columns(table, columns, text={"gold", "predicted", "top mistake"})
    for pair in failures.pairs:
        top = pair.examples[0] if pair.examples else None
        shown = "-"
        if top is not None:
            text = top.text if top.text is not None else f"row {top.index}"
            text = text if len(text) <= 60 else f"{text[:59]}…"
            shown = f"{text} (p={top.probability:.2f})" if top.probability is not None else text
        table.add_row(
            plain(pair.gold),
            plain(pair.predicted),
            f"{pair.count:,}",
            f"{pair.share:.1%}",
            plain(shown),
        )
    return table


def label_issue_note(failures: FailureAnalysis, rows: int) -> str | None:
    """One line on the label issue candidates, or None when they were not computed."""
    issues = failures.label_issues
    if issues is None:
        return None
    return (
        f"{issues.count:,} of {rows:,} rows ({issues.share:.1%}) are label issue candidates "
        "(confident learning): the model confidently predicts another label; review them "
        "before trusting or correcting their gold labels (results.json: failures.label_issues)"
    )
