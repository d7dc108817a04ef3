"""Run directories that change from one whole run to another, never to half of one.

A run is built in a hidden directory beside its target (``runs/.NAME.tmp-*``) and swapped in
when every file is written: with Linux's ``renameat2(RENAME_EXCHANGE)`` in one step, else with
two renames that the next run repairs if a crash fell between them. A lock file beside the
target (``runs/.NAME.lock``) refuses a second writer while one runs. Files a person added to an
old run (a card, notes) are carried into the new one; the old run's own outputs are not.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import shutil
import tempfile
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from pathlib import Path

from cardgen.errors import OutputError

try:
    import fcntl
except ImportError:  # Windows: no advisory locks, so concurrent writers are not refused there
    fcntl = None  # type: ignore[assignment]

RUN_MARKERS = ("results.json", "probes.json", "verification.json")
_RENAME_EXCHANGE = 2
_AT_FDCWD = -100


@contextmanager
def staged_run_dir(target: str | os.PathLike[str] | None) -> Iterator[Path | None]:
    """Yield an empty directory to build a run in; on success it replaces ``target`` whole.

    On any failure (including Ctrl-C) the staging directory is removed and ``target`` is left
    as it was. OutputError when ``target`` is not a directory cardgen may replace, cannot be
    written, or another cardgen process is writing it. A ``target`` of None (a run that writes
    nothing) yields None.
    """
    if target is None:
        yield None
        return
    target = Path(target)
    parent = target.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(
            f"output directory {target} is not writable (cannot create {parent}: "
            f"{exc.strerror or exc}); pass a writable --output-dir"
        ) from exc
    with _locked(parent / f".{target.name}.lock", target):
        _recover(target)
        _check_replaceable(target)
        try:
            staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-", dir=parent))
        except OSError as exc:
            raise OutputError(
                f"output directory {parent} is not writable ({exc.strerror or exc}); "
                "pass a writable --output-dir"
            ) from exc
        try:
            yield staging
            owned = run_outputs(staging) | run_outputs(target)
            _carry_over(target, staging, owned)
            _swap(staging, target)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise


def run_outputs(directory: Path) -> set[str]:
    """Top-level names in ``directory`` that belong to its cardgen run (markers and the files
    its results or probes file lists)."""
    from cardgen.trust.untrusted import parse_json, read_text

    names: set[str] = set()
    for marker in RUN_MARKERS:
        path = directory / marker
        if not path.is_file():
            continue
        names.add(marker)
        try:
            text = read_text(path, error=OutputError, base=directory)
            data = parse_json(text, source=str(path), error=OutputError)
        except OutputError:
            continue
        names.update(_file_names(data))
    return names


def _file_names(data: object) -> set[str]:
    """Plain file names listed under ``files`` and ``plot`` keys anywhere in a run file."""
    found: set[str] = set()
    stack = [data]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            for key, item in value.items():
                if key == "files" and isinstance(item, dict):
                    found.update(v for v in item.values() if isinstance(v, str))
                elif key == "plot" and isinstance(item, str):
                    found.add(item)
                else:
                    stack.append(item)
        elif isinstance(value, list):
            stack.extend(value)
    return {Path(name).parts[0] for name in found if name and not Path(name).is_absolute()}


@contextmanager
def _locked(lock_path: Path, target: Path) -> Iterator[None]:
    try:
        handle = open(lock_path, "a+")  # noqa: SIM115 - held for the whole block
    except OSError as exc:
        raise OutputError(
            f"cannot write beside {target} ({exc.strerror or exc}); pass a writable --output-dir"
        ) from exc
    try:
        try:
            if fcntl is not None:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise OutputError(
                f"another cardgen run is writing {target} right now; wait for it to finish or "
                "pass another --output-dir"
            ) from None
        yield
    finally:
        handle.close()


def _check_replaceable(target: Path) -> None:
    if Path.cwd().resolve().is_relative_to(target.resolve()):
        raise OutputError(f"{target} is the working directory or holds it; pass a run directory")
    if target.exists() and not target.is_dir():
        raise OutputError(f"{target} is a file, not a run directory; pass another --output-dir")
    if target.is_dir():
        entries = [p.name for p in target.iterdir()]
        if entries and not any(marker in entries for marker in RUN_MARKERS):
            raise OutputError(
                f"{target} holds files that are not a cardgen run ({', '.join(sorted(entries)[:3])}"
                f"{', ...' if len(entries) > 3 else ''}); pass a new or empty --output-dir"
            )


def _recover(target: Path) -> None:
    """Finish a swap that a crash interrupted, and remove stale staging directories."""
    parent = target.parent
    olds = sorted(parent.glob(f".{target.name}.old-*"))
    if olds and not target.exists():
        olds.pop().rename(target)
    for stale in [*olds, *parent.glob(f".{target.name}.tmp-*")]:
        shutil.rmtree(stale, ignore_errors=True)


def _carry_over(old: Path, new: Path, owned: Collection[str]) -> None:
    if not old.is_dir():
        return
    for entry in old.iterdir():
        if entry.name in owned or (new / entry.name).exists():
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.copytree(entry, new / entry.name, symlinks=True, copy_function=_link_or_copy)
        else:
            _link_or_copy(entry, new / entry.name)


def _link_or_copy(source: str | os.PathLike[str], destination: str | os.PathLike[str]) -> None:
    if Path(source).is_symlink():
        os.symlink(os.readlink(source), destination)
        return
    try:
        os.link(source, destination)
    except OSError:
        shutil.copy2(source, destination)


def _swap(staging: Path, target: Path) -> None:
    os.chmod(staging, 0o755)
    if not target.exists():
        os.rename(staging, target)
        return
    if _exchange(staging, target):
        shutil.rmtree(staging, ignore_errors=True)  # now holds the old run
        return
    old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
    os.rmdir(old)
    os.rename(target, old)
    os.rename(staging, target)
    shutil.rmtree(old, ignore_errors=True)


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two paths (Linux ``renameat2``); False where the system cannot."""
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(name, use_errno=True)
        result = libc.renameat2(
            _AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE
        )
        return bool(result == 0)
    return False
