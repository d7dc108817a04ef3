"""Aligning a model's labels with a dataset's: by name, by index, or by an explicit map.

A silently permuted mapping is the worst bug this tool can have, so alignment either succeeds
for a stated reason (recorded in the results) or stops with both label lists.
"""

from __future__ import annotations

import json
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from cardgen.errors import LabelError
from cardgen.results.schema import LabelMapping
from cardgen.trust.untrusted import MAX_LABELS, parse_json, quote, read_text

_GENERIC = re.compile(r"^(label_)?(\d+)$", re.IGNORECASE)


@dataclass
class Alignment:
    """The mapping used, and the label order of every metric.

    ``labels`` lists the dataset labels first (in dataset order), then model labels absent from
    the data; ``columns[i]`` is the model output column that scores ``labels[i]``.
    """

    mapping: LabelMapping
    labels: list[str]
    columns: list[int]

    def reorder(self, scores: NDArray[np.float64]) -> NDArray[np.float64]:
        """Model score columns rearranged into ``labels`` order."""
        return scores[:, self.columns]


def is_generic(labels: list[str]) -> bool:
    """True for ``LABEL_0, LABEL_1, ...`` or ``0, 1, ...`` in index order."""
    return all(
        (m := _GENERIC.match(name)) and int(m.group(2)) == i for i, name in enumerate(labels)
    )


def label_map_option(label_map: str | Path | dict[str, str] | None) -> str | dict[str, str] | None:
    """``--label-map`` as ``align_labels`` takes it: a file read into a dict, or ``"index"``,
    a dict or None as given."""
    if isinstance(label_map, Path) or (isinstance(label_map, str) and label_map != "index"):
        return read_label_map(label_map)
    return label_map


def read_label_map(path: str | Path) -> dict[str, str]:
    """A JSON object mapping model label -> dataset label."""
    source = f"label map {path}"
    text = read_text(path, error=LabelError, what="label map", encoding="utf-8-sig")
    data = parse_json(text, source=source, error=LabelError)
    if (
        not isinstance(data, dict)
        or not all(isinstance(v, str | int) and not isinstance(v, bool) for v in data.values())
        or len(data) > MAX_LABELS
    ):
        raise LabelError(
            f"{source} must be a JSON object of at most {MAX_LABELS:,} model label -> dataset "
            'label pairs, e.g. {"LABEL_0": "negative", "LABEL_1": "positive"}'
        )
    if not data:
        raise LabelError(
            f"{source} is empty; map each model label to a dataset label, e.g. "
            '{"LABEL_0": "negative", "LABEL_1": "positive"}'
        )
    return {str(k): str(v) for k, v in data.items()}


def align_labels(
    model_labels: list[str],
    dataset_labels: list[str],
    *,
    dataset_indexed: bool = False,
    label_map: dict[str, str] | str | None = None,
) -> Alignment:
    """Map model labels onto dataset labels.

    ``label_map`` is an explicit mapping, or ``"index"`` to pair model id ``i`` with dataset
    label ``i`` (only when ``dataset_indexed``: class ids or a stated label order). Without
    it: by name (case-insensitive) when every dataset label names a model label, by index when
    both sides are generic ids, otherwise a LabelError with both lists.
    """
    if label_map == "index":
        if not dataset_indexed:
            raise LabelError(
                "--label-map index pairs model label i with dataset class id i, but the dataset's "
                f"labels ({quote(', '.join(dataset_labels))}) are names with no stated order; "
                "pass --label-order with them in class-id order (e.g. --label-order "
                f"{','.join(dataset_labels[:2])},...) or --label-map map.json"
            )
        return _by_index(model_labels, dataset_labels, "index")
    if isinstance(label_map, dict):
        return _from_pairs(model_labels, dataset_labels, label_map, "file")
    by_fold = {name.casefold(): name for name in model_labels}
    if all(label.casefold() in by_fold for label in dataset_labels):
        pairs = {by_fold[label.casefold()]: label for label in dataset_labels}
        return _from_pairs(model_labels, dataset_labels, pairs, "name")
    if is_generic(model_labels) and dataset_indexed:
        return _by_index(model_labels, dataset_labels, "index")
    raise LabelError(_mismatch_message(model_labels, dataset_labels))


def _by_index(model_labels: list[str], dataset_labels: list[str], strategy: str) -> Alignment:
    if len(dataset_labels) > len(model_labels):
        raise LabelError(
            f"the dataset has {len(dataset_labels)} labels but the model predicts only "
            f"{len(model_labels)}; " + _mismatch_message(model_labels, dataset_labels)
        )
    pairs = {model_labels[i]: label for i, label in enumerate(dataset_labels)}
    return _from_pairs(model_labels, dataset_labels, pairs, strategy)


def _from_pairs(
    model_labels: list[str], dataset_labels: list[str], pairs: dict[str, str], strategy: str
) -> Alignment:
    unknown = [m for m in pairs if m not in model_labels]
    if unknown:
        raise LabelError(
            f"label map names model labels {unknown} that the model does not have; "
            f"model labels are: {', '.join(model_labels)}"
        )
    targets = list(pairs.values())
    if len(set(targets)) != len(targets):
        raise LabelError(f"label map sends several model labels to one dataset label: {pairs}")
    missing = [label for label in dataset_labels if label not in targets]
    if missing:
        strays = [target for target in targets if target not in dataset_labels]
        also = f"; it sends model labels to {strays}, which no row has" if strays else ""
        fault = (
            f"the label map gives dataset labels {missing} no model label{also}"
            if strategy == "file"
            else f"dataset labels {missing} cannot be predicted by the model"
        )
        raise LabelError(f"{fault}; " + _mismatch_message(model_labels, dataset_labels))
    model_index = {name: i for i, name in enumerate(model_labels)}
    by_target = {target: source for source, target in pairs.items()}
    extras = [m for m in model_labels if m not in pairs]
    labels = [*dataset_labels, *extras]
    columns = [model_index[by_target[label]] for label in dataset_labels]
    columns += [model_index[m] for m in extras]
    ordered = {by_target[label]: label for label in dataset_labels}
    return Alignment(LabelMapping(strategy=strategy, model_to_dataset=ordered), labels, columns)


def _mismatch_message(model_labels: list[str], dataset_labels: list[str]) -> str:
    example = {m: d for m, d in zip(model_labels, dataset_labels, strict=False)}
    return (
        f"model labels: {', '.join(model_labels)}; dataset labels: {', '.join(dataset_labels)}. "
        f"Pass --label-map map.json with a JSON object such as {json.dumps(example)} "
        "(model label -> dataset label), or --label-map index to pair them by position"
    )


@dataclass
class Permutation:
    """Evidence that another assignment of labels fits far better than the one used.

    ``label_map`` is the model label -> dataset label map that the better assignment means.
    """

    message: str
    label_map: dict[str, str]


def check_permutation(
    cm: NDArray[np.int64], labels: list[str], mapping: LabelMapping, *, margin: float = 0.2
) -> Permutation | None:
    """Find an assignment of predicted to gold labels that fits far better than the one used.

    Looks at the block of ``cm`` over labels with support; None when the mapping used is (near)
    the best one.
    """
    k = int(np.count_nonzero(cm.sum(axis=1)))
    if k < 2:
        return None
    block = cm[:k, :k]
    total = cm.sum()
    used = np.trace(block) / total
    if block.max(axis=1).sum() / total - used < margin:  # no assignment beats each row's best
        return None
    from scipy.optimize import linear_sum_assignment

    rows, cols = linear_sum_assignment(block, maximize=True)
    best = block[rows, cols].sum() / total
    if best - used < margin or np.all(rows == cols):
        return None
    moved = [(int(r), int(c)) for r, c in zip(rows, cols, strict=True) if r != c]
    message = (
        f"label mapping looks permuted: accuracy is {used:.1%} with the mapping used but would be "
        f"{best:.1%} with {swap_text(moved, labels)}; check id2label or pass --label-map"
    )
    return Permutation(message=message, label_map=_better_map(moved, labels, mapping))


def swap_text(moved: list[tuple[int, int]], labels: list[str], *, to: str = "gold") -> str:
    """``predicted 'a' -> gold 'b', ...`` for (gold, predicted) label positions ``moved``."""
    return ", ".join(f"predicted {labels[c]!r} -> {to} {labels[r]!r}" for r, c in moved)


def _better_map(
    moved: list[tuple[int, int]], labels: list[str], mapping: LabelMapping
) -> dict[str, str]:
    """The model label -> dataset label map that sends predicted label c to gold label r for
    each (r, c) in ``moved``."""
    model_of = {dataset: model for model, dataset in mapping.model_to_dataset.items()}
    better = dict(mapping.model_to_dataset)
    for r, c in moved:
        if labels[c] in model_of:
            better[model_of[labels[c]]] = labels[r]
    return better


@dataclass
class LabelSwap:
    """A cycle of label columns that agree with a reference far better permuted than as named:
    ``moved`` holds (reference, predicted) label positions; ``named`` and ``permuted`` are the
    micro-F1 of the cycle's labels against the reference either way."""

    moved: list[tuple[int, int]]
    named: float
    permuted: float


MIN_SWAP_MATCHES = 10
"""Fewest extra label matches a swap must explain: a few rows of rare labels agree by chance."""


def label_set_swaps(
    reference: NDArray[np.bool_],
    predicted: NDArray[np.bool_],
    *,
    margin: float = 0.2,
    min_matches: int = MIN_SWAP_MATCHES,
) -> list[LabelSwap]:
    """The cycles of predicted label columns that match ``reference`` (gold, or another run's
    predictions; both (n, K) booleans) far better permuted than as named.

    ``co[i, j]`` counts rows with reference label i and predicted label j; the assignment of
    columns that maximizes the matches is split into cycles, and a cycle is a swap when it
    raises the micro-F1 of its labels by at least ``margin`` and matches ``min_matches`` more
    labels. Labels that always occur together tie, so they never look swapped.
    """
    from scipy.optimize import linear_sum_assignment

    ref, pred = reference.astype(np.int64), predicted.astype(np.int64)
    co = ref.T @ pred
    target = linear_sum_assignment(co, maximize=True)[1]  # reference i -> predicted target[i]
    swaps, seen = [], set()
    for first in range(len(target)):
        cycle, i = [], first
        while i not in seen:
            seen.add(i)
            cycle.append(i)
            i = int(target[i])
        if len(cycle) < 2:
            continue
        named = sum(int(co[i, i]) for i in cycle)
        permuted = sum(int(co[i, target[i]]) for i in cycle)
        mass = (ref[:, cycle].sum() + pred[:, cycle].sum()) / 2
        gain = (permuted - named) / mass if mass else 0.0
        if gain >= margin and permuted - named >= min_matches:
            moved = [(i, int(target[i])) for i in cycle]
            swaps.append(LabelSwap(moved, float(named / mass), float(permuted / mass)))
    return swaps


def label_set_permutation_notes(
    gold: NDArray[np.bool_], predicted: NDArray[np.bool_], alignment: Alignment
) -> list[str]:
    """``permutation_notes`` for label sets: the warning when predicted label columns look
    swapped against the gold sets (``label_set_swaps``); LabelError when paired by index."""
    swaps = label_set_swaps(gold, predicted)
    if not swaps:
        return []
    labels = alignment.labels
    moved = [pair for swap in swaps for pair in swap.moved]
    scores = "; ".join(
        f"micro-F1 of {', '.join(repr(labels[r]) for r, _ in swap.moved)} is {swap.named:.1%} "
        f"as named but would be {swap.permuted:.1%} with {swap_text(swap.moved, labels)}"
        for swap in swaps
    )
    permuted = Permutation(
        message=f"label columns look permuted: {scores}; check id2label or pass --label-map",
        label_map=_better_map(moved, labels, alignment.mapping),
    )
    return _permutation_notes(permuted, alignment)


def permutation_notes(cm: np.ndarray[Any, Any], alignment: Alignment) -> list[str]:
    """The warning when the confusion matrix ``cm`` looks permuted; LabelError instead when
    labels were paired by index, since their order is then most likely wrong."""
    return _permutation_notes(check_permutation(cm, alignment.labels, alignment.mapping), alignment)


def _permutation_notes(permuted: Permutation | None, alignment: Alignment) -> list[str]:
    if permuted is None:
        return []
    if alignment.mapping.strategy == "index":
        raise LabelError(
            f"{permuted.message}. Labels were paired by index, so their order is most likely "
            "wrong; nothing was written. If the better mapping is right, save "
            f"{json.dumps(permuted.label_map, ensure_ascii=False)} as map.json and pass "
            "--label-map map.json"
        )
    warnings.warn(permuted.message, stacklevel=5)
    return [permuted.message]
