"""The fields of a run that every task records the same way: what ran, on which data and
labels, where, when and by which cardgen; and the note every task gives on rough intervals."""

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


ROUGH_BOOTSTRAP = 100
"""Fewer resamples leave the ends of a 95% percentile interval on a handful of draws each."""


def bootstrap_notes(n_bootstrap: int) -> list[str]:
    """A note for the run when its confidence intervals rest on too few resamples."""
    if not 0 < n_bootstrap < ROUGH_BOOTSTRAP:
        return []
    return [
        f"the 95% confidence intervals rest on only {n_bootstrap} bootstrap resamples, too "
        "few for their ends to be stable; keep the default --bootstrap 10000 for intervals to "
        "publish"
    ]
