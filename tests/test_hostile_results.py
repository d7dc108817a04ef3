"""Results that were quietly wrong, one section per class: a gate that compared runs of
different tasks or inputs, bootstrap CIs that counted an undefined (0/0) resample as 0, and
label issue candidates the model predicts as labelled. Each test failed before its fix."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import results_from_predictions
from conftest import run_cli as run
from sklearn.metrics import precision_recall_fscore_support

from cardgen import compare_runs
from cardgen.analysis import label_issues, slice_metrics
from cardgen.analysis.failures import confident_labels, confident_thresholds
from cardgen.errors import LabelError, UsageError
from cardgen.gate import check_gate, paired_bootstrap_deltas
from cardgen.gate.paired import Pairing
from cardgen.results.schema import ConfusionMatrix, EvalResults, MultiLabelResults, TextPair
from cardgen.tasks.metrics import per_class_scores, percentile_intervals
from cardgen.tasks.multilabel_metrics import compute_multilabel_metrics

LABELS = ["neg", "pos"]
FINGERPRINT = "sha256:" + "a" * 64


# --- 1. runs that measure different things ----------------------------------------------------


def single_label(fingerprint: str = FINGERPRINT, labels: list[str] = LABELS) -> EvalResults:
    gold = [labels[i % len(labels)] for i in range(100)]
    return results_from_predictions(gold, gold, labels=labels, fingerprint=fingerprint)


def multi_label(fingerprint: str = FINGERPRINT, labels: list[str] = LABELS) -> EvalResults:
    """A multi-label run on ``labels`` whose micro-F1 (0.5) is far below the single-label one."""
    gold = np.zeros((100, len(labels)), dtype=bool)
    gold[np.arange(100), np.arange(100) % len(labels)] = True
    proba = np.where(gold, 0.9, 0.1)
    proba[:50] = np.where(gold[:50], 0.1, 0.9)  # half the rows get the other label
    report = compute_multilabel_metrics(gold, proba, np.full(len(labels), 0.5), labels)
    base = single_label(fingerprint, labels)
    base.metrics, base.per_class, base.calibration = (
        report.metrics,
        report.per_class,
        report.calibration,
    )
    base.confusion_matrix = ConfusionMatrix([], [])
    base.task = "multi_label"
    base.multilabel = MultiLabelResults("default", report.details)
    return base


def as_pairs(results: EvalResults) -> EvalResults:
    results.dataset.text_pair = TextPair("hypothesis")
    results.dataset.text_column = "premise"
    return results


def save(results: EvalResults, directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    results.save(directory)
    return directory


def assert_input_error(code: int, out: str, err: str, message: str) -> None:
    assert code == 2, (code, out, err)
    assert message in err, err
    assert err.count("error:") == 1 and "Traceback" not in out + err


def test_a_multi_label_run_is_not_gated_against_a_single_label_baseline() -> None:
    current, baseline = multi_label(), single_label()
    assert current.metrics["micro_f1"].value == 0.5  # micro-F1 of label decisions...
    assert baseline.metrics["micro_f1"].value == 1.0  # ...is not micro-F1 of one-label rows
    for allow in (False, True):
        with pytest.raises(UsageError, match=r"different tasks \(current: multi-label, baseline: single-label\)"):  # fmt: skip
            check_gate(current, baseline, {"min": {"micro_f1": 0.1}}, allow_different_data=allow)
    with pytest.raises(UsageError, match="different tasks"):
        check_gate(
            multi_label(fingerprint="sha256:" + "b" * 64),
            baseline,
            {"max-drop": {"micro_f1": 0.5}},
            allow_different_data=True,
        )


@pytest.mark.parametrize(
    ("current", "baseline", "message"),
    [
        (multi_label, single_label, "different tasks"),
        (single_label, multi_label, "different tasks"),
        (lambda: as_pairs(single_label()), single_label, "different inputs"),
        (single_label, lambda: as_pairs(single_label()), "different inputs"),
    ],
)
def test_gate_and_compare_refuse_the_same_pairs_with_the_same_check(
    capsys, tmp_path: Path, current, baseline, message
) -> None:
    new, main = save(current(), tmp_path / "new"), save(baseline(), tmp_path / "main")
    with pytest.raises(UsageError, match=message) as gated:
        check_gate(new, main, {"max-drop": {"micro_f1": 0.01}})
    with pytest.raises(UsageError, match=message) as compared:
        compare_runs(main, new)
    assert "cannot be compared: gate against a baseline" in str(gated.value)
    assert "cannot be compared: compare runs evaluated on the same" in str(compared.value)
    code, out, err = run(
        capsys, "gate", str(new), "--baseline", str(main), "--max-drop", "micro_f1=0.01"
    )
    assert_input_error(code, out, err, message)
    assert_input_error(*run(capsys, "compare", str(main), str(new)), message)


def test_every_difference_is_named_at_once_and_labels_keep_their_error(tmp_path: Path) -> None:
    current = as_pairs(multi_label(labels=["a", "b", "c"]))
    with pytest.raises(LabelError) as raised:
        check_gate(current, single_label(), {"min": {"micro_f1": 0.1}})
    message = str(raised.value)
    assert "different tasks (current: multi-label, baseline: single-label)" in message
    assert "different inputs (current: text pairs premise/hypothesis, baseline: single texts)" in message  # fmt: skip
    assert "different labels (current: a, b, c; baseline: neg, pos)" in message


CARD = """\
---
model-index:
- name: m
  results:
  - task: {type: text-classification}
    dataset: {name: d, type: d}
    metrics:
%s
---
- **Columns:** text `%s`, label `label`
- **Fingerprint of texts and labels:** `%s`
"""
SINGLE = (
    "    - {type: accuracy, value: 0.99}\n    - {type: f1, value: 0.99, args: {average: micro}}"
)
MULTI = (
    "    - {type: f1, value: 0.99, args: {average: micro}}\n"
    "    - {type: f1, value: 0.99, args: {average: samples}}"
)


@pytest.mark.parametrize(
    ("current", "metrics", "columns", "message"),
    [
        (
            single_label,
            MULTI,
            "text",
            "different tasks (current: single-label, baseline: multi-label)",
        ),
        (
            multi_label,
            SINGLE,
            "text",
            "different tasks (current: multi-label, baseline: single-label)",
        ),
        (single_label, SINGLE, "premise`, text pair `hypothesis", "different inputs"),
    ],
)
def test_a_card_baseline_is_checked_on_the_task_and_inputs_it_shows(
    tmp_path: Path, current, metrics, columns, message
) -> None:
    card = tmp_path / "README.md"
    card.write_text(CARD % (metrics, columns, FINGERPRINT))
    with pytest.raises(UsageError, match=message.replace("(", r"\(").replace(")", r"\)")):
        check_gate(current(), card, {"max-drop": {"micro_f1": 0.01}})


def test_different_data_stays_a_gate_error_and_a_compare_warning(tmp_path: Path) -> None:
    new = save(single_label("sha256:" + "b" * 64), tmp_path / "new")
    main = save(single_label(), tmp_path / "main")
    with pytest.raises(UsageError, match="--allow-different-data"):
        check_gate(new, main, {"max-drop": {"accuracy": 0.01}})
    assert check_gate(new, main, {"max-drop": {"accuracy": 0.01}}, allow_different_data=True).different_data  # fmt: skip
    result = compare_runs(main, new)
    assert result.different_data and "fingerprints differ (B sha256:bbbb" in result.warnings[0]


# --- 2. bootstrap resamples where a ratio is 0/0 ----------------------------------------------


def test_per_class_scores_leave_0_over_0_undefined_as_scikit_learn_does() -> None:
    rng = np.random.default_rng(0)
    for _ in range(20):
        y_true, y_pred = rng.integers(0, 3, 6), rng.integers(0, 4, 6)  # class 3 never gold
        cm = np.bincount(y_true * 5 + y_pred, minlength=25).reshape(5, 5)  # class 4 never seen
        ours = per_class_scores(cm, zero_division=np.nan)
        theirs = precision_recall_fscore_support(
            y_true, y_pred, labels=range(5), zero_division=np.nan
        )
        for name, expected in zip(("precision", "recall", "f1"), theirs, strict=False):
            np.testing.assert_array_equal(ours[name], expected)
        np.testing.assert_array_equal(per_class_scores(cm)["recall"], np.nan_to_num(theirs[1]))


def test_percentile_intervals_leave_out_undefined_resamples() -> None:
    rng = np.random.default_rng(1)
    reps = rng.uniform(size=(3, 500))
    reps[0, :40] = np.nan
    reps[2] = np.nan
    low, high, undefined = percentile_intervals(reps)
    assert undefined.tolist() == [40, 0, 500]
    assert (low[0], high[0]) == tuple(np.percentile(reps[0, 40:], [2.5, 97.5]))
    assert (low[1], high[1]) == tuple(np.percentile(reps[1], [2.5, 97.5]))
    assert np.isnan(low[2]) and np.isnan(high[2])


def test_a_slice_with_three_rows_of_a_class_all_right_has_recall_ci_one_to_one() -> None:
    labels = ["World", "Sports"]
    y_true = np.array([0] * 78 + [1] * 3)
    y_pred = y_true.copy()
    y_pred[:10] = 1  # some World rows predicted Sports; every Sports row right
    result = slice_metrics(y_true, y_pred, labels, ["x"] * 81, column="c", n_bootstrap=2000)
    (value,) = result.values
    sports = value.recall["Sports"]
    assert (sports.value, sports.ci_low, sports.ci_high) == (1.0, 1.0, 1.0)  # was [0.000, 1.000]
    # A resample of 81 rows has no Sports row with probability (78/81)^81 = 4.7%.
    expected = 2000 * (78 / 81) ** 81
    assert abs(sports.undefined_resamples - expected) < 4 * np.sqrt(expected)
    assert value.recall["World"].undefined_resamples == 0


def rare_class_runs() -> tuple[EvalResults, EvalResults, list[dict], list[dict]]:
    """Baseline right on both rows of class ``rare``, current wrong on both: the recall of
    ``rare`` drops by exactly 1 in every resample that holds one of them."""
    labels = ["a", "b", "rare"]
    gold = ["a", "b"] * 49 + ["rare"] * 2
    base = list(gold)
    cur = gold[:98] + ["a", "a"]

    def rows(predicted: list[str]) -> list[dict]:
        return [
            {"index": i, "gold": g, "predicted": p, "probabilities": {p: 0.9}}
            for i, (g, p) in enumerate(zip(gold, predicted, strict=True))
        ]

    return (
        results_from_predictions(gold, cur, labels=labels),
        results_from_predictions(gold, base, labels=labels),
        rows(cur),
        rows(base),
    )


def test_the_gate_leaves_resamples_without_the_class_out_of_its_paired_bootstrap() -> None:
    current, baseline, cur_rows, base_rows = rare_class_runs()
    report = check_gate(
        current,
        baseline,
        {"max-drop": {"recall[rare]": 0.5}},
        current_predictions=cur_rows,
        baseline_predictions=base_rows,
        n_bootstrap=2000,
    )
    (outcome,) = report.outcomes
    # Counting a resample without a ``rare`` row as recall 0 - 0 gave a CI of [-1, 0] and
    # p = 0.13 (~(98/100)^100 of resamples "did not drop"): a warning that passed.
    assert outcome.ci == (-1.0, -1.0) and outcome.verdict == "fail"
    assert outcome.p_value is not None and outcome.p_value < 0.001
    assert "resamples left out of its CI and p-value" in outcome.message
    assert "no gold row of 'rare'" in outcome.message


def test_compare_reports_the_same_deltas_and_says_how_many_resamples_it_left_out() -> None:
    current, baseline, cur_rows, base_rows = rare_class_runs()
    result = compare_runs(
        baseline, current, a_predictions=base_rows, b_predictions=cur_rows, n_bootstrap=2000
    )
    scores = {d.name: d for c in result.per_class for d in c.scores}
    recall = scores["recall[rare]"]
    assert recall.ci == (-1.0, -1.0) and recall.p_value is not None and recall.p_value < 0.01
    expected = 2000 * (98 / 100) ** 100
    assert abs(recall.undefined_resamples - expected) < 4 * np.sqrt(expected)
    assert any(w.startswith("recall[rare]: ") and "left out" in w for w in result.warnings)
    assert scores["recall[a]"].undefined_resamples == 0


def test_paired_deltas_are_nan_exactly_where_either_run_has_no_such_row() -> None:
    gold = np.array([0, 1] * 10 + [2])
    pairing = Pairing(["a", "b", "c"], gold, gold.copy(), np.where(gold == 2, 0, gold))
    deltas = paired_bootstrap_deltas(pairing, ["recall[c]", "precision[c]", "recall[a]"])
    recall, precision = deltas["recall[c]"], deltas["precision[c]"]
    assert set(np.unique(recall[~np.isnan(recall)])) == {-1.0}
    assert np.isnan(precision).all()  # the current run never predicts c: undefined, not 0
    assert not np.isnan(deltas["recall[a]"]).any()


def test_a_rare_label_always_right_has_multi_label_f1_ci_one_to_one() -> None:
    gold = np.zeros((100, 2), dtype=bool)
    gold[:, 0] = np.arange(100) % 2 == 0
    gold[:2, 1] = True
    proba = np.where(gold, 0.9, 0.1)
    report = compute_multilabel_metrics(gold, proba, np.full(2, 0.5), ["common", "rare"])
    rare = report.details[1]
    assert report.per_class[1].f1 == 1.0 and rare.f1_ci == (1.0, 1.0)  # was (0.0, 1.0)
    # Poisson bootstrap: both rows of ``rare`` weigh 0 with probability e^-2.
    expected = 1000 * np.exp(-2)
    assert abs(rare.f1_undefined_resamples - expected) < 4 * np.sqrt(expected)
    assert report.details[0].f1_undefined_resamples == 0


# --- 3. label issue candidates the model predicts as labelled ---------------------------------


def skewed(seed: int, n: int = 3000) -> tuple[np.ndarray, np.ndarray]:
    """Classes that differ much in confidence: class 0 is common and sure, class 2 rare and
    unsure, so t_0 is high and t_2 low."""
    rng = np.random.default_rng(seed)
    y = rng.choice(3, n, p=[0.6, 0.3, 0.1])
    logits = rng.normal(size=(n, 3))
    logits[np.arange(n), y] += rng.uniform(0, 1, n) * np.array([8.0, 3.0, 1.0])[y]
    logits[:, 0] += 0.5
    p = np.exp(logits)
    return y, p / p.sum(axis=1, keepdims=True)


def test_a_row_predicted_as_its_label_is_no_candidate_by_hand() -> None:
    y = np.array([0, 0, 0, 1, 1])
    p = np.array([[0.95, 0.05], [0.95, 0.05], [0.55, 0.45], [0.7, 0.3], [0.6, 0.4]])
    t = confident_thresholds(y, p)
    assert t == pytest.approx([0.8166667, 0.35])
    # row 2: class 1 reaches t_1 (0.45 >= 0.35), class 0 misses t_0, yet 0 is its top class
    assert confident_labels(p, t).tolist() == [0, 0, 1, -1, 1]
    issues = label_issues(y, p, ["a", "b"])
    assert issues.count == 0 and issues.examples == [] and issues.by_pair == []


@pytest.mark.parametrize("seed", range(3))
def test_label_issues_match_cleanlab_confident_learning(seed: int) -> None:
    filter_ = pytest.importorskip("cleanlab.filter")
    y, p = skewed(seed)
    ours = label_issues(y, p, ["a", "b", "c"], limit=len(y))
    theirs = filter_.find_label_issues(y, p, filter_by="confident_learning")
    assert sorted(e.index for e in ours.examples) == np.flatnonzero(theirs).tolist()
    assert ours.count == int(theirs.sum())
    # the rows the fix drops: confidently another class, yet predicted as labelled
    t = confident_thresholds(y, p)
    suggested = confident_labels(p, t)
    dropped = (suggested >= 0) & (suggested != y) & (p.argmax(axis=1) == y)
    assert dropped.sum() >= len(y) // 200 and not (dropped & theirs).any()  # ~1 in 110 rows
