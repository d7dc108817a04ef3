"""``compare_runs``: runs side by side on the same data, for a reviewer of a new checkpoint.

Three or more runs make a leaderboard (``compare.many``); two runs are compared metric by
metric here. Run A is the baseline and run B the candidate: every delta is ``B - A``. Runs
that measure different things (task, inputs or label set) are refused by the gate's own check
(``gate.compatible``); runs on different data (the dataset fingerprints differ) are compared
by value only, with a warning. When both runs kept their per-example predictions of
the same data, each confusion-matrix metric and per-class score gets the 95% CI of its delta
from the gate's paired bootstrap (``gate.paired``) and a two-sided p-value: McNemar's exact
test for accuracy (and the micro averages, which equal it), the percentile bootstrap test for
the rest, each twice the smaller of the gate's two one-sided p-values. Other metrics
(``roc_auc``, ``log_loss``, ``ece``) compare values only. Slices both runs evaluated get their
deltas, and the same paired tests within a slice where the predictions name each example's.

The report opens with what differs between the runs' settings and provenance
(``results.settings``). The examples on which the two models predict different labels are
listed, most confident first: by the higher of the two models' probabilities for their own
prediction."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, overload

import numpy as np
from numpy.typing import NDArray

from cardgen.compare.deltas import MetricDelta, RunLike, load_side, tested
from cardgen.compare.examples import Disagreement, disagreements
from cardgen.compare.many import Leaderboard, compare_many
from cardgen.compare.slices import SliceDelta, slice_deltas, test_slices
from cardgen.errors import UsageError
from cardgen.gate.compatible import COMPARE, check_comparable
from cardgen.gate.paired import (
    Pairing,
    defined_resamples,
    pair,
    paired_bootstrap_deltas,
    row_correct,
    swap_warnings,
)
from cardgen.gate.rules import PER_CLASS_STATS, check_options, paired_test
from cardgen.gate.runs import Run
from cardgen.gate.values import checked_metric
from cardgen.results.settings import SettingDifference, setting_differences
from cardgen.trust.untrusted import quote

Predictions = list[dict[str, Any]]


@dataclass
class ClassDelta:
    """Precision, recall and F1 of one label in both runs (names ``f1[LABEL]`` and so on)."""

    label: str
    support: int
    scores: list[MetricDelta]


@dataclass
class Comparison:
    """Everything ``compare_runs`` found; ``paired`` says whether per-example tests ran.

    ``disagreements`` holds the first ``max_examples`` of ``n_disagreements`` examples the
    models disagree on; ``a_only_correct`` / ``b_only_correct`` count the examples only one
    run gets right (McNemar's discordant pairs). ``different_data`` is set when the dataset
    fingerprints differ, which ``warnings`` then explains.
    """

    a: str
    b: str
    a_model: str
    b_model: str
    dataset: str
    labels: list[str]
    num_rows: int
    comparison: str
    paired: bool
    metrics: list[MetricDelta]
    per_class: list[ClassDelta]
    slices: list[SliceDelta] = field(default_factory=list)
    disagreements: list[Disagreement] = field(default_factory=list)
    n_disagreements: int | None = None
    a_only_correct: int | None = None
    b_only_correct: int | None = None
    warnings: list[str] = field(default_factory=list)
    different_data: bool = False
    n_bootstrap: int = 2000
    seed: int = 0
    differences: list[SettingDifference] = field(default_factory=list)


@overload
def compare_runs(
    a: RunLike,
    b: RunLike,
    *,
    predictions: Sequence[Predictions | None] | None = None,
    a_predictions: Predictions | None = None,
    b_predictions: Predictions | None = None,
    by: None = None,
    alpha: None = None,
    max_examples: int = 20,
    n_bootstrap: int = 2000,
    seed: int = 0,
) -> Comparison: ...


@overload
def compare_runs(
    a: RunLike,
    b: RunLike,
    c: RunLike,
    /,
    *more: RunLike,
    predictions: Sequence[Predictions | None] | None = None,
    by: str | None = None,
    alpha: float | None = None,
    max_examples: int = 20,
    n_bootstrap: int = 2000,
    seed: int = 0,
) -> Leaderboard: ...


def compare_runs(
    a: RunLike,
    b: RunLike,
    *more: RunLike,
    predictions: Sequence[Predictions | None] | None = None,
    a_predictions: Predictions | None = None,
    b_predictions: Predictions | None = None,
    by: str | None = None,
    alpha: float | None = None,
    max_examples: int = 20,
    n_bootstrap: int = 2000,
    seed: int = 0,
) -> Comparison | Leaderboard:
    """Compare run ``b`` (the candidate) with run ``a`` (the baseline) on the same data, or
    rank three or more runs by ``by`` with Holm-corrected paired tests at level ``alpha``
    (a ``Leaderboard``, see ``compare.many``).

    Runs are run directories, results.json files or EvalResults (then pass their prediction
    rows, ``predictions`` one entry per run, to get paired tests and examples). LabelError for
    different label sets, UsageError for different tasks or inputs (``gate.compatible``) and
    for bad options, ResultsError for a missing run or corrupt predictions.
    """
    if isinstance(max_examples, bool) or not isinstance(max_examples, int) or max_examples < 0:
        raise UsageError(f"--examples must be a non-negative integer, got {quote(max_examples)}")
    if predictions is not None and (a_predictions is not None or b_predictions is not None):
        raise UsageError("pass predictions or a_predictions and b_predictions, not both")
    if more:
        if a_predictions is not None or b_predictions is not None:
            raise UsageError("for three or more runs, pass predictions=[...], one per run")
        return compare_many(
            [a, b, *more],
            predictions=predictions,
            by=by,
            alpha=0.05 if alpha is None else alpha,
            max_examples=max_examples,
            n_bootstrap=n_bootstrap,
            seed=seed,
        )
    if by is not None or alpha is not None:
        raise UsageError(
            "--by and --alpha rank three or more runs; two runs are compared metric by metric"
        )
    if predictions is not None:
        if len(predictions) != 2:
            raise UsageError(f"pass one predictions entry per run: 2 runs, {len(predictions)}")
        a_predictions, b_predictions = predictions
    return _compare_two(a, b, a_predictions, b_predictions, max_examples, n_bootstrap, seed)


def _compare_two(
    a: RunLike,
    b: RunLike,
    a_predictions: Predictions | None,
    b_predictions: Predictions | None,
    max_examples: int,
    n_bootstrap: int,
    seed: int,
) -> Comparison:
    """The two-run comparison (see the module)."""
    check_options(0.05, n_bootstrap, seed)
    run_a, rows_a = load_side(a, a_predictions, "baseline", "A")
    run_b, rows_b = load_side(b, b_predictions, "current", "B")
    results_a, results_b = run_a.results, run_b.results
    assert results_a is not None and results_b is not None
    note = check_comparable(run_b, run_a, allow_different_data=True, roles=COMPARE)
    pairing: Pairing | None = None
    if note is not None:
        comparison = "unpaired: different data, values compared without a test"
        warnings = [f"{note}: the deltas compare values of different datasets, without a test"]
    else:
        pairing, comparison, warnings = pair(run_b, run_a)
        warnings += swap_warnings(pairing) if pairing is not None else []
    names = [name for name in results_a.metrics if name in results_b.metrics]
    for side, results, other in (("A", results_a, results_b), ("B", results_b, results_a)):
        warnings += [
            f"{quote(name)} is only in run {side}: not compared"
            for name in results.metrics
            if name not in other.metrics
        ]
    per_class_names = [f"{s}[{label}]" for label in results_a.labels for s in PER_CLASS_STATS]
    to_test = [name for name in [*names, *per_class_names] if paired_test(name, results_b.task)]
    deltas = (
        paired_bootstrap_deltas(pairing, to_test, n_resamples=n_bootstrap, seed=seed)
        if pairing is not None
        else {}
    )
    result = Comparison(
        a=run_a.source,
        b=run_b.source,
        a_model=results_a.model.id,
        b_model=results_b.model.id,
        dataset=str(results_b.dataset.name or results_b.dataset.source),
        labels=list(results_a.labels),
        num_rows=results_b.dataset.num_rows,
        comparison=comparison,
        paired=pairing is not None,
        metrics=[_delta(name, run_a, run_b, pairing, deltas) for name in names],
        per_class=_per_class(run_a, run_b, pairing, deltas),
        warnings=warnings,
        different_data=note is not None,
        n_bootstrap=n_bootstrap,
        seed=seed,
        differences=setting_differences([results_a, results_b]),
    )
    result.warnings += [
        left_out for name, reps in deltas.items() if (left_out := defined_resamples(name, reps)[1])
    ]
    if note is None:
        result.slices, slice_warnings = slice_deltas(results_a, results_b)
        result.warnings += slice_warnings
    if pairing is not None and rows_a is not None and rows_b is not None:
        a_ok, b_ok = (row_correct(pairing.gold, run) for run in (pairing.baseline, pairing.current))
        result.a_only_correct = int((a_ok & ~b_ok).sum())
        result.b_only_correct = int((~a_ok & b_ok).sum())
        if not pairing.label_sets:  # the disagreements and slices of single labels
            result.n_disagreements, result.disagreements = disagreements(
                rows_a, rows_b, pairing, run_a, run_b, max_examples
            )
            assert run_b.predictions is not None
            index = run_b.predictions.index
            test_slices(result.slices, rows_a, pairing, index, n_bootstrap, seed)
    return result


def _delta(
    name: str,
    run_a: Run,
    run_b: Run,
    pairing: Pairing | None,
    deltas: dict[str, NDArray[np.float64]],
) -> MetricDelta:
    a, b = run_a.require(name).value, run_b.require(name).value
    return tested(MetricDelta(name, a, b, b - a), pairing, deltas)


def _per_class(
    run_a: Run, run_b: Run, pairing: Pairing | None, deltas: dict[str, NDArray[np.float64]]
) -> list[ClassDelta]:
    assert run_a.results is not None and run_b.results is not None
    rows_b = {row.label: row for row in run_b.results.per_class}
    out = []
    for row in run_a.results.per_class:
        other = rows_b.get(row.label)
        if other is None:
            continue
        scores = []
        for stat in PER_CLASS_STATS:
            name = f"{stat}[{row.label}]"
            a = checked_metric(name, getattr(row, stat), run_a.source).value
            b = checked_metric(name, getattr(other, stat), run_b.source).value
            scores.append(tested(MetricDelta(name, a, b, b - a), pairing, deltas))
        out.append(ClassDelta(row.label, row.support, scores))
    return out
