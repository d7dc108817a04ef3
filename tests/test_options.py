"""Every option is validated before any work, and index label maps need a stated order."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import run_cli, write_jsonl

from cardgen import evaluate, load_results
from cardgen.errors import LabelError, UsageError
from cardgen.evaluation.options import check_run_options

BAD_OPTIONS = [
    (["--max-length", "0"], "--max-length must be from 1"),
    (["--max-length", "-1"], "--max-length must be from 1"),
    (["--max-length", "99999999"], "--max-length must be from 1"),
    (["--seed", "-1"], "--seed must be from 0"),
    (["--seed", str(2**40)], "--seed must be from 0"),
    (["--bootstrap", "-5"], "--bootstrap must be from 0"),
    (["--bootstrap", "100000000"], "--bootstrap must be from 0"),
    (["--limit", "0"], "--limit must be 1 or more"),
    (["--limit", "-3"], "--limit must be 1 or more"),
    (["--batch-size", "0"], "--batch-size must be 'auto' or a positive integer"),
    (["--batch-size", "-2"], "--batch-size must be 'auto' or a positive integer"),
    (["--batch-size", "ten"], "--batch-size must be 'auto' or a positive integer"),
    (["--device", "gpu"], "unknown --device 'gpu'"),
    (["--device", "cuda:x"], "unknown --device"),
    (["--dtype", "int8"], "unknown --dtype 'int8'"),
    (["--label-order", "a,a"], "--label-order takes the dataset's labels once each"),
    (["--label-order", ","], "--label-order takes the dataset's labels once each"),
]


@pytest.mark.parametrize(("args", "message"), BAD_OPTIONS)
def test_bad_evaluate_options_exit_2_before_any_work(
    capsys, tmp_path: Path, args: list[str], message: str
) -> None:
    out = tmp_path / "run"
    # The model and dataset do not exist: the option must be refused before they are looked at.
    code, _, err = run_cli(
        capsys, "evaluate", "--model", str(tmp_path / "nope"), "--dataset", str(tmp_path / "x.csv"),
        "--output-dir", str(out), *args,
    )
    assert code == 2, err
    assert err.startswith("error: ") and message in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [a for a in BAD_OPTIONS if a[0][0] in ("--max-length", "--seed", "--bootstrap", "--batch-size", "--device", "--dtype")],
)
def test_bad_probe_options_exit_2_before_any_work(capsys, tmp_path: Path, args, message) -> None:
    out = tmp_path / "probes"
    code, _, err = run_cli(capsys, "probe", "--model", str(tmp_path / "nope"), "--output-dir", str(out), *args)
    assert code == 2 and message in err, err
    assert not out.exists()


@pytest.mark.parametrize("value", [True, 1.5, "3"])
def test_library_options_must_be_integers(value) -> None:
    with pytest.raises(UsageError, match="--max-length must be an integer"):
        check_run_options(max_length=value)


@pytest.fixture(scope="module")
def named_rows(sentiment_rows: list[dict]) -> list[dict]:
    return [{"text": r["text"], "label": r["label"]} for r in sentiment_rows]


def test_index_map_with_string_labels_needs_an_order(
    generic_model: Path, tmp_path: Path, named_rows: list[dict]
) -> None:
    data = write_jsonl(tmp_path / "d.jsonl", named_rows)
    with pytest.raises(LabelError, match="pass --label-order"):
        evaluate(generic_model, data, label_map="index", output_dir=tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_index_map_with_the_right_order_evaluates(
    generic_model: Path, tmp_path: Path, named_rows: list[dict]
) -> None:
    data = write_jsonl(tmp_path / "d.jsonl", named_rows)
    labels = sorted({r["label"] for r in named_rows})
    results = evaluate(generic_model, data, label_map="index", label_order=labels, n_bootstrap=0)
    assert results.label_mapping.strategy == "index" and results.dataset.labels == labels
    assert results.metrics["accuracy"].value > 0.7 and not results.warnings


def test_index_map_in_the_wrong_order_stops_with_the_fitting_map(
    capsys, generic_model: Path, tmp_path: Path, named_rows: list[dict]
) -> None:
    data = write_jsonl(tmp_path / "d.jsonl", named_rows)
    labels = sorted({r["label"] for r in named_rows}, reverse=True)
    out = tmp_path / "run"
    code, _, err = run_cli(
        capsys, "evaluate", "--model", str(generic_model), "--dataset", str(data), "--label-map", "index",
        "--label-order", ",".join(labels), "--output-dir", str(out), "--no-progress",
    )
    assert code == 2 and "label mapping looks permuted" in err and "nothing was written" in err
    fitting = json.loads(err[err.index("save ") + 5 : err.index(" as map.json")])
    assert fitting == {"LABEL_0": labels[1], "LABEL_1": labels[0]}
    assert not out.exists()
    (tmp_path / "map.json").write_text(json.dumps(fitting))
    results = evaluate(generic_model, data, label_map=tmp_path / "map.json", n_bootstrap=0)
    assert results.metrics["accuracy"].value > 0.7


def test_permutation_after_a_name_map_is_a_recorded_warning(
    tiny_model: Path, tmp_path: Path, named_rows: list[dict]
) -> None:
    swap = {"negative": "positive", "positive": "negative"}
    data = write_jsonl(tmp_path / "d.jsonl", [{**r, "label": swap[r["label"]]} for r in named_rows])
    with pytest.warns(UserWarning, match="label mapping looks permuted"):
        evaluate(tiny_model, data, output_dir=tmp_path / "run", n_bootstrap=0)
    assert any("looks permuted" in w for w in load_results(tmp_path / "run").warnings)
