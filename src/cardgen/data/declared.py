"""What the user declares about the rows: a local file's Hub id, config and split, and the
order of string labels (``--dataset-id``, ``--dataset-config``, ``--split``, ``--label-order``)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from cardgen.data.load import EvalData
from cardgen.errors import LabelError
from cardgen.trust.untrusted import quote


def with_dataset_names(
    data: EvalData, dataset_id: str | None, config: str | None, split: str | None
) -> EvalData:
    """Record what the user said the rows are: a local file's Hub id, config and split."""
    info = data.info
    local = not info.source.startswith("hub:") and Path(info.source).is_file()
    changes: dict[str, Any] = {
        "hub_id": dataset_id or info.hub_id,
        "config": (config if local and config else None) or info.config,
        "split": (split if local and split else None) or info.split,
    }
    return replace(data, info=replace(info, **changes))


def with_label_order(data: EvalData, order: list[str]) -> EvalData:
    """``data`` with its label names in the order the user stated (class id 0 first)."""
    if data.indexed:
        if order == data.label_names:
            return data
        raise LabelError(
            f"the dataset already states its label order ({quote(', '.join(data.label_names))}, "
            "as class ids or a ClassLabel); drop --label-order"
        )
    if sorted(order) != sorted(data.label_names):
        raise LabelError(
            f"--label-order must list each dataset label once; the dataset's labels are "
            f"{quote(', '.join(data.label_names))}, got {quote(', '.join(order))}"
        )
    info = replace(data.info, labels=order)
    return replace(data, label_names=order, indexed=True, info=info)
