"""User probe files (TOML or YAML): templates, lexicons, target and expected labels.

```toml
[probes.city]
templates = ["This film was filmed in {CITY}.", "The story is set in {CITY}."]
target_label = "positive"      # optional: default is the run's target label
expected_label = "positive"    # optional: a minimum functionality test
[probes.city.lexicons]
CITY = ["Paris", "Kabul"]      # or {Paris = "Europe", Kabul = "Asia"}, or "cities.txt"
```

For models of sentence pairs each template is a pair, ``["A man from {COUNTRY} cooks.", "A
person cooks."]`` (premise, hypothesis); a placeholder may sit in either text.

The YAML form has the same structure. Lexicon files are relative to the probe file and must
stay inside its folder; a placeholder without a ``lexicons`` entry fills from the built-in
lexicons. The file is untrusted: it is read with size, depth and alias bounds, and every value
is checked for its type before use.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from cardgen.errors import ProbeError
from cardgen.probes._lexicons import PLACEHOLDER, Lexicon, inline_lexicon, load_lexicon
from cardgen.probes._probe import (
    BUILTIN_SUITES,
    MAX_FILLS,
    PROBE_FILE_SUFFIXES,
    Probe,
    builtin_probe,
    template_probe,
)
from cardgen.trust.untrusted import LimitError, inside, parse_toml, parse_yaml, quote, read_text

PROBE_KEYS = ("templates", "lexicons", "target_label", "expected_label")
MAX_PROBES = 1_000


def load_probe_file(
    path: str | Path, *, lexicons: Mapping[str, Lexicon] | None = None
) -> list[Probe]:
    """The probes a TOML or YAML file defines; ``lexicons`` fills placeholders it leaves open."""
    target = Path(path)
    data = _parse(target)
    if (
        not isinstance(data, dict)
        or set(data) != {"probes"}
        or not isinstance(data["probes"], dict)
    ):
        raise ProbeError(
            f"probe file {target} must hold one table 'probes' with one entry per probe "
            "(e.g. [probes.city] in TOML, or 'probes: {city: ...}' in YAML)"
        )
    if not data["probes"]:
        raise ProbeError(f"probe file {target} defines no probes")
    if len(data["probes"]) > MAX_PROBES:
        raise ProbeError(
            f"probe file {target} defines {len(data['probes']):,} probes, over cardgen's limit "
            f"of {MAX_PROBES:,}"
        )
    return [
        _probe(_name(name, target), spec, target, lexicons or {})
        for name, spec in data["probes"].items()
    ]


def _parse(path: Path) -> Any:
    suffix = path.suffix.lower()
    if suffix not in PROBE_FILE_SUFFIXES:
        raise ProbeError(
            f"probe file {path} must end in {', '.join(PROBE_FILE_SUFFIXES)} (TOML or YAML)"
        )
    text = read_text(path, error=ProbeError, what="probe file")
    source = f"probe file {path}"
    if suffix == ".toml":
        return parse_toml(text, source=source, error=ProbeError)
    return parse_yaml(text, source=source, error=ProbeError)


def _name(name: Any, path: Path) -> str:
    if isinstance(name, bool) or not isinstance(name, (str, int)):
        raise ProbeError(f"probe file {path}: probe names must be text, got {quote(name)}")
    return str(name)


def _probe(name: str, spec: Any, path: Path, defaults: Mapping[str, Lexicon]) -> Probe:
    where = f"probe {quote(name)} in {path}"
    if not isinstance(spec, dict):
        raise ProbeError(f"{where} must be a table of {', '.join(PROBE_KEYS)}, got {quote(spec)}")
    unknown = sorted((str(key) for key in spec if key not in PROBE_KEYS), key=len)
    if unknown:
        raise ProbeError(
            f"{where} has unknown key {quote(unknown[0])}; allowed keys are {', '.join(PROBE_KEYS)}"
        )
    templates = spec.get("templates")
    if isinstance(templates, str):
        templates = [templates]
    if not isinstance(templates, list) or not templates:
        raise ProbeError(
            f"{where} needs 'templates', a non-empty list of sentences, got {quote(templates)}"
        )
    templates, pairs = _split_pairs(templates, where)
    given = spec.get("lexicons")
    if given is None:
        given = {}
    if not isinstance(given, dict):
        raise ProbeError(
            f"{where}: 'lexicons' must map each placeholder to its terms or a file, "
            f"got {quote(given)}"
        )
    used = {p for template in (*templates, *(pairs or ())) for p in PLACEHOLDER.findall(template)}
    own: dict[str, Lexicon] = {}
    for placeholder, value in given.items():
        if not isinstance(placeholder, str):
            raise ProbeError(
                f"{where}: lexicon names must be placeholders, got {quote(placeholder)}"
            )
        lexicon = _lexicon(placeholder, value, path, where)
        if not used & set(lexicon.placeholders):
            raise ProbeError(
                f"{where}: lexicon {placeholder} is not used by any template; write "
                f"{{{placeholder}}} in a template or remove the lexicon"
            )
        own.update(dict.fromkeys(lexicon.placeholders, lexicon))
    labels = {key: spec.get(key) for key in ("target_label", "expected_label")}
    for key, value in labels.items():
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise ProbeError(f"{where}: {key} must be a label name, got {quote(value)}")
    return template_probe(name, templates, lexicons={**defaults, **own}, pairs=pairs, **labels)


def _split_pairs(templates: list[Any], where: str) -> tuple[list[str], list[str] | None]:
    """Templates as sentences, or as ``[text, pair]`` sentence pairs (then every one is)."""
    if all(isinstance(t, str) for t in templates):
        return templates, None
    if all(isinstance(t, list) and len(t) == 2 for t in templates):
        bad = next((x for t in templates for x in t if not isinstance(x, str)), None)
        if bad is None:
            return [t[0] for t in templates], [t[1] for t in templates]
        raise ProbeError(f"{where}: every text of a template pair must be text, got {quote(bad)}")
    bad = next(t for t in templates if not isinstance(t, str))
    raise ProbeError(
        f"{where}: every template must be a sentence (text), or every one a pair "
        f'["premise", "hypothesis"] for models of sentence pairs; got {quote(bad)}'
    )


def _lexicon(placeholder: str, value: Any, path: Path, where: str) -> Lexicon:
    name = f"{placeholder} of {where}"
    if isinstance(value, str):
        try:
            file = inside(path.parent, value, what=f"lexicon file of {name}")
        except LimitError as exc:
            raise ProbeError(f"{exc}; put the lexicon file next to the probe file") from None
        return load_lexicon(file, placeholder=placeholder)
    if isinstance(value, (list, dict)):
        return inline_lexicon(placeholder, value, name=name)
    raise ProbeError(
        f"lexicon {name} must be a list of terms, a term -> group table or a file, "
        f"got {quote(value)}"
    )


def resolve_probes(
    specs: Sequence[str | Path | Probe], *, lexicons: Mapping[str, Lexicon] | None = None
) -> list[Probe]:
    """Probes from built-in names, probe files and Probe objects; names must be unique."""
    probes: list[Probe] = []
    for spec in specs:
        if isinstance(spec, Probe):
            probes.append(spec)
        elif not isinstance(spec, (str, Path)):
            raise ProbeError(
                f"a probe must be a built-in name, a probe file or a Probe, got {quote(spec)}"
            )
        elif str(spec).lower().endswith(PROBE_FILE_SUFFIXES):
            probes.extend(load_probe_file(spec, lexicons=lexicons))
        else:
            probes.append(builtin_probe(str(spec), lexicons=lexicons))
    seen: set[str] = set()
    for probe in probes:
        if probe.name in seen:
            raise ProbeError(f"two probes are named {quote(probe.name)}; give each a distinct name")
        seen.add(probe.name)
    if not probes:
        raise ProbeError(f"no probes to run; name some of {', '.join(BUILTIN_SUITES)}")
    fills = sum(len(p.templates) * len(p.lexicon.terms) for p in probes)
    if fills > MAX_FILLS:
        raise ProbeError(
            f"the {len(probes)} probes make {fills:,} fills (templates x terms) in all, over "
            f"cardgen's limit of {MAX_FILLS:,} per run; run fewer probes at a time"
        )
    return probes
