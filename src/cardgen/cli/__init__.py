"""Command line: thin commands over the library, and the one place errors become exit codes.

Exit codes: 0 ok, 1 a gate failed, 2 usage or input error.
"""

from __future__ import annotations

import sys
import warnings

import typer
from rich.markup import escape

from ..errors import CardgenError
from . import card as _card  # noqa: F401  (registers commands)
from . import evaluate as _evaluate  # noqa: F401
from . import gate as _gate  # noqa: F401
from . import probe as _probe  # noqa: F401
from . import push as _push  # noqa: F401
from ._app import app, err_console

__all__ = ["app", "main"]


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; CardgenError becomes one ``error:`` line and exit code 2."""
    warnings.filterwarnings("default", module="cardgen")
    try:
        code = app(args=argv, standalone_mode=False)
    except CardgenError as exc:
        err_console.print(
            f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True
        )
        return 2
    except SystemExit as exc:
        return int(exc.code or 0)
    except KeyboardInterrupt:
        err_console.print("interrupted")
        return 130
    except typer.TyperException as exc:  # usage errors from the argument parser
        show = getattr(exc, "show", None)
        if show is None:
            raise
        show()
        return int(getattr(exc, "exit_code", 2))
    return code if isinstance(code, int) else 0


if __name__ == "__main__":
    sys.exit(main())
