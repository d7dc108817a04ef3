"""What runs in Spark's Python workers: the model, loaded once per worker process, predicting
a partition with the models' own length-sorted batching; and the fingerprint's row digests."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from pyspark import TaskContext
from pyspark.accumulators import AccumulatorParam

from cardgen.data.fingerprint import row_digest
from cardgen.data.load import label_sets_from_json
from cardgen.models import TextClassifier, load_model
from cardgen.models.base import with_thresholds

_MODELS: dict[tuple[Any, ...], TextClassifier] = {}
"""The models this worker process has loaded, by their load options."""


@dataclass(frozen=True)
class LoadOptions:
    """How every worker loads the model (``cardgen.models.load_model``'s arguments)."""

    model: str
    revision: str | None = None
    device: str = "auto"
    dtype: str = "auto"
    max_length: int | None = None
    trust_remote_code: bool = False
    allow_pickle: bool = False
    trusted_types: tuple[str, ...] = ()
    multi_label: bool | None = None
    """True: score with a sigmoid per label although the model does not say it is
    multi-label (``tasks.multilabel.check_task``); None: as the model says."""
    decision_thresholds: tuple[float, ...] | None = None
    """A multi-label run's threshold per model label, near which an exact-fast model rechecks
    its rows in float32 (``models.base.with_thresholds``)."""

    def open(self, device: str) -> TextClassifier:
        """The model, loaded now on ``device``."""
        model = load_model(
            self.model,
            revision=self.revision,
            device=device,
            dtype=self.dtype,
            max_length=self.max_length,
            trust_remote_code=self.trust_remote_code,
            allow_pickle=self.allow_pickle,
            trusted_types=self.trusted_types,
        )
        if self.multi_label is not None:
            model.multi_label = self.multi_label  # type: ignore[attr-defined]
        if self.decision_thresholds is not None:
            model = with_thresholds(model, np.asarray(self.decision_thresholds))
        return model

    def load(self, device: str) -> TextClassifier:
        """The model on ``device``, loaded once per worker process."""
        key = (self, device)
        if key not in _MODELS:
            _MODELS[key] = self.open(device)
        return _MODELS[key]


@dataclass(frozen=True)
class LabelSetColumn:
    """How a multi-label column's JSON tokens read on the workers, as the driver read the
    whole column (``label_format``: ``"multi-hot"`` or ``"ids"``)."""

    source: str
    column: str
    label_format: str

    def names(self, tokens: list[str | None], rows: list[int]) -> list[list[str]]:
        """Each row's gold label names."""
        sets = label_sets_from_json(
            tokens, rows, source=self.source, column=self.column, label_format=self.label_format
        )
        return [list(names) for names in sets.sets]


def task_device(device: str) -> str:
    """``auto``: the GPU Spark gave this task (``spark.task.resource.gpu.amount``), else the
    CPU with torch using as many threads as the task has cores (``spark.task.cpus``)."""
    context = TaskContext.get()
    if context is None or device != "auto":
        return device
    gpus = context.resources().get("gpu")
    if gpus is not None and gpus.addresses:
        return f"cuda:{gpus.addresses[0]}"
    import torch

    torch.set_num_threads(max(1, context.cpus()))
    return "cpu"


STATS_FIELDS = (
    "rows",
    "tokens",
    "padded_tokens",
    "truncated",
    "seconds",
    "batch_size",
    "loads",
    "load_seconds",
    "rechecked",
)


class StatsParam(AccumulatorParam):
    """Run statistics added up over tasks: counts and seconds add, batch size is the largest,
    and devices, dtypes and token counting are sets. Spark applies a result stage's
    accumulator updates once per partition, however often a task is retried. ``units`` are
    the length units the workers measured in."""

    def zero(self, value: dict[str, Any]) -> dict[str, Any]:
        return {
            "devices": set(),
            **dict.fromkeys(STATS_FIELDS, 0),
            "no_tokens": False,
            "units": set(),
        }

    def addInPlace(self, a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
        out = {name: a[name] + b[name] for name in STATS_FIELDS if name != "batch_size"}
        return {
            **out,
            "batch_size": max(a["batch_size"], b["batch_size"]),
            "devices": a["devices"] | b["devices"],
            "units": a["units"] | b["units"],
            "no_tokens": a["no_tokens"] or b["no_tokens"],
        }


def predictor(
    options: LoadOptions,
    columns: list[int],
    labels: list[str],
    *,
    batch_size: int | None,
    pairs: bool,
    stats: Any,
    details: bool = False,
    examples: bool = False,
    label_sets: tuple[LabelSetColumn, list[float]] | None = None,
) -> Callable[[Iterator[pd.DataFrame]], Iterator[pd.DataFrame]]:
    """The ``mapInPandas`` function: rows (index, text, pair, label) to predictions (index,
    gold, predicted, probabilities), scores in ``labels`` order (model columns ``columns``).
    With ``details`` also each input's ``length`` (tokens before truncation, or whitespace
    words when the model reports none, as ``cardgen.analysis`` measures); with ``examples``
    also its ``text`` and ``pair``. With ``label_sets`` (the label column and a threshold per
    label), gold and predicted are JSON lists of label names."""

    def predict(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        device = task_device(options.device)
        start = time.perf_counter()
        loaded = (options, device) not in _MODELS
        model = options.load(device)
        if loaded:
            stats.add(
                {**StatsParam().zero({}), "loads": 1, "load_seconds": time.perf_counter() - start}
            )
        for batch in batches:
            texts = batch["text"].tolist()
            start = time.perf_counter()
            if pairs:
                raw, run = model.predict_scores(
                    texts, batch_size=batch_size, text_pairs=batch["pair"].tolist()
                )
            else:
                raw, run = model.predict_scores(texts, batch_size=batch_size)
            scores = np.asarray(raw)[:, columns]
            gold, predicted = _decisions(batch, scores, labels, label_sets)
            extra: dict[str, Any] = {}
            if details:
                extra["length"], unit = _lengths(run.input_lengths, batch, pairs=pairs)
                if examples:
                    extra["text"], extra["pair"] = batch["text"], batch["pair"]
            stats.add(
                {
                    "loads": 0,
                    "load_seconds": 0.0,
                    "rechecked": run.rechecked or 0,
                    "rows": len(texts),
                    "tokens": run.tokens or 0,
                    "padded_tokens": run.padded_tokens or 0,
                    "truncated": run.truncated,
                    "seconds": time.perf_counter() - start,
                    "batch_size": run.batch_size,
                    "devices": {(run.device, run.dtype, run.max_length)},
                    "no_tokens": run.tokens is None,
                    "units": {unit} if details else set(),
                }
            )
            yield pd.DataFrame(
                {
                    "index": batch["index"].to_numpy(),
                    "gold": gold,
                    "predicted": predicted,
                    "probabilities": [
                        dict(zip(labels, map(float, row), strict=True)) for row in scores
                    ],
                    **extra,
                }
            )

    return predict


def _decisions(
    batch: pd.DataFrame,
    scores: np.ndarray,
    labels: list[str],
    label_sets: tuple[LabelSetColumn, list[float]] | None,
) -> tuple[Any, Any]:
    """Each row's gold and predicted label: the top-scoring one, or with ``label_sets`` JSON
    lists of the gold names and of the labels at or over their thresholds."""
    names = np.asarray(labels, dtype=object)
    if label_sets is None:
        return batch["label"].to_numpy(), names[scores.argmax(axis=1)]
    column, limits = label_sets
    gold = column.names(batch["label"].tolist(), batch["index"].tolist())
    chosen = scores >= np.asarray(limits)[None, :]
    return [json.dumps(g) for g in gold], [json.dumps(names[row].tolist()) for row in chosen]


def _lengths(
    input_lengths: np.ndarray | None, batch: pd.DataFrame, *, pairs: bool
) -> tuple[np.ndarray, str]:
    """Each row's length and its unit: the model's token counts, else whitespace words."""
    if input_lengths is not None:
        return np.asarray(input_lengths, dtype=np.int64), "tokens"
    words = np.array([len(t.split()) for t in batch["text"]], dtype=np.int64)
    if pairs:
        words += np.array([len(t.split()) for t in batch["pair"]], dtype=np.int64)
    return words, "words"


def row_digests(
    source: str, block_rows: int, *, pairs: bool, label_sets: LabelSetColumn | None = None
) -> Callable[[Iterator[pd.DataFrame]], Iterator[pd.DataFrame]]:
    """The ``mapInPandas`` function: rows (index, text, pair, label) to (block, index, digest)
    with ``cardgen.data.fingerprint.row_digest``; with ``label_sets``, labels are JSON tokens
    of label sets, digested as their names."""

    def digest(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for batch in batches:
            index = batch["index"].to_numpy()
            second = batch["pair"].tolist() if pairs else [None] * len(batch)
            gold = batch["label"].tolist()
            if label_sets is not None:
                gold = label_sets.names(gold, index.tolist())
            rows = zip(index, batch["text"].tolist(), second, gold, strict=True)
            yield pd.DataFrame(
                {
                    "block": index // block_rows,
                    "index": index,
                    "digest": [
                        row_digest(t, p, label, row=int(i), source=source)
                        for i, t, p, label in rows
                    ],
                }
            )

    return digest


def block_digests(rows: pd.DataFrame) -> pd.DataFrame:
    """The ``applyInPandas`` function: one block's row digests, hashed in row order."""
    ordered = rows.sort_values("index")
    digest = hashlib.sha256(b"".join(ordered["digest"])).digest()
    return pd.DataFrame({"block": [int(rows["block"].iloc[0])], "digest": [digest]})
