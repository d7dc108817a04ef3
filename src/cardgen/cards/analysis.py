"""Card views of the analysis: results by slice and "Where the model fails", in plain words
plus the numbers the partials ``slices.md.j2`` and ``failures.md.j2`` print. Every string from
the data stays untrusted here; the templates escape it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cardgen.results.schema import EvalResults, FailureExample, SliceResult

CARD_TEXT_CHARS = 200
"""Example texts are cut to this many characters in the card."""
RECALL_COLUMNS_UP_TO = 6
"""With at most this many labels, the slice tables get one recall column per label."""


def slices_view(results: EvalResults, images: Mapping[str, str]) -> dict[str, Any] | None:
    """The slice tables, a sentence per column about its gap, and the plot; None without
    slices."""
    if not results.slices:
        return None
    labels = results.labels if len(results.labels) <= RECALL_COLUMNS_UP_TO else []
    columns = [_slice_column(result, labels) for result in results.slices.values()]
    return {
        "columns": columns,
        "recall_labels": labels,
        "min_size": next(iter(results.slices.values())).min_size,
        "plot": images.get("slices"),
        "any_small": any(v["small"] for c in columns for v in c["entries"]),
    }


def _slice_column(result: SliceResult, labels: list[str]) -> dict[str, Any]:
    titles = {"length": "input length (quartiles)", "truncated": "truncated vs not"}
    gap = result.gaps.get("accuracy")
    summary = None
    if gap is not None:
        values = {v.value: v for v in result.values}
        low, high = values[gap.worst].accuracy.value, values[gap.best].accuracy.value
        clear = gap.gap.ci_low is not None and gap.gap.ci_low > 0
        summary = {
            "worst": _clip(gap.worst),
            "best": _clip(gap.best),
            "low": low,
            "high": high,
            "gap": gap.gap,
            "excludes_zero": clear,
            "ci_known": gap.gap.ci_low is not None,
        }
    return {
        "column": result.column,
        "title": titles.get(result.kind),
        "kind": result.kind,
        "note": result.note,
        "summary": summary,
        "macro_f1_gap": result.gaps.get("macro_f1"),
        "entries": [
            {
                "value": _clip(v.value),
                "description": v.description,
                "rows": v.rows,
                "small": v.small,
                "accuracy": v.accuracy,
                "macro_f1": v.macro_f1,
                "recall": [v.recall[x].value if x in v.recall else None for x in labels],
            }
            for v in result.values
        ],
    }


def failures_view(results: EvalResults) -> dict[str, Any] | None:
    """Confused pairs with their most confident mistakes and the label issue candidates, or
    None for runs without a failure analysis."""
    failures = results.failures
    if failures is None:
        return None
    rows = results.dataset.num_rows
    issues = failures.label_issues
    return {
        "errors": failures.errors,
        "rows": rows,
        "error_rate": failures.errors / rows if rows else 0.0,
        "examples": failures.examples,
        "pairs": [
            {
                "gold": p.gold,
                "predicted": p.predicted,
                "count": p.count,
                "share": p.share,
                "examples": [_example(e) for e in p.examples],
            }
            for p in failures.pairs
        ],
        "label_issues": None
        if issues is None
        else {
            "count": issues.count,
            "share": issues.share,
            "by_pair": issues.by_pair[:5],
            "examples": [_example(e) for e in issues.examples],
        },
    }


def _example(example: FailureExample) -> dict[str, Any]:
    return {
        "index": example.index,
        "text": _clip(example.text),
        "text_pair": _clip(example.text_pair),
        "gold": example.gold,
        "predicted": example.predicted,
        "probability": example.probability,
        "gold_probability": example.gold_probability,
    }


def _clip(text: Any) -> Any:
    """Text from the data cut to CARD_TEXT_CHARS characters (None stays None)."""
    if text is None or len(text) <= CARD_TEXT_CHARS:
        return text
    return f"{text[: CARD_TEXT_CHARS - 1]}…"
