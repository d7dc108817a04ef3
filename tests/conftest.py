"""Tiny local models and datasets, built once per session; nothing is downloaded."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("MPLBACKEND", "Agg")

from cardgen.demo.synthetic import sentiment_corpus, topic_corpus, train_tiny_distilbert  # noqa: E402
from cardgen.errors import UsageError  # noqa: E402

SENTIMENT = ["negative", "positive"]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden",
        action="store_true",
        help="rewrite the golden sample cards in sample_cards/ instead of comparing with them",
    )


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Run ``cardgen`` in-process: exit code, stdout, stderr."""
    from cardgen.cli import main

    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-layer DistilBERT trained for a few steps on synthetic sentiment sentences."""
    out = tmp_path_factory.mktemp("models") / "tiny-sentiment"
    return train_tiny_distilbert(sentiment_corpus(400, seed=11), SENTIMENT, out, dim=32, epochs=2)


@pytest.fixture(scope="session")
def generic_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same kind of model with generic LABEL_0 / LABEL_1 names."""
    out = tmp_path_factory.mktemp("models") / "tiny-generic"
    return train_tiny_distilbert(
        sentiment_corpus(400, seed=11),
        SENTIMENT,
        out,
        dim=32,
        epochs=2,
        id2label={0: "LABEL_0", 1: "LABEL_1"},
    )


@pytest.fixture(scope="session")
def sentiment_rows() -> list[dict]:
    return sentiment_corpus(120, seed=5)


@pytest.fixture(scope="session")
def sentiment_file(tmp_path_factory: pytest.TempPathFactory, sentiment_rows: list[dict]) -> Path:
    return write_jsonl(tmp_path_factory.mktemp("data") / "sentiment.jsonl", sentiment_rows)


@pytest.fixture(scope="session")
def skops_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """TF-IDF + logistic regression on 4 synthetic topics, saved with skops."""
    import skops.io as sio
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    rows = topic_corpus(400, seed=3)
    pipeline = make_pipeline(TfidfVectorizer(), LogisticRegression(max_iter=500))
    pipeline.fit([r["text"] for r in rows], [r["label"] for r in rows])
    path = tmp_path_factory.mktemp("models") / "topics.skops"
    sio.dump(pipeline, path)
    return path


@pytest.fixture(scope="session")
def topic_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_jsonl(tmp_path_factory.mktemp("data") / "topics.jsonl", topic_corpus(80, seed=9))


@pytest.fixture(scope="session")
def max_length_runs(
    tiny_model: Path, sentiment_file: Path, tmp_path_factory: pytest.TempPathFactory
) -> list[Path]:
    """Run directories of ``tiny_model`` on ``sentiment_file`` that differ only in
    ``--max-length``: the model's own, then 4, 6 and 8 tokens (compare and gate tests)."""
    import cardgen

    out = tmp_path_factory.mktemp("max-length-runs")
    lengths = (None, 4, 6, 8)
    for max_length in lengths:
        cardgen.evaluate(
            tiny_model,
            sentiment_file,
            output_dir=out / str(max_length),
            device="cpu",
            n_bootstrap=50,
            max_length=max_length,
        )
    return [out / str(max_length) for max_length in lengths]


@pytest.fixture
def hub_cache(tmp_path: Path, tiny_model: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """``tiny_model`` laid out as the hub cache entry of ``cardgen-test/tiny`` at one commit."""
    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / "hub" / "models--cardgen-test--tiny"
    shutil.copytree(tiny_model, repo / "snapshots" / commit)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    import huggingface_hub.constants as constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    return "cardgen-test/tiny"


def make_results(
    labels: list[str] | None = None,
    *,
    seed: int = 0,
    n: int = 200,
    framework: str = "transformers",
    model_id: str = "cardgen-test/tiny-sentiment",
    probes: dict | None = None,
):
    """Results of a made-up run (seeded random predictions scored by cardgen.tasks.metrics)."""
    import numpy as np

    from cardgen.results.schema import DatasetInfo, EvalResults, LabelMapping, ModelInfo, Timing
    from cardgen.tasks.metrics import compute_metrics

    labels = labels or list(SENTIMENT)
    rng = np.random.default_rng(seed)
    y_true = rng.integers(0, len(labels), n)
    scores = rng.dirichlet(np.ones(len(labels)), n)
    scores[np.arange(n), y_true] += 1.0
    scores /= scores.sum(axis=1, keepdims=True)
    report = compute_metrics(y_true, scores.argmax(axis=1), labels, scores=scores, n_bootstrap=200)
    return EvalResults(
        model=ModelInfo(
            id=model_id,
            framework=framework,
            labels=labels,
            revision="0123abc" if framework == "transformers" else None,
            weights_hash="sha256:feed",
            architecture="DistilBertForSequenceClassification",
            num_parameters=12345,
            max_length=128,
        ),
        dataset=DatasetInfo(
            source="hub:glue",
            split="validation",
            num_rows=n,
            fingerprint="sha256:beef",
            text_column="sentence",
            label_column="label",
            labels=labels,
            name="glue",
            config="sst2",
        ),
        label_mapping=LabelMapping("name", {label: label for label in labels}),
        labels=labels,
        metrics=report.metrics,
        per_class=report.per_class,
        confusion_matrix=report.confusion_matrix,
        calibration=report.calibration,
        timing=Timing(
            device="cpu",
            dtype="float32",
            batch_size=64,
            wall_seconds=0.5,
            examples_per_second=400.0,
            tokens_per_second=5000.0,
            padding_ratio=0.1,
            truncated=2,
            max_length=128,
            hardware="Test CPU, 2 CPU cores",
        ),
        environment={"python": "3.11.0", "cardgen": "0.1.0", "transformers": "4.99.0"},
        seed=0,
        created_at="2026-01-01T00:00:00+00:00",
        cardgen_version="0.1.0",
        probes=probes or {},
        files={"confusion_matrix": "confusion_matrix.png", "reliability": "reliability.png"},
    )


def save_run(results, directory: Path) -> Path:
    """Write ``results.json`` and a tiny PNG for every image the results list."""
    from PIL import Image

    directory.mkdir(parents=True, exist_ok=True)
    results.save(directory)
    images = [f for f in results.files.values() if f.endswith(".png")]
    images += [p.plot for p in results.probes.values() if p.plot]
    for name in images:
        (directory / name).parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (2, 2), "white").save(directory / name)
    return directory


@pytest.fixture
def card_run(tmp_path: Path) -> Path:
    """A run directory of made-up binary sentiment results, with its plots."""
    return save_run(make_results(), tmp_path / "run")


def results_from_predictions(
    gold: list[str],
    predicted: list[str],
    *,
    labels: list[str],
    fingerprint: str = "sha256:" + "a" * 64,
    probes: dict | None = None,
    n_bootstrap: int = 50,
):
    """EvalResults computed from label lists, as `cardgen evaluate` would write them."""
    import numpy as np

    from cardgen.results.schema import DatasetInfo, EvalResults, LabelMapping, ModelInfo
    from cardgen.tasks.metrics import compute_metrics

    code = {label: i for i, label in enumerate(labels)}
    y_true = np.array([code[g] for g in gold])
    y_pred = np.array([code[p] for p in predicted])
    scores = np.full((len(gold), len(labels)), 0.1 / max(len(labels) - 1, 1))
    scores[np.arange(len(gold)), y_pred] = 0.9
    report = compute_metrics(y_true, y_pred, labels, scores=scores, n_bootstrap=n_bootstrap)
    return EvalResults(
        model=ModelInfo(id="model", framework="test", labels=labels),
        dataset=DatasetInfo(
            source="test.jsonl",
            split=None,
            num_rows=len(gold),
            fingerprint=fingerprint,
            text_column="text",
            label_column="label",
            labels=labels,
        ),
        label_mapping=LabelMapping("name", {label: label for label in labels}),
        labels=labels,
        metrics=report.metrics,
        per_class=report.per_class,
        confusion_matrix=report.confusion_matrix,
        calibration=report.calibration,
        timing=None,
        environment={},
        seed=0,
        created_at="2024-01-01T00:00:00+00:00",
        cardgen_version="0.1.0",
        probes=probes or {},
    )


def _spark_missing() -> str | None:
    """Why Spark cannot run here, or None."""
    try:
        from cardgen.engines.spark.session import java_version, require_pyspark

        require_pyspark()
        java_version()
    except UsageError as exc:
        return str(exc)
    return None


@pytest.fixture(scope="session")
def spark_available() -> None:
    """Skips with the reason when Spark cannot run here; fails instead under
    CARDGEN_REQUIRE_SPARK=1 (as CI sets)."""
    reason = _spark_missing()
    if reason is not None:
        if os.environ.get("CARDGEN_REQUIRE_SPARK") == "1":
            pytest.fail(f"CARDGEN_REQUIRE_SPARK=1, but Spark cannot run: {reason}")
        pytest.skip(reason)


@pytest.fixture(scope="session")
def spark(spark_available: None) -> Any:
    from cardgen.engines.spark.session import spark_session

    session = spark_session("local[2]")
    session.conf.set("spark.sql.shuffle.partitions", "2")
    yield session
    session.stop()
