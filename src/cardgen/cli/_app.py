"""The Typer application that every command module registers on."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated

import typer
from rich.console import Console, ConsoleDimensions

app = typer.Typer(
    name="cardgen",
    help="Evaluate fine-tuned text classifiers and write their model cards.",
    epilog="Exit codes: 0 ok, 1 a gate failed or a claim was contradicted, 2 usage or input "
    "error, 70 internal error (a bug in cardgen; the traceback goes to a crash file), 130 "
    "interrupted (Ctrl-C).",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

# Without a terminal, a width no table or message reaches: Rich tables take their natural width
# (they never expand), so every row stays on one line.
UNBOUNDED_WIDTH = 10_000


class CliConsole(Console):
    """A Console as wide as ``COLUMNS`` when that is set, else as the terminal it writes to.

    Writing to a file or a pipe (CI logs, ``nohup``, ``| tee``), it is as wide as what it
    prints instead of Rich's 80 columns: CIs, probe names and gate rules are neither wrapped
    nor cut. Both are decided at each print, so a test's captured stdout counts as a pipe.
    """

    def __init__(self, *, stderr: bool = False) -> None:
        super().__init__(stderr=stderr)
        self._width = None  # Rich reads COLUMNS once here; ``size`` reads it at each print

    @property
    def size(self) -> ConsoleDimensions:
        size = super().size
        if self._width is None and not _columns_set(self._environ) and not self._writes_to_tty():
            return ConsoleDimensions(UNBOUNDED_WIDTH, size.height)
        return size

    @size.setter
    def size(self, new_size: tuple[int, int]) -> None:
        self._width, self._height = new_size

    def _writes_to_tty(self) -> bool:
        """Whether the file is a terminal (FORCE_COLOR, which CI sets for colours, aside)."""
        isatty = getattr(self.file, "isatty", None)
        try:
            return bool(isatty and isatty())
        except ValueError:  # a closed file
            return False


def _columns_set(environ: Mapping[str, str]) -> bool:
    columns = environ.get("COLUMNS", "")
    return columns.isdigit() and int(columns) > 0


console = CliConsole()
err_console = CliConsole(stderr=True)


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
