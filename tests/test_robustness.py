"""Robustness on real data: flip rate and accuracy by hand, the run, results, card, CLI, gate."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

import cardgen
from cardgen.analysis.perturb import PERTURBATIONS, resolve_perturbations
from cardgen.analysis.robustness import (
    excerpts,
    measure_robustness,
    proportion,
    sample_rows,
    summarize_perturbation,
)
from cardgen.errors import ResultsError, UsageError
from cardgen.gate.rules import Rule, higher_is_better, metric_range
from cardgen.gate.values import metric_names, metric_value
from cardgen.models.base import RunStats
from cardgen.results.schema import ModelInfo, load_results
from tests.conftest import run_cli, write_jsonl


class GoodWordModel:
    """P(positive) is 0.9 when a text holds "good" (case-sensitive), else 0.2."""

    labels = ["negative", "positive"]
    score_kind = "probability"

    def __init__(self) -> None:
        self.calls: list[list[str]] = []
        self.pairs: list[list[str] | None] = []

    def predict_scores(
        self,
        texts: Sequence[str],
        *,
        batch_size: int | None = None,
        progress: bool = False,
        text_pairs: Sequence[str] | None = None,
    ) -> tuple[np.ndarray, RunStats]:
        self.calls.append(list(texts))
        self.pairs.append(None if text_pairs is None else list(text_pairs))
        second = text_pairs or [""] * len(texts)
        p = np.array([0.9 if "good" in a + b else 0.2 for a, b in zip(texts, second, strict=True)])
        return np.stack([1 - p, p], axis=1), RunStats("cpu", "float64", len(texts), 0.0)

    def info(self) -> ModelInfo:
        return ModelInfo(id="good-word", framework="stub", labels=self.labels)


TEXTS = ["good film", "bad film", "good", "1234"]
GOLD = np.array([1, 0, 1, 0])


def base_scores(model: GoodWordModel, texts: Sequence[str]) -> np.ndarray:
    return model.predict_scores(texts)[0]


def test_flip_rate_and_accuracy_by_hand():
    result = summarize_perturbation(
        PERTURBATIONS["typos"],
        gold=np.array([0, 1, 1, 0, 1]),
        base=np.array([0, 1, 0, 0, 1]),
        perturbed=np.array([1, 1, 1, 0, 1]),
        changed=np.array([True, True, True, False, False]),
        n_bootstrap=0,
        seed=0,
    )
    assert (result.rows, result.changed, result.flipped) == (5, 3, 2)
    assert result.flip_rate is not None and result.flip_rate.value == pytest.approx(2 / 3)
    assert result.accuracy.value == pytest.approx(4 / 5)  # rows 1-4 right after the edit
    assert result.base_accuracy == pytest.approx(4 / 5)  # row 2 wrong before it


def test_no_changed_row_has_no_flip_rate():
    result = summarize_perturbation(
        PERTURBATIONS["swap-names"],
        gold=np.array([0, 1]),
        base=np.array([0, 0]),
        perturbed=np.array([0, 0]),
        changed=np.zeros(2, dtype=bool),
        n_bootstrap=100,
        seed=0,
    )
    assert result.flip_rate is None and result.changed == 0
    assert result.accuracy.value == 0.5


def test_the_proportion_ci_is_a_bootstrap_over_examples():
    outcomes = np.array([1] * 30 + [0] * 70)
    metric = proportion(30, 100, n_bootstrap=20_000, seed=1)
    rng = np.random.default_rng(5)
    means = outcomes[rng.integers(0, 100, size=(20_000, 100))].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    assert metric.value == 0.3
    assert metric.ci_low == pytest.approx(low, abs=0.011)
    assert metric.ci_high == pytest.approx(high, abs=0.011)
    assert proportion(30, 100, n_bootstrap=500, seed=1) == proportion(
        30, 100, n_bootstrap=500, seed=1
    )


def test_a_run_by_hand_with_a_fake_classifier():
    model = GoodWordModel()
    scores = base_scores(model, TEXTS)
    model.calls.clear()
    results = measure_robustness(
        model, resolve_perturbations(["uppercase"]), texts=TEXTS, text_pairs=None,
        gold=GOLD, scores=scores, labels=model.labels, n_bootstrap=0,
    )  # fmt: skip
    upper = results["uppercase"]
    assert model.calls == [["GOOD FILM", "BAD FILM", "GOOD"]]  # "1234" is not sent again
    assert (upper.rows, upper.changed, upper.flipped) == (4, 3, 2)
    assert upper.flip_rate is not None and upper.flip_rate.value == pytest.approx(2 / 3)
    assert upper.accuracy.value == 0.5 and upper.base_accuracy == 1.0
    assert [e.index for e in upper.examples] == [0, 2]  # equal confidence: row order
    first = upper.examples[0]
    assert (first.gold, first.prediction, first.perturbed_prediction) == (
        "positive", "positive", "negative",
    )  # fmt: skip
    assert first.confidence == pytest.approx(0.8)
    assert (first.text, first.perturbed_text) == ("good film", "GOOD FILM")


def test_most_confident_flips_come_first_and_reorder_is_applied():
    model = GoodWordModel()
    texts = ["GOOD", "good"]
    scores = base_scores(model, texts)[:, ::-1]  # the dataset's label order is reversed
    results = measure_robustness(
        model, resolve_perturbations(["lowercase"]), texts=texts, text_pairs=None,
        gold=np.array([1, 0]), scores=scores, labels=["positive", "negative"],
        reorder=lambda s: s[:, ::-1], n_bootstrap=0,
    )  # fmt: skip
    (example,) = results["lowercase"].examples
    assert (example.prediction, example.perturbed_prediction) == ("negative", "positive")
    assert example.confidence == pytest.approx(0.9)


def test_examples_off_keeps_no_text():
    model = GoodWordModel()
    results = measure_robustness(
        model, resolve_perturbations(["uppercase"]), texts=TEXTS, text_pairs=None,
        gold=GOLD, scores=base_scores(model, TEXTS), labels=model.labels, examples=False,
    )  # fmt: skip
    assert results["uppercase"].examples and all(
        e.text is None and e.perturbed_text is None for e in results["uppercase"].examples
    )


def test_sentence_pairs_edit_both_texts():
    model = GoodWordModel()
    texts, pairs = ["a good start", "plain"], ["and John left", "John agreed"]
    scores = model.predict_scores(texts, text_pairs=pairs)[0]
    model.calls.clear()
    model.pairs.clear()
    results = measure_robustness(
        model, resolve_perturbations(["uppercase", "swap-names"]), texts=texts,
        text_pairs=pairs, gold=np.array([1, 0]), scores=scores, labels=model.labels,
    )  # fmt: skip
    assert model.calls[0] == ["A GOOD START", "PLAIN"]
    assert model.pairs[0] == ["AND JOHN LEFT", "JOHN AGREED"]
    swapped = model.pairs[1]
    assert model.calls[1] == texts and swapped is not None and len(swapped) == 2
    assert all("John" not in p for p in swapped)
    example = results["uppercase"].examples[0]
    assert (example.text_pair, example.perturbed_text_pair) == ("and John left", "AND JOHN LEFT")
    assert results["swap-names"].changed == 2 and results["swap-names"].flipped == 0


def test_the_sample_is_seeded_and_capped():
    assert list(sample_rows(5, None, 0)) == [0, 1, 2, 3, 4]
    assert list(sample_rows(5, 9, 0)) == [0, 1, 2, 3, 4]
    first = sample_rows(1000, 10, 3)
    assert len(first) == 10 and list(first) == sorted(first)
    assert list(first) == list(sample_rows(1000, 10, 3))
    assert list(first) != list(sample_rows(1000, 10, 4))
    model = GoodWordModel()
    texts = [f"good {i}" for i in range(50)]
    results = measure_robustness(
        model, resolve_perturbations(["uppercase"]), texts=texts, text_pairs=None,
        gold=np.ones(50, dtype=int), scores=base_scores(model, texts), labels=model.labels,
        sample=7,
    )  # fmt: skip
    assert results["uppercase"].rows == 7 and len(model.calls[-1]) == 7


def test_excerpts_center_on_the_first_edit():
    original = "x" * 1000 + " good " + "y" * 1000
    edited = original.replace("good", "GOOD")
    before, after = excerpts(original, edited, limit=60)
    assert "good" in before and "GOOD" in after
    assert before.startswith("…") and before.endswith("…") and len(before) == 62


@pytest.fixture
def hostile_run(tmp_path: Path) -> Path:
    rows = [
        {"text": "good <script>alert(1)</script> | x | [a](javascript:alert(1))", "label": "positive"},
        {"text": "good # heading\n---", "label": "positive"},
        {"text": "bad film", "label": "negative"},
    ]  # fmt: skip
    data = write_jsonl(tmp_path / "test.jsonl", rows)
    out = tmp_path / "run"
    cardgen.evaluate(
        GoodWordModel(), data, output_dir=out, robustness=["uppercase", "typos"], n_bootstrap=50
    )
    return out


def test_evaluate_records_robustness_and_the_card_escapes_texts(hostile_run: Path):
    results = load_results(hostile_run)
    assert list(results.robustness) == ["uppercase", "typos"]
    upper = results.robustness["uppercase"]
    assert (upper.changed, upper.flipped) == (3, 2)
    assert upper.flip_rate is not None and upper.flip_rate.ci_low is not None
    card = cardgen.render_card(hostile_run)
    section = card[card.index("## Robustness") : card.index("<!-- cardgen:end robustness")]
    assert "GOOD &lt;SCRIPT&gt;" in section or "GOOD \\<SCRIPT" in section
    assert not re.search(r"(?<!\\)<script|(?<!\\)\]\(javascript", card, re.I)
    assert "\n# heading" not in section and "\n---" not in section
    table = [line for line in section.splitlines() if line.startswith("| `uppercase` |")]
    assert len(table) == 2 and all(line.count(" | ") == 7 for line in table)
    assert "| upper-cased (`uppercase`) | 3 | 0.6667 |" in section


def test_examples_off_writes_no_text_anywhere(tmp_path: Path):
    data = write_jsonl(
        tmp_path / "test.jsonl", [{"text": "good secret words", "label": "positive"}]
    )
    out = tmp_path / "run"
    cardgen.evaluate(
        GoodWordModel(), data, output_dir=out, robustness=["uppercase"], examples=False
    )
    card = cardgen.render_card(out)
    assert load_results(out).robustness["uppercase"].flipped == 1
    for text in [(out / "results.json").read_text(), card]:
        assert "secret" not in text.lower()


def test_old_results_without_robustness_load(hostile_run: Path):
    data = json.loads((hostile_run / "results.json").read_text())
    del data["robustness"]
    (hostile_run / "results.json").write_text(json.dumps(data))
    assert load_results(hostile_run).robustness == {}
    assert "## Robustness" not in cardgen.render_card(hostile_run)


def test_a_corrupt_robustness_section_is_refused(hostile_run: Path):
    data = json.loads((hostile_run / "results.json").read_text())
    data["robustness"]["uppercase"]["flipped"] = "two"
    (hostile_run / "results.json").write_text(json.dumps(data))
    with pytest.raises(ResultsError, match="robustness.uppercase.flipped"):
        load_results(hostile_run)


def test_gate_names(hostile_run: Path):
    results = load_results(hostile_run)
    names = metric_names(results)
    assert "robustness.uppercase.flip_rate" in names and "robustness.typos.accuracy" in names
    assert metric_value(results, "robustness.uppercase.flip_rate").value == pytest.approx(2 / 3)
    assert metric_range("robustness.typos.flip_rate") == (0.0, 1.0)
    assert not higher_is_better("robustness.typos.flip_rate")
    assert higher_is_better("robustness.typos.accuracy")
    passed = cardgen.check_gate(hostile_run, rules={"max": {"robustness.uppercase.flip_rate": 0.7}})
    failed = cardgen.check_gate(hostile_run, rules={"max": {"robustness.uppercase.flip_rate": 0.5}})
    assert passed.passed and not failed.passed
    low = cardgen.check_gate(hostile_run, rules={"min": {"robustness.uppercase.accuracy": 0.5}})
    assert not low.passed  # 1 of 3 right after upper-casing
    with pytest.raises(UsageError, match="robustness.NAME.flip_rate|accuracy"):
        metric_value(results, "robustness.nope.flip_rate")
    with pytest.raises(UsageError, match="fractions"):
        Rule.parse("max", "robustness.typos.flip_rate=5")


def test_gate_refuses_a_flip_rate_that_was_never_measured(hostile_run: Path):
    data = json.loads((hostile_run / "results.json").read_text())
    data["robustness"]["typos"]["flip_rate"] = None
    (hostile_run / "results.json").write_text(json.dumps(data))
    with pytest.raises(UsageError, match="changed no row"):
        metric_value(load_results(hostile_run), "robustness.typos.flip_rate")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--robustness", "typo"], "unknown perturbation 'typo'"),
        (["--robustness", "all", "--robustness-sample", "0"], "--robustness-sample must be"),
        (["--robustness-sample", "10"], "--robustness-sample needs --robustness"),
    ],
)
def test_cli_option_errors_come_before_any_work(capsys, tmp_path, args, message):
    missing = str(tmp_path / "no-model")
    code, _, err = run_cli(
        capsys, "evaluate", "--model", missing, "--dataset", missing, "--output-dir",
        str(tmp_path / "run"), *args,
    )  # fmt: skip
    assert code == 2 and message in err and "no-model" not in err
    assert not (tmp_path / "run").exists()


def test_cli_prints_the_robustness_table(capsys, tmp_path):
    out = tmp_path / "demo"
    code, stdout, _ = run_cli(
        capsys, "evaluate", "--output-dir", str(out), "--robustness", "case",
        "--robustness-sample", "40", "--bootstrap", "50", "--no-progress",
    )  # fmt: skip
    assert code == 0
    assert "robustness on 40 rows" in stdout and "titlecase" in stdout
    assert load_results(out).robustness["uppercase"].rows == 40


def test_damaging_flips_are_right_to_wrong_and_fixes_are_listed_apart():
    """Hand-built: uppercasing turns "good" rows negative. Rows 0 and 2 were right and become
    wrong (damage); rows 1 and 3 were wrong (gold positive, predicted negative... no: gold
    negative but "good" in them) and become right (fixed)."""
    model = GoodWordModel()
    texts = ["good film", "good but bad", "good", "so good"]
    gold = np.array([1, 0, 1, 0])  # rows 1 and 3 are wrong before the edit
    scores = base_scores(model, texts)
    results = measure_robustness(
        model, resolve_perturbations(["uppercase"]), texts=texts, text_pairs=None,
        gold=gold, scores=scores, labels=model.labels, n_bootstrap=0,
    )  # fmt: skip
    upper = results["uppercase"]
    assert (upper.flipped, upper.broke, upper.fixed) == (4, 2, 2)
    assert [e.index for e in upper.examples] == [0, 2]
    assert all(e.gold == e.prediction != e.perturbed_prediction for e in upper.examples)
    assert [e.index for e in upper.fixed_examples] == [1, 3]
    assert all(e.gold == e.perturbed_prediction != e.prediction for e in upper.fixed_examples)
    first = upper.examples[0]
    assert (first.gold_probability, first.perturbed_gold_probability) == (0.9, 0.2)
    fix = upper.fixed_examples[0]
    assert (fix.gold_probability, fix.perturbed_gold_probability) == (0.1, 0.8)
    assert upper.accuracy.value == 0.5 and upper.base_accuracy == 0.5


def test_damage_is_ranked_by_the_loss_of_gold_probability():
    class Graded(GoodWordModel):
        def predict_scores(self, texts, **options):  # type: ignore[no-untyped-def]
            p = np.array([0.9 if "good" in t else (0.45 if t == "GOOD" else 0.05) for t in texts])
            return np.stack([1 - p, p], axis=1), RunStats("cpu", "float64", len(texts), 0.0)

    model = Graded()
    texts = ["good", "good film"]  # "GOOD" keeps 0.45, "GOOD FILM" drops to 0.05
    results = measure_robustness(
        model, resolve_perturbations(["uppercase"]), texts=texts, text_pairs=None,
        gold=np.array([1, 1]), scores=base_scores(model, texts), labels=model.labels,
        n_bootstrap=0,
    )  # fmt: skip
    assert [e.index for e in results["uppercase"].examples] == [1, 0]


def test_multi_label_robustness_flips_on_a_changed_label_set():
    from cardgen.tasks.decisions import Decider

    class Tags(GoodWordModel):
        labels = ["good", "film"]

        def predict_scores(self, texts, **options):  # type: ignore[no-untyped-def]
            rows = [[0.9 if "good" in t else 0.1, 0.8 if "film" in t.lower() else 0.2] for t in texts]
            return np.array(rows), RunStats("cpu", "float64", len(texts), 0.0)

    model = Tags()
    texts = ["good film", "film", "good"]
    gold = np.array([[True, True], [False, True], [False, False]])  # row 2 is wrong
    decider = Decider(("good", "film"), np.array([0.5, 0.5]))
    results = measure_robustness(
        model, resolve_perturbations(["uppercase"]), texts=texts, text_pairs=None, gold=gold,
        scores=base_scores(model, texts), labels=model.labels, decider=decider, n_bootstrap=0,
    )  # fmt: skip
    upper = results["uppercase"]
    # "GOOD FILM" -> {film} (was {good, film}: broke), "FILM" unchanged, "GOOD" -> {} (fixed)
    assert (upper.changed, upper.flipped, upper.broke, upper.fixed) == (3, 2, 1, 1)
    assert upper.base_accuracy == pytest.approx(2 / 3) and upper.accuracy.value == pytest.approx(2 / 3)
    (damage,) = upper.examples
    assert (damage.gold, damage.prediction, damage.perturbed_prediction) == (
        "good, film", "good, film", "film",
    )  # fmt: skip
    (fix,) = upper.fixed_examples
    assert (fix.index, fix.prediction, fix.perturbed_prediction) == (2, "good", "(none)")
