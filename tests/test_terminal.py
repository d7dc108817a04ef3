"""What the CLI prints where no terminal reads it (CI logs, ``nohup``, ``| tee``): whole rows,
whole confidence intervals, nothing cut with an ellipsis; ``COLUMNS``, when set, is the width.

``run_cli`` captures stdout into a buffer, which is not a terminal, as a pipe is not.
"""

from __future__ import annotations

import io
import re
import sys
from pathlib import Path

import pytest
from conftest import run_cli, write_jsonl

from cardgen.cli._app import UNBOUNDED_WIDTH, CliConsole

SOURCE = " ".join(["the regional newswire service of the northern provinces"] * 3)  # long
LONG_RULE = f"min slice.source[{SOURCE}].accuracy=0.1"
CI = re.compile(r"\[[-+]?\d\.\d+, ?[-+]?\d\.\d+\]")


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory, sentiment_rows: list[dict]) -> Path:
    rows = [{**r, "source": SOURCE if i % 2 else "wire"} for i, r in enumerate(sentiment_rows)]
    return write_jsonl(tmp_path_factory.mktemp("data") / "sourced.jsonl", rows)


@pytest.fixture(autouse=True)
def _no_columns(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COLUMNS", raising=False)


def evaluate(capsys, model: Path, data: Path, out: Path, *extra: str) -> str:
    code, stdout, err = run_cli(
        capsys, "evaluate", "--model", str(model), "--dataset", str(data), "--output-dir",
        str(out), "--slice-by", "source", "--bootstrap", "50", "--no-progress", *extra,
    )  # fmt: skip
    assert code == 0, err
    return stdout


def assert_whole_rows(out: str) -> None:
    """No cell cut with an ellipsis, no interval split over two lines, no row continued.

    (Texts of examples are excerpts by design: ``... it wa… (p=0.97)``, ``... filmed in fr…``.)"""
    for line in out.splitlines():
        assert not re.search(r"\w…(?! \(p=|\s*$)", line), line
        assert line.count("[") == line.count("]"), line
        assert not re.match(r"│ +│", line), line  # a wrapped row: its first cell is empty


def assert_width(out: str, columns: int) -> None:
    assert max(len(line) for line in out.splitlines()) <= columns


def test_evaluate_tables_keep_rows_whole_without_a_terminal(
    capsys, tiny_model: Path, data: Path, tmp_path: Path
) -> None:
    out = evaluate(capsys, tiny_model, data, tmp_path / "run", "--probe", "country")
    assert_whole_rows(out)
    for title in ("per class", "slices by source", "bias probes", "most confused pairs"):
        assert title in out
    assert any(SOURCE in line and CI.search(line) for line in out.splitlines())
    assert len(CI.findall(out)) >= 10  # headline metrics, slices, probe range: all whole
    assert max(len(line) for line in out.splitlines()) > 200  # wider than any terminal


def test_columns_is_the_width_when_set(
    capsys, tiny_model: Path, data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    out = evaluate(capsys, tiny_model, data, tmp_path / "wide")
    assert_width(out, 200)
    assert_whole_rows(out)
    for line in out.splitlines():  # at 200 columns the long value wraps, the CIs beside it don't
        if line.startswith("│ wire") or line.startswith("│ the regional"):
            assert len(CI.findall(line)) == 2, line
    monkeypatch.setenv("COLUMNS", "60")
    out = evaluate(capsys, tiny_model, data, tmp_path / "narrow")
    assert_width(out, 60)
    assert "slices by source" in out


def test_probe_tables_keep_names_and_gaps_whole(capsys, tiny_model: Path, tmp_path: Path) -> None:
    code, out, err = run_cli(
        capsys, "probe", "--model", str(tiny_model), "--probe", "country,nationality",
        "--bootstrap", "50", "--no-progress", "--output-dir", str(tmp_path),
    )  # fmt: skip
    assert code == 0, err
    assert_whole_rows(out)
    rows = [line for line in out.splitlines() if line.startswith(("│ country", "│ nationality"))]
    assert len(rows) == 2
    for row in rows:  # the range with its CI and the group gap with both group names
        assert CI.search(row) and re.search(r"\d\.\d{3} \w+<\w+", row), row


@pytest.fixture(scope="module")
def run_pair(tmp_path_factory: pytest.TempPathFactory, tiny_model: Path, data: Path):
    from cardgen import evaluate as run_evaluation

    base = tmp_path_factory.mktemp("runs")
    for name, length in (("a", 64), ("b", 8)):
        run_evaluation(
            str(tiny_model), str(data), output_dir=base / name, slice_by=["source"],
            n_bootstrap=50, progress=False, max_length=length,
        )  # fmt: skip
    return base / "a", base / "b"


def gate(capsys, run_pair, *extra: str) -> str:
    a, b = run_pair
    code, out, err = run_cli(
        capsys, "gate", str(b), "--baseline", str(a), "--min", "accuracy=0.1",
        "--max-drop", "f1[positive]=0.5", "--min", LONG_RULE.removeprefix("min "), *extra,
    )  # fmt: skip
    assert code == 0, err
    return out


def test_gate_rows_are_whole_and_columns_is_honoured(
    capsys, run_pair, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = gate(capsys, run_pair)
    assert_whole_rows(out)
    for rule in ("min accuracy=0.1", "max-drop f1[positive]=0.5", LONG_RULE):
        assert re.search(rf"^pass +{re.escape(rule)} ", out, re.M), rule
    assert re.search(r"max-drop f1\[positive\]=0.5 .*\[[-+]\d\.\d{3},[-+]\d\.\d{3}\]", out)
    monkeypatch.setenv("COLUMNS", "200")
    assert_width(gate(capsys, run_pair), 200)
    monkeypatch.setenv("COLUMNS", "60")
    assert_width(gate(capsys, run_pair), 60)


def test_compare_rows_are_whole_and_columns_is_honoured(
    capsys, run_pair, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = run_pair
    code, out, err = run_cli(capsys, "compare", str(a), str(b), "--bootstrap", "50")
    assert code == 0, err
    assert_whole_rows(out)
    assert re.search(r"^accuracy .*\[[-+]\d\.\d{3},[-+]\d\.\d{3}\]", out, re.M)
    for columns in (200, 60):
        monkeypatch.setenv("COLUMNS", str(columns))
        code, out, _ = run_cli(capsys, "compare", str(a), str(b), "--bootstrap", "50")
        assert code == 0
        assert_width(out, columns)


def test_gate_shows_the_f1_interval_of_a_multi_label_label(capsys) -> None:
    run = Path(__file__).parents[1] / "sample_cards" / "toxicity-multilabel"
    code, out, err = run_cli(capsys, "gate", str(run), "--min", "f1[toxic]=0.1")
    assert code == 0, err
    assert re.search(r"min f1\[toxic\]=0.1 +0\.7820 .* \[0\.734,0\.825\]", out), out


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_console_width_follows_columns_then_the_terminal_then_the_content(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    console = CliConsole()
    monkeypatch.setattr(sys, "stdout", io.StringIO())
    assert console.width == UNBOUNDED_WIDTH  # a pipe or a file: as wide as the content
    monkeypatch.setenv("FORCE_COLOR", "1")  # CI asks for colours, not for 80 columns
    assert console.width == UNBOUNDED_WIDTH
    monkeypatch.setenv("COLUMNS", "123")
    assert console.width == 123
    monkeypatch.delenv("COLUMNS")
    monkeypatch.setattr(sys, "stdout", _Terminal())
    assert console.width < UNBOUNDED_WIDTH  # a terminal: its own width (80 when unknown)
