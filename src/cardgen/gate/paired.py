"""Paired tests of a drop between two runs on the same examples (see ``cardgen.gate``)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..metrics import CONFUSION_METRICS, confusion_counts, confusion_metrics, per_class_scores
from ..results import EvalResults
from .rules import PER_CLASS
from .runs import Run


@dataclass
class Pairing:
    """Integer gold labels and both runs' predictions for the same examples, in index order."""

    labels: list[str]
    gold: NDArray[np.int64]
    baseline: NDArray[np.int64]
    current: NDArray[np.int64]


def pair(current: Run, baseline: Run) -> tuple[Pairing | None, str, list[str]]:
    """Pair per-example predictions when both runs allow it: (pairing, comparison, warnings).

    The runs were checked to share labels and data (``runs.check_comparable``) and their
    predictions to be well-formed (``runs.check_predictions``).
    """
    if baseline.results is None:
        return None, "unpaired: baseline values from a model card", []
    reason = why_unpaired(current, baseline)
    if reason is not None:
        warning = f"{reason}: drops are compared without a paired test"
        return None, "unpaired: values compared without a test", [warning]
    assert current.results is not None
    rows_cur, rows_base = _by_index(current), _by_index(baseline)
    labels = list(dict.fromkeys([*current.results.labels, *baseline.results.labels]))
    code = {label: i for i, label in enumerate(labels)}
    order = sorted(rows_cur)

    def column(rows: dict[int, dict[str, Any]], key: str) -> NDArray[np.int64]:
        return np.array([code[rows[i][key]] for i in order], dtype=np.int64)

    pairing = Pairing(
        labels=labels,
        gold=column(rows_cur, "gold"),
        baseline=column(rows_base, "predicted"),
        current=column(rows_cur, "predicted"),
    )
    return pairing, f"paired on {len(order):,} examples of the same dataset", []


def why_unpaired(current: Run, baseline: Run) -> str | None:
    """Why the two runs' predictions cannot be paired, or None when they can."""
    for run in (current, baseline):
        if run.predictions is None:
            return (
                f"no per-example predictions for {run.source} (keep predictions.jsonl next "
                "to results.json)"
            )
    rows_cur, rows_base = _by_index(current), _by_index(baseline)
    if rows_cur.keys() != rows_base.keys() or any(
        rows_cur[i]["gold"] != rows_base[i]["gold"] for i in rows_cur
    ):
        return (
            "the two predictions files do not cover the same examples with the same gold "
            "labels despite equal fingerprints"
        )
    for run, rows in ((current, rows_cur), (baseline, rows_base)):
        assert run.results is not None
        if not _matches_confusion(run.results, rows.values()):
            return (
                f"the predictions of {run.source} do not reproduce its confusion matrix (a "
                "stale predictions.jsonl?)"
            )
    return None


def _by_index(run: Run) -> dict[int, dict[str, Any]]:
    assert run.predictions is not None
    return {row["index"]: row for row in run.predictions}


def _matches_confusion(results: EvalResults, rows: Iterable[dict[str, Any]]) -> bool:
    cm = results.confusion_matrix
    code = {label: i for i, label in enumerate(cm.labels)}
    pairs = [(row["gold"], row["predicted"]) for row in rows]
    if not pairs or any(g not in code or p not in code for g, p in pairs):
        return False
    gold = np.array([code[g] for g, _ in pairs], dtype=np.int64)
    pred = np.array([code[p] for _, p in pairs], dtype=np.int64)
    return bool(confusion_counts(gold, pred, len(cm.labels)).tolist() == cm.counts)


def mcnemar_p_value(
    gold: NDArray[np.int64],
    baseline: NDArray[np.int64],
    current: NDArray[np.int64],
    tolerance: float = 0.0,
) -> float:
    """One-sided exact McNemar p-value for "the current run's accuracy drop is at most
    ``tolerance``" (see the package docstring)."""
    from scipy.stats import binom

    base_ok, cur_ok = baseline == gold, current == gold
    worse = int((base_ok & ~cur_ok).sum())
    discordant = worse + int((~base_ok & cur_ok).sum())
    if discordant == 0:
        return 1.0
    share = 0.5 + len(gold) * tolerance / (2 * discordant)
    if share >= 1:
        return 1.0
    return float(binom.sf(worse - 1, discordant, share))


def paired_bootstrap_deltas(
    pairing: Pairing, names: Iterable[str], *, n_resamples: int = 2000, seed: int = 0
) -> dict[str, NDArray[np.float64]]:
    """``current - baseline`` of each metric over joint bootstrap resamples of the examples.

    A resample of n examples has multinomial counts over the (gold, baseline, current) cells
    with the observed frequencies, so drawing cell counts is resampling examples jointly.
    """
    names = list(dict.fromkeys(names))
    k = len(pairing.labels)
    codes = (pairing.gold * k + pairing.baseline) * k + pairing.current
    cells, counts = np.unique(codes, return_counts=True)
    gold, rest = np.divmod(cells, k * k)
    base_cell = gold * k + rest // k
    cur_cell = gold * k + rest % k
    n = len(codes)
    rng = np.random.default_rng(seed)
    chunk = max(1, 2_000_000 // max(len(cells), k * k))
    deltas: dict[str, list[NDArray[np.float64]]] = {name: [] for name in names}
    for start in range(0, n_resamples, chunk):
        size = min(chunk, n_resamples - start)
        draws = rng.multinomial(n, counts / n, size=size)
        base = _stack_values(_confusion_stack(draws, base_cell, k), names, pairing.labels)
        cur = _stack_values(_confusion_stack(draws, cur_cell, k), names, pairing.labels)
        for name in names:
            deltas[name].append(cur[name] - base[name])
    return {name: np.concatenate(parts) for name, parts in deltas.items()}


def _confusion_stack(draws: NDArray[np.int64], cells: NDArray[np.int64], k: int) -> NDArray[Any]:
    """(size, k, k) confusion matrices from cell counts ``draws`` (size, C) of the k*k cells."""
    size = draws.shape[0]
    flat = (np.arange(size)[:, None] * (k * k) + cells[None, :]).ravel()
    return np.bincount(flat, weights=draws.ravel(), minlength=size * k * k).reshape(size, k, k)


def _stack_values(
    cms: NDArray[Any], names: list[str], labels: list[str]
) -> dict[str, NDArray[np.float64]]:
    overall = confusion_metrics(cms) if any(n in CONFUSION_METRICS for n in names) else {}
    per_class = per_class_scores(cms) if any(PER_CLASS.match(n) for n in names) else {}
    out = {}
    for name in names:
        if match := PER_CLASS.match(name):
            out[name] = per_class[match[1]][..., labels.index(match[2])]
        else:
            out[name] = overall[name]
    return out
