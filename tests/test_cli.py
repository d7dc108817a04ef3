from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from conftest import run_cli as run

from cardgen.cli import app

README = Path(__file__).parents[1] / "README.md"


def test_evaluate_prints_tables_and_writes_results(
    capsys, tiny_model: Path, sentiment_file: Path, tmp_path: Path
) -> None:
    code, out, _ = run(
        capsys,
        "evaluate",
        "--model",
        str(tiny_model),
        "--dataset",
        str(sentiment_file),
        "--output-dir",
        str(tmp_path),
        "--device",
        "cpu",
        "--bootstrap",
        "50",
        "--no-progress",
        "--card",
        str(tmp_path / "card" / "README.md"),
    )
    assert code == 0
    assert "accuracy" in out and "per class" in out and "confusion matrix" in out
    assert (tmp_path / "results.json").is_file()
    assert (
        "card written to" in out
        and "## Evaluation results" in (tmp_path / "card" / "README.md").read_text()
    )
    assert (tmp_path / "card" / "confusion_matrix.png").is_file()


def test_demo_runs_the_embedded_model(capsys, tmp_path: Path) -> None:
    code, out, _ = run(capsys, "demo", "--output-dir", str(tmp_path))
    assert code == 0 and "positive" in out
    assert (tmp_path / "results.json").is_file() and (tmp_path / "confusion_matrix.png").is_file()


def _bad_inputs(tmp: Path, model: Path, data: Path) -> list[tuple[list[str], str]]:
    missing_col = tmp / "cols.csv"
    missing_col.write_text("review,sentiment\ngood,positive\n")
    labels = tmp / "labels.jsonl"
    labels.write_text('{"text": "x", "label": "neutral"}\n')
    blocker = tmp / "blocker"
    blocker.write_text("")
    return [
        (["--model", str(model), "--dataset", str(tmp / "none.jsonl")], "does not exist"),
        (["--model", str(model), "--dataset", str(missing_col)], "columns are: review, sentiment"),
        (["--model", str(model), "--dataset", str(labels)], "dataset labels: neutral"),
        (["--model", str(tmp / "nope"), "--dataset", str(data)], "model directory"),
        (["--model", str(model), "--dataset", str(data), "--device", "cuda:7"], "no CUDA GPU"),
        (
            ["--model", str(model), "--dataset", str(data), "--output-dir", str(blocker / "x")],
            "not writable",
        ),
        (
            ["--model", str(model), "--dataset", str(data), "--batch-size", "lots"],
            "--batch-size must be",
        ),
        (["--model", str(model)], "pass both --model and --dataset"),
        (
            [
                "--model",
                str(model),
                "--dataset",
                str(data),
                "--dtype",
                "float16",
                "--device",
                "cpu",
            ],
            "float16 is not supported on CPU",
        ),
    ]


def test_bad_input_exits_2_with_one_clear_line(
    capsys, tiny_model: Path, sentiment_file: Path, tmp_path: Path
) -> None:
    import torch

    for args, message in _bad_inputs(tmp_path, tiny_model, sentiment_file):
        if "cuda" in args and torch.cuda.is_available():
            continue
        code, out, err = (
            run(capsys, "evaluate", *args, "--output-dir", str(tmp_path / "out"), "--no-progress")
            if "--output-dir" not in args
            else run(capsys, "evaluate", *args, "--no-progress")
        )
        assert code == 2, (args, err)
        assert message in err, (args, err)
        assert "Traceback" not in err + out
        assert err.count("error:") == 1
    assert not (tmp_path / "out" / "results.json").exists()


def test_unknown_option_is_a_usage_error(capsys) -> None:
    code, _, err = run(capsys, "evaluate", "--no-such-flag")
    assert code == 2 and "No such option" in err


def test_every_command_has_help_and_the_readme_uses_only_real_commands(capsys) -> None:
    import typer.main

    group = typer.main.get_group(app)
    for name, command in group.commands.items():
        assert command.help, f"{name} has no help text"
        code, out, _ = run(capsys, name, "--help")
        assert code == 0 and "Usage" in out
        for param in command.params:
            if param.name != "help":
                assert getattr(param, "help", None), f"{name} --{param.name} has no help"
    text = "\n".join(re.findall(r"```bash\n(.*?)```", README.read_text(), flags=re.S))
    used = set(re.findall(r"^\s*cardgen (\w[\w-]*)", text, flags=re.M))
    assert used and used <= set(group.commands), used - set(group.commands)
    for flag in set(re.findall(r"cardgen evaluate[^\n]*|--[a-z][a-z-]+", text)):
        if flag.startswith("--") and flag not in ("--help",):
            known = {
                opt
                for c in group.commands.values()
                for p in c.params
                for opt in p.opts + p.secondary_opts
            }
            assert flag in known, f"README mentions unknown option {flag}"


def test_reading_results_does_not_import_torch() -> None:
    modules = (
        "cardgen, cardgen.results.schema, cardgen.cli, cardgen.probes, cardgen.cards.render, "
        "cardgen.cards.skops, cardgen.cards.export"
    )
    code = f"import sys, {modules}; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_gate_and_push_do_not_import_torch() -> None:
    code = (
        "import sys, cardgen, cardgen.gate, cardgen.hub.push, scipy.stats; "
        "from huggingface_hub import HfApi, ModelCard, CommitOperationAdd; "
        "cardgen.check_gate, cardgen.push_card; "
        "assert 'torch' not in sys.modules, 'torch imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_card_command_writes_then_refreshes(capsys, card_run: Path, tmp_path: Path) -> None:
    notes = tmp_path / "notes.md"
    notes.write_text("Use it for movie reviews only.")
    output = tmp_path / "README.md"
    args = ["card", str(card_run), "--output", str(output), "--license", "mit"]
    code, out, _ = run(capsys, *args, "--section", f"intended_uses={notes}")
    assert code == 0 and f"card written to {output}" in out
    assert "Use it for movie reviews only." in output.read_text()
    output.write_text(output.read_text() + "\nA line of mine.\n")
    code, _, _ = run(capsys, *args, "--base-model", "distilbert-base-uncased")
    text = output.read_text()
    assert code == 0 and text.endswith("\nA line of mine.\n") and "base_model: distilbert" in text
    code, out, _ = run(capsys, "card", str(card_run), "--format", "html")
    assert code == 0 and (card_run / "README.html").read_text().startswith("<!DOCTYPE html>")


def test_card_bad_input_exits_2_and_leaves_the_card_untouched(
    capsys, card_run: Path, tmp_path: Path
) -> None:
    readme = tmp_path / "README.md"
    readme.write_text("<!-- cardgen:begin summary -->\nkeep me\n<!-- cardgen:end summary -->\n")
    before = readme.read_text()
    future = tmp_path / "future"
    future.mkdir()
    data = (
        (card_run / "results.json")
        .read_text()
        .replace('"schema_version": 1', '"schema_version": 99')
    )
    (future / "results.json").write_text(data)
    template = tmp_path / "bad.md.j2"
    template.write_text("---\n{{ card_data }}\n---\n{{ nothing }}\n")
    blocker = tmp_path / "blocker"
    blocker.write_text("")
    cases = [
        ([str(tmp_path / "none")], "no results file"),
        ([str(future)], "schema version 99 is not supported"),
        ([str(card_run), "--template", str(template)], "bad.md.j2, line 4: 'nothing' is undefined"),
        ([str(card_run), "--section", "intended_uses"], "--section takes NAME=FILE"),
        (
            [str(card_run), "--section", f"risks={tmp_path / 'none.md'}"],
            "cannot read the file of --section risks",
        ),
        ([str(card_run), "--training-history", str(tmp_path / "none.json")], "does not exist"),
        ([str(card_run), "--format", "pdf"], "--format must be 'md' or 'html'"),
    ]
    for args, message in cases:
        code, out, err = run(capsys, "card", *args, "--output", str(readme))
        assert code == 2 and message in err, (args, err)
        assert err.count("error:") == 1 and "Traceback" not in out + err
        assert readme.read_text() == before
    code, _, err = run(capsys, "card", str(card_run), "--output", str(blocker / "README.md"))
    assert code == 2 and "cannot write" in err


def test_terminal_says_each_finding_once(capsys, tiny_model: Path, tmp_path: Path, sentiment_rows) -> None:
    from conftest import write_jsonl

    swap = {"negative": "positive", "positive": "negative"}
    data = write_jsonl(tmp_path / "d.jsonl", [{**r, "label": swap[r["label"]]} for r in sentiment_rows])
    args = ["evaluate", "--model", str(tiny_model), "--dataset", str(data), "--bootstrap", "0", "--no-progress"]
    code, _, err = run(capsys, *args, "--output-dir", str(tmp_path / "a"), "--probe", "pronouns")
    assert code == 0, err
    assert err.count("looks permuted") == 1 and "UserWarning" not in err and "truncated" not in err
    assert "pronouns" in json.loads((tmp_path / "a" / "results.json").read_text())["probes"]
    code, _, err = run(capsys, *args, "--output-dir", str(tmp_path / "b"), "--max-length", "4")
    assert code == 0, err
    assert f"{len(sentiment_rows)} of {len(sentiment_rows)} texts (100.0%) were longer than 4 tokens" in err


def test_version(capsys) -> None:
    from cardgen import __version__

    code, out, _ = run(capsys, "--version")
    assert code == 0 and out.strip() == f"cardgen {__version__}"
