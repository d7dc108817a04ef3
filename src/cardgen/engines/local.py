"""The local engine: data read in this process, the model run here with its own batching."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from cardgen.data.labels import Alignment
from cardgen.data.load import EvalData, load_data
from cardgen.engines.base import Predicted, run_environment, run_timing
from cardgen.models import TextClassifier, load_model


class LocalEngine:
    """Reads data with ``cardgen.data`` and predicts with the model in this process."""

    name = "local"

    def load_data(self, dataset: Any, **options: Any) -> EvalData:
        """``dataset`` read by ``cardgen.data.load.load_data(dataset, **options)``, or as given."""
        return dataset if isinstance(dataset, EvalData) else load_data(dataset, **options)

    def load_model(self, model: str | Path | TextClassifier, **options: Any) -> TextClassifier:
        """``model`` loaded by ``cardgen.models.load_model(model, **options)`` (or as given)."""
        return load_model(model, **options) if isinstance(model, (str, Path)) else model

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
        """Every row of ``data`` scored by ``model``, in the alignment's label order."""
        if data.text_pairs is None:  # custom classifiers may not know the text_pairs option
            raw, stats = model.predict_scores(data.texts, batch_size=batch_size, progress=progress)
        else:
            raw, stats = model.predict_scores(
                data.texts, batch_size=batch_size, progress=progress, text_pairs=data.text_pairs
            )
        timing = run_timing(stats, len(data.texts))
        return Predicted(data, alignment.reorder(raw), stats, timing, run_environment())
