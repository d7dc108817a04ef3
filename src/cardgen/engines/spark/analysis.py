"""``cardgen.analysis``' automatic sections for predictions in Spark, from aggregates: a
histogram of input lengths gives the quartile edges, per-slice confusion matrices feed the same
slice code, and failure examples are per-pair top-k rows picked on executors. The driver
collects counts and a few example rows, never all rows."""

from __future__ import annotations

from functools import reduce

import numpy as np
from pyspark.sql import Column, DataFrame, Row, Window
from pyspark.sql import functions as F

from cardgen.analysis.failures import (
    EXAMPLES_PER_PAIR,
    MAX_ISSUE_EXAMPLES,
    confused_cells,
    confused_pair,
    failure_example,
    issues_from_joint,
)
from cardgen.analysis.slices import automatic_slices_from_counts, length_buckets
from cardgen.results.schema import FailureAnalysis, FailureExample, LabelIssues, SliceResult


def spark_slices(
    predictions: DataFrame,
    labels: list[str],
    *,
    unit: str,
    max_length: int | None,
    min_size: int,
    n_bootstrap: int,
    seed: int,
) -> dict[str, SliceResult]:
    """Input-length quartiles and truncated vs not (for token lengths with a maximum), as
    ``analysis.automatic_slices`` computes them from rows."""
    histogram = predictions.groupBy("length").count().collect()
    edges, names, spans = length_buckets(
        np.array([row[0] for row in histogram], dtype=np.int64),
        np.array([row[1] for row in histogram], dtype=np.int64),
        unit,
    )
    cut = max_length if unit == "tokens" else None
    truncated = F.col("length") > cut if cut is not None else F.lit(False)
    bucket = reduce(
        lambda a, b: a + b,
        [F.when(F.col("length") > int(edge), 1).otherwise(0) for edge in edges],
        F.lit(0),
    )
    code = {label: i for i, label in enumerate(labels)}
    k = len(labels)
    quartiles = np.zeros((len(names), k, k), dtype=np.int64)
    flags = np.zeros((2, k, k), dtype=np.int64)
    position = {b: i for i, b in enumerate(names)}
    grouped = predictions.groupBy(
        bucket.alias("bucket"), truncated.alias("cut"), "gold", "predicted"
    ).count()
    for row in grouped.collect():
        cell = code[row["gold"]], code[row["predicted"]]
        quartiles[(position[row["bucket"]], *cell)] += row["count"]
        flags[(int(row["cut"]), *cell)] += row["count"]
    return automatic_slices_from_counts(
        labels,
        length=(list(names.values()), quartiles),
        order=list(names.values()),
        spans=spans,
        unit=unit,
        truncated=(["no", "yes"], flags) if cut is not None else None,
        max_length=max_length,
        min_size=min_size,
        n_bootstrap=n_bootstrap,
        seed=seed,
    )


def spark_failures(
    predictions: DataFrame,
    labels: list[str],
    cm: np.ndarray,
    *,
    score_kind: str,
    examples: bool,
    pairs: bool,
) -> FailureAnalysis:
    """``analysis.analyse_failures`` from the confusion matrix ``cm`` and a few rows per pair."""
    probabilities = score_kind == "probability"
    cells = confused_cells(cm)
    chosen: dict[tuple[str, str], list[FailureExample]] = {}
    if cells:
        score = F.element_at("probabilities", F.col("predicted"))
        ordering = [score.desc(), F.col("index")] if score_kind != "label" else [F.col("index")]
        window = Window.partitionBy("gold", "predicted").orderBy(*ordering)
        wanted = reduce(
            lambda a, b: a | b,
            [(F.col("gold") == labels[g]) & (F.col("predicted") == labels[p]) for g, p in cells],
        )
        top = (
            predictions.where(wanted)
            .withColumn("rank", F.row_number().over(window))
            .where(F.col("rank") <= EXAMPLES_PER_PAIR)
        )
        for row in sorted(top.collect(), key=lambda r: r["rank"]):
            pair = row["gold"], row["predicted"]
            shown = _example(row, row["predicted"], examples=examples, pairs=pairs)
            if not probabilities:
                shown.probability = shown.gold_probability = None
            chosen.setdefault(pair, []).append(shown)
    return FailureAnalysis(
        errors=int(cm.sum() - np.trace(cm)),
        pairs=[
            confused_pair(cm, g, p, labels, chosen.get((labels[g], labels[p]), []))
            for g, p in cells
        ],
        label_issues=(
            _label_issues(predictions, labels, int(cm.sum()), examples=examples, pairs=pairs)
            if probabilities and cm.sum()
            else None
        ),
        examples=examples,
    )


def _label_issues(
    predictions: DataFrame, labels: list[str], n: int, *, examples: bool, pairs: bool
) -> LabelIssues:
    """``analysis.label_issues``: thresholds and the confident joint are aggregates; the
    examples the executors' top rows by gold probability."""
    k = len(labels)
    gold_probability = F.element_at("probabilities", F.col("gold"))
    thresholds = np.full(k, np.inf)
    code = {label: i for i, label in enumerate(labels)}
    for row in predictions.groupBy("gold").agg(F.avg(gold_probability)).collect():
        thresholds[code[row[0]]] = row[1]
    above = F.array(
        *[
            F.when(_score(label) >= float(t), _score(label))
            if np.isfinite(t)
            else F.lit(None).cast("double")
            for label, t in zip(labels, thresholds, strict=True)
        ]
    )
    best = F.array_position(above, F.array_max(above))  # the first most probable: argmax
    # element_at of a null position is not null on Spark 4, hence the explicit test
    suggested = F.when(
        F.array_max(above).isNotNull(),
        F.element_at(F.array(*[F.lit(label) for label in labels]), best.cast("int")),
    )
    candidates = predictions.withColumn("suggested", suggested).where(
        F.col("suggested").isNotNull() & (F.col("suggested") != F.col("gold"))
    )
    joint = np.zeros((k, k), dtype=np.int64)
    for row in candidates.groupBy("gold", "suggested").count().collect():
        joint[code[row["gold"]], code[row["suggested"]]] = row["count"]
    top = candidates.orderBy(gold_probability, F.col("index")).limit(MAX_ISSUE_EXAMPLES)
    shown = [
        _example(row, row["suggested"], examples=examples, pairs=pairs) for row in top.collect()
    ]
    return issues_from_joint(joint, n, thresholds, labels, shown)


def _score(label: str) -> Column:
    return F.element_at("probabilities", F.lit(label))


def _example(row: Row, predicted: str, *, examples: bool, pairs: bool) -> FailureExample:
    """The FailureExample of a predictions row, ``predicted`` the label it is shown with."""
    scores = row["probabilities"]
    return failure_example(
        row["index"],
        row["gold"],
        predicted,
        probability=scores[predicted],
        gold_probability=scores[row["gold"]],
        text=row["text"] if examples else None,
        text_pair=row["pair"] if examples and pairs else None,
    )
