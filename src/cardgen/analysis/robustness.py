"""Robustness on real data: edit each evaluation example, predict again, count what changed.

Only rows whose texts a perturbation edited go through the model again (with the engine's
batching, as in the base pass); an unedited row keeps its prediction, counts in the accuracy
under perturbation and never in the flip rate.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from cardgen.analysis.perturb import Perturbation
from cardgen.models.base import TextClassifier
from cardgen.results.schema import Metric, RobustnessExample, RobustnessResult

MAX_EXAMPLES = 5
EXCERPT_CHARS = 240
"""An example's texts are cut to this many characters around the first edit."""

Scores = NDArray[np.float64]


def sample_rows(n: int, sample: int | None, seed: int) -> NDArray[np.int64]:
    """Row indices to perturb: all ``n``, or a seeded sample of ``sample`` of them, sorted."""
    if sample is None or sample >= n:
        return np.arange(n, dtype=np.int64)
    return np.sort(np.random.default_rng(seed).choice(n, size=sample, replace=False))


def proportion(successes: int, n: int, *, n_bootstrap: int, seed: int) -> Metric:
    """``successes / n`` with the 95% percentile bootstrap CI over the ``n`` examples.

    Resampling n 0/1 outcomes with replacement gives Binomial(n, p) successes, so the
    bootstrap draws those counts directly.
    """
    p = successes / n
    if n_bootstrap <= 0:
        return Metric(p)
    draws = np.random.default_rng(seed).binomial(n, p, size=n_bootstrap) / n
    low, high = np.percentile(draws, [2.5, 97.5])
    return Metric(p, float(low), float(high))


def summarize_perturbation(
    perturbation: Perturbation,
    *,
    gold: NDArray[np.int64],
    base: NDArray[np.int64],
    perturbed: NDArray[np.int64],
    changed: NDArray[np.bool_],
    n_bootstrap: int,
    seed: int,
) -> RobustnessResult:
    """Counts, flip rate and accuracy from label indices over the perturbed rows.

    ``perturbed`` holds the prediction on the edited texts, equal to ``base`` on unchanged rows.
    """
    rows, n_changed = len(gold), int(changed.sum())
    flipped = int((changed & (perturbed != base)).sum())
    return RobustnessResult(
        name=perturbation.name,
        description=perturbation.description,
        rows=rows,
        changed=n_changed,
        flipped=flipped,
        accuracy=proportion(
            int((perturbed == gold).sum()), rows, n_bootstrap=n_bootstrap, seed=seed
        ),
        base_accuracy=float((base == gold).mean()),
        flip_rate=(
            proportion(flipped, n_changed, n_bootstrap=n_bootstrap, seed=seed)
            if n_changed
            else None
        ),
    )


def measure_robustness(
    model: TextClassifier,
    perturbations: Sequence[Perturbation],
    *,
    texts: Sequence[str],
    text_pairs: Sequence[str] | None,
    gold: NDArray[np.int64],
    scores: Scores,
    labels: Sequence[str],
    reorder: Callable[[Scores], Scores] = lambda s: s,
    sample: int | None = None,
    seed: int = 0,
    n_bootstrap: int = 1000,
    batch_size: int | None = None,
    progress: bool = False,
    examples: bool = True,
) -> dict[str, RobustnessResult]:
    """Each perturbation's result on ``texts`` (and ``text_pairs``, both edited).

    ``scores`` are the base pass's scores in ``labels`` order and ``reorder`` maps the model's
    raw scores to that order. ``sample`` caps the rows (seeded); with ``examples=False`` no text
    is kept in the results.
    """
    if not len(texts):
        return {}
    rows = sample_rows(len(texts), sample, seed)
    base = scores.argmax(axis=1)
    results = {}
    for perturbation in perturbations:
        start = time.perf_counter()
        edited: list[tuple[int, tuple[str, ...]]] = []
        for position, row in enumerate(rows.tolist()):
            original = (texts[row],) if text_pairs is None else (texts[row], text_pairs[row])
            new = perturbation.apply(original, seed=seed, row=row)
            if new != original:
                edited.append((position, new))
        new_scores = _predict(model, [new for _, new in edited], reorder, batch_size, progress)
        perturbed = base[rows].copy()
        changed = np.zeros(len(rows), dtype=bool)
        where = np.array([position for position, _ in edited], dtype=np.int64)
        if len(where):
            perturbed[where] = new_scores.argmax(axis=1)
            changed[where] = True
        result = summarize_perturbation(
            perturbation,
            gold=gold[rows],
            base=base[rows],
            perturbed=perturbed,
            changed=changed,
            n_bootstrap=n_bootstrap,
            seed=seed,
        )
        result.seconds = round(time.perf_counter() - start, 4)
        result.examples = _worst_flips(
            rows, edited, new_scores, base, gold, labels, texts, text_pairs, examples
        )
        results[perturbation.name] = result
    return results


def _predict(
    model: TextClassifier,
    edited: list[tuple[str, ...]],
    reorder: Callable[[Scores], Scores],
    batch_size: int | None,
    progress: bool,
) -> Scores:
    """Scores of the edited examples through the model's own batching, in ``labels`` order."""
    if not edited:
        return np.zeros((0, 0))
    first = [texts[0] for texts in edited]
    if len(edited[0]) == 1:  # custom classifiers may not know the text_pairs option
        raw, _ = model.predict_scores(first, batch_size=batch_size, progress=progress)
    else:
        pairs = [texts[1] for texts in edited]
        raw, _ = model.predict_scores(
            first, batch_size=batch_size, progress=progress, text_pairs=pairs
        )
    return reorder(np.asarray(raw, dtype=np.float64))


def _worst_flips(
    rows: NDArray[np.int64],
    edited: list[tuple[int, tuple[str, ...]]],
    new_scores: Scores,
    base: NDArray[np.int64],
    gold: NDArray[np.int64],
    labels: Sequence[str],
    texts: Sequence[str],
    text_pairs: Sequence[str] | None,
    examples: bool,
) -> list[RobustnessExample]:
    """The flipped examples whose new prediction is most confident, first."""
    flips = []
    for k, (position, new) in enumerate(edited):
        row = int(rows[position])
        predicted = int(new_scores[k].argmax())
        if predicted != base[row]:
            flips.append((-float(new_scores[k, predicted]), row, predicted, new))
    flips.sort(key=lambda flip: flip[:2])
    out = []
    for negative, row, predicted, new in flips[:MAX_EXAMPLES]:
        example = RobustnessExample(
            index=row,
            gold=labels[gold[row]],
            prediction=labels[base[row]],
            perturbed_prediction=labels[predicted],
            confidence=round(-negative, 6),
        )
        if examples:
            example.text, example.perturbed_text = excerpts(texts[row], new[0])
            if text_pairs is not None:
                example.text_pair, example.perturbed_text_pair = excerpts(text_pairs[row], new[1])
        out.append(example)
    return out


def excerpts(original: str, edited: str, limit: int = EXCERPT_CHARS) -> tuple[str, str]:
    """Both texts cut to ``limit`` characters around their first difference, marked with …."""
    start = max(0, len(os.path.commonprefix([original, edited])) - limit // 3)
    return _cut(original, start, limit), _cut(edited, start, limit)


def _cut(text: str, start: int, limit: int) -> str:
    piece = text[start : start + limit]
    return ("…" if start else "") + piece + ("…" if start + limit < len(text) else "")


def robustness_view(results: dict[str, RobustnessResult]) -> list[dict[str, Any]]:
    """Each perturbation in plain words and numbers, for the card."""
    views = []
    for result in results.values():
        change = result.accuracy.value - result.base_accuracy
        summary = (
            f"{result.description.capitalize()}: {result.changed:,} of {result.rows:,} rows changed"
        )
        if result.flip_rate is not None:
            summary += (
                f", and the prediction flipped on {result.flipped:,} of them "
                f"({result.flip_rate.value:.1%}); accuracy went from "
                f"{result.base_accuracy:.4f} to {result.accuracy.value:.4f}"
            )
        else:
            summary += ", so nothing was measured"
        views.append(
            {
                "name": result.name,
                "description": result.description,
                "rows": result.rows,
                "changed": result.changed,
                "flipped": result.flipped,
                "flip_rate": result.flip_rate,
                "accuracy": result.accuracy,
                "base_accuracy": result.base_accuracy,
                "accuracy_change": change,
                "summary": summary,
                "examples": result.examples,
            }
        )
    return views
