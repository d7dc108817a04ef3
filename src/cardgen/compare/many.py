"""``compare_runs`` of three or more runs on the same data: a leaderboard, for choosing among
checkpoints or settings.

The runs are ranked by one metric (``by``: accuracy for single-label runs, micro-F1 for
multi-label ones, unless asked otherwise), each with its own 95% CI from its results. Every
pair of runs gets the two-run compare's paired test of that metric (McNemar's exact test for
accuracy or subset accuracy, the paired bootstrap for the others, both two-sided, from
``gate.paired``), and the pairs' p-values are corrected together by Holm–Bonferroni: a
difference is significant when its corrected p-value is under ``alpha``. Then the best run of
every slice all runs evaluated alike, and the examples every run gets wrong.

All runs must measure the same thing (``gate.compatible``, against the first run) on the same
data (equal dataset fingerprints); a ranking of different data is refused.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from cardgen.compare.deltas import MetricDelta, RunLike, load_side, tested
from cardgen.compare.examples import SharedMistake, shared_mistakes
from cardgen.compare.slices import SliceLeader, slice_leaders
from cardgen.errors import UsageError
from cardgen.gate.compatible import Roles, check_comparable
from cardgen.gate.paired import Pairing, pair, paired_bootstrap_deltas
from cardgen.gate.rules import check_options, check_resamples, higher_is_better, paired_test
from cardgen.gate.runs import Run
from cardgen.gate.values import metric_value
from cardgen.results.settings import SettingDifference, setting_differences
from cardgen.trust.untrusted import quote

HEADLINE = {"single_label": "accuracy", "multi_label": "micro_f1"}
"""The metric a leaderboard ranks by unless told otherwise, per task."""


@dataclass
class Standing:
    """One run on the leaderboard: ``run`` is its number (1 = the first run given); runs with
    equal values share a rank."""

    rank: int
    run: int
    value: float
    ci: tuple[float, float] | None


@dataclass
class PairedDifference:
    """The ranking metric of two runs: ``delta`` is ``better - worse`` (``a`` the worse-ranked
    run's value, ``b`` the better-ranked one's) with its paired CI and raw two-sided p-value;
    ``p_holm`` is that p-value after the Holm–Bonferroni correction over all tested pairs."""

    better: int
    worse: int
    delta: MetricDelta
    p_holm: float | None = None
    significant: bool = False


@dataclass
class Leaderboard:
    """Everything ``compare_runs`` found for three or more runs (numbered from 1 in the order
    given): ``standings`` best first, ``pairs`` in ranking order, ``slices`` the best runs per
    slice, ``mistakes`` the first ``max_examples`` of ``n_mistakes`` examples every run gets
    wrong (None without paired predictions) and ``differences`` the settings the runs differ
    in (values in run order)."""

    runs: list[str]
    models: list[str]
    dataset: str
    labels: list[str]
    num_rows: int
    task: str
    by: str
    higher_is_better: bool
    comparison: str
    paired: bool
    standings: list[Standing]
    pairs: list[PairedDifference]
    slices: list[SliceLeader] = field(default_factory=list)
    slice_metric: str | None = None
    mistakes: list[SharedMistake] = field(default_factory=list)
    n_mistakes: int | None = None
    differences: list[SettingDifference] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    alpha: float = 0.05
    n_bootstrap: int = 2000
    seed: int = 0


def compare_many(
    runs: Sequence[RunLike],
    *,
    predictions: Sequence[list[dict[str, Any]] | None] | None = None,
    by: str | None = None,
    alpha: float = 0.05,
    max_examples: int = 20,
    n_bootstrap: int = 2000,
    seed: int = 0,
) -> Leaderboard:
    """Rank three or more runs of the same data by ``by`` (see the module); ``predictions``
    gives the rows of runs passed as EvalResults, one entry per run. UsageError for runs of
    different data or an unknown metric, and as ``compare_runs`` otherwise."""
    alpha = check_options(alpha, n_bootstrap, seed)
    rows_given = list(predictions) if predictions is not None else [None] * len(runs)
    if len(rows_given) != len(runs):
        raise UsageError(f"pass one predictions entry per run: {len(runs)} runs, {len(rows_given)}")
    loaded = [
        load_side(run, rows, f"#{i}", f"#{i}")
        for i, (run, rows) in enumerate(zip(runs, rows_given, strict=True), 1)
    ]
    sides = [run for run, _ in loaded]
    _check_same(sides)
    first = sides[0].results
    assert first is not None
    by = HEADLINE[first.task] if by is None else by
    values = [metric_value(run.results, by, source=run.source) for run in sides if run.results]
    higher = higher_is_better(by)
    standings = _standings([(m.value, m.ci_low, m.ci_high) for m in values], higher)
    pairs, pairings, comparison, warnings = _pairs(sides, standings, by, n_bootstrap, seed)
    tests = sum(p.delta.test == "paired bootstrap" for p in pairs)
    if tests:
        check_resamples(n_bootstrap, alpha, tests=tests)
    _holm_correct(pairs, alpha)
    result = Leaderboard(
        runs=[run.source for run in sides],
        models=[run.results.model.id for run in sides if run.results],
        dataset=str(first.dataset.name or first.dataset.source),
        labels=list(first.labels),
        num_rows=first.dataset.num_rows,
        task=first.task,
        by=by,
        higher_is_better=higher,
        comparison=comparison,
        paired=bool(pairings) and all(p is not None for p in pairings),
        standings=standings,
        pairs=pairs,
        differences=setting_differences([run.results for run in sides if run.results]),
        warnings=warnings,
        alpha=alpha,
        n_bootstrap=n_bootstrap,
        seed=seed,
    )
    every = [run.results for run in sides if run.results]
    result.slices, result.slice_metric, slice_warnings = slice_leaders(every, by)
    result.warnings += slice_warnings
    all_rows = [rows for _, rows in loaded]
    if result.paired and all(rows is not None for rows in all_rows):
        result.n_mistakes, result.mistakes = shared_mistakes(
            [rows for rows in all_rows if rows is not None], sides, max_examples
        )
    return result


def _check_same(sides: list[Run]) -> None:
    """Refuse runs that measure different things than the first run, or on other data."""
    for i, run in enumerate(sides[1:], 2):
        roles = Roles(
            current=f"#{i}",
            baseline="#1",
            opening=f"run #{i} ({{current}}) and run #1 ({{baseline}})",
            fix="compare runs evaluated on the same task, inputs and labels",
        )
        note = check_comparable(run, sides[0], allow_different_data=True, roles=roles)
        if note is not None:
            raise UsageError(
                f"{note}; a ranking needs every run on the same data: evaluate them all on one "
                "dataset (two runs of different data can be compared by value: `cardgen compare "
                "A B`)"
            )


def _standings(
    values: list[tuple[float, float | None, float | None]], higher: bool
) -> list[Standing]:
    """The runs best first (equal values keep the order given and share a rank)."""
    order = sorted(range(len(values)), key=lambda i: (-values[i][0] if higher else values[i][0], i))
    out: list[Standing] = []
    for position, i in enumerate(order, 1):
        value, low, high = values[i]
        tied = out and out[-1].value == value
        rank = out[-1].rank if tied else position
        ci = (low, high) if low is not None and high is not None else None
        out.append(Standing(rank, i + 1, value, ci))
    return out


def _pairs(
    sides: list[Run], standings: list[Standing], by: str, n_bootstrap: int, seed: int
) -> tuple[list[PairedDifference], list[Pairing | None], str, list[str]]:
    """Every pair of runs, better-ranked first, with the paired test of ``by`` where the runs'
    predictions pair; the pairings, how the runs were compared, and why not paired."""
    task = sides[0].results.task if sides[0].results else "single_label"
    reason = None
    if paired_test(by, task) is None:
        reason = f"unpaired: {quote(by)} has no paired test, values compared as they are"
    out, pairings, warnings = [], [], []
    for k, high in enumerate(standings):
        for low in standings[k + 1 :]:
            better, worse = sides[high.run - 1], sides[low.run - 1]
            delta = MetricDelta(by, low.value, high.value, high.value - low.value)
            pairing = None
            if reason is None:
                pairing, _, why = pair(better, worse)
                warnings += [w for w in why if w not in warnings]
                if pairing is not None:
                    deltas = paired_bootstrap_deltas(
                        pairing, [by], n_resamples=n_bootstrap, seed=seed
                    )
                    delta = tested(delta, pairing, deltas)
            pairings.append(pairing)
            out.append(PairedDifference(high.run, low.run, delta))
    if reason is not None:
        return out, pairings, reason, warnings
    if all(p is not None for p in pairings):
        rows = len(pairings[0].gold) if pairings and pairings[0] is not None else 0
        return out, pairings, f"paired on {rows:,} examples of the same dataset", warnings
    return out, pairings, "partly unpaired: some pairs compare values without a test", warnings


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm–Bonferroni adjusted p-values, in the order given: the i-th smallest of m p-values
    becomes ``max_{j <= i} min(1, (m - j + 1) p_(j))``; rejecting where the adjusted p-value is
    under alpha controls the family-wise error rate at alpha."""
    m = len(p_values)
    adjusted = [0.0] * m
    running = 0.0
    for step, i in enumerate(sorted(range(m), key=lambda i: p_values[i])):
        running = max(running, min(1.0, (m - step) * p_values[i]))
        adjusted[i] = running
    return adjusted


def _holm_correct(pairs: list[PairedDifference], alpha: float) -> None:
    """Set each tested pair's Holm-adjusted p-value and whether it is significant."""
    tested_pairs = [p for p in pairs if p.delta.p_value is not None]
    adjusted = holm([p.delta.p_value for p in tested_pairs if p.delta.p_value is not None])
    for found, p_holm in zip(tested_pairs, adjusted, strict=True):
        found.p_holm = p_holm
        found.significant = p_holm < alpha
