"""The card section "Verified results", from a ``verification.json`` of ``cardgen verify``.

``cardgen card --verification FILE`` renders it into the card (``--merge`` places it after the
evaluation); ``cardgen verify --card-out CARD`` puts it into an existing card, replacing the one
it has (a person's edit inside it is refused, as on a refresh) or placing it after the
evaluation section or heading, else at the end. The file is read as untrusted data, and every
value in the section is escaped by the template (``partials/verified.md.j2``).
"""

from __future__ import annotations

import os
from pathlib import Path, PurePath
from typing import Any

from cardgen.cards.conventions import HUB_ID
from cardgen.cards.frontmatter import split_front_matter
from cardgen.cards.merge import insert_section
from cardgen.cards.sections import (
    BEGIN,
    END,
    VERIFIED,
    edited_sections,
    find_blocks,
    line_endings,
    read_existing_card,
    refuse_edits,
    seal,
)
from cardgen.cards.templating import default_templates_dir, render_template
from cardgen.errors import CardError
from cardgen.trust.atomic import atomic_open
from cardgen.trust.untrusted import parse_json, quote, read_text

PARTIAL = "partials/verified.md.j2"
KIND = "cardgen-verification"
SCHEMA = 1
_KEYS = ("model", "claims", "datasets", "summary", "created_at", "cardgen_version")


def load_verification(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The report of a ``verification.json``; CardError when it is not one this cardgen reads."""
    source = f"verification file {os.fspath(path)}"
    data = parse_json(read_text(path, error=CardError, what="verification file"), source=source,
                      error=CardError)  # fmt: skip
    if not isinstance(data, dict) or data.get("kind") != KIND:
        raise CardError(f"{source} is not a report of `cardgen verify`; pass its verification.json")
    if data.get("schema_version") != SCHEMA:
        raise CardError(
            f"{source} has schema version {quote(data.get('schema_version'))}; this cardgen "
            f"reads version {SCHEMA}: run `cardgen verify` again"
        )
    missing = [key for key in _KEYS if key not in data]
    if missing or not isinstance(data["claims"], list) or not isinstance(data["datasets"], list):
        raise CardError(f"{source} is malformed (missing {', '.join(missing) or 'lists'}); "
                        "run `cardgen verify` again")  # fmt: skip
    return data


def verified_section(verification: dict[str, Any]) -> str:
    """The section, between its markers, with the hash of its text in its end marker. Local
    paths (of the model, of data files) show as their last part: a card is published."""
    shown = {
        **verification,
        "model": {**verification["model"], "id": _public(verification["model"].get("id"))},
        "datasets": [
            {**d, "source": _public(d.get("source"))} if isinstance(d, dict) else d
            for d in verification["datasets"]
        ],
    }
    body = render_template(default_templates_dir() / PARTIAL, {"verification": shown})
    return seal(f"{BEGIN.format(VERIFIED)}\n{body.strip()}\n{END.format(VERIFIED)}\n")


def _public(name: Any) -> Any:
    """A Hub id or ``hub:`` source as it is; a local path as its last part."""
    if not isinstance(name, str) or name.startswith("hub:") or HUB_ID.fullmatch(name):
        return name
    return PurePath(name).name or name


def add_verified_section(
    target: Path, verification: dict[str, Any], *, discard_edits: bool = False
) -> Path:
    """Put the section into the existing card at ``target`` (see the module) and write it."""
    existing = read_existing_card(target)
    if not existing.removeprefix("\ufeff").strip():
        raise CardError(
            f"no card at {target} to add the verified results to; render one with `cardgen "
            "card`, or pass the card with --card-out"
        )
    text, newline = line_endings(existing, source=str(target))
    _, body = split_front_matter(text)
    head = text[: len(text) - len(body)]
    blocks = find_blocks(body, source=str(target))
    if VERIFIED not in blocks:
        after = blocks.get("evaluation")
        if after is not None:
            pair = f"\n\n{BEGIN.format(VERIFIED)}\n{END.format(VERIFIED)}"
            body = body[: after.end] + pair + body[after.end :]
        else:
            body = insert_section(body, VERIFIED, source=str(target))
        blocks = find_blocks(body, source=str(target))
    block = blocks[VERIFIED]
    if edited_sections(body, [block]) and not discard_edits:
        refuse_edits(str(target), body, [block], first_line=head.count("\n") + 1)
    section = verified_section(verification).rstrip("\n")
    card = head + body[: block.start] + section + body[block.end :]
    with atomic_open(target, "wb") as handle:
        handle.write(card.replace("\n", newline).encode("utf-8"))
    return target
