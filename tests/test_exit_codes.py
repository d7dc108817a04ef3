"""The exit-code contract: 0 ok, 1 a gate failed, 2 input error, 70 internal error, 130 Ctrl-C."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import run_cli

import cardgen.engines.local
import cardgen.evaluation.tasks
from cardgen.errors import EXIT_INTERNAL_ERROR, EXIT_INTERRUPTED


def failing_load_model(exc: BaseException):
    def load_model(*args, **kwargs):
        raise exc

    return load_model


@pytest.mark.parametrize(
    "bug", [RuntimeError("boom"), KeyError("x"), TypeError("t"), RecursionError(), AssertionError()]
)
def test_a_bug_exits_70_with_a_crash_file_never_1(
    capsys, tmp_path: Path, monkeypatch, sentiment_file: Path, bug: BaseException
) -> None:
    monkeypatch.setenv("CARDGEN_CRASH_DIR", str(tmp_path / "crash"))
    monkeypatch.setattr(cardgen.engines.local, "load_model", failing_load_model(bug))
    out = tmp_path / "run"
    code, _, err = run_cli(capsys, "evaluate", "--model", "m", "--dataset", str(sentiment_file), "--output-dir", str(out))
    assert code == EXIT_INTERNAL_ERROR
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("internal error: this is a bug in cardgen")
    [report] = (tmp_path / "crash").iterdir()
    assert str(report) in err and type(bug).__name__ in report.read_text()
    assert "Traceback" in report.read_text() and not out.exists()


def test_the_crash_file_never_holds_a_token(capsys, tmp_path: Path, monkeypatch, sentiment_file) -> None:
    token = "hf_" + "s3cr3t" * 6
    monkeypatch.setenv("HF_TOKEN", token)
    monkeypatch.setenv("CARDGEN_CRASH_DIR", str(tmp_path))
    monkeypatch.setattr(cardgen.engines.local, "load_model", failing_load_model(RuntimeError(f"bad {token}")))
    code, out, err = run_cli(capsys, "evaluate", "--model", "m", "--dataset", str(sentiment_file), "--output-dir", str(tmp_path / "r"))
    assert code == EXIT_INTERNAL_ERROR
    [report] = tmp_path.glob("cardgen-crash-*")
    assert token not in report.read_text() + out + err and "***" in report.read_text()


@pytest.mark.parametrize("interrupt", [KeyboardInterrupt()])
def test_ctrl_c_exits_130_and_keeps_the_previous_run(
    capsys, tmp_path: Path, monkeypatch, tiny_model: Path, sentiment_file: Path, interrupt
) -> None:
    out = tmp_path / "run"
    args = ["evaluate", "--model", str(tiny_model), "--dataset", str(sentiment_file), "--output-dir", str(out), "--bootstrap", "0", "--no-progress"]
    assert run_cli(capsys, *args)[0] == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    monkeypatch.setattr(cardgen.evaluation.tasks, "write_outputs", failing_load_model(interrupt))
    code, _, err = run_cli(capsys, *args)
    assert code == EXIT_INTERRUPTED and err.strip() == "interrupted"
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".run.") and "lock" not in p.name] == []


@pytest.mark.parametrize("code_", [errno.ENOSPC, errno.EACCES, errno.EROFS, errno.EDQUOT])
def test_disk_full_or_unwritable_is_an_input_error_and_the_old_run_stays(
    capsys, tmp_path: Path, monkeypatch, tiny_model: Path, sentiment_file: Path, code_: int
) -> None:
    out = tmp_path / "run"
    args = ["evaluate", "--model", str(tiny_model), "--dataset", str(sentiment_file), "--output-dir", str(out), "--bootstrap", "0", "--no-progress"]
    assert run_cli(capsys, *args)[0] == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    import cardgen.trust.atomic

    real_replace = cardgen.trust.atomic.os.replace

    def full(src, dst):
        if str(dst).endswith(".png"):
            raise OSError(code_, "simulated", str(dst))
        return real_replace(src, dst)

    monkeypatch.setattr(cardgen.trust.atomic.os, "replace", full)
    code, _, err = run_cli(capsys, *args)
    assert code == 2 and err.startswith("error: cannot write") and len(err.strip().splitlines()) == 1
    monkeypatch.setattr(cardgen.trust.atomic.os, "replace", real_replace)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_usage_errors_exit_2(capsys) -> None:
    for argv in (["evaluate", "--no-such-flag"], ["no-such-command"], ["gate"], ["evaluate", "--limit", "x"]):
        assert run_cli(capsys, *argv)[0] == 2, argv


def test_help_lists_the_exit_codes(capsys) -> None:
    code, out, _ = run_cli(capsys, "--help")
    assert code == 0
    for line in ("0 ok", "1 a gate failed", "2 usage or input error", "70 internal error", "130 interrupted"):
        assert line in " ".join(out.split()), line


def test_only_a_failed_gate_exits_1(capsys, tmp_path: Path) -> None:
    from conftest import make_results, save_run

    run = save_run(make_results(), tmp_path / "run")
    assert run_cli(capsys, "gate", str(run), "--max", "ece=0.1")[0] == 1
    assert run_cli(capsys, "gate", str(run), "--min", "accuracy=0.5")[0] == 0
    results = json.loads((run / "results.json").read_text())
    results["metrics"] = []
    (run / "results.json").write_text(json.dumps(results))
    assert run_cli(capsys, "gate", str(run), "--min", "accuracy=0.01")[0] == 2


def _console(*args: str, prelude: str = "") -> subprocess.CompletedProcess[str]:
    """``cardgen ARGS`` as the installed console script runs it (``cardgen.cli:run``)."""
    code = f"import sys; {prelude}sys.argv = ['cardgen', *sys.argv[1:]]; from cardgen.cli import run; run()"
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=120)


def test_the_console_script_is_run_and_keeps_the_exit_codes(tmp_path: Path) -> None:
    assert 'cardgen = "cardgen.cli:run"' in (Path(__file__).parents[1] / "pyproject.toml").read_text()
    run_dir = _run_dir(tmp_path)
    failed = _console("gate", str(run_dir), "--max", "ece=0.1")
    assert failed.returncode == 1 and "gate FAILED" in failed.stdout  # the whole verdict, flushed
    assert _console("gate", str(run_dir), "--min", "accuracy=0.5").returncode == 0
    usage = _console("gate", str(tmp_path / "missing"))
    assert usage.returncode == 2 and usage.stderr.startswith("error:")
    module = subprocess.run([sys.executable, "-m", "cardgen", "--help"], capture_output=True, text=True)
    assert module.returncode == 0 and "evaluate" in module.stdout


def test_the_fast_exit_still_runs_exit_handlers_and_flushes_both_streams() -> None:
    prelude = "import atexit; atexit.register(lambda: print('handler ran', file=sys.stderr)); "
    done = _console("--help", prelude=prelude)
    assert done.returncode == 0 and "evaluate" in done.stdout and done.stderr.endswith("handler ran\n")


def test_a_closed_output_pipe_exits_141_without_a_traceback(tmp_path: Path) -> None:
    code = "import sys; sys.argv = ['cardgen', *sys.argv[1:]]; from cardgen.cli import run; run()"
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader (`| head`) is gone before cardgen writes a line
    try:
        done = subprocess.run(
            [sys.executable, "-c", code, "gate", str(_run_dir(tmp_path)), "--min", "accuracy=0.5"],
            stdout=write_end, stderr=subprocess.PIPE, text=True, timeout=120,
        )
    finally:
        os.close(write_end)
    assert done.returncode == 141 and "Traceback" not in done.stderr and "Exception" not in done.stderr


def _run_dir(where: Path) -> Path:
    from conftest import make_results, save_run

    return save_run(make_results(), where / "run")
