"""Analyses of a finished run, from the predictions already in memory: slices (metrics per
group) and error analysis (confused pairs, label issue candidates).

``analyse`` is the one call ``evaluate`` makes; its parts are functions of arrays so other
engines can call them on merged predictions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from cardgen.analysis.failures import analyse_failures, confused_pairs, label_issues
from cardgen.analysis.slices import (
    AUTOMATIC_SLICES,
    DEFAULT_MIN_SLICE_SIZE,
    automatic_slices,
    length_quartiles,
    row_lengths,
    slice_metrics,
)
from cardgen.errors import DataError, UsageError
from cardgen.results.schema import FailureAnalysis, SliceResult
from cardgen.trust.untrusted import quote

__all__ = [
    "AUTOMATIC_SLICES",
    "DEFAULT_MIN_SLICE_SIZE",
    "Analysis",
    "AnalysisOptions",
    "analyse",
    "analyse_failures",
    "analysis_options",
    "confused_pairs",
    "label_issues",
    "length_quartiles",
    "slice_metrics",
]


@dataclass(frozen=True)
class AnalysisOptions:
    """What the user asked of the analysis: columns to slice by, the smallest slice that is
    ranked, and whether example texts may be written (``examples=False`` keeps every text out
    of results, predictions and card)."""

    slice_by: tuple[str, ...] = ()
    min_slice_size: int = DEFAULT_MIN_SLICE_SIZE
    examples: bool = True


def analysis_options(
    slice_by: Sequence[str] = (),
    min_slice_size: int = DEFAULT_MIN_SLICE_SIZE,
    examples: bool = True,
) -> AnalysisOptions:
    """Checked options; UsageError names the bad one before any work starts."""
    if isinstance(slice_by, str):
        slice_by = [slice_by]
    for name in slice_by:
        if not isinstance(name, str) or not name.strip():
            raise UsageError(f"--slice-by must name a dataset column, got {quote(name)}")
        if name in AUTOMATIC_SLICES:
            raise UsageError(
                f"--slice-by {quote(name)}: {name} is an automatic slice, computed without "
                "asking; rename the dataset column to slice by it"
            )
    if (
        isinstance(min_slice_size, bool)
        or not isinstance(min_slice_size, int)
        or (min_slice_size < 1)
    ):
        raise UsageError(
            f"--min-slice-size must be a positive integer, got {quote(min_slice_size)}"
        )
    if not isinstance(examples, bool):
        raise UsageError(f"examples must be True or False, got {quote(examples)}")
    return AnalysisOptions(tuple(dict.fromkeys(slice_by)), min_slice_size, examples)


@dataclass
class Analysis:
    """The analysis of a run, plus the per-row details ``predictions.jsonl`` gains."""

    slices: dict[str, SliceResult]
    failures: FailureAnalysis
    lengths: NDArray[np.int64]
    length_unit: str
    truncated: NDArray[np.bool_] | None
    columns: dict[str, list[str]] = field(default_factory=dict)
    texts: Sequence[str] | None = None
    text_pairs: Sequence[str] | None = None

    def row(self, i: int) -> dict[str, Any]:
        """What row ``i`` of ``predictions.jsonl`` gains: its texts (with examples on), length,
        truncation and slice values."""
        out: dict[str, Any] = {}
        if self.texts is not None:
            out["text"] = self.texts[i]
            if self.text_pairs is not None:
                out["text_pair"] = self.text_pairs[i]
        out[f"length_{self.length_unit}"] = int(self.lengths[i])
        if self.truncated is not None:
            out["truncated"] = bool(self.truncated[i])
        if self.columns:
            out["slices"] = {name: values[i] for name, values in self.columns.items()}
        return out


def analyse(
    y_true: NDArray[Any],
    y_pred: NDArray[Any],
    scores: NDArray[np.float64],
    labels: Sequence[str],
    *,
    texts: Sequence[str],
    text_pairs: Sequence[str] | None,
    columns: Mapping[str, list[str]],
    input_lengths: NDArray[np.int64] | None,
    max_length: int | None,
    score_kind: str,
    options: AnalysisOptions,
    n_bootstrap: int,
    seed: int,
) -> Analysis:
    """Slices (asked-for columns, then the automatic ones) and the failure analysis.

    Without ``input_lengths`` (scikit-learn pipelines) lengths are whitespace word counts and
    there is no truncation slice. DataError when a slice column is not in ``columns``.
    """
    missing = [name for name in options.slice_by if name not in columns]
    if missing:
        raise DataError(
            f"slice column {quote(missing[0])} was not loaded with the data; loaded columns "
            f"are: {quote(sorted(columns))} (pass slice_columns= to load_data)"
        )
    lengths, unit, truncated = row_lengths(input_lengths, max_length, texts, text_pairs)
    min_size = options.min_slice_size
    slices = {
        name: slice_metrics(
            y_true,
            y_pred,
            labels,
            columns[name],
            column=name,
            min_size=min_size,
            n_bootstrap=n_bootstrap,
            seed=seed + i,
        )
        for i, name in enumerate(options.slice_by)
    }
    slices.update(
        automatic_slices(
            y_true,
            y_pred,
            labels,
            lengths=lengths,
            unit=unit,
            truncated=truncated,
            max_length=max_length,
            min_size=min_size,
            n_bootstrap=n_bootstrap,
            seed=seed + len(slices),
        )
    )
    shown = texts if options.examples else None
    failures = analyse_failures(
        y_true,
        y_pred,
        scores,
        labels,
        score_kind=score_kind,
        texts=shown,
        text_pairs=text_pairs if options.examples else None,
    )
    return Analysis(
        slices=slices,
        failures=failures,
        lengths=lengths,
        length_unit=unit,
        truncated=truncated,
        columns={name: columns[name] for name in options.slice_by},
        texts=shown,
        text_pairs=text_pairs if options.examples else None,
    )
