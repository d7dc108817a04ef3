"""Merging cardgen's sections into a card a person wrote without cardgen (``--merge``).

Every line of the existing card is kept, in order. cardgen adds the sections a hand-written card
lacks (``MERGED_SECTIONS``: the summary, evaluation, bias probes and framework versions, and any
other section of the rendered card except those a person writes: description, intended uses,
how to start, training, the scikit-learn details), each between its markers:

- the summary right after the card's own ``# title`` (then the section's title is left out),
  or at the top when the card has none;
- a section after the person's section on the same subject (``ANCHORS``: "Evaluation
  results", "Training results", "Risks, limitations and biases", "Framework versions"…),
  before the next heading of the same or a higher level, so that their own metrics table or
  bias notes stay and cardgen's go beside them;
- otherwise after the cardgen section before it, or else before the next one placed at a
  heading, or else at the end of the card.

The front matter is merged key by key and edited in place (``frontmatter``: ``model-index``
results for other datasets and splits stay, lines cardgen does not set stay as they are), and
the card keeps its line endings. A card with cardgen markers is refreshed as usual, so a second
merge changes nothing. Cards that cannot be merged without breaking them are refused: an HTML
page, a card flattened onto one line, TOML (``+++``) front matter, a card that leaves a code
block, comment or HTML element open where a section would go.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Collection
from pathlib import Path

from cardgen.cards.frontmatter import parse_metadata, split_front_matter
from cardgen.cards.markdown import Line, scan
from cardgen.cards.sections import (
    BEGIN,
    END,
    find_blocks,
    line_endings,
    read_existing_card,
    refresh_card,
)
from cardgen.errors import CardError

# Sections of the default template that a person's own card already has in some form.
PERSON_SECTIONS = ("model_description", "intended_uses", "get_started", "training", "sklearn")
MERGED_SECTIONS = ("summary", "evaluation", "risks", "environment")
# Headings (their words, lower case) that a section goes after, most telling first.
ANCHORS: dict[str, tuple[str, ...]] = {
    "evaluation": (
        r"evaluation results?|eval results?|results of the evaluation",
        r"evaluation|evaluation metrics|metrics|results",
        r"benchmark(s|ing)?|performance|model performance",
        r"training results?",
    ),
    "risks": (r".*\b(bias|biases|risks?)\b.*", r"limitations"),
    "environment": (r"framework versions?|frameworks?|environment|software|libraries",),
}
ANCHORS["verified_results"] = (r"verified results?|verification", *ANCHORS["evaluation"])
# Level-1 headings that open a section rather than name the model.
_NOT_TITLES = re.compile(
    r"model description|description|model details|overview|introduction|table of contents|"
    r"intended uses.*|uses|how to.*|training.*|evaluation.*|model card"
)
_FLAT_HEADINGS = re.compile(r"\s#{1,6} \S")
FLAT_LINE_CHARS = 400


def merge_card(
    existing: str,
    rendered: str,
    *,
    source: str,
    include: Collection[str] = (),
    discard_edits: bool = False,
) -> str:
    """``existing`` with the sections and metadata of ``rendered`` merged in (see the module).

    ``include`` names sections of ``PERSON_SECTIONS`` to add too (those given text with
    ``--section``). Raises CardError for a card that cannot be merged without breaking it, and
    for one whose cardgen sections a person edited (unless ``discard_edits``: see
    ``sections.refresh_card``). The card keeps its line endings.
    """
    if not existing.removeprefix("\ufeff").strip():
        return rendered
    existing, newline = line_endings(existing, source=source)
    _refuse_unmergeable(existing, source)
    front, body = split_front_matter(existing)
    if front is None and existing.startswith("---"):
        raise CardError(
            f"{source} starts with `---` but its front matter has no closing `---` line; "
            "close it and merge again"
        )
    if front is not None:
        parse_metadata(front, source=source, fix="fix it, or write the card to another --output")
    if not find_blocks(body, source=source):
        _refuse_html_page(body, source)
        new_blocks = find_blocks(split_front_matter(rendered)[1], source="the rendered card")
        names = [n for n in new_blocks if n not in PERSON_SECTIONS or n in include]
        body = _insert(body, _places(names, body, source))
        existing = existing[: len(existing) - len(split_front_matter(existing)[1])] + body
    merged = refresh_card(existing, rendered, source=source, discard_edits=discard_edits).card
    return merged.replace("\n", newline)


def merge_file(
    target: Path, text: str, *, include: Collection[str] = (), discard_edits: bool = False
) -> str:
    """``text`` merged into the card at ``target`` (``text`` when there is none); warns about
    front-matter values of the person's that cardgen replaced."""
    existing = read_existing_card(target)
    merged = merge_card(
        existing, text, source=str(target), include=include, discard_edits=discard_edits
    )
    old = split_front_matter(existing.removeprefix("\ufeff"))[0]
    new = split_front_matter(merged.removeprefix("\ufeff"))[0]
    if old is not None and new is not None and old != new:
        before = parse_metadata(old, source=str(target))
        after = parse_metadata(new, source="the merged card")
        for key, value in before.items():
            if key != "model-index" and not isinstance(value, list) and after.get(key) != value:
                warnings.warn(
                    f"{target}: front-matter key {key!r} was {value!r} and is now "
                    f"{after.get(key)!r}, cardgen's value; edit it back after merging if yours "
                    "was right",
                    stacklevel=3,
                )
    return merged


def insert_section(body: str, name: str, *, source: str) -> str:
    """``body`` (a card without its front matter) with an empty marker pair of section
    ``name`` where a merge puts it (see the module); CardError where it would land inside an
    open code block or HTML element."""
    return _insert(body, _places([name], body, source))


def _refuse_unmergeable(text: str, source: str) -> None:
    if text.lstrip().startswith("+++"):
        raise CardError(
            f"{source} has TOML front matter (`+++`), which the Hub does not read; convert it "
            "to YAML between `---` lines, then merge again"
        )
    for number, line in enumerate(text.splitlines(), start=1):
        flat = len(line) > FLAT_LINE_CHARS and (
            len(_FLAT_HEADINGS.findall(line)) >= 2 or line.startswith("--- ")
        )
        if flat:
            raise CardError(
                f"{source} looks flattened onto one line: line {number} has {len(line):,} "
                "characters with its front matter or several Markdown headings (` ## `) inside "
                "it, so its line breaks were lost and cardgen cannot tell its sections apart; "
                "restore the line breaks (download the raw README.md again) and merge again"
            )


def _refuse_html_page(body: str, source: str) -> None:
    lines, _ = scan(body)
    filled = [line for line in lines if line.text.strip()]
    if not filled or any(line.heading for line in lines):
        return
    tags = [line for line in filled if line.text.lstrip().startswith("<")]
    inside = [line for line in filled if not line.top]
    if len(tags) * 2 >= len(filled) or len(inside) * 2 >= len(filled):
        raise CardError(
            f"{source} is an HTML page, not a Markdown card ({len(tags)} of its {len(filled)} "
            "lines are HTML tags and it has no Markdown heading): cardgen places its sections "
            "at Markdown headings and cannot add them without breaking the page's markup; "
            "convert the card to Markdown (the Hub renders Markdown), or write cardgen's card "
            "to another --output"
        )


def _places(names: list[str], body: str, source: str) -> list[tuple[int, str]]:
    """Where each section goes: ``(offset in body, name)`` in insertion order."""
    lines, opened = scan(body)
    headings = [line for line in lines if line.heading]
    anchored: dict[str, int] = {}
    for name in names:
        anchor = _anchor(name, headings) if name != "summary" else None
        if anchor is not None:
            anchored[name] = _section_end(anchor, headings, len(body))
    places: list[tuple[int, str]] = []
    previous: int | None = None
    for index, name in enumerate(names):
        if name == "summary":
            first = headings[0] if headings else None
            titled = first is not None and first.heading == 1
            if first is not None and titled and not _NOT_TITLES.fullmatch(first.title):
                position = _after_heading(first, lines)
            else:
                position = 0
        else:
            later = [anchored[n] for n in names[index + 1 :] if n in anchored]
            position = anchored.get(
                name, previous if previous is not None else later[0] if later else len(body)
            )
            previous = position
        if position == len(body) and opened is not None:
            raise CardError(
                f"{source} leaves {opened.what} open from line {opened.line} to its end, so "
                f"cardgen's {name!r} section would land inside it; close it and merge again"
            )
        places.append((position, name))
    order = {name: index for index, name in enumerate(names)}
    return sorted(places, key=lambda place: (place[0], order[place[1]]))


def _anchor(name: str, headings: list[Line]) -> Line | None:
    for pattern in ANCHORS.get(name, ()):
        for line in headings:
            if re.fullmatch(pattern, line.title) and not line.title.startswith("intended"):
                return line
    return None


def _section_end(anchor: Line, headings: list[Line], end: int) -> int:
    """Where the section under ``anchor`` ends: at the next heading of its level or higher
    (and never deeper than level 2, where cardgen's sections sit)."""
    level = min(anchor.heading, 2)
    for line in headings:
        if line.start > anchor.start and line.heading <= level:
            return line.start
    return end


def _after_heading(heading: Line, lines: list[Line]) -> int:
    index = next(i for i, line in enumerate(lines) if line.start == heading.start)
    following = lines[index + 1] if index + 1 < len(lines) else None
    if following is not None and re.fullmatch(r" {0,3}(=+|-+)[ \t]*", following.text):
        return following.end
    return heading.end


def _insert(body: str, places: list[tuple[int, str]]) -> str:
    """``body`` with an empty marker pair at each place (blank lines around, nothing removed)."""
    parts: list[str] = []
    last = 0
    for position, name in places:
        parts.append(body[last:position])
        before = "".join(parts)
        pair = f"{BEGIN.format(name)}\n{END.format(name)}\n"
        if before and not before.endswith("\n"):
            pair = "\n\n" + pair
        elif before and not before.endswith("\n\n"):
            pair = "\n" + pair
        if body[position : position + 1] not in ("", "\n", "\r"):
            pair += "\n"
        parts.append(pair)
        last = position
    parts.append(body[last:])
    return "".join(parts)
