"""Hostile models: every bad model string, directory, config, tokenizer, weights or estimator
stops with a ModelError that says what is wrong (the CLI: exit 2 and one ``error:`` line)."""

from __future__ import annotations

import json
import pickle
import shutil
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import run_cli

from cardgen.errors import ModelError
from cardgen.models import load_model
from cardgen.models.sklearn import SklearnClassifier

# --- model strings that are mistyped paths or not hub ids -----------------------------------


@pytest.mark.parametrize(
    ("model", "message"),
    [
        ("./my-modle", r"model directory '\./my-modle' does not exist"),
        ("../no-such-model", r"model directory '\.\./no-such-model' does not exist"),
        ("runs/x/model", r"model directory 'runs/x/model' does not exist"),
        ("runs/model", r"model directory 'runs/model' does not exist"),  # runs/ exists
        ("~/cardgen-no-such-model", r"model directory '~/cardgen-no-such-model' does not exist"),
        ("C:\\models\\m", r"model directory 'C:\\\\models\\\\m' does not exist"),
        ("my model dir", r"model directory 'my model dir' does not exist"),
        ("org/na me", r"model directory 'org/na me' does not exist"),
        ("org//name", r"model directory 'org//name' does not exist"),
        ("/no/such/model/dir", r"model directory '/no/such/model/dir' does not exist"),
        ("models/", r"model directory 'models/' does not exist"),
        (".hidden", r"model directory '\.hidden' does not exist"),
        ("a:b", r"'a:b' is not a local directory and not a hub id"),
        ("x" * 200, r"is not a local directory and not a hub id"),
        ("org/-bad-", r"'org/-bad-' is not a local directory and not a hub id"),
        ("org/name!", r"is not a local directory and not a hub id"),
        ("", "no model given"),
        ("   ", "no model given"),
        ("bad\x00name", "is not a usable path or hub id"),
        ("a" * 300, "is not a usable path or hub id"),
        ("d/" * 3000, "is not a usable path or hub id"),
    ],
)
def test_model_strings_that_cannot_name_a_model(
    model: str, message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "runs").mkdir()
    with pytest.raises(ModelError, match=message):
        load_model(model, device="cpu")


def test_a_near_miss_is_suggested(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "my-model").mkdir()
    with pytest.raises(ModelError, match=r"does not exist; did you mean my-model\?"):
        load_model("./my-modle")


def test_non_string_model_is_refused() -> None:
    with pytest.raises(ModelError, match="got a int"):
        load_model(3)  # type: ignore[arg-type]


# --- model directories and config.json ------------------------------------------------------


def _copy(tiny_model: Path, tmp_path: Path) -> Path:
    target = tmp_path / "model"
    shutil.copytree(tiny_model, target)
    return target


def _config(change: Callable[[dict[str, Any]], Any]) -> Callable[[Path], None]:
    """A mutation of config.json: ``change`` edits the dict in place or returns a new value."""

    def mutate(directory: Path) -> None:
        path = directory / "config.json"
        data = json.loads(path.read_text())
        result = change(data)
        value = data if result is None else result
        path.write_text(value if isinstance(value, str) else json.dumps(value))

    return mutate


def _without_labels(data: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k not in ("id2label", "label2id")} | extra


def _remove(*names: str) -> Callable[[Path], None]:
    def mutate(directory: Path) -> None:
        for name in names:
            (directory / name).unlink()

    return mutate


def _write(name: str, content: bytes | str) -> Callable[[Path], None]:
    def mutate(directory: Path) -> None:
        path = directory / name
        path.write_bytes(content if isinstance(content, bytes) else content.encode())

    return mutate


def _deep(depth: int) -> str:
    return '{"model_type": "distilbert", "x": ' + "[" * depth + "]" * depth + "}"


def _many_labels(n: int) -> Callable[[Path], None]:
    return _config(lambda c: c.update(id2label={str(i): f"l{i}" for i in range(n)}, label2id={}))


def _mkdir_config(directory: Path) -> None:
    (directory / "config.json").unlink()
    (directory / "config.json").mkdir()


DIRECTORY_CASES = [
    (_remove("config.json"), "has no config.json; pass the directory that"),
    (_remove("model.safetensors"), "has config.json but no weights"),
    (_config(lambda c: "{not json"), r"config.json .* is not valid JSON"),
    (_config(lambda c: [1, 2]), r"config.json .* must be a JSON object, found list"),
    (_config(lambda c: "null"), r"must be a JSON object, found NoneType"),
    (_config(lambda c: _deep(200)), "nests deeper than"),
    (_write("config.json", b"\xff\xfe\x00bad"), r"is not utf-8 text"),
    (_mkdir_config, r"has no config.json"),
    (_config(lambda c: _without_labels(c, num_labels=10**8)), "num_labels is 100,000,000"),
    (_config(lambda c: _without_labels(c, num_labels=1)), "num_labels is 1; cardgen evaluates"),
    (_config(lambda c: _without_labels(c, num_labels=-3)), "num_labels is -3"),
    (_config(lambda c: _without_labels(c, num_labels="two")), "num_labels must be a whole"),
    (_config(lambda c: _without_labels(c, num_labels=True)), "num_labels must be a whole"),
    (_config(lambda c: _without_labels(c, num_labels=2.5)), "num_labels must be a whole"),
    (
        _config(lambda c: c.update(id2label={"0": "a", "1": "b", "2": "c"}, num_labels=2)),
        "num_labels is 2 but id2label names 3 labels",
    ),
    (_many_labels(20_000), "id2label must be a JSON object of at most 10,000 entries"),
    (_config(lambda c: c.update(id2label={"0": "a", "5": "b"})), r"keys must be the output"),
    (_config(lambda c: c.update(id2label={"x": "a", "y": "b"})), r"found 'x', 'y'"),
    (_config(lambda c: c.update(id2label={"00": "a", "1": "b"})), r"found '00', '1'"),
    (_config(lambda c: c.update(id2label=["a", "b"])), "id2label must be a JSON object"),
    (_config(lambda c: c.update(id2label="ab")), "id2label must be a JSON object"),
    (_config(lambda c: c.update(id2label={"0": "a"})), r"id2label has 1 label\(s\)"),
    (_config(lambda c: c.update(id2label={"0": "a", "1": "a"})), "are both called 'a'"),
    (_config(lambda c: c.update(id2label={"0": "Pos", "1": "pos"})), "are both called 'pos'"),
    (_config(lambda c: c.update(id2label={"0": "a", "1": ""})), "label 1 is ''"),
    (_config(lambda c: c.update(id2label={"0": "a", "1": None})), "label 1 is None"),
    (_config(lambda c: c.update(id2label={"0": "a", "1": ["b"]})), r"label 1 is \['b'\]"),
    (_config(lambda c: c.update(id2label={"0": "a", "1": "b\nc"})), "without control"),
    (_config(lambda c: c.update(id2label={"0": "a", "1": "b" * 10**5})), "characters\\)"),
    (_config(lambda c: c.update(label2id=[1, 2])), "label2id must be a JSON object"),
    (_config(lambda c: c.update(model_type=5)), "model_type must be a name such as 'bert'"),
    (
        _config(lambda c: c.update(model_type="evilnet", auto_map={"AutoModel": "m.Evil"})),
        "model_type 'evilnet' needs the model's own Python code .* --trust-remote-code",
    ),
    (_config(lambda c: c.update(model_type="evilnet")), "'evilnet' is not one that transformers"),
    (_config(lambda c: c.update(n_layers=10**7)), "n_layers is 10000000, outside 0..1,000"),
    (_config(lambda c: c.update(num_hidden_layers=-1)), "num_hidden_layers is -1"),
    (_config(lambda c: c.update(text_config={"num_layers": 10**9})), "num_layers is 1000000000"),
    (_config(lambda c: c.update(dim=10**6)), "cannot load transformers model"),
    (_config(lambda c: c.update(vocab_size=10**10)), "cannot load transformers model"),
    (_config(lambda c: c.update(max_position_embeddings="x")), "is not one transformers accepts"),
    (_write("model.safetensors", b"\x00" * 64), "cannot load transformers model"),
    (_write("model.safetensors", b""), "cannot load transformers model"),
    (_write("model.safetensors", b"\xff" * 8 + b"{}"), "cannot load transformers model"),
    (_write("tokenizer_config.json", "[1]"), "tokenizer_config.json .* must be a JSON object"),
    (_write("tokenizer_config.json", "{bad"), "tokenizer_config.json .* is not valid JSON"),
]


@pytest.mark.parametrize(("mutate", "message"), DIRECTORY_CASES)
def test_hostile_model_directories(
    tiny_model: Path, tmp_path: Path, mutate: Callable[[Path], None], message: str
) -> None:
    directory = _copy(tiny_model, tmp_path)
    mutate(directory)
    with pytest.raises(ModelError, match=message):
        load_model(directory, device="cpu")


def test_a_directory_of_several_skops_files_says_to_pick_one(tmp_path: Path) -> None:
    (tmp_path / "a.skops").write_bytes(b"x")
    (tmp_path / "b.skops").write_bytes(b"x")
    with pytest.raises(ModelError, match="holds 2 .skops files, so pass one of them"):
        load_model(tmp_path)


@pytest.mark.parametrize(
    ("names", "shown"),
    [
        (["model.pkl"], "'model.pkl'"),
        (["clf.joblib", "notes.txt"], "'clf.joblib'"),
        (["b.pickle", "a.pkl"], "'a.pkl', 'b.pickle'"),
    ],
)
@pytest.mark.parametrize("allow_pickle", [False, True])
def test_a_directory_of_a_pickle_says_to_pass_the_file(
    tmp_path: Path, names: list[str], shown: str, allow_pickle: bool
) -> None:
    for name in names:
        (tmp_path / name).write_bytes(pickle.dumps({"not": "a model"}))
    with pytest.raises(ModelError, match=f"it holds {shown}: pass that file, with --allow-pickle"):
        load_model(tmp_path, allow_pickle=allow_pickle)  # was: "pass ... save_pretrained() wrote"


def test_a_checkpoint_without_a_classifier_head_is_not_given_random_weights(
    tiny_model: Path, tmp_path: Path
) -> None:
    from transformers import AutoConfig, AutoTokenizer, DistilBertForMaskedLM

    masked = tmp_path / "mlm"
    DistilBertForMaskedLM(AutoConfig.from_pretrained(tiny_model)).save_pretrained(masked)
    AutoTokenizer.from_pretrained(tiny_model).save_pretrained(masked)
    with pytest.raises(ModelError, match=r"has no weights for classifier.bias, .* random"):
        load_model(masked, device="cpu")


# --- tokenizers that do not fit the model ---------------------------------------------------


def _tokenizer_of(texts: list[str], vocab_size: int = 600) -> Callable[[Path], None]:
    def mutate(directory: Path) -> None:
        from cardgen.demo.synthetic import build_tokenizer

        for name in ("tokenizer.json", "tokenizer_config.json"):
            (directory / name).unlink()
        build_tokenizer(texts, vocab_size=vocab_size).save_pretrained(directory)

    return mutate


def _vocab(*tokens: str) -> Callable[[Path], None]:
    def mutate(directory: Path) -> None:
        for name in ("tokenizer.json", "tokenizer_config.json"):
            (directory / name).unlink()
        specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
        (directory / "vocab.txt").write_text("\n".join(specials + list(tokens)) + "\n")

    return mutate


def _topics(n: int, topics: int) -> list[str]:
    from cardgen.demo.synthetic import topic_corpus

    labels = [f"t{i}" for i in range(topics)]
    return [row["text"] for row in topic_corpus(n, labels, seed=3)]


TOKENIZER_CASES = [
    (_remove("tokenizer.json", "tokenizer_config.json"), "has no tokenizer files"),
    (_remove("tokenizer.json"), "cannot load the tokenizer of model .* copy the tokenizer"),
    (_write("tokenizer.json", "{garbage"), "cannot load the tokenizer of model"),
    (_write("tokenizer.json", "[]"), "cannot load the tokenizer of model"),
    (_vocab(), "has 5 tokens but the model 290 embedding rows"),
    (_vocab(*"abcdefghijklmnopqrstuvwxyz"), "has 31 tokens but the model 290 embedding rows"),
    (_vocab(*[f"zq{i}" for i in range(285)]), "turns common words .* into unknown tokens only"),
    (_tokenizer_of(_topics(2000, 80), 2000), "has 632 tokens but the model only 290 embedding"),
    (_tokenizer_of(_topics(400, 4)), r"has \d+ tokens but the model 290 embedding rows"),
]


@pytest.mark.parametrize(("mutate", "message"), TOKENIZER_CASES)
def test_a_tokenizer_that_does_not_fit_the_model_is_refused(
    tiny_model: Path, tmp_path: Path, mutate: Callable[[Path], None], message: str
) -> None:
    directory = _copy(tiny_model, tmp_path)
    mutate(directory)
    with pytest.raises(ModelError, match=message) as caught:
        load_model(directory, device="cpu")
    assert "copy the tokenizer files of the base model" in str(caught.value) or (
        "no tokenizer files" in message
    )


def test_the_fit_checks_accept_the_models_own_tokenizer(tiny_model: Path, tmp_path: Path) -> None:
    directory = _copy(tiny_model, tmp_path)
    (directory / "tokenizer_config.json").unlink()  # tokenizer.json alone is enough
    assert load_model(directory, device="cpu").labels == ["negative", "positive"]


# --- weights that give NaN or infinite scores -----------------------------------------------


def _poisoned(tiny_model: Path, tmp_path: Path, key: str, rows: Any, value: float) -> Path:
    from safetensors.torch import load_file, save_file

    directory = _copy(tiny_model, tmp_path)
    weights = load_file(directory / "model.safetensors")
    weights[key][rows] = value
    save_file(weights, directory / "model.safetensors", metadata={"format": "pt"})
    return directory


@pytest.mark.parametrize(
    ("key", "rows", "value", "message"),
    [
        ("classifier.weight", 0, float("nan"), "NaN or infinite scores for 3 of 3 texts"),
        ("classifier.bias", 1, float("inf"), "NaN or infinite scores for 3 of 3 texts"),
        ("pre_classifier.weight", slice(None), float("-inf"), "for 3 of 3 texts"),
        ("distilbert.embeddings.LayerNorm.weight", 3, float("nan"), "for 3 of 3 texts"),
    ],
)
def test_non_finite_weights_stop_prediction(
    tiny_model: Path, tmp_path: Path, key: str, rows: Any, value: float, message: str
) -> None:
    model = load_model(_poisoned(tiny_model, tmp_path, key, rows, value), device="cpu")
    with pytest.raises(ModelError, match=f"{message} .* weights are likely corrupt"):
        model.predict_scores(["the film was great.", "awful.", "the plot was dull."])


def test_one_poisoned_word_is_counted(tiny_model: Path, tmp_path: Path) -> None:
    from transformers import AutoTokenizer

    word = AutoTokenizer.from_pretrained(tiny_model).convert_tokens_to_ids("movie")
    key = "distilbert.embeddings.word_embeddings.weight"
    model = load_model(_poisoned(tiny_model, tmp_path, key, word, float("nan")), device="cpu")
    texts = ["the film was great.", "this movie was awful.", "dull plot."]
    with pytest.raises(ModelError, match=r"for 1 of 3 texts \(the first is text 2\)"):
        model.predict_scores(texts)


def test_cli_evaluate_with_nan_weights_exits_2(
    capsys: pytest.CaptureFixture[str], tiny_model: Path, tmp_path: Path, sentiment_file: Path
) -> None:
    directory = _poisoned(tiny_model, tmp_path, "classifier.bias", 0, float("nan"))
    code, out, err = run_cli(
        capsys,
        "evaluate",
        "--model",
        str(directory),
        "--dataset",
        str(sentiment_file),
        "--output-dir",
        str(tmp_path / "run"),
        "--no-progress",
    )
    assert code == 2, err
    assert err.count("error:") == 1 and "weights are likely corrupt" in err
    assert "Traceback" not in out + err


# --- scikit-learn estimators -----------------------------------------------------------------


class Stub:
    """An estimator whose every method is given: the hostile shapes cardgen must refuse."""

    def __init__(self, classes: Any = ("neg", "pos"), **methods: Callable[[list[str]], Any]):
        self.classes_ = classes
        self.predict = methods.pop("predict", lambda texts: np.array(["pos"] * len(texts)))
        for name, method in methods.items():
            setattr(self, name, method)


def _proba(make: Callable[[int], Any]) -> Stub:
    return Stub(predict_proba=lambda texts: make(len(texts)))


def _raises(exc: Exception) -> Callable[[list[str]], Any]:
    def method(texts: list[str]) -> Any:
        raise exc

    return method


def _half(n: int) -> np.ndarray:
    return np.full((n, 2), 0.5)


ESTIMATOR_CASES = [
    (Stub(classes=("a", "a")), "stub.skops: class 0 and class 1 are both called 'a'"),
    (Stub(classes=[1, "1"]), "are both called '1'"),
    (Stub(classes=np.arange(10**6)), "classes_ holds 1,000,000 labels"),
    (Stub(classes=("only",)), "classes_ holds 1 labels"),
    (Stub(classes=()), "classes_ holds 0 labels"),
    (Stub(classes=np.array([["a", "b"], ["c", "d"]])), r"classes_ has shape \(2, 2\)"),
    (Stub(classes=[np.array(["a", "b"]), np.array(["c", "d", "e"])]), "not one list of labels"),
    (Stub(classes=("ok", "bad\nlabel")), "without control characters"),
    (Stub(classes=("ok", "x" * 10_000)), "class 1 is 'xxx"),
    (_proba(lambda n: np.full((n, 2), np.nan)), "NaN or infinite scores for 2 of 2 texts"),
    (_proba(lambda n: np.array([[0.5, 0.5]] * (n - 1) + [[np.inf, 0]])), "for 1 of 2 texts"),
    (_proba(lambda n: np.full((n, 3), 1 / 3)), r"shape \(2, 3\) for 2 texts and 2 classes"),
    (_proba(lambda n: np.full((n + 1, 2), 0.5)), r"shape \(3, 2\) for 2 texts"),
    (_proba(lambda n: np.full(n, 0.5)), r"shape \(2,\) for 2 texts"),
    (_proba(lambda n: np.full((n, 2, 1), 0.5)), r"shape \(2, 2, 1\)"),
    (_proba(lambda n: [["a", "b"]] * n), "predict_proba failed on raw texts"),
    (_proba(lambda n: None), r"shape \(\) for 2 texts"),
    (_proba(lambda n: np.array([[-0.5, 1.5]] * n)), "values outside 0..1"),
    (Stub(predict_proba=_raises(RuntimeError("boom"))), r"RuntimeError: 'boom'"),
    (Stub(predict_proba=_raises(ZeroDivisionError())), r"ZeroDivisionError"),
    (
        Stub(classes=("a", "b", "c"), decision_function=lambda t: np.zeros(len(t))),
        r"decision_function returned scores of shape \(2,\) for 2 texts and 3 classes",
    ),
    (Stub(decision_function=lambda t: np.full((len(t), 2), np.nan)), "NaN or infinite"),
    (Stub(predict=lambda t: np.array(["maybe"] * len(t))), "predict returned label 'maybe'"),
    (Stub(predict=lambda t: np.array(["pos"])), "predict returned 1 labels for 2 texts"),
    (Stub(predict=_raises(TypeError("no"))), "predict failed on raw texts"),
]


@pytest.mark.parametrize(("estimator", "message"), ESTIMATOR_CASES)
def test_hostile_estimators_are_refused(estimator: Any, message: str) -> None:
    with pytest.raises(ModelError, match=message):
        model = SklearnClassifier(estimator, model_id="stub.skops")
        model.predict_scores(["the movie was good", "the food was bad"])


def test_non_finite_scores_are_counted_over_all_chunks() -> None:
    def proba(texts: list[str]) -> np.ndarray:
        return np.array([[np.nan if t in "bd" else 0.5, 0.5] for t in texts])

    model = SklearnClassifier(Stub(predict_proba=proba), model_id="m")
    with pytest.raises(ModelError, match=r"for 2 of 4 texts \(the first is text 2\)"):
        model.predict_scores(["a", "b", "c", "d"], batch_size=1)


def test_estimators_without_classes_or_predict_are_refused() -> None:
    class NoClasses:
        def predict(self, texts: list[str]) -> list[str]:
            return list(texts)

    class NotCallable:
        classes_ = ("a", "b")
        predict = 5

    class RaisingProperty:
        predict = NoClasses.predict

        @property
        def classes_(self) -> list[str]:
            raise ValueError("not fitted")

    for estimator in (NoClasses(), NotCallable(), RaisingProperty(), {"a": 1}, None):
        with pytest.raises(ModelError, match="not a fitted classifier"):
            SklearnClassifier(estimator, model_id="m.skops")


def test_binary_one_dimensional_decision_function_is_valid() -> None:
    model = SklearnClassifier(
        Stub(decision_function=lambda t: np.array([2.0 if "good" in x else -2.0 for x in t])),
        model_id="svc",
    )
    scores, _ = model.predict_scores(["good", "bad"])
    assert model.score_kind == "decision" and scores.argmax(1).tolist() == [1, 0]


def _numeric_logistic_regression() -> Any:
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(0)
    return LogisticRegression().fit(rng.random((20, 3)), ["a", "b"] * 10)


def test_an_estimator_for_numeric_features_is_refused_at_load(tmp_path: Path) -> None:
    import skops.io as sio

    path = tmp_path / "numeric.skops"
    sio.dump(_numeric_logistic_regression(), path)
    with pytest.raises(
        ModelError,
        match=r"does not take raw text \(it expects 3 numeric features; .*\); pass a Pipeline "
        "that starts with a text vectorizer",
    ):
        load_model(path)


def test_a_fitted_vectorizer_alone_is_not_a_classifier(tmp_path: Path) -> None:
    import skops.io as sio
    from sklearn.feature_extraction.text import TfidfVectorizer

    path = tmp_path / "vectorizer.skops"
    sio.dump(TfidfVectorizer().fit(["good film", "bad film"]), path)
    with pytest.raises(ModelError, match="holds a TfidfVectorizer, not a fitted classifier"):
        load_model(path)


def _zip(entries: dict[str, bytes], compression: int = zipfile.ZIP_STORED) -> bytes:
    import io

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=compression) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "not a complete zip archive"),
        (b"not a zip", "not a complete zip archive"),
        (b"PK\x03\x04" + b"\x00" * 100, "not a complete zip archive"),
        (_zip({"other.txt": b"hi"}), "cannot load skops file"),
        (_zip({"schema.json": b"{bad json"}), "cannot load skops file"),
        (_zip({"schema.json": b"[1, 2]"}), "cannot load skops file"),
        (_zip({"schema.json": b'{"__class__": "x", "__module__": "os"}'}), "cannot load skops"),
    ],
)
def test_broken_skops_files_are_refused(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "model.skops"
    path.write_bytes(content)
    with pytest.raises(ModelError, match=message):
        load_model(path)


def test_truncated_skops_file_is_refused(skops_model: Path, tmp_path: Path) -> None:
    data = skops_model.read_bytes()
    for cut in (len(data) // 2, len(data) - 10, 30):
        path = tmp_path / f"cut{cut}.skops"
        path.write_bytes(data[:cut])
        with pytest.raises(ModelError, match="cannot load skops file"):
            load_model(path)


def test_a_zip_bomb_is_refused_before_skops_reads_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cardgen.models import sklearn

    monkeypatch.setattr(sklearn, "MAX_UNPACKED", 2**16)
    path = tmp_path / "bomb.skops"
    path.write_bytes(_zip({"schema.json": b"0" * 2**22}, zipfile.ZIP_DEFLATED))
    with pytest.raises(ModelError, match=r"would unpack to 4,194,304 bytes from .* limits"):
        load_model(path)


def test_pickles_stay_refused_without_opt_in_and_corrupt_ones_are_clear(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, sentiment_file: Path
) -> None:
    good = tmp_path / "model.joblib"
    good.write_bytes(pickle.dumps(_numeric_logistic_regression()))
    code, out, err = run_cli(
        capsys, "evaluate", "--model", str(good), "--dataset", str(sentiment_file),
        "--output-dir", str(tmp_path / "run"), "--no-progress",
    )  # fmt: skip
    assert code == 2 and err.count("error:") == 1 and "pass --allow-pickle only if" in err
    bad = tmp_path / "bad.pkl"
    bad.write_bytes(b"\x80\x04not a pickle")
    with pytest.raises(ModelError, match="cannot load pickle"):
        load_model(bad, allow_pickle=True)
    with pytest.raises(ModelError, match="does not take raw text"):
        load_model(good, allow_pickle=True)


# --- the command line -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "message"),
    [
        ("./my-modle", "model directory './my-modle' does not exist"),
        ("runs/x/model", "model directory 'runs/x/model' does not exist"),
        ("a b/c", "does not exist"),
        ("bad\x01id!", "is not a local directory and not a hub id"),
        ("missing.skops", "model file 'missing.skops' does not exist"),
    ],
)
def test_cli_bad_model_strings_exit_2_with_one_line(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    model: str,
    message: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, err = run_cli(capsys, "probe", "--model", model, "--no-progress")
    assert code == 2, err
    assert err.count("error:") == 1 and message in err
    assert "Traceback" not in out + err and "Repo id" not in err


# --- hub ids (offline, from a local cache) ----------------------------------------------------


def test_a_hub_id_missing_from_the_cache_is_a_model_error(hub_cache: str) -> None:
    with pytest.raises(ModelError, match="cannot load transformers model 'cardgen-test/absent'"):
        load_model("cardgen-test/absent", device="cpu")


def _snapshot(tmp_path: Path) -> Path:
    return next((tmp_path / "hub" / "models--cardgen-test--tiny" / "snapshots").iterdir())


def test_a_hub_config_is_checked_like_a_local_one(hub_cache: str, tmp_path: Path) -> None:
    config = _snapshot(tmp_path) / "config.json"
    data = json.loads(config.read_text())
    config.write_text(json.dumps(data | {"id2label": {"0": "a", "1": "a"}}))
    with pytest.raises(
        ModelError, match="config.json of model 'cardgen-test/tiny': label 0 and label 1 are both"
    ):
        load_model(hub_cache, device="cpu")


def test_a_hub_model_with_a_foreign_tokenizer_is_refused(hub_cache: str, tmp_path: Path) -> None:
    _vocab()(_snapshot(tmp_path))
    with pytest.raises(ModelError, match="290 embedding rows: .* hub repository's tokenizer"):
        load_model(hub_cache, device="cpu")


def test_a_weights_file_names_its_directory(tiny_model: Path) -> None:
    with pytest.raises(ModelError, match=r"pass a transformers model directory \(for this one"):
        load_model(tiny_model / "config.json")


# --- --max-length past what the model's table of positions holds ----------------------------


def _long_text_data(tmp_path: Path) -> Path:
    rows = [{"text": "the film was great. " * 60, "label": "positive"}]  # ~300 tokens
    rows += [{"text": "awful.", "label": "negative"}, {"text": "great.", "label": "positive"}]
    path = tmp_path / "long.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


@pytest.mark.parametrize("max_length", [129, 512, 1_000_000])
def test_a_max_length_the_model_cannot_take_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], tiny_model: Path, tmp_path: Path, max_length: int
) -> None:
    code, out, err = run_cli(
        capsys,
        "evaluate",
        "--model",
        str(tiny_model),
        "--dataset",
        str(_long_text_data(tmp_path)),
        "--max-length",
        str(max_length),
        "--output-dir",
        str(tmp_path / "run"),
        "--bootstrap",
        "0",
        "--no-progress",
    )
    assert code == 2, err  # was 70: the model's size mismatch on the first long text
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert f"--max-length {max_length} is more than model" in err
    assert "pass --max-length 128 or less" in err and not (tmp_path / "run").exists()


def test_a_max_length_past_the_tokenizer_limit_but_within_the_positions_runs(
    tiny_model: Path, tmp_path: Path
) -> None:
    directory = _copy(tiny_model, tmp_path)
    settings = json.loads((directory / "tokenizer_config.json").read_text())
    (directory / "tokenizer_config.json").write_text(
        json.dumps({**settings, "model_max_length": 32})
    )
    model = load_model(directory, device="cpu", max_length=100)
    _, stats = model.predict_scores(["the film was great. " * 60, "awful."])
    assert model.max_length == 100 and stats.truncated == 1
    assert load_model(directory, device="cpu").max_length == 32


@pytest.mark.parametrize("trust", [["sklearn.pipeline.Pipeline"], ["numpy.dtype", "x.y"]])
def test_trusted_types_for_a_transformers_model_are_refused_not_ignored(
    tiny_model: Path, trust: list[str], capsys, sentiment_file: Path, tmp_path: Path
) -> None:
    with pytest.raises(ModelError, match="--trust names the types a .skops file may load"):
        load_model(tiny_model, trusted_types=trust)
    flags = [part for name in trust for part in ("--trust", name)]
    code, _, err = run_cli(
        capsys, "evaluate", "--model", str(tiny_model), "--dataset", str(sentiment_file),
        "--output-dir", str(tmp_path / "run"), *flags,
    )  # fmt: skip
    assert code == 2 and err.count("error:") == 1 and "drop --trust" in err
    assert not (tmp_path / "run").exists()
