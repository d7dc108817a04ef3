"""Crash reports: the traceback of an internal error, written where the user can attach it."""

from __future__ import annotations

import os
import platform
import tempfile
import traceback
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path

from cardgen import __version__
from cardgen.trust.secrets import redactor


def redact(text: str, argv: Sequence[str] = ()) -> str:
    """``text`` without Hub tokens: env tokens, ``--token`` values and ``hf_...`` strings."""
    secrets = [value for flag, value in zip(argv, argv[1:], strict=False) if flag == "--token"]
    secrets += [arg.split("=", 1)[1] for arg in argv if arg.startswith("--token=")]
    return redactor(secrets)(text)


def write_crash_report(exc: BaseException, argv: list[str]) -> Path | None:
    """Write version, command and traceback (tokens redacted) to a new file; its path."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    body = (
        f"cardgen {__version__}, Python {platform.python_version()}, {platform.platform()}\n"
        f"command: cardgen {' '.join(argv)}\n\n"
        + "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    )
    directory = Path(os.environ.get("CARDGEN_CRASH_DIR") or tempfile.gettempdir())
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=f"cardgen-crash-{stamp}-", suffix=".txt", dir=directory)
        with open(fd, "w", encoding="utf-8") as handle:
            handle.write(redact(body, argv))
    except OSError:
        return None
    return Path(name)
