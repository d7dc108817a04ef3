"""A ``Comparison`` of two runs or a ``Leaderboard`` of more for people: terminal tables, and
a Markdown or HTML report file.

Labels, texts and run paths come from files cardgen did not write: the tables show them as
plain text, the Markdown escapes them (``templates/compare.md.j2``, ``compare_many.md.j2``)
and the HTML page goes through the card's ``nh3`` sanitizer.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

from rich import box
from rich.table import Table
from rich.text import Text

from cardgen.cards.export import card_to_html
from cardgen.cards.templating import default_templates_dir, render_template
from cardgen.compare.deltas import MetricDelta
from cardgen.compare.many import Leaderboard
from cardgen.compare.runs import Comparison
from cardgen.display.tables import differences_table, plain
from cardgen.errors import OutputError
from cardgen.gate.report import check_output_file
from cardgen.results.settings import differences_line
from cardgen.trust.atomic import write_text

TEMPLATE = "compare.md.j2"
MANY_TEMPLATE = "compare_many.md.j2"
MAX_TEXT = 80  # characters of an example's text in the terminal
MAX_RUN_COLUMNS = 8
"""Runs per terminal table with a column per run; more runs get one table per eight, so that
thirty runs do not squeeze a terminal's table into columns one character wide."""
MAX_PAIR_ROWS = 30
"""Pairs of runs the terminal lists (thirty runs make 435): the significant ones first; the
report file (--output) lists them all."""


def check_report_file(path: str | os.PathLike[str]) -> Path:
    """``path`` when a report can be written there (``.html``/``.htm`` for HTML, Markdown
    otherwise); OutputError now, before any work, for a directory or an unwritable place."""
    target = Path(path)
    if target.is_dir():
        raise OutputError(
            f"--output {target} is a directory; name a file in it, e.g. {target / 'compare.md'}"
        )
    return check_output_file(target, what="--output")


def comparison_markdown(comparison: Comparison | Leaderboard) -> str:
    """The comparison as a Markdown report, every untrusted string escaped."""
    many = isinstance(comparison, Leaderboard)
    context = {
        "c": comparison,
        "differences": comparison.differences,
        "differs": differences_line(comparison.differences),
        "names": _names(comparison),
    }
    return render_template(default_templates_dir() / (MANY_TEMPLATE if many else TEMPLATE), context)


def comparison_html(comparison: Comparison | Leaderboard) -> str:
    """The Markdown report as a standalone, sanitized HTML page."""
    count = len(comparison.runs) if isinstance(comparison, Leaderboard) else 2
    return card_to_html(comparison_markdown(comparison), title=f"Comparison of {count} runs")


def _names(comparison: Comparison | Leaderboard) -> list[str]:
    """What the report calls each run: A and B, or #1, #2, ..."""
    if isinstance(comparison, Leaderboard):
        return [f"#{i}" for i in range(1, len(comparison.runs) + 1)]
    return ["A", "B"]


def write_comparison(comparison: Comparison | Leaderboard, path: str | os.PathLike[str]) -> Path:
    """Write the report atomically: HTML for a ``.html``/``.htm`` path, else Markdown."""
    target = check_report_file(path)
    html = target.suffix.lower() in (".html", ".htm")
    write_text(target, comparison_html(comparison) if html else comparison_markdown(comparison))
    return target


def _interval(delta: MetricDelta) -> str:
    return f"[{delta.ci[0]:+.3f},{delta.ci[1]:+.3f}]" if delta.ci else "-"


def _table(title: str | Text, columns: tuple[str, ...], left: tuple[str, ...]) -> Table:
    """A compact table (fits 80 columns like the gate's); ``left`` columns are text and wrap,
    except the first, which never does."""
    table = Table(title=title, box=box.SIMPLE_HEAD, padding=(0, 0), show_edge=False)
    for name in columns:
        table.add_column(
            name,
            justify="left" if name in left else "right",
            no_wrap=name not in left or name == columns[0],
        )
    return table


def _p(delta: MetricDelta) -> str:
    return f"{delta.p_value:.3g}" if delta.p_value is not None else "-"


def _delta_cells(delta: MetricDelta) -> tuple[str, ...]:
    """A, B, B - A, the 95% CI of the difference and its p-value, as table cells."""
    return (
        f"{delta.a:.4f}",
        f"{delta.b:.4f}",
        f"{delta.delta:+.4f}",
        _interval(delta),
        _p(delta),
    )


def metrics_delta_table(comparison: Comparison) -> Table:
    """Every metric of both runs: A, B, B - A, its 95% CI and two-sided p-value."""
    title = plain(f"B {comparison.b} vs A {comparison.a}: {comparison.comparison}")
    columns = ("metric", "A", "B", "B - A", "95% CI", "p", "test")
    table = _table(title, columns, ("metric", "test"))
    for d in comparison.metrics:
        table.add_row(
            d.name,
            *_delta_cells(d),
            (d.test or "-").removeprefix("paired "),
        )
    return table


def per_class_delta_table(comparison: Comparison) -> Table:
    """Precision, recall and F1 of every label in both runs, with their deltas."""
    columns = ("label", "support", "metric", "A", "B", "B - A", "95% CI", "p")
    table = _table("per class", columns, ("label",))
    for row in comparison.per_class:
        for d in row.scores:
            table.add_row(
                plain(row.label),
                str(row.support),
                d.name.split("[", 1)[0],
                *_delta_cells(d),
            )
    return table


def slice_delta_table(comparison: Comparison) -> Table:
    """The metrics of every slice both runs evaluated, with their deltas (and paired tests
    where the predictions name each example's slice)."""
    columns = ("column", "value", "rows", "metric", "A", "B", "B - A", "95% CI", "p")
    table = _table("slices", columns, ("column", "value"))
    for piece in comparison.slices:
        for d in piece.metrics:
            table.add_row(
                plain(piece.column),
                plain(f"{piece.value} ({piece.description})" if piece.description else piece.value),
                str(piece.rows),
                d.name,
                *_delta_cells(d),
            )
    return table


def disagreements_table(comparison: Comparison) -> Table:
    """The examples the models disagree on, most confident first."""
    shown, total = len(comparison.disagreements), comparison.n_disagreements
    title = (
        f"disagreements: {shown} most confident of {total}; only A right on "
        f"{comparison.a_only_correct}, only B right on {comparison.b_only_correct}"
    )
    texts = any(d.text for d in comparison.disagreements)
    columns = ("index", "gold", "A", "P(A)", "B", "P(B)", *(("text",) if texts else ()))
    table = _table(title, columns, ("gold", "A", "B", "text"))
    for d in comparison.disagreements:
        text = d.text or ""
        clipped = text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"
        table.add_row(
            str(d.index),
            plain(d.gold),
            plain(d.a_predicted),
            f"{d.a_probability:.3f}",
            plain(d.b_predicted),
            f"{d.b_probability:.3f}",
            *((plain(" ".join(clipped.split())),) if texts else ()),
        )
    return table


def comparison_tables(comparison: Comparison | Leaderboard) -> list[Table]:
    """The tables ``cardgen compare`` prints, in order: what differs, then the comparison."""
    tables = []
    names = _names(comparison)
    for chunk in _run_chunks(len(names)) if comparison.differences else []:
        shown = [replace(d, values=d.values[chunk]) for d in comparison.differences]
        tables.append(differences_table(shown, names[chunk]))
    if isinstance(comparison, Leaderboard):
        return tables + leaderboard_tables(comparison)
    tables += [metrics_delta_table(comparison), per_class_delta_table(comparison)]
    if comparison.slices:
        tables.append(slice_delta_table(comparison))
    if comparison.disagreements:
        tables.append(disagreements_table(comparison))
    return tables


def leaderboard_tables(board: Leaderboard) -> list[Table]:
    """The leaderboard, the paired tests, the best run per slice and the rows every run gets
    wrong."""
    heading = plain(
        f"ranked by {board.by}" + ("" if board.higher_is_better else " (lower is better)")
    )
    models = len(set(board.models)) > 1  # else the model is in no column: it is the same
    columns = ("rank", "run", "value", "95% CI", *(("model",) if models else ()))
    standings = _table(heading, columns, ("run", "model"))
    for s in board.standings:
        ci = f"[{s.ci[0]:.3f},{s.ci[1]:.3f}]" if s.ci else "-"
        model = (plain(board.models[s.run - 1]),) if models else ()
        standings.add_row(
            str(s.rank), plain(f"#{s.run} {board.runs[s.run - 1]}"), f"{s.value:.4f}", ci, *model
        )
    significant = sum(p.significant for p in board.pairs)
    test = next((p.delta.test for p in board.pairs if p.p_holm is not None), None)
    title = (
        f"{significant} of {len(board.pairs)} pairs differ at alpha {board.alpha:g} "
        f"(Holm-corrected {test})"
        if test is not None
        else f"no paired test: {board.comparison}"
    )
    pairs = _table(title, ("better", "worse", "delta", "95% CI", "p", "p Holm", "sig."), ())
    listed = board.pairs
    if len(listed) > MAX_PAIR_ROWS:
        listed = sorted(listed, key=lambda p: not p.significant)[:MAX_PAIR_ROWS]
        pairs.caption = (
            f"{len(listed)} of {len(board.pairs)} pairs shown, the significant ones first; "
            "--output FILE lists every pair"
        )
    for p in listed:
        holm = f"{p.p_holm:.3g}" if p.p_holm is not None else "-"
        mark = ("yes" if p.significant else "no") if p.p_holm is not None else "-"
        pairs.add_row(
            f"#{p.better}",
            f"#{p.worse}",
            f"{p.delta.delta:+.4f}",
            _interval(p.delta),
            _p(p.delta),
            holm,
            mark,
        )
    tables = [standings, pairs]
    chunks = _run_chunks(len(board.runs))
    if board.slices:
        tables += [_slices_table(board, chunk) for chunk in chunks]
    if board.mistakes:
        tables += [_mistakes_table(board, chunk) for chunk in chunks]
    return tables


def _run_chunks(count: int) -> list[slice]:
    """The runs of each terminal table with a column per run (``MAX_RUN_COLUMNS``)."""
    return [slice(i, i + MAX_RUN_COLUMNS) for i in range(0, count, MAX_RUN_COLUMNS)]


def _run_numbers(board: Leaderboard, chunk: slice) -> range:
    """The numbers (1-based, as in the standings) of the runs in ``chunk``."""
    return range(1, len(board.runs) + 1)[chunk]


def _chunk_title(title: str, board: Leaderboard, chunk: slice) -> str:
    numbers = _run_numbers(board, chunk)
    if len(numbers) == len(board.runs):
        return title
    return f"{title} (runs #{numbers[0]}-#{numbers[-1]})"


def _slices_table(board: Leaderboard, chunk: slice) -> Table:
    numbers = tuple(f"#{i}" for i in _run_numbers(board, chunk))
    columns = ("column", "value", "rows", *numbers, "best")
    title = _chunk_title(f"best run per slice, by {board.slice_metric}", board, chunk)
    table = _table(title, columns, ("column", "value", "best"))
    for piece in board.slices:
        table.add_row(
            plain(piece.column),
            plain(f"{piece.value} ({piece.description})" if piece.description else piece.value),
            str(piece.rows),
            *(f"{v:.4f}" for v in piece.values[chunk]),
            ", ".join(f"#{b}" for b in piece.best),
        )
    return table


def _mistakes_table(board: Leaderboard, chunk: slice) -> Table:
    title = _chunk_title(
        f"rows every run gets wrong: {len(board.mistakes)} most confident of {board.n_mistakes}",
        board,
        chunk,
    )
    texts = any(m.text for m in board.mistakes)
    numbers = tuple(f"#{i}" for i in _run_numbers(board, chunk))
    columns = ("index", "gold", *numbers, *(("text",) if texts else ()))
    table = _table(title, columns, ("gold", *numbers, "text"))
    for m in board.mistakes:
        text = " ".join((m.text or "").split())
        clipped = text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"
        table.add_row(
            str(m.index),
            plain(m.gold),
            *(plain(p) for p in m.predicted[chunk]),
            *((plain(clipped),) if texts else ()),
        )
    return table
