"""Where a model fails: its most confused label pairs with their most confident mistakes, and
rows whose gold label may itself be wrong (confident learning, Northcutt et al., 2021).

Label issues are *candidates to review*: the model disagrees with the gold label confidently,
which is as often the model's fault as the label's. Nothing here changes a label.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from cardgen.results.schema import ConfusedPair, FailureAnalysis, FailureExample, LabelIssues
from cardgen.tasks.metrics import confusion_counts

MAX_PAIRS = 5
EXAMPLES_PER_PAIR = 3
MAX_ISSUE_EXAMPLES = 10
MAX_EXAMPLE_CHARS = 500
"""Example texts are cut to this many characters in the results and the card."""

_Array = NDArray[Any]


def confident_thresholds(y_true: _Array, probs: NDArray[np.float64]) -> NDArray[np.float64]:
    """Per class j, the mean predicted probability of j over the rows whose gold label is j
    (inf for a class without gold rows: no row is confidently of it)."""
    k = probs.shape[1]
    counts = np.bincount(y_true, minlength=k)
    sums = np.bincount(y_true, weights=probs[np.arange(len(y_true)), y_true], minlength=k)
    out = np.full(k, np.inf)
    np.divide(sums, counts, out=out, where=counts > 0)
    return out


def confident_labels(
    probs: NDArray[np.float64], thresholds: NDArray[np.float64]
) -> NDArray[np.int64]:
    """Each row's confident class: of the classes whose probability reaches their threshold,
    the most probable; -1 when none does (the row stays out of the confident joint)."""
    above = probs >= thresholds
    best = np.where(above, probs, -np.inf).argmax(axis=1)
    return np.where(above.any(axis=1), best, -1)


def label_issues(
    y_true: _Array,
    probs: NDArray[np.float64],
    labels: Sequence[str],
    *,
    texts: Sequence[str] | None = None,
    text_pairs: Sequence[str] | None = None,
    limit: int = MAX_ISSUE_EXAMPLES,
) -> LabelIssues:
    """The off-diagonal of the confident joint, less the rows the model predicts as labelled:
    rows whose confident class is not their gold label, and whose gold label is not the most
    probable class (a tie counts as the gold label), as cleanlab's ``find_label_issues``
    requires. Examples are the candidates the model is least sure of their gold label."""
    y_true = np.asarray(y_true)
    thresholds = confident_thresholds(y_true, probs)
    suggested = confident_labels(probs, thresholds)
    gold_prob = probs[np.arange(len(y_true)), y_true]
    predicted_as_labelled = gold_prob >= probs.max(axis=1)
    rows = np.flatnonzero((suggested >= 0) & (suggested != y_true) & ~predicted_as_labelled)
    ranked = rows[np.argsort(gold_prob[rows], kind="stable")]
    k = len(labels)
    joint = np.bincount(y_true[rows] * k + suggested[rows], minlength=k * k).reshape(k, k)
    return issues_from_joint(
        joint,
        len(y_true),
        thresholds,
        labels,
        [
            _example(int(i), y_true, suggested, probs, labels, texts, text_pairs)
            for i in ranked[:limit]
        ],
    )


def issues_from_joint(
    joint: NDArray[np.int64],
    n: int,
    thresholds: NDArray[np.float64],
    labels: Sequence[str],
    examples: list[FailureExample],
) -> LabelIssues:
    """LabelIssues from the off-diagonal confident joint (gold x confident class) of ``n``
    rows, the per-class thresholds and the chosen examples."""
    by_pair = [
        (labels[i], labels[j], int(joint[i, j]))
        for i, j in sorted(zip(*np.nonzero(joint), strict=True), key=lambda c: -joint[c])
    ]
    count = int(joint.sum())
    return LabelIssues(
        count=count,
        share=count / n if n else 0.0,
        thresholds={
            label: float(t) for label, t in zip(labels, thresholds, strict=True) if np.isfinite(t)
        },
        by_pair=by_pair,
        examples=examples,
    )


def confused_cells(cm: NDArray[np.int64], limit: int = MAX_PAIRS) -> list[tuple[int, int]]:
    """(gold, predicted) of the ``limit`` largest non-empty off-diagonal cells of ``cm``
    (ties: gold, then predicted label order)."""
    k = len(cm)
    off = (cm * (1 - np.eye(k, dtype=np.int64))).ravel()
    return [divmod(int(c), k) for c in np.argsort(-off, kind="stable")[:limit] if off[c]]


def confused_pair(
    cm: NDArray[np.int64],
    gold: int,
    predicted: int,
    labels: Sequence[str],
    examples: list[FailureExample],
) -> ConfusedPair:
    """A confused pair: its count, its share of the gold class, and its examples."""
    return ConfusedPair(
        gold=labels[gold],
        predicted=labels[predicted],
        count=int(cm[gold, predicted]),
        share=float(cm[gold, predicted] / cm[gold].sum()),
        examples=examples,
    )


def confused_pairs(
    y_true: _Array,
    y_pred: _Array,
    scores: NDArray[np.float64] | None,
    labels: Sequence[str],
    *,
    texts: Sequence[str] | None = None,
    text_pairs: Sequence[str] | None = None,
    limit: int = MAX_PAIRS,
    per_pair: int = EXAMPLES_PER_PAIR,
) -> list[ConfusedPair]:
    """The ``limit`` largest off-diagonal cells of the confusion matrix (ties: gold, then
    predicted label order), each with its share of the gold class and its ``per_pair`` most
    confident mistakes (by ``scores`` of the predicted class; in row order without scores)."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    k = len(labels)
    cm = confusion_counts(y_true, y_pred, k)
    order = (
        np.argsort(-scores[np.arange(len(y_pred)), y_pred], kind="stable")
        if (scores is not None)
        else np.arange(len(y_pred))
    )
    wrong_codes = (y_true * k + y_pred)[order]
    return [
        confused_pair(
            cm,
            gold,
            predicted,
            labels,
            [
                _example(int(i), y_true, y_pred, scores, labels, texts, text_pairs)
                for i in order[wrong_codes == gold * k + predicted][:per_pair]
            ],
        )
        for gold, predicted in confused_cells(cm, limit)
    ]


def analyse_failures(
    y_true: _Array,
    y_pred: _Array,
    scores: NDArray[np.float64],
    labels: Sequence[str],
    *,
    score_kind: str,
    texts: Sequence[str] | None,
    text_pairs: Sequence[str] | None = None,
) -> FailureAnalysis:
    """Confused pairs always; label issue candidates only for models giving probabilities.
    ``texts=None`` keeps every example text out (``examples=False``)."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    probabilities = score_kind == "probability"
    ranking = scores if score_kind != "label" else None
    pairs = confused_pairs(y_true, y_pred, ranking, labels, texts=texts, text_pairs=text_pairs)
    if not probabilities:
        for pair in pairs:
            for example in pair.examples:
                example.probability = example.gold_probability = None
    return FailureAnalysis(
        errors=int((y_true != y_pred).sum()),
        pairs=pairs,
        label_issues=(
            label_issues(y_true, scores, labels, texts=texts, text_pairs=text_pairs)
            if probabilities and len(y_true)
            else None
        ),
        examples=texts is not None,
    )


def _example(
    i: int,
    y_true: _Array,
    predicted: _Array,
    scores: NDArray[np.float64] | None,
    labels: Sequence[str],
    texts: Sequence[str] | None,
    text_pairs: Sequence[str] | None,
) -> FailureExample:
    gold, other = int(y_true[i]), int(predicted[i])
    return failure_example(
        i,
        labels[gold],
        labels[other],
        probability=None if scores is None else float(scores[i, other]),
        gold_probability=None if scores is None else float(scores[i, gold]),
        text=None if texts is None else texts[i],
        text_pair=None if text_pairs is None or texts is None else text_pairs[i],
    )


def failure_example(
    index: int,
    gold: str,
    predicted: str,
    *,
    probability: float | None,
    gold_probability: float | None,
    text: str | None,
    text_pair: str | None,
) -> FailureExample:
    """An example row, its texts cut to MAX_EXAMPLE_CHARS."""
    return FailureExample(
        index=index,
        gold=gold,
        predicted=predicted,
        probability=probability,
        gold_probability=gold_probability,
        text=None if text is None else _clip(text),
        text_pair=None if text_pair is None else _clip(text_pair),
    )


def _clip(text: str) -> str:
    return text if len(text) <= MAX_EXAMPLE_CHARS else f"{text[: MAX_EXAMPLE_CHARS - 1]}…"
