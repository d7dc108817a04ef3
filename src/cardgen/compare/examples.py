"""Examples to look at: those on which two runs' models predict different labels (see
``cardgen.compare.runs``), and those every run of many gets wrong (``cardgen.compare.many``),
most confident first."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from cardgen.errors import ResultsError
from cardgen.gate.paired import Pairing, row_correct
from cardgen.gate.runs import Run
from cardgen.trust.untrusted import quote


@dataclass
class Disagreement:
    """An example on which the two models predict different labels."""

    index: int
    gold: str
    a_predicted: str
    a_probability: float
    b_predicted: str
    b_probability: float
    text: str | None = None

    @property
    def confidence(self) -> float:
        """The higher of the two models' probabilities for their own prediction."""
        return max(self.a_probability, self.b_probability)


def disagreements(
    rows_a: list[dict[str, Any]],
    rows_b: list[dict[str, Any]],
    pairing: Pairing,
    run_a: Run,
    run_b: Run,
    limit: int,
) -> tuple[int, list[Disagreement]]:
    """How many examples the models disagree on, and the ``limit`` most confident."""
    assert run_b.predictions is not None
    indices = run_b.predictions.index[pairing.baseline != pairing.current].tolist()
    wanted = set(indices)
    found_a = {row["index"]: row for row in rows_a if row.get("index") in wanted}
    found_b = {row["index"]: row for row in rows_b if row.get("index") in wanted}
    if len(found_a) != len(wanted) or len(found_b) != len(wanted):
        raise ResultsError(
            f"the predictions of {run_a.source} or {run_b.source} changed while being read; "
            "compare again"
        )
    found = []
    for i in indices:
        row_a, row_b = found_a[i], found_b[i]
        text = next((r["text"] for r in (row_a, row_b) if isinstance(r.get("text"), str)), None)
        found.append(
            Disagreement(
                index=i,
                gold=row_a["gold"],
                a_predicted=row_a["predicted"],
                a_probability=_probability(row_a, run_a.source),
                b_predicted=row_b["predicted"],
                b_probability=_probability(row_b, run_b.source),
                text=text,
            )
        )
    found.sort(key=lambda d: (-d.confidence, -min(d.a_probability, d.b_probability), d.index))
    return len(found), found[:limit]


@dataclass
class SharedMistake:
    """An example every run gets wrong: each run's prediction and its probability, in the
    runs' order."""

    index: int
    gold: str
    predicted: list[str]
    probabilities: list[float]
    text: str | None = None

    @property
    def confidence(self) -> float:
        """The mean of the runs' probabilities for their own (wrong) prediction."""
        return sum(self.probabilities) / len(self.probabilities)


def shared_mistakes(
    rows: Sequence[list[dict[str, Any]]], runs: Sequence[Run], limit: int
) -> tuple[int, list[SharedMistake]]:
    """How many examples every run gets wrong, and the ``limit`` most confident of them.

    The runs' predictions were paired (``gate.paired.pair``): same examples, same gold labels.
    """
    first = runs[0].predictions
    assert first is not None
    wrong = np.ones(len(first.index), dtype=bool)
    for run in runs:
        assert run.predictions is not None
        wrong &= ~row_correct(run.predictions.gold, run.predictions.predicted)
    wanted = set(first.index[wrong].tolist())
    found = [
        {row["index"]: row for row in run_rows if row.get("index") in wanted} for run_rows in rows
    ]
    if any(len(by_index) != len(wanted) for by_index in found):
        raise ResultsError("the predictions of a run changed while being read; compare again")
    mistakes = []
    for i in sorted(wanted):
        own = [by_index[i] for by_index in found]
        mistakes.append(
            SharedMistake(
                index=i,
                gold=_shown(own[0]["gold"]),
                predicted=[_shown(row["predicted"]) for row in own],
                probabilities=[
                    _probability(row, run.source) for row, run in zip(own, runs, strict=True)
                ],
                text=next((r["text"] for r in own if isinstance(r.get("text"), str)), None),
            )
        )
    mistakes.sort(key=lambda m: (-m.confidence, m.index))
    return len(mistakes), mistakes[:limit]


def _shown(value: Any) -> str:
    """A label, or a label set as its names (``(none)`` for the empty set)."""
    return (", ".join(map(str, value)) or "(none)") if isinstance(value, list) else str(value)


def _probability(row: dict[str, Any], source: str) -> float:
    """The probability a row gives its own prediction (for a label set, the mean probability
    of its wrong decisions: p of a label it wrongly has, 1 - p of one it wrongly lacks);
    ResultsError when it has none."""
    probabilities = row.get("probabilities")
    if isinstance(row["predicted"], list) and isinstance(probabilities, dict):
        gold, predicted = set(row["gold"]), set(row["predicted"])
        sure = [
            _probability({**row, "predicted": label}, source)
            if label in predicted
            else 1 - _probability({**row, "predicted": label}, source)
            for label in sorted(gold ^ predicted)
        ]
        return sum(sure) / len(sure) if sure else 0.0
    value = probabilities.get(row["predicted"]) if isinstance(probabilities, dict) else None
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or not 0 <= value <= 1
    ):
        raise ResultsError(
            f"a predictions file is malformed (the probability of {quote(row['predicted'])} in "
            f"the row of index {row['index']} of {source} is {quote(value)}, not a number in "
            "[0, 1]); re-run `cardgen evaluate`"
        )
    return float(value)
