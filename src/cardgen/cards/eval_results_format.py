"""The Hub's ``.eval_results/*.yaml`` format: written, read strictly, and whose file it is.

Entries are huggingface_hub's ``EvalResultEntry`` and files are its
``eval_result_entries_to_yaml`` dumped with ``yaml.safe_dump``; every file is parsed back with
``parse_eval_result_entries`` before it is written. A file is cardgen's when every entry in it
has a ``source.name`` of ``cardgen`` or ``cardgen VERSION``; cardgen replaces only such files
and never rewrites anyone else's. Reading is strict and names the file and line of a problem.
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass
from datetime import date
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any

import yaml

from cardgen.errors import CardError, CardgenError
from cardgen.results.schema import Metric
from cardgen.trust.untrusted import compose_yaml, parse_yaml, quote

if TYPE_CHECKING:
    from huggingface_hub import EvalResultEntry

EVAL_RESULTS_DIR = ".eval_results"  # huggingface_hub.constants.EVAL_RESULTS_FOLDER
MAX_EVAL_RESULTS_BYTES = 2**20  # one file
MAX_EVAL_RESULTS_FILES = 500  # in one folder
SOURCE_NAME = "cardgen"

_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")
_NOTES_METRIC = re.compile(r"(?:^|; )metric: ([^;\s]+); 95% CI: [^;]*$")
_FIX = "fix the file (see https://huggingface.co/docs/hub/eval-results) or remove it"


@dataclass(frozen=True)
class EvalResultsFile:
    """One ``.eval_results`` file: its name in the folder, its text and what the text holds."""

    name: str
    text: str
    entries: list[EvalResultEntry]

    @property
    def path_in_repo(self) -> str:
        return f"{EVAL_RESULTS_DIR}/{self.name}"


def eval_results_name(dataset_id: str, config: str | None, split: str | None) -> str:
    """A safe file name: ``owner--name[--config][--split].yaml`` in ``A-Z a-z 0-9 _ . -``,
    never hidden, at most about 120 characters (longer ones end with a hash of the full one)."""
    parts = [*dataset_id.split("/"), *(part for part in (config, split) if part)]
    slug = "--".join(_UNSAFE.sub("_", part).strip("._-") or "_" for part in parts)
    if len(slug) > 120:
        digest = hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:12]
        slug = f"{slug[:100].rstrip('._-')}--{digest}"
    return f"{slug}.yaml"


def eval_results_text(entries: list[EvalResultEntry], *, source: str) -> str:
    """``entries`` as huggingface_hub writes them, checked to parse back to the same entries."""
    from huggingface_hub import eval_result_entries_to_yaml

    text = yaml.safe_dump(
        eval_result_entries_to_yaml(entries), sort_keys=False, allow_unicode=True, width=1000
    )
    if parse_eval_results(text, source=source, error=CardError) != entries:
        raise CardError(
            f"{source} does not parse back to the results cardgen wrote into it; this is a bug "
            "in cardgen or huggingface_hub: please report it"
        )
    return text


def parse_eval_results(
    text: str, *, source: str, error: type[CardgenError] = CardError
) -> list[EvalResultEntry]:
    """The entries of a ``.eval_results`` file, read with huggingface_hub's
    ``parse_eval_result_entries`` after checking each one; ``error`` names the file and line."""
    from huggingface_hub import parse_eval_result_entries

    node = compose_yaml(text, source=source, error=error)
    if node is None or not isinstance(node, yaml.SequenceNode):
        line = f", line {node.start_mark.line + 1}" if node is not None else ""
        raise error(
            f"{source}{line}: an .eval_results file must be a YAML list of results "
            f"(- dataset: {{id: ..., task_id: ...}}, value: ...), got "
            f"{'nothing' if node is None else node.tag.rpartition(':')[2]}; {_FIX}"
        )
    data = parse_yaml(text, source=source, error=error)
    entries: list[EvalResultEntry] = []
    for item_node, item in zip(node.value, data, strict=True):
        where = f"{source}, line {item_node.start_mark.line + 1}"
        problem = _entry_problem(item)
        if problem is None:
            try:
                entries += parse_eval_result_entries([item])
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                problem = f"huggingface_hub refuses it ({quote(str(exc))})"
        if problem is not None:
            raise error(f"{where}: {problem}; {_FIX}")
    return entries


def parse_eval_results_bytes(
    data: bytes, *, source: str, error: type[CardgenError] = CardError
) -> list[EvalResultEntry]:
    """``parse_eval_results`` of a file's bytes, which must be UTF-8."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise error(f"{source} is not UTF-8 text (at byte {exc.start:,}); {_FIX}") from None
    return parse_eval_results(text, source=source, error=error)


def _entry_problem(item: Any) -> str | None:
    """What makes ``item`` no result of the format, or None."""
    if not isinstance(item, dict):
        return f"a result must be a mapping, got {quote(item, 60)}"
    if "data" in item or "error" in item:
        return "a result has no `data` or `error` key (those wrap results in the Hub's API)"
    dataset, value, source = item.get("dataset"), item.get("value"), item.get("source")
    if not isinstance(dataset, dict):
        return "a result needs a `dataset` mapping with `id` and `task_id`"
    for key in ("id", "task_id"):
        if not isinstance(dataset.get(key), str) or not dataset[key].strip():
            return f"`dataset.{key}` must be a non-empty string, got {quote(dataset.get(key), 60)}"
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return f"`value` must be a finite number, got {quote(value, 60)}"
    texts = {f"dataset.{k}": dataset.get(k) for k in ("revision",)}
    texts |= {k: item.get(k) for k in ("verifyToken", "notes")}
    if source is not None:
        if not isinstance(source, dict) or not isinstance(source.get("url"), str):
            return "`source` must be a mapping with a `url`"
        texts |= {f"source.{k}": source.get(k) for k in ("name", "user", "org")}
    for key, text in texts.items():
        if text is not None and not isinstance(text, str):
            return f"`{key}` must be a string, got {quote(text, 60)}"
    if item.get("date") is not None and not isinstance(item["date"], str | date):
        return f"`date` must be an ISO-8601 date or datetime, got {quote(item['date'], 60)}"
    return None


def by_cardgen(entry: EvalResultEntry) -> bool:
    """Whether cardgen wrote ``entry`` (its ``source.name`` is ``cardgen`` or ``cardgen ...``)."""
    name = entry.source_name
    return isinstance(name, str) and (name == SOURCE_NAME or name.startswith(f"{SOURCE_NAME} "))


def written_by_cardgen(entries: list[EvalResultEntry]) -> bool:
    """Whether a file of ``entries`` is cardgen's own: not empty, and every entry cardgen's."""
    return bool(entries) and all(map(by_cardgen, entries))


def not_cardgens(path: str, entries: list[EvalResultEntry]) -> str:
    """Why the file at ``path`` is not cardgen's to replace, for a message."""
    others = sorted({str(e.source_name) for e in entries if not by_cardgen(e)})
    found = f"results from {', '.join(map(quote, others))}" if others else "no results"
    return (
        f"{path} holds {found}, not only cardgen's, and cardgen never replaces or rewrites "
        "anyone else's .eval_results file"
    )


def cardgen_notes(split: str | None, metric: str, found: Metric) -> str:
    """``split: S; metric: M; 95% CI: [L, H]``: what the bare value of one of cardgen's entries
    is (``claimed_metric`` reads the metric back)."""
    parts = [f"split: {split}"] if split else []
    parts.append(f"metric: {metric}")
    if found.ci_low is not None and found.ci_high is not None:
        parts.append(f"95% CI: [{found.ci_low:.4f}, {found.ci_high:.4f}]")
    else:
        parts.append("95% CI: not computed")
    return "; ".join(parts)


def claimed_metric(entry: EvalResultEntry) -> str | None:
    """The results key (``accuracy``, ``micro_f1``, ...) of one of cardgen's entries, from its
    notes; None for another tool's entry, which does not say what its value measures."""
    if not by_cardgen(entry) or not isinstance(entry.notes, str):
        return None
    found = _NOTES_METRIC.search(entry.notes)
    return found.group(1) if found else None


def is_eval_results_name(path: str, *, bare: bool = False) -> bool:
    """Whether ``path`` (in a repo; with ``bare``, a name in the folder) is a YAML file of the
    ``.eval_results`` folder itself, not of a folder in it."""
    pure = PurePosixPath(path)
    folder = "." if bare else EVAL_RESULTS_DIR
    return str(pure.parent) == folder and pure.suffix.lower() in (".yaml", ".yml")
