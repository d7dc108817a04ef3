"""``cardgen verify``: re-run the results a model card claims and judge each claim."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from cardgen.cli._app import app, console
from cardgen.cli._options import (
    AllowPickle,
    BatchSize,
    Device,
    Dtype,
    Engine,
    Progress,
    Revision,
    SparkMaster,
    Trust,
    TrustRemoteCode,
    parse_batch_size,
)
from cardgen.errors import UsageError
from cardgen.trust.untrusted import quote


@app.command()
def verify(
    model: Annotated[str, typer.Option(help="The model the card describes: local path or hub id.")],
    card: Annotated[
        Path | None,
        typer.Option(
            help="The card whose claims to check [default: the model's own README.md, of its "
            "directory or of its repo in the Hugging Face cache]."
        ),
    ] = None,
    dataset: Annotated[
        list[str] | None,
        typer.Option(
            help="ID=PATH: read the rows of claimed dataset ID from a local file or directory "
            "(repeatable) [default: the dataset's snapshot in the Hugging Face cache]."
        ),
    ] = None,
    output_dir: Annotated[
        Path,
        typer.Option(help="Where verification.json and one run directory per dataset go."),
    ] = Path("runs/verify"),
    card_out: Annotated[
        Path | None,
        typer.Option(help='Add (or replace) the "Verified results" section in this card.'),
    ] = None,
    discard_edits: Annotated[
        bool,
        typer.Option(help="With --card-out: replace the section even where someone edited it."),
    ] = False,
    text_column: Annotated[str | None, typer.Option(help="Column holding the texts.")] = None,
    text_pair_column: Annotated[
        str | None, typer.Option(help="Column holding the second text of a sentence pair.")
    ] = None,
    label_column: Annotated[str | None, typer.Option(help="Column holding the labels.")] = None,
    label_map: Annotated[
        str | None,
        typer.Option(help="JSON file mapping model labels to dataset labels, or 'index'."),
    ] = None,
    threshold: Annotated[
        str | None,
        typer.Option(
            help="Multi-label models: the threshold of every label, or a JSON file of label -> "
            "threshold, as the claims were measured [default: 0.5]."
        ),
    ] = None,
    batch_size: BatchSize = "auto",
    device: Device = "auto",
    dtype: Dtype = "auto",
    bootstrap: Annotated[
        int, typer.Option(help="Bootstrap resamples for the 95% CIs the claims are judged by.")
    ] = 10_000,
    seed: Annotated[int, typer.Option(help="Seed of the bootstrap.")] = 0,
    revision: Revision = None,
    trust_remote_code: TrustRemoteCode = False,
    allow_pickle: AllowPickle = False,
    trust: Trust = None,
    progress: Progress = False,
    engine: Engine = "local",
    spark_master: SparkMaster = None,
) -> None:
    """Re-run the results a model card claims; exit 1 when one is contradicted.

    Exit codes: 0 every checkable claim is consistent, 1 a claim is contradicted, 2 bad input.
    """
    from cardgen.cards.verified import add_verified_section
    from cardgen.display.tables import verify_table
    from cardgen.verify import VERIFICATION_FILE, verify_card

    if discard_edits and card_out is None:
        raise UsageError("--discard-edits goes with --card-out; add it, or drop both")
    report = verify_card(
        model,
        card=card,
        datasets=_dataset_paths(dataset or []),
        output_dir=output_dir,
        n_bootstrap=bootstrap,
        seed=seed,
        text_column=text_column,
        text_pair_column=text_pair_column,
        label_column=label_column,
        label_map=label_map,
        threshold=threshold,
        batch_size=parse_batch_size(batch_size),
        device=device,
        dtype=dtype,
        revision=revision,
        trust_remote_code=trust_remote_code,
        allow_pickle=allow_pickle,
        trusted_types=trust or (),
        progress=progress,
        engine=engine,
        spark_master=spark_master,
    )
    console.print(verify_table(report))
    written = output_dir / VERIFICATION_FILE
    console.print(f"verification written to {escape(str(written))}", highlight=False)
    if card_out is not None:
        add_verified_section(card_out, report.to_dict(), discard_edits=discard_edits)
        console.print(f"verified results written to {escape(str(card_out))}", highlight=False)
    console.print(report.headline, style="green" if report.passed else "bold red", markup=False)
    if not report.passed:
        raise typer.Exit(1)


def _dataset_paths(values: list[str]) -> dict[str, str]:
    """``--dataset ID=PATH`` options as ``{id: path}``."""
    found: dict[str, str] = {}
    for value in values:
        dataset_id, sep, path = value.partition("=")
        if not sep or not dataset_id.strip() or not path.strip():
            raise UsageError(f"--dataset must be ID=PATH, got {quote(value)}")
        if dataset_id in found:
            raise UsageError(f"--dataset names {quote(dataset_id)} twice; pass one path for it")
        found[dataset_id] = path
    return found
