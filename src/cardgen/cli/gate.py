"""``cardgen gate``: fail a build when a model regresses."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from cardgen.cli._app import app, console, err_console


@app.command()
def gate(
    run: Annotated[Path, typer.Argument(help="Run directory (or its results.json) to check.")],
    baseline: Annotated[
        str | None,
        typer.Option(
            help="Baseline run directory, results.json, or model card whose model-index holds "
            "the baseline values [default: baseline in the config table]."
        ),
    ] = None,
    min_: Annotated[
        list[str] | None,
        typer.Option("--min", help="NAME=VALUE: fail when the metric is below VALUE (repeatable)."),
    ] = None,
    max_: Annotated[
        list[str] | None,
        typer.Option("--max", help="NAME=VALUE: fail when the metric is above VALUE (repeatable)."),
    ] = None,
    max_drop: Annotated[
        list[str] | None,
        typer.Option(
            "--max-drop",
            help="NAME=TOLERANCE: fail when the metric is worse than the baseline's by more "
            "than TOLERANCE, e.g. accuracy=0.01 for one point (repeatable).",
        ),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option(
            help="TOML file with a [tool.cardgen.gate] table [default: cardgen.toml or "
            "pyproject.toml in the current directory, if they have one]."
        ),
    ] = None,
    junit: Annotated[
        Path | None, typer.Option(help="Write a JUnit XML report here (one test case per rule).")
    ] = None,
    alpha: Annotated[
        float | None,
        typer.Option(help="Significance level of the paired tests [default: 0.05]."),
    ] = None,
    strict: Annotated[
        bool,
        typer.Option(help="Fail on any drop beyond its tolerance, significant or not."),
    ] = False,
    bootstrap: Annotated[int, typer.Option(help="Resamples of the paired bootstrap.")] = 2000,
    seed: Annotated[int, typer.Option(help="Seed of the paired bootstrap.")] = 0,
    allow_different_data: Annotated[
        bool,
        typer.Option(
            help="Compare with a baseline evaluated on different data (dataset fingerprints "
            "differ): values only, no paired test, and the report says so."
        ),
    ] = False,
) -> None:
    """Check gate rules on a run; exit 1 when one fails (JUnit XML and step summary optional).

    Exit codes: 0 every rule passed, 1 a rule failed, 2 bad input (nothing else exits 1).
    """
    from cardgen.display.tables import differences_table, gate_table
    from cardgen.errors import OutputError
    from cardgen.gate import (
        Rule,
        append_step_summary,
        check_gate,
        check_output_file,
        load_gate_config,
        merge_rules,
        write_junit,
    )

    if junit is not None:
        check_output_file(junit, what="--junit")
    settings = load_gate_config(config)
    flags = [
        Rule.parse(kind, text)
        for kind, texts in (("min", min_), ("max", max_), ("max-drop", max_drop))
        for text in texts or ()
    ]
    report = check_gate(
        run,
        baseline or settings.baseline,
        merge_rules(settings.rules, flags),
        alpha=next(a for a in (alpha, settings.alpha, 0.05) if a is not None),
        strict=strict or settings.strict,
        n_bootstrap=bootstrap,
        seed=seed,
        allow_different_data=allow_different_data,
    )
    if report.differences:
        console.print(differences_table(report.differences, ("baseline", "current")))
    console.print(gate_table(report))
    for outcome in report.outcomes:
        if outcome.verdict != "pass":
            console.print(f"{outcome.verdict}: {outcome.rule}: {outcome.message}", markup=False)
    for warning in report.warnings:
        err_console.print(
            f"[bold yellow]warning:[/] {escape(warning)}", highlight=False, soft_wrap=True
        )
    if junit is not None:
        written = write_junit(report, junit)
        console.print(f"JUnit XML written to {written}", markup=False, highlight=False)
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        try:
            append_step_summary(report, summary)
        except OutputError as exc:
            err_console.print(
                f"[bold yellow]warning:[/] {escape(str(exc))}; the step summary was not written",
                highlight=False,
                soft_wrap=True,
            )
    console.print(report.headline, style="green" if report.passed else "bold red")
    if not report.passed:
        raise typer.Exit(1)
