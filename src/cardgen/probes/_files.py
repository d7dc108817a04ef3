"""User probe files (TOML or YAML): templates, lexicons, target and expected labels.

```toml
[probes.city]
templates = ["This film was filmed in {CITY}.", "The story is set in {CITY}."]
target_label = "positive"      # optional: default is the run's target label
expected_label = "positive"    # optional: a minimum functionality test
[probes.city.lexicons]
CITY = ["Paris", "Kabul"]      # or {Paris = "Europe", Kabul = "Asia"}, or "cities.txt"
```

The YAML form has the same structure. Lexicon files are relative to the probe file; a
placeholder without a ``lexicons`` entry fills from the built-in lexicons.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import ProbeError
from ._lexicons import PLACEHOLDER, Lexicon, inline_lexicon, load_lexicon
from ._probe import Probe, template_probe

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

PROBE_KEYS = ("templates", "lexicons", "target_label", "expected_label")


def load_probe_file(
    path: str | Path, *, lexicons: Mapping[str, Lexicon] | None = None
) -> list[Probe]:
    """The probes a TOML or YAML file defines; ``lexicons`` fills placeholders it leaves open."""
    target = Path(path)
    try:
        text = target.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ProbeError(f"cannot read probe file {target}: {exc}") from exc
    data = _parse(text, target)
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
    return [
        _probe(str(name), spec, target, lexicons or {}) for name, spec in data["probes"].items()
    ]


def _parse(text: str, path: Path) -> Any:
    if path.suffix == ".toml":
        try:
            return tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ProbeError(f"probe file {path} is not valid TOML: {exc}") from exc
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        detail = " ".join(str(exc).split())
        raise ProbeError(f"probe file {path} is not valid YAML: {detail}") from exc


def _probe(name: str, spec: Any, path: Path, defaults: Mapping[str, Lexicon]) -> Probe:
    where = f"probe {name!r} in {path}"
    if not isinstance(spec, dict):
        raise ProbeError(f"{where} must be a table of {', '.join(PROBE_KEYS)}")
    unknown = sorted(set(spec) - set(PROBE_KEYS))
    if unknown:
        raise ProbeError(
            f"{where} has unknown key {unknown[0]!r}; allowed keys are {', '.join(PROBE_KEYS)}"
        )
    templates = spec.get("templates")
    if isinstance(templates, str):
        templates = [templates]
    if not templates or not all(isinstance(t, str) for t in templates):
        raise ProbeError(f"{where} needs 'templates', a non-empty list of sentences")
    given = spec.get("lexicons") or {}
    if not isinstance(given, dict):
        raise ProbeError(f"{where}: 'lexicons' must map each placeholder to its terms or a file")
    used = {p for template in templates for p in PLACEHOLDER.findall(template)}
    own: dict[str, Lexicon] = {}
    for placeholder, value in given.items():
        lexicon = _lexicon(str(placeholder), value, path, where)
        if not used & set(lexicon.placeholders):
            raise ProbeError(
                f"{where}: lexicon {placeholder} is not used by any template; write "
                f"{{{placeholder}}} in a template or remove the lexicon"
            )
        own.update(dict.fromkeys(lexicon.placeholders, lexicon))
    labels = {key: spec.get(key) for key in ("target_label", "expected_label")}
    for key, value in labels.items():
        if value is not None and not isinstance(value, str):
            raise ProbeError(f"{where}: {key} must be a label name, got {value!r}")
    return template_probe(name, templates, lexicons={**defaults, **own}, **labels)


def _lexicon(placeholder: str, value: Any, path: Path, where: str) -> Lexicon:
    name = f"{placeholder} of {where}"
    if isinstance(value, str):
        file = Path(value) if Path(value).is_absolute() else path.parent / value
        return load_lexicon(file, placeholder=placeholder)
    if isinstance(value, (list, dict)):
        return inline_lexicon(placeholder, value, name=name)
    raise ProbeError(f"lexicon {name} must be a list of terms, a term -> group table or a file")
