"""What a finished run writes (predictions, plots, ``results.json``) and records about itself
(timing, hardware, library versions)."""

from __future__ import annotations

import os
import platform
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from cardgen import __version__
from cardgen.analysis import Analysis
from cardgen.models.base import RunStats
from cardgen.results.schema import PREDICTIONS_FILE, EvalResults, Timing
from cardgen.trust.atomic import write_jsonl

SLICES_PLOT = "slices.png"
LIBRARIES = ("torch", "transformers", "tokenizers", "scikit-learn", "skops", "numpy", "datasets")


def write_outputs(
    results: EvalResults,
    y_true: np.ndarray[Any, Any],
    y_pred: np.ndarray[Any, Any],
    scores: np.ndarray[Any, Any],
    output_dir: Path,
    analysis: Analysis | None = None,
) -> None:
    """Predictions, plots, then ``results.json`` last, each written atomically.

    With ``analysis``, each prediction row gains its text (unless examples are off), length,
    truncation and slice values, and the slice plot is drawn.
    """
    labels = results.labels

    def extra(i: int) -> dict[str, Any]:
        return analysis.row(i) if analysis is not None else {}

    write_jsonl(
        output_dir / PREDICTIONS_FILE,
        (
            {
                "index": i,
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
    if any(s.values for s in results.slices.values()):
        from cardgen.analysis.plots import slices_figure

        overall = results.metrics["accuracy"].value if "accuracy" in results.metrics else None
        figure = slices_figure(list(results.slices.values()), overall=overall)
        save_figure(figure, output_dir / SLICES_PLOT)
        results.files["slices"] = SLICES_PLOT
    results.save(output_dir)


def run_timing(stats: RunStats, n: int) -> Timing:
    """Speeds and batching of a run of ``n`` examples, from the model's run statistics."""
    seconds = max(stats.wall_seconds, 1e-9)
    return Timing(
        device=stats.device,
        dtype=stats.dtype,
        batch_size=stats.batch_size,
        wall_seconds=round(stats.wall_seconds, 4),
        examples_per_second=round(n / seconds, 2),
        tokens_per_second=round(stats.tokens / seconds, 2) if stats.tokens is not None else None,
        padding_ratio=(
            round(1 - stats.tokens / stats.padded_tokens, 4)
            if stats.tokens and stats.padded_tokens
            else None
        ),
        truncated=stats.truncated,
        max_length=stats.max_length,
        hardware=hardware_name(stats.device),
    )


def hardware_name(device: str) -> str:
    """The GPU's name, or the CPU model and its core count."""
    if device.startswith("cuda"):
        import torch

        return torch.cuda.get_device_name(torch.device(device))
    name = platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            name = next(
                (line.split(":", 1)[1].strip() for line in handle if line.startswith("model name")),
                name,
            )
    except OSError:
        pass
    return f"{name}, {os.cpu_count()} CPU cores"


def run_environment() -> dict[str, str]:
    """Versions of Python, cardgen and the libraries results depend on."""
    versions = {"python": platform.python_version(), "cardgen": __version__}
    for name in LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions
