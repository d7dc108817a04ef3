"""``compare_runs``: two runs side by side on the same data, for a reviewer of a new checkpoint.

Run A is the baseline and run B the candidate: every delta is ``B - A``. Runs that measure
different things (task, inputs or label set) are refused by the gate's own check
(``gate.compatible``); runs on different data (the dataset fingerprints differ) are compared
by value only, with a warning. When both runs kept their per-example predictions of
the same data, each confusion-matrix metric and per-class score gets the 95% CI of its delta
from the gate's paired bootstrap (``gate.paired``) and a two-sided p-value: McNemar's exact
test for accuracy (and the micro averages, which equal it), the percentile bootstrap test for
the rest, each twice the smaller of the gate's two one-sided p-values. Other metrics
(``roc_auc``, ``log_loss``, ``ece``) compare values only. Slices both runs evaluated get their
deltas, and the same paired tests within a slice where the predictions name each example's.

The examples on which the two models predict different labels are listed, most confident
first: by the higher of the two models' probabilities for their own prediction."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from cardgen.compare.examples import Disagreement, disagreements
from cardgen.errors import ResultsError, UsageError
from cardgen.gate.compatible import COMPARE, check_comparable
from cardgen.gate.paired import (
    Pairing,
    defined_resamples,
    mcnemar_p_value,
    pair,
    paired_bootstrap_deltas,
    row_correct,
    swap_warnings,
)
from cardgen.gate.rules import PER_CLASS_STATS, check_options, paired_test
from cardgen.gate.runs import Run, load_run
from cardgen.gate.values import checked_metric
from cardgen.results.predictions import has_predictions, load_predictions
from cardgen.results.schema import RESULTS_FILE, EvalResults
from cardgen.trust.untrusted import quote

RunLike = EvalResults | str | os.PathLike[str]


@dataclass
class MetricDelta:
    """One metric in both runs: ``delta = b - a``; ``ci`` is the 95% CI of the delta and
    ``p_value`` the two-sided p-value of ``test``, both None without a paired test. Both rest
    on the resamples where the metric is defined in both runs; ``undefined_resamples`` counts
    the others (a class without gold rows in a resample has no recall there)."""

    name: str
    a: float
    b: float
    delta: float
    ci: tuple[float, float] | None = None
    p_value: float | None = None
    test: str | None = None
    undefined_resamples: int = 0


@dataclass
class ClassDelta:
    """Precision, recall and F1 of one label in both runs (names ``f1[LABEL]`` and so on)."""

    label: str
    support: int
    scores: list[MetricDelta]


@dataclass
class SliceDelta:
    """One slice of the data (``column = value``) in both runs, with its metric deltas;
    ``description`` says what an automatic value means ("12-38 tokens")."""

    column: str
    value: str
    rows: int
    metrics: list[MetricDelta]
    description: str | None = None


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


def compare_runs(
    a: RunLike,
    b: RunLike,
    *,
    a_predictions: list[dict[str, Any]] | None = None,
    b_predictions: list[dict[str, Any]] | None = None,
    max_examples: int = 20,
    n_bootstrap: int = 2000,
    seed: int = 0,
) -> Comparison:
    """Compare run ``b`` (the candidate) with run ``a`` (the baseline) on the same data.

    ``a`` and ``b`` are run directories, results.json files or EvalResults (then pass their
    predictions rows to get paired tests and disagreements). LabelError for different label
    sets, UsageError for different tasks or inputs (``gate.compatible``) and for bad options,
    ResultsError for a missing run or corrupt predictions.
    """
    check_options(0.05, n_bootstrap, seed)
    if isinstance(max_examples, bool) or not isinstance(max_examples, int) or max_examples < 0:
        raise UsageError(f"--examples must be a non-negative integer, got {quote(max_examples)}")
    run_a, rows_a = _load(a, a_predictions, "baseline", "A")
    run_b, rows_b = _load(b, b_predictions, "current", "B")
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
    tested = [name for name in [*names, *per_class_names] if paired_test(name, results_b.task)]
    deltas = (
        paired_bootstrap_deltas(pairing, tested, n_resamples=n_bootstrap, seed=seed)
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
            _test_slices(result.slices, rows_a, pairing, index, n_bootstrap, seed)
    return result


def _load(
    run: RunLike, rows: list[dict[str, Any]] | None, role: str, name: str
) -> tuple[Run, list[dict[str, Any]] | None]:
    """One side, loaded and checked by the gate's ``load_run``, and its prediction rows (read
    once, for the codes and the disagreements); cards are refused."""
    if isinstance(run, str | os.PathLike):
        path = Path(os.fspath(run))
        if path.suffix.lower() == ".md":
            raise UsageError(
                f"run {name} must be a results directory or results.json, got the card {path}; "
                "compare needs the runs' results (and predictions)"
            )
        folder = path if path.is_dir() else path.parent
        results_file = folder / RESULTS_FILE if path.is_dir() else path
        if rows is None and results_file.is_file() and has_predictions(folder):
            rows = load_predictions(folder)
    return load_run(run, rows, role), rows


def _delta(
    name: str,
    run_a: Run,
    run_b: Run,
    pairing: Pairing | None,
    deltas: dict[str, NDArray[np.float64]],
) -> MetricDelta:
    a, b = run_a.require(name).value, run_b.require(name).value
    return _tested(MetricDelta(name, a, b, b - a), pairing, deltas)


def _tested(
    delta: MetricDelta, pairing: Pairing | None, deltas: dict[str, NDArray[np.float64]]
) -> MetricDelta:
    """``delta`` with the CI and two-sided p-value of its paired test, when one ran."""
    name = delta.name
    if pairing is None or name not in deltas:
        return delta
    replicates, _ = defined_resamples(name, deltas[name])
    delta.undefined_resamples = len(deltas[name]) - len(replicates)
    if not len(replicates):
        return delta
    low, high = np.percentile(replicates, [2.5, 97.5])
    delta.ci = (float(low), float(high))
    delta.test = paired_test(name, pairing.task)
    if delta.test == "McNemar":
        worse = mcnemar_p_value(pairing.gold, pairing.baseline, pairing.current)
        better = mcnemar_p_value(pairing.gold, pairing.current, pairing.baseline)
        delta.p_value = min(1.0, 2 * min(worse, better))
    else:
        delta.p_value = bootstrap_p_value(replicates)
    return delta


def bootstrap_p_value(replicates: NDArray[np.float64]) -> float:
    """Two-sided percentile bootstrap p-value of "no difference": twice the smaller of the
    gate's one-sided p-values ``(1 + #{resamples on one side of 0}) / (1 + B)``, at most 1."""
    total = 1 + len(replicates)
    worse = (1 + np.sum(replicates <= 0)) / total
    better = (1 + np.sum(replicates >= 0)) / total
    return float(min(1.0, 2 * min(worse, better)))


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
            scores.append(_tested(MetricDelta(name, a, b, b - a), pairing, deltas))
        out.append(ClassDelta(row.label, row.support, scores))
    return out


def _test_slices(
    slices: list[SliceDelta],
    rows: list[dict[str, Any]],
    pairing: Pairing,
    index: NDArray[np.int64],
    n_bootstrap: int,
    seed: int,
) -> None:
    """Give each slice the paired tests of its own examples, where the prediction rows name
    the slice of every example (dataset columns do; input-length slices compare values)."""
    columns = {piece.column for piece in slices}
    if not columns:
        return
    tags = {column: np.full(len(index), None, dtype=object) for column in columns}
    for row in rows:
        found = row.get("slices")
        if not isinstance(found, dict):
            continue
        position = int(np.searchsorted(index, row["index"]))
        if position == len(index) or index[position] != row["index"]:
            raise ResultsError("the predictions changed while being read; compare again")
        for column in columns & found.keys():
            tags[column][position] = str(found[column])
    for piece in slices:
        mask = tags[piece.column] == piece.value
        if int(mask.sum()) != piece.rows:
            continue
        within = Pairing(
            pairing.labels, pairing.gold[mask], pairing.baseline[mask], pairing.current[mask]
        )
        accuracy = next(d for d in piece.metrics if d.name == "accuracy")
        measured = (
            float(np.mean(within.baseline == within.gold)),
            float(np.mean(within.current == within.gold)),
        )
        if not np.allclose(measured, (accuracy.a, accuracy.b), rtol=0, atol=1e-9):
            continue  # the slice's examples in the predictions are not the ones it scored
        names = [d.name for d in piece.metrics]
        replicates = paired_bootstrap_deltas(within, names, n_resamples=n_bootstrap, seed=seed)
        piece.metrics = [_tested(d, within, replicates) for d in piece.metrics]


def slice_deltas(a: EvalResults, b: EvalResults) -> tuple[list[SliceDelta], list[str]]:
    """Accuracy and macro-F1 deltas of every slice (column and value) both runs evaluated with
    the same rows, and a warning per column whose slices differ between the runs (length
    quartiles of different tokenizers, say) or that one run lacks. Values only: the paired
    tests come from the predictions (``_test_slices``)."""
    out, warnings = [], []
    for side, mine, theirs in (("A", a, b), ("B", b, a)):
        warnings += [
            f"the slices of {quote(column)} are only in run {side}: not compared"
            for column in mine.slices
            if column not in theirs.slices
        ]
    for column, slice_a in a.slices.items():
        slice_b = b.slices.get(column)
        if slice_b is None:
            continue
        values_b = {v.value: v for v in slice_b.values}
        skipped = 0
        for value in slice_a.values:
            other = values_b.get(value.value)
            if other is None or (other.rows, other.description) != (value.rows, value.description):
                skipped += 1
                continue
            metrics = [
                MetricDelta(name, m.value, n.value, n.value - m.value)
                for name, m, n in (
                    ("accuracy", value.accuracy, other.accuracy),
                    ("macro_f1", value.macro_f1, other.macro_f1),
                )
            ]
            out.append(SliceDelta(column, value.value, value.rows, metrics, value.description))
        skipped += len(values_b.keys() - {v.value for v in slice_a.values})
        if skipped:
            warnings.append(
                f"{skipped} slice(s) of {quote(column)} differ between the runs (a value, its row "
                "count or what it means): not compared"
            )
    return out, warnings
