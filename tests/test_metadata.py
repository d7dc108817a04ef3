"""Card metadata the Hub understands: metric ids with args, datasets, licenses, languages."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import make_results, run_cli, save_run
from huggingface_hub import ModelCard
from huggingface_hub.repocard import metadata_load

from cardgen.cards.conventions import check_language, check_license, metric_key
from cardgen.cards.file import card_metric_values
from cardgen.cards.render import render_card
from cardgen.errors import UsageError


def _index_metrics(card: Path) -> list[dict]:
    return metadata_load(card)["model-index"][0]["results"][0]["metrics"]


def test_model_index_uses_hub_metric_ids_with_their_arguments(tmp_path: Path) -> None:
    results = make_results()
    card = tmp_path / "README.md"
    render_card(save_run(results, tmp_path / "run"), output=card)
    metrics = {(m["type"], m["name"]): m for m in _index_metrics(card)}
    assert set(metrics) == {
        ("accuracy", "Accuracy"),
        ("f1", "Macro F1"),
        ("f1", "Weighted F1"),
        ("precision", "Macro Precision"),
        ("recall", "Macro Recall"),
        ("roc_auc", "ROC AUC"),
    }
    assert metrics["f1", "Macro F1"]["args"] == {"average": "macro"}
    assert metrics["f1", "Weighted F1"]["args"] == {"average": "weighted"}
    assert metrics["f1", "Macro F1"]["value"] == round(results.metrics["macro_f1"].value, 4)
    assert "args" not in metrics["roc_auc", "ROC AUC"]  # binary AUC: no averaging
    # the gate reads the card back into results keys
    values = card_metric_values(card)
    assert values["weighted_f1"] == round(results.metrics["weighted_f1"].value, 4)
    assert set(values) == {
        "accuracy",
        "macro_f1",
        "weighted_f1",
        "macro_precision",
        "macro_recall",
        "roc_auc",
    }


def test_multiclass_roc_auc_says_it_is_one_vs_rest_macro(tmp_path: Path) -> None:
    card = tmp_path / "README.md"
    render_card(save_run(make_results(["a", "b", "c"]), tmp_path / "run"), output=card)
    auc = next(m for m in _index_metrics(card) if m["type"] == "roc_auc")
    assert auc["args"] == {"multi_class": "ovr", "average": "macro"}
    assert "one-vs-rest" in auc["name"]


@pytest.mark.parametrize(
    ("metric_type", "args", "key"),
    [
        ("f1", {"average": "macro"}, "macro_f1"),
        ("recall", {"average": "weighted"}, "weighted_recall"),
        ("macro_f1", None, "macro_f1"),  # cards cardgen wrote before
        ("f1", None, "f1"),
        ("roc_auc", {"multi_class": "ovr", "average": "macro"}, "roc_auc"),
    ],
)
def test_metric_key_reads_types_with_args_back(metric_type: str, args, key: str) -> None:
    assert metric_key(metric_type, args) == key


def test_local_file_with_dataset_id_gives_hub_dataset_config_and_split(tmp_path: Path) -> None:
    results = make_results()
    local = replace(
        results.dataset, source=str(tmp_path / "sst2_dev.jsonl"), name="sst2_dev", config=None
    )
    run = save_run(replace(results, dataset=local), tmp_path / "run")
    card = tmp_path / "README.md"
    render_card(
        run,
        output=card,
        dataset_id="nyu-mll/glue",
        dataset_config="sst2",
        dataset_split="validation",
        language=["en"],
        license="apache-2.0",
    )
    data = ModelCard.load(card).data
    assert data.datasets == ["nyu-mll/glue"] and data.language == ["en"]
    result = data.eval_results[0]
    assert (result.dataset_type, result.dataset_config, result.dataset_split) == (
        "nyu-mll/glue",
        "sst2",
        "validation",
    )
    assert result.dataset_name == "nyu-mll/glue (sst2)"
    assert "https://huggingface.co/datasets/nyu-mll/glue" in card.read_text()


def test_card_cli_takes_dataset_and_language_options(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = save_run(make_results(), tmp_path / "run")
    card = tmp_path / "README.md"
    code, _, err = run_cli(
        capsys,
        "card",
        str(run),
        "--output",
        str(card),
        "--dataset-id",
        "stanfordnlp/sst2",
        "--dataset-split",
        "test",
        "--language",
        "en",
    )
    assert code == 0, err
    data = ModelCard.load(card).data
    assert data.datasets == ["stanfordnlp/sst2"] and data.language == ["en"]
    assert data.eval_results[0].dataset_split == "test"
    assert data.eval_results[0].dataset_config == "sst2"  # kept from the run


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--license", "Apache 2.0", "did you mean apache-2.0"),
        ("--license", "MIT License", "did you mean mit"),
        ("--license", "my-own", "`other`"),
        ("--language", "English", "did you mean en"),
        ("--language", "EN", "did you mean en"),
        ("--dataset-id", "./data/test.csv", "Hub dataset id"),
    ],
)
def test_values_the_hub_would_refuse_are_input_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], option: str, value: str, message: str
) -> None:
    run = save_run(make_results(), tmp_path / "run")
    code, out, err = run_cli(capsys, "card", str(run), option, value)
    assert code == 2 and message in err and err.startswith("error:")
    assert not (run / "README.md").exists()


def test_license_and_language_checks() -> None:
    assert check_license("cc-by-4.0") == "cc-by-4.0"
    with pytest.raises(UsageError, match="did you mean cc-by-sa-4.0"):
        check_license("CC BY-SA 4.0")
    assert check_language(["en", "zh-Hant", "yue", "en"]) == ["en", "zh-Hant", "yue"]


def test_framework_versions_leave_out_libraries_the_model_did_not_use(tmp_path: Path) -> None:
    environment = {
        "python": "3.11.0",
        "cardgen": "0.1.0",
        "torch": "2.5.0",
        "transformers": "4.99.0",
        "tokenizers": "0.21.0",
        "scikit-learn": "1.6.0",
        "datasets": "3.0.0",
    }
    bert = replace(make_results(), environment=environment)
    text = render_card(save_run(bert, tmp_path / "bert"))
    versions = text.split("## Framework versions")[1]
    assert "- Tokenizers 0.21.0" in versions and "- PyTorch 2.5.0" in versions
    assert "scikit-learn" not in versions and "- Datasets 3.0.0" in versions  # hub data
    local = replace(bert.dataset, source="test.csv")
    skl = replace(
        bert,
        model=replace(bert.model, framework="sklearn", id="pipe.skops"),
        dataset=local,
    )
    run = save_run(skl, tmp_path / "skl")
    with pytest.warns(UserWarning, match="model file pipe.skops was not found"):
        text = render_card(run)
    versions = text.split("## Framework versions")[1]
    assert "- scikit-learn 1.6.0" in versions
    for absent in ("PyTorch", "Transformers", "Tokenizers", "Datasets"):
        assert absent not in versions


def test_evaluate_records_dataset_id_and_split_from_the_file_name(
    tiny_model: Path, sentiment_file: Path, tmp_path: Path
) -> None:
    from cardgen.evaluation.run import evaluate

    data = shutil.copy(sentiment_file, tmp_path / "sst2_validation.jsonl")
    results = evaluate(tiny_model, data, device="cpu", n_bootstrap=0, dataset_id="nyu-mll/glue")
    assert (results.dataset.hub_id, results.dataset.split) == ("nyu-mll/glue", "validation")
    named = evaluate(
        tiny_model, data, device="cpu", n_bootstrap=0, split="test", dataset_config="sst2"
    )
    assert (named.dataset.hub_id, named.dataset.split, named.dataset.config) == (
        None,
        "test",
        "sst2",
    )
    plain = evaluate(tiny_model, sentiment_file, device="cpu", n_bootstrap=0)
    assert plain.dataset.split is None


def test_a_run_without_bootstrap_writes_no_ci_text(tmp_path: Path) -> None:
    results = make_results()
    results.metrics = {
        key: replace(m, ci_low=None, ci_high=None) for key, m in results.metrics.items()
    }
    text = render_card(save_run(results, tmp_path / "run"))
    assert "CI" not in text and "bootstrap" not in text and "()" not in text
    assert f"| Accuracy | {results.metrics['accuracy'].value:.4f} |" in text


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    from cardgen import __version__

    code, out, _ = run_cli(capsys, "--version")
    assert code == 0 and out.strip() == f"cardgen {__version__}"


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("license", "Apache 2.0", "license 'Apache 2.0' is not a license id the Hub knows; did you mean apache-2.0"),
        ("language", ["en", "English"], "language 'English' is not what the Hub expects"),
        ("base_model", "./checkpoints/base", "base_model './checkpoints/base' is not what the Hub expects"),
        ("datasets", ["glue", "../data.csv"], "datasets '../data.csv' is not what the Hub expects"),
    ],
)
def test_push_refuses_metadata_the_hub_would_misread(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, key: str, value, message: str
) -> None:
    card = tmp_path / "README.md"
    render_card(save_run(make_results(), tmp_path / "run"), output=card)
    text = card.read_text()
    import yaml

    front, body = text.split("---\n", 2)[1:]
    metadata = yaml.safe_load(front)
    metadata[key] = value
    card.write_text("---\n" + yaml.safe_dump(metadata, sort_keys=False) + "---\n" + body)
    code, _, err = run_cli(capsys, "push", str(card), "--repo-id", "me/model", "--dry-run")
    assert code == 2 and message in err, err
