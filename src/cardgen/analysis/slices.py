"""Metrics per slice of the evaluation rows: per value of a dataset column, per input-length
quartile and truncated vs not, each with a bootstrap CI computed within the slice.

Everything comes from the predictions already in memory. A slice's bootstrap resamples its own
confusion matrix (multinomial over its cells, as ``cardgen.tasks.metrics`` does for the whole set),
so slices cost microseconds each, not a pass over the rows per resample.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from cardgen.results.schema import SliceGap, SliceResult, SliceValue
from cardgen.tasks.metrics import bootstrap_metrics, confusion_metrics, per_class_scores

DEFAULT_MIN_SLICE_SIZE = 30
"""Slices with fewer rows are reported but flagged, and never ranked as worst or best: a CI
over fewer than ~30 rows is too wide to tell slices apart."""
LENGTH_SLICE = "input_length"
TRUNCATED_SLICE = "truncated"
AUTOMATIC_SLICES = (LENGTH_SLICE, TRUNCATED_SLICE)
MAX_SLICE_BOOTSTRAP = 2_000
"""Most bootstrap resamples per slice (``--bootstrap`` when lower): with 2,000 an interval's
ends vary by about 6% of a standard error between seeds, and slicing 7,600 rows takes 0.15 s."""
GAP_METRICS = ("accuracy", "macro_f1")
SLICE_METRICS = ("accuracy", "macro_f1")
QUARTILES = (0.25, 0.5, 0.75)

_Array = NDArray[Any]
SliceScorer = Callable[..., SliceResult]
"""A function with ``slice_metrics``'s signature."""


def slice_metrics(
    y_true: _Array,
    y_pred: _Array,
    labels: Sequence[str],
    values: Sequence[str] | _Array,
    *,
    column: str,
    kind: str = "column",
    min_size: int = DEFAULT_MIN_SLICE_SIZE,
    n_bootstrap: int = 1000,
    seed: int = 0,
    order: Sequence[str] | None = None,
    descriptions: Mapping[str, str] | None = None,
    note: str | None = None,
) -> SliceResult:
    """Rows, accuracy, macro-F1 and per-class recall for each value of ``values`` (one per
    row), and the largest gap between slices of at least ``min_size`` rows.

    Values come in ``order`` when given, else by rows (most first). CIs use at most
    MAX_SLICE_BOOTSTRAP resamples; a class's recall CI leaves out the resamples without its
    gold rows (counted in ``undefined_resamples``). Macro-F1 averages over the labels present
    in the slice's gold or predicted labels, as scikit-learn does.
    """
    names, cms = slice_counts(y_true, y_pred, len(labels), values)
    return slice_metrics_from_counts(
        names,
        cms,
        labels,
        column=column,
        kind=kind,
        min_size=min_size,
        n_bootstrap=n_bootstrap,
        seed=seed,
        order=order,
        descriptions=descriptions,
        note=note,
    )


def slice_counts(
    y_true: _Array, y_pred: _Array, k: int, values: Sequence[str] | _Array
) -> tuple[list[str], NDArray[np.int64]]:
    """The distinct slice values (sorted) and each one's confusion matrix (S, K, K)."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    names, inverse = np.unique(np.asarray(values, dtype=object).astype(str), return_inverse=True)
    cms = np.bincount((inverse * k + y_true) * k + y_pred, minlength=len(names) * k * k).reshape(
        len(names), k, k
    )
    return [str(name) for name in names], cms


def slice_metrics_from_counts(
    names: Sequence[str],
    cms: NDArray[np.int64],
    labels: Sequence[str],
    *,
    column: str,
    kind: str = "column",
    min_size: int = DEFAULT_MIN_SLICE_SIZE,
    n_bootstrap: int = 1000,
    seed: int = 0,
    order: Sequence[str] | None = None,
    descriptions: Mapping[str, str] | None = None,
    note: str | None = None,
) -> SliceResult:
    """``slice_metrics`` from each slice's confusion matrix (``cms[i]`` for ``names[i]``).
    Slices without rows are left out."""
    cms = np.asarray(cms, dtype=np.int64).reshape(len(names), len(labels), len(labels))
    rng = np.random.default_rng(seed)
    n_bootstrap = min(n_bootstrap, MAX_SLICE_BOOTSTRAP)
    point = confusion_metrics(cms)
    recall = per_class_scores(cms)["recall"]

    def measure(i: int) -> tuple[dict[str, Any], dict[str, NDArray[np.float64]] | None]:
        present = np.flatnonzero(cms[i].sum(axis=1))
        points = [point["accuracy"][i], point["macro_f1"][i], *recall[i, present]]
        reps = _replicates(cms[i], n_bootstrap, rng) if n_bootstrap > 0 else None
        stack = (
            None
            if reps is None
            else np.vstack([reps["accuracy"], reps["macro_f1"], reps["recall"].T[present]])
        )
        accuracy, macro_f1, *recalls = bootstrap_metrics(points, stack)
        recall_of = {labels[int(c)]: m for c, m in zip(present, recalls, strict=True)}
        return {"accuracy": accuracy, "macro_f1": macro_f1, "recall": recall_of}, reps

    return measured_slices(
        names, cms.sum(axis=(1, 2)), measure, column=column, kind=kind, min_size=min_size,
        order=order, descriptions=descriptions, note=note,
    )  # fmt: skip


SliceMeasure = Callable[[int], tuple[dict[str, Any], dict[str, NDArray[np.float64]] | None]]
"""Slice ``i``'s metrics (``SliceValue`` fields) and bootstrap replicates (None without)."""


def measured_slices(
    names: Sequence[str],
    rows: NDArray[Any],
    measure: SliceMeasure,
    *,
    column: str,
    kind: str,
    min_size: int,
    order: Sequence[str] | None,
    descriptions: Mapping[str, str] | None,
    note: str | None,
) -> SliceResult:
    """The slices ``rank_slices`` reports, each measured by ``measure``, and the largest gaps
    between those of at least ``min_size`` rows."""
    out: list[SliceValue] = []
    replicates: dict[str, dict[str, NDArray[np.float64]]] = {}
    for i in rank_slices(names, rows, order):
        value = str(names[i])
        metrics, reps = measure(i)
        out.append(
            SliceValue(
                value=value,
                rows=int(rows[i]),
                small=bool(rows[i] < min_size),
                description=(descriptions or {}).get(value),
                **metrics,
            )
        )
        if reps is not None:
            replicates[value] = reps
    return SliceResult(
        column=column,
        kind=kind,
        min_size=min_size,
        values=out,
        gaps=slice_gaps(out, replicates),
        note=note,
    )


def rank_slices(
    names: Sequence[str], rows: NDArray[Any], order: Sequence[str] | None
) -> list[int]:
    """Positions in ``names`` of the slices to report, those without rows left out: in
    ``order`` when given, else by rows (most first), then by name."""
    position = {str(name): i for i, name in enumerate(names) if rows[i]}
    if order is not None:
        return [position[v] for v in order if v in position]
    return sorted(position.values(), key=lambda i: (-rows[i], str(names[i])))


def _replicates(
    cm: NDArray[np.int64], n_bootstrap: int, rng: np.random.Generator
) -> dict[str, Any]:
    """Bootstrap replicates of a slice's metrics: a multinomial over its non-empty cells. A
    class's recall is NaN in a resample without its gold rows (undefined, not 0)."""
    flat = cm.ravel()
    n = int(flat.sum())
    nonzero = np.flatnonzero(flat)
    draws = np.zeros((n_bootstrap, flat.size), dtype=np.int64)
    draws[:, nonzero] = rng.multinomial(n, flat[nonzero] / n, size=n_bootstrap)
    stack = draws.reshape(n_bootstrap, *cm.shape)
    metrics = confusion_metrics(stack)
    return {
        **{name: metrics[name] for name in SLICE_METRICS},
        "recall": per_class_scores(stack, zero_division=np.nan)["recall"],
    }


def slice_gaps(
    values: list[SliceValue], replicates: dict[str, dict[str, NDArray[np.float64]]]
) -> dict[str, SliceGap]:
    """Best minus worst slice (of at least the minimum size) per metric; its CI resamples the
    two slices independently."""
    ranked = [v for v in values if not v.small]
    if len(ranked) < 2:
        return {}
    gaps = {}
    for name in GAP_METRICS:
        worst = min(ranked, key=lambda v: getattr(v, name).value)
        best = max(ranked, key=lambda v: getattr(v, name).value)
        diff = getattr(best, name).value - getattr(worst, name).value
        reps = (
            replicates[best.value][name] - replicates[worst.value][name]
            if best.value in replicates and worst.value in replicates
            else None
        )
        (gap,) = bootstrap_metrics([diff], reps)
        gaps[name] = SliceGap(name, gap, worst=worst.value, best=best.value)
    return gaps


def length_buckets(
    values: _Array, counts: _Array, unit: str
) -> tuple[NDArray[np.int64], dict[int, str], dict[str, str]]:
    """Input-length quartiles from a histogram of lengths (distinct ``values``, their rows
    ``counts``): the edges, each used bucket's name (``Q1`` .. ``Q4``; fewer when lengths tie)
    and what each spans (``"12-38 tokens"``). A length's bucket is
    ``np.searchsorted(edges, length)``: the number of edges below it. The edges are exactly
    ``np.quantile(lengths, [0.25, 0.5, 0.75], method="lower")`` of the rows."""
    values, counts = np.asarray(values, dtype=np.int64), np.asarray(counts, dtype=np.int64)
    order = np.argsort(values, kind="stable")
    keep = counts[order] > 0
    values, counts = values[order][keep], counts[order][keep]
    n = int(counts.sum())
    if not n:
        return np.zeros(0, dtype=np.int64), {}, {}
    positions = np.floor((n - 1) * np.array(QUARTILES)).astype(np.intp)  # numpy's "lower"
    edges = np.unique(values[np.searchsorted(np.cumsum(counts), positions, side="right")])
    bucket = np.searchsorted(edges, values, side="left")
    names = {int(b): f"Q{i + 1}" for i, b in enumerate(np.unique(bucket))}
    spans = {}
    for b, name in names.items():
        inside = values[bucket == b]
        low, high = int(inside.min()), int(inside.max())
        spans[name] = f"{low} {unit}" if low == high else f"{low}-{high} {unit}"
    return edges, names, spans


def length_quartiles(lengths: _Array, unit: str) -> tuple[list[str], list[str], dict[str, str]]:
    """Each row's input-length quartile (``Q1`` .. ``Q4``; fewer when lengths tie), the
    quartiles in order, and what each spans (``"12-38 tokens"``)."""
    lengths = np.asarray(lengths, dtype=np.int64)
    edges, names, spans = length_buckets(*np.unique(lengths, return_counts=True), unit)
    bucket = np.searchsorted(edges, lengths, side="left")
    return [names[int(b)] for b in bucket], list(names.values()), spans


def automatic_slices(
    y_true: _Array,
    y_pred: _Array,
    labels: Sequence[str],
    *,
    lengths: _Array,
    unit: str,
    truncated: _Array | None,
    max_length: int | None,
    min_size: int,
    n_bootstrap: int,
    seed: int,
    scorer: SliceScorer | None = None,
) -> dict[str, SliceResult]:
    """The slices computed without asking: input-length quartiles, and truncated vs not when
    the model truncates (a note instead when nothing was truncated). ``scorer`` computes a
    column's slices (``slice_metrics``'s signature): ``slice_metrics`` for one label per row,
    ``label_set_slice_metrics`` for label sets."""
    score = scorer or slice_metrics
    values, order, spans = length_quartiles(lengths, unit)
    note = (
        "Length in words (split on whitespace): this model does not report token counts."
        if unit == "words"
        else None
    )
    common: dict[str, Any] = {"min_size": min_size, "n_bootstrap": n_bootstrap}
    out = {
        LENGTH_SLICE: score(
            y_true, y_pred, labels, values, column=LENGTH_SLICE, kind="length", seed=seed,
            order=order, descriptions=spans, note=note, **common,
        )  # fmt: skip
    }
    if truncated is None:
        return out
    flags = np.asarray(truncated, dtype=bool)
    if flags.any():
        out[TRUNCATED_SLICE] = score(
            y_true, y_pred, labels, _yes_no(flags), column=TRUNCATED_SLICE, kind="truncated",
            seed=seed + 1, order=["no", "yes"],
            descriptions={"yes": f"over {max_length} tokens, cut", "no": "kept whole"}, **common,
        )  # fmt: skip
    else:
        out[TRUNCATED_SLICE] = SliceResult(
            TRUNCATED_SLICE,
            "truncated",
            min_size,
            values=[],
            note=f"No input was longer than {max_length} tokens: nothing was truncated.",
        )
    return out


def row_lengths(
    input_lengths: _Array | None,
    max_length: int | None,
    texts: Sequence[str],
    text_pairs: Sequence[str] | None,
) -> tuple[NDArray[np.int64], str, NDArray[np.bool_] | None]:
    """Each row's length, its unit and whether it was truncated: the model's token counts
    (truncated past ``max_length``), else whitespace words of both texts (no truncation)."""
    if input_lengths is not None:
        lengths = np.asarray(input_lengths, dtype=np.int64)
        return lengths, "tokens", (lengths > max_length if max_length is not None else None)
    lengths = np.fromiter((len(t.split()) for t in texts), np.int64, len(texts))
    if text_pairs is not None:
        lengths += np.fromiter((len(t.split()) for t in text_pairs), np.int64, len(texts))
    return lengths, "words", None


def _yes_no(flags: _Array) -> NDArray[np.str_]:
    """The truncated slice's value of each row: ``yes`` or ``no``."""
    return np.where(np.asarray(flags, dtype=bool), "yes", "no")
