"""Paired tests of a drop between two runs on the same examples (see ``cardgen.gate``), for
one label per example (label codes) or label sets ((n, K) booleans)."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from cardgen.data.labels import label_set_swaps, swap_text
from cardgen.gate.rules import PER_CLASS
from cardgen.gate.runs import Run
from cardgen.results.predictions import PredictionCodes
from cardgen.results.schema import EvalResults
from cardgen.tasks.metrics import CONFUSION_METRICS, confusion_metrics, per_class_scores
from cardgen.tasks.multilabel_paired import paired_replicates
from cardgen.trust.untrusted import quote


@dataclass
class Pairing:
    """Gold labels and both runs' predictions for the same examples, in index order: label
    codes (n,), or for label sets (n, len(labels)) booleans."""

    labels: list[str]
    gold: NDArray[Any]
    baseline: NDArray[Any]
    current: NDArray[Any]

    @property
    def label_sets(self) -> bool:
        """Whether each example has a set of labels (a multi-label run)."""
        return bool(self.gold.ndim == 2)

    @property
    def task(self) -> str:
        """The task of the paired runs, as ``rules.paired_test`` takes it."""
        return "multi_label" if self.label_sets else "single_label"


def row_correct(gold: NDArray[Any], predicted: NDArray[Any]) -> NDArray[np.bool_]:
    """Whether each example is predicted right: its label, or its whole label set."""
    same = gold == predicted
    return same if same.ndim == 1 else same.all(axis=1)


def pair(current: Run, baseline: Run) -> tuple[Pairing | None, str, list[str]]:
    """Pair per-example predictions when both runs allow it: (pairing, comparison, warnings).

    The runs were checked to share labels and data (``compatible.check_comparable``) and their
    predictions to be well-formed (``predictions.prediction_codes``).
    """
    if baseline.results is None:
        return None, "unpaired: baseline values from a model card", []
    reason = why_unpaired(current, baseline)
    if reason is not None:
        warning = f"{reason}: drops are compared without a paired test"
        return None, "unpaired: values compared without a test", [warning]
    assert current.predictions is not None and baseline.predictions is not None
    cur, base = current.predictions, baseline.predictions
    labels = list(dict.fromkeys([*cur.labels, *base.labels]))
    pairing = Pairing(
        labels=labels,
        gold=_recode(cur, cur.gold, labels),
        baseline=_recode(base, base.predicted, labels),
        current=_recode(cur, cur.predicted, labels),
    )
    return pairing, f"paired on {len(cur.index):,} examples of the same dataset", []


def why_unpaired(current: Run, baseline: Run) -> str | None:
    """Why the two runs' predictions cannot be paired, or None when they can.

    Both runs' codes are in index order, so they pair row by row when their indices are equal.
    """
    for run in (current, baseline):
        if run.predictions is None:
            return (
                f"no per-example predictions for {run.source} (keep predictions.jsonl next "
                "to results.json)"
            )
    cur, base = current.predictions, baseline.predictions
    assert cur is not None and base is not None
    labels = list(dict.fromkeys([*cur.labels, *base.labels]))
    if not np.array_equal(cur.index, base.index) or not np.array_equal(
        _recode(cur, cur.gold, labels), _recode(base, base.gold, labels)
    ):
        return (
            "the two predictions files do not cover the same examples with the same gold "
            "labels despite equal fingerprints"
        )
    for run, codes in ((current, cur), (baseline, base)):
        assert run.results is not None
        sets = codes.gold.ndim == 2
        if not (_matches_label_counts if sets else _matches_confusion)(run.results, codes):
            counted = "per-label counts" if sets else "confusion matrix"
            return (
                f"the predictions of {run.source} do not reproduce its {counted} (a stale "
                "predictions.jsonl?)"
            )
    return None


def _recode(codes: PredictionCodes, column: NDArray[Any], labels: list[str]) -> NDArray[Any]:
    """``column`` (codes into ``codes.labels``, or label sets over them) as int64 codes into
    ``labels`` (or label sets over them), a superset."""
    position = {label: i for i, label in enumerate(labels)}
    table = np.array([position[label] for label in codes.labels], dtype=np.int64)
    if column.ndim == 1:
        return table[column]
    out = np.zeros((len(column), len(labels)), dtype=bool)
    out[:, table] = column
    return out


def _matches_confusion(results: EvalResults, codes: PredictionCodes) -> bool:
    """Whether the predictions count exactly the results' confusion matrix."""
    cm = results.confusion_matrix
    if len(codes.index) == 0 or not set(codes.labels) <= set(cm.labels):
        return False
    k = len(cm.labels)
    gold = _recode(codes, codes.gold, cm.labels)
    predicted = _recode(codes, codes.predicted, cm.labels)
    counts = np.bincount(gold * k + predicted, minlength=k * k).reshape(k, k)
    return bool(counts.tolist() == cm.counts)


def _matches_label_counts(results: EvalResults, codes: PredictionCodes) -> bool:
    """Whether label-set predictions count exactly the results' per-label 2x2 tables."""
    details = results.multilabel.labels if results.multilabel is not None else []
    if len(codes.index) == 0 or [d.label for d in details] != codes.labels:
        return False
    gold, predicted = codes.gold, codes.predicted
    cells = (gold & predicted, ~gold & predicted, gold & ~predicted, ~gold & ~predicted)
    counts = np.stack([cell.sum(axis=0) for cell in cells], axis=1)
    return bool(counts.tolist() == [[d.tp, d.fp, d.fn, d.tn] for d in details])


def mcnemar_p_value(
    gold: NDArray[np.int64],
    baseline: NDArray[np.int64],
    current: NDArray[np.int64],
    tolerance: float = 0.0,
) -> float:
    """One-sided exact McNemar p-value for "the current run's accuracy (for label sets, subset
    accuracy) drop is at most ``tolerance``" (see the package docstring)."""
    base_ok, cur_ok = row_correct(gold, baseline), row_correct(gold, current)
    worse = int((base_ok & ~cur_ok).sum())
    discordant = worse + int((~base_ok & cur_ok).sum())
    if discordant == 0:
        return 1.0
    share = 0.5 + len(gold) * tolerance / (2 * discordant)
    if share >= 1:
        return 1.0
    return binomial_tail(worse, discordant, share)


def binomial_tail(k: int, n: int, p: float) -> float:
    """P(X >= k) for X ~ Binomial(n, p), 0 < p < 1, summed in log space over the terms that
    matter (within 40 standard deviations of the mode or of k); scipy's ``binom.sf(k - 1)``
    without importing scipy."""
    if k <= 0:
        return 1.0
    if k > n:
        return 0.0
    mode, spread = int(n * p), 40 * math.sqrt(n * p * (1 - p)) + 50
    upper = k > mode  # sum the smaller side: the upper tail from k, or 1 - the lower one
    first, last = (k, min(n, int(k + spread))) if upper else (max(0, int(k - spread)), k - 1)
    terms = np.arange(first, last + 1, dtype=np.float64)
    log_choose = math.lgamma(n + 1) - np.array(
        [math.lgamma(t + 1) + math.lgamma(n - t + 1) for t in terms]
    )
    log_pmf = log_choose + terms * math.log(p) + (n - terms) * math.log1p(-p)
    tail = float(np.exp(log_pmf).sum())
    return min(1.0, tail) if upper else max(0.0, 1.0 - tail)


def paired_bootstrap_deltas(
    pairing: Pairing, names: Iterable[str], *, n_resamples: int = 2000, seed: int = 0
) -> dict[str, NDArray[np.float64]]:
    """``current - baseline`` of each metric over joint bootstrap resamples of the examples.

    A resample of n examples has multinomial counts over the (gold, baseline, current) cells
    with the observed frequencies, so drawing cell counts is resampling examples jointly. A
    per-class score that is 0/0 in either run's resample (recall of a class without gold rows
    in it) has no delta there: NaN, which ``defined_resamples`` leaves out.
    """
    names = list(dict.fromkeys(names))
    if pairing.label_sets:
        return _label_set_deltas(pairing, names, n_resamples=n_resamples, seed=seed)
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


def _label_set_deltas(
    pairing: Pairing, names: list[str], *, n_resamples: int, seed: int
) -> dict[str, NDArray[np.float64]]:
    """``paired_bootstrap_deltas`` of label sets: the multi-label metrics of both runs on the
    same Poisson resamples of the examples (``tasks.multilabel_paired``)."""
    per_label = [match[2] for name in names if (match := PER_CLASS.match(name))]
    base, cur = paired_replicates(
        pairing.gold,
        [pairing.baseline, pairing.current],
        pairing.labels,
        per_label=list(dict.fromkeys(per_label)),
        n_bootstrap=n_resamples,
        seed=seed,
    )
    return {name: cur[name] - base[name] for name in names}


def swap_warnings(pairing: Pairing) -> list[str]:
    """A warning per cycle of the current run's label columns that matches the baseline's
    predictions far better permuted than as named (``data.labels.label_set_swaps``)."""
    if not pairing.label_sets:
        return []
    labels = pairing.labels
    return [
        f"the current run's label columns look permuted against the baseline's: on "
        f"{quote(', '.join(labels[r] for r, _ in swap.moved))} the runs' label sets agree at "
        f"micro-F1 {swap.named:.1%} as named but {swap.permuted:.1%} with "
        f"{swap_text(swap.moved, labels, to='baseline')}; check the current model's id2label "
        "or its --label-map, and evaluate it again"
        for swap in label_set_swaps(pairing.baseline, pairing.current)
    ]


def _confusion_stack(draws: NDArray[np.int64], cells: NDArray[np.int64], k: int) -> NDArray[Any]:
    """(size, k, k) confusion matrices from cell counts ``draws`` (size, C) of the k*k cells."""
    size = draws.shape[0]
    flat = (np.arange(size)[:, None] * (k * k) + cells[None, :]).ravel()
    return np.bincount(flat, weights=draws.ravel(), minlength=size * k * k).reshape(size, k, k)


def _stack_values(
    cms: NDArray[Any], names: list[str], labels: list[str]
) -> dict[str, NDArray[np.float64]]:
    overall = confusion_metrics(cms) if any(n in CONFUSION_METRICS for n in names) else {}
    per_class = (
        per_class_scores(cms, zero_division=np.nan)
        if any(PER_CLASS.match(n) for n in names)
        else {}
    )
    out = {}
    for name in names:
        if match := PER_CLASS.match(name):
            out[name] = per_class[match[1]][..., labels.index(match[2])]
        else:
            out[name] = overall[name]
    return out


def defined_resamples(
    name: str, replicates: NDArray[np.float64]
) -> tuple[NDArray[Any], str | None]:
    """The resampled deltas of ``name`` that are defined, and a note saying how many were not
    (None when all were): CIs and p-values rest on the defined ones only."""
    defined = replicates[~np.isnan(replicates)]
    left_out = len(replicates) - len(defined)
    if not left_out:
        return defined, None
    match = PER_CLASS.match(name)
    stat, label = match.groups() if match else ("", "")
    why = {
        "recall": f"no gold row of {quote(label)}",
        "precision": f"no row predicted as {quote(label)}",
        "f1": f"no row of {quote(label)}, gold or predicted",
    }.get(stat, "a 0/0 ratio")
    return defined, (
        f"{name}: {left_out:,} of {len(replicates):,} resamples left out of its CI and p-value "
        f"(they have {why} in a run, so it is undefined there, not 0)"
    )
