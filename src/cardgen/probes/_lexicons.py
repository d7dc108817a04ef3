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

from cardgen.errors import ProbeError
from cardgen.trust.untrusted import quote, read_text

PLACEHOLDER = re.compile(r"\{([A-Z][A-Z0-9_]*)\}")
NAME = re.compile(r"[A-Z][A-Z0-9_]{0,63}")
CONTROL = re.compile(r"[\x00-\x1f\x7f]")
HEADER_KEYS = ("source", "licence", "describes", "placeholder", "placeholders")
MAX_TERMS = 100_000
MAX_TERM_CHARS = 500
MAX_PLACEHOLDERS = 16


def check_text(value: object, *, what: str, limit: int = MAX_TERM_CHARS) -> str:
    """``value`` when it is a non-empty one-line string of at most ``limit`` characters."""
    if not isinstance(value, str) or not value.strip():
        raise ProbeError(f"{what} must be non-empty text, got {quote(value)}")
    if len(value) > limit or CONTROL.search(value):
        raise ProbeError(
            f"{what} {quote(value)} must be one line of at most {limit:,} characters "
            "without control characters"
        )
    return value


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
        if len(self.terms) > MAX_TERMS:
            raise ProbeError(
                f"lexicon {self.name} has {len(self.terms):,} terms, over cardgen's limit of "
                f"{MAX_TERMS:,}; use a sample of them"
            )
        if len(self.groups) != len(self.terms):
            raise ProbeError(
                f"lexicon {self.name}: {len(self.groups)} groups for {len(self.terms)} terms"
            )
        if not self.placeholders or len(self.placeholders) > MAX_PLACEHOLDERS:
            raise ProbeError(
                f"lexicon {self.name} fills {len(self.placeholders)} placeholders; give 1 to "
                f"{MAX_PLACEHOLDERS}"
            )
        for item in self.placeholders:
            if not isinstance(item, str) or not NAME.fullmatch(item):
                raise ProbeError(
                    f"lexicon {self.name}: placeholder {quote(item)} must be upper-case letters, "
                    "digits and '_' (e.g. CITY, written {CITY} in templates)"
                )
        if len(set(self.placeholders)) != len(self.placeholders):
            raise ProbeError(f"lexicon {self.name} names a placeholder twice; name each once")
        seen: set[str] = set()
        for term in self.terms:
            check_text(term, what=f"lexicon {self.name}: term")
            if term in seen:
                raise ProbeError(f"lexicon {self.name} lists {quote(term)} twice; keep one")
            seen.add(term)
            forms = term.split("/")
            if len(self.placeholders) > 1 and (
                len(forms) != len(self.placeholders) or not all(f.strip() for f in forms)
            ):
                raise ProbeError(
                    f"lexicon {self.name}: term {quote(term)} must have {len(self.placeholders)} "
                    f"forms separated by '/', one per placeholder ({', '.join(self.placeholders)})"
                )
        for group in self.groups:
            if group is not None:
                check_text(group, what=f"lexicon {self.name}: group")
        if any(g is None for g in self.groups) and any(g is not None for g in self.groups):
            ungrouped = next(t for t, g in zip(self.terms, self.groups, strict=True) if g is None)
            raise ProbeError(
                f"lexicon {self.name}: {quote(ungrouped)} has no group but other terms do; give "
                "every term a group (term, TAB, group) or none"
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
        if len(terms) >= MAX_TERMS:
            raise ProbeError(
                f"{name} has more than {MAX_TERMS:,} terms, over cardgen's limit; use a sample"
            )
        fields = [f.strip() for f in line.split("\t")]
        if len(fields) > 2 or not fields[0] or (len(fields) == 2 and not fields[1]):
            raise ProbeError(
                f"{name} line {number}: expected 'term' or 'term<TAB>group', got {quote(line)}"
            )
        terms.append(fields[0])
        groups.append(fields[1] if len(fields) == 2 else None)
    declared = tuple((header.get("placeholders") or header.get("placeholder") or "").split())
    if len(declared) > MAX_PLACEHOLDERS:
        raise ProbeError(
            f"{name} declares {len(declared):,} placeholders; give 1 to {MAX_PLACEHOLDERS}"
        )
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
    text = read_text(target, error=ProbeError, what="lexicon file")
    return parse_lexicon(text, name=str(target), placeholder=placeholder)


def inline_lexicon(placeholder: str, items: object, *, name: str) -> Lexicon:
    """A lexicon given in a probe file: a list of terms, or a mapping of term to group."""
    if isinstance(items, Mapping):
        pairs = list(items.items())
    elif isinstance(items, (list, tuple)):
        pairs = [(term, None) for term in items]
    else:
        raise ProbeError(
            f"lexicon {name} must be a list of terms or a term -> group table, got {quote(items)}"
        )
    if len(pairs) > MAX_TERMS:
        raise ProbeError(
            f"lexicon {name} has {len(pairs):,} terms, over cardgen's limit of {MAX_TERMS:,}; "
            "use a sample of them"
        )
    for term, group in pairs:
        check_text(term, what=f"lexicon {name}: term")
        if group is not None or isinstance(items, Mapping):
            check_text(group, what=f"lexicon {name}: the group of {quote(term)}")
    return Lexicon(
        name=name,
        terms=tuple(str(t).strip() for t, _ in pairs),
        groups=tuple(None if g is None else str(g).strip() for _, g in pairs),
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
