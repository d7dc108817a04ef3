"""A probe: neutral templates x one lexicon; the built-in suites; turning names into probes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import ProbeError
from ._lexicons import PLACEHOLDER, Lexicon, builtin_placeholders

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


@dataclass(frozen=True)
class Probe:
    """Templates whose placeholders are all filled from one lexicon.

    ``target_label`` and ``expected_label`` are model labels (matched case-insensitively);
    None means the run's default target and no expectation.
    """

    name: str
    templates: tuple[str, ...]
    lexicon: Lexicon
    target_label: str | None = None
    expected_label: str | None = None

    def __post_init__(self) -> None:
        if not self.name.strip():
            raise ProbeError("a probe needs a non-empty name")
        if not self.templates:
            raise ProbeError(f"probe {self.name} has no templates; give at least one")
        for template in self.templates:
            used = PLACEHOLDER.findall(template)
            if not used:
                raise ProbeError(
                    f"probe {self.name}: template {template!r} has no placeholder such as "
                    "{COUNTRY}, so every fill would be the same sentence"
                )
            unknown = sorted(set(used) - set(self.lexicon.placeholders))
            if unknown:
                raise ProbeError(
                    f"probe {self.name}: template {template!r} uses {{{unknown[0]}}}, which "
                    f"lexicon {self.lexicon.name} does not fill (it fills "
                    f"{', '.join('{' + p + '}' for p in self.lexicon.placeholders)})"
                )

    def fill(self, template: str, term: str) -> str:
        """``template`` with every placeholder replaced by ``term``'s form for it.

        A sentence that starts with a placeholder gets an upper-case first letter.
        """
        text = PLACEHOLDER.sub(lambda m: self.lexicon.form(term, m.group(1)), template)
        return text[:1].upper() + text[1:] if template.startswith("{") else text


def template_probe(
    name: str,
    templates: Sequence[str],
    *,
    lexicons: Mapping[str, Lexicon] | None = None,
    target_label: str | None = None,
    expected_label: str | None = None,
) -> Probe:
    """A probe from templates; placeholders fill from ``lexicons`` (by placeholder) or built-ins."""
    chosen: dict[str, Lexicon] = {}
    for template in templates:
        for placeholder in PLACEHOLDER.findall(template):
            chosen[placeholder] = _lexicon_for(placeholder, lexicons or {}, probe=name)
    if not chosen:
        raise ProbeError(
            f"probe {name}: no template has a placeholder; write one such as "
            "'This film was filmed in {COUNTRY}.'"
        )
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
            f"unknown probe {name!r}; built-in probes are {', '.join(BUILTIN_SUITES)}, or pass "
            f"a probe file ({'/'.join(PROBE_FILE_SUFFIXES)})"
        )
    return template_probe(name, BUILTIN_SUITES[name], lexicons=lexicons)


def resolve_probes(
    specs: Sequence[str | Path | Probe], *, lexicons: Mapping[str, Lexicon] | None = None
) -> list[Probe]:
    """Probes from built-in names, probe files and Probe objects; names must be unique."""
    from ._files import load_probe_file

    probes: list[Probe] = []
    for spec in specs:
        if isinstance(spec, Probe):
            probes.append(spec)
        elif str(spec).endswith(PROBE_FILE_SUFFIXES):
            probes.extend(load_probe_file(spec, lexicons=lexicons))
        else:
            probes.append(builtin_probe(str(spec), lexicons=lexicons))
    seen: set[str] = set()
    for probe in probes:
        if probe.name in seen:
            raise ProbeError(f"two probes are named {probe.name!r}; give each a distinct name")
        seen.add(probe.name)
    if not probes:
        raise ProbeError(f"no probes to run; name some of {', '.join(BUILTIN_SUITES)}")
    return probes
