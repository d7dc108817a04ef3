"""The Spark engine (cardgen.engines.spark) against the local engine, on a session-scoped local[2] Spark.

Tests that need Spark skip with the reason when pyspark or Java 17+ is missing, and fail
instead when CARDGEN_REQUIRE_SPARK=1 (as CI sets).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import results_from_predictions, run_cli, write_jsonl
from sklearn.metrics import accuracy_score, confusion_matrix, roc_auc_score

from cardgen.data import fingerprint as _fingerprint
from cardgen.data.load import load_data
from cardgen.errors import DataError, ModelError, ResultsError, UsageError
from cardgen.evaluation.run import evaluate
from cardgen.results.predictions import load_predictions, read_prediction_codes
from cardgen.results.schema import EvalResults, load_results


@pytest.fixture(scope="module")
def runs(
    spark: Any, tiny_model: Path, sentiment_file: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, Path]:
    """The same evaluation by both engines: (local run, spark run)."""
    root = tmp_path_factory.mktemp("engines")
    for engine in ("local", "spark"):
        evaluate(
            tiny_model,
            sentiment_file,
            output_dir=root / engine,
            n_bootstrap=500,
            engine=engine,
            max_length=12,  # about half the rows are cut: the truncated slice has both values
        )
    return root / "local", root / "spark"


def _same_analysis(local: EvalResults, spark: EvalResults) -> None:
    """Equal slices and failure analyses; probabilities within 1e-5, as the engines batch
    differently."""
    assert local.slices and local.failures is not None
    assert _approx(asdict(spark.failures)) == asdict(local.failures)  # type: ignore[arg-type]
    assert {name: asdict(s) for name, s in spark.slices.items()} == {
        name: asdict(s) for name, s in local.slices.items()
    }


def _approx(value: Any) -> Any:
    """``value`` with every float compared to 1e-5."""
    if isinstance(value, dict):
        return {key: _approx(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_approx(item) for item in value)
    return pytest.approx(value, abs=1e-5) if isinstance(value, float) else value


def _same_results(local: EvalResults, spark: EvalResults) -> None:
    assert spark.labels == local.labels
    assert spark.confusion_matrix == local.confusion_matrix
    assert spark.per_class == local.per_class
    assert spark.label_mapping == local.label_mapping
    assert spark.dataset.fingerprint == local.dataset.fingerprint
    assert spark.dataset.num_rows == local.dataset.num_rows
    assert spark.timing is not None and local.timing is not None
    assert spark.timing.truncated == local.timing.truncated
    assert spark.metrics.keys() == local.metrics.keys()
    for name, metric in local.metrics.items():
        other = spark.metrics[name]
        assert other.value == pytest.approx(metric.value, abs=1e-6), name
        assert (other.ci_low, other.ci_high) == (metric.ci_low, metric.ci_high), name
    assert local.calibration is not None and spark.calibration is not None
    for a, b in zip(local.calibration.bins, spark.calibration.bins, strict=True):
        assert (a.lower, a.upper, a.count) == (b.lower, b.upper, b.count)
        assert b.confidence == pytest.approx(a.confidence, abs=1e-6)
        assert b.accuracy == pytest.approx(a.accuracy, abs=1e-12)


def test_spark_writes_the_same_results_as_local(runs: tuple[Path, Path]) -> None:
    local_dir, spark_dir = runs
    local, spark = load_results(local_dir), load_results(spark_dir)
    _same_results(local, spark)
    _same_analysis(local, spark)
    cut = spark.slices["truncated"]
    assert [v.value for v in cut.values] == ["no", "yes"]
    assert cut.values[1].rows == spark.timing.truncated  # type: ignore[union-attr]
    assert spark.failures is not None and spark.failures.label_issues is not None
    assert spark.failures.label_issues.examples and spark.failures.pairs[0].examples[0].text
    assert spark.files["predictions"] == "predictions.parquet"
    assert (spark_dir / "predictions.parquet").is_dir() and (
        spark_dir / "reliability.png"
    ).is_file()
    assert spark.environment["pyspark"]
    rows = {row["index"]: row for row in load_predictions(spark_dir)}
    for row in load_predictions(local_dir):
        other = rows.pop(row["index"])
        assert (other["gold"], other["predicted"]) == (row["gold"], row["predicted"])
        assert other["probabilities"].keys() == row["probabilities"].keys()
        for label, p in row["probabilities"].items():
            assert other["probabilities"][label] == pytest.approx(p, abs=1e-5)
    assert not rows


def test_spark_metrics_match_scikit_learn(runs: tuple[Path, Path]) -> None:
    spark_dir = runs[1]
    results = load_results(spark_dir)
    rows = sorted(load_predictions(spark_dir), key=lambda row: row["index"])
    gold = [row["gold"] for row in rows]
    predicted = [row["predicted"] for row in rows]
    expected = confusion_matrix(gold, predicted, labels=results.labels)
    assert results.confusion_matrix.counts == expected.tolist()
    assert results.metrics["accuracy"].value == pytest.approx(accuracy_score(gold, predicted))
    positive = [row["probabilities"][results.labels[1]] for row in rows]
    auc = roc_auc_score([g == results.labels[1] for g in gold], positive)
    assert results.metrics["roc_auc"].value == pytest.approx(auc, abs=1e-12)


def test_card_and_gate_agree_across_engines(
    runs: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    local_dir, spark_dir = runs
    cards = []
    for run in runs:
        card = tmp_path / run.name / "README.md"
        code, _, err = run_cli(capsys, "card", str(run), "--output", str(card))
        assert code == 0, err
        cards.append(_without_run_details(card.read_text(encoding="utf-8")))
    assert cards[0] == cards[1]
    assert "### Results by slice" in cards[1] and "### Where the model fails" in cards[1]
    code, out, err = run_cli(
        capsys, "gate", str(spark_dir), "--baseline", str(local_dir), "--max-drop", "accuracy=0"
    )
    assert code == 0, out + err
    assert "paired on 120 examples" in out + err
    local_codes = read_prediction_codes(local_dir, load_results(local_dir).labels)
    spark_codes = read_prediction_codes(spark_dir, load_results(spark_dir).labels)
    assert np.array_equal(local_codes.index, spark_codes.index)
    assert np.array_equal(local_codes.gold, spark_codes.gold)
    assert np.array_equal(local_codes.predicted, spark_codes.predicted)


def _without_run_details(card: str) -> str:
    """A card without what differs between two runs of the same evaluation (timings, batching,
    hardware, dates, library versions)."""
    skipped = ("**Hardware:**", "**Batch size:**", "**Throughput:**", "**Padding:**", "pyspark")
    lines = [line for line in card.splitlines() if not line.lstrip("- ").startswith(skipped)]
    lines = [line for line in lines if line.strip()]
    text = re.sub(r"on \d{4}-\d\d-\d\dT[\d:+]+ \(", "on DATE (", "\n".join(lines))
    return re.sub(r" sha256:[0-9a-f]{16} -->", " sha256:HASH -->", text)  # hashes cover timings


def test_fingerprint_blocks_are_the_same_in_both_engines(
    spark: Any, tiny_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = [
        {"text": f"text {i} é", "label": "positive" if i % 3 else "negative"} for i in range(23)
    ]
    path = write_jsonl(tmp_path / "d.jsonl", rows)
    monkeypatch.setattr(_fingerprint, "FINGERPRINT_BLOCK_ROWS", 5)
    blocks = []
    for start in range(0, 23, 5):
        block = hashlib.sha256()
        for row in rows[start : start + 5]:
            item = json.dumps([row["text"], row["label"]], ensure_ascii=False)
            block.update(hashlib.sha256(item.encode()).digest())
        blocks.append(block.digest())
    expected = "rows-sha256:" + hashlib.sha256(b"".join(blocks)).hexdigest()
    assert load_data(path).info.fingerprint == expected
    from cardgen.engines.spark.source import prepare_rows, read_dataset

    spark.conf.set("spark.sql.files.maxPartitionBytes", "200")  # several splits of one file
    try:
        frame, source, file_scan = read_dataset(spark, str(path))
        assert frame.rdd.getNumPartitions() > 1
        prepared = prepare_rows(
            frame,
            source=source,
            file_scan=file_scan,
            text_column=None,
            text_pair_column=None,
            label_column=None,
            limit=None,
        )
        assert prepared.info.fingerprint == expected
        limited = prepare_rows(
            frame,
            source=source,
            file_scan=file_scan,
            text_column=None,
            text_pair_column=None,
            label_column=None,
            limit=12,
        )
        assert limited.info.fingerprint == load_data(path, limit=12).info.fingerprint
        assert limited.info.num_rows == 12
    finally:
        spark.conf.unset("spark.sql.files.maxPartitionBytes")


def test_parquet_glob_rows_are_numbered_in_file_order(
    spark: Any, tiny_model: Path, sentiment_rows: list[dict], tmp_path: Path
) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder = tmp_path / "parts"
    folder.mkdir()
    for i, start in enumerate((0, 50, 90)):
        part = sentiment_rows[start : start + (50 if start == 0 else 40 if start == 50 else 30)]
        pq.write_table(pa.Table.from_pylist(part), folder / f"part-{i}.parquet")
    whole = write_jsonl(tmp_path / "whole.jsonl", sentiment_rows)
    local = evaluate(tiny_model, whole, n_bootstrap=0)
    spark_run = evaluate(
        str(tiny_model), str(folder / "*.parquet"), n_bootstrap=0, engine="spark", limit=200
    )
    assert spark_run.dataset.fingerprint == local.dataset.fingerprint
    assert spark_run.confusion_matrix == local.confusion_matrix


def test_evaluate_dataframe_and_pairs(
    spark: Any, tiny_model: Path, sentiment_rows: list[dict], tmp_path: Path
) -> None:
    rows = [{"premise": r["text"], "hypothesis": r["text"][::-1], "label": r["label"]} for r in sentiment_rows[:40]]  # fmt: skip
    path = write_jsonl(tmp_path / "pairs.jsonl", rows)
    local = evaluate(tiny_model, path, n_bootstrap=100, label_order=["negative", "positive"], text_pair_column="hypothesis")  # fmt: skip
    frame = spark.read.json(str(path))
    result = evaluate(
        str(tiny_model),
        frame,
        text_pair_column="hypothesis",
        engine="spark",
        n_bootstrap=100,
        label_order=["negative", "positive"],
        output_dir=tmp_path / "run",
    )
    assert result.dataset.text_pair is not None and result.dataset.text_pair.column == "hypothesis"
    assert result.dataset.source == "dataframe"
    assert result.confusion_matrix == local.confusion_matrix
    assert result.dataset.fingerprint == local.dataset.fingerprint
    assert result.label_mapping == local.label_mapping
    assert (tmp_path / "run" / "results.json").is_file()
    _same_analysis(local, result)
    assert result.failures is not None and result.failures.pairs[0].examples[0].text_pair


def test_word_lengths_and_no_examples_on_spark(
    spark: Any, skops_model: Path, topic_file: Path, tmp_path: Path
) -> None:
    import pyarrow.parquet as pq

    local = evaluate(skops_model, topic_file, n_bootstrap=100, examples=False)
    result = evaluate(
        str(skops_model), str(topic_file), n_bootstrap=100, examples=False, engine="spark",
        output_dir=tmp_path / "run",
    )  # fmt: skip
    _same_analysis(local, result)
    assert result.slices["input_length"].note == local.slices["input_length"].note
    assert "words" in str(result.slices["input_length"].note) and "truncated" not in result.slices
    assert result.failures is not None and not result.failures.examples
    shown = [e for pair in result.failures.pairs for e in pair.examples]
    assert shown and all(e.text is None for e in shown)
    part = next((tmp_path / "run" / "predictions.parquet").glob("*.parquet"))
    assert {"length", "text"} & set(pq.read_schema(part).names) == {"length"}


def test_spark_data_errors_match_local_ones(
    spark: Any, tiny_model: Path, sentiment_file: Path, tmp_path: Path
) -> None:
    with pytest.raises(DataError, match="column 'review' not found in .*use --text-column"):
        evaluate(tiny_model, sentiment_file, text_column="review", engine="spark")
    rows = [{"text": "good", "label": "positive"}, {"text": None, "label": "negative"}]
    path = write_jsonl(tmp_path / "nulls.jsonl", rows)
    with pytest.raises(DataError) as local_error:
        evaluate(tiny_model, path)
    with pytest.raises(DataError) as spark_error:
        evaluate(tiny_model, path, engine="spark")
    assert str(spark_error.value) == str(local_error.value)
    mixed = write_jsonl(tmp_path / "mixed.jsonl", [{"text": "a", "label": 1}, {"text": "b", "label": "pos"}])  # fmt: skip
    with pytest.raises(
        DataError, match=r"mixes class ids and names, e\.g\. .*1.* \(row 0\) and 'pos' \(row 1\)"
    ):
        evaluate(tiny_model, mixed, engine="spark")
    with pytest.raises(DataError, match="does not exist"):
        evaluate(tiny_model, tmp_path / "missing.jsonl", engine="spark")


def test_spark_model_errors_exit_2(
    spark: Any, sentiment_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run_cli(
        capsys, "evaluate", "--model", str(tmp_path / "nowhere"), "--dataset", str(sentiment_file),
        "--engine", "spark", "--output-dir", str(tmp_path / "run"),
    )  # fmt: skip
    assert code == 2 and "error:" in err
    assert not (tmp_path / "run").exists()


def test_errors_raised_in_workers_come_back_as_themselves(spark: Any) -> None:
    from cardgen.engines.spark.session import spark_errors

    def fail(batches: Any) -> Any:
        from cardgen.errors import ModelError

        for _ in batches:
            raise ModelError("model 'x' cannot load on this executor: no such directory")
        yield from ()

    expected = pytest.raises(ModelError, match="^model 'x' cannot load on this executor")
    with expected, spark_errors("predicting"):
        spark.range(3).mapInPandas(fail, "id long").collect()
    with (
        pytest.raises(DataError, match="reading failed in Spark"),
        spark_errors("reading", DataError),
    ):
        spark.read.parquet("/nonexistent/cardgen/path").collect()


def test_no_java_is_a_usage_error(sentiment_file: Path, tiny_model: Path, tmp_path: Path) -> None:
    try:
        import pyspark  # noqa: F401
    except ImportError:
        if os.environ.get("CARDGEN_REQUIRE_SPARK") == "1":
            pytest.fail("CARDGEN_REQUIRE_SPARK=1, but pyspark is not installed")
        pytest.skip("pyspark is not installed (pip install 'cardgen[spark]')")
    env = {**os.environ, "JAVA_HOME": str(tmp_path / "no-java")}
    done = subprocess.run(
        [
            sys.executable, "-c", "import sys; from cardgen.cli import main; sys.exit(main())",
            "evaluate", "--model", str(tiny_model),
            "--dataset", str(sentiment_file), "--engine", "spark", "--output-dir",
            str(tmp_path / "run"),
        ],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert "JAVA_HOME" in done.stderr and "openjdk-17-jre-headless" in done.stderr


def test_missing_pyspark_names_the_extra(
    tiny_model: Path, sentiment_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "pyspark", None)
    with pytest.raises(UsageError, match=r"pip install 'cardgen\[spark\]'"):
        evaluate(tiny_model, sentiment_file, engine="spark")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"engine": "ray"}, "unknown --engine 'ray'; use local or spark"),
        ({"spark_master": "local[2]"}, "--spark-master names the cluster of --engine spark"),
    ],
)
def test_engine_options_are_checked_first(
    tiny_model: Path, sentiment_file: Path, tmp_path: Path, options: dict, message: str
) -> None:
    with pytest.raises(UsageError, match=message.replace("[", r"\[")):
        evaluate(tiny_model, sentiment_file, output_dir=tmp_path / "run", **options)
    assert not (tmp_path / "run").exists()


def test_malformed_parquet_predictions_are_a_results_error(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder = tmp_path / "predictions.parquet"
    folder.mkdir()
    table = pa.table({"index": [0, 1], "gold": ["a", "b"], "predicted": ["a", "c"]})
    pq.write_table(table, folder / "part-0.parquet")
    with pytest.raises(ResultsError, match="'predicted' is 'c', not one of the run's labels"):
        read_prediction_codes(tmp_path, ["a", "b"])
    codes = read_prediction_codes(tmp_path, ["a", "b", "c"])
    assert codes.index.tolist() == [0, 1] and codes.predicted.tolist() == [0, 2]
    pq.write_table(pa.table({"index": [2]}), folder / "part-1.parquet")
    with pytest.raises(ResultsError, match="part-1.parquet.*no column 'gold'"):
        read_prediction_codes(tmp_path, ["a", "b", "c"])
    with pytest.raises(ResultsError, match="no predictions file"):
        load_predictions(tmp_path / "elsewhere")


def test_probe_on_spark_matches_local(
    spark: Any, tiny_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lexicon = tmp_path / "countries.txt"
    lexicon.write_text("Japan\nBrazil\nNigeria\nFrance\n", encoding="utf-8")
    outputs = []
    for engine in ("local", "spark"):
        code, out, err = run_cli(
            capsys, "probe", "--model", str(tiny_model), "--template", "I loved {COUNTRY}.",
            "--template", "The film from {COUNTRY} was dull.", "--lexicon", f"COUNTRY={lexicon}",
            "--engine", engine, "--output-dir", str(tmp_path / engine), "--no-progress",
        )  # fmt: skip
        assert code == 0, err
        outputs.append(out.replace(str(tmp_path / engine), "RUN"))
    assert outputs[0] == outputs[1]
    assert "custom" in outputs[1]


def test_gate_says_when_a_fingerprint_is_from_an_older_cardgen() -> None:
    from cardgen.gate.compatible import check_comparable
    from cardgen.gate.runs import Run

    gold = ["a", "b", "a", "b"]
    old = results_from_predictions(gold, gold, labels=["a", "b"], fingerprint="sha256:" + "a" * 64)
    new = results_from_predictions(gold, gold, labels=["a", "b"], fingerprint="rows-sha256:" + "b" * 64)  # fmt: skip
    with pytest.raises(UsageError) as raised:
        check_comparable(Run("current", results=new), Run("baseline", results=old), allow_different_data=False)  # fmt: skip
    message = str(raised.value)
    assert "current rows-sha256:bbbbbbbbbbbb on test.jsonl, baseline sha256:aaaaaaaaaaaa" in message
    assert "baseline was fingerprinted by an older cardgen" in message
    note = check_comparable(Run("current", results=new), Run("baseline", results=new), allow_different_data=False)  # fmt: skip
    assert note is None


def test_length_histogram_gives_the_local_quartile_edges() -> None:
    """The Spark engine's quartiles come from a histogram of lengths; its edges are numpy's
    ``method="lower"`` quantiles of the rows, which the local engine uses."""
    from cardgen.analysis.slices import length_buckets

    rng = np.random.default_rng(0)
    for _ in range(300):
        lengths = rng.integers(0, rng.integers(1, 40), rng.integers(1, 80))
        edges, _, _ = length_buckets(*np.unique(lengths, return_counts=True), "tokens")
        expected = np.unique(np.quantile(lengths, [0.25, 0.5, 0.75], method="lower"))
        assert edges.tolist() == expected.tolist(), lengths.tolist()


def test_another_master_beside_a_running_session_is_refused_not_ignored(
    spark: Any, tiny_model: Path, sentiment_file: Path
) -> None:
    """Spark's getOrCreate would hand back the running session and quietly ignore the master."""
    with pytest.raises(UsageError, match=r"already runs a Spark session on local\[2\].*local\[3\]"):
        evaluate(tiny_model, sentiment_file, engine="spark", spark_master="local[3]", n_bootstrap=0)
    assert spark.sparkContext.master == "local[2]"


def test_decision_thresholds_reach_the_executors_models(spark: Any, tiny_model: Path) -> None:
    """A multi-label run's thresholds travel in the load options, so each executor's
    exact-fast model rechecks the rows near them, as the local model does."""
    from cardgen.engines.spark.classifier import SparkClassifier
    from cardgen.engines.spark.worker import LoadOptions
    from cardgen.models.base import with_thresholds

    model = SparkClassifier(LoadOptions(str(tiny_model)), spark)
    moved = with_thresholds(model, np.array([0.3, 0.7]))
    assert model.options.decision_thresholds is None
    assert moved.options.decision_thresholds == (0.3, 0.7)
    opened = moved.options.open("cpu")
    np.testing.assert_array_equal(opened.decision_thresholds, [0.3, 0.7])  # type: ignore[attr-defined]
