"""Every option on every engine: Spark's results equal the local engine's, cell by cell.

Both engines hand their predictions to one evaluation, so slices, failures, robustness and
probes are the same code; these tests check that what reaches it is the same too (rows, gold,
texts, slice values, lengths, sampling) on single texts and sentence pairs.
"""

from __future__ import annotations

import math
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest
from conftest import write_jsonl

from cardgen.errors import UsageError
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
    if isinstance(value, float) and not math.isnan(value):
        return pytest.approx(value, abs=1e-5)
    return value


def _probe() -> Any:
    terms = Lexicon("city", ("Paris", "Kabul", "Lagos", "Lima"), (None,) * 4, ("CITY",))
    return template_probe(
        "city",
        ["I saw it in {CITY}.", "The story is set in {CITY}."],
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
        if shape == "pairs":
            pytest.skip("probes fill single-text templates")
        options["probes"] = [_probe()]
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


def test_multi_label_is_still_refused_on_spark_with_the_reason(
    spark: Any, tiny_model: Path, tmp_path: Path
) -> None:
    path = write_jsonl(tmp_path / "tags.jsonl", [{"text": "a b", "labels": ["positive"]}] * 3)
    with pytest.raises(UsageError, match="multi-label"):
        evaluate(str(tiny_model), str(path), engine="spark", n_bootstrap=0)
    with pytest.raises(UsageError, match="--threshold is not supported by --engine spark"):
        evaluate(str(tiny_model), str(path), engine="spark", threshold=0.3)
