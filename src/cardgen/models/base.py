"""The protocol every model adapter implements."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np
from numpy.typing import NDArray

from cardgen.errors import ModelError
from cardgen.results.schema import ModelInfo
from cardgen.trust.untrusted import quote

ScoreKind = Literal["probability", "decision", "label"]


@dataclass
class RunStats:
    """How a prediction run went: what ``Timing`` in the results is made of.

    ``input_lengths`` are the tokens of each input before truncation, in input order, when the
    model tokenizes (None for scikit-learn pipelines). An exact-fast run (``dtype``
    ``bfloat16+float32-recheck``) re-ran ``rechecked`` rows in float32: those within
    ``recheck_bound`` of a tie or threshold (``cardgen.models.precision``).
    """

    device: str
    dtype: str
    batch_size: int
    wall_seconds: float
    tokens: int | None = None
    padded_tokens: int | None = None
    truncated: int = 0
    max_length: int | None = None
    input_lengths: NDArray[np.int64] | None = None
    rechecked: int | None = None
    recheck_bound: float | None = None


class TextClassifier(Protocol):
    """A text classifier: ordered labels, scores per label, and a description of itself.

    ``score_kind`` says what the scores are: class probabilities, monotone decision scores
    (softmaxed, so usable for ranking but not calibration), or one-hot predicted labels.
    """

    labels: list[str]
    score_kind: ScoreKind

    def predict_scores(
        self,
        texts: Sequence[str],
        *,
        batch_size: int | None = None,
        progress: bool = False,
        text_pairs: Sequence[str] | None = None,
    ) -> tuple[NDArray[np.float64], RunStats]:
        """Scores (n, labels) in input order; with ``text_pairs``, row i is the pair
        (``texts[i]``, ``text_pairs[i]``). Callers pass ``text_pairs`` only for pair data."""
        ...

    def info(self) -> ModelInfo: ...


def declared_multi_label(model: object) -> bool | None:
    """Whether ``model`` says it is multi-label (sigmoid per label: True) or single-label
    (False); None when it does not say (a transformers config without ``problem_type``).

    A model without a ``multi_label`` attribute is single-label. A multi-label model's
    ``predict_scores`` gives each label's own probability.
    """
    value = getattr(model, "multi_label", False)
    return value if value is None else bool(value)


def with_thresholds(model: TextClassifier, thresholds: NDArray[np.float64]) -> TextClassifier:
    """``model`` deciding label sets at ``thresholds`` (one per model label), so that an
    exact-fast model rechecks the rows near them; a model that does not recheck as it is."""
    if not hasattr(model, "decision_thresholds"):
        return model
    model = copy.copy(model)
    model.decision_thresholds = np.asarray(thresholds, dtype=np.float64)
    return model


def one_line(exc: BaseException, limit: int = 300) -> str:
    """An exception's message on one line, cut to ``limit`` characters, for error messages."""
    line = " ".join(str(exc).split()) or type(exc).__name__
    return line if len(line) <= limit else f"{line[: limit - 1]}…"


def check_finite(scores: NDArray[np.float64], *, model: str, hint: str = "") -> None:
    """ModelError when any score is NaN or infinite: metrics on them would be quietly wrong."""
    if not scores.size:
        return
    bad = np.flatnonzero(~np.isfinite(scores).all(axis=1))
    if len(bad):
        raise ModelError(
            f"model {quote(model)} gave NaN or infinite scores for {len(bad):,} of "
            f"{len(scores):,} texts (the first is text {int(bad[0]) + 1}); its weights are likely "
            f"corrupt (they hold NaN or inf values){hint}; export the model again from a good "
            "checkpoint"
        )
