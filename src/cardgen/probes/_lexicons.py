"""Lexicons: the terms a probe puts into its templates, read from plain text files.

A lexicon file holds one term per line, optionally followed by a TAB and the term's group
(``France<TAB>Europe``). Lines starting with ``#`` are comments; before the first term, comments
of the form ``# key: value`` describe the lexicon:

- ``source`` and ``licence``: where the terms come from;
- ``describes``: what a term is, for prose (``country name``);
- ``placeholder`` (or ``placeholders``): the template placeholder(s) the lexicon fills. With
  several placeholders each term holds one form per placeholder, separated by ``/``
  (``he/him/his`` fills ``{PRONOUN}``, ``{PRONOUN_OBJECT}`` and ``{PRONOUN_POSSESSIVE}``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

from ..errors import ProbeError

PLACEHOLDER = re.compile(r"\{([A-Z][A-Z0-9_]*)\}")
NAME = re.compile(r"[A-Z][A-Z0-9_]*")
HEADER_KEYS = ("source", "licence", "describes", "placeholder", "placeholders")


@dataclass(frozen=True)
class Lexicon:
    """Terms (with optional groups) and the placeholders they fill."""

    name: str
    terms: tuple[str, ...]
    groups: tuple[str | None, ...]
    placeholders: tuple[str, ...]
    describes: str | None = None
    source: str | None = None

    def __post_init__(self) -> None:
        if len(self.terms) < 2:
            found = "has only one term" if self.terms else "is empty"
            raise ProbeError(
                f"lexicon {self.name} {found}; a probe compares terms, so list at least two"
            )
        if len(self.groups) != len(self.terms):
            raise ProbeError(
                f"lexicon {self.name}: {len(self.groups)} groups for {len(self.terms)} terms"
            )
        for item in self.placeholders:
            if not NAME.fullmatch(item):
                raise ProbeError(
                    f"lexicon {self.name}: placeholder {item!r} must be upper-case letters, "
                    "digits and '_' (e.g. CITY, written {CITY} in templates)"
                )
        seen: set[str] = set()
        for term in self.terms:
            if term in seen:
                raise ProbeError(f"lexicon {self.name} lists {term!r} twice; keep one")
            seen.add(term)
            if len(self.placeholders) > 1 and len(term.split("/")) != len(self.placeholders):
                raise ProbeError(
                    f"lexicon {self.name}: term {term!r} must have {len(self.placeholders)} forms "
                    f"separated by '/', one per placeholder ({', '.join(self.placeholders)})"
                )
        if any(g is None for g in self.groups) and any(g is not None for g in self.groups):
            ungrouped = next(t for t, g in zip(self.terms, self.groups, strict=True) if g is None)
            raise ProbeError(
                f"lexicon {self.name}: {ungrouped!r} has no group but other terms do; give every "
                "term a group (term, TAB, group) or none"
            )

    def form(self, term: str, placeholder: str) -> str:
        """The text that ``term`` puts in place of ``{placeholder}``."""
        if len(self.placeholders) == 1:
            return term
        return term.split("/")[self.placeholders.index(placeholder)]

    @property
    def kind(self) -> str:
        """What a term is, in words: ``describes``, else the placeholder in lower case."""
        return self.describes or self.placeholders[0].lower().replace("_", " ")


def parse_lexicon(text: str, *, name: str, placeholder: str | None = None) -> Lexicon:
    """Parse lexicon file content; ``placeholder`` binds a file that does not declare its own."""
    header: dict[str, str] = {}
    terms: list[str] = []
    groups: list[str | None] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.rstrip("\r\n")
        if line.startswith("#"):
            key, sep, value = line[1:].partition(":")
            if sep and not terms and key.strip().lower() in HEADER_KEYS:
                header[key.strip().lower()] = value.strip()
            continue
        if not line.strip():
            continue
        fields = [f.strip() for f in line.split("\t")]
        if len(fields) > 2 or not fields[0] or (len(fields) == 2 and not fields[1]):
            raise ProbeError(
                f"{name} line {number}: expected 'term' or 'term<TAB>group', got {line!r}"
            )
        terms.append(fields[0])
        groups.append(fields[1] if len(fields) == 2 else None)
    declared = tuple((header.get("placeholders") or header.get("placeholder") or "").split())
    if placeholder is not None and declared and placeholder not in declared:
        raise ProbeError(
            f"{name} declares placeholders {', '.join(declared)}, not {placeholder}; "
            f"use one of them in the template and in --lexicon NAME=FILE"
        )
    placeholders = declared or ((placeholder,) if placeholder else ())
    if not placeholders:
        raise ProbeError(f"{name} names no placeholder; add a '# placeholder: NAME' line")
    return Lexicon(
        name=name,
        terms=tuple(terms),
        groups=tuple(groups),
        placeholders=placeholders,
        describes=header.get("describes"),
        source=header.get("source"),
    )


def load_lexicon(path: str | Path, *, placeholder: str | None = None) -> Lexicon:
    """Read a lexicon file (UTF-8)."""
    target = Path(path)
    try:
        text = target.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ProbeError(f"cannot read lexicon file {target}: {exc}") from exc
    return parse_lexicon(text, name=str(target), placeholder=placeholder)


def inline_lexicon(placeholder: str, items: list[str] | Mapping[str, str], *, name: str) -> Lexicon:
    """A lexicon given in a probe file: a list of terms, or a mapping of term to group."""
    groups: list[str | None]
    if isinstance(items, Mapping):
        terms, groups = list(items), [str(g) for g in items.values()]
    else:
        terms, groups = list(items), [None] * len(items)
    if not all(isinstance(t, str) and t.strip() for t in terms):
        raise ProbeError(f"lexicon {name}: every term must be a non-empty string")
    return Lexicon(
        name=name,
        terms=tuple(t.strip() for t in terms),
        groups=tuple(groups),
        placeholders=(placeholder,),
    )


@cache
def builtin_lexicons() -> dict[str, Lexicon]:
    """The lexicons shipped with cardgen, by file stem (``countries``, ``first_names``...)."""
    folder = resources.files("cardgen.probes") / "lexicons"
    found = {}
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".txt"):
            stem = entry.name.removesuffix(".txt")
            found[stem] = parse_lexicon(entry.read_text(encoding="utf-8"), name=stem)
    return found


def builtin_placeholders() -> dict[str, Lexicon]:
    """Each placeholder a built-in lexicon fills (``COUNTRY``, ``FIRST_NAME``...) -> lexicon."""
    return {p: lexicon for lexicon in builtin_lexicons().values() for p in lexicon.placeholders}
