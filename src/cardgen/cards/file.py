"""A model card file: bounded reading, Hub metadata checks, baseline values, linked images.

The card is untrusted: it is read with cardgen's bounded readers, its YAML front matter with
the bounded YAML loader, and every image it links must be a file inside the card's folder.
"""

from __future__ import annotations

import math
import os
import re
import stat
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import unquote, urlsplit

from cardgen.cards.conventions import convention_problems, metric_key
from cardgen.cards.frontmatter import check_unique_keys, parse_metadata, split_front_matter
from cardgen.cards.sections import MAX_CARD_BYTES
from cardgen.errors import CardError
from cardgen.trust.untrusted import LimitError, inside, parse_yaml, quote, read_text

CARD_PATH_IN_REPO = "README.md"
MAX_LISTED_PROBLEMS = 20
REMOTE_SCHEMES = ("http", "https", "data")

_FRONT_MATTER = re.compile(r"^\s*---\r?\n(.*?)\r?\n---[ \t]*(?:\r?\n|$)", re.S)
_MARKDOWN_IMAGE = re.compile(r"!\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+[\"'][^)]*[\"'])?\s*\)")
_HTML_IMAGE = re.compile(r"<img\b[^>]*?\bsrc\s*=\s*[\"']([^\"']+)[\"']", re.I)
_OPTIONAL_TEXT = ("license", "library_name", "pipeline_tag", "model_name")
_OPTIONAL_TEXT_OR_LIST = ("language", "base_model", "datasets", "tags", "metrics")


def read_card_text(path: str | os.PathLike[str], *, base: Path | None = None) -> str:
    """The text of a card, bounded in size; CardError when it is missing or unreadable, not a
    regular file, or a link that leads out of ``base`` (the card's folder; a cached Hub repo
    passes its cache folder, where the card links to a blob)."""
    card = Path(path)
    try:
        found = "\x00" not in os.fspath(path) and card.exists()
    except OSError as exc:
        raise CardError(
            f"cannot read model card {quote(os.fspath(path))}: {exc.strerror}"
        ) from None
    if not found:
        raise CardError(f"no model card at {quote(os.fspath(path))}; render one with cardgen first")
    return read_text(
        card,
        error=CardError,
        what="model card",
        max_bytes=MAX_CARD_BYTES,
        encoding="utf-8-sig",
        base=card.parent if base is None else base,
    )


def read_card_metadata(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The YAML front matter of a card as a dict; CardError when missing or unparseable."""
    card = Path(path)
    match = _FRONT_MATTER.match(read_card_text(card))
    if match is None:
        raise CardError(
            f"{card} has no YAML metadata block: a model card starts with '---', the metadata "
            "(model-index, license, ...) and another '---'"
        )
    metadata = parse_yaml(match.group(1), source=f"the metadata of {card}", error=CardError)
    if not isinstance(metadata, dict):
        raise CardError(f"the metadata of {card} must be a YAML mapping, got {quote(metadata)}")
    check_unique_keys(match.group(1), source=str(card))
    return metadata


def card_metadata_problems(metadata: dict[str, Any]) -> list[str]:
    """Everything in a card's metadata that the Hub would refuse or misread, as messages.

    A ``model-index`` is required, with the fields the Hub needs: each entry's ``name`` and
    ``results``; each result's ``task.type``, ``dataset.name`` / ``dataset.type`` and
    ``metrics``; each metric's ``type`` and a finite numeric ``value``.
    """
    problems = convention_problems(metadata)
    for key in _OPTIONAL_TEXT:
        if key in metadata and not isinstance(metadata[key], str):
            problems.append(f"{key} must be a string, got {quote(metadata[key])}")
    for key in _OPTIONAL_TEXT_OR_LIST:
        value = metadata.get(key)
        if value is not None and not (
            isinstance(value, str) or (isinstance(value, list) and all(_text(v) for v in value))
        ):
            problems.append(f"{key} must be a string or a list of strings, got {quote(value)}")
    index = metadata.get("model-index")
    if index is None:
        return [*problems, "model-index is missing: the card reports no evaluation results"]
    if not isinstance(index, list) or not index:
        return [*problems, "model-index must be a non-empty list"]
    for i, entry in enumerate(index):
        where = f"model-index[{i}]"
        if not isinstance(entry, dict):
            problems.append(f"{where} must be a mapping")
            continue
        if not _text(entry.get("name")):
            problems.append(f"{where}.name is missing (the model's name)")
        results = entry.get("results")
        if not isinstance(results, list) or not results:
            problems.append(f"{where}.results must be a non-empty list")
            continue
        for j, result in enumerate(results):
            problems += _result_problems(result, f"{where}.results[{j}]")
    return problems


def _result_problems(result: Any, where: str) -> list[str]:
    if not isinstance(result, dict):
        return [f"{where} must be a mapping"]
    problems = []
    task = result.get("task")
    if not isinstance(task, dict) or not _text(task.get("type")):
        problems.append(f"{where}.task.type is missing (e.g. text-classification)")
    dataset = result.get("dataset")
    if not isinstance(dataset, dict):
        problems.append(f"{where}.dataset is missing (name and type)")
    else:
        problems += [
            f"{where}.dataset.{key} is missing"
            for key in ("name", "type")
            if not _text(dataset.get(key))
        ]
        problems += [
            f"{where}.dataset.{key} must be a string, got {quote(dataset[key])}"
            for key in ("config", "split", "revision")
            if dataset.get(key) is not None and not isinstance(dataset[key], str)
        ]
    metrics = result.get("metrics")
    if not isinstance(metrics, list) or not metrics:
        return [*problems, f"{where}.metrics must be a non-empty list"]
    for k, metric in enumerate(metrics):
        at = f"{where}.metrics[{k}]"
        if not isinstance(metric, dict):
            problems.append(f"{at} must be a mapping with type, name and value")
            continue
        if not _text(metric.get("type")):
            problems.append(f"{at}.type is missing (the results key, e.g. accuracy)")
        if metric.get("name") is not None and not isinstance(metric["name"], str):
            problems.append(f"{at}.name must be a string, got {quote(metric['name'])}")
        value = metric.get("value")
        if not _number(value):
            problems.append(f"{at}.value must be a finite number, got {quote(value)}")
    return problems


def _text(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def validate_card(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The card's metadata, or CardError listing the problems found in it (the first 20)."""
    metadata = read_card_metadata(path)
    _refuse(card_metadata_problems(metadata), f"the metadata of {path}")
    return metadata


def check_merged_metadata(
    merged: str, rendered: str | None = None, *, source: str, fix: str = "fix it"
) -> None:
    """CardError listing what in the front matter of ``merged`` (a card cardgen merged into
    another, or refreshed) the Hub would refuse; problems that ``rendered``, cardgen's own
    card, has too are left to ``cardgen push`` to report."""
    problems = _text_problems(merged, source)
    if rendered is not None:
        ours = set(_text_problems(rendered, "the rendered card"))
        problems = [problem for problem in problems if problem not in ours]
    _refuse(problems, f"the metadata of {source}", fix)


def _text_problems(card: str, source: str) -> list[str]:
    front, _ = split_front_matter(card.removeprefix("\ufeff"))
    return card_metadata_problems(parse_metadata(front or "", source=source, fix="fix it"))


def _refuse(problems: list[str], what: str, fix: str = "") -> None:
    """CardError listing ``problems`` (the first 20), if there are any."""
    if not problems:
        return
    listed = "; ".join(problems[:MAX_LISTED_PROBLEMS])
    if len(problems) > MAX_LISTED_PROBLEMS:
        listed += f"; and {len(problems) - MAX_LISTED_PROBLEMS:,} more"
    raise CardError(f"{what} would be refused by the Hub: {listed}" + (f"; {fix}" if fix else ""))


def card_metric_values(path: str | os.PathLike[str]) -> dict[str, float]:
    """``{results key: value}`` from a card's model-index (the gate's baseline values);
    ``type: f1`` with ``args: {average: macro}`` is ``macro_f1``."""
    values: dict[str, set[float]] = {}
    for entry in validate_card(path)["model-index"]:
        for result in entry["results"]:
            for metric in result["metrics"]:
                key = metric_key(metric["type"], metric.get("args"))
                values.setdefault(key, set()).add(float(metric["value"]))
    ambiguous = {name: sorted(found) for name, found in values.items() if len(found) > 1}
    if ambiguous:
        listed = "; ".join(f"{quote(name)[1:-1]}: {found}" for name, found in ambiguous.items())
        raise CardError(
            f"{path} reports several values for the same metric ({quote(listed, 300)[1:-1]}); "
            "gate against a card with one result per metric, or against a results directory"
        )
    return {name: found.pop() for name, found in values.items()}


def linked_images(path: str | os.PathLike[str]) -> list[tuple[str, Path]]:
    """``(path in repo, local file)`` for each local image the card's Markdown links.

    Links are resolved against the card's folder and must stay inside it, since the Hub shows
    them from the same relative path in the repository, and be regular files, not reached
    through a link out; http(s) and data: images are left alone, other URLs refused.
    """
    card = Path(path)
    text = _FRONT_MATTER.sub("", read_card_text(card), count=1)
    folder = card.parent
    found: dict[str, Path] = {}
    for link in _MARKDOWN_IMAGE.findall(text) + _HTML_IMAGE.findall(text):
        try:
            parts = urlsplit(link)
        except ValueError:
            raise CardError(f"{card} links image {quote(link)}, which is not a valid URL") from None
        if parts.scheme.lower() in REMOTE_SCHEMES or (not parts.scheme and parts.netloc):
            continue
        if parts.scheme:
            raise CardError(
                f"{card} links image {quote(link)}, a {quote(parts.scheme)} URL the Hub cannot "
                "show; link the image by a path relative to the card, or by an http(s) URL"
            )
        relative = unquote(parts.path)
        if not relative:
            continue
        if not (link.isprintable() and relative.isprintable()) or len(relative) > 255:
            raise CardError(
                f"{card} links image {quote(link)}, which is not a usable file name (control "
                "characters, or longer than 255 characters); rename the image"
            )
        try:
            local = inside(folder, relative, what="image")
        except LimitError:
            raise CardError(
                f"{card} links image {quote(link)} outside the card's folder, which the Hub "
                "cannot show; copy the image next to the card and link it relatively"
            ) from None
        problem = _not_a_file(local)
        if problem:
            raise CardError(f"{card} links image {quote(link)} but {local} {problem}")
        repo_path = PurePosixPath(*local.relative_to(folder).parts).as_posix()
        if repo_path == CARD_PATH_IN_REPO:
            raise CardError(
                f"{card} links {CARD_PATH_IN_REPO} as an image, which would replace the card in "
                "the repository; rename the image"
            )
        found.setdefault(repo_path, local)
    return sorted(found.items())


def _not_a_file(path: Path) -> str | None:
    """Why ``path`` (inside the card's folder: ``inside`` resolved its links) is not a regular
    file to upload, or None when it is one."""
    try:
        mode = path.stat().st_mode
    except (OSError, ValueError):
        return "does not exist"
    if stat.S_ISREG(mode):
        return None
    kind = "a directory" if stat.S_ISDIR(mode) else "a FIFO, device or socket"
    return f"does not exist as a file: it is {kind}; link an image file"
