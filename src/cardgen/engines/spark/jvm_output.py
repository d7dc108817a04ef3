"""Where the JVM's own output goes: Spark's log file in the temp directory, never the
terminal. The JVM inherits file descriptors 1 and 2 while it starts, so it and the Python
workers it forks write there for as long as it lives."""

from __future__ import annotations

import atexit
import os
import re
import subprocess
import sys
import tempfile
import traceback
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

_EXCEPTION = re.compile(r"^[\w.$]+(?:Exception|Error): (.+)$")
_JVM_ERROR = re.compile(r'^Exception in thread "main" [\w.$]+: (.+)$|^\S+ \S+ ERROR [\w.$]+: (.+)$')


class SparkLog:
    """Spark's log file, where the JVM writes its output; removed at exit unless a message
    named it."""

    def __init__(self) -> None:
        self.path: Path | None = None
        self.keep = False

    def open(self) -> Path:
        """The log file, created on first use (and again if something removed it)."""
        if self.path is None:
            atexit.register(self._remove)
        if self.path is None or not self.path.exists():
            handle, name = tempfile.mkstemp(prefix="cardgen-spark-", suffix=".log")
            os.close(handle)
            self.path = Path(name)
        return self.path

    def named(self) -> str:
        """``; Spark's log is PATH`` for a message (the file is then kept), or nothing."""
        if self.path is None:
            return ""
        self.keep = True
        return f"; Spark's log is {self.path}"

    def _remove(self) -> None:
        if self.path is not None and not self.keep:
            with suppress(OSError):
                self.path.unlink()


SPARK_LOG = SparkLog()


@contextmanager
def jvm_output_to(path: Path) -> Iterator[None]:
    """File descriptors 1 and 2 write to ``path`` meanwhile, so a JVM started now (which
    inherits them, as do its Python workers) never writes to the terminal."""
    _flush()
    try:
        saved = (os.dup(1), os.dup(2))
    except OSError:  # no stdout or stderr: nothing would reach a terminal anyway
        saved = None
    if saved is None:
        yield
        return
    target = os.open(path, os.O_WRONLY | os.O_APPEND)
    try:
        os.dup2(target, 1)
        os.dup2(target, 2)
        yield
    finally:
        _flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in (*saved, target):
            os.close(fd)


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        with suppress(Exception):
            stream.flush()


def jvm_error(log: Path, start: int) -> str | None:
    """The error the JVM logged after byte ``start`` of ``log``: an uncaught exception, else
    its last ERROR line."""
    try:
        with open(log, encoding="utf-8", errors="replace") as handle:
            handle.seek(start)
            text = handle.read(1 << 20)
    except OSError:
        return None
    lines = text.splitlines()
    uncaught, logged = None, None
    for line, after in zip(lines, [*lines[1:], ""], strict=True):
        match = _JVM_ERROR.match(line)
        if match is None:
            continue
        if match.group(1) and uncaught is None:
            uncaught = match.group(1)
        elif match.group(2):  # the exception on the next line says more, when there is one
            thrown = _EXCEPTION.match(after)
            logged = thrown.group(1) if thrown else match.group(2)
    chosen = uncaught or logged
    return None if chosen is None else " ".join(chosen.split())


def close_dead_gateway(exc: BaseException) -> None:
    """Close the pipe to a JVM gateway that exited while starting: pyspark drops it open."""
    for frame, _ in traceback.walk_tb(exc.__traceback__):
        for value in frame.f_locals.values():
            if isinstance(value, subprocess.Popen) and value.poll() is not None and value.stdin:
                value.stdin.close()
