"""results.json is input too: every malformed shape is a ResultsError, never a crash."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import make_results, run_cli, save_run

from cardgen import load_results
from cardgen.errors import ResultsError
from cardgen.results.predictions import load_predictions, read_prediction_codes
from cardgen.trust import untrusted as _untrusted


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


# --- predictions as label codes: one streaming pass, every bad line named ----------------------


def prediction(index=0, gold="neg", predicted="neg", **extra) -> str:
    return json.dumps({"index": index, "gold": gold, "predicted": predicted, "probabilities": {}, **extra})


def test_prediction_codes_are_sorted_by_index_with_codes_into_the_labels(tmp_path: Path) -> None:
    lines = [prediction(9, "pos", "neg"), "", "  ", prediction(-4, "neg", "pos"), prediction(2**63 - 1, "pos", "pos")]
    (tmp_path / "predictions.jsonl").write_text("\r\n".join(lines) + "\n")
    codes = read_prediction_codes(tmp_path, ["pos", "neg"])
    assert codes.labels == ["pos", "neg"]
    assert codes.index.dtype == np.int64 and codes.gold.dtype == codes.predicted.dtype == np.int32
    assert codes.index.tolist() == [-4, 9, 2**63 - 1]
    assert codes.gold.tolist() == [1, 0, 0] and codes.predicted.tolist() == [0, 1, 0]


def test_an_empty_predictions_file_has_no_codes(tmp_path: Path) -> None:
    (tmp_path / "predictions.jsonl").write_text("\n\n")
    codes = read_prediction_codes(tmp_path, ["neg", "pos"])
    assert codes.index.size == codes.gold.size == codes.predicted.size == 0


# (bad line 4, after a good line 1, a blank line 2 and a good line 3; message fragment)
BAD_PREDICTION_LINES = {
    # the line itself
    "not JSON": (b"{not json", "line 4 is not valid JSON"),
    "truncated JSON": (b'{"index": 1, "gold": "neg"', "line 4 is not valid JSON"),
    "a list": (b"[1, 2]", "line 4 is not a prediction with probabilities"),
    "a number": (b"5", "line 4 is not a prediction with probabilities"),
    "a string": (b'"neg"', "line 4 is not a prediction with probabilities"),
    "null": (b"null", "line 4 is not a prediction with probabilities"),
    "no probabilities": (b'{"index": 1, "gold": "neg", "predicted": "neg"}', "line 4 is not a prediction"),
    "probabilities a list": (b'{"index": 1, "gold": "neg", "predicted": "neg", "probabilities": []}', "line 4 is not a prediction"),
    "repeated key": (b'{"index": 1, "index": 2, "gold": "neg", "predicted": "neg", "probabilities": {}}', "line 4 repeats the key \'index\'"),
    "100,000 deep": (b"[" * 100_000, "line 4 nests deeper than"),
    "not UTF-8": (b'{"index": 1, "gold": "\xff", "predicted": "neg", "probabilities": {}}', "is not UTF-8 text: byte 0xff on line 4"),
    "UTF-16": ("{}".encode("utf-16"), "is not UTF-8 text: byte 0xff on line 4 .*looks like UTF-16"),
    "a byte-order mark": (b"\xef\xbb\xbf" + prediction(1).encode(), "line 4 is not valid JSON"),
    "over the line limit": (prediction(1, gold="n" * 300_000).encode(), "line 4 of predictions file .* is longer than cardgen's limit of 200,000 bytes"),
    # its fields
    "no index": (b'{"gold": "neg", "predicted": "neg", "probabilities": {}}', "no 'index' in line 4"),
    "no gold": (b'{"index": 1, "predicted": "neg", "probabilities": {}}', "no 'gold' in line 4"),
    "no predicted": (b'{"index": 1, "gold": "neg", "probabilities": {}}', "no 'predicted' in line 4"),
    "string index": (prediction("1").encode(), "'index' is '1', not an integer in line 4"),
    "float index": (prediction(1.0).encode(), "'index' is 1.0, not an integer in line 4"),
    "boolean index": (prediction(True).encode(), "'index' is True, not an integer in line 4"),
    "null index": (prediction(None).encode(), "'index' is None, not an integer in line 4"),
    "list index": (prediction([1]).encode(), "'index' is \\[1\\], not an integer in line 4"),
    "index 2**63": (prediction(2**63).encode(), "'index' 9223372036854775808 is out of the 64-bit range in line 4"),
    "index -2**63 - 1": (prediction(-(2**63) - 1).encode(), "out of the 64-bit range in line 4"),
    "4,000-digit index": (prediction(10**3999).encode(), "out of the 64-bit range in line 4"),
    "numeric gold": (prediction(gold=0).encode(), "'gold' is 0, not a label in line 4"),
    "null predicted": (prediction(predicted=None).encode(), "'predicted' is None, not a label in line 4"),
    "object predicted": (prediction(predicted={"a": 1}).encode(), "'predicted' is \\{'a': 1\\}, not a label in line 4"),
    "unknown gold": (prediction(gold="maybe").encode(), "'gold' is 'maybe', not one of the run's labels 'neg, pos' in line 4"),
    "gold in another case": (prediction(gold="NEG").encode(), "'gold' is 'NEG', not one of the run's labels"),
    "unknown predicted": (prediction(predicted="neutral").encode(), "'predicted' is 'neutral', not one of the run's labels"),
    "label with a NUL": (prediction(predicted="neg\x00").encode(), "not one of the run's labels"),
    "a 10,000-char label": (prediction(gold="x" * 10_000).encode(), "'gold' is 'xxx.*characters\\), not one"),
    "index of line 1 again": (prediction(7).encode(), "'index' 7 appears twice in line 4"),
}


@pytest.mark.parametrize("case", list(BAD_PREDICTION_LINES))
def test_bad_prediction_lines_are_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: str) -> None:
    monkeypatch.setattr(_untrusted, "MAX_LINE_BYTES", 200_000)
    line, message = BAD_PREDICTION_LINES[case]
    good = [prediction(7).encode(), b"", prediction(8, "pos", "pos").encode()]
    (tmp_path / "predictions.jsonl").write_bytes(b"\n".join([*good, line, prediction(9).encode()]) + b"\n")
    with pytest.raises(ResultsError, match=message) as error:
        read_prediction_codes(tmp_path, ["neg", "pos"])
    assert str(tmp_path / "predictions.jsonl") in str(error.value)
    assert len(str(error.value)) < 500, str(error.value)


def test_a_repeated_index_is_named_at_its_second_line_whatever_comes_after(tmp_path: Path) -> None:
    lines = [prediction(i) for i in (5, 3, 1, 3, 0, 5, 1, "x")]
    (tmp_path / "predictions.jsonl").write_text("\n".join(lines))
    with pytest.raises(ResultsError, match="'index' is 'x', not an integer in line 8"):
        read_prediction_codes(tmp_path, ["neg"])
    (tmp_path / "predictions.jsonl").write_text("\n".join(lines[:-1]))
    with pytest.raises(ResultsError, match="'index' 3 appears twice in line 4"):
        read_prediction_codes(tmp_path, ["neg"])


@pytest.mark.parametrize("make", [lambda d: None, lambda d: (d / "predictions.jsonl").mkdir()], ids=["missing", "a directory"])
def test_a_run_without_a_predictions_file(tmp_path: Path, make) -> None:
    make(tmp_path)
    with pytest.raises(ResultsError, match="no predictions file at"):
        read_prediction_codes(tmp_path, ["neg"])
