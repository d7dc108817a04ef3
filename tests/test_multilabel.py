"""Multi-label evaluation: label-set data, sigmoid scores and thresholds, metrics against
scikit-learn, the card, the gate, and the inputs that must be refused."""

from __future__ import annotations

import json
import math
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import run_cli, write_jsonl
from sklearn.metrics import (
    accuracy_score,
    hamming_loss,
    precision_recall_fscore_support,
    roc_auc_score,
)

import cardgen
from cardgen.cards.context import card_metadata
from cardgen.cards.conventions import metric_key
from cardgen.data.load import load_data
from cardgen.demo.synthetic import MODERATION, moderation_corpus, train_tiny_distilbert
from cardgen.errors import DataError, LabelError, ResultsError, UsageError
from cardgen.evaluation.options import check_threshold
from cardgen.gate.rules import Rule, higher_is_better, metric_range
from cardgen.results.predictions import load_predictions
from cardgen.results.schema import EvalResults, load_results
from cardgen.tasks.multilabel_metrics import (
    binary_calibration,
    compute_multilabel_metrics,
    false_positive_pairs,
)

LABELS = list(MODERATION)


@pytest.fixture(scope="module")
def ml_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny DistilBERT with a multi-label (sigmoid) head, trained for a few steps."""
    out = tmp_path_factory.mktemp("models") / "tiny-moderation"
    rows = moderation_corpus(320, seed=1)
    return train_tiny_distilbert(rows, LABELS, out, epochs=3, multi_label=True)


@pytest.fixture(scope="module")
def ml_rows() -> list[dict]:
    return moderation_corpus(150, seed=2)


@pytest.fixture(scope="module")
def ml_file(tmp_path_factory: pytest.TempPathFactory, ml_rows: list[dict]) -> Path:
    return write_jsonl(tmp_path_factory.mktemp("data") / "moderation_test.jsonl", ml_rows)


def random_case(seed: int, n: int = 200, k: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """Gold with one label that never occurs (column 3) and probabilities that track it."""
    rng = np.random.default_rng(seed)
    gold = rng.random((n, k)) < np.array([0.3, 0.1, 0.5, 0.0, 0.2])[:k]
    proba = np.clip(0.45 * gold + 0.6 * rng.random((n, k)), 0, 1)
    return gold, proba


def sklearn_scores(gold: np.ndarray, pred: np.ndarray, average: str) -> tuple[float, ...]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # UndefinedMetricWarning on the label that never occurs
        p, r, f, _ = precision_recall_fscore_support(gold, pred, average=average)
    return p, r, f


# ---------------------------------------------------------------------------------- metrics


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("thresholds", [[0.5] * 5, [0.3, 0.6, 0.5, 0.9, 0.45]])
def test_metrics_equal_scikit_learn(seed: int, thresholds: list[float]) -> None:
    gold, proba = random_case(seed)
    limits = np.array(thresholds)
    pred = proba >= limits
    report = compute_multilabel_metrics(gold, proba, limits, list("abcde"), n_bootstrap=0)
    m = report.metrics
    for average in ("micro", "macro", "weighted", "samples"):
        p, r, f = sklearn_scores(gold, pred, average)
        assert m[f"{average}_precision"].value == pytest.approx(p, abs=1e-12)
        assert m[f"{average}_recall"].value == pytest.approx(r, abs=1e-12)
        assert m[f"{average}_f1"].value == pytest.approx(f, abs=1e-12)
    assert m["subset_accuracy"].value == pytest.approx(accuracy_score(gold, pred))
    assert m["hamming_loss"].value == pytest.approx(hamming_loss(gold, pred))
    assert m["label_cardinality"].value == pytest.approx(gold.sum(axis=1).mean())
    assert m["predicted_label_cardinality"].value == pytest.approx(pred.sum(axis=1).mean())
    defined = [0, 1, 2, 4]  # label 3 is never gold: it has no AUC
    assert m["roc_auc"].value == pytest.approx(
        roc_auc_score(gold[:, defined], proba[:, defined], average="macro")
    )
    assert m["micro_roc_auc"].value == pytest.approx(roc_auc_score(gold, proba, average="micro"))
    p, r, f = sklearn_scores(gold, pred, None)  # type: ignore[arg-type]
    for j, row in enumerate(report.per_class):
        assert (row.precision, row.recall, row.f1) == pytest.approx((p[j], r[j], f[j]))
        assert row.support == int(gold[:, j].sum())
        detail = report.details[j]
        assert detail.tp + detail.fn == row.support
        assert detail.tp + detail.fp == int(pred[:, j].sum())
        assert detail.tp + detail.fp + detail.fn + detail.tn == len(gold)
        assert detail.threshold == thresholds[j]
    assert report.details[3].roc_auc is None
    assert report.per_class[3].f1 == 0.0  # zero division gives 0, as scikit-learn does


def test_hand_computed_example() -> None:
    gold = np.array([[1, 0, 0], [0, 0, 0], [1, 1, 0]], dtype=bool)
    pred = np.array([[1, 1, 0], [0, 0, 0], [0, 1, 0]], dtype=float)
    report = compute_multilabel_metrics(gold, pred, np.full(3, 0.5), ["a", "b", "c"], n_bootstrap=0)
    m = {name: metric.value for name, metric in report.metrics.items()}
    assert m["micro_f1"] == pytest.approx(2 / 3)  # tp 2, fp 1, fn 1
    assert m["macro_f1"] == pytest.approx((2 / 3 + 2 / 3 + 0) / 3)
    assert m["samples_f1"] == pytest.approx((2 / 3 + 0 + 2 / 3) / 3)  # empty vs empty: 0
    assert m["subset_accuracy"] == pytest.approx(1 / 3)
    assert m["hamming_loss"] == pytest.approx(2 / 9)
    assert m["label_cardinality"] == pytest.approx(1.0)


def test_bootstrap_is_over_examples_bounded_and_seeded(monkeypatch: pytest.MonkeyPatch) -> None:
    gold, proba = random_case(4, n=400)
    limits = np.full(5, 0.5)
    first = compute_multilabel_metrics(gold, proba, limits, list("abcde"), n_bootstrap=2000, seed=3)
    again = compute_multilabel_metrics(gold, proba, limits, list("abcde"), n_bootstrap=2000, seed=3)
    assert first.metrics == again.metrics
    for name, metric in first.metrics.items():
        if metric.ci_low is not None:
            assert metric.ci_low <= metric.value + 1e-9 <= metric.ci_high + 2e-9, name
    # subset accuracy is a mean of per-example 0/1 values: the example bootstrap's interval is
    # close to the binomial one
    acc = first.metrics["subset_accuracy"]
    half = 1.96 * math.sqrt(acc.value * (1 - acc.value) / len(gold))
    assert acc.ci_high - acc.ci_low == pytest.approx(2 * half, rel=0.15)
    # a tiny memory budget splits rows and labels into many chunks: same point, similar CIs
    monkeypatch.setattr("cardgen.tasks.multilabel_metrics.BUDGET", 2000 * 4)
    chunked = compute_multilabel_metrics(
        gold, proba, limits, list("abcde"), n_bootstrap=2000, seed=3
    )
    for name, metric in chunked.metrics.items():
        assert metric.value == pytest.approx(first.metrics[name].value)
        if metric.ci_low is not None:
            assert metric.ci_low == pytest.approx(first.metrics[name].ci_low, abs=0.03), name
    for a, b in zip(chunked.details, first.details, strict=True):
        assert a.f1_ci == pytest.approx(b.f1_ci, abs=0.05)


def test_binary_calibration_by_hand() -> None:
    gold = np.array([True, False, True, True])
    proba = np.array([0.05, 0.15, 0.85, 0.95])
    calibration = binary_calibration(gold, proba, n_bins=2)
    low, high = calibration.bins
    assert (low.count, low.confidence, low.accuracy) == (2, pytest.approx(0.1), 0.5)
    assert (high.count, high.confidence, high.accuracy) == (2, pytest.approx(0.9), 1.0)
    assert calibration.ece == pytest.approx(0.5 * 0.4 + 0.5 * 0.1)
    report = compute_multilabel_metrics(
        gold[:, None], proba[:, None], np.array([0.5]), ["x"], n_bootstrap=0, n_calibration_bins=2
    )
    assert report.details[0].ece == pytest.approx(calibration.ece)


def test_false_positive_pairs_by_hand() -> None:
    gold = np.array([[1, 0, 0], [1, 0, 0], [0, 0, 0], [0, 1, 0]], dtype=bool)
    pred = np.array([[1, 1, 0], [1, 1, 1], [0, 1, 0], [0, 1, 0]], dtype=bool)
    pairs = false_positive_pairs(gold, pred, ["a", "b", "c"], top=10)
    assert [(p.predicted, p.gold, p.count) for p in pairs] == [
        ("b", "a", 2),
        ("b", None, 1),
        ("c", "a", 1),
    ]


# ------------------------------------------------------------------------------ end to end


def test_evaluate_matches_a_plain_forward_pass_and_scikit_learn(
    ml_model: Path, ml_file: Path, ml_rows: list[dict], tmp_path: Path
) -> None:
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    thresholds = tmp_path / "thresholds.json"
    thresholds.write_text(json.dumps({"threat": 0.3, "spam": 0.6}))
    results = cardgen.evaluate(
        ml_model, ml_file, output_dir=tmp_path / "run", n_bootstrap=200, threshold=thresholds
    )
    assert results.task == "multi_label" and results.multilabel is not None
    labels = results.labels
    model = AutoModelForSequenceClassification.from_pretrained(ml_model).eval()
    tokenizer = AutoTokenizer.from_pretrained(ml_model)
    with torch.inference_mode():
        encoded = tokenizer([r["text"] for r in ml_rows], padding=True, return_tensors="pt")
        proba = torch.sigmoid(model(**encoded).logits).numpy()
    order = [model.config.label2id[label] for label in labels]
    proba = proba[:, order]
    limits = np.array([{"threat": 0.3, "spam": 0.6}.get(label, 0.5) for label in labels])
    pred = proba >= limits
    rows = load_predictions(tmp_path / "run")
    assert [sorted(r["predicted"]) for r in rows] == [
        sorted(np.array(labels)[p].tolist()) for p in pred
    ]
    got = np.array([[r["probabilities"][label] for label in labels] for r in rows])
    np.testing.assert_allclose(got, proba, atol=1e-5)
    gold = np.array([[label in r["labels"] for label in labels] for r in ml_rows])
    assert [sorted(r["gold"]) for r in rows] == [sorted(r["labels"]) for r in ml_rows]
    for average in ("micro", "macro", "weighted", "samples"):
        _, _, f = sklearn_scores(gold, pred, average)
        assert results.metrics[f"{average}_f1"].value == pytest.approx(f)
    assert results.metrics["hamming_loss"].value == pytest.approx(hamming_loss(gold, pred))
    assert [d.threshold for d in results.multilabel.labels] == limits.tolist()
    assert results.multilabel.threshold_source == "thresholds.json"
    loaded = load_results(tmp_path / "run")
    assert loaded.to_dict() == results.to_dict()
    assert {"label_f1", "reliability", "predictions"} <= set(loaded.files)


def test_cli_evaluate_card_and_gate(ml_model: Path, ml_file: Path, tmp_path: Path, capsys) -> None:
    run = tmp_path / "run"
    code, out, err = run_cli(
        capsys, "evaluate", "--model", str(ml_model), "--dataset", str(ml_file),
        "--output-dir", str(run), "--bootstrap", "100", "--threshold", "0.4", "--no-progress",
    )  # fmt: skip
    assert code == 0, err
    assert "subset_accuracy" in out and "hamming_loss" in out and "per label" in out
    results = load_results(run)
    assert {d.threshold for d in results.multilabel.labels} == {0.4}  # type: ignore[union-attr]
    code, _, err = run_cli(capsys, "card", str(run), "--output", str(tmp_path / "README.md"))
    assert code == 0, err
    card = (tmp_path / "README.md").read_text()
    for text in (
        "several at once or none",
        "### Per-label decisions",
        "### Frequent false positives",
        "| **micro avg** |",
        "Subset accuracy (exact match)",
        "(label_f1.png)",
        "average: micro",
        "top_k=None",
    ):
        assert text in card, text
    assert "### Confusion matrix" not in card
    label = results.labels[0]
    f1 = results.per_class[0].f1
    code, out, err = run_cli(
        capsys, "gate", str(run), "--max", "hamming_loss=0.9", "--min", "subset_accuracy=0.01",
        "--min", f"f1[{label}]={min(f1 + 0.01, 0.99):.2f}",
    )  # fmt: skip
    assert code == 1, err  # f1[label] is below its floor: the gate fails
    code, _, err = run_cli(capsys, "gate", str(run), "--baseline", str(run), "--max-drop",
                           "micro_f1=0.01", "--max-drop", "hamming_loss=0.01")  # fmt: skip
    assert code == 0, err
    code, _, err = run_cli(capsys, "gate", str(run), "--baseline", str(tmp_path / "README.md"),
                           "--max-drop", "micro_f1=0.01")  # fmt: skip
    assert code == 0, err


def test_model_index_and_gate_names() -> None:
    assert metric_key("f1", {"average": "micro"}) == "micro_f1"
    assert metric_key("f1", {"average": "samples"}) == "samples_f1"
    assert not higher_is_better("hamming_loss") and higher_is_better("subset_accuracy")
    assert metric_range("subset_accuracy") == (0.0, 1.0)
    assert metric_range("label_cardinality") == (0.0, math.inf)
    with pytest.raises(UsageError, match="did you mean subset_accuracy=0.90"):
        Rule("min", "subset_accuracy", 90)


def test_multi_hot_vectors_and_label_map_index(
    ml_model: Path, ml_rows: list[dict], tmp_path: Path
) -> None:
    from transformers import AutoConfig

    model_labels = [AutoConfig.from_pretrained(ml_model).id2label[i] for i in range(4)]
    rows = [
        {"text": r["text"], "label": [int(x in r["labels"]) for x in model_labels]} for r in ml_rows
    ]
    path = write_jsonl(tmp_path / "hot.jsonl", rows)
    data = load_data(path)
    assert data.multi_hot and data.label_names == ["0", "1", "2", "3"]
    with pytest.raises(LabelError, match="--label-map index"):
        cardgen.evaluate(ml_model, path, n_bootstrap=0)
    by_index = cardgen.evaluate(ml_model, path, label_map="index", n_bootstrap=0)
    by_name = cardgen.evaluate(
        ml_model, write_jsonl(tmp_path / "names.jsonl", ml_rows), n_bootstrap=0
    )
    assert by_index.metrics["micro_f1"] == by_name.metrics["micro_f1"]
    assert by_index.metrics["hamming_loss"] == by_name.metrics["hamming_loss"]


def test_a_label_that_never_occurs_scores_zero(ml_model: Path, tmp_path: Path) -> None:
    rows = [r for r in moderation_corpus(200, seed=8) if "threat" not in r["labels"]]
    results = cardgen.evaluate(ml_model, write_jsonl(tmp_path / "t.jsonl", rows), n_bootstrap=0)
    threat = next(row for row in results.per_class if row.label == "threat")
    assert threat.support == 0 and threat.recall == 0.0
    detail = next(d for d in results.multilabel.labels if d.label == "threat")  # type: ignore[union-attr]
    assert detail.roc_auc is None


def test_model_without_problem_type_follows_list_labels(
    ml_model: Path, ml_file: Path, tmp_path: Path
) -> None:
    copy = shutil.copytree(ml_model, tmp_path / "model")
    config = json.loads((copy / "config.json").read_text())
    config.pop("problem_type")
    (copy / "config.json").write_text(json.dumps(config))
    results = cardgen.evaluate(copy, ml_file, n_bootstrap=0)
    same = cardgen.evaluate(ml_model, ml_file, n_bootstrap=0)
    assert results.task == "multi_label" and "no problem_type" in results.warnings[0]
    assert results.metrics == same.metrics


# ------------------------------------------------------------------------- refused inputs


def test_single_label_model_on_list_labels_is_an_input_error(
    tiny_model: Path, tmp_path: Path, capsys
) -> None:
    path = write_jsonl(tmp_path / "d.jsonl", [{"text": "fine", "label": ["positive"]}] * 3)
    with pytest.raises(LabelError, match=r"is single-label \(its config says problem_type: "):
        cardgen.evaluate(tiny_model, path, n_bootstrap=0)
    code, _, err = run_cli(capsys, "evaluate", "--model", str(tiny_model), "--dataset", str(path))
    assert code == 2 and "holds lists of labels" in err


def test_multi_label_model_on_single_labels_is_an_input_error(
    ml_model: Path, tmp_path: Path
) -> None:
    path = write_jsonl(tmp_path / "d.jsonl", [{"text": "fine", "label": "toxic"}] * 3)
    with pytest.raises(LabelError, match="is multi-label .* holds one label per row"):
        cardgen.evaluate(ml_model, path, n_bootstrap=0)


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        ([["toxic"], "toxic"], r"row 1 has the single label 'toxic'"),
        ([["toxic"], None], r"row 1 has no label \(null\)"),
        ([["toxic"], [3]], "mixes class ids and names"),
        ([[0, 1, 1], [1, 0]], "row 1 has 2 entries and row 0 has 3"),
        ([[True, False], [False]], "row 1 has 1 entries"),
        ([["toxic", {"a": 1}]], "labels must be integers or strings"),
        ([["toxic", " "]], "must not be empty or blank"),
        ([[-1], [2]], "negative label ids"),
    ],
)
def test_malformed_label_lists_are_refused(labels: list, message: str, tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "d.jsonl", [{"text": "t", "label": x} for x in labels])
    with pytest.raises(DataError, match=message):
        load_data(path)


HOT = [[0, 0, 1, 1], [1, 0, 0, 0], [0, 1, 1, 0]]


@pytest.mark.parametrize(
    ("odd", "label_format", "why"),
    [
        ([2, 0, 0, 0], None, r"row 3 is \[2, 0, 0, 0\]"),
        ([0, "1", 0, 0], None, r"row 3 is \[0, '1', 0, 0\]"),
        ([-1, 0, 1, 0], None, r"row 3 is \[-1, 0, 1, 0\]"),
        ([0, 0, 0, 3], None, r"row 3 is \[0, 0, 0, 3\]"),
        ([1, 0, 0, 0], "ids", "--label-format ids"),
    ],
)
def test_vectors_read_as_ids_with_a_repeat_are_refused(
    odd: list, label_format: str | None, why: str, tmp_path: Path
) -> None:
    """One entry that is not 0/1 makes a multi-hot column read as class ids; deduplicating
    [0, 0, 1, 1] to ids {0, 1} would score the wrong labels, so the repeat is refused."""
    rows = [{"text": "t", "label": x} for x in [*HOT, odd]]
    path = write_jsonl(tmp_path / "d.jsonl", rows)
    with pytest.raises(DataError, match=rf"reads as lists of class ids \({why}.*row 0 repeats"):
        load_data(path, label_format=label_format)


def test_empty_lists_are_rows_without_labels(ml_model: Path, tmp_path: Path) -> None:
    rows = [{"text": "a post", "label": []}, {"text": "a nasty clown", "label": ["toxic"]}]
    data = load_data(write_jsonl(tmp_path / "d.jsonl", rows))
    assert data.label_sets == [(), ("toxic",)] and data.label_names == ["toxic"]
    results = cardgen.evaluate(ml_model, data, n_bootstrap=0)
    assert results.dataset.num_rows == 2
    assert sum(row.support for row in results.per_class) == 1


def test_unknown_label_names_and_wrong_vector_length(ml_model: Path, tmp_path: Path) -> None:
    rows = [{"text": "t", "label": ["toxic", "rude"]}]
    with pytest.raises(LabelError, match=r"names labels that model .* does not have: \['rude'\]"):
        cardgen.evaluate(ml_model, write_jsonl(tmp_path / "a.jsonl", rows), n_bootstrap=0)
    rows = [{"text": "t", "label": [1, 0, 0]}, {"text": "u", "label": [0, 0, 0]}]
    with pytest.raises(DataError, match="multi-hot vectors of length 3, but model .* has 4"):
        cardgen.evaluate(ml_model, write_jsonl(tmp_path / "b.jsonl", rows), label_map="index")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ({"threat": 1.5}, "strictly between 0 and 1"),
        ({"threat": 0}, "strictly between 0 and 1"),
        ({"threat": "high"}, "has threshold 'high'"),
        ({"threat": True}, "has threshold True"),
        ([0.3, 0.5], "must be a JSON object"),
        ({}, "must be a JSON object"),
    ],
)
def test_bad_thresholds_files_are_refused(content: object, message: str, tmp_path: Path) -> None:
    path = tmp_path / "thresholds.json"
    path.write_text(json.dumps(content))
    with pytest.raises(UsageError, match=message):
        check_threshold(str(path))


@pytest.mark.parametrize("value", ["1.0", "0", "-0.2", "nan", "high", "missing.json"])
def test_bad_threshold_options_exit_2_before_any_work(
    value: str, ml_file: Path, tmp_path: Path, capsys
) -> None:
    code, _, err = run_cli(
        capsys, "evaluate", "--model", str(tmp_path / "no-model"), "--dataset", str(ml_file),
        "--threshold", value, "--output-dir", str(tmp_path / "run"),
    )  # fmt: skip
    assert code == 2 and "threshold" in err and "no-model" not in err
    assert not (tmp_path / "run").exists()


def test_threshold_for_unknown_labels_or_single_label_runs(
    ml_model: Path, ml_file: Path, tiny_model: Path, sentiment_file: Path
) -> None:
    with pytest.raises(UsageError, match=r"names labels \['rude'\] that this run does not have"):
        cardgen.evaluate(ml_model, ml_file, threshold={"rude": 0.3}, n_bootstrap=0)
    with pytest.raises(UsageError, match="single-label .* drop --threshold"):
        cardgen.evaluate(tiny_model, sentiment_file, threshold=0.3, n_bootstrap=0)


def test_results_files_task_default_and_consistency(ml_model: Path, ml_file: Path) -> None:
    from conftest import make_results

    old = make_results().to_dict()
    del old["task"], old["multilabel"]
    assert EvalResults.from_dict(old).task == "single_label"
    data = cardgen.evaluate(ml_model, ml_file, n_bootstrap=0).to_dict()
    bad = json.loads(json.dumps(data))
    bad["multilabel"] = None
    with pytest.raises(ResultsError, match="multilabel"):
        EvalResults.from_dict(bad)
    bad = json.loads(json.dumps(data))
    bad["multilabel"]["labels"][0]["tp"] += 1
    with pytest.raises(ResultsError, match="2x2 table"):
        EvalResults.from_dict(bad)
    metadata = card_metadata(EvalResults.from_dict(data), model_name="m").to_dict()
    metrics = metadata["model-index"][0]["results"][0]["metrics"]
    assert {(m["type"], (m.get("args") or {}).get("average")) for m in metrics} >= {
        ("f1", "micro"),
        ("f1", "macro"),
    }


def test_robustness_runs_on_multi_label_runs_with_label_set_flips(
    ml_model: Path, ml_file: Path, tmp_path: Path, capsys
) -> None:
    run = tmp_path / "run"
    code, out, err = run_cli(
        capsys, "evaluate", "--model", str(ml_model), "--dataset", str(ml_file),
        "--output-dir", str(run), "--bootstrap", "50", "--robustness", "uppercase,typos",
        "--no-progress",
    )  # fmt: skip
    assert code == 0, err
    results = load_results(run)
    typos = results.robustness["typos"]
    assert typos.rows == 150 and typos.changed > 0
    assert typos.broke + typos.fixed <= typos.flipped
    assert typos.base_accuracy == pytest.approx(results.metrics["subset_accuracy"].value)
    for example in typos.examples:
        assert example.gold != example.perturbed_prediction  # right -> wrong, as label sets
        assert example.prediction == example.gold
    predictions = load_predictions(run)
    code, _, err = run_cli(capsys, "card", str(run), "--output", str(tmp_path / "README.md"))
    assert code == 0, err
    assert "## Robustness" in (tmp_path / "README.md").read_text()
    assert len(predictions) == 150



def test_probes_run_on_multi_label_models_with_label_set_predictions(
    ml_model: Path, ml_file: Path, tmp_path: Path
) -> None:
    from cardgen.probes import Lexicon, template_probe

    target = LABELS[0]
    terms = Lexicon("who", ("you", "they", "the team", "my friend"), (None,) * 4, ("WHO",))
    probe = template_probe(
        "who", ["{WHO} are idiots.", "I like {WHO}."], lexicons={"WHO": terms},
        target_label=target, expected_label=target,
    )  # fmt: skip
    results = cardgen.evaluate(
        ml_model, ml_file, n_bootstrap=50, probes=[probe], threshold=0.4,
        output_dir=tmp_path / "run",
    )  # fmt: skip
    found = results.probes["who"]
    assert found.target_label == target
    fills = [json.loads(line) for line in (tmp_path / "run" / "probe_fills.jsonl").open()]
    assert len(fills) == 8
    # each fill's prediction is the label set at threshold 0.4, and the failure rate is the
    # share of fills whose target score is under it
    sets = [", ".join(x for x in LABELS if f["probabilities"][x] >= 0.4) or "(none)" for f in fills]
    assert [f["predicted"] for f in fills] == sets
    below = np.mean([f["probabilities"][target] < 0.4 for f in fills])
    assert found.failure_rate == pytest.approx(below, abs=1e-6)
    with pytest.raises(cardgen.errors.CardgenError, match="target"):
        cardgen.evaluate(ml_model, ml_file, n_bootstrap=0, probes=["country"])


def test_slices_of_a_multi_label_run_equal_scikit_learn_per_slice(
    ml_model: Path, ml_rows: list[dict], tmp_path: Path
) -> None:
    from sklearn.metrics import f1_score

    rows = [{**row, "source": "abc"[i % 3]} for i, row in enumerate(ml_rows)]
    path = write_jsonl(tmp_path / "sliced.jsonl", rows)
    results = cardgen.evaluate(
        ml_model, path, n_bootstrap=200, slice_by=["source"], min_slice_size=10,
        output_dir=tmp_path / "run",
    )  # fmt: skip
    predictions = load_predictions(tmp_path / "run")
    source = results.slices["source"]
    assert [v.value for v in source.values] == ["a", "b", "c"]
    assert "subset accuracy" in str(source.note)
    for value in source.values:
        member = [p for p, r in zip(predictions, rows, strict=True) if r["source"] == value.value]
        gold = np.array([[x in p["gold"] for x in LABELS] for p in member])
        pred = np.array([[x in p["predicted"] for x in LABELS] for p in member])
        assert value.rows == len(member)
        assert value.accuracy.value == pytest.approx(accuracy_score(gold, pred))
        assert value.micro_f1 is not None
        assert value.micro_f1.value == pytest.approx(f1_score(gold, pred, average="micro", zero_division=0))
        assert value.macro_f1.value == pytest.approx(f1_score(gold, pred, average="macro", zero_division=0))
        assert value.accuracy.ci_low <= value.accuracy.value <= value.accuracy.ci_high
        for label, recall in value.recall.items():
            j = LABELS.index(label)
            assert recall.value == pytest.approx(pred[gold[:, j], j].mean())
    assert "input_length" in results.slices and (tmp_path / "run" / "slices.png").is_file()
    assert set(source.gaps) == {"accuracy", "macro_f1"}


def test_a_multi_label_run_notes_intervals_from_too_few_resamples(ml_model: Path, ml_file: Path) -> None:
    rough = cardgen.evaluate(ml_model, ml_file, n_bootstrap=30)
    assert rough.task == "multi_label" and any("only 30 bootstrap resamples" in w for w in rough.warnings)
    assert not any("bootstrap resamples" in w for w in cardgen.evaluate(ml_model, ml_file, n_bootstrap=0).warnings)
