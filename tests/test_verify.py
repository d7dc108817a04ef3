"""``verify_card``: each kind of claim gets its verdict, checked against scikit-learn; claims
read from model-index and .eval_results; Hub-cache data records its revision."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, f1_score, precision_score

from cardgen.errors import CardError, UsageError
from cardgen.results.schema import Metric
from cardgen.verify import read_claims, verify_card
from cardgen.verify.claims import Claim
from cardgen.verify.measure import Measured, Unchecked, precheck
from cardgen.verify.report import judge, printed_equal

COMMIT = "89abcdef0123456789abcdef0123456789abcdef"


def write_card(path: Path, results: list[dict], *, body: str = "# My model\n") -> Path:
    """A card whose model-index holds ``results`` (each a dict: dataset, split, metrics)."""
    import yaml

    index = [
        {
            "name": "me/model",
            "results": [
                {
                    "task": {"type": r.get("task", "text-classification")},
                    "dataset": {
                        "name": r["dataset"],
                        "type": r["dataset"],
                        **({"split": r["split"]} if "split" in r else {}),
                        **({"revision": r["revision"]} if "revision" in r else {}),
                    },
                    "metrics": r["metrics"],
                }
                for r in results
            ],
        }
    ]
    front = yaml.safe_dump({"license": "mit", "model-index": index}, sort_keys=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"---\n{front}---\n\n{body}", encoding="utf-8")
    return path


def gold_and_predicted(run_dir: Path) -> tuple[list[str], list[str]]:
    """Gold and predicted labels from a run's predictions.jsonl, for scikit-learn."""
    rows = [json.loads(line) for line in (run_dir / "predictions.jsonl").read_text().splitlines()]
    return [r["gold"] for r in rows], [r["predicted"] for r in rows]


def by_metric(report) -> dict[str, object]:
    return {r.claim.name: r for r in report.results}


@pytest.fixture(scope="module")
def topic_truth(skops_model: Path, topic_file: Path, tmp_path_factory) -> dict[str, float]:
    """Accuracy and F1s of the 4-topic skops model on topic_file, by scikit-learn."""
    from cardgen.evaluation.run import evaluate

    out = tmp_path_factory.mktemp("truth") / "run"
    evaluate(skops_model, topic_file, output_dir=out, n_bootstrap=0)
    gold, predicted = gold_and_predicted(out)
    return {
        "accuracy": accuracy_score(gold, predicted),
        **{a: f1_score(gold, predicted, average=a) for a in ("macro", "weighted", "micro")},
    }


def test_each_kind_of_claim_gets_its_verdict(
    skops_model: Path, topic_file: Path, topic_truth: dict[str, float], tmp_path: Path
) -> None:
    truth = topic_truth
    wrong = truth["weighted"] - 0.45 if truth["weighted"] > 0.5 else truth["weighted"] + 0.45
    card = write_card(
        tmp_path / "README.md",
        [
            {
                "dataset": "topics",
                "split": "test",
                "metrics": [
                    {"type": "accuracy", "name": "right", "value": truth["accuracy"]},
                    {"type": "f1", "name": "rounded", "value": round(truth["macro"], 2),
                     "args": {"average": "macro"}},
                    {"type": "f1", "name": "wrong", "value": round(wrong, 4),
                     "args": {"average": "weighted"}},
                    {"type": "f1", "name": "ambiguous", "value": round(truth["macro"], 4)},
                    {"type": "bleu", "name": "unknown", "value": 0.3},
                    {"type": "accuracy", "name": "percent", "value": 91.5},
                ],
            },
            {
                "dataset": "cardgen-test/absent",
                "split": "test",
                "metrics": [{"type": "accuracy", "name": "unavailable", "value": 0.9}],
            },
            {
                "dataset": "topics",
                "split": "test",
                "task": "question-answering",
                "metrics": [{"type": "f1", "name": "task", "value": 0.5}],
            },
        ],
    )  # fmt: skip
    report = verify_card(
        skops_model,
        card=card,
        datasets={"topics": topic_file},
        output_dir=tmp_path / "verify",
        n_bootstrap=500,
    )
    found = by_metric(report)
    verdicts = {name: result.verdict for name, result in found.items()}
    assert verdicts == {
        "right": "consistent",
        "rounded": "consistent",
        "wrong": "contradicted",
        "ambiguous": "ambiguous",
        "unknown": "not_checkable",
        "percent": "not_checkable",
        "unavailable": "not_checkable",
        "task": "not_checkable",
    }
    assert not report.passed and report.count("contradicted") == 1
    assert found["right"].measured.value == pytest.approx(truth["accuracy"])
    assert found["rounded"].measured.value == pytest.approx(truth["macro"])
    wrong_result = found["wrong"]
    assert wrong_result.measured.value == pytest.approx(truth["weighted"])
    assert wrong_result.difference == pytest.approx(round(wrong, 4) - truth["weighted"])
    assert "outside the 95% CI [" in wrong_result.reason and "difference" in wrong_result.reason
    readings = found["ambiguous"].readings
    for average in ("macro", "weighted", "micro"):
        assert readings[average].value == pytest.approx(truth[average])
    assert "the claim fits macro" in found["ambiguous"].reason
    assert "unknown metric id 'bleu'" in found["unknown"].reason
    assert "not a fraction" in found["percent"].reason
    assert "not in the local Hugging Face cache" in found["unavailable"].reason
    assert "--dataset cardgen-test/absent=PATH" in found["unavailable"].reason
    assert "task mismatch" in found["task"].reason
    # one evaluation for the one group of checkable claims, recorded in verification.json
    written = json.loads((tmp_path / "verify" / "verification.json").read_text())
    assert written["schema_version"] == 1 and written["summary"]["contradicted"] == 1
    (dataset,) = written["datasets"]
    assert dataset["id"] == "topics" and dataset["num_rows"] == 80
    assert dataset["fingerprint"].startswith("rows-sha256:") and dataset["revision"] is None
    assert (tmp_path / "verify" / "topics--test" / "results.json").is_file()


def test_binary_f1_without_average_is_the_positive_class(
    tiny_model: Path, sentiment_file: Path, tmp_path: Path
) -> None:
    from cardgen.evaluation.run import evaluate

    evaluate(tiny_model, sentiment_file, output_dir=tmp_path / "truth", n_bootstrap=0)
    gold, predicted = gold_and_predicted(tmp_path / "truth")
    f1 = f1_score(gold, predicted, pos_label="positive")
    precision = precision_score(gold, predicted, pos_label="negative")
    assert f1 != pytest.approx(f1_score(gold, predicted, pos_label="negative"))
    card = write_card(
        tmp_path / "card" / "README.md",
        [
            {
                "dataset": "sentiment",
                "split": "test",
                "metrics": [
                    {"type": "f1", "name": "f1", "value": round(f1, 4)},
                    {"type": "precision", "name": "neg", "value": round(precision, 4),
                     "args": {"average": "binary", "pos_label": "negative"}},
                    {"type": "f1", "name": "nolabel", "value": 0.5,
                     "args": {"average": "binary", "pos_label": "neutral"}},
                    {"type": "f1", "name": "samples", "value": 0.5, "args": {"average": "samples"}},
                ],
            }
        ],
    )  # fmt: skip
    report = verify_card(
        tiny_model,
        card=card,
        datasets={"sentiment": sentiment_file},
        output_dir=tmp_path / "verify",
        n_bootstrap=300,
        device="cpu",
    )
    found = by_metric(report)
    assert found["f1"].verdict == "consistent" and found["f1"].measured_as == "f1[positive]"
    assert found["f1"].measured.value == pytest.approx(f1)
    low, high = found["f1"].measured.ci_low, found["f1"].measured.ci_high
    assert low is not None and low <= f1 <= high
    assert found["neg"].measured.value == pytest.approx(precision)
    assert found["nolabel"].verdict == "not_checkable"
    assert "label set mismatch" in found["nolabel"].reason
    assert found["samples"].verdict == "not_checkable" and "multi-label" in found["samples"].reason


@pytest.mark.parametrize(
    ("printed", "value", "measured", "equal"),
    [
        ("0.91", 0.91, 0.9149, True),
        ("0.91", 0.91, 0.9151, False),
        ("0.910", 0.91, 0.9106, False),
        ("0.9074", 0.9074, 0.90744, True),
        ("1", 1.0, 0.7, False),
        ("1", 1.0, 0.9996, False),
        ("1", 1.0, 1.0, True),
        ("0", 0.0, 0.3, False),
        ("1.0", 1.0, 0.96, True),
        ("1.0", 1.0, 0.94, False),
        ("9.1e-1", 0.91, 0.9149, True),
    ],
)
def test_printed_precision(printed: str, value: float, measured: float, equal: bool) -> None:
    claim = Claim("x", "d", "accuracy", value, printed)
    assert printed_equal(claim, measured) is equal


def test_judge_uses_the_ci_then_the_printed_precision() -> None:
    claim = Claim("x", "d", "accuracy", 0.9, "0.9000")
    inside = judge(claim, Measured("accuracy", Metric(0.88, 0.85, 0.91)))
    assert inside.verdict == "consistent" and "within the 95% CI" in inside.reason
    no_ci = judge(claim, Measured("accuracy", Metric(0.88)))
    assert no_ci.verdict == "contradicted" and "no CI" in no_ci.reason
    rounded = judge(Claim("x", "d", "accuracy", 0.9, "0.9"), Measured("accuracy", Metric(0.88)))
    assert rounded.verdict == "consistent" and "precision" in rounded.reason
    unchecked = judge(claim, Unchecked("not_checkable", "because"))
    assert (unchecked.verdict, unchecked.reason, unchecked.measured) == (
        "not_checkable",
        "because",
        None,
    )


def _hub_dataset(cache: Path, rows: list[dict]) -> None:
    """``rows`` laid out as the Hub cache entry of dataset cardgen-test/reviews at COMMIT."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    repo = cache / "datasets--cardgen-test--reviews"
    (repo / "snapshots" / COMMIT / "data").mkdir(parents=True)
    pq.write_table(
        pa.Table.from_pylist(rows),
        repo / "snapshots" / COMMIT / "data" / "test-00000-of-00001.parquet",
    )
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(COMMIT)


@pytest.fixture
def offline_hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty Hub cache and datasets cache under tmp_path, offline."""
    import datasets
    import huggingface_hub.constants as constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "datasets-cache")
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    return tmp_path / "hub"


def test_offline_hub_cache_data_records_its_revision(
    tiny_model: Path, sentiment_rows: list[dict], offline_hub: Path, tmp_path: Path
) -> None:
    _hub_dataset(offline_hub, sentiment_rows)
    card = write_card(
        tmp_path / "card" / "README.md",
        [
            {
                "dataset": "cardgen-test/reviews",
                "split": "test",
                "metrics": [{"type": "accuracy", "name": "main", "value": 0.5}],
            },
            {
                "dataset": "cardgen-test/reviews",
                "split": "test",
                "revision": COMMIT,
                "metrics": [{"type": "accuracy", "name": "pinned", "value": 0.5}],
            },
            {
                "dataset": "cardgen-test/reviews",
                "split": "test",
                "revision": "f" * 40,
                "metrics": [{"type": "accuracy", "name": "other", "value": 0.5}],
            },
            {
                "dataset": "cardgen-test/reviews",
                "metrics": [{"type": "accuracy", "name": "nosplit", "value": 0.5}],
            },
        ],
    )
    report = verify_card(
        tiny_model, card=card, output_dir=tmp_path / "verify", n_bootstrap=200, device="cpu"
    )
    found = by_metric(report)
    assert found["main"].measured is not None and found["pinned"].measured is not None
    assert found["main"].measured.value == found["pinned"].measured.value
    assert found["other"].verdict == "not_checkable" and f"at revision {'f' * 40}" in (
        found["other"].reason
    )
    assert found["nosplit"].verdict == "not_checkable" and "names no split" in (
        found["nosplit"].reason
    )
    written = json.loads((tmp_path / "verify" / "verification.json").read_text())
    assert [d["revision"] for d in written["datasets"]] == [COMMIT, COMMIT]
    assert {d["source"] for d in written["datasets"]} == {"hub:cardgen-test/reviews"}
    assert all(d["num_rows"] == len(sentiment_rows) for d in written["datasets"])


def test_claims_come_from_the_model_index_and_eval_results(tmp_path: Path) -> None:
    card = write_card(
        tmp_path / "README.md",
        [{"dataset": "org/data", "split": "test", "metrics": [
            {"type": "f1", "value": 0.90, "args": {"average": "macro"}}]}],
    )  # fmt: skip
    card.write_text(card.read_text().replace("value: 0.9", "value: 0.90"))
    folder = tmp_path / ".eval_results"
    folder.mkdir()
    (folder / "org--data--test.yaml").write_text(
        "- dataset: {id: org/data, task_id: default}\n  value: 0.8912345\n"
        "  source: {url: 'https://huggingface.co/datasets/org/data', name: cardgen 0.1.0}\n"
        "  notes: 'split: test; metric: accuracy; 95% CI: [0.8800, 0.9000]'\n"
        "- dataset: {id: org/data, task_id: sst2}\n  value: 0.7\n"
        "  source: {url: 'https://example.org', name: other-tool}\n"
    )
    index, ours, theirs = read_claims(card)
    assert (index.metric, index.args, index.printed, index.split) == (
        "f1",
        {"average": "macro"},
        "0.90",
        "test",
    )
    assert (ours.metric, ours.split, ours.value, ours.config) == (
        "accuracy",
        "test",
        0.8912345,
        None,
    )
    assert theirs.unknown_reason and "does not say which metric" in theirs.unknown_reason
    assert theirs.config == "sst2"


@pytest.mark.parametrize("args", [["macro"], "macro", 5, [{"average": "macro"}]])
def test_args_that_are_no_mapping_make_the_claim_not_checkable(
    args: object, tmp_path: Path
) -> None:
    """Dropping them would check the f1 of no average (binary) against a claim of another."""
    metric = {"type": "f1", "value": 0.8, "args": args}
    card = write_card(
        tmp_path / "README.md", [{"dataset": "d", "split": "test", "metrics": [metric]}]
    )
    (claim,) = read_claims(card)
    assert claim.unknown_reason and "are no mapping" in claim.unknown_reason


@pytest.mark.parametrize(
    ("args", "checkable"),
    [
        ({"normalize": False}, False),
        ({"normalize": "true"}, False),
        ({"normalize": 0}, False),
        ({"zero_division": 1}, False),
        ({"zero_division": "nan"}, False),
        ({"zero_division": [0]}, False),
        ({"normalize": True}, True),
        ({"zero_division": 0}, True),
        ({"zero_division": "warn"}, True),
    ],
)
def test_arguments_that_change_the_number_are_not_checkable(args: dict, checkable: bool) -> None:
    """normalize: false claims a count, zero_division: 1 other values for ill-defined ratios."""
    reason = precheck("text-classification", "accuracy", args, 0.8)
    assert (reason is None) is checkable
    assert checkable or f"cardgen computes only {next(iter(args))}" in str(reason)


def test_cards_without_claims_or_with_a_broken_index_are_refused(tmp_path: Path) -> None:
    bare = tmp_path / "bare" / "README.md"
    bare.parent.mkdir()
    bare.write_text("---\nlicense: mit\n---\n# hi\n")
    with pytest.raises(UsageError, match="claims no results"):
        read_claims(bare)
    broken = tmp_path / "broken" / "README.md"
    broken.parent.mkdir()
    broken.write_text("---\nmodel-index:\n- name: x\n  results:\n  - metrics: []\n---\n")
    with pytest.raises(CardError, match="model-index of .* is malformed"):
        read_claims(broken)


def test_a_dataset_option_must_name_a_claimed_dataset(tiny_model: Path, tmp_path: Path) -> None:
    card = write_card(
        tmp_path / "README.md",
        [{"dataset": "org/data", "split": "test", "metrics": [{"type": "accuracy", "value": 0.9}]}],
    )
    with pytest.raises(UsageError, match="no claim of the card names that dataset; the claims"):
        verify_card(tiny_model, card=card, datasets={"org/dta": tmp_path}, output_dir=tmp_path)
    with pytest.raises(UsageError, match="no such file"):
        verify_card(
            tiny_model, card=card, datasets={"org/data": tmp_path / "none"}, output_dir=tmp_path
        )
    with pytest.raises(UsageError, match="verify does not take 'limit'"):
        verify_card(tiny_model, card=card, output_dir=tmp_path, limit=10)


def test_the_default_card_is_the_models_own(
    tiny_model: Path, hub_cache: str, tmp_path: Path
) -> None:
    from cardgen.verify import default_card

    repo = tmp_path / "hub" / "models--cardgen-test--tiny"
    (next((repo / "snapshots").iterdir()) / "README.md").write_text("# tiny\n")
    assert default_card(str(tiny_model)) == (tiny_model / "README.md", tiny_model)
    card, base = default_card(hub_cache)
    assert card.name == "README.md" and card.parent.parent.name == "snapshots"
    assert base.name == "models--cardgen-test--tiny"
    with pytest.raises(UsageError, match="no README.md of model 'org/none'"):
        default_card("org/none")


def test_confusion_matrix_bootstrap_matches_resampling_examples() -> None:
    """The per-class CI bootstraps the confusion matrix: the same as resampling examples."""
    from cardgen.tasks.metrics import bootstrap_confusion, per_class_scores

    cm = np.array([[40, 10], [5, 45]])
    f1 = per_class_scores(bootstrap_confusion(cm, 4000, seed=1), zero_division=np.nan)["f1"][:, 1]
    gold = np.repeat([0, 0, 1, 1], [40, 10, 5, 45])
    pred = np.repeat([0, 1, 0, 1], [40, 10, 5, 45])
    rng = np.random.default_rng(2)
    rows = rng.integers(0, 100, (4000, 100))
    g, p = gold[rows], pred[rows]
    tp, fp, fn = (
        ((g == 1) & (p == 1)).sum(1),
        ((g == 0) & (p == 1)).sum(1),
        ((g == 1) & (p == 0)).sum(1),
    )
    draws = 2 * tp / (2 * tp + fp + fn)
    assert draws[0] == pytest.approx(f1_score(g[0], p[0]))
    expected = np.percentile(draws, [2.5, 97.5])
    assert np.percentile(f1, [2.5, 97.5]) == pytest.approx(expected, abs=0.01)


def test_the_skops_sample_card_verifies_against_its_own_model(tmp_path: Path) -> None:
    """scripts/verify_sample_cards.py on the sample whose model is committed: the regenerated
    evaluation set is the one the card was measured on, and every claim is consistent."""
    import importlib.util
    import sys

    root = Path(__file__).parents[1]
    spec = importlib.util.spec_from_file_location(
        "verify_sample_cards", root / "scripts" / "verify_sample_cards.py"
    )
    assert spec is not None and spec.loader is not None
    script = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = script
    spec.loader.exec_module(script)
    shape = script.samples.SHAPES["newsgroups-skops"]
    report = verify_card(
        script.model_path(shape, tmp_path),
        card=shape.directory / "README.md",
        datasets={shape.dataset_id: script.evaluation_data(shape, tmp_path)},
        output_dir=tmp_path / "verify",
        n_bootstrap=1000,
    )
    committed = json.loads((shape.directory / "results.json").read_text())
    assert report.datasets[0].fingerprint == committed["dataset"]["fingerprint"]
    assert len(report.results) == 7  # six model-index metrics and the .eval_results entry
    assert sum(r.claim.where.startswith(".eval_results") for r in report.results) == 1
    assert {r.verdict for r in report.results} == {"consistent"}, report.headline


def test_labels_that_do_not_match_the_model_are_not_checkable(
    tiny_model: Path, topic_file: Path, tmp_path: Path
) -> None:
    card = write_card(
        tmp_path / "README.md",
        [{"dataset": "topics", "split": "test", "metrics": [{"type": "accuracy", "value": 0.9}]}],
    )
    report = verify_card(
        tiny_model,
        card=card,
        datasets={"topics": topic_file},
        output_dir=tmp_path / "verify",
        device="cpu",
    )
    (result,) = report.results
    assert result.verdict == "not_checkable" and result.reason.startswith("label set mismatch: ")
    assert report.passed and report.datasets == []


def test_binary_roc_auc_is_one_number_whichever_class_the_model_puts_first() -> None:
    """Each class's ROC AUC, ranked by its own probability, is the same for two classes, so a
    model whose class 1 is the dataset's class 0 gives no second reading."""
    from conftest import make_results
    from sklearn.metrics import roc_auc_score

    from cardgen.verify.measure import measure

    rng = np.random.default_rng(3)
    gold = rng.integers(0, 2, 300)
    p1 = np.clip(0.3 * gold + rng.random(300) * 0.7, 0, 1)
    assert roc_auc_score(gold, p1) == pytest.approx(roc_auc_score(1 - gold, 1 - p1))
    results = make_results(["negative", "positive"])
    results.model.labels = ["positive", "negative"]  # the model's class 1 is the data's class 0
    found = measure("roc_auc", {}, results, n_bootstrap=0, seed=0)
    assert isinstance(found, Measured) and found.metric == results.metrics["roc_auc"]
