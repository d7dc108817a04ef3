"""What every engine hands to the evaluation: the rows it predicted, their scores, and how the
run went. Engines compute no metrics; everything after ``Predicted`` is engine-blind."""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from cardgen import __version__
from cardgen.data.labels import Alignment
from cardgen.data.load import EvalData
from cardgen.models.base import RunStats, TextClassifier
from cardgen.results.schema import Timing

LIBRARIES = ("torch", "transformers", "tokenizers", "scikit-learn", "skops", "numpy", "datasets")


@dataclass
class Predicted:
    """An engine's predictions of ``data``, in row order.

    ``scores`` are (rows, labels) in the alignment's label order; ``stats.input_lengths`` holds
    each input's tokens before truncation (None when the model has no tokenizer). With
    ``predictions_file``, the engine already wrote the per-example predictions into the run
    directory under that name (Spark's Parquet); otherwise the evaluation writes them.
    """

    data: EvalData
    scores: NDArray[np.float64]
    stats: RunStats
    timing: Timing
    environment: dict[str, str] = field(default_factory=dict)
    predictions_file: str | None = None



class Engine(Protocol):
    """Where a model runs: it reads the data, loads the model and predicts, nothing more."""

    name: str

    def load_data(
        self,
        dataset: Any,
        *,
        split: str | None = None,
        config: str | None = None,
        text_column: str | None = None,
        text_pair_column: str | None = None,
        label_column: str | None = None,
        limit: int | None = None,
        sample: bool = False,
        seed: int = 0,
        slice_columns: tuple[str, ...] = (),
        label_format: str | None = None,
    ) -> EvalData:
        """The dataset's rows (``cardgen.data.load.load_data``'s options), or on a cluster
        its header (labels, info) with the rows left there until ``predict``."""

    def load_model(self, model: str | Path | TextClassifier, **options: Any) -> TextClassifier:
        """The model, able to predict extra texts (robustness edits, probe fills) here too."""

    def predict(
        self,
        model: TextClassifier,
        data: EvalData,
        alignment: Alignment,
        *,
        batch_size: int | None,
        progress: bool,
        out: Path | None,
        examples: bool,
        limits: NDArray[np.float64] | None = None,
    ) -> Predicted:
        """Every row of ``data`` scored, in the alignment's label order. ``limits``: a
        multi-label run's threshold per label (same order), for predictions files that list
        each row's predicted labels; None for one label per row."""
        ...


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
        rechecked=stats.rechecked,
        recheck_bound=stats.recheck_bound,
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
