"""``cardgen compare``: runs side by side on the same data, two in detail or more ranked."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from cardgen.cli._app import app, console, err_console


@app.command()
def compare(
    runs: Annotated[
        list[Path],
        typer.Argument(
            help="Two runs or more, each a run directory or its results.json; with two, the "
            "first is the baseline (A) and the second the candidate (B).",
            show_default=False,
        ),
    ],
    by: Annotated[
        str | None,
        typer.Option(
            help="Rank three or more runs by this metric [default: accuracy, micro_f1 for "
            "multi-label runs]."
        ),
    ] = None,
    alpha: Annotated[
        float | None,
        typer.Option(
            help="Significance level of the Holm-corrected paired tests between three or more "
            "runs [default: 0.05]."
        ),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(help="Also write the report here: HTML for .html, Markdown otherwise."),
    ] = None,
    examples: Annotated[
        int,
        typer.Option(
            help="How many examples to list, most confident first: the disagreements of two "
            "runs, or the rows every run of more gets wrong."
        ),
    ] = 20,
    bootstrap: Annotated[int, typer.Option(help="Resamples of the paired bootstrap.")] = 2000,
    seed: Annotated[int, typer.Option(help="Seed of the paired bootstrap.")] = 0,
) -> None:
    """Compare runs on the same data. Two runs: every metric of B against A with its paired
    delta, CI and p-value, per-class deltas and the examples where the models disagree. Three
    or more: a leaderboard with Holm-corrected paired tests, the best run per slice and the
    rows every run gets wrong. Every report opens with what differs between the runs' settings.

    Exit codes: 0 compared (a report, not a gate), 2 bad input (a missing run, different label
    sets, corrupt predictions, runs of different data when ranking).
    """
    from cardgen.compare.report import check_report_file, comparison_tables, write_comparison
    from cardgen.compare.runs import compare_runs
    from cardgen.errors import UsageError

    if len(runs) < 2:
        raise UsageError(
            f"compare needs two runs or more, got {len(runs)}: `cardgen compare RUN_A RUN_B ...`"
        )
    if output is not None:
        check_report_file(output)
    comparison = compare_runs(
        *runs, by=by, alpha=alpha, max_examples=examples, n_bootstrap=bootstrap, seed=seed
    )
    for table in comparison_tables(comparison):
        console.print(table)
    for warning in comparison.warnings:
        err_console.print(
            f"[bold yellow]warning:[/] {escape(warning)}", highlight=False, soft_wrap=True
        )
    if output is not None:
        written = write_comparison(comparison, output)
        console.print(f"report written to {escape(str(written))}", highlight=False)
