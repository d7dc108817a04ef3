"""``--engine spark``: the evaluation of ``cardgen.evaluation.run`` on a Spark cluster.

The driver loads the model once on its CPU for its labels and description, checks the data
(columns, texts, labels, fingerprint) with Spark jobs that return only a few rows, then
executors predict their partitions and write ``predictions.parquet`` into the run directory;
metrics come from aggregates of those files (``aggregate``), so the driver's memory does not
grow with the rows. On a cluster, the run directory must be on storage every executor mounts
at the same path.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
from pyspark.sql import DataFrame

from cardgen import __version__
from cardgen.analysis import DEFAULT_MIN_SLICE_SIZE, analysis_options
from cardgen.cards.conventions import check_dataset_id
from cardgen.data.declared import with_dataset_names, with_label_order
from cardgen.data.labels import Alignment, align_labels, label_map_option, permutation_notes
from cardgen.data.load import EvalData, check_column_options
from cardgen.engines.spark.aggregate import spark_metrics
from cardgen.engines.spark.analysis import spark_failures, spark_slices
from cardgen.engines.spark.classifier import (
    DETAILS_SCHEMA,
    EXAMPLES_SCHEMA,
    PREDICTION_SCHEMA,
    partitions,
    run_stats,
)
from cardgen.engines.spark.session import spark_errors, spark_session
from cardgen.engines.spark.source import SparkRows, prepare_rows, read_dataset
from cardgen.engines.spark.worker import LoadOptions, StatsParam, predictor
from cardgen.errors import DataError, UsageError
from cardgen.evaluation.options import check_run_options
from cardgen.evaluation.outputs import run_environment, run_timing, save_plots_and_results
from cardgen.models import TextClassifier
from cardgen.results.predictions import PARQUET_PREDICTIONS_FILE
from cardgen.results.rundir import staged_run_dir
from cardgen.results.schema import EvalResults
from cardgen.tasks.multilabel import declared_multi_label


@dataclass(frozen=True)
class RunOptions:
    """The options of ``cardgen.evaluate`` that the Spark engine uses, already checked."""

    revision: str | None = None
    device: str = "auto"
    dtype: str = "auto"
    max_length: int | None = None
    trust_remote_code: bool = False
    allow_pickle: bool = False
    trusted_types: tuple[str, ...] = ()
    mapping: str | dict[str, str] | None = None
    label_order: Sequence[str] | None = None
    batch_size: int | None = None
    n_bootstrap: int = 10_000
    seed: int = 0
    min_slice_size: int = DEFAULT_MIN_SLICE_SIZE
    examples: bool = True

    def load(self, model: str) -> LoadOptions:
        """How every worker loads ``model``."""
        return LoadOptions(
            model,
            revision=self.revision,
            device=self.device,
            dtype=self.dtype,
            max_length=self.max_length,
            trust_remote_code=self.trust_remote_code,
            allow_pickle=self.allow_pickle,
            trusted_types=self.trusted_types,
        )



def evaluate_spark(
    model: str | Path | TextClassifier,
    dataset: str | Path | EvalData,
    *,
    out: Path | None,
    spark_master: str | None = None,
    options: RunOptions,
    text_column: str | None = None,
    text_pair_column: str | None = None,
    label_column: str | None = None,
    limit: int | None = None,
    names: tuple[str | None, str | None, str | None] = (None, None, None),
) -> EvalResults:
    """``cardgen.evaluation.run.evaluate(..., engine="spark")`` after its option checks.

    ``names`` are the dataset id, config and split.
    """
    if not isinstance(model, (str, Path)) or isinstance(dataset, EvalData):
        raise UsageError(
            "--engine spark loads the model on every executor from a path or hub id and reads "
            "the dataset there: pass both as names, not loaded objects (or use --engine local)"
        )
    spark = spark_session(spark_master)
    with spark_errors(f"reading dataset {dataset}", DataError):
        frame, source, file_scan = read_dataset(spark, str(dataset))
        rows = prepare_rows(
            frame,
            source=source,
            file_scan=file_scan,
            text_column=text_column,
            text_pair_column=text_pair_column,
            label_column=label_column,
            limit=limit,
        )
    return _evaluate_rows(spark, rows, str(model), out, options, names)


def evaluate_dataframe(
    model: str | Path,
    frame: DataFrame,
    *,
    text_column: str | None = None,
    text_pair_column: str | None = None,
    label_column: str | None = None,
    label_map: str | Path | dict[str, str] | None = None,
    label_order: Sequence[str] | None = None,
    batch_size: int | None = None,
    max_length: int | None = None,
    device: str = "auto",
    dtype: str = "auto",
    limit: int | None = None,
    n_bootstrap: int = 10_000,
    seed: int = 0,
    revision: str | None = None,
    trust_remote_code: bool = False,
    allow_pickle: bool = False,
    trusted_types: Sequence[str] = (),
    dataset_name: str = "dataframe",
    dataset_id: str | None = None,
    output_dir: str | Path | None = None,
    min_slice_size: int = DEFAULT_MIN_SLICE_SIZE,
    examples: bool = True,
) -> EvalResults:
    """Evaluate ``model`` (a path or hub id every executor can load) on a Spark DataFrame.

    Rows are numbered in the DataFrame's partition order, which must be deterministic (a
    DataFrame read from files, not one with random columns); the options mean what they mean
    for ``cardgen.evaluate``. Returns the same ``EvalResults``; with ``output_dir``, the run
    (``predictions.parquet``, plots, ``results.json``) is written there.
    """
    check_run_options(
        batch_size=batch_size,
        max_length=max_length,
        device=device,
        dtype=dtype,
        limit=limit,
        n_bootstrap=n_bootstrap,
        seed=seed,
        label_order=label_order,
    )
    check_column_options(text_column, text_pair_column, label_column, limit)
    analysis = analysis_options((), min_slice_size, examples)
    if dataset_id is not None:
        check_dataset_id(dataset_id)
    mapping = label_map_option(label_map)
    options = RunOptions(
        revision=revision,
        device=device,
        dtype=dtype,
        max_length=max_length,
        trust_remote_code=trust_remote_code,
        allow_pickle=allow_pickle,
        trusted_types=tuple(trusted_types),
        mapping=mapping,
        label_order=label_order,
        batch_size=batch_size,
        n_bootstrap=n_bootstrap,
        seed=seed,
        min_slice_size=analysis.min_slice_size,
        examples=analysis.examples,
    )
    with staged_run_dir(output_dir) as out:
        with spark_errors("reading the DataFrame", DataError):
            rows = prepare_rows(
                frame,
                source=dataset_name,
                file_scan=False,
                text_column=text_column,
                text_pair_column=text_pair_column,
                label_column=label_column,
                limit=limit,
            )
        names = (dataset_id, None, None)
        return _evaluate_rows(frame.sparkSession, rows, str(model), out, options, names)


def _evaluate_rows(
    spark: Any,
    rows: SparkRows,
    model_name: str,
    out: Path | None,
    options: RunOptions,
    names: tuple[str | None, str | None, str | None],
) -> EvalResults:
    load = options.load(model_name)
    header = EvalData([], [], rows.label_names, rows.indexed, rows.info)
    header = with_dataset_names(header, *names)
    if options.label_order is not None:
        header = with_label_order(header, list(options.label_order))
    model = load.open("cpu")  # the driver's copy: labels and description only
    if declared_multi_label(model) is True:
        raise UsageError(
            "this model is multi-label, which --engine spark does not evaluate yet; run with "
            "--engine local"
        )
    alignment = align_labels(
        model.labels,
        header.label_names,
        dataset_indexed=header.indexed,
        label_map=options.mapping,
    )
    scratch = None if out is not None else Path(tempfile.mkdtemp(prefix="cardgen-spark-"))
    target = (out or scratch) / PARQUET_PREDICTIONS_FILE  # type: ignore[operator]
    try:
        stats, wall = predict_to_parquet(
            spark,
            rows,
            load,
            alignment,
            batch_size=options.batch_size,
            target=target,
            examples=options.examples,
        )
        timing = _spark_timing(spark, stats, rows.info.num_rows, wall)
        with spark_errors("aggregating predictions"):
            predictions = spark.read.parquet(target.absolute().as_uri())
            report = spark_metrics(
                predictions,
                alignment.labels,
                score_kind=model.score_kind,
                n_bootstrap=options.n_bootstrap,
                seed=options.seed,
            )
            units = sorted(stats["units"])
            if len(units) != 1:
                raise RuntimeError(f"workers measured input lengths in {units}, not one unit")
            slices = spark_slices(
                predictions,
                alignment.labels,
                unit=units[0],
                max_length=timing.max_length,
                min_size=options.min_slice_size,
                n_bootstrap=options.n_bootstrap,
                seed=options.seed,
            )
            failures = spark_failures(
                predictions,
                alignment.labels,
                np.array(report.confusion_matrix.counts),
                score_kind=model.score_kind,
                examples=options.examples,
                pairs=rows.info.text_pair is not None,
            )
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
    notes = permutation_notes(np.array(report.confusion_matrix.counts), alignment)
    results = EvalResults(
        model=model.info(),
        dataset=header.info,
        label_mapping=alignment.mapping,
        labels=alignment.labels,
        metrics=report.metrics,
        per_class=report.per_class,
        confusion_matrix=report.confusion_matrix,
        calibration=report.calibration,
        timing=timing,
        environment={**run_environment(), "pyspark": spark.version},
        seed=options.seed,
        created_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        cardgen_version=__version__,
        warnings=notes,
    )
    results.slices, results.failures = slices, failures
    if out is not None:
        results.files["predictions"] = PARQUET_PREDICTIONS_FILE
        save_plots_and_results(results, out)
    return results


def predict_to_parquet(
    spark: Any,
    rows: SparkRows,
    load: LoadOptions,
    alignment: Alignment,
    *,
    batch_size: int | None,
    target: Path,
    examples: bool,
) -> tuple[dict[str, Any], float]:
    """Executors predict ``rows`` and write them to ``target`` (Parquet, one file per task,
    committed once per partition however often a task is retried), with each input's length
    and, with ``examples``, its texts; the workers' statistics (see ``worker.StatsParam``) and
    the job's wall time."""
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
    )
    schema = PREDICTION_SCHEMA + DETAILS_SCHEMA + (EXAMPLES_SCHEMA if examples else "")
    frame = rows.frame.select("index", "text", "pair", "label")
    frame = frame.repartition(partitions(spark, rows.info.num_rows), "index")
    start = time.perf_counter()
    with spark_errors("predicting"):
        frame.mapInPandas(predict, schema).write.parquet(target.absolute().as_uri())
    return stats.value, time.perf_counter() - start


def _spark_timing(spark: Any, stats: dict[str, Any], n: int, wall: float) -> Any:
    """The run's Timing: devices and dtypes as the workers reported them, the wall time of the
    prediction job, and tokens / truncation added up over tasks."""
    run = run_stats(stats, wall)
    context = spark.sparkContext
    hardware = f"Spark {context.master}, {context.defaultParallelism} task slots"
    return replace(run_timing(replace(run, device="cpu"), n), device=run.device, hardware=hardware)
