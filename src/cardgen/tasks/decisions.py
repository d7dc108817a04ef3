"""How a task turns scores into decisions: the top label (single-label), or every label whose
score reaches its threshold (multi-label). Analyses that compare predictions (robustness
flips, probe flips) work on decision codes and never on argmax directly."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

Codes = NDArray[Any]
"""One decision per row, comparable with ``==``: label indices, or packed label sets."""


@dataclass(frozen=True)
class Decider:
    """Decisions over ``labels``; with ``thresholds`` (one per label), multi-label ones."""

    labels: tuple[str, ...]
    thresholds: NDArray[np.float64] | None = None

    @property
    def multi_label(self) -> bool:
        return self.thresholds is not None

    def decide(self, scores: NDArray[np.float64]) -> Codes:
        """Each row's decision code: its top label, or its set of labels at threshold."""
        if self.thresholds is None:
            return np.asarray(scores).argmax(axis=1)
        return pack(np.asarray(scores) >= self.thresholds[None, :])

    def gold(self, gold: NDArray[Any]) -> Codes:
        """Gold codes comparable with ``decide``'s: label indices, or a (rows, labels) bool
        matrix packed."""
        return np.asarray(gold) if self.thresholds is None else pack(np.asarray(gold, dtype=bool))

    def name(self, code: Any) -> str:
        """A decision in words: its label, or its labels joined ("(none)" for the empty set)."""
        if self.thresholds is None:
            return self.labels[int(code)]
        bits = np.unpackbits(np.frombuffer(bytes(code), dtype=np.uint8))[: len(self.labels)]
        return ", ".join(self.labels[i] for i in np.flatnonzero(bits)) or "(none)"

    def gold_scores(self, scores: NDArray[np.float64], gold: Codes) -> NDArray[np.float64]:
        """How much each row's scores back its gold decision: the gold label's probability,
        or for label sets the mean over labels of the score on the gold side (p for a gold
        label, 1 - p for the others)."""
        scores = np.asarray(scores, dtype=np.float64)
        if self.thresholds is None:
            return scores[np.arange(len(scores)), np.asarray(gold, dtype=np.int64)]
        bits = unpack(gold, len(self.labels))
        return np.where(bits, scores, 1 - scores).mean(axis=1)


def pack(bits: NDArray[np.bool_]) -> Codes:
    """Rows of a bool matrix as one comparable code each (a fixed-width byte string)."""
    packed = np.ascontiguousarray(np.packbits(bits, axis=1))
    if packed.shape[1] == 0:  # no labels: every row the same empty set
        packed = np.zeros((bits.shape[0], 1), dtype=np.uint8)
    return packed.view(np.dtype((np.void, packed.shape[1]))).reshape(-1)


def unpack(codes: Codes, k: int) -> NDArray[np.bool_]:
    """``pack``'s inverse: the (rows, ``k``) bool matrix."""
    raw = np.frombuffer(np.ascontiguousarray(codes).tobytes(), dtype=np.uint8)
    return np.unpackbits(raw.reshape(len(codes), -1), axis=1)[:, :k].astype(bool)


def single_label(labels: Sequence[str]) -> Decider:
    """The single-label decider over ``labels``."""
    return Decider(tuple(labels))
