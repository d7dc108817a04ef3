"""Metrics of predictions that executors wrote, from aggregates the driver collects: the
confusion matrix (K x K counts), calibration bins (rows, summed confidence, rows correct) and
the summed log loss add over rows; ROC-AUC is Spark's exact (unbinned) area under the curve."""

from __future__ import annotations

from functools import reduce

import numpy as np
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from cardgen.tasks.metrics import (
    MetricsReport,
    calibration_edges,
    calibration_from_sums,
    finish_metrics,
)

N_CALIBRATION_BINS = 15


def confusion(predictions: DataFrame, labels: list[str]) -> np.ndarray:
    """Counts of (gold, predicted) pairs, rows gold and columns predicted."""
    code = {label: i for i, label in enumerate(labels)}
    cm = np.zeros((len(labels), len(labels)), dtype=np.int64)
    for row in predictions.groupBy("gold", "predicted").count().collect():
        cm[code[row["gold"]], code[row["predicted"]]] = row["count"]
    return cm


def _confidence_bin(confidence: Column, n_bins: int) -> Column:
    """``metrics.calibration_sums``' bin: edges below the confidence, minus one, clipped."""
    below = [F.when(confidence > float(edge), 1).otherwise(0) for edge in calibration_edges(n_bins)]
    return F.least(F.greatest(reduce(lambda a, b: a + b, below) - 1, F.lit(0)), F.lit(n_bins - 1))


def score_sums(
    predictions: DataFrame, n_bins: int = N_CALIBRATION_BINS
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Per-bin rows, summed top-label confidence and rows correct; and the summed log loss
    (gold probability renormalised per row and clipped to [eps, 1 - eps], as locally)."""
    eps = float(np.finfo(np.float64).eps)
    values = F.map_values("probabilities")
    total = F.aggregate(values, F.lit(0.0), lambda acc, x: acc + x)
    gold = F.element_at("probabilities", F.col("gold")) / total
    rows = predictions.select(
        _confidence_bin(F.array_max(values), n_bins).alias("bin"),
        F.array_max(values).alias("confidence"),
        (F.col("gold") == F.col("predicted")).cast("double").alias("correct"),
        (-F.log(F.least(F.greatest(gold, F.lit(eps)), F.lit(1 - eps)))).alias("nll"),
    )
    counts = np.zeros(n_bins, dtype=np.int64)
    confidence, correct = np.zeros(n_bins), np.zeros(n_bins)
    nll = 0.0
    grouped = rows.groupBy("bin").agg(
        F.count("*").alias("n"), F.sum("confidence"), F.sum("correct"), F.sum("nll")
    )
    for row in grouped.collect():
        b = row["bin"]
        counts[b], confidence[b], correct[b] = row["n"], row[2], row[3]
        nll += row[4]
    return counts, confidence, correct, nll


def roc_auc(predictions: DataFrame, labels: list[str], support: np.ndarray) -> float | None:
    """Binary AUC, or the one-vs-rest macro AUC over classes with both outcomes present, each
    from Spark's ``BinaryClassificationEvaluator`` without down-sampling (numBins=0): exact,
    ties counted half, like scikit-learn's ``roc_auc_score``."""
    from pyspark.ml.evaluation import BinaryClassificationEvaluator

    n = int(support.sum())
    classes = [1] if len(labels) == 2 else range(len(labels))
    evaluator = BinaryClassificationEvaluator(
        rawPredictionCol="score", labelCol="positive", metricName="areaUnderROC", numBins=0
    )
    aucs = []
    for c in classes:
        if not 0 < support[c] < n:
            continue
        scored = predictions.select(
            F.element_at("probabilities", F.lit(labels[c])).alias("score"),
            (F.col("gold") == labels[c]).cast("double").alias("positive"),
        )
        aucs.append(evaluator.evaluate(scored))
    return float(np.mean(aucs)) if aucs else None


def spark_metrics(
    predictions: DataFrame,
    labels: list[str],
    *,
    score_kind: str,
    n_bootstrap: int,
    seed: int,
) -> MetricsReport:
    """``metrics.compute_metrics`` for predictions in Spark, from aggregates only."""
    cm = confusion(predictions, labels)
    auc = log_loss = calibration = None
    if score_kind != "label":
        auc = roc_auc(predictions, labels, cm.sum(axis=1))
        if score_kind == "probability":
            counts, confidence, correct, nll = score_sums(predictions)
            calibration = calibration_from_sums(counts, confidence, correct)
            log_loss = nll / int(cm.sum())
    return finish_metrics(
        cm,
        labels,
        roc_auc=auc,
        log_loss=log_loss,
        calibration=calibration,
        n_bootstrap=n_bootstrap,
        seed=seed,
    )
