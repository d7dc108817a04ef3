"""Whether a run fits the card it goes into: the model's name, its labels, the dataset.

A card keeps its own text beside cardgen's sections, so a run put into the card of another
model (a 2-label run into a 20-class card) would read as that model's results. ``misfits``
compares what the card says outside cardgen's sections with the run; each difference is a
warning, and ``with_note`` writes it at the top of the card's evaluation section, so that a
reader of the card sees it too.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from cardgen.cards.frontmatter import parse_metadata, split_front_matter
from cardgen.cards.markdown import scan
from cardgen.cards.sections import find_blocks, line_endings
from cardgen.errors import CardError
from cardgen.trust.untrusted import parse_yaml, quote

LABEL_HEADERS = ("label", "labels", "class", "category")
_AGGREGATES = {"accuracy", "macro avg", "weighted avg", "micro avg", "samples avg", "avg / total"}
_ID2LABEL = re.compile(r"id2label['\"]?\s*[:=]\s*(\{[^{}]{0,200000}\})")
_TABLE_RULE = re.compile(r"^\s*\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$")
_INDEX_LABEL = re.compile(r"label_\d+")
_PREVIEW = 4


def misfits(existing: str, rendered: str, labels: Sequence[str], *, source: str) -> list[str]:
    """What ``existing`` (a card) says that disagrees with the run ``rendered`` describes: its
    model's name (model-index), its labels (an ``id2label`` mapping or a table with a label
    column, outside cardgen's sections) and the datasets of its model-index results. A card
    that cannot be read gives none: refreshing or merging it reports why."""
    try:
        text, _ = line_endings(existing, source=source)
        front, body = split_front_matter(text)
        card = parse_metadata(front or "", source=source)
        run = parse_metadata(split_front_matter(rendered)[0] or "", source="the rendered card")
        outside = _outside_sections(body)
    except CardError:  # refreshing or merging the card says what is wrong with it
        return []
    run_entry = _entries(run)[0] if _entries(run) else {}
    problems = []
    names = [e["name"] for e in _entries(card) if isinstance(e.get("name"), str)]
    run_name = run_entry.get("name")
    if names and isinstance(run_name, str) and _short(run_name) not in map(_short, names):
        problems.append(
            f"the card is of model {quote(names[0])} (its model-index), but this run "
            f"evaluated {quote(run_name)}"
        )
    found = card_labels(outside)
    if found and not _same_labels(found, labels):
        problems.append(
            f"the card lists {len(found)} labels ({_preview(found)}), but this run has "
            f"{len(labels)} ({_preview(labels)})"
        )
    reported = {d for e in _entries(card) for r in _results(e) if (d := _dataset(r))}
    ours = {d for r in _results(run_entry) if (d := _dataset(r))}
    if reported and ours and not ours & reported:
        problems.append(
            f"the card reports results on {_preview(sorted(reported))} only, and this run is on "
            f"{_preview(sorted(ours))}"
        )
    return problems


def with_note(rendered: str, problems: Sequence[str]) -> str:
    """``rendered`` with a note on each of ``problems`` (from ``misfits``) at the top of its
    evaluation section (or its first section), under the section's heading."""
    from cardgen.cards.templating import escape_markdown

    _, body = split_front_matter(rendered)
    blocks = find_blocks(body, source="the rendered card")
    if not problems or not blocks:
        return rendered
    block = blocks.get("evaluation") or next(iter(blocks.values()))
    at = block.inner + 1
    heading = re.compile(r"^#{1,6} .*\n", re.M).search(body, at, block.outer)
    if heading is not None and not body[at : heading.start()].strip():
        at = heading.end()
    note = "\n>\n".join(
        f"> **Does this run fit the card?** {escape_markdown(p[:1].upper() + p[1:])}."
        for p in problems
    )
    offset = len(rendered) - len(body)
    return f"{rendered[: offset + at]}\n{note}\n{rendered[offset + at :]}"


def card_labels(text: str) -> list[str]:
    """The labels a card names: the values of an ``id2label`` mapping, else the label column of
    its first table that has one (aggregate rows such as ``macro avg`` left out)."""
    match = _ID2LABEL.search(text)
    if match is not None:
        try:
            mapping = parse_yaml(match.group(1), source="id2label", error=CardError)
        except CardError:
            mapping = None
        if isinstance(mapping, dict) and mapping:
            return [str(value) for value in mapping.values()]
    lines = [line.text for line in scan(text)[0] if not line.quoted]
    for index, line in enumerate(lines[:-1]):
        if not line.lstrip().startswith("|") or not _TABLE_RULE.match(lines[index + 1]):
            continue
        header = [_cell(cell).lower() for cell in _cells(line)]
        column = next((i for i, cell in enumerate(header) if cell in LABEL_HEADERS), None)
        if column is None:
            continue
        found = []
        for row in lines[index + 2 :]:
            if not row.lstrip().startswith("|"):
                break
            cells = _cells(row)
            value = _cell(cells[column]) if column < len(cells) else ""
            if value and value.lower() not in _AGGREGATES:
                found.append(value)
        if found:
            return found
    return []


def _outside_sections(body: str) -> str:
    """``body`` without cardgen's sections: what the card's own author wrote."""
    parts, position = [], 0
    for block in find_blocks(body, source="the card").values():
        parts.append(body[position : block.start])
        position = block.end
    return "".join([*parts, body[position:]])


def _same_labels(card: Sequence[str], run: Sequence[str]) -> bool:
    ours, theirs = {label.strip().lower() for label in run}, {label.lower() for label in card}
    if ours == theirs:
        return True
    return len(card) == len(run) and all(_INDEX_LABEL.fullmatch(label) for label in theirs)


def _cells(row: str) -> list[str]:
    return row.strip().removeprefix("|").removesuffix("|").split("|")


def _cell(text: str) -> str:
    return text.strip().strip("*`_ ").strip()


def _entries(metadata: dict[str, Any]) -> list[dict[str, Any]]:
    index = metadata.get("model-index")
    return [e for e in index if isinstance(e, dict)] if isinstance(index, list) else []


def _results(entry: dict[str, Any]) -> list[dict[str, Any]]:
    results = entry.get("results")
    return [r for r in results if isinstance(r, dict)] if isinstance(results, list) else []


def _dataset(result: dict[str, Any]) -> str | None:
    data = result.get("dataset")
    kind = data.get("type") if isinstance(data, dict) else None
    return kind if isinstance(kind, str) else None


def _short(name: str) -> str:
    return name.rsplit("/", 1)[-1].strip().lower()


def _preview(values: Sequence[str]) -> str:
    shown = ", ".join(quote(str(value), 40)[1:-1] for value in values[:_PREVIEW])
    return shown + (", …" if len(values) > _PREVIEW else "")
