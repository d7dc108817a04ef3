from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from sklearn import metrics as skm

from cardgen import evaluate, load_results
from cardgen.errors import LabelError, OutputError
from cardgen.results.predictions import load_predictions
from cardgen.results.schema import EvalResults


@pytest.fixture(scope="module")
def run(
    tiny_model: Path, sentiment_file: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[EvalResults, Path]:
    out = tmp_path_factory.mktemp("run")
    return evaluate(tiny_model, sentiment_file, output_dir=out, device="cpu", n_bootstrap=200), out


def test_writes_every_output(run: tuple[EvalResults, Path]) -> None:
    results, out = run
    assert {p.name for p in out.iterdir()} == {
        "results.json",
        "predictions.jsonl",
        "confusion_matrix.png",
        "reliability.png",
        "slices.png",
    }
    assert load_results(out) == results
    assert results.files == {
        "predictions": "predictions.jsonl",
        "confusion_matrix": "confusion_matrix.png",
        "reliability": "reliability.png",
        "slices": "slices.png",
    }
    raw = json.loads((out / "results.json").read_text())
    assert next(iter(raw)) == "schema_version"


def test_metrics_match_scikit_learn_on_the_written_predictions(
    run: tuple[EvalResults, Path],
) -> None:
    results, out = run
    rows = load_predictions(out)
    assert len(rows) == results.dataset.num_rows == 120
    gold = [r["gold"] for r in rows]
    predicted = [r["predicted"] for r in rows]
    assert results.metrics["accuracy"].value == pytest.approx(skm.accuracy_score(gold, predicted))
    assert results.metrics["macro_f1"].value == pytest.approx(
        skm.f1_score(gold, predicted, average="macro")
    )
    proba = np.array([[r["probabilities"][label] for label in results.labels] for r in rows])
    positive = np.array([g == "positive" for g in gold])
    assert results.metrics["roc_auc"].value == pytest.approx(
        skm.roc_auc_score(positive, proba[:, 1]), abs=1e-6
    )
    assert all(
        r["predicted"] == results.labels[int(np.argmax(list(r["probabilities"].values())))]
        for r in rows
    )


def test_results_record_provenance(run: tuple[EvalResults, Path]) -> None:
    results, _ = run
    assert results.label_mapping.strategy == "name"
    assert results.model.framework == "transformers" and results.model.weights_hash
    assert results.dataset.fingerprint.startswith("rows-sha256:")
    assert results.timing.device == "cpu" and results.timing.dtype == "float32"
    assert results.timing.examples_per_second > 0 and 0 <= results.timing.padding_ratio < 1
    assert {"python", "torch", "transformers", "scikit-learn", "cardgen"} <= set(
        results.environment
    )
    assert results.calibration is not None and results.calibration.n_bins == 15
    assert results.warnings == []


def test_a_swapped_mapping_is_warned_and_recorded(tiny_model: Path, sentiment_file: Path) -> None:
    with pytest.warns(UserWarning, match="label mapping looks permuted"):
        results = evaluate(
            tiny_model,
            sentiment_file,
            device="cpu",
            n_bootstrap=0,
            label_map={"negative": "positive", "positive": "negative"},
        )
    assert results.label_mapping.strategy == "file"
    assert len(results.warnings) == 1 and "predicted" in results.warnings[0]


def test_generic_labels_with_a_class_label_dataset_map_by_index(
    generic_model: Path, sentiment_rows, tmp_path: Path
) -> None:
    import datasets

    features = datasets.Features(
        {
            "text": datasets.Value("string"),
            "label": datasets.ClassLabel(names=["negative", "positive"]),
        }
    )
    ids = [["negative", "positive"].index(r["label"]) for r in sentiment_rows]
    datasets.Dataset.from_dict(
        {"text": [r["text"] for r in sentiment_rows], "label": ids}, features=features
    ).save_to_disk(tmp_path / "ds")
    results = evaluate(generic_model, tmp_path / "ds", device="cpu", n_bootstrap=0)
    assert results.label_mapping.model_to_dataset == {"LABEL_0": "negative", "LABEL_1": "positive"}
    assert results.metrics["accuracy"].value > 0.6


def test_skops_pipeline_end_to_end(skops_model: Path, topic_file: Path, tmp_path: Path) -> None:
    results = evaluate(skops_model, topic_file, output_dir=tmp_path, n_bootstrap=100)
    assert results.model.framework == "sklearn" and results.labels == [
        "Business",
        "Sci/Tech",
        "Sports",
        "World",
    ]
    assert results.metrics["accuracy"].value > 0.7
    assert (tmp_path / "results.json").is_file()


def test_bad_input_writes_nothing_and_keeps_old_results(
    tiny_model: Path, tmp_path: Path, run
) -> None:
    _, old = run
    before = (old / "results.json").read_bytes()
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "a", "label": "neutral"}\n')
    with pytest.raises(LabelError):
        evaluate(tiny_model, bad, output_dir=old, device="cpu")
    assert (old / "results.json").read_bytes() == before
    assert not list(old.glob(".*.tmp"))


def test_unwritable_output_dir_fails_before_running(
    tiny_model: Path, sentiment_file: Path, tmp_path: Path
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(OutputError, match="is not writable"):
        evaluate(tiny_model, sentiment_file, output_dir=blocker / "out", device="cpu")


@pytest.mark.parametrize(("n", "noted"), [(1, True), (20, True), (99, True), (0, False), (100, False)])
def test_intervals_from_too_few_resamples_are_noted_in_the_run_and_the_card(
    tiny_model: Path, sentiment_file: Path, tmp_path: Path, n: int, noted: bool
) -> None:
    from cardgen.cards.render import render_card

    results = evaluate(tiny_model, sentiment_file, device="cpu", n_bootstrap=n, output_dir=tmp_path / "run")
    notes = [w for w in results.warnings if "bootstrap resamples" in w]
    assert len(notes) == noted and (not noted or f"only {n} bootstrap" in notes[0])
    assert (f"only {n} bootstrap" in render_card(tmp_path / "run")) is noted
