"""The ``.eval_results`` folder beside a card: cardgen's file written there, every file read.

Nothing is read or written through a link: the folder must be a real folder and each file a
regular file inside the card's folder. A file of cardgen's name that is not cardgen's (see
``written_by_cardgen``) is never replaced.
"""

from __future__ import annotations

import stat
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from cardgen.cards.eval_results_format import (
    EVAL_RESULTS_DIR,
    MAX_EVAL_RESULTS_BYTES,
    MAX_EVAL_RESULTS_FILES,
    EvalResultsFile,
    claimed_metric,
    is_eval_results_name,
    not_cardgens,
    parse_eval_results_bytes,
    written_by_cardgen,
)
from cardgen.errors import CardError, CardgenError, OutputError
from cardgen.trust.atomic import atomic_open
from cardgen.trust.untrusted import check_output_file, open_regular, quote

if TYPE_CHECKING:
    from huggingface_hub import EvalResultEntry


@dataclass(frozen=True)
class LocalEvalResults:
    """A file of the ``.eval_results`` folder beside a card: its bytes and its entries."""

    path: Path
    data: bytes
    entries: list[EvalResultEntry]

    @property
    def path_in_repo(self) -> str:
        return f"{EVAL_RESULTS_DIR}/{self.path.name}"


def read_eval_results_dir(card: Path, *, base: Path | None = None) -> list[LocalEvalResults]:
    """Every ``*.yaml`` / ``*.yml`` file of the ``.eval_results`` folder beside ``card``, read
    and checked (see ``parse_eval_results``); none without the folder. CardError for a folder
    that is a link, a file that is not one of results, or one that is a link out of ``base``
    (the card's folder; a cached Hub repo passes its cache folder, where files link to blobs)."""
    folder = card.parent / EVAL_RESULTS_DIR
    if not _real_folder(folder, error=CardError):
        return []
    try:
        names = sorted(p.name for p in folder.iterdir() if is_eval_results_name(p.name, bare=True))
    except OSError as exc:
        raise CardError(f"cannot list {folder}: {exc.strerror or exc}") from None
    if len(names) > MAX_EVAL_RESULTS_FILES:
        raise CardError(
            f"{folder} holds {len(names):,} files, over cardgen's limit of "
            f"{MAX_EVAL_RESULTS_FILES:,}; keep only the results of this model there"
        )
    inside = card.parent if base is None else base
    return [_read_local(folder / name, inside, error=CardError) for name in names]


def check_eval_results_target(file: EvalResultsFile, card: Path) -> Path:
    """Where ``file`` goes beside ``card``; OutputError when it cannot go there: the folder or
    the file is a link, or a file of that name exists that is not cardgen's."""
    folder = card.parent / EVAL_RESULTS_DIR
    _real_folder(folder, error=OutputError)
    target = folder / file.name
    check_output_file(target, error=OutputError, what="the .eval_results file")
    if target.exists():
        existing = _read_local(target, card.parent, error=OutputError)
        if not written_by_cardgen(existing.entries):
            raise OutputError(
                f"{not_cardgens(str(target), existing.entries)}: move it away, or write the "
                "card into another folder with --output"
            )
    return target


def write_eval_results(file: EvalResultsFile, card: Path) -> Path:
    """Write ``file`` atomically into the ``.eval_results`` folder beside ``card``, replacing
    only a file cardgen wrote (see ``check_eval_results_target``); return its path."""
    target = check_eval_results_target(file, card)
    with atomic_open(target, "wb") as handle:
        handle.write(file.text.encode("utf-8"))
    return target


def with_eval_results(values: dict[str, float], card: Path) -> dict[str, float]:
    """``values`` (a card's model-index: results key -> value) with what cardgen's entries in
    the ``.eval_results`` folder beside ``card`` claim; CardError when claims disagree.

    A model-index value is rounded to 4 decimals, so it agrees with a claim within 5e-5 and the
    claim's exact value is kept.
    """
    claims: dict[str, dict[float, str]] = {}
    for file in read_eval_results_dir(card):
        for entry in file.entries:
            metric = claimed_metric(entry)
            if metric is not None:
                claims.setdefault(metric, {}).setdefault(float(entry.value), file.path_in_repo)
    merged = dict(values)
    for metric, found in claims.items():
        if len(found) > 1:
            listed = ", ".join(f"{value} in {where}" for value, where in found.items())
            raise CardError(
                f"{card} reports several values for {quote(metric)} ({listed}); gate against "
                "a card with one result per metric, or against a results directory"
            )
        ((value, where),) = found.items()
        shown = values.get(metric)
        if shown is not None and abs(shown - value) > 5e-5 + 1e-12:
            raise CardError(
                f"{card} says {metric} is {shown} in its model-index but {value} in {where}; "
                "render the card again, or remove the stale file"
            )
        merged[metric] = value
    return merged


def _real_folder(folder: Path, *, error: type[CardgenError]) -> bool:
    """Whether ``folder`` exists; ``error`` when it is a link or not a folder."""
    try:
        mode = folder.lstat().st_mode
    except (FileNotFoundError, NotADirectoryError):
        return False
    except OSError as exc:
        raise error(f"cannot read {folder}: {exc.strerror or exc}") from None
    if stat.S_ISLNK(mode) or not stat.S_ISDIR(mode):
        raise error(
            f"{folder} is {'a link' if stat.S_ISLNK(mode) else 'not a folder'}; cardgen reads "
            "and writes .eval_results only in a real folder beside the card: replace it with one"
        )
    return True


def _read_local(path: Path, base: Path, *, error: type[CardgenError]) -> LocalEvalResults:
    what = "the .eval_results file"
    handle = open_regular(path, error=error, what=what, max_bytes=MAX_EVAL_RESULTS_BYTES, base=base)
    with handle:
        data = handle.read(MAX_EVAL_RESULTS_BYTES + 1)
    if len(data) > MAX_EVAL_RESULTS_BYTES:
        raise error(f"{what} {path} grew past cardgen's limit of {MAX_EVAL_RESULTS_BYTES:,} bytes")
    return LocalEvalResults(
        path, data, parse_eval_results_bytes(data, source=str(path), error=error)
    )
