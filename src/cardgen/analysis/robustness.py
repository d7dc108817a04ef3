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
from cardgen.tasks.decisions import Codes, Decider, single_label

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
    gold: Codes,
    base: Codes,
    perturbed: Codes,
    changed: NDArray[np.bool_],
    n_bootstrap: int,
    seed: int,
) -> RobustnessResult:
    """Counts, flip rate and accuracy from decision codes over the perturbed rows.

    ``perturbed`` holds the decision on the edited texts, equal to ``base`` on unchanged rows.
    """
    rows, n_changed = len(gold), int(changed.sum())
    flips = changed & (perturbed != base)
    flipped = int(flips.sum())
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
        broke=int((flips & (base == gold)).sum()),
        fixed=int((flips & (perturbed == gold)).sum()),
    )


def measure_robustness(
    model: TextClassifier,
    perturbations: Sequence[Perturbation],
    *,
    texts: Sequence[str],
    text_pairs: Sequence[str] | None,
    gold: NDArray[Any],
    scores: Scores,
    labels: Sequence[str],
    reorder: Callable[[Scores], Scores] = lambda s: s,
    decider: Decider | None = None,
    sample: int | None = None,
    seed: int = 0,
    n_bootstrap: int = 1000,
    batch_size: int | None = None,
    progress: bool = False,
    examples: bool = True,
) -> dict[str, RobustnessResult]:
    """Each perturbation's result on ``texts`` (and ``text_pairs``, both edited).

    ``scores`` are the base pass's scores in ``labels`` order and ``reorder`` maps the model's
    raw scores to that order. ``decider`` turns scores into decisions (default: the top label;
    a multi-label one compares label sets, and ``gold`` is then a (rows, labels) bool matrix).
    ``sample`` caps the rows (seeded); with ``examples=False`` no text is kept in the results.
    """
    if not len(texts):
        return {}
    decider = decider or single_label(labels)
    flips = _Flips(decider, decider.gold(gold), scores, texts, text_pairs, examples)
    rows = sample_rows(len(texts), sample, seed)
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
        perturbed = flips.base[rows].copy()
        changed = np.zeros(len(rows), dtype=bool)
        where = np.array([position for position, _ in edited], dtype=np.int64)
        if len(where):
            perturbed[where] = decider.decide(new_scores)
            changed[where] = True
        result = summarize_perturbation(
            perturbation,
            gold=flips.gold[rows],
            base=flips.base[rows],
            perturbed=perturbed,
            changed=changed,
            n_bootstrap=n_bootstrap,
            seed=seed,
        )
        result.seconds = round(time.perf_counter() - start, 4)
        result.examples, result.fixed_examples = flips.examples(rows, edited, new_scores)
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


class _Flips:
    """The base pass of a robustness run, and the flipped examples each perturbation shows."""

    def __init__(
        self,
        decider: Decider,
        gold: Codes,
        scores: Scores,
        texts: Sequence[str],
        text_pairs: Sequence[str] | None,
        examples: bool,
    ) -> None:
        self.decider, self.gold, self.scores = decider, gold, scores
        self.base = decider.decide(scores)
        self.texts, self.text_pairs, self.with_texts = texts, text_pairs, examples

    def examples(
        self,
        rows: NDArray[np.int64],
        edited: list[tuple[int, tuple[str, ...]]],
        new_scores: Scores,
    ) -> tuple[list[RobustnessExample], list[RobustnessExample]]:
        """The right-to-wrong flips that lost the most support for the gold label, and the
        wrong-to-right flips that gained the most, MAX_EXAMPLES of each."""
        if not edited:
            return [], []
        at = np.array([int(rows[position]) for position, _ in edited], dtype=np.int64)
        new = self.decider.decide(new_scores)
        before = self.decider.gold_scores(self.scores[at], self.gold[at])
        after = self.decider.gold_scores(new_scores, self.gold[at])
        flipped = new != self.base[at]
        broke = np.flatnonzero(flipped & (self.base[at] == self.gold[at]))
        fixed = np.flatnonzero(flipped & (new == self.gold[at]))
        damage = broke[np.lexsort((at[broke], after[broke] - before[broke]))][:MAX_EXAMPLES]
        gain = fixed[np.lexsort((at[fixed], before[fixed] - after[fixed]))][:MAX_EXAMPLES]
        return (
            [self._example(k, edited[k][1], new, new_scores, before, after, at) for k in damage],
            [self._example(k, edited[k][1], new, new_scores, before, after, at) for k in gain],
        )

    def _example(
        self,
        k: int,
        new_texts: tuple[str, ...],
        new: Codes,
        new_scores: Scores,
        before: NDArray[np.float64],
        after: NDArray[np.float64],
        at: NDArray[np.int64],
    ) -> RobustnessExample:
        row, name = int(at[k]), self.decider.name
        example = RobustnessExample(
            index=row,
            gold=name(self.gold[row]),
            prediction=name(self.base[row]),
            perturbed_prediction=name(new[k]),
            confidence=round(float(new_scores[k].max()), 6),
            gold_probability=round(float(before[k]), 6),
            perturbed_gold_probability=round(float(after[k]), 6),
        )
        if self.with_texts:
            example.text, example.perturbed_text = excerpts(self.texts[row], new_texts[0])
            if self.text_pairs is not None:
                example.text_pair, example.perturbed_text_pair = excerpts(
                    self.text_pairs[row], new_texts[1]
                )
        return example


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
                f"({result.flip_rate.value:.1%}{_split(result)}); accuracy went from "
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
                "fixed_examples": result.fixed_examples,
                "broke": result.broke,
                "fixed": result.fixed,
            }
        )
    return views


def _split(result: RobustnessResult) -> str:
    """": 3 from right to wrong, 1 from wrong to right", when the run counted them."""
    if result.broke is None or result.fixed is None:
        return ""
    return f": {result.broke:,} from right to wrong, {result.fixed:,} from wrong to right"
