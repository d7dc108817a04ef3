"""What differs between runs (results/settings.py), at the opening of compare and gate reports."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import pytest
from conftest import make_results, save_run
from conftest import run_cli as run
from rich.console import Console

import cardgen
import cardgen.gate
from cardgen import compare_runs
from cardgen.compare.report import comparison_html, comparison_markdown
from cardgen.display.tables import differences_table
from cardgen.gate import check_gate, summary_markdown
from cardgen.gate.report import differences_markdown
from cardgen.results.schema import load_results
from cardgen.results.settings import differences_line, setting_differences
from cardgen.results.types import LabelDetail, MultiLabelResults


def test_identical_settings_differ_in_nothing() -> None:
    results = make_results()
    assert setting_differences([results, copy.deepcopy(results)]) == []
    assert differences_line([]) is None


def test_each_setting_is_found_with_what_it_can_explain() -> None:
    a = make_results()
    b = copy.deepcopy(a)
    assert a.timing is not None and b.timing is not None
    b.model.max_length = b.timing.max_length = 8
    b.timing.truncated = 150
    b.timing.dtype = "bfloat16"
    b.seed = 7
    b.environment["transformers"] = "5.0.0"
    b.environment["python"] = "3.12.1"
    b.label_mapping.strategy = "index"
    found = {d.setting: d for d in setting_differences([a, b])}
    assert list(found) == [
        "max length",
        "truncated rows",
        "dtype",
        "label mapping",
        "seed",
        "python",
        "transformers",
    ]
    assert found["max length"].values == ("128", "8") and found["max length"].explains
    assert found["truncated rows"].values == ("2 of 200", "150 of 200")
    assert found["dtype"].values == ("float32", "bfloat16") and found["dtype"].explains
    assert found["transformers"].values == ("4.99.0", "5.0.0") and found["transformers"].explains
    assert not found["seed"].explains and not found["python"].explains
    assert found["label mapping"].values[1].startswith("by index")
    line = differences_line(list(found.values()))
    assert line is not None and line.endswith(
        "can explain a metric change: max length, truncated rows, dtype, label mapping, "
        "transformers."
    )
    only_seed = differences_line([found["seed"]])
    assert only_seed == "The runs differ in seed; it cannot explain a metric change."
    both = differences_line([found["seed"], found["python"]])
    assert both == "The runs differ in seed, python; none of them can explain a metric change."


def test_unknown_settings_are_not_differences() -> None:
    """An older run without timing cannot be said to differ in batch size, dtype or device."""
    a = make_results()
    b = copy.deepcopy(a)
    b.timing = None
    b.model.weights_hash = None
    assert setting_differences([a, b]) == []
    c = copy.deepcopy(a)
    assert c.timing is not None
    c.timing.batch_size = 8
    found = setting_differences([a, b, c])
    assert [(d.setting, d.values) for d in found] == [("batch size", ("64", None, "8"))]


def test_a_model_under_another_name_with_the_same_weights_cannot_explain() -> None:
    a = make_results()
    b = copy.deepcopy(a)
    b.model.id = "/elsewhere/tiny-sentiment"
    (found,) = setting_differences([a, b])
    assert (found.setting, found.explains) == ("model", False)
    assert found.effect == "a name only: the weights hash is the same"
    b.model.weights_hash = "sha256:" + "1" * 64
    found = {d.setting: d for d in setting_differences([a, b])}
    assert found["model"].explains and found["model weights"].explains


def test_the_terminal_table_shows_hostile_values_as_text() -> None:
    a = make_results()
    b = copy.deepcopy(a)
    b.model.revision = "[bold red]x[/] \x1b[31m" + "y" * 150
    console = Console(width=80, record=True)
    console.print(differences_table(setting_differences([a, b]), ["A", "B"]))
    text = console.export_text()
    assert "\x1b" not in text  # the escape is shown as \x1b, not sent to the terminal
    assert "[bold red]x[/]" in text and "\\x1b" in text  # markup and escapes as text
    assert sum(len(run) for run in re.findall("y{2,}", text)) == 150  # nothing cut


def test_multi_label_thresholds_and_weights_differ() -> None:
    a, b = make_results(), make_results()
    b.model.weights_hash = "sha256:" + "0" * 64
    for results, limit in ((a, 0.5), (b, 0.3)):
        details = [LabelDetail(label, limit, 0, 0, 0, 200) for label in results.labels]
        results.multilabel = MultiLabelResults("default", details)
    found = {d.setting: d for d in setting_differences([a, b])}
    assert found["model weights"].values == ("sha256:feed", "sha256:000000000000")
    assert found["thresholds"].values == (
        "default: 0.5 for every label",
        "default: 0.3 for every label",
    )
    assert found["thresholds"].explains


@pytest.fixture
def length_runs(max_length_runs: list[Path]) -> tuple[Path, Path]:
    """The tiny model on the same data at its own max length and cut to 6 tokens."""
    return max_length_runs[0], max_length_runs[2]


def test_compare_of_runs_differing_only_in_max_length_says_so(length_runs, capsys) -> None:
    full, short = length_runs
    results = load_results(short)
    assert results.timing is not None and results.timing.truncated > 0
    comparison = compare_runs(full, short, n_bootstrap=50)
    found = {d.setting: d for d in comparison.differences}
    assert list(found) == ["max length", "truncated rows"]
    assert found["max length"].values[1] == "6" and found["max length"].explains
    assert found["truncated rows"].values == (
        f"0 of {results.dataset.num_rows}",
        f"{results.timing.truncated} of {results.dataset.num_rows}",
    )
    report = comparison_markdown(comparison)
    opening = report[: report.index("## Metrics")]
    assert "## What differs between the runs" in opening
    assert "can explain a metric change: max length, truncated rows." in opening
    assert "| max length | " in opening and "| **yes**: a shorter limit" in opening
    assert "What differs" in comparison_html(comparison)
    code, out, err = run(capsys, "compare", str(full), str(short), "--bootstrap", "50")
    assert code == 0, err
    assert out.index("what differs between the runs") < out.index("paired on")
    assert "can explain a metric change: max length, truncated rows." in " ".join(out.split())


def test_gate_opens_with_the_same_differences(
    length_runs, tmp_path: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    full, short = length_runs
    report = check_gate(short, full, {"max-drop": {"accuracy": 0.5}}, n_bootstrap=50)
    assert report.differences == compare_runs(full, short, n_bootstrap=50).differences
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    code, out, err = run(
        capsys, "gate", str(short), "--baseline", str(full), "--max-drop", "accuracy=0.5"
    )
    assert code == 0, err
    assert out.index("what differs between the runs") < out.index("gate rules")
    lines = summary.read_text().splitlines()
    assert lines[0].startswith("### ✅ cardgen gate passed")
    opening = "\n".join(lines[: lines.index("| " + " | ".join(cardgen.gate.COLUMNS) + " |")])
    assert "**What differs between the runs.** The runs differ in max length, truncated rows" in (
        opening
    )
    assert re.search(r"^\| max length \| \d+ \| 6 \| \*\*yes\*\*: a shorter limit", opening, re.M)
    assert "\n".join(differences_markdown(report.differences)) in summary.read_text()


def test_nothing_differs_says_nothing(length_runs, tmp_path: Path, capsys) -> None:
    full, _ = length_runs
    comparison = compare_runs(full, full, n_bootstrap=20)
    assert comparison.differences == []
    assert "What differs" not in comparison_markdown(comparison)
    report = check_gate(full, full, {"max-drop": {"accuracy": 0.01}}, n_bootstrap=20)
    assert report.differences == [] and "What differs" not in summary_markdown(report)
    code, out, _ = run(
        capsys, "gate", str(full), "--baseline", str(full), "--max-drop", "accuracy=0.01"
    )
    assert code == 0 and "what differs" not in out


def test_hostile_settings_are_escaped(tmp_path: Path) -> None:
    hostile = "<img src=x onerror=alert(1)>|[x](javascript:y)"
    a, b = make_results(), make_results()
    b.model.revision = hostile
    a.environment[hostile], b.environment[hostile] = "0.9", "1.0"
    b.environment["torch"] = "2.0 | <script>"
    a.environment["torch"] = "1.0"
    base, current = save_run(a, tmp_path / "a"), save_run(b, tmp_path / "b")
    report = check_gate(current, base, {"max-drop": {"accuracy": 0.5}}, n_bootstrap=10)
    summary = summary_markdown(report)
    rows = [line for line in summary.splitlines() if re.search(r"\| (\*\*yes\*\*|no): ", line)]
    assert len(rows) == 3  # model revision, torch and the library with the hostile name
    for line in rows:
        assert len(re.findall(r"(?<!\\)\|", line)) == 5, line
    assert "<img" not in summary and "<script" not in summary and "](javascript" not in summary
    comparison = compare_runs(base, current)
    page = comparison_html(comparison)
    assert "<img" not in page and "<script" not in page and 'href="javascript' not in page
    lines = comparison_markdown(comparison).splitlines()
    table = [line for line in lines if line.startswith("| model revision")]
    assert len(table) == 1 and len(re.findall(r"(?<!\\)\|", table[0])) == 5
    assert "\\<img" in comparison_markdown(comparison)
