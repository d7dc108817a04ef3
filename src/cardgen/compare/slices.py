"""Slices of the data in compared runs: the deltas of every slice two runs evaluated alike
(with paired tests within a column slice), and the best run of every slice of many runs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from cardgen.compare.deltas import MetricDelta, tested
from cardgen.errors import ResultsError
from cardgen.gate.paired import Pairing, paired_bootstrap_deltas
from cardgen.results.schema import EvalResults, SliceValue
from cardgen.trust.untrusted import quote


@dataclass
class SliceDelta:
    """One slice of the data (``column = value``) in both runs, with its metric deltas;
    ``description`` says what an automatic value means ("12-38 tokens")."""

    column: str
    value: str
    rows: int
    metrics: list[MetricDelta]
    description: str | None = None


def slice_deltas(a: EvalResults, b: EvalResults) -> tuple[list[SliceDelta], list[str]]:
    """Accuracy and macro-F1 deltas of every slice (column and value) both runs evaluated with
    the same rows, and a warning per column whose slices differ between the runs (length
    quartiles of different tokenizers, say) or that one run lacks. Values only: the paired
    tests come from the predictions (``test_slices``)."""
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


def test_slices(
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
        piece.metrics = [tested(d, within, replicates) for d in piece.metrics]


SLICE_METRICS = {
    "single_label": {"accuracy": "accuracy", "micro_f1": "accuracy", "macro_f1": "macro_f1"},
    "multi_label": {"micro_f1": "micro_f1", "macro_f1": "macro_f1", "subset_accuracy": "accuracy"},
}
"""The metrics a slice carries, per task: name -> ``SliceValue`` field (a single-label micro-F1
equals accuracy; a multi-label slice's ``accuracy`` is its subset accuracy)."""


@dataclass
class SliceLeader:
    """One slice (``column = value``) of many runs: the value of ``metric`` in each run, in the
    runs' order, and the numbers of the runs with the best one (several on a tie)."""

    column: str
    value: str
    rows: int
    metric: str
    values: list[float]
    best: list[int]
    description: str | None = None


def slice_leaders(
    runs: list[EvalResults], by: str
) -> tuple[list[SliceLeader], str | None, list[str]]:
    """The best runs of every slice all ``runs`` evaluated with the same rows and meaning,
    by ``by`` where slices carry it, else by the task's headline metric; that metric; and
    warnings for slices left out (only in some runs, evaluated differently, or too small to
    rank: slices under the minimum size are reported, never ranked)."""
    task = runs[0].task
    known = SLICE_METRICS[task]
    metric = by if by in known else next(iter(known))
    warnings = []
    columns = [c for c in runs[0].slices if all(c in r.slices for r in runs)]
    partial = {c for r in runs for c in r.slices} - set(columns)
    warnings += [
        f"the slices of {quote(c)} are not in every run: not ranked" for c in sorted(partial)
    ]
    if columns and metric != by:
        warnings.append(f"slices carry no {quote(by)}: the best run per slice is by {metric}")
    out, small = [], 0
    for column in columns:
        skipped = 0
        others = [{v.value: v for v in r.slices[column].values} for r in runs[1:]]
        for value in runs[0].slices[column].values:
            found = [value, *(o.get(value.value) for o in others)]
            same = all(
                v is not None and (v.rows, v.description) == (value.rows, value.description)
                for v in found
            )
            scores = [_slice_value(v, known[metric]) for v in found if v is not None]
            if not same or None in scores:
                skipped += 1
            elif value.small:
                small += 1
            else:
                values = [float(s) for s in scores if s is not None]
                best = [i for i, v in enumerate(values, 1) if v == max(values)]
                out.append(
                    SliceLeader(
                        column, value.value, value.rows, metric, values, best, value.description
                    )
                )
        skipped += len(set().union(*others) - {v.value for v in runs[0].slices[column].values})
        if skipped:
            warnings.append(
                f"{skipped} slice(s) of {quote(column)} differ between the runs (a value, its "
                "row count or what it means): not ranked"
            )
    if small:
        warnings.append(f"{small} slice(s) under the minimum slice size: not ranked")
    return out, metric if columns else None, warnings


def _slice_value(value: SliceValue | None, field_name: str) -> float | None:
    if value is None:
        return None
    metric = getattr(value, field_name)
    return None if metric is None else float(metric.value)
