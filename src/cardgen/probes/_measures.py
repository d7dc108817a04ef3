"""Probe measures: from a (templates, terms, labels) score array to a ``ProbeResult``."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from cardgen.probes._probe import Probe
from cardgen.results.schema import Metric, ProbeResult, ProbeTerm
from cardgen.tasks.decisions import Decider, single_label

EXTREMES = 5
DIGITS = 6


def summarize_probe(
    probe: Probe,
    scores: NDArray[np.float64],
    labels: list[str],
    target: str,
    *,
    expected: str | None = None,
    n_bootstrap: int = 1000,
    seed: int = 0,
    decider: Decider | None = None,
) -> ProbeResult:
    """Summarise one probe; ``scores[i, j]`` are the label scores of template i with term j.

    ``decider`` turns scores into predictions for the flip and failure rates (default: the top
    label; a multi-label one predicts label sets, and a fill fails an ``expected`` label when
    that label's score is under its threshold)."""
    decider = decider or single_label(labels)
    lexicon = probe.lexicon
    target_scores = scores[:, :, labels.index(target)]
    term_means = target_scores.mean(axis=0)
    mean_scores = scores.mean(axis=0)
    terms = [
        ProbeTerm(
            term=term,
            group=group,
            probabilities={
                label: _round(p) for label, p in zip(labels, mean_scores[j], strict=True)
            },
            target_std=_round(target_scores[:, j].std()),
            target_by_template=[_round(p) for p in target_scores[:, j]],
        )
        for j, (term, group) in enumerate(zip(lexicon.terms, lexicon.groups, strict=True))
    ]
    order = np.argsort(term_means, kind="stable")
    k = min(EXTREMES, max(1, len(order) // 2))
    codes = decider.decide(scores.reshape(-1, len(labels)))
    kinds, dense = np.unique(codes, return_inverse=True)
    predicted = dense.reshape(scores.shape[:2])
    flips = predicted != _template_modes(predicted, len(kinds))[:, None]
    group_means, gap, between = _group_gap(term_means, lexicon.groups)
    return ProbeResult(
        name=probe.name,
        target_label=target,
        templates=list(probe.templates),
        pair_templates=None if probe.pairs is None else list(probe.pairs),
        terms=terms,
        range=_range_with_ci(target_scores, n_bootstrap=n_bootstrap, seed=seed),
        std=_round(term_means.std()),
        flip_rate=_round(flips.mean()),
        templates_flipped=int(flips.any(axis=1).sum()),
        lowest=[(lexicon.terms[j], _round(term_means[j])) for j in order[:k]],
        highest=[(lexicon.terms[j], _round(term_means[j])) for j in order[::-1][:k]],
        group_means=group_means,
        group_gap=gap,
        group_gap_between=between,
        expected_label=expected,
        failure_rate=(
            None if expected is None else _round(_fails(scores, labels, expected, decider))
        ),
        term_kind=lexicon.kind,
        lexicon_source=lexicon.source,
    )


def _round(value: Any) -> float:
    return round(float(value), DIGITS)


def _template_modes(predicted: NDArray[np.int64], n_labels: int) -> NDArray[np.int64]:
    """The most common predicted label of each template (ties: the first label)."""
    counts = np.stack([np.bincount(row, minlength=n_labels) for row in predicted])
    return counts.argmax(axis=1)


def _range_with_ci(target_scores: NDArray[np.float64], *, n_bootstrap: int, seed: int) -> Metric:
    """Max - min of the per-term means; a 95% percentile bootstrap CI resampling templates."""
    n_templates = target_scores.shape[0]
    means = target_scores.mean(axis=0)
    value = _round(means.max() - means.min())
    if n_templates < 2 or n_bootstrap <= 0:
        return Metric(value)
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, n_templates, size=(n_bootstrap, n_templates))
    weights = np.zeros((n_bootstrap, n_templates))
    np.add.at(weights, (np.arange(n_bootstrap)[:, None], draws), 1.0)
    resampled = weights @ target_scores / n_templates
    ranges = resampled.max(axis=1) - resampled.min(axis=1)
    low, high = np.percentile(ranges, [2.5, 97.5])
    return Metric(value, _round(low), _round(high))


def _group_gap(
    term_means: NDArray[np.float64], groups: tuple[str | None, ...]
) -> tuple[dict[str, float], float | None, tuple[str, str] | None]:
    """Mean per group (in order of appearance), and the largest gap between two group means."""
    members: dict[str, list[float]] = {}
    for mean, group in zip(term_means, groups, strict=True):
        if group is not None:
            members.setdefault(group, []).append(float(mean))
    raw = {group: float(np.mean(values)) for group, values in members.items()}
    means = {group: _round(mean) for group, mean in raw.items()}
    if len(raw) < 2:
        return means, None, None
    low = min(raw, key=raw.__getitem__)
    high = max(raw, key=raw.__getitem__)
    return means, _round(raw[high] - raw[low]), (low, high)


def _fails(
    scores: NDArray[np.float64], labels: list[str], expected: str, decider: Decider
) -> float:
    """The share of fills not predicted as ``expected``: another top label, or for label
    sets ``expected``'s score under its threshold."""
    column = labels.index(expected)
    if decider.thresholds is None:
        return float((scores.argmax(axis=2) != column).mean())
    return float((scores[:, :, column] < decider.thresholds[column]).mean())
