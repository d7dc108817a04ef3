"""A line scanner for Markdown cards: headings, and where text sits inside code, comments or HTML.

Only what merging and refreshing need: a heading counts when it is outside fenced code blocks,
HTML comments and HTML block elements, since a section put inside one of those would show as
code, be hidden, or break the markup around it; a cardgen marker counts when it is outside code
blocks and comments (``Line.quoted``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})(.*)$")
_ATX = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_BLOCK_TAGS = (
    "article|aside|blockquote|center|details|div|dl|figure|footer|form|header|iframe|main|nav|"
    "ol|pre|script|section|style|svg|table|template|textarea|ul"
)
_TAG = re.compile(rf"<(/?)({_BLOCK_TAGS})\b[^>]*?(/?)>", re.I)
# Text that shows as itself, never as HTML: a backslash-escaped character, an inline code span.
_LITERAL = re.compile(r"\\[!-/:-@\[-`{-~]|(?<!`)(`+)(?!`).*?(?<!`)\1(?!`)")


@dataclass(frozen=True)
class Line:
    """One line of a text: where it starts, its text, and what it is."""

    number: int
    start: int
    end: int  # after its line break
    text: str
    top: bool  # outside code blocks, HTML comments and HTML elements
    heading: int = 0  # the heading level, 0 when it is no heading
    title: str = ""  # the heading's words, lower case, without punctuation
    quoted: bool = False  # starts inside a fenced code block or an HTML comment, or opens a fence


@dataclass(frozen=True)
class Opened:
    """Something a text opens and never closes: a code block, an HTML comment or element."""

    what: str
    line: int


def scan(text: str) -> tuple[list[Line], Opened | None]:
    """The lines of ``text``, and what it leaves open at its end (None when nothing)."""
    lines: list[Line] = []
    fence: tuple[str, int] | None = None
    comment: int | None = None
    elements: list[tuple[str, int]] = []
    position = 0
    for number, raw in enumerate(text.splitlines(keepends=True), start=1):
        line = raw.rstrip("\r\n")
        top = fence is None and comment is None and not elements
        quoted = fence is not None or comment is not None
        heading, title = 0, ""
        match = _FENCE.match(line) if comment is None else None
        if match is not None and fence is None:
            if not (match.group(1)[0] == "`" and "`" in match.group(2)):
                fence = (match.group(1), number)
                top, quoted = False, True
        elif match is not None and fence is not None:
            closes = match.group(1)[0] == fence[0][0] and len(match.group(1)) >= len(fence[0])
            if closes and not match.group(2).strip():
                fence = None
        elif fence is None:
            comment = _scan_html(line, number, comment, elements)
            atx = _ATX.match(line) if top else None
            if atx is not None:
                heading, title = len(atx.group(1)), _words(atx.group(2) or "")
            elif top and _SETEXT.match(line) and lines and _paragraph(lines[-1]):
                previous = lines[-1]
                level = 1 if line.lstrip()[0] == "=" else 2
                lines[-1] = Line(
                    previous.number,
                    previous.start,
                    previous.end,
                    previous.text,
                    True,
                    level,
                    _words(previous.text),
                )
        lines.append(Line(number, position, position + len(raw), line, top, heading, title, quoted))
        position += len(raw)
    if fence is not None:
        return lines, Opened(f"a code block ({fence[0]!r})", fence[1])
    if comment is not None:
        return lines, Opened("an HTML comment (`<!--`)", comment)
    if elements:
        return lines, Opened(f"an HTML <{elements[-1][0]}> element", elements[-1][1])
    return lines, None


def _scan_html(
    line: str, number: int, comment: int | None, elements: list[tuple[str, int]]
) -> int | None:
    """Update the open HTML elements with ``line``; return the line of an open comment.
    Escaped characters and code spans (``\\<!--``, ```<div>```) are text, not HTML."""
    rest = line
    while rest:
        if comment is not None:
            end = rest.find("-->")
            if end < 0:
                return comment
            comment, rest = None, rest[end + 3 :]
            continue
        masked = _LITERAL.sub(lambda match: " " * len(match.group()), rest)
        begin = masked.find("<!--")
        visible = masked if begin < 0 else masked[:begin]
        for tag in _TAG.finditer(visible):
            closing, name, selfclosing = tag.group(1), tag.group(2).lower(), tag.group(3)
            if closing:
                for index in range(len(elements) - 1, -1, -1):
                    if elements[index][0] == name:
                        del elements[index:]
                        break
            elif not selfclosing:
                elements.append((name, number))
        if begin < 0:
            return None
        comment, rest = number, rest[begin + 4 :]
    return comment


def _paragraph(line: Line) -> bool:
    text = line.text.strip()
    return line.top and not line.heading and bool(text) and not text.startswith(("<", "|", "-"))


def _words(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s]", " ", text.lower()).split())
