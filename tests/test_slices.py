"""Slices: metrics per group checked against scikit-learn on each slice, automatic length and
truncation slices, the gate's slice names, and hostile slice columns."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from conftest import run_cli, write_jsonl
from sklearn.metrics import accuracy_score, f1_score, recall_score

from cardgen import load_results
from cardgen.analysis import analysis_options, length_quartiles, slice_metrics
from cardgen.data.load import MAX_SLICE_VALUES, load_data
from cardgen.errors import DataError, UsageError
from cardgen.gate.rules import higher_is_better, metric_range, rule_problem
from cardgen.gate.values import metric_names, metric_value
from cardgen.results.schema import EvalResults

LABELS = ["neg", "neu", "pos"]


def _data(seed: int = 0, n: int = 400):
    rng = np.random.default_rng(seed)
    y_true = rng.integers(0, 3, n)
    y_pred = np.where(rng.random(n) < 0.7, y_true, rng.integers(0, 3, n))
    values = rng.choice(["web", "print", "radio"], n, p=[0.5, 0.3, 0.2]).astype(object)
    values[:12] = "tiny"  # a slice under the minimum size
    return y_true, y_pred, values


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_slice_metrics_match_sklearn_on_each_slice(seed: int) -> None:
    y_true, y_pred, values = _data(seed)
    result = slice_metrics(y_true, y_pred, LABELS, values, column="source", n_bootstrap=300)
    assert [v.value for v in result.values] == sorted(
        set(values), key=lambda v: (-(values == v).sum(), v)
    )
    for v in result.values:
        mask = values == v.value
        t, p = y_true[mask], y_pred[mask]
        assert v.rows == mask.sum()
        assert v.small == (mask.sum() < 30)
        assert v.accuracy.value == pytest.approx(accuracy_score(t, p))
        assert v.macro_f1.value == pytest.approx(f1_score(t, p, average="macro"))
        present = sorted(set(t))
        recalls = recall_score(t, p, labels=present, average=None)
        for c, expected in zip(present, recalls, strict=True):
            assert v.recall[LABELS[c]].value == pytest.approx(expected)
        assert set(v.recall) == {LABELS[c] for c in present}
        for metric in (v.accuracy, v.macro_f1, *v.recall.values()):
            assert 0 <= metric.ci_low <= metric.value <= metric.ci_high <= 1


def test_gap_ranks_only_slices_of_the_minimum_size() -> None:
    y_true = np.array([0] * 100 + [1] * 100 + [0] * 10)
    # web: 90% right, print: 60% right, tiny: all wrong (but too small to rank)
    y_pred = np.concatenate([y_true[:90], 1 - y_true[90:100], y_true[100:160], 1 - y_true[160:]])
    values = np.array(["web"] * 100 + ["print"] * 100 + ["tiny"] * 10, dtype=object)
    result = slice_metrics(y_true, y_pred, ["a", "b"], values, column="c", n_bootstrap=500)
    tiny = next(v for v in result.values if v.value == "tiny")
    assert tiny.small and tiny.accuracy.value == 0.0
    gap = result.gaps["accuracy"]
    assert (gap.worst, gap.best) == ("print", "web")
    assert gap.gap.value == pytest.approx(0.9 - 0.6)
    assert gap.gap.ci_low < 0.3 < gap.gap.ci_high
    assert gap.gap.ci_low > 0  # 100 rows each: a 30-point gap is clearly real


def test_no_bootstrap_no_intervals_and_one_slice_has_no_gap() -> None:
    y_true, y_pred, _ = _data()
    result = slice_metrics(y_true, y_pred, LABELS, ["all"] * len(y_true), column="c", n_bootstrap=0)
    assert len(result.values) == 1 and result.gaps == {}
    assert result.values[0].accuracy.ci_low is None
    assert result.values[0].accuracy.value == pytest.approx(accuracy_score(y_true, y_pred))
    empty = slice_metrics(np.array([], int), np.array([], int), LABELS, [], column="c")
    assert empty.values == [] and empty.gaps == {}


def test_length_quartiles_cover_every_row_without_empty_buckets() -> None:
    lengths = np.array([5, 1, 2, 3, 4, 6, 7, 8])
    values, order, spans = length_quartiles(lengths, "tokens")
    assert order == ["Q1", "Q2", "Q3", "Q4"]
    assert values == ["Q3", "Q1", "Q1", "Q2", "Q2", "Q3", "Q4", "Q4"]
    assert spans == {"Q1": "1-2 tokens", "Q2": "3-4 tokens", "Q3": "5-6 tokens", "Q4": "7-8 tokens"}
    tied, order, spans = length_quartiles(np.array([1, 1, 1, 1, 1, 10]), "words")
    assert order == ["Q1", "Q2"] and tied == ["Q1"] * 5 + ["Q2"]
    assert spans == {"Q1": "1 words", "Q2": "10 words"}


def test_options_are_checked() -> None:
    with pytest.raises(UsageError, match="min-slice-size must be a positive integer"):
        analysis_options(min_slice_size=0)
    with pytest.raises(UsageError, match="input_length is an automatic slice"):
        analysis_options(["input_length"])
    assert analysis_options("lang").slice_by == ("lang",)


def _rows(n: int = 60) -> list[dict]:
    from cardgen.demo.synthetic import sentiment_corpus

    rows = sentiment_corpus(n, seed=3)
    for i, row in enumerate(rows):
        row["source"] = ["<script>alert(1)</script>", "a | b", "[x](javascript:alert(1))"][i % 3]
        row["lang"] = None if i % 2 else 7
        row["id"] = f"row-{i}"
    return rows


def test_load_data_keeps_slice_columns_as_strings(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "d.jsonl", _rows())
    data = load_data(path, slice_columns=["lang", "source"], limit=4, sample=True, seed=1)
    full = load_data(path, slice_columns=["lang"])
    assert set(data.columns["lang"]) <= {"7", "(missing)"}
    picked = [full.texts.index(t) for t in data.texts]
    assert data.columns["lang"] == [full.columns["lang"][i] for i in picked]
    with pytest.raises(DataError, match=r"slice column 'nope' not found .* columns are: text"):
        load_data(path, slice_columns=["nope"])
    many = [{"text": f"t {i}", "label": "a", "id": i} for i in range(MAX_SLICE_VALUES + 1)]
    with pytest.raises(DataError, match=f"{MAX_SLICE_VALUES + 1:,} distinct values"):
        load_data(write_jsonl(tmp_path / "m.jsonl", many), slice_columns=["id"])


def test_cli_slices_results_card_and_gate(
    tmp_path: Path, tiny_model: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = write_jsonl(tmp_path / "test.jsonl", _rows(90))
    run = tmp_path / "run"
    code, out, err = run_cli(
        capsys, "evaluate", "--model", str(tiny_model), "--dataset", str(data),
        "--slice-by", "source", "--slice-by", "lang", "--output-dir", str(run),
        "--bootstrap", "200", "--max-length", "12", "--no-progress", "--card", str(run / "README.md"),
    )  # fmt: skip
    assert code == 0, err
    assert "slices by source" in out and "slices by input_length" in out
    results = load_results(run)
    assert list(results.slices) == ["source", "lang", "input_length", "truncated"]
    assert {v.value for v in results.slices["lang"].values} == {"7", "(missing)"}
    assert (run / "slices.png").is_file() and results.files["slices"] == "slices.png"
    truncated = results.slices["truncated"]
    rows = [json.loads(line) for line in (run / "predictions.jsonl").read_text().splitlines()]
    assert sum(r["truncated"] for r in rows) == results.timing.truncated > 0
    assert {v.value: v.rows for v in truncated.values}["yes"] == results.timing.truncated
    assert all(r["length_tokens"] > 12 for r in rows if r["truncated"])
    assert rows[0]["slices"] == {"source": "<script>alert(1)</script>", "lang": "7"}
    card = (run / "README.md").read_text()
    assert "### Results by slice" in card and "![Accuracy per slice" in card
    outside_code = re.sub(r"`[^`\n]*`", "", card)  # code spans show their content as text
    assert not re.search(r"(?<!\\)<script>", outside_code)
    assert not re.search(r"(?<!\\)\]\(javascript:", outside_code)
    assert "\\<script>alert(1)\\</script>" in card and "a \\| b" in card
    value = metric_value(results, "slice.source[a | b].accuracy")
    assert value == next(v for v in results.slices["source"].values if v.value == "a | b").accuracy
    assert "slice_gap.source.accuracy" in metric_names(results)
    code, out, _ = run_cli(capsys, "gate", str(run), "--max", "slice_gap.source.accuracy=0.99")
    assert code == 0
    code, out, _ = run_cli(capsys, "gate", str(run), "--min", "slice.lang[7].accuracy=0.999")
    assert code == (0 if results.slices["lang"].values[0].accuracy.value >= 0.999 else 1)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--slice-by", "nope"], "slice column 'nope' not found"),
        (["--slice-by", "id"], "distinct values, over cardgen's limit"),
        (["--min-slice-size", "0"], "--min-slice-size must be a positive integer"),
        (["--slice-by", "truncated"], "automatic slice"),
    ],
)
def test_cli_refuses_bad_slices(
    tmp_path: Path,
    skops_model: Path,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    message: str,
) -> None:
    rows = [{"text": f"text {i}", "label": "sports", "id": i} for i in range(MAX_SLICE_VALUES + 5)]
    data = write_jsonl(tmp_path / "t.jsonl", rows)
    out_dir = tmp_path / "run"
    code, _, err = run_cli(
        capsys, "evaluate", "--model", str(skops_model), "--dataset", str(data),
        "--output-dir", str(out_dir), *argv,
    )  # fmt: skip
    assert code == 2
    assert err.startswith("error:") and message in err
    if "not found" in message:
        assert "columns are: text, label, id" in err
    assert not out_dir.exists()


def test_sklearn_lengths_are_words_without_a_truncation_slice(
    tmp_path: Path, skops_model: Path, topic_file: Path
) -> None:
    import cardgen

    results = cardgen.evaluate(skops_model, topic_file, n_bootstrap=50, output_dir=tmp_path / "r")
    assert list(results.slices) == ["input_length"]
    assert "words" in (results.slices["input_length"].note or "")
    row = json.loads((tmp_path / "r" / "predictions.jsonl").read_text().splitlines()[0])
    assert row["length_words"] == len(row["text"].split()) and "truncated" not in row


def test_slice_rules_are_fractions_and_gaps_lower_is_better() -> None:
    assert metric_range("slice.source[web].accuracy") == (0.0, 1.0)
    assert metric_range("slice.a.b[x]y].recall[neg]") == (0.0, 1.0)
    assert metric_range("slice_gap.source.macro_f1") == (0.0, 1.0)
    assert not higher_is_better("slice_gap.source.accuracy")
    assert higher_is_better("slice.source[web].accuracy")
    assert "percentages" in (rule_problem("min", "slice.source[web].accuracy", 90) or "")


def test_gate_names_on_results_without_slices_and_unknown_slices(card_run: Path) -> None:
    results = load_results(card_run)
    assert not any(name.startswith("slice") for name in metric_names(results))
    with pytest.raises(UsageError, match="unknown metric"):
        metric_value(results, "slice.source[web].accuracy")


def test_results_round_trip_and_old_files_load(tmp_path: Path, card_run: Path) -> None:
    old = json.loads((card_run / "results.json").read_text())
    assert "slices" not in old or old["slices"] == {}
    old.pop("slices", None)
    old.pop("failures", None)
    assert EvalResults.from_dict(old).slices == {}
    y_true, y_pred, values = _data()
    results = load_results(card_run)
    results.slices = {"source": slice_metrics(y_true, y_pred, LABELS, values, column="source")}
    again = EvalResults.from_dict(json.loads(json.dumps(results.to_dict())))
    assert again.slices == results.slices
