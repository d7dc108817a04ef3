"""What differs between runs' settings and provenance, and which differences can explain a
change of their metrics: the opening of ``cardgen compare`` and ``cardgen gate`` reports.

Reads only the results files. A setting a run does not record (an older results file, a run
without timing) is unknown there; a setting is listed when the runs that record it disagree.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from cardgen.results.schema import EvalResults

_WEIGHTS = "other weights predict differently"
_DATA = "other rows or labels give other metrics"
_NUMERICS = "can shift scores slightly"
_LIBRARY = "another version may tokenize or compute differently"


@dataclass(frozen=True)
class SettingDifference:
    """One setting on which runs differ: its value in each run, in the runs' order (None where
    a run does not record it); ``effect`` says what the difference does to the results and
    ``explains`` whether it can explain a change of a metric."""

    setting: str
    values: tuple[str | None, ...]
    effect: str
    explains: bool


@dataclass(frozen=True)
class _Setting:
    name: str
    read: Callable[[EvalResults], object]
    effect: str
    explains: bool = True
    show: Callable[[EvalResults], str | None] | None = None

    def shown(self, results: EvalResults) -> str | None:
        """The setting in ``results`` as text for a report."""
        return self.show(results) if self.show is not None else str(self.read(results))


def _short(digest: str | None) -> str | None:
    """A hash for a table: its scheme and 12 hex digits."""
    if digest is None:
        return None
    scheme, _, rest = digest.rpartition(":")
    return f"{scheme}:{rest[:12]}" if scheme else rest[:12]


def _weights(results: EvalResults) -> str | None:
    return _short(results.model.weights_hash)


def _fingerprint(results: EvalResults) -> str | None:
    return _short(results.dataset.fingerprint)


def _max_length(results: EvalResults) -> int | None:
    if results.timing is not None and results.timing.max_length is not None:
        return results.timing.max_length
    return results.model.max_length


def _truncated(results: EvalResults) -> int | None:
    return results.timing.truncated if results.timing is not None else None


def _truncated_shown(results: EvalResults) -> str | None:
    count = _truncated(results)
    if count is None:
        return None
    return f"{count:,} of {results.dataset.num_rows:,}"


def _thresholds(results: EvalResults) -> tuple[tuple[str, float], ...] | None:
    if results.multilabel is None:
        return None
    return tuple((d.label, d.threshold) for d in results.multilabel.labels)


def _thresholds_shown(results: EvalResults) -> str | None:
    found = _thresholds(results)
    if found is None:
        return None
    assert results.multilabel is not None
    values = {threshold for _, threshold in found}
    each = (
        f"{next(iter(values)):g} for every label"
        if len(values) == 1
        else ", ".join(f"{label} {threshold:g}" for label, threshold in found)
    )
    return f"{results.multilabel.threshold_source}: {each}"


def _mapping(results: EvalResults) -> tuple[str, tuple[tuple[str, str], ...]]:
    mapping = results.label_mapping
    return mapping.strategy, tuple(sorted(mapping.model_to_dataset.items()))


def _mapping_shown(results: EvalResults) -> str:
    strategy, pairs = _mapping(results)
    renamed = [f"{model} -> {data}" for model, data in pairs if model != data]
    return f"by {strategy}" + (f": {', '.join(renamed)}" if renamed else "")


def _timing(field: str) -> Callable[[EvalResults], object]:
    return lambda results: getattr(results.timing, field) if results.timing else None


_NAME_ONLY = "a name only: the data fingerprint says whether the rows differ"

SETTINGS = (
    _Setting("model", lambda r: r.model.id, _WEIGHTS),
    _Setting("model revision", lambda r: r.model.revision, _WEIGHTS),
    _Setting("model weights", lambda r: r.model.weights_hash, _WEIGHTS, show=_weights),
    _Setting("data", lambda r: r.dataset.fingerprint, _DATA, show=_fingerprint),
    _Setting("data source", lambda r: r.dataset.source, _NAME_ONLY, explains=False),
    _Setting("split", lambda r: r.dataset.split, _NAME_ONLY, explains=False),
    _Setting("rows", lambda r: r.dataset.num_rows, _DATA, show=lambda r: f"{r.dataset.num_rows:,}"),
    _Setting("max length", _max_length, "a shorter limit cuts more text"),
    _Setting(
        "truncated rows",
        _truncated,
        "the model saw no text past the limit",
        show=_truncated_shown,
    ),
    _Setting("dtype", _timing("dtype"), "lower precision " + _NUMERICS),
    _Setting("batch size", _timing("batch_size"), "padding per batch " + _NUMERICS),
    _Setting("device", _timing("device"), "another device " + _NUMERICS),
    _Setting("hardware", _timing("hardware"), "another processor " + _NUMERICS),
    _Setting(
        "thresholds",
        _thresholds,
        "thresholds decide which labels are predicted",
        show=_thresholds_shown,
    ),
    _Setting(
        "label mapping",
        _mapping,
        "predictions are scored against other labels",
        show=_mapping_shown,
    ),
    _Setting(
        "cardgen", lambda r: r.cardgen_version, "another version may define metrics differently"
    ),
    _Setting("seed", lambda r: r.seed, "only the bootstrap's resamples (the CIs)", explains=False),
)


def setting_differences(runs: Sequence[EvalResults]) -> list[SettingDifference]:
    """The settings and provenance on which ``runs`` differ, in a fixed order (model, data,
    max length and truncation, numerics, thresholds, label mapping, cardgen, seed), then
    the versions of Python and the libraries."""
    out = []
    for setting in SETTINGS:
        known = [setting.read(r) for r in runs]
        if len({repr(v) for v in known if v is not None}) > 1:
            shown = tuple(
                setting.shown(r) if v is not None else None
                for r, v in zip(runs, known, strict=True)
            )
            out.append(SettingDifference(setting.name, shown, setting.effect, setting.explains))
    hashes = {r.model.weights_hash for r in runs}
    if None not in hashes and len(hashes) == 1:  # one set of weights under other names
        out = [
            replace(d, effect="a name only: the weights hash is the same", explains=False)
            if d.setting in ("model", "model revision")
            else d
            for d in out
        ]
    for name in sorted({name for r in runs for name in r.environment if name != "cardgen"}):
        values = tuple(r.environment.get(name) for r in runs)
        if len({v for v in values if v is not None}) > 1:
            python = name == "python"
            effect = "not the computation itself" if python else _LIBRARY
            out.append(SettingDifference(name, values, effect, not python))
    return out


def differences_line(differences: Sequence[SettingDifference]) -> str | None:
    """One sentence naming what differs and what of it can explain a metric change; None
    when nothing differs."""
    if not differences:
        return None
    named = ", ".join(d.setting for d in differences)
    causes = [d.setting for d in differences if d.explains]
    if not causes:
        which = "it cannot" if len(differences) == 1 else "none of them can"
        return f"The runs differ in {named}; {which} explain a metric change."
    return f"The runs differ in {named}; can explain a metric change: {', '.join(causes)}."
