"""The two sides of a gate: loading them and checking each one.

A run is a results file (with its per-example predictions when kept) or, as a baseline, a
model card. Every run is checked here before a verdict rests on it: it must have rows and a
usable label list. Whether two runs may be compared at all is ``compatible``'s question.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cardgen.errors import CardgenError, ResultsError, UsageError
from cardgen.gate.values import checked_metric, clip, metric_value
from cardgen.results.predictions import (
    PredictionCodes,
    has_predictions,
    prediction_codes,
    read_prediction_codes,
)
from cardgen.results.schema import EvalResults, Metric, load_results
from cardgen.trust.untrusted import quote

_CARD_FINGERPRINT = re.compile(r"Fingerprint of texts and labels:\*\*[ \t]*`([^`\n]+)`")
_CARD_COLUMNS = re.compile(r"^- \*\*Columns:\*\*[ \t]*text `[^`\n]*`,[ \t]*(text pair )?", re.M)
_MULTILABEL_ONLY = ("samples_f1", "subset_accuracy", "hamming_loss")
"""Metrics only a multi-label run reports; a card whose model-index has one is multi-label."""
_CARD_PER_CLASS = re.compile(
    r"^\|[ \t]*label[ \t]*\|[ \t]*precision[ \t]*\|[ \t]*recall[ \t]*\|[ \t]*F1[ \t]*\|"
    r"[ \t]*support[ \t]*\|[ \t]*\r?$",
    re.M | re.I,
)
_CELL_SPLIT = re.compile(r"(?<!\\)\|")
_CELL_ESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")
_SHOWN_INVISIBLE = re.compile(r"\\u([0-9a-fA-F]{4})")


@dataclass
class Run:
    """One side of the comparison: a results file (with predictions if kept) or a card."""

    source: str
    results: EvalResults | None = None
    card_values: dict[str, float] | None = None
    card_labels: list[str] | None = None
    card_fingerprint: str | None = None
    predictions: PredictionCodes | None = None
    card_task: str | None = None
    card_pairs: bool | None = None

    @property
    def labels(self) -> list[str] | None:
        """The run's labels; None for a card that does not list them."""
        return self.results.labels if self.results is not None else self.card_labels

    @property
    def fingerprint(self) -> str | None:
        """The dataset fingerprint; None for a card that does not show it."""
        return self.results.dataset.fingerprint if self.results else self.card_fingerprint

    @property
    def task(self) -> str | None:
        """``single_label`` or ``multi_label``; None for a card that does not imply one."""
        return self.results.task if self.results is not None else self.card_task

    @property
    def pairs(self) -> bool | None:
        """Whether each row was a pair of texts; None for a card that does not show it."""
        if self.results is None:
            return self.card_pairs
        return self.results.dataset.text_pair is not None

    def metric(self, name: str) -> Metric | None:
        """The value of ``name``, or None when the run does not have that metric."""
        if self.card_values is not None:
            value = self.card_values.get(name)
            if value is None:
                return None
            return checked_metric(name, value, f"baseline card {self.source}")
        assert self.results is not None
        try:
            return metric_value(self.results, name, source=self.source)
        except UsageError:
            return None

    def require(self, name: str) -> Metric:
        """The value of ``name``; UsageError saying what the run has when it lacks it."""
        if self.results is not None:
            return metric_value(self.results, name, source=f"baseline {self.source}")
        metric = self.metric(name)
        if metric is None:
            known = ", ".join(self.card_values or {}) or "none"
            raise UsageError(
                f"baseline card {self.source} has no {quote(name)} in its model-index (it has: "
                f"{clip(known)}); gate that metric with --min instead, or use a results directory"
            )
        return metric


def load_run(run: EvalResults | str | os.PathLike[str], predictions: Any, role: str) -> Run:
    """The ``role`` ("current" or "baseline") side of a gate, checked (see the module);
    ``predictions`` (rows) are read from the run directory when not passed."""
    run_dir: Path | None = None
    if isinstance(run, EvalResults):
        source, results = f"the {role} results", run
    elif isinstance(run, str | os.PathLike):
        text = os.fspath(run)
        if not isinstance(text, str) or not text.strip() or "\x00" in text:
            raise UsageError(f"the {role} run must be a path, got {quote(text)}")
        path = Path(text)
        if path.suffix.lower() == ".md":
            if role == "current":
                raise UsageError(
                    f"the run to gate must be a results directory or results.json, got card {path}"
                )
            return _load_card(path)
        source, results = text, _load_results(path)
        try:
            folder = path if path.is_dir() else path.parent
            kept = has_predictions(folder)
        except OSError as exc:
            raise ResultsError(f"cannot read run {quote(text)}: {exc.strerror}") from None
        run_dir = folder if kept else None
    else:
        raise UsageError(f"the {role} run must be EvalResults or a path to a run, got {quote(run)}")
    check_results(results, source)
    codes = None
    sets = results.task == "multi_label"
    if predictions is not None:
        codes = check_predictions(predictions, results.labels, source, label_sets=sets)
    elif run_dir is not None:
        codes = read_prediction_codes(run_dir, results.labels, label_sets=sets)
    return Run(source, results=results, predictions=codes)


def _load_results(path: Path) -> EvalResults:
    try:
        return load_results(path)
    except CardgenError:
        raise
    except (OSError, ValueError, TypeError, KeyError, AttributeError, RecursionError) as exc:
        raise ResultsError(
            f"cannot read results {path} ({type(exc).__name__}); re-run `cardgen evaluate`"
        ) from None


def _load_card(path: Path) -> Run:
    from cardgen.cards.eval_results_folder import with_eval_results
    from cardgen.cards.file import card_metric_values, read_card_text

    values = with_eval_results(card_metric_values(path), path)  # model-index + .eval_results
    text = read_card_text(path)
    found = _CARD_FINGERPRINT.search(text)
    columns = _CARD_COLUMNS.search(text)
    task = "single_label" if "accuracy" in values else None
    if any(name in values for name in _MULTILABEL_ONLY):
        task = "multi_label"
    return Run(
        str(path),
        card_values=values,
        card_labels=_card_labels(text),
        card_fingerprint=found.group(1).strip() if found else None,
        card_task=task,
        card_pairs=None if columns is None else columns.group(1) is not None,
    )


def _card_labels(text: str) -> list[str] | None:
    """The labels of the per-class table a cardgen card has, or None without one."""
    header = _CARD_PER_CLASS.search(text)
    if header is None:
        return None
    labels = []
    for line in text[header.end() :].splitlines()[1:]:
        line = line.strip()
        if not line.startswith("|"):
            break
        cells = _CELL_SPLIT.split(line)
        if len(cells) < 3 or set(cells[1].strip()) <= set("-: "):
            continue
        label = cells[1].strip()
        if not label.startswith("**"):  # the macro and weighted average rows
            labels.append(_one_line(_CELL_ESCAPE.sub(r"\1", label)))
    return labels or None


def same_labels(current: list[str], card: list[str]) -> bool:
    """Whether a card's table shows exactly ``current``; a card shows labels on one line and
    invisible characters as ``\\uXXXX``, so a card label may match either way."""
    wanted = {_one_line(label) for label in current}
    matched: set[str] = set()
    for label in card:
        shown = _SHOWN_INVISIBLE.sub(lambda m: chr(int(m[1], 16)), label)
        hit = {label, shown} & wanted
        if not hit:
            return False
        matched |= hit
    return matched == wanted


def _one_line(label: str) -> str:
    return " ".join(label.split())


def check_results(results: EvalResults, source: str) -> None:
    """ResultsError when ``results`` has no rows, or labels and confusion matrix that a
    verdict cannot rest on."""
    labels = results.labels
    if not isinstance(labels, list) or not labels or not all(isinstance(x, str) for x in labels):
        raise ResultsError(
            f"{source} has no usable label list (got {quote(labels)}); re-run `cardgen evaluate`"
        )
    rows = results.dataset.num_rows
    if results.task == "multi_label":
        if not _count(rows) or rows == 0:
            raise ResultsError(
                f"{source} has no evaluated rows: its metrics mean nothing; re-run `cardgen "
                "evaluate` on a non-empty dataset"
            )
        return
    cm = results.confusion_matrix
    k = len(cm.labels) if isinstance(cm.labels, list) else -1
    counts = cm.counts
    square = (
        k > 0
        and isinstance(counts, list)
        and len(counts) == k
        and all(isinstance(row, list) and len(row) == k for row in counts)
        and all(_count(c) for row in counts for c in row)
    )
    if not square:
        raise ResultsError(
            f"the confusion matrix in {source} is not a {max(k, 0)}x{max(k, 0)} table of counts; "
            "the results file is corrupt: re-run `cardgen evaluate`"
        )
    total = sum(sum(row) for row in counts)
    if not _count(rows) or rows == 0 or total == 0:
        raise ResultsError(
            f"{source} has no evaluated rows (num_rows {quote(rows)}, {total} in the confusion "
            "matrix): its metrics mean nothing; re-run `cardgen evaluate` on a non-empty dataset"
        )


def _count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def check_predictions(
    rows: Any, labels: list[str], source: str, *, label_sets: bool = False
) -> PredictionCodes:
    """Passed per-example predictions (a list of rows) as codes into ``labels``; ResultsError
    naming the first bad row (see ``predictions.prediction_codes``)."""
    if not isinstance(rows, list | tuple):
        raise ResultsError(f"the predictions of {source} must be a list of rows, got {quote(rows)}")
    return prediction_codes(enumerate(rows, 1), labels, source=source, label_sets=label_sets)
