"""Machine-written card sections, and refreshing them in a card a person has edited.

Sections sit between ``<!-- cardgen:begin NAME -->`` and ``<!-- cardgen:end NAME sha256:HASH -->``
lines outside code blocks and HTML comments (markers shown in a code block are an example, not
a section). The end marker carries a hash of the text cardgen wrote between them, so a section
a person edited since is told apart from cardgen's own: refreshing refuses to replace it unless
asked to discard the edit. Markers without a hash (cards of older cardgen versions) cannot be
checked and are refreshed as before. Refreshing replaces the sections an existing card still
has and keeps every other line of it byte for byte, line endings included; the YAML front
matter is merged key by key and edited in place (see ``frontmatter``).
"""

from __future__ import annotations

import hashlib
import re
import urllib.parse
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from cardgen.cards.frontmatter import (
    merge_metadata,
    parse_metadata,
    split_front_matter,
    update_front_matter,
)
from cardgen.cards.markdown import scan
from cardgen.errors import CardError
from cardgen.trust.untrusted import check_output_file, quote, read_text

BEGIN = "<!-- cardgen:begin {} -->"
END = "<!-- cardgen:end {} -->"
VERIFIED = "verified_results"  # the section of `cardgen verify` (cards/verified.py)
SEALED_END = "<!-- cardgen:end {} sha256:{} -->"
MODEL = "<!-- cardgen:model {} -->"
MAX_CARD_BYTES = 32 * 2**20
MAX_SECTION_CHARS = 2**20
DISCARD_EDITS = "--discard-edits"
_MARKER = re.compile(
    r"^<!-- cardgen:(begin|end) ([\w.-]+)(?: sha256:([0-9a-f]{16}))? -->[ \t]*(?=\r?$)", re.M
)
_MODEL = re.compile(r"^<!-- cardgen:model (\S+) -->[ \t]*(?=\r?$)", re.M)
_ANY_MARKER = re.compile(r"<!--\s*cardgen:[^\n]*", re.I)


@dataclass(frozen=True)
class Block:
    """A section in a text: ``text[start:end]`` runs from its begin marker to its end marker,
    ``text[inner:outer]`` is what lies between them, ``hash`` the one its end marker carries."""

    name: str
    start: int
    end: int
    inner: int
    outer: int
    hash: str | None


def find_blocks(text: str, *, source: str) -> dict[str, Block]:
    """The sections of ``text`` in order; raise CardError on unbalanced or repeated markers.

    Markers inside a fenced code block or an HTML comment are text, not markers.
    """
    matches = list(_MARKER.finditer(text))
    if not matches:
        return {}
    quoted = {line.start for line in scan(text)[0] if line.quoted}
    blocks: dict[str, Block] = {}
    opened: tuple[str, re.Match[str]] | None = None
    for match in matches:
        if match.start() in quoted:
            continue
        kind, name, digest = match.groups()
        line = text.count("\n", 0, match.start()) + 1
        if kind == "begin":
            if opened is not None:
                raise CardError(
                    f"{source}, line {line}: section {name!r} begins inside section "
                    f"{opened[0]!r}; close it with `{END.format(opened[0])}` first"
                )
            if name in blocks:
                raise CardError(f"{source}, line {line}: section {name!r} appears twice")
            opened = (name, match)
        elif opened is None or opened[0] != name:
            raise CardError(
                f"{source}, line {line}: `{END.format(name)}` has no matching "
                f"`{BEGIN.format(name)}` before it"
            )
        else:
            begin = opened[1]
            blocks[name] = Block(
                name, begin.start(), match.end(), begin.end(), match.start(), digest
            )
            opened = None
    if opened is not None:
        raise CardError(f"{source}: section {opened[0]!r} has no `{END.format(opened[0])}` line")
    return blocks


def section_hash(text: str) -> str:
    """The hash an end marker carries: of the section's text, with line endings and trailing
    spaces (which editors change on their own) left out."""
    lines = (line.rstrip() for line in text.replace("\r\n", "\n").split("\n"))
    return hashlib.sha256("\n".join(lines).strip("\n").encode()).hexdigest()[:16]


def seal(card: str) -> str:
    """``card`` with each section's end marker carrying the hash of the section's text."""
    _, body = split_front_matter(card)
    return card[: len(card) - len(body)] + _seal_body(body)


def _seal_body(body: str) -> str:
    parts, position = [], 0
    for block in find_blocks(body, source="the rendered card").values():
        digest = section_hash(body[block.inner : block.outer])
        parts += [body[position : block.outer], SEALED_END.format(block.name, digest)]
        position = block.end
    return "".join([*parts, body[position:]])


def edited_sections(body: str, blocks: Iterable[Block]) -> list[Block]:
    """The sections whose text no longer matches the hash cardgen wrote with it."""
    return [
        block
        for block in blocks
        if block.hash is not None and block.hash != section_hash(body[block.inner : block.outer])
    ]


def refuse_edits(source: str, body: str, edited: list[Block], first_line: int) -> None:
    """CardError naming the sections of ``body`` a person edited, and how to keep the edits."""
    where = ", ".join(
        f"{block.name!r} (lines {first_line + body.count(chr(10), 0, block.start)}-"
        f"{first_line + body.count(chr(10), 0, block.end)})"
        for block in edited
    )
    plural = "s" if len(edited) > 1 else ""
    raise CardError(
        f"{source}: someone edited the text of cardgen's section{plural} {where} after cardgen "
        "wrote it (it no longer matches the hash in the section's end marker), and refreshing "
        "would replace that text; nothing was written. To keep the edit, move it above or below "
        "the section's markers (or delete the two marker lines to take the section over), then "
        f"run again; to drop it, run again with {DISCARD_EDITS}"
    )


class Refreshed(NamedTuple):
    """A refreshed card, the rendered sections it lacked (``missing``: not added back, since
    removing a section's markers is how a person takes it over) and the sections it had that
    the rendering no longer has (``removed``)."""

    card: str
    missing: list[str]
    removed: list[str]


def refresh_card(
    existing: str, rendered: str, *, source: str, discard_edits: bool = False
) -> Refreshed:
    """Put the sections and metadata of ``rendered`` into ``existing``, keeping the rest.

    Sections that ``rendered`` no longer has are removed. A section a person edited (see the
    module) is refused with CardError unless ``discard_edits``. ``existing`` keeps its line
    endings (CRLF stays CRLF).
    """
    existing, newline = line_endings(existing, source=source)
    old_yaml, old_body = split_front_matter(existing)
    new_yaml, new_body = split_front_matter(rendered)
    old_blocks = find_blocks(old_body, source=source)
    if not old_blocks:
        raise CardError(
            f"{source} exists but has no cardgen sections (`{BEGIN.format('NAME')}` lines) to "
            "refresh; pass --merge to add them to it and keep its text, --overwrite to replace "
            "it, or write the card to another file"
        )
    new_blocks = find_blocks(new_body, source="the rendered card")
    old_model = card_model(old_body, old_blocks.values())
    new_model = card_model(new_body, new_blocks.values())
    if old_model is not None and new_model is not None and old_model != new_model:
        raise CardError(
            f"{source} is the card of model {quote(old_model)}, but these results are of model "
            f"{quote(new_model)}; refreshing it would keep the other model's metadata (license, "
            "base model…) and text beside these results; pass --overwrite to replace it, or "
            "write this card to another --output"
        )
    head = existing[: len(existing) - len(old_body)]
    edited = edited_sections(old_body, old_blocks.values())
    if edited and not discard_edits:
        refuse_edits(source, old_body, edited, first_line=head.count("\n") + 1)
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
    body = _seal_body("".join(parts))
    missing = [name for name in new_blocks if name not in old_blocks]
    removed = [name for name in old_blocks if name not in new_blocks]
    if new_yaml is not None:
        old_metadata = parse_metadata(old_yaml or "", source=source)
        new_metadata = parse_metadata(new_yaml, source="the rendered card")
        metadata = merge_metadata(old_metadata, new_metadata)
        if old_yaml is None or metadata != old_metadata:
            edited_yaml = update_front_matter(old_yaml or "", metadata, source=source)
            opening = head.index("\n") + 1 if old_yaml is not None else 0
            closing = head[opening + len(old_yaml or "") :] if old_yaml is not None else "---\n"
            head = (head[:opening] or "---\n") + edited_yaml + closing
    return Refreshed((head + body).replace("\n", newline), missing, removed)


def line_endings(text: str, *, source: str) -> tuple[str, str]:
    """``(text with LF line ends, its line ending)``, without a byte-order mark (before which
    the Hub does not see the front matter); CardError for a text that mixes line endings
    (cardgen could not keep them all)."""
    text = text.removeprefix("\ufeff")
    if "\r" not in text:
        return text, "\n"
    crlf = text.count("\r\n")
    if crlf == text.count("\n") == text.count("\r"):
        return text.replace("\r\n", "\n"), "\r\n"
    lone = re.search(r"\r(?!\n)|(?<!\r)\n", text)
    where = text.count("\n", 0, lone.start()) + 1 if lone else 1
    raise CardError(
        f"{source} mixes line endings: {crlf:,} lines end with CRLF, but line {where} ends with "
        "a lone LF or CR; cardgen keeps a card's line endings as they are and cannot keep both "
        "kinds; convert the card to one (e.g. with dos2unix or unix2dos), then run again"
    )


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
    opened = scan(text)[1]
    if opened is not None:
        raise CardError(
            f"{where} opens {opened.what} on line {opened.line} and never closes it, so the "
            "rest of the card would show as code, be hidden or break; close it"
        )


def read_existing_card(target: Path) -> str:
    """The text of an existing card at ``target`` ("" when there is none), line endings as they
    are; CardError when it cannot be read as a card, or is a link or other non-regular file
    (cardgen is about to write ``target``, and never reads or writes through a link)."""
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
            keep_line_endings=True,
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
    end = next(iter(blocks.values())).outer
    return f"{head}{body[:end]}{tag}\n{body[end:]}"


def card_model(body: str, blocks: Iterable[Block]) -> str | None:
    """The model named by the cardgen comment in one of the card's sections, or None."""
    for block in blocks:
        match = _MODEL.search(body, block.inner, block.outer)
        if match is not None:
            return urllib.parse.unquote(match.group(1))
    return None


def refresh_file(
    target: Path, text: str, sections: Mapping[str, str], *, discard_edits: bool = False
) -> str:
    """``text`` refreshed into the card already at ``target`` (``text`` when there is none)."""
    existing = read_existing_card(target)
    if not existing.strip():
        return text
    refreshed = refresh_card(existing, text, source=str(target), discard_edits=discard_edits)
    if VERIFIED in refreshed.removed:
        warnings.warn(
            f"{target}: the 'Verified results' section was removed, since it checked claims "
            "this refresh may have changed; pass --verification with the verification.json of "
            "a new `cardgen verify` run to put it back",
            stacklevel=4,
        )
    for name in refreshed.missing:
        if name in sections:
            warnings.warn(
                f"{target} has no {name!r} section (its markers were removed), so the text "
                f"passed for it was not added; add the markers back or use --overwrite",
                stacklevel=4,
            )
    return refreshed.card


def check_replaceable(target: Path, mark: str, *, what: str) -> None:
    """Refuse to replace a non-empty file at ``target`` that lacks ``mark`` (cardgen's sign)."""
    existing = read_existing_card(target)
    if existing.strip() and mark not in existing:
        raise CardError(
            f"{target} exists and is not {what}; pass --overwrite to replace it, or write the "
            "card to another --output"
        )
