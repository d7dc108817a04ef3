"""Metrics per slice of a multi-label run: for each value of a column, its rows' subset
accuracy (exact match, reported as ``accuracy``), macro-F1 and micro-F1 with bootstrap CIs
over the slice's examples, and each label's recall, as ``analysis.slices`` does for one label
per row."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from cardgen.analysis.slices import (
    MAX_SLICE_BOOTSTRAP,
    automatic_slices,
    measured_slices,
    row_lengths,
)
from cardgen.results.schema import Metric, SliceResult
from cardgen.tasks.metrics import bootstrap_metrics
from cardgen.tasks.multilabel_metrics import label_set_metrics

_METRICS = ("subset_accuracy", "macro_f1", "micro_f1")
SUBSET_NOTE = (
    "Multi-label: accuracy here is subset accuracy (every label of a row right); micro-F1 per "
    "slice is in results.json."
)


def label_set_slices(
    gold: NDArray[np.bool_],
    pred: NDArray[np.bool_],
    labels: Sequence[str],
    *,
    columns: Mapping[str, Sequence[str]],
    slice_by: Sequence[str],
    input_lengths: NDArray[np.int64] | None,
    max_length: int | None,
    texts: Sequence[str],
    text_pairs: Sequence[str] | None,
    min_size: int,
    n_bootstrap: int,
    seed: int,
) -> dict[str, SliceResult]:
    """The slices of a multi-label run: each ``slice_by`` column, then the automatic ones
    (input-length quartiles, truncated vs not), as ``analysis.analyse`` makes them."""
    slices = {
        name: label_set_slice_metrics(
            gold, pred, labels, columns[name], column=name, min_size=min_size,
            n_bootstrap=n_bootstrap, seed=seed + i,
        )  # fmt: skip
        for i, name in enumerate(slice_by)
    }
    lengths, unit, truncated = row_lengths(input_lengths, max_length, texts, text_pairs)
    slices.update(
        automatic_slices(
            gold, pred, labels, lengths=lengths, unit=unit, truncated=truncated,
            max_length=max_length, min_size=min_size, n_bootstrap=n_bootstrap,
            seed=seed + len(slices), scorer=label_set_slice_metrics,
        )  # fmt: skip
    )
    for result in slices.values():
        if result.values:
            result.note = " ".join(filter(None, (result.note, SUBSET_NOTE)))
    return slices


def label_set_slice_metrics(
    gold: NDArray[np.bool_],
    pred: NDArray[np.bool_],
    labels: Sequence[str],
    values: Sequence[str] | NDArray[Any],
    *,
    column: str,
    kind: str = "column",
    min_size: int,
    n_bootstrap: int = 1000,
    seed: int = 0,
    order: Sequence[str] | None = None,
    descriptions: Mapping[str, str] | None = None,
    note: str | None = None,
) -> SliceResult:
    """Per value of ``values`` (one per row): rows, subset accuracy, macro- and micro-F1 with
    CIs (at most MAX_SLICE_BOOTSTRAP resamples of the slice's examples), per-label recall for
    the labels gold in the slice; and the largest gaps between slices of ``min_size`` rows."""
    gold, pred = np.asarray(gold, dtype=bool), np.asarray(pred, dtype=bool)
    names, inverse = np.unique(np.asarray(values, dtype=object).astype(str), return_inverse=True)
    draws = min(n_bootstrap, MAX_SLICE_BOOTSTRAP)

    def measure(i: int) -> tuple[dict[str, Any], dict[str, NDArray[np.float64]] | None]:
        member = inverse == i
        point, reps = label_set_metrics(
            gold[member], pred[member], n_bootstrap=draws, seed=seed + i
        )
        stack = None if reps is None else np.stack([reps[name] for name in _METRICS])
        accuracy, macro_f1, micro_f1 = bootstrap_metrics([point[n] for n in _METRICS], stack)
        metrics = {
            "accuracy": accuracy,
            "macro_f1": macro_f1,
            "micro_f1": micro_f1,
            "recall": _recalls(gold[member], pred[member], labels),
        }
        if reps is None:
            return metrics, None
        return metrics, {"accuracy": reps["subset_accuracy"], "macro_f1": reps["macro_f1"]}

    return measured_slices(
        [str(name) for name in names], np.bincount(inverse, minlength=len(names)), measure,
        column=column, kind=kind, min_size=min_size, order=order, descriptions=descriptions,
        note=note,
    )  # fmt: skip


def _recalls(
    gold: NDArray[np.bool_], pred: NDArray[np.bool_], labels: Sequence[str]
) -> dict[str, Metric]:
    """Each label's recall among the slice's rows where it is gold (no CI: a slice's label
    counts are small; the gate reads the value)."""
    support = gold.sum(axis=0)
    hits = (gold & pred).sum(axis=0)
    return {
        labels[int(j)]: Metric(float(hits[j] / support[j])) for j in np.flatnonzero(support)
    }
