"""``cardgen verify``: exit codes, the terminal table, verification.json and the "Verified
results" card section (``--card-out``, ``cardgen card --verification``)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from conftest import run_cli
from test_verify import write_card


@pytest.fixture
def topic_card(tmp_path: Path):
    """``claim(value)`` writes a card claiming that accuracy of the topic model."""

    def claim(accuracy: float, dataset: str = "topics") -> Path:
        return write_card(
            tmp_path / "card" / "README.md",
            [
                {
                    "dataset": dataset,
                    "split": "test",
                    "metrics": [{"type": "accuracy", "name": "Accuracy", "value": accuracy}],
                }
            ],
            body="# My model\n\n## Evaluation results\n\nOur own table.\n\n## Citation\n\nUs.\n",
        )

    return claim


def _verify(capsys, model: Path, card: Path, data: Path, tmp_path: Path, *extra: str):
    return run_cli(
        capsys,
        "verify",
        "--model",
        str(model),
        "--card",
        str(card),
        "--dataset",
        f"topics={data}",
        "--output-dir",
        str(tmp_path / "verify"),
        "--bootstrap",
        "300",
        *extra,
    )


def test_exit_codes_table_and_report(
    capsys, skops_model: Path, topic_file: Path, topic_card, tmp_path: Path
) -> None:
    card = topic_card(round(_truth_of(capsys, skops_model, topic_file, tmp_path), 4))
    code, out, err = _verify(capsys, skops_model, card, topic_file, tmp_path)
    assert code == 0, err
    assert "consistent" in out and "1 claims: 1 consistent, 0 contradicted" in out
    assert "verification written to" in out
    report = json.loads((tmp_path / "verify" / "verification.json").read_text())
    assert report["kind"] == "cardgen-verification" and report["summary"]["consistent"] == 1
    card = topic_card(0.01)
    code, out, _ = _verify(capsys, skops_model, card, topic_file, tmp_path)
    assert code == 1 and "contradicted" in out and "claimed 0.01, measured" in out


def _truth_of(capsys, model: Path, data: Path, tmp_path: Path) -> float:
    code, _, _ = run_cli(
        capsys, "evaluate", "--model", str(model), "--dataset", str(data),
        "--output-dir", str(tmp_path / "truth"), "--bootstrap", "0", "--no-progress",
    )  # fmt: skip
    assert code == 0
    results = json.loads((tmp_path / "truth" / "results.json").read_text())
    return results["metrics"]["accuracy"]["value"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--dataset", "topics"], "--dataset must be ID=PATH"),
        (["--dataset", "nope=x.jsonl"], "no claim of the card names that dataset"),
        (["--discard-edits"], "--discard-edits goes with --card-out"),
        (["--card-out", "{tmp}/missing.md"], "no card at"),
        # data the user names and cardgen cannot read is theirs to fix: not a verdict, exit 2
        (["--dataset", "topics={tmp}/card"], "--dataset topics="),
        (["--dataset", "topics=/dev/null"], "--dataset topics="),
        (["--dataset", "topics={tmp}/card/README.md"], "--dataset topics="),
    ],
)
def test_input_errors_exit_2(
    capsys, skops_model: Path, topic_card, tmp_path: Path, args: list[str], message: str
) -> None:
    card = topic_card(0.5)
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    code, out, err = run_cli(
        capsys, "verify", "--model", str(skops_model), "--card", str(card),
        "--output-dir", str(tmp_path / "verify"), "--bootstrap", "50", *args,
    )  # fmt: skip
    assert code == 2, (out, err)
    assert message in err and err.count("error:") == 1 and "Traceback" not in err


@pytest.mark.parametrize(
    "columns", [("premise", "hypothesis"), ("question1", "question2"), ("sentence1", "sentence2")]
)
def test_a_group_that_stops_the_verification_leaves_the_output_as_it_was(
    capsys, skops_model: Path, topic_file: Path, tmp_path: Path, columns: tuple[str, str]
) -> None:
    """The first group's run was left without a verification.json when a later group stopped
    with a usage error (here: pair columns found by name for a model of single texts)."""
    claim = {"split": "test", "metrics": [{"type": "accuracy", "value": 0.5}]}
    card = write_card(
        tmp_path / "card" / "README.md",
        [{"dataset": "topics", **claim}, {"dataset": "pairs", **claim}],
    )
    first, second = columns
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text(json.dumps({first: "a", second: "b", "label": "World"}) + "\n")
    out = tmp_path / "verify"

    def verify(data: Path) -> tuple[int, str]:
        code, _, err = run_cli(
            capsys, "verify", "--model", str(skops_model), "--card", str(card), "--dataset",
            f"topics={topic_file}", "--dataset", f"pairs={data}", "--output-dir", str(out),
            "--bootstrap", "20",
        )  # fmt: skip
        return code, err

    code, err = verify(pairs)
    assert code == 2 and err.count("error:") == 1 and "found by name as a sentence pair" in err
    assert not out.exists()
    assert verify(topic_file)[0] in (0, 1)
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert Path("verification.json") in before and Path("topics--test/results.json") in before
    assert verify(pairs)[0] == 2
    after = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert after == before


def test_card_out_adds_then_replaces_the_section(
    capsys, skops_model: Path, topic_file: Path, topic_card, tmp_path: Path
) -> None:
    card = topic_card(0.5, dataset="topics")
    original = card.read_text()
    code, out, _ = _verify(
        capsys, skops_model, card, topic_file, tmp_path, "--card-out", str(card)
    )
    assert code in (0, 1) and "verified results written to" in out, _
    text = card.read_text()
    assert text.startswith(original.split("## Citation")[0].rstrip("\n"))
    assert text.index("Our own table.") < text.index("## Verified results") < text.index(
        "## Citation"
    )
    assert "<!-- cardgen:end verified_results sha256:" in text and text.endswith("Us.\n")
    assert "`topics`, split `test`: 80 rows, from `topics.jsonl`" in text
    assert str(skops_model.parent) not in text and str(topic_file.parent) not in text
    code, _, _ = _verify(capsys, skops_model, card, topic_file, tmp_path, "--card-out", str(card))
    assert card.read_text().count("## Verified results") == 1
    card.write_text(card.read_text().replace("| claim |", "| my claim |"))
    code, _, err = _verify(
        capsys, skops_model, card, topic_file, tmp_path, "--card-out", str(card)
    )
    assert code == 2 and "someone edited the text of cardgen's section 'verified_results'" in err
    code, _, _ = _verify(
        capsys, skops_model, card, topic_file, tmp_path, "--card-out", str(card),
        "--discard-edits",
    )  # fmt: skip
    assert code in (0, 1) and "| my claim |" not in card.read_text()


def test_the_section_escapes_what_the_card_claims(
    capsys, skops_model: Path, topic_file: Path, tmp_path: Path
) -> None:
    hostile = "org/x"
    card = write_card(
        tmp_path / "card" / "README.md",
        [
            {
                "dataset": hostile,
                "split": "<img src=x onerror=alert(1)>",
                "metrics": [{"type": "f1 | [click](javascript:alert(1))", "value": 0.5}],
            }
        ],
    )
    code, _, err = run_cli(
        capsys, "verify", "--model", str(skops_model), "--card", str(card),
        "--output-dir", str(tmp_path / "verify"), "--card-out", str(card),
    )  # fmt: skip
    assert code == 0, err
    section = card.read_text().split("## Verified results")[1]
    assert not re.search(r"(?<!\\)<img|(?<!\\)\]\(javascript", section)
    assert "\\<img" in section and "not checkable" in section


def test_card_renders_the_section_from_a_verification_file(
    capsys, skops_model: Path, topic_file: Path, topic_card, card_run: Path, tmp_path: Path
) -> None:
    card = topic_card(0.5)
    _verify(capsys, skops_model, card, topic_file, tmp_path)
    output = tmp_path / "rendered" / "README.md"
    verification = tmp_path / "verify" / "verification.json"
    code, _, err = run_cli(
        capsys, "card", str(card_run), "--output", str(output), "--verification",
        str(verification),
    )  # fmt: skip
    assert code == 0, err
    text = output.read_text()
    assert "<!-- cardgen:begin verified_results -->" in text
    assert text.index("<!-- cardgen:end evaluation") < text.index("## Verified results")
    bad = tmp_path / "bad.json"
    bad.write_text('{"kind": "something else"}')
    code, _, err = run_cli(capsys, "card", str(card_run), "--verification", str(bad))
    assert code == 2 and "is not a report of `cardgen verify`" in err
    # a refresh keeps the section with --verification, and says so when it drops it without
    again = ["card", str(card_run), "--output", str(output)]
    code, _, err = run_cli(capsys, *again, "--verification", str(verification))
    assert code == 0 and "Verified results" not in err and "## Verified results" in output.read_text()
    code, _, err = run_cli(capsys, *again)
    assert code == 0 and "the 'Verified results' section was removed" in err and "--verification" in err
    assert "verified_results" not in output.read_text()
