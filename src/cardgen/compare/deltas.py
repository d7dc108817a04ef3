"""What every comparison of runs shares: loading a run with its prediction rows, and a metric's
delta between two runs with the CI and two-sided p-value of its paired test (the gate's
McNemar test and paired bootstrap, ``gate.paired``)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from cardgen.errors import UsageError
from cardgen.gate.paired import Pairing, defined_resamples, mcnemar_p_value
from cardgen.gate.rules import paired_test
from cardgen.gate.runs import Run, load_run
from cardgen.results.predictions import has_predictions, load_predictions
from cardgen.results.schema import RESULTS_FILE, EvalResults

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


def load_side(
    run: RunLike, rows: list[dict[str, Any]] | None, role: str, name: str
) -> tuple[Run, list[dict[str, Any]] | None]:
    """One run, loaded and checked by the gate's ``load_run`` in ``role``, and its prediction
    rows (read once, for the codes and the examples); cards are refused (``name`` says which
    run in the message)."""
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


def tested(
    delta: MetricDelta, pairing: Pairing | None, deltas: dict[str, NDArray[np.float64]]
) -> MetricDelta:
    """``delta`` with the CI and two-sided p-value of its paired test, when one ran: McNemar's
    exact test for accuracy (twice the smaller one-sided p-value), else the bootstrap's."""
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
