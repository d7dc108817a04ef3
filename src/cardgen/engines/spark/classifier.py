"""A TextClassifier that predicts on Spark executors, for ``cardgen probe --engine spark``.

Texts travel from the driver and scores come back to it, which suits the bounded text sets of
probes (template fills); datasets go through ``engine``, whose rows never reach the driver.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from cardgen.engines.spark.session import spark_errors
from cardgen.engines.spark.worker import LoadOptions, StatsParam, predictor
from cardgen.models.base import RunStats
from cardgen.models.precision import RECHECK_BOUND, RECHECK_SUFFIX
from cardgen.results.schema import ModelInfo

PREDICTION_SCHEMA = "index long, gold string, predicted string, probabilities map<string,double>"
DETAILS_SCHEMA = ", length long"
"""What an evaluation's predictions add for the analysis (``worker.predictor``'s details),
and with examples, ``EXAMPLES_SCHEMA``."""
EXAMPLES_SCHEMA = ", text string, pair string"
ROWS_PER_PARTITION = 100_000
"""Prediction partitions hold at most this many rows (and there are at least as many as task
slots), so a lost task repeats little work."""


class SparkClassifier:
    """The model of ``options``, its copy on the driver's CPU answering for labels and info."""

    def __init__(self, options: LoadOptions, spark: Any) -> None:
        self.options = options
        self.spark = spark
        self.model = options.open("cpu")
        self.labels = list(self.model.labels)
        self.score_kind = self.model.score_kind

    @property
    def multi_label(self) -> bool | None:
        """Whether the executors score with a sigmoid per label (``models.base``'s meaning)."""
        if self.options.multi_label is not None:
            return self.options.multi_label
        return getattr(self.model, "multi_label", False)

    @multi_label.setter
    def multi_label(self, value: bool | None) -> None:
        self.options = replace(self.options, multi_label=value)

    @property
    def decision_thresholds(self) -> NDArray[np.float64] | None:
        """The thresholds the executors' exact-fast models recheck near (``with_thresholds``)."""
        found = self.options.decision_thresholds
        return None if found is None else np.asarray(found)

    @decision_thresholds.setter
    def decision_thresholds(self, value: NDArray[np.float64] | None) -> None:
        found = None if value is None else tuple(float(x) for x in value)
        self.options = replace(self.options, decision_thresholds=found)

    def info(self) -> ModelInfo:
        return self.model.info()

    def predict_scores(
        self,
        texts: Sequence[str],
        *,
        batch_size: int | None = None,
        progress: bool = False,
        text_pairs: Sequence[str] | None = None,
    ) -> tuple[NDArray[np.float64], RunStats]:
        """Scores (n, labels) in input order, predicted by the executors."""
        pairs = text_pairs if text_pairs is not None else [None] * len(texts)
        rows = [(i, t, p, "") for i, (t, p) in enumerate(zip(texts, pairs, strict=True))]
        schema = "index long, text string, pair string, label string"
        frame = self.spark.createDataFrame(rows, schema).repartition(
            partitions(self.spark, len(rows))
        )
        stats = self.spark.sparkContext.accumulator(StatsParam().zero({}), StatsParam())
        predict = predictor(
            self.options,
            list(range(len(self.labels))),
            self.labels,
            batch_size=batch_size,
            pairs=text_pairs is not None,
            stats=stats,
        )
        start = time.perf_counter()
        with spark_errors("predicting"):
            found = frame.mapInPandas(predict, PREDICTION_SCHEMA).select("index", "probabilities")
            collected = found.collect()
        scores = np.zeros((len(rows), len(self.labels)))
        for row in collected:
            scores[row["index"]] = [row["probabilities"][label] for label in self.labels]
        return scores, run_stats(stats.value, time.perf_counter() - start)


def partitions(spark: Any, rows: int) -> int:
    """How many partitions ``rows`` rows are predicted in."""
    return max(spark.sparkContext.defaultParallelism, math.ceil(rows / ROWS_PER_PARTITION))


def run_stats(stats: dict[str, Any], wall: float) -> RunStats:
    """The RunStats of a prediction job from its workers' accumulated statistics."""
    devices = sorted(stats["devices"], key=str)
    tokens = None if stats["no_tokens"] else stats["tokens"]
    recheck = any(RECHECK_SUFFIX in dtype for _, dtype, _ in devices)
    return RunStats(
        device=", ".join(sorted({d for d, _, _ in devices})) or "cpu",
        dtype=", ".join(sorted({t for _, t, _ in devices})) or "float32",
        batch_size=stats["batch_size"],
        wall_seconds=wall,
        tokens=tokens,
        padded_tokens=None if tokens is None else stats["padded_tokens"],
        truncated=stats["truncated"],
        max_length=next((m for _, _, m in devices if m is not None), None),
        rechecked=stats["rechecked"] if recheck else None,
        recheck_bound=RECHECK_BOUND if recheck else None,
    )


def spark_classifier(
    model: str,
    *,
    spark_master: str | None = None,
    revision: str | None = None,
    device: str = "auto",
    dtype: str = "auto",
    max_length: int | None = None,
    trust_remote_code: bool = False,
    allow_pickle: bool = False,
    trusted_types: Sequence[str] = (),
) -> SparkClassifier:
    """``model`` (a path or hub id every executor can load) predicting on Spark; the options
    are ``cardgen.models.load_model``'s."""
    from cardgen.engines.spark.session import spark_session

    options = LoadOptions(
        model,
        revision=revision,
        device=device,
        dtype=dtype,
        max_length=max_length,
        trust_remote_code=trust_remote_code,
        allow_pickle=allow_pickle,
        trusted_types=tuple(trusted_types),
    )
    return SparkClassifier(options, spark_session(spark_master))
