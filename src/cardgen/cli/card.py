"""``cardgen card``: render, or refresh, the model card of an evaluation run."""

from __future__ import annotations

import html
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.text import Text

from cardgen.cards.context import REPO_ID_PLACEHOLDER
from cardgen.cards.sections import MAX_SECTION_CHARS as MAX_SECTION_BYTES
from cardgen.cards.sections import check_section
from cardgen.cli._app import app, console, err_console
from cardgen.display.tables import plain
from cardgen.errors import CardError, UsageError
from cardgen.trust.untrusted import quote, read_text

if TYPE_CHECKING:
    from cardgen.cards.eval_results_format import EvalResultsFile


def write_card(run: Path, output: Path | None, output_format: str = "md", **options: Any) -> Path:
    """Render the card of ``run`` into ``output`` (default: in the run directory); print where."""
    from cardgen.cards.render import render_card

    if output is None:
        directory = run if run.is_dir() else run.parent
        output = directory / ("README.html" if output_format == "html" else "README.md")
    eval_results = _plan_eval_results(run, output, output_format, options)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        text = render_card(run, output=output, output_format=output_format, **options)
    for warning in caught:
        message = Text.assemble(("warning:", "bold yellow"), " ", plain(str(warning.message)))
        err_console.print(message, highlight=False, soft_wrap=True)
    if REPO_ID_PLACEHOLDER in text or html.escape(REPO_ID_PLACEHOLDER) in text:
        err_console.print(
            f"[bold]note:[/] the card's get-started snippet loads the model from "
            f"{escape(REPO_ID_PLACEHOLDER)}, a placeholder (the model has no Hub id); fill in "
            f"the repo you will push it to with `cardgen card {escape(str(run))} --model-name "
            "ORG/NAME`",
            highlight=False,
            soft_wrap=True,
        )
    console.print(f"card written to {escape(str(output))}", highlight=False, soft_wrap=True)
    if output_format == "md":
        _write_eval_results(eval_results, output)
    return output


def _plan_eval_results(
    run: Path, output: Path, output_format: str, options: dict[str, Any]
) -> EvalResultsFile | None:
    """The run's ``.eval_results`` file, checked before the card is written; pops its options."""
    from cardgen.cards.eval_results import plan_eval_results

    metric = options.pop("eval_results_metric", None)
    revision = options.pop("dataset_revision", None)
    if output_format != "md":
        if metric is not None or revision is not None:
            raise UsageError(
                "--eval-results-metric and --dataset-revision go with a Markdown card (the "
                "Hub reads .eval_results beside README.md); drop them or --format html"
            )
        return None
    return plan_eval_results(
        run,
        output,
        metric=metric,
        dataset_id=options.get("dataset_id"),
        dataset_config=options.get("dataset_config"),
        dataset_split=options.get("dataset_split"),
        dataset_revision=revision,
    )


def _write_eval_results(file: EvalResultsFile | None, card: Path) -> None:
    """Write ``file`` beside ``card``, or say why there is none."""
    from cardgen.cards.eval_results_folder import write_eval_results

    if file is None:
        err_console.print(
            "[bold]note:[/] no .eval_results file written: the run's dataset has no Hub id (a "
            "local file) and the Hub shows results only for Hub datasets; pass --dataset-id "
            "OWNER/NAME when the data is a Hub dataset",
            highlight=False,
            soft_wrap=True,
        )
        return
    path = write_eval_results(file, card)
    console.print(f"eval results written to {escape(str(path))}", highlight=False, soft_wrap=True)


def read_sections(values: list[str]) -> dict[str, str]:
    """``NAME=FILE`` options -> {name: the file's Markdown}; the library checks the Markdown."""
    sections: dict[str, str] = {}
    for value in values:
        name, sep, file = value.partition("=")
        name = name.strip()
        if not sep or not name or not file:
            raise UsageError(
                f"--section takes NAME=FILE (e.g. intended_uses=notes.md), got {quote(value)}"
            )
        if name in sections:
            raise UsageError(f"--section {quote(name)} is given twice; pass each section once")
        try:
            text = read_text(Path(file), error=UsageError, what="file", max_bytes=MAX_SECTION_BYTES)
        except UsageError as exc:
            raise UsageError(f"cannot read the file of --section {name}: {exc}") from None
        sections[name] = text.removeprefix("\ufeff").strip()
        try:
            check_section(name, sections[name])
        except CardError as exc:
            raise CardError(f"--section {name}={file}: {exc}") from None
    return sections


@app.command()
def card(
    run: Annotated[
        Path,
        typer.Argument(help="Run directory written by `cardgen evaluate`, or its results.json."),
    ],
    output: Annotated[
        Path | None,
        typer.Option(
            help="Card to write, or to refresh if it exists [default: README.md, or "
            "README.html with --format html, in the run directory]."
        ),
    ] = None,
    template: Annotated[
        Path | None,
        typer.Option(help="Your own Jinja card template (rendered in a sandbox)."),
    ] = None,
    model_name: Annotated[
        str | None,
        typer.Option(help="Model name or hub repo id [default: hub id or file name]."),
    ] = None,
    base_model: Annotated[
        str | None, typer.Option(help="Hub id of the model this one was fine-tuned from.")
    ] = None,
    license_: Annotated[
        str | None, typer.Option("--license", help="License id, e.g. apache-2.0.")
    ] = None,
    training_history: Annotated[
        Path | None,
        typer.Option(help="A Trainer trainer_state.json, or a Keras history .csv / .json."),
    ] = None,
    hyperparameters: Annotated[
        Path | None, typer.Option(help="JSON object of training hyperparameters.")
    ] = None,
    section: Annotated[
        list[str] | None,
        typer.Option(
            help="NAME=FILE: Markdown for a section (intended_uses, model_description, "
            "training_data, risks). Repeatable."
        ),
    ] = None,
    dataset_id: Annotated[
        str | None,
        typer.Option(help="Hub id of the evaluation dataset, e.g. nyu-mll/glue [default: as run]."),
    ] = None,
    dataset_config: Annotated[
        str | None, typer.Option(help="Its configuration, e.g. sst2 [default: as run].")
    ] = None,
    dataset_split: Annotated[
        str | None,
        typer.Option(help="Its split, e.g. validation [default: as run, or from the file name]."),
    ] = None,
    language: Annotated[
        list[str] | None,
        typer.Option(help="ISO 639 code of the texts' language, e.g. en. Repeatable."),
    ] = None,
    eval_results_metric: Annotated[
        str | None,
        typer.Option(
            help="Metric for .eval_results/, the results the Hub shows by its datasets "
            "[default: accuracy; micro_f1 for multi-label]."
        ),
    ] = None,
    dataset_revision: Annotated[
        str | None,
        typer.Option(
            help="Commit id of the Hub dataset evaluated, for .eval_results/ [default: the "
            "commit `cardgen evaluate` loaded, for a Hub dataset]."
        ),
    ] = None,
    format_: Annotated[
        str,
        typer.Option("--format", help="md (Markdown with Hub metadata) or html (one page)."),
    ] = "md",
    overwrite: Annotated[
        bool,
        typer.Option(help="Replace an existing card whole instead of refreshing its sections."),
    ] = False,
    merge: Annotated[
        bool,
        typer.Option(
            help="Add cardgen's sections to an existing card written without cardgen, keeping "
            "every line and front-matter key of it."
        ),
    ] = False,
    discard_edits: Annotated[
        bool,
        typer.Option(
            help="Replace cardgen's sections even where someone edited them since cardgen "
            "wrote them (otherwise such a card is refused, naming the sections)."
        ),
    ] = False,
    verification: Annotated[
        Path | None,
        typer.Option(
            help='A verification.json of `cardgen verify`: add its "Verified results" section.'
        ),
    ] = None,
) -> None:
    """Write the model card of an evaluation run (refreshing the sections of an existing one)."""
    write_card(
        run,
        output,
        format_,
        template=template,
        model_name=model_name,
        base_model=base_model,
        license=license_,
        training_history=training_history,
        hyperparameters=hyperparameters,
        sections=read_sections(section or []),
        overwrite=overwrite,
        merge=merge,
        discard_edits=discard_edits,
        dataset_id=dataset_id,
        dataset_config=dataset_config,
        dataset_split=dataset_split,
        language=language,
        eval_results_metric=eval_results_metric,
        dataset_revision=dataset_revision,
        verification=verification,
    )
