from __future__ import annotations

import subprocess
import sys
import time

import numpy as np
import pytest
from sklearn import metrics as skm

from cardgen.tasks.metrics import (
    binary_roc_auc,
    bootstrap_confusion,
    compute_metrics,
    expected_calibration_error,
)


def _synthetic(n: int, k: int, seed: int):
    rng = np.random.default_rng(seed)
    y_true = rng.integers(0, k, n)
    logits = rng.normal(size=(n, k)) + 2.0 * np.eye(k)[y_true]
    proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return y_true, proba.argmax(axis=1), proba


@pytest.mark.parametrize("k", [2, 4, 20])
@pytest.mark.parametrize("seed", [0, 1])
def test_metrics_equal_scikit_learn(k: int, seed: int) -> None:
    y_true, y_pred, proba = _synthetic(600, k, seed)
    labels = [f"c{i}" for i in range(k)]
    report = compute_metrics(y_true, y_pred, labels, scores=proba, n_bootstrap=0)
    m = {name: metric.value for name, metric in report.metrics.items()}
    assert m["accuracy"] == pytest.approx(skm.accuracy_score(y_true, y_pred))
    assert m["balanced_accuracy"] == pytest.approx(skm.balanced_accuracy_score(y_true, y_pred))
    for average in ("macro", "weighted", "micro"):
        p, r, f, _ = skm.precision_recall_fscore_support(
            y_true, y_pred, average=average, zero_division=0
        )
        assert m[f"{average}_precision"] == pytest.approx(p)
        assert m[f"{average}_recall"] == pytest.approx(r)
        assert m[f"{average}_f1"] == pytest.approx(f)
    assert m["log_loss"] == pytest.approx(skm.log_loss(y_true, proba, labels=range(k)))
    expected_auc = (
        skm.roc_auc_score(y_true, proba[:, 1])
        if k == 2
        else skm.roc_auc_score(y_true, proba, multi_class="ovr")
    )
    assert m["roc_auc"] == pytest.approx(expected_auc)
    p, r, f, s = skm.precision_recall_fscore_support(
        y_true, y_pred, labels=range(k), zero_division=0
    )
    table = report.per_class
    assert [row.precision for row in table] == pytest.approx(p)
    assert [row.recall for row in table] == pytest.approx(r)
    assert [row.f1 for row in table] == pytest.approx(f)
    assert [row.support for row in table] == s.tolist()
    assert (
        report.confusion_matrix.counts
        == skm.confusion_matrix(y_true, y_pred, labels=range(k)).tolist()
    )


def test_hand_computed_binary_example() -> None:
    # gold:  1 1 1 0 0 ; predicted: 1 1 0 0 1 -> tp=2 fn=1 fp=1 tn=1
    report = compute_metrics(
        np.array([1, 1, 1, 0, 0]), np.array([1, 1, 0, 0, 1]), ["neg", "pos"], n_bootstrap=0
    )
    pos = report.per_class[1]
    assert (pos.precision, pos.recall, pos.support) == (
        pytest.approx(2 / 3),
        pytest.approx(2 / 3),
        3,
    )
    neg = report.per_class[0]
    assert (neg.precision, neg.recall) == (pytest.approx(1 / 2), pytest.approx(1 / 2))
    assert report.metrics["accuracy"].value == pytest.approx(3 / 5)
    assert report.metrics["macro_f1"].value == pytest.approx((2 / 3 + 1 / 2) / 2)
    assert report.confusion_matrix.normalized() == [
        [0.5, 0.5],
        [pytest.approx(1 / 3), pytest.approx(2 / 3)],
    ]


def test_model_label_without_support_is_kept_with_zero_support() -> None:
    y_true, y_pred = np.array([0, 1, 0, 1]), np.array([0, 1, 1, 1])
    report = compute_metrics(y_true, y_pred, ["a", "b", "never"], n_bootstrap=0)
    assert [row.label for row in report.per_class] == ["a", "b", "never"]
    assert report.per_class[2].support == 0
    assert report.metrics["macro_f1"].value == pytest.approx(
        skm.f1_score(y_true, y_pred, average="macro")
    )


def test_bootstrap_ci_brackets_the_estimate_and_is_seeded() -> None:
    y_true, y_pred, _ = _synthetic(2000, 3, 2)
    first = compute_metrics(y_true, y_pred, list("abc"), n_bootstrap=500, seed=7).metrics
    second = compute_metrics(y_true, y_pred, list("abc"), n_bootstrap=500, seed=7).metrics
    assert first == second
    acc = first["accuracy"]
    assert acc.ci_low < acc.value < acc.ci_high
    # The binomial standard error of accuracy, sqrt(p(1-p)/n), sets the expected width.
    se = np.sqrt(acc.value * (1 - acc.value) / 2000)
    assert acc.ci_high - acc.ci_low == pytest.approx(2 * 1.96 * se, rel=0.15)


def test_bootstrap_replicates_keep_the_sample_size() -> None:
    cm = np.array([[5, 1], [2, 7]])
    draws = bootstrap_confusion(cm, 50, seed=0)
    assert draws.shape == (50, 2, 2)
    assert (draws.sum(axis=(1, 2)) == cm.sum()).all()


def test_expected_calibration_error_by_hand() -> None:
    # Two examples at confidence 0.9 (one right), two at 0.6 (both right).
    proba = np.array([[0.9, 0.1], [0.9, 0.1], [0.4, 0.6], [0.4, 0.6]])
    y_true = np.array([0, 1, 1, 1])
    calibration = expected_calibration_error(y_true, proba, n_bins=10)
    assert calibration.ece == pytest.approx(0.5 * abs(0.5 - 0.9) + 0.5 * abs(1.0 - 0.6))
    assert sum(b.count for b in calibration.bins) == 4


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("decimals", [None, 1])
def test_binary_roc_auc_equals_scikit_learn_with_and_without_ties(
    seed: int, decimals: int | None
) -> None:
    rng = np.random.default_rng(seed)
    positive = rng.random(500) < 0.3
    scores = rng.random(500) + 0.3 * positive
    if decimals is not None:  # many tied scores, within and across the classes
        scores = np.round(scores, decimals)
    assert binary_roc_auc(positive, scores) == pytest.approx(
        skm.roc_auc_score(positive, scores), abs=1e-12
    )


@pytest.mark.parametrize(
    ("positive", "scores", "expected"),
    [
        ([True, False], [0.2, 0.2], 0.5),  # every score tied
        ([True, False, False], [0.9, 0.1, 0.5], 1.0),
        ([True, True, False], [0.1, 0.2, 0.9], 0.0),
        ([False, True, False, True], [0.1, 0.4, 0.35, 0.8], 1.0),
        ([False, True, True, False], [0.5, 0.5, 0.7, 0.1], 0.875),  # hand-computed: 3.5 / 4
    ],
)
def test_binary_roc_auc_hand_computed(
    positive: list[bool], scores: list[float], expected: float
) -> None:
    assert binary_roc_auc(np.array(positive), np.array(scores)) == pytest.approx(expected)
    assert skm.roc_auc_score(positive, scores) == pytest.approx(expected)


def test_metrics_do_not_import_scikit_learn() -> None:
    code = (
        "import sys, numpy as np\n"
        "from cardgen.tasks.metrics import compute_metrics\n"
        "from cardgen.tasks.multilabel_metrics import compute_multilabel_metrics\n"
        "rng = np.random.default_rng(0); y = rng.integers(0, 3, 200); p = rng.random((200, 3))\n"
        "compute_metrics(y, p.argmax(1), list('abc'), scores=p / p.sum(1, keepdims=True))\n"
        "compute_multilabel_metrics(rng.random((200, 3)) < 0.4, p, np.full(3, 0.5), list('abc'))\n"
        "assert not {m for m in sys.modules if m.split('.')[0] in ('sklearn', 'scipy')}\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_bootstrap_of_25000_rows_is_vectorised() -> None:
    rng = np.random.default_rng(0)
    y_true = rng.integers(0, 4, 25_000)
    y_pred = np.where(rng.random(25_000) < 0.8, y_true, rng.integers(0, 4, 25_000))
    start = time.perf_counter()
    report = compute_metrics(y_true, y_pred, list("abcd"), n_bootstrap=10_000)
    # 10,000 resamples take ~25 ms on one core (bench/bootstrap.py); a per-row loop takes minutes
    assert time.perf_counter() - start < 2.0
    accuracy = report.metrics["accuracy"]
    assert accuracy.ci_low is not None and accuracy.ci_high is not None
    assert accuracy.ci_low < accuracy.value < accuracy.ci_high
