"""Multi-label metrics of several runs on the same examples, over the same bootstrap resamples.

The gate and compare test a change between two runs by resampling examples jointly: an example
keeps its gold set and every run's predicted set. Examples are grouped into distinct (gold, run
1, run 2, ...) patterns, and each resample weighs the patterns by the Poisson draws of
``multilabel_metrics`` (an example's weight is a Poisson(1) draw, as in a run's own CIs). Each
block of weights is drawn once and scores every run, so run r's replicate b is its metric on
the very resample b every other run is scored on, and differences of replicates are paired.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from cardgen.tasks.metrics import _ratio
from cardgen.tasks.multilabel_metrics import (
    _EXAMPLE,
    _OVER_LABELS,
    BUDGET,
    _aggregate,
    _chunks,
    _example_table,
    _over_labels,
    _patterns,
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
    k = len(labels)
    gold_cells = pattern_gold.astype(np.float64)
    tables = [_example_table(pattern_gold, pred) for pred in predicted]
    cells = [((pattern_gold & p).astype(np.float64), p.astype(np.float64)) for p in predicted]
    sums = [np.zeros((n_bootstrap, len(_EXAMPLE) + len(_OVER_LABELS))) for _ in predicted]
    kept = [np.zeros((3, n_bootstrap, len(columns))) for _ in predicted]
    for chunk in _chunks(n_bootstrap, max(1, BUDGET // max(len(counts), k))):
        w = _weights(chunk.start, chunk.stop, counts, seed)
        gold_counts = w @ gold_cells
        for (hits, said), table, total, counted in zip(cells, tables, sums, kept, strict=True):
            tp = w @ hits
            fp, fn = w @ said - tp, gold_counts - tp  # exact: sums of integer weights
            total[chunk] = np.concatenate([w @ table, _over_labels(tp, fp, fn)], axis=1)
            counted[:, chunk] = np.stack([tp[:, columns], fp[:, columns], fn[:, columns]])
    out = []
    for total, (tp, fp, fn) in zip(sums, kept, strict=True):
        named = dict(zip((*_EXAMPLE, *_OVER_LABELS), total.T, strict=True))
        values = _aggregate(named, k, np.nan)
        scores = {
            "precision": _ratio(tp, tp + fp, np.nan),
            "recall": _ratio(tp, tp + fn, np.nan),
            "f1": _ratio(2 * tp, 2 * tp + fp + fn, np.nan),
        }
        for j, label in enumerate(per_label):
            values.update({f"{stat}[{label}]": scores[stat][:, j] for stat in LABEL_STATS})
        out.append(values)
    return out
