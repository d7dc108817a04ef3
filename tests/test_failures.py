"""Error analysis: confused pairs against scikit-learn's confusion matrix, label issue
candidates against a row-by-row reading of confident learning, the card section, and
``--no-examples`` keeping every text out of every written file."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from conftest import make_results, run_cli, write_jsonl
from sklearn.metrics import confusion_matrix

from cardgen import load_results, render_card
from cardgen.analysis import analyse_failures, confused_pairs, label_issues
from cardgen.analysis.failures import confident_labels, confident_thresholds
from cardgen.results.schema import EvalResults, FailureExample

LABELS = ["a", "b", "c"]


def _probs(seed: int, n: int = 300, k: int = 3):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    logits = rng.normal(size=(n, k))
    logits[np.arange(n), y] += rng.uniform(0, 3, n)
    p = np.exp(logits)
    return y, p / p.sum(axis=1, keepdims=True)


def test_thresholds_and_confident_labels_by_hand() -> None:
    y = np.array([0, 0, 1, 1, 2])
    p = np.array(
        [[0.9, 0.1, 0.0], [0.5, 0.2, 0.3], [0.2, 0.8, 0.0], [0.6, 0.4, 0.0], [0.1, 0.1, 0.8]]
    )
    t = confident_thresholds(y, p)
    assert t == pytest.approx([0.7, 0.6, 0.8])
    # row 3: only class 0 reaches its threshold (0.6 < 0.7 no; 0.4 < 0.6 no) -> none
    assert confident_labels(p, t).tolist() == [0, -1, 1, -1, 2]
    p[3] = [0.75, 0.25, 0.0]  # now 0.75 >= 0.7: a gold-1 row confidently of class 0
    issues = label_issues(y, p, LABELS, texts=["t0", "t1", "t2", "t3", "t4"])
    assert issues.count == 1 and issues.share == pytest.approx(0.2)
    assert issues.by_pair == [("b", "a", 1)]
    (example,) = issues.examples
    assert (example.index, example.gold, example.predicted, example.text) == (3, "b", "a", "t3")
    assert example.probability == 0.75 and example.gold_probability == 0.25


@pytest.mark.parametrize("seed", range(5))
def test_label_issues_match_a_row_by_row_reading(seed: int) -> None:
    y, p = _probs(seed)
    k = p.shape[1]
    t = [p[y == j, j].mean() for j in range(k)]
    expected = []
    for i in range(len(y)):
        confident = [j for j in range(k) if p[i, j] >= t[j]]
        if confident:
            best = max(confident, key=lambda j: p[i, j])
            if best != y[i] and p[i].argmax() != y[i]:  # predicted as labelled: no candidate
                expected.append(i)
    issues = label_issues(y, p, LABELS, limit=1000)
    assert issues.count == len(expected)
    assert sorted(e.index for e in issues.examples) == expected
    gold_probs = [e.gold_probability for e in issues.examples]
    assert gold_probs == sorted(gold_probs)  # least sure of the gold label first
    assert sum(count for _, _, count in issues.by_pair) == issues.count


def test_class_without_gold_rows_is_never_confident() -> None:
    y = np.array([0, 0, 1])
    p = np.array([[0.5, 0.1, 0.4], [0.6, 0.1, 0.3], [0.1, 0.2, 0.7]])
    assert np.isinf(confident_thresholds(y, p)[2])
    issues = label_issues(y, p, LABELS)
    assert "c" not in issues.thresholds and all(e.predicted != "c" for e in issues.examples)


@pytest.mark.parametrize("seed", range(3))
def test_confused_pairs_match_sklearn(seed: int) -> None:
    y, p = _probs(seed)
    pred = p.argmax(axis=1)
    cm = confusion_matrix(y, pred, labels=range(3))
    pairs = confused_pairs(y, pred, p, LABELS, texts=[f"t{i}" for i in range(len(y))])
    off = sorted(
        ((cm[i, j], i, j) for i in range(3) for j in range(3) if i != j and cm[i, j]),
        key=lambda c: (-c[0], c[1], c[2]),
    )
    assert [(x.gold, x.predicted, x.count) for x in pairs] == [
        (LABELS[i], LABELS[j], int(c)) for c, i, j in off[:5]
    ]
    for pair in pairs:
        gold = LABELS.index(pair.gold)
        assert pair.share == pytest.approx(pair.count / cm[gold].sum())
        rows = np.flatnonzero((y == gold) & (pred == LABELS.index(pair.predicted)))
        top = sorted(rows, key=lambda i: -p[i, pred[i]])[:3]
        assert [e.index for e in pair.examples] == top
        assert [e.text for e in pair.examples] == [f"t{i}" for i in top]


def test_models_without_probabilities_get_no_label_issues() -> None:
    y, p = _probs(0)
    onehot = np.eye(3)[p.argmax(axis=1)]
    for kind, scores in (("label", onehot), ("decision", p)):
        analysis = analyse_failures(
            y, p.argmax(axis=1), scores, LABELS, score_kind=kind, texts=None
        )
        assert analysis.label_issues is None and not analysis.examples
        assert all(
            e.probability is None and e.text is None for x in analysis.pairs for e in x.examples
        )
    perfect = analyse_failures(y, y, np.eye(3)[y], LABELS, score_kind="probability", texts=None)
    assert perfect.errors == 0 and perfect.pairs == [] and perfect.label_issues.count == 0


def test_card_section_escapes_texts(tmp_path: Path) -> None:
    results = make_results()
    y, p = _probs(1, n=results.dataset.num_rows, k=2)
    texts = ["<img src=x onerror=alert(1)> | [a](javascript:alert(1)) *b*"] * len(y)
    results.failures = analyse_failures(
        y, p.argmax(axis=1), p, results.labels, score_kind="probability", texts=texts
    )
    text = render_card(results)
    assert "### Where the model fails" in text and "#### Possible label errors" in text
    assert "candidates to review" in text
    assert not re.search(r"(?<!\\)<img", text) and not re.search(r"(?<!\\)\]\(javascript", text)
    assert "\\<img src=x onerror=alert(1)> \\| \\[a\\](javascript:alert(1)) \\*b\\*" in text
    again = EvalResults.from_dict(json.loads(json.dumps(results.to_dict())))
    assert again.failures == results.failures


def test_card_without_examples_names_rows() -> None:
    results = make_results()
    results.failures = analyse_failures(
        np.array([0, 1, 1]), np.array([1, 0, 1]), np.array([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7]]),
        results.labels, score_kind="probability", texts=None,
    )  # fmt: skip
    text = render_card(results)
    assert "Example texts are left out of this card (`--no-examples`)" in text
    assert "| negative | positive | 0.900 | 0 |" in text


@pytest.mark.parametrize("examples", [True, False])
def test_no_examples_leaves_no_text_in_any_written_file(
    tmp_path: Path, tiny_model: Path, capsys: pytest.CaptureFixture[str], examples: bool
) -> None:
    from cardgen.demo.synthetic import sentiment_corpus

    rows = sentiment_corpus(80, seed=21)
    for i, row in enumerate(rows):
        row["text"] = f"{row['text']} zqxmark{i:03d}"
        row["text2"] = f"secondzq{i:03d}"
        row["group"] = "g1" if i % 2 else "g2"
    data = write_jsonl(tmp_path / "private.jsonl", rows)
    run = tmp_path / "run"
    flag = "--examples" if examples else "--no-examples"
    code, out, err = run_cli(
        capsys, "evaluate", "--model", str(tiny_model), "--dataset", str(data), "--no-progress",
        "--text-pair-column", "text2", "--slice-by", "group", flag,
        "--bootstrap", "50", "--output-dir", str(run), "--card", str(run / "README.md"),
    )  # fmt: skip
    assert code == 0, err
    render_card(run, output=tmp_path / "card.html", output_format="html")
    written = [*run.rglob("*"), tmp_path / "card.html"]
    assert len([f for f in written if f.is_file()]) >= 6
    hits = [
        f.name for f in written if f.is_file() and re.search(rb"zqxmark|secondzq", f.read_bytes())
    ]
    if examples:  # the positive control: the marker is findable when texts are written
        assert "results.json" in hits and "predictions.jsonl" in hits and "README.md" in hits
    else:
        assert hits == []
        assert "zqxmark" not in out + err
        results = load_results(run)
        assert results.failures is not None and not results.failures.examples
        assert results.failures.errors == sum(
            r["gold"] != r["predicted"]
            for r in map(json.loads, (run / "predictions.jsonl").read_text().splitlines())
        )


def test_failure_example_defaults_keep_old_shapes() -> None:
    example = FailureExample(index=1, gold="a", predicted="b")
    assert example.text is None and example.probability is None


def test_examples_under_sample_name_the_source_row_as_predictions_do(
    tiny_model: Path, sentiment_file: Path, tmp_path: Path
) -> None:
    from cardgen.evaluation.run import evaluate
    from cardgen.results.predictions import load_predictions

    results = evaluate(
        tiny_model, sentiment_file, limit=60, sample=True, seed=4, n_bootstrap=0,
        robustness=["typos"], output_dir=tmp_path / "run",
    )  # fmt: skip
    source = [json.loads(line)["text"] for line in sentiment_file.open(encoding="utf-8")]
    by_index = {row["index"]: row for row in load_predictions(tmp_path / "run")}
    assert results.failures is not None
    shown = [e for pair in results.failures.pairs for e in pair.examples]
    if results.failures.label_issues is not None:
        shown += results.failures.label_issues.examples
    assert shown
    for example in shown:
        assert example.index in by_index and example.text == source[example.index]
    for example in results.robustness["typos"].examples + results.robustness["typos"].fixed_examples:
        assert example.index in by_index
        assert source[example.index].startswith(example.text.lstrip("…")[:20])
