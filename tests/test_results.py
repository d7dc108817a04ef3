"""results.json is input too: every malformed shape is a ResultsError, never a crash."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import make_results, run_cli, save_run

from cardgen import load_results
from cardgen.errors import ResultsError
from cardgen.results import load_predictions


@pytest.fixture
def raw(tmp_path: Path) -> tuple[Path, dict]:
    run = save_run(make_results(["neg", "pos"]), tmp_path / "run")
    return run, json.loads((run / "results.json").read_text())


def nested(depth: int) -> str:
    """A placeholder that ``dump`` replaces with JSON arrays nested ``depth`` deep."""
    return f"NESTED-{depth}"


def dump(data: dict) -> str:
    text = json.dumps(data)
    for depth in (1_000, 100_000):
        text = text.replace(f'"NESTED-{depth}"', "[" * depth + "]" * depth)
    return text


BREAKS = {
    "list for the metrics mapping": (lambda d: d.update(metrics=[1, 2]), "'metrics' must be an object, got list"),
    "null metric": (lambda d: d["metrics"].update(accuracy=None), "'metrics.accuracy' must be an object, got null"),
    "null metric value": (lambda d: d["metrics"]["accuracy"].update(value=None), "must be a finite number, got None"),
    "string metric value": (lambda d: d["metrics"]["accuracy"].update(value="0.9"), "must be a finite number"),
    "NaN metric": (lambda d: d["metrics"]["accuracy"].update(value=float("nan")), "must be a finite number"),
    "boolean support": (lambda d: d["per_class"][0].update(support=True), "must be an integer"),
    "missing labels": (lambda d: d.pop("labels"), "lacks the key 'labels'"),
    "model is a string": (lambda d: d.update(model="m"), "'model' must be an object, got str"),
    "labels hold a number": (lambda d: d.update(labels=["neg", 3]), "'labels\\[1\\]' must be a str"),
    "100,000 deep": (lambda d: d.update(warnings=nested(100_000)), "nests deeper than"),
    "1,000 deep": (lambda d: d.update(warnings=nested(1_000)), "nests deeper than"),
    "matrix not square": (lambda d: d["confusion_matrix"]["counts"].pop(), "confusion matrix"),
    "negative count": (lambda d: d["confusion_matrix"]["counts"][0].__setitem__(0, -5), "confusion matrix"),
    "rows disagree": (lambda d: d["dataset"].update(num_rows=7), "counts 200 rows but the dataset 7"),
    "duplicate labels": (lambda d: d.update(labels=["neg", "neg"]), "distinct"),
    "file outside the run": (lambda d: d["files"].update(predictions="../x.jsonl"), "not a plain path"),
    "absolute file": (lambda d: d["files"].update(predictions="/etc/passwd"), "not a plain path"),
    "file with NUL": (lambda d: d["files"].update(predictions="a\x00b"), "not a plain path"),
    "5,000-char file": (lambda d: d["files"].update(predictions="a" * 5000), "not a plain path"),
    "backslash path": (lambda d: d["files"].update(predictions="..\\x"), "not a plain path"),
    "schema version": (lambda d: d.update(schema_version="1"), "schema version '1' is not supported"),
    "tuple of wrong size": (
        lambda d: d.update(probes={"p": {**PROBE, "lowest": [["a", 0.1, 3]]}}),
        "must have 2 items",
    ),
}
PROBE = {
    "name": "p", "target_label": "pos", "templates": ["t"], "terms": [],
    "range": {"value": 0.1}, "std": 0.1, "flip_rate": 0.0, "lowest": [], "highest": [],
}


@pytest.mark.parametrize("case", list(BREAKS))
def test_malformed_results_are_refused(raw, case: str) -> None:
    run, data = raw
    change, message = BREAKS[case]
    change(data)
    (run / "results.json").write_text(dump(data))
    with pytest.raises(ResultsError, match=message):
        load_results(run)


@pytest.mark.parametrize("case", ["null metric", "100,000 deep", "list for the metrics mapping"])
@pytest.mark.parametrize("command", [["card"], ["gate", "--min", "accuracy=0.5"]])
def test_cli_reports_malformed_results_as_exit_2(capsys, raw, case: str, command: list[str]) -> None:
    run, data = raw
    BREAKS[case][0](data)
    (run / "results.json").write_text(dump(data))
    code, _, err = run_cli(capsys, command[0], str(run), *command[1:])
    assert code == 2 and err.startswith("error: ") and len(err) < 1000, err


@pytest.mark.parametrize(
    "content",
    [b"\xff\xfe not utf-8", b"[1, 2]", b"", b"{" * 200_000, b'"just a string"', b"null"],
)
def test_unreadable_results_files(tmp_path: Path, content: bytes) -> None:
    (tmp_path / "results.json").write_bytes(content)
    with pytest.raises(ResultsError):
        load_results(tmp_path)


@pytest.mark.parametrize(
    ("line", "message"),
    [("{not json", "line 2 is not valid JSON"), ("[1]", "line 2 is not a prediction"), ('{"probabilities": 3}', "line 2")],
)
def test_malformed_predictions_name_the_line(raw, line: str, message: str) -> None:
    run, _ = raw
    good = json.dumps({"index": 0, "gold": "neg", "predicted": "neg", "probabilities": {"neg": 1.0}})
    rows = [good, line, good]
    (run / "predictions.jsonl").write_text("\n".join(rows))
    with pytest.raises(ResultsError, match=message):
        load_predictions(run)


def test_valid_results_round_trip(raw) -> None:
    run, data = raw
    assert load_results(run).to_dict() == data
