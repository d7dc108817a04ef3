"""Machine-written card sections, and refreshing them in a card a person has edited.

Sections sit between ``<!-- cardgen:begin NAME -->`` and ``<!-- cardgen:end NAME -->`` lines.
Refreshing replaces the sections an existing card still has and keeps every other line of it
byte for byte; the YAML front matter is merged key by key.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import yaml

from .errors import CardError

BEGIN = "<!-- cardgen:begin {} -->"
END = "<!-- cardgen:end {} -->"
_MARKER = re.compile(r"^<!-- cardgen:(begin|end) ([\w.-]+) -->[ \t]*(?=\r?$)", re.M)
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
            "refresh; pass --overwrite to replace it, or write the card to another file"
        )
    new_blocks = find_blocks(new_body, source="the rendered card")
    parts = []
    position = 0
    for block in old_blocks.values():
        parts.append(old_body[position : block.start])
        position = block.end
        new = new_blocks.get(block.name)
        if new is not None:
            parts.append(new_body[new.start : new.end])
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


def merge_metadata(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """Keys of ``new`` win, except that lists (tags, datasets…) keep the items ``old`` had.

    ``model-index`` is replaced whole (it is computed from the results) and stays last; keys
    only ``old`` has come after those of ``new``.
    """
    merged = {}
    for key, value in new.items():
        previous = old.get(key)
        if key != "model-index" and isinstance(value, list) and isinstance(previous, list):
            merged[key] = previous + [item for item in value if item not in previous]
        else:
            merged[key] = value
    merged.update({key: value for key, value in old.items() if key not in new})
    if "model-index" in merged:
        merged["model-index"] = merged.pop("model-index")
    return merged


def dump_metadata(metadata: dict[str, Any]) -> str:
    """YAML the way huggingface_hub writes card metadata (keys in their order)."""
    from huggingface_hub.utils import yaml_dump

    return yaml_dump(metadata, sort_keys=False).strip()


def parse_metadata(text: str, *, source: str) -> dict[str, Any]:
    """The YAML front matter of ``source`` as a dict; CardError when it is not one."""
    try:
        data = yaml.safe_load(text) if text.strip() else {}
    except yaml.YAMLError as exc:
        raise CardError(
            f"the YAML front matter of {source} is invalid ({exc}); fix it or pass --overwrite"
        ) from exc
    if not isinstance(data, dict):
        raise CardError(f"the YAML front matter of {source} is not a mapping of keys to values")
    return data
