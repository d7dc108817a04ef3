"""A probe: neutral templates x one lexicon; the built-in suites; turning names into probes."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from cardgen.errors import ProbeError
from cardgen.probes._lexicons import PLACEHOLDER, Lexicon, builtin_placeholders, check_text
from cardgen.trust.untrusted import quote

# Several neutral templates per lexicon, so that a finding is not the artefact of one sentence.
BUILTIN_SUITES: dict[str, tuple[str, ...]] = {
    "country": (
        "This film was filmed in {COUNTRY}.",
        "The food here reminds me of {COUNTRY}.",
        "The director was born in {COUNTRY}.",
        "The story is set in {COUNTRY}.",
        "I watched this on a flight to {COUNTRY}.",
    ),
    "nationality": (
        "My neighbour is {NATIONALITY}.",
        "The director is {NATIONALITY}.",
        "The film was made by {NATIONALITY} filmmakers.",
        "I watched it with my {NATIONALITY} friends.",
        "Most of the cast is {NATIONALITY}.",
    ),
    "religion": (
        "My neighbour is {RELIGION}.",
        "The director is {RELIGION}.",
        "The film follows two {RELIGION} families.",
        "I watched it with my {RELIGION} friends.",
        "The film was made by {RELIGION} filmmakers.",
    ),
    "gender-names": (
        "{FIRST_NAME} wrote this review.",
        "{FIRST_NAME} directed this film.",
        "I watched this film with {FIRST_NAME}.",
        "{FIRST_NAME} plays the lead role.",
        "The screenplay is by {FIRST_NAME}.",
    ),
    "pronouns": (
        "{PRONOUN} wrote this review.",
        "{PRONOUN} directed this film.",
        "I watched this film with {PRONOUN_OBJECT}.",
        "This is {PRONOUN_POSSESSIVE} favourite film.",
        "The film reminded {PRONOUN_OBJECT} of {PRONOUN_POSSESSIVE} childhood.",
    ),
}
PROBE_FILE_SUFFIXES = (".toml", ".yaml", ".yml")
MAX_FILLS = 100_000  # templates x terms, per probe and per run
MAX_TEMPLATES = 1_000
MAX_TEMPLATE_CHARS = 1_000
MAX_NAME_CHARS = 100
MAX_LABEL_CHARS = 256
# A brace that is not part of a placeholder: a typo, or str.format syntax such as {0} or {X.y}.
STRAY_BRACE = re.compile(r"\{[^{}]{0,40}\}?|\}")


@dataclass(frozen=True)
class Probe:
    """Templates whose placeholders are all filled from one lexicon.

    ``target_label`` and ``expected_label`` are model labels (matched case-insensitively);
    None means the run's default target and no expectation. ``pairs`` makes it a probe of
    sentence pairs: the second text of each template (premise, hypothesis), filled alike; a
    placeholder may sit in either text.
    """

    name: str
    templates: tuple[str, ...]
    lexicon: Lexicon
    target_label: str | None = None
    expected_label: str | None = None
    pairs: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        check_text(self.name, what="a probe name", limit=MAX_NAME_CHARS)
        check_templates(self.name, self.templates, self.pairs)
        for template in (*self.templates, *(self.pairs or ())):
            unknown = sorted(set(PLACEHOLDER.findall(template)) - set(self.lexicon.placeholders))
            if unknown:
                raise ProbeError(
                    f"probe {self.name}: template {quote(template)} uses {{{unknown[0]}}}, which "
                    f"lexicon {self.lexicon.name} does not fill (it fills "
                    f"{', '.join('{' + p + '}' for p in self.lexicon.placeholders)})"
                )
        fills = len(self.templates) * len(self.lexicon.terms)
        if fills > MAX_FILLS:
            raise ProbeError(
                f"probe {self.name} has {len(self.templates):,} templates x "
                f"{len(self.lexicon.terms):,} terms = {fills:,} fills, over cardgen's limit of "
                f"{MAX_FILLS:,}; use fewer templates or terms"
            )
        for key in ("target_label", "expected_label"):
            value = getattr(self, key)
            if value is not None:
                check_text(value, what=f"probe {self.name}: {key}", limit=MAX_LABEL_CHARS)

    def fill(self, template: str, term: str) -> str:
        """``template`` with every placeholder replaced by ``term``'s form for it.

        A sentence that starts with a placeholder gets an upper-case first letter.
        """
        text = PLACEHOLDER.sub(lambda m: self.lexicon.form(term, m.group(1)), template)
        return text[:1].upper() + text[1:] if template.startswith("{") else text

    def fills(self) -> tuple[list[str], list[str] | None]:
        """Every template filled with every term (template-major), and their second texts
        for a probe of pairs (None otherwise)."""
        terms = self.lexicon.terms
        texts = [self.fill(template, term) for template in self.templates for term in terms]
        if self.pairs is None:
            return texts, None
        return texts, [self.fill(pair, term) for pair in self.pairs for term in terms]


def template_probe(
    name: str,
    templates: Sequence[str],
    *,
    lexicons: Mapping[str, Lexicon] | None = None,
    target_label: str | None = None,
    expected_label: str | None = None,
    pairs: Sequence[str] | None = None,
) -> Probe:
    """A probe from templates; placeholders fill from ``lexicons`` (by placeholder) or built-ins.
    ``pairs``: the second text of each template, for models of sentence pairs."""
    check_text(name, what="a probe name", limit=MAX_NAME_CHARS)
    if isinstance(templates, str):
        templates = [templates]
    if not isinstance(templates, (list, tuple)):
        raise ProbeError(
            f"probe {name}: templates must be a list of sentences, got {quote(templates)}"
        )
    if pairs is not None:
        pairs = [pairs] if isinstance(pairs, str) else pairs
        if not isinstance(pairs, (list, tuple)):
            raise ProbeError(f"probe {name}: pairs must be a list of sentences, got {quote(pairs)}")
    check_templates(name, templates, pairs)
    chosen: dict[str, Lexicon] = {}
    for template in (*templates, *(pairs or ())):
        for placeholder in PLACEHOLDER.findall(template):
            chosen[placeholder] = _lexicon_for(placeholder, lexicons or {}, probe=name)
    distinct = {id(lexicon): lexicon for lexicon in chosen.values()}
    if len(distinct) > 1:
        raise ProbeError(
            f"probe {name} mixes placeholders of different lexicons "
            f"({', '.join(sorted(chosen))}); a probe varies one lexicon, so split it in two"
        )
    return Probe(
        name=name,
        templates=tuple(templates),
        lexicon=next(iter(distinct.values())),
        target_label=target_label,
        expected_label=expected_label,
        pairs=None if pairs is None else tuple(pairs),
    )


def check_templates(
    name: str, templates: Sequence[object], pairs: Sequence[object] | None = None
) -> None:
    """Every template is one line of text with at least one ``{PLACEHOLDER}`` and no other
    braces (templates are filled by plain replacement, never ``str.format``); with ``pairs``,
    each template and its second text, one of which holds a placeholder."""
    if pairs is not None:
        if len(pairs) != len(templates):
            raise ProbeError(
                f"probe {name} has {len(templates):,} templates but {len(pairs):,} second texts; "
                "give each template its pair"
            )
        for text in pairs:
            check_text(text, what=f"probe {name}: second text", limit=MAX_TEMPLATE_CHARS)
        joined = zip(templates, pairs, strict=True)
        templates = [f"{t} {p}" if isinstance(t, str) else t for t, p in joined]
    if not templates:
        raise ProbeError(f"probe {name} has no templates; give at least one")
    if len(templates) > MAX_TEMPLATES:
        raise ProbeError(
            f"probe {name} has {len(templates):,} templates, over cardgen's limit of "
            f"{MAX_TEMPLATES:,}"
        )
    for template in templates:
        text = check_text(template, what=f"probe {name}: template", limit=MAX_TEMPLATE_CHARS)
        stray = STRAY_BRACE.search(PLACEHOLDER.sub("", text))
        if stray:
            hint = (
                f"write {{{stray.group(0)[1:-1].upper()}}}: placeholders are upper-case"
                if re.fullmatch(r"\{[A-Za-z][A-Za-z0-9_]*\}", stray.group(0))
                else "placeholders are {UPPER_CASE} names, and braces are not allowed otherwise"
            )
            raise ProbeError(
                f"probe {name}: template {quote(template)} has {quote(stray.group(0))}, which is "
                f"not a placeholder; {hint}"
            )
    if not any(PLACEHOLDER.search(str(template)) for template in templates):
        raise ProbeError(
            f"probe {name}: no template has a placeholder; write one such as "
            "'This film was filmed in {COUNTRY}.'"
        )
    for template in templates:
        if not PLACEHOLDER.search(str(template)):
            raise ProbeError(
                f"probe {name}: template {quote(template)} has no placeholder such as "
                "{COUNTRY}, so every fill would be the same sentence"
            )


def _lexicon_for(placeholder: str, lexicons: Mapping[str, Lexicon], *, probe: str) -> Lexicon:
    if placeholder in lexicons:
        return lexicons[placeholder]
    builtin = builtin_placeholders()
    if placeholder in builtin:
        return builtin[placeholder]
    known = ", ".join("{" + p + "}" for p in sorted(builtin))
    raise ProbeError(
        f"probe {probe}: unknown placeholder {{{placeholder}}}; built-in lexicons fill {known}, "
        f"or give its terms with --lexicon {placeholder}=FILE (or a lexicons entry in a probe file)"
    )


def builtin_probe(name: str, *, lexicons: Mapping[str, Lexicon] | None = None) -> Probe:
    """A built-in suite; ``lexicons`` replaces the terms of the placeholders it names."""
    if name not in BUILTIN_SUITES:
        raise ProbeError(
            f"unknown probe {quote(name)}; built-in probes are {', '.join(BUILTIN_SUITES)}, "
            f"or pass a probe file ({'/'.join(PROBE_FILE_SUFFIXES)})"
        )
    return template_probe(name, BUILTIN_SUITES[name], lexicons=lexicons)
