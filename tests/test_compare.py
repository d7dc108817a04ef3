from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from conftest import results_from_predictions
from conftest import run_cli as run
from scipy.stats import binomtest
from sklearn.metrics import accuracy_score, f1_score, precision_recall_fscore_support

import cardgen
from cardgen import compare_runs
from cardgen.compare.report import comparison_html, comparison_markdown, write_comparison
from cardgen.errors import LabelError, OutputError, ResultsError
from cardgen.gate import mcnemar_p_value, paired_bootstrap_deltas
from cardgen.gate.paired import Pairing
from cardgen.trust.atomic import write_jsonl

LABELS = ["neg", "pos"]
N = 200
GOLD = ["neg"] * (N // 2) + ["pos"] * (N // 2)
A_WRONG = range(0, 10)  # A alone wrong on 0-4; both wrong (and agreeing) on 5-9
B_WRONG = range(5, 30)  # B alone wrong on 10-29
DISAGREE = [*range(0, 5), *range(10, 30)]


def flip(gold: list[str], where: range, labels: list[str] = LABELS) -> list[str]:
    out = list(gold)
    for i in where:
        out[i] = labels[1 - labels.index(out[i])]
    return out


def rows(gold, predicted, labels, confidence, texts=None) -> list[dict]:
    """Prediction rows; ``confidence(i)`` is the probability of the predicted label."""
    out = []
    for i, (g, p) in enumerate(zip(gold, predicted, strict=True)):
        other = [label for label in labels if label != p]
        probabilities = {p: confidence(i), **{o: (1 - confidence(i)) / len(other) for o in other}}
        row = {"index": i, "gold": g, "predicted": p, "probabilities": probabilities}
        if texts is not None:
            row["text"] = texts[i]
        out.append(row)
    return out


def a_confidence(i: int) -> float:
    return 0.97 if i == 3 else 0.55


def b_confidence(i: int) -> float:
    return {12: 0.99, 20: 0.8}.get(i, 0.6)


def write_run(
    directory: Path,
    gold,
    predicted,
    *,
    labels=LABELS,
    confidence=a_confidence,
    texts=None,
    fingerprint="sha256:" + "a" * 64,
) -> Path:
    directory.mkdir(parents=True)
    results_from_predictions(gold, predicted, labels=labels, fingerprint=fingerprint).save(
        directory
    )
    write_jsonl(directory / "predictions.jsonl", rows(gold, predicted, labels, confidence, texts))
    return directory


@pytest.fixture
def runs(tmp_path: Path) -> tuple[Path, Path]:
    texts = [f"sentence {i}" for i in range(N)]
    a = write_run(tmp_path / "a", GOLD, flip(GOLD, A_WRONG), texts=texts)
    b = write_run(tmp_path / "b", GOLD, flip(GOLD, B_WRONG), confidence=b_confidence, texts=texts)
    return a, b


def codes(labels: list[str]) -> np.ndarray:
    return np.array([LABELS.index(label) for label in labels], dtype=np.int64)


def test_metric_deltas_match_scikit_learn_and_the_gate_tests(runs) -> None:
    result = compare_runs(*runs, n_bootstrap=500, seed=3)
    pred_a, pred_b = flip(GOLD, A_WRONG), flip(GOLD, B_WRONG)
    metrics = {d.name: d for d in result.metrics}
    accuracy = metrics["accuracy"]
    assert (accuracy.a, accuracy.b) == (0.95, 0.875)
    assert accuracy.delta == pytest.approx(
        accuracy_score(GOLD, pred_b) - accuracy_score(GOLD, pred_a)
    )
    macro = metrics["macro_f1"]
    expected = f1_score(GOLD, pred_b, average="macro") - f1_score(GOLD, pred_a, average="macro")
    assert macro.delta == pytest.approx(expected)

    # McNemar: 20 examples only A gets right, 5 only B: two-sided exact binomial test
    assert (result.a_only_correct, result.b_only_correct) == (20, 5)
    gold, a, b = codes(GOLD), codes(pred_a), codes(pred_b)
    one_sided = min(mcnemar_p_value(gold, a, b), mcnemar_p_value(gold, b, a))
    assert accuracy.test == "McNemar"
    assert accuracy.p_value == pytest.approx(min(1.0, 2 * one_sided))
    assert accuracy.p_value == pytest.approx(binomtest(20, 25, 0.5).pvalue)

    # the paired bootstrap of gate.paired, same resamples (same seed)
    replicates = paired_bootstrap_deltas(
        Pairing(LABELS, gold, a, b), ["macro_f1", "accuracy"], n_resamples=500, seed=3
    )
    low, high = np.percentile(replicates["macro_f1"], [2.5, 97.5])
    assert macro.ci == pytest.approx((low, high))
    assert macro.ci[0] < macro.delta < macro.ci[1]
    worse = (1 + np.sum(replicates["macro_f1"] <= 0)) / 501
    better = (1 + np.sum(replicates["macro_f1"] >= 0)) / 501
    assert macro.test == "paired bootstrap"
    assert macro.p_value == pytest.approx(min(1.0, 2 * min(worse, better)))
    assert accuracy.ci == pytest.approx(tuple(np.percentile(replicates["accuracy"], [2.5, 97.5])))
    # values without a paired test are compared as they are
    assert metrics["log_loss"].p_value is None and metrics["log_loss"].ci is None
    assert result.paired and not result.different_data and result.warnings == []


def test_per_class_deltas_match_scikit_learn(runs) -> None:
    result = compare_runs(*runs, n_bootstrap=200)
    pred_a, pred_b = flip(GOLD, A_WRONG), flip(GOLD, B_WRONG)
    pa, ra, fa, support = precision_recall_fscore_support(GOLD, pred_a, labels=LABELS)
    pb, rb, fb, _ = precision_recall_fscore_support(GOLD, pred_b, labels=LABELS)
    assert [row.label for row in result.per_class] == LABELS
    for k, row in enumerate(result.per_class):
        assert row.support == support[k]
        scores = {d.name: d for d in row.scores}
        for stat, a, b in (("precision", pa, pb), ("recall", ra, rb), ("f1", fa, fb)):
            d = scores[f"{stat}[{row.label}]"]
            assert (d.a, d.b) == pytest.approx((a[k], b[k]))
            assert d.delta == pytest.approx(b[k] - a[k])
            assert d.test == "paired bootstrap" and 0 < d.p_value <= 1


def test_disagreements_most_confident_first(runs) -> None:
    result = compare_runs(*runs, max_examples=6, n_bootstrap=50)
    assert result.n_disagreements == len(DISAGREE) == 25
    assert [d.index for d in result.disagreements] == [12, 3, 20, 0, 1, 2]
    first = result.disagreements[0]
    assert (first.gold, first.a_predicted, first.b_predicted) == ("neg", "neg", "pos")
    assert (first.a_probability, first.b_probability) == (0.55, 0.99)
    assert first.text == "sentence 12"
    everything = compare_runs(*runs, max_examples=100, n_bootstrap=50)
    assert sorted(d.index for d in everything.disagreements) == DISAGREE
    assert all(d.a_predicted != d.b_predicted for d in everything.disagreements)


def test_identical_runs_have_no_difference(tmp_path: Path) -> None:
    a = write_run(tmp_path / "a", GOLD, flip(GOLD, A_WRONG))
    b = write_run(tmp_path / "b", GOLD, flip(GOLD, A_WRONG))
    result = compare_runs(a, b, n_bootstrap=100)
    assert all(d.delta == 0 and d.p_value in (None, 1.0) for d in result.metrics)
    assert result.n_disagreements == 0 and result.disagreements == []
    assert "same label on every example" in comparison_markdown(result)


def test_results_objects_with_prediction_rows(runs) -> None:
    pred_a, pred_b = flip(GOLD, A_WRONG), flip(GOLD, B_WRONG)
    result = compare_runs(
        results_from_predictions(GOLD, pred_a, labels=LABELS),
        results_from_predictions(GOLD, pred_b, labels=LABELS),
        a_predictions=rows(GOLD, pred_a, LABELS, a_confidence),
        b_predictions=rows(GOLD, pred_b, LABELS, b_confidence),
        n_bootstrap=100,
    )
    from_files = compare_runs(*runs, n_bootstrap=100)
    assert [d.p_value for d in result.metrics] == [d.p_value for d in from_files.metrics]
    assert [d.index for d in result.disagreements] == [d.index for d in from_files.disagreements]
    assert result.disagreements[0].text is None
    assert "Comparison" in cardgen.__all__ and "compare_runs" in cardgen.__all__


def test_different_label_sets_are_refused(tmp_path: Path, capsys) -> None:
    other = ["negative", "positive"]
    a = write_run(tmp_path / "a", GOLD, GOLD)
    b = write_run(
        tmp_path / "b",
        [other[LABELS.index(g)] for g in GOLD],
        [other[LABELS.index(g)] for g in GOLD],
        labels=other,
    )
    with pytest.raises(LabelError, match="different labels .*compare runs evaluated on the same"):
        compare_runs(a, b)
    code, out, err = run(capsys, "compare", str(a), str(b))
    assert code == 2 and err.startswith("error:") and "different labels" in err


def test_different_fingerprints_warn_and_compare_values_only(tmp_path: Path, capsys) -> None:
    a = write_run(tmp_path / "a", GOLD, flip(GOLD, A_WRONG))
    b = write_run(tmp_path / "b", GOLD, flip(GOLD, B_WRONG), fingerprint="sha256:" + "b" * 64)
    result = compare_runs(a, b)
    assert result.different_data and not result.paired
    assert any("fingerprints differ" in w for w in result.warnings)
    assert all(d.p_value is None and d.ci is None for d in result.metrics)
    assert result.n_disagreements is None
    assert dict((d.name, d.delta) for d in result.metrics)["accuracy"] == pytest.approx(-0.075)
    report = comparison_markdown(result)
    assert "> **Warning:** the runs saw different data" in report
    code, out, err = run(capsys, "compare", str(a), str(b))
    assert code == 0 and "warning:" in err and "fingerprints differ" in err


def test_runs_without_predictions_compare_values_with_a_warning(runs) -> None:
    (runs[1] / "predictions.jsonl").unlink()
    result = compare_runs(*runs)
    assert not result.paired and result.n_disagreements is None
    assert any("no per-example predictions" in w for w in result.warnings)


HOSTILE = ["neg|<script>alert(1)</script>", "[pos](javascript:alert(1)) *x* `y`"]


def hostile_runs(tmp_path: Path) -> tuple[Path, Path]:
    gold = [HOSTILE[LABELS.index(g)] for g in GOLD]
    texts = [
        f"| a | b |\n# head <img src=x onerror=alert(1)> {i} [l](javascript:x)" for i in range(N)
    ]
    a = write_run(
        tmp_path / "run `a` | <b>", gold, flip(gold, A_WRONG, HOSTILE), labels=HOSTILE, texts=texts
    )
    b = write_run(
        tmp_path / "b",
        gold,
        flip(gold, B_WRONG, HOSTILE),
        labels=HOSTILE,
        confidence=b_confidence,
        texts=texts,
    )
    return a, b


def test_markdown_escapes_labels_texts_and_paths(tmp_path: Path) -> None:
    a, b = hostile_runs(tmp_path)
    result = compare_runs(a, b, n_bootstrap=50, max_examples=5)
    report = comparison_markdown(result)
    # the run path is an inline code span (literal in Markdown), everything else is escaped
    lines = report.splitlines()
    assert f"- **Run A (baseline):** ``{a}``, model `model`" in lines
    data = next(line for line in lines if line.startswith("- **Data:**"))
    rest = "\n".join([data.split(" labels ")[1], *(line for line in lines if line[:1] == "|")])
    for opener in ("<", "[", "`", "*"):
        assert not re.search(rf"(?<!\\){re.escape(opener)}", rest), opener
    assert "\n# head" not in report and "\\# head" in report
    table = report[report.index("| index | gold") :].strip().splitlines()
    assert len(table) == 2 + 5
    for line in table:  # every row keeps its 7 cells: no pipe from a label or text breaks out
        assert len(re.findall(r"(?<!\\)\|", line)) == 8, line
    per_class = [line for line in lines if "alert" in line and "precision" in line]
    assert len(per_class) == 2
    assert all(len(re.findall(r"(?<!\\)\|", line)) == 9 for line in per_class)


def test_html_report_is_sanitized(tmp_path: Path) -> None:
    result = compare_runs(*hostile_runs(tmp_path), n_bootstrap=50, max_examples=5)
    page = comparison_html(result)
    assert "<script" not in page and "<img" not in page and "<a " not in page
    assert "<td>neg|&lt;script&gt;alert(1)&lt;/script&gt;</td>" in page
    assert "[l](javascript:x)</td>" in page  # shown as text, not a link
    assert '<meta name="generator" content="cardgen">' in page


def test_cli_writes_the_report_atomically_and_refuses_a_directory(runs, tmp_path, capsys) -> None:
    output = tmp_path / "out" / "compare.md"
    code, out, err = run(
        capsys,
        "compare",
        str(runs[0]),
        str(runs[1]),
        "--output",
        str(output),
        "--bootstrap",
        "100",
        "--examples",
        "3",
    )
    assert code == 0, err
    assert "accuracy" in out and "McNemar" in out and "disagreements: 3 most confident of 25" in out
    text = output.read_text()
    assert (
        text.startswith("# Comparison of two runs")
        and "| 12 | neg | neg | 0.550 | pos | 0.990 |" in text
    )
    assert [p.name for p in output.parent.iterdir()] == ["compare.md"]
    html = tmp_path / "compare.html"
    assert run(capsys, "compare", str(runs[0]), str(runs[1]), "--output", str(html))[0] == 0
    assert html.read_text().startswith("<!DOCTYPE html>")
    code, out, err = run(capsys, "compare", str(runs[0]), str(runs[1]), "--output", str(tmp_path))
    assert code == 2 and "is a directory" in err and out == ""
    with pytest.raises(OutputError, match="is a directory"):
        write_comparison(compare_runs(*runs, n_bootstrap=10), tmp_path)


@pytest.mark.parametrize(
    ("corruption", "message"),
    [
        ('{"index": 0, "gold": "neg", "predicted": "maybe", "probabilities": {}}\n', "not one of"),
        ("not json\n", "predictions file"),
    ],
)
def test_bad_input_exits_2(runs, tmp_path, capsys, corruption, message) -> None:
    code, _, err = run(capsys, "compare", str(runs[0]), str(tmp_path / "missing"))
    assert code == 2 and "no results file" in err
    with (runs[1] / "predictions.jsonl").open("a") as handle:
        handle.write(corruption)
    code, _, err = run(capsys, "compare", str(runs[0]), str(runs[1]))
    assert code == 2 and err.startswith("error:") and message in err


def test_a_probability_that_is_not_a_number_is_refused(tmp_path: Path) -> None:
    pred = flip(GOLD, A_WRONG)
    a = write_run(tmp_path / "a", GOLD, GOLD)
    b = tmp_path / "b"
    b.mkdir()
    results_from_predictions(GOLD, pred, labels=LABELS).save(b)
    bad = rows(GOLD, pred, LABELS, a_confidence)
    bad[3]["probabilities"]["pos"] = "high"
    write_jsonl(b / "predictions.jsonl", bad)
    with pytest.raises(ResultsError, match=r"probability of 'pos' in the row of index 3 .*'high'"):
        compare_runs(a, b, n_bootstrap=10)


def write_sliced_run(directory: Path, predicted: list[str], confidence, genres: list[str]) -> Path:
    from cardgen.analysis.slices import slice_metrics

    results = results_from_predictions(GOLD, predicted, labels=LABELS)
    results.slices = {
        "genre": slice_metrics(codes(GOLD), codes(predicted), LABELS, genres, column="genre")
    }
    directory.mkdir()
    results.save(directory)
    prediction_rows = rows(GOLD, predicted, LABELS, confidence)
    for row, genre in zip(prediction_rows, genres, strict=True):
        row["slices"] = {"genre": genre}
    write_jsonl(directory / "predictions.jsonl", prediction_rows)
    return directory


def test_slices_get_deltas_and_paired_tests(tmp_path: Path) -> None:
    genres = ["drama" if i % 2 == 0 else "comedy" for i in range(N)]
    pred_a, pred_b = flip(GOLD, A_WRONG), flip(GOLD, B_WRONG)
    a = write_sliced_run(tmp_path / "a", pred_a, a_confidence, genres)
    b = write_sliced_run(tmp_path / "b", pred_b, b_confidence, genres)
    result = compare_runs(a, b, n_bootstrap=300)
    by_value = {(s.column, s.value): s for s in result.slices}
    assert set(by_value) == {("genre", "drama"), ("genre", "comedy")}
    drama = by_value["genre", "drama"]
    even = slice(0, N, 2)
    accuracy = next(d for d in drama.metrics if d.name == "accuracy")
    expected = accuracy_score(GOLD[even], pred_b[even]) - accuracy_score(GOLD[even], pred_a[even])
    assert drama.rows == N // 2 and accuracy.delta == pytest.approx(expected)
    # within drama only A is right on 10 examples (10-28 even), only B on 3 (0, 2, 4)
    assert accuracy.test == "McNemar"
    assert accuracy.p_value == pytest.approx(binomtest(10, 13, 0.5).pvalue)
    macro = next(d for d in drama.metrics if d.name == "macro_f1")
    assert macro.test == "paired bootstrap" and macro.ci[0] <= macro.delta <= macro.ci[1]
    report = comparison_markdown(result)
    assert "## Slices" in report and "| genre | drama | 100 | accuracy |" in report


def test_slices_that_differ_are_not_compared(tmp_path: Path) -> None:
    pred_a, pred_b = flip(GOLD, A_WRONG), flip(GOLD, B_WRONG)
    a = write_sliced_run(tmp_path / "a", pred_a, a_confidence, ["x"] * N)
    b = write_sliced_run(tmp_path / "b", pred_b, b_confidence, ["x"] * (N - 1) + ["y"])
    result = compare_runs(a, b, n_bootstrap=50)
    assert result.slices == []
    assert any("2 slice(s) of 'genre' differ between the runs" in w for w in result.warnings)
    assert "## Slices" not in comparison_markdown(result)


def test_runs_with_parquet_predictions(runs, tmp_path: Path) -> None:
    pq = pytest.importorskip("pyarrow.parquet")
    import pyarrow as pa

    parquet_run = tmp_path / "parquet"
    parquet_run.mkdir()
    (runs[1] / "results.json").rename(parquet_run / "results.json")
    table = rows(GOLD, flip(GOLD, B_WRONG), LABELS, b_confidence)
    schema = pa.schema(
        [
            ("index", pa.int64()),
            ("gold", pa.string()),
            ("predicted", pa.string()),
            ("probabilities", pa.map_(pa.string(), pa.float64())),
        ]
    )
    columns = {
        "index": [r["index"] for r in table],
        "gold": [r["gold"] for r in table],
        "predicted": [r["predicted"] for r in table],
        "probabilities": [list(r["probabilities"].items()) for r in table],
    }
    pq.write_table(pa.table(columns, schema=schema), parquet_run / "predictions.parquet")
    result = compare_runs(runs[0], parquet_run, n_bootstrap=100, max_examples=3)
    expected = compare_runs(
        runs[0],
        results_from_predictions(GOLD, flip(GOLD, B_WRONG), labels=LABELS),
        b_predictions=table,
        n_bootstrap=100,
        max_examples=3,
    )
    assert result.paired and [d.p_value for d in result.metrics] == [
        d.p_value for d in expected.metrics
    ]
    assert [(d.index, d.b_probability) for d in result.disagreements] == [
        (12, 0.99),
        (3, 0.6),
        (20, 0.8),
    ]
    assert result.disagreements[0].text == "sentence 12"  # from run A's JSON Lines


def test_runs_of_different_tasks_are_refused(runs) -> None:
    from cardgen import load_results
    from cardgen.errors import UsageError

    other = load_results(runs[1])
    other.task = "multi_label"
    with pytest.raises(UsageError, match=r"different tasks \(B: multi-label, A: single-label\)"):
        compare_runs(runs[0], other)


def test_slices_of_one_run_only_are_named(tmp_path: Path) -> None:
    a = write_sliced_run(tmp_path / "a", flip(GOLD, A_WRONG), a_confidence, ["x"] * N)
    b = write_run(tmp_path / "b", GOLD, flip(GOLD, B_WRONG), confidence=b_confidence)
    result = compare_runs(a, b, n_bootstrap=50)
    assert result.slices == []
    assert "the slices of 'genre' are only in run A: not compared" in result.warnings


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (["--examples", "-1"], "--examples must be a non-negative integer"),
        (["--bootstrap", "0"], "--bootstrap must be between 1"),
        (["--seed", "-2"], "--seed must be a non-negative integer"),
    ],
)
def test_bad_options_exit_2(runs, capsys, option, message) -> None:
    code, out, err = run(capsys, "compare", str(runs[0]), str(runs[1]), *option)
    assert code == 2 and message in err and out == ""


def test_a_model_card_is_not_a_run(runs, tmp_path: Path, capsys) -> None:
    card = tmp_path / "README.md"
    card.write_text("---\nlicense: mit\n---\n# card\n")
    code, _, err = run(capsys, "compare", str(card), str(runs[1]))
    assert code == 2 and "run A must be a results directory or results.json" in err
