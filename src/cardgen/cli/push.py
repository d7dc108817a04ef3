"""``cardgen push``: publish a model card to the Hugging Face Hub."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cardgen.cli._app import app, console


@app.command()
def push(
    card: Annotated[
        Path, typer.Argument(help="The model card to publish; it becomes the repo's README.md.")
    ],
    repo_id: Annotated[str, typer.Option(help="Hub model repository, ORG/NAME or NAME.")],
    create_pr: Annotated[
        bool, typer.Option(help="Open a pull request instead of committing to the branch.")
    ] = False,
    revision: Annotated[
        str | None, typer.Option(help="Branch to commit to [default: main].")
    ] = None,
    dry_run: Annotated[
        bool,
        typer.Option(help="Validate the card and print what would be committed; send nothing."),
    ] = False,
    merge_with_hub: Annotated[
        bool,
        typer.Option(
            help="Merge the card into the repo's current README.md (keeping its text) instead "
            "of replacing it; the commit fails if the repo changes meanwhile. With --dry-run, "
            "print the diff."
        ),
    ] = False,
    discard_edits: Annotated[
        bool,
        typer.Option(
            help="With --merge-with-hub: replace cardgen's sections even where someone edited "
            "them on the Hub (otherwise such a push is refused)."
        ),
    ] = False,
    token: Annotated[
        str | None,
        typer.Option(
            help="Hub token with write access [default: HF_TOKEN or the `hf auth login` "
            "token]; prefer HF_TOKEN, since options show in process lists. Never printed.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Upload a card and the images it links in one commit (token: HF_TOKEN or `hf auth login`)."""
    from cardgen.hub.push import push_card

    result = push_card(
        card,
        repo_id,
        create_pr=create_pr,
        revision=revision,
        dry_run=dry_run,
        token=token,
        merge_with_hub=merge_with_hub,
        discard_edits=discard_edits,
    )
    if dry_run and result.diff is not None:
        console.print(result.diff or "README.md would not change", markup=False, highlight=False)
    console.print(result.describe(), markup=False, highlight=False)
