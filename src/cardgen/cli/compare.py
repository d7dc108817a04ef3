"""``cardgen compare``: two runs side by side on the same data."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from cardgen.cli._app import app, console, err_console


@app.command()
def compare(
    run_a: Annotated[
        Path, typer.Argument(help="Run A, the baseline: a run directory or its results.json.")
    ],
    run_b: Annotated[
        Path, typer.Argument(help="Run B, the candidate: a run directory or its results.json.")
    ],
    output: Annotated[
        Path | None,
        typer.Option(help="Also write the report here: HTML for .html, Markdown otherwise."),
    ] = None,
    examples: Annotated[
        int, typer.Option(help="How many disagreements to list, most confident first.")
    ] = 20,
    bootstrap: Annotated[int, typer.Option(help="Resamples of the paired bootstrap.")] = 2000,
    seed: Annotated[int, typer.Option(help="Seed of the paired bootstrap.")] = 0,
) -> None:
    """Compare run B with run A on the same data: every metric with its paired delta, CI and
    p-value, per-class deltas and the examples where the models disagree.

    Exit codes: 0 compared (a report, not a gate), 2 bad input (a missing run, different label
    sets, corrupt predictions).
    """
    from cardgen.compare.report import check_report_file, comparison_tables, write_comparison
    from cardgen.compare.runs import compare_runs

    if output is not None:
        check_report_file(output)
    comparison = compare_runs(run_a, run_b, max_examples=examples, n_bootstrap=bootstrap, seed=seed)
    for table in comparison_tables(comparison):
        console.print(table)
    for warning in comparison.warnings:
        err_console.print(
            f"[bold yellow]warning:[/] {escape(warning)}", highlight=False, soft_wrap=True
        )
    if output is not None:
        written = write_comparison(comparison, output)
        console.print(f"report written to {escape(str(written))}", highlight=False)
