from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest

from cardgen.errors import ModelError, UsageError
from cardgen.models import load_model
from cardgen.models.runner import length_sorted_batches


def test_predictions_equal_a_plain_transformers_pipeline(
    tiny_model: Path, sentiment_rows: list[dict]
) -> None:
    from transformers import pipeline

    texts = [r["text"] for r in sentiment_rows] + ["short", "a much longer sentence " * 20]
    classifier = load_model(tiny_model, device="cpu")
    probs, stats = classifier.predict_scores(texts, batch_size=7)
    reference = pipeline("text-classification", model=str(tiny_model), device="cpu", top_k=None)
    expected = np.zeros_like(probs)
    for i, scores in enumerate(reference(texts, batch_size=1, truncation=True)):
        for item in scores:
            expected[i, classifier.labels.index(item["label"])] = item["score"]
    np.testing.assert_allclose(probs, expected, atol=1e-5)
    assert (probs.argmax(1) == expected.argmax(1)).all()
    assert len(set(probs.argmax(1).tolist())) == 2, "the fixture model should not predict one class"
    assert stats.tokens is not None and stats.padded_tokens >= stats.tokens


def test_auto_batches_agree_with_fixed_batches(
    tiny_model: Path, sentiment_rows: list[dict]
) -> None:
    texts = [r["text"] for r in sentiment_rows]
    classifier = load_model(tiny_model, device="cpu")
    auto, _ = classifier.predict_scores(texts)
    single, _ = classifier.predict_scores(texts, batch_size=1)
    np.testing.assert_allclose(auto, single, atol=1e-5)


def test_truncation_is_counted(tiny_model: Path) -> None:
    classifier = load_model(tiny_model, device="cpu", max_length=8)
    probs, stats = classifier.predict_scores(["short one", "this text is far too long " * 5])
    assert stats.truncated == 1 and stats.max_length == 8 and probs.shape == (2, 2)


def test_length_sorted_batches_cover_every_index_once() -> None:
    lengths = np.array([5, 50, 7, 50, 3, 20])
    batches = length_sorted_batches(lengths, max_batch=4, token_budget=100)
    flat = np.concatenate(batches)
    assert sorted(flat.tolist()) == list(range(6))
    assert lengths[flat].tolist() == sorted(lengths.tolist(), reverse=True)
    assert all(len(b) * lengths[b].max() <= 100 for b in batches)


def test_hub_id_loads_from_the_local_cache_offline(hub_cache: str) -> None:
    classifier = load_model(hub_cache, device="cpu")
    info = classifier.info()
    assert info.id == "cardgen-test/tiny"
    assert info.revision == "0123456789abcdef0123456789abcdef01234567"
    assert info.architecture == "DistilBertForSequenceClassification"


def test_info_describes_the_model(tiny_model: Path) -> None:
    info = load_model(tiny_model, device="cpu").info()
    assert info.framework == "transformers" and info.labels == ["negative", "positive"]
    assert info.weights_hash.startswith("sha256:") and info.num_parameters > 1000


def test_skops_pipeline(skops_model: Path, topic_file: Path) -> None:
    classifier = load_model(skops_model)
    assert classifier.score_kind == "probability"
    assert classifier.labels == ["Business", "Sci/Tech", "Sports", "World"]
    probs, _ = classifier.predict_scores(["the match and the striker"])
    np.testing.assert_allclose(probs.sum(), 1.0)
    assert classifier.info().architecture == "TfidfVectorizer -> LogisticRegression"


def _untrusted_pipeline(path: Path) -> Path:
    import skops.io as sio
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    pipe = make_pipeline(
        FunctionTransformer(np.char.lower), TfidfVectorizer(), LogisticRegression()
    )
    pipe.fit(np.array(["good film", "bad film", "great", "awful"]), ["pos", "neg", "pos", "neg"])
    sio.dump(pipe, path)
    return path


def test_untrusted_skops_type_is_refused_then_accepted_when_trusted(tmp_path: Path) -> None:
    path = _untrusted_pipeline(tmp_path / "untrusted.skops")
    with pytest.raises(
        ModelError, match=r"numpy.strings.lower; if you trust .* --trust numpy.strings.lower"
    ):
        load_model(path)
    assert load_model(path, trusted_types=["numpy.strings.lower"]).labels == ["neg", "pos"]


def test_pickle_needs_explicit_opt_in(tmp_path: Path) -> None:
    from sklearn.dummy import DummyClassifier

    path = tmp_path / "model.pkl"
    path.write_bytes(pickle.dumps(DummyClassifier().fit([[0], [1]], ["a", "b"])))
    with pytest.raises(ModelError, match="is a pickle.*pass --allow-pickle only if you trust"):
        load_model(path)
    assert load_model(path, allow_pickle=True).labels == ["a", "b"]


def test_decision_function_and_predict_only_estimators(tmp_path: Path) -> None:
    import skops.io as sio
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import make_pipeline
    from sklearn.svm import LinearSVC

    texts, labels = ["good film", "bad film", "great", "awful"], ["pos", "neg", "pos", "neg"]
    svc = make_pipeline(TfidfVectorizer(), LinearSVC()).fit(texts, labels)
    sio.dump(svc, tmp_path / "svc.skops")
    model = load_model(tmp_path / "svc.skops")
    assert model.score_kind == "decision"
    scores, _ = model.predict_scores(texts)
    assert [model.labels[i] for i in scores.argmax(1)] == list(svc.predict(texts))


class _PredictOnly:
    classes_ = np.array(["neg", "pos"])

    def predict(self, texts):
        return np.array(["pos" if "good" in t else "neg" for t in texts])


def test_predict_only_estimators_give_one_hot_labels() -> None:
    from cardgen.models.sklearn import SklearnClassifier

    model = SklearnClassifier(_PredictOnly(), model_id="predict-only")
    assert model.score_kind == "label"
    scores, _ = model.predict_scores(["good", "bad"])
    assert scores.tolist() == [[0.0, 1.0], [1.0, 0.0]]


def _file(path: Path, content: bytes) -> Path:
    path.write_bytes(content)
    return path


def _dir(path: Path) -> Path:
    path.mkdir()
    return path


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d: d / "missing-dir", r"model directory .*missing-dir' does not exist"),
        (lambda d: _dir(d / "empty"), r"model directory .*empty' has no config.json"),
        (lambda d: _file(d / "m.skops", b"not a zip"), r"cannot load skops file"),
        (lambda d: _file(d / "weights.bin", b"x"), r"cannot tell what kind of model"),
        (lambda d: d / "absent.skops", r"does not exist"),
    ],
)
def test_bad_models_are_clear_errors(tmp_path: Path, make, message: str) -> None:
    with pytest.raises(ModelError, match=message):
        load_model(make(tmp_path), device="cpu")


def test_corrupt_weights_are_a_clear_error(tmp_path: Path, tiny_model: Path) -> None:
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(tiny_model, broken)
    (broken / "model.safetensors").write_bytes(b"\x00" * 64)
    with pytest.raises(ModelError, match="cannot load transformers model"):
        load_model(broken, device="cpu")


def test_cuda_without_a_gpu_is_a_usage_error(tiny_model: Path) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    with pytest.raises(UsageError, match="no CUDA GPU is available; use --device cpu"):
        load_model(tiny_model, device="cuda")


def test_bfloat16_on_cpu_is_an_opt_in_that_is_recorded(
    tiny_model: Path, sentiment_rows: list[dict]
) -> None:
    texts = [r["text"] for r in sentiment_rows]
    exact, _ = load_model(tiny_model, device="cpu").predict_scores(texts)
    fast, stats = load_model(tiny_model, device="cpu", dtype="bfloat16").predict_scores(texts)
    assert stats.dtype == "bfloat16"
    np.testing.assert_allclose(fast, exact, atol=0.05)
    assert (fast.argmax(1) == exact.argmax(1)).mean() > 0.95


def test_out_of_memory_halves_the_batch_and_retries(
    tiny_model: Path, sentiment_rows: list[dict], monkeypatch: pytest.MonkeyPatch
) -> None:
    import torch

    from cardgen.models import runner

    texts = [r["text"] for r in sentiment_rows]
    classifier = load_model(tiny_model, device="cpu")
    expected, _ = classifier.predict_scores(texts, batch_size=16)
    forward = runner._forward
    sizes = []

    def small_memory(model, tokenizer, encoded, index, *args):
        sizes.append(len(index))
        if len(index) > 4:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory")
        return forward(model, tokenizer, encoded, index, *args)

    monkeypatch.setattr(runner, "_forward", small_memory)
    probs, stats = classifier.predict_scores(texts, batch_size=16)
    np.testing.assert_allclose(probs, expected, atol=1e-5)
    assert sizes[:3] == [16, 8, 4] and stats.batch_size == 4


def test_half_precision_checkpoint_runs_in_float32_on_cpu(tiny_model: Path, tmp_path: Path) -> None:
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    half = tmp_path / "half"
    AutoModelForSequenceClassification.from_pretrained(
        tiny_model, dtype=torch.float16
    ).save_pretrained(half)
    AutoTokenizer.from_pretrained(tiny_model).save_pretrained(half)
    classifier = load_model(half, device="cpu")
    assert next(classifier.model.parameters()).dtype == torch.float32
    _, stats = classifier.predict_scores(["the film was great."])
    assert stats.dtype == "float32"
