"""Reading files cardgen did not write: bounded in size, nesting, aliases and message length.

Every JSON, YAML and TOML file that comes from a user, a model repository or a run directory
goes through here, so that a hostile file costs at most these limits and fails with a
CardgenError (of the caller's kind) that says which limit it hit.

Cards, their images and run files are also confined (``open_regular`` with ``base``,
``check_output_file``): read only as regular files that stay inside the directory the user
named once links are resolved (a link that stays inside is followed), and written only where no
link, FIFO or other non-regular file stands; a link out, a FIFO or a device is refused.
"""

from __future__ import annotations

import errno
import json
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

import yaml

from cardgen.errors import CardgenError

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

MAX_FILE_BYTES = 256 * 2**20
MAX_LINE_BYTES = 16 * 2**20  # a line of a file that streams (CSV, JSONL), which has no size bound
MAX_DEPTH = 64
MAX_NODES = 2_000_000
MAX_YAML_ALIASES = 64
MAX_QUOTED = 120
MAX_LABELS = 10_000  # labels of a model, a dataset or a results file


class LimitError(CardgenError, ValueError):
    """Untrusted input went past one of cardgen's bounds."""


def quote(value: Any, limit: int = MAX_QUOTED) -> str:
    """``repr(value)`` cut to ``limit`` characters, for quoting untrusted values in messages."""
    text = repr(value)
    if len(text) <= limit:
        return text
    return f"{text[: limit - 1]}… ({len(text):,} characters)"


def read_text(
    path: str | os.PathLike[str],
    *,
    error: type[CardgenError],
    what: str = "file",
    max_bytes: int = MAX_FILE_BYTES,
    encoding: str = "utf-8",
    base: str | os.PathLike[str] | None = None,
    keep_line_endings: bool = False,
) -> str:
    """The text of ``path``; ``error`` when it is missing, too large, not ``encoding`` or not a
    regular file (or, with ``base``, not inside it: see ``open_regular``). Line endings become
    ``\n`` unless ``keep_line_endings`` (for a file cardgen edits in place)."""
    target = Path(path)
    with open_regular(target, error=error, what=what, max_bytes=max_bytes, base=base) as handle:
        try:
            data = handle.read(max_bytes + 1)
            text = data.decode(encoding)
        except UnicodeDecodeError as exc:
            raise error(
                f"{what} {target} is not {encoding.removesuffix('-sig')} text ({exc.reason} "
                f"at byte {exc.start})"
            ) from None
        except OSError as exc:
            raise error(f"cannot read {what} {target}: {exc.strerror or exc}") from exc
    if len(data) > max_bytes:
        raise error(f"{what} {target} grew past cardgen's limit of {max_bytes:,} bytes")
    if "\r" in text and not keep_line_endings:  # universal newlines, as open() reads them
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text


def read_lines(
    path: str | os.PathLike[str],
    *,
    error: type[CardgenError],
    what: str = "file",
    base: str | os.PathLike[str] | None = None,
) -> Iterator[tuple[int, str]]:
    """(line number, text) of every line of ``path`` as UTF-8, streamed: split on LF only (so
    U+2028 stays text), a byte-order mark dropped, each line bounded by MAX_LINE_BYTES;
    ``error`` names the line that is too long or not UTF-8. ``path`` is opened at once, with
    ``open_regular``, so that a file cardgen refuses fails the call itself."""
    target = Path(path)
    return _lines(open_regular(target, error=error, what=what, base=base), target, error, what)


def _lines(
    handle: BinaryIO, target: Path, error: type[CardgenError], what: str
) -> Iterator[tuple[int, str]]:
    offset = 0
    with handle:
        for number, raw in enumerate(iter(lambda: handle.readline(MAX_LINE_BYTES + 1), b""), 1):
            if len(raw) > MAX_LINE_BYTES:
                raise error(
                    f"line {number} of {what} {target} is longer than cardgen's limit of "
                    f"{MAX_LINE_BYTES:,} bytes; is it a text file with one row per line?"
                )
            if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw, offset = raw[3:], 3
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                hint = "it looks like UTF-16; " if raw[:2] in (b"\xff\xfe", b"\xfe\xff") else ""
                raise error(
                    f"{what} {target} is not UTF-8 text: byte 0x{raw[exc.start]:02x} on line "
                    f"{number} (byte offset {offset + exc.start}, {exc.reason}); {hint}save it "
                    "as UTF-8"
                ) from None
            offset += len(raw)
            yield number, line


_READ = os.O_RDONLY | getattr(os, "O_BINARY", 0) | getattr(os, "O_NONBLOCK", 0)
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_LINK_FIX = (
    "cardgen reads cards, images and run files only inside the directory you named: replace "
    "the link with a copy of the file"
)


def contained(
    path: str | os.PathLike[str],
    base: str | os.PathLike[str],
    *,
    error: type[CardgenError],
    what: str = "file",
    fix: str | None = _LINK_FIX,
) -> Path:
    """The real path of ``path`` when, with every link on the way resolved, it stays inside
    ``base``: the directory the user named, trusted with the links above it. ``error`` names
    ``path`` (never where a link points) when it leads out (then ends with ``fix``) or links
    loop."""
    target = Path(path)
    shown = str(target) if str(target).isprintable() else quote(str(target))
    try:
        root, real = Path(base).resolve(), target.resolve()
    except (OSError, RuntimeError):  # RuntimeError: a loop of links before Python 3.13
        raise error(f"{what} {shown} is a loop of links; replace it with the file") from None
    except ValueError as exc:  # a NUL in the path
        raise error(f"{what} {shown} is not a usable path ({exc})") from None
    if not real.is_relative_to(root):
        ending = f"; {fix}" if fix else ""
        raise error(f"{what} {shown} leads outside {base} through a link{ending}")
    return real


def open_regular(
    path: str | os.PathLike[str],
    *,
    error: type[CardgenError],
    what: str = "file",
    max_bytes: int | None = None,
    base: str | os.PathLike[str] | None = None,
) -> BinaryIO:
    """``path`` open for binary reading when it is a regular file (of at most ``max_bytes``);
    ``error`` for a missing file, a directory, a FIFO, device or socket (opened non-blocking,
    so none of them can hang cardgen).

    With ``base``, ``path`` must also stay inside ``base`` (see ``contained``): a link out is
    refused; its real path is then opened with O_NOFOLLOW, so a link swapped in
    after the check is refused too. Without ``base`` (a file the user named) links are followed.
    """
    target = Path(path)
    real = target if base is None else contained(target, base, error=error, what=what)
    try:
        fd = os.open(real, _READ | (_NOFOLLOW if base is not None else 0))
    except FileNotFoundError:
        raise error(f"{what} {target} does not exist") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise error(f"{what} {target} became a link while cardgen read it") from None
        raise error(f"cannot read {what} {target}: {exc.strerror or exc}") from None
    except ValueError as exc:  # a NUL in the path
        raise error(f"{what} {quote(str(target))} is not a usable path ({exc})") from None
    try:
        info = os.fstat(fd)
        mode, size = info.st_mode, info.st_size
        if stat.S_ISDIR(mode):
            raise error(f"{what} {target} is a directory; pass a file")
        if not stat.S_ISREG(mode):
            raise error(
                f"{what} {target} is not a regular file (a FIFO, device or socket); pass a file"
            )
        if max_bytes is not None and size > max_bytes:
            raise error(
                f"{what} {target} is {size:,} bytes, over cardgen's limit of {max_bytes:,} bytes"
            )
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def check_output_file(
    path: str | os.PathLike[str], *, error: type[CardgenError], what: str = "output"
) -> None:
    """``error`` when ``path``, a file cardgen is about to write, is a link (wherever it
    points: cardgen writes only regular files, never through a link) or exists as anything but
    a regular file; a path that does not exist yet is fine."""
    target = Path(path)
    try:
        mode = target.lstat().st_mode
    except (FileNotFoundError, NotADirectoryError):
        return
    except (OSError, ValueError) as exc:
        raise error(f"cannot write {what} {quote(str(target))}: {exc}") from None
    if stat.S_ISLNK(mode):
        raise error(
            f"{what} {target} is a symbolic link; cardgen writes only regular files, never "
            "through a link: pass the file it points to instead, or remove the link"
        )
    if stat.S_ISDIR(mode):
        raise error(f"{what} {target} is a directory; pass a file path")
    if not stat.S_ISREG(mode):
        raise error(
            f"{what} {target} is not a regular file (a FIFO, device or socket); pass another path"
        )


def check_size(data: Any, *, source: str, error: type[CardgenError]) -> Any:
    """``data`` unchanged, or ``error`` when it nests deeper than MAX_DEPTH or has too many
    nodes (aliases counted every time they are used)."""
    stack: list[tuple[Any, int]] = [(data, 0)]
    nodes = 0
    while stack:
        value, depth = stack.pop()
        nodes += 1
        if nodes > MAX_NODES:
            raise error(f"{source} holds more than {MAX_NODES:,} values, over cardgen's limit")
        if isinstance(value, (dict, list, tuple)):
            if depth >= MAX_DEPTH:
                raise error(f"{source} nests deeper than {MAX_DEPTH} levels, cardgen's limit")
            items = value.values() if isinstance(value, dict) else value
            stack.extend((item, depth + 1) for item in items)
    return data


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    data = dict(pairs)
    if len(data) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKey(key)
            seen.add(key)
    return data


class _DuplicateKey(ValueError):
    pass


def parse_json(
    text: str, *, source: str, error: type[CardgenError], unique_keys: bool = True
) -> Any:
    """JSON from untrusted text, bounded in depth and size; a key repeated in one object (where
    the last value would silently win) is refused unless ``unique_keys`` is off."""
    try:
        data = json.loads(text, object_pairs_hook=_unique_keys if unique_keys else None)
    except RecursionError:
        raise error(f"{source} nests deeper than {MAX_DEPTH} levels, cardgen's limit") from None
    except json.JSONDecodeError as exc:
        raise error(f"{source} is not valid JSON: {exc.msg} (line {exc.lineno})") from None
    except _DuplicateKey as exc:
        raise error(f"{source} repeats the key {quote(exc.args[0])} in one object") from None
    except ValueError as exc:  # e.g. an integer past Python's digit limit
        raise error(f"{source} holds a value cardgen cannot read: {quote(str(exc))}") from None
    return check_size(data, source=source, error=error)


class _BoundedLoader(yaml.SafeLoader):
    """A safe YAML loader that refuses deep nesting and many aliases (billion laughs)."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.aliases = 0
        self.depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            self.aliases += 1
            if self.aliases > MAX_YAML_ALIASES:
                raise LimitError(f"more than {MAX_YAML_ALIASES} YAML aliases")
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                raise LimitError(f"YAML nests deeper than {MAX_DEPTH} levels")
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


def parse_yaml(text: str, *, source: str, error: type[CardgenError]) -> Any:
    """YAML (safe types only) from untrusted text, bounded in aliases, depth and size."""
    loader = _BoundedLoader(text)
    with _yaml_errors(source, error):
        try:
            data = loader.get_single_data()
        finally:
            loader.dispose()
    return check_size(data, source=source, error=error)


def compose_yaml(text: str, *, source: str, error: type[CardgenError]) -> yaml.Node | None:
    """The node tree of untrusted YAML (every node with its line and column), bounded as in
    ``parse_yaml``: for checking and editing a YAML text in place."""
    loader = _BoundedLoader(text)
    with _yaml_errors(source, error):
        try:
            return loader.get_single_node()
        finally:
            loader.dispose()


@contextmanager
def _yaml_errors(source: str, error: type[CardgenError]) -> Iterator[None]:
    """Turn what a YAML loader raises into ``error``, with the line of the problem."""
    try:
        yield
    except LimitError as exc:
        raise error(f"{source}: {exc}, cardgen's limit") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        problem = getattr(exc, "problem", None) or type(exc).__name__
        raise error(f"{source} is not valid YAML: {quote(problem)}{where}") from None
    except RecursionError:
        raise error(f"{source} nests deeper than {MAX_DEPTH} levels, cardgen's limit") from None


def parse_toml(text: str, *, source: str, error: type[CardgenError]) -> dict[str, Any]:
    """TOML from untrusted text, bounded in depth and size."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise error(f"{source} is not valid TOML: {exc}") from None
    except RecursionError:
        raise error(f"{source} nests deeper than {MAX_DEPTH} levels, cardgen's limit") from None
    return check_size(data, source=source, error=error)


def inside(directory: str | os.PathLike[str], name: str, *, what: str) -> Path:
    """``directory / name`` when ``name`` is a plain relative path that stays inside
    ``directory`` (no ``..``, no absolute path, no NUL, no link leading out); else LimitError."""
    base = Path(directory)
    if not isinstance(name, str) or not name or "\x00" in name or len(name) > 255:
        raise LimitError(f"{what} {quote(name)} is not a usable file name")
    relative = Path(name)
    if relative.is_absolute() or ".." in relative.parts:
        raise LimitError(f"{what} {quote(name)} points outside {base}; it must be a path inside it")
    target = base / relative
    contained(target, base, error=LimitError, what=what, fix=None)
    return target
