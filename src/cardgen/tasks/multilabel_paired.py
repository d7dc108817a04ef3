"""Multi-label metrics of several runs on the same examples, over the same bootstrap resamples.

The gate and compare test a change between two runs by resampling examples jointly: an example
keeps its gold set and every run's predicted set. Examples are grouped into distinct (gold, run
1, run 2, ...) patterns, and each resample weighs the patterns by the Poisson draws of
``multilabel_metrics`` (the same seed, the same blocks), so run r's replicate b is its metric on
the very resample b every other run is scored on, and differences of replicates are paired.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from cardgen.tasks.metrics import _ratio
from cardgen.tasks.multilabel_metrics import (
    _aggregate,
    _chunks,
    _draw_size,
    _patterns,
    _weighted_sums,
    _weights,
)

LABEL_STATS = ("precision", "recall", "f1")


def paired_replicates(
    gold: NDArray[np.bool_],
    runs: Sequence[NDArray[np.bool_]],
    labels: list[str],
    *,
    per_label: Sequence[str] = (),
    n_bootstrap: int,
    seed: int,
) -> list[dict[str, NDArray[np.float64]]]:
    """For each run's predicted (n, K) label matrix in ``runs``, the replicates (shape
    ``(n_bootstrap,)``) of every ``MULTILABEL_METRICS`` name and of ``precision[LABEL]``,
    ``recall[LABEL]`` and ``f1[LABEL]`` for each label in ``per_label``, over the same
    resamples of the examples. A ratio that is 0/0 in a resample is NaN there (macro averages
    count such a label as 0, as their reported values do)."""
    *matrices, counts = _patterns(gold, *runs)
    pattern_gold, predicted = matrices[0], matrices[1:]
    columns = [labels.index(label) for label in per_label]
    out = []
    for pred in predicted:
        sums, _, _ = _weighted_sums(pattern_gold, pred, counts, draws=n_bootstrap, seed=seed)
        values = _aggregate(sums, len(labels), np.nan)
        if columns:
            g, p = pattern_gold[:, columns], pred[:, columns]
            tp, fp, fn = _label_counts(g, p, counts, draws=n_bootstrap, seed=seed)
            scores = {
                "precision": _ratio(tp, tp + fp, np.nan),
                "recall": _ratio(tp, tp + fn, np.nan),
                "f1": _ratio(2 * tp, 2 * tp + fp + fn, np.nan),
            }
            for j, label in enumerate(per_label):
                values.update({f"{stat}[{label}]": scores[stat][:, j] for stat in LABEL_STATS})
        out.append(values)
    return out


def _label_counts(
    gold: NDArray[np.bool_],
    pred: NDArray[np.bool_],
    counts: NDArray[np.int64],
    *,
    draws: int,
    seed: int,
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Per-resample true positives, false positives and false negatives of each column of the
    patterns ``gold`` / ``pred``, each (draws, columns), on ``_weighted_sums``'s resamples."""
    cells = [(a & b).astype(np.float64) for a, b in ((gold, pred), (~gold, pred), (gold, ~pred))]
    tp, fp, fn = (np.zeros((draws, gold.shape[1])) for _ in range(3))
    for chunk in _chunks(draws, _draw_size(len(counts))):
        w = _weights(chunk.start, chunk.stop, counts, seed)
        for total, cell in zip((tp, fp, fn), cells, strict=True):
            total[chunk] = w @ cell
    return tp, fp, fn
