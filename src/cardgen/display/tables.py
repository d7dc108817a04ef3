"""Rich tables of results for the terminal; the CLI prints these and formats nothing itself.

Labels, ids and terms come from datasets and models: they go into tables as ``Text`` (never as
Rich markup) with control characters shown escaped, so they cannot restyle or drive the terminal.
Columns of numbers and intervals stay on one line while the words beside them can wrap, and
nothing is cut with an ellipsis (see :class:`FittedTable`).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from rich import box
from rich.console import Console, ConsoleOptions, RenderResult
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from cardgen.results.schema import EvalResults, Metric, ProbeResult, RobustnessResult
from cardgen.results.settings import SettingDifference, differences_line

if TYPE_CHECKING:
    from cardgen.gate import GateReport
    from cardgen.verify import VerifyReport

# Controls, and invisible characters that reorder or hide text (bidi, zero-width, BOM).
_CONTROL = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200b\u200e\u200f\u2028\u2029\u202a-\u202e\u2060\u2066-\u2069\ufeff]"
)


def visible(value: object) -> str:
    """Untrusted text with its control and invisible characters escaped (``\\x1b``,
    ``\\u202e``), so it cannot drive a terminal or hide in a plot."""
    return _CONTROL.sub(lambda m: repr(m.group())[1:-1], str(value))


def plain(value: object) -> Text:
    """Untrusted text for a table: no markup, control characters as ``\\xNN``."""
    return Text(visible(value))


# Word columns narrower than this leave the number columns room to wrap instead.
FOLD_WIDTH = 8


class FittedTable(Table):
    """A table whose columns of numbers stay on one line (``0.91 [0.89, 0.93]``) while its
    columns of words wrap, when the width allows that; in a narrower terminal every column
    wraps between words. Words longer than a column fold: nothing is cut with an ellipsis.
    Where there is room, the table is as wide as its title and caption, which then stay on
    one line too."""

    one_line: set[int]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.one_line = set()

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        self.min_width = None
        fits = self._one_line_width(console, options) <= options.max_width
        for index, column in enumerate(self.columns):
            column.no_wrap = fits and index in self.one_line
        wide = options.update_width(1 << 20)
        titles = [t for t in (self.title, self.caption) if t is not None]
        self.min_width = max((Measurement.get(console, wide, t).maximum for t in titles), default=0)
        return super().__rich_console__(console, options)

    def _one_line_width(self, console: Console, options: ConsoleOptions) -> int:
        """The narrowest this table gets with its number columns on one line and its word
        columns at least FOLD_WIDTH wide (or as wide as their longest word, if shorter)."""
        wide = options.update_width(1 << 20)
        width = Measurement.get(console, wide, self).minimum  # borders, padding, longest words
        for index, column in enumerate(self.columns):
            sizes = [Measurement.get(console, wide, c) for c in (column.header, *column.cells)]
            longest_word = max(s.minimum for s in sizes)
            if index in self.one_line:
                width += max(s.maximum for s in sizes) - longest_word
            else:
                width -= longest_word - min(longest_word, FOLD_WIDTH)
        return width


def add_columns(table: Table, names: Iterable[str], *, text: Collection[str]) -> None:
    """Add columns: those in ``text`` hold words and are left-aligned; the others hold numbers
    or intervals, are right-aligned and, in a :class:`FittedTable`, kept on one line."""
    for name in names:
        words = name in text
        table.add_column(name, justify="left" if words else "right", overflow="fold")
        if not words and isinstance(table, FittedTable):
            table.one_line.add(len(table.columns) - 1)


HEADLINE = (
    "accuracy",
    "balanced_accuracy",
    "macro_f1",
    "weighted_f1",
    "roc_auc",
    "log_loss",
    "ece",
)

MULTILABEL_HEADLINE = (
    "micro_f1",
    "macro_f1",
    "weighted_f1",
    "samples_f1",
    "subset_accuracy",
    "hamming_loss",
    "label_cardinality",
    "predicted_label_cardinality",
    "roc_auc",
    "ece",
)


def format_metric(metric: Metric) -> str:
    """``0.912 [0.893, 0.930]``, or the bare value when there is no interval."""
    if metric.ci_low is None or metric.ci_high is None:
        return f"{metric.value:.4f}"
    return f"{metric.value:.4f} [{metric.ci_low:.4f}, {metric.ci_high:.4f}]"


def metrics_table(results: EvalResults) -> Table:
    table = FittedTable(
        title=plain(f"{results.model.id} on {results.dataset.name or results.dataset.source}")
    )
    add_columns(table, ("metric", "value [95% CI]"), text={"metric"})
    headline = MULTILABEL_HEADLINE if results.task == "multi_label" else HEADLINE
    for name in headline:
        if name in results.metrics:
            table.add_row(name, format_metric(results.metrics[name]))
    return table


def per_class_table(results: EvalResults) -> Table:
    table = FittedTable(title="per class")
    add_columns(table, ("label", "precision", "recall", "f1", "support"), text={"label"})
    for row in results.per_class:
        table.add_row(
            plain(row.label),
            f"{row.precision:.4f}",
            f"{row.recall:.4f}",
            f"{row.f1:.4f}",
            str(row.support),
        )
    return table


def confusion_table(results: EvalResults) -> Table:
    cm = results.confusion_matrix
    table = FittedTable(title="confusion matrix (rows: gold, columns: predicted)")
    table.add_column("", overflow="fold")
    for label in cm.labels:
        table.add_column(plain(label), justify="right", overflow="fold")
    for label, row in zip(cm.labels, cm.counts, strict=True):
        table.add_row(plain(label), *(str(c) for c in row))
    return table


_VERDICT_STYLES = {"pass": "green", "warn": "yellow", "fail": "bold red"}


def gate_table(report: GateReport) -> Table:
    """One row per rule: verdict, value, baseline, delta, 95% CI and p-value.

    Compact enough for 80 columns; only the rule column wraps (it folds: nothing is cut).
    """
    from cardgen.gate import COLUMNS

    table = FittedTable(
        title=plain(f"gate rules: {report.comparison}"),
        box=box.SIMPLE_HEAD,
        padding=(0, 0),
        show_edge=False,
    )
    add_columns(table, COLUMNS, text={"rule", "verdict"})
    for outcome in report.outcomes:
        verdict, *cells = outcome.cells()
        table.add_row(
            Text(verdict, style=_VERDICT_STYLES[outcome.verdict]), *(plain(cell) for cell in cells)
        )
    return table


def differences_table(differences: Sequence[SettingDifference], names: Sequence[str]) -> Table:
    """What differs between runs (named ``names``, in the differences' order), one row per
    setting, and whether it can explain a metric change; the caption says it in a sentence."""
    table = Table(  # not fitted: the caption wraps rather than widening the table
        title="what differs between the runs",
        caption=differences_line(differences),
        box=box.SIMPLE_HEAD,
        padding=(0, 1, 0, 0),
        show_edge=False,
    )
    explain = "can explain a change"
    add_columns(table, ("setting", *names, explain), text={"setting", explain, *names})
    for d in differences:
        cells = (plain(value if value is not None else "-") for value in d.values)
        table.add_row(
            plain(d.setting), *cells, plain(f"{'yes' if d.explains else 'no'}: {d.effect}")
        )
    return table


_CLAIM_STYLES = {
    "consistent": "green",
    "contradicted": "bold red",
    "ambiguous": "yellow",
    "not_checkable": "yellow",
}


def verify_table(report: VerifyReport) -> Table:
    """One row per claim: metric, dataset, claimed, measured with its 95% CI, verdict and why."""
    table = FittedTable(
        title=plain(f"claims of {report.card} on {report.model}"), box=box.SIMPLE_HEAD
    )
    names = ("claim", "dataset", "claimed", "measured", "verdict", "why")
    add_columns(table, names, text={"claim", "dataset", "verdict", "why"})
    for result in report.results:
        claim = result.claim
        where = ", ".join(part for part in (claim.dataset, claim.config, claim.split) if part)
        measured = "–" if result.measured is None else format_metric(result.measured)
        table.add_row(
            plain(claim.label),
            plain(where),
            plain(claim.printed),
            plain(measured),
            Text(result.verdict.replace("_", " "), style=_CLAIM_STYLES[result.verdict]),
            plain(result.reason),
        )
    return table


def probe_summary_table(probes: Mapping[str, ProbeResult]) -> Table:
    """One row per probe: size, range of the target probability with its CI, flips, group gap.

    Probes with an expected label add the share of fills that miss it ("fails").
    """
    table = FittedTable(title="bias probes: P(target label), mean over templates, per term")
    expectations = any(p.expected_label is not None for p in probes.values())
    columns = ("probe", "target", "fills", "range [95% CI]", "std", "flips", "group gap")
    add_columns(
        table,
        columns + (("fails",) if expectations else ()),
        text={"probe", "target", "group gap", "fails"},
    )
    for name, probe in probes.items():
        gap = (
            f"{probe.group_gap:.3f} {'<'.join(probe.group_gap_between)}"
            if probe.group_gap is not None and probe.group_gap_between
            else "-"
        )
        interval = (
            f" [{probe.range.ci_low:.3f}, {probe.range.ci_high:.3f}]"
            if probe.range.ci_low is not None and probe.range.ci_high is not None
            else ""
        )
        fails = (
            f"{probe.failure_rate:.1%} not {probe.expected_label}"
            if probe.failure_rate is not None
            else "-"
        )
        table.add_row(
            plain(name),
            plain(probe.target_label),
            f"{len(probe.templates)}x{len(probe.terms)}",
            f"{probe.range.value:.3f}{interval}",
            f"{probe.std:.3f}",
            f"{probe.flip_rate:.1%}",
            plain(gap),
            *((plain(fails),) if expectations else ()),
        )
    return table


def probe_extremes_table(probe: ProbeResult) -> Table:
    """The terms with the lowest and highest target probability, side by side."""
    kind = probe.term_kind or "term"
    table = FittedTable(title=plain(f"{probe.name}: P({probe.target_label}) by {kind}, extremes"))
    for name in ("lowest", "highest"):
        add_columns(table, (name, "P"), text={name})
    for (low, low_p), (high, high_p) in zip(probe.lowest, probe.highest, strict=False):
        table.add_row(plain(low), f"{low_p:.3f}", plain(high), f"{high_p:.3f}")
    return table


def robustness_table(results: Mapping[str, RobustnessResult]) -> Table:
    """One row per perturbation: rows changed, flip rate with 95% CI and its right-to-wrong and
    wrong-to-right counts, accuracy with 95% CI, its change against the unedited rows, and
    seconds taken."""
    rows = max((r.rows for r in results.values()), default=0)
    table = FittedTable(
        title=f"robustness on {rows:,} rows (flips on changed rows: broke right→wrong, fixed "
        "wrong→right)",
        box=box.SIMPLE_HEAD,
        padding=(0, 1),
        show_edge=False,
    )
    columns = ("perturbation", "changed", "flips % [95% CI]", "broke", "fixed")
    add_columns(
        table, (*columns, "accuracy [95% CI]", "Δ acc", "s"), text={"perturbation"}
    )
    for name, result in results.items():
        flips = result.flip_rate
        table.add_row(
            plain(name),
            f"{result.changed:,}",
            "-" if flips is None else _with_interval(flips, 100, ".1f"),
            "-" if result.broke is None else f"{result.broke:,}",
            "-" if result.fixed is None else f"{result.fixed:,}",
            _with_interval(result.accuracy, 1, ".3f"),
            f"{result.accuracy.value - result.base_accuracy:+.3f}",
            f"{result.seconds:.1f}",
        )
    return table


def _with_interval(metric: Metric, scale: float, spec: str) -> str:
    """``13.3 [9.7, 17.3]``: the value and its CI times ``scale``."""
    text = f"{metric.value * scale:{spec}}"
    if metric.ci_low is None or metric.ci_high is None:
        return text
    return f"{text} [{metric.ci_low * scale:{spec}}, {metric.ci_high * scale:{spec}}]"


def label_detail_table(results: EvalResults) -> Table:
    """A multi-label run per label: threshold, the 2x2 counts, F1 with its CI, ROC-AUC, ECE."""
    table = FittedTable(title="per label (tp fp fn tn: gold x predicted at the threshold)")
    columns = ("label", "threshold", "tp", "fp", "fn", "tn", "f1 [95% CI]", "roc_auc", "ece")
    add_columns(table, columns, text={"label"})
    section = results.multilabel
    for row, detail in zip(results.per_class, section.labels if section else [], strict=True):
        ci = f" [{detail.f1_ci[0]:.3f}, {detail.f1_ci[1]:.3f}]" if detail.f1_ci else ""
        table.add_row(
            plain(row.label),
            f"{detail.threshold:g}",
            *(str(c) for c in (detail.tp, detail.fp, detail.fn, detail.tn)),
            f"{row.f1:.3f}{ci}",
            "-" if detail.roc_auc is None else f"{detail.roc_auc:.3f}",
            "-" if detail.ece is None else f"{detail.ece:.3f}",
        )
    return table
