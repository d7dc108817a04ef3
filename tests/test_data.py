from __future__ import annotations

import json
from pathlib import Path

import pytest

from cardgen.data.load import load_data
from cardgen.errors import DataError


def _rows() -> list[dict]:
    return [{"text": f"text {i}", "label": ["neg", "pos"][i % 2]} for i in range(6)]


@pytest.mark.parametrize("suffix", ["csv", "tsv", "jsonl", "json", "parquet"])
def test_reads_every_file_format(tmp_path: Path, suffix: str) -> None:
    rows = _rows()
    path = tmp_path / f"data.{suffix}"
    if suffix in ("csv", "tsv"):
        sep = "," if suffix == "csv" else "\t"
        path.write_text(
            "text" + sep + "label\n" + "".join(f"{r['text']}{sep}{r['label']}\n" for r in rows)
        )
    elif suffix == "jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    elif suffix == "json":
        path.write_text(json.dumps(rows))
    else:
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.Table.from_pylist(rows), path)
    data = load_data(path)
    assert data.texts == [r["text"] for r in rows]
    assert data.labels == [r["label"] for r in rows]
    assert data.label_names == ["neg", "pos"]
    assert not data.indexed
    assert data.info.num_rows == 6
    assert data.info.fingerprint.startswith("rows-sha256:")


def test_fingerprint_changes_with_labels(tmp_path: Path) -> None:
    rows = _rows()
    a = tmp_path / "a.jsonl"
    a.write_text("".join(json.dumps(r) + "\n" for r in rows))
    rows[0]["label"] = "pos"
    b = tmp_path / "b.jsonl"
    b.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert load_data(a).info.fingerprint != load_data(b).info.fingerprint


def test_integer_labels_are_class_ids(tmp_path: Path) -> None:
    path = tmp_path / "ints.jsonl"
    path.write_text("".join(json.dumps({"sentence": "s", "label": v}) + "\n" for v in [0, 2, 1]))
    data = load_data(path)
    assert data.indexed and data.label_names == ["0", "1", "2"] and data.labels == ["0", "2", "1"]
    assert data.info.text_column == "sentence"


def test_save_to_disk_with_class_label(tmp_path: Path) -> None:
    import datasets

    features = datasets.Features(
        {"text": datasets.Value("string"), "label": datasets.ClassLabel(names=["neg", "pos"])}
    )
    ds = datasets.Dataset.from_dict(
        {"text": ["a", "b", "c"], "label": [1, 0, 1]}, features=features
    )
    datasets.DatasetDict({"test": ds, "train": ds}).save_to_disk(tmp_path / "saved")
    data = load_data(tmp_path / "saved", split="test")
    assert (
        data.labels == ["pos", "neg", "pos"] and data.label_names == ["neg", "pos"] and data.indexed
    )
    assert data.info.split == "test"
    with pytest.raises(DataError, match=r"split 'validation' not found .* splits are: test, train"):
        load_data(tmp_path / "saved", split="validation")


def test_hub_dataset_names_go_to_load_dataset(monkeypatch: pytest.MonkeyPatch) -> None:
    import datasets

    calls = []

    def fake_load_dataset(name, config=None, split=None):
        calls.append((name, config, split))
        if config is None:
            raise FileNotFoundError(f"{name} not in cache")
        return datasets.Dataset.from_dict({"sentence": ["x", "y"], "label": [0, 1]})

    monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset)
    data = load_data("glue/sst2", split="validation")
    assert calls == [("glue/sst2", None, "validation"), ("glue", "sst2", "validation")]
    assert (
        data.info.source == "hub:glue" and data.info.config == "sst2" and data.texts == ["x", "y"]
    )


def test_limit_takes_the_head_or_a_seeded_sample(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    path.write_text("".join(json.dumps({"text": str(i), "label": "a"}) + "\n" for i in range(50)))
    assert load_data(path, limit=3).texts == ["0", "1", "2"]
    sampled = load_data(path, limit=5, sample=True, seed=1).texts
    assert sampled == load_data(path, limit=5, sample=True, seed=1).texts
    assert sampled != ["0", "1", "2", "3", "4"] and len(sampled) == 5


@pytest.mark.parametrize(
    ("content", "kwargs", "message"),
    [
        (
            '{"text": "a", "sentiment": "pos"}\n',
            {},
            r"column 'label' not found in .*; columns are: text, sentiment \(use --label-column\)",
        ),
        (
            '{"body": "a", "label": "pos"}\n',
            {"text_column": "review"},
            r"column 'review' not found .* columns are: body, label",
        ),
        ("", {}, r"has no rows"),
        ('{"text": null, "label": "pos"}\n', {}, r"row 0 .* has a NoneType in text column 'text'"),
        (
            '{"text": "a", "label": "pos"}\n{"text": 3, "label": "neg"}\n',
            {},
            r"row 1 .* has a int in text column",
        ),
        ('{"text": "a", "label": null}\n', {}, r"row 0 .* has label None"),
        ("{not json\n", {}, r"cannot read .* as jsonl"),
    ],
)
def test_bad_data_is_a_clear_error(
    tmp_path: Path, content: str, kwargs: dict, message: str
) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(content)
    with pytest.raises(DataError, match=message):
        load_data(path, **kwargs)


def test_missing_file_and_unknown_format(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        load_data(tmp_path / "nope.csv")
    odd = tmp_path / "data.xlsx"
    odd.write_text("x")
    with pytest.raises(DataError, match=r"unknown dataset format '.xlsx'"):
        load_data(odd)


def test_hub_dataset_loads_offline_from_the_local_hub_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import datasets
    import huggingface_hub.constants as constants
    import pyarrow as pa
    import pyarrow.parquet as pq

    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / "hub" / "datasets--cardgen-test--reviews"
    (repo / "snapshots" / commit / "data").mkdir(parents=True)
    rows = [{"text": "good film", "label": 1}, {"text": "bad film", "label": 0}]
    pq.write_table(
        pa.Table.from_pylist(rows),
        repo / "snapshots" / commit / "data" / "test-00000-of-00001.parquet",
    )
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "datasets-cache")
    data = load_data("cardgen-test/reviews", split="test")
    assert data.texts == ["good film", "bad film"] and data.labels == ["1", "0"]
    assert data.info.source == "hub:cardgen-test/reviews" and data.info.split == "test"
    with pytest.raises(DataError, match="without network only cached datasets load"):
        load_data("cardgen-test/not-cached", split="test")
