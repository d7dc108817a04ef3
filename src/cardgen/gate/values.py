"""The value of a rule's metric in a results file, checked before any verdict rests on it."""

from __future__ import annotations

import difflib
import math

from cardgen.errors import ResultsError, UsageError
from cardgen.gate.rules import (
    EPS,
    PER_CLASS,
    PER_CLASS_STATS,
    PROBE_STATS,
    ROBUSTNESS_STATS,
    SLICE_STATS,
    metric_range,
)
from cardgen.results.schema import ClassMetrics, EvalResults, Metric
from cardgen.trust.untrusted import quote


def metric_value(results: EvalResults, name: str, *, source: str = "the results") -> Metric:
    """The value of a rule's metric in ``results``.

    UsageError naming the known metrics when there is none; ResultsError when the stored
    value is not a finite number in the metric's range (a corrupt or hand-edited file).
    """
    if name in results.metrics:
        return checked_metric(name, results.metrics[name], source)
    if match := PER_CLASS.match(name):
        stat, label = match.groups()
        for row in results.per_class:
            if row.label == label:
                return checked_metric(name, _per_class(results, stat, row), source)
        classes = ", ".join(str(row.label) for row in results.per_class)
        raise UsageError(
            f"no class {quote(label)} in {source} for {quote(name)}; classes are: {clip(classes)}"
        )
    if name.startswith("probe."):
        probe_name, _, stat = name.removeprefix("probe.").rpartition(".")
        probe = results.probes.get(probe_name)
        if probe is not None and stat in PROBE_STATS:
            value = getattr(probe, stat)
            if value is None:
                raise UsageError(f"probe {quote(probe_name)} in {source} has no {stat} to gate on")
            return checked_metric(name, value, source)
    if name.startswith("robustness."):
        perturbation, _, stat = name.removeprefix("robustness.").rpartition(".")
        result = results.robustness.get(perturbation)
        if result is not None and stat in ROBUSTNESS_STATS:
            value = getattr(result, stat)
            if value is None:
                raise UsageError(
                    f"perturbation {quote(perturbation)} in {source} changed no row, so it has "
                    f"no {stat} to gate on"
                )
            return checked_metric(name, value, source)
    if name.startswith(("slice.", "slice_gap.")) and results.slices:
        return checked_metric(name, _slice_metric(results, name, source), source)
    raise UsageError(
        f"unknown metric {quote(name)} in {source}{_did_you_mean(results, name)}; {_known(results)}"
    )


def _per_class(results: EvalResults, stat: str, row: ClassMetrics) -> float | Metric:
    """A per-class score, with the 95% CI of F1 that multi-label runs keep for each label."""
    details = results.multilabel.labels if results.multilabel is not None else []
    ci = next((d.f1_ci for d in details if d.label == row.label), None) if stat == "f1" else None
    return Metric(getattr(row, stat), *ci) if ci is not None else getattr(row, stat)


def _slice_metric(results: EvalResults, name: str, source: str) -> Metric:
    """``slice.COLUMN[VALUE].STAT`` or ``slice_gap.COLUMN.STAT`` (columns and values may hold
    dots and brackets, so they are matched against the results, longest first)."""
    kind, _, rest = name.partition(".")
    for column in sorted(results.slices, key=len, reverse=True):
        result = results.slices[column]
        if kind == "slice_gap" and rest.startswith(f"{column}."):
            gap = result.gaps.get(rest[len(column) + 1 :])
            if gap is None:
                raise UsageError(
                    f"slice column {quote(column)} in {source} has no gap for {quote(name)}: "
                    f"a gap needs two slices of at least {result.min_size} rows"
                )
            return gap.gap
        if kind == "slice" and rest.startswith(f"{column}["):
            for value in sorted(result.values, key=lambda v: len(v.value), reverse=True):
                prefix = f"{column}[{value.value}]."
                if not rest.startswith(prefix):
                    continue
                stat = rest[len(prefix) :]
                if stat in SLICE_STATS:
                    return getattr(value, stat)
                match = PER_CLASS.match(stat)
                if match and match.group(1) == "recall" and match.group(2) in value.recall:
                    return value.recall[match.group(2)]
    raise UsageError(
        f"unknown metric {quote(name)} in {source}{_did_you_mean(results, name)}; {_known(results)}"
    )


def checked_metric(name: str, stored: object, source: str) -> Metric:
    """``stored`` (a Metric or a bare number) as a Metric of finite floats within the
    metric's range; ResultsError otherwise."""
    metric = stored if isinstance(stored, Metric) else Metric(stored)  # type: ignore[arg-type]
    value = metric.value
    if not _finite(value):
        raise ResultsError(
            f"{quote(name)} in {source} is {quote(value)}, not a finite number; the results "
            "file is corrupt: re-run `cardgen evaluate`"
        )
    low, high = metric_range(name) or (-math.inf, math.inf)
    if not low - EPS <= value <= high + EPS:
        raise ResultsError(
            f"{quote(name)} in {source} is {value:g}, outside its range [{low:g}, {high:g}]; "
            "the results file is corrupt: re-run `cardgen evaluate`"
        )
    ci = (metric.ci_low, metric.ci_high)
    if any(bound is not None and not _finite(bound) for bound in ci):
        raise ResultsError(
            f"the confidence interval of {quote(name)} in {source} is {quote(list(ci))}, not "
            "finite numbers; re-run `cardgen evaluate`"
        )
    low_ci, high_ci = (float(b) if b is not None else None for b in ci)
    # (its bounds may leave the metric's range: a slice gap's CI is of a signed difference)
    if low_ci is not None and high_ci is not None and low_ci > high_ci + EPS:
        raise ResultsError(
            f"the confidence interval of {quote(name)} in {source} is {quote(list(ci))}, low "
            "above high; the results file is corrupt: re-run `cardgen evaluate`"
        )
    return Metric(float(value), low_ci, high_ci, metric.undefined_resamples)


def checked_results(results: EvalResults, source: str) -> EvalResults:
    """``results`` once every headline and per-class value passed ``checked_metric``: a corrupt
    or hand-edited file is a ResultsError before a card shows a number from it."""
    for name, metric in results.metrics.items():
        checked_metric(name, metric, source)
    for row in results.per_class:
        for stat in PER_CLASS_STATS:
            checked_metric(f"{stat}[{row.label}]", getattr(row, stat), source)
    return results


def _finite(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def metric_names(results: EvalResults) -> list[str]:
    """Every name a rule may use on ``results``."""
    names = list(results.metrics)
    names += [f"{stat}[{row.label}]" for row in results.per_class for stat in PER_CLASS_STATS]
    names += [f"probe.{probe}.{stat}" for probe in results.probes for stat in PROBE_STATS]
    names += [f"robustness.{p}.{stat}" for p in results.robustness for stat in ROBUSTNESS_STATS]
    for column, result in results.slices.items():
        for value in result.values:
            stats = [*SLICE_STATS, *(f"recall[{label}]" for label in value.recall)]
            names += [f"slice.{column}[{value.value}].{stat}" for stat in stats]
        names += [f"slice_gap.{column}.{stat}" for stat in result.gaps]
    return names


def _did_you_mean(results: EvalResults, name: str) -> str:
    close = difflib.get_close_matches(name, metric_names(results)[:10_000], n=1)
    return f" (did you mean {quote(close[0])}?)" if close else ""


def _known(results: EvalResults) -> str:
    parts = [f"known metrics: {', '.join(results.metrics)}"]
    labels = ", ".join(str(row.label) for row in results.per_class)
    parts.append(f"per class: precision|recall|f1[LABEL] with LABEL one of {labels}")
    if results.probes:
        probes = ", ".join(results.probes)
        parts.append(f"probes: probe.NAME.{'|'.join(PROBE_STATS)} with NAME one of {probes}")
    if results.robustness:
        names = ", ".join(results.robustness)
        stats = "|".join(ROBUSTNESS_STATS)
        parts.append(f"robustness: robustness.NAME.{stats} with NAME one of {names}")
    if results.slices:
        columns = ", ".join(results.slices)
        parts.append(
            "slices: slice.COLUMN[VALUE].accuracy|macro_f1|recall[LABEL] and "
            f"slice_gap.COLUMN.accuracy|macro_f1 with COLUMN one of {columns}"
        )
    return clip("; ".join(parts), 600)


def clip(text: str, limit: int = 300) -> str:
    """``text`` with control characters escaped, cut to ``limit`` characters."""
    text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
    return text if len(text) <= limit else f"{text[: limit - 1]}… ({len(text):,} characters)"
