"""The fields of a run that every task records the same way: what ran, on which data and
labels, where, when and by which cardgen."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from cardgen import __version__
from cardgen.data.labels import Alignment
from cardgen.engines.base import Predicted
from cardgen.models import TextClassifier


def run_record(
    model: TextClassifier, predicted: Predicted, alignment: Alignment, seed: int
) -> dict[str, Any]:
    """``EvalResults`` keywords shared by single-label and multi-label runs."""
    return {
        "model": model.info(),
        "dataset": predicted.data.info,
        "label_mapping": alignment.mapping,
        "labels": alignment.labels,
        "timing": predicted.timing,
        "environment": predicted.environment,
        "seed": seed,
        "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "cardgen_version": __version__,
    }
