"""Hostile set-ups and inputs for ``--engine spark``: a bad master or worker Python is one
``error:`` line naming the fix, and odd file names and JSON value types get the local engine's
answers. The master and PYSPARK_PYTHON cases run the CLI in a subprocess, as a user would: the
tests' own Spark session is shared, and the JVM writes to the process's file descriptors."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import run_cli, write_jsonl

from cardgen.data.load import load_data
from cardgen.errors import DataError, UsageError
from cardgen.results.schema import load_results

CLI = "import sys; from cardgen.cli import main; sys.exit(main())"
pytestmark = pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas")


def run_subprocess(
    model: Path, dataset: Path, out: Path, *extra: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``cardgen evaluate --engine spark`` in a fresh Python, with ``env`` added (and the temp
    directory, where a kept Spark log goes, beside ``out``)."""
    argv = [
        sys.executable, "-c", CLI, "evaluate", "--model", str(model), "--dataset", str(dataset),
        "--output-dir", str(out), "--engine", "spark", "--bootstrap", "0", "--no-progress", *extra,
    ]  # fmt: skip
    base = {k: v for k, v in os.environ.items() if k not in ("HADOOP_CONF_DIR", "YARN_CONF_DIR")}
    return subprocess.run(
        argv,
        capture_output=True,
        text=True,
        env={**base, "TMPDIR": str(out.parent), **(env or {})},
        timeout=300,
        check=False,
    )


def one_error_line(done: subprocess.CompletedProcess[str]) -> str:
    """The one line a usage error prints: exit 2, nothing else on stderr."""
    assert done.returncode == 2, done.stderr[-3000:]
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), done.stderr[-3000:]
    for noise in ("Traceback", "ResourceWarning", "Exception in thread", "WARN", "\tat "):
        assert noise not in done.stderr
    return lines[0]


@pytest.mark.parametrize(
    ("master", "said"),
    [
        ("nonsense://x", r"'nonsense://x' is not a Spark master URL; use local\[4\]"),
        ("spark://127.0.0.1:1", r"cannot reach the Spark master .*\(127\.0\.0\.1:1: Connection"),
        ("yarn", r"cannot start Spark .*\(When running with master 'yarn' either HADOOP_CONF_DIR"),
    ],
)
def test_a_bad_master_is_one_error_line(
    spark: Any, tiny_model: Path, sentiment_file: Path, tmp_path: Path, master: str, said: str
) -> None:
    done = run_subprocess(tiny_model, sentiment_file, tmp_path / "run", "--spark-master", master)
    line = one_error_line(done)
    assert re.search(said, line), line
    assert not (tmp_path / "run").exists()


def python_without_cardgen(tmp_path: Path) -> Path:
    """A Python that runs but finds none of the packages installed for this one."""
    script = tmp_path / "bare-python"
    script.write_text(f'#!/bin/sh\nexec "{sys.executable}" -I -S "$@"\n')
    script.chmod(0o755)
    return script


@pytest.mark.skipif(sys.platform == "win32", reason="the Python without cardgen is a sh script")
@pytest.mark.parametrize(
    ("python", "said"),
    [
        (lambda tmp: tmp / "nowhere" / "python", "cannot run (No such file or directory)"),
        (python_without_cardgen, "has no cardgen (ModuleNotFoundError: No module named 'cardgen')"),
    ],
)
def test_a_worker_python_that_cannot_run_cardgen_is_named(
    spark: Any, tiny_model: Path, sentiment_file: Path, tmp_path: Path, python: Any, said: str
) -> None:
    path = str(python(tmp_path))
    done = run_subprocess(
        tiny_model, sentiment_file, tmp_path / "run", "--spark-master", "local[1]",
        env={"PYSPARK_PYTHON": path},
    )  # fmt: skip
    line = one_error_line(done)
    assert f"PYSPARK_PYTHON={path} {said}" in line, line
    assert f"e.g. PYSPARK_PYTHON={sys.executable}" in line, line


@pytest.mark.parametrize(
    ("failure", "said"),
    [
        (
            'Lost task 0.0: java.io.IOException: Cannot run program "/opt/py": error=2, No such '
            "file or directory\n\tat java.base/java.lang.ProcessBuilder.start",
            "PYSPARK_PYTHON=/opt/py cannot run on Spark's workers (No such file or directory)",
        ),
        (
            "An exception was thrown from the Python worker: Traceback (most recent call last):\n"
            "  File \"<string>\", line 1\nModuleNotFoundError: No module named 'cardgen'",
            "has no cardgen (No module named 'cardgen'); point PYSPARK_PYTHON at a Python where "
            "cardgen is installed on every executor",
        ),
    ],
)
def test_workers_that_cannot_start_are_blamed_on_their_python(
    spark: Any, monkeypatch: pytest.MonkeyPatch, failure: str, said: str
) -> None:
    from cardgen.engines.spark.session import spark_errors

    monkeypatch.setenv("PYSPARK_PYTHON", "/opt/py")
    with pytest.raises(UsageError) as caught, spark_errors("reading dataset 'd'", DataError):
        raise RuntimeError(failure)
    assert said in str(caught.value)
    assert "\n" not in str(caught.value) and "Traceback" not in str(caught.value)


def evaluate_both(
    capsys: pytest.CaptureFixture[str], model: Path, dataset: Path, out: Path, *extra: str
) -> dict[str, tuple[int, str]]:
    """Exit code and stderr of ``cardgen evaluate`` on each engine."""
    found = {}
    for engine in ("local", "spark"):
        code, _, err = run_cli(
            capsys, "evaluate", "--model", str(model), "--dataset", str(dataset),
            "--output-dir", str(out / engine), "--engine", engine, "--bootstrap", "0",
            "--no-progress", *extra,
        )  # fmt: skip
        found[engine] = (code, err)
    return found


def test_a_file_name_with_glob_characters_is_read_as_itself(
    spark: Any,
    tiny_model: Path,
    sentiment_rows: list[dict],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    strings = [{"text": "12345", "label": "positive"}, {"text": "true", "label": "negative"}]
    dataset = write_jsonl(tmp_path / "sst[2024].jsonl", [*sentiment_rows[:22], *strings])
    write_jsonl(tmp_path / "sst2.jsonl", sentiment_rows[24:30])  # what the pattern would match
    found = evaluate_both(capsys, tiny_model, dataset, tmp_path)
    assert found["local"][0] == 0 and found["spark"] == found["local"], found
    local, spark_run = load_results(tmp_path / "local"), load_results(tmp_path / "spark")
    assert spark_run.dataset.num_rows == local.dataset.num_rows == 24
    assert spark_run.dataset.fingerprint == local.dataset.fingerprint
    assert spark_run.confusion_matrix == local.confusion_matrix


@pytest.mark.parametrize("name", ["eval{1,2}.jsonl", "what*?.jsonl", "back\\slash.jsonl"])
def test_other_glob_characters_read_the_same_rows(
    spark: Any, sentiment_rows: list[dict], tmp_path: Path, name: str
) -> None:
    from cardgen.engines.spark.source import prepare_rows, read_dataset

    dataset = write_jsonl(tmp_path / name, sentiment_rows[:7])
    for decoy in ("eval1.jsonl", "whatnot.jsonl", "backslash.jsonl"):  # what patterns match
        write_jsonl(tmp_path / decoy, sentiment_rows[7:9])
    frame, source, file_scan = read_dataset(spark, str(dataset))
    prepared = prepare_rows(
        frame, source=source, file_scan=file_scan, text_column=None, text_pair_column=None,
        label_column=None, limit=None,
    )  # fmt: skip
    assert prepared.info.fingerprint == load_data(dataset).info.fingerprint
    assert prepared.info.source == str(dataset)


@pytest.mark.parametrize(
    ("name", "found"), [("sst[2024].csv", "[ ]"), ("a:b.jsonl", ":"), ("x{1}.json", "{ }")]
)
def test_paths_hadoop_cannot_read_literally_are_refused_with_the_fix(
    spark: Any, tmp_path: Path, name: str, found: str
) -> None:
    from cardgen.engines.spark.source import read_dataset

    dataset = tmp_path / name
    dataset.write_text(
        '[{"text": "a", "label": "x"}]' if name.endswith(".json") else "text,label\n"
    )
    with pytest.raises(DataError, match="rename the file") as caught:
        read_dataset(spark, str(dataset))
    assert f"Hadoop takes {found} in its path" in str(caught.value)


NOT_TEXTS = {
    "a number": [{"text": "fine", "label": 1}, {"text": 12345, "label": 0}],
    "a float": [{"text": "fine", "label": 1}, {"text": 1.0, "label": 0}],
    "a boolean": [{"text": "fine", "label": 1}, {"text": True, "label": 0}],
    "an object": [{"text": "fine", "label": 1}, {"text": {"a": "b"}, "label": 0}],
    "a list": [{"text": "fine", "label": 1}, {"text": ["a", "b"], "label": 0}],
    "a pair number": [
        {"premise": "a", "hypothesis": "b", "label": 1},
        {"premise": "c", "hypothesis": 7, "label": 0},
    ],
    "mixed labels": [{"text": "a", "label": 1}, {"text": "b", "label": "positive"}],
    "a boolean label": [{"text": "a", "label": "negative"}, {"text": "b", "label": True}],
    "a fractional label": [{"text": "a", "label": "negative"}, {"text": "b", "label": 1.5}],
}


@pytest.mark.parametrize("case", list(NOT_TEXTS))
def test_json_values_keep_their_types_on_spark(
    spark: Any, tiny_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str
) -> None:
    dataset = write_jsonl(tmp_path / "data.jsonl", NOT_TEXTS[case])
    extra = ("--text-pair-column", "hypothesis") if "pair" in case else ()
    found = evaluate_both(capsys, tiny_model, dataset, tmp_path, *extra)
    code, err = found["local"]
    assert code == 2 and err.startswith("error: ") and len(err.splitlines()) == 1, err
    assert found["spark"] == found["local"]


def test_the_spark_log_is_made_again_when_something_removed_it() -> None:
    from cardgen.engines.spark.jvm_output import SparkLog

    log = SparkLog()
    first = log.open()
    first.unlink()
    again = log.open()
    assert again.exists() and again.stat().st_size == 0
    again.unlink()
