"""``cardgen gate`` under hostile input: every bad input is exit 2 with one ``error:`` line.

One section per class of input: rules (flags, config tables, Python), config files, the two
runs (labels, data, rows, stored values), predictions files, output locations, and strings
from the data that reach the reports. Exit code 1 means "a rule failed" and nothing else.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from xml.etree import ElementTree

import pytest
from conftest import results_from_predictions
from conftest import run_cli as run

from cardgen.errors import CardgenError, LabelError, OutputError, ResultsError, UsageError
from cardgen.gate import (
    Rule,
    append_step_summary,
    check_gate,
    junit_xml,
    load_gate_config,
    make_rule,
    merge_rules,
    summary_markdown,
)
from cardgen.results.schema import EvalResults
from cardgen.trust.atomic import write_jsonl

N = 100
FINGERPRINT = "sha256:" + "a" * 64


def results(
    gold: list[str],
    predicted: list[str],
    labels: list[str],
    *,
    fingerprint: str = FINGERPRINT,
) -> EvalResults:
    return results_from_predictions(
        gold, predicted, labels=labels, fingerprint=fingerprint, n_bootstrap=0
    )


def write_run(
    directory: Path,
    labels: list[str] = ("neg", "pos"),  # type: ignore[assignment]
    *,
    wrong: int = 0,
    fingerprint: str = FINGERPRINT,
) -> Path:
    """A run of N examples, cycling through ``labels``, the first ``wrong`` mispredicted."""
    labels = list(labels)
    gold = [labels[i % len(labels)] for i in range(N)]
    predicted = [labels[(i + 1) % len(labels)] if i < wrong else g for i, g in enumerate(gold)]
    results(gold, predicted, labels, fingerprint=fingerprint).save(directory)
    write_jsonl(
        directory / "predictions.jsonl",
        [
            {"index": i, "gold": g, "predicted": p, "probabilities": {p: 0.9}}
            for i, (g, p) in enumerate(zip(gold, predicted, strict=True))
        ],
    )
    return directory


def edited_results(run: Path, edit) -> bytes:
    data = json.loads((run / "results.json").read_text())
    edit(data)
    return json.dumps(data).encode()


def assert_input_error(code: int, out: str, err: str, message: str) -> None:
    assert code == 2, (code, out, err)
    assert message in err, err
    assert err.count("error:") == 1 and "Traceback" not in out + err


@pytest.fixture(scope="module")
def shared_runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("runs")
    return write_run(folder / "new", wrong=5), write_run(folder / "main")


@pytest.fixture
def runs(
    shared_runs: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[Path, Path]:
    """A current run (5 of 100 wrong) and its baseline; tests that edit them restore them."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    return shared_runs


@contextmanager
def edited(path: Path, content: bytes) -> Iterator[None]:
    saved = path.read_bytes()
    path.write_bytes(content)
    try:
        yield
    finally:
        path.write_bytes(saved)


# --- rules: flags, config tables and Python go through one validation -----------------------

BAD_RULES = [
    # (kind, metric, threshold, message)
    ("min", "accuracy", 90, r"fractions in \[0, 1\].*did you mean accuracy=0.90"),
    ("min", "macro_f1", 85.5, r"did you mean macro_f1=0.85"),
    ("min", "accuracy", 1.5, "can never pass"),
    ("min", "recall[neg]", 2, "can never pass"),
    ("min", "accuracy", 0, "can never fail"),
    ("min", "accuracy", -0.2, "can never fail"),
    ("min", "log_loss", 0, "can never fail"),
    ("min", "probe.country.range", 0, "can never fail"),
    ("max", "ece", -1, "can never pass"),
    ("max", "log_loss", -0.5, "can never pass"),
    ("max", "accuracy", 1, "can never fail"),
    ("max", "ece", 90, r"did you mean ece=0.90"),
    ("max", "probe.country.flip_rate", 3, "can never fail"),
    ("max-drop", "accuracy", 1, "can never be exceeded"),
    ("max-drop", "accuracy", 5, r"can never be exceeded.*did you mean accuracy=0.05"),
    ("max-drop", "f1[pos]", 1.0, "can never be exceeded"),
    ("max-drop", "ece", 1, "can never be exceeded"),
    ("max-drop", "accuracy", -0.01, "must be >= 0"),
    ("max-drop", "log_loss", -1, "must be >= 0"),
    *[
        (kind, "accuracy", bad, "finite")
        for kind in ("min", "max", "max-drop")
        for bad in (math.nan, math.inf, -math.inf)
    ],
    ("min", "accuracy", "0.9", "must be a number"),
    ("min", "accuracy", True, "must be a number"),
    ("min", "accuracy", None, "must be a number"),
    ("min", "", 0.5, "non-empty string"),
    ("min", "   ", 0.5, "non-empty string"),
    ("min", "acc\x1b[31m", 0.5, "control characters"),
    ("min", "recall[a\nb]", 0.5, "control characters"),
    ("min", "x" * 5000, 0.5, "characters long"),
    ("minimum", "accuracy", 0.5, "unknown rule kind"),
]


@pytest.mark.parametrize(("kind", "metric", "threshold", "message"), BAD_RULES)
def test_bad_rules_are_refused_in_python_and_in_config_tables(
    kind, metric, threshold, message
) -> None:
    with pytest.raises(UsageError, match=message):
        Rule(kind, metric, threshold)
    with pytest.raises(UsageError, match=message):
        make_rule(kind, metric, threshold, where="--x")
    if kind in ("min", "max", "max-drop"):
        with pytest.raises(UsageError, match=message):
            check_gate(results(["neg"], ["neg"], ["neg", "pos"]), None, {kind: {metric: threshold}})


FLAG_RULES = [
    ("--min", "accuracy=90", "did you mean accuracy=0.90"),
    ("--min", "accuracy=1.01", "can never pass"),
    ("--min", "accuracy=0", "can never fail"),
    ("--max", "ece=-1", "can never pass"),
    ("--max", "ece=1", "can never fail"),
    ("--max-drop", "accuracy=1", "can never be exceeded"),
    ("--max-drop", "accuracy=-0.5", "must be >= 0"),
    ("--min", "accuracy=nan", "finite"),
    ("--min", "accuracy=inf", "finite"),
    ("--max", "ece=-inf", "finite"),
    ("--min", "accuracy=1e400", "finite"),
    ("--min", "accuracy=0x1", "is not a number"),
    ("--min", "accuracy=", "is not a number"),
    ("--min", "=0.9", "expects NAME=VALUE"),
    ("--min", "accuracy", "expects NAME=VALUE"),
    ("--min", "a" * 3000 + "=0.5", "characters long"),
    ("--min", "acc\x07uracy=0.5", "control characters"),
]


@pytest.mark.parametrize(("flag", "value", "message"), FLAG_RULES)
def test_bad_rule_flags_exit_2_before_anything_is_written(
    capsys, runs, flag: str, value: str, message: str
) -> None:
    new, main = runs
    code, out, err = run(
        capsys, "gate", str(new), "--baseline", str(main), flag, value, "--junit", "gate.xml"
    )
    assert_input_error(code, out, err, message)
    assert not Path("gate.xml").exists()


def test_the_90_percent_message_says_fraction_and_suggests_0_90(capsys, runs) -> None:
    code, out, err = run(capsys, "gate", str(runs[0]), "--min", "accuracy=90")
    assert_input_error(code, out, err, "metrics are fractions in [0, 1]")
    assert "accuracy=0.90" in err


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        ([Rule("min", "accuracy", 0.9), Rule("max", "accuracy", 0.8)], "can never both pass"),
        (["min accuracy=0.9"], "must be Rule objects"),
        ([("min", "accuracy", 0.9)], "must be Rule objects"),
        ({"min": {"accuracy": 0.5}, "max": {"accuracy": 0.4}}, "can never both pass"),
        ({"min": [0.9]}, "must be a table of METRIC = VALUE"),
        ({"min": {"accuracy": {"value": 0.9}}}, "must be a number"),
    ],
)
def test_rule_sets_that_cannot_pass_or_are_not_rules(rules, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        check_gate(results(["neg"], ["neg"], ["neg", "pos"]), None, rules)


def test_contradicting_flags_are_refused_not_silently_overridden(capsys, runs) -> None:
    with pytest.raises(UsageError, match="given twice"):
        merge_rules([], [Rule("min", "accuracy", 0.9), Rule("min", "accuracy", 0.8)])
    code, out, err = run(
        capsys, "gate", str(runs[0]), "--min", "accuracy=0.9", "--min", "accuracy=0.8"
    )
    assert_input_error(code, out, err, "given twice")
    code, out, err = run(
        capsys, "gate", str(runs[0]), "--min", "accuracy=0.9", "--max", "accuracy=0.5"
    )
    assert_input_error(code, out, err, "can never both pass")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--alpha", "nan"], "--alpha must be between 0 and 1"),
        (["--alpha", "0"], "--alpha must be between 0 and 1"),
        (["--alpha", "1"], "--alpha must be between 0 and 1"),
        (["--alpha", "-0.05"], "--alpha must be between 0 and 1"),
        (["--alpha", "inf"], "--alpha must be between 0 and 1"),
        (["--bootstrap", "0"], "--bootstrap must be between 1 and"),
        (["--bootstrap", "-5"], "--bootstrap must be between 1 and"),
        (["--bootstrap", "1000000000"], "--bootstrap must be between 1 and"),
        (["--seed", "-1"], "--seed must be a non-negative integer"),
    ],
)
def test_bad_test_options_exit_2(capsys, runs, args: list[str], message: str) -> None:
    new, main = runs
    code, out, err = run(
        capsys, "gate", str(new), "--baseline", str(main), "--max-drop", "accuracy=0.01", *args
    )
    assert_input_error(code, out, err, message)


@pytest.mark.parametrize(
    ("bootstrap", "alpha", "message"),
    [
        ("1", "0.05", "p-value is then 0.5, never below --alpha 0.05"),
        ("5", "0.05", "p-value is then 0.167, never below --alpha 0.05"),
        ("19", "0.05", "pass --bootstrap 20 or more"),
        ("50", "0.01", "p-value is then 0.0196, never below --alpha 0.01"),
        ("999", "0.001", "pass --bootstrap 1000 or more"),
    ],
)
def test_too_few_resamples_for_any_significant_drop_are_refused(
    capsys, runs, bootstrap: str, alpha: str, message: str
) -> None:
    new, main = runs  # 5 of 100 rows worse: macro-F1 drops 0.05, p = 0.0005 with 2000 resamples
    args = ["--baseline", str(main), "--max-drop", "macro_f1=0.01", "--alpha", alpha]
    code, out, err = run(capsys, "gate", str(new), *args, "--bootstrap", bootstrap)
    assert_input_error(code, out, err, message)  # was exit 0: "not significant", gate passed
    assert run(capsys, "gate", str(new), *args, "--bootstrap", bootstrap, "--strict")[0] == 1
    assert run(capsys, "gate", str(new), *args[:4], "--bootstrap", "2000")[0] == 1  # alpha 0.05
    accuracy = ["--baseline", str(main), "--max-drop", "accuracy=0.01", "--bootstrap", bootstrap]
    assert run(capsys, "gate", str(new), *accuracy)[0] != 2  # McNemar needs no resamples


def test_too_few_resamples_for_the_holm_corrected_ranking_are_refused(tmp_path: Path) -> None:
    from cardgen import compare_runs

    three = [write_run(tmp_path / str(wrong), wrong=wrong) for wrong in (0, 10, 20)]
    with pytest.raises(UsageError, match="Holm correction over 3 pairs.*--bootstrap 60 or more"):
        compare_runs(*three, by="macro_f1", n_bootstrap=59)
    compare_runs(*three, by="macro_f1", n_bootstrap=60)
    board = compare_runs(*three, by="macro_f1", n_bootstrap=2000)
    assert all(pair.significant for pair in board.pairs)


# --- config files -------------------------------------------------------------------------

BAD_CONFIGS = [
    ('tool = "cardgen"\n', "`tool` in"),
    ("tool = [1, 2]\n", "`tool` in"),
    ("tool = 3\n", "`tool` in"),
    ('[tool]\ncardgen = "gate"\n', "`tool.cardgen` in"),
    ("[tool]\ncardgen = [1]\n", "`tool.cardgen` in"),
    ("[tool.cardgen]\ngate = 0.9\n", "`tool.cardgen.gate` in"),
    ("[[tool.cardgen.gate]]\nmin = { accuracy = 0.9 }\n", "`tool.cardgen.gate` in"),
    ("[tool.cardgen.gate]\nmin = { accuracy = 90 }\n", "did you mean accuracy=0.90"),
    ("[tool.cardgen.gate]\nmin = { accuracy = 0 }\n", "can never fail"),
    ("[tool.cardgen.gate]\nmax = { ece = -1 }\n", "can never pass"),
    ("[tool.cardgen.gate]\nmax-drop = { accuracy = 1.0 }\n", "can never be exceeded"),
    ("[tool.cardgen.gate]\nmax-drop = { accuracy = -0.1 }\n", "must be >= 0"),
    ("[tool.cardgen.gate]\nmin = { accuracy = nan }\n", "finite"),
    ("[tool.cardgen.gate]\nmin = { accuracy = inf }\n", "finite"),
    ("[tool.cardgen.gate]\nmin = { accuracy = true }\n", "must be a number"),
    ("[tool.cardgen.gate]\nmin = { accuracy = 1979-05-27 }\n", "must be a number"),
    ("[tool.cardgen.gate]\nmin = [0.9]\n", "must be a table of METRIC = VALUE"),
    ("[tool.cardgen.gate]\nalpha = 2\n", "alpha must be a number between 0 and 1"),
    ("[tool.cardgen.gate]\nalpha = nan\n", "alpha must be a number between 0 and 1"),
    ("[tool.cardgen.gate]\nalpha = true\n", "alpha must be a number between 0 and 1"),
    ('[tool.cardgen.gate]\nalpha = "0.05"\n', "alpha must be a number between 0 and 1"),
    ("[tool.cardgen.gate]\nbaseline = 3\n", "baseline must be a path"),
    ('[tool.cardgen.gate]\nbaseline = ""\n', "baseline must be a path"),
    ('[tool.cardgen.gate]\nbaseline = "a\\u0000b"\n', "baseline must be a path"),
    ("[tool.cardgen.gate]\nstrict = 1\n", "strict must be true or false"),
    ("[tool.cardgen.gate]\nminn = { accuracy = 0.9 }\n", "unknown keys"),
    ("[tool.cardgen.gate\n", "not valid TOML"),
    ("x = " + "[" * 200 + "]" * 200 + "\n", "cannot read config file"),
]


@pytest.mark.parametrize(("text", "message"), BAD_CONFIGS)
def test_bad_config_tables_are_usage_errors(
    capsys, runs, tmp_path: Path, text: str, message: str
) -> None:
    config = tmp_path / "pyproject.toml"
    config.write_text(text)
    with pytest.raises(UsageError, match=message.replace("[", r"\[").replace("(", r"\(")):
        load_gate_config(directory=tmp_path)
    # found on its own in the current directory by the CLI
    code, out, err = run(capsys, "gate", str(runs[0]), "--min", "accuracy=0.5")
    assert_input_error(code, out, err, message)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"[tool.cardgen.gate]\nmin = { accuracy = 0.9 }\n\xff\xfe\n", "is not utf-8 text"),
        (None, "is a directory"),
    ],
)
def test_unreadable_config_files(tmp_path: Path, content: bytes | None, message: str) -> None:
    path = tmp_path / "gate.toml"
    if content is None:
        path.mkdir()
    else:
        path.write_bytes(content)
    with pytest.raises(UsageError, match=message):
        load_gate_config(path)


# --- the two runs: labels, data, rows and stored values -------------------------------------


def test_a_four_class_run_against_a_binary_baseline_is_an_input_error(
    capsys, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    new = write_run(tmp_path / "new", ["a", "b", "c", "d"])
    main = write_run(tmp_path / "main", ["a", "b"])
    with pytest.raises(
        LabelError, match=r"different labels \(current: a, b, c, d; baseline: a, b\)"
    ):
        check_gate(new, main, {"max-drop": {"accuracy": 0.01}})
    for extra in ([], ["--allow-different-data"]):
        code, out, err = run(
            capsys, "gate", str(new), "--baseline", str(main), "--max-drop", "accuracy=0.01", *extra
        )
        assert_input_error(code, out, err, "different labels")


def test_renamed_labels_are_an_input_error_even_with_min_rules_only(tmp_path: Path) -> None:
    new = write_run(tmp_path / "new", ["negative", "positive"])
    main = write_run(tmp_path / "main", ["neg", "pos"])
    with pytest.raises(LabelError, match="different labels"):
        check_gate(new, main, {"min": {"accuracy": 0.5}})


def test_different_data_needs_the_flag_and_every_report_says_so(
    capsys, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    new = write_run(tmp_path / "new", wrong=2, fingerprint="sha256:" + "b" * 64)
    main = write_run(tmp_path / "main")
    args = ["gate", str(new), "--baseline", str(main), "--max-drop", "accuracy=0.05"]
    code, out, err = run(capsys, *args, "--junit", "gate.xml")
    assert_input_error(code, out, err, "--allow-different-data")
    assert not Path("gate.xml").exists() and not summary.exists()
    code, out, err = run(capsys, *args, "--junit", "gate.xml", "--allow-different-data")
    assert code == 0, err
    assert "different data" in out and "fingerprints differ" in err
    suite = ElementTree.parse("gate.xml").getroot().find("testsuite")
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert props["different_data"] == "true" and "different data" in props["comparison"]
    assert "Different data" in summary.read_text()
    report = check_gate(new, main, {"max-drop": {"accuracy": 0.05}}, allow_different_data=True)
    assert report.different_data and all(o.p_value is None for o in report.outcomes)


@pytest.mark.parametrize(
    ("edit", "error", "message"),
    [
        (lambda d: d["dataset"].update(num_rows=0), ResultsError, "no evaluated rows"),
        (
            lambda d: d["confusion_matrix"].update(counts=[[0, 0], [0, 0]]),
            ResultsError,
            "no evaluated rows",
        ),
        (lambda d: d["dataset"].update(num_rows=-3), ResultsError, "no evaluated rows"),
        (lambda d: d["dataset"].update(num_rows="100"), ResultsError, "no evaluated rows"),
        (
            lambda d: d["confusion_matrix"].update(counts=[[1, 2]]),
            ResultsError,
            "not a 2x2 table of counts",
        ),
        (
            lambda d: d["confusion_matrix"].update(counts=[[1, "2"], [3, 4]]),
            ResultsError,
            "not a 2x2 table of counts",
        ),
        (
            lambda d: d["confusion_matrix"].update(counts=[[1, -2], [3, 4]]),
            ResultsError,
            "not a 2x2 table of counts",
        ),
        (lambda d: d.update(labels=[]), ResultsError, "no usable label list"),
        (lambda d: d.update(labels=[1, 2]), ResultsError, "no usable label list"),
        (lambda d: d["metrics"]["accuracy"].update(value="high"), ResultsError, "not a finite"),
        (lambda d: d["metrics"]["accuracy"].update(value=None), ResultsError, "not a finite"),
        (lambda d: d["metrics"]["accuracy"].update(value=True), ResultsError, "not a finite"),
        (lambda d: d["metrics"]["accuracy"].update(value=1.5), ResultsError, "outside its range"),
        (lambda d: d["metrics"]["accuracy"].update(value=-0.1), ResultsError, "outside its range"),
        (
            lambda d: d["metrics"]["accuracy"].update(ci_low="x", ci_high=1),
            ResultsError,
            "confidence interval",
        ),
        (lambda d: d["per_class"][0].update(recall="0.9"), ResultsError, "not a finite"),
    ],
)
def test_runs_a_verdict_cannot_rest_on_exit_2(
    capsys, runs, edit, error: type[CardgenError], message: str
) -> None:
    new, main = runs
    # results.load_results refuses most of these itself; the gate refuses the rest
    message = f"{message}|results file is malformed"
    rules = {"min": {"accuracy": 0.5, "recall[neg]": 0.5}, "max-drop": {"accuracy": 0.1}}
    with (
        edited(new / "results.json", edited_results(new, edit)),
        pytest.raises(error, match=message),
    ):
        check_gate(new, main, rules)
    with edited(main / "results.json", edited_results(main, edit)):
        code, out, err = run(
            capsys,
            "gate",
            str(new),
            "--baseline",
            str(main),
            "--min",
            "accuracy=0.5",
            "--min",
            "recall[neg]=0.5",
            "--max-drop",
            "accuracy=0.1",
        )
    assert code == 2 and err.count("error:") == 1 and "Traceback" not in out + err
    assert re.search(message, " ".join(err.split())), err


def _set(obj, name: str, value) -> None:
    setattr(obj, name, value)


PYTHON_RESULTS = [
    (lambda r: _set(r.metrics["accuracy"], "value", math.nan), "not a finite number"),
    (lambda r: _set(r.metrics["accuracy"], "value", math.inf), "not a finite number"),
    (lambda r: _set(r.metrics["accuracy"], "value", "0.9"), "not a finite number"),
    (lambda r: _set(r.metrics["accuracy"], "value", 1.2), "outside its range"),
    (lambda r: _set(r.metrics["accuracy"], "ci_low", math.nan), "confidence interval"),
    (lambda r: _set(r.per_class[0], "recall", -1.0), "outside its range"),
    (lambda r: _set(r.dataset, "num_rows", 0), "no evaluated rows"),
    (lambda r: _set(r.confusion_matrix, "counts", [[0, 0], [0, 0]]), "no evaluated rows"),
    (lambda r: _set(r.confusion_matrix, "counts", [[1, 1]]), "not a 2x2 table"),
    (lambda r: _set(r.confusion_matrix, "counts", [[1, True], [1, 1]]), "not a 2x2 table"),
    (lambda r: _set(r, "labels", []), "no usable label list"),
    (lambda r: _set(r, "labels", "neg,pos"), "no usable label list"),
]


@pytest.mark.parametrize(("edit", "message"), PYTHON_RESULTS)
def test_python_results_objects_a_verdict_cannot_rest_on(edit, message: str) -> None:
    for side in ("current", "baseline"):
        current = results(["neg", "pos"], ["neg", "pos"], ["neg", "pos"])
        baseline = results(["neg", "pos"], ["neg", "pos"], ["neg", "pos"])
        edit(current if side == "current" else baseline)
        rules = {"min": {"accuracy": 0.5, "recall[neg]": 0.5}, "max-drop": {"accuracy": 0.1}}
        with pytest.raises(ResultsError, match=message):
            check_gate(current, baseline, rules)


@pytest.mark.parametrize(
    ("current", "baseline", "message"),
    [
        (b"\x00", None, "must be EvalResults or a path"),
        ("", None, "must be a path"),
        (123, None, "must be EvalResults or a path"),
        ("run\x00dir", None, "must be a path"),
        ("new", "main\x00", "must be a path"),
        ("new", "README.md\x00", "must be a path"),
    ],
)
def test_run_arguments_that_are_no_paths(runs, current, baseline, message: str) -> None:
    current = str(runs[0]) if current == "new" else current
    with pytest.raises(UsageError, match=message):
        check_gate(current, baseline, {"min": {"accuracy": 0.5}})


# --- a card as the baseline ---------------------------------------------------------------

CARD = """\
---
model-index:
- name: m
  results:
  - task: {type: text-classification}
    dataset: {name: d, type: d}
    metrics:
    - {type: accuracy, value: 0.99}
---
- **Fingerprint of texts and labels:** `%s`

### Per-class results

| label | precision | recall | F1 | support |
|---|---:|---:|---:|---:|
%s| **macro avg** | 1.0000 | 1.0000 | 1.0000 | 100 |
"""


@pytest.mark.parametrize(
    ("labels", "fingerprint", "error", "message"),
    [
        (["a", "b", "c", "d"], FINGERPRINT, LabelError, "different labels"),
        (["neg"], FINGERPRINT, LabelError, "different labels"),
        (["neg", "pos", "neutral"], FINGERPRINT, LabelError, "different labels"),
        (["neg", "pos"], "sha256:" + "c" * 64, UsageError, "--allow-different-data"),
    ],
)
def test_a_card_baseline_gets_the_same_checks_where_it_shows_labels_and_data(
    capsys, runs, tmp_path: Path, labels, fingerprint, error, message
) -> None:
    rows = "".join(f"| {label} | 1.0000 | 1.0000 | 1.0000 | 50 |\n" for label in labels)
    card = tmp_path / "README.md"
    card.write_text(CARD % (fingerprint, rows))
    with pytest.raises(error, match=message):
        check_gate(runs[0], card, {"max-drop": {"accuracy": 0.5}})
    code, out, err = run(
        capsys, "gate", str(runs[0]), "--baseline", str(card), "--max-drop", "accuracy=0.5"
    )
    assert_input_error(code, out, err, message)


def test_a_card_with_the_same_labels_or_none_shown_is_a_baseline(runs, tmp_path: Path) -> None:
    card = tmp_path / "README.md"
    rows = "| neg | 1.0000 | 1.0000 | 1.0000 | 50 |\n| pos | 1.0000 | 1.0000 | 1.0000 | 50 |\n"
    card.write_text(CARD % (FINGERPRINT, rows))
    report = check_gate(runs[0], card, {"max-drop": {"accuracy": 0.5}})
    assert report.passed and not report.different_data
    card.write_text(CARD.split("- **Fingerprint")[0])  # metadata only: nothing to compare
    assert check_gate(runs[0], card, {"max-drop": {"accuracy": 0.5}}).passed


def test_a_card_baseline_value_outside_the_metric_range_is_refused(runs, tmp_path: Path) -> None:
    card = tmp_path / "README.md"
    card.write_text(CARD.replace("value: 0.99", "value: 99").split("- **Fingerprint")[0])
    with pytest.raises(ResultsError, match="outside its range"):
        check_gate(runs[0], card, {"max-drop": {"accuracy": 0.5}})


# --- predictions files --------------------------------------------------------------------

BAD_PREDICTIONS = [
    ("{not json\n", "predictions.jsonl"),
    ('{"index": 0, "gold": "neg"\n', "predictions.jsonl"),
    ("[1, 2]\n", "not a prediction|is not an object"),
    ("5\n", "not a prediction|is not an object"),
    ('"neg"\n', "not a prediction|is not an object"),
    ("null\n", "not a prediction|is not an object"),
    ('{"index": 0, "gold": "neg", "predicted": "neg"}\n', "not a prediction"),
    *[
        ("{" + row + ', "probabilities": {}}\n', message)
        for row, message in [
            ('"gold": "neg", "predicted": "neg"', "no 'index'"),
            ('"index": 0, "predicted": "neg"', "no 'gold'"),
            ('"index": 0, "gold": "neg"', "no 'predicted'"),
            ('"index": "0", "gold": "neg", "predicted": "neg"', "not an integer"),
            ('"index": 0.5, "gold": "neg", "predicted": "neg"', "not an integer"),
            ('"index": true, "gold": "neg", "predicted": "neg"', "not an integer"),
            ('"index": [0], "gold": "neg", "predicted": "neg"', "not an integer"),
            ('"index": null, "gold": "neg", "predicted": "neg"', "not an integer"),
            ('"index": 0, "gold": 0, "predicted": "neg"', "not a label"),
            ('"index": 0, "gold": "neg", "predicted": ["neg"]', "not a label"),
            ('"index": 0, "gold": "neg", "predicted": {"a": 1}', "not a label"),
            ('"index": 0, "gold": null, "predicted": "neg"', "not a label"),
        ]
    ],
    ('{"index": 0, "gold": "neg", "predicted": "neg", "probabilities": {}}\n' * 2, "appears twice"),
    ('{"index": 0, "gold": "neg", "predicted": "neg", "probabilities": {}}\n\n' * 2, "twice in line 3"),
    *[
        ("{" + row + ', "probabilities": {}}\n', message)
        for row, message in [
            ('"index": 0, "gold": "maybe", "predicted": "neg"', "not one of the run's labels"),
            ('"index": 0, "gold": "neg", "predicted": "NEG"', "not one of the run's labels"),
            ('"index": 0, "gold": "neg", "predicted": ""', "not one of the run's labels"),
            ('"index": 18446744073709551616, "gold": "neg", "predicted": "neg"', "64-bit range"),
            ('"index": -9223372036854775809, "gold": "neg", "predicted": "neg"', "64-bit range"),
        ]
    ],
    ("[" * 100_000 + "\n", "predictions.jsonl"),
]


@pytest.mark.parametrize(("text", "message"), BAD_PREDICTIONS)
def test_malformed_predictions_exit_2(capsys, runs, text: str, message: str) -> None:
    new, main = runs
    with (
        edited(new / "predictions.jsonl", text.encode()),
        pytest.raises(ResultsError, match=message),
    ):
        check_gate(new, main, {"max-drop": {"accuracy": 0.01}})
    with edited(main / "predictions.jsonl", text.encode()):
        code, out, err = run(
            capsys, "gate", str(new), "--baseline", str(main), "--max-drop", "accuracy=0.01"
        )
    assert code == 2 and err.count("error:") == 1 and "Traceback" not in out + err
    assert re.search(message, " ".join(err.split())), err


def test_predictions_that_are_not_utf8_exit_2(capsys, runs) -> None:
    new, main = runs
    with edited(new / "predictions.jsonl", b'{"index": 0, "gold": "\xff"}\n'):
        code, out, err = run(
            capsys, "gate", str(new), "--baseline", str(main), "--max-drop", "accuracy=0.01"
        )
    assert_input_error(code, out, err, "predictions.jsonl")


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ({"index": 1, "gold": "maybe", "predicted": "neg"}, "'gold' is 'maybe', not one of"),
        ({"index": 1, "gold": "pos", "predicted": "POS"}, "'predicted' is 'POS', not one of"),
        ({"index": 2**63, "gold": "pos", "predicted": "pos"}, "out of the 64-bit range"),
        ({"index": 0, "gold": "pos", "predicted": "pos"}, "'index' 0 appears twice"),
    ],
)
def test_passed_predictions_are_checked_like_a_file(row: dict, message: str) -> None:
    current = results(["neg", "pos"], ["neg", "pos"], ["neg", "pos"])
    rows = [{"index": 0, "gold": "neg", "predicted": "neg"}, row]
    with pytest.raises(ResultsError, match=f"{message}.* in row 2 of the current results"):
        check_gate(current, None, {"min": {"accuracy": 0.5}}, current_predictions=rows)


def test_passed_predictions_that_are_no_list_are_refused() -> None:
    current = results(["neg", "pos"], ["neg", "pos"], ["neg", "pos"])
    for bad in ("rows", 5, {"index": 0}):
        with pytest.raises(ResultsError, match="must be a list of rows"):
            check_gate(current, None, {"min": {"accuracy": 0.5}}, current_predictions=bad)


# --- output locations ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("junit", "message"),
    [
        (".", "is a directory"),
        ("reports", "is a directory"),
        ("blocker/gate.xml", "is not a directory"),
        ("blocker/deeper/gate.xml", "is not a directory"),
        ("/proc/cardgen-gate.xml", "cannot write --junit"),
        ("x" * 300 + ".xml", "cannot write --junit"),
    ],
)
def test_unusable_junit_paths_exit_2_before_any_work(
    capsys, runs, tmp_path: Path, junit: str, message: str
) -> None:
    (tmp_path / "reports").mkdir()
    (tmp_path / "blocker").write_text("a file")
    # the run is missing too: the --junit error must come first, before any work
    code, out, err = run(capsys, "gate", "missing-run", "--min", "accuracy=0.5", "--junit", junit)
    assert_input_error(code, out, err, message)
    code, out, err = run(capsys, "gate", str(runs[0]), "--min", "accuracy=0.5", "--junit", junit)
    assert_input_error(code, out, err, message)


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
def test_a_read_only_junit_folder_exits_2(capsys, runs, tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        code, out, err = run(
            capsys, "gate", str(runs[0]), "--min", "accuracy=0.5", "--junit", str(folder / "g.xml")
        )
    finally:
        folder.chmod(0o700)
    assert_input_error(code, out, err, "cannot write --junit")


def test_a_step_summary_with_non_utf8_bytes_is_appended_to_untouched(
    capsys, runs, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    summary = tmp_path / "summary.md"
    earlier = b"earlier step \xff\xfe\x80 latin-1: caf\xe9\n"
    summary.write_bytes(earlier)
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    code, _, err = run(capsys, "gate", str(runs[0]), "--min", "accuracy=0.5")
    assert code == 0, err
    data = summary.read_bytes()
    assert data.startswith(earlier) and b"cardgen gate passed" in data[len(earlier) :]
    data[len(earlier) :].decode("utf-8")


@pytest.mark.parametrize("where", ["directory", "under a file", "missing folder", "nul"])
def test_an_unwritable_step_summary_is_a_warning_not_a_crash(
    capsys, runs, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    (tmp_path / "dir").mkdir()
    (tmp_path / "file").write_text("x")
    path = {
        "directory": tmp_path / "dir",
        "under a file": tmp_path / "file" / "summary.md",
        "missing folder": tmp_path / "nowhere" / "summary.md",
        "nul": "summary\x00.md",
    }[where]
    with pytest.raises(OutputError):
        append_step_summary(check_gate(runs[0], None, {"min": {"accuracy": 0.5}}), path)
    if where == "nul":
        return  # an environment variable cannot hold NUL
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(path))
    for rule, expected in (("accuracy=0.5", 0), ("accuracy=0.99", 1)):
        code, out, err = run(capsys, "gate", str(runs[0]), "--min", rule)
        assert code == expected, err
        assert "warning:" in err and "step summary" in err and "Traceback" not in out + err


def test_a_fifo_step_summary_does_not_hang(
    capsys, runs, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(fifo))
    code, _, err = run(capsys, "gate", str(runs[0]), "--min", "accuracy=0.5")
    assert code == 0 and "not a regular file" in err


# --- strings from the data in the reports -------------------------------------------------

HOSTILE_LABELS = [
    "a|b",
    "<script>alert(1)</script>",
    "line\nbreak",
    "tab\there",
    "back`tick``s",
    "[x](https://evil.example)",
    "![img](https://evil.example/i.png)",
    "nul\x00byte",
    "esc\x1b[31mred",
    "bell\x07",
    "\ufffe\uffff",
    "&amp; &lt;",
    "]]>",
    "*bold* _it_",
]


def test_hostile_labels_give_valid_xml_and_inert_markdown(tmp_path: Path) -> None:
    labels = HOSTILE_LABELS
    new = write_run(tmp_path / "new", labels, wrong=20)
    main = write_run(tmp_path / "main", labels)
    report = check_gate(
        new,
        main,
        {
            "max-drop": {"accuracy": 0.01, "macro_f1": 0.0},
            "min": {f"recall[{label}]": 0.5 for label in labels if label.isprintable()},
        },
    )
    assert not report.passed
    root = ElementTree.fromstring(junit_xml(report).encode())
    assert len(root.find("testsuite").findall("testcase")) == len(report.outcomes)
    text = summary_markdown(report)
    assert "<script>" not in text and "](https://evil" not in text
    table = [line for line in text.splitlines() if line.startswith("| ")]
    assert len(table) == 1 + len(report.outcomes)
    assert all(
        line.count(" | ") - line.count("\\| ") == len(table[0].split(" | ")) - 1 for line in table
    )
    for line in text.splitlines():
        assert "\x00" not in line and "\x1b" not in line


def test_hostile_run_paths_in_the_summary_stay_inside_code_spans(tmp_path: Path) -> None:
    run_dir = write_run(tmp_path / "odd`name | <b>x</b>")
    report = check_gate(run_dir, None, {"min": {"accuracy": 0.5}})
    text = summary_markdown(report)
    assert "``" in text and "<b>" in text.split("\n")[2]  # inside a double-backtick span
    ElementTree.fromstring(junit_xml(report).encode())


def test_exit_1_only_for_a_failed_rule(capsys, runs) -> None:
    new, main = runs
    code, _, _ = run(capsys, "gate", str(new), "--baseline", str(main), "--min", "accuracy=0.99")
    assert code == 1
    code, _, _ = run(capsys, "gate", str(new), "--baseline", str(main), "--min", "accuracy=0.5")
    assert code == 0


@pytest.mark.parametrize(
    "labels",
    [
        ["neg", "pos"],
        ["a|b", "*x*", "1. y", "_under_", "[link](x)", "back`tick", "<b>", "tab\tx"],
        ["zero\u200bwidth", "Sci/Tech", "talk.religion.misc", "  spaced  out "],
    ],
)
def test_a_rendered_card_is_a_baseline_for_its_own_labels_only(
    tmp_path: Path, labels: list[str]
) -> None:
    from cardgen.cards.render import render_card

    gold = [labels[i % len(labels)] for i in range(N)]
    run_dir = tmp_path / "run"
    results(gold, gold, labels).save(run_dir)
    render_card(run_dir / "results.json", output=tmp_path / "README.md")
    report = check_gate(run_dir, tmp_path / "README.md", {"max-drop": {"accuracy": 0.01}})
    assert report.passed and not report.different_data
    other = [*labels[:-1], "something else"]
    other_dir = tmp_path / "other"
    results([other[i % len(other)] for i in range(N)], [other[0]] * N, other).save(other_dir)
    with pytest.raises(LabelError, match="different labels"):
        check_gate(other_dir, tmp_path / "README.md", {"max-drop": {"accuracy": 0.01}})
