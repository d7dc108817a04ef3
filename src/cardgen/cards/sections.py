"""Machine-written card sections, and refreshing them in a card a person has edited.

Sections sit between ``<!-- cardgen:begin NAME -->`` and ``<!-- cardgen:end NAME -->`` lines.
Refreshing replaces the sections an existing card still has and keeps every other line of it
byte for byte; the YAML front matter is merged key by key.
"""

from __future__ import annotations

import re
import urllib.parse
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cardgen.cards.markdown import scan
from cardgen.errors import CardError
from cardgen.trust.untrusted import check_output_file, parse_yaml, quote, read_text

BEGIN = "<!-- cardgen:begin {} -->"
END = "<!-- cardgen:end {} -->"
MODEL = "<!-- cardgen:model {} -->"
MAX_CARD_BYTES = 32 * 2**20
MAX_SECTION_CHARS = 2**20
_MARKER = re.compile(r"^<!-- cardgen:(begin|end) ([\w.-]+) -->[ \t]*(?=\r?$)", re.M)
_MODEL = re.compile(r"^<!-- cardgen:model (\S+) -->[ \t]*(?=\r?$)", re.M)
_ANY_MARKER = re.compile(r"<!--\s*cardgen:[^\n]*", re.I)
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})(.*)$")
_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?)^---[ \t]*(?:\r?\n|\Z)", re.S | re.M)


@dataclass(frozen=True)
class Block:
    """A section in a text: ``text[start:end]`` runs from its begin marker to its end marker."""

    name: str
    start: int
    end: int


def find_blocks(text: str, *, source: str) -> dict[str, Block]:
    """The sections of ``text`` in order; raise CardError on unbalanced or repeated markers."""
    blocks: dict[str, Block] = {}
    opened: tuple[str, int] | None = None
    for match in _MARKER.finditer(text):
        kind, name = match.groups()
        line = text.count("\n", 0, match.start()) + 1
        if kind == "begin":
            if opened is not None:
                raise CardError(
                    f"{source}, line {line}: section {name!r} begins inside section "
                    f"{opened[0]!r}; close it with `{END.format(opened[0])}` first"
                )
            if name in blocks:
                raise CardError(f"{source}, line {line}: section {name!r} appears twice")
            opened = (name, match.start())
        elif opened is None or opened[0] != name:
            raise CardError(
                f"{source}, line {line}: `{END.format(name)}` has no matching "
                f"`{BEGIN.format(name)}` before it"
            )
        else:
            blocks[name] = Block(name, opened[1], match.end())
            opened = None
    if opened is not None:
        raise CardError(f"{source}: section {opened[0]!r} has no `{END.format(opened[0])}` line")
    return blocks


def split_front_matter(text: str) -> tuple[str | None, str]:
    """``(yaml, body)`` of a card; ``yaml`` is None when the card has no front matter."""
    match = _FRONT_MATTER.match(text)
    if match is None:
        return None, text
    return match.group(1), text[match.end() :]


def refresh_card(existing: str, rendered: str, *, source: str) -> tuple[str, list[str]]:
    """Put the sections and metadata of ``rendered`` into ``existing``, keeping the rest.

    Returns the refreshed card and the names of rendered sections that ``existing`` lacks:
    those are not added back, since removing a section's markers is how a person takes it over.
    Sections that ``rendered`` no longer has are removed.
    """
    old_yaml, old_body = split_front_matter(existing)
    new_yaml, new_body = split_front_matter(rendered)
    old_blocks = find_blocks(old_body, source=source)
    if not old_blocks:
        raise CardError(
            f"{source} exists but has no cardgen sections (`{BEGIN.format('NAME')}` lines) to "
            "refresh; pass --merge to add them to it and keep its text, --overwrite to replace "
            "it, or write the card to another file"
        )
    old_model, new_model = card_model(old_body), card_model(new_body)
    if old_model is not None and new_model is not None and old_model != new_model:
        raise CardError(
            f"{source} is the card of model {quote(old_model)}, but these results are of model "
            f"{quote(new_model)}; refreshing it would keep the other model's metadata (license, "
            "base model…) and text beside these results; pass --overwrite to replace it, or "
            "write this card to another --output"
        )
    new_blocks = find_blocks(new_body, source="the rendered card")
    title = own_title(old_body, old_blocks.values())
    parts = []
    position = 0
    for block in old_blocks.values():
        parts.append(old_body[position : block.start])
        position = block.end
        new = new_blocks.get(block.name)
        if new is not None:
            text = new_body[new.start : new.end]
            parts.append(_drop_title(text) if title is not None and title < block.start else text)
        elif old_body.startswith("\n", position):
            position += 1
    parts.append(old_body[position:])
    body = "".join(parts)
    missing = [name for name in new_blocks if name not in old_blocks]
    if new_yaml is None:
        front = "" if old_yaml is None else f"---\n{old_yaml}---\n"
        return front + body, missing
    old_metadata = parse_metadata(old_yaml or "", source=source)
    metadata = merge_metadata(old_metadata, parse_metadata(new_yaml, source="the rendered card"))
    if old_yaml is not None and metadata == old_metadata:
        return f"---\n{old_yaml}---\n{body}", missing
    return f"---\n{dump_metadata(metadata)}\n---\n{body}", missing


def own_title(body: str, blocks: Iterable[Block]) -> int | None:
    """Where the card's own ``# title`` (a level-1 heading outside cardgen's sections) starts."""
    spans = [(block.start, block.end) for block in blocks]
    for line in scan(body)[0]:
        if line.heading == 1 and not any(start <= line.start < end for start, end in spans):
            return line.start
    return None


def _drop_title(block: str) -> str:
    """``block`` without its leading ``# title`` line: the card has a title of its own."""
    head, sep, rest = block.partition("\n")
    if not rest.startswith("# "):
        return block
    rest = rest.partition("\n")[2]
    return head + sep + rest.lstrip("\n")


def merge_metadata(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """Keys of ``new`` win, except that lists (tags, datasets…) keep the items ``old`` had.

    ``model-index`` is merged (see ``merge_model_index``) and stays last; keys only ``old`` has
    come after those of ``new``.
    """
    merged = {}
    for key, value in new.items():
        previous = old.get(key)
        if key == "model-index":
            merged[key] = merge_model_index(previous, value)
        elif isinstance(value, list) and isinstance(previous, list):
            merged[key] = previous + [item for item in value if item not in previous]
        else:
            merged[key] = value
    merged.update({key: value for key, value in old.items() if key not in new})
    if "model-index" in merged:
        merged["model-index"] = merged.pop("model-index")
    return merged


def merge_model_index(old: Any, new: Any) -> Any:
    """``new``'s results put into ``old``: a result for the same task, dataset, config and
    split is replaced (keeping metrics of other types that ``old`` had), others are added, and
    results for other datasets or splits stay. ``new``'s entries go into the entry of the same
    name, or into ``old``'s only entry."""
    if not isinstance(old, list) or not old or not isinstance(new, list):
        return new
    merged = [dict(entry) if isinstance(entry, dict) else entry for entry in old]
    for entry in new:
        if not isinstance(entry, dict):
            continue
        entries = [item for item in merged if isinstance(item, dict)]
        same = [item for item in entries if item.get("name") == entry.get("name")]
        target = same[0] if same else entries[0] if len(entries) == 1 else None
        if target is None:
            merged.append(entry)
            continue
        found = target.get("results")
        results = list(found) if isinstance(found, list) else []
        for result in entry.get("results") or []:
            key = _result_key(result)
            index = next((i for i, r in enumerate(results) if _result_key(r) == key), None)
            if index is None:
                results.append(result)
                continue
            kept = results[index].get("metrics") if isinstance(results[index], dict) else None
            types = {_metric_key(m) for m in result.get("metrics") or []}
            others = [m for m in kept or [] if _metric_key(m) not in types]
            results[index] = {**result, "metrics": [*(result.get("metrics") or []), *others]}
        target["results"] = results
    return merged


def _metric_key(metric: Any) -> str:
    if not isinstance(metric, dict):
        return repr(metric)
    return repr((metric.get("type"), metric.get("args")))


def _result_key(result: Any) -> tuple[Any, ...] | None:
    if not isinstance(result, dict):
        return None
    task, data = result.get("task"), result.get("dataset")
    task = task if isinstance(task, dict) else {}
    data = data if isinstance(data, dict) else {}
    return (task.get("type"), data.get("type"), data.get("config"), data.get("split"))


def dump_metadata(metadata: dict[str, Any]) -> str:
    """YAML the way huggingface_hub writes card metadata (keys in their order)."""
    from huggingface_hub.utils import yaml_dump

    return yaml_dump(metadata, sort_keys=False).strip()


def parse_metadata(
    text: str, *, source: str, fix: str = "fix it or pass --overwrite"
) -> dict[str, Any]:
    """The YAML front matter of ``source`` as a dict with string keys; CardError otherwise.

    The front matter is untrusted: it is parsed with cardgen's bounded YAML loader.
    """
    what = f"the YAML front matter of {source}"
    try:
        data = parse_yaml(text, source=what, error=CardError) if text.strip() else {}
    except CardError as exc:
        raise CardError(f"{exc}; {fix}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise CardError(
            f"{what} is a {type(data).__name__} ({quote(data)}), not a mapping of keys to "
            f"values; {fix}"
        )
    for key in data:
        if not isinstance(key, str):
            raise CardError(
                f"{what} has the key {quote(key)} of type {type(key).__name__}; metadata keys "
                f"must be strings; {fix}"
            )
    return data


def check_section(name: str, text: str) -> None:
    """Refuse Markdown for a section that would break the card around it: cardgen markers
    (which would corrupt every later refresh), an unclosed code block or HTML comment."""
    where = f"the text of section {quote(name)}"
    if len(text) > MAX_SECTION_CHARS:
        raise CardError(
            f"{where} has {len(text):,} characters, over cardgen's limit of {MAX_SECTION_CHARS:,}"
        )
    if "\x00" in text:
        raise CardError(f"{where} contains a NUL character; remove it")
    marker = _ANY_MARKER.search(text)
    if marker is not None:
        line = text.count("\n", 0, marker.start()) + 1
        raise CardError(
            f"{where} contains the cardgen marker {quote(marker.group().strip())} (line {line}); "
            "cardgen finds its sections by these comments, so a copy inside a section would "
            "corrupt every later refresh; remove it"
        )
    fence = _open_fence(text)
    if fence is not None:
        raise CardError(
            f"{where} opens a code block with {fence[0]!r} on line {fence[1]} and never closes "
            "it, so the rest of the card would show as code; close it"
        )
    if text.rfind("<!--") > text.rfind("-->"):
        raise CardError(
            f"{where} opens an HTML comment (`<!--`) and never closes it, so the rest of the "
            "card would be hidden; close it with `-->`"
        )


def _open_fence(text: str) -> tuple[str, int] | None:
    """The fence and line of a fenced code block that ``text`` leaves open, if any."""
    opened: tuple[str, int] | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        match = _FENCE.match(line)
        if match is None:
            continue
        fence, rest = match.groups()
        if opened is None:
            if not (fence[0] == "`" and "`" in rest):
                opened = (fence, number)
        elif fence[0] == opened[0][0] and len(fence) >= len(opened[0]) and not rest.strip():
            opened = None
    return opened


def read_existing_card(target: Path) -> str:
    """The text of an existing card at ``target`` ("" when there is none); CardError when it
    cannot be read as a card, or is a link or other non-regular file (cardgen is about to write
    ``target``, and never reads or writes through a link)."""
    check_output_file(target, error=CardError, what="the existing card")
    if not target.exists():
        return ""
    fix = "pass --overwrite to replace it, or write the card to another --output"
    try:
        return read_text(
            target,
            error=CardError,
            what="the existing card",
            max_bytes=MAX_CARD_BYTES,
            base=target.parent,
        )
    except CardError as exc:
        raise CardError(f"{exc}; {fix}") from None


def tag_model(card: str, model: str) -> str:
    """``card`` with a comment naming the model it describes, inside its first section (so a
    refresh renews it), or after the front matter when it has no section."""
    tag = MODEL.format(urllib.parse.quote(model, safe="/@+:,"))
    front, body = split_front_matter(card)
    head = card[: len(card) - len(body)]
    blocks = find_blocks(body, source="the rendered card")
    if not blocks:
        return f"{head}{tag}\n{body}"
    first = next(iter(blocks.values()))
    end = body.rindex("<!--", first.start, first.end)
    return f"{head}{body[:end]}{tag}\n{body[end:]}"


def card_model(card: str) -> str | None:
    """The model named by the card's cardgen comment, or None when it has none."""
    match = _MODEL.search(card)
    return urllib.parse.unquote(match.group(1)) if match else None


def refresh_file(target: Path, text: str, sections: Mapping[str, str]) -> str:
    """``text`` refreshed into the card already at ``target`` (``text`` when there is none)."""
    existing = read_existing_card(target)
    if not existing.strip():
        return text
    refreshed, missing = refresh_card(existing, text, source=str(target))
    for name in missing:
        if name in sections:
            warnings.warn(
                f"{target} has no {name!r} section (its markers were removed), so the text "
                f"passed for it was not added; add the markers back or use --overwrite",
                stacklevel=4,
            )
    return refreshed


def check_replaceable(target: Path, mark: str, *, what: str) -> None:
    """Refuse to replace a non-empty file at ``target`` that lacks ``mark`` (cardgen's sign)."""
    existing = read_existing_card(target)
    if existing.strip() and mark not in existing:
        raise CardError(
            f"{target} exists and is not {what}; pass --overwrite to replace it, or write the "
            "card to another --output"
        )
