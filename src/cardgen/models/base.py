"""The protocol every model adapter implements."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np
from numpy.typing import NDArray

from ..results import ModelInfo

ScoreKind = Literal["probability", "decision", "label"]


@dataclass
class RunStats:
    """How a prediction run went: what ``Timing`` in the results is made of."""

    device: str
    dtype: str
    batch_size: int
    wall_seconds: float
    tokens: int | None = None
    padded_tokens: int | None = None
    truncated: int = 0
    max_length: int | None = None


class TextClassifier(Protocol):
    """A text classifier: ordered labels, scores per label, and a description of itself.

    ``score_kind`` says what the scores are: class probabilities, monotone decision scores
    (softmaxed, so usable for ranking but not calibration), or one-hot predicted labels.
    """

    labels: list[str]
    score_kind: ScoreKind

    def predict_scores(
        self, texts: Sequence[str], *, batch_size: int | None = None, progress: bool = False
    ) -> tuple[NDArray[np.float64], RunStats]: ...

    def info(self) -> ModelInfo: ...
