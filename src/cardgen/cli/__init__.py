"""Command line: thin commands over the library, and the one place errors become exit codes.

=====  ==========================================================================
code   meaning
=====  ==========================================================================
0      ok
1      a gate rule failed (``gate``), or a card's claim is contradicted (``verify``)
2      usage or input error: one ``error:`` line that names the fix
70     internal error (a bug in cardgen): the traceback is written to a crash file
130    interrupted (Ctrl-C); nothing is left half-written
141    output pipe closed early (``cardgen ... | head``)
=====  ==========================================================================
"""

from __future__ import annotations

import atexit
import errno
import os
import sys
import warnings
from typing import NoReturn

import typer
from rich.markup import escape

from cardgen.cli import card as _card  # noqa: F401  (registers commands)
from cardgen.cli import compare as _compare  # noqa: F401
from cardgen.cli import evaluate as _evaluate  # noqa: F401
from cardgen.cli import gate as _gate  # noqa: F401
from cardgen.cli import probe as _probe  # noqa: F401
from cardgen.cli import push as _push  # noqa: F401
from cardgen.cli import verify as _verify  # noqa: F401
from cardgen.cli._app import app, err_console
from cardgen.cli._crash import write_crash_report
from cardgen.errors import (
    EXIT_INPUT_ERROR,
    EXIT_INTERNAL_ERROR,
    EXIT_INTERRUPTED,
    CardgenError,
)

__all__ = ["app", "main", "run"]

EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, what a shell reports for `cardgen ... | head`

# OSErrors a user fixes (space, permissions, a wrong path), as opposed to bugs.
_USER_ERRNOS = frozenset(
    {
        errno.ENOSPC,
        errno.EDQUOT,
        errno.EACCES,
        errno.EPERM,
        errno.EROFS,
        errno.EISDIR,
        errno.ENOTDIR,
        errno.ENAMETOOLONG,
        errno.ENOENT,
        errno.EEXIST,
        errno.EMFILE,
    }
)


def _error(message: str) -> int:
    err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    return EXIT_INPUT_ERROR


def main(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit code (see the module docstring for the table)."""
    warnings.filterwarnings("default", module="cardgen")
    args = sys.argv[1:] if argv is None else argv
    try:
        code = app(args=args, standalone_mode=False)
    except CardgenError as exc:
        return _error(str(exc))
    except (KeyboardInterrupt, typer.Abort):
        err_console.print("interrupted")
        return EXIT_INTERRUPTED
    except typer.Exit as exc:
        return int(exc.exit_code)
    except typer.TyperException as exc:  # usage errors from the argument parser
        format_message = getattr(exc, "format_message", None)
        if format_message is None:
            return _internal_error(exc, args)
        ctx = getattr(exc, "ctx", None)
        command = ctx.command_path if ctx is not None else "cardgen"
        return _error(f"{format_message()} (see `{command} --help`)")
    except SystemExit as exc:  # typer exits 1 on a broken pipe: report it as SIGPIPE does
        return EXIT_BROKEN_PIPE if exc.code == 1 else int(exc.code or 0)
    except OSError as exc:
        if exc.errno not in _USER_ERRNOS:
            return _internal_error(exc, args)
        where = f" {exc.filename}" if exc.filename else ""
        return _error(f"cannot access{where}: {exc.strerror or exc}; free space or fix the path")
    except Exception as exc:  # noqa: BLE001 - the one place a bug becomes an exit code
        return _internal_error(exc, args)
    if code == EXIT_INTERRUPTED:  # typer turns Ctrl-C into this code
        err_console.print("interrupted")
    return code if isinstance(code, int) else 0


def run() -> NoReturn:
    """The console script: :func:`main`, then a fast exit.

    Tearing down the thousands of modules torch and transformers import takes about a second
    after the work is done, so the process leaves without it: exit handlers run (Spark stops,
    logs flush, temporary folders go) and both streams are flushed first.
    """
    code = main()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BrokenPipeError:  # `cardgen ... | head` closed the pipe before the last lines
            code = code or EXIT_BROKEN_PIPE
        except (OSError, ValueError):  # a closed stream has nothing left to flush
            pass
    atexit._run_exitfuncs()
    os._exit(code)


def _internal_error(exc: BaseException, argv: list[str]) -> int:
    report = write_crash_report(exc, argv)
    where = f"the traceback is in {report}" if report else "the traceback could not be saved"
    err_console.print(
        f"internal error: this is a bug in cardgen ({type(exc).__name__}); {where}. "
        "Please report it at the cardgen issue tracker with that file and the command you ran.",
        highlight=False,
        soft_wrap=True,
        markup=False,
    )
    return EXIT_INTERNAL_ERROR


if __name__ == "__main__":
    run()
