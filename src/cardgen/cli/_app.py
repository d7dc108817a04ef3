"""The Typer application that every command module registers on."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

app = typer.Typer(
    name="cardgen",
    help="Evaluate fine-tuned text classifiers and write their model cards.",
    epilog="Exit codes: 0 ok, 1 a gate failed, 2 usage or input error, 70 internal error (a bug "
    "in cardgen; the traceback goes to a crash file), 130 interrupted (Ctrl-C).",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
console = Console()
err_console = Console(stderr=True)


def _print_version(value: bool) -> None:
    if value:
        from cardgen import __version__

        console.print(f"cardgen {__version__}", highlight=False)
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Evaluate fine-tuned text classifiers and write their model cards."""
