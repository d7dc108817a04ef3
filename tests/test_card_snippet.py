"""The card's "how to get started" snippet loads the model from somewhere that exists: its hub
id or --model-name, else a marked placeholder that the terminal points out."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import make_results, run_cli, save_run

PLACEHOLDER = '"<your-org>/<model-name>"'


def snippet(card: str) -> str:
    return card.split("## How to get started", 1)[1].split("```", 2)[1]


@pytest.mark.parametrize(
    ("model", "framework"),
    [
        ("minilm-agnews", "transformers"),  # a folder in the working directory: no revision
        ("runs/minilm-agnews", "transformers"),
        ("runs/minilm-agnews.skops", "sklearn"),
    ],
)
def test_a_local_model_gets_a_marked_placeholder_and_a_note(
    capsys, tmp_path: Path, model: str, framework: str
) -> None:
    results = make_results(model_id=model, framework=framework)
    results.model.revision = None  # what evaluate records for a local model
    run = save_run(results, tmp_path / "run")
    code, _, err = run_cli(capsys, "card", str(run))
    assert code == 0, err
    code_block = snippet((run / "README.md").read_text())
    assert '"minilm-agnews"' not in code_block and "runs/" not in code_block
    assert re.search(rf"^# {re.escape(PLACEHOLDER)} is a placeholder", code_block, re.M)
    loads = (
        f'pipeline("text-classification", model={PLACEHOLDER})'
        if framework == "transformers"
        else f'hf_hub_download({PLACEHOLDER}, "minilm-agnews.skops")'
    )
    assert loads in code_block
    note = next(line for line in err.splitlines() if line.startswith("note:"))
    assert "<your-org>/<model-name>" in note and f"cardgen card {run} --model-name" in note


def test_the_hub_id_or_the_model_name_fills_the_snippet(capsys, tmp_path: Path) -> None:
    run = save_run(make_results(model_id="cardgen-test/tiny-sentiment"), tmp_path / "hub")
    code, _, err = run_cli(capsys, "card", str(run))
    assert code == 0 and "note:" not in err
    code_block = snippet((run / "README.md").read_text())
    assert 'model="cardgen-test/tiny-sentiment"' in code_block and "placeholder" not in code_block
    results = make_results(model_id="runs/minilm-agnews")
    results.model.revision = None
    run = save_run(results, tmp_path / "local")
    code, _, err = run_cli(capsys, "card", str(run), "--model-name", "me/minilm-agnews")
    assert code == 0 and "note:" not in err
    assert 'model="me/minilm-agnews"' in snippet((run / "README.md").read_text())


def test_an_html_card_with_the_placeholder_gets_the_note_too(capsys, tmp_path: Path) -> None:
    results = make_results(model_id="runs/minilm-agnews")
    results.model.revision = None
    run = save_run(results, tmp_path / "run")
    code, _, err = run_cli(capsys, "card", str(run), "--format", "html")
    assert code == 0 and "note:" in err
