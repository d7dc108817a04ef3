"""Every option on every engine: Spark's results equal the local engine's, cell by cell.

Both engines hand their predictions to one evaluation, so slices, failures, robustness and
probes are the same code; these tests check that what reaches it is the same too (rows, gold,
texts, slice values, lengths, sampling) on single texts, sentence pairs and label sets.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest
from conftest import write_jsonl

from cardgen.demo.synthetic import MODERATION, moderation_corpus, train_tiny_distilbert
from cardgen.errors import CardgenError
from cardgen.evaluation.run import evaluate
from cardgen.probes import Lexicon, template_probe
from cardgen.results.schema import EvalResults, load_results

SOURCES = ["forum", "news", "review", None]


def _approx(value: Any) -> Any:
    """``value`` with every float compared to 1e-5 (the engines batch differently)."""
    if isinstance(value, dict):
        return {key: _approx(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_approx(item) for item in value)
    if isinstance(value, float):
        return pytest.approx(value, abs=1e-5, nan_ok=True)
    return value


def _probe(pairs: bool = False) -> Any:
    """A probe of single texts, or of pairs (premise, hypothesis) for pair data."""
    terms = Lexicon("city", ("Paris", "Kabul", "Lagos", "Lima"), (None,) * 4, ("CITY",))
    return template_probe(
        "city",
        ["I saw it in {CITY}.", "The story is set in {CITY}."],
        pairs=["It was great.", "{CITY} was dull."] if pairs else None,
        lexicons={"CITY": terms},
        target_label="positive",
    )


@pytest.fixture(scope="module")
def data_files(tmp_path_factory: pytest.TempPathFactory, sentiment_rows: list[dict]) -> dict:
    root = tmp_path_factory.mktemp("matrix")
    single = [{**row, "source": SOURCES[i % 4]} for i, row in enumerate(sentiment_rows)]
    pairs = [
        {"premise": r["text"], "hypothesis": r["text"][::-1], "label": r["label"], "source": s}
        for r, s in zip(sentiment_rows, SOURCES * 40, strict=False)
    ]
    return {
        "single": write_jsonl(root / "single.jsonl", single),
        "pairs": write_jsonl(root / "pairs.jsonl", pairs),
    }


CELLS = {
    "slice-by": {"slice_by": ["source"], "min_slice_size": 10},
    "robustness": {"robustness": ["lowercase", "typos"], "robustness_sample": 60},
    "probes": {"probes": "city"},
    "sample": {"limit": 50, "sample": True, "seed": 3},
    "no-examples": {"examples": False, "slice_by": ["source"]},
}


@pytest.mark.parametrize("shape", ["single", "pairs"])
@pytest.mark.parametrize("cell", sorted(CELLS))
def test_spark_equals_local_in_every_cell(
    spark: Any, tiny_model: Path, data_files: dict, tmp_path: Path, shape: str, cell: str
) -> None:
    options = dict(CELLS[cell], n_bootstrap=200, max_length=12)
    if options.get("probes") == "city":
        options["probes"] = [_probe(pairs=shape == "pairs")]
    if shape == "pairs":
        options["label_order"] = ["negative", "positive"]
        options["text_pair_column"] = "hypothesis"  # a single-text model: pairs must be asked for
    runs = {}
    for engine in ("local", "spark"):
        evaluate(
            str(tiny_model),
            str(data_files[shape]),
            output_dir=tmp_path / engine,
            engine=engine,
            **options,
        )
        runs[engine] = load_results(tmp_path / engine)
    _same(runs["local"], runs["spark"])


def _same(local: EvalResults, spark: EvalResults) -> None:
    assert spark.labels == local.labels
    assert spark.confusion_matrix == local.confusion_matrix
    assert spark.dataset.fingerprint == local.dataset.fingerprint
    assert spark.dataset.num_rows == local.dataset.num_rows
    assert spark.label_mapping == local.label_mapping
    for name, metric in local.metrics.items():
        other = spark.metrics[name]
        assert other.value == pytest.approx(metric.value, abs=1e-6), name
    sections = ("slices", "failures", "robustness", "probes")
    for section in sections:
        a, b = getattr(local, section), getattr(spark, section)
        assert _dump(b) == _approx(_dump(a)), section


def _dump(value: Any) -> Any:
    """``value`` as plain data, without wall times (which differ by engine)."""
    if isinstance(value, dict):
        return {key: _dump(item) for key, item in value.items() if key != "seconds"}
    if isinstance(value, (list, tuple)):
        return [_dump(item) for item in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return _dump(asdict(value))


def test_spark_samples_the_rows_local_samples_and_keeps_their_source_ids(
    spark: Any, tiny_model: Path, data_files: dict, tmp_path: Path
) -> None:
    import pyarrow.parquet as pq

    evaluate(
        str(tiny_model), str(data_files["single"]), engine="spark", limit=20, sample=True,
        seed=7, n_bootstrap=0, output_dir=tmp_path / "run",
    )  # fmt: skip
    ids = sorted(pq.read_table(tmp_path / "run" / "predictions.parquet").column("index").to_pylist())
    import random

    assert ids == sorted(random.Random(7).sample(range(120), 20))


MODERATION_LABELS = list(MODERATION)


@pytest.fixture(scope="module")
def ml_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny multi-label DistilBERT, and a copy whose config does not say it is multi-label
    (scored as multi-label because the data holds lists: the executors must do the same)."""
    out = tmp_path_factory.mktemp("models") / "tiny-moderation"
    return train_tiny_distilbert(
        moderation_corpus(320, seed=1), MODERATION_LABELS, out, epochs=3, multi_label=True
    )


@pytest.fixture(scope="module")
def ml_files(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("ml-matrix")
    rows = [
        {**row, "source": SOURCES[i % 4]} for i, row in enumerate(moderation_corpus(90, seed=4))
    ]
    vectors = [
        {"text": r["text"], "labels": [int(x in r["labels"]) for x in MODERATION_LABELS]}
        for r in rows
    ]
    pairs = [{**r, "reply": r["text"][::-1]} for r in rows]
    return {
        "lists": write_jsonl(root / "lists.jsonl", rows),
        "multi-hot": write_jsonl(root / "vectors.jsonl", vectors),
        "pairs": write_jsonl(root / "pairs.jsonl", pairs),
    }


def _who_probe() -> Any:
    terms = Lexicon("who", ("you", "they", "the team", "my friend"), (None,) * 4, ("WHO",))
    return template_probe(
        "who", ["{WHO} are clowns.", "I like {WHO}."], lexicons={"WHO": terms},
        target_label="insult", expected_label="insult",
    )  # fmt: skip


ML_CELLS = {
    "plain": {"threshold": None},
    "threshold": {"threshold": {"toxic": 0.3, "insult": 0.15, "threat": 0.5, "spam": 0.45}},
    "slice-by": {"slice_by": ["source"], "min_slice_size": 10},
    "robustness": {"robustness": ["lowercase", "typos"], "robustness_sample": 40},
    "probes": {"probes": "who"},
    "sample": {"limit": 40, "sample": True, "seed": 3},
    "multi-hot": {"label_format": "multi-hot", "label_map": "index"},
    "pairs": {"text_pair_column": "reply"},
    "undeclared": {},
}


@pytest.mark.parametrize("cell", sorted(ML_CELLS))
def test_spark_equals_local_for_multi_label_in_every_cell(
    spark: Any, ml_model: Path, ml_files: dict, tmp_path: Path, cell: str
) -> None:
    options = {"threshold": 0.25, **ML_CELLS[cell], "n_bootstrap": 100, "max_length": 16}
    if options.get("probes") == "who":
        options["probes"] = [_who_probe()]
    data = ml_files.get(cell, ml_files["lists"])
    model = ml_model
    if cell == "undeclared":
        model = tmp_path / "undeclared"
        shutil.copytree(ml_model, model)
        config = json.loads((model / "config.json").read_text())
        del config["problem_type"]
        (model / "config.json").write_text(json.dumps(config))
    runs = {}
    for engine in ("local", "spark"):
        evaluate(str(model), str(data), output_dir=tmp_path / engine, engine=engine, **options)
        runs[engine] = load_results(tmp_path / engine)
    local, remote = runs["local"], runs["spark"]
    assert local.task == remote.task == "multi_label"
    assert remote.warnings == local.warnings
    assert _dump(remote.multilabel) == _approx(_dump(local.multilabel))
    assert _dump(remote.per_class) == _approx(_dump(local.per_class))
    _same(local, remote)
    sets = _label_sets(tmp_path / "local" / "predictions.jsonl", "jsonl")
    assert _label_sets(tmp_path / "spark" / "predictions.parquet", "parquet") == sets


def _label_sets(path: Path, kind: str) -> dict[int, tuple[list[str], list[str]]]:
    """Each row's gold and predicted label sets (sorted) in a predictions file."""
    if kind == "jsonl":
        rows = [json.loads(line) for line in path.read_text().splitlines()]
    else:
        import pyarrow.parquet as pq

        rows = [
            {**r, "gold": json.loads(r["gold"]), "predicted": json.loads(r["predicted"])}
            for r in pq.read_table(path).to_pylist()
        ]
    return {r["index"]: (sorted(r["gold"]), sorted(r["predicted"])) for r in rows}


def test_spark_reads_label_sets_with_the_local_engines_errors(
    spark: Any, ml_model: Path, tmp_path: Path
) -> None:
    """Bad label lists fail on Spark with the message the local engine gives."""
    cases = {
        "mixed": [{"text": "a b", "labels": ["toxic"]}, {"text": "c d", "labels": "spam"}],
        "null": [{"text": "a b", "labels": ["toxic"]}, {"text": "c d", "labels": None}],
        "ids-and-names": [{"text": "a", "labels": [0]}, {"text": "b", "labels": ["spam"]}],
        "bad-vector": [{"text": "a", "labels": [1, 0, 0, 2]}, {"text": "b", "labels": [1, 1, 0, 0]}],
        "format-on-single": [{"text": "a b", "labels": "spam"}, {"text": "c", "labels": "toxic"}],
    }
    for name, rows in cases.items():
        path = write_jsonl(tmp_path / f"{name}.jsonl", rows)
        fmt = "multi-hot" if name in ("bad-vector", "format-on-single") else None
        messages = []
        for engine in ("local", "spark"):
            with pytest.raises(CardgenError) as caught:
                evaluate(str(ml_model), str(path), engine=engine, n_bootstrap=0, label_format=fmt)
            messages.append((type(caught.value), str(caught.value)))
        assert messages[0] == messages[1], name
