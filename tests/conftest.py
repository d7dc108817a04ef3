"""Tiny local models and datasets, built once per session; nothing is downloaded."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("MPLBACKEND", "Agg")

from cardgen._synthetic import sentiment_corpus, topic_corpus, train_tiny_distilbert  # noqa: E402

SENTIMENT = ["negative", "positive"]


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
