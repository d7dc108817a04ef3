"""``--engine spark``: the Spark engine. Executors predict; the evaluation does the rest.

The driver loads the model once on its CPU for its labels and description and checks the data
(columns, texts, labels, fingerprint) with Spark jobs that return only a few rows; executors
then predict their partitions and write ``predictions.parquet`` into the run directory. The
driver reads back the compact columns (scores, lengths) and the rows' texts, gold labels and
slice values, and hands them to the same evaluation as the local engine, so both engines give
the same answers by construction. On a cluster, the run directory must be on storage every
executor mounts at the same path.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from cardgen.data.labels import Alignment
from cardgen.data.load import EvalData
from cardgen.engines.base import Predicted, run_environment, run_timing
from cardgen.engines.spark.classifier import (
    DETAILS_SCHEMA,
    EXAMPLES_SCHEMA,
    PREDICTION_SCHEMA,
    SparkClassifier,
    partitions,
    run_stats,
)
from cardgen.engines.spark.readback import collect_rows, read_scores
from cardgen.engines.spark.session import spark_errors, spark_session
from cardgen.engines.spark.source import SparkRows, prepare_rows, read_dataset
from cardgen.engines.spark.worker import LoadOptions, StatsParam, predictor
from cardgen.errors import DataError, UsageError
from cardgen.models import TextClassifier
from cardgen.models.base import RunStats
from cardgen.results.predictions import PARQUET_PREDICTIONS_FILE
from cardgen.results.schema import Timing
from cardgen.trust.untrusted import quote


class SparkEngine:
    """Reads the data as a DataFrame and predicts it on the executors of ``master``."""

    name = "spark"

    def __init__(self, master: str | None = None) -> None:
        self.spark = spark_session(master)
        self.rows: SparkRows | None = None

    def load_data(
        self,
        dataset: Any,
        *,
        split: str | None = None,
        config: str | None = None,
        text_column: str | None = None,
        text_pair_column: str | None = None,
        label_column: str | None = None,
        limit: int | None = None,
        sample: bool = False,
        seed: int = 0,
        slice_columns: tuple[str, ...] = (),
        label_format: str | None = None,
    ) -> EvalData:
        """The dataset's header (labels, info): its rows stay in Spark until ``predict``.
        ``dataset`` is a file, glob, directory, table name or a DataFrame; ``split`` and
        ``config`` name a Hub dataset's, which Spark does not read."""
        from pyspark.sql import DataFrame

        if isinstance(dataset, EvalData):
            raise UsageError(
                "--engine spark reads the dataset on the cluster: pass a path, table name or "
                "DataFrame, not loaded data (or use --engine local)"
            )
        frame, source, file_scan = dataset, "dataframe", False
        what = source if isinstance(dataset, DataFrame) else quote(str(dataset))
        with spark_errors(f"reading dataset {what}", DataError):
            if not isinstance(dataset, DataFrame):
                frame, source, file_scan = read_dataset(self.spark, str(dataset))
            self.rows = prepare_rows(
                frame,
                source=source,
                file_scan=file_scan,
                text_column=text_column,
                text_pair_column=text_pair_column,
                label_column=label_column,
                limit=limit,
                sample=sample,
                seed=seed,
                slice_columns=slice_columns,
                label_format=label_format,
            )
        rows, sets = self.rows, self.rows.label_sets
        return EvalData(
            texts=[],
            labels=[],
            label_names=rows.label_names,
            indexed=rows.indexed,
            info=rows.info,
            label_sets=None if sets is None else sets.sets,
            multi_hot=sets is not None and sets.multi_hot,
            vector_width=None if sets is None else sets.vector_width,
        )

    def load_model(self, model: Any, **options: Any) -> SparkClassifier:
        """``model`` (a path or hub id every executor can load) predicting on the executors;
        ``options`` are ``cardgen.models.load_model``'s."""
        if not isinstance(model, (str, Path)):
            raise UsageError(
                "--engine spark loads the model on every executor from a path or hub id: pass "
                "its name, not a loaded model (or use --engine local)"
            )
        return SparkClassifier(LoadOptions(str(model), **options), self.spark)

    def predict(
        self,
        model: TextClassifier,
        data: EvalData,
        alignment: Alignment,
        *,
        batch_size: int | None,
        progress: bool,
        out: Path | None,
        examples: bool,
        limits: NDArray[np.float64] | None = None,
    ) -> Predicted:
        """Executors write the predictions as Parquet (into ``out``, else a scratch folder);
        the driver reads back scores and lengths, and the rows' texts, labels and slices."""
        rows = self.rows
        if rows is None or not isinstance(model, SparkClassifier):
            raise TypeError("SparkEngine.predict needs its own load_data and load_model first")
        scratch = None if out is not None else Path(tempfile.mkdtemp(prefix="cardgen-spark-"))
        target = (out or scratch) / PARQUET_PREDICTIONS_FILE  # type: ignore[operator]
        try:
            stats, wall = predict_to_parquet(
                self.spark,
                rows,
                model.options,
                alignment,
                batch_size=batch_size,
                target=target,
                examples=examples,
                limits=limits,
            )
            with spark_errors("reading back predictions"):
                index, scores, lengths = read_scores(target, alignment.labels)
                rows_data = collect_rows(rows, data)
        finally:
            if scratch is not None:
                shutil.rmtree(scratch, ignore_errors=True)
        if list(index) != rows_data.row_ids:
            raise RuntimeError("the predictions written do not match the dataset's rows")
        units = sorted(stats["units"])
        if len(units) != 1:
            raise RuntimeError(f"workers measured input lengths in {units}, not one unit")
        run = replace(
            run_stats(stats, wall), input_lengths=lengths if units[0] == "tokens" else None
        )
        timing = _spark_timing(self.spark, run, rows.info.num_rows)
        environment = {**run_environment(), "pyspark": self.spark.version}
        written = PARQUET_PREDICTIONS_FILE if out is not None else None
        return Predicted(rows_data.data, scores, run, timing, environment, written)


def predict_to_parquet(
    spark: Any,
    rows: SparkRows,
    load: LoadOptions,
    alignment: Alignment,
    *,
    batch_size: int | None,
    target: Path,
    examples: bool,
    limits: NDArray[np.float64] | None = None,
) -> tuple[dict[str, Any], float]:
    """Executors predict ``rows`` and write them to ``target`` (Parquet, one file per task,
    committed once per partition however often a task is retried), with each input's length
    and, with ``examples``, its texts; the workers' statistics (see ``worker.StatsParam``) and
    the job's wall time. ``limits``: a multi-label run's thresholds, in the alignment's label
    order (gold and predicted are then JSON lists of labels)."""
    label_sets = None
    if limits is not None:
        if rows.label_column is None:
            raise TypeError("multi-label predictions need label-set rows")
        label_sets = (rows.label_column, [float(x) for x in limits])
    stats = spark.sparkContext.accumulator(StatsParam().zero({}), StatsParam())
    predict = predictor(
        load,
        alignment.columns,
        alignment.labels,
        batch_size=batch_size,
        pairs=rows.info.text_pair is not None,
        stats=stats,
        details=True,
        examples=examples,
        label_sets=label_sets,
    )
    schema = PREDICTION_SCHEMA + DETAILS_SCHEMA + (EXAMPLES_SCHEMA if examples else "")
    frame = rows.frame.select("index", "text", "pair", "label")
    frame = frame.repartition(partitions(spark, rows.info.num_rows), "index")
    start = time.perf_counter()
    with spark_errors("predicting"):
        frame.mapInPandas(predict, schema).write.parquet(target.absolute().as_uri())
    return stats.value, time.perf_counter() - start


def _spark_timing(spark: Any, run: RunStats, n: int) -> Timing:
    """The run's Timing from its ``run_stats``: devices and dtypes as the workers reported
    them, the wall time of the prediction job, and tokens / truncation added up over tasks."""
    context = spark.sparkContext
    hardware = f"Spark {context.master}, {context.defaultParallelism} task slots"
    return replace(run_timing(replace(run, device="cpu"), n), device=run.device, hardware=hardware)
