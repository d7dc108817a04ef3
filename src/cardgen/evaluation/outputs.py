"""What a finished run writes (predictions, plots, ``results.json``) and records about itself
(timing, hardware, library versions)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from cardgen.analysis import Analysis
from cardgen.results.schema import PREDICTIONS_FILE, EvalResults
from cardgen.trust.atomic import write_jsonl

SLICES_PLOT = "slices.png"


def write_outputs(
    results: EvalResults,
    y_true: np.ndarray[Any, Any],
    y_pred: np.ndarray[Any, Any],
    scores: np.ndarray[Any, Any],
    output_dir: Path,
    analysis: Analysis | None = None,
    *,
    row_ids: Sequence[int] | None = None,
) -> None:
    """Predictions, plots, then ``results.json`` last, each written atomically.

    With ``analysis``, each prediction row gains its text (unless examples are off), length,
    truncation and slice values, and the slice plot is drawn. A row's ``index`` is its row in
    the source: ``row_ids[i]`` (``EvalData.row_ids``), or its position without them.
    """
    labels = results.labels

    def extra(i: int) -> dict[str, Any]:
        return analysis.row(i) if analysis is not None else {}

    write_jsonl(
        output_dir / PREDICTIONS_FILE,
        (
            {
                "index": i if row_ids is None else row_ids[i],
                "gold": labels[t],
                "predicted": labels[p],
                "probabilities": {
                    label: float(s) for label, s in zip(labels, row, strict=True)
                },
                **extra(i),
            }
            for i, (t, p, row) in enumerate(zip(y_true, y_pred, scores, strict=True))
        ),
    )
    results.files["predictions"] = PREDICTIONS_FILE
    save_plots_and_results(results, output_dir)


def save_plots_and_results(results: EvalResults, output_dir: Path) -> None:
    """The plots of ``results``, then ``results.json`` last, each written atomically."""
    from cardgen.display.plots import confusion_matrix_figure, reliability_figure, save_figure

    save_figure(
        confusion_matrix_figure(results.confusion_matrix), output_dir / "confusion_matrix.png"
    )
    results.files["confusion_matrix"] = "confusion_matrix.png"
    if results.calibration is not None:
        figure = reliability_figure(results.calibration, n_classes=len(results.labels))
        save_figure(figure, output_dir / "reliability.png")
        results.files["reliability"] = "reliability.png"
    save_slices_plot(results, output_dir)
    results.save(output_dir)


def save_slices_plot(results: EvalResults, output_dir: Path) -> None:
    """The slice plot, when any slice has values: accuracy per slice (subset accuracy for a
    multi-label run) against the overall value."""
    if not any(s.values for s in results.slices.values()):
        return
    from cardgen.analysis.plots import slices_figure
    from cardgen.display.plots import save_figure

    name = "subset_accuracy" if results.task == "multi_label" else "accuracy"
    overall = results.metrics[name].value if name in results.metrics else None
    title = name.replace("_", " ")
    figure = slices_figure(list(results.slices.values()), overall=overall, title=title)
    save_figure(figure, output_dir / SLICES_PLOT)
    results.files["slices"] = SLICES_PLOT
