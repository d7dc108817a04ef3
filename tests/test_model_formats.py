"""TensorFlow, Keras, Flax and ONNX checkpoints: refused with the commands that convert them."""

from __future__ import annotations

import shlex
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import run_cli

from cardgen.errors import ModelError
from cardgen.models import load_model
from cardgen.models._formats import conversion_error, listed_files

TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json")


def checkpoint(tiny_model: Path, directory: Path, *weights: str) -> Path:
    """``tiny_model``'s config and tokenizer with the (empty) weight files ``weights``."""
    directory.mkdir(parents=True)
    for name in ("config.json", *TOKENIZER_FILES):
        shutil.copy(tiny_model / name, directory / name)
    for name in weights:
        (directory / name).parent.mkdir(parents=True, exist_ok=True)
        (directory / name).write_bytes(b"")
    return directory


def command(message: str) -> list[str]:
    """The shell words of the conversion command in an error message."""
    start = message.index("python -m venv")
    return shlex.split(message[start : message.index(", then cardgen evaluate")])


def test_tensorflow_directory_gets_the_commands_that_convert_it(
    tiny_model: Path, tmp_path: Path
) -> None:
    model = checkpoint(tiny_model, tmp_path / "it's my tf model", "tf_model.h5")
    with pytest.raises(ModelError) as error:
        load_model(model, device="cpu")
    message = str(error.value)
    assert "holds TensorFlow weights (tf_model.h5) but no PyTorch weights" in message
    words = command(message)
    assert words[:4] == ["python", "-m", "venv", "/tmp/tf"]
    assert words[words.index("install") + 1 :][:4] == [
        "transformers<5",
        "tensorflow",
        "tf-keras",
        "torch",
    ]
    code, source, target = words[-3:]
    assert (source, target) == (str(model), f"{model}-pytorch")  # quoted for the shell
    compile(code, "<convert>", "exec")
    assert "from_pretrained(sys.argv[1], from_tf=True).save_pretrained(sys.argv[2])" in code
    assert "AutoTokenizer" in code  # the converted directory needs its tokenizer too
    assert message.endswith(f"then cardgen evaluate --model {shlex.quote(target)} ...")


@pytest.mark.parametrize(
    ("weights", "title", "converts"),
    [
        ("tf_model-00001-of-00002.h5", "TensorFlow", "from_tf=True"),
        ("saved_model/1/saved_model.pb", "Keras", "save it that way first"),
        ("model.keras", "Keras", "from_tf=True"),
        ("flax_model.msgpack", "Flax", "from_flax=True"),
        ("model.onnx", "ONNX", "cannot be converted back"),
    ],
)
def test_other_formats_name_what_was_found(
    tiny_model: Path, tmp_path: Path, weights: str, title: str, converts: str
) -> None:
    model = checkpoint(tiny_model, tmp_path / "model", weights)
    with pytest.raises(ModelError, match=f"holds {title} weights \\({weights}\\)") as error:
        load_model(model, device="cpu")
    assert converts in str(error.value)


def test_cli_exits_2_with_one_error_line(
    tiny_model: Path, tmp_path: Path, sentiment_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = checkpoint(tiny_model, tmp_path / "tf", "tf_model.h5")
    out = tmp_path / "run"
    code, stdout, stderr = run_cli(
        capsys,
        "evaluate",
        "--model",
        str(model),
        "--dataset",
        str(sentiment_file),
        "--output-dir",
        str(out),
        "--device",
        "cpu",
    )
    assert code == 2 and not out.exists()
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert "from_tf=True" in lines[0] and f"--model {model}-pytorch" in lines[0]


def test_hub_model_of_tensorflow_weights_only(
    tiny_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    commit = "fedcba9876543210fedcba9876543210fedcba98"
    repo = tmp_path / "hub" / "models--cardgen-test--tf-only"
    checkpoint(tiny_model, repo / "snapshots" / commit, "tf_model.h5")
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    import huggingface_hub.constants as constants

    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(
        ModelError, match=r"hub model 'cardgen-test/tf-only' holds TensorFlow"
    ) as error:
        load_model("cardgen-test/tf-only", device="cpu")
    assert command(str(error.value))[-2:] == ["cardgen-test/tf-only", "tf-only-pytorch"]


def test_pytorch_weights_beside_tensorflow_ones_load(
    tiny_model: Path, tmp_path: Path, sentiment_rows: list[dict]
) -> None:
    both = tmp_path / "both"
    shutil.copytree(tiny_model, both)
    (both / "tf_model.h5").write_bytes(b"")
    texts = [r["text"] for r in sentiment_rows[:20]]
    expected, _ = load_model(tiny_model, device="cpu").predict_scores(texts)
    probs, _ = load_model(both, device="cpu").predict_scores(texts)
    np.testing.assert_array_equal(probs, expected)


def test_keras_directory_without_config_is_named(tmp_path: Path) -> None:
    model = tmp_path / "keras"
    (model / "variables").mkdir(parents=True)
    (model / "saved_model.pb").write_bytes(b"")
    with pytest.raises(
        ModelError, match=r"has no config.json; it holds a Keras model \(saved_model.pb\)"
    ):
        load_model(model, device="cpu")


def test_listing_is_bounded_in_depth(tmp_path: Path) -> None:
    (tmp_path / "a" / "b" / "c").mkdir(parents=True)
    for path in ("top.h5", "a/one.pb", "a/b/two.pb", "a/b/c/three.pb"):
        (tmp_path / path).write_bytes(b"")
    assert sorted(listed_files(tmp_path)) == ["a/b/two.pb", "a/one.pb", "top.h5"]


def test_sharded_pytorch_weights_win_over_tensorflow_ones() -> None:
    tf_only = ["config.json", "tf_model.h5"]
    assert conversion_error("org/m", tf_only, hub=True) is not None
    sharded = [*tf_only, "model-00001-of-00002.safetensors", "model.safetensors.index.json"]
    assert conversion_error("org/m", sharded, hub=True) is None
    assert conversion_error("org/m", ["config.json", "vocab.txt"], hub=True) is None
