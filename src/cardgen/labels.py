"""Aligning a model's labels with a dataset's: by name, by index, or by an explicit map.

A silently permuted mapping is the worst bug this tool can have, so alignment either succeeds
for a stated reason (recorded in the results) or stops with both label lists.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from .errors import LabelError
from .results import LabelMapping

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


def read_label_map(path: str | Path) -> dict[str, str]:
    """A JSON object mapping model label -> dataset label."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise LabelError(f"cannot read label map {path}: {exc}") from exc
    if not isinstance(data, dict) or not all(isinstance(v, (str, int)) for v in data.values()):
        raise LabelError(f"label map {path} must be a JSON object of model label -> dataset label")
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
    label ``i``. Without it: by name (case-insensitive) when every dataset label names a model
    label, by index when both sides are generic ids, otherwise a LabelError with both lists.
    """
    if label_map == "index":
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
        raise LabelError(
            f"dataset labels {missing} cannot be predicted by the model; "
            + _mismatch_message(model_labels, dataset_labels)
        )
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


def check_permutation(
    cm: NDArray[np.int64], labels: list[str], *, margin: float = 0.2
) -> str | None:
    """Warn when another assignment of predicted to gold labels fits far better than the one used.

    Looks at the block of ``cm`` over labels with support; returns the warning or None.
    """
    from scipy.optimize import linear_sum_assignment

    k = int(np.count_nonzero(cm.sum(axis=1)))
    if k < 2:
        return None
    block = cm[:k, :k]
    total = cm.sum()
    used = np.trace(block) / total
    rows, cols = linear_sum_assignment(block, maximize=True)
    best = block[rows, cols].sum() / total
    if best - used < margin or np.all(rows == cols):
        return None
    swaps = ", ".join(
        f"predicted {labels[c]!r} -> gold {labels[r]!r}"
        for r, c in zip(rows, cols, strict=True)
        if r != c
    )
    return (
        f"label mapping looks permuted: accuracy is {used:.1%} with the mapping used but would be "
        f"{best:.1%} with {swaps}; check id2label or pass --label-map"
    )
